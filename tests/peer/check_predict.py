#!/usr/bin/python3
"""End-to-end peer check of `nabla predict` with PyTorch weights.

Writes a small CIFAR-10 binary folder (random images, every class present), a
state_dict of torchvision's resnet18(num_classes=10) as safetensors (every key,
num_batches_tracked included; batch-norm statistics randomized), runs
  nabla predict --model resnet18 --weights FILE --data cifar10:DIR --normalize none --out preds.csv
and checks nabla's probabilities equal PyTorch's softmax(model(pixels / 255)) within 1e-4.

Usage: check_predict.py PATH/TO/nabla WORK_DIR
"""
import csv
import os
import subprocess
import sys
import warnings

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from make_fixtures import save_safetensors  # noqa: E402
from make_model_fixtures import randomize_norms  # noqa: E402


def write_cifar(path, labels, images):
    with open(path, "wb") as f:
        for y, img in zip(labels, images):
            f.write(bytes([int(y)]))
            f.write(img.astype(np.uint8).tobytes())


def main():
    nabla, work = sys.argv[1], sys.argv[2]
    data = os.path.join(work, "cifar")
    os.makedirs(data, exist_ok=True)
    rng = np.random.default_rng(0)
    train_y = np.arange(20) % 10
    test_y = rng.permutation(np.arange(24) % 10)
    train_x = rng.integers(0, 256, size=(20, 3, 32, 32))
    test_x = rng.integers(0, 256, size=(24, 3, 32, 32))
    write_cifar(os.path.join(data, "data_batch_1.bin"), train_y, train_x)
    write_cifar(os.path.join(data, "test_batch.bin"), test_y, test_x)

    warnings.filterwarnings("ignore")
    import torchvision
    torch.manual_seed(0)
    model = torchvision.models.resnet18(num_classes=10)
    randomize_norms(model)
    model.eval()
    weights = os.path.join(work, "resnet18.safetensors")
    save_safetensors(weights, model.state_dict(), {"source": "torchvision.models.resnet18(num_classes=10)"})
    with torch.no_grad():
        want = torch.softmax(model(torch.from_numpy(test_x).float() / 255), 1).numpy()

    out = os.path.join(work, "preds.csv")
    cmd = [nabla, "predict", "--model", "resnet18", "--weights", weights, "--data", "cifar10:" + data,
           "--normalize", "none", "--out", out]
    r = subprocess.run(cmd, capture_output=True, text=True)
    if r.returncode != 0:
        sys.exit(f"nabla predict failed ({r.returncode}): {r.stderr.strip()}")
    with open(out) as f:
        rows = list(csv.DictReader(f))
    got = np.array([[float(row[f"p_{k}"]) for k in range(10)] for row in rows])
    labels = np.array([int(row["label"]) for row in rows])
    if got.shape != want.shape:
        sys.exit(f"expected probabilities {want.shape}, nabla wrote {got.shape}")
    if not (labels == test_y).all():
        sys.exit("labels in nabla's predictions differ from the data")
    err = np.abs(got - want).max()
    print(f"resnet18 via nabla predict: {len(rows)} images, max |probability difference| = {err:.2e}")
    if err > 1e-4:
        sys.exit(f"probabilities differ by {err}")


if __name__ == "__main__":
    main()
