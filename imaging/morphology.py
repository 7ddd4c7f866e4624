"""Lesion (e.g. haemorrhage) shape measures and the change between two scans.

All arrays are in nibabel axis order (x, y, z) after canonical RAS+ reorientation
(:mod:`imaging.io`): x is the left–right (LR) axis, y anterior–posterior (AP), z
superior–inferior (SI). Masks may be given as a NIfTI path, a nibabel image, or an array plus
``spacing`` (mm); an array's affine defaults to ``diag(spacing)``.

Definitions
-----------
volume_ml
    Voxel count × voxel volume (mL), as :func:`imaging.volumes.subregion_volumes`.
surface_area_mm2, sr_index
    From a marching-cubes triangle mesh of the mask (cropped to its bounding box and padded
    by one empty voxel, iso-level 0.5, vertices on edge midpoints, voxel spacing applied) —
    the mesh definitions of pyradiomics ``shape``: mesh volume
    :math:`V = |\\sum_f a_f \\cdot (b_f \\times c_f)| / 6` (signed tetrahedra to the origin)
    and area :math:`A = \\sum_f |(b_f - a_f) \\times (c_f - a_f)| / 2`. The surface
    regularity index is

    .. math:: SR = \\pi^{1/3} (6V)^{2/3} / A

    which is pyradiomics ``Sphericity`` :math:`(36\\pi V^2)^{1/3}/A`; 1 for a perfect sphere,
    smaller for irregular surfaces. By default (``mesh="auto"``) the mesh is scikit-image's
    linear-time marching cubes (``"lewiner"``, ~50 times faster than pyradiomics on a 113 mL
    lesion at 0.5 mm), which gives pyradiomics' Sphericity to ~1e-9 wherever the mask has no
    ambiguous (diagonal-only) voxel contacts; a mask with such contacts is meshed with
    pyradiomics' own marching cubes (``"pyradiomics"``), whose table resolves them differently
    (up to ~1e-3 in SR). Either way SR equals pyradiomics Sphericity (tested to 1e-6 on
    ellipsoids and lobulated lesions, isotropic and anisotropic; see :func:`mesh_volume_area`). SR is computed on the canonical (RAS+)
    array: for masks with ambiguous voxel configurations pyradiomics' own value depends on the
    file's storage orientation (its mesh is not watertight).

    *Voxelised spheres stay below 1.* The mesh of a binary mask follows the voxel staircase,
    so its area exceeds the smooth sphere's: SR ≈ 0.90 at a radius of 5 voxels, ≈ 0.92 at
    20 voxels, and it levels off near 0.92 at higher resolution (while the mesh *volume*
    converges to 4/3·π·r³). A mesh of a smooth (sub-voxel) surface approaches the analytic
    1.0; see the vignette ``06_imaging_features``.
diameter_ap_mm, diameter_lr_mm, diameter_si_mm
    The haemorrhage paper's three orthogonal diameters ("Measurement of Changes in
    Hematoma"), measured on the slices of maximal lesion area: AP (y) and LR (x) on the axial
    (z) slice with the largest area, SI (z) on the coronal (y) slice with the largest area
    (the first such slice on ties). Each is the extent along its axis on that slice from the
    outer edge of the first voxel to the outer edge of the last, ``(max - min + 1) ×
    spacing``. By default they are measured on the largest connected component
    (``diameters_component="largest"``), so a small satellite does not stretch them;
    ``diameter_method="bounding_box"`` gives the extent over the whole volume instead.
axis_type
    The axis of the longest diameter (``"AP"``, ``"LR"`` or ``"SI"``), or ``"NL"`` (no
    longitudinal axis) when every pairwise ratio of the three diameters lies in
    [0.850, 1.176] (ratios rounded to 3 decimals; 1.176 ≈ 1/0.850).
centroid_x_mm, centroid_y_mm, centroid_z_mm
    Centroid of the largest connected component (26-connectivity by default) in world
    coordinates (mm, RAS+): ``affine @ mean voxel index``.

Volume, area and SR use the whole mask (all components) unless
``largest_component_only=True``; diameters use the largest component unless
``diameters_component="all"``.

Anisotropic voxels
------------------
Surface area (hence SR) of a mask with strongly anisotropic voxels (largest / smallest
spacing > :data:`ANISOTROPY_WARN`, e.g. 0.5 × 0.5 × 5 mm) follows the thick slices'
staircase and is biased low; :func:`shape_measures` logs a warning and, with
``isotropic=<mm>``, first resamples the mask to that isotropic spacing (the outer edges of
the grid are kept),
see :func:`resample_mask_isotropic` (shape-based interpolation of the signed distance map).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

__all__ = [
    "SHAPE_KEYS",
    "AXES",
    "MESH_METHODS",
    "has_ambiguous_configurations",
    "mesh_volume_area",
    "axis_type",
    "largest_component",
    "resample_mask_isotropic",
    "shape_measures",
    "compare_scans",
]

logger = logging.getLogger(__name__)

SHAPE_KEYS: tuple[str, ...] = (
    "volume_ml",
    "surface_area_mm2",
    "sr_index",
    "diameter_ap_mm",
    "diameter_lr_mm",
    "diameter_si_mm",
    "axis_type",
    "centroid_x_mm",
    "centroid_y_mm",
    "centroid_z_mm",
)
#: anatomical axis name -> array axis (canonical RAS+: x = LR, y = AP, z = SI)
AXES: dict[str, int] = {"AP": 1, "LR": 0, "SI": 2}
#: NL range of every pairwise diameter ratio
NL_RANGE: tuple[float, float] = (0.850, 1.176)
#: largest / smallest voxel spacing above which shape measures warn (and offer resampling)
ANISOTROPY_WARN: float = 2.0


def _as_mask(
    mask: Any,
    spacing: Any = None,
    label: int | Sequence[int] | None = None,
    affine: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(bool mask (x, y, z), spacing (3,), affine 4×4) from a path, image or array."""
    from imaging.io import as_label_array

    if isinstance(mask, np.ndarray):
        arr, sp, aff = as_label_array(mask, spacing, affine=affine)
    else:
        arr, sp, aff = as_label_array(mask, spacing)
    if label is None:
        fg = np.asarray(arr) > 0
    else:
        fg = np.isin(np.asarray(arr), np.atleast_1d(label))
    return fg, np.asarray(sp, dtype=float), np.asarray(aff, dtype=float)


MESH_METHODS: tuple[str, ...] = ("auto", "lewiner", "pyradiomics")


def has_ambiguous_configurations(mask: np.ndarray) -> bool:
    """True when a binary mask has voxel configurations that marching-cubes tables resolve
    differently: a 2×2 face with diagonal-only contact (two opposite corners set, the other
    two not, or the reverse), or a 2×2×2 cube whose only set (or only unset) voxels are two
    body-diagonal corners. The mask is zero-padded by one voxel, as for meshing."""
    x = np.pad(np.asarray(mask, dtype=bool), 1)
    for ax in range(3):
        y = np.moveaxis(x, ax, 0)
        p00, p11, p01, p10 = y[:, :-1, :-1], y[:, 1:, 1:], y[:, :-1, 1:], y[:, 1:, :-1]
        if np.any((p00 == p11) & (p01 == p10) & (p00 != p01)):
            return True
    c = {(i, j, k): x[i : x.shape[0] - 1 + i, j : x.shape[1] - 1 + j, k : x.shape[2] - 1 + k]
         for i in (0, 1) for j in (0, 1) for k in (0, 1)}
    total = sum(v.astype(np.uint8) for v in c.values())
    for a in ((0, 0, 0), (1, 0, 0), (0, 1, 0), (0, 0, 1)):
        b = tuple(1 - v for v in a)
        diag_set = c[a] & c[b] & (total == 2)
        diag_unset = ~c[a] & ~c[b] & (total == 6)
        if np.any(diag_set | diag_unset):
            return True
    return False


def mesh_volume_area(
    mask: np.ndarray, spacing: Sequence[float], method: str = "auto"
) -> tuple[float, float]:
    """Mesh volume (mm³) and surface area (mm²) of a binary mask (x, y, z).

    The mask is cropped to its bounding box and padded by one empty voxel (as pyradiomics'
    feature extractor does before ``shape``), then meshed by marching cubes at iso-level 0.5
    (vertices on edge midpoints, voxel spacing applied); volume and area follow the formulas
    in the module docstring.

    Parameters
    ----------
    mask : bool array (x, y, z)
    spacing : (sx, sy, sz) mm
    method : {"auto", "lewiner", "pyradiomics"}
        ``"auto"`` (default): ``"lewiner"`` unless the mask has ambiguous voxel
        configurations (:func:`has_ambiguous_configurations`), where only pyradiomics'
        own table gives pyradiomics' value; so SR equals pyradiomics Sphericity (to ~1e-9)
        for every mask, at scikit-image's speed on lesion-like masks.
        ``"pyradiomics"`` runs pyradiomics' own marching cubes
        (``radiomics.cShape``) on the array in (z, y, x) order, so SR equals pyradiomics
        Sphericity to rounding for every mask (its cost also includes pyradiomics' O(B²)
        maximum-diameter search over the B border voxels: ~0.1 s at B ≈ 5,000).
        ``"lewiner"`` uses scikit-image's topologically consistent marching cubes (linear
        time, watertight: 0.12 s against 5.5 s for pyradiomics on a 113 mL lesion at 0.5 mm); it agrees with pyradiomics to ~1e-12 on lesion-like masks but can
        differ by up to ~1e-3 in SR (7e-4 measured on lobulated phantoms) where the mask has
        ambiguous voxel configurations (diagonal-only contacts), which pyradiomics' table
        triangulates differently and not watertight.

    Returns ``(0.0, 0.0)`` for an empty mask.
    """
    if method not in MESH_METHODS:
        raise ValueError(f"mesh method must be one of {MESH_METHODS}, got {method!r}")
    m = np.asarray(mask, dtype=bool)
    if not m.any():
        return 0.0, 0.0
    idx = np.nonzero(m)
    lo = [int(i.min()) for i in idx]
    hi = [int(i.max()) + 1 for i in idx]
    crop = m[lo[0] : hi[0], lo[1] : hi[1], lo[2] : hi[2]]
    sp = np.asarray([float(s) for s in spacing], dtype=float)
    if method == "auto":
        method = "pyradiomics" if has_ambiguous_configurations(crop) else "lewiner"
    if method == "pyradiomics":
        try:
            from radiomics import cShape
        except ImportError as exc:  # pragma: no cover - pyradiomics is in the imaging extra
            raise ImportError(
                "mesh='pyradiomics' needs pyradiomics (pip install pyradiomics-bhklab); "
                "or use mesh='lewiner'"
            ) from exc
        zyx = np.ascontiguousarray(np.pad(crop, 1).transpose(2, 1, 0))
        area, volume, _ = cShape.calculate_coefficients(zyx, np.ascontiguousarray(sp[::-1]))
        return float(abs(volume)), float(area)
    from skimage.measure import marching_cubes

    padded = np.pad(crop, 1).astype(np.float32)
    verts, faces, _, _ = marching_cubes(padded, level=0.5, spacing=tuple(sp), method="lewiner")
    v = verts.astype(np.float64)
    a, b, c = v[faces[:, 0]], v[faces[:, 1]], v[faces[:, 2]]
    area = 0.5 * np.linalg.norm(np.cross(b - a, c - a), axis=1).sum()
    volume = abs(np.einsum("ij,ij->", a, np.cross(b, c))) / 6.0
    return float(volume), float(area)


def axis_type(diameters: dict[str, float] | Sequence[float]) -> str:
    """Longitudinal-axis type from the three diameters.

    Parameters
    ----------
    diameters : mapping with keys AP, LR, SI, or a sequence (AP, LR, SI)

    Returns
    -------
    str
        ``"NL"`` when every pairwise ratio ``d_i / d_j`` (rounded to 3 decimals) lies in
        [0.850, 1.176]; otherwise the axis of the largest diameter (``"AP"``, ``"LR"`` or
        ``"SI"``; ties go in that order). ``"none"`` for an empty lesion (a zero or NaN
        diameter).

    Examples
    --------
    >>> axis_type({"AP": 20.0, "LR": 17.0, "SI": 18.0})  # 17/20 = 0.850: boundary included
    'NL'
    >>> axis_type({"AP": 20.0, "LR": 16.9, "SI": 18.0})
    'AP'
    """
    if isinstance(diameters, dict):
        d = np.array([diameters["AP"], diameters["LR"], diameters["SI"]], dtype=float)
    else:
        d = np.asarray(diameters, dtype=float)
        if d.shape != (3,):
            raise ValueError(f"axis_type needs three diameters (AP, LR, SI), got {d.shape}")
    if not np.all(np.isfinite(d)) or np.any(d <= 0):
        return "none"
    ratios = np.round(d[:, None] / d[None, :], 3)
    if np.all((ratios >= NL_RANGE[0]) & (ratios <= NL_RANGE[1])):
        return "NL"
    return ("AP", "LR", "SI")[int(np.argmax(d))]


def largest_component(mask: np.ndarray, connectivity: int = 3) -> np.ndarray:
    """Largest connected component of a binary mask (``connectivity`` 1 = 6-, 2 = 18-,
    3 = 26-neighbourhood). Ties go to the component with the lowest label."""
    from scipy import ndimage

    m = np.asarray(mask, dtype=bool)
    if not m.any():
        return m
    structure = ndimage.generate_binary_structure(3, connectivity)
    lab, n = ndimage.label(m, structure=structure)
    if n == 1:
        return m
    sizes = np.bincount(lab.ravel())
    sizes[0] = 0
    return lab == int(np.argmax(sizes))


def _extent(hit: np.ndarray, sp: float) -> float:
    return float((hit[-1] - hit[0] + 1) * sp) if hit.size else float("nan")


def _diameters(m: np.ndarray, sp: np.ndarray, method: str = "max_area_slice") -> dict[str, float]:
    """AP, LR, SI diameters (mm) of mask ``m`` (x, y, z); see the module docstring."""
    if method == "bounding_box":
        out = {}
        for name, ax in AXES.items():
            other = tuple(a for a in range(3) if a != ax)
            out[name] = _extent(np.flatnonzero(m.any(axis=other)), sp[ax])
        return out
    if method != "max_area_slice":
        raise ValueError(f"diameter_method must be 'max_area_slice' or 'bounding_box', got {method!r}")
    if not m.any():
        return {"AP": float("nan"), "LR": float("nan"), "SI": float("nan")}
    z = int(np.argmax(m.sum(axis=(0, 1))))  # axial slice of largest area
    axial = m[:, :, z]
    y = int(np.argmax(m.sum(axis=(0, 2))))  # coronal slice of largest area
    coronal = m[:, y, :]
    return {
        "AP": _extent(np.flatnonzero(axial.any(axis=0)), sp[1]),
        "LR": _extent(np.flatnonzero(axial.any(axis=1)), sp[0]),
        "SI": _extent(np.flatnonzero(coronal.any(axis=0)), sp[2]),
    }


def resample_mask_isotropic(
    mask: np.ndarray, spacing: Sequence[float], iso_mm: float, affine: np.ndarray | None = None
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Resample a binary mask (x, y, z) to isotropic voxels of ``iso_mm`` with SimpleITK.

    Shape-based interpolation (Raya & Udupa, IEEE TMI 1990): the signed Euclidean distance
    to the mask's boundary (mm, scipy ``distance_transform_edt`` with the voxel spacing;
    negative inside) is resampled linearly with SimpleITK and the new mask is where it is
    negative. (Thresholding a linearly interpolated 0/1 mask at 0.5 would reproduce the thick
    slices' staircase.)
    The new grid covers the same physical extent (outer voxel edges aligned):
    ``n' = round(n · s / iso)`` voxels per axis.

    Returns
    -------
    mask : bool array, spacing : (3,) array, affine : (4, 4) array (the input affine's
        orientation with the new voxel size and origin).
    """
    import SimpleITK as sitk

    m = np.asarray(mask, dtype=bool)
    sp = np.asarray([float(v) for v in spacing], dtype=float)
    iso = float(iso_mm)
    if not np.isfinite(iso) or iso <= 0:
        raise ValueError(f"isotropic spacing must be a positive number of mm, got {iso_mm!r}")
    aff = np.diag([*sp, 1.0]) if affine is None else np.asarray(affine, dtype=float)
    from scipy import ndimage

    # shape-based interpolation: the signed distance to the mask's boundary (mm; negative
    # inside) is interpolated and the new mask is where it is negative. Thresholding a
    # linearly interpolated 0/1 mask instead would reproduce the thick slices' staircase.
    if m.any() and not m.all():
        sdf = ndimage.distance_transform_edt(~m, sampling=sp) - ndimage.distance_transform_edt(m, sampling=sp)
    else:
        sdf = np.where(m, -1.0, 1.0)
    img = sitk.GetImageFromArray(np.ascontiguousarray(sdf.transpose(2, 1, 0)).astype(np.float32))
    img.SetSpacing(tuple(sp))
    img.SetOrigin((0.0, 0.0, 0.0))
    new_size = [max(1, int(round(n * s / iso))) for n, s in zip(m.shape, sp, strict=True)]
    new_origin = tuple(-s / 2 + iso / 2 for s in sp)  # same outer edge as the input grid
    out = sitk.Resample(
        img, new_size, sitk.Transform(), sitk.sitkLinear, new_origin, (iso,) * 3,
        img.GetDirection(), float(np.max(sp)), sitk.sitkFloat32,
    )
    arr = sitk.GetArrayFromImage(out).transpose(2, 1, 0) < 0
    direction = aff[:3, :3] / sp[None, :]
    new_aff = np.eye(4)
    new_aff[:3, :3] = direction * iso
    new_aff[:3, 3] = aff[:3, 3] + direction @ np.asarray(new_origin)  # world of new voxel 0
    return arr, np.full(3, iso), new_aff


def _centroid(m: np.ndarray, aff: np.ndarray) -> np.ndarray:
    idx = np.argwhere(m)
    if idx.size == 0:
        return np.full(3, np.nan)
    mean = idx.mean(axis=0)
    return aff[:3, :3] @ mean + aff[:3, 3]


def shape_measures(
    mask: Any,
    *,
    spacing: Any = None,
    affine: np.ndarray | None = None,
    label: int | Sequence[int] | None = None,
    largest_component_only: bool = False,
    connectivity: int = 3,
    mesh: str = "auto",
    diameters_component: str = "largest",
    diameter_method: str = "max_area_slice",
    isotropic: float | None = None,
) -> pd.Series:
    """Shape measures of a lesion mask.

    Parameters
    ----------
    mask : path, nibabel image, or array (x, y, z)
        Lesion mask or label map; foreground is ``mask > 0`` or ``isin(mask, label)``.
    spacing : (sx, sy, sz) mm
        Required for an array (see :func:`imaging.io.as_label_array`).
    affine : (4, 4) array, optional
        World affine of an array (default ``diag(spacing)``); sets the centroid's frame.
    label : int or sequence of int, optional
        Label value(s) forming the lesion (e.g. ``[1, 2, 3, 4]`` for a whole tumour).
    largest_component_only : bool, default False
        Measure volume, area and SR on the largest connected component only (the centroid
        always uses it).
    connectivity : {1, 2, 3}, default 3 (26-neighbourhood)
    mesh : {"auto", "lewiner", "pyradiomics"}, default "auto"
        Marching-cubes implementation for surface area and SR (:func:`mesh_volume_area`).
    diameters_component : {"largest", "all"}, default "largest"
        Measure the diameters on the largest connected component (the paper's haematoma,
        without satellites) or on the whole mask.
    diameter_method : {"max_area_slice", "bounding_box"}, default "max_area_slice"
        The paper's slices of maximal area, or the extent over the whole volume.
    isotropic : float, optional
        Resample the mask to isotropic voxels of this size (mm) before measuring surface
        area, SR, diameters and centroid (:func:`resample_mask_isotropic`); ``volume_ml``
        stays the voxel count of the mask as given. Without it, a strongly anisotropic mask (largest
        / smallest spacing > :data:`ANISOTROPY_WARN`) logs a warning.

    Returns
    -------
    pandas.Series
        Keyed :data:`SHAPE_KEYS`: ``volume_ml, surface_area_mm2, sr_index, diameter_ap_mm,
        diameter_lr_mm, diameter_si_mm, axis_type, centroid_x_mm, centroid_y_mm,
        centroid_z_mm`` — definitions in the module docstring. An empty mask gives volume 0,
        NaN elsewhere and axis type ``"none"``.
    """
    if diameters_component not in ("largest", "all"):
        raise ValueError(f"diameters_component must be 'largest' or 'all', got {diameters_component!r}")
    fg, sp, aff = _as_mask(mask, spacing, label, affine)
    # the volume is always the voxel count of the mask as given (exact)
    counted = largest_component(fg, connectivity) if largest_component_only else fg
    volume_ml = int(counted.sum()) * float(np.prod(sp)) / 1000.0
    if isotropic is not None:
        fg, sp, aff = resample_mask_isotropic(fg, sp, float(isotropic), aff)
    elif fg.any() and float(sp.max() / sp.min()) > ANISOTROPY_WARN:
        logger.warning(
            "shape_measures: strongly anisotropic voxels (%s mm): surface area and SR follow the "
            "slices' staircase; pass isotropic=%g to resample the mask first",
            " x ".join(f"{v:g}" for v in sp), float(sp.min()),
        )
    lcc = largest_component(fg, connectivity)
    m = lcc if largest_component_only else fg
    n = int(m.sum())
    if n == 0:
        logger.warning("shape_measures: empty mask")
    mesh_v, area = mesh_volume_area(m, sp, mesh)
    sr = np.pi ** (1 / 3) * (6 * mesh_v) ** (2 / 3) / area if area > 0 else float("nan")
    d = _diameters(lcc if diameters_component == "largest" else fg, sp, diameter_method)
    c = _centroid(lcc, aff)
    values = {
        "volume_ml": volume_ml,
        "surface_area_mm2": area if n else float("nan"),
        "sr_index": sr,
        "diameter_ap_mm": d["AP"],
        "diameter_lr_mm": d["LR"],
        "diameter_si_mm": d["SI"],
        "axis_type": axis_type(d),
        "centroid_x_mm": float(c[0]),
        "centroid_y_mm": float(c[1]),
        "centroid_z_mm": float(c[2]),
    }
    return pd.Series(values, index=list(SHAPE_KEYS), dtype=object, name="shape")


def _direction_letter(vec: np.ndarray) -> str:
    ax = int(np.argmax(np.abs(vec)))
    pos, neg = (("R", "L"), ("A", "P"), ("S", "I"))[ax]
    return pos if vec[ax] > 0 else neg


def compare_scans(
    initial: Any,
    repeat: Any,
    *,
    spacing: Any = None,
    affine: np.ndarray | None = None,
    label: int | Sequence[int] | None = None,
    similar_mm: float | None = None,
    expansion_ml: float = 6.0,
    expansion_pct: float = 33.0,
    atol_mm: float = 1e-3,
    **shape_kwargs: Any,
) -> pd.Series:
    """Change of a lesion between an initial and a repeat scan (e.g. haematoma expansion).

    Both masks must be in the SAME space (same shape and affine, e.g. the repeat scan
    registered to the initial one); otherwise ``ValueError`` says so.

    Parameters
    ----------
    initial, repeat : path, nibabel image or array (x, y, z)
    spacing : (sx, sy, sz) mm, for arrays
    affine : (4, 4) array, optional
        World affine shared by two arrays (default ``diag(spacing)``).
    label : int or sequence of int, optional
        Lesion label value(s); default ``mask > 0``.
    similar_mm : float, optional
        Two diameter changes are "similar" when their absolute values differ by at most this
        much; default: the largest voxel spacing (one voxel).
    expansion_ml, expansion_pct : float
        Expansion = volume increase ≥ 6 mL **or** ≥ 33 % of the initial volume, decided on
        the voxel counts ``n0, n1`` (same grid), not on rounded volumes:
        ``(n1 - n0) · v ≥ 1000 · expansion_ml − 1e-6`` mm³ (``v`` the voxel volume in mm³;
        the 1e-6 mm³ tolerance only absorbs the rounding of ``v`` itself and is exact for
        integer ``v``) or ``100 · (n1 − n0) ≥ expansion_pct · n0`` in exact rational
        arithmetic. An exact +6.000 mL (26,001 → 32,001 voxels of 1 mm³) or +33 % change is
        an expansion.
    atol_mm : float
        Tolerance for comparing the two affines.
    **shape_kwargs
        Passed to :func:`shape_measures` (e.g. ``diameters_component``, ``mesh``).

    Returns
    -------
    pandas.Series
        ``volume_initial_ml, volume_repeat_ml, volume_change_ml`` (repeat − initial),
        ``volume_change_pct`` (100·change/initial; NaN when the initial volume is 0),
        ``expansion`` (bool), ``diameter_change_ap_mm, diameter_change_lr_mm,
        diameter_change_si_mm`` (repeat − initial), ``direction_of_change`` (the axis AP / LR /
        SI with the largest absolute diameter change, or ``"none"`` — the paper's "no
        direction change" — when the changes are similar in two directions or in all three,
        i.e. when the largest absolute change is within ``similar_mm`` of another one),
        ``center_shift_mm`` (distance between the centroids of the largest
        components), ``center_shift_x_mm, center_shift_y_mm, center_shift_z_mm`` (world,
        RAS+) and ``center_shift_direction`` (dominant direction of the movement: ``R``/``L``,
        ``A``/``P``, ``S``/``I``; ``"none"`` for no movement).
    """
    from imaging.io import as_label_array

    def load(x: Any) -> tuple[np.ndarray, tuple[float, float, float], np.ndarray]:
        if isinstance(x, np.ndarray):
            return as_label_array(x, spacing, affine=affine)
        return as_label_array(x, spacing)

    a_arr, a_sp, a_aff = load(initial)
    b_arr, b_sp, b_aff = load(repeat)
    if a_arr.shape != b_arr.shape:
        raise ValueError(
            f"initial and repeat scans must be in the same space: shapes differ "
            f"({a_arr.shape} vs {b_arr.shape}); register the repeat scan to the initial one"
        )
    if not np.allclose(a_aff, b_aff, atol=atol_mm):
        diff = float(np.max(np.abs(np.asarray(a_aff) - np.asarray(b_aff))))
        o0 = ", ".join(f"{v:.4g}" for v in np.asarray(a_aff)[:3, 3])
        o1 = ", ".join(f"{v:.4g}" for v in np.asarray(b_aff)[:3, 3])
        raise ValueError(
            "initial and repeat scans must be in the same space: their affines differ "
            f"(largest entry difference {diff:.4g} > {atol_mm:g}; origin initial ({o0}) vs "
            f"repeat ({o1}) mm); register the repeat scan to the initial one first"
        )
    from fractions import Fraction

    s0 = shape_measures(a_arr, spacing=a_sp, affine=a_aff, label=label, **shape_kwargs)
    s1 = shape_measures(b_arr, spacing=b_sp, affine=b_aff, label=label, **shape_kwargs)
    n0 = int(_as_mask(a_arr, a_sp, label, a_aff)[0].sum())
    n1 = int(_as_mask(b_arr, b_sp, label, b_aff)[0].sum())
    voxel_mm3 = float(np.prod(a_sp))
    v0, v1 = n0 * voxel_mm3 / 1000.0, n1 * voxel_mm3 / 1000.0
    dv = (n1 - n0) * voxel_mm3 / 1000.0
    pct = 100.0 * (n1 - n0) / n0 if n0 > 0 else float("nan")
    by_ml = (n1 - n0) * voxel_mm3 >= 1000.0 * float(expansion_ml) - 1e-6
    by_pct = n0 > 0 and Fraction(100 * (n1 - n0)) >= Fraction(str(float(expansion_pct))) * n0
    expansion = bool(by_ml or by_pct)
    dd = {ax: float(s1[f"diameter_{ax.lower()}_mm"]) - float(s0[f"diameter_{ax.lower()}_mm"]) for ax in AXES}
    tol = float(max(a_sp)) if similar_mm is None else float(similar_mm)
    mag = np.abs(np.array([dd["AP"], dd["LR"], dd["SI"]]))
    top2 = np.sort(mag)[::-1][:2] if np.all(np.isfinite(mag)) else None
    if top2 is None or top2[0] - top2[1] <= tol:
        # the paper's "no direction change": similar changes in two directions or all three
        direction = "none"
    else:
        direction = ("AP", "LR", "SI")[int(np.argmax(mag))]
    c0 = np.array([s0[f"centroid_{k}_mm"] for k in "xyz"], dtype=float)
    c1 = np.array([s1[f"centroid_{k}_mm"] for k in "xyz"], dtype=float)
    shift = c1 - c0
    dist = float(np.linalg.norm(shift))
    if not np.isfinite(dist):
        move = "none"
    else:
        move = "none" if dist <= 1e-9 else _direction_letter(shift)
    values = {
        "volume_initial_ml": v0,
        "volume_repeat_ml": v1,
        "volume_change_ml": dv,
        "volume_change_pct": pct,
        "expansion": expansion,
        "diameter_change_ap_mm": dd["AP"],
        "diameter_change_lr_mm": dd["LR"],
        "diameter_change_si_mm": dd["SI"],
        "direction_of_change": direction,
        "center_shift_mm": dist,
        "center_shift_x_mm": float(shift[0]),
        "center_shift_y_mm": float(shift[1]),
        "center_shift_z_mm": float(shift[2]),
        "center_shift_direction": move,
    }
    return pd.Series(values, dtype=object, name="change")
