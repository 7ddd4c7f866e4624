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

Spacing: a model records the voxel spacing it was trained at (``config.spacing``, mm, RAS
axis order). Each case (reoriented to canonical RAS+) is resampled to that spacing with
SimpleITK (linear, per channel; same first-voxel centre, ``round(n · s / t)`` voxels per
axis), predicted there, and the ensemble *probabilities* are resampled back onto the input's
canonical grid (linear) before the arg-max, so the label map has exactly the input's voxels.
A model without a recorded spacing runs at the input's spacing and logs a warning.

Files: channel ``c`` of case ``ID`` is ``ID_{c:04d}.nii.gz`` (nnU-Net naming). The output
label map ``ID.nii.gz`` is written in the *input's* voxel space — same shape, affine and
header as channel 0 (predictions made in canonical orientation are turned back) — with
nibabel, atomically. With ``save_members`` each fold's own label map is written too, as
``members/ID/fold_<k>.nii.gz`` (for :func:`imaging.qc.ensemble_qc`). Runs on CUDA when
available, CPU otherwise.

Cohorts: :func:`segment_cohort` records a failing case in the ``error`` column of its table
and goes on with the next one.
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
    "resample_to_spacing",
    "check_device",
    "segment_case",
    "segment_cohort",
]

logger = logging.getLogger(__name__)

#: the phantom-only demo model shipped with the repository (``data/segmentation_demo``)
DEMO_MODEL_DIR = Path(__file__).resolve().parents[2] / "data" / "segmentation_demo"

_CHANNEL_RE = re.compile(r"^(?P<case>.+)_(?P<ch>\d{4})\.nii(\.gz)?$")
_DICOM_DIR_RE = re.compile(r"^(?P<case>.+)_(?P<ch>\d{4})$")  # <case>_<cccc>/: a DICOM series folder


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


def check_device(device: Any) -> Any:
    """A usable ``torch.device`` for ``device`` (None = CUDA if available, else CPU).

    Raises ``ValueError`` (one line) for an unknown device string or a CUDA device on a torch
    build or machine without CUDA.
    """
    import torch

    if device is None:
        return default_device()
    try:
        dev = torch.device(device)
    except (RuntimeError, TypeError) as exc:
        raise ValueError(f"unknown torch device {device!r} ({exc}); use cpu or cuda") from None
    if dev.type == "cuda":
        if not torch.cuda.is_available():
            build = "a CPU-only torch build" if torch.version.cuda is None else "no visible CUDA GPU"
            raise ValueError(
                f"device {device!r} requested but this torch {torch.__version__} has {build}; "
                "use --device cpu (or install a CUDA build of torch)"
            )
        if dev.index is not None and dev.index >= torch.cuda.device_count():
            raise ValueError(f"device {device!r}: only {torch.cuda.device_count()} CUDA device(s) visible")
    elif dev.type not in ("cpu", "mps"):
        raise ValueError(f"device {device!r} is not supported; use cpu or cuda")
    return dev


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
    dev = check_device(device)
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

    The array is predicted on its own grid: it must already be at the model's training
    spacing (``config.spacing``); :func:`segment_case` resamples files for you.
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
        m = _CHANNEL_RE.match(p.name) or (_DICOM_DIR_RE.match(p.name) if p.is_dir() else None)
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


def _load_channels(paths: Sequence[Path]) -> tuple[np.ndarray, Any, tuple[float, float, float]]:
    """Canonical (C, X, Y, Z) float32 stack, the *original* nibabel image of channel 0 and
    the canonical spacing (mm)."""
    from imaging.io import check_same_space, load_nifti, voxel_spacing

    originals = [_load_original(p) if Path(p).is_dir() else load_nifti(p, canonical=False) for p in paths]
    for p, img in zip(paths[1:], originals[1:], strict=True):
        check_same_space(originals[0], img, names=(paths[0].name, p.name))
    canon = [load_nifti(img) for img in originals]
    data = np.stack([np.asarray(c.dataobj, dtype=np.float32) for c in canon])
    return data, originals[0], voxel_spacing(canon[0])


def _load_original(path: Path) -> Any:
    """A DICOM series folder (:mod:`imaging.dicom`) as an in-memory NIfTI in its stored orientation."""
    import nibabel as nib

    from imaging.dicom import read_dicom_series

    data, affine, _ = read_dicom_series(path, canonical=False)
    return nib.Nifti1Image(np.asarray(data, dtype=np.float32), affine)


def resample_to_spacing(
    arr: np.ndarray,
    spacing: Sequence[float],
    target: Sequence[float],
    *,
    size: Sequence[int] | None = None,
    nearest: bool = False,
) -> np.ndarray:
    """Resample ``(C, X, Y, Z)`` (or ``(X, Y, Z)``) from ``spacing`` to ``target`` mm with SimpleITK.

    Both grids share the first voxel centre and the axes; the output has ``size`` voxels
    (default ``round(n · s / t)`` per axis, the same extent). Linear interpolation (nearest
    with ``nearest=True``), per channel; outside the input it is 0. Returns float32 (or the
    input dtype with ``nearest``).
    """
    import SimpleITK as sitk

    a = np.asarray(arr)
    single = a.ndim == 3
    stack = a[None] if single else a
    sp = [float(v) for v in spacing]
    tg = [float(v) for v in target]
    out_size = [max(1, int(round(n * s / t))) for n, s, t in zip(stack.shape[1:], sp, tg, strict=True)] \
        if size is None else [int(v) for v in size]
    out = []
    for ch in stack:
        img = sitk.GetImageFromArray(np.ascontiguousarray(np.transpose(ch, (2, 1, 0))).astype(
            ch.dtype if nearest else np.float32, copy=False))
        img.SetSpacing(tuple(sp))
        res = sitk.Resample(
            img, out_size, sitk.Transform(), sitk.sitkNearestNeighbor if nearest else sitk.sitkLinear,
            img.GetOrigin(), tuple(tg), img.GetDirection(), 0, img.GetPixelID(),
        )
        out.append(np.transpose(sitk.GetArrayFromImage(res), (2, 1, 0)))
    result = np.stack(out)
    return result[0] if single else result


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


def _spacing_differs(a: Sequence[float], b: Sequence[float]) -> bool:
    return not np.allclose(np.asarray(a, float), np.asarray(b, float), rtol=1e-3, atol=1e-4)


def segment_case(
    image_paths: Sequence[str | os.PathLike[str]],
    out_path: str | os.PathLike[str],
    models: Sequence[Any],
    config: UNetConfig,
    *,
    save_members: str | os.PathLike[str] | None = None,
    et_label: int | None = None,
    **kwargs: Any,
) -> Path:
    """Segment one case (one NIfTI per channel) and write its label map to ``out_path``.

    The label map has the shape, affine and header of channel 0 (input space). The case is
    resampled to ``config.spacing`` for the network and the probabilities back (module
    docstring).

    Parameters
    ----------
    save_members : folder, optional
        Also write each fold's own label map as ``<save_members>/fold_<k>.nii.gz``.
    et_label : {3, 4}, optional
        Write BraTS enhancing tumour as 3 (2023) or 4 (<= 2021); default: the model's label.
    **kwargs
        :func:`predict_proba` options (``tta``, ``overlap``, ``device``, ...).
    """
    paths = [Path(p) for p in image_paths]
    if len(paths) != config.in_channels:
        raise ValueError(f"the model needs {config.in_channels} channels {config.channel_names}, got {len(paths)} files")
    data, original, spacing = _load_channels(paths)
    target = config.spacing
    resample = target is not None and _spacing_differs(spacing, target)
    if target is None:
        logger.warning(
            "%s: the model records no training spacing; predicting at the input's %s mm",
            paths[0].name, " x ".join(f"{v:g}" for v in spacing),
        )
    net_in = resample_to_spacing(data, spacing, target) if resample else data

    def back(proba: np.ndarray) -> np.ndarray:
        return resample_to_spacing(proba, target, spacing, size=data.shape[1:]) if resample else proba

    def to_labels(proba: np.ndarray) -> np.ndarray:
        lab = classes_to_labels(np.argmax(proba, axis=0), config)
        if et_label is not None:
            from imaging.labels import set_et_label

            lab = set_et_label(lab, et_label, config.schema)
        return _to_original_space(lab, original)

    if save_members is None:
        proba = back(predict_proba(models, net_in, config, **kwargs))
    else:
        per_fold = [predict_proba([m], net_in, config, **kwargs) for m in models]
        proba = back(np.mean(per_fold, axis=0))
        folder = Path(save_members)
        for k, pf in enumerate(per_fold):
            name = getattr(models[k], "fold_name", f"fold_{k}")
            _write_like(to_labels(back(pf)), original, folder / f"{name}.nii.gz")
    return _write_like(to_labels(proba), original, Path(out_path))


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
    save_members: bool = False,
    et_label: int | None = None,
) -> pd.DataFrame:
    """Segment every case of ``images_dir`` into ``out_dir/<case>.nii.gz``.

    Parameters
    ----------
    images_dir : folder of ``<case>_<cccc>.nii.gz`` channel files.
    out_dir : output folder (created).
    model_dir : model folder (``config.json`` + ``fold_<k>.pt``); None = the phantom-only
        demo model :data:`DEMO_MODEL_DIR`.
    folds : which folds form the ensemble (default all).
    device : torch device (None: CUDA when available); checked up front (:func:`check_device`).
    use_dask : None = use the active ``dask.distributed`` client when there is one; True
        requires one; False runs in this process (with a tqdm progress bar).
    save_members : also write each fold's label map to ``out_dir/members/<case>/fold_<k>.nii.gz``
        and the model's schema to ``out_dir/members/members.json`` (input of ``imaging qc``).
    et_label : 3 or 4 to write BraTS enhancing tumour in the 2023 or <= 2021 convention.

    Returns
    -------
    pandas.DataFrame
        Indexed by case: ``output`` path (empty for a failed case), ``seconds`` and
        ``error`` (empty for a good case). A failing case never stops the cohort; problems
        with the model or the device (which would fail every case) raise ``ValueError`` /
        ``FileNotFoundError`` before any case is read.
    """
    import json
    import time

    from tqdm.auto import tqdm

    from imaging._io import atomic_path

    if et_label is not None and et_label not in (3, 4):
        raise ValueError(f"et_label must be 3 (BraTS 2023) or 4 (BraTS <= 2021), got {et_label}")
    dev = check_device(device)
    model_dir = Path(model_dir) if model_dir is not None else DEMO_MODEL_DIR
    config, models = load_model(model_dir, folds=folds)
    if et_label is not None:
        from imaging.labels import get_schema

        if not set(get_schema(config.schema).regions.get("ET", ())) & {3, 4}:
            raise ValueError(f"--et-label applies to BraTS models; this model's schema is {config.schema!r}")
    if save_members and len(models) < 2:
        logger.warning("save_members with a single fold: the 'ensemble' has one member")
    cases = find_cases(images_dir, config.in_channels)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    members_root = out / "members"
    if save_members:
        members_root.mkdir(exist_ok=True)
        with atomic_path(members_root / "members.json") as tmp:
            tmp.write_text(json.dumps({
                "schema": config.schema, "model": str(model_dir),
                "members": [getattr(m, "fold_name", f"fold_{k}") for k, m in enumerate(models)],
            }, indent=2) + "\n")
    kwargs = {"tta": tta, "overlap": overlap, "device": dev, "et_label": et_label}
    client = _active_dask_client() if use_dask in (None, True) else None
    if use_dask and client is None:
        raise ValueError("use_dask=True but no dask.distributed client is active")

    def one(case: str, paths: list[Path]) -> tuple[str, str, float, str]:
        t0 = time.perf_counter()
        try:
            p = segment_case(
                paths, out / f"{case}.nii.gz", models, config,
                save_members=members_root / case if save_members else None, **kwargs,
            )
        except Exception as exc:  # a bad case is recorded, the cohort goes on
            msg = " ".join(f"{type(exc).__name__}: {exc}".split())
            return case, "", time.perf_counter() - t0, msg
        return case, str(p), time.perf_counter() - t0, ""

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
            if rows[-1][3]:
                logger.warning("case %s failed: %s", case, rows[-1][3])
            else:
                logger.info("segmented %s in %.1f s", case, rows[-1][2])
    return pd.DataFrame(rows, columns=["case", "output", "seconds", "error"]).set_index("case").sort_index()
