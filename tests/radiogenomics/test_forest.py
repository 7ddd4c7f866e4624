"""The numba random forest (``radiogenomics.classifiers._forest``) against scikit-learn.

- closed reference: one tree without bootstrap and with ``max_features = p`` is the CART tree
  of :class:`~sklearn.tree.DecisionTreeClassifier` (same predictions, leaves, node arrays);
- exact replication: with the same ``random_state`` every tree, probability and importance
  equals :class:`~sklearn.ensemble.RandomForestClassifier`'s (scikit-learn 1.9, whose
  bootstrap draws, feature draws and sort the forest reproduces);
- statistical equivalence with independent seeds (accuracy, AUC, importance ranking);
- class weights, reproducibility, input checks;
- RFGenomics / RFRadiogenomics: both backends give the same tuning and forest, and the
  tuned numba forest is at chance on pure noise.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import sklearn
from baseline_helpers import nb_noise, noise_balanced_accuracy
from scipy.stats import rankdata
from sklearn.datasets import make_classification
from sklearn.ensemble import RandomForestClassifier
from sklearn.metrics import accuracy_score, balanced_accuracy_score, roc_auc_score
from sklearn.tree import DecisionTreeClassifier

from radiogenomics.classifiers import RFGenomics, RFRadiogenomics
from radiogenomics.classifiers._forest import (
    FittedForest,
    fit_forest,
    resolve_max_features,
    tree_seeds,
)
from radiogenomics.classifiers._rf import _fast_score

SK_VERSION = tuple(int(v) for v in sklearn.__version__.split(".")[:2])
# scikit-learn 1.9 draws weighted bootstraps (class weights as sampling weights); the exact
# tree-by-tree comparison targets that version's algorithm and random streams.
needs_sklearn_19 = pytest.mark.skipif(SK_VERSION < (1, 9),
                                      reason="exact replication targets scikit-learn >= 1.9")
NODE_ARRAYS = ("children_left", "children_right", "feature", "threshold", "impurity",
               "weighted_n_node_samples", "n_node_samples")


@pytest.fixture(scope="module", autouse=True)
def _compiled():
    """Compile (or load from the numba cache) once, before the tests."""
    fit_forest(np.arange(12.0).reshape(6, 2), [0, 1] * 3, n_estimators=2, random_state=0)


def _dataset(seed: int, kind: str):
    """Random classification data: continuous, log counts (many ties) or small integers."""
    rng = np.random.default_rng(seed)
    n = int(rng.integers(25, 70))
    p = int(rng.integers(2, 13))
    if kind == "normal":
        X = rng.normal(size=(n + 40, p))
    elif kind == "counts":
        X = np.log2(rng.negative_binomial(3, 0.3, size=(n + 40, p)) + 1.0)
    else:
        X = rng.integers(0, 4, size=(n + 40, p)).astype(float)
    k = 2 if seed % 3 else 3
    signal = X[:, 0] + 0.5 * X[:, min(1, p - 1)] + rng.normal(0, 1, n + 40)
    y = np.digitize(signal, np.quantile(signal, np.linspace(0, 1, k + 1)[1:-1]))
    return X[:n], y[:n], X[n:]


def _assert_same_tree(tree: dict, sk_tree) -> None:
    for name in NODE_ARRAYS:
        np.testing.assert_array_equal(tree[name], getattr(sk_tree, name), err_msg=name)
    np.testing.assert_array_equal(tree["value"], sk_tree.value[:, 0, :])


# --------------------------------------------------------------------- closed reference
@pytest.mark.parametrize("min_samples_leaf", [1, 3])
@pytest.mark.parametrize("seed", range(6))
def test_one_tree_without_bootstrap_is_sklearns_cart_tree(seed, min_samples_leaf):
    """bootstrap off, max_features = p: the tree is DecisionTreeClassifier(max_features=None)
    seeded with the forest's tree seed (the seed only orders the features, which decides
    between equally good splits)."""
    X, y, Xtest = _dataset(seed, "normal")
    forest = fit_forest(X, y, n_estimators=1, max_features=None, bootstrap=False,
                        min_samples_leaf=min_samples_leaf, random_state=seed)
    dt = DecisionTreeClassifier(max_features=None, min_samples_leaf=min_samples_leaf,
                                random_state=int(tree_seeds(seed, 1)[0])).fit(X, y)
    np.testing.assert_array_equal(forest.predict(Xtest), dt.predict(Xtest))
    np.testing.assert_array_equal(forest.predict_proba(Xtest), dt.predict_proba(Xtest))
    assert forest.n_leaves[0] == dt.get_n_leaves()
    _assert_same_tree(forest.tree(0), dt.tree_)
    if min_samples_leaf == 1:  # grown to purity: the training data are fitted
        np.testing.assert_array_equal(forest.predict(X), y)
    else:
        leaves = forest.tree(0)["children_left"] == -1
        assert forest.tree(0)["n_node_samples"][leaves].min() >= min_samples_leaf


def test_cart_tree_on_tied_values_and_by_hand():
    """Midpoint thresholds, best Gini split first, tied values never separated."""
    X = np.array([[0.0], [0.0], [1.0], [1.0], [3.0], [3.0]])
    y = np.array([0, 1, 0, 0, 1, 1])
    forest = fit_forest(X, y, n_estimators=1, max_features=None, bootstrap=False,
                        random_state=0)
    t = forest.tree(0)
    # root: 2.0 leaves {0, 1, 0, 0} | {1, 1} (weighted Gini 1.5) beats 0.5 (3.0)
    assert t["threshold"][0] == 2.0
    assert sorted(t["threshold"][t["children_left"] != -1]) == [0.5, 2.0]
    assert forest.n_leaves[0] == 3
    np.testing.assert_array_equal(forest.predict_proba([[0.0], [1.0], [3.0]]),
                                  [[0.5, 0.5], [1.0, 0.0], [0.0, 1.0]])
    np.testing.assert_array_equal(forest.predict([[-5.0], [0.7], [9.0]]), [0, 0, 1])


# ------------------------------------------------------------------ exact replication
@needs_sklearn_19
@pytest.mark.parametrize("kind", ["normal", "counts", "integers"])
@pytest.mark.parametrize("params", [
    {},
    {"max_features": None, "min_samples_leaf": 3},
    {"max_features": 1, "class_weight": "balanced"},
    {"class_weight": "balanced_subsample"},
    {"bootstrap": False, "class_weight": "balanced", "max_features": 0.5},
    {"class_weight": {0: 1.0, 1: 3.0, 2: 0.5}, "min_samples_leaf": 2},
])
def test_forest_equals_sklearn_tree_by_tree(kind, params):
    X, y, Xtest = _dataset(7 + len(params), kind)
    kw = {"n_estimators": 25, "random_state": 3, **params}
    sk = RandomForestClassifier(**kw).fit(X, y)
    forest = fit_forest(X, y, **kw)
    assert forest.n_estimators == 25
    for t, est in enumerate(sk.estimators_):
        _assert_same_tree(forest.tree(t), est.tree_)
    np.testing.assert_array_equal(forest.predict_proba(Xtest), sk.predict_proba(Xtest))
    np.testing.assert_array_equal(forest.predict(Xtest), sk.predict(Xtest))
    np.testing.assert_array_equal(forest.feature_importances_, sk.feature_importances_)
    np.testing.assert_array_equal(forest.classes_, sk.classes_)


# ------------------------------------------------------------- statistical equivalence
def test_statistically_equivalent_to_sklearn_with_independent_seeds():
    """30 simulated problems (50 train / 500 test, 3 informative of 10 features): the two
    implementations with *unrelated* seeds agree on mean test accuracy and AUC within 0.02,
    rank the informative features first and give the same mean importances (within 0.03).

    The paired per-problem differences come from the forests' randomness only; their SD is
    about 0.013 (accuracy) and 0.015 (AUC) with 50 trees, so the mean of 30 has a standard
    error of about 0.003 and 0.02 is more than 6 standard errors; an algorithmic difference
    (no bootstrap, wrong mtry, hard voting) moves the mean by several points. A feature's
    importance varies by about 0.04 between problems, so the mean importances of 30 problems
    differ by about 0.01 at most by chance.
    """
    d_acc, d_auc, imp_n, imp_s = [], [], [], []
    for s in range(30):
        X, y = make_classification(n_samples=550, n_features=10, n_informative=3,
                                   n_redundant=0, shuffle=False, flip_y=0.05,
                                   class_sep=0.8, random_state=s)
        perm = np.random.default_rng(s).permutation(len(y))
        X, y = X[perm], y[perm]
        Xtr, ytr, Xte, yte = X[:50], y[:50], X[50:], y[50:]
        nf = fit_forest(Xtr, ytr, n_estimators=50, random_state=s)
        sk = RandomForestClassifier(n_estimators=50, random_state=10_000 + s).fit(Xtr, ytr)
        d_acc.append(accuracy_score(yte, nf.predict(Xte)) - accuracy_score(yte, sk.predict(Xte)))
        d_auc.append(roc_auc_score(yte, nf.predict_proba(Xte)[:, 1])
                     - roc_auc_score(yte, sk.predict_proba(Xte)[:, 1]))
        imp_n.append(nf.feature_importances_)
        imp_s.append(sk.feature_importances_)
    assert abs(np.mean(d_acc)) < 0.02, np.mean(d_acc)
    assert abs(np.mean(d_auc)) < 0.02, np.mean(d_auc)
    mean_n, mean_s = np.mean(imp_n, axis=0), np.mean(imp_s, axis=0)
    assert set(np.argsort(-mean_n)[:3]) == {0, 1, 2}
    assert set(np.argsort(-mean_s)[:3]) == {0, 1, 2}
    assert np.abs(mean_n - mean_s).max() < 0.03, (mean_n, mean_s)
    np.testing.assert_allclose(np.sum(imp_n, axis=1), 1.0)


# -------------------------------------------------------------------- class weights
def test_balanced_class_weight_raises_minority_recall_like_sklearn():
    """80/20 labels with weak signal: 'balanced' raises the recall of the minority class,
    in both implementations, summed over 15 problems."""
    recall = {}
    for impl in ("numba", "sklearn"):
        for cw in (None, "balanced"):
            hits = total = 0
            for s in range(15):
                X, y = make_classification(n_samples=400, n_features=6, n_informative=2,
                                           n_redundant=0, weights=[0.8], class_sep=0.5,
                                           flip_y=0.05, random_state=s)
                Xtr, ytr, Xte, yte = X[:60], y[:60], X[60:], y[60:]
                if impl == "numba":
                    pred = fit_forest(Xtr, ytr, n_estimators=50, class_weight=cw,
                                      min_samples_leaf=3, random_state=s).predict(Xte)
                else:
                    pred = RandomForestClassifier(n_estimators=50, class_weight=cw,
                                                  min_samples_leaf=3,
                                                  random_state=s).fit(Xtr, ytr).predict(Xte)
                hits += int(np.sum((pred == 1) & (yte == 1)))
                total += int(np.sum(yte == 1))
            recall[impl, cw] = hits / total
    assert recall["numba", "balanced"] > recall["numba", None] + 0.05, recall
    assert recall["sklearn", "balanced"] > recall["sklearn", None] + 0.05, recall


# ------------------------------------------------------------------ reproducibility
def test_same_seed_same_forest_different_seed_different():
    X, y, Xtest = _dataset(1, "counts")
    a = fit_forest(X, y, n_estimators=30, random_state=5).predict_proba(Xtest)
    b = fit_forest(X, y, n_estimators=30, random_state=5).predict_proba(Xtest)
    c = fit_forest(X, y, n_estimators=30, random_state=6).predict_proba(Xtest)
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, c)
    # a RandomState is advanced, as scikit-learn's forests do
    rs = np.random.RandomState(5)
    np.testing.assert_array_equal(fit_forest(X, y, n_estimators=30, random_state=rs)
                                  .predict_proba(Xtest), a)
    assert not np.array_equal(fit_forest(X, y, n_estimators=30, random_state=rs)
                              .predict_proba(Xtest), a)
    assert tree_seeds(0, 3).tolist() == [int(v) for v in
                                         np.random.RandomState(0).randint(2**31 - 1, size=3)]


# ----------------------------------------------------------------------- API checks
def test_fitted_forest_api_and_input_checks():
    X, y, Xtest = _dataset(2, "normal")
    labels = np.array(["lo", "mid", "hi"])[y]
    forest = fit_forest(X, labels, n_estimators=10, random_state=0)
    assert isinstance(forest, FittedForest)
    assert list(forest.classes_) == sorted(set(labels))
    proba = forest.predict_proba(Xtest)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0)
    assert set(forest.predict(Xtest)) <= set(labels)
    assert forest.node_counts.sum() == len(forest.feature)
    assert forest.max_features_ == resolve_max_features("sqrt", X.shape[1])
    assert resolve_max_features("log2", 10) == 3 and resolve_max_features(0.25, 10) == 2
    with pytest.raises(ValueError, match="max_features"):
        fit_forest(X, y, max_features=X.shape[1] + 1)
    with pytest.raises(ValueError, match="max_features"):
        fit_forest(X, y, max_features="third")
    with pytest.raises(ValueError, match="min_samples_leaf"):
        fit_forest(X, y, min_samples_leaf=0)
    with pytest.raises(ValueError, match="class_weight"):
        fit_forest(X, y, class_weight="balance")
    bad = X.copy()
    bad[0, 0] = np.nan
    with pytest.raises(ValueError, match="missing"):
        fit_forest(bad, y)
    with pytest.raises(ValueError, match="columns"):
        forest.predict_proba(Xtest[:, :-1])
    # one class: every tree is a root leaf, probabilities 1, importances zero
    single = fit_forest(X, np.zeros(len(X)), n_estimators=3, random_state=0)
    np.testing.assert_array_equal(single.predict_proba(Xtest), 1.0)
    np.testing.assert_array_equal(single.feature_importances_, 0.0)


def test_fast_scores_equal_sklearn_metrics():
    """The inner CV computes accuracy and balanced accuracy directly: the same numbers."""
    rng = np.random.default_rng(0)
    X, y, _ = _dataset(4, "normal")
    labels = np.array(["a", "b", "c"])[y]
    for s in range(20):
        tr = rng.permutation(len(y))[: len(y) // 2]
        forest = fit_forest(X[tr], labels[tr], n_estimators=5, random_state=s)
        te = np.setdiff1d(np.arange(len(y)), tr)
        pred = forest.predict(X[te])
        assert _fast_score("accuracy", forest, X[te], labels[te]) == accuracy_score(
            labels[te], pred)
        assert _fast_score("balanced_accuracy", forest, X[te], labels[te]) == \
            balanced_accuracy_score(labels[te], pred)
    assert _fast_score("roc_auc", forest, X[te], labels[te]) is None


# -------------------------------------------------------------- RFGenomics backends
@needs_sklearn_19
@pytest.mark.parametrize("kw", [
    {},
    {"scoring": "balanced_accuracy", "class_weight": "balanced", "min_samples_leaf": [1, 3]},
])
def test_rf_backends_give_the_same_fit(kw):
    counts, y = nb_noise(n=50, p=60, seed=4)
    rng = np.random.default_rng(4)
    feats = pd.DataFrame({"vol": (y == "b").to_numpy() + rng.normal(0, 0.8, 50),
                          "ratio": rng.normal(size=50)}, index=counts.index)
    common = {"n_genes": 8, "n_estimators": 40, "tune_n_estimators": 10, "cv": 3,
              "random_state": 1, **kw}
    for cls, fit_kw, pred_kw in ((RFGenomics, {}, {}),
                                 (RFRadiogenomics, {"features": feats.iloc[:40]},
                                  {"features": feats.iloc[40:]})):
        fits = {b: cls(backend=b, **common).fit(counts.iloc[:40], y.iloc[:40], **fit_kw)
                for b in ("numba", "sklearn")}
        a, b = fits["numba"], fits["sklearn"]
        assert isinstance(a.forest_, FittedForest)
        assert isinstance(b.forest_, RandomForestClassifier)
        pd.testing.assert_frame_equal(a.cv_results_, b.cv_results_)
        assert a.best_params_ == b.best_params_
        np.testing.assert_array_equal(a.predict_proba(counts.iloc[40:], **pred_kw),
                                      b.predict_proba(counts.iloc[40:], **pred_kw))
        pd.testing.assert_series_equal(a.feature_importances_, b.feature_importances_)
        pd.testing.assert_frame_equal(a.summary(), b.summary())


def test_rf_best_is_first_best_mean_in_grid_order():
    counts, y = nb_noise(n=40, p=40, seed=9)
    m = RFGenomics(n_genes=6, n_estimators=20, tune_n_estimators=10, cv=3,
                   min_samples_leaf=[1, 2], random_state=0).fit(counts, y)
    res = m.cv_results_
    assert list(res.columns[:2]) == ["max_features", "min_samples_leaf"]
    first = int(np.argmin(rankdata(-res["mean_score"].to_numpy(), method="min")))
    assert m.best_params_ == {k: res.loc[first, k] for k in ("max_features",
                                                             "min_samples_leaf")}
    with pytest.raises(ValueError, match="backend"):
        RFGenomics(backend="cuda").fit(counts, y)


def test_tuned_numba_rf_is_at_chance_on_noise():
    """Pure-noise labels, 20 independent stratified 80/20 splits, the default (tuned,
    numba, nested: every inner fold selects its genes) RFGenomics: mean balanced accuracy
    0.50 +- 0.05 (300 genes and 3 inner folds keep the 20 x 4 gene selections short)."""
    est = RFGenomics(n_genes=10, cv=3, random_state=0)
    assert est.backend == "numba"
    bacc = noise_balanced_accuracy(est, p=300)
    assert abs(bacc.mean() - 0.5) <= 0.05, bacc
