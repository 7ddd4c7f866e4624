r"""Transforms of imaging features fitted on the training split.

Volume ratios are heavy-tailed (on the bundled LGG cohort ET/NCR and ET/ED have skewness
7.4 and 7.7), so in ``exp(x' b)`` one patient's ratio can drive the extrapolation of a
log-linear model. :class:`FeatureTransform` learns, on the training samples only:

- ``"log"``: for every column whose training values are all ``>= 0``,
  :math:`x \mapsto \log(x + c_j)` with the offset :math:`c_j` = half the smallest positive
  training value of the column (1 if none is positive), so zeros (a sub-region that is
  absent) stay finite and sit just below the smallest observed ratio. Columns with
  negative training values are left as they are (logged).
- ``"rank"``: normal scores of the training distribution,
  :math:`x \mapsto \Phi^{-1}\{(r(x) + 1/2)/(n + 1)\}` with :math:`r(x)` the number of
  training values below ``x`` plus half the number equal to it; test values are placed in
  the training distribution, so the transform never looks at test data.
- ``None``: unchanged (the paper).
"""

from __future__ import annotations

import logging

import numpy as np
import pandas as pd
from scipy.special import ndtri

from .._validation import _show

logger = logging.getLogger(__name__)

FEATURE_TRANSFORMS = (None, "log", "rank")


class FeatureTransform:
    """Fitted ``"log"`` / ``"rank"`` / ``None`` transform of imaging features.

    Examples
    --------
    >>> F = pd.DataFrame({"r": [0.0, 1.0, 3.0, 100.0]})
    >>> t = FeatureTransform("log").fit(F)
    >>> np.round(t.transform(F)["r"].to_numpy(), 3).tolist()
    [-0.693, 0.405, 1.253, 4.61]
    >>> FeatureTransform("rank").fit(F).transform(F)["r"].round(3).tolist()
    [-0.842, -0.253, 0.253, 0.842]
    """

    def __init__(self, kind: str | None = None) -> None:
        if kind not in FEATURE_TRANSFORMS:
            raise ValueError(f"feature_transform must be one of {FEATURE_TRANSFORMS}; "
                             f"got {kind!r}")
        self.kind = kind

    def fit(self, F: pd.DataFrame) -> FeatureTransform:
        """Learn offsets (log) or the training distribution (rank) of every column."""
        self.columns_ = pd.Index(F.columns)
        A = F.to_numpy(dtype=float)
        if self.kind == "log":
            nonneg = (A >= 0).all(axis=0)
            pos = np.where(A > 0, A, np.inf).min(axis=0)
            self.offset_ = np.where(np.isfinite(pos), pos / 2.0, 1.0)
            self.logged_ = nonneg
            if (~nonneg).any():
                logger.info("feature_transform='log': columns %s have negative values and "
                            "are left untransformed", _show(F.columns[~nonneg]))
        elif self.kind == "rank":
            self.sorted_ = np.sort(A, axis=0)
        return self

    def transform(self, F: pd.DataFrame) -> pd.DataFrame:
        """Apply the fitted transform (columns in training order)."""
        if self.kind is None:
            return F
        A = F.loc[:, self.columns_].to_numpy(dtype=float)
        out = A.copy()
        if self.kind == "log":
            cols = np.flatnonzero(self.logged_)
            shifted = A[:, cols] + self.offset_[cols]
            bad = ~(shifted > 0)
            if bad.any():
                j = cols[np.flatnonzero(bad.any(axis=0))]
                raise ValueError(
                    f"feature_transform='log': features {_show(self.columns_[j])} have values "
                    "below zero in these samples, but were non-negative in training")
            out[:, cols] = np.log(shifted)
        else:
            n = self.sorted_.shape[0]
            for j in range(A.shape[1]):  # loop over imaging features (a handful)
                v = self.sorted_[:, j]
                r = 0.5 * (np.searchsorted(v, A[:, j], "left")
                           + np.searchsorted(v, A[:, j], "right"))
                out[:, j] = ndtri((r + 0.5) / (n + 1.0))
        return pd.DataFrame(out, index=F.index, columns=self.columns_)
