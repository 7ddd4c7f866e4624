"""Inference: normalisation, sliding windows, mirroring TTA, fold ensembles, cohorts.

Pipeline for one case (arrays in nibabel axis order (C, X, Y, Z), canonical RAS+):

1. **z-score inside the brain**: the brain mask is every voxel where any channel is
   non-zero; each channel becomes ``(x - mean) / sd`` over that mask (``sd`` floored at
   1e-8) and 0 outside it (:func:`normalize_images`).
2. **Sliding window** (MONAI ``sliding_window_inference``) with windows of
   ``config.patch_size``, 50 % overlap and Gaussian blending (``mode="gaussian"``,
   ``sigma_scale=0.125``, as nnU-Net).
3. **Mirroring test-time augmentation**: the softmax is averaged over the 8 flips of the
   three spatial axes (each prediction flipped back).
4. **Fold ensemble**: mean of the folds' softmax probabilities; the label map is the
   arg-max class mapped to ``config.class_labels``.

Files: channel ``c`` of case ``ID`` is ``ID_{c:04d}.nii.gz`` (nnU-Net naming). The output
label map ``ID.nii.gz`` is written in the *input's* voxel space — same shape, affine and
header as channel 0 (predictions made in canonical orientation are turned back) — with
nibabel, atomically. Runs on CUDA when available, CPU otherwise.
"""

from __future__ import annotations

import logging
import os
import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from imaging.segmentation.models import UNetConfig, classes_to_labels, load_model

__all__ = [
    "DEMO_MODEL_DIR",
    "normalize_images",
    "default_device",
    "predict_proba",
    "segment_array",
    "find_cases",
    "segment_case",
    "segment_cohort",
]

logger = logging.getLogger(__name__)

#: the phantom-only demo model shipped with the repository (``data/segmentation_demo``)
DEMO_MODEL_DIR = Path(__file__).resolve().parents[2] / "data" / "segmentation_demo"

_CHANNEL_RE = re.compile(r"^(?P<case>.+)_(?P<ch>\d{4})\.nii(\.gz)?$")


def normalize_images(images: np.ndarray, mask: np.ndarray | None = None) -> np.ndarray:
    """Per-channel z-score inside the brain mask; 0 outside.

    ``z_c = (x_c - mean_c) / max(sd_c, 1e-8)`` with mean and SD over the mask, which
    defaults to the voxels where any channel is non-zero (skull-stripped scans have zero
    background). An empty mask leaves the image as zeros.

    Parameters
    ----------
    images : float array (C, X, Y, Z)
    mask : bool array (X, Y, Z), optional

    Returns
    -------
    float32 array (C, X, Y, Z)
    """
    img = np.asarray(images, dtype=np.float32)
    if img.ndim != 4:
        raise ValueError(f"images must be (C, X, Y, Z), got shape {img.shape}")
    m = np.any(img != 0, axis=0) if mask is None else np.asarray(mask, dtype=bool)
    if m.shape != img.shape[1:]:
        raise ValueError(f"mask shape {m.shape} differs from image shape {img.shape[1:]}")
    out = np.zeros_like(img)
    if not m.any():
        return out
    vals = img[:, m].astype(np.float64)
    mean = vals.mean(axis=1)
    sd = np.maximum(vals.std(axis=1), 1e-8)
    out[:, m] = ((vals - mean[:, None]) / sd[:, None]).astype(np.float32)
    return out


def default_device() -> Any:
    """``torch.device("cuda")`` when a CUDA GPU is available, else CPU."""
    import torch

    return torch.device("cuda" if torch.cuda.is_available() else "cpu")


_FLIPS: tuple[tuple[int, ...], ...] = ((), (2,), (3,), (4,), (2, 3), (2, 4), (3, 4), (2, 3, 4))


def predict_proba(
    models: Sequence[Any],
    images: np.ndarray,
    config: UNetConfig,
    *,
    tta: bool = True,
    overlap: float = 0.5,
    sw_batch_size: int = 2,
    device: Any = None,
    normalize: bool = True,
    roi_size: Sequence[int] | None = None,
) -> np.ndarray:
    """Class probabilities ``(K, X, Y, Z)``: mean softmax over folds (and mirrors with TTA).

    Parameters
    ----------
    models : sequence of torch.nn.Module
        Fold models (same ``config``).
    images : float array (C, X, Y, Z), raw (``normalize=True``) or normalised.
    tta : bool
        Average over the 8 mirrorings of the spatial axes.
    overlap : float
        Sliding-window overlap (Gaussian blending).
    device : None or torch device; None = CUDA if available, else CPU.
    roi_size : sliding-window size (default ``config.window``), clipped to the image size
        rounded up to a multiple of ``2 ** (len(config.filters) - 1)``.
    """
    import torch
    from monai.inferers import sliding_window_inference

    img = np.asarray(images, dtype=np.float32)
    if img.ndim != 4 or img.shape[0] != config.in_channels:
        raise ValueError(
            f"images must be (C={config.in_channels}, X, Y, Z) for this model, got shape {img.shape}"
        )
    if not models:
        raise ValueError("no models given")
    if normalize:
        img = normalize_images(img)
    dev = default_device() if device is None else torch.device(device)
    # a window larger than the image is clipped to the image (rounded up to what the
    # network's down-samplings divide), as nnU-Net clips its patch size
    div = 2 ** (len(config.filters) - 1)
    roi = tuple(
        min(int(r), -(-n // div) * div) for r, n in zip(roi_size or config.window, img.shape[1:], strict=True)
    )
    x = torch.from_numpy(img)[None].to(dev)
    flips = _FLIPS if tta else ((),)
    acc = torch.zeros((1, config.out_channels, *img.shape[1:]), dtype=torch.float32, device=dev)
    with torch.inference_mode():
        for net in models:
            net.to(dev).eval()
            for dims in flips:
                xin = torch.flip(x, dims) if dims else x
                logits = sliding_window_inference(
                    xin,
                    roi_size=roi,
                    sw_batch_size=sw_batch_size,
                    predictor=net,
                    overlap=overlap,
                    mode="gaussian",
                    sigma_scale=0.125,
                )
                prob = torch.softmax(logits, dim=1)
                acc += torch.flip(prob, dims) if dims else prob
    acc /= len(models) * len(flips)
    return acc[0].cpu().numpy()


def segment_array(
    images: np.ndarray,
    models: Sequence[Any],
    config: UNetConfig,
    *,
    return_proba: bool = False,
    **kwargs: Any,
) -> np.ndarray | tuple[np.ndarray, np.ndarray]:
    """Label map (uint8, schema label values) of one case ``(C, X, Y, Z)``.

    Keyword arguments go to :func:`predict_proba`. With ``return_proba=True`` also return
    the ensemble probabilities ``(K, X, Y, Z)``.
    """
    proba = predict_proba(models, images, config, **kwargs)
    labels = classes_to_labels(np.argmax(proba, axis=0), config)
    return (labels, proba) if return_proba else labels


def find_cases(images_dir: str | os.PathLike[str], n_channels: int | None = None) -> dict[str, list[Path]]:
    """Cases in a folder of ``<case>_<cccc>.nii.gz`` files: ``{case: [channel paths]}``.

    Raises ``ValueError`` when a case misses channels (or has a number other than
    ``n_channels``), ``FileNotFoundError`` when the folder has no such file.
    """
    folder = Path(images_dir)
    if not folder.is_dir():
        raise FileNotFoundError(f"images folder not found: {folder}")
    found: dict[str, dict[int, Path]] = {}
    for p in sorted(folder.iterdir()):
        m = _CHANNEL_RE.match(p.name)
        if m:
            found.setdefault(m["case"], {})[int(m["ch"])] = p
    if not found:
        raise FileNotFoundError(f"{folder}: no <case>_<cccc>.nii.gz images (nnU-Net naming, e.g. case_0000.nii.gz)")
    cases = {}
    for case, chans in sorted(found.items()):
        want = n_channels if n_channels is not None else max(chans) + 1
        missing = [c for c in range(want) if c not in chans]
        extra = [c for c in chans if c >= want]
        if missing or extra:
            raise ValueError(
                f"case {case!r} in {folder}: channels {sorted(chans)} found, expected 0..{want - 1}"
                + (f" (missing {missing})" if missing else "")
                + (f" (unexpected {extra})" if extra else "")
            )
        cases[case] = [chans[c] for c in range(want)]
    return cases


def _load_channels(paths: Sequence[Path]) -> tuple[np.ndarray, Any]:
    """Canonical (C, X, Y, Z) float32 stack and the *original* nibabel image of channel 0."""
    from imaging.io import check_same_space, load_nifti

    originals = [load_nifti(p, canonical=False) for p in paths]
    for p, img in zip(paths[1:], originals[1:], strict=True):
        check_same_space(originals[0], img, names=(paths[0].name, p.name))
    canon = [load_nifti(img) for img in originals]
    data = np.stack([np.asarray(c.dataobj, dtype=np.float32) for c in canon])
    return data, originals[0]


def _to_original_space(labels_ras: np.ndarray, original: Any) -> np.ndarray:
    import nibabel as nib

    orig_ornt = nib.orientations.io_orientation(original.affine)
    ras = nib.orientations.axcodes2ornt(("R", "A", "S"))
    xform = nib.orientations.ornt_transform(ras, orig_ornt)
    return np.ascontiguousarray(nib.orientations.apply_orientation(labels_ras, xform))


def _write_like(labels: np.ndarray, original: Any, path: Path) -> Path:
    import nibabel as nib

    from imaging._io import atomic_path

    header = original.header.copy()
    img = nib.Nifti1Image(labels.astype(np.uint8), original.affine, header)
    img.set_data_dtype(np.uint8)
    img.header.set_slope_inter(1.0, 0.0)
    suffix = ".nii.gz" if path.name.endswith(".gz") else ".nii"
    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_path(path, suffix=suffix) as tmp:
        nib.save(img, str(tmp))
    return path


def segment_case(
    image_paths: Sequence[str | os.PathLike[str]],
    out_path: str | os.PathLike[str],
    models: Sequence[Any],
    config: UNetConfig,
    **kwargs: Any,
) -> Path:
    """Segment one case (one NIfTI per channel) and write its label map next to ``out_path``.

    The label map has the shape, affine and header of channel 0 (input space).
    """
    paths = [Path(p) for p in image_paths]
    if len(paths) != config.in_channels:
        raise ValueError(f"the model needs {config.in_channels} channels {config.channel_names}, got {len(paths)} files")
    data, original = _load_channels(paths)
    labels = segment_array(data, models, config, **kwargs)
    return _write_like(_to_original_space(labels, original), original, Path(out_path))


def _active_dask_client() -> Any:
    try:
        from distributed import get_client
    except ImportError:
        return None
    try:
        return get_client()
    except ValueError:
        return None


def segment_cohort(
    images_dir: str | os.PathLike[str],
    out_dir: str | os.PathLike[str],
    model_dir: str | os.PathLike[str] | None = None,
    *,
    folds: Sequence[int] | None = None,
    tta: bool = True,
    overlap: float = 0.5,
    device: Any = None,
    use_dask: bool | None = None,
    progress: bool = True,
) -> pd.DataFrame:
    """Segment every case of ``images_dir`` into ``out_dir/<case>.nii.gz``.

    Parameters
    ----------
    images_dir : folder of ``<case>_<cccc>.nii.gz`` channel files.
    out_dir : output folder (created).
    model_dir : model folder (``config.json`` + ``fold_<k>.pt``); None = the phantom-only
        demo model :data:`DEMO_MODEL_DIR`.
    folds : which folds form the ensemble (default all).
    use_dask : None = use the active ``dask.distributed`` client when there is one; True
        requires one; False runs in this process (with a tqdm progress bar).

    Returns
    -------
    pandas.DataFrame
        Indexed by case: ``output`` path and ``seconds`` per case.
    """
    import time

    from tqdm.auto import tqdm

    model_dir = Path(model_dir) if model_dir is not None else DEMO_MODEL_DIR
    config, models = load_model(model_dir, folds=folds)
    cases = find_cases(images_dir, config.in_channels)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    kwargs = {"tta": tta, "overlap": overlap, "device": device}
    client = _active_dask_client() if use_dask in (None, True) else None
    if use_dask and client is None:
        raise ValueError("use_dask=True but no dask.distributed client is active")

    def one(case: str, paths: list[Path]) -> tuple[str, str, float]:
        t0 = time.perf_counter()
        p = segment_case(paths, out / f"{case}.nii.gz", models, config, **kwargs)
        return case, str(p), time.perf_counter() - t0

    rows = []
    if client is not None:
        from distributed import as_completed

        # models travel with the function; every worker loads nothing from disk
        futures = [client.submit(one, c, p, pure=False) for c, p in cases.items()]
        for fut in tqdm(as_completed(futures), total=len(futures), disable=not progress, desc="segment"):
            rows.append(fut.result())
    else:
        for case, paths in tqdm(cases.items(), disable=not progress, desc="segment"):
            rows.append(one(case, paths))
            logger.info("segmented %s in %.1f s", case, rows[-1][2])
    return pd.DataFrame(rows, columns=["case", "output", "seconds"]).set_index("case").sort_index()
