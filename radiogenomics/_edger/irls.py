r"""Penalised NB IRLS of :func:`radiogenomics.glm.nb_glm_fit` (compiled, one gene per
``prange`` iteration)."""

from __future__ import annotations

import math

import numpy as np
from numba import njit, prange

from .nbglm import _chol_lam, _chol_solve, _eta, _xtv, _xtwx


@njit(cache=True)
def _pkg_nb_dev(y, mu, phi):  # pragma: no cover
    """Unit NB deviance of :func:`radiogenomics.glm.nb_deviance` (0 log 0 = 0; Poisson
    for phi < 1e-10; clamped at 0)."""
    ylog = 0.0
    if y > 0.0:
        ylog = y * math.log(y) - y * math.log(mu)
    if phi < 1e-10:
        d = 2.0 * (ylog - (y - mu))
    else:
        d = 2.0 * (ylog - (y + 1.0 / phi) * (math.log1p(phi * y) - math.log1p(phi * mu)))
    return d if d > 0.0 else 0.0


@njit(cache=True)
def _pkg_mu_pdev(y, XT, off, beta, phi, lam, mu, ylogy, l1py):  # pragma: no cover
    """Fitted means (linear predictor clipped to [-30, 40]) and penalised deviance of one
    gene (``XT`` = design transposed), the unit deviance of
    :func:`_pkg_nb_dev` with the gene's constants ``ylogy`` = y log y and
    ``l1py`` = log1p(phi y) and ``log mu`` = the clipped linear predictor."""
    p, n = XT.shape
    _eta(XT, beta, off, mu)
    d = 0.0
    pois = phi < 1e-10
    r = 0.0 if pois else 1.0 / phi
    for i in range(n):
        e = min(max(mu[i], -30.0), 40.0)
        m = math.exp(e)
        mu[i] = m
        yi = y[i]
        ylog = ylogy[i] - yi * e if yi > 0.0 else 0.0
        if pois:
            u = 2.0 * (ylog - (yi - m))
        else:
            u = 2.0 * (ylog - (yi + r) * (l1py[i] - math.log1p(phi * m)))
        d += u if u > 0.0 else 0.0
    for a in range(p):
        d += beta[a] * beta[a] * lam[a]
    return d


@njit(cache=True)
def _pkg_solve(A, b, x, R):  # pragma: no cover
    """Solve the SPD system ``A x = b`` by Cholesky, by the pseudo-inverse if singular."""
    p = A.shape[0]
    if _chol_lam(A, 0.0, R):
        _chol_solve(R, b, x)
    else:
        P = np.linalg.pinv(A)
        for a in range(p):
            t = 0.0
            for c in range(p):
                t += P[a, c] * b[c]
            x[a] = t


@njit(parallel=True, cache=True)
def nb_irls_rows(Y, X, off, phi, lam, beta0, max_iter, tol):  # pragma: no cover
    r"""The penalised IRLS of :func:`radiogenomics.glm.nb_glm_fit` for every gene (columns
    of the samples x genes ``Y``; ``off`` samples x genes): Fisher scoring
    :math:`\beta \leftarrow (X^\top W X + \Lambda)^{-1} X^\top W z`, step halving (up to 20
    times) while the penalised deviance increases, the old estimate kept if no halving
    helps; stop when the relative deviance change is below ``tol`` and the relative step
    below ``100 tol`` (or the change below 1e-15). Returns coefficients, diagonal of
    :math:`(X^\top W X + \Lambda)^{-1}` at the estimate, deviances, iterations, converged
    flags and fitted means."""
    n, G = Y.shape
    p = X.shape[1]
    XT = np.ascontiguousarray(X.T)
    coef = np.empty((G, p))
    var = np.empty((G, p))
    dev = np.empty(G)
    n_iter = np.zeros(G, dtype=np.int64)
    conv = np.zeros(G, dtype=np.bool_)
    mu_out = np.empty((n, G))
    nblk = min(G, 256)
    for blk in prange(nblk):
        y = np.empty(n)
        o = np.empty(n)
        ylogy = np.empty(n)
        l1py = np.empty(n)
        mu = np.empty(n)
        mu_new = np.empty(n)
        w = np.empty(n)
        wz = np.empty(n)
        A = np.empty((p, p))
        R = np.empty((p, p))
        b = np.empty(p)
        beta = np.empty(p)
        new = np.empty(p)
        old = np.empty(p)
        for g in range(blk * G // nblk, (blk + 1) * G // nblk):
            ph = phi[g]
            for i in range(n):
                y[i] = Y[i, g]
                o[i] = off[i, g]
                ylogy[i] = y[i] * math.log(y[i]) if y[i] > 0.0 else 0.0
                l1py[i] = math.log1p(ph * y[i])
            for a in range(p):
                beta[a] = beta0[g, a]
            pdev = _pkg_mu_pdev(y, XT, o, beta, ph, lam, mu, ylogy, l1py)
            for it in range(1, max_iter + 1):
                for i in range(n):
                    m = mu[i]
                    wi = m / (1.0 + ph * m)
                    w[i] = wi
                    wz[i] = wi * (math.log(m) - o[i] + (y[i] - m) / m)
                _xtwx(XT, w, A)
                _xtv(XT, wz, b)
                for a in range(p):
                    A[a, a] += lam[a]
                _pkg_solve(A, b, new, R)
                for a in range(p):
                    old[a] = beta[a]
                    if not math.isfinite(new[a]):
                        new[a] = beta[a]
                pdev_new = _pkg_mu_pdev(y, XT, o, new, ph, lam, mu_new, ylogy, l1py)
                for _ in range(20):
                    if pdev_new <= pdev * (1 + 1e-9) + 1e-9:
                        break
                    for a in range(p):
                        new[a] = 0.5 * (new[a] + old[a])
                    pdev_new = _pkg_mu_pdev(y, XT, o, new, ph, lam, mu_new, ylogy, l1py)
                bad = not (pdev_new <= pdev * (1 + 1e-9) + 1e-9)
                if bad:  # no improving step: keep the old estimate
                    for a in range(p):
                        new[a] = old[a]
                    for i in range(n):
                        mu_new[i] = mu[i]
                    pdev_new = pdev
                change = abs(pdev_new - pdev) / (abs(pdev_new) + 0.1)
                step = 0.0
                for a in range(p):
                    beta[a] = new[a]
                    step = max(step, abs(new[a] - old[a]) / (abs(new[a]) + 1.0))
                for i in range(n):
                    mu[i] = mu_new[i]
                pdev = pdev_new
                n_iter[g] = it
                if (change < tol and step < 100.0 * tol) or change < 1e-15 or bad:
                    conv[g] = True
                    break
            # standard errors from (X'WX + Lambda)^-1 at the estimate
            for i in range(n):
                w[i] = mu[i] / (1.0 + ph * mu[i])
            _xtwx(XT, w, A)
            for a in range(p):
                A[a, a] += lam[a]
            for a in range(p):
                for c in range(p):
                    b[c] = 1.0 if c == a else 0.0
                _pkg_solve(A, b, new, R)
                var[g, a] = new[a]
            d = 0.0
            for i in range(n):
                d += _pkg_nb_dev(y[i], mu[i], ph)
                mu_out[i, g] = mu[i]
            dev[g] = d
            for a in range(p):
                coef[g, a] = beta[a]
    return coef, var, dev, n_iter, conv, mu_out
