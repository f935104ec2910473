"""Checks nabla's ROCKET and MiniRocket transforms and its ridge read-out
against independent references: the transforms recomputed here with numpy
straight from the published definitions (Dempster et al. 2020, 2021; the
multivariate forms of sktime), given nabla's kernels and series; the read-out
against scikit-learn's StandardScaler + RidgeClassifierCV.

Usage: check_rocket.py DIR   (DIR holds what PeerRocket.ExportsTransformsForTheReference wrote)
"""
import glob
import itertools
import os
import sys

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "support"))
from safetensors_bytes import read_tensors  # noqa: E402

DT = {"F32": np.float32, "F64": np.float64, "I64": np.int64}


def load(path):
    return {k: np.frombuffer(raw, dtype=DT[dt]).reshape(shape).copy() for k, (dt, shape, raw) in read_tensors(path).items()}


def lengths_of(x):
    """One past the last step where any channel has a value."""
    have = ~np.isnan(x).all(axis=1)  # [N, L]
    return np.array([np.nonzero(h)[0].max() + 1 if h.any() else 0 for h in have])


def prepared(x, normalize):
    out = []
    for s, n in zip(x, lengths_of(x)):
        s = s[:, :n].astype(np.float64)
        if normalize:
            m = np.nanmean(s, axis=1, keepdims=True)
            sd = np.sqrt(np.nanmean((s - m) ** 2, axis=1, keepdims=True))
            s = (s - m) / (sd + 1e-8)
        out.append(np.nan_to_num(s, nan=0.0))
    return out


def dilated(s, length, dilation, padding):
    """Rows [out, length] of the zero-padded series windows each output reads, per channel."""
    C, n = s.shape
    xp = np.zeros((C, n + 2 * padding))
    xp[:, padding:padding + n] = s
    out_len = n + 2 * padding - (length - 1) * dilation
    idx = np.arange(out_len)[:, None] + np.arange(length)[None, :] * dilation
    return xp[:, idx]  # [C, out, length]


def rocket_reference(x, p, normalize):
    K = len(p["lengths"])
    feats = np.zeros((len(x), 2 * K))
    series = prepared(x, normalize)
    for i, s in enumerate(series):
        n = s.shape[1]
        w_at = c_at = 0
        for k in range(K):
            length, d, nc = p["lengths"][k], p["dilations"][k], p["num_channels"][k]
            w = p["weights"][w_at:w_at + nc * length].reshape(nc, length)
            ch = p["channels"][c_at:c_at + nc]
            w_at += nc * length
            c_at += nc
            pad = p["paddings"][k] if n - (length - 1) * d > 0 else (length - 1) * d // 2
            y = p["biases"][k] + np.einsum("cj,ctj->t", w, dilated(s[ch], length, d, pad))
            feats[i, 2 * k] = (y > 0).mean()
            feats[i, 2 * k + 1] = y.max()
    return feats


TRIPLES = list(itertools.combinations(range(9), 3))


def minirocket_response(s, ch, triple, d):
    w = -np.ones(9)
    w[list(triple)] = 2
    return np.einsum("j,ctj->t", w, dilated(s[ch], 9, d, 4 * d))


def minirocket_reference(x, p):
    series = prepared(x, False)
    F = len(p["biases"])
    feats = np.zeros((len(x), F))
    for i, s in enumerate(series):
        n = s.shape[1]
        f_at = c_at = 0
        for di, d in enumerate(p["dilations"]):
            pad = 4 * d
            for k, tri in enumerate(TRIPLES):
                comb = di * 84 + k
                nc = p["num_channels"][comb]
                ch = p["channels"][c_at:c_at + nc]
                c_at += nc
                r = minirocket_response(s, ch, tri, d)
                for f in range(p["features_per_dilation"][di]):
                    full = (((di % 2) + k) % 2 + f) % 2 == 0
                    rr = r if full or n - 2 * pad <= 0 else r[pad:n - pad]
                    feats[i, f_at] = (rr > p["biases"][f_at]).mean()
                    f_at += 1
    return feats


def minirocket_biases_reference(x0, p):
    """Biases fitted to the single series x0: quantiles (i phi mod 1) of each kernel's response."""
    s = prepared(x0[None], False)[0]
    F = len(p["biases"])
    q = np.array([(i * (np.sqrt(5) + 1) / 2) % 1 for i in range(1, F + 1)], dtype=np.float32)
    out = np.zeros(F)
    f_at = c_at = 0
    for di, d in enumerate(p["dilations"]):
        for k, tri in enumerate(TRIPLES):
            nc = p["num_channels"][di * 84 + k]
            ch = p["channels"][c_at:c_at + nc]
            c_at += nc
            r = minirocket_response(s, ch, tri, d)
            nb = p["features_per_dilation"][di]
            out[f_at:f_at + nb] = np.quantile(r, q[f_at:f_at + nb].astype(np.float64))
            f_at += nb
    return out


def params(m, prefix):
    return {k[len(prefix):]: v for k, v in m.items() if k.startswith(prefix)}


def check_ppv(name, got, want, x):
    # A PPV counts values above a threshold: where a value sits on it, f32 and f64 sums may count it
    # differently. Allow a few such flips, each worth one output position.
    diff = np.abs(got - want)
    n_min = max(1, lengths_of(x).min() - 1)
    flips = (diff > 1e-6).sum()
    assert diff.max() <= 2.0 / n_min + 1e-6 and flips <= max(2, 0.005 * diff.size), \
        f"{name}: PPV differs by up to {diff.max():.4g} in {flips} of {diff.size} features"


def check_transforms(path):
    m = load(path)
    x = m["x"]
    for key, prefix, normalize in (("rocket_features", "rocket.", True), ("raw_features", "raw.", False)):
        got, want = m[key], rocket_reference(x, params(m, prefix), normalize)
        check_ppv(f"{path} {key} PPV", got[:, 0::2], want[:, 0::2], x)
        err = np.abs(got[:, 1::2] - want[:, 1::2]).max() / (1 + np.abs(want[:, 1::2]).max())
        assert err < 1e-5, f"{path} {key}: max features differ by {err:.3g} (relative)"
    p = params(m, "minirocket.")
    want_b = minirocket_biases_reference(x[0], p)
    err = np.abs(p["biases"] - want_b).max() / (1 + np.abs(want_b).max())
    assert err < 1e-5, f"{path}: MiniRocket biases differ from np.quantile by {err:.3g}"
    check_ppv(f"{path} minirocket", m["minirocket_features"], minirocket_reference(x, p), x)
    print(f"ok {os.path.basename(path)}: {m['rocket_features'].shape[1]} ROCKET + {m['minirocket_features'].shape[1]} "
          f"MiniRocket features of {x.shape} series")


def check_ridge(path):
    from sklearn.linear_model import RidgeClassifierCV
    from sklearn.preprocessing import StandardScaler
    m = load(path)
    scaler = StandardScaler().fit(m["X_train"].astype(np.float64))
    clf = RidgeClassifierCV(alphas=np.logspace(-3, 3, 10)).fit(scaler.transform(m["X_train"]), m["y_train"])
    alpha = float(m["alpha"])
    assert np.isclose(clf.alpha_, alpha), f"{path}: scikit-learn chose alpha {clf.alpha_}, nabla {alpha}"
    ours = m["scores_test"].argmax(axis=1)
    theirs = clf.predict(scaler.transform(m["X_test"]))
    assert (ours == theirs).all(), f"{path}: predictions differ on {(ours != theirs).sum()} of {len(ours)}"
    dec = clf.decision_function(scaler.transform(m["X_test"]))
    if dec.ndim == 1:  # two classes: one column, scores of class 1; nabla's two columns are -s and s
        dec = np.stack([-dec, dec], axis=1)
    err = np.abs(dec - m["scores_test"]).max() / (1 + np.abs(dec).max())
    assert err < 1e-4, f"{path}: decision values differ by {err:.3g} (relative)"
    print(f"ok {os.path.basename(path)}: alpha {alpha:g}, {len(ours)} predictions as scikit-learn's")


def check_ridge_regression(path):
    from sklearn.linear_model import RidgeCV
    from sklearn.preprocessing import StandardScaler
    m = load(path)
    scaler = StandardScaler().fit(m["X_train"].astype(np.float64))
    reg = RidgeCV(alphas=np.logspace(-3, 3, 10)).fit(scaler.transform(m["X_train"]), m["Y_train"])
    alpha = float(m["alpha"])
    assert np.isclose(reg.alpha_, alpha), f"{path}: scikit-learn chose alpha {reg.alpha_}, nabla {alpha}"
    want = reg.predict(scaler.transform(m["X_test"]))
    err = np.abs(want - m["pred_test"]).max() / (1 + np.abs(want).max())
    assert err < 1e-4, f"{path}: predictions differ by {err:.3g} (relative)"
    print(f"ok {os.path.basename(path)}: alpha {alpha:g}, predictions as scikit-learn's RidgeCV")


def main():
    d = sys.argv[1]
    transforms = sorted(glob.glob(os.path.join(d, "transform_*.safetensors")))
    ridges = sorted(glob.glob(os.path.join(d, "ridge_*.safetensors")))
    assert transforms and ridges, f"nothing to check in {d}"
    for p in transforms:
        check_transforms(p)
    for p in ridges:
        check_ridge(p)
    regs = sorted(glob.glob(os.path.join(d, "ridgereg_*.safetensors")))
    assert regs, f"no ridge regressions in {d}"
    for p in regs:
        check_ridge_regression(p)


if __name__ == "__main__":
    main()
