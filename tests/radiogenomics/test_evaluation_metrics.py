"""Split metrics against scikit-learn on hand cases, including the undefined (NaN) cases."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn import metrics as skm

from radiogenomics.evaluation import classification_metrics, confusion_counts, roc_auc
from radiogenomics.evaluation._metrics import positive_scores

CASES = [
    # y_true, y_pred, score (for positive "M")
    (list("MMMWWW"), list("MMWWWM"), [0.9, 0.8, 0.3, 0.2, 0.1, 0.7]),
    (list("MWWWWWWM"), list("MWWWMWWW"), [0.9, 0.2, 0.2, 0.1, 0.6, 0.3, 0.2, 0.4]),
    # no predicted negatives: NPV undefined (NaN in both)
    (list("WWMMMMMW"), list("MMMMMMMM"), [0.5, 0.5, 0.5, 0.9, 0.1, 0.5, 0.7, 0.2]),
]


@pytest.mark.parametrize("y_true,y_pred,score", CASES)
def test_against_sklearn(y_true, y_pred, score):
    m = classification_metrics(y_true, y_pred, "M", score)
    yt = np.array(y_true) == "M"
    yp = np.array(y_pred) == "M"
    assert m["accuracy"] == pytest.approx(skm.accuracy_score(yt, yp))
    assert m["balanced_accuracy"] == pytest.approx(skm.balanced_accuracy_score(yt, yp))
    zd = {"zero_division": np.nan}  # sklearn's NaN convention for undefined ratios = ours
    assert m["f1"] == pytest.approx(skm.f1_score(yt, yp, **zd), nan_ok=True)
    assert m["sensitivity"] == pytest.approx(skm.recall_score(yt, yp, **zd), nan_ok=True)
    assert m["specificity"] == pytest.approx(skm.recall_score(~yt, ~yp, **zd), nan_ok=True)
    assert m["ppv"] == pytest.approx(skm.precision_score(yt, yp, **zd), nan_ok=True)
    assert m["npv"] == pytest.approx(skm.precision_score(~yt, ~yp, **zd), nan_ok=True)
    assert m["roc_auc"] == pytest.approx(skm.roc_auc_score(yt, score))


def test_hand_values():
    # TP=2, FN=1, TN=2, FP=1
    y_true, y_pred = list("MMMWWW"), list("MMWWWM")
    assert confusion_counts(y_true, y_pred, "M") == (2, 1, 2, 1)
    m = classification_metrics(y_true, y_pred, "M")
    assert m["sensitivity"] == m["specificity"] == m["ppv"] == m["npv"] == pytest.approx(2 / 3)
    assert m["f1"] == pytest.approx(4 / 6)
    assert np.isnan(m["roc_auc"])  # no score given
    # the other class as positive swaps sensitivity/specificity and PPV/NPV
    w = classification_metrics(y_true, y_pred, "W")
    assert w["sensitivity"] == m["specificity"] and w["ppv"] == m["npv"]


def test_undefined_values_are_nan_not_errors():
    # no predicted positives: PPV undefined (sklearn: 0 with a warning; we: NaN)
    m = classification_metrics(list("MMWW"), list("WWWW"), "M", [0.1, 0.2, 0.3, 0.4])
    assert np.isnan(m["ppv"])
    assert m["sensitivity"] == 0.0 and m["f1"] == 0.0 and m["npv"] == 0.5
    assert m["roc_auc"] == 0.0
    assert np.isnan(skm.precision_score([1, 1, 0, 0], [0, 0, 0, 0], zero_division=np.nan))
    # a test set with a single class: sensitivity, balanced accuracy, AUC undefined
    m = classification_metrics(list("WWW"), list("WMW"), "M", [0.2, 0.9, 0.1])
    assert np.isnan(m["sensitivity"]) and np.isnan(m["balanced_accuracy"]) and np.isnan(m["roc_auc"])
    assert m["specificity"] == pytest.approx(2 / 3) and m["ppv"] == 0.0 and m["f1"] == 0.0
    # no positives anywhere: F1 undefined
    m = classification_metrics(list("WW"), list("WW"), "M")
    assert np.isnan(m["f1"]) and m["accuracy"] == 1.0
    # non-finite scores: AUC NaN
    assert np.isnan(roc_auc(list("MW"), [np.nan, 0.1], "M"))


def test_auc_ties_match_sklearn():
    y = np.array([1, 1, 0, 0, 1, 0])
    s = np.array([0.5, 0.5, 0.5, 0.2, 0.8, 0.8])
    assert roc_auc(y, s, 1) == pytest.approx(skm.roc_auc_score(y, s))


def test_positive_scores_from_proba_and_decision():
    from sklearn.linear_model import LogisticRegression
    from sklearn.svm import LinearSVC

    X = np.array([[0.0], [1.0], [2.0], [3.0]])
    y = np.array(["M", "M", "W", "W"])
    lr = LogisticRegression().fit(X, y)
    # log-space first: the 1-D decision value is the log-odds of classes_[1]
    np.testing.assert_allclose(positive_scores(lr, X, "M"), -lr.decision_function(X))
    np.testing.assert_allclose(positive_scores(lr, X, "M"),
                               np.log(lr.predict_proba(X)[:, 0] / lr.predict_proba(X)[:, 1]))
    svc = LinearSVC().fit(X, y)
    np.testing.assert_allclose(positive_scores(svc, X, "M"), -svc.decision_function(X))
    np.testing.assert_allclose(positive_scores(svc, X, "W"), svc.decision_function(X))


def test_positive_scores_rank_saturated_discriminants():
    """Discriminant gaps of thousands of log units give probabilities of exactly 0/1: the
    score must still rank the samples (log-odds), so ROC AUC is not computed on ties."""

    class Saturated:
        classes_ = np.array(["codel", "non-codel"])

        def decision_function(self, X):
            d = np.asarray(X, dtype=float)[:, 0]
            return np.column_stack([-5e6 + d, -5e6 - d])

        def predict_proba(self, X):
            d = self.decision_function(X)
            e = np.exp(d - d.max(axis=1, keepdims=True))
            return e / e.sum(axis=1, keepdims=True)

    X = np.array([[3000.0], [1000.0], [-1000.0], [-2000.0]])
    est = Saturated()
    assert set(est.predict_proba(X)[:, 0]) <= {0.0, 1.0}  # the premise: saturated
    s = positive_scores(est, X, "codel")
    np.testing.assert_allclose(s, 2 * X[:, 0])
    np.testing.assert_allclose(positive_scores(est, X, "non-codel"), -2 * X[:, 0])
