"""``imaging evaluate``: per-case, per-region metrics, agreement and an HTML report."""

from __future__ import annotations

import argparse
import logging

from imaging.cli._common import add_command

logger = logging.getLogger(__name__)

EXAMPLE = """\
examples:
  imaging evaluate --pred seg/ --truth expert1/ --out eval/
  imaging evaluate --pred seg/ --truth expert1/ expert2/ --schema paediatric --out eval/

writes eval/per_case.csv, summary.csv, agreement_pct.csv, agreement_ml.csv, volumes.csv,
dice.png, bland_altman_<i>.png and report.html.
"""


def register(subparsers: argparse._SubParsersAction) -> None:
    p = add_command(
        subparsers,
        "evaluate",
        help="Dice, HD95, sensitivity, volume agreement (Bland–Altman, ICC) vs expert masks",
        description=(
            "Compare the <case>.nii.gz label maps of --pred with those of one or more --truth "
            "folders (same case ids, same grids): per case and region Dice, HD95 (mm), "
            "sensitivity and relative volume difference; the cohort mean ± SD and median; "
            "Bland–Altman limits, correlations and ICC(2,1)/ICC(3,1) of the sub-region volume "
            "percentages (of WT) and volumes; figures and an HTML page. The output folder is "
            "written only when complete."
        ),
        examples=EXAMPLE,
    )
    p.add_argument("--pred", required=True, help="folder of predicted <case>.nii.gz label maps")
    p.add_argument("--truth", "--ref", dest="truth", nargs="+", required=True,
                   help="reference folder(s), e.g. one per expert")
    p.add_argument("--out", required=True, help="output folder")
    p.add_argument("--schema", default="brats", help="label schema: brats, paediatric or a .json/.yaml file")
    p.add_argument("--empty-hd", type=float, default=373.13,
                   help="HD95 (mm) when one mask of a region is empty (default 373.13, BraTS; 'inf' allowed)")
    p.add_argument("--lenient", action="store_true", help="ignore unknown label values instead of failing")
    p.add_argument("--overwrite", action="store_true", help="replace a non-empty --out folder")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from pathlib import Path

    from imaging.evaluation import evaluate_cohort
    from imaging.labels import get_schema

    schema = get_schema(args.schema)
    out = Path(args.out)
    if out.exists() and not out.is_dir():
        raise ValueError(f"{out}: exists and is not a folder")
    if out.is_dir() and any(out.iterdir()) and not args.overwrite:
        raise ValueError(f"{out}: output folder exists and is not empty (use --overwrite)")
    result = evaluate_cohort(args.pred, args.truth, schema, empty_hd=args.empty_hd, strict=not args.lenient)
    result.save(out, overwrite=args.overwrite)
    s = result.summary()
    dice = s[s["metric"] == "dice"].set_index(["reference", "region"])["mean"].round(3)
    logger.info("mean Dice: %s", dice.to_dict())
    logger.info("wrote %s", out / "report.html")
    return 0
