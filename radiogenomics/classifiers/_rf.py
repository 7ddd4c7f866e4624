r"""Random-forest baselines of the radiogenomics-NB paper: RF-genomics and RF-radiogenomics.

Both grow a random forest on :math:`\log_2(\mathrm{CPM}_{ig} + 1)`,
:math:`\mathrm{CPM}_{ig} = 10^6\,y_{ig}/L_i` with :math:`L_i` the sample's own library size
(the sum of all its genes, ``library="all"``, as the R reference computes ``cpm()`` before
``randomForest``), of the genes selected inside ``fit`` (the top ``n_genes`` of the edgeR
exact test on the training samples, the same selector as every other method);
:class:`RFRadiogenomics` appends the imaging features (imputed with training medians when
asked). ``max_features`` (the number of candidate variables per split, ``mtry`` in R's
randomForest) and optionally ``min_samples_leaf`` are tuned by an inner stratified
``cv``-fold cross-validation on the training samples only, as in the paper, in which every
inner training fold selects its own genes and imputation values (nested tuning,
:func:`~._inner_cv.inner_folds`); the forest is then refitted on all training samples with
the best values.

Everything data-dependent (gene selection, imputation values, tuning) is learned from the
training samples passed to ``fit``; nothing is learned at predict time.

Backends
--------
``backend="numba"`` (default) grows the forests with :func:`~._forest.fit_forest`, a compiled
re-implementation of scikit-learn's random forest (same bootstrap, CART/Gini growth,
feature draws, random streams, soft voting and impurity importances) that avoids the
~2.5 ms per tree of Python overhead scikit-learn spends on data this small; the inner CV is
run here with the same folds, scorer, grid order and tie rule as
:class:`~sklearn.model_selection.GridSearchCV`. With scikit-learn 1.9 the forests, and hence
``cv_results_``, ``best_params_``, probabilities and importances, are identical to
``backend="sklearn"`` (tested tree by tree in ``tests/radiogenomics/test_forest.py``, which
also checks statistical equivalence with independent seeds). ``backend="sklearn"`` uses
:class:`~sklearn.ensemble.RandomForestClassifier` through ``GridSearchCV``.
"""

from __future__ import annotations

import copy
import logging
from numbers import Integral, Real
from typing import Any

import numpy as np
import pandas as pd
from scipy.stats import rankdata
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.ensemble import RandomForestClassifier
from sklearn.metrics import get_scorer
from sklearn.model_selection import GridSearchCV, ParameterGrid, StratifiedKFold
from sklearn.utils._param_validation import Interval, StrOptions
from sklearn.utils.validation import check_is_fitted

from .._validation import _show
from ._base import CountClassifier, CountData, ImagingClassifier, select_genes
from ._forest import FittedForest, fit_forest
from ._imaging import ImagingFeatures
from ._inner_cv import inner_folds
from ._params import COMMON_CONSTRAINTS, COMMON_HINTS

logger = logging.getLogger(__name__)

__all__ = ["RFGenomics", "RFRadiogenomics", "mtry_grid"]


def mtry_grid(p: int) -> list[int]:
    r"""Candidate ``max_features`` values for ``p`` predictors.

    The sorted unique values of :math:`\{1, \lfloor\sqrt p\rfloor, \lfloor p/3\rfloor,
    \lfloor p/2\rfloor, p\}` that are at least 1: the randomForest default for
    classification (:math:`\sqrt p`), its regression default (:math:`p/3`), and bagging
    (:math:`p`).

    Examples
    --------
    >>> mtry_grid(10)
    [1, 3, 5, 10]
    >>> mtry_grid(1)
    [1]
    """
    p = int(p)
    if p < 1:
        raise ValueError(f"need at least one predictor; got p={p}")
    cand = {1, int(np.floor(np.sqrt(p))), p // 3, p // 2, p}
    return sorted(c for c in cand if c >= 1)


class _ForestView(ClassifierMixin, BaseEstimator):
    """A fitted :class:`~._forest.FittedForest` seen as a scikit-learn classifier, so that
    any scorer (``get_scorer(name)``) evaluates it as GridSearchCV would."""

    def __init__(self, forest: FittedForest | None = None) -> None:
        self.forest = forest

    @property
    def classes_(self) -> np.ndarray:
        return self.forest.classes_

    def predict_proba(self, X: Any) -> np.ndarray:
        return self.forest.predict_proba(X)

    def predict(self, X: Any) -> np.ndarray:
        return self.forest.predict(X)


def _fast_score(scoring: Any, forest: FittedForest, Z: np.ndarray,
                y: np.ndarray) -> float | None:
    """``accuracy`` / ``balanced_accuracy`` of ``forest`` on ``(Z, y)`` computed directly
    (the same floating-point operations as :func:`sklearn.metrics.accuracy_score` and
    :func:`~sklearn.metrics.balanced_accuracy_score`, without their ~1 ms of input
    checks); ``None`` for any other scorer."""
    if scoring == "accuracy":
        return float(np.mean(forest.predict(Z) == y))
    if scoring == "balanced_accuracy":
        pred = forest.predict(Z)
        return float(np.mean([np.mean(pred[y == c] == c) for c in np.unique(y)]))
    return None


def _copy_state(random_state: Any) -> Any:
    """What a clone of an estimator holding ``random_state`` holds (a RandomState is
    deep-copied, an int or None kept)."""
    if isinstance(random_state, np.random.RandomState):
        return copy.deepcopy(random_state)
    return random_state


class RFGenomics(CountClassifier):
    r"""Random forest on :math:`\log_2(\mathrm{CPM}+1)` of the top DE genes (RF-genomics).

    Parameters
    ----------
    n_genes : int or None, default 10
        Top genes of the edgeR exact test on the training samples (``None``: all genes).
    n_estimators : int, default 500
        Trees in the final forest (randomForest's ``ntree`` default).
    max_features : int, float, "sqrt", "log2" or None, default None
        ``None``: tuned over :func:`mtry_grid` by inner CV; anything else is used as is.
    min_samples_leaf : int or sequence of int, default 1
        A sequence is tuned jointly with ``max_features`` by inner CV.
    cv : int, default 10
        Inner stratified folds (fewer when the smallest class has fewer samples).
    tune_n_estimators : int, default 100
        Trees per forest inside the inner CV (tuning compares settings, so fewer trees
        suffice; the final forest has ``n_estimators``).
    scoring : str, default "accuracy"
        Inner-CV criterion (any scikit-learn scorer name, e.g. ``"balanced_accuracy"``).
    class_weight : None, "balanced", "balanced_subsample" or dict
        Class weights of the forest (unbalanced labels), scikit-learn's definitions; with
        scikit-learn >= 1.9 (and the numba backend) they weight the bootstrap draws.
    random_state : int, RandomState or None
        Seeds the inner folds and the forests.
    n_jobs : int or None
        Threads of the scikit-learn forests (``None``: 1; the benchmark parallelises over
        splits); the numba backend is serial and ignores it.
    library : {"all", "selected"}, default "all"
        Library sizes :math:`L_i` of the CPM: each sample's total over all its genes (the
        whole transcriptome; ``predict`` then needs every gene seen in ``fit``) or over
        the selected genes only (``cpm()`` of a selected-gene matrix in R).
    backend : {"numba", "sklearn"}, default "numba"
        ``"numba"``: the compiled forest of :mod:`._forest` (scikit-learn's algorithm and
        random streams, tested equal to it; a tuned fit on 46 x 10 data takes ~0.12 s
        instead of ~10 s, ``benchmarks/forest.py``) with the inner CV run here exactly as
        ``GridSearchCV`` runs it. ``"sklearn"``:
        :class:`~sklearn.ensemble.RandomForestClassifier` tuned by ``GridSearchCV``.

    Attributes
    ----------
    classes_ : ndarray
    genes_ : Index
        Selected genes.
    best_params_ : dict
        The tuned ``max_features`` (and ``min_samples_leaf``).
    cv_results_ : DataFrame or None
        Inner-CV mean score of every candidate (``None`` when nothing was tuned).
    forest_ : FittedForest or RandomForestClassifier
        The final forest (per ``backend``), fitted on all training samples.
    feature_importances_ : Series
        Mean decrease in impurity of every predictor.

    Examples
    --------
    >>> from radiogenomics.datasets import load_cervical
    >>> X, y = load_cervical()
    >>> clf = RFGenomics(n_genes=10, n_estimators=50, cv=3, random_state=0).fit(X, y)
    >>> len(clf.genes_), clf.best_params_["max_features"] in (1, 3, 5, 10)
    (10, True)
    """

    _parameter_constraints = {
        "n_genes": COMMON_CONSTRAINTS["n_genes"],
        "library": COMMON_CONSTRAINTS["library"],
        "random_state": COMMON_CONSTRAINTS["random_state"],
        "n_estimators": [Interval(Integral, 1, None, closed="left")],
        "tune_n_estimators": [Interval(Integral, 1, None, closed="left")],
        "cv": [Interval(Integral, 2, None, closed="left")],
        "max_features": [Interval(Integral, 1, None, closed="left"),
                         Interval(Real, 0, 1, closed="right"),
                         StrOptions({"sqrt", "log2"}), None],
        "min_samples_leaf": [Interval(Integral, 1, None, closed="left"), "array-like"],
        "scoring": [str, callable],
        "class_weight": [StrOptions({"balanced", "balanced_subsample"}), dict, None],
        "n_jobs": [Integral, None],
        "backend": [StrOptions({"numba", "sklearn"})],
    }
    _parameter_hints = {**COMMON_HINTS, "backend": "must be 'numba' or 'sklearn'",
                        "n_estimators": "must be an integer >= 1",
                        "tune_n_estimators": "must be an integer >= 1",
                        "cv": "must be an integer >= 2"}

    def __init__(self, n_genes: int | None = 10, n_estimators: int = 500,
                 max_features: Any = None, min_samples_leaf: Any = 1, cv: int = 10,
                 tune_n_estimators: int = 100, scoring: str = "accuracy",
                 class_weight: Any = None, random_state: Any = None,
                 n_jobs: int | None = None, backend: str = "numba",
                 library: str = "all") -> None:
        self._store_params(locals())

    # ----------------------------------------------------------------- design matrix
    def _design(self, counts: pd.DataFrame, lib: np.ndarray, F: pd.DataFrame | None,
                imaging: ImagingFeatures | None) -> pd.DataFrame:
        """:math:`\\log_2(10^6 y/L + 1)` of the selected genes (plus the features ``F``
        imputed by the fitted ``imaging``, in the subclass)."""
        with np.errstate(divide="ignore", invalid="ignore"):
            cpm = counts.to_numpy(dtype=np.float64) / lib[:, None] * 1e6
        cpm[~np.isfinite(cpm)] = 0.0  # an empty library: every gene is 0
        return pd.DataFrame(np.log2(cpm + 1.0), index=counts.index, columns=counts.columns)

    def _libs(self, selected: pd.DataFrame, full: pd.DataFrame) -> np.ndarray:
        src = full if self.library == "all" else selected
        return src.to_numpy(dtype=np.float64).sum(axis=1)

    def _forest(self, n_estimators: int, **params: Any) -> RandomForestClassifier:
        return RandomForestClassifier(n_estimators=n_estimators, class_weight=self.class_weight,
                                      random_state=self.random_state, n_jobs=self.n_jobs,
                                      **params)

    def _fit_forest(self, Z: np.ndarray, y: np.ndarray, n_estimators: int, random_state: Any,
                    **params: Any) -> Any:
        """A forest of the chosen backend fitted on ``(Z, y)``."""
        if self.backend == "sklearn":
            return self._forest(n_estimators, **params).fit(Z, y)
        params.setdefault("max_features", "sqrt")  # RandomForestClassifier's default
        return fit_forest(Z, y, n_estimators=n_estimators, class_weight=self.class_weight,
                          random_state=random_state, **params)

    def _search(self, Z: np.ndarray, y: np.ndarray, grid: dict[str, list[Any]],
                fixed: dict[str, Any], cv: StratifiedKFold, splits: list,
                fold_design: Any = None) -> tuple[pd.DataFrame, dict[str, Any]]:
        """Inner stratified CV over ``grid``: (table of mean/sd scores, best parameters).

        ``fold_design(i, train, test)`` (nested tuning) returns the design matrices of
        inner fold ``i`` built from that fold's own gene selection; without it every fold
        uses the columns of ``Z``.

        The numba backend reproduces ``GridSearchCV(refit=False)``: the same
        ``StratifiedKFold`` splits, candidates in ``ParameterGrid`` order, every forest
        seeded as a clone of the estimator would be, the scorer ``get_scorer(scoring)``,
        fold scores averaged without weights and the first best mean (in grid order) kept
        (accuracy and balanced accuracy are computed directly, :func:`_fast_score`).
        """
        if self.backend == "sklearn" and fold_design is None:
            search = GridSearchCV(
                self._forest(int(self.tune_n_estimators), **fixed), grid,
                scoring=self.scoring, cv=cv, refit=False, error_score="raise")
            search.fit(Z, y)
            params = list(search.cv_results_["params"])
            means = search.cv_results_["mean_test_score"]
            sds = search.cv_results_["std_test_score"]
            best = dict(search.best_params_)
        else:
            state = _copy_state(self.random_state)  # GridSearchCV clones before splitting
            scorer = get_scorer(self.scoring)
            params = list(ParameterGrid(grid))
            scores = np.empty((len(params), len(splits)))
            for j, (tr, te) in enumerate(splits):
                Ztr, Zte = (Z[tr], Z[te]) if fold_design is None else fold_design(j, tr, te)
                for i, cand in enumerate(params):
                    forest = self._fit_forest(Ztr, y[tr], int(self.tune_n_estimators),
                                              _copy_state(state), **{**fixed, **cand})
                    score = (_fast_score(self.scoring, forest, Zte, y[te])
                             if self.backend == "numba" else None)
                    view = _ForestView(forest) if self.backend == "numba" else forest
                    scores[i, j] = (scorer(view, Zte, y[te]) if score is None else score)
            means = np.average(scores, axis=1)
            sds = np.sqrt(np.average((scores - means[:, np.newaxis]) ** 2, axis=1))
            if np.isnan(means).all():
                rank = np.ones(len(means))
            else:
                rank = rankdata(-np.nan_to_num(means, nan=np.nanmin(means) - 1),
                                method="min")
            best = dict(params[int(np.argmin(rank))])
        res = pd.DataFrame(params)
        res["mean_score"] = means
        res["sd_score"] = sds
        return res, best

    # ------------------------------------------------------------------- estimator
    def _imaging(self, F: pd.DataFrame | None) -> ImagingFeatures | None:
        """The imaging-features transformer fitted on ``F`` (RF-radiogenomics)."""
        return None

    def _fit(self, data: CountData) -> None:
        """Select genes, tune by nested inner CV and grow the forest on the training samples."""
        full, yy = data.counts, data.y.to_numpy()
        self.genes_ = select_genes(full, data.y, self.n_genes,
                                   de_method=getattr(self, "de_method", "exact"),
                                   quantile=getattr(self, "quantile", 0.25))
        self._all_genes_ = self.library == "all"  # predict: library sizes of every gene
        counts = full.loc[:, self.genes_]
        lib = self._libs(counts, full)
        F = data.features
        imaging = None if F is None else self.imaging_  # fitted by RFRadiogenomics._fit
        Z = self._design(counts, lib, F, imaging)
        grid: dict[str, list[Any]] = {}
        if self.max_features is None:
            grid["max_features"] = mtry_grid(Z.shape[1])
        leaf = self.min_samples_leaf
        if isinstance(leaf, (list, tuple, np.ndarray)):
            grid["min_samples_leaf"] = [int(v) for v in leaf]
        fixed = {k: v for k, v in (("max_features", self.max_features),
                                   ("min_samples_leaf", leaf)) if k not in grid}
        Zn = Z.to_numpy()
        n_min = int(pd.Series(yy).value_counts().min())
        folds = min(int(self.cv), n_min)
        tunable = any(len(v) > 1 for v in grid.values())
        if tunable and folds >= 2:
            # one set of folds for the gene selections and the search (also when
            # random_state is None)
            cv = StratifiedKFold(folds, shuffle=True, random_state=self.random_state)
            splits = list(cv.split(np.zeros((len(yy), 1)), yy))
            fold_design = None
            if full.shape[1] > counts.shape[1]:  # nested: every inner fold selects its genes
                inner = inner_folds(full, yy, splits, n_genes=self.n_genes,
                                    de_method=getattr(self, "de_method", "exact"),
                                    quantile=getattr(self, "quantile", 0.25))

                def fold_design(j: int, tr: np.ndarray, te: np.ndarray):
                    f = inner[j]
                    sub = full.iloc[:, f.cols]
                    libf = lib if self.library == "all" else self._libs(sub, sub)
                    im = None if F is None else self._imaging(F.iloc[tr])
                    Ztr = self._design(sub.iloc[tr], libf[tr],
                                       None if F is None else F.iloc[tr], im).to_numpy()
                    Zte = self._design(sub.iloc[te], libf[te],
                                       None if F is None else F.iloc[te], im).to_numpy()
                    return Ztr, Zte

            self.cv_results_, best = self._search(Zn, yy, grid, fixed, cv, splits,
                                                  fold_design)
        else:
            if tunable:
                logger.warning("smallest class has %d samples: no inner CV, using the first "
                               "candidate of each tuned parameter", n_min)
            self.cv_results_ = None
            best = {k: v[0] for k, v in grid.items()}
        self.best_params_ = {**fixed, **best}
        self.forest_ = self._fit_forest(Zn, yy, int(self.n_estimators), self.random_state,
                                        **self.best_params_)
        self.design_columns_ = pd.Index(Z.columns)
        self.feature_importances_ = pd.Series(self.forest_.feature_importances_,
                                              index=self.design_columns_)

    def _joint_log_likelihood(self, data: CountData) -> np.ndarray:
        r""":math:`\log \hat p_k(x)`, the log of the forest's class probabilities (the mean
        of the trees' votes; :math:`-\infty` for a class no tree votes for)."""
        check_is_fitted(self, "forest_")
        full = data.counts
        counts = full.loc[:, self.genes_]
        Z = self._design(counts, self._libs(counts, full), data.features,
                         getattr(self, "imaging_", None))
        with np.errstate(divide="ignore"):
            return np.log(self.forest_.predict_proba(Z.to_numpy()))

    def summary(self) -> pd.DataFrame:
        """Predictors (genes, then features) with their impurity importance, largest first."""
        check_is_fitted(self, "forest_")
        out = self.feature_importances_.rename("importance").to_frame()
        out["kind"] = ["feature" if c in getattr(self, "feature_names_", ()) else "gene"
                       for c in out.index]
        return out.sort_values("importance", ascending=False)


class RFRadiogenomics(ImagingClassifier, RFGenomics):
    r"""Random forest on :math:`\log_2(\mathrm{CPM}+1)` of the top DE genes plus imaging
    features (RF-radiogenomics).

    Same parameters as :class:`RFGenomics`, plus

    impute : {None, "median"}, default None
        Missing feature values (e.g. an undefined volume ratio) raise unless ``"median"``,
        which fills them with the medians of the training samples
        (:class:`~radiogenomics.classifiers._imaging.ImagingFeatures`, the transformer of
        the NB model, without standardisation).
    feature_columns : sequence of str, optional
        Columns of ``X`` that are imaging features (the rest are gene counts): the model
        then runs on one combined frame (:func:`~radiogenomics.classifiers.join_features`)
        inside ``Pipeline`` and ``cross_val_score``. Otherwise pass ``features=``.

    ``features`` (samples x features, same sample ids as the counts) is required in ``fit``
    and in every predict-side method. Forests are invariant to monotone rescaling, so the
    features are used unscaled.

    Examples
    --------
    >>> from sklearn.model_selection import cross_val_score
    >>> from radiogenomics.classifiers import join_features
    >>> from radiogenomics.datasets import simulate_radiogenomic_cohort
    >>> d = simulate_radiogenomic_cohort(n_samples=40, n_genes=60, random_state=0)
    >>> clf = RFRadiogenomics(n_genes=5, n_estimators=20, max_features="sqrt",
    ...                       feature_columns=list(d.features.columns), random_state=0)
    >>> cross_val_score(clf, join_features(d.counts, d.features), d.y, cv=3).shape
    (3,)
    """

    _parameter_constraints = {**RFGenomics._parameter_constraints,
                              "impute": [StrOptions({"median"}), None],
                              "feature_columns": ["array-like", None]}
    _parameter_hints = {**RFGenomics._parameter_hints, "impute": "must be None or 'median'"}

    def __init__(self, n_genes: int | None = 10, n_estimators: int = 500,
                 max_features: Any = None, min_samples_leaf: Any = 1, cv: int = 10,
                 tune_n_estimators: int = 100, scoring: str = "accuracy",
                 class_weight: Any = None, impute: str | None = None,
                 random_state: Any = None, n_jobs: int | None = None,
                 backend: str = "numba", library: str = "all",
                 feature_columns: Any = None) -> None:
        self._store_params(locals())

    def _fit(self, data: CountData) -> None:
        if data.features is None:
            raise ValueError(f"{type(self).__name__} needs imaging features: pass "
                             "features= (samples x features) to fit and predict, or "
                             "feature_columns")
        self.imaging_ = self._imaging(data.features)
        self.feature_names_ = self.imaging_.columns_
        self.impute_values_ = self.imaging_.impute_values_
        super()._fit(data)

    def _joint_log_likelihood(self, data: CountData) -> np.ndarray:
        if data.features is None:
            raise ValueError(f"{type(self).__name__} was fitted with imaging features "
                             f"{_show(self.feature_names_)}; pass features= to predict")
        return super()._joint_log_likelihood(data)

    def _imaging(self, F: pd.DataFrame | None) -> ImagingFeatures | None:
        return None if F is None else ImagingFeatures(impute=self.impute,
                                                      standardize=False).fit(F)

    def _design(self, counts: pd.DataFrame, lib: np.ndarray, F: pd.DataFrame | None,
                imaging: ImagingFeatures | None) -> pd.DataFrame:
        Z = super()._design(counts, lib, None, None)
        assert F is not None and imaging is not None
        F = imaging.transform(F)
        clash = Z.columns.intersection(F.columns)
        if len(clash):
            raise ValueError(f"feature names clash with gene names: {_show(clash)}")
        return pd.concat([Z, F], axis=1)
