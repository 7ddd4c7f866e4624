"""Time one tuned RF-genomics fit with the numba and the scikit-learn forest.

Usage: ``OMP_NUM_THREADS=1 python benchmarks/forest.py [--samples 46] [--genes 10]
[--repeats 5]``.

One fit is what the benchmark does per split and method: ``max_features`` tuned over
``mtry_grid(10) = [1, 3, 5, 10]`` by a stratified 10-fold inner CV of 100-tree forests
(40 forests), then a 500-tree forest on all training samples; the data are ``samples x
genes`` NB counts used whole (``n_genes=None``, no DE selection, so only the forest and the
inner CV are timed). Prints the seconds per fit of each backend (numba after compilation;
the first call, which compiles or loads the numba cache, is reported apart), the ratio, and
whether both backends chose the same ``max_features`` and gave the same probabilities.
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import pandas as pd


def simulate(n: int, p: int, seed: int = 0) -> tuple[pd.DataFrame, pd.Series]:
    """NB counts with a two-fold change in half of the genes, two balanced classes."""
    rng = np.random.default_rng(seed)
    y = np.repeat(["a", "b"], [n // 2, n - n // 2])
    mu = np.exp(rng.normal(4.0, 1.5, p))
    fc = np.where(np.arange(p) < p // 2, 2.0, 1.0)
    mean = mu[None, :] * np.where((y == "b")[:, None], fc[None, :], 1.0)
    X = rng.negative_binomial(5, 5.0 / (5.0 + mean))
    idx = pd.Index([f"s{i}" for i in range(n)])
    return (pd.DataFrame(X, index=idx, columns=[f"g{j}" for j in range(p)]),
            pd.Series(rng.permutation(y), index=idx))


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--samples", type=int, default=46)
    ap.add_argument("--genes", type=int, default=10)
    ap.add_argument("--repeats", type=int, default=5, help="numba fits timed")
    ap.add_argument("--sklearn-repeats", type=int, default=1, help="scikit-learn fits timed")
    args = ap.parse_args()
    from radiogenomics.classifiers import RFGenomics
    from radiogenomics.classifiers._rf import mtry_grid

    X, y = simulate(args.samples, args.genes)

    def est(backend: str) -> RFGenomics:
        return RFGenomics(n_genes=None, n_estimators=500, tune_n_estimators=100, cv=10,
                          random_state=0, backend=backend)

    print(f"{args.samples} samples x {args.genes} genes; mtry grid {mtry_grid(args.genes)}, "
          "10 folds x 100 trees + 500-tree final forest")
    t0 = time.perf_counter()
    est("numba").fit(X, y)
    print(f"numba first call (compile / load cache) {time.perf_counter() - t0:7.3f} s")
    times = {}
    fits = {}
    for backend, reps in (("numba", args.repeats), ("sklearn", args.sklearn_repeats)):
        t0 = time.perf_counter()
        for _ in range(reps):
            fits[backend] = est(backend).fit(X, y)
        times[backend] = (time.perf_counter() - t0) / reps
        print(f"{backend:8s} {times[backend]:8.3f} s per tuned fit "
              f"(best max_features {fits[backend].best_params_['max_features']})")
    print(f"ratio sklearn / numba: {times['sklearn'] / times['numba']:.0f}x")
    same = np.array_equal(fits["numba"].predict_proba(X), fits["sklearn"].predict_proba(X))
    print(f"same cv_results_: {fits['numba'].cv_results_.equals(fits['sklearn'].cv_results_)}; "
          f"same probabilities: {same}")


if __name__ == "__main__":
    main()
