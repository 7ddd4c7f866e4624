"""scikit-learn's ``parametrize_with_checks`` on every classifier of radiogenomics.classifiers.

The classifiers take read counts (non-negative integers, samples x genes); scikit-learn's
generic checks draw continuous data (blobs, uniforms, negative values). So each classifier
runs the checks through a test-only adaptor subclass whose ``_split_X`` (the one input hook
of the base, ``radiogenomics.classifiers._base``) turns numeric input into read counts
``rint(10 x) + 1`` before the real model sees it (the +1 keeps every library size
positive), and, for RF-radiogenomics, takes the first input column as its one imaging
feature. Every contract check (fit returns self, pickling, idempotence, sample-order and
subset invariance, n_features_in_, parameter validation, ...) then runs through the real
code path; NaN, inf and object data pass through and must still be rejected.

Expected failures, with the reason, are in :func:`_expected_failed_checks`. The
radiogenomics-NB model's checks on unmodified inputs are in test_nb_radiogenomics.py.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.utils.estimator_checks import parametrize_with_checks

from radiogenomics.classifiers import (
    NBLDA,
    PLDA,
    NBRadiogenomicsClassifier,
    NearestShrunkenCentroid,
    RFGenomics,
    RFRadiogenomics,
    VoomNSC,
)


class _Counts:
    """Mixin: continuous test data -> read counts (see the module docstring)."""

    _with_feature = False

    def _split_X(self, X, features):
        X, features = super()._split_X(X, features)
        try:
            arr = np.asarray(X)
        except Exception:  # noqa: BLE001 - let the real validation report it
            return X, features
        if arr.dtype.kind not in "fiu" or arr.ndim != 2:
            return X, features
        with np.errstate(invalid="ignore"):
            counts = np.rint(10 * arr.astype(float)) + 1
        if isinstance(X, pd.DataFrame):
            counts = pd.DataFrame(counts, index=X.index, columns=X.columns)
        if self._with_feature and features is None and arr.shape[1] > 0:
            features = pd.DataFrame({"f": arr[:, 0].astype(float)})
        return counts, features


class CountsPLDA(_Counts, PLDA):
    """PLDA's boolean parameter ``transform`` (PoiClaClu's power transform) makes
    scikit-learn's checks take PLDA for a transformer (``hasattr(est, "transform")``) and
    call it; this adaptor names the parameter ``power_transform`` and is otherwise PLDA."""

    def __init__(self, n_genes=None, size_factors="library", rho=0.0, power_transform=True,
                 alpha=None, beta=1.0, priors="equal", n_rho=30, n_folds=5,
                 random_state=None, de_method="exact", quantile=0.25, library="all"):
        self.n_genes = n_genes
        self.size_factors = size_factors
        self.rho = rho
        self.power_transform = power_transform
        self.alpha = alpha
        self.beta = beta
        self.priors = priors
        self.n_rho = n_rho
        self.n_folds = n_folds
        self.random_state = random_state
        self.de_method = de_method
        self.quantile = quantile
        self.library = library

    def _alpha(self, x):
        self.__dict__["transform"] = self.power_transform  # read by PLDA._alpha only
        try:
            return super()._alpha(x)
        finally:
            del self.__dict__["transform"]


def _adapted(cls, with_feature=False):
    sub = type(f"Counts{cls.__name__}", (_Counts, cls), {"_with_feature": with_feature})
    sub.__module__ = __name__
    globals()[sub.__name__] = sub  # picklable by name
    return sub


ESTIMATORS = [
    _adapted(NBLDA)(rho=0.5),
    CountsPLDA(rho=0.5),
    _adapted(NearestShrunkenCentroid)(threshold=0.2),
    _adapted(VoomNSC)(threshold=0.2),
    _adapted(RFGenomics)(n_genes=None, n_estimators=5, max_features="sqrt", random_state=0),
    _adapted(RFRadiogenomics, with_feature=True)(n_genes=None, n_estimators=5,
                                                 max_features="sqrt", random_state=0),
    _adapted(NBRadiogenomicsClassifier)(n_genes=2, de_method="lrt"),
]

_NEGATIVE = ("draws negative values although the estimator is tagged positive_only; read "
             "counts cannot be negative")
_OBJECT = ("object-dtype (string) input is not read counts: rejected with 'non-numeric "
           "columns', not scikit-learn's message")
_DISCRIMINANT = ("decision_function returns the R packages' per-class discriminant, shape "
                 "(n, 2) for two classes (pamr / NBLDA / PoiClaClu / MLSeq; the R-equality "
                 "tests compare it), not scikit-learn's 1-D binary score")


def _expected_failed_checks(estimator):
    out = {"check_dtype_object": _OBJECT}
    if getattr(estimator, "_decision", "") == "discriminant":
        out["check_classifiers_train"] = _DISCRIMINANT
        out["check_classifiers_classes"] = _DISCRIMINANT
    out["check_decision_proba_consistency"] = _NEGATIVE
    if "class_weight" in estimator.get_params():
        out["check_class_weight_classifiers"] = _NEGATIVE
    return out


@pytest.mark.parametrize("n", [0])
def test_adaptor_really_feeds_counts(n):
    """The adaptor hands the model integer counts >= 1 from blobs."""
    est = ESTIMATORS[0]
    X, _ = est._split_X(np.array([[-0.04, 0.26], [1.0, 2.0]]), None)
    np.testing.assert_array_equal(X, [[1.0, 4.0], [11.0, 21.0]])


@parametrize_with_checks(ESTIMATORS, expected_failed_checks=_expected_failed_checks)
def test_sklearn_estimator_checks(estimator, check):
    check(estimator)
