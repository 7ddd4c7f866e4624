r"""Negative-binomial and Poisson linear discriminant analysis.

- :class:`NBLDA` — Dong, Zhao, Zhang, Wan & Wang (2016), CRAN ``NBLDA`` 1.0.1
  ``trainNBLDA`` with ``nbldaControl()`` defaults.
- :class:`PLDA` — Witten (2011), CRAN ``PoiClaClu`` ``Classify`` / ``Classify.cv``.

Both model a count as :math:`X_{ig} \sim \mathrm{NB}/\mathrm{Pois}(s_i\,x_{\cdot g}\,d_{kg})`
with size factors :math:`s_i` (:class:`radiogenomics.counts.SizeFactors`,
``convention="poiclaclu"``) and
class effects

.. math:: d_{kg} = 1 + \mathrm{Soft}\Bigl(\frac{a_{kg}}{b_{kg}} - 1,
          \frac{\rho}{\sqrt{b_{kg}}}\Bigr),\quad
          a_{kg} = \sum_{i\in k} x_{ig} + \beta,\quad b_{kg} = \sum_{i\in k}\hat n_{ig} + \beta.
"""

from __future__ import annotations

import logging
from numbers import Integral, Real
from typing import Any

import numpy as np
import pandas as pd
from sklearn.utils._param_validation import Interval

from ..counts import as_size_factors
from ._base import DEPRECATED, CountClassifier, CountData, select_genes
from ._inner_cv import inner_folds, inner_splits, largest_best
from ._params import COMMON_CONSTRAINTS, COMMON_HINTS, fill_doc

logger = logging.getLogger(__name__)

__all__ = ["NBLDA", "PLDA", "class_effects", "shrunken_dispersions", "find_best_transform"]


# --------------------------------------------------------------------------------------
# Kernels (vectorised over genes)
# --------------------------------------------------------------------------------------
def class_effects(x: np.ndarray, ns: np.ndarray, y: np.ndarray, classes: np.ndarray,
                  rho: float | np.ndarray, beta: float = 1.0) -> np.ndarray:
    r"""PoiClaClu ``GetD``: :math:`d_{kg} = 1 + \mathrm{Soft}(a_{kg}/b_{kg}-1, \rho/\sqrt{b_{kg}})`.

    ``rho`` may be a vector; then the result has shape (n_rho, K, genes), else (K, genes).
    """
    onehot = (y[:, None] == classes[None, :]).astype(float)  # n x K
    a = onehot.T @ x + beta
    b = onehot.T @ ns + beta
    r = a / b - 1.0
    rho_arr = np.asarray(rho, dtype=float)
    thr = rho_arr.reshape(-1, 1, 1) / np.sqrt(b)[None]
    d = 1.0 + np.sign(r)[None] * np.maximum(np.abs(r)[None] - thr, 0.0)
    return d if rho_arr.ndim else d[0]


def _max_rho(x, ns, y, classes, beta):
    onehot = (y[:, None] == classes[None, :]).astype(float)
    a = onehot.T @ x + beta
    b = onehot.T @ ns + beta
    return float(np.nanmax(np.abs(a / b - 1.0) * np.sqrt(b)))


def moment_dispersions(x: np.ndarray) -> np.ndarray:
    r"""NBLDA's gene-wise moment dispersions :math:`\max(0, (v_g - m_g)/m_g^2)`
    (sample mean and variance with ``n-1`` of the raw training counts; NaN → 0)."""
    m = x.mean(axis=0)
    v = x.var(axis=0, ddof=1)
    with np.errstate(divide="ignore", invalid="ignore"):
        d = (v - m) / m**2
    d = np.where(np.isfinite(d), d, 0.0)
    return np.maximum(d, 0.0)


def shrunken_dispersions(disp: np.ndarray, target: float = 0.0,
                         phi_epsilon: float = 0.15) -> np.ndarray:
    r"""sSeq ``getAdjustDisp`` (James–Stein shrinkage, ``propForSigma = c(0, 1)``) as used
    by NBLDA, then values :math:`\le` ``phi_epsilon`` set to 0:

    .. math:: \tilde\phi_g = \xi + \max\Bigl(0, 1 - \frac{(G-2)\,S^2}
              {\sum_g(\phi_g-\xi)^2}\Bigr)(\phi_g - \xi)

    with :math:`S^2` the sample variance (``n-1``) of the :math:`\phi_g` and target
    :math:`\xi`.
    """
    obs = np.where(np.isnan(disp), 0.0, disp)
    G = obs.size
    s2 = obs.var(ddof=1) if G > 1 else 0.0
    dif = obs - target
    ss = np.sum(dif**2)
    delta = 1.0 - (G - 2) * s2 / ss if ss > 0 else 0.0
    adj = max(0.0, delta) * dif + target
    adj = np.where(adj <= phi_epsilon, 0.0, adj)
    return adj


def _x_log_d(xte: np.ndarray, d: np.ndarray) -> np.ndarray:
    r""":math:`\sum_g x_g \log d_{kg}` (m x K), with :math:`0\log 0 = 0` and
    :math:`x\log 0 = -\infty` for :math:`x > 0`."""
    with np.errstate(divide="ignore"):
        logd = np.log(d)
    fin = np.isfinite(logd)
    t1 = xte @ np.where(fin, logd, 0.0).T
    if not fin.all():
        hit = (xte > 0).astype(float) @ (~fin).astype(float).T > 0
        t1 = np.where(hit, -np.inf, t1)
    return t1


_CELLS = 4_000_000  # m x K x genes cells per block of test samples


def nb_discriminant(xte: np.ndarray, nste: np.ndarray, d: np.ndarray, phi: np.ndarray,
                    prior: np.ndarray) -> np.ndarray:
    r"""NBLDA discriminant (m x K):

    .. math:: \delta_k(x^*) = \sum_g x^*_g \log\frac{d_{kg}}{1 + n^*_g d_{kg}\phi_g}
              - \sum_g \phi_g^{-1}\log(1 + n^*_g d_{kg}\phi_g) + \log\pi_k,

    where the second sum's term is :math:`n^*_g d_{kg}` when :math:`\phi_g = 0` (Poisson
    limit). Computed as :math:`x^*\log d^T - \sum_{g:\phi_g>0}(x^*_g + \phi_g^{-1})
    L_{kg} - n^*_{\phi=0}d_{\phi=0}^T` with :math:`L_{kg} = \log(1+n^*_g d_{kg}\phi_g)`,
    in blocks of test samples (memory :math:`O(\text{block}\cdot K\cdot p)`)."""
    xte = np.asarray(xte, dtype=float)
    nste = np.asarray(nste, dtype=float)
    m, p = xte.shape
    K = d.shape[0]
    out = _x_log_d(xte, d) + np.log(prior)[None, :]
    pos = phi > 0
    if (~pos).any():
        out -= nste[:, ~pos] @ d[:, ~pos].T
    if pos.any():
        dphi = d[:, pos] * phi[pos]  # K x p'
        w = xte[:, pos] + 1.0 / phi[pos]  # m x p'
        ns = nste[:, pos]
        step = max(1, _CELLS // max(1, K * int(pos.sum())))
        for lo in range(0, m, step):  # blocks of samples; genes stay vectorised
            L = np.log1p(ns[lo:lo + step, None, :] * dphi[None, :, :])
            out[lo:lo + step] -= np.einsum("mg,mkg->mk", w[lo:lo + step], L)
    return out


def poisson_discriminant(xte: np.ndarray, nste: np.ndarray, d: np.ndarray,
                         prior: np.ndarray) -> np.ndarray:
    r"""PLDA discriminant :math:`\sum_g x^*_g\log d_{kg} - \sum_g n^*_g d_{kg} + \log\pi_k`."""
    return _x_log_d(np.asarray(xte, dtype=float), d) - nste @ d.T + np.log(prior)[None, :]


def find_best_transform(x: np.ndarray) -> float:
    r"""PoiClaClu ``FindBestTransform``: the power :math:`\alpha` on the grid
    ``seq(0.01, 1, len = 50)`` whose Pearson goodness of fit
    :math:`\sum_{ig} (x_{ig}^\alpha - \hat n_{ig})^2/\hat n_{ig}` (``"mle"`` null model
    :math:`\hat n_{ig} = r_i c_g / T` with the row, column and grand totals of
    :math:`x^\alpha`; cells with :math:`\hat n = 0` left out, as ``na.rm = TRUE``) is
    closest to :math:`(n-1)(p-1)`.

    Computed as :math:`T\,r^{-1\,T} (x^{2\alpha}) c^{-1} - T` (the cross term and
    :math:`\sum\hat n` both equal :math:`T`), with :math:`x^\alpha` looked up from the
    distinct count values (one power per distinct value and grid point, then a gather).
    """
    x = np.asarray(x, dtype=float)
    alphas = np.linspace(0.01, 1.0, 50)
    n, p = x.shape
    target = (n - 1) * (p - 1)
    u, idx = np.unique(x, return_inverse=True)
    idx = idx.reshape(x.shape).astype(np.int32 if len(u) < 2**31 else np.int64)
    with np.errstate(divide="ignore"):
        logu = np.log(u)  # 0 -> -inf -> 0 ** alpha = 0
    gof = np.empty(len(alphas))
    for i, a in enumerate(alphas):  # 50 grid points, each vectorised over all cells
        v = np.take(np.exp(a * logu), idx)
        r = v.sum(axis=1)
        c = v.sum(axis=0)
        tot = r.sum()
        rinv = np.divide(1.0, r, out=np.zeros_like(r), where=r > 0)
        cinv = np.divide(1.0, c, out=np.zeros_like(c), where=c > 0)
        v *= v
        gof[i] = tot * (rinv @ (v @ cinv)) - tot
    return float(alphas[np.argmin(np.abs(gof - target))])


class _NullModel:
    r"""PoiClaClu ``NullModel`` / ``NullModelTest``: size factors :math:`s_i`
    (:class:`~radiogenomics.counts.SizeFactors`, ``convention="poiclaclu"``, from ``lib``
    -- all genes -- when given) and expected counts :math:`\hat n_{ig} = s_i x_{\cdot g}`
    with the training column totals of ``x``."""

    def __init__(self, spec: Any, x: np.ndarray, lib: np.ndarray | None = None) -> None:
        self.colsum_ = np.asarray(x, dtype=float).sum(axis=0)
        src = np.asarray(x if lib is None else lib, dtype=float)
        self.model_ = as_size_factors(spec, "poiclaclu").fit_array(src)
        self.sizes_ = self.model_.sizes_

    def expected(self) -> np.ndarray:
        return np.outer(self.sizes_, self.colsum_)

    def test_expected(self, xte: np.ndarray) -> np.ndarray:
        return np.outer(self.model_.transform_array(np.asarray(xte, dtype=float)),
                        self.colsum_)


# --------------------------------------------------------------------------------------
# Estimators
# --------------------------------------------------------------------------------------
class _CountLDA(CountClassifier):
    """NBLDA / PLDA on the classifier base: joint log-likelihood = the packages'
    discriminant (``decision_function`` returns it, per class)."""

    _negative_binomial = True
    _decision = "discriminant"
    _renamed = {"normalization": "size_factors", "prior": "priors"}
    _parameter_hints = COMMON_HINTS

    def _core_fit(self, x, y, classes, rho, alpha, lib=None):
        """Fit on count matrix ``x`` (already restricted to genes); size factors from
        ``lib`` (all genes of the same samples) when given; returns a dict."""
        if alpha is not None:
            x = x**alpha
            lib = None if lib is None else lib**alpha
        sm = _NullModel(self._sf, x, lib)
        ns = sm.expected()
        d = class_effects(x, ns, y, classes, rho, self.beta)
        out = {"size_model": sm, "d": d, "alpha": alpha}
        if self._negative_binomial:
            init = moment_dispersions(x)
            out["dispersion_initial"] = init
            out["dispersion"] = shrunken_dispersions(init, self.target, self.phi_epsilon)
        return out

    def _discriminant(self, m, xte, prior, nste):
        if self._negative_binomial:
            return nb_discriminant(xte, nste, m["d"], m["dispersion"], prior)
        return poisson_discriminant(xte, nste, m["d"], prior)

    def _core_disc(self, m, xte, prior, lib=None):
        if m["alpha"] is not None:
            xte = xte**m["alpha"]
            lib = None if lib is None else lib**m["alpha"]
        nste = m["size_model"].test_expected(xte if lib is None else lib)
        return self._discriminant(m, xte, prior, nste)

    def _cv_rho(self, x, y, classes, alpha, rhos, prior, n_splits, n_repeats, lib=None,
                full=None):
        """Inner-CV errors of every ``rho``. ``full`` (all genes of the training samples,
        a DataFrame) when ``n_genes`` selected a subset: every inner training fold selects
        its own genes (:func:`~._inner_cv.inner_folds`), and with ``transform`` PLDA's
        power is re-estimated on them."""
        splits = inner_splits(y, n_splits, n_repeats, self.random_state)
        folds = None
        if full is not None:
            folds = inner_folds(full, y, splits, n_genes=self.n_genes,
                                de_method=self.de_method, quantile=self.quantile)
            xall = full.to_numpy()
        errs = np.zeros(len(rhos))
        for i, (tr, te) in enumerate(splits):
            xf, af = x, alpha
            if folds is not None:
                xf = xall[:, folds[i].cols]
                af = self._alpha(xf[tr]) if alpha is not None else None
            m = self._core_fit(xf[tr], y[tr], classes, rhos, af,
                               None if lib is None else lib[tr])
            xte = xf[te]
            lte = None if lib is None else lib[te]
            if af is not None:
                xte = xte**af
                lte = None if lte is None else lte**af
            nste = m["size_model"].test_expected(xte if lte is None else lte)
            for j in range(len(rhos)):
                dsc = self._discriminant({**m, "d": m["d"][j]}, xte, prior, nste)
                errs[j] += np.sum(classes[np.argmax(dsc, axis=1)] != y[te])
        return errs / len(splits)

    def _fit(self, data: CountData) -> None:
        self._sf = as_size_factors(self._param("size_factors"), "poiclaclu")
        full, yy = data.counts, data.y.to_numpy()
        self.genes_ = select_genes(full, data.y, self.n_genes, self.de_method, self.quantile)
        df = full.loc[:, self.genes_]
        x = df.to_numpy()
        self._all_genes_ = self.library == "all" and full.shape[1] > df.shape[1]
        lib = full.to_numpy() if self._all_genes_ else None
        classes = self.classes_
        self._priors(yy)
        alpha = self._alpha(x)
        self.alpha_ = alpha
        if self.rho is None:
            xa = x**alpha if alpha is not None else x
            la = None if lib is None else (lib**alpha if alpha is not None else lib)
            maxrho = _max_rho(xa, _NullModel(self._sf, xa, la).expected(), yy, classes,
                              self.beta)
            rhos = np.linspace(0.0, maxrho * 2.0 / 3.0, self._n_rho())
            err = self._cv_rho(x, yy, classes, alpha, rhos, self.prior_, *self._cv_shape(),
                               lib=lib, full=full if full.shape[1] > df.shape[1] else None)
            self.cv_results_ = pd.DataFrame({"rho": rhos, "errors": err})
            self.rho_ = largest_best(rhos, err)
        else:
            self.rho_ = float(self.rho)
        m = self._core_fit(x, yy, classes, self.rho_, alpha, lib)
        self._model = m
        self.d_ = pd.DataFrame(m["d"], index=classes, columns=self.genes_)
        if self._negative_binomial:
            self.dispersion_initial_ = pd.Series(m["dispersion_initial"], index=self.genes_)
            self.dispersion_ = pd.Series(m["dispersion"], index=self.genes_)
        self.size_factors_ = pd.Series(m["size_model"].sizes_, index=df.index)

    def _joint_log_likelihood(self, data: CountData) -> np.ndarray:
        """The discriminant :func:`nb_discriminant` / :func:`poisson_discriminant`."""
        x = data.counts.loc[:, self.genes_].to_numpy()
        lib = data.counts.to_numpy() if self._all_genes_ else None
        return self._core_disc(self._model, x, self.prior_, lib)


_LDA_CONSTRAINTS = {**COMMON_CONSTRAINTS,
                    "rho": [Interval(Real, 0, None, closed="left"), None],
                    "beta": [Interval(Real, 0, None, closed="neither")],
                    "n_folds": [Interval(Integral, 2, None, closed="left")]}


@fill_doc
class NBLDA(_CountLDA):
    r"""Negative-binomial linear discriminant analysis (Dong et al. 2016; CRAN NBLDA 1.0.1).

    Equal to ``trainNBLDA(x, y, type=size_factors, train.control=nbldaControl())``:
    moment dispersions of the raw training counts, shrunk towards ``target`` by sSeq's
    ``getAdjustDisp`` and set to 0 when :math:`\le` ``phi_epsilon``; class effects
    :math:`d_{kg}` soft-thresholded by ``rho`` (see the module docstring); discriminant
    :func:`nb_discriminant`.

    Parameters
    ----------
    n_genes : int or None
        ``None``: all genes; otherwise the top ``n_genes`` by the exact test, selected
        inside ``fit``.
    {{size_factors}}
        PoiClaClu's ``"mle"`` is ``"library"``, ``"deseq"`` is ``"rle"``. Test samples
        are always normalised against the training reference. R's NBLDA ``type="tmm"`` instead
        normalises the test samples among themselves, so only its training side
        (:math:`d_{kg}`, dispersions) can be compared.
    rho : float or None
        Shrinkage of the class effects; ``None`` tunes it over ``tune_length`` values
        ``seq(0, 2/3 max rho, len)`` by ``n_folds``-fold CV repeated ``n_repeats`` times
        (accuracy; the largest best rho); when ``n_genes`` selects a subset, every inner
        training fold re-runs the quantile filter and the DE selection on its own rows
        (nested tuning, :func:`~._inner_cv.inner_folds`).
    beta, target, phi_epsilon : as ``nbldaControl()`` (1, 0, 0.15).
    {{priors}}
        Default equal (``nbldaControl()``).
    random_state : int, RandomState or None — CV folds.
    {{selection}}
    {{library}}
    """

    _negative_binomial = True
    _parameter_constraints = {**_LDA_CONSTRAINTS,
                              "target": [Real], "phi_epsilon": [Real],
                              "tune_length": [Interval(Integral, 1, None, closed="left")],
                              "n_repeats": [Interval(Integral, 1, None, closed="left")]}

    def __init__(self, n_genes: int | None = None, size_factors: Any = "library",
                 rho: float | None = None, beta: float = 1.0, priors: Any = "equal",
                 target: float = 0.0, phi_epsilon: float = 0.15, tune_length: int = 10,
                 n_folds: int = 5, n_repeats: int = 2, random_state: Any = None,
                 de_method: str = "exact", quantile: float | None = 0.25,
                 library: str = "all", normalization: Any = DEPRECATED,
                 prior: Any = DEPRECATED) -> None:
        self._store_params(locals())

    def _alpha(self, x):
        return None

    def _n_rho(self):
        return int(self.tune_length)

    def _cv_shape(self):
        return int(self.n_folds), int(self.n_repeats)


@fill_doc
class PLDA(_CountLDA):
    r"""Poisson linear discriminant analysis (Witten 2011; PoiClaClu ``Classify``).

    Equal to ``Classify(x, y, xte, rho, transform=transform)``: with ``transform=True``
    the counts are raised to the power :math:`\alpha` of :func:`find_best_transform`
    (fitted on the training counts), the class effects are :func:`class_effects` and the
    discriminant :func:`poisson_discriminant`.

    Parameters
    ----------
    n_genes : int or None
    rho : float or None
        ``None`` tunes it as ``Classify.cv`` (30 values ``seq(0, 2/3 max rho)``,
        ``n_folds``-fold stratified CV, largest rho of minimal error). Unlike
        ``Classify.cv`` the folds use ``size_factors`` (PoiClaClu uses ``"quantile"``).
    {{size_factors}}
    transform : bool
    alpha : float or None — the power (``None``: :func:`find_best_transform`).
    beta, random_state
    {{priors}}
        Default equal.
    {{selection}}
    {{library}}
    """

    _negative_binomial = False
    _parameter_constraints = {**_LDA_CONSTRAINTS, "transform": ["boolean"],
                              "alpha": [Interval(Real, 0, 1, closed="right"), None],
                              "n_rho": [Interval(Integral, 1, None, closed="left")]}

    def __init__(self, n_genes: int | None = None, size_factors: Any = "library",
                 rho: float | None = 0.0, transform: bool = True, alpha: float | None = None,
                 beta: float = 1.0, priors: Any = "equal", n_rho: int = 30, n_folds: int = 5,
                 random_state: Any = None, de_method: str = "exact",
                 quantile: float | None = 0.25, library: str = "all",
                 normalization: Any = DEPRECATED, prior: Any = DEPRECATED) -> None:
        self._store_params(locals())

    def _alpha(self, x):
        if not self.transform:
            if self.alpha is not None:
                raise ValueError("alpha was given but transform=False")
            return None
        a = find_best_transform(x) if self.alpha is None else float(self.alpha)
        if not 0 < a <= 1:
            raise ValueError(f"alpha must lie in (0, 1]; got {a}")
        return a

    def _n_rho(self):
        return int(self.n_rho)

    def _cv_shape(self):
        return int(self.n_folds), 1
