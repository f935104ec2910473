#!/usr/bin/python3
"""Writes PyTorch's Hessian-vector products and double-backward results for
nabla's create_graph peer tests (peer_hvp_test.cpp), in float64.

Each case is a scalar function of named parameters and constant data; the file
holds the parameters `p.NAME`, the data `d.NAME`, a random direction `v.NAME`
per parameter, the first derivative `g.NAME` and the Hessian-vector product
`hv.NAME` = d/dp (sum_k <dL/dp_k, v_k>) from torch.autograd.grad(...,
create_graph=True).

Usage: make_hvp_fixtures.py OUT_DIR
"""
import os
import sys

import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from make_fixtures import save_safetensors  # noqa: E402

torch.set_default_dtype(torch.float64)


def mlp_tanh_ce(p, d):
    h = torch.tanh(F.linear(d["x"], p["w1"], p["b1"]))
    return F.cross_entropy(F.linear(h, p["w2"], p["b2"]), d["t"])


def sigmoid_mse_softmax(p, d):
    z = d["x"] @ p["w"]
    y = torch.softmax(torch.sigmoid(z) * p["s"], dim=1)
    return F.mse_loss(y, d["y"]) + torch.exp(z * 0.1).mean()


def relu_log_softmax_nll(p, d):
    h = F.relu(F.linear(d["x"], p["w1"]))
    out = torch.log_softmax(h @ p["w2"].t(), dim=-1)
    return F.nll_loss(out, d["t"]) + (p["w1"] ** 2).sum() * 0.01


def gradient_penalty(p, d):
    # A WGAN-GP style term: the norm of the critic's input gradient, differentiated in the weights.
    x = d["x"].clone().requires_grad_()
    critic = (torch.tanh(x @ p["w1"]) @ p["w2"]).sum()
    (gx,) = torch.autograd.grad(critic, x, create_graph=True)
    return ((gx.pow(2).sum(dim=1) + 1e-12).sqrt() - 1).pow(2).mean()


def layer_norm_composite(x, g, b, eps=1e-5):
    c = x - x.mean(-1, keepdim=True)
    return c * ((c * c).mean(-1, keepdim=True) + eps) ** -0.5 * g + b


def batch_norm_composite(t, w, b, eps=1e-5):
    c = t - t.mean((0, 2), keepdim=True)
    return c * ((c * c).mean((0, 2), keepdim=True) + eps) ** -0.5 * w.reshape(1, -1, 1) + b.reshape(1, -1, 1)


def norms_penalty(p, d):
    # Layer norm and training-mode batch norm, with an input-gradient penalty through both: third
    # derivatives. Both are written out: PyTorch 1.13's F.layer_norm and F.batch_norm agree with their
    # compositions in the loss, the gradient and the Hessian-vector product in their own parameters,
    # but not in the parameters upstream of them (differences up to 1.6 and 0.005 on these shapes).
    x = d["x"].clone().requires_grad_()
    h = layer_norm_composite(x @ p["w1"], p["g"], p["b"])
    z = batch_norm_composite(torch.tanh(h).reshape(4, 3, 2), p["bw"], p["bb"])
    out = (z ** 2).sum()
    (gx,) = torch.autograd.grad(out, x, create_graph=True)
    return out * 0.1 + (gx ** 2).sum()


def cnn_penalty(p, d):
    # Convolutions (padded, strided, grouped) and both poolings under an input-gradient penalty:
    # third derivatives through conv2d, max and average pooling.
    x = d["x"].clone().requires_grad_()
    h = F.max_pool2d(torch.tanh(F.conv2d(x, p["c1"], p["cb"], padding=1)), 2)
    h = F.avg_pool2d(torch.tanh(F.conv2d(h, p["c2"], None, stride=2, padding=1, groups=2)), 2)
    out = F.cross_entropy(F.linear(h.flatten(1), p["w"]), d["t"])
    (gx,) = torch.autograd.grad(out, x, create_graph=True)
    return out + (gx ** 2).sum()


def deconv_penalty(p, d):
    x = d["x"].clone().requires_grad_()
    y = F.conv_transpose2d(torch.tanh(x), p["w"], p["b"], stride=2, padding=1)  # 1.13 cannot double-backward output_padding
    y = F.adaptive_avg_pool2d(torch.sigmoid(y), (3, 2))
    out = F.mse_loss(y, d["y"])
    (gx,) = torch.autograd.grad(out, x, create_graph=True)
    return out + (gx ** 2).sum() * 10


CASES = {
    "cnn_penalty": (cnn_penalty, {"c1": (4, 2, 3, 3), "cb": (4,), "c2": (4, 2, 3, 3), "w": (3, 4)},
                    {"x": ("n", (3, 2, 8, 8)), "t": ("i", (3,), 3)}),
    "deconv_penalty": (deconv_penalty, {"w": (2, 3, 3, 3), "b": (3,)},
                       {"x": ("n", (2, 2, 3, 4)), "y": ("u", (2, 3, 3, 2))}),
    "mlp_tanh_ce": (mlp_tanh_ce, {"w1": (6, 5), "b1": (6,), "w2": (3, 6), "b2": (3,)},
                    {"x": ("n", (8, 5)), "t": ("i", (8,), 3)}),
    "sigmoid_mse_softmax": (sigmoid_mse_softmax, {"w": (4, 3), "s": (3,)},
                            {"x": ("n", (5, 4)), "y": ("u", (5, 3))}),
    "relu_log_softmax_nll": (relu_log_softmax_nll, {"w1": (7, 4), "w2": (3, 7)},
                             {"x": ("n", (6, 4)), "t": ("i", (6,), 3)}),
    "gradient_penalty": (gradient_penalty, {"w1": (3, 5), "w2": (5,)}, {"x": ("n", (4, 3))}),
    "norms_penalty": (norms_penalty, {"w1": (5, 6), "g": (6,), "b": (6,), "bw": (3,), "bb": (3,)},
                      {"x": ("n", (4, 5))}),
}


def main(out_dir):
    os.makedirs(out_dir, exist_ok=True)
    g = torch.Generator().manual_seed(20261201)
    for name, (fn, pspec, dspec) in CASES.items():
        p = {k: torch.randn(s, generator=g).requires_grad_() for k, s in pspec.items()}
        d = {}
        for k, spec in dspec.items():
            if spec[0] == "n":
                d[k] = torch.randn(spec[1], generator=g)
            elif spec[0] == "u":
                d[k] = torch.rand(spec[1], generator=g)
            else:
                d[k] = torch.randint(0, spec[2], spec[1], generator=g)
        v = {k: torch.randn(t.shape, generator=g) for k, t in p.items()}
        loss = fn(p, d)
        names = list(p)
        grads = torch.autograd.grad(loss, [p[k] for k in names], create_graph=True)
        dot = sum((gk * v[k]).sum() for gk, k in zip(grads, names))
        hv = torch.autograd.grad(dot, [p[k] for k in names])
        out = {"loss": loss.detach().reshape(())}
        for k in names:
            out["p." + k] = p[k].detach()
            out["v." + k] = v[k]
        for gk, hk, k in zip(grads, hv, names):
            out["g." + k] = gk.detach()
            out["hv." + k] = hk
        for k, t in d.items():
            out["d." + k] = t
        save_safetensors(os.path.join(out_dir, "hvp_" + name + ".safetensors"), out, {"case": name})


if __name__ == "__main__":
    main(sys.argv[1])
