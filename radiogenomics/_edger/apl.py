r"""Compiled Cox-Reid adjusted profile likelihood (edgeR ``adjustedProfileLik``) on the
dispersion grid, fused with the GLM fits, and ``glmFit`` rows; parallel over genes."""

from __future__ import annotations

import math

import numpy as np
from numba import njit, prange

from .nbglm import (
    _NEWTON_AFTER,
    _TRUSTED_DECREMENT,
    _deviance,
    _levenberg_fit,
    _levenberg_null_start,
    _logdet_half,
    _oneway_fit,
    _xtwx,
)
from .special import _lgamma_big


@njit(cache=True)
def _lgamma_ratio(y, r, lgr):  # pragma: no cover
    r""":math:`\log\Gamma(y + r) - \log\Gamma(r)` (``lgr`` = lgamma(r)), y > 0: for an
    integer ``y <= 6`` the log of :math:`\prod_{k<y}(r + k)` (one log, no cancellation),
    else the Stirling series when :math:`y + r \ge 10`, else ``lgamma``."""
    if y <= 6.0 and y == math.floor(y):
        prod = r
        for k in range(1, int(y)):
            prod *= r + k
        return math.log(prod)
    x = y + r
    if x >= 10.0:
        return _lgamma_big(x) - lgr
    return math.lgamma(x) - lgr


@njit(cache=True)
def _apl_one(y, mu, lmu, phi, XT, lgy1, ww, A, work):  # pragma: no cover
    r"""edgeR ``compute_apl`` of one gene: :math:`\sum_{\mu_j \ne 0}\log f_{NB}(y_j;\mu_j,\phi)
    - \tfrac12\log\det X^\top W X`, :math:`W = \mathrm{diag}(\mu/(1+\phi\mu))`
    (``lmu`` = log mu, ``lgy1`` = lgamma(y + 1))."""
    n = y.size
    ll = 0.0
    if phi > 0.0:
        r = 1.0 / phi
        rlr = r * math.log(r)
        lgr = math.lgamma(r)
        for j in range(n):
            m = mu[j]
            if m == 0.0:
                ww[j] = 0.0
                continue
            yj = y[j]
            logmur = math.log(m + r)
            ll += yj * (lmu[j] - logmur) - r * logmur + rlr - lgy1[j]
            if yj > 0.0:
                ll += _lgamma_ratio(yj, r, lgr)
            ww[j] = m / (1.0 + phi * m)
    else:
        for j in range(n):
            m = mu[j]
            if m == 0.0:
                ww[j] = 0.0
                continue
            ll += y[j] * lmu[j] - m - lgy1[j]
            ww[j] = m
    _xtwx(XT, ww, A)
    return ll - _logdet_half(A, work)


@njit(cache=True)
def _block(k, seg, bp, xoff, Xflat, Abuf, Rbuf):  # pragma: no cover
    """Segment ``k``: its sample range ``lo:hi``, its number of columns, its transposed
    design (``bp[k] x n_k`` view of ``Xflat``) and two ``bp[k] x bp[k]`` views of the
    work buffers."""
    lo = seg[k]
    hi = seg[k + 1]
    pk = bp[k]
    Xk = Xflat[xoff[k]:xoff[k] + (hi - lo) * pk].reshape((pk, hi - lo))
    return (lo, hi, pk, Xk, Abuf[:pk * pk].reshape((pk, pk)),
            Rbuf[:pk * pk].reshape((pk, pk)))


@njit(cache=True)
def _fit_gene(y, offp, eoff, phi, oneway, seg, bp, coff, xoff, Xflat, beta, mu, lmu,
              maxit, tol, Abuf, Rbuf, dl, dbeta, bnew, munew, ww, deriv, etanew, lyp,
              lyr, grid_fit=False, fast_max=0.0):  # pragma: no cover
    """edgeR ``glmFit`` of one gene whose samples are sorted by segment
    (``seg[k]:seg[k+1]``). Oneway layout: one intercept per segment (``beta`` = group log
    means). Otherwise every segment is an independent block with its own design
    ``Xflat[xoff[k]:...]`` (transposed: ``bp[k] x n_k``, coefficients ``beta[coff[k]:coff[k+1]]``),
    fitted by Levenberg (a design without block structure is one block, fitted as edgeR
    with Newton steps after ``_NEWTON_AFTER`` iterations; blocks use Newton steps from the
    start, see :func:`_levenberg_fit`). Fills ``mu`` and
    ``lmu`` (log mu) and returns the deviance (Levenberg; oneway: NaN); ``lyp`` =
    log(y + 1e-8), ``etanew`` and ``lyr`` are work buffers. ``grid_fit``: a fit of the
    APL grid, where block fits stop at an undamped Newton decrement below 100 tol (the APL
    is stationary at the maximum: its error is second order in the remaining step)."""
    if oneway:
        _oneway_fit(y, offp, eoff, phi, seg, beta, mu, lmu, maxit, tol)
        return np.nan
    dev = 0.0
    for k in range(seg.size - 1):
        lo, hi, pk, Xk, A, R = _block(k, seg, bp, xoff, Xflat, Abuf, Rbuf)
        bk = beta[coff[k]:coff[k] + pk]
        dev += _levenberg_fit(y[lo:hi], Xk, offp[lo:hi], phi, bk, mu[lo:hi], maxit, tol,
                              A, R, dl[:pk], dbeta[:pk], bnew[:pk], munew[lo:hi],
                              ww[lo:hi], deriv[lo:hi], 0 if seg.size > 2 else _NEWTON_AFTER,
                              lmu[lo:hi], etanew[lo:hi], lyp[lo:hi], lyr[lo:hi],
                              100.0 if grid_fit and seg.size > 2 else 10.0, not grid_fit,
                              fast_max)
    return dev


@njit(cache=True)
def _apl_gene(y, mu, lmu, phi, oneway, XpT, seg, bp, xoff, Xflat, lgy1, ww,
              Abuf, Wbuf):  # pragma: no cover
    """Cox-Reid APL of one gene (see :func:`_apl_one`); for a block design the
    log-determinant is the sum over blocks of ``log det(X_k' W_k X_k)`` (the caller adds
    the constant of the reparametrisation)."""
    if oneway or seg.size == 2:
        p = XpT.shape[0]
        A = Abuf[:p * p].reshape((p, p))
        W = Wbuf[:p * p].reshape((p, p))
        return _apl_one(y, mu, lmu, phi, XpT, lgy1, ww, A, W)
    ll = _apl_one(y, mu, lmu, phi, XpT[:0], lgy1, ww, Abuf[:0].reshape((0, 0)),
                  Wbuf[:0].reshape((0, 0)))
    for k in range(seg.size - 1):
        lo, hi, pk, Xk, A, W = _block(k, seg, bp, xoff, Xflat, Abuf, Wbuf)
        _xtwx(Xk, ww[lo:hi], A)
        ll -= _logdet_half(A, W)
    return ll


@njit(cache=True)
def _permuted_design(X, offset, order):  # pragma: no cover
    """Transposed design (p x n) and offsets with the samples in ``order``."""
    n, p = X.shape
    XpT = np.empty((p, n))
    offp = np.empty(n)
    for t in range(n):
        offp[t] = offset[order[t]]
        for a in range(p):
            XpT[a, t] = X[order[t], a]
    return XpT, offp


@njit(cache=True)
def _layout(X, offset, order, seg, bp, oneway):  # pragma: no cover
    """Design and offsets in the kernels' sample order, ``e^offset``, and the offsets of
    each segment's coefficients (``coff``) and transposed design (``xoff``) in the flat
    arrays; returns them with the number of coefficients."""
    nseg = seg.size - 1
    XpT, offp = _permuted_design(X, offset, order)
    coff = np.zeros(nseg + 1, dtype=np.int64)
    xoff = np.zeros(nseg + 1, dtype=np.int64)
    for k in range(nseg):
        coff[k + 1] = coff[k] + (1 if oneway else bp[k])
        xoff[k + 1] = xoff[k] + (seg[k + 1] - seg[k]) * bp[k]
    return XpT, offp, np.exp(offp), coff, xoff, coff[nseg]


@njit(cache=True)
def _fit_buffers(n, p):  # pragma: no cover
    """One thread's work buffers of :func:`_fit_gene`: nine of length ``n`` (counts, mu,
    log mu, weights, derivatives, trial mu, trial eta, log y, log(y + 1/phi)), two of
    ``p * p`` and three of ``p``."""
    return (np.empty(n), np.empty(n), np.empty(n), np.empty(n), np.empty(n), np.empty(n),
            np.empty(n), np.empty(n), np.empty(n), np.empty(p * p), np.empty(p * p),
            np.empty(p), np.empty(p), np.empty(p))


@njit(parallel=True, cache=True)
def apl_grid(y, X, offset, grid, oneway, order, seg, bp, Xflat, q, maxit, tol,
             extrapolate=False):  # pragma: no cover
    r"""Cox-Reid adjusted profile log-likelihood of every gene (rows of ``y``) at every
    dispersion of ``grid`` (edgeR's ``estimateDisp`` loop of ``adjustedProfileLik``): the
    GLM is fitted at each grid value from the previous value's coefficients (oneway
    shortcut when ``oneway``, else Levenberg from edgeR's "null" start ``q``), then
    :math:`\ell_g(\phi) = \sum_j\log f_{NB}(y_{gj};\hat\mu_{gj},\phi)
    - \tfrac12\log\det(X^\top W_g X)`. Returns a genes x grid array.

    Samples are processed in the order ``order``, sorted by segment ``seg`` (the groups of
    a oneway layout, or the blocks of a block-diagonal reparametrisation: block ``k`` has
    the samples ``seg[k]:seg[k+1]`` and ``bp[k]`` columns, stored transposed in ``Xflat``;
    ``q`` is then in the
    block coefficients). Each thread works on one block of genes with its own buffers.
    ``extrapolate``: start each fit from the linear extrapolation (in log phi) of the last
    two grid points' coefficients instead of the last one (fewer iterations to the same
    maximum; block designs, whose fits take their own path anyway)."""
    G, n = y.shape
    p = X.shape[1]
    K = grid.size
    out = np.empty((G, K))
    XpT, offp, eoff, coff, xoff, ncoef = _layout(X, offset, order, seg, bp, oneway)
    nblk = min(G, 256)
    for blk in prange(nblk):
        (yg, mu, lmu, ww, deriv, munew, etanew, lyp, lyr, Abuf, Rbuf, dl, dbeta,
         bnew) = _fit_buffers(n, p)
        lgy1 = np.empty(n)
        beta = np.empty(max(ncoef, 1))
        prev = np.empty(max(ncoef, 1))
        for g in range(blk * G // nblk, (blk + 1) * G // nblk):
            for t in range(n):
                yg[t] = y[g, order[t]]
                lgy1[t] = math.lgamma(yg[t] + 1.0)
                lyp[t] = math.log(yg[t] + 1e-8)
            for i in range(K):
                phi = grid[i]
                if i == 0:
                    if oneway:
                        for k in range(ncoef):
                            beta[k] = np.nan
                    else:
                        _levenberg_null_start(yg, offp, phi, q, beta)
                elif extrapolate:  # linear in log(phi) from the last two grid points
                    for k in range(ncoef):
                        b1 = beta[k]
                        if i >= 2 and math.isfinite(b1) and math.isfinite(prev[k]):
                            beta[k] = 2.0 * b1 - prev[k]
                        prev[k] = b1
                _fit_gene(yg, offp, eoff, phi, oneway, seg, bp, coff, xoff, Xflat, beta, mu,
                          lmu, maxit, tol, Abuf, Rbuf, dl, dbeta, bnew, munew, ww, deriv,
                          etanew, lyp, lyr, True, _TRUSTED_DECREMENT if i > 0 else 0.0)
                out[g, i] = _apl_gene(yg, mu, lmu, phi, oneway, XpT, seg, bp, xoff, Xflat,
                                      lgy1, ww, Abuf, Rbuf)
    return out


@njit(parallel=True, cache=True)
def glm_fit_rows(y, X, offset, disp, start, oneway, order, seg, bp, Xflat, q,
                 maxit, tol, mu_out):  # pragma: no cover
    r"""edgeR ``glmFit`` (prior.count 0) of every gene at dispersion ``disp[g]``: oneway
    shortcut (group log means, floored at -1e8) when ``oneway``, else Levenberg from
    ``start`` (rows with a NaN first entry: edgeR's "null" start). Returns the
    coefficients (group log means for oneway, block coefficients for a block design: the
    caller maps them to the design) and the deviances; fitted values go to ``mu_out`` if
    it has G rows. Samples and segments as in :func:`apl_grid`."""
    G, n = y.shape
    p = X.shape[1]
    XpT, offp, eoff, coff, xoff, ncoef = _layout(X, offset, order, seg, bp, oneway)
    coef = np.empty((G, ncoef))
    dev = np.empty(G)
    keep_mu = mu_out.shape[0] == G
    nblk = min(G, 256)
    for blk in prange(nblk):
        (yg, mu, lmu, ww, deriv, munew, etanew, lyp, lyr, Abuf, Rbuf, dl, dbeta,
         bnew) = _fit_buffers(n, p)
        beta = np.empty(max(ncoef, 1))
        for g in range(blk * G // nblk, (blk + 1) * G // nblk):
            for t in range(n):
                yg[t] = y[g, order[t]]
                lyp[t] = math.log(yg[t] + 1e-8)
            phi = disp[g]
            if not oneway and math.isnan(start[g, 0]):
                _levenberg_null_start(yg, offp, phi, q, beta)
            else:
                for a in range(ncoef):
                    beta[a] = start[g, a]
            d = _fit_gene(yg, offp, eoff, phi, oneway, seg, bp, coff, xoff, Xflat, beta, mu,
                          lmu, maxit, tol, Abuf, Rbuf, dl, dbeta, bnew, munew, ww, deriv,
                          etanew, lyp, lyr)
            dev[g] = _deviance(yg, mu, phi) if oneway else d
            for a in range(ncoef):
                coef[g, a] = beta[a]
            if keep_mu:
                for t in range(n):
                    mu_out[g, order[t]] = mu[t]
    return coef, dev


@njit(parallel=True, cache=True)
def apl_rows(y, mu, disp, X):  # pragma: no cover
    """edgeR ``compute_apl`` of every gene (rows of ``y`` and fitted ``mu``) at its own
    dispersion ``disp[g]``: see :func:`_apl_one`."""
    G, n = y.shape
    p = X.shape[1]
    XT = np.ascontiguousarray(X.T)
    out = np.empty(G)
    nblk = min(G, 256)
    for blk in prange(nblk):
        lgy1 = np.empty(n)
        lmu = np.empty(n)
        ww = np.empty(n)
        A = np.empty((p, p))
        work = np.empty((p, p))
        for g in range(blk * G // nblk, (blk + 1) * G // nblk):
            for j in range(n):
                lgy1[j] = math.lgamma(y[g, j] + 1.0)
                lmu[j] = math.log(mu[g, j]) if mu[g, j] > 0.0 else -np.inf
            out[g] = _apl_one(y[g], mu[g], lmu, disp[g], XT, lgy1, ww, A, work)
    return out
