"""``imaging longitudinal``: volume trajectories and volumetric response per scan (EASE)."""

from __future__ import annotations

import argparse
import logging

from imaging.cli._common import add_command

logger = logging.getLogger(__name__)

EXAMPLE = """\
example:
  imaging longitudinal --scans scans.csv --out table.csv --figure trajectories.png

scans.csv (mask paths relative to the CSV's folder; accepted and software_version optional):
  patient,date,mask,accepted,software_version
  P01,2021-01-10,masks/P01_t0.nii.gz,yes,1.0
  P01,2021-07-02,masks/P01_t1.nii.gz,yes,1.0
  P01,2022-01-15,masks/P01_t2.nii.gz,no,1.0
"""


def register(subparsers: argparse._SubParsersAction) -> None:
    p = add_command(
        subparsers,
        "longitudinal",
        help="tumour volume over time: change vs previous scans and nadir, PD/SD/PR/CR",
        description=(
            "Per scan: sub-region volumes (mL) and their change (mL, %) against the previous "
            "accepted scan, the one before it and the nadir. The 'response' column is PD when "
            "the volume of --region rose by >= --pd-threshold % against either of the two "
            "previous accepted scans, CR when it is <= --cr-volume mL, PR when it fell by "
            ">= --pr-threshold % against the first accepted scan, SD otherwise; empty (with "
            "the reason in 'response_reason') for rejected scans and scans without enough "
            "earlier accepted scans. Scans of one date segmented by two software versions are "
            "reference scans: version pairs whose volumes differ by more than "
            "--software-tolerance are flagged."
        ),
        examples=EXAMPLE,
    )
    p.add_argument("--scans", required=True, help="CSV with patient,date,mask[,accepted,software_version]")
    p.add_argument("--out", required=True, help="output table (.csv, .tsv or .parquet)")
    p.add_argument("--figure", help="per-patient trajectory figure (.png, .pdf, .svg)")
    p.add_argument("--schema", default="brats", help="label schema: brats, paediatric or a .json/.yaml file")
    p.add_argument("--region", default="WT", help="region deciding the response (default WT)")
    p.add_argument("--pd-threshold", type=float, default=40.0, help="%% increase for PD (default 40)")
    p.add_argument("--pr-threshold", type=float, default=65.0, help="%% decrease vs baseline for PR (default 65)")
    p.add_argument("--cr-volume", type=float, default=0.0, help="volume (mL) at or below which CR (default 0)")
    p.add_argument("--min-previous", type=int, default=1, choices=[1, 2],
                   help="earlier accepted scans needed for a category (default 1)")
    p.add_argument("--software-tolerance", type=float, default=0.25,
                   help="fraction; reference-volume difference flagging a software change (default 0.25)")
    p.add_argument("--lenient", action="store_true", help="ignore unknown label values instead of failing")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from pathlib import Path

    from imaging.longitudinal import track_volumes

    if not str(args.out).lower().endswith((".csv", ".tsv", ".parquet")):
        raise ValueError(f"{args.out}: output must end in .csv, .tsv or .parquet")
    if args.figure and Path(args.figure).suffix.lower() not in {".png", ".pdf", ".svg", ".jpg", ".jpeg"}:
        raise ValueError(f"{args.figure}: figure must end in .png, .pdf, .svg or .jpg")
    result = track_volumes(
        args.scans,
        args.schema,
        region=args.region,
        pd_threshold=args.pd_threshold,
        pr_threshold=args.pr_threshold,
        cr_volume_ml=args.cr_volume,
        min_previous=args.min_previous,
        software_tolerance=args.software_tolerance,
        strict=not args.lenient,
    )
    if args.figure:  # figure first: a failing figure leaves no table behind either
        result.save_figure(args.figure)
    result.save(args.out)
    counts = result.table["response"].replace("", "undefined").value_counts().to_dict()
    logger.info("wrote %d scans to %s (%s)", len(result.table), args.out, counts)
    return 0
