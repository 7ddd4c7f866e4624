r"""Compiled kernels of edgeR's classic path (one gene per ``prange`` iteration): the
conditional log-likelihood grid of the pseudo-counts and the tails of the exact test."""

from __future__ import annotations

import math

import numpy as np
from numba import njit, prange

from .nbglm import _one_group_fit
from .special import lgamma, lgamma_big_rows


@njit(parallel=True, cache=True)
def one_group_rows(y, offset, disp, maxit, tol):  # pragma: no cover
    """Intercept-only NB GLM of each gene by Fisher scoring (edgeR ``mglmOneGroup``): the
    one-group fit of :func:`radiogenomics._edger.nbglm._one_group_fit` on every row."""
    G, n = y.shape
    beta = np.empty(G)
    eoff = np.exp(offset)
    for g in prange(G):
        beta[g] = _one_group_fit(y[g], 0, n, eoff, offset, disp[g], np.nan, maxit, tol)
    return beta


_BLOCK = 64  # genes per block of cond_loglik_grid


@njit(parallel=True, cache=True, error_model="numpy")
def cond_loglik_grid(z, r):  # pragma: no cover
    r"""edgeR's conditional NB log-likelihood of one group's pseudo-counts given their sum,
    :math:`\sum_i\log\Gamma(z_i+r) + \log\Gamma(n r) - \log\Gamma(n(\bar z + r))
    - n\log\Gamma(r)`, for every gene (rows of ``z``) and every ``r`` (columns of the
    genes x grid array ``r``). The :math:`\log\Gamma(z_i + r)` of a block of genes are
    computed together (:func:`radiogenomics._edger.special.lgamma_big_rows`, a
    vectorised loop) where :math:`z_i + r \ge 10`, by ``math.lgamma`` below; the sums keep
    the sample order."""
    G, n = z.shape
    K = r.shape[1]
    out = np.empty((G, K))
    n_blocks = (G + _BLOCK - 1) // _BLOCK
    for b in prange(n_blocks):
        g0 = b * _BLOCK
        g1 = min(G, g0 + _BLOCK)
        m = (g1 - g0) * n
        xb = np.empty(m)
        lb = np.empty(m)
        bits = np.empty(m, dtype=np.int64)
        means = np.empty(g1 - g0)
        for g in range(g0, g1):
            tot = 0.0
            for j in range(n):
                tot += z[g, j]
            means[g - g0] = tot / n
        for k in range(K):
            for g in range(g0, g1):
                rr = r[g, k]
                base = (g - g0) * n
                for j in range(n):
                    xb[base + j] = z[g, j] + rr
            lgamma_big_rows(xb, lb, bits, m)
            for g in range(g0, g1):
                base = (g - g0) * n
                s = 0.0
                for j in range(n):
                    xv = xb[base + j]
                    s += lb[base + j] if xv >= 10.0 else math.lgamma(xv)
                rr = r[g, k]
                out[g, k] = (s + lgamma(n * rr) - lgamma(n * (means[g - g0] + rr))
                             - n * lgamma(rr))
    return out


@njit(cache=True)
def _lgamma_shift(x: float, k: float) -> float:  # pragma: no cover
    r""":math:`\log\Gamma(k + x) - \log\Gamma(k)`, x >= 0; for k > 1e4 by the Stirling
    difference :math:`(k-\tfrac12)\,\mathrm{log1p}(x/k) + x\log(k+x) - x + c(k+x) - c(k)`,
    :math:`c(z) = 1/(12z) - 1/(360z^3)`, which has no cancellation."""
    if k <= 1e4:
        return math.lgamma(x + k) - math.lgamma(k)
    z = k + x
    corr = (1.0 / (12.0 * z) - 1.0 / (360.0 * z * z * z)) - (1.0 / (12.0 * k) - 1.0 / (360.0 * k * k * k))
    return (k - 0.5) * math.log1p(x / k) + x * math.log(z) - x + corr


@njit(cache=True)
def _nb_logpmf(x: float, size: float, mu: float) -> float:  # pragma: no cover
    """log NB pmf (size, mean); Poisson for infinite size."""
    if math.isinf(size):
        return x * math.log(mu) - mu - math.lgamma(x + 1.0) if mu > 0 else (0.0 if x == 0 else -np.inf)
    lc = _lgamma_shift(x, size) - math.lgamma(x + 1.0)
    return lc - size * math.log1p(mu / size) + (x * math.log(mu / (size + mu)) if x > 0 else 0.0)


@njit(parallel=True, cache=True)
def exact_tails(s1, s, n1, n2, size_unit, left, idx):  # pragma: no cover
    r"""Double-tail sums of edgeR's exact test for genes ``idx``:
    :math:`2\sum_{x\in T} f_1(x) f_2(s - x) / f(s)` with
    :math:`T = \{0..s_1\}` (``left``) or :math:`\{s_1..s\}`, summed outward from
    :math:`s_1` with the pmf ratio recurrences
    :math:`f(x\pm1)/f(x)`, stopping when a term is below 1e-20 of the sum."""
    m = idx.size
    out = np.empty(m)
    for t in prange(m):
        g = idx[t]
        su = size_unit[g]
        st = s[g]
        a = s1[g]
        mu = st / (n1 + n2)
        mu1 = n1 * mu
        mu2 = n2 * mu
        k1 = n1 * su
        k2 = n2 * su
        lbot = _nb_logpmf(st, (n1 + n2) * su, st)
        lterm = _nb_logpmf(a, k1, mu1) + _nb_logpmf(st - a, k2, mu2) - lbot
        term = math.exp(lterm)
        tot = term
        pois = math.isinf(su)
        r1 = mu1 if pois else mu1 / (k1 + mu1) * k1
        r2 = mu2 if pois else mu2 / (k2 + mu2) * k2
        x = a
        if left:
            while x > 0.0:
                # f1(x-1)/f1(x) * f2(s-x+1)/f2(s-x)
                if pois:
                    ratio = x / r1 * r2 / (st - x + 1.0)
                else:
                    ratio = (x / (x - 1.0 + k1)) * (k1 / r1) * (r2 / k2) * ((st - x + k2) / (st - x + 1.0))
                term *= ratio
                tot += term
                x -= 1.0
                if term < tot * 1e-20:
                    break
        else:
            while x < st:
                if pois:
                    ratio = r1 / (x + 1.0) * (st - x) / r2
                else:
                    ratio = ((x + k1) / (x + 1.0)) * (r1 / k1) * (k2 / r2) * ((st - x) / (st - x - 1.0 + k2))
                term *= ratio
                tot += term
                x += 1.0
                if term < tot * 1e-20:
                    break
        out[t] = 2.0 * tot
    return out
