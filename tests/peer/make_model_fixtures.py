#!/usr/bin/python3
"""PyTorch references for moving weights between PyTorch and nabla.

models/<name>.safetensors: a PyTorch model's state_dict (PyTorch's own key names;
  batch-norm parameters and running statistics randomized so they matter).
models/<name>_io.safetensors: an input batch x, PyTorch's eval-mode logits, its
  train-mode logits (batch statistics) and, as after.<key>, the state_dict after
  that train-mode forward (updated running statistics).
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

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "support"))
from safetensors_bytes import read_tensors  # noqa: E402


def mlp():
    return nn.Sequential(nn.Flatten(), nn.Linear(784, 256), nn.ReLU(), nn.Linear(256, 128), nn.ReLU(),
                         nn.Linear(128, 100), nn.ReLU(), nn.Linear(100, 10))


def lenet():
    return nn.Sequential(nn.Conv2d(1, 32, 5), nn.ReLU(), nn.MaxPool2d(2), nn.Conv2d(32, 64, 5), nn.ReLU(),
                         nn.MaxPool2d(2), nn.Flatten(), nn.Linear(1024, 128), nn.ReLU(), nn.Linear(128, 10))


class BasicBlock(nn.Module):
    """nabla's BasicBlock: torchvision's, with a conv1x1+BN projection when the shape changes."""

    def __init__(self, cin, planes, stride):
        super().__init__()
        self.conv1 = nn.Conv2d(cin, planes, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(planes)
        self.conv2 = nn.Conv2d(planes, planes, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(planes)
        self.downsample = None
        if stride != 1 or cin != planes:
            self.downsample = nn.Sequential(nn.Conv2d(cin, planes, 1, stride, bias=False), nn.BatchNorm2d(planes))

    def forward(self, x):
        y = torch.relu(self.bn1(self.conv1(x)))
        y = self.bn2(self.conv2(y))
        return torch.relu(y + (self.downsample(x) if self.downsample is not None else x))


class PreActBlock(nn.Module):
    """Pre-activation block (BN-ReLU-conv x 2); the projection reads the pre-activated input."""

    def __init__(self, cin, planes, stride):
        super().__init__()
        self.bn1 = nn.BatchNorm2d(cin)
        self.conv1 = nn.Conv2d(cin, planes, 3, stride, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(planes)
        self.conv2 = nn.Conv2d(planes, planes, 3, 1, 1, bias=False)
        self.downsample = None
        if stride != 1 or cin != planes:
            self.downsample = nn.Sequential(nn.Conv2d(cin, planes, 1, stride, bias=False))

    def forward(self, x):
        a = torch.relu(self.bn1(x))
        shortcut = self.downsample(a) if self.downsample is not None else x
        y = self.conv2(torch.relu(self.bn2(self.conv1(a))))
        return y + shortcut


def small_resnet(block, blocks, widths, stem_width, in_ch=1, classes=10, preact=False):
    """The CIFAR-style nets of nabla's zoo: conv3x3 stem, stages, global pool, fc."""
    layers = [("conv1", nn.Conv2d(in_ch, stem_width, 3, 1, 1, bias=False))]
    if not preact:
        layers += [("bn1", nn.BatchNorm2d(stem_width)), ("relu", nn.ReLU())]
    cin = stem_width
    for s, (n, w) in enumerate(zip(blocks, widths)):
        stage = []
        for b in range(n):
            stage.append(block(cin, w, 2 if b == 0 and s > 0 else 1))
            cin = w
        layers.append((f"layer{s + 1}", nn.Sequential(*stage)))
    if preact:
        layers += [("bn", nn.BatchNorm2d(cin)), ("relu", nn.ReLU())]
    layers += [("avgpool", nn.AdaptiveAvgPool2d(1)), ("flatten", nn.Flatten()), ("fc", nn.Linear(cin, classes))]
    from collections import OrderedDict
    return nn.Sequential(OrderedDict(layers))


def torchvision_model(name, **kw):
    import warnings
    warnings.filterwarnings("ignore")
    import torchvision
    return getattr(torchvision.models, name)(num_classes=10, **kw)


# name -> (constructor, input shape of one example). The deep ImageNet nets get
# 64x64 inputs so that their last stage's train-mode batch norm averages over
# 4 pixels x the batch, not a single pixel: statistics of 4 values are too
# ill-conditioned for a 1e-4 comparison of two float32 implementations.
MODELS = {
    "mlp": (mlp, [1, 28, 28]),
    "lenet": (lenet, [1, 28, 28]),
    "resnet20": (lambda: small_resnet(BasicBlock, [3, 3, 3], [16, 32, 64], 16), [1, 28, 28]),
    "wrn-16-4": (lambda: small_resnet(PreActBlock, [2, 2, 2], [64, 128, 256], 16, preact=True), [1, 28, 28]),
    "resnet18": (lambda: torchvision_model("resnet18"), [3, 32, 32]),
    "resnet50": (lambda: torchvision_model("resnet50"), [3, 64, 64]),
    "resnext50-32x4d": (lambda: torchvision_model("resnext50_32x4d"), [3, 64, 64]),
    "densenet121": (lambda: torchvision_model("densenet121"), [3, 64, 64]),
    "mobilenet-v2": (lambda: torchvision_model("mobilenet_v2", dropout=0.0), [3, 64, 64]),
}


def randomize_norms(m):
    """Batch-norm affine parameters and running statistics away from 1 and 0."""
    with torch.no_grad():
        for mod in m.modules():
            if isinstance(mod, nn.BatchNorm2d):
                mod.weight.uniform_(0.5, 1.5)
                mod.bias.normal_(0, 0.2)
                mod.running_mean.normal_(0, 0.2)
                mod.running_var.uniform_(0.5, 1.5)
                mod.num_batches_tracked.fill_(3)


def load_safetensors(path):
    import numpy as np
    dt = {"F32": np.float32, "F64": np.float64, "I64": np.int64, "U8": np.uint8}
    return {k: torch.from_numpy(np.frombuffer(raw, dtype=dt[dtype]).reshape(shape).copy())
            for k, (dtype, shape, raw) in read_tensors(path).items()}


def main():
    if sys.argv[1] == "--check":
        d = os.path.join(sys.argv[2], "models")
        for name, (make, _) in MODELS.items():
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
    for name, (make, shape) in MODELS.items():
        m = make()
        randomize_norms(m)
        m.eval()
        x = torch.rand([8] + shape)
        save_safetensors(os.path.join(d, f"{name}.safetensors"), m.state_dict(), {"model": name})
        with torch.no_grad():
            io = {"x": x, "logits": m(x)}
            m.train()
            io["logits_train"] = m(x)
        io.update({"after." + k: v for k, v in m.state_dict().items()})
        save_safetensors(os.path.join(d, f"{name}_io.safetensors"), io, {"model": name})
    print(f"wrote {len(MODELS)} PyTorch models to {d}")


if __name__ == "__main__":
    main()
