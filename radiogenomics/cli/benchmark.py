"""``radiogenomics benchmark``: the paper's repeated-split comparison, as a report.

Parse -> build -> one call -> save: the protocol itself is
:func:`radiogenomics.evaluation.run_protocol` (:mod:`radiogenomics.evaluation.protocol`).
With no arguments it runs the whole protocol on the bundled semi-synthetic (plasmode)
TCGA-LGG cohort: targets IDH, 1p/19q and ATRX x the five methods x 100 stratified 80/20
splits at 10 genes, the radiogenomics-NB gene-number sweep (10, 20, 30, 50, 100, 150) and
female-only / male-only models on 25 splits each, and the sex-vs-label association table;
it writes the report folder ``./radiogenomics-report`` (atomically: it appears only when
complete). Every input is checked before any model is fitted.
"""

from __future__ import annotations

import argparse
import hashlib
import logging
from pathlib import Path

from . import add_command

logger = logging.getLogger(__name__)

DEFAULT_GENES = "10,20,30,50,100,150"
SECONDARY = 25  # = radiogenomics.evaluation.protocol.SECONDARY_REPEATS (not imported: fast --help)


def _ints(text: str, what: str) -> list[int]:
    try:
        vals = [int(v) for v in text.split(",") if v.strip()]
    except ValueError:
        raise ValueError(f"{what} must be comma-separated integers; got {text!r}") from None
    if not vals or any(v < 1 for v in vals):
        raise ValueError(f"{what} must be positive integers; got {text!r}")
    return vals


def register(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
    p = add_command(
        subparsers, "benchmark",
        help="repeated-split benchmark of the classifiers, with an HTML report",
        description="Repeated stratified train/test splits shared by every method, metrics, "
        "corrected resampled t-tests with Holm adjustment (and the paper's ANOVA), gene-number "
        "sweep, per-stratum models, and an HTML report. With no arguments: the whole protocol "
        "on the bundled semi-synthetic TCGA-LGG cohort (radiogenomics.evaluation.run_protocol).",
        example="radiogenomics benchmark --target codel_1p19q --n-repeats 10 --out report",
    )
    p.add_argument("--counts", type=Path, help="counts: CSV (samples as rows, ids in the first "
                   "column) or AnnData .h5ad; default the bundled cohort")
    p.add_argument("--features", type=Path, help="imaging features CSV (ids in the first column)")
    p.add_argument("--labels", type=Path, help="labels CSV (ids in the first column; one column "
                   "per target, plus e.g. sex)")
    p.add_argument("--target", help="label column(s), comma-separated (default: IDH, codel_1p19q, "
                   "ATRX for the bundled cohort, else every label column but --stratify-by)")
    p.add_argument("--methods", help="comma list of methods (default the paper's five: "
                   "radiogenomics-NB,NBLDA,VoomNSC,RF-genomics,RF-radiogenomics)")
    p.add_argument("--n-repeats", type=int, default=100, help="splits of the method comparison "
                   "(default 100)")
    p.add_argument("--sweep-repeats", type=int, default=SECONDARY, help="splits of the gene sweep: "
                   f"the first of the comparison's splits (default {SECONDARY})")
    p.add_argument("--strata-repeats", type=int, default=SECONDARY, help="splits of each "
                   f"stratum's models (default {SECONDARY})")
    p.add_argument("--n-genes", default=DEFAULT_GENES, help="gene numbers, comma list; the first "
                   "is used for the method comparison, all for the radiogenomics-NB sweep "
                   f"(default {DEFAULT_GENES})")
    p.add_argument("--test-size", type=float, default=0.2, help="test fraction (default 0.2)")
    p.add_argument("--stratify-by", help="label column for separate per-stratum models "
                   "(default 'sex' for the bundled cohort; 'none' to skip)")
    p.add_argument("--positive", help="positive class (default: Mutant/codel for the known "
                   "targets, else the minority class)")
    p.add_argument("--jobs", type=int, default=-1,
                   help="parallel workers over the splits (joblib; default -1 = all cores)")
    p.add_argument("--scheduler", help="Dask scheduler address: run the splits on that cluster")
    p.add_argument("--out", type=Path, default=Path("radiogenomics-report"),
                   help="report folder (default ./radiogenomics-report)")
    p.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.set_defaults(func=run)
    return p


# ---------------------------------------------------------------------- inputs
def _read_table(path: Path, what: str):
    import pandas as pd

    if not path.is_file():
        raise FileNotFoundError(f"--{what} file not found: {path}")
    df = pd.read_csv(path, index_col=0)
    if df.empty:
        raise ValueError(f"--{what} {path} has no rows or columns")
    df.index = df.index.astype(str)
    return df


def _read_counts(path: Path):
    import pandas as pd

    if not path.is_file():
        raise FileNotFoundError(f"--counts file not found: {path}")
    if path.suffix == ".h5ad":
        try:
            import anndata
        except ImportError as exc:
            raise ValueError("reading .h5ad needs anndata (pip install anndata)") from exc
        from radiogenomics._validation import as_count_frame

        df = as_count_frame(anndata.read_h5ad(path), "counts")
    else:
        df = _read_table(path, "counts")
    df.index = pd.Index(df.index.astype(str))
    return df


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def _inputs(args: argparse.Namespace) -> dict:
    """The files named on the command line, read, with their provenance (none: bundled)."""
    if args.counts is None:
        if args.labels is not None or args.features is not None:
            raise ValueError("--labels/--features need --counts (or give none of them for the "
                             "bundled cohort)")
        return {}
    if args.labels is None:
        raise ValueError("--counts needs --labels (CSV with sample ids in the first column)")
    counts = _read_counts(args.counts)
    labels = _read_table(args.labels, "labels")
    features = _read_table(args.features, "features") if args.features else None
    prov = [f"counts: {args.counts} (sha256 {_sha256(args.counts)}), {counts.shape[0]} samples "
            f"x {counts.shape[1]} genes",
            f"labels: {args.labels} (sha256 {_sha256(args.labels)}), columns {list(labels.columns)}"]
    if features is not None:
        prov.append(f"features: {args.features} (sha256 {_sha256(args.features)}), "
                    f"columns {list(features.columns)}")
    return {"counts": counts, "labels": labels, "features": features, "provenance": "\n".join(prov)}


def build(args: argparse.Namespace):
    """Parse the options into a checked :class:`~radiogenomics.evaluation.ProtocolPlan`."""
    from radiogenomics.evaluation.protocol import AUTO, build_protocol

    if args.n_repeats < 1:
        raise ValueError(f"--n-repeats must be at least 1; got {args.n_repeats}")
    if args.jobs == 0 or args.jobs < -1:
        raise ValueError(f"--jobs must be a positive number (or -1 for all cores); got {args.jobs}")
    genes = _ints(args.n_genes, "--n-genes")
    targets = [t.strip() for t in args.target.split(",") if t.strip()] if args.target else None
    plan = build_protocol(
        **_inputs(args), targets=targets, methods=args.methods, n_repeats=args.n_repeats,
        n_genes=genes, sweep_repeats=args.sweep_repeats, strata_repeats=args.strata_repeats,
        test_size=args.test_size,
        stratify_by=AUTO if args.stratify_by is None else args.stratify_by,
        positive=args.positive, seed=args.seed, n_jobs=args.jobs,
        progress=not args.no_progress, scheduler=args.scheduler)
    inputs = "bundled" if args.counts is None else {
        "counts": str(args.counts), "labels": str(args.labels),
        "features": str(args.features) if args.features else None}
    plan.settings["inputs"] = inputs
    return plan


def run(args: argparse.Namespace) -> int:
    import matplotlib

    matplotlib.use("Agg")

    from radiogenomics.evaluation._report import _check_target

    plan = build(args)  # every check before any work
    _check_target(args.out)
    result = plan.run()
    result.save(args.out)
    print(result.summary_text(args.out))
    return 0
