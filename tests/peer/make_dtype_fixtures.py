#!/usr/bin/python3
"""PyTorch's dtypes as references for nabla's (peer_dtype_test.cpp).

make_dtype_fixtures.py OUT_DIR writes
  convert.safetensors   f32/f64 values chosen to hit every rounding case (ties,
                        subnormals, overflow, NaN, inf) and PyTorch's conversions
                        of them to bf16, f16, i32, i8, u8 and bool, bit for bit
  ops_bf16.safetensors  bf16 operands, PyTorch's bf16 results and gradients of
                        elementwise ops, reductions, softmax, matmul, layer norm
  autocast.safetensors  a two-layer MLP's output, loss and f32 weight gradients
                        under torch.autocast("cpu", dtype=torch.bfloat16)
and, in convert.safetensors' metadata, torch.promote_types over every pair.
"""
import json
import os
import sys

import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from make_fixtures import save_safetensors  # noqa: E402

NAMES = {torch.float32: "f32", torch.float64: "f64", torch.bfloat16: "bf16", torch.float16: "f16",
         torch.int64: "i64", torch.int32: "i32", torch.int8: "i8", torch.uint8: "u8", torch.bool: "bool"}


def bits_f32(u):
    return torch.tensor(u, dtype=torch.int64).to(torch.int32).view(torch.float32)


def convert_case(g):
    parts = [torch.randn(4000, generator=g) * s for s in (1.0, 1e-3, 1e3, 3e4, 1e5)]
    # f16's subnormal range and its boundary.
    parts.append((torch.rand(2000, generator=g) * 2 - 1) * 2.0 ** -13)
    # Exact bf16 ties: any upper half with the dropped half exactly 0x8000.
    hi = torch.randint(0, 0x7f80, (1000,), generator=g) << 16
    parts.append(bits_f32((hi | 0x8000).tolist()))
    # Exact f16 ties: a random half on the grid plus half a step (13 dropped bits = 0x1000).
    mant = torch.randint(0, 1 << 10, (1000,), generator=g)
    expo = torch.randint(113, 142, (1000,), generator=g)
    parts.append(bits_f32(((expo << 23) | (mant << 13) | 0x1000).tolist()))
    specials = [0.0, -0.0, float("inf"), -float("inf"), float("nan"), 65504.0, 65519.99, 65520.0, 65536.0,
                2.0 ** -24, 2.0 ** -25, 3 * 2.0 ** -25, 2.0 ** -26, 2.0 ** -14, 1e-8, 3.4e38, -3.4e38, 1.17e-38,
                1.0 + 2.0 ** -8, 1.0 + 3 * 2.0 ** -8, 1.0 / 3.0, -2.5, 0.1]
    parts.append(torch.tensor(specials, dtype=torch.float32))
    x32 = torch.cat(parts).to(torch.float32)
    sign = torch.where(torch.rand(x32.shape, generator=g) < 0.5, -1.0, 1.0)
    x32 = torch.cat([x32, x32 * sign])
    x64 = torch.randn(3000, generator=g, dtype=torch.float64) * torch.tensor([1e-6, 1.0, 1e4]).repeat(1000).double()
    ints = (torch.randn(2000, generator=g) * 100).round()  # whole floats in range for every integer type
    wide = torch.randint(-(2 ** 40), 2 ** 40, (2000,), generator=g)
    small = torch.randint(-127, 128, (500,), generator=g).to(torch.float32) + torch.rand(500, generator=g) * 0.99
    t = {
        "x32": x32, "x32_bf16": x32.to(torch.bfloat16), "x32_f16": x32.to(torch.float16),
        "x64": x64, "x64_bf16": x64.to(torch.bfloat16), "x64_f16": x64.to(torch.float16),
        "bf16_f16": x32.to(torch.bfloat16).to(torch.float16), "f16_bf16": x32.to(torch.float16).to(torch.bfloat16),
        "bf16_f32": x32.to(torch.bfloat16).to(torch.float32), "f16_f64": x32.to(torch.float16).to(torch.float64),
        "ints": ints, "ints_i32": ints.to(torch.int32), "ints_i8": ints.clamp(-128, 127).to(torch.int8),
        "small": small, "small_i8": small.to(torch.int8), "small_bool": small.to(torch.bool),
        "wide": wide, "wide_i32": wide.to(torch.int32), "wide_i8": wide.to(torch.int8), "wide_u8": wide.to(torch.uint8),
        "wide_bf16": wide.to(torch.bfloat16),
    }
    promote = []
    for a in NAMES:
        for b in NAMES:
            promote.append([NAMES[a], NAMES[b], NAMES.get(torch.promote_types(a, b), str(torch.promote_types(a, b)))])
    return t, {"promote": json.dumps(promote)}


def ops_case(g):
    a = torch.randn(7, 9, generator=g).to(torch.bfloat16).requires_grad_()
    b = (torch.rand(7, 9, generator=g) + 0.5).to(torch.bfloat16).requires_grad_()
    c = torch.randn(5, 9, generator=g).to(torch.bfloat16).requires_grad_()
    t = {"a": a, "b": b, "c": c}
    outs = {
        "add": a + b, "sub": a - b, "mul": a * b, "div": a / b, "scalar": a * 0.3 + 1.0,
        "exp": torch.exp(a), "tanh": torch.tanh(a), "sigmoid": torch.sigmoid(a), "relu": F.relu(a),
        "gelu": F.gelu(a), "sum": a.sum(-1), "mean": a.mean(-1), "amax": a.amax(-1),
        "softmax": F.softmax(a, -1), "log_softmax": F.log_softmax(a, -1), "mm": a @ c.t(),
        "layer_norm": F.layer_norm(a, (9,)),
    }
    for name, y in outs.items():
        gout = torch.randn(y.shape, generator=g).to(torch.bfloat16)
        grads = torch.autograd.grad(y, [a, b, c], gout, allow_unused=True)
        t[name] = y
        t[name + "_gout"] = gout
        for n, gr in zip("abc", grads):
            if gr is not None:
                t[f"{name}_grad_{n}"] = gr
    return t


def autocast_case(g):
    torch.manual_seed(5)
    model = torch.nn.Sequential(torch.nn.Linear(8, 16), torch.nn.ReLU(), torch.nn.Linear(16, 4))
    x = torch.randn(6, 8, generator=g)
    y = torch.randint(0, 4, (6,), generator=g)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        out = model(x)
        loss = F.cross_entropy(out, y)
    loss.backward()
    t = {"x": x, "y": y, "out": out, "loss": loss}
    for n, p in model.named_parameters():
        t[n] = p
        t[n + ".grad"] = p.grad
    return t


def main():
    out_dir = os.path.join(sys.argv[1])
    os.makedirs(out_dir, exist_ok=True)
    g = torch.Generator().manual_seed(2026)
    conv, meta = convert_case(g)
    save_safetensors(os.path.join(out_dir, "convert.safetensors"), conv, meta)
    save_safetensors(os.path.join(out_dir, "ops_bf16.safetensors"), ops_case(g), {})
    save_safetensors(os.path.join(out_dir, "autocast.safetensors"), autocast_case(g), {})


if __name__ == "__main__":
    main()
