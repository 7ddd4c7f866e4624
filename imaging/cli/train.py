"""``imaging train``: train a 3D U-Net model folder (k folds, transfer, stepwise freezing)."""

from __future__ import annotations

import argparse
import logging

from imaging.cli._common import add_command

logger = logging.getLogger(__name__)

EXAMPLE = """\
examples:
  # from scratch, 5-fold ensemble
  imaging train --images data/images --masks data/masks --out models/brats --folds 5 --epochs 100
  # seed 003's stepwise transfer: BraTS model -> paediatric schema (new output head),
  # then fine-tune again with the encoder frozen
  imaging train --images ped/images --masks ped/masks --schema paediatric --out models/ped \\
      --init models/brats --freeze encoder --folds 5 --epochs 50 --freeze-epochs 25
  # the trained folder segments new scans
  imaging segment --images new/images --out new/masks --model models/ped

images: <case>_0000.nii.gz, <case>_0001.nii.gz, ... (one file, or one DICOM series folder
<case>_0000/, per modality); masks: <case>.nii.gz with the schema's label values.
"""


def _triple(kind: type) -> object:
    def parse(text: str) -> tuple:
        try:
            parts = [kind(p) for p in text.replace("x", ",").split(",") if p.strip()]
        except ValueError:
            parts = []
        if len(parts) == 1:
            parts *= 3
        if len(parts) != 3 or min(parts) <= 0:
            raise argparse.ArgumentTypeError(f"expected N or A,B,C (> 0), got {text!r}")
        return tuple(parts)

    return parse


def register(subparsers: argparse._SubParsersAction) -> None:
    p = add_command(
        subparsers,
        "train",
        help="train a 3D U-Net model folder (k-fold ensemble, transfer learning, frozen fine-tuning)",
        description=(
            "Train a MONAI DynUNet on --images/--masks and write a model folder (config.json, "
            "fold_<k>.pt, training_log.csv, timing.csv, validation.csv, training.json) that "
            "'imaging segment --model' loads. Without --init: from scratch. With --init MODEL_DIR: "
            "transfer learning (the output head is re-initialised when the schema has another "
            "number of classes). With --init and --freeze encoder|decoder: seed 003's stepwise "
            "schedule, a transfer stage then a stage with that part frozen (--frozen-only: the "
            "frozen stage alone). With --folds K >= 2 one model per fold, each validated (Dice) "
            "on its held-out cases. An epoch is --iterations-per-epoch optimiser steps. Runs on "
            "CUDA when available. The folder is written only when training completes."
        ),
        examples=EXAMPLE,
    )
    p.add_argument("--images", required=True, help="folder of <case>_<cccc>.nii.gz (or DICOM <case>_<cccc>/)")
    p.add_argument("--masks", required=True, help="folder of <case>.nii.gz label maps")
    p.add_argument("--out", required=True, help="model folder to write")
    p.add_argument("--schema", default=None,
                   help="label schema (brats, paediatric, file); default brats, or the --init model's")
    p.add_argument("--folds", type=int, default=1, help="K-fold ensemble (default 1: one model on all cases)")
    p.add_argument("--epochs", type=int, default=50, help="epochs of the first stage (default 50)")
    p.add_argument("--iterations-per-epoch", type=int, default=50, help="optimiser steps per epoch (default 50)")
    p.add_argument("--init", default=None, help="model folder (or .pt state dict) to start from")
    p.add_argument("--freeze", choices=["encoder", "decoder"], default=None,
                   help="after the transfer stage, fine-tune again with this part frozen (needs --init)")
    p.add_argument("--freeze-epochs", type=int, default=None, help="epochs of the frozen stage (default --epochs)")
    p.add_argument("--frozen-only", action="store_true", help="run only the frozen stage")
    p.add_argument("--spacing", type=_triple(float), default=None,
                   help="resample every case to this spacing in mm before training (S or SX,SY,SZ)")
    p.add_argument("--channels", default=None, help="comma-separated modality names (default T1,T1c,T2,FLAIR for 4)")
    p.add_argument("--filters", default="16,32,64,128", help="feature maps per level (default 16,32,64,128)")
    p.add_argument("--patch-size", type=_triple(int), default=(64, 64, 64), help="training patch (default 64)")
    p.add_argument("--norm", choices=["instance", "batch"], default="instance", help="normalisation layers")
    p.add_argument("--batch-size", type=int, default=2, help="patches per step (default 2)")
    p.add_argument("--lr", type=float, default=3e-3, help="learning rate from scratch (default 3e-3)")
    p.add_argument("--transfer-lr", type=float, default=1e-3, help="learning rate of the transfer stage (default 1e-3)")
    p.add_argument("--no-validation", action="store_true", help="skip the held-out Dice of each fold")
    p.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    p.add_argument("--device", default=None, help="torch device (default: cuda if available, else cpu)")
    p.add_argument("--overwrite", action="store_true", help="replace a non-empty --out folder")
    p.set_defaults(func=run)


def _device(name: str | None) -> str | None:
    if name is None:
        return None
    import torch

    if name.startswith("cuda") and not torch.cuda.is_available():
        raise ValueError(f"--device {name}: CUDA is not available in this torch build/machine")
    try:
        torch.device(name)
    except RuntimeError as exc:
        raise ValueError(f"--device {name}: {exc}") from None
    return name


def run(args: argparse.Namespace) -> int:
    from pathlib import Path

    from imaging.labels import get_schema
    from imaging.segmentation.models import UNetConfig
    from imaging.segmentation.train import find_training_cases, load_training_cases, train_cohort

    device = _device(args.device)
    out = Path(args.out)
    if out.exists() and not out.is_dir():
        raise ValueError(f"{out}: exists and is not a folder")
    if out.is_dir() and any(out.iterdir()) and not args.overwrite:
        raise ValueError(f"{out}: output folder exists and is not empty (use --overwrite)")
    if args.freeze is None and (args.frozen_only or args.freeze_epochs is not None):
        raise ValueError("--frozen-only and --freeze-epochs need --freeze encoder|decoder")
    if args.freeze is not None and args.init is None:
        raise ValueError("--freeze needs --init MODEL_DIR (the weights to fine-tune)")
    pairs = find_training_cases(args.images, args.masks)
    n_ch = len(next(iter(pairs.values()))[0])
    if args.folds < 1 or args.folds > len(pairs):
        raise ValueError(f"--folds must be between 1 and the number of cases ({len(pairs)}), got {args.folds}")
    init = None
    init_cfg = None
    if args.init is not None:
        init = Path(args.init)
        if init.is_dir():
            init_cfg = UNetConfig.load(init / "config.json")
        elif not init.is_file():
            raise FileNotFoundError(f"--init model folder or checkpoint not found: {init}")
    if init_cfg is not None:
        if init_cfg.in_channels != n_ch:
            raise ValueError(
                f"{args.images}: {n_ch} channel(s) per case, but the --init model {init} takes "
                f"{init_cfg.in_channels} {init_cfg.channel_names}"
            )
        schema = get_schema(args.schema or init_cfg.schema)
        arch = {"filters": init_cfg.filters, "kernel_size": init_cfg.kernel_size, "patch_size": init_cfg.patch_size,
                "roi_size": init_cfg.roi_size, "norm": init_cfg.norm}
        names = init_cfg.channel_names
    else:
        schema = get_schema(args.schema or "brats")
        filters = tuple(int(f) for f in str(args.filters).split(",") if f.strip())
        arch = {"filters": filters, "patch_size": args.patch_size, "norm": args.norm}
        if args.channels:
            names = tuple(c.strip() for c in args.channels.split(","))
        elif n_ch == 4:
            names = ("T1", "T1c", "T2", "FLAIR")
        else:
            names = tuple(f"ch{i}" for i in range(n_ch))
    if len(names) != n_ch:
        raise ValueError(f"--channels names {len(names)} modalities, the images have {n_ch}")
    config = UNetConfig.from_schema(
        schema, channel_names=names, description=f"imaging train ({len(pairs)} cases)", **arch
    )
    cases, spacings = load_training_cases(pairs, spacing=args.spacing)
    spacing = args.spacing
    if spacing is None:
        import numpy as np

        sp = np.asarray(spacings)
        spacing = tuple(float(s) for s in np.median(sp, axis=0))
        if np.any(np.abs(sp - spacing) > 0.1 * np.asarray(spacing)):
            logger.warning("case spacings differ by more than 10 %% (median %s mm); consider --spacing", spacing)
    result = train_cohort(
        cases, config, out, k=args.folds, epochs=args.epochs, iterations_per_epoch=args.iterations_per_epoch,
        init=init, freeze=args.freeze, frozen_only=args.frozen_only, freeze_epochs=args.freeze_epochs,
        learning_rate=args.lr, transfer_learning_rate=args.transfer_lr, batch_size=args.batch_size,
        case_ids=list(pairs), spacing=spacing, validate=not args.no_validation, random_state=args.seed,
        device=device, progress=args.verbose > 0, overwrite=args.overwrite,
    )
    t = result.timing
    for _, row in t.iterrows():
        logger.info("fold %d %s: %.2f s/epoch", row["fold"], row["stage"], row["seconds_per_epoch"])
    if len(result.validation):
        logger.info("mean held-out Dice: %s", result.validation.drop(columns=["fold", "case"]).mean().round(3).to_dict())
    logger.info("wrote model folder %s", out)
    return 0
