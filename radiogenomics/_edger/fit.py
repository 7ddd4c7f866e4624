"""edgeR's ``glmFit`` and ``adjustedProfileLik`` on arrays (genes x samples), over the
compiled kernels: oneway / block / Levenberg fits, the APL grid, ``aveLogCPM``."""

from __future__ import annotations

import math
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import numpy as np

from .design import _Design, _design_info

#: gene sets smaller than this are fitted on one thread (see _threads_for)
_MIN_PARALLEL_GENES = 256


def _nb_unit_deviance(y: np.ndarray, mu: np.ndarray, phi: Any) -> np.ndarray:
    """edgeR's unit NB deviance with its Poisson (``phi < 1e-4``) and gamma
    (``mu * phi > 1e6``) limits; ``1e-8`` is added to ``y`` and ``mu`` first.

    ``d(y, mu) = 2 [ y log(y/mu) + (y + 1/phi) log((mu + 1/phi)/(y + 1/phi)) ]``.
    """
    from .nbglm import nb_unit_deviance

    return np.vectorize(nb_unit_deviance, otypes=[float])(y, mu, phi)


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
    value per gene. Compiled, parallel over genes (:func:`radiogenomics._edger.apl.glm_fit_rows`).
    """
    from .apl import glm_fit_rows

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
    :func:`radiogenomics._edger.nbglm._levenberg_fit` for the iteration."""
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
    from .apl import apl_grid

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
    from .apl import apl_rows

    y = np.ascontiguousarray(y, dtype=float)
    X = np.ascontiguousarray(design, dtype=float)
    disp = np.ascontiguousarray(np.broadcast_to(np.asarray(dispersion, dtype=float),
                                                (y.shape[0],)))
    fit = _glm_fit(y, X, offset, disp, start=start)
    return apl_rows(y, fit.fitted, disp, X), fit.coefficients


def ave_log_cpm(
    y: np.ndarray, lib_size: np.ndarray, prior_count: float = 2.0, dispersion: float = 0.05
) -> np.ndarray:
    """edgeR ``aveLogCPM``: log2 of the NB-GLM average count per million.

    A prior count ``prior_count * L_j / mean(L)`` is added to every count and twice that to
    the library sizes; then ``AveLogCPM_g = (beta_g + log 1e6) / log 2`` where ``beta_g`` is
    the intercept-only NB fit (``offset = log(L_j + 2 prior_j)``) at ``dispersion``.

    ``y`` is genes x samples.
    """
    from .classic import one_group_rows

    y = np.asarray(y, dtype=float)
    lib = np.asarray(lib_size, dtype=float)
    prior = prior_count * lib / lib.mean()
    offset = np.log(lib + 2.0 * prior)
    disp = np.full(y.shape[0], float(dispersion))
    beta = one_group_rows(np.ascontiguousarray(y + prior), offset, disp, 50, 1e-10)
    return (beta + math.log(1e6)) / math.log(2.0)
