"""``radiogenomics nomogram``: logistic nomogram, OR table, ROC and calibration from a CSV."""

from __future__ import annotations

import argparse
import logging

from . import add_command

logger = logging.getLogger(__name__)


def _split(s: str | None) -> list[str]:
    return [x.strip() for x in s.split(",") if x.strip()] if s else []


def register(subparsers) -> argparse.ArgumentParser:
    p = add_command(
        subparsers, "nomogram",
        help="logistic-regression nomogram (rms look), OR table, ROC (DeLong) and calibration",
        description="Fit a multivariable logistic model, select predictors (P < 0.05 by default) "
        "and write the rms-style nomogram, odds-ratio table, ROC and bootstrap calibration "
        "figures to an output directory (written atomically).",
        example="radiogenomics nomogram --data ich.csv --outcome expansion "
        "--predictors age,volume,shape --out nomogram",
    )
    p.add_argument("--data", required=True, help="CSV file, one row per patient")
    p.add_argument("--outcome", required=True, help="binary outcome column")
    p.add_argument("--predictors", required=True, help="comma-separated predictor columns")
    p.add_argument("--categorical", default="", help="comma-separated categorical predictors")
    p.add_argument("--selection", default="p<0.05", help="'p<ALPHA' backward selection or 'none'")
    p.add_argument("--out", required=True, help="output directory (replaced atomically)")
    p.add_argument("--format", default="png,svg,pdf", help="figure formats (png,svg,pdf)")
    p.add_argument("--n-bootstrap", type=int, default=200, help="bootstrap repetitions for calibration")
    p.add_argument("--seed", type=int, default=1, help="random seed for the bootstrap")
    p.add_argument("--funlabel", default=None, help="label of the probability axis")
    p.set_defaults(func=run)
    return p


def run(args) -> int:
    from pathlib import Path

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import pandas as pd

    from radiogenomics._io import atomic_dir
    from radiogenomics.nomogram import Nomogram

    path = Path(args.data)
    if not path.is_file():
        what = "is a directory, not a file" if path.is_dir() else "not found"
        raise FileNotFoundError(f"data file {what}: {path}")
    try:
        df = pd.read_csv(path)
    except (UnicodeDecodeError, pd.errors.ParserError, pd.errors.EmptyDataError) as exc:
        raise ValueError(f"cannot read --data {path} as a CSV table: {exc}") from None
    formats = _split(args.format)
    bad = [f for f in formats if f not in {"png", "svg", "pdf"}]
    if bad or not formats:
        raise ValueError(f"--format must list png, svg and/or pdf; got {args.format!r}")
    selection = None if str(args.selection).lower() in {"none", ""} else args.selection
    model = Nomogram(args.outcome, _split(args.predictors), categorical=_split(args.categorical) or None,
                     selection=selection).fit(df)
    r = model.roc()
    cal = model.calibration(n_bootstrap=args.n_bootstrap, random_state=args.seed)
    with atomic_dir(args.out) as tmp:
        model.summary().to_csv(tmp / "odds_ratios.csv")
        model.axes_.to_csv(tmp / "nomogram_axes.csv", index=False)
        model.points(df).assign(probability=model.predict_proba(df)).to_csv(tmp / "points.csv")
        r.summary().to_csv(tmp / "roc_auc.csv", index=False)
        cal.table.to_csv(tmp / "calibration.csv", index=False)
        fig = model.plot(funlabel=args.funlabel or f"Probability of {args.outcome}")
        for f in formats:
            fig.savefig(tmp / f"nomogram.{f}", dpi=300 if f == "png" else None, bbox_inches="tight")
        plt.close(fig)
        for name, obj in (("roc", r), ("calibration", cal)):
            ax = obj.plot()
            for f in formats:
                ax.figure.savefig(tmp / f"{name}.{f}", dpi=300 if f == "png" else None, bbox_inches="tight")
            plt.close(ax.figure)
    logger.info("kept predictors: %s; AUC %.3f (%.3f-%.3f); wrote %s", ", ".join(model.predictors_),
                r.auc, r.ci[0], r.ci[1], args.out)
    print(f"AUC {r.auc:.3f} (95% CI {r.ci[0]:.3f}-{r.ci[1]:.3f}); predictors: {', '.join(model.predictors_)}; "
          f"wrote {args.out}")
    return 0
