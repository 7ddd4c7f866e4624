"""Calibration plumbing of :class:`~radiogenomics.classifiers.NBRadiogenomicsClassifier`.

``calibration`` fits a :class:`radiogenomics.calibration.Calibrator` on out-of-fold log
posteriors of inner folds of the training split (every inner fold refits the whole model,
gene selection included: nested, no leakage); the base class
(:mod:`radiogenomics.classifiers._base`) applies ``calibrator_`` in ``predict_log_proba``
and ``predict_proba`` only. :meth:`CalibrationMixin.calibration_summary` and
:meth:`CalibrationMixin.plot_calibration` report the inner-CV expected calibration error
and the reliability diagram.
"""

from __future__ import annotations

import logging
from typing import Any

import numpy as np
import pandas as pd
from sklearn.utils.validation import check_is_fitted

from ..calibration import Calibrator
from ._base import CountData

logger = logging.getLogger(__name__)

__all__ = ["CalibrationMixin"]


class CalibrationMixin:
    """``_fit_calibration``, ``calibration_summary`` and ``plot_calibration``."""

    calibration: str | None
    calibration_cv: int
    random_state: Any
    classes_: np.ndarray
    _size_factors_spec: Any

    def _fit_calibration(self, data: CountData, codes: np.ndarray) -> None:
        """Calibrator on out-of-fold log posteriors of inner folds of the training split.

        Every inner fold refits this classifier (without calibration), quantile filter and
        gene selection included, on its own training part: nested, no leakage.
        """
        from sklearn.base import clone

        from ..de import uncached
        from ._inner_cv import inner_cv_predict

        n_min = int(np.bincount(codes).min())
        folds = min(int(self.calibration_cv), n_min)
        if folds < 2:
            logger.warning("calibration skipped: a class has %d training sample(s); inner "
                           "cross-validation needs 2 per class", n_min)
            return
        lab = data.y
        assert lab is not None
        inner = clone(self).set_params(calibration=None, feature_columns=None,
                                       size_factors=self._size_factors_spec,
                                       size_factor="deprecated")  # warned once, outside
        with uncached():  # inner DE tables would evict the outer splits' tables
            oof = inner_cv_predict(lambda: clone(inner), data.counts, lab.to_numpy(),
                                   features=data.features, n_folds=folds,
                                   random_state=self.random_state,
                                   method="predict_log_proba")[0]
        if oof.shape[1] != len(self.classes_):
            raise ValueError("an inner calibration fold lacks a class")
        self.calibrator_ = Calibrator(self.calibration).fit(oof, codes)
        cal = self.calibrator_.transform(oof)
        self.calibration_oof_ = pd.DataFrame(
            {"label": lab.to_numpy(), **{f"p_uncalibrated[{c}]": np.exp(oof[:, k])
                                         for k, c in enumerate(self.classes_)},
             **{f"p[{c}]": np.exp(cal[:, k]) for k, c in enumerate(self.classes_)}},
            index=lab.index)

    def calibration_summary(self, n_bins: int = 10) -> pd.DataFrame:
        """Expected calibration error of the inner-CV (out-of-fold) predictions of the
        training split, before and after calibration (needs ``calibration``)."""
        from ..calibration import expected_calibration_error

        check_is_fitted(self, "coef_")
        if self.calibration_oof_ is None:
            raise ValueError("the classifier was fitted with calibration=None; set "
                             "calibration='temperature' or 'isotonic' (or compute "
                             "radiogenomics.calibration.expected_calibration_error on test data)")
        o = self.calibration_oof_
        rows = []
        for name, prefix in (("uncalibrated", "p_uncalibrated"), (self.calibration, "p")):
            P = o[[f"{prefix}[{c}]" for c in self.classes_]].to_numpy()
            rows.append({"probabilities": name, "ece": expected_calibration_error(
                o["label"], P, self.classes_, n_bins), "n": len(o)})
        out = pd.DataFrame(rows)
        if self.calibration in ("temperature", "platt"):
            out["temperature"] = [1.0, self.calibrator_.temperature_]
        if self.calibration == "platt":
            out["bias"] = [0.0, float(self.calibrator_.bias_[-1])]
        return out

    def plot_calibration(self, ax: Any = None, n_bins: int = 10) -> Any:
        """Reliability diagram of the inner-CV predictions, before and after calibration."""
        from ..calibration import plot_reliability, reliability_table

        summ = self.calibration_summary(n_bins)
        o = self.calibration_oof_
        for (name, prefix), ece in zip((("uncalibrated", "p_uncalibrated"),
                                        (self.calibration, "p")), summ["ece"], strict=True):
            P = o[[f"{prefix}[{c}]" for c in self.classes_]].to_numpy()
            ax = plot_reliability(reliability_table(o["label"], P, self.classes_, n_bins),
                                  ax=ax, label=f"{name} (ECE {ece:.3f})")
        ax.set_title("radiogenomics-NB, inner-CV predictions")
        return ax
