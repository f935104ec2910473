#!/usr/bin/python3
"""PyTorch references for moving weights between PyTorch and nabla.

models/<name>.safetensors: a PyTorch model's state_dict (PyTorch's own key names).
models/<name>_io.safetensors: an input batch and PyTorch's logits for it.
With --check DIR: loads the state_dicts nabla exported to DIR/export_<name>.safetensors
into PyTorch models and checks they give nabla's logits (written beside them).

Usage: make_model_fixtures.py OUT_DIR | make_model_fixtures.py --check OUT_DIR
"""
import os
import sys

import torch
import torch.nn as nn

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from make_fixtures import save_safetensors  # noqa: E402


def mlp():
    return nn.Sequential(nn.Flatten(), nn.Linear(784, 256), nn.ReLU(), nn.Linear(256, 128), nn.ReLU(),
                         nn.Linear(128, 100), nn.ReLU(), nn.Linear(100, 10))


def lenet():
    return nn.Sequential(nn.Conv2d(1, 32, 5), nn.ReLU(), nn.MaxPool2d(2), nn.Conv2d(32, 64, 5), nn.ReLU(),
                         nn.MaxPool2d(2), nn.Flatten(), nn.Linear(1024, 128), nn.ReLU(), nn.Linear(128, 10))


MODELS = {"mlp": mlp, "lenet": lenet}


def load_safetensors(path):
    import json
    import struct

    import numpy as np
    with open(path, "rb") as f:
        data = f.read()
    (n,) = struct.unpack("<Q", data[:8])
    header = json.loads(data[8:8 + n])
    body = data[8 + n:]
    dt = {"F32": np.float32, "F64": np.float64, "I64": np.int64, "U8": np.uint8}
    out = {}
    for k, v in header.items():
        if k == "__metadata__":
            continue
        a, b = v["data_offsets"]
        out[k] = torch.from_numpy(np.frombuffer(body[a:b], dtype=dt[v["dtype"]]).reshape(v["shape"]).copy())
    return out


def main():
    if sys.argv[1] == "--check":
        d = os.path.join(sys.argv[2], "models")
        for name, make in MODELS.items():
            sd = load_safetensors(os.path.join(d, f"export_{name}.safetensors"))
            io = load_safetensors(os.path.join(d, f"export_{name}_io.safetensors"))
            m = make()
            m.load_state_dict(sd)  # strict: every key and shape must match
            m.eval()
            with torch.no_grad():
                got = m(io["x"])
            err = (got - io["logits"]).abs().max().item()
            print(f"{name}: nabla state_dict in PyTorch, max |logit difference| = {err:.2e}")
            if err > 1e-4:
                sys.exit(f"{name}: logits differ by {err}")
        return
    d = os.path.join(sys.argv[1], "models")
    os.makedirs(d, exist_ok=True)
    torch.manual_seed(0)
    for name, make in MODELS.items():
        m = make().eval()
        x = torch.rand(4, 1, 28, 28)
        with torch.no_grad():
            logits = m(x)
        save_safetensors(os.path.join(d, f"{name}.safetensors"), m.state_dict(), {"model": name})
        save_safetensors(os.path.join(d, f"{name}_io.safetensors"), {"x": x, "logits": logits}, {"model": name})
    print(f"wrote {len(MODELS)} PyTorch models to {d}")


if __name__ == "__main__":
    main()
