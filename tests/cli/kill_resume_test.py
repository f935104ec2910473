#!/usr/bin/python3
"""Kills `nabla train` with SIGKILL at random moments, many of them in the
middle of a checkpoint write, and checks every time that the last complete
checkpoint loads and that --resume finishes the run with weights bit-identical
to an uninterrupted run (same seed, same thread count).

Usage: kill_resume_test.py PATH/TO/nabla [--trials 20] [--seed 1]
"""
import argparse
import os
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "support"))
from safetensors_bytes import read_tensors  # noqa: E402

EPOCHS = 5
# Wide enough that a checkpoint (weights + Adam's two moments, ~14 MB) takes a
# while to write, small enough that an epoch takes a fraction of a second.
TRAIN = ["train", "--model", "mlp", "--hidden", "1024,512", "--epochs", str(EPOCHS), "--limit-train", "1500",
         "--limit-test", "100", "--batch-size", "100", "--threads", "1", "--seed", "7", "--sched", "cosine",
         "--no-progress"]


def model_tensors(path):
    """The model.* tensors of a checkpoint, as raw bytes."""
    out = {k: raw for k, (_, _, raw) in read_tensors(path).items() if k.startswith("model.")}
    if not out:
        raise RuntimeError(f"{path}: no model tensors")
    return out


def run(nabla, args, **kw):
    return subprocess.run([nabla] + args, capture_output=True, text=True, **kw)


def main():
    p = argparse.ArgumentParser()
    p.add_argument("nabla")
    p.add_argument("--trials", type=int, default=20)
    p.add_argument("--seed", type=int, default=1)
    a = p.parse_args()
    rng = random.Random(a.seed)
    work = tempfile.mkdtemp(prefix="nabla-kill-")
    failures = []
    try:
        ref_dir = os.path.join(work, "ref")
        t0 = time.monotonic()
        r = run(a.nabla, TRAIN + ["--out", ref_dir])
        full = time.monotonic() - t0
        if r.returncode != 0:
            sys.exit(f"reference run failed: {r.stderr}")
        want = model_tensors(os.path.join(ref_dir, "last.ckpt"))
        hit_write = 0
        for trial in range(a.trials):
            d = os.path.join(work, f"t{trial}")
            os.makedirs(d)
            proc = subprocess.Popen([a.nabla] + TRAIN + ["--out", d], stdout=subprocess.DEVNULL,
                                    stderr=subprocess.DEVNULL)
            metrics = os.path.join(d, "metrics.jsonl")
            if trial % 2 == 0:
                # Right after an epoch's metrics line: the checkpoint write is starting.
                epoch = rng.randrange(1, EPOCHS)
                while proc.poll() is None:
                    if os.path.exists(metrics) and open(metrics).read().count("\n") >= epoch:
                        break
                    time.sleep(0.001)
                time.sleep(rng.uniform(0.0, 0.03))
            else:
                time.sleep(rng.uniform(0.0, full))
            proc.send_signal(signal.SIGKILL)
            proc.wait()
            if any(".tmp-" in f for f in os.listdir(d)):
                hit_write += 1  # a write was cut short: its temporary file is left, the checkpoint untouched
            last = os.path.join(d, "last.ckpt")
            resume = []
            if os.path.exists(last):
                ev = run(a.nabla, ["eval", last, "--limit-test", "20"])
                if ev.returncode != 0:
                    failures.append(f"trial {trial}: last.ckpt does not load: {ev.stderr.strip()}")
                    continue
                resume = ["--resume", last]
            r = run(a.nabla, TRAIN + ["--out", d] + resume)
            if r.returncode != 0:
                failures.append(f"trial {trial}: resume failed: {r.stderr.strip()[-300:]}")
                continue
            left = [f for f in os.listdir(d) if ".tmp-" in f]
            if left:
                failures.append(f"trial {trial}: temporary files left after the resumed run: {', '.join(left)}")
            got = model_tensors(last)
            if got != want:
                bad = sorted(k for k in want if got.get(k) != want[k])
                failures.append(f"trial {trial}: weights differ from the uninterrupted run ({', '.join(bad[:3])})")
        print(f"{a.trials} kills ({hit_write} during a checkpoint write), reference run {full:.1f} s")
    finally:
        shutil.rmtree(work, ignore_errors=True)
    for f in failures:
        print("FAILED:", f)
    sys.exit(1 if failures else 0)


if __name__ == "__main__":
    main()
