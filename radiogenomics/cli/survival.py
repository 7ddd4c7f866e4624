"""``radiogenomics survival``: Kaplan–Meier + log-rank by group, optional stratified Cox.

Writes into ``--out`` (atomically, the folder appears only when complete):

- ``km.png``, ``km.svg``: Kaplan–Meier curves with the numbers at risk;
- ``km_medians.csv``: per group n, events, expected events, median (95% CI), log-rank test;
- ``km_curves.csv``: the Kaplan–Meier tables (R ``summary(survfit, censored = TRUE)``);
- with ``--strata`` or ``--covariates``: ``cox.csv`` (coefficients, HR, CI), ``cox_tests.csv``
  (likelihood-ratio test, concordance) and ``cox_forest.png``/``.svg``.
"""

from __future__ import annotations

import argparse
import logging
from pathlib import Path

from . import add_command

logger = logging.getLogger(__name__)


def _parse_reference(items: list[str] | None) -> dict[str, str]:
    ref: dict[str, str] = {}
    for item in items or []:
        for part in item.split(","):
            if not part.strip():
                continue
            if "=" not in part:
                raise ValueError(f"--reference expects COLUMN=LEVEL, got {part!r}")
            col, level = part.split("=", 1)
            ref[col.strip()] = level.strip()
    return ref


def register(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
    p = add_command(
        subparsers, "survival",
        help="Kaplan-Meier, log-rank and (stratified) Cox on a CSV table",
        description="Kaplan-Meier curves by group with log-rank test and median survival; "
        "with --strata/--covariates also a Cox model (lifelines) with likelihood-ratio test.",
        example="radiogenomics survival --data lgg.csv --duration os_months --event os_event "
        "--group IDH --strata sex --out survival",
    )
    p.add_argument("--data", required=True, type=Path, help="CSV table, one row per patient")
    p.add_argument("--duration", required=True, help="column with follow-up time")
    p.add_argument("--event", required=True, help="column with the event indicator (1 = event)")
    p.add_argument("--group", required=True, help="column defining the Kaplan-Meier groups")
    p.add_argument("--max-groups", type=int, default=12,
                   help="refuse a --group column with more levels than this (default 12): a "
                   "continuous or id column would draw one curve per value")
    p.add_argument("--strata", default=None, help="stratification column(s) for Cox, comma-separated")
    p.add_argument("--covariates", default=None,
                   help="Cox covariates, comma-separated (default: the --group column)")
    p.add_argument("--reference", action="append", metavar="COL=LEVEL",
                   help="reference level of a categorical column, e.g. IDH=WT (repeatable)")
    p.add_argument("--sep", default=",", help="CSV separator (default ',')")
    p.add_argument("--out", required=True, type=Path, help="output folder")
    p.set_defaults(func=run)
    return p


def run(args: argparse.Namespace) -> int:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import pandas as pd

    from radiogenomics._io import atomic_dir
    from radiogenomics.survival import compare_survival, stratified_cox

    if not args.data.is_file():
        what = "is a directory, not a file" if args.data.is_dir() else "not found"
        raise FileNotFoundError(f"--data file {what}: {args.data}")
    try:
        df = pd.read_csv(args.data, sep=args.sep)
    except (UnicodeDecodeError, pd.errors.ParserError, pd.errors.EmptyDataError) as exc:
        raise ValueError(f"cannot read --data {args.data} as a CSV table: {exc}") from None
    strata = [s.strip() for s in args.strata.split(",") if s.strip()] if args.strata else []
    covs = ([c.strip() for c in args.covariates.split(",") if c.strip()]
            if args.covariates else [])
    needed = [args.duration, args.event, args.group, *strata, *covs]
    missing = [c for c in dict.fromkeys(needed) if c not in df.columns]
    if missing:
        raise ValueError(
            f"column(s) not found in {args.data}: {', '.join(missing)}; "
            f"available: {', '.join(map(str, df.columns))}"
        )
    n_levels = int(df[args.group].nunique(dropna=True))
    if n_levels > args.max_groups:
        shown = ", ".join(map(str, sorted(map(str, df[args.group].dropna().unique()))[:5]))
        raise ValueError(
            f"--group column {args.group!r} has {n_levels} levels ({shown}, ...), more than "
            f"--max-groups {args.max_groups}: it looks continuous or like an id; bin it into "
            "groups first, or raise --max-groups"
        )
    ref = _parse_reference(args.reference)
    unknown = [c for c in ref if c not in (args.group, *covs)]
    if unknown:
        raise ValueError(f"--reference given for {', '.join(unknown)}, which is neither the "
                         f"--group column nor a --covariates column")
    for col, level in ref.items():
        seen = sorted(map(str, df[col].dropna().unique()))
        if level not in seen:
            raise ValueError(f"--reference {col}={level}: level {level!r} not found in column "
                             f"{col!r} (levels: {', '.join(seen[:20])})")
        df[col] = df[col].where(df[col].isna(), df[col].astype(str))
    levels = None
    if args.group in ref:
        others = sorted(v for v in df[args.group].dropna().unique() if v != ref[args.group])
        levels = [ref[args.group], *others]
    km = compare_survival(df, args.duration, args.event, args.group, levels=levels)
    cox = None
    if strata or covs:
        covs = covs or [args.group]
        cref = {k: v for k, v in ref.items() if k in covs}
        cox = stratified_cox(df, args.duration, args.event, covs, strata or None, reference=cref)

    with atomic_dir(args.out) as tmp:
        ax = km.plot()
        for ext in ("png", "svg"):
            ax.figure.savefig(tmp / f"km.{ext}", dpi=150, bbox_inches="tight")
        plt.close(ax.figure)
        km.summary().to_csv(tmp / "km_medians.csv")
        km.km_tables().to_csv(tmp / "km_curves.csv", index=False)
        if cox is not None:
            cox.summary().to_csv(tmp / "cox.csv")
            cox.tests().to_csv(tmp / "cox_tests.csv", index=False)
            ax = cox.plot()
            for ext in ("png", "svg"):
                ax.figure.savefig(tmp / f"cox_forest.{ext}", dpi=150, bbox_inches="tight")
            plt.close(ax.figure)
    logger.info("log-rank chi2 = %.4g (df %d), p = %.3g; results in %s",
                km.test_statistic, km.df, km.p_value, args.out)
    print(f"log-rank chi2 = {km.test_statistic:.4g} on {km.df} df, p = {km.p_value:.3g}"
          + (f"; Cox LRT = {cox.lr_statistic:.4g}, p = {cox.lr_p_value:.3g}" if cox else "")
          + f"; written to {args.out}")
    return 0
