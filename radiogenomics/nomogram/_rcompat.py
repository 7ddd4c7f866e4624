"""R-compatible numerics behind the nomogram: ``pretty``, ``quantile`` type 7, ``datadist``,
factor level order, ``lowess(iter=0)``, ``approx`` (ties "ordered" and mean), a plain
Newton logistic fit (the bootstrap refits, as ``lrm.fit``) and Somers' Dxy.

Each function reproduces the R function it names; ``tests/data/nomogram`` holds R's outputs.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
from scipy import stats
from scipy.special import expit

__all__ = ["r_pretty", "datadist"]

_EPS = np.finfo(float).eps


# --------------------------------------------------------------------------- R helpers
def r_pretty(lo: float, up: float, n: int = 5) -> np.ndarray:
    """R's ``pretty(c(lo, up), n)``: about ``n + 1`` equally spaced round values covering
    ``[lo, up]``, step ``unit`` in {1, 2, 5, 10} x 10^k chosen with R's biases
    (``high.u.bias = 1.5``, ``u5.bias = 2.75``)."""
    lo, up = float(min(lo, up)), float(max(lo, up))
    h, h5 = 1.5, 0.5 + 1.5 * 1.5
    min_n = n // 3
    dx = up - lo
    if dx == 0 and up == 0:
        cell, i_small = 1.0, True
    else:
        cell = max(abs(lo), abs(up))
        u = 1 + (1 / (1 + h) if h5 >= 1.5 * h + 0.5 else 1.5 / (1 + h5))
        u *= max(1, n) * _EPS
        i_small = dx < cell * u * 3
    if i_small:
        if cell > 10:
            cell = 9 + cell / 10
        cell *= 0.75
        if min_n > 1:
            cell /= min_n
    else:
        cell = dx
        if n > 1:
            cell /= n
    if cell < 20 * np.finfo(float).tiny:
        cell = 20 * np.finfo(float).tiny
    base = 10.0 ** math.floor(math.log10(cell))
    unit = base
    if 2 * base - cell < h * (cell - unit):
        unit = 2 * base
        if 5 * base - cell < h5 * (cell - unit):
            unit = 5 * base
            if 10 * base - cell < h * (cell - unit):
                unit = 10 * base
    ns = math.floor(lo / unit + 1e-7)
    nu = math.ceil(up / unit - 1e-7)
    while ns * unit > lo + 1e-10 * unit:
        ns -= 1
    while nu * unit < up - 1e-10 * unit:
        nu += 1
    k = int(0.5 + nu - ns)
    if k < min_n:
        k = min_n - k
        if ns >= 0:
            nu += k // 2
            ns -= k // 2 + k % 2
        else:
            ns -= k // 2
            nu += k // 2 + k % 2
        ndiv = min_n
    else:
        ndiv = k
    s = np.linspace(ns * unit, nu * unit, ndiv + 1)
    if ndiv:
        delta = (nu * unit - ns * unit) / ndiv
        s[np.abs(s) < 1e-14 * delta] = 0.0
    return s


def _r_quantile(x: np.ndarray, q) -> np.ndarray:
    return np.quantile(np.asarray(x, dtype=float), q)  # numpy "linear" = R type 7


def datadist(df: pd.DataFrame, categorical=(), n_unique: int = 10) -> pd.DataFrame:
    """``rms::datadist`` limits: rows Low:effect, Adjust to, High:effect, Low:prediction,
    High:prediction, Low, High (one column per variable).

    Numeric: effect limits = quartiles, adjust-to = median (lowest value if binary, middle if
    3 values), prediction limits = quantiles ``q`` and ``1 - q`` with ``q = 10/max(n, 200)``,
    Low/High = range.  Categorical: adjust-to = the most frequent level, Low/High = first
    and last level.
    """
    rows = ["Low:effect", "Adjust to", "High:effect", "Low:prediction", "High:prediction", "Low", "High"]
    out = {}
    for col in df.columns:
        x = df[col]
        if col in categorical or not pd.api.types.is_numeric_dtype(x):
            lev = _sorted_levels(x.dropna())
            counts = x.astype(str).value_counts()
            mode = max(lev, key=lambda v: (counts.get(v, 0), -lev.index(v)))
            out[col] = [None, mode, None, lev[0], lev[-1], lev[0], lev[-1]]
            continue
        y = x.dropna().to_numpy(dtype=float)
        vals = np.unique(y)
        r = (vals[0], vals[-1])
        if vals.size < 2:
            out[col] = [y[0]] * 7
            continue
        if vals.size < 4:
            qd = r
        else:
            qq = 10 / max(y.size, 200)
            qd = tuple(_r_quantile(y, [qq, 1 - qq]))
        if qd[0] == qd[1]:
            qd = r
        adj = vals[0] if vals.size < 3 else vals[1] if vals.size == 3 else np.median(y)
        qe = r if vals.size < 4 else tuple(_r_quantile(y, [0.25, 0.75]))
        if qe[0] == qe[1]:
            qe = r
        out[col] = [qe[0], adj, qe[1], qd[0], qd[1], r[0], r[1]]
    return pd.DataFrame(out, index=rows)


def _sorted_levels(x: pd.Series) -> list[str]:
    """Levels sorted as R's ``factor`` would (numerically when the values are numbers)."""
    uniq = pd.unique(x)
    try:
        order = sorted(uniq, key=float)
    except (TypeError, ValueError):
        order = sorted(uniq, key=str)
    out = []
    for v in order:
        s = _level_str(v)
        if s not in out:
            out.append(s)
    return out


def _level_str(v) -> str:
    if isinstance(v, (float, np.floating)) and float(v).is_integer():
        return str(int(v))
    return str(v)


def _r_lowess(x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """R ``lowess(x, y, f=2/3, iter=0)`` (``delta = 0.01 * range(x)``): sorted x, smooth."""
    from statsmodels.nonparametric.smoothers_lowess import lowess

    delta = 0.01 * (np.max(x) - np.min(x))
    s = lowess(y, x, frac=2 / 3, it=0, delta=delta, return_sorted=True)
    return s[:, 0], s[:, 1]


def _approx_first(xs: np.ndarray, ys: np.ndarray, xout: np.ndarray) -> np.ndarray:
    """R ``approx(xs, ys, xout, ties=function(x) x[1])`` with NA (NaN) outside the range."""
    u, idx = np.unique(xs, return_index=True)
    out = np.interp(xout, u, ys[idx])
    out[(xout < u[0]) | (xout > u[-1])] = np.nan
    return out


def _approx_mean(xs: np.ndarray, ys: np.ndarray, xout: np.ndarray) -> np.ndarray:
    """R ``approx(..., ties=mean)`` with NaN outside the range."""
    s = pd.Series(ys).groupby(xs).mean()
    u = s.index.to_numpy(dtype=float)
    out = np.interp(xout, u, s.to_numpy())
    out[(xout < u[0]) | (xout > u[-1])] = np.nan
    return out


def _newton_logit(X: np.ndarray, y: np.ndarray, tol: float = 1e-10, maxiter: int = 50):
    """Maximum-likelihood logistic fit by Newton-Raphson (X includes the intercept column).

    Returns ``(beta, converged)``; used for the bootstrap refits (statsmodels ``Logit``
    gives the same MLE but is slower per call)."""
    beta = np.zeros(X.shape[1])
    p0 = y.mean()
    beta[0] = math.log(p0 / (1 - p0)) if 0 < p0 < 1 else 0.0
    for _ in range(maxiter):
        eta = X @ beta
        p = expit(eta)
        w = p * (1 - p)
        g = X.T @ (y - p)
        H = (X * w[:, None]).T @ X
        try:
            step = np.linalg.solve(H, g)
        except np.linalg.LinAlgError:
            return beta, False
        beta = beta + step
        if np.max(np.abs(step)) < tol:
            return beta, bool(np.all(np.isfinite(beta)) and np.max(np.abs(beta)) < 1e3)
    return beta, False


def _somers_dxy(p: np.ndarray, y: np.ndarray) -> float:
    yb = y.astype(bool)
    if yb.all() or (~yb).all():
        return np.nan
    ranks = stats.rankdata(p)
    n1 = yb.sum()
    n0 = y.size - n1
    auc = (ranks[yb].sum() - n1 * (n1 + 1) / 2) / (n1 * n0)
    return 2 * auc - 1
