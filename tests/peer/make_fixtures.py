#!/usr/bin/python3
"""Writes PyTorch reference results for nabla's peer tests.

For every case: random inputs (seeded), the op's output, a random upstream
gradient `gout`, and the gradients of every floating input, all float32 unless
the case says otherwise, in one safetensors file per case:
  in0, in1, ...   inputs          out    output
  gout            upstream grad   grad0, grad1, ...  input gradients (floating inputs)
The C++ side (peer_ops_test.cpp) runs the same op by case name and compares.

Usage: make_fixtures.py OUT_DIR
"""
import json
import os
import struct
import sys

import warnings
import zlib

import torch
import torch.nn.functional as F

DT = {torch.float32: "F32", torch.float64: "F64", torch.int64: "I64", torch.uint8: "U8", torch.bool: "BOOL",
      torch.bfloat16: "BF16", torch.float16: "F16", torch.int32: "I32", torch.int8: "I8"}


def save_safetensors(path, tensors, metadata):
    header, blobs, offset = {"__metadata__": metadata}, [], 0
    for name, t in tensors.items():
        t = t.detach().contiguous()
        # numpy has no bfloat16: its bits travel as int16.
        b = (t.view(torch.int16) if t.dtype == torch.bfloat16 else t).numpy().tobytes()
        header[name] = {"dtype": DT[t.dtype], "shape": list(t.shape), "data_offsets": [offset, offset + len(b)]}
        blobs.append(b)
        offset += len(b)
    h = json.dumps(header).encode()
    h += b" " * ((8 - (8 + len(h)) % 8) % 8)
    tmp = path + ".tmp"
    with open(tmp, "wb") as f:
        f.write(struct.pack("<Q", len(h)))
        f.write(h)
        for b in blobs:
            f.write(b)
    os.replace(tmp, path)


def put_rows(x, v):
    """x[1:3] = v, out of place."""
    y = x.clone()
    y[1:3] = v
    return y


# Input specs: ("n", shape) normal; ("u", shape, lo, hi) uniform; ("i", shape, lo, hi) int64;
# ("m", shape) boolean mask; ("r", shape) normal rounded to 0.5 steps (ties for comparisons).
def make(spec, g):
    kind, shape = spec[0], spec[1]
    if kind == "n":
        return torch.randn(shape, generator=g)
    if kind == "u":
        return torch.rand(shape, generator=g) * (spec[3] - spec[2]) + spec[2]
    if kind == "i":
        return torch.randint(spec[2], spec[3], shape, generator=g)
    if kind == "m":
        return torch.rand(shape, generator=g) > 0.5
    if kind == "r":
        return torch.round(torch.randn(shape, generator=g) * 2) / 2
    raise ValueError(kind)


def sdpa_ref(q, k, v, mask=None, causal=False, scale=None, groups=1):
    # PyTorch 2's scaled_dot_product_attention (1.13 has none), with nabla's 0 for rows that see no key.
    if groups > 1:
        k, v = k.repeat_interleave(groups, dim=-3), v.repeat_interleave(groups, dim=-3)
    s = q @ k.transpose(-2, -1) * (scale if scale is not None else q.shape[-1] ** -0.5)
    if causal:
        s = s.masked_fill(~torch.ones(q.shape[-2], k.shape[-2], dtype=torch.bool).tril(), float("-inf"))
    if mask is not None:
        s = s.masked_fill(~mask, float("-inf")) if mask.dtype == torch.bool else s + mask
    p = torch.softmax(s, -1)
    return torch.where(torch.isnan(p), torch.zeros_like(p), p) @ v


def C(spec):
    # A floating input that does not require grad (class weights, targets).
    return ("c", spec)


def prob(shape):
    # A probability target: softmax over dim 1 of random logits.
    return ("p", shape)


def dice_reference(p, t, smooth=1.0):
    """Soft Dice loss over [N, C, H, W] probabilities and one-hot (or 0/1) targets."""
    dims = [0] + list(range(2, p.dim()))
    inter = (p * t).sum(dims)
    card = p.sum(dims) + t.sum(dims)
    return 1 - ((2 * inter + smooth) / (card + smooth)).mean()


CASES = {
    # elementwise
    "add": (lambda a, b: a + b, [("n", [3, 4]), ("n", [4])]),
    "add_alpha": (lambda a, b: torch.add(a, b, alpha=2.5), [("n", [2, 3]), ("n", [2, 1])]),
    "sub": (lambda a, b: a - b, [("n", [2, 3, 4]), ("n", [3, 1])]),
    "mul": (lambda a, b: a * b, [("n", [3, 4]), ("n", [3, 1])]),
    "div": (lambda a, b: a / b, [("n", [4, 5]), ("u", [5], 0.5, 2.0)]),
    "neg": (lambda a: -a, [("n", [7])]),
    "exp": (torch.exp, [("n", [3, 5])]),
    "log": (torch.log, [("u", [3, 5], 0.1, 3.0)]),
    "log1p": (torch.log1p, [("u", [3, 5], -0.5, 3.0)]),
    "sin": (torch.sin, [("n", [3, 5])]),
    "cos": (torch.cos, [("u", [4, 3], -4.0, 4.0)]),
    "acos": (torch.acos, [("u", [4, 3], -0.9, 0.9)]),
    "sqrt": (torch.sqrt, [("u", [3, 5], 0.1, 3.0)]),
    "rsqrt": (torch.rsqrt, [("u", [3, 5], 0.1, 3.0)]),
    "abs": (torch.abs, [("n", [4, 4])]),
    "sign": (torch.sign, [("n", [4, 4])]),
    "pow_scalar": (lambda a: a ** 3, [("n", [3, 4])]),
    "pow_frac": (lambda a: a ** 2.5, [("u", [3, 4], 0.1, 2.0)]),
    "pow_tensor": (torch.pow, [("u", [3, 4], 0.1, 2.0), ("n", [4])]),
    "clamp": (lambda a: torch.clamp(a, -0.5, 0.5), [("n", [5, 5])]),
    "clamp_min": (lambda a: torch.clamp(a, min=0.1), [("n", [5, 5])]),
    "minimum": (torch.minimum, [("r", [4, 5]), ("r", [5])]),
    "maximum": (torch.maximum, [("r", [4, 5]), ("r", [4, 1])]),
    "where": (lambda c, a, b: torch.where(c, a, b), [("m", [3, 4]), ("n", [3, 4]), ("n", [4])]),
    "masked_fill": (lambda a, m: a.masked_fill(m, -2.0), [("n", [3, 4]), ("m", [4])]),
    "eq": (torch.eq, [("r", [4, 5]), ("r", [5])]),
    "lt": (torch.lt, [("r", [4, 5]), ("r", [5])]),
    "ge": (torch.ge, [("r", [4, 5]), ("r", [4, 1])]),
    # reductions
    "sum_all": (torch.sum, [("n", [3, 4, 5])]),
    "sum_dims": (lambda a: a.sum(dim=[0, 2], keepdim=True), [("n", [3, 4, 5])]),
    "sum_dim0": (lambda a: a.sum(0), [("n", [6, 7])]),
    "mean_dim": (lambda a: a.mean(1), [("n", [3, 4, 5])]),
    "var_dim": (lambda a: a.var(1), [("n", [3, 6])]),
    "var_biased": (lambda a: a.var(dim=[0, 1], unbiased=False, keepdim=True), [("n", [3, 4, 2])]),
    "std_dim": (lambda a: a.std(0), [("n", [5, 3])]),
    "max_all": (torch.max, [("n", [4, 5])]),
    "max_dim": (lambda a: torch.max(a, 1).values, [("n", [4, 5])]),
    "max_dim_indices": (lambda a: torch.max(a, 1).indices, [("n", [4, 5])]),
    "min_dim_keep": (lambda a: torch.min(a, 0, keepdim=True).values, [("n", [4, 5])]),
    "amax": (lambda a: torch.amax(a, dim=[0, 2]), [("n", [3, 4, 5])]),
    "argmax": (lambda a: torch.argmax(a, dim=-1), [("n", [6, 5])]),
    "logsumexp": (lambda a: torch.logsumexp(a * 10, dim=1), [("n", [4, 6])]),
    "norm2": (lambda a: torch.linalg.vector_norm(a), [("n", [4, 6])]),
    "norm1_dim": (lambda a: torch.linalg.vector_norm(a, 1, dim=1), [("n", [4, 6])]),
    "norm_inf": (lambda a: torch.linalg.vector_norm(a, float("inf"), dim=0), [("n", [4, 6])]),
    "norm3": (lambda a: torch.linalg.vector_norm(a, 3, dim=1, keepdim=True), [("n", [4, 6])]),
    # matmul
    "matmul_2d": (torch.matmul, [("n", [5, 7]), ("n", [7, 3])]),
    "matmul_1d_2d": (torch.matmul, [("n", [7]), ("n", [7, 3])]),
    "matmul_2d_1d": (torch.matmul, [("n", [5, 7]), ("n", [7])]),
    "matmul_dot": (torch.matmul, [("n", [7]), ("n", [7])]),
    "matmul_3d_2d": (torch.matmul, [("n", [2, 5, 7]), ("n", [7, 3])]),
    "matmul_batched": (torch.matmul, [("n", [2, 1, 4, 3]), ("n", [3, 3, 5])]),
    "matmul_t": (lambda a, b: a.t() @ b, [("n", [7, 5]), ("n", [7, 3])]),
    "linear": (F.linear, [("n", [4, 6]), ("n", [3, 6]), ("n", [3])]),
    "linear_3d_nobias": (F.linear, [("n", [2, 4, 6]), ("n", [3, 6])]),
    # activations
    "relu": (F.relu, [("n", [4, 5])]),
    "leaky_relu": (lambda a: F.leaky_relu(a, 0.1), [("n", [4, 5])]),
    "elu": (lambda a: F.elu(a, 1.5), [("n", [4, 5])]),
    "gelu": (F.gelu, [("n", [4, 5])]),
    "gelu_tanh": (lambda a: F.gelu(a, approximate="tanh"), [("n", [4, 5])]),
    "silu": (F.silu, [("n", [4, 5])]),
    "sigmoid": (torch.sigmoid, [("n", [4, 5])]),
    "tanh": (torch.tanh, [("n", [4, 5])]),
    "softplus": (F.softplus, [("n", [4, 5])]),
    "softplus_beta": (lambda a: F.softplus(a * 10, beta=2.0, threshold=5.0), [("n", [4, 5])]),
    "softmax": (lambda a: F.softmax(a, 1), [("n", [4, 5])]),
    "softmax_dim0_3d": (lambda a: F.softmax(a, 0), [("n", [3, 4, 2])]),
    "log_softmax": (lambda a: F.log_softmax(a * 5, -1), [("n", [4, 5])]),
    # losses
    "cross_entropy": (F.cross_entropy, [("n", [6, 5]), ("i", [6], 0, 5)]),
    "cross_entropy_weight": (lambda x, t, w: F.cross_entropy(x, t, weight=w),
                             [("n", [6, 5]), ("i", [6], 0, 5), C(("u", [5], 0.5, 2.0))]),
    "cross_entropy_smooth": (lambda x, t: F.cross_entropy(x, t, label_smoothing=0.1),
                             [("n", [6, 5]), ("i", [6], 0, 5)]),
    "cross_entropy_ignore": (lambda x, t: F.cross_entropy(x, t, ignore_index=2),
                             [("n", [8, 5]), ("i", [8], 0, 5)]),
    "cross_entropy_all": (lambda x, t, w: F.cross_entropy(x, t, weight=w, ignore_index=1, label_smoothing=0.2),
                          [("n", [8, 4]), ("i", [8], 0, 4), C(("u", [4], 0.5, 2.0))]),
    "cross_entropy_sum": (lambda x, t: F.cross_entropy(x, t, reduction="sum"), [("n", [6, 5]), ("i", [6], 0, 5)]),
    "cross_entropy_none": (lambda x, t: F.cross_entropy(x, t, reduction="none"), [("n", [6, 5]), ("i", [6], 0, 5)]),
    "cross_entropy_4d": (F.cross_entropy, [("n", [2, 3, 4, 4]), ("i", [2, 4, 4], 0, 3)]),
    "cross_entropy_prob": (F.cross_entropy, [("n", [6, 5]), prob([6, 5])]),
    "cross_entropy_prob_smooth": (lambda x, p, w: F.cross_entropy(x, p, weight=w, label_smoothing=0.3),
                                  [("n", [6, 5]), prob([6, 5]), C(("u", [5], 0.5, 2.0))]),
    "nll_loss": (lambda x, t: F.nll_loss(F.log_softmax(x, 1), t), [("n", [6, 5]), ("i", [6], 0, 5)]),
    "mse_loss": (F.mse_loss, [("n", [4, 5]), ("n", [4, 5])]),
    "l1_loss": (lambda a, b: F.l1_loss(a, b, reduction="sum"), [("n", [4, 5]), ("n", [4, 5])]),
    "smooth_l1_loss": (lambda a, b: F.smooth_l1_loss(a, b, beta=0.5), [("n", [4, 5]), ("n", [4, 5])]),
    "fake_quant_tensor": (lambda x: torch.fake_quantize_per_tensor_affine(x, 0.02, 3, -128, 127), [("n", [4, 5])]),
    "fake_quant_channel": (lambda x: torch.fake_quantize_per_channel_affine(
        x, torch.tensor([0.01, 0.02, 0.05]), torch.tensor([0, 10, -5], dtype=torch.int32), 1, -128, 127),
        [("n", [4, 3, 5])]),
    "kl_div_batchmean": (lambda x, t: F.kl_div(F.log_softmax(x, 1), F.softmax(t, 1), reduction="batchmean"),
                         [("n", [6, 5]), ("n", [6, 5])]),
    "kl_div_log_target": (lambda x, t: F.kl_div(F.log_softmax(x, 1), F.log_softmax(t, 1), reduction="sum",
                                                 log_target=True), [("n", [6, 5]), ("n", [6, 5])]),
    "kl_div_zero_targets": (lambda x, t: F.kl_div(x, torch.relu(t - 0.3)), [("n", [4, 5]), C(("u", [4, 5], 0.0, 1.0))]),
    "bce_logits": (F.binary_cross_entropy_with_logits, [("n", [4, 5]), ("u", [4, 5], 0.0, 1.0)]),
    "bce_logits_weighted": (lambda x, y, w, pw: F.binary_cross_entropy_with_logits(x * 8, y, weight=w, pos_weight=pw),
                            [("n", [4, 5]), ("u", [4, 5], 0.0, 1.0), C(("u", [4, 5], 0.5, 1.5)), C(("u", [5], 0.5, 3.0))]),
    # indexing and shape
    "index_select": (lambda x, i: torch.index_select(x, 1, i), [("n", [3, 5, 2]), ("i", [7], 0, 5)]),
    "gather": (lambda x, i: torch.gather(x, 1, i), [("n", [4, 5]), ("i", [4, 3], 0, 5)]),
    "index_basic": (lambda x: x[1:3, ..., None, -1], [("n", [4, 3, 5])]),
    "index_step": (lambda x: x[::2, 1], [("n", [5, 3])]),
    "index_mask": (lambda x, m: x[:, m], [("n", [2, 3, 4]), ("m", [3, 4])]),
    "index_tensor": (lambda x, i: x[..., i], [("n", [2, 5]), ("i", [2, 3], -5, 5)]),
    "index_put_slice": (put_rows, [("n", [4, 3]), ("n", [3])]),
    "index_put_mask": (lambda x, m, v: torch.where(m, v, x), [("n", [3, 4]), ("m", [3, 4]), ("n", [])]),
    "scatter_add": (lambda x, i, s: x.scatter_add(0, i, s), [("n", [4, 5]), ("i", [3, 5], 0, 4), ("n", [3, 5])]),
    "embedding": (lambda i, w: F.embedding(i, w), [("i", [2, 3], 0, 6), ("n", [6, 4])]),
    "one_hot": (lambda i: F.one_hot(i, 6), [("i", [2, 3], 0, 6)]),
    "cat": (lambda a, b: torch.cat([a, b], 1), [("n", [3, 2]), ("n", [3, 4])]),
    "stack": (lambda a, b: torch.stack([a, b], -1), [("n", [3, 2]), ("n", [3, 2])]),
    "split": (lambda a: torch.split(a, 2, 1)[1] * 3, [("n", [3, 7])]),
    "chunk": (lambda a: torch.chunk(a, 3, 0)[2] * 2, [("n", [7, 3])]),
    "pad": (lambda a: F.pad(a, (1, 2, -1, 1), value=0.5), [("n", [2, 4, 3])]),
    "views": (lambda a: a.transpose(0, 2).reshape(6, 4)[1::2].unsqueeze(0).expand(2, 3, 4) * 1.5,
              [("n", [2, 3, 4])]),
    "permute_contiguous": (lambda a: a.permute(2, 0, 1).contiguous().view(-1), [("n", [2, 3, 4])]),
    "select_narrow": (lambda a: a.select(1, 2).narrow(0, 1, 2), [("n", [4, 3, 2])]),
    # convolution, pooling, normalization
    "conv2d": (lambda x, w, b: F.conv2d(x, w, b, stride=1, padding=1), [("n", [2, 3, 6, 5]), ("n", [4, 3, 3, 3]), ("n", [4])]),
    "conv2d_stride_dil": (lambda x, w: F.conv2d(x, w, None, stride=2, padding=2, dilation=2),
                          [("n", [2, 2, 9, 8]), ("n", [3, 2, 3, 2])]),
    "conv2d_groups": (lambda x, w, b: F.conv2d(x, w, b, padding=1, groups=2), [("n", [2, 4, 5, 5]), ("n", [6, 2, 3, 3]), ("n", [6])]),
    "conv2d_depthwise": (lambda x, w: F.conv2d(x, w, None, stride=2, padding=1, groups=3), [("n", [2, 3, 7, 7]), ("n", [3, 1, 3, 3])]),
    "conv2d_pointwise": (lambda x, w: F.conv2d(x, w), [("n", [3, 4, 5, 5]), ("n", [6, 4, 1, 1])]),
    "conv2d_same": (lambda x, w: F.conv2d(x, w, padding="same"), [("n", [2, 2, 6, 6]), ("n", [3, 2, 4, 4])]),
    "conv1d": (lambda x, w, b: F.conv1d(x, w, b, stride=2, padding=1, dilation=2), [("n", [2, 3, 11]), ("n", [4, 3, 3]), ("n", [4])]),
    "conv_transpose2d": (lambda x, w, b: F.conv_transpose2d(x, w, b, stride=2, padding=1, output_padding=1),
                         [("n", [2, 3, 4, 4]), ("n", [3, 2, 3, 3]), ("n", [2])]),
    "conv_transpose2d_groups": (lambda x, w: F.conv_transpose2d(x, w, None, stride=1, padding=0, groups=2, dilation=2),
                                [("n", [2, 4, 3, 3]), ("n", [4, 3, 2, 2])]),
    "max_pool2d": (lambda x: F.max_pool2d(x, 2), [("n", [2, 3, 6, 6])]),
    "max_pool2d_pad": (lambda x: F.max_pool2d(x, 3, stride=2, padding=1), [("n", [2, 2, 7, 7])]),
    "max_pool2d_ceil": (lambda x: F.max_pool2d(x, 2, ceil_mode=True), [("n", [1, 2, 5, 5])]),
    "avg_pool2d": (lambda x: F.avg_pool2d(x, 2), [("n", [2, 3, 6, 6])]),
    "avg_pool2d_pad": (lambda x: F.avg_pool2d(x, 3, stride=2, padding=1), [("n", [2, 2, 7, 7])]),
    "avg_pool2d_nopadcount": (lambda x: F.avg_pool2d(x, 3, stride=2, padding=1, count_include_pad=False, ceil_mode=True),
                              [("n", [2, 2, 6, 6])]),
    "adaptive_avg_pool2d": (lambda x: F.adaptive_avg_pool2d(x, (3, 2)), [("n", [2, 3, 7, 5])]),
    "global_avg_pool": (lambda x: F.adaptive_avg_pool2d(x, 1), [("n", [2, 3, 4, 4])]),
    "cumsum": (lambda x: torch.cumsum(x, 1), [("n", [3, 5, 2])]),
    "logcumsumexp": (lambda x: torch.logcumsumexp(x * 4, 0), [("n", [6, 3])]),
    "interp_nearest": (lambda x: F.interpolate(x, size=(7, 5), mode="nearest"), [("n", [2, 3, 4, 3])]),
    "interp_nearest_scale": (lambda x: F.interpolate(x, scale_factor=2.0, mode="nearest"), [("n", [2, 2, 3, 4])]),
    "interp_nearest_down": (lambda x: F.interpolate(x, size=(3, 2), mode="nearest"), [("n", [1, 2, 7, 5])]),
    "interp_bilinear": (lambda x: F.interpolate(x, size=(7, 9), mode="bilinear", align_corners=False),
                        [("n", [2, 2, 4, 5])]),
    "interp_bilinear_corners": (lambda x: F.interpolate(x, size=(5, 3), mode="bilinear", align_corners=True),
                                [("n", [1, 2, 4, 6])]),
    "interp_bilinear_scale": (lambda x: F.interpolate(x, scale_factor=1.5, mode="bilinear", align_corners=False),
                              [("n", [1, 2, 4, 5])]),
    "dice_loss": (lambda x, t: dice_reference(torch.softmax(x, 1), F.one_hot(t, 3).permute(0, 3, 1, 2).to(x.dtype)),
                  [("n", [2, 3, 4, 4]), ("i", [2, 4, 4], 0, 3)]),
    "dice_loss_binary": (lambda x, t: dice_reference(torch.sigmoid(x), t), [("n", [2, 1, 5, 5]), ("u", [2, 1, 5, 5], 0.0, 1.0)]),
    "batch_norm_train": (lambda x, w, b: F.batch_norm(x, None, None, w, b, training=True), [("n", [4, 3, 5, 5]), ("n", [3]), ("n", [3])]),
    "batch_norm_1d": (lambda x, w, b: F.batch_norm(x, None, None, w, b, training=True), [("n", [6, 4]), ("n", [4]), ("n", [4])]),
    "batch_norm_eval": (lambda x, rm, rv, w, b: F.batch_norm(x, rm, rv, w, b, training=False),
                        [("n", [4, 3, 2, 2]), C(("n", [3])), C(("u", [3], 0.5, 2.0)), ("n", [3]), ("n", [3])]),
    "layer_norm": (lambda x, w, b: F.layer_norm(x, [4, 5], w, b), [("n", [3, 4, 5]), ("n", [4, 5]), ("n", [4, 5])]),
    "layer_norm_noaffine": (lambda x: F.layer_norm(x, [6]), [("n", [2, 3, 6])]),
    # PyTorch 1.13 has no F.rms_norm (2.4 does): its definition, with 2.4's default eps for f32.
    "rms_norm": (lambda x, w: x * torch.rsqrt(x.pow(2).mean((-2, -1), keepdim=True) + torch.finfo(x.dtype).eps) * w,
                 [("n", [3, 4, 5]), ("n", [4, 5])]),
    "rms_norm_eps": (lambda x: x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + 0.1), [("n", [2, 3, 6])]),
    "sdpa": (lambda q, k, v: sdpa_ref(q, k, v), [("n", [2, 3, 5, 4]), ("n", [2, 3, 7, 4]), ("n", [2, 3, 7, 6])]),
    "sdpa_causal": (lambda q, k, v: sdpa_ref(q, k, v, causal=True),
                    [("n", [1, 2, 9, 4]), ("n", [1, 2, 6, 4]), ("n", [1, 2, 6, 3])]),
    "sdpa_bool_mask": (lambda q, k, v, m: sdpa_ref(q, k, v, m),
                       [("n", [2, 2, 5, 4]), ("n", [2, 2, 7, 4]), ("n", [2, 2, 7, 3]), ("m", [2, 1, 5, 7])]),
    "sdpa_gqa_float_mask": (lambda q, k, v, m: sdpa_ref(q, k, v, m, scale=0.3, groups=2),
                            [("n", [2, 4, 5, 4]), ("n", [2, 2, 7, 4]), ("n", [2, 2, 7, 4]), C(("n", [5, 7]))]),
    "group_norm": (lambda x, w, b: F.group_norm(x, 2, w, b), [("n", [3, 4, 3, 3]), ("n", [4]), ("n", [4])]),
    # torch.linalg; decompositions through quantities that do not depend on the sign of a vector.
    "linalg_svdvals": (torch.linalg.svdvals, [("n", [3, 5])]),
    "linalg_svd_invariant": (lambda a: (lambda U, S, Vh: U @ torch.diag_embed(torch.exp(S * 0.5)) @ Vh)(
        *torch.linalg.svd(a, full_matrices=False)), [("n", [2, 5, 3])]),
    "linalg_svd_wide": (lambda a: (lambda U, S, Vh: U @ torch.diag_embed(S ** 2) @ Vh)(
        *torch.linalg.svd(a, full_matrices=False)), [("n", [3, 5])]),
    "linalg_eigh_invariant": (lambda a: (lambda L, V: torch.cat([L.flatten(), (V @ torch.diag_embed(L ** 3) @ V.mT)
                                                                 .flatten()]))(*torch.linalg.eigh(a + a.mT)),
                              [("n", [2, 4, 4])]),
    "linalg_qr": (lambda a: torch.cat([t.flatten() for t in torch.linalg.qr(a)]), [("n", [5, 3])]),
    "linalg_cholesky": (lambda a: torch.linalg.cholesky(a @ a.mT + 3 * torch.eye(4)), [("n", [2, 4, 4])]),
    "linalg_solve": (lambda a, b: torch.linalg.solve(a + 3 * torch.eye(4), b), [("n", [2, 4, 4]), ("n", [2, 4, 3])]),
    "linalg_solve_vec": (lambda a, b: torch.linalg.solve(a + 3 * torch.eye(4), b), [("n", [4, 4]), ("n", [4])]),
    "linalg_solve_broadcast": (lambda a, b: torch.linalg.solve(a + 3 * torch.eye(4), b),
                               [("n", [4, 4]), ("n", [3, 4, 2])]),
    "linalg_solve_triangular": (lambda a, b: torch.linalg.solve_triangular(a + 3 * torch.eye(4), b, upper=True),
                                [("n", [4, 4]), ("n", [4, 2])]),
    "linalg_inv": (lambda a: torch.linalg.inv(a + 3 * torch.eye(3)), [("n", [2, 3, 3])]),
    "linalg_matrix_exp": (lambda a: torch.linalg.matrix_exp(a * 1.5), [("n", [2, 4, 4])]),
    "linalg_householder_product": (lambda a, t: torch.linalg.householder_product(a, t),
                                   [("n", [5, 3]), ("u", [2], 0.5, 1.5)]),
    "linalg_det": (lambda a: torch.linalg.det(a + 2 * torch.eye(3)), [("n", [2, 3, 3])]),
    "linalg_slogdet": (lambda a: torch.linalg.slogdet(a + 2 * torch.eye(3)).logabsdet, [("n", [4, 3, 3])]),
    "linalg_lstsq_tall": (lambda a, b: torch.linalg.lstsq(a, b).solution, [("n", [6, 3]), ("n", [6, 2])]),
    "linalg_lstsq_wide": (lambda a, b: torch.linalg.lstsq(a, b).solution, [("n", [3, 5]), ("n", [3, 2])]),
    "linalg_matrix_norm_fro": (lambda a: torch.linalg.matrix_norm(a), [("n", [2, 3, 4])]),
    "linalg_matrix_norm_nuc": (lambda a: torch.linalg.matrix_norm(a, "nuc"), [("n", [2, 3, 4])]),
    "linalg_matrix_norm_2": (lambda a: torch.linalg.matrix_norm(a, 2), [("n", [3, 4])]),
    "linalg_matrix_norm_1": (lambda a: torch.linalg.matrix_norm(a, 1), [("n", [3, 4])]),
    "linalg_matrix_norm_inf": (lambda a: torch.linalg.matrix_norm(a, float("inf")), [("n", [3, 4])]),
}


def main():
    out_dir = sys.argv[1]
    os.makedirs(out_dir, exist_ok=True)
    torch.set_num_threads(1)
    warnings.simplefilter("ignore")
    for name, (fn, specs) in CASES.items():
        # Seeded by name, so adding a case leaves every other case's inputs as they were.
        g = torch.Generator().manual_seed(zlib.crc32(name.encode()))
        ins, grad_flags = [], []
        for s in specs:
            const = s[0] == "c"
            if const:
                s = s[1]
            if s[0] == "p":
                ins.append(torch.softmax(torch.randn(s[1], generator=g), 1))
            else:
                ins.append(make(s, g))
            grad_flags.append(ins[-1].is_floating_point() and not const)
        for t, f in zip(ins, grad_flags):
            if f:
                t.requires_grad_(True)
        out = fn(*ins)
        tensors = {f"in{i}": t for i, t in enumerate(ins)}
        tensors["out"] = out
        if out.is_floating_point():
            gout = torch.randn(out.shape, generator=g)
            tensors["gout"] = gout
            diff = [t for t, f in zip(ins, grad_flags) if f]
            grads = torch.autograd.grad(out, diff, gout, allow_unused=True)
            gi = iter(grads)
            for i, f in enumerate(grad_flags):
                if f:
                    gr = next(gi)
                    tensors[f"grad{i}"] = gr if gr is not None else torch.zeros_like(ins[i])
        save_safetensors(os.path.join(out_dir, name + ".safetensors"), tensors,
                         {"case": name, "grad": ",".join("1" if f else "0" for f in grad_flags)})
    print(f"wrote {len(CASES)} peer fixtures to {out_dir}")


if __name__ == "__main__":
    main()
