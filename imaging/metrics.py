"""Segmentation metrics: Dice, 95 % Hausdorff distance, per-region reports, agreement.

Masks are boolean arrays in nibabel axis order (x, y, z); spacing is (sx, sy, sz) in mm.

Overlap and distance
--------------------
* Dice: ``2 |P ∩ R| / (|P| + |R|)``.
* HD95 (mm): the surface (edge) voxels of a mask are the voxels that a binary erosion with
  the 6-connected cross removes (voxels outside the grid count as background). ``d(P→R)``
  is, for every edge voxel of P, the Euclidean distance in mm (voxel index × spacing) to the
  nearest edge voxel of R. ``HD95 = max(q95(d(P→R)), q95(d(R→P)))``, q95 the 95th
  percentile with linear interpolation — MONAI's ``compute_hausdorff_distance(...,
  percentile=95)`` definition, which the tests check to 1e-4 mm.
* Sensitivity: ``|P ∩ R| / |R|``.
* Relative volume difference: ``(|P| - |R|) / |R|`` (signed; 0.25 = 25 % over-segmented).

Empty masks (defined values, documented deviations from MONAI, which gives NaN/inf)
-----------------------------------------------------------------------------------
===================  ======  ==============  ===========  ====
case                 Dice    HD95            Sensitivity  RVD
===================  ======  ==============  ===========  ====
both empty           1.0     0.0             NaN          0.0
ref empty, pred not  0.0     ``empty_hd``    NaN          NaN
pred empty, ref not  0.0     ``empty_hd``    0.0          -1.0
===================  ======  ==============  ===========  ====

``empty_hd`` defaults to ``inf``; BraTS challenges use 373.13 mm (the diagonal of the
240 × 240 × 155 1 mm grid) — pass ``empty_hd=373.13`` for that convention.

Agreement between two segmentations of a cohort
-----------------------------------------------
:func:`volume_agreement` takes two tables of volumes (or volume percentages) per case and
region and gives, per region, the Bland–Altman bias ``mean(a - b)``, SD of the differences,
95 % limits of agreement ``bias ± 1.96 SD``, Pearson and Spearman correlations, and ICC.
:func:`icc` implements Shrout & Fleiss (1979) ICC(1,1), ICC(2,1) (two-way random, absolute
agreement) and ICC(3,1) (two-way mixed, consistency) from the two-way ANOVA mean squares.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from imaging._result import Result
from imaging.labels import get_schema, region_masks

__all__ = [
    "dice",
    "hausdorff95",
    "surface_distances",
    "sensitivity",
    "relative_volume_difference",
    "region_report",
    "icc",
    "volume_agreement",
    "AgreementResult",
]

logger = logging.getLogger(__name__)


def _pair(pred: Any, ref: Any) -> tuple[np.ndarray, np.ndarray]:
    p = np.asarray(pred).astype(bool, copy=False)
    r = np.asarray(ref).astype(bool, copy=False)
    if p.shape != r.shape:
        raise ValueError(f"pred and ref shapes differ: {p.shape} vs {r.shape}")
    return p, r


def _spacing(spacing: Any, ndim: int) -> np.ndarray:
    sp = np.broadcast_to(np.asarray(1.0 if spacing is None else spacing, dtype=float), (ndim,)).copy()
    if not np.all(np.isfinite(sp)) or np.any(sp <= 0):
        raise ValueError(f"spacing must be positive numbers (mm), got {spacing!r}")
    return sp


def dice(pred: Any, ref: Any) -> float:
    """Dice coefficient ``2|P ∩ R| / (|P| + |R|)``; 1.0 when both masks are empty."""
    p, r = _pair(pred, ref)
    den = int(p.sum()) + int(r.sum())
    if den == 0:
        return 1.0
    return 2.0 * int(np.count_nonzero(p & r)) / den


def sensitivity(pred: Any, ref: Any) -> float:
    """``|P ∩ R| / |R|``; NaN when the reference is empty."""
    p, r = _pair(pred, ref)
    n = int(r.sum())
    return float("nan") if n == 0 else int(np.count_nonzero(p & r)) / n


def relative_volume_difference(pred: Any, ref: Any) -> float:
    """``(|P| - |R|) / |R|``; 0.0 when both are empty, NaN when only the reference is."""
    p, r = _pair(pred, ref)
    n_r, n_p = int(r.sum()), int(p.sum())
    if n_r == 0:
        return 0.0 if n_p == 0 else float("nan")
    return (n_p - n_r) / n_r


def _edges(mask: np.ndarray) -> np.ndarray:
    from scipy.ndimage import binary_erosion

    return mask & ~binary_erosion(mask, border_value=0)


def surface_distances(pred: Any, ref: Any, spacing: Any = None) -> tuple[np.ndarray, np.ndarray]:
    """Edge-to-edge distances in mm: ``(d(P→R), d(R→P))`` (see the module docstring).

    Both masks must be non-empty.
    """
    from scipy.spatial import cKDTree

    p, r = _pair(pred, ref)
    if not p.any() or not r.any():
        raise ValueError("surface_distances needs two non-empty masks")
    sp = _spacing(spacing, p.ndim)
    # crop to the joint bounding box (+1 voxel) for speed; erosion treats outside as 0
    idx = np.argwhere(p | r)
    lo = np.maximum(idx.min(axis=0) - 1, 0)
    hi = idx.max(axis=0) + 2
    sl = tuple(slice(a, b) for a, b in zip(lo, hi, strict=True))
    ep = np.argwhere(_edges(p[sl])) * sp
    er = np.argwhere(_edges(r[sl])) * sp
    d_pr = cKDTree(er, leafsize=32).query(ep, k=1)[0]
    d_rp = cKDTree(ep, leafsize=32).query(er, k=1)[0]
    return d_pr, d_rp


def hausdorff95(pred: Any, ref: Any, spacing: Any = None, *, empty_hd: float = float("inf")) -> float:
    """95 % Hausdorff distance in mm: ``max(q95 d(P→R), q95 d(R→P))``.

    Parameters
    ----------
    pred, ref : bool arrays, same shape (x, y, z)
    spacing : float or (sx, sy, sz) mm; None = 1 mm.
    empty_hd : value when exactly one mask is empty (default ``inf``; BraTS: 373.13).
        Both empty gives 0.0.
    """
    p, r = _pair(pred, ref)
    _spacing(spacing, p.ndim)
    has_p, has_r = bool(p.any()), bool(r.any())
    if not has_p and not has_r:
        return 0.0
    if not has_p or not has_r:
        return float(empty_hd)
    d_pr, d_rp = surface_distances(p, r, spacing)
    return float(max(np.percentile(d_pr, 95), np.percentile(d_rp, 95)))


def region_report(
    pred: Any,
    ref: Any,
    schema: Any = "brats",
    spacing: Any = None,
    *,
    regions: Sequence[str] | None = None,
    empty_hd: float = float("inf"),
) -> pd.DataFrame:
    """Per-region metrics of a predicted vs a reference label map.

    Parameters
    ----------
    pred, ref : integer label maps (x, y, z), schema label values
    schema : label schema (base regions and composites such as TC, WT)
    spacing : (sx, sy, sz) mm
    regions : subset of ``schema.names`` (default all base regions then composites)

    Returns
    -------
    pandas.DataFrame
        Indexed by region: ``dice``, ``hd95_mm``, ``sensitivity``, ``rvd`` (relative volume
        difference), ``pred_ml``, ``ref_ml``, with the empty-mask values of the module
        docstring.
    """
    sch = get_schema(schema)
    p_arr, r_arr = np.asarray(pred), np.asarray(ref)
    if p_arr.shape != r_arr.shape:
        raise ValueError(f"pred and ref shapes differ: {p_arr.shape} vs {r_arr.shape}")
    sp = _spacing(spacing, p_arr.ndim)
    voxel_ml = float(np.prod(sp)) / 1000.0
    pm, rm = region_masks(p_arr, sch), region_masks(r_arr, sch)
    names = list(regions) if regions is not None else sch.names
    unknown = [n for n in names if n not in pm]
    if unknown:
        raise KeyError(f"regions {unknown} not in schema {sch.name!r}; known: {sch.names}")
    rows = {}
    for n in names:
        a, b = pm[n], rm[n]
        rows[n] = {
            "dice": dice(a, b),
            "hd95_mm": hausdorff95(a, b, sp, empty_hd=empty_hd),
            "sensitivity": sensitivity(a, b),
            "rvd": relative_volume_difference(a, b),
            "pred_ml": int(a.sum()) * voxel_ml,
            "ref_ml": int(b.sum()) * voxel_ml,
        }
    out = pd.DataFrame.from_dict(rows, orient="index")
    out.index.name = "region"
    return out


def icc(ratings: Any, kind: str = "ICC(2,1)") -> float:
    """Intraclass correlation of an ``n targets × k raters`` table (Shrout & Fleiss 1979).

    With the two-way ANOVA mean squares ``MSR`` (targets), ``MSC`` (raters), ``MSE``
    (residual) and ``MSW`` (within targets):

    * ``ICC(1,1) = (MSR - MSW) / (MSR + (k-1) MSW)``
    * ``ICC(2,1) = (MSR - MSE) / (MSR + (k-1) MSE + k (MSC - MSE) / n)`` (absolute agreement)
    * ``ICC(3,1) = (MSR - MSE) / (MSR + (k-1) MSE)`` (consistency)

    Rows with a missing value are dropped. NaN when fewer than 2 complete rows remain or
    the denominator is 0.
    """
    x = np.asarray(ratings, dtype=float)
    if x.ndim != 2 or x.shape[1] < 2:
        raise ValueError(f"ratings must be a 2-D targets x raters table with >= 2 raters, got shape {x.shape}")
    x = x[np.all(np.isfinite(x), axis=1)]
    n, k = x.shape
    if n < 2:
        return float("nan")
    grand = x.mean()
    ss_r = k * ((x.mean(axis=1) - grand) ** 2).sum()
    ss_c = n * ((x.mean(axis=0) - grand) ** 2).sum()
    ss_t = ((x - grand) ** 2).sum()
    ss_e = ss_t - ss_r - ss_c
    msr = ss_r / (n - 1)
    msc = ss_c / (k - 1)
    mse = ss_e / ((n - 1) * (k - 1))
    msw = (ss_c + ss_e) / (n * (k - 1))
    kinds = {
        "ICC(1,1)": (msr - msw, msr + (k - 1) * msw),
        "ICC(2,1)": (msr - mse, msr + (k - 1) * mse + k * (msc - mse) / n),
        "ICC(3,1)": (msr - mse, msr + (k - 1) * mse),
    }
    if kind not in kinds:
        raise ValueError(f"kind must be one of {list(kinds)}, got {kind!r}")
    num, den = kinds[kind]
    return float("nan") if den == 0 else float(num / den)


@dataclass(repr=False)
class AgreementResult(Result):
    """Agreement of two segmentations' volumes per region (:func:`volume_agreement`).

    ``summary()`` (``table``, one row per region) is also ``to_frame()`` and what ``save``
    writes.

    Attributes
    ----------
    table : DataFrame indexed by region (bias, sd_diff, loa_low, loa_high, pearson_r,
        pearson_p, spearman_rho, spearman_p, icc_2_1, icc_3_1, n)
    a, b : the aligned input tables (cases × regions)
    """

    table: pd.DataFrame
    a: pd.DataFrame
    b: pd.DataFrame

    def summary(self) -> pd.DataFrame:
        """The agreement table (a copy), one row per region."""
        return self.table.copy()

    def _header(self) -> dict[str, Any]:
        return {"regions": len(self.table), "cases": len(self.a)}

    def plot(self, ax: Any = None, region: str | None = None) -> Any:
        """Bland–Altman plot (mean vs difference) of one region (default the first)."""

        region = region or self.table.index[0]
        ax = self._axes(ax)
        a, b = self.a[region], self.b[region]
        row = self.table.loc[region]
        ax.scatter((a + b) / 2, a - b, s=12)
        for y, ls in ((row["bias"], "-"), (row["loa_low"], "--"), (row["loa_high"], "--")):
            ax.axhline(y, color="grey", linestyle=ls)
        ax.set_xlabel(f"{region}: mean of the two")
        ax.set_ylabel(f"{region}: difference (a - b)")
        return ax


def volume_agreement(a: pd.DataFrame, b: pd.DataFrame, regions: Sequence[str] | None = None) -> AgreementResult:
    """Bland–Altman, Pearson/Spearman and ICC between two segmentations' volume tables.

    Parameters
    ----------
    a, b : DataFrames indexed by case with one column per region (volumes in mL or volume
        percentages, e.g. from ``imaging.volumes.subregion_percentages``); aligned on the
        common cases and ``regions`` (default the common columns). Cases with a NaN in
        either table are dropped per region.

    Returns
    -------
    AgreementResult
        ``bias = mean(a - b)``, ``sd_diff`` (ddof 1), limits of agreement
        ``bias ± 1.96 sd_diff``, Pearson r and Spearman rho (NaN with < 3 cases or zero
        variance) with p-values, ICC(2,1) and ICC(3,1) (:func:`icc`).
    """
    from scipy import stats

    if not isinstance(a, pd.DataFrame) or not isinstance(b, pd.DataFrame):
        raise ValueError("a and b must be DataFrames (cases x regions)")
    cases = a.index.intersection(b.index)
    if len(cases) == 0:
        raise ValueError("a and b share no case ids")
    cols = list(regions) if regions is not None else [c for c in a.columns if c in b.columns]
    missing = [c for c in cols if c not in a.columns or c not in b.columns]
    if missing:
        raise ValueError(f"regions {missing} are not columns of both tables")
    A = a.loc[cases, cols].astype(float)
    B = b.loc[cases, cols].astype(float)
    rows = {}
    for c in cols:
        ok = np.isfinite(A[c].to_numpy()) & np.isfinite(B[c].to_numpy())
        x, y = A[c].to_numpy()[ok], B[c].to_numpy()[ok]
        d = x - y
        n = int(ok.sum())
        bias = float(d.mean()) if n else float("nan")
        sd = float(d.std(ddof=1)) if n > 1 else float("nan")
        varies = n >= 3 and np.ptp(x) > 0 and np.ptp(y) > 0
        pr = stats.pearsonr(x, y) if varies else (float("nan"), float("nan"))
        sr = stats.spearmanr(x, y) if varies else (float("nan"), float("nan"))
        rows[c] = {
            "n": n,
            "bias": bias,
            "sd_diff": sd,
            "loa_low": bias - 1.96 * sd,
            "loa_high": bias + 1.96 * sd,
            "pearson_r": float(pr[0]),
            "pearson_p": float(pr[1]),
            "spearman_rho": float(sr[0]),
            "spearman_p": float(sr[1]),
            "icc_2_1": icc(np.column_stack([x, y]), "ICC(2,1)") if n >= 2 else float("nan"),
            "icc_3_1": icc(np.column_stack([x, y]), "ICC(3,1)") if n >= 2 else float("nan"),
        }
    table = pd.DataFrame.from_dict(rows, orient="index")
    table.index.name = "region"
    return AgreementResult(table, A, B)
