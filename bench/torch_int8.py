#!/usr/bin/python3
"""PyTorch 1.13's own int8 models, the peers of `nabla quantize`: the same trained
weights (a nabla checkpoint of `--model lenet`, `resnet20` or `mobilenet-v2`,
built here under nabla's = PyTorch's names), the same preprocessing and
calibration batches (the first N batches of 128 training images), eager-mode
static quantization (conv+bn(+relu) and linear+relu fused, per-channel
weights, residual adds through FloatFunctional) on the `onednn` engine
(Debian's torch has onednn and qnnpack, not fbgemm). Prints one JSON line per
model: test accuracy, batch-128 throughput and batch-1 latency, measured as
nabla quantize measures them.

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


class Stubbed(nn.Module):  # a float body with stubs where int8 begins and ends
    def __init__(self, body):
        super().__init__()
        self.quant, self.dequant = torch.ao.quantization.QuantStub(), torch.ao.quantization.DeQuantStub()
        self.body = body

    def forward(self, x):
        return self.dequant(self.body(self.quant(x)))


def lenet(cfg):  # the peer kit's cnn
    return nn.Sequential(nn.Conv2d(cfg["input_shape"][0], 32, 5), nn.ReLU(), nn.MaxPool2d(2), nn.Conv2d(32, 64, 5),
                         nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(), nn.Linear(1024, 128), nn.ReLU(),
                         nn.Linear(128, cfg["num_classes"]))


class BasicBlock(nn.Module):
    """nabla's BasicBlock (torchvision's, a conv1x1 + BN projection where the shape changes), int8-ready."""

    def __init__(self, cin, planes, stride):
        super().__init__()
        self.conv1 = nn.Conv2d(cin, planes, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(planes)
        self.relu1 = nn.ReLU()
        self.conv2 = nn.Conv2d(planes, planes, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(planes)
        self.downsample = None
        if stride != 1 or cin != planes:
            self.downsample = nn.Sequential(nn.Conv2d(cin, planes, 1, stride, bias=False), nn.BatchNorm2d(planes))
        self.add_relu = nn.quantized.FloatFunctional()

    def forward(self, x):
        y = self.bn2(self.conv2(self.relu1(self.bn1(self.conv1(x)))))
        return self.add_relu.add_relu(y, self.downsample(x) if self.downsample is not None else x)

    def fuse(self):
        torch.ao.quantization.fuse_modules(self, [["conv1", "bn1", "relu1"], ["conv2", "bn2"]], inplace=True)
        if self.downsample is not None:
            torch.ao.quantization.fuse_modules(self.downsample, [["0", "1"]], inplace=True)


def resnet20(cfg):  # nabla's CIFAR-style ResNet-20 (tests/peer/make_model_fixtures.py spells the same net)
    from collections import OrderedDict
    layers = [("conv1", nn.Conv2d(cfg["input_shape"][0], 16, 3, 1, 1, bias=False)), ("bn1", nn.BatchNorm2d(16)),
              ("relu", nn.ReLU())]
    cin = 16
    for s, w in enumerate([16, 32, 64]):
        stage = []
        for b in range(3):
            stage.append(BasicBlock(cin, w, 2 if b == 0 and s > 0 else 1))
            cin = w
        layers.append((f"layer{s + 1}", nn.Sequential(*stage)))
    layers += [("avgpool", nn.AdaptiveAvgPool2d(1)), ("flatten", nn.Flatten()), ("fc", nn.Linear(cin, cfg["num_classes"]))]
    return nn.Sequential(OrderedDict(layers))


def mobilenet_v2(cfg):
    """torchvision's quantizable MobileNetV2 (FloatFunctional residual adds) with nabla's stem and ReLU6 kept
    (torchvision's builder swaps ReLU6 for ReLU to fuse it; that would change the function)."""
    import warnings
    warnings.filterwarnings("ignore")
    from torchvision.models.quantization.mobilenetv2 import QuantizableInvertedResidual
    from torchvision.models import MobileNetV2
    m = MobileNetV2(num_classes=cfg["num_classes"], dropout=0.0, block=QuantizableInvertedResidual)
    stride = 1 if cfg.get("stem") == "small" else 2
    m.features[0][0] = nn.Conv2d(cfg["input_shape"][0], 32, 3, stride, 1, bias=False)
    return m


def fuse(model):
    """conv + batch norm (+ ReLU) wherever they follow each other in a Sequential; linear + ReLU."""
    if isinstance(model, BasicBlock):
        return model.fuse()
    if isinstance(model, nn.Sequential) and not isinstance(model, torch.ao.nn.intrinsic._FusedModule):
        names = list(model._modules)
        groups, i = [], 0
        while i < len(names):
            a = model._modules[names[i]]
            nxt = [model._modules[n] for n in names[i + 1:i + 3]]
            if isinstance(a, nn.Conv2d) and nxt and isinstance(nxt[0], nn.BatchNorm2d):
                g = names[i:i + 2] + (names[i + 2:i + 3] if len(nxt) > 1 and type(nxt[1]) is nn.ReLU else [])
            elif isinstance(a, (nn.Conv2d, nn.Linear)) and nxt and type(nxt[0]) is nn.ReLU:
                g = names[i:i + 2]
            else:
                g = names[i:i + 1]
            if len(g) > 1:
                groups.append(g)
            i += len(g)
        if groups:
            torch.ao.quantization.fuse_modules(model, groups, inplace=True)
    if not isinstance(model, torch.ao.nn.intrinsic._FusedModule):
        for child in model.children():
            fuse(child)


MODELS = {"lenet": lenet, "resnet20": resnet20, "mobilenet-v2": mobilenet_v2}


def measure(name, model, xte, yte):
    with torch.inference_mode():
        model(xte[:128])  # warm-up, as nabla's measurement has
        correct = sum(int((model(xte[i:i + 128]).argmax(1) == yte[i:i + 128]).sum()) for i in range(0, len(xte), 128))
        passes = []
        for _ in range(5):  # the median of 5 passes, as nabla's measurement
            t = time.perf_counter()
            for i in range(0, len(xte), 128):
                model(xte[i:i + 128]).argmax(1)
            passes.append(len(xte) / (time.perf_counter() - t))
        throughput = float(np.median(passes))
        one, lat, error = xte[:1], [], None
        try:
            for _ in range(5):
                model(one)
            for _ in range(200):
                t = time.perf_counter_ns()
                model(one)
                lat.append((time.perf_counter_ns() - t) / 1e6)
        except RuntimeError as e:  # 1.13's onednn int8 refuses some batch-1 depthwise convolutions
            error = str(e).splitlines()[0]
    print(json.dumps({"framework": f"torch-{torch.__version__}", "model": name, "engine": args.engine,
                      "threads": args.threads, "test_acc": correct / len(xte),
                      "throughput_batch128": round(throughput, 1), "latency_ms_batch1": round(float(np.median(lat)), 4) if lat else None,
                      **({"latency_error": error} if error else {})}))


def main():
    state, meta = read_checkpoint(args.checkpoint)
    name = meta.get("model")
    if name not in MODELS:
        raise SystemExit(f"{args.checkpoint} holds a {name}; this script knows {', '.join(MODELS)}")
    cfg = json.loads(meta["model_config"])
    pre = json.loads(meta["preprocess"])
    mean = torch.tensor(pre.get("mean") or [0.0]).view(1, -1, 1, 1)
    std = torch.tensor(pre.get("std") or [1.0]).view(1, -1, 1, 1)
    xtr, _ = split("train", mean, std)
    xte, yte = split("t10k", mean, std)
    model = Stubbed(MODELS[name](cfg))
    model.body.load_state_dict(state)
    model.eval()
    measure(f"{name}-f32", model, xte, yte)
    torch.backends.quantized.engine = args.engine
    model.qconfig = torch.ao.quantization.get_default_qconfig(args.engine)
    fuse(model.body)
    torch.ao.quantization.prepare(model, inplace=True)
    with torch.inference_mode():
        for b in range(args.calib_batches):
            model(xtr[b * 128:(b + 1) * 128])
    torch.ao.quantization.convert(model, inplace=True)
    measure(f"{name}-int8", model, xte, yte)


if __name__ == "__main__":
    main()
