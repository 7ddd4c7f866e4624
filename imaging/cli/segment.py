"""``imaging segment``: segment a cohort of scans with a 3D U-Net model folder."""

from __future__ import annotations

import argparse
import logging

logger = logging.getLogger(__name__)


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "segment",
        help="segment tumour sub-regions with a 3D U-Net (fold ensemble, mirroring TTA)",
        description=(
            "Segment every case of --images (nnU-Net naming: <case>_0000.nii.gz, _0001, ... one "
            "file per modality) into --out/<case>.nii.gz, in each input's space and header. "
            "Without --model the phantom-only demo model (data/segmentation_demo) is used: "
            "it is NOT a clinical model. Runs on CUDA when available, CPU otherwise."
        ),
    )
    p.add_argument("--images", required=True, help="folder of <case>_<cccc>.nii.gz channel files")
    p.add_argument("--out", required=True, help="output folder for <case>.nii.gz label maps")
    p.add_argument("--model", default=None, help="model folder (config.json + fold_<k>.pt); default: demo model")
    p.add_argument("--folds", default=None, help="comma-separated folds to ensemble (default all)")
    p.add_argument("--no-tta", action="store_true", help="disable mirroring test-time augmentation")
    p.add_argument("--overlap", type=float, default=0.5, help="sliding-window overlap (default 0.5)")
    p.add_argument("--device", default=None, help="torch device (default: cuda if available, else cpu)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from imaging.segmentation.inference import segment_cohort

    folds = None if args.folds is None else [int(f) for f in str(args.folds).split(",") if f.strip()]
    table = segment_cohort(
        args.images,
        args.out,
        args.model,
        folds=folds,
        tta=not args.no_tta,
        overlap=args.overlap,
        device=args.device,
        progress=args.verbose > 0,
    )
    logger.info("segmented %d cases into %s", len(table), args.out)
    return 0
