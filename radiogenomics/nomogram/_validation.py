"""Bootstrap calibration and validation of a fitted nomogram (``rms::calibrate`` and
``rms::validate``, ``method="boot"``) and their result objects.

Calibration: ``predy`` = 50 equally spaced points between the 5th smallest and 5th largest
apparent probability; the curve is ``lowess(p, y, iter=0)`` interpolated at ``predy``; the
optimism is ``mean_b[cal_b(train_b) - cal_b(original)]`` and the corrected curve is
``apparent - optimism``. Validation does the same for Dxy (AUC = Dxy/2 + 1/2), Brier,
calibration intercept and slope.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from scipy.special import expit

from radiogenomics.results import Result

from ._rcompat import _approx_first, _approx_mean, _newton_logit, _r_lowess, _somers_dxy

__all__ = ["CalibrationResult", "ValidationResult", "calibrate", "validate"]

logger = logging.getLogger("radiogenomics.nomogram")


@dataclass(repr=False)
class CalibrationResult(Result):
    """Bootstrap optimism-corrected calibration curve (``rms::calibrate`` layout).

    ``summary()`` is one row of error measures; ``to_frame()`` the curve table (``predy``,
    apparent, corrected, optimism, ...), which is also what ``save`` writes.
    """

    table: pd.DataFrame
    predicted: np.ndarray
    n_bootstrap: int
    mean_absolute_error: float
    mean_squared_error: float
    quantile90_absolute_error: float
    n_failed: int = 0

    def _header(self) -> dict[str, Any]:
        return {"n": int(self.predicted.size), "B": self.n_bootstrap, "n_failed": self.n_failed,
                "mean_absolute_error": self.mean_absolute_error}

    def summary(self) -> pd.DataFrame:
        """One row: mean and 0.9-quantile absolute error, mean squared error, n, B."""
        return pd.DataFrame({
            "mean_absolute_error": [self.mean_absolute_error],
            "mean_squared_error": [self.mean_squared_error],
            "q90_absolute_error": [self.quantile90_absolute_error],
            "n": [self.predicted.size],
            "B": [self.n_bootstrap],
        })

    def to_frame(self) -> pd.DataFrame:
        """The calibration table (a copy), one row per ``predy`` point."""
        return self.table.copy()

    def _saved_table(self) -> pd.DataFrame:
        return self.table

    def plot(self, ax: Any = None) -> Any:
        """Apparent (dotted), bias-corrected (solid) and ideal (dashed) curves, with a rug of
        predicted probabilities, as ``plot.calibrate``."""
        import matplotlib.pyplot as plt

        if ax is None:
            _, ax = plt.subplots(figsize=(4.8, 4.8))
        t = self.table
        lim = (0.0, 1.0)
        ax.plot(lim, lim, ls="--", color="grey", lw=1, label="Ideal")
        ax.plot(t["predy"], t["calibrated.orig"], ls=":", color="black", lw=1.5, label="Apparent")
        ax.plot(t["predy"], t["calibrated.corrected"], ls="-", color="black", lw=1.5, label="Bias-corrected")
        ax.plot(self.predicted, np.full(self.predicted.size, 0.01), "|", color="black",
                alpha=0.3, ms=6, transform=ax.get_xaxis_transform())
        ax.set_xlim(*lim)
        ax.set_ylim(*lim)
        ax.set_aspect("equal")
        ax.set_xlabel("Predicted probability")
        ax.set_ylabel("Actual probability")
        ax.legend(loc="upper left", frameon=False, fontsize=9)
        ax.text(0.98, 0.02, f"B = {self.n_bootstrap} bootstrap repetitions\n"
                f"Mean absolute error = {self.mean_absolute_error:.3f}, n = {self.predicted.size}",
                transform=ax.transAxes, ha="right", va="bottom", fontsize=8)
        return ax


@dataclass(repr=False)
class ValidationResult(Result):
    """Bootstrap optimism-corrected indexes (``rms::validate`` layout).

    ``summary()`` (one row per index: Dxy, AUC, B, Intercept, Slope) is also ``to_frame()``
    and what ``save`` writes.
    """

    table: pd.DataFrame
    n_bootstrap: int
    n_failed: int = 0

    def summary(self) -> pd.DataFrame:
        """The rms table: index.orig, training, test, optimism, index.corrected, n."""
        return self.table.copy()

    def _header(self) -> dict[str, Any]:
        return {"B": self.n_bootstrap, "n_failed": self.n_failed, "auc": self.auc, "brier": self.brier}

    @property
    def auc(self) -> float:
        return float(self.table.loc["AUC", "index.corrected"])

    @property
    def brier(self) -> float:
        return float(self.table.loc["B", "index.corrected"])

    def plot(self, ax: Any = None) -> Any:
        """Apparent and optimism-corrected value of each index (horizontal bars)."""
        ax = self._axes(ax, figsize=(5, 3))
        t = self.table
        y = np.arange(len(t))
        ax.barh(y - 0.2, t["index.orig"], height=0.4, color="grey", label="apparent")
        ax.barh(y + 0.2, t["index.corrected"], height=0.4, color="black", label="corrected")
        ax.set_yticks(y, t.index)
        ax.legend(frameon=False)
        return ax


# ------------------------------------------------------------------ bootstrap
def _bootstrap_fits(X, y, n_bootstrap, random_state):
    """Yield ``(rows, beta)`` for each bootstrap resample; beta None when the refit failed."""
    rng = np.random.default_rng(random_state)
    n = y.size
    for _ in range(int(n_bootstrap)):
        idx = rng.integers(0, n, n)
        Xb, yb = X[idx], y[idx]
        if yb.min() == yb.max():
            yield idx, None
            continue
        beta, ok = _newton_logit(Xb, yb)
        yield idx, (beta if ok else None)

def _bootstrap_optimism(
    X: np.ndarray, y: np.ndarray, stat: Callable[[np.ndarray, np.ndarray, bool], np.ndarray], size: int,
    n_bootstrap: int, random_state: Any,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, int]:
    """rms's bootstrap: for each refit ``beta_b`` on resample ``b``, ``stat(lp[b], y[b], True)``
    (training, apparent) and ``stat(lp, y, False)`` (test on the original rows), with
    ``lp = X beta_b``. Returns the mean training and test values over the refits where both
    are defined (per element), their count, and the number of failed refits."""
    train_sum = np.zeros(size)
    test_sum = np.zeros(size)
    num = np.zeros(size)
    failed = 0
    for idx, beta in _bootstrap_fits(X, y, n_bootstrap, random_state):
        if beta is None:
            failed += 1
            continue
        lp = X @ beta
        tr = stat(lp[idx], y[idx], True)
        te = stat(lp, y, False)
        na = np.isnan(tr + te)
        num += ~na
        train_sum += np.where(na, 0, tr)
        test_sum += np.where(na, 0, te)
    with np.errstate(invalid="ignore", divide="ignore"):
        return train_sum / num, test_sum / num, num, failed


def calibrate(X: np.ndarray, y: np.ndarray, beta0: np.ndarray, n_bootstrap: int = 200,
              random_state: Any = None) -> CalibrationResult:
    """Bootstrap optimism-corrected calibration curve, as ``rms::calibrate(fit, B)``.

    ``X`` is the design (intercept first), ``y`` the 0/1 outcome, ``beta0`` the fitted
    coefficients.
    """
    if int(n_bootstrap) < 1:
        raise ValueError(f"n_bootstrap must be >= 1, got {n_bootstrap}")
    pred = expit(X @ beta0)
    n = y.size
    if n < 11:
        raise ValueError("calibration needs more than 10 observations")
    ps = np.sort(pred)
    predy = np.linspace(ps[4], ps[n - 5], 50)

    def cal(lp, yy):
        xs, ys = _r_lowess(expit(lp), yy)
        return _approx_first(xs, ys, predy)

    orig = cal(X @ beta0, y)
    training, test, num, failed = _bootstrap_optimism(
        X, y, lambda lp, yy, apparent: cal(lp, yy) - predy, predy.size, n_bootstrap, random_state)
    if failed:
        logger.warning("%d bootstrap refits failed (separation or non-convergence)", failed)
    optimism = training - test
    index_orig = orig - predy
    table = pd.DataFrame({
        "predy": predy, "calibrated.orig": orig, "calibrated.corrected": orig - optimism,
        "index.orig": index_orig, "training": training, "test": test, "optimism": optimism,
        "index.corrected": index_orig - optimism, "n": num.astype(int),
    })
    s = ~np.isnan(table["calibrated.corrected"].to_numpy())
    err = pred - _approx_mean(predy[s], table["calibrated.corrected"].to_numpy()[s], pred)
    return CalibrationResult(
        table=table, predicted=pred, n_bootstrap=int(n_bootstrap),
        mean_absolute_error=float(np.nanmean(np.abs(err))),
        mean_squared_error=float(np.nanmean(err ** 2)),
        quantile90_absolute_error=float(np.nanquantile(np.abs(err), 0.9)), n_failed=failed)


def validate(X: np.ndarray, y: np.ndarray, beta0: np.ndarray, n_bootstrap: int = 200,
             random_state: Any = None) -> ValidationResult:
    """Bootstrap optimism-corrected Dxy, AUC (= Dxy/2 + 0.5), Brier score, calibration
    intercept and slope, as ``rms::validate(fit, B)`` (method "boot")."""

    def indexes(lp, yy, apparent):
        p = expit(lp)
        dxy = _somers_dxy(p, yy)
        brier = float(np.mean((p - yy) ** 2))
        if apparent:
            a, b = 0.0, 1.0
        else:
            Z = np.column_stack([np.ones_like(lp), lp])
            (a, b), ok = _newton_logit(Z, yy)
            if not ok:
                a, b = np.nan, np.nan
        return np.array([dxy, dxy / 2 + 0.5, brier, a, b])

    orig = indexes(X @ beta0, y, True)
    training, test, num, failed = _bootstrap_optimism(X, y, indexes, 5, n_bootstrap, random_state)
    optimism = training - test
    table = pd.DataFrame({"index.orig": orig, "training": training, "test": test, "optimism": optimism,
                          "index.corrected": orig - optimism, "n": num.astype(int)},
                         index=["Dxy", "AUC", "B", "Intercept", "Slope"])
    return ValidationResult(table=table, n_bootstrap=int(n_bootstrap), n_failed=failed)
