"""Reads a safetensors file (or a nabla checkpoint, which is one) without any
library: {name: (dtype, shape, raw bytes)}, metadata left out."""
import json
import struct


def read_tensors(path):
    with open(path, "rb") as f:
        blob = f.read()
    (n,) = struct.unpack("<Q", blob[:8])
    header = json.loads(blob[8:8 + n])
    body = blob[8 + n:]
    out = {}
    for name, e in header.items():
        if name == "__metadata__":
            continue
        a, b = e["data_offsets"]
        out[name] = (e["dtype"], e["shape"], body[a:b])
    return out
