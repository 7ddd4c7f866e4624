"""Time fit (gene selection included) + predict of every baseline on simulated NB counts.

Usage: ``OMP_NUM_THREADS=1 python benchmarks/baselines.py [--genes 20000] [--samples 100]
[--n-genes 10]``. Prints one line per baseline: fit and predict seconds (80/20 split). The DE
cache is cleared before every fit, so each fit includes its own gene selection (edgeR
classic dispersion + exact test on all genes); the compiled kernels are warmed first.
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import pandas as pd


def simulate(n: int, p: int, seed: int = 0):
    rng = np.random.default_rng(seed)
    mu = np.exp(rng.normal(3.0, 2.0, p))
    y = np.repeat(["a", "b"], [n // 2, n - n // 2])
    fc = np.ones(p)
    fc[:50] = 2.0  # 50 DE genes
    mean = mu[None, :] * np.where((y == "b")[:, None], fc[None, :], 1.0)
    X = rng.negative_binomial(5, 5.0 / (5.0 + mean))
    idx = pd.Index([f"s{i}" for i in range(n)])
    feats = pd.DataFrame(rng.normal(size=(n, 4)), index=idx, columns=list("abcd"))
    return (pd.DataFrame(X, index=idx, columns=[f"g{j}" for j in range(p)]),
            pd.Series(y, index=idx), feats)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--samples", type=int, default=100)
    ap.add_argument("--genes", type=int, default=20000)
    ap.add_argument("--n-genes", type=int, default=None,
                    help="genes selected inside fit (default: all, no DE selection)")
    args = ap.parse_args()
    from radiogenomics.classifiers import (
        NBLDA,
        PLDA,
        NearestShrunkenCentroid,
        RFGenomics,
        RFRadiogenomics,
        VoomNSC,
    )
    from radiogenomics.de import _DE_CACHE

    X, y, F = simulate(args.samples, args.genes)
    # compile / load the numba kernels outside the timings
    Xw, yw, _ = simulate(20, 300, seed=3)
    NBLDA(n_genes=5).fit(Xw, yw)
    RFGenomics(n_genes=5, n_estimators=10, random_state=0).fit(Xw, yw)
    rng = np.random.default_rng(1)
    te = np.sort(np.concatenate([rng.choice(np.flatnonzero(y == c), int(0.2 * (y == c).sum()),
                                            replace=False) for c in ("a", "b")]))
    tr = np.setdiff1d(np.arange(len(y)), te)
    k = args.n_genes
    rf_k = k if k is not None else 10
    methods = {
        "NBLDA (CV rho)": (NBLDA(n_genes=k, random_state=0), False),
        "NBLDA (rho=0)": (NBLDA(n_genes=k, rho=0), False),
        "PLDA (rho=0, transform)": (PLDA(n_genes=k), False),
        "PLDA (CV rho)": (PLDA(n_genes=k, rho=None, random_state=0), False),
        "NSC (threshold 1)": (NearestShrunkenCentroid(n_genes=k, threshold=1.0), False),
        "NSC (CV threshold)": (NearestShrunkenCentroid(n_genes=k, random_state=0), False),
        "VoomNSC (threshold 1)": (VoomNSC(n_genes=k, threshold=1.0), False),
        "VoomNSC (CV threshold)": (VoomNSC(n_genes=k, random_state=0), False),
        f"RFGenomics (top {rf_k})": (RFGenomics(n_genes=rf_k, random_state=0), False),
        f"RFRadiogenomics (top {rf_k})": (RFRadiogenomics(n_genes=rf_k, random_state=0), True),
    }
    print(f"{args.samples} samples x {args.genes} genes, fit on {len(tr)}, predict "
          f"{len(te)}; n_genes={k}")
    for name, (est, feats) in methods.items():
        kw_tr = {"features": F.iloc[tr]} if feats else {}
        kw_te = {"features": F.iloc[te]} if feats else {}
        _DE_CACHE.clear()  # every fit pays for its own gene selection
        t0 = time.perf_counter()
        est.fit(X.iloc[tr], y.iloc[tr], **kw_tr)
        t1 = time.perf_counter()
        pred = est.predict(X.iloc[te], **kw_te)
        t2 = time.perf_counter()
        acc = float(np.mean(pred == y.iloc[te].to_numpy()))
        print(f"{name:32s} fit {t1 - t0:7.3f} s  predict {t2 - t1:6.3f} s  "
              f"total {t2 - t0:7.3f} s  test acc {acc:.2f}")


if __name__ == "__main__":
    main()
