"""The one classifier base (radiogenomics.classifiers._base): derived methods, priors,
validation once, deprecated parameter names, features= only where imaging is used, and
RFRadiogenomics inside a Pipeline."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy.special import logsumexp
from sklearn.model_selection import StratifiedKFold, cross_val_score
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import FunctionTransformer

import radiogenomics.classifiers._base as base
from radiogenomics.classifiers import (
    NBLDA,
    PLDA,
    ImagingFeatures,
    NBRadiogenomicsClassifier,
    NearestShrunkenCentroid,
    RFGenomics,
    RFRadiogenomics,
    VoomNSC,
    join_features,
)
from radiogenomics.classifiers._base import resolve_priors
from radiogenomics.datasets import simulate_radiogenomic_cohort


@pytest.fixture(scope="module")
def cohort():
    return simulate_radiogenomic_cohort(n_samples=48, n_genes=120, random_state=3)


#: fast settings of every classifier (no tuning), name -> (estimator, uses imaging)
FAST = {
    "NB": (NBRadiogenomicsClassifier(n_genes=5), True),
    "NBLDA": (NBLDA(n_genes=8, rho=0.5), False),
    "PLDA": (PLDA(n_genes=8, rho=0.5), False),
    "NSC": (NearestShrunkenCentroid(n_genes=8, threshold=0.3), False),
    "VoomNSC": (VoomNSC(n_genes=8, threshold=0.3), False),
    "RFGenomics": (RFGenomics(n_genes=8, n_estimators=20, max_features=2, random_state=0),
                   False),
    "RFRadiogenomics": (RFRadiogenomics(n_genes=8, n_estimators=20, max_features=2,
                                        random_state=0), True),
}


def _fit(name, cohort, train):
    est, imaging = FAST[name]
    kw = {"features": cohort.features.loc[train]} if imaging else {}
    from sklearn.base import clone

    return clone(est).fit(cohort.counts.loc[train], cohort.y.loc[train], **kw), imaging


@pytest.mark.parametrize("name", list(FAST))
def test_methods_are_derived_from_one_joint_log_likelihood(cohort, name):
    ids = cohort.counts.index
    clf, imaging = _fit(name, cohort, ids[:36])
    test = ids[36:]
    kw = {"features": cohort.features.loc[test]} if imaging else {}
    X = cohort.counts.loc[test]
    jll = clf._jll(X, kw.get("features"))
    lp = clf.predict_log_proba(X, **kw)
    np.testing.assert_allclose(lp, jll - logsumexp(jll, axis=1, keepdims=True))
    np.testing.assert_allclose(clf.predict_proba(X, **kw), np.exp(lp))
    np.testing.assert_allclose(np.exp(lp).sum(axis=1), 1.0)
    np.testing.assert_array_equal(clf.predict(X, **kw), clf.classes_[np.argmax(lp, axis=1)])
    dec = clf.decision_function(X, **kw)
    if clf._decision == "discriminant":  # the R packages' per-class scores
        np.testing.assert_allclose(dec, jll)
    else:  # scikit-learn: log posterior odds of classes_[1]
        np.testing.assert_allclose(dec, lp[:, 1] - lp[:, 0])


@pytest.mark.parametrize("name", [n for n, (_, im) in FAST.items() if not im])
def test_features_are_refused_where_imaging_is_not_used(cohort, name):
    est, _ = FAST[name]
    with pytest.raises(TypeError, match="features"):
        est.fit(cohort.counts, cohort.y, features=cohort.features)
    clf, _ = _fit(name, cohort, cohort.counts.index)
    for method in ("predict", "predict_proba", "predict_log_proba", "decision_function"):
        with pytest.raises(TypeError, match="features"):
            getattr(clf, method)(cohort.counts, features=cohort.features)


def test_rfradiogenomics_in_a_pipeline_with_cross_val_score(cohort):
    cols = list(cohort.features.columns)
    X = join_features(cohort.counts, cohort.features)
    rf = RFRadiogenomics(n_genes=6, n_estimators=25, max_features="sqrt", random_state=0,
                         feature_columns=cols)
    pipe = make_pipeline(FunctionTransformer(validate=False), rf)
    cv = StratifiedKFold(3, shuffle=True, random_state=0)
    scores = cross_val_score(pipe, X, cohort.y, cv=cv)
    assert scores.shape == (3,) and np.all((scores >= 0) & (scores <= 1))
    # the combined frame gives exactly the model of features=
    tr, te = next(cv.split(X, cohort.y))
    a = rf.fit(X.iloc[tr], cohort.y.iloc[tr]).predict_proba(X.iloc[te])
    b = RFRadiogenomics(n_genes=6, n_estimators=25, max_features="sqrt", random_state=0).fit(
        cohort.counts.iloc[tr], cohort.y.iloc[tr], features=cohort.features.iloc[tr]
    ).predict_proba(cohort.counts.iloc[te], features=cohort.features.iloc[te])
    np.testing.assert_array_equal(a, b)
    with pytest.raises(ValueError, match="needs imaging features"):
        RFRadiogenomics(n_genes=6).fit(cohort.counts, cohort.y)


def test_counts_are_validated_once_per_call(cohort, monkeypatch):
    calls = []
    orig = base.as_count_frame
    monkeypatch.setattr(base, "as_count_frame",
                        lambda *a, **k: calls.append(1) or orig(*a, **k))
    for name in ("NB", "NBLDA", "VoomNSC", "RFRadiogenomics"):
        calls.clear()
        clf, imaging = _fit(name, cohort, cohort.counts.index)
        assert len(calls) == 1, name
        calls.clear()
        kw = {"features": cohort.features} if imaging else {}
        clf.predict_proba(cohort.counts, **kw)
        assert len(calls) == 1, name


def test_resolve_priors():
    classes = np.array(["a", "b"])
    y = np.array(["a", "a", "a", "b"])
    np.testing.assert_allclose(resolve_priors("equal", classes, y), [0.5, 0.5])
    np.testing.assert_allclose(resolve_priors("proportional", classes, y), [0.75, 0.25])
    np.testing.assert_allclose(resolve_priors("empirical", classes, y), [0.75, 0.25])
    np.testing.assert_allclose(resolve_priors({"b": 1.0, "a": 3.0}, classes, y), [0.75, 0.25])
    np.testing.assert_allclose(resolve_priors([2.0, 2.0], classes, y), [0.5, 0.5])
    for bad in ([1.0], [1.0, -1.0], {"a": 1.0}, [np.nan, 1.0]):
        with pytest.raises(ValueError, match="priors must be 2 positive numbers"):
            resolve_priors(bad, classes, y)
    with pytest.raises(ValueError, match="priors must be one of"):
        resolve_priors("flat", classes, y)


@pytest.mark.parametrize("est, old, new", [
    (NBRadiogenomicsClassifier(n_genes=5), {"size_factor": "tmm"}, {"size_factors": "tmm"}),
    (NBLDA(n_genes=8, rho=0.5), {"normalization": "deseq"}, {"size_factors": "deseq"}),
    (NBLDA(n_genes=8, rho=0.5), {"prior": "proportional"}, {"priors": "proportional"}),
    (NBLDA(n_genes=8, rho=0.5), {"prior": None}, {"priors": "equal"}),
    (PLDA(n_genes=8, rho=0.5), {"normalization": "quantile"}, {"size_factors": "quantile"}),
    (NearestShrunkenCentroid(n_genes=8, threshold=0.3), {"normalization": "mle"},
     {"size_factors": "library"}),
    (NearestShrunkenCentroid(n_genes=8, threshold=0.3), {"prior": None},
     {"priors": "proportional"}),
    (VoomNSC(n_genes=8, threshold=0.3), {"prior": "equal"}, {"priors": "equal"}),
    (VoomNSC(n_genes=8, threshold=0.3), {"normalization": "deseq"}, {"size_factors": "rle"}),
])
def test_old_parameter_names_warn_and_give_the_same_model(cohort, est, old, new):
    kw = {"features": cohort.features} if isinstance(est, NBRadiogenomicsClassifier) else {}
    with pytest.warns(FutureWarning, match=f"'{next(iter(old))}' is renamed"):
        a = est.set_params(**old).fit(cohort.counts, cohort.y, **kw)
    from sklearn.base import clone

    b = clone(est).set_params(**{k: "deprecated" for k in old}, **new)
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("error", FutureWarning)
        b.fit(cohort.counts, cohort.y, **kw)
    np.testing.assert_array_equal(a.decision_function(cohort.counts, **kw),
                                  b.decision_function(cohort.counts, **kw))


def test_parameter_errors_name_the_parameter_in_both_styles(cohort):
    with pytest.raises(ValueError, match=r"library must be 'all' or 'selected'; got 'some'\. "
                                         r"The 'library' parameter of NBLDA must be"):
        NBLDA(library="some").fit(cohort.counts, cohort.y)
    with pytest.raises(ValueError, match="The 'n_estimators' parameter of RFGenomics"):
        RFGenomics(n_estimators=0).fit(cohort.counts, cohort.y)


def test_imaging_features_transformer_learns_on_training_rows_only():
    F = pd.DataFrame({"a": [1.0, np.nan, 3.0, 5.0], "b": [0.0, 1.0, 2.0, 3.0]},
                     index=list("pqrs"))
    t = ImagingFeatures(impute="median").fit(F.iloc[:3])
    assert t.impute_values_["a"] == 2.0 and t.mean_["b"] == 1.0
    out = t.transform(F)
    np.testing.assert_allclose(out["b"], (F["b"] - 1.0) / 1.0)
    np.testing.assert_allclose(out.loc["q", "a"], 0.0)  # imputed with the training median
    raw = ImagingFeatures(impute="median", standardize=False).fit(F).transform(F)
    assert raw.loc["q", "a"] == 3.0
    with pytest.raises(ValueError, match=r"missing values \(NaN\).*'a'.*'q'"):
        ImagingFeatures().fit(F)
    with pytest.raises(ValueError, match="lack the training columns.*'b'"):
        t.transform(F[["a"]])


def test_size_factors_accept_a_sizefactors_object(cohort):
    from radiogenomics.counts import SizeFactors

    kw = {"features": cohort.features}
    a = NBRadiogenomicsClassifier(n_genes=5, size_factors="tmm").fit(cohort.counts, cohort.y,
                                                                     **kw)
    b = NBRadiogenomicsClassifier(n_genes=5, size_factors=SizeFactors("tmm")).fit(
        cohort.counts, cohort.y, **kw)
    np.testing.assert_array_equal(a.decision_function(cohort.counts, **kw),
                                  b.decision_function(cohort.counts, **kw))
    c = NBLDA(n_genes=8, rho=0.5, size_factors=SizeFactors("rle", "poiclaclu")).fit(
        cohort.counts, cohort.y)
    d = NBLDA(n_genes=8, rho=0.5, size_factors="deseq").fit(cohort.counts, cohort.y)
    np.testing.assert_array_equal(c.decision_function(cohort.counts),
                                  d.decision_function(cohort.counts))
    with pytest.raises(ValueError, match="size_factors: size-factor method"):
        NBRadiogenomicsClassifier(size_factors="upper").fit(cohort.counts, cohort.y)


def test_probabilities_are_the_softmax_of_large_discriminants(cervical):
    """NBLDA's discriminants reach 1e7 on all 714 miRNAs; the derived probabilities are
    their softmax within 1 ulp (log-sum-exp subtracted from J itself lost ~1e-10)."""
    X, y = cervical
    m = NBLDA(rho=0.5).fit(X.iloc[::2], y.iloc[::2])
    d = m.decision_function(X.iloc[1::2])
    assert np.abs(d).max() > 1e6
    e = np.exp(d - d.max(axis=1, keepdims=True))
    np.testing.assert_allclose(m.predict_proba(X.iloc[1::2]), e / e.sum(axis=1, keepdims=True),
                               rtol=0, atol=1e-15)
