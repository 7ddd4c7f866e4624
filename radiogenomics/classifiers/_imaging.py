r"""Imaging features as a classifier sees them: one transformer, fitted on the training split.

:class:`ImagingFeatures` is used by both imaging classifiers
(:class:`~radiogenomics.classifiers.NBRadiogenomicsClassifier`: imputed, transformed and
standardised; :class:`~radiogenomics.classifiers.RFRadiogenomics`: imputed only, forests
being invariant to monotone rescaling). On the training features :math:`F` it learns

- the columns (a predict-side frame must have them; extra columns are ignored);
- ``impute_values_`` = the training medians :math:`\tilde F_j`; missing values raise
  (naming columns and samples) unless ``impute="median"``, which fills them;
- an optional :class:`~._feature_transform.FeatureTransform` (``feature_transform``:
  ``"log"``, ``"rank"``);
- with ``standardize=True``, ``mean_`` and ``scale_`` (SD with ``n-1``; constant columns
  keep scale 1, with a warning): :math:`z_{ij} = (f_{ij} - \bar f_j)/s_j`.

Nothing is learned from the samples passed to :meth:`ImagingFeatures.transform`.
"""

from __future__ import annotations

import logging
from typing import Any

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.utils.validation import check_is_fitted

from .._validation import _show, as_feature_frame
from ._feature_transform import FeatureTransform

logger = logging.getLogger(__name__)

__all__ = ["ImagingFeatures"]


class ImagingFeatures(TransformerMixin, BaseEstimator):
    """Impute, transform and standardise imaging features with training-split statistics.

    Parameters
    ----------
    impute : {None, "median"}, default None
        Missing values: ``None`` raises ``ValueError`` naming the columns and samples;
        ``"median"`` fills them with the training medians.
    feature_transform : {None, "log", "rank"}, default None
        :class:`~radiogenomics.classifiers._feature_transform.FeatureTransform` fitted on
        the (imputed) training features.
    standardize : bool, default True
        Centre and scale with the training mean and SD.

    Examples
    --------
    >>> F = pd.DataFrame({"r": [1.0, None, 3.0]}, index=["a", "b", "c"])
    >>> ImagingFeatures(impute="median").fit_transform(F)["r"].round(3).tolist()
    [-1.0, 0.0, 1.0]
    """

    def __init__(self, impute: str | None = None, feature_transform: str | None = None,
                 standardize: bool = True) -> None:
        self.impute = impute
        self.feature_transform = feature_transform
        self.standardize = standardize

    def _filled(self, F: pd.DataFrame) -> pd.DataFrame:
        nan = F.isna()
        if not nan.to_numpy().any():
            return F
        if self.impute == "median":
            F = F.fillna(self.impute_values_)
            still = F.columns[F.isna().any()]
            if len(still):
                raise ValueError(f"features {_show(still)} are missing in every training "
                                 "sample; cannot impute")
            return F
        cols = F.columns[nan.any(axis=0)]
        rows = F.index[nan.any(axis=1)]
        raise ValueError(f"features have missing values (NaN) in columns {_show(cols)} for "
                         f"samples {_show(rows)}; pass impute='median' or fill them")

    def fit(self, F: Any, y: Any = None) -> ImagingFeatures:
        """Learn columns, medians, the transform and (optionally) mean and SD."""
        if self.impute not in (None, "median"):
            raise ValueError(f"impute must be None or 'median'; got {self.impute!r}")
        F = as_feature_frame(F)
        self.columns_ = pd.Index(F.columns)
        self.impute_values_ = F.median()
        F = self._filled(F)
        self.transform_ = FeatureTransform(self.feature_transform).fit(F)
        F = self.transform_.transform(F)
        self.mean_ = F.mean()
        sd = F.std(ddof=1)
        bad = ~(np.isfinite(sd) & (sd > 0))
        if self.standardize and bad.any():
            logger.warning("features %s are constant in the training data; not scaled",
                           _show(F.columns[bad.to_numpy()]))
        self.scale_ = sd.where(~bad, 1.0)
        return self

    def transform(self, F: Any) -> pd.DataFrame:  # type: ignore[override]
        """The fitted columns of ``F``, imputed, transformed and standardised."""
        check_is_fitted(self, "columns_")
        F = as_feature_frame(F)
        missing = [c for c in self.columns_ if c not in F.columns]
        if missing:
            raise ValueError(f"features lack the training columns {_show(missing)}")
        F = self.transform_.transform(self._filled(F.loc[:, self.columns_]))
        if self.standardize:
            F = (F - self.mean_) / self.scale_
        return F
