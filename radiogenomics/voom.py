r"""limma ``voom``: log-CPM values with observation-level precision weights.

Reproduces limma 3.54 ``voom()`` (Law et al. 2014) exactly, including R's ``lowess``
(Cleveland's ``clowess`` with ``iter = 3`` robustness steps and ``delta = 0.01 * range``)
and ``approxfun(rule = 2)`` linear interpolation.

- :func:`voom` — log-CPM and weights of a count matrix (samples x genes).
- :func:`lowess` — R's ``stats::lowess`` (``statsmodels``' lowess differs from R's: it
  uses a different neighbourhood/interpolation rule, so it is re-implemented here).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from ._validation import as_count_frame
from .results import Result

logger = logging.getLogger(__name__)

__all__ = ["voom", "lowess", "log_cpm", "VoomFit"]


# --------------------------------------------------------------------------------------
# R's lowess (clowess)
# --------------------------------------------------------------------------------------
def _lowest(x, y, n, xs, nleft, nright, rw, use_rw):
    """One local weighted linear fit at ``xs`` (R's ``lowest``; 0-based indices).

    Returns the fitted value or ``None`` when every weight is zero.
    """
    rng = x[n - 1] - x[0]
    h = max(xs - x[nleft], x[nright] - xs)
    h9 = 0.999 * h
    h1 = 0.001 * h
    # the C loop runs from nleft and stops at the first point with x_j - xs > h9 (ties
    # on the right are picked up); x is sorted so x_j - xs is non-decreasing
    j = int(np.searchsorted(x, xs + h9, side="right"))
    while j > nleft and x[j - 1] - xs > h9:
        j -= 1
    while j < n and x[j] - xs <= h9:
        j += 1
    m = j - nleft
    seg = x[nleft:j]
    r = np.abs(seg - xs)
    if h > 0:
        q = r / h
        w = 1.0 - q * q * q
        w = w * w * w
        w[r <= h1] = 1.0
        w[r > h9] = 0.0
    else:
        w = np.ones(m)
    if use_rw:
        w = w * rw[nleft:nleft + m]
    a = w.sum()
    if a <= 0.0:
        return None
    w = w / a
    if h > 0.0:
        a = np.sum(w * seg)
        b = xs - a
        c = np.sum(w * (seg - a) * (seg - a))
        if np.sqrt(c) > 0.001 * rng:
            b = b / c
            w = w * (b * (seg - a) + 1.0)
    return float(np.sum(w * y[nleft:nleft + m]))


def _clowess(x: np.ndarray, y: np.ndarray, f: float, nsteps: int, delta: float) -> np.ndarray:
    """R's C routine ``clowess`` on sorted ``x`` (0-based translation)."""
    n = len(x)
    if n < 2:
        return y.copy()
    ns = max(2, min(n, int(f * n + 1e-7)))
    ys = np.empty(n)
    rw = np.ones(n)
    res = np.empty(n)
    xl = x.tolist()
    it = 1
    while it <= nsteps + 1:
        nleft, nright = 0, ns - 1
        last = -1
        i = 0
        while True:
            if nright < n - 1:
                # move the window right while the radius decreases: the first l >= nleft
                # with (x_i - x_l) <= (x_{l+ns} - x_i), the same comparison as the C loop
                xi = xl[i]
                if xi - xl[nleft] > xl[nright + 1] - xi:
                    lo = nleft
                    ls = np.arange(lo, n - ns)
                    move = (xi - x[ls]) > (x[ls + ns] - xi)
                    stop = np.nonzero(~move)[0]
                    nleft = int(lo + stop[0]) if len(stop) else n - ns
                    nright = nleft + ns - 1
            v = _lowest(x, y, n, xl[i], nleft, nright, rw, it > 1)
            ys[i] = y[i] if v is None else v
            if last < i - 1:
                denom = xl[i] - xl[last]
                j = np.arange(last + 1, i)
                alpha = (x[j] - xl[last]) / denom
                ys[j] = alpha * ys[i] + (1.0 - alpha) * ys[last]
            last = i
            cut = xl[last] + delta
            i = last + 1
            while i < n:
                if xl[i] > cut:
                    break
                if xl[i] == xl[last]:
                    ys[i] = ys[last]
                    last = i
                i += 1
            i = max(last + 1, i - 1)
            if last >= n - 1:
                break
        res[:] = y - ys
        sc = np.sum(np.abs(res)) / n
        if it > nsteps:
            break
        ares = np.abs(res)
        cmad = 6.0 * np.median(ares)
        if cmad < 1e-7 * sc:
            break
        c9 = 0.999 * cmad
        c1 = 0.001 * cmad
        q = ares / cmad
        q = 1.0 - q * q
        rw = q * q
        rw[ares <= c1] = 1.0
        rw[ares > c9] = 0.0
        it += 1
    return ys


def lowess(x: Any, y: Any, f: float = 2.0 / 3.0, iter: int = 3,
           delta: float | None = None) -> tuple[np.ndarray, np.ndarray]:
    r"""R's ``stats::lowess`` (Cleveland 1979, 1981), bit-for-bit the same algorithm.

    Sorts ``x`` (stable order), then for each anchor point fits a local linear regression
    with tricube weights :math:`(1-(|x_j-x_i|/h_i)^3)^3` over the :math:`\lfloor fn\rfloor`
    nearest neighbours; points within ``delta`` of the last anchor are linearly
    interpolated. ``iter`` robustness steps re-weight by the bisquare
    :math:`(1-(r_j/6\,\mathrm{MAD})^2)^2` of the residuals.

    Returns
    -------
    x_sorted, fitted : ndarray
    """
    x = np.asarray(x, dtype=float)
    y = np.asarray(y, dtype=float)
    o = np.argsort(x, kind="stable")
    xs = x[o]
    if delta is None:
        delta = 0.01 * (xs[-1] - xs[0])
    return xs, _clowess(xs, y[o], f, iter, delta)


def _approxfun_rule2(xk: np.ndarray, yk: np.ndarray):
    """``approxfun(x, y, rule = 2, ties = list("ordered", mean))`` for sorted ``xk``."""
    ux, inv = np.unique(xk, return_inverse=True)
    if len(ux) < len(xk):
        sums = np.bincount(inv, weights=yk)
        cnt = np.bincount(inv)
        uy = sums / cnt
    else:
        uy = yk

    def f(v):
        return np.interp(v, ux, uy)  # constant extrapolation at both ends = rule 2
    return f


# --------------------------------------------------------------------------------------
# voom
# --------------------------------------------------------------------------------------
def log_cpm(counts: np.ndarray, lib_size: np.ndarray) -> np.ndarray:
    r"""voom's log-CPM, samples x genes: :math:`\log_2\{(y_{ig}+0.5)/(N_i+1)\cdot 10^6\}`."""
    return np.log2((counts + 0.5) / (lib_size[:, None] + 1.0) * 1e6)


@dataclass(repr=False, eq=False)
class VoomFit(Result):
    """What :func:`voom` learned (for plots / re-use): ``E``, ``weights``, the lowess trend.

    ``summary()`` (= ``to_frame()``, what ``save`` writes) is the per-gene mean-variance
    table: ``sx`` (average log2 count) and ``sy`` (square-root residual SD); ``plot`` is
    limma's voom plot with the lowess trend."""

    E: pd.DataFrame
    weights: pd.DataFrame
    sx: np.ndarray
    sy: np.ndarray
    trend_x: np.ndarray
    trend_y: np.ndarray
    lib_size: pd.Series

    def trend(self, v: Any) -> np.ndarray:
        """The fitted sqrt-sd trend at log2 counts ``v`` (``approxfun(rule = 2)``)."""
        return _approxfun_rule2(self.trend_x, self.trend_y)(np.asarray(v, dtype=float))

    def _header(self) -> dict[str, Any]:
        return {"n_samples": int(self.E.shape[0]), "n_genes": int(self.E.shape[1])}

    def summary(self) -> pd.DataFrame:
        genes = self.E.columns if isinstance(self.E, pd.DataFrame) else None
        return pd.DataFrame({"sx": np.asarray(self.sx), "sy": np.asarray(self.sy)},
                            index=pd.Index(genes, name="gene") if genes is not None else None)

    def plot(self, ax: Any = None) -> Any:
        """limma's voom plot: sqrt(residual SD) against average log2 count, with the trend."""
        ax = self._axes(ax, figsize=(5, 4))
        ax.scatter(self.sx, self.sy, s=3, c="k", alpha=0.4)
        ax.plot(self.trend_x, self.trend_y, c="r")
        ax.set_xlabel("log2( count size + 0.5 )")
        ax.set_ylabel("Sqrt( standard deviation )")
        return ax


def _design_matrix(design: Any, index: pd.Index) -> np.ndarray:
    if design is None:
        return np.ones((len(index), 1))
    if isinstance(design, (pd.Series,)) or (
        np.asarray(design).ndim == 1
    ):
        s = pd.Series(np.asarray(design), index=index) if not isinstance(design, pd.Series) \
            else design.reindex(index) if not isinstance(design.index, pd.RangeIndex) \
            else pd.Series(design.to_numpy(), index=index)
        if s.isna().any():
            raise ValueError("design labels missing for samples: "
                             f"{list(index[s.isna().to_numpy()][:8])}")
        levels = sorted(pd.unique(s))
        X = np.ones((len(index), len(levels)))
        for j, lev in enumerate(levels[1:], start=1):
            X[:, j] = (s.to_numpy() == lev).astype(float)
        return X
    X = np.asarray(design.loc[index] if isinstance(design, pd.DataFrame) else design,
                   dtype=float)
    if X.shape[0] != len(index):
        raise ValueError(f"design has {X.shape[0]} rows but counts have {len(index)} samples")
    return X


def voom_fit(counts: Any, design: Any = None, lib_size: Any = None,
             normalize: str = "none", span: float = 0.5) -> VoomFit:
    """:func:`voom` returning the full :class:`VoomFit` (trend included)."""
    df = as_count_frame(counts, integer=False)
    x = df.to_numpy()
    if normalize not in ("none", "tmm"):
        raise ValueError(f"normalize must be 'none' or 'tmm'; got {normalize!r}")
    if lib_size is None:
        lib = x.sum(axis=1)
        if normalize == "tmm":
            from .counts import calc_norm_factors

            lib = lib * calc_norm_factors(df.round(), "TMM").to_numpy()
    else:
        lib = np.asarray(lib_size.loc[df.index] if isinstance(lib_size, pd.Series)
                         else lib_size, dtype=float)
        if lib.shape != (x.shape[0],):
            raise ValueError(f"lib_size must have one value per sample ({x.shape[0]})")
        if normalize == "tmm":
            raise ValueError("give either lib_size or normalize='tmm', not both")
    if np.any(lib <= 0):
        raise ValueError(f"samples with zero library size: {list(df.index[lib <= 0][:8])}")
    X = _design_matrix(design, df.index)
    n, p = X.shape
    E = log_cpm(x, lib)
    # lmFit by least squares (QR), vectorised over genes
    q, r = np.linalg.qr(X)
    rank = np.linalg.matrix_rank(X)
    if rank < p:
        raise ValueError("design matrix is not of full column rank")
    coef = np.linalg.solve(r, q.T @ E)  # p x genes
    fitted = X @ coef
    resid_df = n - p
    if resid_df <= 0:
        raise ValueError("voom needs more samples than design columns (no residual df)")
    sigma = np.sqrt(np.sum((E - fitted) ** 2, axis=0) / resid_df)
    amean = E.mean(axis=0)
    sx = amean + np.mean(np.log2(lib + 1.0)) - np.log2(1e6)
    sy = np.sqrt(sigma)
    allzero = x.sum(axis=0) == 0
    tx, ty = lowess(sx[~allzero], sy[~allzero], f=span)
    fun = _approxfun_rule2(tx, ty)
    fitted_count = 1e-6 * (2.0 ** fitted) * (lib[:, None] + 1.0)
    # interpolate gene by gene (genes x samples order): consecutive queries are close,
    # which np.interp's guessed binary search exploits (same values, ~10x faster)
    w = 1.0 / fun(np.ascontiguousarray(np.log2(fitted_count).T)).T ** 4
    Edf = pd.DataFrame(E, index=df.index.copy(), columns=df.columns.copy())
    Wdf = pd.DataFrame(w, index=df.index.copy(), columns=df.columns.copy())
    return VoomFit(Edf, Wdf, sx, sy, tx, ty, pd.Series(lib, index=df.index.copy()))


def voom(counts: Any, design: Any = None, lib_size: Any = None,
         normalize: str = "none", span: float = 0.5) -> tuple[pd.DataFrame, pd.DataFrame]:
    r"""limma ``voom``: log-CPM and precision weights (samples x genes).

    .. math::
        E_{ig} = \log_2\frac{y_{ig} + 0.5}{N_i + 1}10^6,\qquad
        w_{ig} = \hat s\bigl(\log_2 \hat\lambda_{ig}\bigr)^{-4}

    where :math:`N_i` is the library size (column total, times the TMM factor with
    ``normalize="tmm"``), a linear model with ``design`` is fitted to every gene, and
    :math:`\hat s` is R's ``lowess`` (span 0.5) of :math:`\sqrt{\sigma_g}` against the mean
    log count :math:`\bar E_g + \overline{\log_2(N+1)} - \log_2 10^6`, evaluated at the
    fitted log counts :math:`\log_2\hat\lambda_{ig} = \hat\mu_{ig} + \log_2(N_i+1) - \log_2 10^6`
    by linear interpolation with constant extrapolation (``approxfun(rule=2)``).

    Parameters
    ----------
    counts : DataFrame / AnnData / array, samples x genes
    design : None, labels (1-D) or a design matrix (samples x columns)
        ``None``: intercept only. Labels give ``model.matrix(~ group)``.
    lib_size : array-like, optional
        Library sizes (default: sample totals).
    normalize : {"none", "tmm"}
        ``"tmm"`` multiplies the library sizes by edgeR's TMM factors
        (``voom(calcNormFactors(DGEList(x)), design)``).

    Returns
    -------
    logcpm, weights : DataFrame (samples x genes)

    Examples
    --------
    >>> from radiogenomics.datasets import load_cervical
    >>> counts, y = load_cervical()
    >>> E, w = voom(counts, design=y, normalize="tmm")
    >>> E.shape == w.shape == counts.shape
    True
    """
    fit = voom_fit(counts, design, lib_size, normalize, span)
    return fit.E, fit.weights
