r"""Probability calibration: calibrators fitted by inner cross-validation, ECE, reliability.

The radiogenomics-NB posterior sums per-gene log-likelihoods as if genes were independent,
so on real counts it is overconfident (its log-odds run to hundreds of units). A calibrator
maps the classifier's log posteriors :math:`\ell_{ic}` to probabilities, fitted on
out-of-fold predictions of the training split (every inner fold refits the whole
classifier, gene selection included, on its own training part):

- ``"temperature"`` (Guo et al. 2017): :math:`p_{ic} \propto \exp(\ell_{ic} / T)` with
  :math:`T > 0` minimising the out-of-fold log loss. It keeps the ranking and the
  predicted class.
- ``"platt"`` (Platt 1999, on the log posteriors): :math:`p_{ic} \propto
  \exp(\ell_{ic} / T + b_c)`, :math:`b_1 = 0`; for two classes the logistic regression
  :math:`\sigma(a\,d_i + b)` of the class on the log-odds :math:`d_i`. The bias corrects
  a model whose equal priors do not match the class balance; keeps the ranking.
- ``"isotonic"`` (Zadrozny & Elkan 2002): a monotone map of the log-odds (two classes), or
  of each class's log posterior one-vs-rest and renormalised (more classes).
"""

from __future__ import annotations

import numpy as np
from scipy.optimize import minimize_scalar
from scipy.special import log_softmax

CALIBRATION_METHODS = (None, "temperature", "platt", "isotonic")
_EPS = 1e-6


class Calibrator:
    """Map log posteriors ``(n, K)`` to calibrated log probabilities.

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> true = rng.normal(size=2000); y = (rng.random(2000) < 1 / (1 + np.exp(-true))).astype(int)
    >>> lp = log_softmax(np.column_stack([np.zeros(2000), 5 * true]), axis=1)
    >>> bool(4.5 < Calibrator("temperature").fit(lp, y).temperature_ < 5.5)  # 5x overconfident
    True
    """

    def __init__(self, method: str) -> None:
        if method not in CALIBRATION_METHODS[1:]:
            raise ValueError(f"calibration must be one of {CALIBRATION_METHODS}; got {method!r}")
        self.method = method

    def fit(self, log_post: np.ndarray, codes: np.ndarray) -> Calibrator:
        """Fit on out-of-fold log posteriors and the true class indices."""
        lp = np.asarray(log_post, dtype=float)
        codes = np.asarray(codes, dtype=int)
        self.n_classes_ = lp.shape[1]
        if self.method == "temperature":
            def nll(log_t: float) -> float:
                return -float(log_softmax(lp / np.exp(log_t), axis=1)[np.arange(len(lp)),
                                                                    codes].mean())
            res = minimize_scalar(nll, bounds=(-3.0, 9.0), method="bounded",
                                  options={"xatol": 1e-6})
            self.temperature_ = float(np.exp(res.x))
            self.bias_ = np.zeros(self.n_classes_)
        elif self.method == "platt":
            from scipy.optimize import minimize

            K = self.n_classes_
            idx = np.arange(len(lp))

            def nll_b(theta: np.ndarray) -> float:
                b = np.r_[0.0, theta[1:]]
                return -float(log_softmax(lp / np.exp(theta[0]) + b, axis=1)[idx,
                                                                             codes].mean())
            res = minimize(nll_b, np.zeros(K), method="L-BFGS-B",
                           bounds=[(-3.0, 9.0)] + [(-20.0, 20.0)] * (K - 1))
            self.temperature_ = float(np.exp(res.x[0]))
            self.bias_ = np.r_[0.0, res.x[1:]]
        else:
            from sklearn.isotonic import IsotonicRegression

            self.isotonic_ = []
            if self.n_classes_ == 2:
                d = lp[:, 1] - lp[:, 0]
                self.isotonic_.append(IsotonicRegression(
                    y_min=_EPS, y_max=1 - _EPS, out_of_bounds="clip").fit(d, codes == 1))
            else:
                for k in range(self.n_classes_):  # loop over classes
                    self.isotonic_.append(IsotonicRegression(
                        y_min=_EPS, y_max=1 - _EPS, out_of_bounds="clip").fit(lp[:, k],
                                                                              codes == k))
        return self

    def transform(self, log_post: np.ndarray) -> np.ndarray:
        """Calibrated log probabilities, shape (n, K)."""
        lp = np.asarray(log_post, dtype=float)
        if self.method in ("temperature", "platt"):
            return log_softmax(lp / self.temperature_ + self.bias_, axis=1)
        if self.n_classes_ == 2:
            p1 = self.isotonic_[0].predict(lp[:, 1] - lp[:, 0])
            return np.log(np.column_stack([1 - p1, p1]))
        P = np.column_stack([iso.predict(lp[:, k]) for k, iso in enumerate(self.isotonic_)])
        return np.log(P / P.sum(axis=1, keepdims=True))


def reliability_table(y_true, proba, classes, n_bins: int = 10):
    r"""Reliability of the predicted class's probability, in equal-width confidence bins.

    For every sample the confidence is :math:`\max_c p_{ic}` and it is correct when the
    arg-max class is the true one. Bins ``[0, 1/n_bins), ...`` (the last closed); per bin
    ``n``, mean ``confidence`` and ``accuracy``.

    Returns
    -------
    DataFrame with columns ``bin_lower``, ``bin_upper``, ``n``, ``confidence``, ``accuracy``
    (empty bins kept with ``n = 0`` and NaN means).
    """
    import pandas as pd

    P = np.asarray(proba, dtype=float)
    y = np.asarray(y_true)
    classes = np.asarray(classes)
    if P.ndim != 2 or P.shape != (len(y), len(classes)):
        raise ValueError(f"proba must have shape ({len(y)}, {len(classes)}); got {P.shape}")
    if not np.isfinite(P).all():
        raise ValueError("proba has non-finite values")
    conf = P.max(axis=1)
    correct = classes[P.argmax(axis=1)] == y
    edges = np.linspace(0.0, 1.0, n_bins + 1)
    b = np.clip(np.searchsorted(edges, conf, side="right") - 1, 0, n_bins - 1)
    n = np.bincount(b, minlength=n_bins)
    with np.errstate(invalid="ignore", divide="ignore"):
        mconf = np.bincount(b, conf, minlength=n_bins) / n
        macc = np.bincount(b, correct.astype(float), minlength=n_bins) / n
    return pd.DataFrame({"bin_lower": edges[:-1], "bin_upper": edges[1:], "n": n,
                         "confidence": mconf, "accuracy": macc})


def expected_calibration_error(y_true, proba, classes, n_bins: int = 10) -> float:
    r"""Expected calibration error of the predicted class (Naeini et al. 2015, Guo et al. 2017).

    .. math:: \mathrm{ECE} = \sum_b \frac{n_b}{n} \left|\mathrm{acc}_b - \mathrm{conf}_b\right|

    over equal-width confidence bins (:func:`reliability_table`).

    Examples
    --------
    >>> expected_calibration_error(["a", "b", "a", "b"],
    ...     [[0.9, 0.1], [0.9, 0.1], [0.2, 0.8], [0.2, 0.8]], ["a", "b"])
    0.35
    """
    t = reliability_table(y_true, proba, classes, n_bins)
    ok = t["n"] > 0
    w = t.loc[ok, "n"] / t["n"].sum()
    return round(float((w * (t.loc[ok, "accuracy"] - t.loc[ok, "confidence"]).abs()).sum()), 12)


def plot_reliability(table, ax=None, label: str | None = None):
    """Reliability diagram of a :func:`reliability_table`: accuracy against confidence.

    Returns the matplotlib axes; the diagonal is perfect calibration, marker area ~ bin size.
    """
    import matplotlib.pyplot as plt

    if ax is None:
        _, ax = plt.subplots(figsize=(4.5, 4.5))
    ok = table["n"] > 0
    ax.plot([0, 1], [0, 1], color="0.6", lw=1, ls="--", label="perfect")
    size = 20 + 200 * table.loc[ok, "n"] / max(1, table["n"].sum())
    ax.plot(table.loc[ok, "confidence"], table.loc[ok, "accuracy"], "-", lw=1.2)
    ax.scatter(table.loc[ok, "confidence"], table.loc[ok, "accuracy"], s=size, label=label,
               zorder=3)
    ax.set_xlim(0, 1.02)
    ax.set_ylim(0, 1.02)
    ax.set_xlabel("confidence (probability of the predicted class)")
    ax.set_ylabel("accuracy")
    ax.legend(loc="upper left", frameon=False)
    return ax
