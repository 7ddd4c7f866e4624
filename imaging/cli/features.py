"""``imaging features``: per-patient feature table (volumes, ratios, shape, radiomics)."""

from __future__ import annotations

import argparse
import logging
import sys

from imaging.cli._common import add_command

logger = logging.getLogger(__name__)

EXAMPLE = """\
example:
  imaging features --masks masks/ --schema paediatric --morphology --out features.csv
"""


def register(subparsers: argparse._SubParsersAction) -> None:
    p = add_command(
        subparsers,
        "features",
        help="per-patient volumes, ratios, shape measures and radiomics",
        description=(
            "One row per patient from a folder of label maps: sub-region volumes (mL), the "
            "eight volume ratios and percentages of WT; optionally shape measures "
            "(--morphology), pyradiomics features (--radiomics params.yaml) and the change "
            "between an initial and a repeat scan (--pairs). A bad case is reported in the "
            "'errors' column and does not stop the cohort; the table is written atomically. "
            "Exit status 1 when every case failed."
        ),
        examples=EXAMPLE,
    )
    p.add_argument("--masks", required=True, help="directory of <case>.nii[.gz] label maps")
    p.add_argument("--images", help="directory of images (<case>.nii.gz, <case>_0000.nii.gz, or a DICOM series folder <case>/ or <case>_0000/); for radiomics")
    p.add_argument(
        "--schema", default=None,
        help="label schema: brats2021 (ET=4), brats2023 (ET=3), brats (either, not both), paediatric, "
        "or a .json/.yaml file. Default: told from each map's values, and a map whose values fit "
        "more than one schema (labels 1-4 fit both adult and paediatric) is refused",
    )
    p.add_argument("--out", required=True, help="output table (.csv, .tsv or .parquet)")
    p.add_argument("--morphology", action="store_true", help="add shape_* columns (whole lesion)")
    p.add_argument(
        "--radiomics", metavar="PARAMS", nargs="?", const="default",
        help="add pyradiomics features; optional YAML parameter file",
    )
    p.add_argument("--radiomics-region", default="WT", help="schema region for radiomics (default WT)")
    p.add_argument(
        "--isotropic", type=float, default=None, metavar="MM",
        help="resample to isotropic voxels of MM before shape measures and radiomics "
        "(recommended for thick-slice scans; without it such masks log a warning)",
    )
    p.add_argument("--channel", type=int, default=None, help="image channel for radiomics (<case>_000N)")
    p.add_argument("--pairs", help="CSV with columns patient,initial,repeat (case ids or mask paths)")
    p.add_argument("--lenient", action="store_true", help="ignore unknown label values instead of failing the case")
    p.add_argument("-j", "--n-jobs", type=int, default=1, help="patients in parallel (default 1; -1 = all cores)")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from imaging.features import cohort_features, write_table
    from imaging.labels import get_schema

    schema = None if args.schema is None else get_schema(args.schema)  # fail fast on a bad schema
    if not str(args.out).lower().endswith((".csv", ".tsv", ".parquet")):
        raise ValueError(f"{args.out}: output must end in .csv, .tsv or .parquet")
    radiomics = None
    if args.radiomics is not None:
        radiomics = True if args.radiomics == "default" else args.radiomics
        if radiomics is not True:
            from pathlib import Path

            if not Path(radiomics).is_file():
                raise FileNotFoundError(f"radiomics parameter file not found: {radiomics}")
    table = cohort_features(
        args.masks,
        images=args.images,
        schema=schema,
        morphology=args.morphology,
        radiomics=radiomics,
        radiomics_region=args.radiomics_region,
        channel=args.channel,
        pairs=args.pairs,
        strict=not args.lenient,
        n_jobs=args.n_jobs,
        progress=not args.no_progress,
        isotropic=args.isotropic,
    )
    write_table(table, args.out)
    n_bad = int((table["errors"] != "").sum())
    logger.info("wrote %d patients (%d with errors) to %s", len(table), n_bad, args.out)
    msg = f"imaging features: {len(table) - n_bad} of {len(table)} case(s) measured, {n_bad} failed; written to {args.out}"
    if n_bad:
        first = table.loc[table["errors"] != "", "errors"].iloc[0]
        msg += f" (see its 'errors' column; first: {' '.join(str(first).split())})"
    print(msg, file=sys.stderr)
    return 1 if n_bad == len(table) else 0
