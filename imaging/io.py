"""NIfTI input/output with nibabel.

Every image is reoriented to canonical RAS+ (``nibabel.as_closest_canonical``) on load.
Conventions used throughout ``imaging``:

* Arrays are in **nibabel axis order (x, y, z)** — *not* SimpleITK's (z, y, x).
* After canonical reorientation, increasing x points Right (R), y Anterior (A) and z
  Superior (S) in world (scanner) coordinates, so x is the left–right (LR) axis, y the
  anterior–posterior (AP) axis and z the superior–inferior (SI) axis.
* Spacing is ``(sx, sy, sz)`` in mm, read from the header (``header.get_zooms()[:3]``).

Errors are clear: a missing file raises ``FileNotFoundError``; an image that is not 3-D,
an image/mask pair whose shapes or affines differ, or a label map with non-integer values
raises ``ValueError`` naming the file(s).
"""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Any

import numpy as np

from imaging._io import atomic_path

__all__ = [
    "load_nifti",
    "load_image",
    "load_label_map",
    "load_image_and_mask",
    "voxel_spacing",
    "check_same_space",
    "save_nifti",
    "as_label_array",
    "is_nifti",
    "read_image",
]

logger = logging.getLogger(__name__)

ImageLike = Any  # str | os.PathLike | nibabel.Nifti1Image

_NIFTI_SUFFIXES = (".nii", ".nii.gz")


def is_nifti(path: str | os.PathLike[str]) -> bool:
    """True when ``path`` ends in ``.nii`` or ``.nii.gz``."""
    name = str(path).lower()
    return name.endswith(_NIFTI_SUFFIXES)


def _name(img: Any) -> str:
    fname = getattr(img, "get_filename", lambda: None)()
    return str(fname) if fname else "<in-memory image>"


def load_nifti(image: ImageLike, *, canonical: bool = True) -> Any:
    """Load a 3-D NIfTI image (``.nii`` / ``.nii.gz``), reoriented to canonical RAS+.

    Parameters
    ----------
    image : path or nibabel image
        A file path, or an already-loaded nibabel spatial image (returned reoriented).
    canonical : bool, default True
        Reorient to the closest canonical (RAS+) orientation.

    Returns
    -------
    nibabel.Nifti1Image
        Data in nibabel axis order (x, y, z). Trailing singleton dimensions (x, y, z, 1) are
        dropped.

    Raises
    ------
    FileNotFoundError
        The file does not exist.
    ValueError
        Not a NIfTI file, unreadable, or not 3-D.
    """
    import nibabel as nib

    if isinstance(image, str | os.PathLike):
        path = Path(image)
        if not path.is_file():
            raise FileNotFoundError(f"NIfTI file not found: {path}")
        if not is_nifti(path):
            raise ValueError(f"{path}: expected a NIfTI file (.nii or .nii.gz)")
        try:
            img = nib.load(str(path))
        except Exception as exc:  # nibabel raises several types for corrupt files
            raise ValueError(f"{path}: cannot read NIfTI image ({exc})") from exc
        _check_stored_spacing(path, img)
    elif hasattr(image, "affine") and hasattr(image, "shape"):
        img = image
    else:
        raise ValueError(
            f"expected a NIfTI path or a nibabel image, got {type(image).__name__}"
        )
    shape = tuple(img.shape)
    if len(shape) > 3 and all(s == 1 for s in shape[3:]):
        fname = img.get_filename()
        img = nib.Nifti1Image(np.asarray(img.dataobj).reshape(shape[:3]), img.affine, img.header)
        if fname:
            img.set_filename(fname)
        shape = shape[:3]
    if len(shape) != 3:
        raise ValueError(f"{_name(img)}: expected a 3-D image, got shape {shape}")
    if canonical:
        fname = img.get_filename()
        canon = nib.as_closest_canonical(img)
        if canon is not img and fname:
            canon.set_filename(fname)  # keep the file name for error messages
        img = canon
    return img


def _check_stored_spacing(path: Path, img: Any) -> None:
    """Refuse a file whose stored voxel spacing is zero or not finite.

    nibabel silently replaces a zero ``pixdim`` by 1 mm when it reads a header (only a log
    line says so), which would give every volume in the wrong unit; the raw header is
    therefore read again without that fix, and the affine's column norms are checked too.
    """
    from nibabel.openers import ImageOpener

    try:
        with ImageOpener(str(path)) as f:
            raw = type(img.header).from_fileobj(f, check=False)
        pixdim = np.asarray(raw["pixdim"][1:4], dtype=float)
    except Exception:  # not a NIfTI-1/2 header we can re-read: rely on the affine check
        pixdim = np.ones(3)
    col = np.sqrt((np.asarray(img.affine, dtype=float)[:3, :3] ** 2).sum(axis=0))
    bad = [(name, v) for name, v in zip("xyz", pixdim, strict=True) if not np.isfinite(v) or v == 0]
    if bad or not np.all(np.isfinite(col)) or np.any(col <= 0):
        shown = ", ".join(f"{v:g}" for v in pixdim)
        raise ValueError(
            f"{path}: voxel spacing is zero or not finite (header pixdim {shown}; affine column "
            f"norms {', '.join(f'{v:g}' for v in col)} mm); fix the header (e.g. set pixdim to "
            "the true spacing) instead of letting it default to 1 mm"
        )


def voxel_spacing(image: Any) -> tuple[float, float, float]:
    """Voxel spacing (sx, sy, sz) in mm from the header (nibabel axis order x, y, z).

    Raises ``ValueError`` naming the file when a spacing is zero or not finite.
    """
    zooms = tuple(float(z) for z in image.header.get_zooms()[:3])
    if any(not np.isfinite(z) or z <= 0 for z in zooms):
        raise ValueError(f"{_name(image)}: voxel spacing {zooms} mm has a zero, negative or non-finite entry")
    return zooms  # type: ignore[return-value]


def load_image(image: ImageLike) -> tuple[np.ndarray, np.ndarray, tuple[float, float, float]]:
    """Load an intensity image: ``(data float32 (x, y, z), affine 4×4, spacing mm)``."""
    img = load_nifti(image)
    return np.asarray(img.dataobj, dtype=np.float32), img.affine.copy(), voxel_spacing(img)


def _integer_labels(data: np.ndarray, name: str) -> np.ndarray:
    if np.issubdtype(data.dtype, np.integer) or data.dtype == bool:
        return data.astype(np.int32, copy=False) if data.dtype == bool else data
    if not np.all(np.isfinite(data)):
        raise ValueError(f"{name}: label map has NaN or infinite values")
    rounded = np.rint(data)
    if not np.array_equal(rounded, data):
        bad = np.unique(data[rounded != data])[:5]
        raise ValueError(
            f"{name}: label map has non-integer values (e.g. {bad.tolist()}); "
            "a label map must hold integer labels — is this an intensity image?"
        )
    return rounded.astype(np.int32)


def load_label_map(label_map: ImageLike) -> Any:
    """Load a label map (mask) as a canonical nibabel image with integer data.

    Raises ``ValueError`` when the stored values are not integers (e.g. an intensity image
    passed as a mask, or a resampled mask with interpolated values) or negative.
    """
    import nibabel as nib

    img = load_nifti(label_map)
    data = _integer_labels(np.asanyarray(img.dataobj), _name(img))
    if data.size and data.dtype.kind == "i" and data.min() < 0:
        raise ValueError(f"{_name(img)}: label map has negative values ({int(data.min())})")
    out = nib.Nifti1Image(data, img.affine, img.header)
    out.set_data_dtype(data.dtype)
    if img.get_filename():
        out.set_filename(img.get_filename())
    return out


def check_same_space(
    a: Any,
    b: Any,
    *,
    names: tuple[str, str] = ("image", "mask"),
    atol: float = 1e-3,
) -> None:
    """Raise ``ValueError`` unless two images have the same shape and affine (within ``atol`` mm).

    The message gives both shapes or both affines.
    """
    na, nb = names
    if tuple(a.shape[:3]) != tuple(b.shape[:3]):
        raise ValueError(
            f"{na} and {nb} shapes differ: {tuple(a.shape)} ({_name(a)}) vs "
            f"{tuple(b.shape)} ({_name(b)}); they must be in the same voxel space"
        )
    if not np.allclose(a.affine, b.affine, atol=atol):
        diff = float(np.max(np.abs(np.asarray(a.affine) - np.asarray(b.affine))))
        o_a = ", ".join(f"{v:.4g}" for v in np.asarray(a.affine)[:3, 3])
        o_b = ", ".join(f"{v:.4g}" for v in np.asarray(b.affine)[:3, 3])
        raise ValueError(
            f"{na} and {nb} affines differ ({_name(a)} vs {_name(b)}; largest entry "
            f"difference {diff:.4g} > {atol:g}, origins ({o_a}) vs ({o_b}) mm): they must be "
            "in the same space (resample one onto the other first)"
        )


def load_image_and_mask(image: ImageLike, mask: ImageLike) -> tuple[Any, Any]:
    """Load an image and its label map, both canonical, checking that they share one space."""
    img = load_nifti(image)
    lab = load_label_map(mask)
    check_same_space(img, lab)
    return img, lab


def as_label_array(
    label_map: Any, spacing: Any = None, *, affine: np.ndarray | None = None
) -> tuple[np.ndarray, tuple[float, float, float], np.ndarray]:
    """Normalise a label map to ``(int array (x, y, z), spacing mm, affine)``.

    ``label_map`` is a NIfTI path, a nibabel image, or an array in nibabel (x, y, z) order.
    With an array, ``spacing`` (mm, x, y, z; a scalar means isotropic) is required unless
    ``affine`` is given; the affine defaults to ``diag(spacing)``. With an image, spacing
    comes from the header (a given ``spacing`` must agree with it).
    """
    if isinstance(label_map, np.ndarray):
        arr = label_map
        if arr.ndim != 3:
            raise ValueError(f"label map array must be 3-D (x, y, z), got shape {arr.shape}")
        if spacing is None:
            if affine is None:
                raise ValueError(
                    "a label map given as an array needs spacing=(sx, sy, sz) in mm "
                    "(or an affine)"
                )
            spacing = np.sqrt((np.asarray(affine)[:3, :3] ** 2).sum(axis=0))
        sp = tuple(float(s) for s in np.broadcast_to(np.asarray(spacing, float), (3,)))
        if any(not np.isfinite(s) or s <= 0 for s in sp):
            raise ValueError(f"spacing must be three positive numbers, got {spacing!r}")
        aff = np.diag([*sp, 1.0]) if affine is None else np.asarray(affine, float)
        arr = _integer_labels(arr, "label map array")
        if arr.size and arr.min() < 0:
            raise ValueError(f"label map has negative values ({int(arr.min())})")
        return arr, sp, aff  # type: ignore[return-value]
    img = load_label_map(label_map)
    sp = voxel_spacing(img)
    if spacing is not None and not np.allclose(np.broadcast_to(spacing, (3,)), sp):
        raise ValueError(f"spacing {spacing!r} disagrees with the header spacing {sp}")
    return np.asanyarray(img.dataobj), sp, img.affine.copy()


def save_nifti(
    data: np.ndarray,
    affine: np.ndarray,
    path: str | os.PathLike[str],
    *,
    dtype: Any = None,
) -> Path:
    """Write ``data`` (x, y, z[, ...]) with ``affine`` to ``path`` (.nii or .nii.gz), atomically.

    The header's spacing (zooms) follows from the affine.
    """
    import nibabel as nib

    path = Path(path)
    if not is_nifti(path):
        raise ValueError(f"{path}: output must end in .nii or .nii.gz")
    arr = np.asarray(data) if dtype is None else np.asarray(data, dtype=dtype)
    if arr.dtype == bool:
        arr = arr.astype(np.uint8)
    if arr.dtype == np.int64:
        arr = arr.astype(np.int32)
    img = nib.Nifti1Image(arr, np.asarray(affine, dtype=float))
    img.set_data_dtype(arr.dtype)
    img.header.set_xyzt_units("mm")
    suffix = ".nii.gz" if str(path).lower().endswith(".gz") else ".nii"
    with atomic_path(path, suffix=suffix) as tmp:
        nib.save(img, str(tmp))
    return path


def read_image(
    path: str | os.PathLike[str], *, series: str | None = None
) -> tuple[np.ndarray, np.ndarray, tuple[float, float, float]]:
    """Read a NIfTI file or a DICOM series folder: ``(data float32 (x, y, z), RAS affine, spacing mm)``.

    A folder is read as a DICOM series with :func:`imaging.dicom.read_dicom_series`
    (``series`` picks one when the folder holds several); a ``.nii``/``.nii.gz`` file with
    :func:`load_image`. Both are reoriented to canonical RAS+.
    """
    p = Path(path)
    if p.is_dir():
        from imaging.dicom import read_dicom_series

        data, affine, spacing = read_dicom_series(p, series=series)
        return np.asarray(data, dtype=np.float32), affine, spacing
    if not p.exists():
        raise FileNotFoundError(f"image not found: {p}")
    if not is_nifti(p):
        raise ValueError(f"{p}: expected a NIfTI file (.nii, .nii.gz) or a DICOM series folder")
    return load_image(p)
