r"""One base for every count classifier of :mod:`radiogenomics.classifiers`.

Modelled on scikit-learn's ``naive_bayes._BaseNB``: a classifier validates its inputs once
per ``fit`` / predict-side call (:meth:`CountClassifier._fit_data`,
:meth:`CountClassifier._predict_data`), selects its genes on the training samples
(:func:`select_genes`), and implements one method, :meth:`_joint_log_likelihood`, the
per-class score

.. math:: J_k(x) = \log p(x \mid k) + \log \pi_k \quad(\text{up to a term common to all } k)

(the NB / Poisson log-likelihood plus log prior of radiogenomics-NB and NBLDA / PLDA, the
discriminant of pamr / MLSeq for NSC / VoomNSC, :math:`\log \hat p_k(x)` of a forest).
Everything else is derived once, here:

- ``predict`` = :math:`\arg\max_k J_k`;
- ``predict_log_proba`` = :math:`J_k - \log\sum_{k'} e^{J_{k'}}` (then a fitted
  ``calibrator_``, if any);
- ``predict_proba`` = its exponential;
- ``decision_function``: the R packages' per-class discriminant :math:`J` for the
  classifiers that reproduce them (``_decision = "discriminant"``, an ``(n, K)`` array even
  for two classes: the R-equality tests compare it), otherwise scikit-learn's convention:
  the log posterior odds of ``classes_[1]`` for two classes, the log posteriors for more.

Parameters are validated by scikit-learn's ``_parameter_constraints``; the error message
keeps the package's one-line style (``"<name> must be ...; got ..."``, from
``_parameter_hints``) followed by scikit-learn's sentence. Class priors are resolved by
:func:`resolve_priors` under the one name ``priors`` (the older ``prior`` keeps working,
with a ``FutureWarning``, for one release).

Classifiers that do not use imaging features (everything but
:class:`~radiogenomics.classifiers.NBRadiogenomicsClassifier` and
:class:`~radiogenomics.classifiers.RFRadiogenomics`) take no ``features=`` argument: passing
one is a ``TypeError``, not a silently ignored input. The imaging ones derive from
:class:`ImagingClassifier`, whose methods take ``features=`` or split them from ``X`` by
``feature_columns`` (so they run inside a ``Pipeline``).
"""

from __future__ import annotations

import re
import warnings
from abc import ABCMeta, abstractmethod
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.utils._param_validation import InvalidParameterError
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import check_is_fitted, column_or_1d

from .._validation import _show, align, as_count_frame, as_feature_frame, as_labels

__all__ = ["CountClassifier", "ImagingClassifier", "CountData", "select_genes",
           "resolve_priors", "PRIORS"]

#: the named class priors (``"empirical"`` is an alias of ``"proportional"``)
PRIORS = ("equal", "proportional", "empirical")

#: default of a deprecated parameter (``prior``): "not given"
DEPRECATED = "deprecated"


# ----------------------------------------------------------------------------- helpers
def select_genes(counts: pd.DataFrame, y: pd.Series, n_genes: int | None,
                 de_method: str = "exact", quantile: float | None = 0.25) -> pd.Index:
    """Genes used by a classifier: all (``n_genes=None``) or the top ``n_genes`` of
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
    from ..de import DEGeneSelector

    sel = DEGeneSelector(n_genes=int(n_genes), method=de_method, quantile=quantile)
    sel.fit(counts, y)
    return pd.Index(sel.genes_)


def resolve_priors(priors: Any, classes: np.ndarray, y: np.ndarray) -> np.ndarray:
    r"""Class priors :math:`\pi_k` in ``classes`` order, summing to one.

    ``"equal"``: :math:`1/K`; ``"proportional"`` (alias ``"empirical"``): the training
    class proportions; a dict ``{class: weight}`` or an array of ``K`` positive weights:
    normalised to sum one.

    Examples
    --------
    >>> resolve_priors("proportional", np.array(["a", "b"]), np.array(["a", "a", "b", "b"]))
    array([0.5, 0.5])
    >>> resolve_priors({"a": 1, "b": 3}, np.array(["a", "b"]), np.array(["a", "b"]))
    array([0.25, 0.75])
    """
    K = len(classes)
    if isinstance(priors, str):
        if priors == "equal":
            return np.full(K, 1.0 / K)
        if priors in ("proportional", "empirical"):
            y = np.asarray(y)
            return np.array([(y == c).mean() for c in classes])
        raise ValueError(f"priors must be one of {PRIORS}, a dict or class probabilities; "
                         f"got {priors!r}")
    try:
        p = np.asarray([priors[c] for c in classes] if isinstance(priors, dict) else priors,
                       dtype=float)
    except (KeyError, TypeError, ValueError):
        p = np.array([np.nan])
    if p.shape != (K,) or not np.all(p > 0) or not np.all(np.isfinite(p)):
        raise ValueError(f"priors must be {K} positive numbers (one per class "
                         f"{_show(classes)}); got {priors!r}")
    return p / p.sum()


def _as_counts(X: Any, who: str = "the classifier") -> pd.DataFrame:
    """:func:`as_count_frame` with the messages scikit-learn's estimator checks look for."""
    import scipy.sparse as sp

    if sp.issparse(X):
        raise TypeError(f"A sparse matrix was passed, but dense data is required: {who} "
                        "takes dense counts (samples x genes)")
    if not isinstance(X, pd.DataFrame) and not hasattr(X, "obs_names"):
        arr = np.asarray(X)
        if np.iscomplexobj(arr):
            raise ValueError("Complex data not supported: counts must be integer read counts")
        if arr.ndim == 1:
            raise ValueError(f"counts must be 2-D (samples x genes); got a 1-D array of shape "
                             f"{arr.shape}. Reshape your data either using array.reshape(-1, 1) "
                             "if your data has a single gene or array.reshape(1, -1) if it "
                             "contains a single sample")
        if arr.ndim == 2 and 0 in arr.shape:
            raise ValueError(f"counts are empty: found {arr.shape[1]} feature(s) "
                             f"(shape={arr.shape}) while a minimum of 1 is required; "
                             f"{arr.shape[0]} sample(s)")
    try:
        return as_count_frame(X, name="counts")
    except ValueError as exc:
        if "negative" in str(exc):
            raise ValueError(f"Negative values in data: {exc}") from None
        raise


def _as_class_labels(y: Any, who: str) -> pd.Series:
    """Labels as a Series (index kept when given) after the classification-target checks."""
    if y is None:
        raise ValueError(f"{who} requires y to be passed, but the target y is None")
    if isinstance(y, pd.Series):
        lab = y
    else:
        arr = np.asarray(y)
        if arr.ndim == 2 and arr.shape[1] == 1:
            arr = column_or_1d(arr, warn=True)  # DataConversionWarning, as sklearn does
        lab = pd.Series(arr)
    check_classification_targets(lab.to_numpy())
    levels = pd.unique(lab.dropna())
    if len(levels) < 2:
        raise ValueError(f"y has only one class ({_show(levels)}); a classifier needs at "
                         "least two")
    return lab


def _warn_caller(message: str, category: type[Warning]) -> None:
    """``warnings.warn`` pointing at the first frame outside this package."""
    import os
    import sys

    here = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    level, frame = 2, sys._getframe(1)
    while frame is not None and os.path.abspath(frame.f_code.co_filename).startswith(here):
        frame = frame.f_back
        level += 1
    warnings.warn(message, category, stacklevel=level)


@dataclass
class CountData:
    """Inputs of one ``fit`` or predict-side call, validated once.

    Attributes
    ----------
    counts : DataFrame
        Read counts, samples x genes (in ``fit`` every gene; at predict time the training
        genes, in training order).
    y : Series or None
        Labels aligned to ``counts`` (``fit`` only).
    features : DataFrame or None
        Raw imaging features aligned to ``counts`` (imaging classifiers only).
    """

    counts: pd.DataFrame
    y: pd.Series | None = None
    features: pd.DataFrame | None = None


# --------------------------------------------------------------------------------- base
class CountClassifier(ClassifierMixin, BaseEstimator, metaclass=ABCMeta):
    """Base of the count classifiers (see the module docstring).

    Subclasses set ``_parameter_constraints`` (and ``_parameter_hints`` for the package's
    wording), implement :meth:`_fit` and :meth:`_joint_log_likelihood`, and, when they
    take size factors from every training gene, set ``_all_genes_ = True`` in ``_fit`` so
    predict-side calls require all of them.
    """

    _parameter_constraints: ClassVar[dict] = {}
    #: parameter -> "must be ..." wording of the one-line error
    _parameter_hints: ClassVar[dict[str, str]] = {}
    #: deprecated parameter -> its new name (FutureWarning for one release)
    _renamed: ClassVar[dict[str, str]] = {}
    #: "log_odds" (scikit-learn) or "discriminant" (the R packages' per-class scores)
    _decision: ClassVar[str] = "log_odds"

    def __sklearn_tags__(self):
        """Read counts: non-negative, no NaN; scores on scikit-learn's generic (blob) data
        are not the point of count models."""
        tags = super().__sklearn_tags__()
        tags.input_tags.positive_only = True
        tags.input_tags.allow_nan = False
        tags.classifier_tags.poor_score = True
        return tags

    # -------------------------------------------------------------- parameters
    def _store_params(self, params: dict[str, Any]) -> None:
        """Store every ``__init__`` argument under its own name, unchanged (scikit-learn's
        rule: ``__init__`` only stores; called as ``self._store_params(locals())``)."""
        for name, value in params.items():
            if name not in ("self", "__class__"):
                setattr(self, name, value)

    def _validate_params(self) -> None:
        try:
            super()._validate_params()
        except InvalidParameterError as exc:
            m = re.match(r"The '(\w+)' parameter", str(exc))
            name = m.group(1) if m else ""
            hint = self._parameter_hints.get(name)
            if hint is None:
                raise
            raise InvalidParameterError(
                f"{name} {hint}; got {getattr(self, name)!r}. {exc}") from None

    def _param(self, new: str) -> Any:
        """Value of parameter ``new``, or of its deprecated old name when that was given
        (with a ``FutureWarning``; an old ``None`` means the new parameter's default)."""
        for old, name in self._renamed.items():
            value = getattr(self, old, DEPRECATED)
            if name != new or (isinstance(value, str) and value == DEPRECATED):
                continue
            _warn_caller(f"{type(self).__name__}: parameter '{old}' is renamed '{new}'; "
                         f"'{old}' will be removed in the next release", FutureWarning)
            if value is None:
                import inspect

                return inspect.signature(type(self).__init__).parameters[new].default
            return value
        return getattr(self, new)

    def _priors(self, y: np.ndarray) -> np.ndarray:
        """Resolve ``priors`` (or the deprecated ``prior``) and store ``class_prior_``,
        ``class_log_prior_`` and ``prior_`` (the baselines' older name)."""
        p = resolve_priors(self._param("priors"), self.classes_, y)
        self.class_prior_ = p
        self.class_log_prior_ = np.log(p)
        self.prior_ = p
        return p

    # -------------------------------------------------------------------- input
    def _split_X(self, X: Any, features: Any) -> tuple[Any, Any]:
        """Separate counts and imaging features (imaging classifiers override it)."""
        return X, features

    def _fit_data(self, X: Any, y: Any, features: Any = None) -> CountData:
        """Validate ``X``, ``y`` (and ``features``) once; set ``classes_``,
        ``n_features_in_``, ``feature_names_in_`` (string gene names only)."""
        X, features = self._split_X(X, features)
        who = type(self).__name__
        lab = _as_class_labels(y, who)
        counts = _as_counts(X, who)
        if not isinstance(y, pd.Series):
            if len(lab) != len(counts):
                raise ValueError(f"y has {len(lab)} labels for {len(counts)} samples")
            lab.index = counts.index
        lab = as_labels(lab, name="y")
        F = None
        if features is not None:
            F = as_feature_frame(features)
            F = None if F.shape[1] == 0 else F
        counts, lab, F = align(counts, lab, F)
        assert lab is not None
        self.classes_ = np.unique(lab.to_numpy())
        self._train_columns = pd.Index(counts.columns)
        self.n_features_in_ = counts.shape[1]
        if isinstance(X, pd.DataFrame) and all(isinstance(c, str) for c in X.columns):
            self.feature_names_in_ = np.asarray(counts.columns, dtype=object)
        elif hasattr(self, "feature_names_in_"):
            del self.feature_names_in_
        return CountData(counts, lab, F)

    def _predict_data(self, X: Any, features: Any = None) -> CountData:
        """Validate new counts once; return them on the genes the model needs (all
        training genes when ``_all_genes_``, else the selected ``genes_``)."""
        check_is_fitted(self, "classes_")
        X, features = self._split_X(X, features)
        df = _as_counts(X, type(self).__name__)
        if not isinstance(X, pd.DataFrame) and not hasattr(X, "obs_names"):
            if df.shape[1] != self.n_features_in_:
                raise ValueError(f"counts have {df.shape[1]} gene columns; the model was "
                                 f"fitted on {self.n_features_in_} (X has {df.shape[1]} "
                                 f"features, but {type(self).__name__} is expecting "
                                 f"{self.n_features_in_} features as input)")
            df.columns = self._train_columns
        needed = self._train_columns if getattr(self, "_all_genes_", False) else self.genes_
        missing = needed.difference(df.columns)
        if len(missing):
            hint = ""
            if getattr(self, "_all_genes_", False) and hasattr(self, "library"):
                hint = (" (size factors use all of them; refit with library='selected' to "
                        "need only the selected genes)")
            raise ValueError(f"counts lack {len(missing)} training genes seen in fit{hint}: "
                             f"{_show(missing)}")
        F = None
        if features is not None:
            F = as_feature_frame(features)
            F = None if F.shape[1] == 0 else align(df, None, F)[2]
        return CountData(df.loc[:, needed], None, F)

    # ------------------------------------------------------------------ fitting
    def _fit_impl(self, X: Any, y: Any, features: Any = None) -> CountClassifier:
        self._validate_params()
        data = self._fit_data(X, y, features)
        self._fit(data)
        return self

    def fit(self, X: Any, y: Any) -> CountClassifier:
        """Fit on training counts ``X`` (samples x genes) and labels ``y``; returns self.

        Gene selection and every tuned or estimated quantity use these samples only."""
        return self._fit_impl(X, y)

    @abstractmethod
    def _fit(self, data: CountData) -> None:
        """Fit the model on validated training data."""

    @abstractmethod
    def _joint_log_likelihood(self, data: CountData) -> np.ndarray:
        """Per-class scores :math:`J_k` (n_samples x n_classes, ``classes_`` order)."""

    # ---------------------------------------------------------- derived, once
    def _jll(self, X: Any, features: Any = None) -> np.ndarray:
        return self._joint_log_likelihood(self._predict_data(X, features))

    def _log_posterior(self, X: Any, features: Any = None) -> np.ndarray:
        """:math:`J_k - \\log\\sum_{k'} e^{J_{k'}}`, computed from :math:`J - \\max_k J_k`
        (NBLDA's discriminants reach :math:`10^7`: subtracting the log-sum-exp from
        :math:`J` itself would lose ~1e-10 of the probabilities; this form gives their
        softmax within 1 ulp)."""
        jll = self._jll(X, features)
        with np.errstate(invalid="ignore"):  # a row of -inf (a forest): NaN, as sklearn
            shifted = jll - jll.max(axis=1, keepdims=True)
        return shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))

    def _predict(self, X: Any, features: Any = None) -> np.ndarray:
        jll = self._jll(X, features)
        return self.classes_[np.argmax(jll, axis=1)]

    def _predict_log_proba(self, X: Any, features: Any = None) -> np.ndarray:
        lp = self._log_posterior(X, features)
        cal = getattr(self, "calibrator_", None)
        return lp if cal is None else cal.transform(lp)

    def _decision_function(self, X: Any, features: Any = None) -> np.ndarray:
        if self._decision == "discriminant":
            return self._jll(X, features)
        lp = self._log_posterior(X, features)
        return lp[:, 1] - lp[:, 0] if lp.shape[1] == 2 else lp

    def predict(self, X: Any) -> np.ndarray:
        """Class of the highest score :math:`J_k` (the highest posterior)."""
        return self._predict(X)

    def predict_log_proba(self, X: Any) -> np.ndarray:
        """:math:`\\log p(k \\mid x)`, shape (n_samples, n_classes), ``classes_`` order."""
        return self._predict_log_proba(X)

    def predict_proba(self, X: Any) -> np.ndarray:
        """Posterior class probabilities, shape (n_samples, n_classes)."""
        return np.exp(self._predict_log_proba(X))

    def decision_function(self, X: Any) -> np.ndarray:
        """Per-class discriminant (R-equal classifiers) or log posterior odds (binary) /
        log posteriors (see the module docstring); never calibrated."""
        return self._decision_function(X)


class ImagingClassifier(CountClassifier):
    """A count classifier that also uses imaging features: every method takes
    ``features=`` (samples x features, the same sample ids), or splits them from a combined
    ``X`` by the ``feature_columns`` parameter (``Pipeline`` / ``cross_val_score`` use)."""

    def _split_X(self, X: Any, features: Any) -> tuple[Any, Any]:
        """Separate gene counts and imaging features of a combined frame."""
        if getattr(self, "feature_columns", None) is None:
            return X, features
        cols = list(self.feature_columns)
        if features is not None:
            raise ValueError("pass imaging features either as feature_columns of X or as "
                             "features=, not both")
        if not isinstance(X, pd.DataFrame):
            raise ValueError("feature_columns needs X as a DataFrame with named columns")
        missing = [c for c in cols if c not in X.columns]
        if missing:
            raise ValueError(f"X lacks the feature_columns {_show(missing)}")
        if not cols:
            return X, None
        return X.drop(columns=cols), X.loc[:, cols]

    def fit(self, X: Any, y: Any, features: Any = None) -> ImagingClassifier:
        """Fit on training counts ``X``, labels ``y`` and imaging ``features``."""
        return self._fit_impl(X, y, features)

    def predict(self, X: Any, features: Any = None) -> np.ndarray:
        """Class of the highest score :math:`J_k` (the highest posterior)."""
        return self._predict(X, features)

    def predict_log_proba(self, X: Any, features: Any = None) -> np.ndarray:
        """:math:`\\log p(k \\mid y, x)`, shape (n_samples, n_classes), ``classes_`` order."""
        return self._predict_log_proba(X, features)

    def predict_proba(self, X: Any, features: Any = None) -> np.ndarray:
        """Posterior class probabilities, shape (n_samples, n_classes)."""
        return np.exp(self._predict_log_proba(X, features))

    def decision_function(self, X: Any, features: Any = None) -> np.ndarray:
        """Binary: log posterior odds of ``classes_[1]``; otherwise the log posteriors
        (never calibrated: rankings and ROC AUC are the model's own)."""
        return self._decision_function(X, features)

    def score(self, X: Any, y: Any, sample_weight: Any = None, features: Any = None) -> float:
        """Accuracy on ``X`` (counts), ``y`` (and ``features``)."""
        from sklearn.metrics import accuracy_score

        return float(accuracy_score(y, self.predict(X, features), sample_weight=sample_weight))
