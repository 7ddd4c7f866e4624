"""Synthetic head phantoms with tumours and lesions of known volume.

For tests, vignettes and segmentation development. All arrays are in nibabel axis order
(x, y, z); the affine is diagonal (RAS+) with the volume centred on world (0, 0, 0), so
``affine @ (i, j, k, 1)`` gives world mm and x = left–right, y = anterior–posterior,
z = superior–inferior.

Known volumes
-------------
Every region is built from ellipsoids that share one centre and are strictly nested, so
each region's voxel count is a difference of ellipsoid lattice-point counts. Those counts are
computed analytically by :func:`ellipsoid_voxel_count` (one closed-form ``floor``/``ceil``
interval per (x, y) column, no mask is built), and returned with ``return_info=True``; the
expected volume of a region is its count times the voxel volume.

Channels
--------
Four co-registered modalities in nnU-Net channel order ``0000 T1, 0001 T1c, 0002 T2,
0003 FLAIR`` with region-dependent intensities (e.g. enhancing tumour bright on T1c, edema
bright on FLAIR/T2, cyst dark on FLAIR) plus Gaussian noise.
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from imaging.labels import get_schema

__all__ = [
    "CHANNELS",
    "phantom_affine",
    "ellipsoid_mask",
    "ellipsoid_voxel_count",
    "make_lesion_phantom",
    "make_tumour_phantom",
    "write_phantom_cohort",
]

logger = logging.getLogger(__name__)

#: channel names in nnU-Net order (file suffixes _0000 ... _0003)
CHANNELS: tuple[str, ...] = ("T1", "T1c", "T2", "FLAIR")

# mean intensity per tissue and channel (T1, T1c, T2, FLAIR), arbitrary units
_INTENSITY: dict[str, tuple[float, float, float, float]] = {
    "air": (0.0, 0.0, 0.0, 0.0),
    "skull": (0.25, 0.25, 0.15, 0.2),
    "brain": (0.60, 0.60, 0.45, 0.45),
    "ED": (0.50, 0.52, 0.85, 0.95),
    "NCR": (0.30, 0.32, 0.80, 0.55),
    "ET": (0.45, 1.00, 0.65, 0.75),
    "NET": (0.40, 0.45, 0.78, 0.85),
    "CC": (0.20, 0.22, 1.00, 0.25),
}


def phantom_affine(shape: Sequence[int], spacing: Sequence[float]) -> np.ndarray:
    """Diagonal RAS+ affine with the volume centred on world (0, 0, 0) mm."""
    sp = np.asarray(spacing, dtype=float)
    aff = np.diag([*sp, 1.0])
    aff[:3, 3] = -(np.asarray(shape, dtype=float) - 1) / 2 * sp
    return aff


def _check_geometry(shape: Sequence[int], spacing: Sequence[float]) -> tuple[tuple[int, ...], np.ndarray]:
    shape_t = tuple(int(s) for s in shape)
    sp = np.broadcast_to(np.asarray(spacing, dtype=float), (3,)).copy()
    if len(shape_t) != 3 or min(shape_t) < 8:
        raise ValueError(f"shape must be three sizes >= 8 (x, y, z), got {tuple(shape)}")
    if not np.all(np.isfinite(sp)) or np.any(sp <= 0):
        raise ValueError(f"spacing must be three positive numbers in mm, got {spacing!r}")
    return shape_t, sp


def ellipsoid_mask(
    shape: Sequence[int],
    spacing: Sequence[float],
    center_mm: Sequence[float],
    semi_axes_mm: Sequence[float],
) -> np.ndarray:
    """Voxels whose centre lies in the axis-aligned ellipsoid (world mm, centred affine).

    Voxel (i, j, k) is inside when ``sum(((x_d - c_d) / a_d)**2) <= 1`` with
    ``x = affine @ (i, j, k)`` from :func:`phantom_affine`.
    """
    shape_t, sp = _check_geometry(shape, spacing)
    aff = phantom_affine(shape_t, sp)
    grids = [
        ((np.arange(n) * sp[d] + aff[d, 3] - center_mm[d]) / semi_axes_mm[d]) ** 2
        for d, n in enumerate(shape_t)
    ]
    return (grids[0][:, None, None] + grids[1][None, :, None] + grids[2][None, None, :]) <= 1.0


def ellipsoid_voxel_count(
    shape: Sequence[int],
    spacing: Sequence[float],
    center_mm: Sequence[float],
    semi_axes_mm: Sequence[float],
) -> int:
    """Analytic number of voxels in :func:`ellipsoid_mask` — without building the mask.

    For each (x, y) column with ``r = 1 - ((x-cx)/ax)**2 - ((y-cy)/ay)**2 >= 0`` the inside
    z-indices form the interval ``[ceil((cz - az·sqrt(r) - oz)/sz), floor((cz + az·sqrt(r) -
    oz)/sz)]`` clipped to the grid (oz = z origin); the count is the sum of interval lengths.
    (A boundary voxel exactly on the surface is counted, as in the mask; a 1e-9 tolerance
    guards the floating-point ties.)
    """
    shape_t, sp = _check_geometry(shape, spacing)
    aff = phantom_affine(shape_t, sp)
    x = (np.arange(shape_t[0]) * sp[0] + aff[0, 3] - center_mm[0]) / semi_axes_mm[0]
    y = (np.arange(shape_t[1]) * sp[1] + aff[1, 3] - center_mm[1]) / semi_axes_mm[1]
    r = 1.0 - x[:, None] ** 2 - y[None, :] ** 2
    ok = r >= -1e-12
    half = semi_axes_mm[2] * np.sqrt(np.clip(r[ok], 0, None))
    lo = np.ceil((center_mm[2] - half - aff[2, 3]) / sp[2] - 1e-9)
    hi = np.floor((center_mm[2] + half - aff[2, 3]) / sp[2] + 1e-9)
    lo = np.clip(lo, 0, None)
    hi = np.clip(hi, None, shape_t[2] - 1)
    return int(np.clip(hi - lo + 1, 0, None).sum())


def _add_noise_and_write(
    tissues: np.ndarray, names: list[str], rng: np.random.Generator, noise: float
) -> np.ndarray:
    table = np.array([_INTENSITY[n] for n in names], dtype=np.float32)  # tissue x channel
    images = np.moveaxis(table[tissues], -1, 0)  # channel, x, y, z
    images = images + rng.normal(0.0, noise, size=images.shape).astype(np.float32)
    return np.clip(images, 0, None).astype(np.float32) * 1000.0


def _head(shape: tuple[int, ...], sp: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    fov = np.asarray(shape) * sp
    skull_axes = 0.46 * fov
    brain_axes = 0.42 * fov
    skull = ellipsoid_mask(shape, sp, (0, 0, 0), skull_axes)
    brain = ellipsoid_mask(shape, sp, (0, 0, 0), brain_axes)
    return skull, brain, brain_axes


def make_lesion_phantom(
    shape: Sequence[int] = (64, 64, 64),
    spacing: Sequence[float] = (1.0, 1.0, 1.0),
    *,
    semi_axes_mm: Sequence[float] = (10.0, 10.0, 10.0),
    center_mm: Sequence[float] = (0.0, 0.0, 0.0),
    irregular: bool = False,
    random_state: int | None = 0,
) -> tuple[np.ndarray, np.ndarray]:
    """A binary lesion mask (e.g. a haemorrhage) in a ``shape`` grid: ``(mask uint8, affine)``.

    ``irregular=False`` gives the axis-aligned ellipsoid (known count,
    :func:`ellipsoid_voxel_count`); ``irregular=True`` adds 3–5 random satellite ellipsoids
    on its surface (lobulated, irregular margin; volume not analytic).
    """
    shape_t, sp = _check_geometry(shape, spacing)
    mask = ellipsoid_mask(shape_t, sp, center_mm, semi_axes_mm)
    if irregular:
        rng = np.random.default_rng(random_state)
        a = np.asarray(semi_axes_mm, float)
        for _ in range(int(rng.integers(3, 6))):
            d = rng.normal(size=3)
            d /= np.linalg.norm(d)
            c = np.asarray(center_mm, float) + 0.85 * a * d
            mask |= ellipsoid_mask(shape_t, sp, c, a * rng.uniform(0.3, 0.55, size=3))
    return mask.astype(np.uint8), phantom_affine(shape_t, sp)


def _tumour_layout(schema_name: str, brain_axes: np.ndarray, rng: np.random.Generator, centre: np.ndarray):
    """Nested ellipsoids (outer to inner) and the region each shell receives."""
    base = float(np.min(brain_axes))
    wt = base * rng.uniform(0.42, 0.5) * rng.uniform(0.85, 1.15, size=3)
    if schema_name == "brats":
        fracs = [1.0, rng.uniform(0.55, 0.65), rng.uniform(0.3, 0.38)]
        regions = ["ED", "ET", "NCR"]  # shell order: WT\TC = ED, TC\NCR = ET, innermost NCR
    else:
        fracs = [1.0, rng.uniform(0.6, 0.68), rng.uniform(0.42, 0.5), rng.uniform(0.22, 0.3)]
        regions = ["ED", "ET", "NET", "CC"]
    return [wt * f for f in fracs], regions


def make_tumour_phantom(
    shape: Sequence[int] = (64, 64, 64),
    spacing: Sequence[float] = (1.0, 1.0, 1.0),
    schema: str = "brats",
    random_state: int | None = 0,
    *,
    noise: float = 0.05,
    et_label: int = 3,
    return_info: bool = False,
) -> tuple[np.ndarray, np.ndarray, np.ndarray] | tuple[np.ndarray, np.ndarray, np.ndarray, dict[str, Any]]:
    """A synthetic head with a multi-region tumour and four MR channels.

    Parameters
    ----------
    shape : (X, Y, Z) voxels, default (64, 64, 64)
    spacing : (sx, sy, sz) mm, default 1 mm isotropic; anisotropic spacing is supported (the
        anatomy is defined in mm, so it keeps its physical size).
    schema : {"brats", "paediatric"}
        ``brats``: nested edema (2) ⊃ enhancing rim (``et_label``) ⊃ necrotic core (1).
        ``paediatric``: edema (4) ⊃ enhancing (1) ⊃ non-enhancing (2) ⊃ cyst (3).
    random_state : int or None
        Tumour centre, size and noise.
    noise : float
        Gaussian noise SD relative to the unit tissue intensities (images are scaled ×1000).
    et_label : {3, 4}
        BraTS enhancing label: 3 (BraTS 2023, consecutive labels as nnU-Net needs) or 4.
    return_info : bool
        Also return a dict with ``voxel_counts`` (analytic, per base region),
        ``expected_volumes_ml`` (per base and composite region), ``center_mm``,
        ``semi_axes_mm`` (outer to inner ellipsoids) and ``channels``.

    Returns
    -------
    images : float32 array (4, X, Y, Z)
        Channels T1, T1c, T2, FLAIR (:data:`CHANNELS`), nibabel axis order.
    label_map : uint8 array (X, Y, Z)
    affine : (4, 4) array
        Diagonal RAS+ affine (:func:`phantom_affine`).
    info : dict, only with ``return_info=True``

    Examples
    --------
    >>> images, labels, affine = make_tumour_phantom((32, 32, 32), random_state=1)
    >>> images.shape, labels.dtype.name, sorted(set(labels.ravel().tolist()))
    ((4, 32, 32, 32), 'uint8', [0, 1, 2, 3])
    """
    shape_t, sp = _check_geometry(shape, spacing)
    sch = get_schema(schema)
    if sch.name not in {"brats", "paediatric"}:
        raise ValueError(f"phantoms are made for the 'brats' and 'paediatric' schemas, not {sch.name!r}")
    if sch.name == "brats" and et_label not in (3, 4):
        raise ValueError(f"et_label must be 3 or 4 for BraTS, got {et_label}")
    rng = np.random.default_rng(random_state)
    skull, brain, brain_axes = _head(shape_t, sp)
    # tumour centre inside the brain, away from its edge
    centre = brain_axes * rng.uniform(-0.15, 0.15, size=3)
    axes_list, regions = _tumour_layout(sch.name, brain_axes, rng, centre)
    label_of = {"ED": 2, "ET": et_label, "NCR": 1} if sch.name == "brats" else {"ET": 1, "NET": 2, "CC": 3, "ED": 4}

    tissue_names = ["air", "skull", "brain", *regions]
    tissues = np.zeros(shape_t, dtype=np.uint8)
    tissues[skull] = 1
    tissues[brain] = 2
    labels = np.zeros(shape_t, dtype=np.uint8)
    counts_nested = []
    for t, (axes, region) in enumerate(zip(axes_list, regions, strict=True)):
        m = ellipsoid_mask(shape_t, sp, centre, axes)
        tissues[m] = 3 + t
        labels[m] = label_of[region]
        counts_nested.append(ellipsoid_voxel_count(shape_t, sp, centre, axes))
    images = _add_noise_and_write(tissues, tissue_names, rng, noise)
    affine = phantom_affine(shape_t, sp)
    if not return_info:
        return images, labels, affine
    voxel_counts = {}
    for i, region in enumerate(regions):
        inner = counts_nested[i + 1] if i + 1 < len(regions) else 0
        voxel_counts[region] = counts_nested[i] - inner
    voxel_ml = float(np.prod(sp)) / 1000.0
    expected = {r: voxel_counts[r] * voxel_ml for r in sch.regions}
    for comp, parts in sch.composites.items():
        expected[comp] = sum(voxel_counts[p] for p in parts) * voxel_ml
    info = {
        "voxel_counts": {r: voxel_counts[r] for r in sch.regions},
        "expected_volumes_ml": expected,
        "center_mm": centre,
        "semi_axes_mm": axes_list,
        "shells": regions,
        "channels": CHANNELS,
        "labels": {r: label_of[r] for r in sch.regions},
    }
    return images, labels, affine, info


def write_phantom_cohort(
    out_dir: str | os.PathLike[str],
    n_cases: int,
    *,
    shape: Sequence[int] = (64, 64, 64),
    spacing: Sequence[float] = (1.0, 1.0, 1.0),
    schema: str = "brats",
    random_state: int = 0,
    prefix: str = "case",
    noise: float = 0.05,
    overwrite: bool = False,
) -> pd.DataFrame:
    """Write ``n_cases`` tumour phantoms as NIfTI in nnU-Net layout and return a manifest.

    A non-empty ``out_dir`` is refused (old cases would sit beside a ``dataset.json`` that
    does not list them) unless ``overwrite=True``, which replaces the whole folder once the
    new cohort is complete. The cohort is built in a temporary sibling folder and swapped in.

    Layout (every file written atomically)::

        out_dir/
          images/<case>_0000.nii.gz   T1
          images/<case>_0001.nii.gz   T1c
          images/<case>_0002.nii.gz   T2
          images/<case>_0003.nii.gz   FLAIR
          masks/<case>.nii.gz         label map (uint8)
          phantoms.csv                manifest: case, mask path (relative), expected volumes (mL)
          dataset.json                nnU-Net-style channel and label names

    Case ids are ``f"{prefix}_{i:03d}"``; case ``i`` uses seed ``random_state + i``.

    Returns
    -------
    pandas.DataFrame
        Indexed by case: ``mask`` path (relative to ``out_dir``) and the expected volume
        (mL) of every region.
    """
    from imaging._io import atomic_dir

    if int(n_cases) < 1:
        raise ValueError(f"n_cases must be >= 1, got {n_cases}")
    final = Path(out_dir)
    if final.exists() and not final.is_dir():
        raise ValueError(f"{final} exists and is not a folder")
    if final.is_dir() and any(final.iterdir()) and not overwrite:
        raise ValueError(
            f"{final} is not empty ({len(list(final.iterdir()))} entries); choose an empty folder or "
            "pass overwrite=True (--overwrite) to replace it"
        )
    with atomic_dir(final) as out:
        manifest = _write_cohort(out, n_cases, shape, spacing, schema, random_state, prefix, noise)
    return manifest


def _write_cohort(
    out: Path, n_cases: int, shape: Sequence[int], spacing: Sequence[float], schema: str,
    random_state: int, prefix: str, noise: float,
) -> pd.DataFrame:
    from imaging._io import atomic_path
    from imaging.io import save_nifti

    out.chmod(0o755)  # mkdtemp makes 0700 folders; a cohort is meant to be shared
    (out / "images").mkdir(parents=True, exist_ok=True)
    (out / "masks").mkdir(parents=True, exist_ok=True)
    sch = get_schema(schema)
    rows = []
    labels_json: dict[str, int] = {"background": 0}
    for i in range(int(n_cases)):
        case = f"{prefix}_{i:03d}"
        images, labels, affine, info = make_tumour_phantom(
            shape, spacing, sch.name, random_state + i, noise=noise, return_info=True
        )
        for c in range(images.shape[0]):
            save_nifti(images[c], affine, out / "images" / f"{case}_{c:04d}.nii.gz")
        mask_path = save_nifti(labels, affine, out / "masks" / f"{case}.nii.gz")
        labels_json.update(info["labels"])
        rows.append({"case": case, "mask": str(mask_path.relative_to(out)), **info["expected_volumes_ml"]})
        logger.info("wrote phantom %s", case)
    manifest = pd.DataFrame(rows).set_index("case")
    with atomic_path(out / "phantoms.csv") as tmp:
        manifest.to_csv(tmp)
    dataset = {
        "channel_names": {str(i): n for i, n in enumerate(CHANNELS)},
        "labels": dict(sorted(labels_json.items(), key=lambda kv: kv[1])),
        "numTraining": int(n_cases),
        "file_ending": ".nii.gz",
        "schema": sch.name,
        "spacing_mm": [float(s) for s in np.broadcast_to(spacing, (3,))],
    }
    with atomic_path(out / "dataset.json") as tmp:
        tmp.write_text(json.dumps(dataset, indent=2) + "\n")
    return manifest
