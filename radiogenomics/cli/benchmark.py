"""``radiogenomics benchmark``: the repeated-split comparison of the paper, as a report.

With no arguments it runs the whole protocol on the bundled semi-synthetic TCGA-LGG cohort
(:func:`radiogenomics.datasets.load_lgg_radiogenomics`): targets IDH, 1p/19q and ATRX x the
five methods x 100 stratified 80/20 splits at 10 genes, the gene-number sweep
(10, 20, 30, 50, 100, 150) for radiogenomics-NB, female-only and male-only models, and the
sex-vs-label association table; it writes the report folder ``./radiogenomics-report``
(atomically: it appears only when complete).

Every input is checked before any model is fitted.
"""

from __future__ import annotations

import argparse
import hashlib
import logging
import time
from pathlib import Path
from typing import Any

logger = logging.getLogger(__name__)

DEFAULT_TARGETS = ("IDH", "codel_1p19q", "ATRX")
#: positive class per known target (the mutation / codeletion); others: the minority class
KNOWN_POSITIVE = {"IDH": "Mutant", "codel_1p19q": "codel", "ATRX": "Mutant"}
DEFAULT_GENES = "10,20,30,50,100,150"
SWEEP_METHOD = "radiogenomics-NB"


def _ints(text: str, what: str) -> list[int]:
    try:
        vals = [int(v) for v in text.split(",") if v.strip()]
    except ValueError:
        raise ValueError(f"{what} must be comma-separated integers; got {text!r}") from None
    if not vals or any(v < 1 for v in vals):
        raise ValueError(f"{what} must be positive integers; got {text!r}")
    return vals


def register(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
    p = subparsers.add_parser(
        "benchmark",
        help="repeated-split benchmark of the classifiers, with an HTML report",
        description="Repeated stratified train/test splits shared by every method, metrics, "
        "ANOVA / paired / corrected resampled t-tests, gene-number sweep, per-stratum models, "
        "and an HTML report. With no arguments: the whole protocol on the bundled "
        "semi-synthetic TCGA-LGG cohort.",
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
    p.add_argument("--n-repeats", type=int, default=100, help="number of splits (default 100)")
    p.add_argument("--n-genes", default=DEFAULT_GENES, help="gene numbers, comma list; the first "
                   f"is used for the method comparison, all for the {SWEEP_METHOD} sweep "
                   f"(default {DEFAULT_GENES})")
    p.add_argument("--test-size", type=float, default=0.2, help="test fraction (default 0.2)")
    p.add_argument("--stratify-by", help="label column for separate per-stratum models "
                   "(default 'sex' for the bundled cohort; 'none' to skip)")
    p.add_argument("--positive", help="positive class (default: Mutant/codel for the known "
                   "targets, else the minority class)")
    p.add_argument("--jobs", type=int, default=-1,
                   help="parallel workers (joblib; default -1 = all cores)")
    p.add_argument("--scheduler", help="Dask scheduler address: run the tasks on that cluster")
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


def _bundled() -> tuple[Any, Any, Any, str, str | None]:
    """counts, features, labels (with sex), a provenance text and the dataset's own
    ``.description`` (the caveat shown first in the report) from the bundled cohort."""
    import pandas as pd

    from radiogenomics import datasets

    data = datasets.load_lgg_radiogenomics()
    if isinstance(data, tuple):
        counts, features, labels = data[:3]
    else:
        counts = data.counts
        features = getattr(data, "features", None)
        labels = None
        for attr in ("labels", "clinical", "obs", "meta"):
            if isinstance(getattr(data, attr, None), pd.DataFrame):
                labels = getattr(data, attr).copy()
                break
        if labels is None:
            raise ValueError("the bundled cohort has no label table")
        clinical = getattr(data, "clinical", None)
        if "sex" not in labels.columns:
            if isinstance(clinical, pd.DataFrame) and "sex" in clinical.columns:
                labels["sex"] = clinical["sex"].reindex(labels.index)
            elif getattr(data, "sex", None) is not None:
                labels["sex"] = data.sex
    if isinstance(labels, pd.Series):
        labels = labels.to_frame()
    desc = getattr(data, "description", None)
    doc = (getattr(data, "provenance", None) or desc
           or (datasets.load_lgg_radiogenomics.__doc__ or "").strip())
    prov = f"Bundled cohort radiogenomics.datasets.load_lgg_radiogenomics():\n\n{doc}"
    return counts, features, labels, prov, (str(desc) if desc else None)


def _load_inputs(args: argparse.Namespace):
    """counts, features, labels, provenance, bundled?, caveat"""
    if args.counts is None:
        if args.labels is not None or args.features is not None:
            raise ValueError("--labels/--features need --counts (or give none of them for the "
                             "bundled cohort)")
        counts, features, labels, prov, caveat = _bundled()
        return counts, features, labels, prov, True, caveat
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
    return counts, features, labels, "\n".join(prov), False, None


# ---------------------------------------------------------------------- run
def build_plan(args: argparse.Namespace) -> dict[str, Any]:
    """Load and check every input and every sub-run; nothing is fitted here."""
    import pandas as pd

    from radiogenomics._validation import _show, as_count_frame, check_same_ids
    from radiogenomics.evaluation import RepeatedSplitBenchmark
    from radiogenomics.evaluation._methods import PAPER_METHODS, _canonical

    if args.n_repeats < 1:
        raise ValueError(f"--n-repeats must be at least 1; got {args.n_repeats}")
    if args.jobs == 0 or args.jobs < -1:
        raise ValueError(f"--jobs must be a positive number (or -1 for all cores); got {args.jobs}")
    genes = _ints(args.n_genes, "--n-genes")
    counts, features, labels, prov, bundled, caveat = _load_inputs(args)
    counts = as_count_frame(counts, "counts")
    labels = labels.copy()
    labels.index = labels.index.astype(str)
    counts.index = counts.index.astype(str)
    if features is not None:
        features = features.copy()
        features.index = features.index.astype(str)
        check_same_ids(counts.index, features.index, "counts", "features")
        features = features.loc[counts.index]
    check_same_ids(counts.index, labels.index, "counts", "labels")
    labels = labels.loc[counts.index]

    strat = args.stratify_by if args.stratify_by is not None else ("sex" if bundled else None)
    if strat is not None and strat.lower() == "none":
        strat = None
    if strat is not None and strat not in labels.columns:
        raise ValueError(f"--stratify-by column {strat!r} not in the labels; available: "
                         f"{_show(labels.columns, 20)}")
    if args.target:
        targets = [t.strip() for t in args.target.split(",") if t.strip()]
    elif bundled:
        targets = list(DEFAULT_TARGETS)
    else:
        targets = [c for c in labels.columns if c != strat]
    missing = [t for t in targets if t not in labels.columns]
    if missing:
        raise ValueError(f"target column(s) {_show(missing)} not in the labels; available: "
                         f"{_show(labels.columns, 20)}")
    if not targets:
        raise ValueError("no target column to predict")
    if args.methods:
        names = [m.strip() for m in args.methods.split(",") if m.strip()]
        methods = [(_canonical(m) or m) for m in names]
    else:
        methods = list(PAPER_METHODS)
    sweep_method = SWEEP_METHOD if SWEEP_METHOD in methods else methods[0]
    from radiogenomics.evaluation._methods import make_method, param_keys, resolve_methods

    estimators = resolve_methods({m: make_method(m) for m in methods})
    imputed = []
    if features is not None and features.isna().to_numpy().any():
        # missing ratios (a zero denominator) are imputed inside each training split by the
        # estimators that offer it; the engine never fills them itself
        for name, est in estimators.items():
            keys = [k for k in param_keys(est, "impute") if est.get_params()[k] is None]
            if keys:
                est.set_params(**{k: "median" for k in keys})
                imputed.append(name)
        if imputed:
            logger.info("features have missing values: impute='median' (within training splits) "
                        "for %s", ", ".join(imputed))

    runs = []  # (section, target, bench, y, stratify)
    for t in targets:
        y = labels[t]
        keep = y.notna()
        if strat is not None:
            keep &= labels[strat].notna()
        if not keep.all():
            logger.warning("target %s: %d samples without a label%s are left out", t,
                           int((~keep).sum()), f" or {strat}" if strat else "")
        y = y[keep]
        pos = args.positive if args.positive else KNOWN_POSITIVE.get(t)
        if pos is not None and pos not in set(y.astype(str)):
            if args.positive:
                raise ValueError(f"--positive {pos!r} is not a class of {t!r}: "
                                 f"{_show(sorted(y.astype(str).unique()))}")
            pos = None
        y = y.astype(str)
        common = dict(n_repeats=args.n_repeats, test_size=args.test_size, random_state=args.seed,
                      n_jobs=args.jobs, positive=pos, progress=not args.no_progress)
        X, F = counts.loc[y.index], None if features is None else features.loc[y.index]
        runs.append((t, t, RepeatedSplitBenchmark(methods=estimators, n_genes=genes[0], **common),
                     X, y, F, None))
        if len(genes) > 1:
            # the first gene number comes from the comparison run (same splits and seeds)
            runs.append((f"{t}: genes ({sweep_method})", t,
                         RepeatedSplitBenchmark(methods={sweep_method: estimators[sweep_method]},
                                                n_genes=genes[1:], **common),
                         X, y, F, None))
        if strat is not None:
            runs.append((f"{t}: by {strat}", t,
                         RepeatedSplitBenchmark(methods=estimators, n_genes=genes[0], **common), X, y, F,
                         labels.loc[y.index, strat]))
    for section, _t, bench, X, y, F, s in runs:
        try:
            bench.check(X, y, F, stratify_by=s)
        except ValueError as exc:
            raise ValueError(f"{section}: {exc}") from None
    assoc = None
    if strat is not None:
        assoc = pd.DataFrame({t: labels[t] for t in targets})
    settings = {
        "targets": targets, "methods": methods, "n_repeats": args.n_repeats,
        "test_size": args.test_size, "n_genes": genes, "sweep_method": sweep_method,
        "stratify_by": strat, "seed": args.seed, "imputed_features_for": imputed,
        "estimators": {n: repr(e) for n, e in estimators.items()}, "jobs": args.jobs, "scheduler": args.scheduler,
        "inputs": "bundled" if bundled else {"counts": str(args.counts), "labels": str(args.labels),
                                             "features": str(args.features) if args.features else None},
        "split": "stratified shuffle split per repeat, seeds from numpy SeedSequence(seed)",
    }
    return {"runs": runs, "assoc": assoc, "strat": strat, "labels": labels,
            "settings": settings, "provenance": prov, "caveat": caveat, "targets": targets,
            "reference": SWEEP_METHOD if SWEEP_METHOD in methods else methods[0]}


def _with_first_gene(main, sweep, method):
    """The sweep result with the comparison run's rows of ``method`` (first gene number) added."""
    from radiogenomics.evaluation import BenchmarkResult

    scores = main.scores[main.scores["method"] == method]
    timings = main.timings[main.timings["method"] == method] if main.timings is not None else None
    first = BenchmarkResult(scores, main.positive, main.classes, main.split_sizes, main.splits,
                            timings, main.settings)
    out = BenchmarkResult.concat([first, sweep])
    out.settings = dict(sweep.settings, n_genes=[*main.settings["n_genes"], *sweep.settings["n_genes"]])
    return out


def run(args: argparse.Namespace) -> int:
    import contextlib

    import matplotlib

    matplotlib.use("Agg")

    from radiogenomics.evaluation import association_table, write_report
    from radiogenomics.evaluation._report import _check_target

    plan = build_plan(args)  # every check before any work
    _check_target(args.out)
    t0 = time.perf_counter()
    ctx: Any = contextlib.nullcontext()
    if args.scheduler:
        try:
            from distributed import Client
        except ImportError as exc:
            raise ValueError("--scheduler needs dask.distributed (pip install 'radiogenomics[distributed]')") from exc
        ctx = Client(args.scheduler)
    results = {}
    with ctx:
        for section, t, bench, X, y, F, s in plan["runs"]:
            logger.info("running %s", section)
            res = bench.run(X, y, F, stratify_by=s)
            if section.startswith(f"{t}: genes ("):
                res = _with_first_gene(results[t], res, plan["settings"]["sweep_method"])
            results[section] = res
    tables = {}
    if plan["assoc"] is not None:
        tables[f"Association of {plan['strat']} with the labels (chi-square with Yates, Fisher)"] = (
            association_table(plan["assoc"], plan["labels"][plan["strat"]])
        )
    elapsed = time.perf_counter() - t0
    settings = dict(plan["settings"], elapsed_seconds=round(elapsed, 1))
    write_report(results, args.out, settings, plan["provenance"], tables=tables,
                 reference=plan["reference"], caveat=plan["caveat"])
    print(summary_text(results, plan["targets"], plan["reference"], elapsed, args.out,
                       plan["caveat"]))
    return 0


def summary_text(results: dict, targets: list[str], reference: str, elapsed: float,
                 out: Path, caveat: str | None = None) -> str:
    """The closing text: per target, methods x balanced accuracy mean ± SD with the
    corrected resampled t-test (Holm) against ``reference``."""
    import numpy as np

    lines = [f"benchmark done in {elapsed:.0f} s: {len(results)} runs; report in {out}/report.html"]
    if caveat:
        lines.append(f"data: {caveat.splitlines()[0]}")
    for t in targets:
        res = results.get(t)
        if res is None or "balanced_accuracy" not in res.metrics:
            continue
        ref = reference if reference in res.methods else res.methods[0]
        mt = res.method_table("balanced_accuracy", ref)
        n = res.scores["repeat"].nunique()
        lines.append("")
        lines.append(f"{t}: balanced accuracy over {n} splits; p: corrected resampled t-test "
                     f"vs {ref}, Holm-adjusted")
        w = max(len("method"), *(len(m) for m in mt["method"]))
        lines.append(f"  {'method':<{w}}  {'mean ± SD':<15}  {'p (Holm)':>8}")
        for _, r in mt.iterrows():
            pa = r["p_adjusted"]
            p = "" if r["method"] == ref else ("NA" if not np.isfinite(pa) else
                                               "<0.001" if pa < 0.001 else f"{pa:.3f}")
            lines.append(f"  {r['method']:<{w}}  {r['mean ± SD']:<15}  {p:>8}")
    return "\n".join(lines)
