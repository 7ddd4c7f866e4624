"""limma's ``squeezeVar`` / ``fitFDist`` (prior degrees of freedom only)."""

from __future__ import annotations

import logging
import math

import numpy as np
from scipy.special import digamma, polygamma

from .smooth import _natural_spline_basis

logger = logging.getLogger(__name__)


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
