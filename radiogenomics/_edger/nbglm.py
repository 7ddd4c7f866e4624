r"""Compiled NB GLM primitives of edgeR's GLM path: unit deviance, one-group and oneway
fits, Levenberg-damped IRLS (``glm_levenberg::fit``), Cholesky / LDL helpers and R's
``qr()`` column selection. One gene at a time, on small per-thread buffers."""

from __future__ import annotations

import math

import numpy as np
from numba import njit

# edgeR's constants (glm.h): low_value, supremely_low_value, ridiculously_low_value
_GLM_LOW = 1e-10
_GLM_LOG_LOW = math.log(1e-10)
_GLM_SUPREMELY_LOW = 1e-13
_GLM_RIDICULOUSLY_LOW = 1e-100
#: Levenberg fits of a whole design switch from Fisher scoring to Newton steps here
_NEWTON_AFTER = 12
#: hot-started fits of the APL grid take a Newton step with a decrement below this without
#: checking the deviance (the NB log-likelihood is concave in beta: such a step, near the
#: maximum, increases it; the next iteration's decrement shows it)
_TRUSTED_DECREMENT = 1e-2


@njit(cache=True)
def kept_columns(X, tol):  # pragma: no cover
    """Columns kept by R's ``qr()`` (LINPACK ``dqrdc2`` limited pivoting): column ``j`` is
    kept when the norm of its residual after projection on the previously kept columns is
    at least ``tol`` times its own norm (classical Gram-Schmidt). Returns their indices."""
    n, p = X.shape
    Q = np.empty((p, n))
    keep = np.empty(p, dtype=np.int64)
    r = np.empty(n)
    m = 0
    for j in range(p):
        norm0 = 0.0
        for i in range(n):
            r[i] = X[i, j]
            norm0 += X[i, j] * X[i, j]
        norm0 = math.sqrt(norm0)
        for k in range(m):
            c = 0.0
            for i in range(n):
                c += Q[k, i] * X[i, j]
            for i in range(n):
                r[i] -= c * Q[k, i]
        nr = 0.0
        for i in range(n):
            nr += r[i] * r[i]
        nr = math.sqrt(nr)
        if norm0 > 0.0 and nr >= tol * norm0:
            for i in range(n):
                Q[m, i] = r[i] / nr
            keep[m] = j
            m += 1
    return keep[:m].copy()


@njit(cache=True)
def nb_unit_deviance(y: float, mu: float, phi: float) -> float:  # pragma: no cover
    r"""edgeR's unit NB deviance (``compute_unit_nb_deviance``): 1e-8 is added to ``y`` and
    ``mu``; :math:`2[y\log(y/\mu) + (y+\phi^{-1})\log((\mu+\phi^{-1})/(y+\phi^{-1}))]`,
    with its Poisson series for ``phi < 1e-4`` (edgeR's integer ``2/3`` = 0 kept) and the
    gamma limit for ``mu phi > 1e6``."""
    y = y + 1e-8
    mu = mu + 1e-8
    if phi < 1e-4:
        resid = y - mu
        return 2.0 * (y * math.log(y / mu) - resid
                      - 0.5 * resid * resid * phi * (1.0 + phi * (0.0 * resid - y)))
    prod = mu * phi
    if prod > 1e6:
        return 2.0 * ((y - mu) / mu - math.log(y / mu)) * mu / (1.0 + prod)
    inv = 1.0 / phi
    return 2.0 * (y * math.log(y / mu) + (y + inv) * math.log((mu + inv) / (y + inv)))


@njit(cache=True)
def _one_group_fit(y, lo, hi, eoff, offset, phi, start, maxit, tol):  # pragma: no cover
    """edgeR ``glm_one_group`` on the samples ``lo:hi``: Fisher scoring of the log mean
    from ``start`` (NaN: ``log(sum_{y>1e-10} y e^{-o} / m)``); ``-inf`` if no count is
    above 1e-10. ``mu_j = e^beta e^{o_j}`` (``eoff = e^o``)."""
    m = hi - lo
    nonzero = False
    s = 0.0
    for j in range(lo, hi):
        if y[j] > _GLM_LOW:
            nonzero = True
            s += y[j] / eoff[j]
    if not nonzero:
        return -np.inf
    b = math.log(s / m) if math.isnan(start) else start
    if not math.isfinite(b):
        b = math.log(s / m)
    for _ in range(maxit):
        eb = math.exp(b)
        dl = 0.0
        info = 0.0
        for j in range(lo, hi):
            mu = eb * eoff[j]
            inv = 1.0 / (1.0 + mu * phi)
            dl += (y[j] - mu) * inv
            info += mu * inv
        step = dl / info
        b += step
        if abs(step) < tol:
            break
    return b


@njit(cache=True, fastmath={"reassoc", "contract"})
def _xtwx(XT, w, A):  # pragma: no cover
    """``X' diag(w) X`` into ``A`` from the transposed design ``XT`` (p x n): one
    contiguous (SIMD, reassociated) dot product per entry of the upper triangle,
    mirrored."""
    p, n = XT.shape
    for a in range(p):
        xa = XT[a]
        for b in range(a, p):
            xb = XT[b]
            t = 0.0
            for j in range(n):
                t += xa[j] * w[j] * xb[j]
            A[a, b] = t
            A[b, a] = t


@njit(cache=True, fastmath={"reassoc", "contract"})
def _xtv(XT, v, out):  # pragma: no cover
    """``X' v`` from the transposed design (SIMD dot products)."""
    p, n = XT.shape
    for a in range(p):
        xa = XT[a]
        t = 0.0
        for j in range(n):
            t += xa[j] * v[j]
        out[a] = t


@njit(cache=True)
def _chol_lam(A, lam, R):  # pragma: no cover
    """Upper Cholesky factor of ``A + lam I`` into ``R`` (LAPACK ``dpotrf``); False if a
    pivot is not positive."""
    p = A.shape[0]
    for i in range(p):
        for j in range(p):
            R[i, j] = A[i, j]
        R[i, i] += lam
    for j in range(p):
        s = R[j, j]
        for k in range(j):
            s -= R[k, j] * R[k, j]
        if not s > 0.0:
            return False
        d = math.sqrt(s)
        R[j, j] = d
        for c in range(j + 1, p):
            t = R[j, c]
            for k in range(j):
                t -= R[k, j] * R[k, c]
            R[j, c] = t / d
    return True


@njit(cache=True)
def _chol_solve(R, b, x):  # pragma: no cover
    """Solve ``R'R x = b`` (R upper triangular)."""
    p = R.shape[0]
    for i in range(p):
        t = b[i]
        for k in range(i):
            t -= R[k, i] * x[k]
        x[i] = t / R[i, i]
    for i in range(p - 1, -1, -1):
        t = x[i]
        for k in range(i + 1, p):
            t -= R[i, k] * x[k]
        x[i] = t / R[i, i]


@njit(cache=True)
def _logdet_half(A, work):  # pragma: no cover
    """Half the sum of the logs of the LDL' diagonal of symmetric ``A`` (diagonals below
    1e-10, or not finite, count as 1e-10: edgeR's ``compute_apl`` adjustment)."""
    p = A.shape[0]
    for i in range(p):
        for j in range(p):
            work[i, j] = A[i, j]
    tot = 0.0
    for j in range(p):
        d = work[j, j]
        bad = (d < _GLM_LOW) or not math.isfinite(d)
        tot += _GLM_LOG_LOW if bad else math.log(d)
        if bad:
            continue
        for i in range(j + 1, p):
            f = work[i, j] / d
            if f == 0.0:
                continue
            for k in range(j + 1, i + 1):
                work[i, k] -= f * work[k, j]
    return 0.5 * tot


@njit(cache=True)
def _eta(XT, beta, offset, eta):  # pragma: no cover
    """Linear predictor ``offset + X beta`` (``XT`` = X transposed, p x n)."""
    p, n = XT.shape
    for j in range(n):
        eta[j] = offset[j]
    for a in range(p):
        ba = beta[a]
        xa = XT[a]
        for j in range(n):
            eta[j] += ba * xa[j]


@njit(cache=True)
def _eta_mu(XT, beta, offset, mu):  # pragma: no cover
    """``mu = exp(offset + X beta)`` (edgeR ``autofill``)."""
    _eta(XT, beta, offset, mu)
    for j in range(mu.size):
        mu[j] = math.exp(mu[j])


@njit(cache=True)
def _deviance(y, mu, phi):  # pragma: no cover
    d = 0.0
    for j in range(y.size):
        d += nb_unit_deviance(y[j], mu[j], phi)
    return d


@njit(cache=True)
def _deviance_cached(y, mu, eta, phi, r, lyp, lyr):  # pragma: no cover
    r"""edgeR's NB deviance (:func:`nb_unit_deviance` summed) with one logarithm per
    observation: for :math:`\phi \ge 10^{-4}` and :math:`\mu\phi \le 10^6`,
    :math:`2[y'(\log y' - \log\mu') + (y'+r)(\log(\mu'+r) - \log(y'+r))]`,
    :math:`y' = y + 10^{-8}`, :math:`\mu' = \mu + 10^{-8}`, :math:`r = 1/\phi`, with
    ``lyp`` = log y', ``lyr`` = log(y' + r) and :math:`\log\mu' = \eta +
    \mathrm{log1p}(10^{-8}/\mu)` (series for :math:`\mu > 10^{-3}`)."""
    if phi < 1e-4:
        return _deviance(y, mu, phi)
    d = 0.0
    for j in range(y.size):
        m = mu[j]
        mp = m + 1e-8
        if mp * phi > 1e6:
            d += nb_unit_deviance(y[j], m, phi)
            continue
        if m > 1e-3:
            x = 1e-8 / m
            lmp = eta[j] + x * (1.0 - x * (0.5 - x / 3.0))
        else:
            lmp = math.log(mp)
        yp = y[j] + 1e-8
        d += 2.0 * (yp * (lyp[j] - lmp) + (yp + r) * (math.log(mp + r) - lyr[j]))
    return d


@njit(cache=True)
def _levenberg_fit(y, XT, offset, phi, beta, mu, maxit, tol, A, R, dl, dbeta, bnew, munew,
                   ww, deriv, newton_after, eta, etanew, lyp, lyr,
                   stop_factor=10.0, need_dev=True, fast_max=0.0):  # pragma: no cover
    r"""edgeR ``glm_levenberg::fit`` of one gene from the coefficients in ``beta``
    (updated in place, with the fitted ``mu``); returns the deviance.

    Each iteration solves :math:`(X^\top W X + \lambda I)\,\delta = X^\top (y-\mu)/(1+\phi\mu)`,
    :math:`W = \mathrm{diag}(\mu/(1+\phi\mu))`, by Cholesky; a step is kept when the
    deviance does not increase (else :math:`\lambda` doubles; a failed factorisation
    multiplies it by 10), :math:`\lambda_0 = 10^{-6}\max\mathrm{diag}(X^\top W X)`, and
    :math:`\lambda` is divided by 10 after an undamped step. Stops when
    :math:`\mathrm{d}l^\top\delta <` ``tol``, the deviance is negligible, or the damping
    exceeds :math:`10^{13}` times the largest information. ``XT`` is the transposed
    design (p x n).

    ``newton_after`` >= 0: from that iteration on, the observed information (weights
    :math:`\mu(1+\phi y)/(1+\phi\mu)^2 > 0`) replaces the expected one (Newton's
    method, damped the same way): the same maximum, reached in a few iterations where
    Fisher scoring crawls for up to ``maxit`` iterations (large dispersions,
    near-separated low counts). Genes that converge before it follow edgeR exactly. A
    Newton iteration whose undamped step has a decrement ``dl' delta < stop_factor * tol``
    ends the fit (the next decrement would be of order its square); such a step is taken
    without evaluating the deviance (the deviance is evaluated only where a step has to
    be judged, and at the end when ``need_dev``; otherwise NaN is returned). From a good
    start (the extrapolated coefficients of the APL grid) a fit is then one Newton step.
    A Newton step whose first trial has a decrement below ``fast_max`` (hot-started grid
    fits) is also taken without judging the deviance, and the iteration goes on.

    ``eta`` receives the linear predictor (log mu); ``lyp`` holds ``log(y + 1e-8)``;
    ``etanew`` and ``lyr`` are work buffers (see :func:`_deviance_cached`)."""
    p, n = XT.shape
    ymax = 0.0
    for j in range(n):
        if y[j] > ymax:
            ymax = y[j]
    if ymax < _GLM_LOW:
        for a in range(p):
            beta[a] = np.nan
        for j in range(n):
            mu[j] = 0.0
            eta[j] = -np.inf
        return 0.0
    r = 1.0 / phi if phi >= 1e-4 else 0.0
    have_lyr = False
    _eta(XT, beta, offset, eta)
    for j in range(n):
        mu[j] = math.exp(eta[j])
    if p == 0:
        if phi >= 1e-4:
            for j in range(n):
                lyr[j] = math.log(y[j] + 1e-8 + r)
        return _deviance_cached(y, mu, eta, phi, r, lyp, lyr)
    dev = np.nan  # deviance at beta, evaluated when first needed
    max_info = -1.0
    lam = 0.0
    for it in range(1, maxit + 1):
        newton = newton_after >= 0 and it > newton_after
        for j in range(n):
            den = 1.0 + mu[j] * phi
            ww[j] = mu[j] * (1.0 + phi * y[j]) / (den * den) if newton else mu[j] / den
            deriv[j] = (y[j] - mu[j]) / den
        _xtwx(XT, ww, A)
        _xtv(XT, deriv, dl)
        for a in range(p):
            if A[a, a] > max_info:
                max_info = A[a, a]
        if it == 1:
            lam = max_info * 1e-6
            if lam < _GLM_SUPREMELY_LOW:
                lam = _GLM_SUPREMELY_LOW
        lev = 0
        low_dev = False
        failed = False
        trusted = False
        while True:
            lev += 1
            while not _chol_lam(A, lam, R):
                lam *= 10.0
                if lam <= 0.0:
                    lam = _GLM_RIDICULOUSLY_LOW
            _chol_solve(R, dl, dbeta)
            for a in range(p):
                bnew[a] = beta[a] + dbeta[a]
            _eta(XT, bnew, offset, etanew)
            for j in range(n):
                munew[j] = math.exp(etanew[j])
            if newton and lev == 1:
                div = 0.0
                for a in range(p):
                    div += dl[a] * dbeta[a]
                if div >= stop_factor * tol and div < fast_max:  # trusted step: go on
                    for a in range(p):
                        beta[a] = bnew[a]
                    for j in range(n):
                        mu[j] = munew[j]
                        eta[j] = etanew[j]
                    dev = np.nan
                    lam /= 10.0
                    trusted = True
                    break
                if div >= 0.0 and div < stop_factor * tol:  # final step: no deviance needed
                    for a in range(p):
                        beta[a] = bnew[a]
                    for j in range(n):
                        mu[j] = munew[j]
                        eta[j] = etanew[j]
                    if not need_dev:
                        return np.nan
                    if not have_lyr and phi >= 1e-4:
                        for j in range(n):
                            lyr[j] = math.log(y[j] + 1e-8 + r)
                    return _deviance_cached(y, mu, eta, phi, r, lyp, lyr)
            if not have_lyr:
                have_lyr = True
                if phi >= 1e-4:
                    for j in range(n):
                        lyr[j] = math.log(y[j] + 1e-8 + r)
            if math.isnan(dev):
                dev = _deviance_cached(y, mu, eta, phi, r, lyp, lyr)
            dev_new = _deviance_cached(y, munew, etanew, phi, r, lyp, lyr)
            if dev_new / ymax < _GLM_SUPREMELY_LOW:
                low_dev = True
            if dev_new <= dev or low_dev:
                for a in range(p):
                    beta[a] = bnew[a]
                for j in range(n):
                    mu[j] = munew[j]
                    eta[j] = etanew[j]
                dev = dev_new
                break
            lam *= 2.0
            if lam <= 0.0:
                lam = _GLM_RIDICULOUSLY_LOW
            if lam / max_info > 1.0 / _GLM_SUPREMELY_LOW:
                failed = True
                break
        if trusted:
            continue
        if failed or low_dev:
            break
        div = 0.0
        for a in range(p):
            div += dl[a] * dbeta[a]
        if div < tol:
            break
        # an undamped Newton step with a small decrement lands within ~div^2 of the
        # maximum (quadratic convergence): no further iteration is needed to reach tol
        if newton and lev == 1 and div < stop_factor * tol:
            break
        if lev == 1:
            lam /= 10.0
    if math.isnan(dev) and need_dev:
        if not have_lyr and phi >= 1e-4:
            for j in range(n):
                lyr[j] = math.log(y[j] + 1e-8 + r)
        dev = _deviance_cached(y, mu, eta, phi, r, lyp, lyr)
    return dev


@njit(cache=True)
def _levenberg_null_start(y, offset, phi, q, beta):  # pragma: no cover
    """edgeR ``get_levenberg_start`` ("null"): the log of the NB-weighted average of
    ``y / N`` (``N = e^o``, weights ``N/(1+phi N)``) times the least-squares coefficients
    ``q`` of the constant 1 on the design."""
    se = 0.0
    sw = 0.0
    for j in range(y.size):
        N = math.exp(offset[j])
        cw = N / (1.0 + phi * N)
        se += y[j] * cw / N
        sw += cw
    level = math.log(se / sw)
    for a in range(q.size):
        beta[a] = level * q[a]


@njit(cache=True)
def _oneway_fit(y, offset, eoff, phi, gstart, bg, mu, lmu, maxit, tol):  # pragma: no cover
    """edgeR ``mglmOneWay`` of one gene whose samples are sorted by group (group ``k`` =
    ``gstart[k]:gstart[k+1]``): one intercept fit per group from the group log means
    ``bg`` (NaN = default start; updated in place, floored at -1e8), fitted ``mu`` and
    their logs ``lmu``."""
    ng = gstart.size - 1
    for k in range(ng):
        b = _one_group_fit(y, gstart[k], gstart[k + 1], eoff, offset, phi, bg[k], maxit, tol)
        b = max(b, -1e8)
        bg[k] = b
        eb = math.exp(b)
        for j in range(gstart[k], gstart[k + 1]):
            mu[j] = eb * eoff[j]
            lmu[j] = b + offset[j]
