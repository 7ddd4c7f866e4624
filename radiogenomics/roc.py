"""ROC curves and the DeLong confidence interval of the AUC (as ``pROC``).

The AUC is the Mann-Whitney probability that a random case scores higher than a random
control (ties count one half).  Its variance follows DeLong, DeLong & Clarke-Pearson
(1988) through the structural components (placement values)

.. math::

    V_{10}(X_i) = \\frac{1}{n_0}\\sum_j \\psi(X_i, Y_j), \\qquad
    V_{01}(Y_j) = \\frac{1}{n_1}\\sum_i \\psi(X_i, Y_j),

    \\widehat{\\mathrm{Var}}(\\mathrm{AUC}) = \\frac{s^2(V_{10})}{n_1} + \\frac{s^2(V_{01})}{n_0},

with :math:`\\psi(x, y) = 1[x > y] + \\tfrac12 1[x = y]` and :math:`s^2` the sample
variance (denominator :math:`n - 1`).  The 95% interval is the normal one,
``AUC ± z_{0.975} sqrt(Var)`` clipped to [0, 1], exactly as ``pROC::ci.auc(method="delong")``
with ``direction="<"`` (controls score lower than cases).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import stats

from radiogenomics.results import Result

__all__ = ["ROCResult", "roc_curve", "delong_placements", "roc"]


def _midranks(x: np.ndarray) -> np.ndarray:
    return stats.rankdata(x, method="average")


def delong_placements(cases: np.ndarray, controls: np.ndarray) -> tuple[float, np.ndarray, np.ndarray]:
    """AUC and DeLong placement values, vectorised through mid-ranks.

    ``V10_i = (R_i - R^{(1)}_i) / n0`` and ``V01_j = 1 - (R_j - R^{(0)}_j) / n1``, where
    ``R`` is the mid-rank in the pooled sample and ``R^{(k)}`` the mid-rank within
    group k; ``AUC = mean(V10)``.
    """
    cases = np.asarray(cases, dtype=float)
    controls = np.asarray(controls, dtype=float)
    n1, n0 = cases.size, controls.size
    pooled = _midranks(np.concatenate([cases, controls]))
    v10 = (pooled[:n1] - _midranks(cases)) / n0
    v01 = 1.0 - (pooled[n1:] - _midranks(controls)) / n1
    return float(v10.mean()), v10, v01


def roc_curve(y: np.ndarray, score: np.ndarray) -> pd.DataFrame:
    """Sensitivity and specificity at every threshold (``score >= threshold`` is positive)."""
    y = np.asarray(y).astype(bool)
    score = np.asarray(score, dtype=float)
    thr = np.concatenate([[-np.inf], np.unique(score), [np.inf]])
    pos = score[y]
    neg = score[~y]
    sens = (pos[None, :] >= thr[:, None]).mean(axis=1)
    spec = (neg[None, :] < thr[:, None]).mean(axis=1)
    return pd.DataFrame({"threshold": thr, "sensitivity": sens, "specificity": spec})


@dataclass(repr=False)
class ROCResult(Result):
    """ROC analysis of a binary outcome: ``auc``, ``ci`` (DeLong), ``variance``, ``curve``.

    ``summary()`` is one row (AUC, CI, SE, n); ``to_frame()`` the curve (threshold,
    sensitivity, specificity); ``save`` writes the summary.
    """

    auc: float
    ci: tuple[float, float]
    variance: float
    n_cases: int
    n_controls: int
    curve: pd.DataFrame
    conf_level: float = 0.95

    def _header(self) -> dict:
        return {"auc": self.auc, "ci": self.ci, "n_cases": self.n_cases, "n_controls": self.n_controls}

    def summary(self) -> pd.DataFrame:
        """One row: auc, ci_lower, ci_upper, se (DeLong), n_cases, n_controls, method."""
        return pd.DataFrame(
            {
                "auc": [self.auc],
                "ci_lower": [self.ci[0]],
                "ci_upper": [self.ci[1]],
                "se": [np.sqrt(self.variance)],
                "n_cases": [self.n_cases],
                "n_controls": [self.n_controls],
                "method": ["delong"],
            }
        )

    def to_frame(self) -> pd.DataFrame:
        """The ROC curve (a copy): threshold, sensitivity, specificity."""
        return self.curve.copy()

    def plot(self, ax=None):
        """Sensitivity against 1 - specificity, AUC and DeLong CI in the legend."""
        import matplotlib.pyplot as plt

        if ax is None:
            _, ax = plt.subplots(figsize=(4.5, 4.5))
        c = self.curve.sort_values(["specificity", "sensitivity"], ascending=[False, True])
        ax.plot(1 - c["specificity"], c["sensitivity"], color="black", lw=1.5,
                label=f"AUC {self.auc:.3f} (95% CI {self.ci[0]:.3f}–{self.ci[1]:.3f})")
        ax.plot([0, 1], [0, 1], ls="--", color="grey", lw=0.8)
        ax.set_xlim(0, 1)
        ax.set_ylim(0, 1)
        ax.set_aspect("equal")
        ax.set_xlabel("1 − Specificity")
        ax.set_ylabel("Sensitivity")
        ax.legend(loc="lower right", frameon=False, fontsize=9)
        return ax


def roc(y, score, conf_level: float = 0.95) -> ROCResult:
    """ROC curve, AUC and DeLong CI for outcome ``y`` (0/1) and ``score`` (higher = case).

    Equals ``pROC::roc(y, score, levels=c(0, 1), direction="<")`` followed by
    ``ci.auc(r, method="delong")``.
    """
    y = np.asarray(y)
    score = np.asarray(score, dtype=float)
    if y.shape != score.shape:
        raise ValueError(f"y has {y.size} values but score has {score.size}")
    if np.isnan(score).any():
        raise ValueError(f"score has {int(np.isnan(score).sum())} NaN values")
    uy = set(np.unique(y).tolist())
    if not uy <= {0, 1}:
        raise ValueError(f"y must be 0/1; found values {sorted(uy)}")
    yb = y.astype(bool)
    if yb.all() or (~yb).all():
        raise ValueError("y needs both cases (1) and controls (0) for an ROC curve")
    auc, v10, v01 = delong_placements(score[yb], score[~yb])
    n1, n0 = v10.size, v01.size
    var = v10.var(ddof=1) / n1 + v01.var(ddof=1) / n0
    z = stats.norm.ppf(0.5 + conf_level / 2)
    lo = max(0.0, auc - z * np.sqrt(var))
    hi = min(1.0, auc + z * np.sqrt(var))
    return ROCResult(auc=auc, ci=(float(lo), float(hi)), variance=float(var), n_cases=n1, n_controls=n0,
                     curve=roc_curve(yb, score), conf_level=conf_level)
