"""Input validation shared by every public function.

Conventions (see DESIGN.md, "Data conventions"): counts are samples x genes, non-negative
integers; features and labels are indexed by the same sample ids. Every problem raises a
``ValueError`` whose message names the offending ids, genes or values.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from typing import Any

import numpy as np
import pandas as pd

logger = logging.getLogger(__name__)

_MAX_LISTED = 8


def _show(items: Iterable[Any], limit: int = _MAX_LISTED) -> str:
    """Comma-separated preview of ``items`` (at most ``limit``, then a count)."""
    items = list(items)
    shown = ", ".join(repr(x) if isinstance(x, str) else str(x) for x in items[:limit])
    if len(items) > limit:
        shown += f", ... ({len(items)} in all)"
    return shown


def _numeric_values(df: pd.DataFrame, name: str, columns: str | None = None) -> np.ndarray:
    """``df`` as float64 after checking for duplicated sample ids (and, with ``columns``,
    duplicated column ids called ``columns`` ids) and non-numeric columns."""
    dup = df.index[df.index.duplicated()].unique()
    if len(dup):
        raise ValueError(f"{name} has duplicated sample ids: {_show(dup)}")
    if columns is not None:
        dupg = df.columns[df.columns.duplicated()].unique()
        if len(dupg):
            raise ValueError(f"{name} has duplicated {columns} ids: {_show(dupg)}")
    # check each distinct dtype once (a 20,000-gene frame has one or two dtypes)
    dtypes = df.dtypes
    bad_types = [t for t in pd.unique(dtypes)
                 if not (pd.api.types.is_numeric_dtype(t) or pd.api.types.is_bool_dtype(t))]
    nonnum = [c for c, t in dtypes.items() if t in bad_types] if bad_types else []
    if nonnum:
        raise ValueError(f"{name} has non-numeric columns: {_show(nonnum)}")
    return df.to_numpy(dtype=np.float64, na_value=np.nan)


def as_count_frame(counts: Any, name: str = "counts", *, integer: bool = True) -> pd.DataFrame:
    """Return ``counts`` as a float64 DataFrame (samples x genes) after validation.

    Accepts a pandas DataFrame, an AnnData object (``.X`` with ``obs_names`` and
    ``var_names``) or a 2-D array (ids become ``0..n-1``).

    Raises
    ------
    ValueError
        Not 2-D, empty, non-numeric, NaN/inf, negative or (with ``integer=True``)
        fractional values, duplicated sample or gene ids. The message names them.
    """
    if hasattr(counts, "obs_names") and hasattr(counts, "X"):  # AnnData
        X = counts.X
        if hasattr(X, "toarray"):
            X = X.toarray()
        df = pd.DataFrame(
            np.asarray(X), index=pd.Index(counts.obs_names), columns=pd.Index(counts.var_names)
        )
    elif isinstance(counts, pd.DataFrame):
        df = counts
    elif isinstance(counts, pd.Series):
        raise ValueError(f"{name} must be 2-D (samples x genes); got a Series")
    else:
        arr = np.asarray(counts)
        if arr.ndim != 2:
            raise ValueError(
                f"{name} must be 2-D (samples x genes); got an array of shape {arr.shape}"
            )
        df = pd.DataFrame(arr)
    if df.shape[0] == 0 or df.shape[1] == 0:
        raise ValueError(f"{name} is empty: shape {df.shape} (samples x genes)")
    values = _numeric_values(df, name, columns="gene")
    bad = ~np.isfinite(values)
    if bad.any():
        _raise_cells(df, bad, f"{name} has NaN or infinite values")
    neg = values < 0
    if neg.any():
        _raise_cells(df, neg, f"{name} has negative values")
    if integer:
        frac = values != np.round(values)
        if frac.any():
            _raise_cells(df, frac, f"{name} must be integer read counts; fractional values")
    return pd.DataFrame(values, index=df.index.copy(), columns=df.columns.copy())


def _raise_cells(df: pd.DataFrame, mask: np.ndarray, what: str) -> None:
    rows, cols = np.nonzero(mask)
    cells = [f"({df.index[r]!r}, {df.columns[c]!r})" for r, c in zip(rows[:5], cols[:5], strict=False)]
    more = f" ... ({mask.sum()} cells in all)" if mask.sum() > 5 else ""
    raise ValueError(f"{what} at (sample, gene): {', '.join(cells)}{more}")


def drop_zero_genes(counts: pd.DataFrame) -> pd.DataFrame:
    """Drop genes with zero counts in every sample, logging how many were dropped."""
    keep = counts.to_numpy().sum(axis=0) > 0
    n_drop = int((~keep).sum())
    if n_drop:
        logger.info("dropped %d all-zero genes of %d", n_drop, counts.shape[1])
        return counts.loc[:, keep]
    return counts


def as_labels(y: Any, name: str = "y", *, min_per_class: int = 2) -> pd.Series:
    """Return labels as a Series; check for NaN, fewer than 2 classes and tiny classes."""
    s = y.copy() if isinstance(y, pd.Series) else pd.Series(np.asarray(y))
    if s.ndim != 1:
        raise ValueError(f"{name} must be 1-D labels")
    if s.isna().any():
        raise ValueError(f"{name} has missing labels for samples: {_show(s.index[s.isna()])}")
    dup = s.index[s.index.duplicated()].unique()
    if len(dup):
        raise ValueError(f"{name} has duplicated sample ids: {_show(dup)}")
    counts = s.value_counts()
    if len(counts) < 2:
        raise ValueError(
            f"{name} has a single class ({_show(counts.index)}); a classifier needs at least two"
        )
    small = counts[counts < min_per_class]
    if len(small):
        detail = ", ".join(f"{k!r}: {v}" for k, v in small.items())
        raise ValueError(
            f"{name} has classes with fewer than {min_per_class} samples ({detail})"
        )
    return s


def as_feature_frame(features: Any, name: str = "features") -> pd.DataFrame:
    """Return imaging/clinical features as a float DataFrame (samples x features)."""
    if isinstance(features, pd.Series):
        features = features.to_frame()
    df = features if isinstance(features, pd.DataFrame) else pd.DataFrame(np.asarray(features))
    if df.ndim != 2:
        raise ValueError(f"{name} must be 2-D (samples x features)")
    values = _numeric_values(df, name)
    if np.isinf(values).any():
        r, c = np.nonzero(np.isinf(values))
        raise ValueError(
            f"{name} has infinite values in columns {_show(df.columns[np.unique(c)])}"
        )
    return pd.DataFrame(values, index=df.index.copy(), columns=df.columns.copy())


def check_same_ids(reference: pd.Index, other: pd.Index, ref_name: str, other_name: str) -> None:
    """Raise naming the ids present in one index and not in the other."""
    missing = reference.difference(other)
    extra = other.difference(reference)
    if len(missing) or len(extra):
        parts = []
        if len(missing):
            parts.append(f"ids in {ref_name} but not in {other_name}: {_show(missing)}")
        if len(extra):
            parts.append(f"ids in {other_name} but not in {ref_name}: {_show(extra)}")
        raise ValueError("sample ids do not match; " + "; ".join(parts))


def align(
    counts: pd.DataFrame,
    y: pd.Series | None = None,
    features: pd.DataFrame | None = None,
) -> tuple[pd.DataFrame, pd.Series | None, pd.DataFrame | None]:
    """Align labels and features to the sample order of ``counts``.

    When ``y`` or ``features`` carry a default RangeIndex while counts carry real ids (or
    the other way round) and the lengths agree, they are taken positionally. Otherwise the
    ids must match exactly; mismatches raise ``ValueError`` naming the ids.
    """
    def _align(obj, what):
        if obj is None:
            return None
        if len(obj) == len(counts) and (
            isinstance(obj.index, pd.RangeIndex) or obj.index.equals(counts.index)
        ):
            obj = obj.copy()
            obj.index = counts.index
            return obj
        check_same_ids(counts.index, obj.index, "counts", what)
        return obj.loc[counts.index]

    return counts, _align(y, "labels"), _align(features, "features")
