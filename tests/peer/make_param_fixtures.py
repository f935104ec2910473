#!/usr/bin/python3
"""PyTorch 1.13 parametrized modules for nabla's peer tests (peer_param_test.cpp):
spectral_norm and orthogonal (torch.nn.utils.parametrizations), weight_norm (the 1.13
torch.nn.utils.weight_norm) and pruning (l1_unstructured, ln_structured, global_unstructured,
a pruned state_dict loaded into a plain model), float64.

Per case: the state_dict in PyTorch's naming before a train-mode forward
(`sd.KEY`), the input `x`, output `y`, upstream gradient `gout`, the gradient of
every parameter (`grad.KEY`), the state_dict after that forward (`after.KEY`,
spectral norm's _u/_v step) and an eval-mode output `y_eval`. For pruning,
`orig.KEY` holds the weights before pruning, so nabla prunes them itself.

Usage: make_param_fixtures.py OUT_DIR
"""
import os
import sys
import zlib

import torch
import torch.nn as nn
from torch.nn.utils import parametrizations, prune

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from make_fixtures import save_safetensors  # noqa: E402

torch.set_default_dtype(torch.float64)


def case_sn_linear():
    m = nn.Linear(5, 4)
    parametrizations.spectral_norm(m)
    return m, (3, 5), {}


def case_sn_conv():
    m = nn.Conv2d(3, 4, 3)
    parametrizations.spectral_norm(m, n_power_iterations=2)
    return m, (2, 3, 5, 5), {}


def case_sn_conv_transpose():
    m = nn.ConvTranspose2d(3, 2, 3)
    parametrizations.spectral_norm(m)
    return m, (2, 3, 4, 4), {}


def case_wn_linear():
    m = torch.nn.utils.weight_norm(nn.Linear(5, 4))
    return m, (3, 5), {}


def case_wn_conv_all():
    m = torch.nn.utils.weight_norm(nn.Conv2d(2, 3, 3), dim=None)
    return m, (2, 2, 5, 5), {}


def case_prune_linear():
    m = nn.Linear(6, 5)
    orig = {k: v.detach().clone() for k, v in m.state_dict().items()}
    prune.l1_unstructured(m, "weight", amount=0.3)
    return m, (4, 6), orig


def case_prune_ln_conv():
    m = nn.Conv2d(3, 6, 3)
    orig = {k: v.detach().clone() for k, v in m.state_dict().items()}
    prune.ln_structured(m, "weight", amount=0.5, n=2, dim=0)
    return m, (2, 3, 5, 5), orig


def two_linears():
    return nn.Sequential(nn.Linear(6, 5), nn.ReLU(), nn.Linear(5, 3))


def case_prune_global():
    m = two_linears()
    orig = {k: v.detach().clone() for k, v in m.state_dict().items()}
    prune.global_unstructured([(m[0], "weight"), (m[2], "weight")], pruning_method=prune.L1Unstructured, amount=0.6)
    return m, (4, 6), orig


def case_prune_adopted():
    """Pruned here, loaded by nabla into a plain model: the masks come with the state_dict."""
    m = two_linears()
    prune.l1_unstructured(m[0], "weight", amount=0.4)
    prune.random_unstructured(m[2], "weight", amount=0.5)
    return m, (4, 6), {}


def orthogonal(m, **kw):
    """orthogonal(), then `original` moved off its starting -I (its diagonal kept: Householder's signs),
    so the map is exercised away from the identity."""
    parametrizations.orthogonal(m, **kw)
    with torch.no_grad():
        o = m.parametrizations.weight.original
        o.add_(0.3 * torch.randn(o.shape) * (1 - torch.eye(o.size(-2), o.size(-1))))
    return m


def case_orth_square():
    return orthogonal(nn.Linear(4, 4)), (3, 4), {}


def case_orth_tall():
    return orthogonal(nn.Linear(3, 5)), (2, 3), {}


def case_orth_wide():
    return orthogonal(nn.Linear(5, 3)), (2, 5), {}


def case_orth_cayley():
    return orthogonal(nn.Linear(4, 4), orthogonal_map="cayley"), (3, 4), {}


def case_orth_conv():
    return orthogonal(nn.Conv2d(2, 3, 3)), (2, 2, 5, 5), {}


CASES = {k[5:]: v for k, v in globals().items() if k.startswith("case_")}


def main(out_dir):
    os.makedirs(out_dir, exist_ok=True)
    for name, make in sorted(CASES.items()):
        torch.manual_seed(zlib.crc32(name.encode()))  # by name: a new case leaves the others' data alone
        m, shape, orig = make()
        out = {"sd." + k: v.detach().clone() for k, v in m.state_dict().items()}
        out.update({"orig." + k: v for k, v in orig.items()})
        x = torch.randn(shape)
        m.train()
        y = m(x)
        gout = torch.randn(y.shape)
        y.backward(gout)
        for k, p in m.named_parameters():
            out["grad." + k] = p.grad.detach().clone()
        out.update({"after." + k: v.detach().clone() for k, v in m.state_dict().items()})
        m.eval()
        with torch.no_grad():
            out["y_eval"] = m(x)
        out.update({"x": x, "y": y.detach(), "gout": gout})
        save_safetensors(os.path.join(out_dir, name + ".safetensors"), out, {"case": name})


if __name__ == "__main__":
    main(sys.argv[1])
