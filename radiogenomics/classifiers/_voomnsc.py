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
from typing import Any

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, ClassifierMixin

from .._normalization import library_counts, prepare_fit, prepare_predict, softmax_rows
from ..voom import voom
from ._inner_cv import _folds_per_repeat, inner_folds, inner_splits
from ._nsc import diag_disc, soft_shrink

logger = logging.getLogger(__name__)

__all__ = ["VoomNSC", "weighted_statistics"]

_NORMS = {"tmm": "TMM", "deseq": "deseq", "rle": "deseq", "none": "none", "mle": "none",
          "library": "none", "quantile": "quantile"}


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


def _class_prior(prior: Any, classes: np.ndarray, y: np.ndarray) -> np.ndarray:
    """The prior vector of :class:`VoomNSC` (class proportions, equal, or given)."""
    if prior is None or (isinstance(prior, str) and prior == "proportional"):
        return np.array([(y == c).mean() for c in classes])
    if isinstance(prior, str) and prior == "equal":
        return np.full(len(classes), 1.0 / len(classes))
    if isinstance(prior, str):
        raise ValueError(f"prior must be 'proportional', 'equal', a dict or an array; got {prior!r}")
    p = np.asarray([prior[c] for c in classes] if isinstance(prior, dict) else prior, dtype=float)
    if p.shape != (len(classes),) or np.any(p <= 0):
        raise ValueError(f"prior needs one positive value per class {list(classes)}")
    return p / p.sum()


class _VoomModel:
    """Training normalisation reference + voom + weighted statistics.

    ``tmm_cache`` (a dict) memoises TMM factors per (sample, reference sample) pair, so
    the folds of the threshold CV, which mostly share their reference sample, do not
    recompute them; keys are row positions in the full training matrix (``rows``). The
    cached values are exactly the recomputed ones.
    """

    def __init__(self, x: np.ndarray, y: np.ndarray, classes: np.ndarray, norm: str,
                 rows: np.ndarray | None = None, tmm_cache: dict | None = None,
                 cols: np.ndarray | None = None):
        """``x``: training counts; library sizes and normalisation factors come from all
        of its columns, voom and the centroids from columns ``cols`` (default all)."""
        from ..counts import _tmm_reference_column

        self.norm = norm
        self.cols = cols
        lib = x.sum(axis=1)
        keep = (x > 0).any(axis=0)
        self.keep = keep
        xk = x[:, keep]
        if norm == "TMM":
            self.ref = _tmm_reference_column(xk.T, lib)
            self.ref_x = xk[self.ref].copy()
            self.ref_lib = float(lib[self.ref])
            rows = np.arange(len(x)) if rows is None else rows
            cache = {} if tmm_cache is None else tmm_cache
            self._cache = cache
            ref_id = int(rows[self.ref])
            self._ref_id = ref_id
            keys = [(int(r), ref_id) for r in rows]
            # genes that are zero in a sample or in the reference drop out of TMM, so the
            # factor does not depend on which all-zero genes were removed
            self._fill_tmm(keys, xk, lib)
            raw = np.array([cache[k] for k in keys])
        elif norm == "deseq":
            with np.errstate(divide="ignore"):
                self.gm = np.exp(np.log(xk).mean(axis=0))
            ok = self.gm > 0
            if not ok.any():
                raise ValueError("normalization 'deseq': no gene is positive in every "
                                 "training sample; use 'tmm'")
            raw = np.median(xk[:, ok] / self.gm[ok], axis=1) / lib
        elif norm == "quantile":
            raw = np.quantile(xk / lib[:, None], 0.75, axis=1)
            if np.any(raw <= 0):
                raise ValueError("normalization 'quantile': a training sample has upper "
                                 "quartile 0; use 'tmm'")
        else:
            raw = np.ones(len(x))
        self.gmean = float(np.exp(np.mean(np.log(raw))))
        lib_tr = lib * raw / self.gmean
        E, W = voom(x if cols is None else x[:, cols], design=y, lib_size=lib_tr)
        self.E = E.to_numpy()
        self.W = W.to_numpy()
        self.stats = weighted_statistics(self.E, self.W, y, classes)

    def _fill_tmm(self, keys: list, xk: np.ndarray, lib: np.ndarray) -> None:
        """TMM factors of the rows of ``xk`` whose keys are not cached yet, in one
        compiled call (parallel over samples)."""
        from ..counts import _tmm_many

        todo = [i for i, k in enumerate(keys) if k not in self._cache]
        if todo:
            f = _tmm_many(xk[todo], self.ref_x, lib[todo], self.ref_lib)
            for i, v in zip(todo, f, strict=True):
                self._cache[keys[i]] = float(v)

    def test_logcpm(self, xte: np.ndarray, rows: np.ndarray | None = None) -> np.ndarray:
        """Test log-CPM with library sizes normalised against the training reference
        (``rows``: positions of the test samples in the full training matrix, for the TMM
        cache of the CV folds)."""
        lib = xte.sum(axis=1)
        xk = xte[:, self.keep]
        if self.norm == "TMM":
            if rows is None:  # not part of the CV: no cache entry to share
                from ..counts import _tmm_many

                raw = _tmm_many(xk, self.ref_x, lib, self.ref_lib)
            else:
                keys = [(int(r), self._ref_id) for r in rows]
                self._fill_tmm(keys, xk, lib)
                raw = np.array([self._cache[k] for k in keys])
        elif self.norm == "deseq":
            ok = self.gm > 0
            raw = np.median(xk[:, ok] / self.gm[ok], axis=1) / lib
        elif self.norm == "quantile":
            raw = np.quantile(xk / lib[:, None], 0.75, axis=1)
        else:
            raw = np.ones(len(xte))
        lib_te = lib * raw / self.gmean
        xs = xte if self.cols is None else xte[:, self.cols]
        return np.log2((xs + 0.5) / (lib_te[:, None] + 1.0) * 1e6)


class VoomNSC(ClassifierMixin, BaseEstimator):
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
    normalization : {"tmm", "deseq", "none"}
        Library-size factors for voom (``"deseq"`` = edgeR RLE, as MLSeq).
    mlseq_compat : bool
        Reproduce MLSeq's misaligned ``se.scale`` and its sd rescaling (module docstring).
    n_threshold, n_folds, n_repeats, random_state
    de_method : {"exact", "lrt", "deseq2"}
        DE test of the gene selection (:class:`radiogenomics.de.DEGeneSelector`, the
        selector of the NB model).
    quantile : float or None
        Quantile filter applied before the DE test (0.25, as the NB model; ``None``: no
        filter, i.e. plain edgeR ``topTags`` as in the R references).
    library : {"all", "selected"}
        Library sizes and normalisation factors from every training gene (default; as
        voom on the full ``DGEList`` before subsetting) or from the selected genes only
        (what MLSeq computes when handed the selected-gene matrix; a few strongly DE genes
        then dominate the library sizes). Identical when all genes are used.

    prior : "proportional", "equal", dict or array
        Class priors :math:`\pi_k` of the discriminant: the training class proportions
        (MLSeq, pamr; default), equal priors (for balanced accuracy on unbalanced labels:
        with few informative genes the proportional prior predicts the majority class), or
        given values (normalised to sum 1).

    Attributes
    ----------
    threshold_, centroids_ (weighted class means), centroid_overall_, sd_ (the
    standardising sd used in the discriminant), delta_, delta_shrunk_, se_scale_,
    cv_results_ and cv_error_ (the best inner-CV error; when tuned), n_undefined_ (genes
    left out because their pooled sd is undefined), classes_, genes_, prior_.
    """

    def __init__(self, threshold: float | None = None, n_genes: int | None = None,
                 normalization: str = "tmm", mlseq_compat: bool = False,
                 n_threshold: int = 30, n_folds: int = 5, n_repeats: int = 2,
                 random_state: Any = None, de_method: str = "exact",
                 quantile: float | None = 0.25, library: str = "all",
                 prior: Any = "proportional") -> None:
        self.threshold = threshold
        self.prior = prior
        self.n_genes = n_genes
        self.library = library
        self.de_method = de_method
        self.quantile = quantile
        self.normalization = normalization
        self.mlseq_compat = mlseq_compat
        self.n_threshold = n_threshold
        self.n_folds = n_folds
        self.n_repeats = n_repeats
        self.random_state = random_state

    def _norm(self) -> str:
        key = str(self.normalization).lower()
        if key not in _NORMS:
            raise ValueError(f"normalization must be 'tmm', 'deseq' or 'none'; got "
                             f"{self.normalization!r}")
        return _NORMS[key]

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

    def fit(self, X: Any, y: Any, features: Any = None):
        """Fit on training counts (samples x genes) and labels; returns self."""
        norm = self._norm()
        df, yy, full = prepare_fit(self, X, y, full=True)
        classes = self.classes_
        x = library_counts(self, df, full)
        if x is None:
            x, cols = df.to_numpy(), None
        else:  # voom and the centroids on the selected genes (voom on a full DGEList, subset)
            cols = full.columns.get_indexer(self.genes_)
        self._cols = cols
        prior = _class_prior(self.prior, classes, yy)
        self.prior_ = prior
        cache: dict = {}
        model = _VoomModel(x, yy, classes, norm, tmm_cache=cache, cols=cols)
        st = model.stats
        if self.threshold is None:
            thr = np.linspace(0.0, np.abs(st["delta"]).max(), int(self.n_threshold))
            nz = np.array([(soft_shrink(st["delta"], t) != 0).any(axis=1).sum() for t in thr])
            zeros = np.nonzero(nz == 0)[0]
            if len(zeros):
                thr = thr[: zeros[0] + 1]
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
            self.threshold_ = float(thr[np.nonzero(err == err.min())[0].max()])
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
        return self

    def decision_function(self, X: Any, features: Any = None) -> np.ndarray:
        """Discriminant scores (n_samples x n_classes)."""
        return self._disc(self._model, self._test_matrix(X), self.threshold_, self.prior_)

    def _test_matrix(self, X: Any) -> np.ndarray:
        """Test counts on the training genes: all of them when the library sizes come
        from the whole transcriptome, else the selected ones."""
        if self._cols is not None:
            return prepare_predict(self, X, full=True)[1].to_numpy()
        return prepare_predict(self, X).to_numpy()

    def predict_proba(self, X: Any, features: Any = None) -> np.ndarray:
        return softmax_rows(self.decision_function(X))

    def predict(self, X: Any, features: Any = None) -> np.ndarray:
        return self.classes_[np.argmax(self.decision_function(X), axis=1)]

    def transform_test(self, X: Any) -> pd.DataFrame:
        """Test log-CPM against the training normalisation reference (MLSeq ``voomGSD``)."""
        df = prepare_predict(self, X)
        return pd.DataFrame(self._model.test_logcpm(self._test_matrix(X)), index=df.index,
                            columns=df.columns)
