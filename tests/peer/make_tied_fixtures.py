#!/usr/bin/python3
"""Tied weights between PyTorch and nabla: a language model whose embedding and
read-out share one weight (head.weight = emb.weight).

make_tied_fixtures.py OUT_DIR writes PyTorch's state_dict (both names, the data
twice, as torch saves it) and its logits; nabla loads it strictly
(peer_tied_test.cpp), checks the tie and the logits, trains a step and exports
its own state_dict, which make_tied_fixtures.py --check OUT_DIR loads into
PyTorch strictly and compares.
"""
import os
import sys

import torch
import torch.nn as nn

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from make_fixtures import save_safetensors  # noqa: E402
from make_model_fixtures import load_safetensors  # noqa: E402

VOCAB, DIM = 11, 5


class TiedLM(nn.Module):
    def __init__(self):
        super().__init__()
        self.emb = nn.Embedding(VOCAB, DIM)
        self.head = nn.Linear(DIM, VOCAB, bias=False)
        self.head.weight = self.emb.weight

    def forward(self, tokens):
        return self.head(self.emb(tokens))


def main():
    if sys.argv[1] == "--check":
        d = os.path.join(sys.argv[2], "tied")
        sd = load_safetensors(os.path.join(d, "export.safetensors"))
        io = load_safetensors(os.path.join(d, "export_io.safetensors"))
        m = TiedLM()
        m.load_state_dict(sd, strict=True)
        assert m.head.weight is m.emb.weight, "the tie was lost"
        with torch.no_grad():
            err = (m(io["tokens"]) - io["logits"]).abs().max().item()
        print(f"tied: nabla state_dict in PyTorch, max |logit difference| = {err:.2e}")
        if err > 1e-5:
            sys.exit(f"tied: logits differ by {err}")
        return
    d = os.path.join(sys.argv[1], "tied")
    os.makedirs(d, exist_ok=True)
    torch.manual_seed(5)
    m = TiedLM()
    tokens = torch.randint(0, VOCAB, (3, 4))
    sd = m.state_dict()
    assert set(sd) == {"emb.weight", "head.weight"}
    save_safetensors(os.path.join(d, "torch.safetensors"), sd, {"model": "tied"})
    with torch.no_grad():
        save_safetensors(os.path.join(d, "torch_io.safetensors"), {"tokens": tokens, "logits": m(tokens)}, {})


if __name__ == "__main__":
    main()
