r"""voom-weighted nearest shrunken centroids (Zararsiz et al. 2017; MLSeq ``voomNSC``).

Training counts are voom-transformed (:func:`radiogenomics.voom.voom`, ``design = ~ y``,
library sizes times TMM or RLE factors); per gene *g* and class *k* with voom weights
:math:`w_{ig}`:

.. math::
    \bar x_{kg} = \frac{\sum_{i\in k} w_{ig}x_{ig}}{\sum_{i\in k} w_{ig}},\quad
    \bar x_g = \frac{\sum_i w_{ig}x_{ig}}{\sum_i w_{ig}},\quad
    s^2_{kg} = \frac{W_{kg}\sum_{i\in k} w_{ig}(x_{ig}-\tilde x_{kg})^2}
                    {W_{kg}^2 - \sum_{i\in k} w_{ig}^2},\\
    s_g = \sqrt{\frac{\sum_k (W_{kg}-1)s^2_{kg}}{\sum_k W_{kg} - K}},\quad
    m_{kg} = \sqrt{1/W_{kg} - 1/W_{g}},\quad
    d_{kg} = \frac{\bar x_{kg}-\bar x_g}{m_{kg}(s_g + s_0)},

with :math:`W_{kg}=\sum_{i\in k}w_{ig}`, :math:`\tilde x_{kg}` the *unweighted* class mean
(as MLSeq) and :math:`s_0 = \mathrm{median}_g s_g`. The shrunken differences
:math:`m_{kg}\,\mathrm{Soft}(d_{kg},\Delta)` enter pamr's diagonal discriminant on the
standardised test log-CPM :math:`(x^*_g-\bar x_g)/(s_g+s_0)`; priors are the class
proportions. Test samples get their log-CPM with normalisation factors computed against
the *training* reference (MLSeq ``voomGSD``).

``mlseq_compat=True`` reproduces MLSeq 2.25 ``voomNSC.train`` / ``predict.voomNSC``
bit-for-bit, including two quirks of its code:

1. the p x K matrix :math:`m_{kg}` is applied as ``t(t(delta.shrunk) * as.numeric(se.scale))``:
   the K x p transpose is multiplied by the column-major vector of :math:`m`, recycled,
   so gene *g*, class *k* is scaled by element ``k + K*g`` (mod pK) of that vector — a
   misaligned gene/class;
2. the standardising sd used in the discriminant is
   :math:`\sqrt{s_g/(n-K)} + \mathrm{median}_g\sqrt{s_g/(n-K)}` instead of
   :math:`s_g + s_0`.

The default (``mlseq_compat=False``) uses :math:`m_{kg}` for its own gene and class and the
same :math:`s_g+s_0` in the differences and in the discriminant (the paper's method).
"""

from __future__ import annotations

import logging
from numbers import Integral, Real
from typing import Any

import numpy as np
import pandas as pd
from sklearn.utils._param_validation import Interval

from ..counts import as_size_factors
from ..voom import voom
from ._base import DEPRECATED, CountClassifier, CountData, select_genes
from ._inner_cv import _folds_per_repeat, inner_folds, inner_splits, largest_best
from ._nsc import _grid, diag_disc, soft_shrink
from ._params import COMMON_CONSTRAINTS, COMMON_HINTS, fill_doc

logger = logging.getLogger(__name__)

__all__ = ["VoomNSC", "weighted_statistics"]



def weighted_statistics(x: np.ndarray, w: np.ndarray, y: np.ndarray,
                        classes: np.ndarray) -> dict:
    """MLSeq ``weighted.stats`` (samples x genes ``x`` and weights ``w``), vectorised."""
    onehot = (y[:, None] == classes[None, :]).astype(float)  # n x K
    nk = onehot.sum(axis=0)
    wsum = w.T @ onehot  # p x K
    wm_c = (w * x).T @ onehot / wsum
    wm = (w * x).sum(axis=0) / w.sum(axis=0)
    umean = x.T @ onehot / nk  # unweighted class means, p x K
    ws = np.empty_like(wsum)
    K = len(classes)
    # undefined values (a class with one sample or weight sums <= 1) become NaN here and
    # are counted below; numpy's warnings for them are not shown
    with np.errstate(invalid="ignore", divide="ignore"):
        for k in range(K):
            idx = onehot[:, k] > 0
            wk, xk = w[idx], x[idx]
            denom = (wk * (xk - umean[:, k][None, :]) ** 2).sum(axis=0)
            sw = wsum[:, k]
            ws[:, k] = np.sqrt(sw * denom / (sw**2 - (wk**2).sum(axis=0)))
        pooled = np.sqrt(((wsum - 1.0) * ws**2).sum(axis=1) / (wsum.sum(axis=1) - K))
    # Classes whose voom weights sum below 1 for a gene (very low counts in small classes)
    # make W_kg - 1 < 0 and the pooled sd undefined (NaN, or sum_k W_kg - K <= 0). Such genes cannot be standardised:
    # they are left out of s0 and of the discriminant (difference 0, test z 0), instead of
    # turning every gene's s0 into NaN.
    undefined = ~np.isfinite(pooled) | (wsum.sum(axis=1) - K <= 0)
    if undefined.any():
        logger.debug("voomNSC: %d of %d genes have an undefined pooled sd (class weight "
                     "sums below 1); they are left out of the classifier",
                     int(undefined.sum()), len(pooled))
    s0 = float(np.median(pooled[~undefined])) if (~undefined).any() else 0.0
    with np.errstate(invalid="ignore", divide="ignore"):
        se = np.sqrt(1.0 / wsum - 1.0 / wsum.sum(axis=1, keepdims=True))
    with np.errstate(invalid="ignore", divide="ignore"):
        delta = (wm_c - wm[:, None]) / (se * (pooled + s0)[:, None])
    delta[undefined] = 0.0
    return {"wm_c": wm_c, "wm": wm, "ws_c": ws, "pooled": pooled, "se": se, "s0": s0,
            "delta": delta, "n": len(y), "K": K, "undefined": undefined}


def _mlseq_scale(shrunk: np.ndarray, se: np.ndarray) -> np.ndarray:
    """MLSeq's ``t(t(shrunk) * as.numeric(se))``: recycled, misaligned multiplication."""
    p, K = shrunk.shape
    vec = se.reshape(-1, order="F")  # as.numeric of a p x K matrix (column-major)
    t_flat = shrunk.T.reshape(-1, order="F")  # column-major of the K x p transpose
    out = (t_flat * vec[np.arange(p * K) % len(vec)]).reshape((K, p), order="F")
    return out.T


class _VoomModel:
    """Training normalisation reference + voom + weighted statistics.

    Library sizes are edgeR's effective ones, ``lib.size * norm.factors``
    (:class:`~radiogenomics.counts.SizeFactors` with ``convention="edger"``, from all
    columns of ``x``). ``tmm_cache`` (a dict) memoises TMM factors per (sample, reference
    sample) pair, so the folds of the threshold CV, which mostly share their reference
    sample, do not recompute them; keys are row positions in the full training matrix
    (``rows``). The cached values are exactly the recomputed ones.
    """

    def __init__(self, x: np.ndarray, y: np.ndarray, classes: np.ndarray, spec: Any,
                 rows: np.ndarray | None = None, tmm_cache: dict | None = None,
                 cols: np.ndarray | None = None):
        """``x``: training counts; library sizes and normalisation factors come from all
        of its columns, voom and the centroids from columns ``cols`` (default all)."""
        self.cols = cols
        rows = np.arange(len(x)) if rows is None else rows
        self.sf = as_size_factors(spec, "edger").fit_array(x, keys=rows, cache=tmm_cache)
        E, W = voom(x if cols is None else x[:, cols], design=y, lib_size=self.sf.sizes_)
        self.E = E.to_numpy()
        self.W = W.to_numpy()
        self.stats = weighted_statistics(self.E, self.W, y, classes)

    def test_logcpm(self, xte: np.ndarray, rows: np.ndarray | None = None) -> np.ndarray:
        """Test log-CPM with library sizes normalised against the training reference
        (``rows``: positions of the test samples in the full training matrix, for the TMM
        cache of the CV folds)."""
        lib_te = self.sf.transform_array(xte, keys=rows)
        xs = xte if self.cols is None else xte[:, self.cols]
        return np.log2((xs + 0.5) / (lib_te[:, None] + 1.0) * 1e6)


@fill_doc
class VoomNSC(CountClassifier):
    r"""voom-weighted nearest shrunken centroids (voomNSC; Zararsiz et al. 2017).

    Parameters
    ----------
    threshold : float or None
        Shrinkage :math:`\Delta`. ``None``: tuned by ``n_folds``-fold stratified CV
        repeated ``n_repeats`` times over ``n_threshold`` values
        ``seq(0, max|d|)`` (cut after the first with no gene left), where the gene
        selection (quantile filter and DE test, when ``n_genes`` selects a subset), voom,
        the normalisation and the weighted centroids are refitted INSIDE each inner
        training fold (:func:`~._inner_cv.inner_folds`; MLSeq fits them on all training
        samples, held-out fold included); the largest threshold of minimal error wins.
    n_genes : int or None
        Top genes by the exact test, selected inside ``fit`` (``None``: all genes).
    {{size_factors}}
        Default ``"tmm"``; ``convention="edger"``: ``"deseq"`` (``"rle"``) is edgeR RLE as
        in MLSeq, ``"none"`` (``"library"``) the library sizes, ``"quantile"`` edgeR's
        upper quartile.
    mlseq_compat : bool
        Reproduce MLSeq's misaligned ``se.scale`` and its sd rescaling (module docstring).
    n_threshold, n_folds, n_repeats, random_state
    {{selection}}
    library : {"all", "selected"}
        Library sizes and normalisation factors from every training gene (default; as
        voom on the full ``DGEList`` before subsetting) or from the selected genes only
        (what MLSeq computes when handed the selected-gene matrix; a few strongly DE genes
        then dominate the library sizes). Identical when all genes are used.

    {{priors}}
        Default the class proportions (MLSeq, pamr); ``"equal"`` for balanced accuracy on
        unbalanced labels (with few informative genes the proportional prior predicts the
        majority class).

    Attributes
    ----------
    threshold_, centroids_ (weighted class means), centroid_overall_, sd_ (the
    standardising sd used in the discriminant), delta_, delta_shrunk_, se_scale_,
    cv_results_ and cv_error_ (the best inner-CV error; when tuned), n_undefined_ (genes
    left out because their pooled sd is undefined), classes_, genes_, prior_.
    """

    _decision = "discriminant"
    _renamed = {"normalization": "size_factors", "prior": "priors"}
    _parameter_hints = COMMON_HINTS
    _parameter_constraints = {
        **COMMON_CONSTRAINTS,
        "threshold": [Interval(Real, 0, None, closed="left"), None],
        "mlseq_compat": ["boolean"],
        "n_threshold": [Interval(Integral, 1, None, closed="left")],
        "n_folds": [Interval(Integral, 2, None, closed="left")],
        "n_repeats": [Interval(Integral, 1, None, closed="left")],
    }

    def __init__(self, threshold: float | None = None, n_genes: int | None = None,
                 size_factors: Any = "tmm", mlseq_compat: bool = False,
                 n_threshold: int = 30, n_folds: int = 5, n_repeats: int = 2,
                 random_state: Any = None, de_method: str = "exact",
                 quantile: float | None = 0.25, library: str = "all",
                 priors: Any = "proportional", normalization: Any = DEPRECATED,
                 prior: Any = DEPRECATED) -> None:
        self._store_params(locals())

    def _sd(self, st) -> np.ndarray:
        if self.mlseq_compat:
            sd = np.sqrt(st["pooled"] / (st["n"] - st["K"]))
            return sd + np.median(sd[~st["undefined"]])
        return st["pooled"] + st["s0"]

    def _shrunk(self, st, threshold) -> np.ndarray:
        s = soft_shrink(st["delta"], threshold)
        return _mlseq_scale(s, st["se"]) if self.mlseq_compat else s * st["se"]

    def _z(self, model: _VoomModel, xte: np.ndarray,
           rows: np.ndarray | None = None) -> np.ndarray:
        st = model.stats
        with np.errstate(invalid="ignore"):
            z = (model.test_logcpm(xte, rows) - st["wm"][None, :]) / self._sd(st)[None, :]
        z[:, st["undefined"]] = 0.0  # genes without a pooled sd take no part
        return z

    def _disc(self, model: _VoomModel, xte: np.ndarray, threshold: float,
              prior: np.ndarray, z: np.ndarray | None = None) -> np.ndarray:
        if z is None:
            z = self._z(model, xte)
        return diag_disc(z, self._shrunk(model.stats, threshold), prior)

    def _fit(self, data: CountData) -> None:
        norm = as_size_factors(self._param("size_factors"), "edger")
        full, yy = data.counts, data.y.to_numpy()
        self.genes_ = select_genes(full, data.y, self.n_genes, self.de_method, self.quantile)
        df = full.loc[:, self.genes_]
        classes = self.classes_
        self._all_genes_ = self.library == "all" and full.shape[1] > df.shape[1]
        if not self._all_genes_:
            x, cols = df.to_numpy(), None
        else:  # voom and the centroids on the selected genes (voom on a full DGEList, subset)
            x, cols = full.to_numpy(), full.columns.get_indexer(self.genes_)
        self._cols = cols
        prior = self._priors(yy)
        cache: dict = {}
        model = _VoomModel(x, yy, classes, norm, tmm_cache=cache, cols=cols)
        st = model.stats
        if self.threshold is None:
            thr = _grid(st["delta"], int(self.n_threshold))
            splits = inner_splits(yy, self.n_folds, self.n_repeats, self.random_state)
            nested = full.shape[1] > df.shape[1]
            folds = (inner_folds(full, yy, splits, n_genes=self.n_genes, de_method=self.de_method,
                                 quantile=self.quantile) if nested else None)
            xall = full.to_numpy() if nested else None
            err = np.zeros(len(thr))
            for i, (tr, te) in enumerate(splits):
                # gene selection (nested), normalisation, voom and weighted centroids of the
                # inner training fold only
                if not nested:
                    xf, fcols, fcache = x, cols, cache
                elif cols is not None:  # library sizes from all genes: the TMM cache holds
                    xf, fcols, fcache = xall, folds[i].cols, cache
                else:  # library sizes from the fold's own genes: factors differ per fold
                    xf, fcols, fcache = xall[:, folds[i].cols], None, {}
                mf = _VoomModel(xf[tr], yy[tr], classes, norm, rows=tr, tmm_cache=fcache,
                                cols=fcols)
                zte = self._z(mf, xf[te], rows=te)
                for j, t in enumerate(thr):
                    pred = classes[np.argmax(self._disc(mf, None, t, prior, zte), axis=1)]
                    err[j] += np.sum(pred != yy[te])
            err = err / (len(yy) * (len(splits) // _folds_per_repeat(splits, len(yy))))
            self.cv_results_ = pd.DataFrame({"threshold": thr, "error": err})
            self.threshold_ = largest_best(thr, err)
            self.cv_error_ = float(err.min())
        else:
            self.threshold_ = float(self.threshold)
        self._model = model
        g = self.genes_
        self.centroids_ = pd.DataFrame(st["wm_c"], index=g, columns=classes)
        self.centroid_overall_ = pd.Series(st["wm"], index=g)
        self.sd_ = pd.Series(self._sd(st), index=g)
        self.se_scale_ = pd.DataFrame(st["se"], index=g, columns=classes)
        self.delta_ = pd.DataFrame(st["delta"], index=g, columns=classes)
        shr = self._shrunk(st, self.threshold_)
        self.delta_shrunk_ = pd.DataFrame(shr, index=g, columns=classes)
        self.n_nonzero_ = int((np.abs(shr).sum(axis=1) > 0).sum())
        self.n_undefined_ = int(st["undefined"].sum())

    def _joint_log_likelihood(self, data: CountData) -> np.ndarray:
        """Discriminant scores (n_samples x n_classes): all training genes when the library
        sizes come from the whole transcriptome, else the selected ones."""
        cols = self._train_columns if self._cols is not None else self.genes_
        return self._disc(self._model, data.counts.loc[:, cols].to_numpy(), self.threshold_,
                          self.prior_)

    def transform_test(self, X: Any) -> pd.DataFrame:
        """Test log-CPM against the training normalisation reference (MLSeq ``voomGSD``)."""
        data = self._predict_data(X)
        cols = self._train_columns if self._cols is not None else self.genes_
        return pd.DataFrame(self._model.test_logcpm(data.counts.loc[:, cols].to_numpy()),
                            index=data.counts.index, columns=self.genes_)
