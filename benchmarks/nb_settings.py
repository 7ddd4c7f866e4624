"""Measure the radiogenomics-NB settings (shrinkage, feature transform, dispersion, gene
selection, calibration) against NBLDA and VoomNSC on simulated LGG-shaped cohorts and on the
bundled plasmode, over repeated stratified 80/20 splits.

    OMP_NUM_THREADS=1 python benchmarks/nb_settings.py --cohort sim --repeats 20
    OMP_NUM_THREADS=1 python benchmarks/nb_settings.py --cohort lgg --target IDH

The simulated cohorts (``radiogenomics.datasets._simulate_shaped.simulate_lgg_shaped_cohort``) have the bundled cohort's shape: 64 samples,
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
    ap.add_argument("--imaging", choices=["normal-scores", "raw"], default="normal-scores",
                    help="scale on which the simulated imaging effects act")
    args = ap.parse_args()
    logging.basicConfig(level=logging.ERROR)
    from radiogenomics.classifiers import NBLDA, NBRadiogenomicsClassifier, VoomNSC
    from radiogenomics.datasets import load_lgg_radiogenomics
    from radiogenomics.datasets._simulate_shaped import simulate_lgg_shaped_cohort
    from radiogenomics.evaluation import RepeatedSplitBenchmark

    if args.cohort == "lgg":
        d = load_lgg_radiogenomics(args.target)
    else:
        d = simulate_lgg_shaped_cohort(seed=args.seed, effect=args.effect, imaging=args.imaging,
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
