"""Per-split classification metrics with the radiogenomics-NB paper's definitions.

With TP, FP, TN, FN counted for the positive class:

- accuracy = (TP + TN) / n
- sensitivity (recall, TPR) = TP / (TP + FN)
- specificity (TNR) = TN / (TN + FP)
- PPV (precision) = TP / (TP + FP)
- NPV = TN / (TN + FN)
- balanced accuracy = (sensitivity + specificity) / 2
- F1 = 2 TP / (2 TP + FP + FN)
- ROC AUC from the positive-class score (``predict_proba`` or ``decision_function``)

A ratio whose denominator is zero (no predicted positives, a test set with one class, ...)
is NaN, never an error and never silently 0; callers count the NaNs.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from scipy.special import logsumexp
from scipy.stats import rankdata

#: metric names in reporting order
METRICS: tuple[str, ...] = (
    "accuracy",
    "balanced_accuracy",
    "f1",
    "sensitivity",
    "specificity",
    "ppv",
    "npv",
    "roc_auc",
    "ece",
)

#: display names used in tables and figures
METRIC_LABELS: dict[str, str] = {
    "accuracy": "Accuracy",
    "balanced_accuracy": "Balanced accuracy",
    "f1": "F1",
    "sensitivity": "Sensitivity",
    "specificity": "Specificity",
    "ppv": "PPV",
    "npv": "NPV",
    "roc_auc": "ROC AUC",
    "ece": "ECE (lower is better)",
}


def _ratio(num: float, den: float) -> float:
    return float(num) / float(den) if den > 0 else float("nan")


def confusion_counts(y_true: Any, y_pred: Any, positive: Any) -> tuple[int, int, int, int]:
    """Return ``(TP, FP, TN, FN)`` for the class ``positive`` (all other labels negative)."""
    t = np.asarray(y_true) == positive
    p = np.asarray(y_pred) == positive
    return (int(np.sum(t & p)), int(np.sum(~t & p)), int(np.sum(~t & ~p)), int(np.sum(t & ~p)))


def roc_auc(y_true: Any, score: Any, positive: Any) -> float:
    r"""Area under the ROC curve, Mann–Whitney form with mid-ranks for ties.

    .. math:: \mathrm{AUC} = \frac{\sum_{i \in P} r_i - n_P (n_P + 1) / 2}{n_P n_N}

    where :math:`r_i` are the mid-ranks of the scores. NaN when the test set holds a single
    class or a score is not finite.
    """
    t = np.asarray(y_true) == positive
    s = np.asarray(score, dtype=np.float64)
    n_pos = int(t.sum())
    n_neg = t.size - n_pos
    if n_pos == 0 or n_neg == 0 or not np.all(np.isfinite(s)):
        return float("nan")
    ranks = rankdata(s)
    return float((ranks[t].sum() - n_pos * (n_pos + 1) / 2.0) / (n_pos * n_neg))


def classification_metrics(
    y_true: Any, y_pred: Any, positive: Any, score: Any | None = None
) -> dict[str, float]:
    """All split metrics as a dict ``name -> value`` (NaN where undefined).

    Parameters
    ----------
    y_true, y_pred : array-like, shape (n_test,)
        True and predicted labels.
    positive : label
        The positive class (sensitivity, PPV, F1 and AUC are computed for it).
    score : array-like, shape (n_test,), optional
        Positive-class score (probability or decision value); without it ROC AUC is NaN.

    Examples
    --------
    >>> m = classification_metrics(["a", "a", "b", "b"], ["a", "b", "b", "b"], positive="a")
    >>> m["sensitivity"], m["specificity"], m["ppv"], m["npv"]
    (0.5, 1.0, 1.0, 0.6666666666666666)
    """
    tp, fp, tn, fn = confusion_counts(y_true, y_pred, positive)
    sens = _ratio(tp, tp + fn)
    spec = _ratio(tn, tn + fp)
    out = {
        "accuracy": _ratio(tp + tn, tp + fp + tn + fn),
        "balanced_accuracy": (sens + spec) / 2.0,  # NaN if either is undefined
        "f1": _ratio(2 * tp, 2 * tp + fp + fn),
        "sensitivity": sens,
        "specificity": spec,
        "ppv": _ratio(tp, tp + fp),
        "npv": _ratio(tn, tn + fn),
        "roc_auc": float("nan") if score is None else roc_auc(y_true, score, positive),
    }
    return out


def positive_scores(estimator: Any, X: Any, positive: Any, **predict_kw: Any) -> np.ndarray | None:
    r"""Ranking score for the positive class (used for ROC AUC).

    Count classifiers (NB, NBLDA, PLDA, nearest shrunken centroids) have discriminant gaps
    of hundreds of log units, so their probabilities round to exactly 0 or 1 and would rank
    as ties. Log-space scores come first:

    1. ``decision_function`` with one column per class (discriminant scores
       :math:`d_{ik}`): :math:`d_{i,pos} - \log\sum_{k \ne pos} e^{d_{ik}}` (the
       log-odds of the posterior when :math:`d` is a log joint likelihood), or a 1-D
       decision value oriented towards the positive class;
    2. ``predict_log_proba``: the same log-odds;
    3. ``predict_proba``: the positive column.

    Returns ``None`` when the estimator has none of them (or ``positive`` is unknown).
    """
    classes = list(getattr(estimator, "classes_", []))
    if positive not in classes:
        return None
    j = classes.index(positive)
    for attr in ("decision_function", "predict_log_proba", "predict_proba"):
        if not hasattr(estimator, attr):
            continue
        try:
            s = np.asarray(getattr(estimator, attr)(X, **predict_kw), dtype=np.float64)
        except (AttributeError, NotImplementedError):
            continue
        if s.ndim == 1 and attr == "decision_function" and len(classes) == 2:
            out = s if j == 1 else -s  # sklearn: positive values favour classes_[1]
        elif s.ndim == 2 and s.shape[1] == len(classes):
            if attr == "predict_proba":
                out = s[:, j]
            else:
                out = s[:, j] - logsumexp(np.delete(s, j, axis=1), axis=1)
        else:
            continue
        if np.isfinite(out).all():
            return out
    return None
