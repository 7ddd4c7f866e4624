"""edgeR's ``estimateDisp`` (GLM / Cox-Reid method), reproduced in vectorised numpy.

This module follows edgeR 3.40 (with limma 3.54 and locfit 1.5-9) step by step so that the
numbers agree with R to many digits:

1. genes with ``rowSums(counts) >= min_row_sum`` are kept for the estimation;
2. the Cox-Reid adjusted profile log-likelihood (APL) of every kept gene is evaluated on a
   grid of dispersions ``phi_k = 0.1 * 2**t_k`` (``t_k`` evenly spaced on ``[-10, 10]``,
   21 points), after dropping, gene by gene, the samples whose fitted mean is exactly zero;
3. the common dispersion maximises the summed APL, found by maximising an FMM cubic spline
   through the grid values (edgeR's ``maximizeInterpolant``);
4. the abundance trend ``m0`` is a local-constant (degree 0) locfit smooth of every grid
   column of the APL matrix against ``AveLogCPM``; its maximiser gives the trended
   dispersions;
5. the prior degrees of freedom are estimated (when not given) by limma's ``squeezeVar`` on
   the genewise deviances of a GLM fit at the trended dispersions, with ``AveLogCPM`` as
   covariate of a natural-spline trend (``fitFDist``);
6. the tagwise dispersions maximise the weighted likelihood ``APL_g + prior_n * m0_g`` with
   ``prior_n = prior_df / (n_samples - n_coefs)`` (weighted-likelihood empirical Bayes).

Everything is vectorised over genes; Python loops run over grid points, samples, zero
patterns, tree vertices or Newton iterations only. Internally arrays are genes x samples
(edgeR's orientation); the public function takes samples x genes.
"""

from __future__ import annotations

import logging
import math
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from scipy.special import digamma, polygamma

from ._validation import as_count_frame

logger = logging.getLogger(__name__)

__all__ = ["estimate_disp_glm", "ave_log_cpm", "adjusted_profile_lik", "maximize_interpolant"]

_LOW_VALUE = 1e-10
#: gene sets smaller than this are fitted on one thread (see _threads_for)
_MIN_PARALLEL_GENES = 256
_LOG_LOW_VALUE = math.log(_LOW_VALUE)


# --------------------------------------------------------------------------------------
# Spline interpolation (edgeR's maximizeInterpolant: R's "fmm" spline)
# --------------------------------------------------------------------------------------
def _fmm_spline(x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Forsythe-Malcolm-Moler cubic spline coefficients, one spline per row of ``y``.

    On segment ``[x_i, x_{i+1}]`` the spline is
    ``y_i + b_i u + c_i u^2 + d_i u^3`` with ``u = x - x_i``; the end conditions match the
    third derivatives of the cubics through the first and last four points (R's
    ``spline(method="fmm")``).
    """
    y = np.asarray(y, dtype=float)
    G, n = y.shape
    if n < 3:
        t = (y[:, 1] - y[:, 0]) / (x[1] - x[0])
        b = np.column_stack([t, t])
        z = np.zeros_like(b)
        return b, z, z.copy()
    # 1-based working arrays (index 0 unused) to mirror the textbook algorithm
    X = np.concatenate([[np.nan], np.asarray(x, dtype=float)])
    Y = np.concatenate([np.full((G, 1), np.nan), y], axis=1)
    b = np.zeros((G, n + 1))
    c = np.zeros((G, n + 1))
    d = np.zeros((G, n + 1))
    nm1 = n - 1
    d[:, 1] = X[2] - X[1]
    c[:, 2] = (Y[:, 2] - Y[:, 1]) / d[:, 1]
    for i in range(2, n):
        d[:, i] = X[i + 1] - X[i]
        b[:, i] = 2.0 * (d[:, i - 1] + d[:, i])
        c[:, i + 1] = (Y[:, i + 1] - Y[:, i]) / d[:, i]
        c[:, i] = c[:, i + 1] - c[:, i]
    b[:, 1] = -d[:, 1]
    b[:, n] = -d[:, nm1]
    c[:, 1] = 0.0
    c[:, n] = 0.0
    if n > 3:
        c1 = c[:, 3] / (X[4] - X[2]) - c[:, 2] / (X[3] - X[1])
        cn = c[:, nm1] / (X[n] - X[n - 2]) - c[:, n - 2] / (X[nm1] - X[n - 3])
        c[:, 1] = c1 * d[:, 1] * d[:, 1] / (X[4] - X[1])
        c[:, n] = -cn * d[:, nm1] * d[:, nm1] / (X[n] - X[n - 3])
    for i in range(2, n + 1):
        t = d[:, i - 1] / b[:, i - 1]
        b[:, i] = b[:, i] - t * d[:, i - 1]
        c[:, i] = c[:, i] - t * c[:, i - 1]
    c[:, n] = c[:, n] / b[:, n]
    for i in range(nm1, 0, -1):
        c[:, i] = (c[:, i] - d[:, i] * c[:, i + 1]) / b[:, i]
    b[:, n] = (Y[:, n] - Y[:, n - 1]) / d[:, n - 1] + d[:, n - 1] * (c[:, n - 1] + 2.0 * c[:, n])
    for i in range(1, nm1 + 1):
        b[:, i] = (Y[:, i + 1] - Y[:, i]) / d[:, i] - d[:, i] * (c[:, i + 1] + 2.0 * c[:, i])
        d[:, i] = (c[:, i + 1] - c[:, i]) / d[:, i]
        c[:, i] = 3.0 * c[:, i]
    c[:, n] = 3.0 * c[:, n]
    d[:, n] = d[:, nm1]
    return b[:, 1:], c[:, 1:], d[:, 1:]


def maximize_interpolant(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Location of the maximum of the FMM spline through each row of ``y``.

    edgeR's ``maximizeInterpolant``: start from the largest grid value, then look for a
    stationary point ``3 d u^2 + 2 c u + b = 0`` of the spline in the segments left and
    right of it and keep whichever gives the largest interpolated value.

    Parameters
    ----------
    x : ndarray, shape (k,)
        Sorted, distinct grid points.
    y : ndarray, shape (G, k)
        Values on the grid, one row per curve.

    Returns
    -------
    ndarray, shape (G,)
    """
    x = np.asarray(x, dtype=float)
    y = np.atleast_2d(np.asarray(y, dtype=float))
    G, k = y.shape
    if k != x.size:
        raise ValueError("number of columns of y must equal the number of grid points")
    b, c, d = _fmm_spline(x, y)
    rows = np.arange(G)
    at = np.argmax(y, axis=1)
    maxed = y[rows, at].copy()
    x_max = x[at].copy()
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        for side in ("left", "right"):
            if side == "left":
                ok = at > 0
                seg = np.where(ok, at - 1, 0)
            else:
                ok = at < k - 1
                seg = np.where(ok, at, 0)
            sd, sc, sb = d[rows, seg], c[rows, seg], b[rows, seg]
            qa, qb, qc = 3.0 * sd, 2.0 * sc, sb
            disc = qb * qb - 4.0 * qa * qc
            solvable = ok & (disc >= 0)
            front = -qb / (2.0 * qa)
            back = np.sqrt(np.where(disc >= 0, disc, 0.0)) / (2.0 * qa)
            sol = front - back
            width = x[np.minimum(seg + 1, k - 1)] - x[seg]
            inside = solvable & (sol > 0) & (sol < width)
            val = ((sd * sol + sc) * sol + sb) * sol + y[rows, seg]
            better = inside & (val > maxed)
            maxed = np.where(better, val, maxed)
            x_max = np.where(better, sol + x[seg], x_max)
    return x_max


# --------------------------------------------------------------------------------------
# Negative binomial GLM fitting, as in edgeR's glmFit (mglmOneWay / mglmLevenberg);
# the per-gene work runs in the compiled kernels of radiogenomics._kernels
# --------------------------------------------------------------------------------------
def _nb_unit_deviance(y: np.ndarray, mu: np.ndarray, phi: Any) -> np.ndarray:
    """edgeR's unit NB deviance with its Poisson (``phi < 1e-4``) and gamma
    (``mu * phi > 1e6``) limits; ``1e-8`` is added to ``y`` and ``mu`` first.

    ``d(y, mu) = 2 [ y log(y/mu) + (y + 1/phi) log((mu + 1/phi)/(y + 1/phi)) ]``.
    """
    from ._kernels import nb_unit_deviance

    return np.vectorize(nb_unit_deviance, otypes=[float])(y, mu, phi)


def _design_as_factor(design: np.ndarray) -> tuple[np.ndarray, int]:
    """Group index of the distinct rows of ``design`` (edgeR's ``designAsFactor``)."""
    z = (math.e + math.pi) / 5.0
    key = (design * z ** np.arange(design.shape[1])).mean(axis=1)
    _, inv = np.unique(np.round(key, 12), return_inverse=True)
    return inv.ravel(), int(inv.max()) + 1


@dataclass
class _Design:
    """What the GLM kernels need to know about a design matrix ``X`` (n x p).

    Samples are processed in the order ``order``, in segments ``seg[k]:seg[k+1]``: the
    groups of a oneway layout, or the blocks of a block-diagonal reparametrisation
    ``Z = X M`` (block ``k`` holds its samples and ``bp[k]`` columns, stored transposed in
    ``Xflat``), or one segment holding ``X`` itself."""

    X: np.ndarray  # contiguous float design
    oneway: bool  # edgeR's oneway layout: as many distinct rows as columns
    order: np.ndarray  # sample order of the kernels
    seg: np.ndarray  # segment boundaries in that order
    bp: np.ndarray  # columns of each segment's design (oneway: 1)
    Xflat: np.ndarray  # the segments' designs, concatenated
    du: np.ndarray  # oneway: design row of each group
    indicator: bool  # oneway: du is an indicator matrix (no back-transform)
    M: np.ndarray | None  # block designs: beta = M gamma (None: gamma = beta)
    logdet_m: float  # log |det M| (added to the APL of a block design)
    q: np.ndarray  # Levenberg "null" start direction (coefficients of the kernel)


def _block_structure(X: np.ndarray) -> tuple[np.ndarray, np.ndarray] | None:
    """Finest partition of the samples over which the column space of ``X`` splits into a
    direct sum of subspaces supported on each part: the connected components of the
    non-zero pattern of the hat matrix ``H = X X^+`` (``H`` is block diagonal exactly for
    such a partition). Returns (component of each sample, number of components) or None
    when there is a single component."""
    H = X @ np.linalg.pinv(X)
    adj = np.abs(H) > 1e-9 * max(1.0, float(np.abs(H).max()))
    n = adj.shape[0]
    lab = np.arange(n)
    while True:  # each sample takes the smallest label of its neighbours, until stable
        new = np.where(adj, lab[None, :], n).min(axis=1)
        new = np.minimum(new, lab)
        if np.array_equal(new, lab):
            break
        lab = new
    roots, lab = np.unique(lab, return_inverse=True)
    if roots.size < 2:
        return None
    return lab.ravel().astype(np.int64), np.array(roots.size)


def _design_info(design: np.ndarray, blocks: bool = True) -> _Design:
    X = np.ascontiguousarray(design, dtype=float)
    n, p = X.shape
    group, ng = _design_as_factor(X)
    q = np.linalg.lstsq(X, np.ones(n), rcond=None)[0]
    one = np.array([0, n], dtype=np.int64)
    if ng == p:  # oneway layout: samples sorted by group
        order = np.argsort(group, kind="stable")
        seg = np.searchsorted(group[order], np.arange(ng + 1)).astype(np.int64)
        du = X[order[seg[:-1]]]
        indicator = int((du == 1).sum()) == ng and int((du == 0).sum()) == (ng - 1) * ng
        return _Design(X, True, order.astype(np.int64), seg, np.ones(ng, dtype=np.int64),
                       np.ascontiguousarray(X[order].T).ravel(), du, indicator, None, 0.0, q)
    plain = _Design(X, False, np.arange(n, dtype=np.int64), one, np.array([p], np.int64),
                    np.ascontiguousarray(X.T).ravel(), np.eye(p), True, None, 0.0, q)
    found = _block_structure(X) if blocks else None
    if found is None:
        return plain
    lab, ncomp = found
    order = np.argsort(lab, kind="stable")
    seg = np.searchsorted(lab[order], np.arange(int(ncomp) + 1)).astype(np.int64)
    Z = np.zeros((n, p))
    bp, parts, col = [], [], 0
    for k in range(int(ncomp)):
        rows = order[seg[k]:seg[k + 1]]
        Xk = X[rows]
        Zk = Xk[:, _kept_columns(Xk)]
        if col + Zk.shape[1] > p:
            return plain
        Z[rows, col:col + Zk.shape[1]] = Zk
        bp.append(Zk.shape[1])
        parts.append(np.ascontiguousarray(Zk.T).ravel())
        col += Zk.shape[1]
    if col != p:
        return plain
    M = np.linalg.lstsq(X, Z, rcond=None)[0]
    if not np.allclose(X @ M, Z, rtol=0, atol=1e-9 * max(1.0, float(np.abs(Z).max()))):
        return plain
    sign, logdet = np.linalg.slogdet(M)
    if sign == 0:
        return plain
    return _Design(X, False, order.astype(np.int64), seg, np.array(bp, dtype=np.int64),
                   np.concatenate(parts), np.eye(p), True, M, float(logdet),
                   np.linalg.solve(M, q))


@contextmanager
def _threads_for(n_genes: int):
    """Run the compiled kernels on one thread for small gene sets (a parallel region costs
    a thread wake-up, which on a loaded machine can take tens of milliseconds), and hand
    out the kernels' gene blocks one at a time otherwise (dynamic scheduling: a thread
    delayed by other processes does not hold up the others)."""
    import numba

    if n_genes >= _MIN_PARALLEL_GENES:
        before = numba.set_parallel_chunksize(1)
        try:
            yield
        finally:
            numba.set_parallel_chunksize(before)
        return
    before = numba.get_num_threads()
    numba.set_num_threads(1)
    try:
        yield
    finally:
        numba.set_num_threads(before)


@dataclass
class _GLMFit:
    coefficients: np.ndarray
    fitted: np.ndarray | None
    deviance: np.ndarray
    method: str


def _glm_fit(
    y: np.ndarray,
    design: np.ndarray | _Design,
    offset: np.ndarray,
    disp: Any,
    w: np.ndarray | None = None,
    start: np.ndarray | None = None,
    *,
    fitted: bool = True,
    maxit: int | None = None,
    tol: float | None = None,
) -> _GLMFit:
    """edgeR ``glmFit(..., prior.count=0)``: oneway shortcut (``mglmOneWay``: one
    intercept fit per group, maxit 50, tol 1e-10, log means floored at -1e8) when the design
    is a oneway layout, Levenberg (``mglmLevenberg``, maxit 250, tol 1e-6) otherwise, block
    by block when the design is block diagonal after a reparametrisation (e.g. class x
    covariate interactions: one independent fit per class, the same maximum likelihood).
    ``y`` is genes x samples, ``offset`` one value per sample, ``disp`` a scalar or one
    value per gene. Compiled, parallel over genes (:func:`radiogenomics._kernels.glm_fit_rows`).
    """
    from ._kernels import glm_fit_rows

    if w is not None:
        raise ValueError("observation weights are not supported")
    info = design if isinstance(design, _Design) else _design_info(np.asarray(design, float))
    y = np.ascontiguousarray(y, dtype=float)
    G, n = y.shape
    off = np.ascontiguousarray(np.broadcast_to(np.asarray(offset, dtype=float), (n,)))
    d = np.ascontiguousarray(np.broadcast_to(np.asarray(disp, dtype=float).reshape(-1)
                                             if np.ndim(disp) else disp, (G,)), dtype=float)
    ncoef = int(info.bp.sum())
    if start is None:
        st = np.full((G, ncoef), np.nan)
    else:
        st = np.asarray(start, dtype=float)
        if info.oneway and not info.indicator:
            st = st @ info.du.T
        elif info.M is not None:
            st = np.linalg.solve(info.M, st.T).T
    if info.oneway:
        maxit, tol = maxit or 50, tol or 1e-10
    else:
        maxit, tol = maxit or 250, tol or 1e-6
    mu = np.empty((G, n)) if fitted else np.empty((0, 0))
    with _threads_for(G):
        coef, dev = glm_fit_rows(y, info.X, off, d, np.ascontiguousarray(st), info.oneway,
                                 info.order, info.seg, info.bp, info.Xflat, info.q,
                                 int(maxit), float(tol), mu)
    if info.oneway and not info.indicator:
        coef = np.linalg.solve(info.du, coef.T).T
    elif info.M is not None:
        coef = coef @ info.M.T
    return _GLMFit(coef, mu if fitted else None, dev, "oneway" if info.oneway else "levenberg")


def _mglm_levenberg(
    y: np.ndarray,
    design: np.ndarray,
    offset: np.ndarray,
    disp: Any,
    w: np.ndarray | None = None,
    coef_start: np.ndarray | None = None,
    maxit: int = 200,
    tol: float = 1e-6,
    blocks: bool = False,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Levenberg-damped Fisher scoring for genewise NB GLMs (edgeR ``mglmLevenberg``),
    whatever the design (``blocks``: block by block where the design allows it). Returns
    coefficients, fitted values and deviances (genes in rows). See
    :func:`radiogenomics._kernels._levenberg_fit` for the iteration."""
    X = np.asarray(design, dtype=float)
    info = _design_info(X, blocks=blocks)
    if info.oneway:
        n, p = X.shape
        info = _Design(np.ascontiguousarray(X), False, np.arange(n, dtype=np.int64),
                       np.array([0, n], dtype=np.int64), np.array([p], dtype=np.int64),
                       np.ascontiguousarray(X.T).ravel(), np.eye(p), True, None, 0.0, info.q)
    fit = _glm_fit(y, info, offset, disp, w, coef_start, maxit=maxit, tol=tol)
    return fit.coefficients, fit.fitted, fit.deviance


# --------------------------------------------------------------------------------------
# Cox-Reid adjusted profile likelihood
# --------------------------------------------------------------------------------------
def _apl_grid(y: np.ndarray, design: np.ndarray | _Design, offset: np.ndarray,
              grid: np.ndarray) -> np.ndarray:
    """APL of every gene at every grid dispersion (genes x grid), each fit started from
    the previous grid point's coefficients, as edgeR's ``estimateDisp`` loop."""
    from ._kernels import apl_grid

    info = design if isinstance(design, _Design) else _design_info(np.asarray(design, float))
    maxit, tol = (50, 1e-10) if info.oneway else (250, 1e-6)
    with _threads_for(y.shape[0]):
        out = apl_grid(np.ascontiguousarray(y, dtype=float), info.X,
                       np.ascontiguousarray(offset, dtype=float),
                       np.ascontiguousarray(grid, dtype=float), info.oneway, info.order,
                       info.seg, info.bp, info.Xflat, info.q, maxit, tol,
                       info.M is not None)
    if info.M is not None:  # log det X'WX = log det Z'WZ - 2 log |det M|
        out += info.logdet_m
    return out


def adjusted_profile_lik(
    dispersion: Any,
    y: np.ndarray,
    design: np.ndarray,
    offset: np.ndarray,
    start: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Cox-Reid APL of every gene at ``dispersion`` (edgeR ``adjustedProfileLik``).

    ``APL_g(phi) = sum_j log f_NB(y_gj; mu_gj, phi) - 1/2 log det(X' W_g X)`` with
    ``W_g = diag(mu_gj / (1 + phi mu_gj))``, the ``mu_gj`` fitted at ``phi``; observations
    with ``mu = 0`` contribute nothing (edgeR's convention).

    Parameters
    ----------
    dispersion : float or ndarray (G,)
    y : ndarray (G, n)
        Counts, genes in rows.
    design : ndarray (n, p)
    offset : ndarray (n,)
        Log effective library sizes.
    start : ndarray (G, p), optional
        Starting coefficients (hot start from a neighbouring dispersion).

    Returns
    -------
    apl : ndarray (G,)
    coefficients : ndarray (G, p)
    """
    from ._kernels import apl_rows

    y = np.ascontiguousarray(y, dtype=float)
    X = np.ascontiguousarray(design, dtype=float)
    disp = np.ascontiguousarray(np.broadcast_to(np.asarray(dispersion, dtype=float),
                                                (y.shape[0],)))
    fit = _glm_fit(y, X, offset, disp, start=start)
    return apl_rows(y, fit.fitted, disp, X), fit.coefficients


# --------------------------------------------------------------------------------------
# Abundance
# --------------------------------------------------------------------------------------
def ave_log_cpm(
    y: np.ndarray, lib_size: np.ndarray, prior_count: float = 2.0, dispersion: float = 0.05
) -> np.ndarray:
    """edgeR ``aveLogCPM``: log2 of the NB-GLM average count per million.

    A prior count ``prior_count * L_j / mean(L)`` is added to every count and twice that to
    the library sizes; then ``AveLogCPM_g = (beta_g + log 1e6) / log 2`` where ``beta_g`` is
    the intercept-only NB fit (``offset = log(L_j + 2 prior_j)``) at ``dispersion``.

    ``y`` is genes x samples.
    """
    from ._kernels import one_group_rows

    y = np.asarray(y, dtype=float)
    lib = np.asarray(lib_size, dtype=float)
    prior = prior_count * lib / lib.mean()
    offset = np.log(lib + 2.0 * prior)
    disp = np.full(y.shape[0], float(dispersion))
    beta = one_group_rows(np.ascontiguousarray(y + prior), offset, disp, 50, 1e-10)
    return (beta + math.log(1e6)) / math.log(2.0)
# --------------------------------------------------------------------------------------
# locfit (degree 0, tricube, nearest-neighbour bandwidth, adaptive tree + interpolation)
# --------------------------------------------------------------------------------------
def _locfit_deg0_by_col(y: np.ndarray, x: np.ndarray, span: float, cut: float = 0.8) -> np.ndarray:
    """Fitted values of ``locfit(y[:, j] ~ x, alpha=span, deg=0)`` for every column ``j``.

    The local-constant fit at a point ``v`` is ``sum_i K_i y_i / sum_i K_i`` with tricube
    weights ``K_i = (1 - (|x_i - v|/h_v)^3)^3`` and ``h_v`` the distance from ``v`` to its
    ``floor(n * span)``-th nearest ``x_i``. As in locfit, fits are computed only at the
    vertices of an adaptive tree over ``[min x, max x]`` (a cell is halved while its length
    exceeds ``cut`` times the smaller vertex bandwidth) and the fitted values are linearly
    interpolated between vertices (degree 0 carries no derivative information).
    """
    y = np.asarray(y, dtype=float)
    x = np.asarray(x, dtype=float)
    n = x.size
    if span * n < 2 or n <= 1:
        return y.copy()
    k = int(n * span + 1e-12)
    xs = np.sort(x)
    lo_x, hi_x = xs[0], xs[-1]

    def bandwidth(v: float) -> float:
        if k < 1:
            return 0.0
        dist = np.abs(xs - v)
        if k < n:
            return float(np.partition(dist, k - 1)[k - 1])
        return float(dist.max() * (k / n))

    verts: list[float] = []
    hs: list[float] = []
    pseudo: list[tuple[int, int] | None] = []

    def add_vertex(v: float, parents: tuple[int, int] | None = None) -> int:
        verts.append(v)
        if parents is None:
            hs.append(bandwidth(v))
        else:
            hs.append((hs[parents[0]] + hs[parents[1]]) / 2.0)
        pseudo.append(parents)
        return len(verts) - 1

    def score(i0: int, i1: int) -> tuple[float, float]:
        le = verts[i1] - verts[i0]
        h = [hh for hh in (hs[i0], hs[i1]) if hh > 0]
        if not h:
            return le, 2.0 * le / (hi_x - lo_x)
        return le, le / min(h)

    # iterative depth-first growth (left child first, as locfit)
    a0, a1 = add_vertex(lo_x), add_vertex(hi_x)
    stack = [(a0, a1)]
    while stack:
        i0, i1 = stack.pop()
        le, sc = score(i0, i1)
        if not cut < sc:
            continue
        pv = le < cut * min(hs[i0], hs[i1])
        mid = (verts[i0] + verts[i1]) / 2.0
        im = add_vertex(mid, (i0, i1) if pv else None)
        stack.append((im, i1))
        stack.append((i0, im))

    V = np.array(verts)
    H = np.array(hs)
    real = np.array([p is None for p in pseudo])
    vals = np.zeros((V.size, y.shape[1]))
    if real.any():
        vr, hr = V[real], H[real]
        with np.errstate(divide="ignore", invalid="ignore"):
            u = np.abs(x[None, :] - vr[:, None]) / hr[:, None]
        K = np.where(u < 1, (1 - u**3) ** 3, 0.0)
        K = np.where(hr[:, None] == 0, (u == 0).astype(float), K) if np.any(hr == 0) else K
        vals[real] = (K @ y) / K.sum(axis=1)[:, None]
    for i, par in enumerate(pseudo):  # pseudo vertices (rare in 1-D): midpoint average
        if par is not None:
            vals[i] = (vals[par[0]] + vals[par[1]]) / 2.0
    order = np.argsort(V)
    Vs, vals = V[order], vals[order]
    # linear interpolation within the tree cell containing each x
    j = np.clip(np.searchsorted(Vs, x, side="right") - 1, 0, Vs.size - 2)
    left, right = Vs[j], Vs[j + 1]
    d = right - left
    t = np.where(d > 0, (x - left) / np.where(d > 0, d, 1.0), 0.0)
    return (1 - t)[:, None] * vals[j] + t[:, None] * vals[j + 1]


# --------------------------------------------------------------------------------------
# limma squeezeVar / fitFDist (prior df only)
# --------------------------------------------------------------------------------------
def _trigamma_inverse(x: float) -> float:
    """Solve ``trigamma(y) = x`` by limma's Newton iteration."""
    if x > 1e7:
        return 1.0 / math.sqrt(x)
    if x < 1e-6:
        return 1.0 / x
    y = 0.5 + 1.0 / x
    for _ in range(51):
        tri = float(polygamma(1, y))
        dif = tri * (1 - tri / x) / float(polygamma(2, y))
        y += dif
        if -dif / y < 1e-8:
            break
    return y


def _natural_spline_basis(x: np.ndarray, df: int) -> np.ndarray:
    """A basis of the natural cubic splines spanned by ``splines::ns(x, df, intercept=TRUE)``:
    boundary knots at the range of ``x`` and ``df - 2`` interior knots at quantiles."""
    lo, hi = float(x.min()), float(x.max())
    n_int = df - 2
    interior = np.quantile(x, np.linspace(0, 1, n_int + 2)[1:-1]) if n_int > 0 else np.array([])
    knots = (np.concatenate([[lo], interior, [hi]]) - lo) / (hi - lo)
    u = (x - lo) / (hi - lo)
    cols = [np.ones_like(u), u]
    K = knots.size

    def dk(k: int) -> np.ndarray:
        return (np.maximum(u - knots[k], 0) ** 3 - np.maximum(u - knots[K - 1], 0) ** 3) / (
            knots[K - 1] - knots[k]
        )

    for k in range(K - 2):
        cols.append(dk(k) - dk(K - 2))
    return np.column_stack(cols)


def _fit_f_dist_df2(x: np.ndarray, df1: np.ndarray, covariate: np.ndarray | None = None) -> float:
    """Prior degrees of freedom of limma's ``fitFDist`` (moment estimate on log scale).

    ``e_g = log s2_g - digamma(d_g/2) + log(d_g/2)``; the mean of ``e`` is a natural cubic
    spline in the covariate (``min(4, n-1, #unique)`` df); with
    ``v = mean(residual^2) - mean(trigamma(d_g/2))``, ``df2 = 2 trigamma^{-1}(v)`` (``inf``
    when ``v <= 0``).
    """
    x = np.asarray(x, dtype=float)
    df1 = np.broadcast_to(np.asarray(df1, dtype=float), x.shape)
    n = x.size
    if n == 0:
        return float("nan")
    if n == 1:
        return 0.0
    ok = np.isfinite(df1) & (df1 > 1e-15) & np.isfinite(x) & (x > -1e-15)
    nok = int(ok.sum())
    if nok == 1:
        return 0.0
    if nok == 0:
        return float("nan")
    x, df1 = x[ok], df1[ok]
    if covariate is not None:
        cov = np.asarray(covariate, dtype=float)[ok]
        splinedf = min(4, nok - 1, np.unique(cov).size)
        if splinedf < 2:
            covariate = None
    x = np.maximum(x, 0)
    m = float(np.median(x))
    if m == 0:
        logger.warning("More than half of residual variances are exactly zero: eBayes unreliable")
        m = 1.0
    x = np.maximum(x, 1e-5 * m)
    e = np.log(x) - digamma(df1 / 2) + np.log(df1 / 2)
    if covariate is None:
        evar = float(np.sum((e - e.mean()) ** 2) / (nok - 1))
    else:
        B = _natural_spline_basis(cov, splinedf)
        Q, R = np.linalg.qr(B)
        rank = int(np.sum(np.abs(np.diag(R)) > 1e-7 * np.abs(R).max()))
        resid = e - Q @ (Q.T @ e)
        evar = float(np.sum(resid**2) / (nok - rank))
    evar -= float(np.mean(polygamma(1, df1 / 2)))
    if evar > 0:
        return 2.0 * _trigamma_inverse(evar)
    return float("inf")


# --------------------------------------------------------------------------------------
# Degrees-of-freedom helpers
# --------------------------------------------------------------------------------------
def _kept_columns(X: np.ndarray, tol: float = 1e-7) -> np.ndarray:
    """Columns kept by R's ``qr()`` (LINPACK ``dqrdc2`` limited pivoting): a column is moved
    to the end when its norm after projection on the previous kept columns is below
    ``tol`` times its original norm. Returns the kept column indices, in order."""
    from ._kernels import kept_columns

    return kept_columns(np.ascontiguousarray(X, dtype=float), float(tol))


def _zero_patterns(zero: np.ndarray) -> list[tuple[np.ndarray, np.ndarray]]:
    """Genes grouped by their pattern of zero observations (rows of the boolean ``zero``):
    ``(row indices, pattern)`` pairs; only the rows with some zero are sorted."""
    G, n = zero.shape
    some = zero.any(axis=1)
    out = []
    none = np.flatnonzero(~some)
    if none.size:
        out.append((none, np.zeros(n, dtype=bool)))
    idx = np.flatnonzero(some)
    if idx.size:
        pats, inv = np.unique(zero[idx], axis=0, return_inverse=True)
        inv = inv.ravel()
        order = np.argsort(inv, kind="stable")
        bounds = np.searchsorted(inv[order], np.arange(pats.shape[0] + 1))
        for k in range(pats.shape[0]):
            out.append((idx[order[bounds[k]:bounds[k + 1]]], pats[k]))
    return out


def _resid_df(zero: np.ndarray, design: np.ndarray) -> np.ndarray:
    """Residual df after dropping exactly-zero fitted observations (edgeR ``.residDF``)."""
    G, n = zero.shape
    p = design.shape[1]
    nzero = zero.sum(axis=1)
    df = np.full(G, n - p, dtype=float)
    df[nzero == n] = 0
    some = (nzero > 0) & (nzero < n)
    if some.any():
        pats, inv = np.unique(zero[some], axis=0, return_inverse=True)
        inv = inv.ravel()
        ranks = np.array([_kept_columns(design[~pat]).size for pat in pats])
        df[some] = np.maximum(n - nzero[some] - ranks[inv], 0)
    return df


def _default_span(ntags: int) -> float:
    """edgeR's span for the dispersion trend: 1 for <= 50 genes, else
    ``0.25 + 0.75 sqrt(50 / ntags)``."""
    return 1.0 if ntags <= 50 else 0.25 + 0.75 * math.sqrt(50.0 / ntags)


# --------------------------------------------------------------------------------------
# Public entry point
# --------------------------------------------------------------------------------------
def estimate_disp_glm(
    counts: pd.DataFrame,
    design: np.ndarray,
    lib_size: np.ndarray,
    prior_df: float | None = None,
    *,
    min_row_sum: float = 5,
    grid_length: int = 21,
    grid_range: tuple[float, float] = (-10.0, 10.0),
    span: float | None = None,
) -> dict[str, Any]:
    r"""Common, trended and tagwise NB dispersions as edgeR's ``estimateDisp(y, design)``.

    Parameters
    ----------
    counts : DataFrame, samples x genes
        Non-negative finite counts (validated again here; fractional values allowed).
    design : ndarray, shape (n_samples, p)
        Full-rank design matrix (e.g. intercept + group indicators).
    lib_size : ndarray, shape (n_samples,)
        Effective library sizes ``lib.size * norm.factors`` (TMM); the offsets are their logs.
    prior_df : float, optional
        Prior degrees of freedom of the weighted likelihood. ``None`` (default) estimates
        it with limma's ``squeezeVar`` as edgeR does.
    min_row_sum, grid_length, grid_range, span
        edgeR's defaults (genes with fewer than ``min_row_sum`` reads in total are not used
        for the estimation and receive the trend value at the lowest abundance).

    Returns
    -------
    dict
        ``common`` (float), ``trended`` and ``tagwise`` (Series indexed by gene),
        ``prior_df`` (float), ``span`` (float), ``ave_log_cpm`` (Series).

    Notes
    -----
    For gene ``g`` and grid dispersion :math:`\phi_k = 0.1 \cdot 2^{t_k}` the Cox-Reid
    adjusted profile log-likelihood is

    .. math:: \ell_g(\phi) = \sum_j \log f_{NB}(y_{gj}; \hat\mu_{gj}(\phi), \phi)
              - \tfrac12 \log\det\bigl(X^\top W_g(\phi) X\bigr),
              \quad W_g = \mathrm{diag}\bigl(\hat\mu_{gj}/(1+\phi\hat\mu_{gj})\bigr).

    The common dispersion maximises :math:`\sum_g \ell_g`; the trend :math:`m_{0g}(\phi)`
    is a degree-0 locfit of :math:`\ell_g(\phi_k)` on AveLogCPM; tagwise dispersions
    maximise the weighted likelihood (WLEB)

    .. math:: \ell_g(\phi) + \frac{d_0}{n - p}\, m_{0g}(\phi),

    with :math:`d_0` the prior df. Maximisation over :math:`t` is by cubic-spline
    interpolation of the 21 grid values.

    The APL grid is computed once per distinct pattern of exactly-zero fitted observations
    (a handful for group designs); within a pattern all genes are fitted together.
    """
    counts = as_count_frame(counts, integer=False)
    genes = counts.columns
    Y = np.ascontiguousarray(counts.to_numpy(dtype=float).T)  # genes x samples
    X = np.asarray(design, dtype=float)
    if X.ndim == 1:
        X = X[:, None]
    G, n = Y.shape
    if X.shape[0] != n:
        raise ValueError(f"design has {X.shape[0]} rows but counts have {n} samples")
    if isinstance(lib_size, pd.Series) and not isinstance(lib_size.index, pd.RangeIndex):
        missing = counts.index.difference(lib_size.index)
        if len(missing):
            raise ValueError(f"lib_size has no value for samples: {list(missing[:8])}")
        lib_size = lib_size.loc[counts.index]
    lib = np.asarray(lib_size, dtype=float).ravel()
    if lib.size != n:
        raise ValueError(f"lib_size has {lib.size} values but counts have {n} samples")
    if not np.all(np.isfinite(lib)) or np.any(lib <= 0):
        raise ValueError("lib_size must be finite and positive")
    if np.linalg.matrix_rank(X) < X.shape[1]:
        raise ValueError("design matrix is not of full column rank")
    p = X.shape[1]
    offset = np.log(lib)

    def series(v: np.ndarray, name: str) -> pd.Series:
        return pd.Series(v, index=genes, name=name)

    if p >= n:
        logger.warning("no residual degrees of freedom: dispersions set to NaN")
        nan = np.full(G, np.nan)
        return dict(
            common=float("nan"),
            trended=series(nan, "trended"),
            tagwise=series(nan.copy(), "tagwise"),
            prior_df=float("nan"),
            span=float("nan"),
            ave_log_cpm=series(ave_log_cpm(Y, lib), "ave_log_cpm"),
        )

    sel = Y.sum(axis=1) >= min_row_sum
    Ys = Y[sel]
    nsel = Ys.shape[0]
    if nsel == 0:
        raise ValueError(
            f"no gene has at least {min_row_sum} reads in total; cannot estimate dispersion"
        )
    spline_pts = np.linspace(grid_range[0], grid_range[1], grid_length)
    spline_disp = 0.1 * 2.0**spline_pts
    l0 = np.zeros((nsel, grid_length))

    # observations with a fitted mean of exactly zero are dropped, gene by gene
    info = _design_info(X)
    zerofit = np.zeros(Ys.shape, dtype=bool)
    some = np.flatnonzero((Ys < 1e-4).any(axis=1))  # only genes with a zero count can
    if some.size:  # have a zero fitted mean: fit those alone
        fit0 = _glm_fit(Ys[some], info, offset, 0.05)
        zerofit[some] = (Ys[some] < 1e-4) & (fit0.fitted < 1e-4)
        del fit0
    for rows, pat in _zero_patterns(zerofit):
        nz = ~pat
        if not nz.any():
            continue
        if nz.all():
            l0[rows] = _apl_grid(Ys[rows] if rows.size < nsel else Ys, info, offset, spline_disp)
            continue
        redesign = X[nz]
        redesign = redesign[:, _kept_columns(redesign)]
        if redesign.shape[0] == redesign.shape[1]:
            continue
        l0[rows] = _apl_grid(Ys[np.ix_(rows, nz)], redesign, offset[nz], spline_disp)
    del zerofit

    overall = maximize_interpolant(spline_pts, l0.sum(axis=0)[None, :])[0]
    common = float(0.1 * 2.0**overall)

    ave = ave_log_cpm(Y, lib, dispersion=common)
    cov = ave[sel]
    if span is None:
        span = _default_span(nsel)
    m0 = _locfit_deg0_by_col(l0, cov, span)
    disp_trend = 0.1 * 2.0 ** maximize_interpolant(spline_pts, m0)
    trended = np.full(G, disp_trend[np.argmin(cov)])
    trended[sel] = disp_trend

    if prior_df is None:
        fit = _glm_fit(Ys, info, offset, disp_trend)
        zf = (Ys < 1e-4) & (fit.fitted < 1e-4)
        fit.fitted = None
        df_res = _resid_df(zf, X)
        with np.errstate(divide="ignore", invalid="ignore"):
            s2 = fit.deviance / df_res
        s2[df_res == 0] = 0
        s2 = np.maximum(s2, 0)
        prior_df = _fit_f_dist_df2(s2, df_res, cov)
        if not np.isfinite(prior_df) and np.isnan(prior_df):
            raise ValueError("could not estimate the prior degrees of freedom")
    prior_df = float(prior_df)
    prior_n = prior_df / (n - p)

    tagwise = trended.copy()
    if not prior_n > 1e6:
        post = l0 + prior_n * m0
        tagwise[sel] = 0.1 * 2.0 ** maximize_interpolant(spline_pts, post)

    logger.info(
        "estimate_disp_glm: common %.6g, prior df %.4g, span %.4g on %d of %d genes",
        common,
        prior_df,
        span,
        nsel,
        G,
    )
    return dict(
        common=common,
        trended=series(trended, "trended"),
        tagwise=series(tagwise, "tagwise"),
        prior_df=prior_df,
        span=float(span),
        ave_log_cpm=series(ave, "ave_log_cpm"),
    )
