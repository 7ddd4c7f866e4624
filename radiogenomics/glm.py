"""Negative-binomial GLMs fitted for many genes at once.

The model, for sample ``i`` and gene ``g`` with fixed dispersion ``phi_g``:

.. math::

    y_{ig} \\sim \\mathrm{NB}(\\mu_{ig}, \\phi_g), \\quad
    \\operatorname{Var}(y_{ig}) = \\mu_{ig} + \\phi_g \\mu_{ig}^2, \\quad
    \\log \\mu_{ig} = o_{ig} + x_i^\\top \\beta_g .

:func:`nb_glm_fit` runs iteratively reweighted least squares (Fisher scoring) for every gene
in a compiled kernel, parallel over genes (:func:`radiogenomics._edger.irls.nb_irls_rows`; the
batched-numpy version it is tested against is :func:`_irls_numpy`). :func:`glm_lrt` tests two
nested designs with edgeR's ``glmFit`` fits. Arrays are samples x genes, as everywhere in
the package.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from scipy.special import gammaln, xlogy

from .results import Result

logger = logging.getLogger(__name__)

__all__ = ["NBGLMResult", "nb_glm_fit", "nb_logpmf", "nb_deviance", "glm_lrt"]

#: linear predictors are clipped to this range: exp() never overflows and mu never hits 0
ETA_MIN, ETA_MAX = -30.0, 40.0
#: dispersions below this are treated as Poisson (phi = 0) in the closed forms
_PHI_POISSON = 1e-10


def nb_logpmf(y, mu, phi):
    """Negative-binomial log-probability, mean/dispersion parametrisation.

    .. math::

        \\log p(y; \\mu, \\phi) = \\log\\Gamma(y + 1/\\phi) - \\log\\Gamma(1/\\phi)
        - \\log\\Gamma(y + 1) - \\tfrac1\\phi \\log(1 + \\phi\\mu)
        + y \\log\\frac{\\phi\\mu}{1 + \\phi\\mu}

    so that ``E y = mu`` and ``Var y = mu + phi mu^2``; ``phi = 0`` (or below 1e-10) gives
    the Poisson log-pmf ``y log mu - mu - log y!``. Arguments broadcast against each other
    (e.g. ``y`` and ``mu`` of shape (n, G) with ``phi`` of shape (G,)).

    Examples
    --------
    >>> from scipy.stats import nbinom
    >>> round(float(nb_logpmf(3, 2.0, 0.5)), 10) == round(float(nbinom.logpmf(3, 2, 0.5)), 10)
    True
    """
    y, mu, phi = np.broadcast_arrays(
        np.asarray(y, dtype=float), np.asarray(mu, dtype=float), np.asarray(phi, dtype=float)
    )
    pois = phi < _PHI_POISSON
    out = np.empty(y.shape, dtype=float)
    with np.errstate(divide="ignore", invalid="ignore"):
        # Poisson part
        yp, mp = y[pois], mu[pois]
        out[pois] = xlogy(yp, mp) - mp - gammaln(yp + 1.0)
        yn, mn, pn = y[~pois], mu[~pois], phi[~pois]
        r = 1.0 / pn
        out[~pois] = (
            gammaln(yn + r) - gammaln(r) - gammaln(yn + 1.0)
            - r * np.log1p(pn * mn)
            + xlogy(yn, pn * mn) - yn * np.log1p(pn * mn)
        )
    return out if out.ndim else float(out)


def nb_deviance(y, mu, phi, axis: int | None = 0):
    """NB deviance, summed over ``axis`` (samples by default; ``None`` = unit deviances).

    .. math::

        d(y, \\mu) = 2 \\Big[ y \\log\\frac{y}{\\mu}
        - (y + 1/\\phi) \\log\\frac{1 + \\phi y}{1 + \\phi \\mu} \\Big],

    with the Poisson limit ``2 [y log(y/mu) - (y - mu)]`` for ``phi = 0``.
    """
    y, mu, phi = np.broadcast_arrays(
        np.asarray(y, dtype=float), np.asarray(mu, dtype=float), np.asarray(phi, dtype=float)
    )
    pois = phi < _PHI_POISSON
    safe_phi = np.where(pois, 1.0, phi)
    with np.errstate(divide="ignore", invalid="ignore"):
        ylog = xlogy(y, y) - xlogy(y, mu)
        nb = ylog - (y + 1.0 / safe_phi) * (np.log1p(safe_phi * y) - np.log1p(safe_phi * mu))
        po = ylog - (y - mu)
        d = 2.0 * np.where(pois, po, nb)
    d = np.maximum(d, 0.0)
    return d if axis is None else d.sum(axis=axis)


@dataclass(repr=False)
class NBGLMResult(Result):
    """Result of :func:`nb_glm_fit` for ``G`` genes and ``p`` coefficients.

    ``summary()`` (= ``to_frame()``, what ``save`` writes) has one row per gene:
    ``coef_j``, ``se_j``, ``deviance``, ``n_iter``, ``converged``; ``plot`` draws each
    gene's last coefficient against its standard error.

    Attributes
    ----------
    coef : ndarray, shape (G, p)
        Coefficients on the natural-log scale.
    se : ndarray, shape (G, p)
        Standard errors ``sqrt(diag((X' W X + Lambda)^-1))`` at convergence (for ``ridge=0``
        the usual Fisher-information standard errors, scale fixed at 1).
    deviance : ndarray, shape (G,)
        NB deviance (unpenalised) at the estimate.
    n_iter : ndarray of int, shape (G,)
    converged : ndarray of bool, shape (G,)
    mu : ndarray, shape (n_samples, G)
        Fitted means.
    """

    coef: np.ndarray
    se: np.ndarray
    deviance: np.ndarray
    n_iter: np.ndarray
    converged: np.ndarray
    mu: np.ndarray

    def _header(self) -> dict[str, Any]:
        return {"n_genes": int(self.coef.shape[0]), "n_coefficients": int(self.coef.shape[1]),
                "converged": int(np.sum(self.converged))}

    def summary(self) -> pd.DataFrame:
        cols: dict[str, Any] = {}
        for j in range(self.coef.shape[1]):
            cols[f"coef_{j}"] = self.coef[:, j]
            cols[f"se_{j}"] = self.se[:, j]
        cols.update(deviance=self.deviance, n_iter=self.n_iter, converged=self.converged)
        return pd.DataFrame(cols, index=pd.RangeIndex(self.coef.shape[0], name="gene"))

    def plot(self, ax: Any = None) -> Any:
        """Last coefficient of every gene against its standard error."""
        ax = self._axes(ax, figsize=(5, 4))
        ax.scatter(self.coef[:, -1], self.se[:, -1], s=4, c="k", alpha=0.5)
        ax.set_xlabel(f"coefficient {self.coef.shape[1] - 1} (log scale)")
        ax.set_ylabel("standard error")
        return ax


def _batched_solve(A: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Solve stacked systems ``A[g] x[g] = b[g]`` (A: (G,p,p), b: (G,p)); pinv if singular."""
    try:
        return np.linalg.solve(A, b[..., None])[..., 0]
    except np.linalg.LinAlgError:
        out = np.empty_like(b)
        ok = np.linalg.cond(A) < 1e14
        if ok.any():
            out[ok] = np.linalg.solve(A[ok], b[ok][..., None])[..., 0]
        if (~ok).any():
            out[~ok] = np.einsum("gpq,gq->gp", np.linalg.pinv(A[~ok]), b[~ok])
        return out


def _batched_inv_diag(A: np.ndarray) -> np.ndarray:
    """Diagonal of the (pseudo-)inverse of stacked symmetric matrices."""
    try:
        inv = np.linalg.inv(A)
    except np.linalg.LinAlgError:
        inv = np.linalg.pinv(A)
    return np.diagonal(inv, axis1=1, axis2=2).copy()


def nb_glm_fit(
    counts,
    X,
    offset=0.0,
    dispersion=0.0,
    *,
    ridge=0.0,
    max_iter: int = 50,
    tol: float = 1e-8,
    start=None,
) -> NBGLMResult:
    """Fit ``log mu = offset + X beta`` by IRLS for every gene at once.

    Maximises the penalised log-likelihood
    ``sum_i log NB(y_ig; mu_ig, phi_g) - 1/2 sum_j lambda_j beta_gj^2`` by Fisher scoring:

    .. math::

        \\beta^{new} = (X^\\top W X + \\Lambda)^{-1} X^\\top W z, \\quad
        W = \\operatorname{diag}\\frac{\\mu}{1 + \\phi\\mu}, \\quad
        z = \\eta - o + \\frac{y - \\mu}{\\mu},

    one stacked ``p x p`` solve per iteration for all active genes. A step that increases
    the penalised deviance ``D + beta' Lambda beta`` is halved (up to 20 times). The linear
    predictor is clipped to ``[-30, 40]``, so all-zero genes, separated designs and huge
    dispersions give finite (possibly very negative) coefficients, never NaN. A gene has
    converged when the relative change of the penalised deviance falls below ``tol`` and the
    largest relative coefficient step below ``100 tol`` (or the deviance stops changing).

    Parameters
    ----------
    counts : array-like, shape (n_samples, n_genes)
        Non-negative counts (a DataFrame is accepted; only its values are used).
    X : array-like, shape (n_samples, p)
        Design matrix, shared by all genes.
    offset : float or array-like, shape (n_samples,) or (n_samples, n_genes)
        Log-scale offset, e.g. log size factors.
    dispersion : float or array-like, shape (n_genes,)
        NB dispersion ``phi_g`` (``0`` = Poisson).
    ridge : float or array-like, shape (p,)
        Ridge penalty ``lambda``. A scalar penalises every column except constant
        (intercept) columns; a length-``p`` vector is used as given.
    max_iter, tol : IRLS iteration limit and relative deviance tolerance.
    start : array-like, shape (n_genes, p) or (p,), optional
        Starting coefficients; default is least squares on ``log(y + 0.1) - offset``.

    Returns
    -------
    NBGLMResult

    Examples
    --------
    >>> import numpy as np
    >>> y = np.array([[1, 10], [3, 12], [5, 30], [7, 28]])
    >>> X = np.array([[1, 0], [1, 0], [1, 1], [1, 1]])
    >>> fit = nb_glm_fit(y, X, dispersion=0.1)
    >>> np.allclose(fit.coef[:, 0], np.log([2, 11])), np.allclose(fit.coef[:, 1], np.log([3, 29 / 11]))
    (True, True)
    """
    Y = np.asarray(counts, dtype=float)
    if Y.ndim == 1:
        Y = Y[:, None]
    if Y.ndim != 2:
        raise ValueError(f"counts must be 2-D (samples x genes); got shape {Y.shape}")
    n, G = Y.shape
    X = np.asarray(X, dtype=float)
    if X.ndim == 1:
        X = X[:, None]
    if X.ndim != 2 or X.shape[0] != n:
        raise ValueError(f"X must have shape ({n}, p); got {X.shape}")
    p = X.shape[1]
    if not (np.isfinite(Y).all() and np.isfinite(X).all()):
        raise ValueError("counts and X must be finite (no NaN/inf)")
    if (Y < 0).any():
        raise ValueError("counts must be non-negative")
    off = np.asarray(offset, dtype=float)
    if off.ndim == 0:
        off = np.full((n, 1), float(off))
    elif off.ndim == 1:
        if off.shape[0] != n:
            raise ValueError(f"offset must have length {n}; got {off.shape[0]}")
        off = off[:, None]
    elif off.shape != (n, G):
        raise ValueError(f"offset must have shape ({n},) or ({n}, {G}); got {off.shape}")
    off = np.broadcast_to(off, (n, G))
    phi = np.asarray(dispersion, dtype=float)
    if phi.ndim == 0:
        phi = np.full(G, float(phi))
    if phi.shape != (G,):
        raise ValueError(f"dispersion must be a float or have shape ({G},); got {phi.shape}")
    if not np.isfinite(phi).all() or (phi < 0).any():
        raise ValueError("dispersion must be finite and non-negative")
    lam = np.asarray(ridge, dtype=float)
    if lam.ndim == 0:
        is_const = np.all(X == X[:1], axis=0) & (X[0] != 0)
        lam = np.where(is_const, 0.0, float(lam))
    if lam.shape != (p,) or (lam < 0).any():
        raise ValueError(f"ridge must be a non-negative float or have shape ({p},)")

    # starting values
    if start is None:
        z0 = np.log(Y + 0.1) - off
        beta = (np.linalg.pinv(X) @ z0).T.copy()
    else:
        beta = np.array(np.broadcast_to(np.asarray(start, dtype=float), (G, p)))
    from ._edger.irls import nb_irls_rows

    coef, var, dev, n_iter, converged, mu_all = nb_irls_rows(
        np.ascontiguousarray(Y), np.ascontiguousarray(X), np.ascontiguousarray(off), phi,
        np.ascontiguousarray(lam), np.ascontiguousarray(beta), int(max_iter), float(tol))
    if (~converged).any():
        logger.info("nb_glm_fit: %d of %d genes did not converge in %d iterations",
                    int((~converged).sum()), G, max_iter)
    se = np.sqrt(np.clip(var, 0.0, None))
    return NBGLMResult(coef=coef, se=se, deviance=dev, n_iter=n_iter,
                       converged=converged, mu=mu_all)


def _irls_numpy(Y, X, off, phi, lam, beta, max_iter, tol):
    """The IRLS of :func:`nb_glm_fit` in batched numpy (all active genes per iteration):
    the reference the compiled kernel (:func:`radiogenomics._edger.irls.nb_irls_rows`) is
    tested against. Returns coef, se, deviance, n_iter, converged, mu."""
    n, G = Y.shape
    p = X.shape[1]
    beta = np.array(beta, dtype=float)

    def _mu(beta, idx):
        eta = off[:, idx] + X @ beta.T
        return np.exp(np.clip(eta, ETA_MIN, ETA_MAX))

    def _pdev(beta, mu, idx):
        return nb_deviance(Y[:, idx], mu, phi[idx]) + (beta**2) @ lam

    allidx = np.arange(G)
    mu_all = _mu(beta, allidx)
    pdev = _pdev(beta, mu_all, allidx)
    n_iter = np.zeros(G, dtype=int)
    converged = np.zeros(G, dtype=bool)
    active = allidx.copy()
    Lam = np.diag(lam)
    XX = (X[:, :, None] * X[:, None, :]).reshape(n, p * p)  # rows: x_i x_i' flattened

    for it in range(1, max_iter + 1):
        if active.size == 0:
            break
        idx = active
        y, o, ph = Y[:, idx], off[:, idx], phi[idx]
        mu = mu_all[:, idx]
        eta = np.log(mu)
        w = mu / (1.0 + ph * mu)
        z = eta - o + (y - mu) / mu
        A = (XX.T @ w).T.reshape(-1, p, p) + Lam
        b = (X.T @ (w * z)).T
        new = _batched_solve(A, b)
        new = np.where(np.isfinite(new), new, beta[idx])
        old = beta[idx]
        mu_new = _mu(new, idx)
        pdev_new = _pdev(new, mu_new, idx)
        # step halving where the penalised deviance went up
        for _ in range(20):
            bad = ~(pdev_new <= pdev[idx] * (1 + 1e-9) + 1e-9)
            if not bad.any():
                break
            new[bad] = 0.5 * (new[bad] + old[bad])
            sub = idx[bad]
            mu_b = _mu(new[bad], sub)
            mu_new[:, bad] = mu_b
            pdev_new[bad] = _pdev(new[bad], mu_b, sub)
        bad = ~(pdev_new <= pdev[idx] * (1 + 1e-9) + 1e-9)
        if bad.any():  # no improving step: keep the old estimate (it is a stationary point)
            new[bad] = old[bad]
            mu_new[:, bad] = mu[:, bad]
            pdev_new[bad] = pdev[idx][bad]
        change = np.abs(pdev_new - pdev[idx]) / (np.abs(pdev_new) + 0.1)
        beta[idx] = new
        mu_all[:, idx] = mu_new
        pdev[idx] = pdev_new
        n_iter[idx] = it
        step = np.max(np.abs(new - old) / (np.abs(new) + 1.0), axis=1)
        done = ((change < tol) & (step < 100.0 * tol)) | (change < 1e-15) | bad
        converged[idx[done]] = True
        active = idx[~done]

    if (~converged).any():
        logger.info("nb_glm_fit: %d of %d genes did not converge in %d iterations",
                    int((~converged).sum()), G, max_iter)
    w = mu_all / (1.0 + phi * mu_all)
    A = (XX.T @ w).T.reshape(-1, p, p) + Lam
    var = _batched_inv_diag(A)
    se = np.sqrt(np.clip(var, 0.0, None))
    dev = nb_deviance(Y, mu_all, phi)
    return beta, se, dev, n_iter, converged, mu_all


def _nested(X0: np.ndarray, X1: np.ndarray) -> bool:
    """Whether every column of ``X0`` lies in the column space of ``X1`` (least squares)."""
    coef = np.linalg.lstsq(X1, X0, rcond=None)[0]
    resid = X0 - X1 @ coef
    return bool(np.all(np.abs(resid) <= 1e-8 * (1.0 + np.abs(X0).max())))


def glm_lrt(counts, design_full, design_reduced, dispersion, offset=0.0):
    r"""Likelihood-ratio test of two nested NB GLM designs for every gene (edgeR
    ``glmFit`` + ``glmLRT`` with a reduced design), sharing the dispersions.

    Both designs are fitted at the fixed dispersions :math:`\phi_g` exactly as edgeR's
    ``glmFit(prior.count = 0)`` does (oneway shortcut for group designs, Levenberg-damped
    Fisher scoring otherwise; compiled and parallel over genes, see
    :func:`radiogenomics._edger.apl.glm_fit_rows`); then

    .. math:: LR_g = D_g(X_0) - D_g(X_1) \sim \chi^2_{p_1 - p_0},
              \qquad D = \sum_j 2\Bigl[y_j\log\frac{y_j}{\mu_j}
              + (y_j + \phi^{-1})\log\frac{\mu_j + \phi^{-1}}{y_j + \phi^{-1}}\Bigr],

    with edgeR's unit deviance (1e-8 added to ``y`` and ``mu``, Poisson and gamma limits).

    Parameters
    ----------
    counts : array-like or DataFrame, shape (n_samples, n_genes)
        Non-negative counts (a DataFrame keeps its gene names as the result's index).
    design_full : array-like, shape (n_samples, p1)
        Full-rank design of the full model.
    design_reduced : array-like, shape (n_samples, p0)
        Full-rank design of the reduced model; its columns must lie in the column space
        of ``design_full`` (``p0 < p1``).
    dispersion : float, array-like (n_genes,) or Series indexed by gene
        NB dispersions (e.g. ``estimate_dispersion(counts, design=design_full,
        method="glm").tagwise``).
    offset : float or array-like (n_samples,)
        Log effective library sizes, ``log(lib.size * norm.factors)`` in edgeR.

    Returns
    -------
    DataFrame, one row per gene in the input order
        ``LR``, ``df``, ``pvalue`` (upper :math:`\chi^2` tail), ``deviance_full``,
        ``deviance_reduced``.

    Examples
    --------
    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> y = rng.negative_binomial(5, 0.1, size=(10, 3))
    >>> X1 = np.column_stack([np.ones(10), np.repeat([0.0, 1.0], 5)])
    >>> res = glm_lrt(y, X1, X1[:, :1], dispersion=0.2, offset=0.0)
    >>> list(res.columns)
    ['LR', 'df', 'pvalue', 'deviance_full', 'deviance_reduced']
    """
    import pandas as pd
    from scipy.stats import chi2

    from ._edger.design import _design_info
    from ._edger.fit import _glm_fit

    genes = counts.columns if isinstance(counts, pd.DataFrame) else None
    Y = np.asarray(counts, dtype=float)
    if Y.ndim != 2:
        raise ValueError(f"counts must be 2-D (samples x genes); got shape {Y.shape}")
    n, G = Y.shape
    if not np.isfinite(Y).all() or (Y < 0).any():
        raise ValueError("counts must be finite and non-negative")
    X1 = np.asarray(design_full, dtype=float)
    X0 = np.asarray(design_reduced, dtype=float)
    X1 = X1[:, None] if X1.ndim == 1 else X1
    X0 = X0[:, None] if X0.ndim == 1 else X0
    for name, X in (("design_full", X1), ("design_reduced", X0)):
        if X.ndim != 2 or X.shape[0] != n:
            raise ValueError(f"{name} must have {n} rows (one per sample); got shape {X.shape}")
        if not np.isfinite(X).all():
            raise ValueError(f"{name} must be finite")
        if np.linalg.matrix_rank(X) < X.shape[1]:
            raise ValueError(f"{name} is not of full column rank")
    if X0.shape[1] >= X1.shape[1] or not _nested(X0, X1):
        raise ValueError("design_reduced must be nested in design_full (its columns in the "
                         "column space of design_full, with fewer columns)")
    if isinstance(dispersion, pd.Series) and genes is not None:
        missing = genes.difference(dispersion.index)
        if len(missing):
            raise ValueError(f"dispersion is missing genes: {list(missing[:8])}")
        dispersion = dispersion.loc[genes].to_numpy(dtype=float)
    phi = np.asarray(dispersion, dtype=float)
    phi = np.full(G, float(phi)) if phi.ndim == 0 else phi.ravel()
    if phi.shape != (G,):
        raise ValueError(f"dispersion must be a float or hold {G} values (one per gene)")
    if not np.isfinite(phi).all() or (phi < 0).any():
        raise ValueError("dispersion must be finite and non-negative")
    off = np.asarray(offset, dtype=float)
    off = np.full(n, float(off)) if off.ndim == 0 else off.ravel()
    if off.shape != (n,) or not np.isfinite(off).all():
        raise ValueError(f"offset must be a float or hold {n} finite values (one per sample)")
    Yt = np.ascontiguousarray(Y.T)
    d1 = _glm_fit(Yt, _design_info(X1), off, phi, fitted=False).deviance
    d0 = _glm_fit(Yt, _design_info(X0), off, phi, fitted=False).deviance
    lr = d0 - d1
    df = X1.shape[1] - X0.shape[1]
    out = pd.DataFrame({"LR": lr, "df": np.full(G, df), "pvalue": chi2.sf(lr, df),
                        "deviance_full": d1, "deviance_reduced": d0},
                       index=genes if genes is not None else pd.RangeIndex(G))
    return out
