#!/usr/bin/env python3
"""`mpirun -np 2 nabla train` with no other flag: one progress display and one result line (rank 0's), one
metrics.jsonl and checkpoints written by rank 0, --resume continuing distributed, `nabla info` naming the ranks.

Usage: cli_test.py MPIRUN NABLA
"""
import json
import os
import subprocess
import sys
import tempfile

MPIRUN, NABLA = sys.argv[1], sys.argv[2]
failures = []


def check(name, cond, detail=""):
    print(("ok   " if cond else "FAIL ") + name + (": " + detail if detail else ""), flush=True)
    if not cond:
        failures.append(name)


def run(args, timeout=240):
    p = subprocess.run([MPIRUN, "--oversubscribe", "-np", "2", NABLA] + args, capture_output=True, text=True,
                       timeout=timeout)
    return p.returncode, p.stdout, p.stderr


with tempfile.TemporaryDirectory() as tmp:
    out = os.path.join(tmp, "run")
    train = ["train", "--model", "mlp", "--limit-train", "4000", "--limit-test", "1000", "--batch-size", "64"]
    rc, so, se = run(train + ["--epochs", "2", "--out", out])
    check("distributed training exits 0", rc == 0, se[-400:] if rc else "")
    check("one result line", so.count("test accuracy:") == 1, so.strip())
    check("one start line, naming the ranks", se.count("nabla train: mlp") == 1 and "over 2 MPI ranks" in se,
          se.strip().splitlines()[0] if se.strip() else "")
    acc = float(so.split("test accuracy:")[1].split()[0]) if "test accuracy:" in so else 0
    check("it learns", acc > 0.7, f"{acc:.4f}")
    lines = open(os.path.join(out, "metrics.jsonl")).read().splitlines() if os.path.exists(
        os.path.join(out, "metrics.jsonl")) else []
    check("metrics.jsonl has one line per epoch", len(lines) == 2, f"{len(lines)} lines")
    if lines:
        m = json.loads(lines[-1])
        check("metrics carry the all-reduce timings", "step_comm_exposed_s" in m and m["step_backward_s"] > 0)
    check("checkpoints written", os.path.exists(os.path.join(out, "last.ckpt")) and
          os.path.exists(os.path.join(out, "best.ckpt")))
    check("no stray temp files", not [f for f in os.listdir(out) if ".tmp" in f], str(os.listdir(out)))

    rc, so, se = run(train + ["--epochs", "3", "--out", out, "--resume", os.path.join(out, "last.ckpt")])
    check("--resume continues distributed", rc == 0 and "after epoch 2" in se, se[-300:])
    check("one progress display (rank 0's)", se.count("batch 32/32") == 1, str(se.count("batch 32/32")))
    lines = open(os.path.join(out, "metrics.jsonl")).read().splitlines()
    check("the resumed run adds its epoch", len(lines) == 3 and json.loads(lines[-1])["epoch"] == 3, f"{len(lines)}")
    rc, so, se = subprocess.run([NABLA, "eval", os.path.join(out, "last.ckpt"), "--limit-test", "1000"],
                                capture_output=True, text=True).returncode, "", ""
    check("one process evaluates the distributed checkpoint", rc == 0)

    rc, so, se = run(["info"])
    check("nabla info under mpirun names the ranks", rc == 0 and so.count("MPI: compiled in; rank") == 2, so)
    p = subprocess.run([NABLA, "info"], capture_output=True, text=True)
    check("nabla info alone says MPI is compiled in", "MPI: compiled in" in p.stdout, p.stdout)

    rc, so, se = run(train + ["--epochs", "1", "--bucket-mb", "0"])
    check("a bad --bucket-mb is refused", rc != 0 and "bucket-mb" in se, se.strip()[-200:])

sys.exit(1 if failures else 0)
