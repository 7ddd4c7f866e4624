"""Count classifiers, all scikit-learn estimators on one base
(:mod:`radiogenomics.classifiers._base`: inputs validated once, genes selected inside
``fit``, one joint log-likelihood per class; ``predict``, ``predict_proba``,
``predict_log_proba`` and ``decision_function`` derived from it).

- :class:`NBRadiogenomicsClassifier` / :func:`fit_nb_radiogenomics` — the radiogenomics-NB
  log-linear model fusing RNA-seq counts and imaging features.
- :class:`NBLDA`, :class:`PLDA` — negative-binomial / Poisson linear discriminant analysis.
- :class:`VoomNSC`, :class:`NearestShrunkenCentroid` — (voom-weighted) nearest shrunken
  centroids.
- :class:`RFGenomics`, :class:`RFRadiogenomics` — random forests on log-CPM, without /
  with imaging features.
- :func:`join_features` — one ``[counts | features]`` frame for the imaging classifiers'
  ``feature_columns`` (``Pipeline``, ``cross_val_score``).
- :class:`ImagingFeatures` — the imaging-features transformer of both imaging classifiers.
- :func:`inner_cv_predict`, :func:`inner_folds`, :func:`inner_splits` — nested tuning:
  inner folds that re-select their own genes.

Only the two imaging classifiers take ``features=``; the others have no such argument (a
``TypeError``), so imaging data are never silently ignored.
"""

from __future__ import annotations

from .._lazy import lazy_names

_LAZY: dict[str, str] = {
    "NBRadiogenomicsClassifier": "radiogenomics.classifiers._nb_radiogenomics",
    "fit_nb_radiogenomics": "radiogenomics.classifiers._nb_radiogenomics",
    "join_features": "radiogenomics.classifiers._nb_radiogenomics",
    "NBLDA": "radiogenomics.classifiers._nblda",
    "PLDA": "radiogenomics.classifiers._nblda",
    "NearestShrunkenCentroid": "radiogenomics.classifiers._nsc",
    "VoomNSC": "radiogenomics.classifiers._voomnsc",
    "RFGenomics": "radiogenomics.classifiers._rf",
    "RFRadiogenomics": "radiogenomics.classifiers._rf",
    "ImagingFeatures": "radiogenomics.classifiers._imaging",
    "inner_cv_predict": "radiogenomics.classifiers._inner_cv",
    "inner_folds": "radiogenomics.classifiers._inner_cv",
    "inner_splits": "radiogenomics.classifiers._inner_cv",
}

__getattr__, __dir__, __all__ = lazy_names(__name__, _LAZY)
