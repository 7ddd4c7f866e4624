r"""Nearest shrunken centroids (Tibshirani et al. 2002), equal to CRAN ``pamr`` 1.57.

``pamr.train(list(x = log2(X + 1), y = y))`` computes, per gene *g* and class *k*,

.. math::
    s_g = \sqrt{\tfrac{1}{n-K}\sum_k\sum_{i\in k}(x_{ig}-\bar x_{kg})^2},\quad
    s_0 = \mathrm{median}_g\, s_g,\quad
    m_k = \sqrt{1/n_k - 1/n},\\
    d_{kg} = \frac{\bar x_{kg}-\bar x_g}{m_k (s_g+s_0)},\quad
    d'_{kg} = \mathrm{sign}(d_{kg})(|d_{kg}|-\Delta)_+ ,\\
    \delta_k(x^*) = -\tfrac12\sum_{g\in G}\Bigl(\frac{x^*_g-\bar x_g}{s_g+s_0}
      - m_k d'_{kg}\Bigr)^2 + \ldots = \sum_{g\in G}\frac{x^*_g-\bar x_g}{s_g+s_0}m_k d'_{kg}
      - \tfrac12\sum_{g\in G}(m_k d'_{kg})^2 + \log\pi_k

where *G* are the genes with a non-zero shrunken difference in some class; posteriors are the
softmax of :math:`\delta_k` and the shrunken centroids are
:math:`\bar x_g + (s_g+s_0)m_k d'_{kg}`.
"""

from __future__ import annotations

import logging
from numbers import Integral, Real
from typing import Any

import numpy as np
import pandas as pd
from sklearn.model_selection import StratifiedKFold
from sklearn.utils._param_validation import Interval

from ..counts import as_size_factors
from ._base import DEPRECATED, CountClassifier, CountData, select_genes
from ._inner_cv import inner_folds, largest_best
from ._params import COMMON_CONSTRAINTS, COMMON_HINTS, fill_doc

logger = logging.getLogger(__name__)

__all__ = ["NearestShrunkenCentroid", "soft_shrink", "diag_disc", "nsc_statistics"]


def soft_shrink(delta: np.ndarray, threshold: float) -> np.ndarray:
    r"""Soft thresholding :math:`\mathrm{sign}(d)(|d|-\Delta)_+` (pamr ``soft.shrink``)."""
    dif = np.abs(delta) - threshold
    return np.sign(delta) * dif * (dif > 0)


def diag_disc(z: np.ndarray, shrunk: np.ndarray, prior: np.ndarray) -> np.ndarray:
    r"""pamr ``diag.disc`` on standardised data ``z`` (m x p) and shrunken differences
    ``shrunk`` (p x K): :math:`z\,D - \tfrac12\sum_g D_{gk}^2 + \log\pi_k` over the genes
    with a non-zero row of *D* (all :math:`\log\pi_k` when there is none)."""
    pos = np.abs(shrunk).sum(axis=1) > 0
    if not pos.any():
        return np.tile(np.log(prior), (z.shape[0], 1))
    c = shrunk[pos]
    dd = z[:, pos] @ c
    dd0 = (c**2).sum(axis=0) / 2.0 - np.log(prior)
    return dd - dd0[None, :]


def nsc_statistics(x: np.ndarray, y: np.ndarray, classes: np.ndarray,
                   offset_percent: float = 50.0) -> dict:
    """pamr ``nsc`` training statistics on samples x genes ``x`` (vectorised over genes)."""
    onehot = (y[:, None] == classes[None, :]).astype(float)
    nk = onehot.sum(axis=0)
    n = len(y)
    K = len(classes)
    centroids = (x.T @ onehot) / nk  # p x K
    resid = x - onehot @ centroids.T
    sd = np.sqrt((resid**2).sum(axis=0) / (n - K))
    offset = float(np.quantile(sd, offset_percent / 100.0))
    sd = sd + offset
    overall = x.mean(axis=0)
    se_scale = np.sqrt(1.0 / nk - 1.0 / n)
    delta = (centroids - overall[:, None]) / sd[:, None] / se_scale[None, :]
    return {"centroids": centroids, "overall": overall, "sd": sd, "offset": offset,
            "se_scale": se_scale, "delta": delta, "nk": nk}


def _grid(delta: np.ndarray, n_threshold: int) -> np.ndarray:
    """pamr's threshold grid ``seq(0, max|d|, length = n)`` cut after the first threshold
    with no surviving gene (``remove.zeros = TRUE``)."""
    thr = np.linspace(0.0, np.abs(delta).max(), n_threshold)
    nonzero = np.array([(soft_shrink(delta, t) != 0).any(axis=1).sum() for t in thr])
    zeros = np.nonzero(nonzero == 0)[0]
    if len(zeros):
        thr = thr[: zeros[0] + 1]
    return thr


def _balanced_folds(y: np.ndarray, n_folds: int | None, random_state: Any) -> list:
    counts = pd.Series(y).value_counts()
    k = int(min(counts.min(), 10) if n_folds is None else min(n_folds, counts.max()))
    k = max(2, min(k, int(counts.min())))
    skf = StratifiedKFold(n_splits=k, shuffle=True, random_state=random_state)
    return [te for _, te in skf.split(np.zeros(len(y)), y)]


@fill_doc
class NearestShrunkenCentroid(CountClassifier):
    r"""Nearest shrunken centroid classifier on :math:`\log_2(\text{count}+1)`, pamr-equal.

    Parameters
    ----------
    threshold : float or None
        Shrinkage :math:`\Delta`. ``None`` tunes it like ``pamr.cv``: balanced
        ``min(10, smallest class)``-fold CV over pamr's 30-threshold grid of the full
        training fit, taking the largest threshold of minimal CV error; when ``n_genes``
        selects a subset, every inner training fold re-selects its own genes (nested).
    n_genes : int or None
        Top genes by the exact test, selected inside ``fit`` (``None``: all).
    {{size_factors}}
        ``None`` (default, as in ``pamr.train(log2(x + 1))``): raw counts. Otherwise counts
        are divided by size factors (``convention="poiclaclu"`` rescaled to mean 1 over
        the training samples, test samples against the training reference) before the log.
    {{priors}}
        Default the class proportions (pamr).
    offset_percent : float — percentile of the gene sds added as :math:`s_0` (50).
    n_threshold : int — grid length (30).
    n_folds : int or None; random_state : CV folds.
    {{selection}}

    Attributes
    ----------
    threshold_, centroids_ (raw class means), shrunken_centroids_, centroid_overall_,
    sd_ (with :math:`s_0`), offset_, cv_results_ (when tuned), classes_, genes_.
    """

    _decision = "discriminant"
    _renamed = {"normalization": "size_factors", "prior": "priors"}
    _parameter_hints = COMMON_HINTS
    _parameter_constraints = {
        **COMMON_CONSTRAINTS,
        "threshold": [Interval(Real, 0, None, closed="left"), None],
        "offset_percent": [Interval(Real, 0, 100, closed="both")],
        "n_threshold": [Interval(Integral, 1, None, closed="left")],
        "n_folds": [Interval(Integral, 2, None, closed="left"), None],
    }

    def __init__(self, threshold: float | None = None, n_genes: int | None = None,
                 size_factors: Any = None, priors: Any = "proportional",
                 offset_percent: float = 50.0, n_threshold: int = 30,
                 n_folds: int | None = None, random_state: Any = None,
                 de_method: str = "exact", quantile: float | None = 0.25,
                 normalization: Any = DEPRECATED, prior: Any = DEPRECATED) -> None:
        self._store_params(locals())

    # -- transforms --------------------------------------------------------------
    def _log_fit(self, x: np.ndarray):
        if self._sf is None:
            return None, np.log2(x + 1.0)
        sm = as_size_factors(self._sf, "poiclaclu").fit_array(np.asarray(x, dtype=float))
        s = sm.sizes_ * len(sm.sizes_)
        return sm, np.log2(x / s[:, None] + 1.0)

    def _log_new(self, sm, x: np.ndarray) -> np.ndarray:
        if sm is None:
            return np.log2(x + 1.0)
        s = sm.transform_array(np.asarray(x, dtype=float)) * len(sm.sizes_)
        return np.log2(x / s[:, None] + 1.0)

    @staticmethod
    def _shrunk(st, threshold):
        return soft_shrink(st["delta"], threshold) * st["se_scale"][None, :]

    def _disc(self, st, z_raw, threshold, prior):
        z = (z_raw - st["overall"][None, :]) / st["sd"][None, :]
        return diag_disc(z, self._shrunk(st, threshold), prior)

    def _fit(self, data: CountData) -> None:
        self._sf = self._param("size_factors")
        full, yy = data.counts, data.y.to_numpy()
        self.genes_ = select_genes(full, data.y, self.n_genes, self.de_method, self.quantile)
        df = full.loc[:, self.genes_]
        classes = self.classes_
        x = df.to_numpy()
        sm, z = self._log_fit(x)
        self._size_model = sm
        prior = self._priors(yy)
        st = nsc_statistics(z, yy, classes, self.offset_percent)
        if self.threshold is None:
            grid = _grid(st["delta"], int(self.n_threshold))
            folds = _balanced_folds(yy, self.n_folds, self.random_state)
            splits = [(np.setdiff1d(np.arange(len(yy)), te), te) for te in folds]
            inner = None
            if full.shape[1] > df.shape[1]:  # nested: each inner fold selects its genes
                inner = inner_folds(full, yy, splits, n_genes=self.n_genes,
                                    de_method=self.de_method, quantile=self.quantile)
                xall = full.to_numpy()
            err = np.zeros(len(grid))
            for i, (tr, te) in enumerate(splits):
                xf = x if inner is None else xall[:, inner[i].cols]
                smf, zf = self._log_fit(xf[tr])
                stf = nsc_statistics(zf, yy[tr], classes, self.offset_percent)
                zte = self._log_new(smf, xf[te])
                for j, t in enumerate(grid):
                    pred = classes[np.argmax(self._disc(stf, zte, t, prior), axis=1)]
                    err[j] += np.sum(pred != yy[te])
            err = err / len(yy)
            self.cv_results_ = pd.DataFrame({"threshold": grid, "error": err})
            self.threshold_ = largest_best(grid, err)
        else:
            self.threshold_ = float(self.threshold)
        self._stats = st
        g = self.genes_
        self.centroids_ = pd.DataFrame(st["centroids"], index=g, columns=classes)
        self.centroid_overall_ = pd.Series(st["overall"], index=g)
        self.sd_ = pd.Series(st["sd"], index=g)
        self.offset_ = st["offset"]
        shr = self._shrunk(st, self.threshold_)
        self.shrunken_centroids_ = pd.DataFrame(
            st["overall"][:, None] + shr * st["sd"][:, None], index=g, columns=classes)
        self.n_nonzero_ = int((np.abs(shr).sum(axis=1) > 0).sum())

    def _joint_log_likelihood(self, data: CountData) -> np.ndarray:
        """pamr discriminant scores (n_samples x n_classes); posteriors are their softmax."""
        z = self._log_new(self._size_model, data.counts.loc[:, self.genes_].to_numpy())
        return self._disc(self._stats, z, self.threshold_, self.prior_)
