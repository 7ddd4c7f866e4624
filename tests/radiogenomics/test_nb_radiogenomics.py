"""The radiogenomics-NB classifier: simulations with known truth, sklearn contract, bad input."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.base import clone
from sklearn.exceptions import NotFittedError
from sklearn.metrics import accuracy_score, balanced_accuracy_score
from sklearn.model_selection import StratifiedKFold, StratifiedShuffleSplit, cross_val_score
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import FunctionTransformer
from sklearn.utils.estimator_checks import parametrize_with_checks

from radiogenomics import de as de_module
from radiogenomics.classifiers import NBRadiogenomicsClassifier, fit_nb_radiogenomics
from radiogenomics.classifiers._nb_radiogenomics import join_features
from radiogenomics.datasets import simulate_radiogenomic_cohort


@pytest.fixture(scope="module")
def small():
    """A small simulated cohort (known truth), 80 samples x 300 genes, 3 features."""
    return simulate_radiogenomic_cohort(n_samples=80, n_genes=300, n_features=3,
                                        n_informative=15, effect=1.5, random_state=11)


def _split(d, n_train, seed=0):
    sss = StratifiedShuffleSplit(n_splits=1, train_size=n_train, random_state=seed)
    tr, te = next(sss.split(d.counts, d.y))
    return d.counts.index[tr], d.counts.index[te]


# ---------------------------------------------------------------------- known truth
def test_accuracy_close_to_oracle():
    """Test accuracy within 0.03 of the Bayes oracle that knows every true parameter.

    600 training samples, 3000 test samples (the SE of the paired accuracy difference is
    well under 0.01); the model uses as many genes as there are informative genes. The
    quantile filter is off: the default ``quantile=0.25`` drops the informative genes that
    happen to have a low baseline mean (a property of the paper's filter, not of the
    estimator), and the oracle uses them.
    """
    d = simulate_radiogenomic_cohort(n_samples=3600, n_genes=400, n_features=3,
                                     n_informative=10, effect=0.3, slope_effect=0.1,
                                     random_state=2024)
    train, test = _split(d, 600, seed=1)
    clf = fit_nb_radiogenomics(d.counts.loc[train], d.features.loc[train], d.y.loc[train],
                               n_genes=10, quantile=0.0)
    pred = clf.predict(d.counts.loc[test], features=d.features.loc[test])
    acc = accuracy_score(d.y.loc[test], pred)
    oracle = d.oracle_log_proba(d.counts.loc[test]).idxmax(axis=1)
    acc_oracle = accuracy_score(d.y.loc[test], oracle)
    print(f"oracle gap: model {acc:.4f}, oracle {acc_oracle:.4f}, gap {acc_oracle - acc:.4f}, "
          f"genes found {len(set(clf.genes_) & set(d.truth['informative_genes']))}/10")
    assert 0.75 < acc_oracle < 0.95  # neither trivial nor hopeless
    assert abs(acc_oracle - acc) <= 0.03


def test_pure_noise_balanced_accuracy_is_chance():
    """Random labels: mean balanced accuracy over 20 stratified 80/20 splits is 0.50 +- 0.05.

    Each split gets its own random labelling, so the 20 test results are independent and
    the mean has an SD of about 0.02 under the null; a leak from test rows into fitting
    would push it far above 0.55.
    """
    d = simulate_radiogenomic_cohort(n_samples=150, n_genes=200, n_features=2,
                                     n_informative=0, random_state=5)
    rng = np.random.default_rng(5)
    X = join_features(d.counts, d.features)
    clf = NBRadiogenomicsClassifier(n_genes=10, feature_columns=list(d.features.columns))
    scores = []
    for rep in range(20):
        y = pd.Series(rng.permutation(np.resize(["A", "B"], 150)), index=d.counts.index)
        sss = StratifiedShuffleSplit(n_splits=1, test_size=0.2, random_state=rep)
        tr, te = next(sss.split(X, y))
        m = clone(clf).fit(X.iloc[tr], y.iloc[tr])
        scores.append(balanced_accuracy_score(y.iloc[te], m.predict(X.iloc[te])))
    mean = float(np.mean(scores))
    print(f"noise balanced accuracy: mean {mean:.4f} sd {np.std(scores):.4f} over 20 splits")
    assert abs(mean - 0.5) <= 0.05


def test_coefficient_recovery():
    """Class-specific GLM coefficients match the truth (raw feature scale) within a few SE."""
    d = simulate_radiogenomic_cohort(n_samples=1200, n_genes=200, n_features=2,
                                     n_informative=8, effect=1.5, slope_effect=0.5,
                                     dispersion=0.1, random_state=3)
    clf = NBRadiogenomicsClassifier(n_genes=8, alpha=0.0, size_factors="ratio", quantile=0.0)
    clf.fit(d.counts, d.y, features=d.features)
    assert set(clf.genes_) == set(d.truth["informative_genes"])
    mean = clf.feature_mean_.to_numpy()
    scale = clf.feature_scale_.to_numpy()
    for k, c in enumerate(clf.classes_):
        true = d.truth["coef"][c].loc[clf.genes_].to_numpy()  # (G, 1 + p) raw scale
        slope = clf.coef_[k, :, 1:] / scale  # per unit of the raw feature
        intercept = clf.coef_[k, :, 0] - slope @ mean
        slope_se = clf.se_[k, :, 1:] / scale
        z = (slope - true[:, 1:]) / slope_se
        assert np.abs(z).max() < 4.5, z
        np.testing.assert_allclose(slope, true[:, 1:], atol=0.12)
        np.testing.assert_allclose(intercept, true[:, 0], atol=0.1)
        assert (clf.se_[k] > 0).all() and (clf.se_[k] < 0.1).all()
    assert clf.converged_
    # the classic WLEB dispersions ignore the imaging design (as documented), so the
    # class-specific slopes of these genes inflate them above the true 0.1
    assert (clf.dispersion_ > 0.1).all()


def test_shared_slopes_recover_shared_truth():
    """With truly shared slopes, slopes="shared" recovers them and fits one slope per gene."""
    d = simulate_radiogenomic_cohort(n_samples=600, n_genes=200, n_features=2,
                                     n_informative=6, effect=1.5, slope_effect=0.0,
                                     dispersion=0.1, random_state=4)
    clf = NBRadiogenomicsClassifier(n_genes=6, alpha=0.0, slopes="shared",
                                    size_factors="ratio", quantile=0.0).fit(d.counts, d.y, features=d.features)
    np.testing.assert_array_equal(clf.coef_[0, :, 1:], clf.coef_[1, :, 1:])
    slope = clf.coef_[0, :, 1:] / clf.feature_scale_.to_numpy()
    true = d.truth["coef"][clf.classes_[0]].loc[clf.genes_].iloc[:, 1:].to_numpy()
    np.testing.assert_allclose(slope, true, atol=0.06)
    # no imaging effect on these genes: the WLEB dispersions recover the true 0.1
    np.testing.assert_allclose(clf.dispersion_, 0.1, rtol=0.3)


# ---------------------------------------------------------------------- sklearn contract
def test_clone_pipeline_cross_val_score(small):
    cols = list(small.features.columns)
    X = join_features(small.counts, small.features)
    clf = NBRadiogenomicsClassifier(n_genes=5, feature_columns=cols, alpha=0.5)
    c2 = clone(clf)
    assert c2.get_params() == clf.get_params() and c2 is not clf
    pipe = Pipeline([("identity", FunctionTransformer(None)), ("nb", clf)])
    cv = StratifiedKFold(n_splits=4, shuffle=True, random_state=0)
    scores = cross_val_score(pipe, X, small.y, cv=cv)
    assert scores.shape == (4,) and scores.mean() > 0.8
    pipe.set_params(nb__n_genes=3).fit(X, small.y)
    assert len(pipe.named_steps["nb"].genes_) == 3
    proba = pipe.predict_proba(X)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0)
    # feature_columns and features= give the same model
    direct = NBRadiogenomicsClassifier(n_genes=3, alpha=0.5).fit(small.counts, small.y,
                                                                 features=small.features)
    np.testing.assert_allclose(direct.predict_proba(small.counts, features=small.features),
                               proba, rtol=1e-10)
    # ROC AUC scoring goes through decision_function / predict_proba
    auc = cross_val_score(clone(clf), X, small.y, cv=cv, scoring="roc_auc")
    assert auc.mean() > 0.85


def test_predict_methods_consistent(small):
    clf = NBRadiogenomicsClassifier(n_genes=6).fit(small.counts, small.y, features=small.features)
    lp = clf.predict_log_proba(small.counts, features=small.features)
    np.testing.assert_allclose(np.exp(lp), clf.predict_proba(small.counts, features=small.features))
    df = clf.decision_function(small.counts, features=small.features)
    np.testing.assert_allclose(df, lp[:, 1] - lp[:, 0])
    np.testing.assert_array_equal(clf.predict(small.counts, features=small.features),
                                  clf.classes_[(df > 0).astype(int)])
    assert clf.score(small.counts, small.y, features=small.features) > 0.9
    # a test sample's prediction does not depend on the other test samples
    one = clf.predict_proba(small.counts.iloc[[7]], features=small.features.iloc[[7]])
    np.testing.assert_allclose(one[0], clf.predict_proba(small.counts, features=small.features)[7],
                               rtol=1e-12)


def test_three_classes_and_same_seed_identical():
    d = simulate_radiogenomic_cohort(n_samples=90, n_genes=200, n_features=2, n_informative=20,
                                     effect=2.0, classes=("x", "y", "z"), random_state=8)
    a = NBRadiogenomicsClassifier(n_genes=10, de_method="lrt").fit(d.counts, d.y,
                                                                  features=d.features)
    b = NBRadiogenomicsClassifier(n_genes=10, de_method="lrt").fit(d.counts, d.y,
                                                                  features=d.features)
    assert list(a.classes_) == ["x", "y", "z"]
    np.testing.assert_array_equal(a.coef_, b.coef_)
    p = a.predict_proba(d.counts, features=d.features)
    assert p.shape == (90, 3) and a.decision_function(d.counts, features=d.features).shape == (90, 3)
    assert a.score(d.counts, d.y, features=d.features) > 0.8


class _CountsFromContinuous(NBRadiogenomicsClassifier):
    """Test-only adaptor: sklearn's generic checks draw continuous data (blobs, uniforms);
    this subclass turns numeric input into read counts ``rint(10 x) + 1`` (the +1 keeps every
    sample's library size positive) before the real model sees it, so that every contract
    check (fit returns self, pickling, idempotence, sample-order and subset invariance,
    n_features_in_, ...) runs through the real code path. NaN, inf and clearly negative
    values pass through and must still be rejected."""

    def _split_X(self, X, features):
        X, features = super()._split_X(X, features)
        if isinstance(X, pd.DataFrame):
            if all(t.kind in "fiu" for t in X.dtypes):
                return np.rint(10 * X) + 1, features
            return X, features
        try:
            arr = np.asarray(X)
        except Exception:  # noqa: BLE001 - let the real validation report it
            return X, features
        if arr.dtype.kind in "fiu" and arr.ndim == 2:
            with np.errstate(invalid="ignore"):
                return np.rint(10 * arr.astype(float)) + 1, features
        return X, features


_FRACTIONAL = "continuous (fractional) input is not read counts: rejected by design"


def _expected_failed_checks(estimator):
    negative = ("draws negative test values although the estimator is tagged positive_only; "
                "read counts cannot be negative")
    if isinstance(estimator, _CountsFromContinuous):
        return {
            "check_dtype_object": "object-dtype (string) input is not read counts: rejected "
                                  "with 'non-numeric columns', not sklearn's message",
            "check_decision_proba_consistency": negative,
        }
    # the unmodified estimator: sklearn's continuous test data are rejected as non-counts
    names = [
        "check_fit_score_takes_y", "check_estimators_overwrite_params",
        "check_dont_overwrite_parameters", "check_estimators_fit_returns_self",
        "check_readonly_memmap_input", "check_n_features_in_after_fitting",
        "check_estimators_dtypes", "check_pipeline_consistency", "check_estimators_nan_inf",
        "check_estimators_pickle", "check_f_contiguous_array_estimator",
        "check_classifiers_classes", "check_classifiers_train", "check_supervised_y_2d",
        "check_methods_sample_order_invariance", "check_methods_subset_invariance",
        "check_fit2d_1feature", "check_dict_unchanged", "check_fit_idempotent",
        "check_fit_check_is_fitted", "check_n_features_in", "check_fit2d_predict1d",
    ]
    out = dict.fromkeys(names, _FRACTIONAL)
    out["check_dtype_object"] = ("object-dtype (string) input is not read counts: rejected "
                                 "with 'non-numeric columns', not sklearn's message")
    out["check_decision_proba_consistency"] = negative
    return out


@parametrize_with_checks([NBRadiogenomicsClassifier(n_genes=2), _CountsFromContinuous(n_genes=2, de_method="lrt")],
                         expected_failed_checks=_expected_failed_checks)
def test_sklearn_estimator_checks(estimator, check):
    check(estimator)


# ---------------------------------------------------------------------- bad input
def test_nan_features_raise_unless_impute(small):
    F = small.features.copy()
    F.iloc[3, 1] = np.nan
    F.iloc[10, 1] = np.nan
    with pytest.raises(ValueError, match=r"missing values \(NaN\).*'x2'.*S0003") as err:
        NBRadiogenomicsClassifier(n_genes=4).fit(small.counts, small.y, features=F)
    assert "impute='median'" in str(err.value)
    clf = NBRadiogenomicsClassifier(n_genes=4, impute="median").fit(small.counts, small.y,
                                                                    features=F)
    pd.testing.assert_series_equal(clf.impute_values_, F.median(), check_names=False)
    # predict-side NaN: without impute it raises, with impute it uses the training medians
    Ft = small.features.copy()
    Ft.iloc[0, 0] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        NBRadiogenomicsClassifier(n_genes=4).fit(small.counts, small.y, features=small.features
                                                 ).predict(small.counts, features=Ft)
    filled = Ft.fillna(clf.impute_values_)
    np.testing.assert_allclose(clf.predict_proba(small.counts, features=Ft),
                               clf.predict_proba(small.counts, features=filled))


def test_impute_median_fitted_on_training_rows_only(small):
    train, test = _split(small, 60)
    F = small.features.copy()
    F.loc[train[:5], "x1"] = np.nan
    F.loc[test, "x1"] = 1e6  # test rows must not move the medians, means or scales
    clf = NBRadiogenomicsClassifier(n_genes=4, impute="median").fit(
        small.counts.loc[train], small.y.loc[train], features=F.loc[train])
    assert clf.impute_values_["x1"] == pytest.approx(F.loc[train, "x1"].median())
    assert clf.feature_mean_["x1"] == pytest.approx(
        F.loc[train, "x1"].fillna(F.loc[train, "x1"].median()).mean())


def test_misaligned_ids_named(small):
    F = small.features.rename(index={"S0005": "ghost"})
    with pytest.raises(ValueError, match="'S0005'.*'ghost'|'ghost'.*'S0005'"):
        NBRadiogenomicsClassifier(n_genes=4).fit(small.counts, small.y, features=F)
    y = small.y.drop("S0007")
    with pytest.raises(ValueError, match="S0007"):
        NBRadiogenomicsClassifier(n_genes=4).fit(small.counts, y, features=small.features)
    clf = NBRadiogenomicsClassifier(n_genes=4).fit(small.counts, small.y, features=small.features)
    with pytest.raises(ValueError, match="ghost"):
        clf.predict(small.counts, features=F)
    # shuffled but matching ids are aligned, not taken positionally
    perm = small.features.sample(frac=1.0, random_state=0)
    np.testing.assert_allclose(clf.predict_proba(small.counts, features=perm),
                               clf.predict_proba(small.counts, features=small.features))


def test_class_with_fewer_than_two_samples(small):
    y = small.y.copy()
    y.iloc[0] = "C"
    with pytest.raises(ValueError, match="fewer than 2 samples.*'C': 1"):
        NBRadiogenomicsClassifier(n_genes=4).fit(small.counts, y, features=small.features)
    with pytest.raises(ValueError, match="one class"):
        NBRadiogenomicsClassifier(n_genes=4).fit(small.counts, pd.Series("A", index=y.index))


@pytest.mark.parametrize("param, value, match", [
    ("de_method", "wilcoxon", "de_method must be one of"),
    ("size_factors", "upper", "size-factor method must be one of"),
    ("slopes", "both", "slopes must be"),
    ("priors", "flat", "priors must be"),
    ("priors", [0.5, 0.2, 0.3], "priors must be 2 positive numbers"),
    ("n_genes", 0, "n_genes must be a positive integer"),
    ("alpha", -1.0, "alpha must be"),
    ("dispersion", "mle", "dispersion must be"),
    ("impute", "mean", "impute must be"),
    ("quantile", 1.0, "quantile must lie"),
])
def test_bad_parameters(small, param, value, match):
    clf = NBRadiogenomicsClassifier(**{"n_genes": 4, param: value})
    with pytest.raises(ValueError, match=match):
        clf.fit(small.counts, small.y, features=small.features)


@pytest.mark.parametrize("value, match", [(-1, "negative"), (2.5, "fractional"),
                                          (np.nan, "NaN"), (np.inf, "infinite")])
def test_bad_counts(small, value, match):
    c = small.counts.astype(float)
    c.iloc[4, 9] = value
    with pytest.raises(ValueError, match=match) as err:
        NBRadiogenomicsClassifier(n_genes=4).fit(c, small.y, features=small.features)
    assert "S0004" in str(err.value) and "gene_00009" in str(err.value)


def test_predict_before_fit_and_missing_inputs(small):
    clf = NBRadiogenomicsClassifier()
    for method in ("predict", "predict_proba", "predict_log_proba", "decision_function"):
        with pytest.raises(NotFittedError):
            getattr(clf, method)(small.counts, features=small.features)
    with pytest.raises(NotFittedError):
        clf.summary()
    clf.fit(small.counts, small.y, features=small.features)
    with pytest.raises(ValueError, match="fitted with imaging features"):
        clf.predict(small.counts)
    with pytest.raises(ValueError, match="lack the training columns.*'x3'"):
        clf.predict(small.counts, features=small.features.drop(columns="x3"))
    with pytest.raises(ValueError, match="training genes"):
        clf.predict(small.counts.drop(columns=clf.genes_[0]), features=small.features)
    with pytest.raises(ValueError, match="feature names clash"):
        join_features(small.counts, small.features.rename(columns={"x1": "gene_00000"}))
    both = NBRadiogenomicsClassifier(feature_columns=["x1"])
    with pytest.raises(ValueError, match="not both"):
        both.fit(join_features(small.counts, small.features), small.y, features=small.features)


# ---------------------------------------------------------------------- options
@pytest.mark.parametrize("params", [
    {"slopes": "shared"},
    {"priors": "empirical"},
    {"priors": [0.3, 0.7]},
    {"alpha": 10.0},
    {"alpha": 0.0},
    {"de_method": "lrt"},
    {"de_method": "deseq2"},
    {"size_factors": "ratio"},
    {"size_factors": "tmm"},
    {"dispersion": "glm"},
    {"dispersion": 0.2},
    {"quantile": 0.0},
], ids=lambda p: "-".join(f"{k}={v}" for k, v in p.items()))
def test_options_run(small, params):
    train, test = _split(small, 60)
    clf = fit_nb_radiogenomics(small.counts.loc[train], small.features.loc[train],
                               small.y.loc[train], n_genes=6, **params)
    p = clf.predict_proba(small.counts.loc[test], features=small.features.loc[test])
    assert p.shape == (len(test), 2) and np.isfinite(p).all()
    assert np.all(np.isfinite(clf.coef_)) and np.all(np.isfinite(clf.se_))
    assert accuracy_score(small.y.loc[test],
                          clf.predict(small.counts.loc[test], features=small.features.loc[test])
                          ) >= 0.7
    assert len(clf.summary()) > 0


def test_priors_and_ridge_act(small):
    base = NBRadiogenomicsClassifier(n_genes=6).fit(small.counts, small.y, features=small.features)
    emp = NBRadiogenomicsClassifier(n_genes=6, priors=[0.9, 0.1]).fit(
        small.counts, small.y, features=small.features)
    np.testing.assert_allclose(np.exp(emp.class_log_prior_), [0.9, 0.1])
    shift = (emp.decision_function(small.counts, features=small.features)
             - base.decision_function(small.counts, features=small.features))
    np.testing.assert_allclose(shift, np.log(0.1 / 0.9), rtol=1e-8)
    # alpha is the ridge on the slopes of the paper's class fits ...
    paper = dict(shrinkage=None, feature_transform=None)
    ridge = NBRadiogenomicsClassifier(n_genes=6, alpha=1e4, **paper).fit(
        small.counts, small.y, features=small.features)
    free = NBRadiogenomicsClassifier(n_genes=6, **paper).fit(
        small.counts, small.y, features=small.features)
    assert np.abs(ridge.coef_[:, :, 1:]).max() < 0.02 < np.abs(free.coef_[:, :, 1:]).max()
    # ... and of the pooled fit under shrinkage: the class slopes are then the (prior-shrunk)
    # class deviations alone
    pooled = NBRadiogenomicsClassifier(n_genes=6, alpha=1e4).fit(
        small.counts, small.y, features=small.features)
    mean_slope = np.abs(pooled.coef_[:, :, 1:].mean(axis=0)).max()
    assert mean_slope < np.abs(base.coef_[:, :, 1:].mean(axis=0)).max()


def test_genes_only_without_features(small):
    clf = NBRadiogenomicsClassifier(n_genes=5).fit(small.counts, small.y)
    assert clf.coef_.shape == (2, 5, 1) and len(clf.imaging_features_) == 0
    assert clf.score(small.counts, small.y) > 0.9
    s = clf.summary()
    assert set(s["term"]) == {"intercept"}


# ---------------------------------------------------------------------- summary
def test_summary_contents(small):
    clf = NBRadiogenomicsClassifier(n_genes=5).fit(small.counts, small.y, features=small.features)
    s = clf.summary()
    assert {"gene", "rank", "class", "term", "coef", "se", "z", "dispersion",
            "de_logFC", "de_pvalue"} <= set(s.columns)
    assert len(s) == 2 * 5 * 4
    assert list(pd.unique(s["gene"])) == list(clf.genes_)
    assert set(s["term"]) == {"intercept", "x1", "x2", "x3"}
    assert (s["se"] > 0).all() and np.isfinite(s["z"]).all()
    row = s[(s.gene == clf.genes_[1]) & (s["class"] == clf.classes_[1]) & (s.term == "x2")]
    assert row["coef"].item() == clf.coef_[1, 1, 2]
    assert row["se"].item() == clf.se_[1, 1, 2]
    assert row["dispersion"].item() == clf.dispersion_.iloc[1]
    # de p-values increase with rank
    assert s.groupby("rank")["de_pvalue"].first().is_monotonic_increasing
    shared = NBRadiogenomicsClassifier(n_genes=5, slopes="shared").fit(
        small.counts, small.y, features=small.features).summary()
    assert len(shared) == 5 * (2 + 3)
    assert set(shared.loc[shared.term != "intercept", "class"]) == {"(shared)"}


# ---------------------------------------------------------------------- no leakage
def test_gene_selection_sees_training_rows_only(small, monkeypatch):
    seen = []
    real_fit = de_module.DEGeneSelector.fit

    def spy(self, X, y):
        seen.append(pd.Index(X.index))
        return real_fit(self, X, y)

    monkeypatch.setattr(de_module.DEGeneSelector, "fit", spy)
    X = join_features(small.counts, small.features)
    cv = StratifiedKFold(n_splits=4, shuffle=True, random_state=1)
    clf = NBRadiogenomicsClassifier(n_genes=5, feature_columns=list(small.features.columns))
    cross_val_score(clf, X, small.y, cv=cv)
    folds = list(cv.split(X, small.y))
    assert len(seen) == len(folds)
    for idx, (tr, te) in zip(seen, folds, strict=True):
        assert set(idx) == set(X.index[tr])
        assert not set(idx) & set(X.index[te])


def test_fit_ignores_test_rows(small):
    """A model fitted on training rows is the same whatever the test rows contain."""
    train, test = _split(small, 60)
    a = NBRadiogenomicsClassifier(n_genes=5).fit(small.counts.loc[train], small.y.loc[train],
                                                 features=small.features.loc[train])
    counts = small.counts.copy()
    counts.loc[test] = counts.loc[test].to_numpy()[::-1] * 3  # scramble the test rows
    b = NBRadiogenomicsClassifier(n_genes=5).fit(counts.loc[train], small.y.loc[train],
                                                 features=small.features.loc[train])
    assert list(a.genes_) == list(b.genes_)
    # equal up to BLAS rounding (the memory layout of the two training frames differs)
    np.testing.assert_allclose(a.coef_, b.coef_, rtol=1e-12, atol=1e-12)
    # each test sample's size factor uses the training reference only
    sf_all = a.size_factors_.transform(small.counts.loc[test])
    sf_one = a.size_factors_.transform(small.counts.loc[test[:1]])
    assert sf_one.iloc[0] == pytest.approx(sf_all.iloc[0], rel=1e-14)


def test_anndata_input(small):
    anndata = pytest.importorskip("anndata")
    ad = anndata.AnnData(small.counts.to_numpy(dtype=float))
    ad.obs_names = list(small.counts.index)
    ad.var_names = list(small.counts.columns)
    a = NBRadiogenomicsClassifier(n_genes=5).fit(ad, small.y, features=small.features)
    b = NBRadiogenomicsClassifier(n_genes=5).fit(small.counts, small.y, features=small.features)
    np.testing.assert_allclose(a.predict_proba(ad, features=small.features),
                               b.predict_proba(small.counts, features=small.features))
