r"""Shared helpers of the baseline classifiers (NBLDA, PLDA, NSC, VoomNSC, RF).

- :class:`CountSizeModel` — PoiClaClu / NBLDA-style per-sample size factors
  :math:`s_i` (summing to one over the training samples) and the expected counts
  :math:`\hat n_{ig} = s_i \sum_{i'} x_{i'g}`; test samples are normalised against the
  *training* reference only.
- :func:`select_genes` — the top ``n_genes`` of :class:`radiogenomics.de.DEGeneSelector`
  (the NB model's selector), chosen inside ``fit``.
- :func:`prepare_fit` / :func:`prepare_predict` — validated counts, labels and genes.
"""

from __future__ import annotations

import logging
from typing import Any

import numpy as np
import pandas as pd
from sklearn.utils.validation import check_is_fitted

from ._validation import align, as_count_frame, as_labels
from .counts import SizeFactors

logger = logging.getLogger(__name__)

NORMALIZATIONS = ("mle", "deseq", "quantile", "tmm")
#: PoiClaClu's names -> :data:`radiogenomics.counts.METHODS` (convention ``"poiclaclu"``).
_ALIASES = {"library": "library", "mle": "library", "deseq": "rle", "rle": "rle",
            "quantile": "quantile", "tmm": "tmm"}


def _canon(method: str) -> str:
    """PoiClaClu name of ``method`` (``"library"`` -> ``"mle"``, ``"rle"`` -> ``"deseq"``)."""
    key = str(method).lower()
    if key not in _ALIASES:
        raise ValueError(
            f"normalization must be one of {NORMALIZATIONS} (or 'library'); got {method!r}"
        )
    return {"library": "mle", "rle": "deseq"}.get(key, key)


class CountSizeModel:
    r"""PoiClaClu ``NullModel`` / ``NullModelTest`` (NBLDA, PLDA, NSC): size factors
    :math:`s_i` of :class:`radiogenomics.counts.SizeFactors` with ``convention="poiclaclu"``
    (``"mle"`` = ``"library"``, ``"deseq"`` = ``"rle"``, ``"quantile"``, ``"tmm"``) and the
    null-model expected counts :math:`\hat n_{ig} = s_i\, x_{\cdot g}` (column totals of
    the training counts). A thin caller of ``SizeFactors``; see its docstring for formulas.
    """

    def __init__(self, method: str = "mle") -> None:
        self.method = method

    def fit(self, x: np.ndarray, lib: np.ndarray | None = None) -> CountSizeModel:
        r"""Size factors of the training samples and column totals :math:`x_{\cdot g}`.

        ``lib`` (samples x all genes, same samples as ``x``): compute the size factors
        from it instead of from ``x`` — the whole transcriptome when ``x`` holds only
        selected genes. The column totals always come from ``x``. Test samples then need
        the same columns as ``lib`` in :meth:`test_sizes` / :meth:`test_expected`.
        """
        self.colsum_ = np.asarray(x, dtype=float).sum(axis=0)
        x = np.asarray(x if lib is None else lib, dtype=float)
        self.model_ = SizeFactors(_ALIASES[_canon(self.method)], "poiclaclu").fit_array(x)
        self.sizes_ = self.model_.sizes_
        return self

    def expected(self) -> np.ndarray:
        r"""Training :math:`\hat n_{ig} = s_i x_{\cdot g}`."""
        return np.outer(self.sizes_, self.colsum_)

    def test_sizes(self, xte: np.ndarray) -> np.ndarray:
        return self.model_.transform_array(np.asarray(xte, dtype=float))

    def test_expected(self, xte: np.ndarray) -> np.ndarray:
        return np.outer(self.test_sizes(xte), self.colsum_)


def select_genes(counts: pd.DataFrame, y: pd.Series, n_genes: int | None,
                 de_method: str = "exact", quantile: float | None = 0.25) -> pd.Index:
    """Genes used by a baseline: all (``n_genes=None``) or the top ``n_genes`` of
    ``radiogenomics.de.DEGeneSelector(n_genes, method=de_method, quantile=quantile)``
    fitted on these (training) samples only -- the selector of
    :class:`~radiogenomics.classifiers.NBRadiogenomicsClassifier` (quantile filter 0.25,
    then the edgeR exact test), so that with the same settings every method sees the
    same genes. ``quantile=None`` skips the filter (plain edgeR ``topTags``)."""
    if n_genes is None:
        return counts.columns.copy()
    if isinstance(n_genes, (bool, np.bool_)) or not isinstance(n_genes, (int, np.integer)) \
            or int(n_genes) < 1:
        raise ValueError(f"n_genes must be a positive integer or None; got {n_genes!r}")
    if n_genes >= counts.shape[1]:
        return counts.columns.copy()
    from .de import DEGeneSelector

    sel = DEGeneSelector(n_genes=int(n_genes), method=de_method, quantile=quantile)
    sel.fit(counts, y)
    return pd.Index(sel.genes_)


def prepare_fit(est: Any, X: Any, y: Any, *, integer: bool = True,
                select: bool = True, full: bool = False) -> tuple:
    """Validate ``X``/``y``, set ``classes_``, ``genes_``, ``n_features_in_`` on ``est``.

    Returns the counts restricted to the selected genes and the label array (and, with
    ``full=True``, the validated counts of all genes as a third item).
    """
    if full and getattr(est, "library", "all") not in ("all", "selected"):
        # checked before the (slow) gene selection; see library_counts
        raise ValueError(f"library must be 'all' or 'selected'; got {est.library!r}")
    df = as_count_frame(X, "counts", integer=integer)
    yy = as_labels(y)
    df, yy, _ = align(df, yy)
    est.n_features_in_ = df.shape[1]
    est.feature_names_in_ = np.asarray(df.columns, dtype=object)
    est.classes_ = np.array(sorted(pd.unique(yy)))
    genes = (select_genes(df, yy, getattr(est, "n_genes", None),
                          de_method=getattr(est, "de_method", "exact"),
                          quantile=getattr(est, "quantile", 0.25))
             if select else df.columns)
    est.genes_ = pd.Index(genes)
    if full:
        return df.loc[:, est.genes_], yy.to_numpy(), df
    return df.loc[:, est.genes_], yy.to_numpy()


def library_counts(est: Any, selected: pd.DataFrame, full: pd.DataFrame) -> np.ndarray | None:
    """All-gene training counts to take library sizes / size factors from, or ``None``.

    ``est.library == "all"`` and ``n_genes`` selected a subset: the whole training
    transcriptome (a few strongly DE genes would otherwise dominate the library sizes and
    make one class look like larger libraries). ``"selected"``, or no subset: ``None``,
    i.e. the selected genes themselves (what R computes on a selected-gene matrix).
    """
    if getattr(est, "library", "all") == "all" and full.shape[1] > selected.shape[1]:
        return full.to_numpy()
    return None


def prepare_predict(est: Any, X: Any, *, integer: bool = True, full: bool = False) -> Any:
    """Validate new counts and return them on the training genes (by name).

    ``full=True``: return ``(selected, all)`` where ``all`` holds every gene seen in
    ``fit`` (for size factors computed on the whole transcriptome)."""
    check_is_fitted(est, "genes_")
    df = as_count_frame(X, "counts", integer=integer)
    if isinstance(X, (np.ndarray, list)) and df.shape[1] == est.n_features_in_:
        df.columns = pd.Index(est.feature_names_in_)
    needed = pd.Index(est.feature_names_in_) if full else est.genes_
    missing = needed.difference(df.columns)
    if len(missing):
        what = ("genes seen in fit (size factors use all of them; refit with "
                "library='selected' to need only the selected genes)" if full
                else "genes used by the fitted model")
        raise ValueError(f"counts lack {len(missing)} {what}: {list(missing[:8])}")
    if full:
        return df.loc[:, est.genes_], df.loc[:, needed]
    return df.loc[:, est.genes_]


def softmax_rows(d: np.ndarray) -> np.ndarray:
    """Row-wise softmax, computed stably as :math:`e^{d-\\max d}/\\sum e^{d-\\max d}`."""
    e = np.exp(d - d.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)
