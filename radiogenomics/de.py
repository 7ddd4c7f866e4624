r"""Differential expression between classes and DE-based gene selection.

- :func:`differential_expression` — edgeR ``exactTest`` (classic dispersions), edgeR
  ``glmFit`` + ``glmLRT`` (via :mod:`radiogenomics._de_glm`) or the pydeseq2 Wald test,
  returned as one table sorted like ``topTags``.
- :class:`DEGeneSelector` — scikit-learn transformer that keeps the top-*k* DE genes of the
  data it is fitted on (training split only, inside a ``Pipeline``).
"""

from __future__ import annotations

import hashlib
import logging
import math
import threading
from collections import OrderedDict
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import numpy as np
import pandas as pd
from scipy import special
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.utils.validation import check_is_fitted

from ._edger.stats import bh_adjust
from ._validation import align, as_count_frame, as_labels

logger = logging.getLogger(__name__)

__all__ = ["differential_expression", "DEGeneSelector", "exact_test_double_tail", "bh_adjust"]

_METHODS = ("exact", "lrt", "deseq2")


def exact_test_double_tail(y1: np.ndarray, y2: np.ndarray, dispersion: Any,
                           big_count: int = 900) -> np.ndarray:
    r"""edgeR ``exactTestDoubleTail``: exact NB test of equal means of two groups.

    Parameters
    ----------
    y1, y2 : ndarray (genes x n1), (genes x n2)
        (Pseudo-)counts of the two groups at a common library size.
    dispersion : float or ndarray (genes)
    big_count : int
        Genes with both group sums above it use edgeR's beta approximation.

    Returns
    -------
    ndarray of p-values.

    Notes
    -----
    With :math:`s_k = \mathrm{round}(\sum_i y_{ki})`, :math:`s = s_1 + s_2`,
    :math:`\mu_k = n_k s/(n_1+n_2)`, sizes :math:`n_k/\phi`, the p-value is twice the
    smaller tail of the conditional distribution of :math:`S_1 \mid S_1 + S_2 = s`:

    .. math:: p = \min\Bigl(1, \frac{2\sum_{x \in T} f_{NB}(x; n_1/\phi, \mu_1)
              f_{NB}(s - x; n_2/\phi, \mu_2)}{f_{NB}(s; (n_1+n_2)/\phi, s)}\Bigr),

    :math:`T = \{0..s_1\}` if :math:`s_1 < \mu_1`, :math:`\{s_1..s\}` if
    :math:`s_1 > \mu_1` (else *p* = 1). For big counts
    :math:`p = 2 I_{(s_1 \pm 0.5)/s}(\alpha_1, \alpha_2)` (lower or upper tail) with
    :math:`\alpha_k = n_k \bar\mu/(1+\phi\bar\mu)`. Tails are summed vectorised over a
    ragged (gene, x) index. A zero dispersion uses Poisson probabilities in the same
    double-tail rule (edgeR calls ``binomTest`` there).
    """
    y1 = np.asarray(y1, dtype=float)
    y2 = np.asarray(y2, dtype=float)
    G, n1 = y1.shape
    n2 = y2.shape[1]
    disp = np.broadcast_to(np.asarray(dispersion, dtype=float), (G,)).copy()
    t1 = y1.sum(axis=1)
    t2 = y2.sum(axis=1)
    s1 = np.round(t1)
    s2 = np.round(t2)
    s = s1 + s2
    mu = s / (n1 + n2)
    mu1 = n1 * mu
    pvals = np.ones(G)
    pois = disp <= 0
    big = (s1 > big_count) & (s2 > big_count)
    if big.any():
        yy = t1[big] + t2[big]
        mm = yy / (n1 + n2)
        a1 = n1 * mm / (1.0 + np.where(pois[big], 0.0, disp[big]) * mm)
        a2 = n2 / n1 * a1
        med = special.betaincinv(a1, a2, 0.5)
        pb = np.ones(big.sum())
        left = (t1[big] + 0.5) / yy < med
        right = (t1[big] - 0.5) / yy > med
        pb[left] = 2.0 * special.betainc(a1[left], a2[left], (t1[big][left] + 0.5) / yy[left])
        pb[right] = 2.0 * special.betaincc(a1[right], a2[right],
                                           (t1[big][right] - 0.5) / yy[right])
        pvals[big] = pb
    from ._edger.classic import exact_tails

    with np.errstate(divide="ignore"):
        size_unit = np.where(pois, np.inf, 1.0 / np.where(pois, 1.0, disp))
    for side in ("left", "right"):
        sel = (s1 < mu1) if side == "left" else (s1 > mu1)
        idx = np.flatnonzero(sel & ~big)
        if idx.size:
            pvals[idx] = exact_tails(s1, s, float(n1), float(n2), size_unit, side == "left", idx)
    return np.minimum(pvals, 1.0)


def _exact_test(Y: np.ndarray, codes: np.ndarray, lib: np.ndarray, disp: np.ndarray,
                prior_count: float = 0.125) -> tuple[np.ndarray, np.ndarray]:
    r"""edgeR ``exactTest(pair=1:2)`` on genes x samples ``Y`` with effective library sizes
    ``lib``; returns (logFC, p-value).

    logFC :math:`= (\hat\beta_2 - \hat\beta_1)/\log 2` from one-group NB fits to
    :math:`y + p_i` with offsets :math:`\log(N_i + 2p_i)`, :math:`p_i = 0.125 N_i/\bar N`;
    the counts are mapped to the geometric-mean library size under the null
    (``q2qnbinom`` with the all-sample one-group fit) and tested with
    :func:`exact_test_double_tail`.
    """
    from ._edger.qcml import _fit_one_group, _q2qnbinom

    G = Y.shape[0]
    j1 = codes == 0
    j2 = codes == 1
    offset = np.log(lib)
    lib_avg = math.exp(offset.mean())
    prior = prior_count * lib / lib.mean()
    off_aug = np.log(lib + 2.0 * prior)
    Y = np.asarray(Y, dtype=float)
    ab1 = _fit_one_group(Y[:, j1] + prior[j1], off_aug[j1], disp)
    ab2 = _fit_one_group(Y[:, j2] + prior[j2], off_aug[j2], disp)
    logfc = (ab2 - ab1) / math.log(2.0)
    e = np.exp(_fit_one_group(Y, offset, disp))
    pseudo = [_q2qnbinom(Y[:, j], e, lib[j], lib_avg, disp) for j in (j1, j2)]
    p = exact_test_double_tail(pseudo[0], pseudo[1], disp)
    assert p.shape == (G,)
    return logfc, p


def _as_dispersion(dispersion: Any, genes: pd.Index) -> tuple[np.ndarray, np.ndarray | None]:
    """Per-gene dispersions (and AveLogCPM if known) from a float, array, Series or
    DispersionResult, aligned to ``genes``."""
    alc = None
    if hasattr(dispersion, "tagwise"):
        if dispersion.ave_log_cpm is not None:
            alc = dispersion.ave_log_cpm.reindex(genes).to_numpy()
            if np.isnan(alc).any():
                alc = None
        dispersion = dispersion.tagwise
    if isinstance(dispersion, pd.Series):
        missing = genes.difference(dispersion.index)
        if len(missing):
            raise ValueError(f"dispersion has no value for genes: {list(missing[:8])}")
        d = dispersion.loc[genes].to_numpy(dtype=float)
    else:
        d = np.broadcast_to(np.asarray(dispersion, dtype=float), (len(genes),)).copy() \
            if np.ndim(dispersion) == 0 or np.size(dispersion) == len(genes) else None
        if d is None:
            raise ValueError(
                f"dispersion must be a float or hold one value per gene ({len(genes)})"
            )
    if not np.all(np.isfinite(d)) or np.any(d < 0):
        raise ValueError("dispersion must be finite and non-negative")
    return d, alc


def _deseq2(df: pd.DataFrame, y: pd.Series, levels: list[Any]) -> pd.DataFrame:
    from pydeseq2.dds import DeseqDataSet
    from pydeseq2.default_inference import DefaultInference
    from pydeseq2.ds import DeseqStats

    if len(levels) != 2:
        raise ValueError("method='deseq2' compares two classes; y has "
                         f"{len(levels)}: {levels}")
    inference = DefaultInference(n_cpus=1)
    lab = {lev: f"c{i}" for i, lev in enumerate(levels)}
    meta = pd.DataFrame({"condition": y.map(lab).astype(str)}, index=df.index.astype(str))
    cnt = df.copy()
    cnt.index = cnt.index.astype(str)
    genes = cnt.columns
    cnt.columns = [f"g{i}" for i in range(cnt.shape[1])]
    dds = DeseqDataSet(counts=cnt.astype(int), metadata=meta, design="~condition",
                       quiet=True, inference=inference)
    dds.deseq2()
    st = DeseqStats(dds, contrast=["condition", "c1", "c0"], quiet=True, inference=inference)
    st.summary()
    res = st.results_df.reindex(cnt.columns)
    out = pd.DataFrame({
        "logFC": res["log2FoldChange"].to_numpy(),
        "pvalue": res["pvalue"].to_numpy(),
        "baseMean": res["baseMean"].to_numpy(),
        "lfcSE": res["lfcSE"].to_numpy(),
        "stat": res["stat"].to_numpy(),
    }, index=genes)
    return out


def differential_expression(
    counts: Any,
    y: Any,
    method: str = "exact",
    dispersion: Any = None,
    *,
    normalization: str = "tmm",
) -> pd.DataFrame:
    r"""Differential expression of every gene between the classes of ``y``.

    Parameters
    ----------
    counts : DataFrame or AnnData, samples x genes
        Raw integer counts.
    y : Series or array
        Class labels (aligned by sample id). Levels are sorted; logFC is
        ``log2(level 2 / level 1)``.
    method : {"exact", "lrt", "deseq2"}
        ``"exact"``: edgeR ``exactTest`` after ``calcNormFactors`` (TMM),
        ``estimateCommonDisp`` and ``estimateTagwiseDisp`` (two classes).
        ``"lrt"``: edgeR ``glmFit`` + ``glmLRT`` with ``estimateDisp`` dispersions.
        ``"deseq2"``: pydeseq2 Wald test (``n_cpus=1``, no LFC shrinkage).
    dispersion : float, array, Series or DispersionResult, optional
        Dispersions to use instead of estimating them (``"exact"``, ``"lrt"``).
    normalization : {"tmm", "none"}
        Library sizes for ``"exact"``.

    Returns
    -------
    DataFrame indexed by gene, sorted by p-value (ties keep gene order, like ``topTags``)
        ``logFC`` (log2), ``logCPM`` (edgeR AveLogCPM), ``pvalue``, ``padj``
        (Benjamini-Hochberg), plus method-specific columns. Genes with zero counts in
        every sample are left out (their number is logged).

    Notes
    -----
    ``"exact"`` reproduces edgeR's pipeline: the pseudo-counts are
    :math:`z_{gi} = q2q_{NB}(y_{gi};\ \hat\lambda_g N_i \to \hat\lambda_g N^*)` at the
    tagwise dispersion, and the p-value is the doubled smaller tail of
    :math:`\sum_{i\in 1} z_{gi}` given :math:`\sum_i z_{gi}` (see
    :func:`exact_test_double_tail`).

    Examples
    --------
    >>> from radiogenomics.datasets import load_cervical
    >>> counts, y = load_cervical()
    >>> tab = differential_expression(counts, y)
    >>> list(tab.columns[:4])
    ['logFC', 'logCPM', 'pvalue', 'padj']
    """
    if method not in _METHODS:
        raise ValueError(f"method must be one of {_METHODS}; got {method!r}")
    df = as_count_frame(counts)
    lab = as_labels(y, min_per_class=1)
    df, lab, _ = align(df, lab)
    assert lab is not None
    if dispersion is not None:  # user-given dispersions: no cache
        return _differential_expression(df, lab, method, dispersion, normalization)
    if getattr(_CACHE_STATE, "off", 0):  # inside uncached(): compute, keep nothing
        return _differential_expression(df, lab, method, None, normalization)
    key = _cache_key(df, lab, method, normalization)
    hit = _DE_CACHE.get(key)
    if hit is None:
        hit = _differential_expression(df, lab, method, None, normalization)
        _DE_CACHE[key] = hit
        while len(_DE_CACHE) > _DE_CACHE_SIZE:
            _DE_CACHE.pop(next(iter(_DE_CACHE)))
    else:
        _DE_CACHE.move_to_end(key)
        logger.debug("differential_expression: cached table reused")
    return hit.copy()


#: the last DE tables, keyed by a digest of their input (see :func:`_cache_key`): the
#: outer training splits of a benchmark target (its main run, then the gene sweep of the
#: NB model on the same splits); inner tuning folds keep gene lists of their own
#: (:mod:`radiogenomics.classifiers._inner_cv`) and compute under :func:`uncached`
_DE_CACHE: OrderedDict[str, pd.DataFrame] = OrderedDict()
_DE_CACHE_SIZE = 128
_CACHE_STATE = threading.local()


@contextmanager
def uncached() -> Iterator[None]:
    """Within this block :func:`differential_expression` neither reads nor fills the cache."""
    _CACHE_STATE.off = getattr(_CACHE_STATE, "off", 0) + 1
    try:
        yield
    finally:
        _CACHE_STATE.off -= 1


def _cache_key(df: pd.DataFrame, lab: pd.Series, method: str, normalization: str) -> str:
    """Digest of everything a DE table depends on: the counts (values, sample ids, gene
    ids), the labels, the method and the normalisation.

    Several methods of a benchmark select their genes on the same training split; with this
    key they share one DE table (the same numbers, computed once) and can never be handed
    a table computed on other samples."""
    h = hashlib.blake2b(digest_size=20)
    h.update(np.ascontiguousarray(df.to_numpy()).tobytes())
    h.update(repr(df.shape).encode())
    for part in (df.index, df.columns, lab.astype(str)):
        h.update("\x1f".join(map(str, part)).encode())
    # the labels' type and level order decide the sign of logFC: {2, 10} and {"10", "2"}
    # print alike but sort differently
    levels = sorted(pd.unique(lab))
    h.update(f"{lab.dtype}|{[type(v).__name__ for v in levels]}|{levels!r}".encode())
    h.update(f"{method}|{normalization}".encode())
    return h.hexdigest()


def _differential_expression(df: pd.DataFrame, lab: pd.Series, method: str, dispersion: Any,
                             normalization: str) -> pd.DataFrame:
    """:func:`differential_expression` on validated, aligned inputs (no cache)."""
    levels = sorted(pd.unique(lab))
    zero = df.to_numpy().sum(axis=0) == 0

    if method == "lrt":
        from ._de_glm import glm_lrt

        tab = glm_lrt(df, lab) if dispersion is None else glm_lrt(df, lab, dispersion)
        tab = tab.loc[~tab.index.isin(df.columns[zero])]
    elif method == "deseq2":
        tab = _deseq2(df.loc[:, ~zero], lab, levels)
        from ._edger.fit import ave_log_cpm

        sub = df.loc[:, ~zero].to_numpy().T
        tab.insert(1, "logCPM", ave_log_cpm(sub, sub.sum(axis=0), dispersion=0.05))
        tab.insert(3, "padj", bh_adjust(tab["pvalue"].to_numpy()))
    else:
        if len(levels) != 2:
            raise ValueError(
                f"method='exact' compares two classes; y has {len(levels)}: {levels}. "
                "Use method='lrt' for more classes"
            )
        from ._edger.fit import ave_log_cpm
        from .dispersion import _lib_sizes, estimate_dispersion

        Y = np.ascontiguousarray(df.to_numpy().T)
        if dispersion is None:
            dispersion = estimate_dispersion(df, groups=lab, normalization=normalization)
        known = getattr(dispersion, "lib_size", None)
        if known is not None and known.index.equals(df.index):
            lib = known.to_numpy()  # the library sizes the dispersions were estimated with
        else:
            lib = _lib_sizes(df, normalization)
        if hasattr(dispersion, "tagwise") and dispersion.tagwise.index.equals(df.columns) \
                and dispersion.ave_log_cpm is not None:
            disp = dispersion.tagwise.to_numpy()
            alc = dispersion.ave_log_cpm.to_numpy()
        else:
            disp, alc = _as_dispersion(dispersion, df.columns)
            if alc is None:
                alc = ave_log_cpm(Y, lib, dispersion=float(np.mean(disp))
                                  if np.ndim(dispersion) == 0 else 0.05)
        codes = pd.Categorical(lab, categories=levels).codes.astype(int)
        logfc, p = _exact_test(Y, codes, lib, disp)
        logfc[zero] = 0.0
        tab = pd.DataFrame({"logFC": logfc, "logCPM": alc, "pvalue": p}, index=df.columns)
        tab = tab.loc[~zero]
        tab["padj"] = bh_adjust(tab["pvalue"].to_numpy())
        tab["dispersion"] = disp[~zero]
    if zero.any():
        logger.info("differential_expression: left out %d all-zero genes of %d",
                    int(zero.sum()), len(zero))
    order = np.argsort(tab["pvalue"].to_numpy(), kind="mergesort")
    tab = tab.iloc[order]
    tab.index.name = df.columns.name or "gene"
    return tab


class DEGeneSelector(TransformerMixin, BaseEstimator):
    """Keep the top ``n_genes`` differentially expressed genes (scikit-learn transformer).

    Parameters
    ----------
    n_genes : int
        Number of genes kept (the smallest p-values of :func:`differential_expression`).
    method : {"exact", "lrt", "deseq2", "joint"}
        DE test; ``"joint"`` is the likelihood-ratio test of class intercepts and class x
        imaging slopes against imaging only (:func:`radiogenomics._de_joint.joint_lrt`) and
        needs ``features`` in ``fit``.
    quantile : float, optional
        If given, :func:`radiogenomics.counts.quantile_filter` with this ``q`` is applied
        before the test (on the fitting data).

    Attributes
    ----------
    genes_ : Index
        Selected genes, most significant first.
    table_ : DataFrame
        The DE table of the fitting data.
    n_features_in_ : int
    feature_names_in_ : ndarray of str
        Columns seen in ``fit`` (positions are used for ndarray input).

    Examples
    --------
    >>> from radiogenomics.datasets import load_cervical
    >>> counts, y = load_cervical()
    >>> sel = DEGeneSelector(n_genes=5).fit(counts, y)
    >>> sel.transform(counts).shape
    (58, 5)
    """

    def __init__(self, n_genes: int = 10, method: str = "exact", quantile: float | None = None):
        self.n_genes = n_genes
        self.method = method
        self.quantile = quantile

    def fit(self, X: Any, y: Any, features: Any = None) -> DEGeneSelector:
        """Run the DE test on ``X`` (counts, samples x genes) against labels ``y``.

        ``features`` (samples x imaging features, rows as ``X``) are needed by
        ``method="joint"`` (:func:`radiogenomics._de_joint.joint_lrt`) and ignored otherwise.
        """
        if not isinstance(self.n_genes, (int, np.integer)) or self.n_genes < 1:
            raise ValueError(f"n_genes must be a positive integer; got {self.n_genes!r}")
        df = as_count_frame(X, name="X")
        if not isinstance(y, pd.Series):
            y = pd.Series(np.asarray(y), index=df.index)
        self.feature_names_in_ = np.asarray(df.columns, dtype=object)
        self.n_features_in_ = df.shape[1]
        sub = df
        if self.quantile is not None:
            from .counts import quantile_filter

            sub = quantile_filter(df, q=self.quantile)
        if self.method == "joint":
            from ._de_joint import joint_lrt

            if features is None:
                raise ValueError("method='joint' needs the training imaging features: "
                                 "fit(X, y, features=...)")
            F = features.to_numpy(dtype=float) if isinstance(features, pd.DataFrame) \
                else np.asarray(features, dtype=float)
            if F.ndim != 2 or F.shape[0] != len(df) or not np.isfinite(F).all():
                raise ValueError(f"features must be a finite (samples x features) array with "
                                 f"{len(df)} rows; got shape {F.shape}")
            lab = as_labels(y, min_per_class=1)
            sub, lab, _ = align(sub, lab)
            self.table_ = joint_lrt(sub, lab, F)
        else:
            self.table_ = differential_expression(sub, y, method=self.method)
        k = int(self.n_genes)
        if k > len(self.table_):
            logger.warning("n_genes=%d but only %d genes are testable; keeping all", k,
                           len(self.table_))
        self.genes_ = pd.Index(self.table_.index[:k])
        self._positions = df.columns.get_indexer(self.genes_)
        return self

    def transform(self, X: Any) -> Any:
        """``X[genes_]`` (DataFrame in, DataFrame out; ndarray in, ndarray out)."""
        check_is_fitted(self, "genes_")
        if isinstance(X, pd.DataFrame):
            missing = self.genes_.difference(X.columns)
            if len(missing):
                raise ValueError(f"X lacks selected genes: {list(missing[:8])}")
            return X.loc[:, self.genes_]
        if hasattr(X, "obs_names") and hasattr(X, "X"):
            return X[:, list(self.genes_)]
        arr = np.asarray(X)
        if arr.ndim != 2 or arr.shape[1] != self.n_features_in_:
            raise ValueError(
                f"X has {arr.shape[-1] if arr.ndim else 0} features, expected "
                f"{self.n_features_in_}"
            )
        return arr[:, self._positions]

    def get_feature_names_out(self, input_features: Any = None) -> np.ndarray:
        """Names of the selected genes."""
        check_is_fitted(self, "genes_")
        return np.asarray(self.genes_, dtype=object)
