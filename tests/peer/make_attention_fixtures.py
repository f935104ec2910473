#!/usr/bin/python3
"""PyTorch 1.13's attention layers for nabla's peer tests (peer_attention_test.cpp), float64.

Each case writes OUT_DIR/<case>.safetensors: the module's state_dict as `sd.<key>`, the
inputs `in.<i>` (masks too), the outputs `out.<i>`, a random output gradient `gout.<i>`,
and the gradients of sum_i <out_i, gout_i> in the inputs (`gin.<i>`) and the parameters
(`gp.<key>`). Modules run in training mode with dropout 0: PyTorch's eval-mode fast path
differs (see the issue), and no case has a query that sees no key (1.13 gives NaN there,
nabla 0).

Usage: make_attention_fixtures.py OUT_DIR
"""
import os
import sys
import zlib

import torch
import torch.nn as nn
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from make_fixtures import save_safetensors  # noqa: E402

torch.set_default_dtype(torch.float64)


def causal(n):
    return torch.ones(n, n, dtype=torch.bool).triu(1)  # true = not allowed


def padding(g, n, s):
    m = torch.rand(n, s, generator=g) < 0.3
    m[:, 0] = False  # every query keeps a key
    return m


def mha_self(g):
    m = nn.MultiheadAttention(8, 2)
    x = torch.randn(5, 3, 8, generator=g)
    return m, [x, x, x], lambda m, i: m(i[0], i[1], i[2], need_weights=True)


def mha_cross_kdim(g):
    m = nn.MultiheadAttention(8, 4, kdim=6, vdim=4, batch_first=True)
    q, k, v = torch.randn(3, 5, 8, generator=g), torch.randn(3, 7, 6, generator=g), torch.randn(3, 7, 4, generator=g)
    kpm, am = padding(g, 3, 7), torch.randn(5, 7, generator=g)
    return m, [q, k, v, kpm, am], lambda m, i: m(i[0], i[1], i[2], key_padding_mask=i[3], attn_mask=i[4],
                                                 average_attn_weights=False)


def mha_causal_no_bias(g):
    m = nn.MultiheadAttention(6, 3, bias=False)
    x = torch.randn(6, 2, 6, generator=g)
    return m, [x, causal(6)], lambda m, i: (m(i[0], i[0], i[0], attn_mask=i[1], need_weights=False)[0],)


def mha_bias_kv_zero_attn(g):
    m = nn.MultiheadAttention(4, 2, add_bias_kv=True, add_zero_attn=True)
    q, kv = torch.randn(3, 2, 4, generator=g), torch.randn(5, 2, 4, generator=g)
    return m, [q, kv, padding(g, 2, 5)], lambda m, i: m(i[0], i[1], i[1], key_padding_mask=i[2])


def mha_unbatched_heads_mask(g):
    m = nn.MultiheadAttention(8, 2)
    x = torch.randn(4, 8, generator=g)
    am = torch.randn(2, 4, 4, generator=g)
    return m, [x, am], lambda m, i: m(i[0], i[0], i[0], attn_mask=i[1])


def enc_post_norm(g):
    m = nn.TransformerEncoderLayer(8, 2, dim_feedforward=16, dropout=0.0)
    x = torch.randn(5, 3, 8, generator=g)
    return m, [x, causal(5), padding(g, 3, 5)], lambda m, i: (m(i[0], src_mask=i[1], src_key_padding_mask=i[2]),)


def enc_pre_norm_gelu(g):
    m = nn.TransformerEncoderLayer(8, 4, 12, 0.0, activation="gelu", batch_first=True, norm_first=True)
    x = torch.randn(2, 6, 8, generator=g)
    return m, [x, torch.randn(6, 6, generator=g)], lambda m, i: (m(i[0], src_mask=i[1]),)


def dec_post_norm(g):
    m = nn.TransformerDecoderLayer(8, 2, 16, 0.0)
    tgt, mem = torch.randn(4, 2, 8, generator=g), torch.randn(6, 2, 8, generator=g)
    return m, [tgt, mem, causal(4), padding(g, 2, 6)], lambda m, i: (
        m(i[0], i[1], tgt_mask=i[2], memory_key_padding_mask=i[3]),)


def dec_pre_norm_gelu(g):
    m = nn.TransformerDecoderLayer(8, 2, 16, 0.0, activation="gelu", batch_first=True, norm_first=True)
    tgt, mem = torch.randn(2, 4, 8, generator=g), torch.randn(2, 5, 8, generator=g)
    return m, [tgt, mem, torch.randn(4, 5, generator=g)], lambda m, i: (m(i[0], i[1], memory_mask=i[2]),)


def encoder_stack(g):
    m = nn.TransformerEncoder(nn.TransformerEncoderLayer(8, 2, 16, 0.0), 2, norm=nn.LayerNorm(8))
    x = torch.randn(5, 2, 8, generator=g)
    return m, [x, padding(g, 2, 5)], lambda m, i: (m(i[0], src_key_padding_mask=i[1]),)


def transformer(g):
    m = nn.Transformer(d_model=8, nhead=2, num_encoder_layers=2, num_decoder_layers=2, dim_feedforward=16,
                       dropout=0.0)
    src, tgt = torch.randn(5, 2, 8, generator=g), torch.randn(4, 2, 8, generator=g)
    return m, [src, tgt, causal(4)], lambda m, i: (m(i[0], i[1], tgt_mask=i[2]),)


class GPTBlock(nn.Module):
    """../shared/peer/torch_workloads.py's pre-norm block, with rotary positions and SwiGLU as options
    (their formulas: RoFormer's rotate-half layout as GPT-NeoX and LLaMA, LLaMA's w1/w2/w3)."""

    def __init__(self, d, heads, mlp, swiglu, rotary):
        super().__init__()
        self.heads, self.rotary = heads, rotary
        self.ln1, self.ln2 = nn.LayerNorm(d), nn.LayerNorm(d)
        self.qkv, self.proj = nn.Linear(d, 3 * d), nn.Linear(d, d)
        if swiglu:
            self.mlp = nn.Module()
            self.mlp.w1, self.mlp.w2, self.mlp.w3 = nn.Linear(d, mlp, False), nn.Linear(mlp, d, False), nn.Linear(d, mlp, False)
        else:
            self.mlp = nn.Sequential(nn.Linear(d, mlp), nn.GELU(), nn.Linear(mlp, d))
        self.swiglu = swiglu

    @staticmethod
    def rope(x):
        T, D = x.shape[-2], x.shape[-1]
        half = D // 2
        ang = torch.arange(T, dtype=x.dtype)[:, None] * 10000.0 ** (-2 * torch.arange(half, dtype=x.dtype) / D)
        c, s = ang.cos(), ang.sin()
        x1, x2 = x[..., :half], x[..., half:]
        return torch.cat([x1 * c - x2 * s, x2 * c + x1 * s], -1)

    def forward(self, x):
        B, T, D = x.shape
        q, k, v = self.qkv(self.ln1(x)).view(B, T, 3, self.heads, D // self.heads).permute(2, 0, 3, 1, 4)
        if self.rotary:
            q, k = self.rope(q), self.rope(k)
        att = (q @ k.transpose(-2, -1)) * (D // self.heads) ** -0.5
        att = att.masked_fill(causal(T), float("-inf")).softmax(-1)
        x = x + self.proj((att @ v).transpose(1, 2).reshape(B, T, D))
        h = self.ln2(x)
        f = self.mlp.w2(F.silu(self.mlp.w1(h)) * self.mlp.w3(h)) if self.swiglu else self.mlp(h)
        return x + f


class GPT(nn.Module):
    def __init__(self, vocab, d, heads, layers, ctx, mlp, swiglu=False, rotary=False):
        super().__init__()
        self.tok = nn.Embedding(vocab, d)
        self.pos = None if rotary else nn.Embedding(ctx, d)
        self.blocks = nn.ModuleList(GPTBlock(d, heads, mlp, swiglu, rotary) for _ in range(layers))
        self.ln, self.head = nn.LayerNorm(d), nn.Linear(d, vocab)

    def forward(self, idx):
        x = self.tok(idx)
        if self.pos is not None:
            x = x + self.pos(torch.arange(idx.shape[1]))
        for b in self.blocks:
            x = b(x)
        return (self.head(self.ln(x)),)


def gpt_learned_gelu(g):
    m = GPT(11, 8, 2, 2, 7, 16)
    return m, [torch.randint(0, 11, (3, 7), generator=g)], lambda m, i: m(i[0])


def gpt_rotary_swiglu(g):
    m = GPT(13, 12, 3, 2, 9, 20, swiglu=True, rotary=True)
    return m, [torch.randint(0, 13, (2, 6), generator=g)], lambda m, i: m(i[0])


def vit_torchvision(g):
    from torchvision.models import VisionTransformer  # torchvision 0.14, beside torch 1.13
    m = VisionTransformer(image_size=8, patch_size=4, num_layers=2, num_heads=2, hidden_dim=8, mlp_dim=16,
                          num_classes=5)
    return m, [torch.randn(2, 3, 8, 8, generator=g)], lambda m, i: (m(i[0]),)


class VariantAttention(nn.Module):
    """nabla's MultiheadAttention with an attention variant (batch_first), from the papers' formulas:
    what PyTorch 1.13 lacks. Parameters under nabla's names (PyTorch's, then retention's gate_proj, group_norm)."""

    def __init__(self, e, h, kind, size=0):
        super().__init__()
        self.e, self.h, self.kind, self.size = e, h, kind, size
        self.in_proj_weight = nn.Parameter(torch.empty(3 * e, e))
        self.in_proj_bias = nn.Parameter(torch.empty(3 * e))
        self.out_proj = nn.Linear(e, e)
        if kind == "retention":
            self.gate_proj = nn.Linear(e, e, bias=False)
            self.group_norm = nn.GroupNorm(h, e)

    def visible(self, n, causal):  # [n, n] bool, true = attend
        i, j = torch.arange(n).unsqueeze(1), torch.arange(n).unsqueeze(0)
        see = torch.ones(n, n, dtype=torch.bool)
        if causal:
            see &= j <= i
        if self.kind == "window":
            w = self.size
            see &= (j >= i - (w - 1)) if causal else ((j >= i - (w - 1) // 2) & (j <= i + w // 2))
        if self.kind == "neighborhood":  # Hassani et al.: the window shifted inward at the borders
            side, r = int(round((n - 1) ** 0.5)), self.size // 2
            see = torch.zeros(n, n, dtype=torch.bool)
            see[0, :] = see[:, 0] = True
            for y in range(side):
                for x in range(side):
                    y0, x0 = min(max(y - r, 0), side - self.size), min(max(x - r, 0), side - self.size)
                    for yy in range(y0, y0 + self.size):
                        for xx in range(x0, x0 + self.size):
                            see[1 + y * side + x, 1 + yy * side + xx] = True
        return see

    def forward(self, x, key_padding_mask=None, causal=False):
        n, L, e = x.shape
        d = e // self.h
        q, k, v = (t.reshape(n, L, self.h, d).transpose(1, 2)
                   for t in F.linear(x, self.in_proj_weight, self.in_proj_bias).chunk(3, -1))
        see = self.visible(L, causal).expand(n, self.h, L, L)
        if key_padding_mask is not None:
            see = see & ~key_padding_mask[:, None, None, :]
        if self.kind == "linear":
            fq, fk = F.elu(q) + 1, F.elu(k) + 1
            a = (fq @ fk.transpose(-2, -1)) * see
            ctx = (a @ v) / (a.sum(-1, keepdim=True) + 1e-6)
        elif self.kind == "relu":
            s = (q @ k.transpose(-2, -1)) / d ** 0.5
            ctx = (torch.relu(s) * see / see.sum(-1, keepdim=True).clamp(min=1)) @ v
        elif self.kind == "retention":
            i, j = torch.arange(L).unsqueeze(1), torch.arange(L).unsqueeze(0)
            gamma = 1 - 2.0 ** (-5 - torch.arange(self.h, dtype=torch.float64))
            decay = gamma[:, None, None] ** (i - j).clamp(min=0) * (j <= i)
            ctx = ((q @ k.transpose(-2, -1)) / d ** 0.5 * decay) @ v
        else:  # window, neighborhood: softmax over the visible keys
            s = ((q @ k.transpose(-2, -1)) / d ** 0.5).masked_fill(~see, float("-inf"))
            ctx = torch.softmax(s, -1) @ v
        y = ctx.transpose(1, 2).reshape(n, L, e)
        if self.kind == "retention":
            y = F.silu(self.gate_proj(x)) * self.group_norm(y.reshape(n * L, e)).reshape(n, L, e)
        return (self.out_proj(y),)


def variant_case(kind, size=0, causal=False, padded=False, tokens=6):
    def make(g):
        m = VariantAttention(8, 2, kind, size)
        x = torch.randn(3, tokens, 8, generator=g)
        ins = [x, padding(g, 3, tokens)] if padded else [x]
        return m, ins, lambda m, i: m(i[0], i[1] if padded else None, causal)
    return make


mha_linear_causal = variant_case("linear", causal=True)
mha_linear_padded = variant_case("linear", padded=True)
mha_relu_causal = variant_case("relu", causal=True)
mha_relu_padded = variant_case("relu", padded=True)
mha_retention = variant_case("retention", causal=True, tokens=9)
mha_window_causal = variant_case("window", 3, causal=True)
mha_window_centred = variant_case("window", 4, padded=True)
mha_neighborhood = variant_case("neighborhood", 3, tokens=17)
for _name in ["mha_linear_causal", "mha_linear_padded", "mha_relu_causal", "mha_relu_padded", "mha_retention",
              "mha_window_causal", "mha_window_centred", "mha_neighborhood"]:
    globals()[_name].__name__ = _name


CASES = {f.__name__: f for f in [mha_self, mha_cross_kdim, mha_causal_no_bias, mha_bias_kv_zero_attn,
                                  mha_unbatched_heads_mask, enc_post_norm, enc_pre_norm_gelu, dec_post_norm,
                                  dec_pre_norm_gelu, encoder_stack, transformer, gpt_learned_gelu,
                                  gpt_rotary_swiglu, vit_torchvision, mha_linear_causal, mha_linear_padded,
                                  mha_relu_causal, mha_relu_padded, mha_retention, mha_window_causal,
                                  mha_window_centred, mha_neighborhood]}


def main(out_dir):
    os.makedirs(out_dir, exist_ok=True)
    for name, make in CASES.items():
        g = torch.Generator().manual_seed(zlib.crc32(name.encode()))
        torch.manual_seed(zlib.crc32(name.encode()))
        module, inputs, run = make(g)
        module.train()
        for p in module.parameters():  # biases away from PyTorch's zero init, so they matter
            with torch.no_grad():
                p.copy_(torch.randn(p.shape, generator=g) * 0.5)
        ins = [t.clone().requires_grad_() if t.is_floating_point() else t for t in inputs]
        outs = [o for o in run(module, ins) if o is not None]
        gouts = [torch.randn(o.shape, generator=g) for o in outs]
        loss = sum((o * go).sum() for o, go in zip(outs, gouts))
        loss.backward()
        t = {f"sd.{k}": v.detach() for k, v in module.state_dict().items()}
        for i, x in enumerate(ins):
            t[f"in.{i}"] = x.detach()
            if x.is_floating_point():
                t[f"gin.{i}"] = x.grad
        for i, (o, go) in enumerate(zip(outs, gouts)):
            t[f"out.{i}"], t[f"gout.{i}"] = o.detach(), go
        for k, p in module.named_parameters():
            t[f"gp.{k}"] = p.grad
        save_safetensors(os.path.join(out_dir, name + ".safetensors"), t, {"case": name})


if __name__ == "__main__":
    main(sys.argv[1])
