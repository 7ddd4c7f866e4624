r"""edgeR's TMM normalisation factors (``calcNormFactors(method="TMM")``), compiled."""

from __future__ import annotations

import math

import numpy as np
from numba import njit, prange


@njit(cache=True)
def _select(w, lo, hi, k):  # pragma: no cover
    """The k-th smallest (0-based) of ``w[lo:hi+1]`` by quickselect (median-of-three pivot,
    Hoare partition) in place: afterwards ``w[lo:k] <= w[k] <= w[k+1:hi+1]``. Used instead of
    ``np.partition``, which under numba copies and took twice as long for the two order
    statistics of a rank window; the second selection reuses the first's partition."""
    while hi > lo:
        mid = (lo + hi) // 2
        # median of three to w[mid]
        if w[mid] < w[lo]:
            w[mid], w[lo] = w[lo], w[mid]
        if w[hi] < w[lo]:
            w[hi], w[lo] = w[lo], w[hi]
        if w[hi] < w[mid]:
            w[hi], w[mid] = w[mid], w[hi]
        pivot = w[mid]
        i = lo
        j = hi
        while i <= j:
            while w[i] < pivot:
                i += 1
            while w[j] > pivot:
                j -= 1
            if i <= j:
                w[i], w[j] = w[j], w[i]
                i += 1
                j -= 1
        if k <= j:
            hi = j
        elif k >= i:
            lo = i
        else:
            return w[k]
    return w[k]


@njit(cache=True)
def _rank_in(v, lo, hi):  # pragma: no cover
    """Mask of the elements of ``v`` whose average-tie rank (R ``rank``, 1..n) lies in
    [lo, hi], by selection (two quickselects) instead of a sort: an element strictly between
    the order statistics of positions ``lo`` and ``hi`` is inside, one beyond them is
    outside, and elements tied with either get their tie block's average rank."""
    n = v.size
    out = np.zeros(n, dtype=np.bool_)
    ilo = int(lo) - 1
    ihi = int(hi) - 1
    if ilo > ihi or ilo >= n or ihi < 0:
        return out
    ilo = max(ilo, 0)
    ihi = min(ihi, n - 1)
    w = v.copy()
    t_lo = _select(w, 0, n - 1, ilo)
    t_hi = _select(w, ilo, n - 1, ihi)  # w[ilo:] now holds the elements >= t_lo
    less_lo = 0
    eq_lo = 0
    less_hi = 0
    eq_hi = 0
    for k in range(n):
        x = v[k]
        if x < t_lo:
            less_lo += 1
        elif x == t_lo:
            eq_lo += 1
        if x < t_hi:
            less_hi += 1
        elif x == t_hi:
            eq_hi += 1
    r_lo = less_lo + 0.5 * (eq_lo + 1.0)
    r_hi = less_hi + 0.5 * (eq_hi + 1.0)
    keep_lo = r_lo >= lo and r_lo <= hi
    keep_hi = r_hi >= lo and r_hi <= hi
    for k in range(n):
        x = v[k]
        if x > t_lo and x < t_hi:
            out[k] = True
        elif x == t_lo:
            out[k] = keep_lo
        elif x == t_hi:
            out[k] = keep_hi
    return out


@njit(parallel=True, cache=True)
def tmm_factors(x, ref, lib, n_ref, logratio_trim, sum_trim, weighting, a_cutoff):  # pragma: no cover
    r"""Unscaled TMM factor of every library (rows of samples x genes ``x``, sizes ``lib``)
    against the reference library ``ref`` of size ``n_ref`` (edgeR ``.calcFactorTMM``): the
    (precision-weighted) mean of the log-ratios :math:`M_g` of the genes whose average-tie
    ranks of *M* and *A* survive the ``logratio_trim`` / ``sum_trim`` trimming, as
    :math:`2^{\bar M}`."""
    n, G = x.shape
    out = np.empty(n)
    lp_ref = np.empty(G)  # log2 proportions of the reference, once for every library
    for g in range(G):
        lp_ref[g] = math.log2(ref[g] / n_ref) if ref[g] > 0.0 else -np.inf
    for i in prange(n):
        n_obs = lib[i]
        log_r = np.empty(G)
        abs_e = np.empty(G)
        v = np.empty(G)
        m = 0
        big = 0.0
        for g in range(G):
            o = x[i, g]
            r = ref[g]
            if o <= 0.0 or r <= 0.0:
                continue
            p_o = o / n_obs
            lp_o = math.log2(p_o)
            # R's log2((obs/nO)/(ref/nR)): proportional count pairs tie exactly, as in edgeR
            lr = math.log2(p_o / (r / n_ref))
            ae = (lp_o + lp_ref[g]) / 2.0
            if not (math.isfinite(lr) and math.isfinite(ae) and ae > a_cutoff):
                continue
            log_r[m] = lr
            abs_e[m] = ae
            v[m] = (n_obs - o) / n_obs / o + (n_ref - r) / n_ref / r
            big = max(big, abs(lr))
            m += 1
        if m == 0 or big < 1e-6:
            out[i] = 1.0
            continue
        lo_l = math.floor(m * logratio_trim) + 1.0
        hi_l = m + 1.0 - lo_l
        lo_s = math.floor(m * sum_trim) + 1.0
        hi_s = m + 1.0 - lo_s
        in_r = _rank_in(log_r[:m], lo_l, hi_l)
        in_e = _rank_in(abs_e[:m], lo_s, hi_s)
        num = 0.0
        den = 0.0
        kept = 0
        for k in range(m):
            if in_r[k] and in_e[k]:
                kept += 1
                if weighting:
                    t = log_r[k] / v[k]
                    if not math.isnan(t):
                        num += t
                    t = 1.0 / v[k]
                    if not math.isnan(t):
                        den += t
                else:
                    num += log_r[k]
                    den += 1.0
        f = num / den if kept > 0 else np.nan
        if not math.isfinite(f):
            f = 0.0
        out[i] = 2.0**f
    return out
