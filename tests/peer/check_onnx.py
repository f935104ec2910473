"""Checks the ONNX files tests/peer/onnx_export_test.cpp wrote: onnx's checker with
full checking (shape inference included), then OpenCV's DNN module runs each at
batch 1 and 8 and must give nabla's outputs within 1e-4 (relative to the output's
scale where it exceeds 1). Prints one row per model; exits 1 on any failure."""
import json
import struct
import sys
from pathlib import Path

import cv2
import numpy as np
import onnx


def load_safetensors(path):
    raw = Path(path).read_bytes()
    (n,) = struct.unpack("<Q", raw[:8])
    header = json.loads(raw[8:8 + n])
    out = {}
    for k, v in header.items():
        if k == "__metadata__":
            continue
        a, b = v["data_offsets"]
        assert v["dtype"] == "F32", v
        out[k] = np.frombuffer(raw[8 + n + a:8 + n + b], dtype=np.float32).reshape(v["shape"])
    return out


def main(folder):
    folder = Path(folder)
    models = sorted(p.stem for p in folder.glob("*.onnx"))
    if not models:
        print(f"no .onnx files in {folder}")
        return 1
    failed = 0
    print(f"{'model':16s} {'checker':8s} {'opencv b1':>12s} {'opencv b8':>12s}")
    for m in models:
        path = folder / f"{m}.onnx"
        row = [f"{m:16s}"]
        try:
            onnx.checker.check_model(onnx.load(str(path)), full_check=True)
            row.append(f"{'ok':8s}")
        except Exception as e:  # noqa: BLE001 - report every model
            row.append(f"FAILED: {e}")
            failed += 1
            print(" ".join(row))
            continue
        net = cv2.dnn.readNetFromONNX(str(path))
        for b in (1, 8):
            io = load_safetensors(folder / f"{m}_b{b}.safetensors")
            net.setInput(io["x"])
            y = net.forward()
            ref = io["y"]
            if y.shape != ref.shape:
                row.append(f"shape {y.shape} != {ref.shape}")
                failed += 1
                continue
            diff = float(np.max(np.abs(y - ref))) if ref.size else 0.0
            scale = max(1.0, float(np.max(np.abs(ref))) if ref.size else 1.0)
            ok = diff <= 1e-4 * scale
            failed += not ok
            row.append(f"{diff:12.2e}" + ("" if ok else " FAIL"))
        print(" ".join(row))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
