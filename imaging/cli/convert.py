"""``imaging convert``: a DICOM series folder to one NIfTI file (canonical RAS+)."""

from __future__ import annotations

import argparse
import logging

from imaging.cli._common import add_command

logger = logging.getLogger(__name__)

EXAMPLE = """\
examples:
  imaging convert --dicom scans/P01/FLAIR --out images/P01_0003.nii.gz
  imaging convert --dicom scans/P01 --series 5 --out P01_t1c.nii.gz   # folder with several series
"""


def register(subparsers: argparse._SubParsersAction) -> None:
    p = add_command(
        subparsers,
        "convert",
        help="convert a DICOM series folder to NIfTI",
        description=(
            "Read one DICOM series with SimpleITK (slices sorted by position, uniform slice "
            "spacing required) and write it as NIfTI in canonical RAS+ orientation with its "
            "affine and spacing. A folder with several series needs --series (UID, series "
            "number or description); the error lists them."
        ),
        examples=EXAMPLE,
    )
    p.add_argument("--dicom", required=True, help="folder holding the DICOM files of the series")
    p.add_argument("--out", required=True, help="output .nii or .nii.gz")
    p.add_argument("--series", default=None, help="series UID, number or description (when several)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from pathlib import Path

    from imaging.dicom import read_dicom_series
    from imaging.io import is_nifti, save_nifti

    if not is_nifti(args.out):
        raise ValueError(f"{args.out}: output must end in .nii or .nii.gz")
    if not Path(args.dicom).is_dir():
        raise FileNotFoundError(f"DICOM folder not found: {args.dicom}")
    data, affine, spacing = read_dicom_series(args.dicom, series=args.series)
    save_nifti(data, affine, args.out)
    logger.info("wrote %s: %s voxels, spacing %s mm", args.out, data.shape, spacing)
    return 0
