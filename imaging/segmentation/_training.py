"""Training: Dice + cross-entropy, foreground-oversampled patches, flips, k-fold, transfer.

A training case is a pair ``(images, label_map)``: ``images`` float array
``(C, X, Y, Z)`` (nibabel axis order), ``label_map`` integer array ``(X, Y, Z)`` with the
schema's label values. Images are z-score normalised inside the brain
(:func:`imaging.segmentation.inference.normalize_images`) before training, exactly as at
inference.

Patch sampling (nnU-Net style): each patch of ``config.patch_size`` is centred on a random
foreground voxel with probability ``foreground_fraction`` and on a uniformly random voxel
otherwise; images smaller than the patch are zero-padded. Augmentation: a random flip
along each spatial axis (probability 0.5 each).

Loss: ``monai.losses.DiceCELoss`` (soft Dice over all classes + cross-entropy, equal
weights) on the softmax output. Optimiser: AdamW, learning rate decayed polynomially
(``lr * (1 - t/T) ** 0.9``, as nnU-Net).

Stepwise transfer learning (pre-train on a large cohort, fine-tune on the small one, then
fine-tune again with part of the network frozen) is :func:`fine_tune` with ``init=`` a
checkpoint and ``freeze="encoder"`` or ``"decoder"`` (:func:`freeze_parameters`); frozen
parameters are excluded from the optimiser and stay bit-identical.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from imaging._result import SAVE_SUFFIXES, Result
from imaging.segmentation.models import (
    UNetConfig,
    build_model,
    labels_to_classes,
    load_state_dict,
    model_parts,
    save_model,
)

logger = logging.getLogger(__name__)


@dataclass(repr=False)
class TrainResult(Result):
    """A trained network and its loss history.

    ``summary()`` (the loss history) is also ``to_frame()``; ``save(model_dir)`` writes the
    model folder (``save("x.csv")`` the history).

    Attributes
    ----------
    model : torch.nn.Module
        The trained network (eval mode, on CPU).
    config : UNetConfig
    history : pandas.DataFrame
        One row per logged iteration: ``iteration``, ``loss``, ``lr``.
    frozen : str or None
        Which part was frozen (``"encoder"``, ``"decoder"`` or None).
    """

    model: Any
    config: UNetConfig
    history: pd.DataFrame
    frozen: str | None = None

    def summary(self) -> pd.DataFrame:
        """The loss history: iteration, loss, lr."""
        return self.history

    def _header(self) -> dict[str, Any]:
        h = self.history
        return {"iterations": int(h["iteration"].max()) if len(h) else 0,
                "final_loss": float(h["loss"].iloc[-1]) if len(h) else float("nan"),
                "frozen": self.frozen or "none"}

    def save(self, model_dir: str | os.PathLike[str], fold: int = 0) -> Path:
        """Write the model folder (``config.json``, ``fold_<fold>.pt``); a path ending in
        ``.csv``, ``.tsv``, ``.json``, ``.html`` or ``.parquet`` writes the history instead."""
        if Path(model_dir).suffix.lower() in SAVE_SUFFIXES:
            return super().save(model_dir)
        return save_model(self.model, self.config, model_dir, folds=[fold])

    def plot(self, ax: Any = None) -> Any:
        """Loss against iteration."""
        ax = self._axes(ax)
        ax.plot(self.history["iteration"], self.history["loss"])
        ax.set_xlabel("iteration")
        ax.set_ylabel("Dice + CE loss")
        return ax


def prepare_cases(
    cases: Sequence[tuple[np.ndarray, np.ndarray]], config: UNetConfig
) -> list[tuple[np.ndarray, np.ndarray]]:
    """Normalise images and map label values to class indices; check shapes."""
    from imaging.segmentation.inference import normalize_images

    out = []
    for i, (img, lab) in enumerate(cases):
        img = np.asarray(img, dtype=np.float32)
        lab = np.asarray(lab)
        if img.ndim != 4 or img.shape[0] != config.in_channels:
            raise ValueError(
                f"case {i}: images must be (C={config.in_channels}, X, Y, Z), got shape {img.shape}"
            )
        if lab.shape != img.shape[1:]:
            raise ValueError(f"case {i}: label map shape {lab.shape} differs from image shape {img.shape[1:]}")
        out.append((normalize_images(img), labels_to_classes(lab, config)))
    return out


def _crop(arr: np.ndarray, start: np.ndarray, size: Sequence[int]) -> np.ndarray:
    """Crop ``size`` voxels from ``start`` over the last three axes, zero-padding outside."""
    spatial = np.asarray(arr.shape[-3:])
    lo = np.maximum(start, 0)
    hi = np.minimum(start + np.asarray(size), spatial)
    out = np.zeros((*arr.shape[:-3], *size), dtype=arr.dtype)
    src = tuple(slice(a, b) for a, b in zip(lo, hi, strict=True))
    dst = tuple(slice(a - s, b - s) for a, b, s in zip(lo, hi, start, strict=True))
    out[(..., *dst)] = arr[(..., *src)]
    return out


def sample_patches(
    cases: Sequence[tuple[np.ndarray, np.ndarray]],
    n: int,
    patch_size: Sequence[int],
    rng: np.random.Generator,
    *,
    foreground_fraction: float = 0.33,
    flip: bool = True,
) -> tuple[np.ndarray, np.ndarray]:
    """Draw ``n`` patches ``(images (n, C, *patch), classes (n, 1, *patch))``.

    Each patch comes from a random case; with probability ``foreground_fraction`` it is
    centred on a random foreground voxel (class > 0), otherwise on a uniform voxel.
    """
    size = np.asarray(patch_size, dtype=int)
    xs, ys = [], []
    for _ in range(int(n)):
        img, lab = cases[int(rng.integers(len(cases)))]
        shape = np.asarray(lab.shape)
        centre = None
        if rng.random() < foreground_fraction:
            fg = np.flatnonzero(lab)
            if fg.size:
                centre = np.asarray(np.unravel_index(fg[int(rng.integers(fg.size))], lab.shape))
        if centre is None:
            centre = np.array([int(rng.integers(s)) for s in shape])
        # keep the patch inside the image when it fits, else centre it
        start = centre - size // 2
        start = np.where(shape >= size, np.clip(start, 0, shape - size), (shape - size) // 2)
        x = _crop(img, start, size)
        y = _crop(lab[None], start, size)
        if flip:
            for ax in range(3):
                if rng.random() < 0.5:
                    x = np.flip(x, axis=ax + 1)
                    y = np.flip(y, axis=ax + 1)
        xs.append(np.ascontiguousarray(x))
        ys.append(np.ascontiguousarray(y))
    return np.stack(xs), np.stack(ys)


def freeze_parameters(model: Any, freeze: str | None) -> list[Any]:
    """Set ``requires_grad=False`` on the encoder or decoder; return the trainable parameters.

    ``freeze`` is None (train all), ``"encoder"`` or ``"decoder"`` (:func:`model_parts`).
    """
    if freeze is None:
        for p in model.parameters():
            p.requires_grad_(True)
        return [p for p in model.parameters()]
    if freeze not in ("encoder", "decoder"):
        raise ValueError(f"freeze must be None, 'encoder' or 'decoder', got {freeze!r}")
    frozen = {id(p) for m in model_parts(model)[freeze] for p in m.parameters()}
    trainable = []
    for p in model.parameters():
        p.requires_grad_(id(p) not in frozen)
        if id(p) not in frozen:
            trainable.append(p)
    return trainable


def _device(device: Any) -> Any:
    import torch

    if device is None:
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(device)


def train_model(
    cases: Sequence[tuple[np.ndarray, np.ndarray]],
    config: UNetConfig,
    *,
    iterations: int = 500,
    batch_size: int = 2,
    learning_rate: float = 3e-3,
    weight_decay: float = 1e-5,
    foreground_fraction: float = 0.33,
    augment: bool = True,
    init: Any = None,
    freeze: str | None = None,
    random_state: int = 0,
    device: Any = None,
    log_every: int = 10,
    progress: bool = False,
    prepared: bool = False,
) -> TrainResult:
    """Train (or fine-tune) a U-Net on ``cases``.

    Parameters
    ----------
    cases : sequence of (images (C, X, Y, Z), label_map (X, Y, Z))
        Raw images and schema label maps (``prepared=True``: already normalised images
        and class-index maps, see :func:`prepare_cases`).
    config : UNetConfig
    iterations : int
        Optimiser steps, each on ``batch_size`` patches.
    init : None, path, state dict or torch.nn.Module
        Starting weights (a checkpoint ``.pt`` is read with ``weights_only=True``);
        None = random initialisation (seeded by ``random_state``).
    freeze : None, "encoder" or "decoder"
        Part of the network kept fixed (its parameters are not given to the optimiser).
    device : None, "cpu", "cuda", ...
        None = CUDA when available, else CPU.

    Returns
    -------
    TrainResult
    """
    import torch
    from monai.losses import DiceCELoss
    from tqdm.auto import tqdm

    if iterations < 1 or batch_size < 1:
        raise ValueError(f"iterations and batch_size must be >= 1, got {iterations}, {batch_size}")
    if not cases:
        raise ValueError("no training cases")
    torch.manual_seed(int(random_state))
    rng = np.random.default_rng(random_state)
    data = list(cases) if prepared else prepare_cases(cases, config)
    dev = _device(device)
    model = build_model(config)
    if init is not None:
        if isinstance(init, torch.nn.Module):
            state = init.state_dict()
        elif isinstance(init, dict):
            state = init
        else:
            state = load_state_dict(init)
        load_init_weights(model, state, source=init if isinstance(init, str | os.PathLike) else "init")
    model.to(dev).train()
    params = freeze_parameters(model, freeze)
    if freeze is not None:  # frozen normalisation layers keep their running statistics
        for m in model_parts(model)[freeze]:
            m.eval()
    opt = torch.optim.AdamW(params, lr=learning_rate, weight_decay=weight_decay)
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda t: (1 - t / iterations) ** 0.9)
    loss_fn = DiceCELoss(to_onehot_y=True, softmax=True)
    rows = []
    running = []
    for it in tqdm(range(iterations), disable=not progress, desc="train"):
        x, y = sample_patches(
            data, batch_size, config.patch_size, rng, foreground_fraction=foreground_fraction, flip=augment
        )
        xt = torch.from_numpy(x).to(dev)
        yt = torch.from_numpy(y.astype(np.int64)).to(dev)
        opt.zero_grad(set_to_none=True)
        loss = loss_fn(model(xt), yt)
        loss.backward()
        opt.step()
        sched.step()
        running.append(float(loss.detach()))
        if (it + 1) % log_every == 0 or it + 1 == iterations:
            rows.append({"iteration": it + 1, "loss": float(np.mean(running)), "lr": opt.param_groups[0]["lr"]})
            logger.info("iteration %d loss %.4f", it + 1, rows[-1]["loss"])
            running = []
    for p in model.parameters():
        p.requires_grad_(True)
    model.to("cpu").eval()
    return TrainResult(model, config, pd.DataFrame(rows), frozen=freeze)


def fine_tune(
    init: Any,
    cases: Sequence[tuple[np.ndarray, np.ndarray]],
    config: UNetConfig,
    *,
    freeze: str | None = None,
    iterations: int = 200,
    learning_rate: float = 1e-3,
    **kwargs: Any,
) -> TrainResult:
    """Fine-tune from ``init`` (checkpoint path, state dict or model), optionally frozen."""
    return train_model(
        cases, config, init=init, freeze=freeze, iterations=iterations, learning_rate=learning_rate, **kwargs
    )


def stepwise_transfer(
    init: Any,
    cases: Sequence[tuple[np.ndarray, np.ndarray]],
    config: UNetConfig,
    *,
    freeze: str = "encoder",
    iterations: Sequence[int] = (200, 100),
    learning_rates: Sequence[float] = (1e-3, 5e-4),
    k: int | None = None,
    model_dir: str | os.PathLike[str] | None = None,
    random_state: int = 0,
    **kwargs: Any,
) -> list[TrainResult] | list[list[TrainResult]]:
    """Stepwise transfer learning: fine-tune all weights, then fine-tune again frozen.

    Stage 1 starts from ``init`` (e.g. a model pre-trained on adult BraTS) and trains every
    parameter on ``cases``; stage 2 starts from stage 1 and trains with ``freeze``
    (``"encoder"`` or ``"decoder"``) fixed. When ``init`` has another number of output
    classes its output head is re-initialised (:func:`load_init_weights`).

    With ``k`` (>= 2) both stages run once per fold of :func:`kfold_splits` on that fold's
    training cases (seed 003's 5-fold ensemble); ``init`` may then be a model folder, whose
    ``fold_<i>.pt`` starts fold ``i`` (its first fold when it has fewer), and each fold's
    stage-2 model is saved as ``model_dir/fold_<i>.pt``.

    Returns
    -------
    list of TrainResult
        ``[stage1, stage2]``; with ``k``, one such list per fold.
    """
    if freeze not in ("encoder", "decoder"):
        raise ValueError(f"freeze must be 'encoder' or 'decoder', got {freeze!r}")
    prepared = prepare_cases(cases, config)

    def two_stage(start: Any, data: list[tuple[np.ndarray, np.ndarray]], seed: int) -> list[TrainResult]:
        stage1 = fine_tune(
            start, data, config, iterations=iterations[0], learning_rate=learning_rates[0], prepared=True,
            random_state=seed, **kwargs,
        )
        stage2 = fine_tune(
            stage1.model, data, config, freeze=freeze, iterations=iterations[1],
            learning_rate=learning_rates[1], prepared=True, random_state=seed, **kwargs,
        )
        return [stage1, stage2]

    if k is None:
        return two_stage(init, prepared, random_state)
    if model_dir is None:
        raise ValueError("stepwise_transfer with k folds needs model_dir to save the fold models")
    results = []
    for i, (tr, va) in enumerate(kfold_splits(len(prepared), k, random_state)):
        stages = two_stage(_fold_init(init, i), [prepared[j] for j in tr], random_state + i)
        stages[1].history.attrs["val_cases"] = va.tolist()
        save_model(stages[1].model, config, model_dir, folds=[i])
        results.append(stages)
    return results


def kfold_splits(n_cases: int, k: int = 5, random_state: int = 0) -> list[tuple[np.ndarray, np.ndarray]]:
    """Shuffled k-fold split of case indices: ``[(train_idx, val_idx), ...]``."""
    if k < 2 or k > n_cases:
        raise ValueError(f"k must be between 2 and the number of cases ({n_cases}), got {k}")
    perm = np.random.default_rng(random_state).permutation(n_cases)
    parts = np.array_split(perm, k)
    return [(np.sort(np.concatenate(parts[:i] + parts[i + 1 :])), np.sort(parts[i])) for i in range(k)]


def train_folds(
    cases: Sequence[tuple[np.ndarray, np.ndarray]],
    config: UNetConfig,
    model_dir: str | os.PathLike[str],
    *,
    k: int = 5,
    folds: Sequence[int] | None = None,
    random_state: int = 0,
    **kwargs: Any,
) -> list[TrainResult]:
    """k-fold training: one model per fold on the other folds' cases, saved as ``fold_<i>.pt``.

    ``folds`` picks which folds to train (default all ``k``). The validation indices of
    each fold are stored in ``TrainResult.history.attrs["val_cases"]``.
    """
    prepared = prepare_cases(cases, config)
    splits = kfold_splits(len(prepared), k, random_state)
    results = []
    for i in folds if folds is not None else range(k):
        tr, va = splits[i]
        res = train_model([prepared[j] for j in tr], config, prepared=True, random_state=random_state + i, **kwargs)
        res.history.attrs["val_cases"] = va.tolist()
        save_model(res.model, config, model_dir, folds=[i])
        results.append(res)
    return results


# --------------------------------------------------------------------------------------
# transfer weights, training cohorts from folders, the `imaging train` pipeline
# --------------------------------------------------------------------------------------

#: state-dict prefixes of the output head (re-initialised when the class count differs)
HEAD_PREFIXES: tuple[str, ...] = ("output_block.", "deep_supervision_heads.")


def load_init_weights(model: Any, state: dict[str, Any], *, source: Any = "init") -> list[str]:
    """Load starting weights into ``model``; re-initialise the output head if it differs.

    A checkpoint trained with another number of output classes (e.g. a 4-class BraTS model
    as the start of a 5-class paediatric model) has an output head of another shape. Its
    tensors are skipped, the head keeps the fresh initialisation of ``model``, and a log
    line says so. Any other difference (channels, filters, kernel size) is a
    ``ValueError`` naming the first differing tensor.

    Returns
    -------
    list of str
        The re-initialised state-dict keys (empty when every tensor was loaded).
    """
    own = model.state_dict()
    missing = [k for k in own if k not in state]
    unexpected = [k for k in state if k not in own]
    mismatched = [k for k in own if k in state and tuple(state[k].shape) != tuple(own[k].shape)]
    other = [k for k in [*mismatched, *missing, *unexpected] if not k.startswith(HEAD_PREFIXES)]
    if other:
        k = other[0]
        detail = (
            f"shape {tuple(state[k].shape)} in the checkpoint vs {tuple(own[k].shape)} here"
            if k in mismatched else ("missing from the checkpoint" if k in missing else "not in this model")
        )
        raise ValueError(
            f"{source}: weights do not fit this architecture ({len(other)} tensor(s) differ, e.g. "
            f"{k}: {detail}); use the init model's channels, filters and kernel size"
        )
    reinit = [k for k in own if k.startswith(HEAD_PREFIXES) and (k in missing or k in mismatched)]
    if reinit:
        w = "output_block.conv.conv.weight"
        n_old = tuple(state[w].shape)[0] if w in state else "?"
        logger.warning(
            "%s: output head has %s classes, this model %d: re-initialising the output head (%d tensors)",
            source, n_old, tuple(own[w].shape)[0], len(reinit),
        )
    model.load_state_dict({k: v for k, v in state.items() if k in own and k not in mismatched}, strict=False)
    return reinit


def _fold_init(init: Any, fold: int) -> Any:
    """A model folder's ``fold_<fold>.pt`` (its first fold when absent); anything else as is."""
    if isinstance(init, str | os.PathLike) and Path(init).is_dir():
        from imaging.segmentation.models import _fold_files

        files = dict(_fold_files(Path(init)))
        if not files:
            raise FileNotFoundError(f"{init}: no fold_<k>.pt state dicts found")
        return files.get(fold, files[min(files)])
    return init
