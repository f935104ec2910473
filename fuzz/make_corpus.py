#!/usr/bin/python3
"""Writes the seed corpus of each fuzz target (fuzz/corpus/TARGET/): small
valid files of each format plus a few near-misses, so the fuzzer starts from
inputs that reach deep into each parser. Rerun after changing a format;
the outputs are committed."""
import gzip
import json
import os
import struct

HERE = os.path.dirname(os.path.abspath(__file__))


def put(target, name, data):
    d = os.path.join(HERE, "corpus", target)
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, name), "wb") as f:
        f.write(data if isinstance(data, bytes) else data.encode())


def safetensors(tensors, meta=None):
    """tensors: {name: (dtype, shape, raw bytes)}."""
    header, body = {}, b""
    if meta:
        header["__metadata__"] = meta
    for name, (dt, shape, raw) in tensors.items():
        header[name] = {"dtype": dt, "shape": shape, "data_offsets": [len(body), len(body) + len(raw)]}
        body += raw
    h = json.dumps(header).encode()
    h += b" " * (-(8 + len(h)) % 8)
    return struct.pack("<Q", len(h)) + h + body


f32 = lambda *v: struct.pack(f"<{len(v)}f", *v)  # noqa: E731
tensors = {"w": ("F32", [2, 3], f32(1, 2, 3, 4, 5, 6)), "n": ("I64", [2], struct.pack("<2q", 7, -1)),
           "e": ("U8", [0], b""), "s": ("F64", [], struct.pack("<d", 0.5))}
put("safetensors", "valid", safetensors(tensors, {"note": "seed"}))
put("safetensors", "one", safetensors({"x": ("F32", [1], f32(1))}))
put("safetensors", "bad_offsets", safetensors({"x": ("F32", [2], f32(1))}))

ck = {"model." + k: v for k, v in tensors.items()}
ck["optimizer.state.0.step"] = ("F64", [], struct.pack("<d", 3))
meta = {"format": "nabla-checkpoint-v1", "epoch": "1", "step": "10", "best_acc": "0.5", "model": "mlp",
        "model_config": json.dumps({"hidden": [4]}), "preprocess": json.dumps({"normalize": "none"})}
put("checkpoint", "valid", safetensors(ck, meta))
put("checkpoint", "not_a_checkpoint", safetensors(tensors))

be32 = lambda v: struct.pack(">I", v)  # noqa: E731
images = b"\0\0\x08\x03" + be32(2) + be32(3) + be32(3) + bytes(range(18))
put("idx", "images", images)
put("idx", "labels", b"\0\0\x08\x01" + be32(4) + bytes([0, 1, 2, 9]))
put("idx", "images.gz", gzip.compress(images))
put("idx", "truncated", images[:-3])

record = lambda label: bytes([label]) + bytes(i % 256 for i in range(3072))  # noqa: E731
put("cifar", "two_records", record(3) + record(9))
put("cifar", "bad_label", record(12))

put("csv", "header", "a,b,label\n1,2,0\n3.5,-4e2,1\n0,0,2\n")
put("csv", "no_header", "1,2,0\n3,4,1\n")
put("csv", "quoted", '"x","y","class"\n1,"2",0\n\n5,6,1\r\n')

put("text", "ascii", "the quick brown fox jumps over the lazy dog\n" * 4)
put("text", "utf8", "naïve café — Ünïcödé ✓ 漢字\n" * 3)

put("config", "full", json.dumps({"model": "mlp", "epochs": 2, "batch_size": 64, "opt": "sgd", "lr": 0.01,
                                  "hidden": [32, 16], "sched": "cosine", "normalize": "standard",
                                  "crop_padding": 2, "hflip": True, "detect_anomaly": False}))
put("config", "small", '{"epochs": 1}')
put("config", "wrong_type", '{"epochs": "three"}')
