"""Tumour sub-region volumes (mL), the eight volume ratios and sub-region percentages.

Only numpy and pandas are imported at module level: the statistics side imports
:func:`volume_ratios` from here so that the ratios have ONE definition. nibabel is
imported lazily (inside :func:`subregion_volumes`) when a path or image is given.

Undefined values
----------------
A ratio or a percentage with a zero denominator (e.g. ``ET/NCR`` when there is no
necrosis, or any percentage of an empty tumour) is **NaN**, never ``inf``.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd

from imaging.labels import LabelSchema, check_labels, label_counts, resolve_schema

__all__ = [
    "RATIO_NAMES",
    "label_counts",
    "subregion_volumes",
    "volume_ratios",
    "subregion_percentages",
]

#: The eight ratios of the radiogenomics-NB paper, Table 1: (name, numerator, denominator);
#: numerator and denominator are tuples of summed regions.
_RATIOS: tuple[tuple[str, tuple[str, ...], tuple[str, ...]], ...] = (
    ("ET/NCR", ("ET",), ("NCR",)),
    ("ET/(ET+NCR)", ("ET",), ("ET", "NCR")),
    ("ET/ED", ("ET",), ("ED",)),
    ("ET/WT", ("ET",), ("WT",)),
    ("ED/NCR", ("ED",), ("NCR",)),
    ("ED/(ET+NCR)", ("ED",), ("ET", "NCR")),
    ("ED/WT", ("ED",), ("WT",)),
    ("NCR/WT", ("NCR",), ("WT",)),
)
RATIO_NAMES: tuple[str, ...] = tuple(r[0] for r in _RATIOS)


def subregion_volumes(
    label_map: Any,
    schema: str | LabelSchema | Mapping[str, Any] | None = "brats",
    *,
    spacing: Any = None,
    strict: bool = True,
    name: str | None = None,
) -> pd.Series:
    """Volume (mL) of every sub-region of a label map.

    .. math::

        V_r = n_r \\cdot s_x s_y s_z / 1000

    with :math:`n_r` the number of voxels whose label belongs to region ``r`` and
    :math:`s_x, s_y, s_z` the voxel spacing in mm (from the NIfTI header).

    Parameters
    ----------
    label_map : path, nibabel image, or ndarray
        Integer label map. An array is in nibabel axis order (x, y, z) and needs ``spacing``.
    schema : str, path, mapping, LabelSchema or None, default "brats"
        ``"brats"`` gives ET, NCR, ED, TC (= ET + NCR), WT; ``"paediatric"`` gives ET, NET,
        CC, ED, TC (= ET + NET + CC), WT, NET+CC+ED. See :mod:`imaging.labels`. A BraTS map
        with ET as both 3 and 4 is refused. ``None`` (or ``"auto"``) infers the schema from the
        map's values and refuses a map that fits more than one
        (:func:`imaging.labels.infer_schema`).
    spacing : (sx, sy, sz) in mm, optional
        Required for an array; for an image it must agree with the header.
    strict : bool, default True
        Unknown label values raise ``ValueError``; with ``strict=False`` they are ignored
        (not counted in any region) and logged.
    name : str, optional
        File or case named in error messages (default: the path, when one is given).

    Returns
    -------
    pandas.Series
        Volumes in mL, indexed by region name (base regions, then composites), name
        ``"volume_ml"``.

    Examples
    --------
    >>> import numpy as np
    >>> lab = np.zeros((10, 10, 10), dtype=np.uint8)
    >>> lab[:2, :5, :5] = 1; lab[2:4, :5, :5] = 2; lab[4:5, :5, :5] = 4
    >>> subregion_volumes(lab, spacing=(2, 2, 2)).tolist()
    [0.2, 0.4, 0.4, 0.6, 1.0]
    """
    if isinstance(label_map, np.ndarray):
        if label_map.ndim != 3:
            raise ValueError(f"label map array must be 3-D (x, y, z), got shape {label_map.shape}")
        if spacing is None:
            raise ValueError("a label map given as an array needs spacing=(sx, sy, sz) in mm")
        sp = np.broadcast_to(np.asarray(spacing, dtype=float), (3,))
        if not np.all(np.isfinite(sp)) or np.any(sp <= 0):
            raise ValueError(f"spacing must be three positive numbers, got {spacing!r}")
        arr = label_map
        if arr.dtype.kind == "f":
            from imaging.io import as_label_array

            arr = as_label_array(arr, tuple(sp))[0]
    else:
        from imaging.io import as_label_array

        arr, sp_t, _ = as_label_array(label_map, spacing)
        sp = np.asarray(sp_t, dtype=float)
        if name is None and isinstance(label_map, str | os.PathLike):
            name = str(label_map)
    counts = label_counts(arr)
    present = np.flatnonzero(counts)
    sch = resolve_schema(schema, present, name=name)
    check_labels(present, sch, strict=strict, name=name)
    voxel_ml = float(np.prod(sp)) / 1000.0

    def n(labels: tuple[int, ...]) -> int:
        return int(sum(counts[v] for v in labels if v < counts.size))

    values = [n(sch.region_labels(name)) * voxel_ml for name in sch.names]
    return pd.Series(values, index=pd.Index(sch.names, name="region"), name="volume_ml", dtype=float)


def _safe_div(num: Any, den: Any) -> Any:
    """num / den with NaN (not inf) where den == 0 (elementwise; numpy or pandas)."""
    num = np.asarray(num, dtype=float)
    den = np.asarray(den, dtype=float)
    out = np.full(np.broadcast(num, den).shape, np.nan)
    np.divide(num, den, out=out, where=den != 0)
    return out


def _as_volume_frame(volumes: Any, needed: tuple[str, ...], what: str) -> tuple[pd.DataFrame, bool]:
    if isinstance(volumes, pd.Series):
        frame, single = volumes.to_frame().T, True
    elif isinstance(volumes, pd.DataFrame):
        frame, single = volumes, False
    elif isinstance(volumes, Mapping):
        frame, single = pd.DataFrame([dict(volumes)]), True
    else:
        raise ValueError(
            f"{what} takes a pandas Series (one patient) or DataFrame (one row per patient), "
            f"got {type(volumes).__name__}"
        )
    missing = [c for c in needed if c not in frame.columns]
    if missing:
        raise ValueError(
            f"{what}: volumes lack {missing} (have {list(frame.columns)}); "
            f"needs columns {list(needed)}"
        )
    sub = frame[list(needed)]
    try:
        sub = sub.astype(float)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"{what}: volume columns {list(needed)} must be numeric ({exc})") from exc
    neg = sub.columns[(sub < 0).any(axis=0)].tolist()
    if neg:
        raise ValueError(f"{what}: negative volumes in columns {neg}")
    return sub, single


def volume_ratios(volumes: pd.Series | pd.DataFrame) -> pd.Series | pd.DataFrame:
    """The eight volume ratios of the radiogenomics-NB paper (Table 1).

    .. math::

        \\frac{ET}{NCR},\\ \\frac{ET}{ET+NCR},\\ \\frac{ET}{ED},\\ \\frac{ET}{WT},\\
        \\frac{ED}{NCR},\\ \\frac{ED}{ET+NCR},\\ \\frac{ED}{WT},\\ \\frac{NCR}{WT}

    with ET enhancing tumour, NCR necrosis / non-enhancing core, ED edema and WT whole tumour
    volumes (any common unit). A zero denominator gives **NaN** (undefined), never inf.

    Parameters
    ----------
    volumes : pandas.Series or pandas.DataFrame
        One patient (Series indexed by region, e.g. the output of
        :func:`subregion_volumes`), or one row per patient with columns ET, NCR, ED, WT
        (other columns are ignored).

    Returns
    -------
    pandas.Series or pandas.DataFrame
        Keyed (index or columns) ``ET/NCR, ET/(ET+NCR), ET/ED, ET/WT, ED/NCR, ED/(ET+NCR),
        ED/WT, NCR/WT``; a DataFrame keeps the input's index.

    Examples
    --------
    >>> import pandas as pd
    >>> v = pd.Series({"ET": 2.0, "NCR": 1.0, "ED": 5.0, "WT": 8.0})
    >>> float(volume_ratios(v)["ET/(ET+NCR)"])
    0.6666666666666666
    """
    frame, single = _as_volume_frame(volumes, ("ET", "NCR", "ED", "WT"), "volume_ratios")
    cols = {}
    for name, num, den in _RATIOS:
        cols[name] = _safe_div(frame[list(num)].sum(axis=1), frame[list(den)].sum(axis=1))
    out = pd.DataFrame(cols, index=frame.index, columns=list(RATIO_NAMES))
    if single:
        s = out.iloc[0].rename("ratio")
        s.index.name = "ratio"
        return s
    return out


def subregion_percentages(volumes: pd.Series | pd.DataFrame) -> pd.Series | pd.DataFrame:
    """Each sub-region as a percentage of the whole tumour: ``100 · V_r / V_WT``.

    Every region other than WT (base regions and composites such as TC) is returned, keyed
    ``"<region>_pct"`` (e.g. ``ET_pct``). An empty tumour (WT = 0) gives NaN.

    Parameters
    ----------
    volumes : pandas.Series or pandas.DataFrame
        One patient (Series indexed by region) or one row per patient; must contain ``WT``.
    """
    if isinstance(volumes, pd.Series):
        frame = volumes.to_frame().T
        single = True
    elif isinstance(volumes, pd.DataFrame):
        frame, single = volumes, False
    else:
        raise ValueError(
            "subregion_percentages takes a pandas Series or DataFrame, "
            f"got {type(volumes).__name__}"
        )
    regions = [c for c in frame.columns if c != "WT" and not str(c).endswith("_pct")]
    frame, _ = _as_volume_frame(frame, (*regions, "WT"), "subregion_percentages")
    wt = frame["WT"].to_numpy(dtype=float)
    out = pd.DataFrame(
        {f"{r}_pct": 100.0 * _safe_div(frame[r].to_numpy(dtype=float), wt) for r in regions},
        index=frame.index,
    )
    if single:
        s = out.iloc[0].rename("percent_of_WT")
        return s
    return out
