"""radiogenomics: radiogenomics statistical modelling of brain tumours.

RNA-seq counts fused with imaging features in a negative-binomial log-linear classifier
whose dispersions come from edgeR-style weighted-likelihood empirical Bayes, honest
repeated-split comparisons with NBLDA, VoomNSC and random forests, survival stratification
and logistic outcome nomograms.

Public names are imported lazily, so ``import radiogenomics`` is cheap and a missing
optional dependency only matters for the function that needs it.
"""

from __future__ import annotations

import logging

from ._lazy import lazy_names

__version__ = "0.1.0"

logging.getLogger(__name__).addHandler(logging.NullHandler())

#: public name -> module that defines it
_LAZY: dict[str, str] = {
    # counts and size factors
    "size_factors": "radiogenomics.counts",
    "SizeFactors": "radiogenomics.counts",
    "as_size_factors": "radiogenomics.counts",
    "library_sizes": "radiogenomics.counts",
    "quantile_filter": "radiogenomics.counts",
    "calc_norm_factors": "radiogenomics.counts",
    # dispersion, GLM, DE
    "estimate_dispersion": "radiogenomics.dispersion",
    "DispersionResult": "radiogenomics.dispersion",
    "nb_glm_fit": "radiogenomics.glm",
    "differential_expression": "radiogenomics.de",
    "DEGeneSelector": "radiogenomics.de",
    # classifiers
    "NBRadiogenomicsClassifier": "radiogenomics.classifiers",
    "fit_nb_radiogenomics": "radiogenomics.classifiers",
    "NBLDA": "radiogenomics.classifiers",
    "PLDA": "radiogenomics.classifiers",
    "VoomNSC": "radiogenomics.classifiers",
    "NearestShrunkenCentroid": "radiogenomics.classifiers",
    "RFGenomics": "radiogenomics.classifiers",
    "RFRadiogenomics": "radiogenomics.classifiers",
    "voom": "radiogenomics.voom",
    # evaluation
    "RepeatedSplitBenchmark": "radiogenomics.evaluation",
    "BenchmarkResult": "radiogenomics.evaluation",
    # survival, association, nomogram
    "compare_survival": "radiogenomics.survival",
    "stratified_cox": "radiogenomics.survival",
    "association_table": "radiogenomics.association",
    "feature_association": "radiogenomics.association",
    "ordinal_split": "radiogenomics.association",
    "Nomogram": "radiogenomics.nomogram",
    # data
    "datasets": "radiogenomics",
}

__getattr__, __dir__, __all__ = lazy_names(__name__, _LAZY, extra=("__version__",))
