"""DICOM series input with SimpleITK's ``ImageSeriesReader``.

A folder may hold one or several series (``SeriesInstanceUID``). :func:`read_dicom_series`
reads one of them, sorted by slice position, into the conventions of :mod:`imaging.io`:
array in nibabel axis order (x, y, z), a 4×4 **RAS** affine and the spacing in mm.

Geometry
--------
DICOM gives, per slice, the position of its first voxel ``IPP`` (Image Position Patient,
LPS mm) and two direction cosines ``IOP = (r, c)`` (Image Orientation Patient: ``r`` the
direction of increasing column index, ``c`` of increasing row index); ``PixelSpacing =
(Δrow, Δcol)``. With the slice normal ``n = r × c`` the slices are sorted by ``d = IPP·n``
and the slice spacing is ``Δs = d[k+1] - d[k]``; voxel ``(i, j, k)`` (i = column, j = row,
k = slice) lies at::

    P_LPS = IPP_0 + i Δcol r + j Δrow c + k Δs n

The RAS affine is that LPS affine with its first two rows negated (``diag(-1, -1, 1)``).
Like :func:`imaging.io.load_nifti`, :func:`read_dicom_series` then reorients to the closest
canonical RAS+ orientation.

Rejected input (``ValueError`` naming the folder): no DICOM series, several series without a
choice (the message lists them), slices with different orientations, duplicated positions,
or non-uniform slice spacing (missing slices; relative tolerance ``spacing_tol``).
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

__all__ = ["SeriesInfo", "list_series", "read_dicom_series"]

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class SeriesInfo:
    """One DICOM series of a folder."""

    uid: str
    number: str
    description: str
    n_files: int

    def __str__(self) -> str:
        desc = f" {self.description!r}" if self.description else ""
        return f"{self.uid} (series {self.number or '?'}{desc}, {self.n_files} files)"


def _sitk() -> Any:
    try:
        import SimpleITK as sitk
    except ImportError as exc:  # pragma: no cover - installed with the imaging extra
        raise ImportError("DICOM input needs SimpleITK (pip install 'radiogenomics[imaging]')") from exc
    return sitk


def _tag(reader: Any, key: str) -> str:
    return reader.GetMetaData(key).strip() if reader.HasMetaDataKey(key) else ""


def _header(path: str) -> Any:
    sitk = _sitk()
    r = sitk.ImageFileReader()
    r.SetFileName(path)
    r.LoadPrivateTagsOff()
    r.ReadImageInformation()
    return r


def list_series(folder: str | os.PathLike[str]) -> list[SeriesInfo]:
    """The DICOM series in ``folder`` (not recursive), with number, description and size."""
    sitk = _sitk()
    d = Path(folder)
    if not d.is_dir():
        raise FileNotFoundError(f"DICOM folder not found: {d}")
    out = []
    for uid in sitk.ImageSeriesReader.GetGDCMSeriesIDs(str(d)) or ():
        files = sitk.ImageSeriesReader.GetGDCMSeriesFileNames(str(d), uid)
        r = _header(files[0])
        out.append(SeriesInfo(uid, _tag(r, "0020|0011"), _tag(r, "0008|103e"), len(files)))
    return out


def _floats(text: str, n: int, what: str, path: str) -> np.ndarray:
    try:
        vals = np.array([float(v) for v in text.split("\\")], dtype=float)
    except ValueError:
        vals = np.array([])
    if vals.size != n:
        raise ValueError(f"{path}: {what} must have {n} numbers, got {text!r}")
    return vals


def read_dicom_series(
    folder: str | os.PathLike[str],
    *,
    series: str | None = None,
    canonical: bool = True,
    spacing_tol: float = 0.01,
) -> tuple[np.ndarray, np.ndarray, tuple[float, float, float]]:
    """Read one DICOM series: ``(data (x, y, z), RAS affine 4×4, spacing mm)``.

    Parameters
    ----------
    folder : folder holding the series' files (one file per slice).
    series : which series when the folder holds several: its ``SeriesInstanceUID``, its
        series number or its description (exact match).
    canonical : reorient to the closest canonical RAS+ orientation (as ``imaging.io``).
    spacing_tol : relative tolerance on the slice spacing; larger deviations (missing or
        irregular slices) are an error.

    Returns
    -------
    data : array (x, y, z) in the stored dtype after rescale slope/intercept
    affine : (4, 4) RAS affine
    spacing : (sx, sy, sz) mm
    """
    sitk = _sitk()
    d = Path(folder)
    found = list_series(d)
    if not found:
        raise ValueError(f"{d}: no DICOM series found (expected one .dcm file per slice)")
    if series is None:
        if len(found) > 1:
            raise ValueError(
                f"{d}: holds {len(found)} DICOM series; choose one (series=UID, number or description): "
                + "; ".join(str(s) for s in found)
            )
        chosen = found[0]
    else:
        match = [s for s in found if str(series) in (s.uid, s.number, s.description)]
        if len(match) != 1:
            what = "matches several series" if match else "matches no series"
            raise ValueError(f"{d}: {series!r} {what}; series: " + "; ".join(str(s) for s in found))
        chosen = match[0]
    files = list(sitk.ImageSeriesReader.GetGDCMSeriesFileNames(str(d), chosen.uid))
    # geometry from every slice header: one orientation, sorted positions, uniform spacing
    iops, ipps = [], []
    for f in files:
        r = _header(f)
        iop_s, ipp_s = _tag(r, "0020|0037"), _tag(r, "0020|0032")
        if not iop_s or not ipp_s:
            raise ValueError(f"{f}: no Image Orientation/Position (Patient); not a volumetric slice")
        iops.append(_floats(iop_s, 6, "ImageOrientationPatient", f))
        ipps.append(_floats(ipp_s, 3, "ImagePositionPatient", f))
    iop = iops[0]
    bad = [files[i] for i, o in enumerate(iops) if not np.allclose(o, iop, atol=1e-4)]
    if bad:
        raise ValueError(f"{d}: slices with different orientations in series {chosen.uid} (e.g. {bad[0]})")
    row_dir, col_dir = iop[:3], iop[3:]
    normal = np.cross(row_dir, col_dir)
    normal /= np.linalg.norm(normal)  # IOP is stored to limited precision
    pos = np.asarray(ipps) @ normal
    order = np.argsort(pos, kind="stable")
    files = [files[i] for i in order]
    pos = pos[order]
    if len(files) > 1:
        gaps = np.diff(pos)
        if np.any(gaps < 1e-6 * max(1.0, float(np.abs(pos).max()))):
            k = int(np.argmin(gaps))
            raise ValueError(f"{d}: two slices at the same position {pos[k]:.4g} mm ({files[k]}, {files[k + 1]})")
        dz = float(np.median(gaps))
        if np.max(np.abs(gaps - dz)) > spacing_tol * dz:
            raise ValueError(
                f"{d}: non-uniform slice spacing in series {chosen.uid}: gaps from {gaps.min():.4g} to "
                f"{gaps.max():.4g} mm (missing or irregular slices); cannot make one volume"
            )
    else:
        r = _header(files[0])
        dz = float(_tag(r, "0018|0050") or 1.0)  # slice thickness for a single slice
    reader = sitk.ImageSeriesReader()
    reader.SetFileNames(files)
    try:
        img = reader.Execute()
    except RuntimeError as exc:
        raise ValueError(f"{d}: cannot read DICOM series {chosen.uid} ({' '.join(str(exc).split())[:200]})") from exc
    if img.GetNumberOfComponentsPerPixel() != 1:
        raise ValueError(f"{d}: series {chosen.uid} is not a grey-scale image (colour/multi-component)")
    data = np.transpose(sitk.GetArrayFromImage(img), (2, 1, 0))  # (z, y, x) -> (x, y, z)
    sx, sy = (float(s) for s in img.GetSpacing()[:2])  # column spacing, row spacing
    first = np.asarray(ipps)[order[0]]
    lps = np.eye(4)
    lps[:3, 0] = row_dir * sx
    lps[:3, 1] = col_dir * sy
    lps[:3, 2] = normal * dz
    lps[:3, 3] = first
    affine = np.diag([-1.0, -1.0, 1.0, 1.0]) @ lps
    spacing = (sx, sy, dz)
    logger.info("read DICOM series %s: %s voxels, spacing %s mm", chosen.uid, data.shape, spacing)
    if canonical:
        import nibabel as nib

        canon = nib.as_closest_canonical(nib.Nifti1Image(data, affine))
        data = np.asarray(canon.dataobj)
        affine = canon.affine.copy()
        spacing = tuple(float(s) for s in np.sqrt((affine[:3, :3] ** 2).sum(axis=0)))
    return data, affine, spacing  # type: ignore[return-value]
