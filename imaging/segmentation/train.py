"""Training API of the segmentation models, and the ``imaging train`` pipeline.

The training loop (Dice + cross-entropy on foreground-oversampled, flipped patches; k-fold;
transfer and stepwise transfer with a frozen encoder or decoder) lives in
:mod:`imaging.segmentation._training` and is re-exported here: :class:`TrainResult`,
:func:`prepare_cases`, :func:`sample_patches`, :func:`freeze_parameters`,
:func:`train_model`, :func:`fine_tune`, :func:`stepwise_transfer`, :func:`kfold_splits`,
:func:`train_folds`, :func:`load_init_weights`.

This module adds training cohorts read from folders (:func:`find_training_cases`,
:func:`load_training_cases`) and :func:`train_cohort`, which trains a model folder (one
model per fold) from scratch, by transfer or stepwise, with timing and held-out Dice
(:class:`CohortTrainResult`).
"""

from __future__ import annotations

import logging
import os
import re
from collections.abc import Sequence
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from imaging._result import Result
from imaging.segmentation._training import (
    HEAD_PREFIXES,
    TrainResult,
    _fold_init,
    fine_tune,
    freeze_parameters,
    kfold_splits,
    load_init_weights,
    prepare_cases,
    sample_patches,
    stepwise_transfer,
    train_folds,
    train_model,
)
from imaging.segmentation.models import (
    UNetConfig,
    save_model,
)

__all__ = [
    "TrainResult",
    "prepare_cases",
    "sample_patches",
    "freeze_parameters",
    "train_model",
    "fine_tune",
    "stepwise_transfer",
    "train_folds",
    "kfold_splits",
    "load_init_weights",
    "HEAD_PREFIXES",
    "find_training_cases",
    "load_training_cases",
    "train_cohort",
    "CohortTrainResult",
]

logger = logging.getLogger(__name__)


_CHANNEL_ENTRY = re.compile(r"^(?P<case>.+)_(?P<ch>\d{4})(?P<ext>\.nii(\.gz)?)?$")


def find_training_cases(
    images_dir: str | os.PathLike[str], masks_dir: str | os.PathLike[str]
) -> dict[str, tuple[list[Path], Path]]:
    """Pair ``images/<case>_<cccc>.nii[.gz]`` channels (or ``<case>_<cccc>/`` DICOM series
    folders) with ``masks/<case>.nii[.gz]``: ``{case: ([channel paths], mask path)}``.

    Raises ``ValueError`` naming cases whose channels are incomplete, or that have images
    but no mask (or a mask but no images).
    """
    images, masks = Path(images_dir), Path(masks_dir)
    for d, what in ((images, "images"), (masks, "masks")):
        if not d.is_dir():
            raise FileNotFoundError(f"{what} folder not found: {d}")
    found: dict[str, dict[int, Path]] = {}
    for p in sorted(images.iterdir()):
        m = _CHANNEL_ENTRY.match(p.name)
        if m and ((m["ext"] and p.is_file()) or (not m["ext"] and p.is_dir())):
            found.setdefault(m["case"], {})[int(m["ch"])] = p
    if not found:
        raise FileNotFoundError(
            f"{images}: no <case>_<cccc>.nii.gz images or <case>_<cccc>/ DICOM folders (nnU-Net naming)"
        )
    mask_files = {}
    for p in sorted(masks.iterdir()):
        for ext in (".nii.gz", ".nii"):
            if p.is_file() and p.name.endswith(ext):
                mask_files[p.name[: -len(ext)]] = p
    n_ch = max(len(c) for c in found.values())
    bad = [c for c, ch in found.items() if sorted(ch) != list(range(n_ch))]
    if bad:
        raise ValueError(
            f"{images}: case(s) {bad[:5]} do not have channels 0..{n_ch - 1} "
            f"(e.g. {bad[0]!r} has {sorted(found[bad[0]])})"
        )
    no_mask = sorted(set(found) - set(mask_files))
    no_image = sorted(set(mask_files) - set(found))
    if no_mask:
        raise ValueError(f"{masks}: no mask <case>.nii.gz for case(s) {no_mask[:5]}" + (" ..." if len(no_mask) > 5 else ""))
    if no_image:
        raise ValueError(f"{images}: no images for mask(s) {no_image[:5]}" + (" ..." if len(no_image) > 5 else ""))
    return {c: ([found[c][i] for i in range(n_ch)], mask_files[c]) for c in sorted(found)}


def load_training_cases(
    pairs: dict[str, tuple[list[Path], Path]],
    *,
    spacing: Sequence[float] | None = None,
) -> tuple[list[tuple[np.ndarray, np.ndarray]], list[tuple[float, float, float]]]:
    """Load ``(images (C, X, Y, Z) float32, label map (X, Y, Z))`` per case, canonical RAS+.

    Channels are read with :func:`imaging.io.read_image` (NIfTI or DICOM folder); every
    channel and the mask must share one grid (``ValueError`` naming the files otherwise).
    With ``spacing`` (mm) every case is resampled to it (images linear, masks nearest).

    Returns the cases and each case's original spacing.
    """
    from imaging.io import load_label_map, read_image, voxel_spacing

    cases, spacings = [], []
    for case, (paths, mask_path) in pairs.items():
        chans = [read_image(p) for p in paths]
        lab_img = load_label_map(mask_path)
        lab = np.asarray(lab_img.dataobj)
        for p, (data, aff, _) in zip(paths, chans, strict=True):
            if data.shape != lab.shape or not np.allclose(aff, lab_img.affine, atol=1e-3):
                raise ValueError(
                    f"case {case}: {p.name} and {mask_path.name} are not on one grid "
                    f"(shapes {data.shape} vs {lab.shape}); resample one onto the other first"
                )
        sp = voxel_spacing(lab_img)
        images = np.stack([c[0] for c in chans])
        if spacing is not None:  # the resampling of inference (SimpleITK, same grid rule)
            from imaging.segmentation.inference import resample_to_spacing

            if not np.allclose(sp, spacing, rtol=1e-6):
                images = resample_to_spacing(images, sp, spacing)
                lab = resample_to_spacing(lab, sp, spacing, nearest=True)
        cases.append((images.astype(np.float32, copy=False), lab))
        spacings.append(sp)
    return cases, spacings


@dataclass(repr=False)
class CohortTrainResult(Result):
    """A trained model folder (:func:`train_cohort`).

    ``summary()`` is one row per fold and stage; ``to_frame()`` the loss history (one row
    per logged iteration); ``save("x.csv")`` writes the summary, ``save(folder)`` the
    ``training_log.csv``, ``timing.csv``, ``validation.csv`` and ``summary.csv`` (the
    model itself is already in ``model_dir``).

    Attributes
    ----------
    model_dir : Path
    config : UNetConfig
    history : DataFrame
        ``fold, stage, iteration, loss, lr`` for every logged iteration.
    timing : DataFrame
        One row per fold and stage: ``epochs``, ``iterations``, ``seconds``,
        ``seconds_per_epoch``, ``frozen``.
    validation : DataFrame
        One row per held-out case (k >= 2): ``fold``, ``case``, Dice per schema region.
    """

    model_dir: Path
    config: UNetConfig
    history: pd.DataFrame
    timing: pd.DataFrame
    validation: pd.DataFrame

    def summary(self) -> pd.DataFrame:
        """Per stage: mean seconds per epoch and final loss; mean validation Dice per region."""
        last = self.history.groupby(["fold", "stage"], sort=False)["loss"].last().rename("final_loss")
        out = self.timing.set_index(["fold", "stage"]).join(last)
        if len(self.validation):
            dice = self.validation.drop(columns=["case"]).groupby("fold").mean()
            dice.columns = [f"val_dice_{c}" for c in dice.columns]
            out = out.join(dice, on="fold")
        return out

    def to_frame(self) -> pd.DataFrame:
        """The loss history (a copy): fold, stage, iteration, loss, lr."""
        return self.history.copy()

    def _header(self) -> dict[str, Any]:
        return {"model_dir": str(self.model_dir), "folds": int(self.timing["fold"].nunique()),
                "validated_cases": len(self.validation)}

    def _save_folder(self, path: Path) -> Path:
        from imaging._io import atomic_dir

        with atomic_dir(path) as tmp:
            self.history.to_csv(tmp / "training_log.csv", index=False)
            self.timing.to_csv(tmp / "timing.csv", index=False)
            self.validation.to_csv(tmp / "validation.csv", index=False)
            self.summary().to_csv(tmp / "summary.csv")
            for p in tmp.iterdir():
                p.chmod(0o644)
            tmp.chmod(0o755)
        return path

    def plot(self, ax: Any = None) -> Any:
        """Loss curves, one line per fold and stage."""
        ax = self._axes(ax)
        offset = {}
        for (fold, stage), g in self.history.groupby(["fold", "stage"], sort=False):
            start = offset.get(fold, 0)
            ax.plot(g["iteration"] + start, g["loss"], label=f"fold {fold} {stage}")
            offset[fold] = start + int(g["iteration"].max())
        ax.set_xlabel("iteration")
        ax.set_ylabel("Dice + CE loss")
        ax.legend(fontsize="small")
        return ax


def _record_spacing(config: UNetConfig, spacing: Sequence[float]) -> None:
    value = [float(s) for s in spacing]
    if any(f.name == "spacing" for f in fields(config)):  # a config field, when models.py has one
        config.spacing = tuple(value)  # type: ignore[attr-defined]
    else:
        config.extra["spacing_mm"] = value


def train_cohort(
    cases: Sequence[tuple[np.ndarray, np.ndarray]],
    config: UNetConfig,
    model_dir: str | os.PathLike[str],
    *,
    k: int = 1,
    epochs: int = 50,
    iterations_per_epoch: int = 50,
    init: Any = None,
    freeze: str | None = None,
    frozen_only: bool = False,
    freeze_epochs: int | None = None,
    learning_rate: float = 3e-3,
    transfer_learning_rate: float = 1e-3,
    batch_size: int = 2,
    case_ids: Sequence[str] | None = None,
    spacing: Sequence[float] | None = None,
    validate: bool = True,
    random_state: int = 0,
    device: Any = None,
    progress: bool = False,
    overwrite: bool = False,
) -> CohortTrainResult:
    """Train a model folder (one model per fold) from scratch, by transfer, or stepwise.

    Stages per fold:

    * no ``init``: ``epochs`` from random weights (``learning_rate``);
    * ``init`` without ``freeze``: transfer — ``epochs`` of fine-tuning every weight
      (``transfer_learning_rate``);
    * ``init`` with ``freeze`` (seed 003's stepwise schedule): the transfer stage, then
      ``freeze_epochs`` (default ``epochs``) with the encoder or decoder frozen at half the
      transfer learning rate; ``frozen_only=True`` runs the frozen stage alone.

    An epoch is ``iterations_per_epoch`` optimiser steps of ``batch_size`` patches. With
    ``k >= 2`` fold ``i`` trains on the other folds' cases (:func:`kfold_splits`) and, with
    ``validate``, its held-out cases are segmented (no TTA) and scored by Dice per region.
    ``init`` is a model folder (fold ``i`` starts from its ``fold_<i>.pt``, or its first
    fold) or a ``.pt`` state dict; a different number of classes re-initialises the output
    head (:func:`load_init_weights`).

    The folder (``config.json``, ``fold_<i>.pt``, ``training_log.csv``, ``timing.csv``,
    ``validation.csv``, ``training.json``) is built in a temporary sibling and moved into
    place when complete; an existing non-empty ``model_dir`` needs ``overwrite=True``.
    """
    import json
    import time

    from imaging._io import atomic_dir, atomic_path
    from imaging.labels import region_masks
    from imaging.metrics import dice
    from imaging.segmentation.inference import segment_array
    from imaging.segmentation.models import classes_to_labels

    out = Path(model_dir)
    if out.exists() and not out.is_dir():
        raise ValueError(f"{out}: exists and is not a folder")
    if out.is_dir() and any(out.iterdir()) and not overwrite:
        raise ValueError(f"{out}: output folder exists and is not empty (use overwrite / --overwrite)")
    if init is not None and isinstance(init, str | os.PathLike) and Path(init).resolve() == out.resolve():
        raise ValueError(f"{out}: the output folder cannot be the --init model folder")
    if epochs < 1 or iterations_per_epoch < 1:
        raise ValueError(f"epochs and iterations_per_epoch must be >= 1, got {epochs}, {iterations_per_epoch}")
    if freeze is not None and freeze not in ("encoder", "decoder"):
        raise ValueError(f"freeze must be 'encoder' or 'decoder', got {freeze!r}")
    if freeze is not None and init is None:
        raise ValueError("freezing the encoder or decoder needs starting weights (init / --init)")
    if frozen_only and freeze is None:
        raise ValueError("frozen_only needs freeze='encoder' or 'decoder'")
    f_epochs = int(freeze_epochs or epochs)
    if init is None:
        stages = [("scratch", None, int(epochs), learning_rate)]
    elif freeze is None:
        stages = [("transfer", None, int(epochs), transfer_learning_rate)]
    elif frozen_only:
        stages = [(f"frozen-{freeze}", freeze, f_epochs, transfer_learning_rate)]
    else:
        stages = [("transfer", None, int(epochs), transfer_learning_rate),
                  (f"frozen-{freeze}", freeze, f_epochs, transfer_learning_rate / 2)]
    ids = [str(c) for c in case_ids] if case_ids is not None else [f"case_{i}" for i in range(len(cases))]
    if len(ids) != len(cases):
        raise ValueError(f"{len(ids)} case ids for {len(cases)} cases")
    prepared = prepare_cases(cases, config)
    if spacing is not None:
        _record_spacing(config, spacing)
    splits = [(np.arange(len(prepared)), np.array([], dtype=int))] if k == 1 else kfold_splits(len(prepared), k, random_state)
    history, timing, validation = [], [], []
    import monai.losses  # noqa: F401  (imported before the clock starts: one-off cost)
    import torch  # noqa: F401

    with atomic_dir(out) as tmp:
        for fold, (tr, va) in enumerate(splits):
            data = [prepared[j] for j in tr]
            start: Any = _fold_init(init, fold) if init is not None else None
            for name, frz, n_ep, lr in stages:
                t0 = time.perf_counter()
                res = train_model(
                    data, config, iterations=n_ep * int(iterations_per_epoch), batch_size=batch_size,
                    learning_rate=lr, init=start, freeze=frz, random_state=random_state + fold,
                    device=device, prepared=True, progress=progress,
                    log_every=max(1, int(iterations_per_epoch)),
                )
                secs = time.perf_counter() - t0
                logger.info("fold %d %s: %d epochs in %.1f s (%.2f s/epoch)", fold, name, n_ep, secs, secs / n_ep)
                history.append(res.history.assign(fold=fold, stage=name))
                timing.append({"fold": fold, "stage": name, "epochs": n_ep,
                               "iterations": n_ep * int(iterations_per_epoch), "seconds": secs,
                               "seconds_per_epoch": secs / n_ep, "frozen": frz or ""})
                start = res.model
            save_model(start, config, tmp, folds=[fold])
            if validate and len(va):
                for j in va:
                    img, cls = prepared[j]
                    pred = segment_array(img, [start], config, tta=False, normalize=False, device=device)
                    pm = region_masks(pred, config.schema)
                    rm = region_masks(classes_to_labels(cls, config), config.schema)
                    validation.append({"fold": fold, "case": ids[j], **{r: dice(pm[r], rm[r]) for r in rm}})
        hist = pd.concat(history, ignore_index=True)[["fold", "stage", "iteration", "loss", "lr"]]
        timing_df = pd.DataFrame(timing)
        val_df = pd.DataFrame(validation)
        hist.to_csv(tmp / "training_log.csv", index=False)
        timing_df.to_csv(tmp / "timing.csv", index=False)
        if len(val_df):
            val_df.to_csv(tmp / "validation.csv", index=False)
        meta = {
            "k": int(k), "stages": [s[0] for s in stages], "epochs": int(epochs), "freeze_epochs": f_epochs,
            "iterations_per_epoch": int(iterations_per_epoch), "batch_size": int(batch_size),
            "init": None if init is None else str(init), "cases": ids,
            "folds": [{"train": [ids[j] for j in tr], "val": [ids[j] for j in va]} for tr, va in splits],
            "random_state": int(random_state),
        }
        with atomic_path(tmp / "training.json") as t:
            t.write_text(json.dumps(meta, indent=2) + "\n")
        for p in tmp.iterdir():
            p.chmod(0o644)
        tmp.chmod(0o755)
    return CohortTrainResult(out, config, hist, timing_df, val_df)
