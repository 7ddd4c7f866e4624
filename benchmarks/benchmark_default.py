"""Time the default ``radiogenomics benchmark`` protocol and the methods that make it up.

Usage::

    OMP_NUM_THREADS=1 python benchmarks/benchmark_default.py            # per-method timings + projection
    OMP_NUM_THREADS=1 python benchmarks/benchmark_default.py --full     # also run the default command

Prints, for the bundled semi-synthetic LGG cohort (64 x 10,101 plasmode), the seconds of one fit +
predict of every method on one stratified 80/20 split, the number of fits in the default
protocol (3 targets x [5 methods x 100 splits + the radiogenomics-NB gene sweep + female and
male models]), the projected wall time on ``--cores`` cores, and which method dominates. The
target of the default command is < 180 s on 2 cores.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--full", action="store_true", help="also time `radiogenomics benchmark` (default args)")
    ap.add_argument("--cores", type=int, default=2)
    ap.add_argument("--repeats", type=int, default=1, help="splits timed per method")
    ap.add_argument("--limit", type=float, default=1800, help="time limit of --full (s)")
    args = ap.parse_args()

    from sklearn.model_selection import StratifiedShuffleSplit

    from radiogenomics import datasets
    from radiogenomics.cli.benchmark import DEFAULT_GENES
    from radiogenomics.evaluation._methods import PAPER_METHODS, make_method, param_keys

    t = time.perf_counter()
    d = datasets.load_lgg_radiogenomics("IDH")
    print(f"load_lgg_radiogenomics: {time.perf_counter() - t:.1f} s, counts {d.counts.shape}")
    X, y, F = d.counts, d.y, d.features
    sex = d.clinical["sex"]
    per_fit: dict[tuple[str, int], float] = {}
    genes = [int(g) for g in DEFAULT_GENES.split(",")]
    for name in PAPER_METHODS:
        for k in ([10, genes[-1]] if name == "radiogenomics-NB" else [10]):
            times = []
            for r in range(args.repeats):
                tr, te = next(StratifiedShuffleSplit(1, test_size=0.2, random_state=r).split(X, y))
                try:
                    est = make_method(name)
                except ValueError as exc:
                    print(f"{name}: not available ({exc})")
                    break
                params = {key: k for key in param_keys(est, "n_genes")}
                params.update({key: "median" for key in param_keys(est, "impute")})
                params.update({key: r for key in param_keys(est, "random_state")})
                est.set_params(**params)
                kw_fit = {"features": F.iloc[tr]}
                kw_pred = {"features": F.iloc[te]}
                t0 = time.perf_counter()
                try:
                    est.fit(X.iloc[tr], y.iloc[tr], **kw_fit)
                    est.predict(X.iloc[te], **kw_pred)
                    if hasattr(est, "predict_proba"):
                        est.predict_proba(X.iloc[te], **kw_pred)
                except TypeError:  # a method without features=
                    est.fit(X.iloc[tr], y.iloc[tr])
                    est.predict(X.iloc[te])
                times.append(time.perf_counter() - t0)
            if times:
                per_fit[(name, k)] = float(np.mean(times))
                print(f"{name:18s} n_genes={k:4d}: {per_fit[(name, k)]:8.2f} s per fit+predict")
    # fits of the default protocol
    n_rep, n_targets = 100, 3
    fits = {}
    for name in PAPER_METHODS:
        # comparison + female/male models (two strata, each 100 splits)
        fits[(name, 10)] = n_targets * n_rep * (1 + 2)
    for k in genes[1:]:
        fits[("radiogenomics-NB", k)] = n_targets * n_rep
    total = 0.0
    by_method: dict[str, float] = {}
    for (name, k), n in fits.items():
        # gene numbers between the timed ones: interpolate linearly in k for radiogenomics-NB
        if (name, k) in per_fit:
            sec = per_fit[(name, k)]
        elif name == "radiogenomics-NB" and (name, 10) in per_fit and (name, genes[-1]) in per_fit:
            a, b = per_fit[(name, 10)], per_fit[(name, genes[-1])]
            sec = a + (b - a) * (k - 10) / (genes[-1] - 10)
        else:
            continue
        total += n * sec
        by_method[name] = by_method.get(name, 0.0) + n * sec
    n_fits = sum(fits.values())
    print(f"default protocol: {n_fits} fits; projected {total:.0f} CPU s = "
          f"{total / args.cores:.0f} s wall on {args.cores} cores (target < 180 s; "
          f"needs < {180 * args.cores / n_fits * 1000:.0f} ms per fit)")
    for name, sec in sorted(by_method.items(), key=lambda kv: -kv[1]):
        print(f"  {name:18s} {sec:10.0f} CPU s ({100 * sec / total:5.1f} %)")
    _ = sex  # the female/male split sizes only matter for correctness, not for time

    if args.full:
        with tempfile.TemporaryDirectory() as tmp:
            cmd = [sys.executable, "-m", "radiogenomics", "benchmark", "--jobs", str(args.cores),
                   "--out", str(Path(tmp) / "report"), "--no-progress"]
            print("+", " ".join(cmd))
            t = time.perf_counter()
            try:
                proc = subprocess.run(cmd, capture_output=True, text=True, timeout=args.limit)
                print(proc.stdout.strip() or proc.stderr.strip()[-2000:])
                print(f"default command: {time.perf_counter() - t:.1f} s wall (rc {proc.returncode})")
            except subprocess.TimeoutExpired:
                print(f"default command: not finished after {args.limit:.0f} s (stopped)")


if __name__ == "__main__":
    main()
