"""Measure the radiogenomics-NB settings (shrinkage, feature transform, dispersion, gene
selection, calibration) against NBLDA and VoomNSC on simulated LGG-shaped cohorts and on the
bundled plasmode, over repeated stratified 80/20 splits.

    OMP_NUM_THREADS=1 python benchmarks/nb_settings.py --cohort sim --repeats 20
    OMP_NUM_THREADS=1 python benchmarks/nb_settings.py --cohort lgg --target IDH

The simulated cohorts (``lgg_shaped_cohort``) have the bundled cohort's shape: 64 samples,
a minority class of 11, the 8 real (heavy-tailed) BraTS volume ratios of the 64 TCGA-LGG
patients as imaging features, dispersions resampled from real edgeR tagwise dispersions
(0.02 to ~4), and signal in 150 genes (``kind="mean"``: class log fold changes, a third of
them also with class-specific slopes; ``kind="slopes"``: class signal only in imaging
slopes, class means equal).
"""

from __future__ import annotations

import argparse
import logging
import time
from types import SimpleNamespace

import numpy as np
import pandas as pd


def lgg_shaped_cohort(seed: int = 0, n_genes: int = 2000, n_informative: int = 150,
                      effect: float = 0.6, kind: str = "mean", n_minority: int = 11,
                      slope_effect: float = 0.3):
    """An LGG-shaped cohort drawn from the NB model, with its truth (see module docstring)."""
    from radiogenomics.datasets import load_lgg_radiogenomics

    rng = np.random.default_rng(seed)
    base = load_lgg_radiogenomics("IDH", kind="parametric", n_genes=10) \
        if "kind" in load_lgg_radiogenomics.__code__.co_varnames \
        else load_lgg_radiogenomics("IDH", n_genes=10)
    F = base.features.fillna(base.features.median())
    n = len(F)
    Zs = ((F - F.mean()) / F.std(ddof=1)).to_numpy()
    codes = np.zeros(n, dtype=int)
    codes[rng.choice(n, n_minority, replace=False)] = 1
    phi_pool = pd.read_csv(__import__("radiogenomics.datasets", fromlist=["data_dir"]).data_dir()
                           / "lgg_radiogenomics" / "dispersions.csv")["dispersion"].to_numpy()
    phi = np.clip(rng.choice(phi_pool, n_genes), 0.02, 4.0)
    b0 = rng.normal(np.log(80.0), 1.5, n_genes)
    p = Zs.shape[1]
    coef = np.zeros((2, n_genes, 1 + p))
    coef[:, :, 0] = b0
    img = rng.choice(n_genes, n_genes // 10, replace=False)
    coef[:, img, 1:3] += rng.normal(0, 0.25, (len(img), 2))  # shared imaging genes
    inf = rng.choice(np.setdiff1d(np.arange(n_genes), img), n_informative, replace=False)
    if kind == "mean":
        lfc = rng.choice([-1, 1], n_informative) * rng.uniform(0.5, 1.5, n_informative) * effect
        coef[1, inf, 0] += lfc / 2
        coef[0, inf, 0] -= lfc / 2
        third = inf[: n_informative // 3]
        coef[1, third, 1:3] += rng.normal(0, slope_effect, (len(third), 2))
    else:  # slope-only genes: equal class means (features are centred)
        cols = rng.integers(0, p, n_informative)
        sgn = rng.choice([-1, 1], n_informative)
        coef[1, inf, 1 + cols] += sgn * effect
        coef[0, inf, 1 + cols] -= sgn * effect
    logs = rng.normal(0, 0.3, n)
    Xd = np.column_stack([np.ones(n), Zs])
    eta = np.einsum("ip,igp->ig", Xd, coef[codes]) + logs[:, None]
    mu = np.exp(np.clip(eta, -30, 12))
    lam = rng.gamma(1 / phi, mu * phi)
    counts = rng.poisson(lam)
    genes = [f"g{g:05d}" for g in range(n_genes)]
    return SimpleNamespace(
        counts=pd.DataFrame(counts, index=F.index, columns=genes), features=F,
        y=pd.Series(np.where(codes == 1, "minor", "major"), index=F.index, name="label"),
        truth={"informative_genes": [genes[g] for g in inf]},
        description=f"SIMULATED LGG-shaped cohort ({kind}, effect {effect})")


SETTINGS = {
    "paper": dict(shrinkage=None, feature_transform=None),
    "normal": dict(shrinkage="normal", feature_transform=None),
    "prior-count": dict(shrinkage="prior-count", feature_transform=None),
    "normal+log": dict(shrinkage="normal", feature_transform="log"),
    "normal+rank": dict(shrinkage="normal", feature_transform="rank"),
    "normal+glm": dict(shrinkage="normal", feature_transform=None, dispersion="glm"),
    "normal+joint": dict(shrinkage="normal", feature_transform=None, de_method="joint"),
    "normal+joint+glm": dict(shrinkage="normal", feature_transform=None, de_method="joint",
                             dispersion="glm"),
    "normal+temperature": dict(shrinkage="normal", feature_transform=None,
                               calibration="temperature"),
    "normal+shared": dict(shrinkage="normal", feature_transform=None, slopes="shared"),
}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--cohort", choices=["sim", "slopes", "lgg"], default="sim")
    ap.add_argument("--target", default="IDH")
    ap.add_argument("--repeats", type=int, default=20)
    ap.add_argument("--genes", default="10,150")
    ap.add_argument("--settings", default=None, help="comma-separated names of SETTINGS")
    ap.add_argument("--baselines", action="store_true", help="add NBLDA and VoomNSC")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--effect", type=float, default=0.6)
    args = ap.parse_args()
    logging.basicConfig(level=logging.ERROR)
    from radiogenomics.classifiers import NBLDA, NBRadiogenomicsClassifier, VoomNSC
    from radiogenomics.datasets import load_lgg_radiogenomics
    from radiogenomics.evaluation import RepeatedSplitBenchmark

    if args.cohort == "lgg":
        d = load_lgg_radiogenomics(args.target)
    else:
        d = lgg_shaped_cohort(seed=args.seed, effect=args.effect,
                              kind="mean" if args.cohort == "sim" else "slopes")
    names = list(SETTINGS)
    if args.settings:
        names = args.settings.split(",")
    methods = {nm: NBRadiogenomicsClassifier(impute="median", **SETTINGS[nm]) for nm in names}
    if args.baselines:
        methods["NBLDA"] = NBLDA()
        methods["VoomNSC"] = VoomNSC()
    genes = [int(g) for g in args.genes.split(",")]
    t0 = time.perf_counter()
    res = RepeatedSplitBenchmark(methods, n_repeats=args.repeats, n_genes=genes,
                                 random_state=args.seed, progress=False).run(
        d.counts, d.y, features=d.features)
    s = res.scores
    s = s[s["metric"] == "balanced_accuracy"]
    tab = s.groupby(["method", "n_genes"], dropna=False, sort=False)["value"].agg(["mean", "std"])
    print(d.description)
    print(tab.round(3).to_string())
    if "metric" in res.scores and (res.scores["metric"] == "roc_auc").any():
        auc = res.scores[res.scores["metric"] == "roc_auc"]
        print(auc.groupby(["method", "n_genes"], sort=False)["value"].mean().round(3)
              .rename("roc_auc").to_string())
    print(f"{time.perf_counter() - t0:.0f} s")


if __name__ == "__main__":
    main()
