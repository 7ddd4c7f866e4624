"""Honest evaluation: repeated stratified train/test splits shared by every method.

- :class:`RepeatedSplitBenchmark` — the engine (joblib or a Dask cluster, tqdm progress).
- :class:`BenchmarkResult` — scores, ``summary()``, ``compare()``, ``plot()``, ``save()``.
- :func:`classification_metrics` — accuracy, balanced accuracy, F1, sensitivity,
  specificity, PPV, NPV, ROC AUC (NaN where undefined).
- :func:`corrected_resampled_ttest` — Nadeau–Bengio test for overlapping splits (the
  default of every comparison), :func:`holm_adjust` — Holm's step-down adjustment.
- :func:`stratum_association` — stratum (e.g. sex) vs each label (the paper's Table 5;
  ``association_table`` is its deprecated name).
- :func:`write_report` — HTML report with figures, tables and provenance, written atomically.
- :func:`run_protocol` — the paper's whole protocol in one call (what ``radiogenomics
  benchmark`` runs), returning a :class:`ProtocolResult`; :func:`build_protocol` checks it
  without fitting.
"""

from __future__ import annotations

from .._lazy import lazy_names

_LAZY: dict[str, str] = {
    "RepeatedSplitBenchmark": "radiogenomics.evaluation._benchmark",
    "BenchmarkResult": "radiogenomics.evaluation._result",
    "classification_metrics": "radiogenomics.evaluation._metrics",
    "confusion_counts": "radiogenomics.evaluation._metrics",
    "roc_auc": "radiogenomics.evaluation._metrics",
    "METRICS": "radiogenomics.evaluation._metrics",
    "repeated_splits": "radiogenomics.evaluation._splits",
    "split_seeds": "radiogenomics.evaluation._splits",
    "corrected_resampled_ttest": "radiogenomics.evaluation._compare",
    "paired_ttest": "radiogenomics.evaluation._compare",
    "wilcoxon_test": "radiogenomics.evaluation._compare",
    "anova_test": "radiogenomics.evaluation._compare",
    "holm_adjust": "radiogenomics.evaluation._compare",
    "key_findings": "radiogenomics.evaluation._report",
    "PAPER_METHODS": "radiogenomics.evaluation._methods",
    "make_method": "radiogenomics.evaluation._methods",
    "association_table": "radiogenomics.evaluation._report",
    "stratum_association": "radiogenomics.evaluation._report",
    "write_report": "radiogenomics.evaluation._report",
    "run_protocol": "radiogenomics.evaluation.protocol",
    "build_protocol": "radiogenomics.evaluation.protocol",
    "bundled_cohort": "radiogenomics.evaluation.protocol",
    "ProtocolPlan": "radiogenomics.evaluation.protocol",
    "ProtocolResult": "radiogenomics.evaluation.protocol",
}

__getattr__, __dir__, __all__ = lazy_names(__name__, _LAZY)
