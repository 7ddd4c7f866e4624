"""Count classifiers, all scikit-learn estimators.

- :class:`NBRadiogenomicsClassifier` / :func:`fit_nb_radiogenomics` — the radiogenomics-NB
  log-linear model fusing RNA-seq counts and imaging features.
- :class:`NBLDA`, :class:`PLDA` — negative-binomial / Poisson linear discriminant analysis.
- :class:`VoomNSC`, :class:`NearestShrunkenCentroid` — (voom-weighted) nearest shrunken
  centroids.
- :class:`RFGenomics`, :class:`RFRadiogenomics` — random forests on log-CPM, without /
  with imaging features.
- :func:`inner_cv_predict`, :func:`inner_folds`, :func:`inner_splits` — nested tuning:
  inner folds that re-select their own genes.
"""

from __future__ import annotations

import importlib
from typing import Any

_LAZY: dict[str, str] = {
    "NBRadiogenomicsClassifier": "radiogenomics.classifiers._nb_radiogenomics",
    "fit_nb_radiogenomics": "radiogenomics.classifiers._nb_radiogenomics",
    "NBLDA": "radiogenomics.classifiers._nblda",
    "PLDA": "radiogenomics.classifiers._nblda",
    "NearestShrunkenCentroid": "radiogenomics.classifiers._nsc",
    "VoomNSC": "radiogenomics.classifiers._voomnsc",
    "RFGenomics": "radiogenomics.classifiers._rf",
    "RFRadiogenomics": "radiogenomics.classifiers._rf",
    "inner_cv_predict": "radiogenomics.classifiers._inner_cv",
    "inner_folds": "radiogenomics.classifiers._inner_cv",
    "inner_splits": "radiogenomics.classifiers._inner_cv",
}

__all__ = list(_LAZY)


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'radiogenomics.classifiers' has no attribute {name!r}")
    return getattr(importlib.import_module(module), name)


def __dir__() -> list[str]:
    return sorted(__all__)
