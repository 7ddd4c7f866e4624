"""Multiple-testing adjustment shared by the DE paths."""

from __future__ import annotations

import numpy as np

__all__ = ["bh_adjust"]


def bh_adjust(p: np.ndarray, nan: str = "omit") -> np.ndarray:
    r"""Benjamini-Hochberg adjusted p-values (R ``p.adjust(p, "BH")``).

    :math:`\tilde p_{(i)} = \min_{k \ge i} \min(1, m\,p_{(k)}/k)` over the *m* p-values
    sorted increasingly.

    Parameters
    ----------
    p : array-like
        Raw p-values.
    nan : {"omit", "propagate"}
        ``"omit"`` (R's default, the exact-test and joint-selection tables): missing
        p-values stay NaN and *m* counts the others only. ``"propagate"`` (the GLM LRT
        table, which has no missing p-values): *m* counts every entry and a NaN makes
        every adjusted value NaN.

    Examples
    --------
    >>> bh_adjust([0.01, 0.04, 0.03, np.nan]).round(3).tolist()
    [0.03, 0.04, 0.04, nan]
    >>> bool(np.isnan(bh_adjust([0.01, np.nan], nan="propagate")).all())
    True
    """
    p = np.asarray(p, dtype=float)
    if nan == "propagate":
        ok = np.arange(p.size)
    elif nan == "omit":
        ok = np.flatnonzero(~np.isnan(p))
    else:
        raise ValueError(f"nan must be 'omit' or 'propagate', got {nan!r}")
    out = np.full(p.shape, np.nan)
    m = ok.size
    if m == 0:
        return out
    order = ok[np.argsort(p[ok], kind="mergesort")[::-1]]
    ranks = np.arange(m, 0, -1)
    out[order] = np.minimum.accumulate(np.minimum(1.0, m / ranks * p[order]))
    return out
