"""``imaging segment``: segment a cohort of scans with a 3D U-Net (or nnU-Net v2) model folder."""

from __future__ import annotations

import argparse
import logging
import sys

from imaging.cli._common import add_command

logger = logging.getLogger(__name__)

EXAMPLE = """\
example:
  imaging segment --images imgs/ --out seg/ --save-members
"""


def register(subparsers: argparse._SubParsersAction) -> None:
    p = add_command(
        subparsers,
        "segment",
        help="segment tumour sub-regions with a 3D U-Net (fold ensemble, mirroring TTA)",
        description=(
            "Segment every case of --images (nnU-Net naming: <case>_0000.nii.gz, _0001, ... one "
            "file per modality) into --out/<case>.nii.gz, in each input's space and header. "
            "Each case is resampled to the spacing the model was trained at and the prediction "
            "back onto the input grid. Without --model the phantom-only demo model "
            "(data/segmentation_demo) is used: it is NOT a clinical model. An nnU-Net v2 results "
            "folder (dataset.json, plans.json, fold_*) runs through nnU-Net and needs "
            "--trust-checkpoint. A failing case is reported and the cohort goes on; the exit "
            "status is 1 when every case failed. Runs on CUDA when available, CPU otherwise."
        ),
        examples=EXAMPLE,
    )
    p.add_argument("--images", required=True, help="folder of <case>_<cccc>.nii.gz channel files")
    p.add_argument("--out", required=True, help="output folder for <case>.nii.gz label maps")
    p.add_argument(
        "--model", default=None,
        help="model folder: ours (config.json + fold_<k>.pt) or an nnU-Net v2 results folder; default: demo model",
    )
    p.add_argument("--folds", default=None, help="comma-separated folds to ensemble (default all)")
    p.add_argument("--no-tta", action="store_true", help="disable mirroring test-time augmentation")
    p.add_argument("--overlap", type=float, default=0.5, help="sliding-window overlap (default 0.5)")
    p.add_argument("--device", default=None, help="torch device (default: cuda if available, else cpu)")
    p.add_argument(
        "--save-members", action="store_true",
        help="also write each fold's map to OUT/members/<case>/fold_<k>.nii.gz (input of 'imaging qc')",
    )
    p.add_argument(
        "--et-label", type=int, choices=[3, 4], default=None,
        help="BraTS enhancing-tumour label to write: 3 (BraTS 2023) or 4 (BraTS <= 2021); default: the model's",
    )
    p.add_argument(
        "--schema", default=None,
        help="nnU-Net models only: schema to map nnU-Net's label names to (default brats)",
    )
    p.add_argument(
        "--trust-checkpoint", action="store_true",
        help="allow running an nnU-Net model: nnU-Net unpickles its checkpoints (arbitrary code), "
        "so only for a model from a source you trust",
    )
    p.set_defaults(func=run)


def _is_nnunet_folder(path: object) -> bool:
    from pathlib import Path

    d = Path(str(path))
    return (
        d.is_dir()
        and not (d / "config.json").is_file()
        and (d / "dataset.json").is_file()
        and (d / "plans.json").is_file()
        and any(c.is_dir() for c in d.glob("fold_*"))
    )


def _run_nnunet(args: argparse.Namespace, folds: list[int] | None) -> int:
    from imaging.segmentation.inference import check_device
    from imaging.segmentation.nnunet import predict_nnunet

    if args.save_members:
        raise ValueError("--save-members is not available for nnU-Net models (nnU-Net fuses its folds itself)")
    dev = check_device(args.device)
    written = predict_nnunet(
        args.model, args.images, args.out, schema=args.schema or "brats", folds=folds,
        tta=not args.no_tta, device=dev, trust_checkpoint=args.trust_checkpoint,
    )
    if args.et_label is not None:
        import nibabel as nib
        import numpy as np

        from imaging._io import atomic_path
        from imaging.labels import set_et_label

        for path in written:
            img = nib.load(str(path))
            data = set_et_label(np.asanyarray(img.dataobj), args.et_label, args.schema or "brats")
            new = nib.Nifti1Image(data.astype(np.uint8), img.affine, img.header)
            with atomic_path(path, suffix=".nii.gz" if path.name.endswith(".gz") else ".nii") as tmp:
                nib.save(new, str(tmp))
    print(f"imaging segment: {len(written)} case(s) segmented with nnU-Net into {args.out}", file=sys.stderr)
    return 0


def run(args: argparse.Namespace) -> int:
    try:
        folds = None if args.folds is None else [int(f) for f in str(args.folds).split(",") if f.strip()]
    except ValueError:
        raise ValueError(f"--folds must be comma-separated integers, got {args.folds!r}") from None
    if args.model is not None and _is_nnunet_folder(args.model):
        return _run_nnunet(args, folds)
    if args.trust_checkpoint:
        logger.info("--trust-checkpoint has no effect: this model's checkpoints load with weights_only=True")
    if args.schema is not None:
        raise ValueError("--schema applies to nnU-Net models only; our model folders record their schema")
    from imaging.segmentation.inference import segment_cohort

    table = segment_cohort(
        args.images,
        args.out,
        args.model,
        folds=folds,
        tta=not args.no_tta,
        overlap=args.overlap,
        device=args.device,
        progress=args.verbose > 0,
        save_members=args.save_members,
        et_label=args.et_label,
    )
    failed = table[table["error"] != ""]
    n_ok = len(table) - len(failed)
    msg = f"imaging segment: {n_ok} of {len(table)} case(s) segmented into {args.out}, {len(failed)} failed"
    if len(failed):
        msg += f" (first: {failed.index[0]}: {failed['error'].iloc[0]})"
    print(msg, file=sys.stderr)
    return 1 if len(failed) == len(table) else 0
