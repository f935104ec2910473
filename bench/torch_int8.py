#!/usr/bin/python3
"""PyTorch 1.13's own int8 LeNet, the peer of `nabla quantize`: the same trained
weights (a nabla checkpoint of `--model lenet`, the peer kit's cnn), the same
preprocessing and calibration batches (the first N batches of 128 training
images), eager-mode static quantization (conv+relu and linear+relu fused,
per-channel weights) on the `onednn` engine (Debian's torch has onednn and
qnnpack, not fbgemm). Prints one JSON line per model: test accuracy, batch-128
throughput and batch-1 latency, measured as nabla quantize measures them.

Usage: bench/torch_int8.py RUN/best.ckpt [--calib-batches 10] [--engine onednn] [--threads 2]
"""
import argparse
import gzip
import json
import os
import struct
import time

import numpy as np
import torch
import torch.nn as nn

p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
p.add_argument("checkpoint")
p.add_argument("--calib-batches", type=int, default=10)
p.add_argument("--engine", default="onednn", choices=["onednn", "qnnpack"])
p.add_argument("--threads", type=int, default=2)
p.add_argument("--data", default="/usr/share/datasets/fashion-mnist")
args = p.parse_args()
torch.set_num_threads(args.threads)

DTYPES = {"F32": np.float32, "F64": np.float64, "I64": np.int64, "I32": np.int32, "U8": np.uint8, "I8": np.int8}


def read_checkpoint(path):
    with open(path, "rb") as f:
        n = struct.unpack("<Q", f.read(8))[0]
        header = json.loads(f.read(n))
        data = f.read()
    meta = header.pop("__metadata__", {})
    tensors = {}
    for k, v in header.items():
        if not k.startswith("model."):
            continue
        lo, hi = v["data_offsets"]
        tensors[k[6:]] = torch.from_numpy(np.frombuffer(data[lo:hi], dtype=DTYPES[v["dtype"]]).reshape(v["shape"]).copy())
    return tensors, meta


def load_idx(name):
    for d in (args.data, os.path.join(args.data, "data")):
        path = os.path.join(d, name)
        if os.path.exists(path):
            with gzip.open(path) as f:
                raw = f.read()
            ndim = raw[3]
            dims = struct.unpack(">" + "I" * ndim, raw[4:4 + 4 * ndim])
            return np.frombuffer(raw, dtype=np.uint8, offset=4 + 4 * ndim).reshape(dims)
    raise SystemExit(f"no {name} under {args.data}")


def split(prefix, mean, std):
    x = torch.from_numpy(load_idx(f"{prefix}-images-idx3-ubyte.gz").astype(np.float32) / 255.0).unsqueeze(1)
    y = torch.from_numpy(load_idx(f"{prefix}-labels-idx1-ubyte.gz").astype(np.int64))
    return (x - mean) / std, y


class LeNet(nn.Module):  # the peer kit's cnn, with stubs where int8 begins and ends
    def __init__(self):
        super().__init__()
        self.quant, self.dequant = torch.ao.quantization.QuantStub(), torch.ao.quantization.DeQuantStub()
        self.body = nn.Sequential(nn.Conv2d(1, 32, 5), nn.ReLU(), nn.MaxPool2d(2), nn.Conv2d(32, 64, 5), nn.ReLU(),
                                  nn.MaxPool2d(2), nn.Flatten(), nn.Linear(1024, 128), nn.ReLU(), nn.Linear(128, 10))

    def forward(self, x):
        return self.dequant(self.body(self.quant(x)))


def measure(name, model, xte, yte):
    with torch.inference_mode():
        t = time.perf_counter()
        correct = sum(int((model(xte[i:i + 128]).argmax(1) == yte[i:i + 128]).sum()) for i in range(0, len(xte), 128))
        throughput = len(xte) / (time.perf_counter() - t)
        one = xte[:1]
        for _ in range(5):
            model(one)
        lat = []
        for _ in range(200):
            t = time.perf_counter_ns()
            model(one)
            lat.append((time.perf_counter_ns() - t) / 1e6)
    print(json.dumps({"framework": f"torch-{torch.__version__}", "model": name, "engine": args.engine,
                      "threads": args.threads, "test_acc": correct / len(xte),
                      "throughput_batch128": round(throughput, 1), "latency_ms_batch1": round(float(np.median(lat)), 4)}))


def main():
    state, meta = read_checkpoint(args.checkpoint)
    if meta.get("model") != "lenet":
        raise SystemExit(f"{args.checkpoint} holds a {meta.get('model')}, not a lenet")
    pre = json.loads(meta["preprocess"])
    mean = torch.tensor(pre.get("mean") or [0.0]).view(1, -1, 1, 1)
    std = torch.tensor(pre.get("std") or [1.0]).view(1, -1, 1, 1)
    xtr, _ = split("train", mean, std)
    xte, yte = split("t10k", mean, std)
    model = LeNet()
    model.body.load_state_dict(state)
    model.eval()
    measure("lenet-f32", model, xte, yte)
    torch.backends.quantized.engine = args.engine
    model.qconfig = torch.ao.quantization.get_default_qconfig(args.engine)
    torch.ao.quantization.fuse_modules(model.body, [["0", "1"], ["3", "4"], ["7", "8"]], inplace=True)
    torch.ao.quantization.prepare(model, inplace=True)
    with torch.inference_mode():
        for b in range(args.calib_batches):
            model(xtr[b * 128:(b + 1) * 128])
    torch.ao.quantization.convert(model, inplace=True)
    measure("lenet-int8", model, xte, yte)


if __name__ == "__main__":
    main()
