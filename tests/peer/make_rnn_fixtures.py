#!/usr/bin/python3
"""PyTorch references for nabla's RNN, LSTM, GRU and their cells.

rnn/<case>.safetensors holds the module's state_dict (PyTorch's names), the
input x, initial states h0 (c0), the loss weights wo/wh/wc, and PyTorch's
output, h_n, c_n and the gradients of loss = sum(output * wo) + sum(h_n * wh)
(+ sum(c_n * wc)) with respect to x, h0, c0 and every parameter (grad.NAME).
Metadata: the module's options and the sequence lengths ("" for full length).

Usage: make_rnn_fixtures.py OUT_DIR
"""
import json
import os
import sys

import torch
import torch.nn as nn
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from make_fixtures import save_safetensors  # noqa: E402

# name: (kind, options, T, B, lengths or None)
CASES = {
    "rnn_tanh_1": ("RNN", dict(input_size=3, hidden_size=4), 5, 2, None),
    "rnn_relu_2_bi": ("RNN", dict(input_size=3, hidden_size=4, num_layers=2, nonlinearity="relu",
                                  bidirectional=True), 4, 3, None),
    "lstm_1": ("LSTM", dict(input_size=3, hidden_size=5), 6, 2, None),
    "lstm_2_bi_bf": ("LSTM", dict(input_size=4, hidden_size=3, num_layers=2, bidirectional=True,
                                  batch_first=True), 5, 3, None),
    "lstm_2_lengths": ("LSTM", dict(input_size=3, hidden_size=4, num_layers=2), 6, 4, [6, 2, 4, 1]),
    "lstm_bi_lengths_bf": ("LSTM", dict(input_size=3, hidden_size=4, bidirectional=True, batch_first=True),
                           5, 3, [3, 5, 2]),
    "lstm_nobias": ("LSTM", dict(input_size=2, hidden_size=3, bias=False), 4, 2, None),
    "gru_1": ("GRU", dict(input_size=3, hidden_size=5), 6, 2, None),
    "gru_2_bi": ("GRU", dict(input_size=4, hidden_size=3, num_layers=2, bidirectional=True), 5, 3, None),
    "gru_2_bi_lengths_bf": ("GRU", dict(input_size=3, hidden_size=4, num_layers=2, bidirectional=True,
                                        batch_first=True), 6, 3, [2, 6, 4]),
    "lstm_cell": ("LSTMCell", dict(input_size=3, hidden_size=4), 1, 3, None),
    "gru_cell": ("GRUCell", dict(input_size=3, hidden_size=4), 1, 3, None),
    "rnn_cell": ("RNNCell", dict(input_size=3, hidden_size=4, nonlinearity="tanh"), 1, 3, None),
}


def run(kind, opts, T, B, lengths):
    m = getattr(nn, kind)(**opts).double()
    H = opts["hidden_size"]
    cell = kind.endswith("Cell")
    lstm = kind.startswith("LSTM")
    if cell:
        x = torch.randn(B, opts["input_size"], dtype=torch.float64, requires_grad=True)
        h0 = torch.randn(B, H, dtype=torch.float64, requires_grad=True)
        c0 = torch.randn(B, H, dtype=torch.float64, requires_grad=True) if lstm else None
        res = m(x, (h0, c0)) if lstm else m(x, h0)
        out, hn, cn = (res[0], res[0], res[1]) if lstm else (res, res, None)
    else:
        D = 2 if opts.get("bidirectional") else 1
        L = opts.get("num_layers", 1)
        bf = opts.get("batch_first", False)
        x = torch.randn(*((B, T) if bf else (T, B)), opts["input_size"], dtype=torch.float64, requires_grad=True)
        h0 = torch.randn(L * D, B, H, dtype=torch.float64, requires_grad=True)
        c0 = torch.randn(L * D, B, H, dtype=torch.float64, requires_grad=True) if lstm else None
        state = (h0, c0) if lstm else h0
        if lengths is None:
            out, st = m(x, state)
        else:
            packed = pack_padded_sequence(x, torch.tensor(lengths), batch_first=bf, enforce_sorted=False)
            out, st = m(packed, state)
            out, _ = pad_packed_sequence(out, batch_first=bf, total_length=T)
        hn, cn = st if lstm else (st, None)
    wo, wh = torch.randn_like(out), torch.randn_like(hn)
    loss = (out * wo).sum() + (hn * wh).sum()
    wc = None
    if cn is not None:
        wc = torch.randn_like(cn)
        loss = loss + (cn * wc).sum()
    loss.backward()
    t = {k: v.detach() for k, v in m.state_dict().items()}
    t.update(x=x.detach(), h0=h0.detach(), wo=wo, wh=wh, output=out.detach(), h_n=hn.detach(),
             **{"grad.x": x.grad, "grad.h0": h0.grad})
    if c0 is not None:
        t.update(c0=c0.detach(), wc=wc, c_n=cn.detach(), **{"grad.c0": c0.grad})
    for k, p in m.named_parameters():
        t["grad." + k] = p.grad
    return t


def main():
    out_dir = os.path.join(sys.argv[1], "rnn")
    os.makedirs(out_dir, exist_ok=True)
    torch.manual_seed(0)
    for name, (kind, opts, T, B, lengths) in CASES.items():
        t = run(kind, opts, T, B, lengths)
        meta = {"kind": kind, "options": json.dumps(opts), "lengths": json.dumps(lengths or [])}
        save_safetensors(os.path.join(out_dir, name + ".safetensors"), t, meta)
    print(f"wrote {len(CASES)} recurrent fixtures to {out_dir}")


if __name__ == "__main__":
    main()
