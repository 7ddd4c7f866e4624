"""``radiogenomics demo``: fit the radiogenomics-NB classifier on the bundled cohort.

The bundled cohort (:func:`radiogenomics.datasets.load_lgg_radiogenomics`) is
**semi-synthetic**: 64 real TCGA-LGG patients with their real BraTS volume ratios and
molecular labels, and simulated RNA-seq counts. The demo makes one stratified 80/20
train/test split, fits :func:`radiogenomics.classifiers.fit_nb_radiogenomics` on the
training samples only (gene selection, dispersions, size factors and feature scaling
included), prints the model summary and the held-out metrics, and with ``--out DIR``
writes ``summary.csv`` and ``metrics.csv`` there (each file atomically).
"""

from __future__ import annotations

import argparse
import logging
import time
from pathlib import Path

from . import add_command

logger = logging.getLogger(__name__)


def register(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
    p = add_command(
        subparsers, "demo",
        help="fit the radiogenomics-NB classifier on the bundled semi-synthetic cohort",
        description="One stratified 80/20 split of the bundled semi-synthetic (plasmode) "
        "TCGA-LGG cohort (real imaging and labels; real GEUVADIS counts binomially thinned to "
        "carry simulated effects): fit radiogenomics-NB on the training samples, print its "
        "summary and the held-out metrics.",
        example="radiogenomics demo --target codel_1p19q --n-genes 20 --out demo",
    )
    p.add_argument("--target", default="IDH", help="label to predict: IDH, codel_1p19q or "
                   "ATRX (default IDH)")
    p.add_argument("--n-genes", type=int, default=10, help="selected genes (default 10)")
    p.add_argument("--test-size", type=float, default=0.2, help="test fraction (default 0.2)")
    p.add_argument("--seed", type=int, default=0, help="random seed of the split (default 0)")
    p.add_argument("--out", type=Path, help="folder for summary.csv and metrics.csv")
    p.set_defaults(func=run)
    return p


def run(args: argparse.Namespace) -> int:
    import pandas as pd
    from sklearn.model_selection import train_test_split

    from radiogenomics import datasets
    from radiogenomics._io import atomic_path
    from radiogenomics.classifiers import fit_nb_radiogenomics
    from radiogenomics.evaluation import classification_metrics
    from radiogenomics.evaluation.protocol import KNOWN_POSITIVE

    if args.n_genes < 1:
        raise ValueError(f"--n-genes must be a positive integer; got {args.n_genes}")
    if not 0.0 < args.test_size < 1.0:
        raise ValueError(f"--test-size must lie in (0, 1); got {args.test_size}")
    if args.out is not None and args.out.exists() and not args.out.is_dir():
        raise ValueError(f"--out {args.out} exists and is not a folder")
    t0 = time.perf_counter()
    data = datasets.load_lgg_radiogenomics(args.target)
    y = data.y.astype(str)
    target = str(y.name)
    train, test = train_test_split(y.index, test_size=args.test_size, stratify=y,
                                   random_state=args.seed)
    print(f"radiogenomics demo: {target} on the bundled SEMI-SYNTHETIC TCGA-LGG cohort "
          f"(real imaging ratios and labels, simulated RNA-seq counts): "
          f"{data.counts.shape[0]} patients x {data.counts.shape[1]} genes, "
          f"{data.features.shape[1]} volume ratios")
    print(f"stratified split (seed {args.seed}): {len(train)} training, {len(test)} test "
          f"patients; training classes {y.loc[train].value_counts().to_dict()}")
    clf = fit_nb_radiogenomics(data.counts.loc[train], data.features.loc[train], y.loc[train],
                               n_genes=args.n_genes, impute="median")
    summary = clf.summary()
    with pd.option_context("display.width", 160, "display.max_columns", 20,
                           "display.max_rows", 400, "display.precision", 4):
        print("\nradiogenomics-NB summary (semi-synthetic data):")
        print(summary.to_string(index=False))
    pos = KNOWN_POSITIVE.get(target)
    if pos not in set(clf.classes_):
        pos = str(y.loc[train].value_counts().idxmin())
    proba = clf.predict_proba(data.counts.loc[test], features=data.features.loc[test])
    pred = clf.classes_[proba.argmax(axis=1)]
    score = proba[:, list(clf.classes_).index(pos)]
    metrics = classification_metrics(y.loc[test].to_numpy(), pred, positive=pos, score=score)
    table = pd.Series(metrics, name="value").rename_axis("metric")
    print(f"\nheld-out metrics on {len(test)} test patients (positive class {pos!r}; "
          "semi-synthetic data):")
    print(table.to_string(float_format=lambda v: f"{v:.3f}"))
    if args.out is not None:
        args.out.mkdir(parents=True, exist_ok=True)
        with atomic_path(args.out / "summary.csv") as tmp:
            summary.to_csv(tmp, index=False)
        with atomic_path(args.out / "metrics.csv") as tmp:
            table.to_csv(tmp)
        print(f"\nwrote {args.out / 'summary.csv'} and {args.out / 'metrics.csv'}")
    logger.info("demo done in %.1f s", time.perf_counter() - t0)
    return 0
