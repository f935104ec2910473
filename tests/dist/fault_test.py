#!/usr/bin/env python3
"""A rank that fails ends the whole job, non-zero, within 30 s, instead of leaving its peers waiting in a collective.

Usage: fault_test.py MPIRUN NABLA

1. SIGKILL one rank of `mpirun -np 2 nabla train` in the middle of training.
2. One rank of two gets a data file that does not exist (an error before its first collective).
3. One rank of two gets a corrupt checkpoint to resume from (an error after the others started training).
"""
import os
import signal
import subprocess
import sys
import tempfile
import time

MPIRUN, NABLA = sys.argv[1], sys.argv[2]
LIMIT = 30.0
BASE = [MPIRUN, "--oversubscribe"]
TRAIN = ["train", "--model", "lenet", "--epochs", "50", "--limit-train", "4000", "--limit-test", "500",
         "--no-progress"]
failures = []


def check(name, cond, detail=""):
    print(("ok   " if cond else "FAIL ") + name + (": " + detail if detail else ""), flush=True)
    if not cond:
        failures.append(name)


def rank_pids(parent):
    """The nabla processes mpirun started, by their rank (from their environment)."""
    out = {}
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        try:
            with open(f"/proc/{pid}/environ", "rb") as f:
                env = dict(kv.split(b"=", 1) for kv in f.read().split(b"\0") if b"=" in kv)
            with open(f"/proc/{pid}/cmdline", "rb") as f:
                cmd = f.read()
        except OSError:
            continue
        if NABLA.encode() in cmd and b"OMPI_COMM_WORLD_RANK" in env and int(pid) != parent:
            out[int(env[b"OMPI_COMM_WORLD_RANK"])] = int(pid)
    return out


def wait_for(proc, seconds):
    try:
        proc.wait(timeout=seconds)
        return True
    except subprocess.TimeoutExpired:
        return False


def finish(proc, t0):
    ended = wait_for(proc, LIMIT)
    took = time.time() - t0
    if not ended:
        proc.kill()
        # mpirun gone: make sure no rank outlives the test
        for pid in rank_pids(proc.pid).values():
            try:
                os.kill(pid, signal.SIGKILL)
            except OSError:
                pass
        proc.wait()
    err = proc.stderr.read().decode(errors="replace")
    return ended, took, proc.returncode, err


with tempfile.TemporaryDirectory() as tmp:
    # 1. A killed rank.
    log = open(os.path.join(tmp, "kill.log"), "w+b")
    p = subprocess.Popen(BASE + ["-np", "2", NABLA] + TRAIN, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    started = False
    deadline = time.time() + 60
    while time.time() < deadline and p.poll() is None:
        pids = rank_pids(p.pid)
        if len(pids) == 2:
            started = True
            break
        time.sleep(0.2)
    check("two ranks started", started)
    time.sleep(3.0)  # well into training (the data loads in ~1 s)
    pids = rank_pids(p.pid)
    if 1 in pids:
        os.kill(pids[1], signal.SIGKILL)
    t0 = time.time()
    ended, took, rc, err = finish(p, t0)
    check("killing rank 1 ends the job", ended, f"{took:.1f} s")
    check("killing rank 1 gives a non-zero exit", rc != 0, f"exit {rc}")
    check("rank 0 is gone too", 0 not in rank_pids(p.pid))

    # 2. A bad file on one rank: Open MPI's MPMD form gives each rank its own arguments.
    bad = os.path.join(tmp, "missing.csv")
    t0 = time.time()
    p = subprocess.Popen(BASE + ["-np", "1", NABLA] + TRAIN + [":", "-np", "1", NABLA] + TRAIN[:-1] +
                         ["--data", "csv:" + bad, "--no-progress"],
                         stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    ended, took, rc, err = finish(p, t0)
    check("a missing file on rank 1 ends the job", ended, f"{took:.1f} s")
    check("a missing file on rank 1 gives a non-zero exit", rc != 0, f"exit {rc}")
    check("the error names the rank and the file", "rank 1 of 2" in err and "missing.csv" in err,
          err.strip().splitlines()[0] if err.strip() else "(no output)")

    # 3. A corrupt checkpoint on one rank, while rank 0 trains from scratch and reaches its first collective.
    ck = os.path.join(tmp, "corrupt.ckpt")
    with open(ck, "wb") as f:
        f.write(b"\x00not a checkpoint" * 10)
    t0 = time.time()
    p = subprocess.Popen(BASE + ["-np", "1", NABLA] + TRAIN + [":", "-np", "1", NABLA] + TRAIN + ["--resume", ck],
                         stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    ended, took, rc, err = finish(p, t0)
    check("a corrupt checkpoint on rank 1 ends the job", ended, f"{took:.1f} s")
    check("a corrupt checkpoint on rank 1 gives a non-zero exit", rc != 0, f"exit {rc}")
    check("the error names the rank", "rank 1 of 2" in err, err.strip().splitlines()[0] if err.strip() else "")

sys.exit(1 if failures else 0)
