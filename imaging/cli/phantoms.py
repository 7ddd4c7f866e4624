"""``imaging phantoms``: write a synthetic tumour cohort (nnU-Net layout) for tests and demos."""

from __future__ import annotations

import argparse
import logging

from imaging.cli._common import add_command

logger = logging.getLogger(__name__)

EXAMPLE = """\
example:
  imaging phantoms --out ph --n 5 --spacing 1,1,3 --shape 64,64,22
"""


def _spacing(text: str) -> tuple[float, float, float]:
    parts = [float(p) for p in text.replace("x", ",").split(",") if p.strip()]
    if len(parts) == 1:
        parts *= 3
    if len(parts) != 3 or min(parts) <= 0:
        raise argparse.ArgumentTypeError(f"spacing must be 'S' or 'SX,SY,SZ' (mm > 0), got {text!r}")
    return tuple(parts)  # type: ignore[return-value]


def _shape(text: str) -> tuple[int, int, int]:
    parts = [int(p) for p in text.replace("x", ",").split(",") if p.strip()]
    if len(parts) == 1:
        parts *= 3
    if len(parts) != 3 or min(parts) < 8:
        raise argparse.ArgumentTypeError(f"shape must be 'N' or 'X,Y,Z' (>= 8), got {text!r}")
    return tuple(parts)  # type: ignore[return-value]


def register(subparsers: argparse._SubParsersAction) -> None:
    p = add_command(
        subparsers,
        "phantoms",
        help="write a synthetic tumour phantom cohort",
        description=(
            "Write N synthetic head phantoms with multi-region tumours as NIfTI: "
            "images/<case>_0000..0003.nii.gz (T1, T1c, T2, FLAIR), masks/<case>.nii.gz, "
            "phantoms.csv (expected volumes, mL) and dataset.json. A non-empty --out is refused "
            "unless --overwrite (which replaces it once the new cohort is complete)."
        ),
        examples=EXAMPLE,
    )
    p.add_argument("--out", required=True, help="output directory")
    p.add_argument("--n", type=int, default=5, help="number of cases (default 5)")
    p.add_argument("--schema", default="brats", choices=["brats", "paediatric"])
    p.add_argument("--shape", type=_shape, default=(64, 64, 64), help="voxels: N or X,Y,Z (default 64)")
    p.add_argument("--spacing", type=_spacing, default=(1.0, 1.0, 1.0), help="mm: S or SX,SY,SZ (default 1)")
    p.add_argument("--seed", type=int, default=0, help="random seed of the first case")
    p.add_argument("--prefix", default="case", help="case id prefix (default 'case')")
    p.add_argument("--overwrite", action="store_true", help="replace a non-empty --out folder")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from imaging.phantoms import write_phantom_cohort

    manifest = write_phantom_cohort(
        args.out,
        args.n,
        shape=args.shape,
        spacing=args.spacing,
        schema=args.schema,
        random_state=args.seed,
        prefix=args.prefix,
        overwrite=args.overwrite,
    )
    logger.info("wrote %d phantoms to %s", len(manifest), args.out)
    return 0
