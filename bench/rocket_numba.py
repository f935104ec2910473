"""ROCKET's and MiniRocket's transforms in Numba beside nabla's, on the same machine in the same run.

The Numba side follows the structure of the reference implementation (Dempster et
al.): kernels drawn as the paper defines them, then one compiled loop per series
(numba.prange over series, as the reference parallelizes), per kernel, per output
position, per tap. JIT compilation is done (and excluded) before timing. The nabla
side is build/release/bench/nabla_rocket with the same series count, length and
kernel count. Prints one JSON line per (implementation, threads) and the ratios.

Usage: /usr/bin/python3 bench/rocket_numba.py [--series N] [--length L] [--kernels K] [--nabla PATH]
"""
import argparse
import json
import os
import subprocess
import time

import numba
import numpy as np
from numba import njit, prange


def draw_kernels(length, count, rng):
    lengths = rng.choice(np.array([7, 9, 11], dtype=np.int32), count)
    weights = np.zeros(lengths.sum(), dtype=np.float64)
    biases = rng.uniform(-1, 1, count)
    dilations = np.zeros(count, dtype=np.int32)
    paddings = np.zeros(count, dtype=np.int32)
    at = 0
    for k, n in enumerate(lengths):
        w = rng.normal(0, 1, n)
        weights[at:at + n] = w - w.mean()
        at += n
        dilations[k] = np.int32(2 ** rng.uniform(0, np.log2((length - 1) / (n - 1))))
        paddings[k] = ((n - 1) * dilations[k]) // 2 if rng.integers(2) == 1 else 0
    return weights, lengths, biases, dilations, paddings


@njit(fastmath=True)
def one_kernel(x, w, n, bias, d, pad):
    L = len(x)
    out_len = L + 2 * pad - (n - 1) * d
    positive = 0
    best = -np.inf
    for i in range(-pad, L + pad - (n - 1) * d):
        s = bias
        t = i
        for j in range(n):
            if t > -1 and t < L:
                s += w[j] * x[t]
            t += d
        if s > best:
            best = s
        if s > 0:
            positive += 1
    return positive / out_len, best


@njit(parallel=True, fastmath=True)
def transform(X, weights, lengths, biases, dilations, paddings):
    N = X.shape[0]
    K = len(lengths)
    out = np.zeros((N, 2 * K), dtype=np.float64)
    for i in prange(N):
        at = 0
        for k in range(K):
            n = lengths[k]
            out[i, 2 * k], out[i, 2 * k + 1] = one_kernel(X[i], weights[at:at + n], n, biases[k], dilations[k],
                                                          paddings[k])
            at += n
    return out


def minirocket_dilations(length, features, max_dilations=32):
    per_kernel = features // 84
    n = min(per_kernel, max_dilations)
    d, counts = np.unique(np.logspace(0, np.log2((length - 1) / 8), n, base=2).astype(np.int32), return_counts=True)
    counts = (counts * (per_kernel / n)).astype(np.int32)
    i = 0
    while counts.sum() < per_kernel:
        counts[i] += 1
        i = (i + 1) % len(counts)
    return d, counts


TRIPLES = np.array([t for t in __import__("itertools").combinations(range(9), 3)], dtype=np.int32)


@njit(parallel=True, fastmath=True)
def minirocket_transform(X, dilations, counts, biases, triples):
    N, L = X.shape
    F = 84 * counts.sum()
    out = np.zeros((N, F), dtype=np.float32)
    for i in prange(N):
        x = X[i]
        f = 0
        for di in range(len(dilations)):
            d = dilations[di]
            pad = 4 * d
            alpha = -x.copy()
            gamma = np.zeros((9, L), dtype=np.float32)
            gamma[4] = 3 * x
            for j in range(9):
                if j == 4:
                    continue
                off = (j - 4) * d
                for t in range(L):
                    s = t + off
                    if 0 <= s < L:
                        alpha[t] -= x[s]
                        gamma[j, t] = 3 * x[s]
            for k in range(84):
                r = alpha + gamma[triples[k, 0]] + gamma[triples[k, 1]] + gamma[triples[k, 2]]
                for c in range(counts[di]):
                    b = biases[f]
                    full = ((di % 2 + k) % 2 + c) % 2 == 0
                    lo, hi = (0, L) if full else (pad, L - pad)
                    pos = 0
                    for t in range(lo, hi):
                        if r[t] > b:
                            pos += 1
                    out[i, f] = pos / (hi - lo)
                    f += 1
    return out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--series", type=int, default=100)
    ap.add_argument("--length", type=int, default=500)
    ap.add_argument("--kernels", type=int, default=10000)
    ap.add_argument("--nabla", default=os.path.join(os.path.dirname(__file__), "..", "build", "release", "bench",
                                                     "nabla_rocket"))
    a = ap.parse_args()
    rng = np.random.default_rng(0)
    X = rng.normal(size=(a.series, a.length))
    kernels = draw_kernels(a.length, a.kernels, rng)
    X32 = X.astype(np.float32)
    dil, counts = minirocket_dilations(a.length, a.kernels)
    biases = rng.normal(size=84 * counts.sum()).astype(np.float32)  # the cost does not depend on their values
    # Per transform: its compiled function, arguments and size field; JIT compilation happens on 2 series first.
    runs = {"rocket": (transform, (X,) + kernels, {"kernels": a.kernels}),
            "minirocket": (minirocket_transform, (X32, dil, counts, biases, TRIPLES),
                           {"features": int(84 * counts.sum())})}
    numba_rate = {}
    for name, (fn, args, size) in runs.items():
        fn(args[0][:2], *args[1:])
        for threads in (1, 2):
            numba.set_num_threads(threads)
            best = 1e30
            for _ in range(2):
                t0 = time.perf_counter()
                fn(*args)
                best = min(best, time.perf_counter() - t0)
            numba_rate[name, threads] = a.series / best
            print(json.dumps({"impl": "numba", "numba": numba.__version__, "transform": name, "threads": threads,
                              "series": a.series, "length": a.length, **size, "seconds": round(best, 4),
                              "series_per_s": round(numba_rate[name, threads], 1)}), flush=True)
    out = subprocess.run([a.nabla, "--series", str(4 * a.series), "--length", str(a.length), "--kernels",
                          str(a.kernels), "--threads", "1,2"], check=True, capture_output=True, text=True).stdout
    for line in out.splitlines():
        r = json.loads(line)
        print(line)
        print(json.dumps({"ratio": "nabla/numba", "transform": r["transform"], "threads": r["threads"],
                          "speedup": round(r["series_per_s"] / numba_rate[r["transform"], r["threads"]], 2)}))


if __name__ == "__main__":
    main()
