#!/usr/bin/python3
"""PyTorch references for nabla's optimizer and scheduler peer tests.

optim/<config>.safetensors: the model's initial parameters (init.*), the data
(x, y), and the parameters after 10 optimizer steps (final.*).
optim/sched_<name>.safetensors: the lr (and momentum) after construction and
after each of 24 steps.

Usage: make_optim_fixtures.py OUT_DIR
"""
import os
import sys

import torch
import torch.nn as nn

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from make_fixtures import save_safetensors  # noqa: E402

OPTIMIZERS = {
    "sgd": lambda p: torch.optim.SGD(p, lr=0.1),
    "sgd_momentum": lambda p: torch.optim.SGD(p, lr=0.1, momentum=0.9, weight_decay=0.01),
    "sgd_nesterov": lambda p: torch.optim.SGD(p, lr=0.05, momentum=0.9, nesterov=True),
    "sgd_dampening": lambda p: torch.optim.SGD(p, lr=0.1, momentum=0.5, dampening=0.3),
    "adam": lambda p: torch.optim.Adam(p, lr=0.01),
    "adam_wd_amsgrad": lambda p: torch.optim.Adam(p, lr=0.01, betas=(0.8, 0.99), weight_decay=0.1, amsgrad=True),
    "adamw": lambda p: torch.optim.AdamW(p, lr=0.01, weight_decay=0.1),
    "rmsprop": lambda p: torch.optim.RMSprop(p, lr=0.01),
    "rmsprop_centered": lambda p: torch.optim.RMSprop(p, lr=0.01, momentum=0.9, centered=True, weight_decay=0.01),
    "adagrad": lambda p: torch.optim.Adagrad(p, lr=0.1, lr_decay=0.01, weight_decay=0.01,
                                             initial_accumulator_value=0.1),
    "groups": None,  # two parameter groups, built below
}

SCHEDULERS = {
    "step": lambda o: torch.optim.lr_scheduler.StepLR(o, 7, 0.5),
    "multistep": lambda o: torch.optim.lr_scheduler.MultiStepLR(o, [3, 8, 15], 0.3),
    "exponential": lambda o: torch.optim.lr_scheduler.ExponentialLR(o, 0.9),
    "cosine": lambda o: torch.optim.lr_scheduler.CosineAnnealingLR(o, 10, 0.001),
    "warm_restarts": lambda o: torch.optim.lr_scheduler.CosineAnnealingWarmRestarts(o, 5, 2, 0.001),
    "linear": lambda o: torch.optim.lr_scheduler.LinearLR(o, 0.25, 1.0, 8),
    "onecycle": lambda o: torch.optim.lr_scheduler.OneCycleLR(o, max_lr=0.5, total_steps=25),
}
PLATEAU_METRICS = [5, 4, 4.5, 4.2, 4.1, 4.3, 4.0, 4.0, 4.0, 3.0, 3.1, 3.2, 3.3, 3.05, 2.9, 3, 3, 3, 3, 3]


def main():
    out = os.path.join(sys.argv[1], "optim")
    os.makedirs(out, exist_ok=True)
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(6, 8), nn.Tanh(), nn.Linear(8, 3))
    init = {k: v.detach().clone() for k, v in model.state_dict().items()}
    x = torch.randn(16, 6)
    y = torch.randint(0, 3, (16,))
    for name, make in OPTIMIZERS.items():
        model.load_state_dict(init)
        if make is None:
            weights = [p for n, p in model.named_parameters() if n.endswith("weight")]
            biases = [p for n, p in model.named_parameters() if n.endswith("bias")]
            opt = torch.optim.SGD([{"params": weights, "weight_decay": 0.01},
                                   {"params": biases, "lr": 0.05, "momentum": 0.9}], lr=0.1)
        else:
            opt = make(model.parameters())
        for _ in range(10):
            opt.zero_grad()
            loss = nn.functional.cross_entropy(model(x), y)
            loss.backward()
            opt.step()
        t = {"x": x, "y": y}
        t.update({"init." + k: v for k, v in init.items()})
        t.update({"final." + k: v for k, v in model.state_dict().items()})
        save_safetensors(os.path.join(out, name + ".safetensors"), t, {"case": name})
    for name, make in SCHEDULERS.items():
        opt = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
        sched = make(opt)
        lrs, moms = [opt.param_groups[0]["lr"]], [opt.param_groups[0]["momentum"]]
        for _ in range(24):
            opt.step()
            sched.step()
            lrs.append(opt.param_groups[0]["lr"])
            moms.append(opt.param_groups[0]["momentum"])
        save_safetensors(os.path.join(out, "sched_" + name + ".safetensors"),
                         {"lr": torch.tensor(lrs, dtype=torch.float64),
                          "momentum": torch.tensor(moms, dtype=torch.float64)}, {"case": name})
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    sched = torch.optim.lr_scheduler.ReduceLROnPlateau(opt, factor=0.5, patience=2, cooldown=1)
    lrs = []
    for m in PLATEAU_METRICS:
        sched.step(m)
        lrs.append(opt.param_groups[0]["lr"])
    save_safetensors(os.path.join(out, "sched_plateau.safetensors"),
                     {"lr": torch.tensor(lrs, dtype=torch.float64),
                      "metric": torch.tensor(PLATEAU_METRICS, dtype=torch.float64)}, {"case": "plateau"})
    print(f"wrote {len(OPTIMIZERS)} optimizer and {len(SCHEDULERS) + 1} scheduler fixtures to {out}")


if __name__ == "__main__":
    main()
