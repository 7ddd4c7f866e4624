"""Time fit (gene selection included) + predict of every baseline on simulated NB counts.

Usage: ``OMP_NUM_THREADS=1 python benchmarks/baselines.py [--genes 20000] [--samples 100]
[--n-genes 10] [--nested-cost]``. Prints one line per baseline: fit and predict seconds
(80/20 split). The DE cache (and the inner-fold selection memo) is cleared before every
fit, so each fit includes its own gene selections (edgeR classic dispersion + exact test
on all genes); the compiled kernels are warmed first.

``--nested-cost`` (needs ``--n-genes``): for every tuned baseline, also the fit of the old
protocol (genes selected once on the training split, then the inner CV on those genes:
one selection + a fit with ``n_genes=None`` on the selected genes), and the extra seconds
nested tuning costs per fit (one selection per inner training fold).
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import pandas as pd
from sklearn.base import clone


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
    ap.add_argument("--nested-cost", action="store_true",
                    help="compare each tuned fit with the genes-selected-once protocol")
    ap.add_argument("--split-task", action="store_true",
                    help="time what one benchmark task fits on one split (NBLDA, VoomNSC, "
                         "RF-genomics, RF-radiogenomics in turn, sharing the inner-fold gene "
                         "selections): class defaults vs one shared 5-fold inner CV")
    args = ap.parse_args()
    if args.nested_cost and args.n_genes is None:
        ap.error("--nested-cost needs --n-genes")
    from radiogenomics.classifiers import (
        NBLDA,
        PLDA,
        NearestShrunkenCentroid,
        RFGenomics,
        RFRadiogenomics,
        VoomNSC,
    )
    from radiogenomics.classifiers._base import select_genes
    from radiogenomics.classifiers._inner_cv import _SELECTIONS
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
    if args.split_task:
        configs = {
            "class defaults (NBLDA/VoomNSC 5x2 folds, RF 10 folds)": {},
            "shared 5-fold inner CV (n_repeats=1, cv=5)": {"nr": 1, "cv": 5},
        }
        for label, c in configs.items():
            _DE_CACHE.clear()
            _SELECTIONS.clear()
            ests = [(NBLDA(n_genes=rf_k, random_state=0, **({"n_repeats": c["nr"]} if c else {})),
                     False),
                    (VoomNSC(n_genes=rf_k, random_state=0,
                             **({"n_repeats": c["nr"]} if c else {})), False),
                    (RFGenomics(n_genes=rf_k, random_state=0, **({"cv": c["cv"]} if c else {})),
                     False),
                    (RFRadiogenomics(n_genes=rf_k, random_state=0,
                                     **({"cv": c["cv"]} if c else {})), True)]
            t0 = time.perf_counter()
            for est, feats in ests:
                est.fit(X.iloc[tr], y.iloc[tr], **({"features": F.iloc[tr]} if feats else {}))
            print(f"one split, 4 tuned baselines, {label}: {time.perf_counter() - t0:7.2f} s, "
                  f"{len(_SELECTIONS)} inner-fold gene selections")
        return
    for name, (est, feats) in methods.items():
        kw_tr = {"features": F.iloc[tr]} if feats else {}
        kw_te = {"features": F.iloc[te]} if feats else {}
        _DE_CACHE.clear()  # every fit pays for its own gene selections
        _SELECTIONS.clear()
        t0 = time.perf_counter()
        est.fit(X.iloc[tr], y.iloc[tr], **kw_tr)
        t1 = time.perf_counter()
        pred = est.predict(X.iloc[te], **kw_te)
        t2 = time.perf_counter()
        acc = float(np.mean(pred == y.iloc[te].to_numpy()))
        line = (f"{name:32s} fit {t1 - t0:7.3f} s  predict {t2 - t1:6.3f} s  "
                f"total {t2 - t0:7.3f} s  test acc {acc:.2f}")
        tuned = getattr(est, "cv_results_", None) is not None
        if args.nested_cost and tuned:
            _DE_CACHE.clear()
            _SELECTIONS.clear()
            s0 = time.perf_counter()
            genes = select_genes(X.iloc[tr], y.iloc[tr], rf_k if "RF" in name else k)
            once = clone(est).set_params(n_genes=None)
            if "library" in once.get_params():
                once.set_params(library="selected")
            once.fit(X.iloc[tr][genes], y.iloc[tr], **kw_tr)
            s1 = time.perf_counter()
            line += (f"  | genes once: fit {s1 - s0:7.3f} s; nested extra "
                     f"{(t1 - t0) - (s1 - s0):7.3f} s")
        print(line)


if __name__ == "__main__":
    main()
