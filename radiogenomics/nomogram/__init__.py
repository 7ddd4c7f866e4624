"""Logistic-regression nomogram reproducing R's ``rms`` (``lrm``, ``datadist``, ``nomogram``,
``calibrate``, ``validate``) on top of statsmodels.

Model.  ``logit P(y = 1) = b0 + sum_j beta_j x_j``, fitted by maximum likelihood
(statsmodels ``Logit``, Newton-Raphson); a categorical predictor enters by treatment
coding, one indicator ``name=level`` per non-reference level, the reference being the first
sorted level (as R's ``factor``) unless ``reference`` names another.

Nomogram scaling (``rms::nomogram`` with ``maxscale=100, nint=10``).  Each predictor gets an
axis of values: its levels (categorical), its sorted unique values (numeric with at most 10
distinct values, ``datadist``'s ``n.unique``), otherwise ``pretty(min, max, 10)`` over the
full data range (``datadist`` limits ``Low``/``High``).  With ``Xb_j(v) = beta_j v`` on that axis,
``R_j = max Xb_j - min Xb_j`` and

.. math::  sc = 100 / \\max_j R_j, \\qquad
           \\mathrm{points}_j(x) = sc\\,(\\beta_j x - \\min_v Xb_j(v)), \\qquad
           lp = b_0 + \\sum_j \\min_v Xb_j(v) + \\mathrm{total}/sc .

The total-points axis is ``pretty(0, max(100, sc*max(lp.at - Intercept)), 10)`` with
``lp.at = pretty(range(fitted lp), 10)``; the probability axis puts ticks at
``pretty(plogis(range(lp.at)), 10)`` placed by linear interpolation on a 1000-point lp grid,
as rms does.

Calibration (``rms::calibrate``, ``method="boot"``).  ``predy`` = 50 equally spaced points
between the 5th smallest and 5th largest apparent probability; the calibration curve is
``lowess(p, y, iter=0)`` interpolated at ``predy``; with B bootstrap refits the optimism is
``mean_b[cal_b(train_b) - cal_b(original)] - predy`` differences, and the corrected curve
is ``apparent - optimism``.  ``validate`` does the same for Dxy (AUC = Dxy/2 + 1/2), Brier,
calibration intercept and slope.

Modules: ``_model`` (:class:`Nomogram`: fit, scales, points, ROC), ``_plot`` (the drawing),
``_validation`` (bootstrap calibration/validation and their result objects), ``_rcompat``
(R's ``pretty``, ``quantile``, ``datadist``, ``lowess``, ``approx``, a Newton logistic fit,
Somers' Dxy).
"""

from radiogenomics.nomogram._model import Nomogram
from radiogenomics.nomogram._rcompat import datadist, r_pretty
from radiogenomics.nomogram._validation import CalibrationResult, ValidationResult

__all__ = ["Nomogram", "CalibrationResult", "ValidationResult", "r_pretty", "datadist"]
