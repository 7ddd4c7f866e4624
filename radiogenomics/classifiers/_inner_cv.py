r"""Nested tuning: inner cross-validation folds that select their own genes.

A classifier that selects its top genes inside ``fit`` and tunes a parameter (a shrinkage
threshold, ``rho``, ``mtry``, a calibration) by an inner cross-validation must select the
genes again inside every *inner* training fold: genes chosen on the whole outer training
split have seen the inner validation rows' labels, so every candidate looks better than it
is (on pure noise VoomNSC's best inner-CV error was 0.15 instead of about 0.5) and tuning
picks too little shrinkage.

- :func:`inner_splits` — the inner folds (stratified, optionally repeated), the same for
  every method given the same ``random_state``, so that methods fitted on one outer split
  share their inner gene selections.
- :func:`inner_folds` — those folds with the quantile filter and DE selection re-run on
  each inner training fold (:class:`InnerFold`); selections are memoised by content, so a
  second method on the same folds pays nothing.
- :func:`inner_cv_predict` — given a callable that builds an (unfitted) estimator, fit it
  on every inner training fold (the estimator selects its genes inside ``fit``) and return
  its out-of-fold predictions, e.g. for calibrating probabilities by inner CV.
"""

from __future__ import annotations

import hashlib
import logging
from collections import OrderedDict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from sklearn.model_selection import RepeatedStratifiedKFold, StratifiedKFold

from ..de import uncached
from ._base import select_genes

logger = logging.getLogger(__name__)

__all__ = ["InnerFold", "inner_splits", "inner_folds", "inner_cv_predict", "largest_best"]


@dataclass(frozen=True)
class InnerFold:
    """One inner fold of an outer training split.

    Attributes
    ----------
    train, test : ndarray of int
        Row positions (in the outer training split) of the inner training and validation
        samples.
    repeat : int
        Which repetition of the k-fold partition the fold belongs to.
    genes : Index
        Genes selected on the ``train`` rows only (quantile filter + DE test).
    cols : ndarray of int
        Positions of ``genes`` among the columns of the counts given to
        :func:`inner_folds`.
    """

    train: np.ndarray
    test: np.ndarray
    repeat: int
    genes: pd.Index
    cols: np.ndarray


def inner_splits(y: Any, n_folds: int = 5, n_repeats: int = 1,
                 random_state: Any = None) -> list[tuple[np.ndarray, np.ndarray]]:
    """Stratified inner folds ``(train, test)`` of the outer training labels ``y``.

    ``min(n_folds, smallest class)`` folds; ``n_repeats == 1``:
    ``StratifiedKFold(k, shuffle=True, random_state)`` (what ``GridSearchCV`` gets with
    ``cv=StratifiedKFold(...)``), else ``RepeatedStratifiedKFold(k, n_repeats,
    random_state)``. The same ``y`` and ``random_state`` give the same folds to every method.
    """
    y = np.asarray(y)
    _, counts = np.unique(y, return_counts=True)
    k = int(min(int(n_folds), counts.min()))
    if k < 2:
        raise ValueError(f"inner cross-validation needs at least 2 samples per class; the "
                         f"smallest class has {int(counts.min())}")
    if int(n_repeats) < 1:
        raise ValueError(f"n_repeats must be at least 1; got {n_repeats!r}")
    if int(n_repeats) == 1:
        cv: Any = StratifiedKFold(k, shuffle=True, random_state=random_state)
    else:
        cv = RepeatedStratifiedKFold(n_splits=k, n_repeats=int(n_repeats),
                                     random_state=random_state)
    return [(tr, te) for tr, te in cv.split(np.zeros((len(y), 1)), y)]


#: memo of inner-fold gene selections: content digest -> selected gene names
_SELECTIONS: OrderedDict[str, pd.Index] = OrderedDict()
_SELECTIONS_SIZE = 256


def _digest(counts: pd.DataFrame, y: np.ndarray, rows: np.ndarray, settings: str) -> str:
    h = hashlib.blake2b(digest_size=20)
    sub = counts.iloc[rows]
    h.update(np.ascontiguousarray(sub.to_numpy()).tobytes())
    h.update(repr(sub.shape).encode())
    for part in (sub.index, counts.columns, np.asarray(y)[rows].astype(str)):
        h.update("\x1f".join(map(str, part)).encode())
    h.update(settings.encode())
    return h.hexdigest()


def inner_folds(counts: pd.DataFrame, y: Any, splits: Sequence[tuple[np.ndarray, np.ndarray]],
                *, n_genes: int | None, de_method: str = "exact",
                quantile: float | None = 0.25) -> list[InnerFold]:
    """The inner folds with their own genes: for each ``(train, test)`` of ``splits``, the
    quantile filter and the DE test (:func:`radiogenomics.classifiers._base.select_genes`)
    run on ``counts.iloc[train]`` and ``y[train]`` only.

    ``counts`` are all genes of the outer training split (samples x genes); ``n_genes=None``
    keeps every gene. Selections are memoised by content (counts, sample and gene ids,
    labels, settings), so methods sharing the folds share the selections.
    """
    y = np.asarray(y)
    settings = f"{n_genes}|{de_method}|{quantile}"
    out = []
    per_rep = _folds_per_repeat(splits, len(y))
    for i, (tr, te) in enumerate(splits):
        tr = np.asarray(tr)
        te = np.asarray(te)
        if n_genes is None:
            genes = counts.columns
        else:
            key = _digest(counts, y, tr, settings)
            genes = _SELECTIONS.get(key)
            if genes is None:
                with uncached():  # inner tables would evict the outer splits' tables
                    genes = select_genes(counts.iloc[tr],
                                         pd.Series(y[tr], index=counts.index[tr]),
                                         n_genes, de_method=de_method, quantile=quantile)
                _SELECTIONS[key] = genes
                while len(_SELECTIONS) > _SELECTIONS_SIZE:
                    _SELECTIONS.pop(next(iter(_SELECTIONS)))
            else:
                _SELECTIONS.move_to_end(key)
        out.append(InnerFold(tr, te, i // per_rep, pd.Index(genes),
                             counts.columns.get_indexer(genes)))
    return out


def inner_cv_predict(build: Callable[[], Any], X: Any, y: Any, *, features: Any = None,
                     n_folds: int = 5, n_repeats: int = 1, random_state: Any = None,
                     method: str = "predict_proba") -> np.ndarray:
    """Out-of-fold predictions of an estimator whose ``fit`` selects its own genes.

    For every inner fold (:func:`inner_splits`) ``build()`` makes a fresh, unfitted
    estimator, which is fitted on the inner training rows only (its gene selection and
    any preprocessing included: nothing is learned from the inner validation rows) and
    evaluated with ``method`` on the validation rows.

    Parameters
    ----------
    build : callable returning an estimator
        e.g. ``lambda: clone(est).set_params(calibrate=None)`` (an estimator must not
        run this same inner CV inside its own ``fit``, or it recurses).
    X : DataFrame, samples x genes
        Counts of the outer training split (all genes).
    y : array-like
        Its labels.
    features : DataFrame, optional
        Passed as ``features=`` to ``fit`` and ``method`` (rows of the same samples).
    n_folds, n_repeats, random_state : the folds (:func:`inner_splits`).
    method : str
        ``"predict_proba"``, ``"decision_function"``, ``"predict_log_proba"`` or
        ``"predict"``.

    Returns
    -------
    ndarray, shape (n_repeats, n_samples, n_outputs)
        Row ``i`` of repetition ``r`` holds the prediction for sample ``i`` by the model
        fitted without it (``n_outputs`` is 1 for ``"predict"``).
    """
    Xf = X if isinstance(X, pd.DataFrame) else pd.DataFrame(np.asarray(X))
    yy = np.asarray(y)
    splits = inner_splits(yy, n_folds, n_repeats, random_state)
    per = _folds_per_repeat(splits, len(yy))
    n_rep = max(1, len(splits) // per)
    out: np.ndarray | None = None
    filled = np.zeros((n_rep, len(yy)), dtype=bool)
    for i, (tr, te) in enumerate(splits):
        r = i // per
        est = build()
        kw_tr = {} if features is None else {"features": features.iloc[tr]}
        kw_te = {} if features is None else {"features": features.iloc[te]}
        est.fit(Xf.iloc[tr], pd.Series(yy[tr], index=Xf.index[tr]), **kw_tr)
        pred = np.asarray(getattr(est, method)(Xf.iloc[te], **kw_te))
        if pred.ndim == 1:
            pred = pred[:, None]
        if out is None:
            out = np.full((n_rep, len(yy), pred.shape[1]), np.nan,
                          dtype=float if pred.dtype.kind in "fiu" else object)
        out[r, te] = pred
        filled[r, te] = True
    assert out is not None and filled.all()
    return out


def largest_best(grid: np.ndarray, errors: np.ndarray) -> float:
    """The largest candidate of ``grid`` with the minimal inner-CV error (the rule of
    ``pamr.cv``, PoiClaClu's ``Classify.cv`` and MLSeq: among ties, most shrinkage).

    Examples
    --------
    >>> largest_best(np.array([0.0, 0.5, 1.0, 1.5]), np.array([0.3, 0.1, 0.1, 0.2]))
    1.0
    """
    errors = np.asarray(errors)
    return float(np.asarray(grid)[np.nonzero(errors == errors.min())[0].max()])


def _folds_per_repeat(splits: Sequence[tuple[np.ndarray, np.ndarray]], n: int) -> int:
    """Folds per repetition: the test rows of one partition cover all ``n`` samples."""
    seen = 0
    for j, (_, te) in enumerate(splits):
        seen += len(te)
        if seen >= n:
            return j + 1
    return len(splits)
