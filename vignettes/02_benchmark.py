# ---
# jupyter:
#   jupytext:
#     formats: py:percent
#     text_representation:
#       extension: .py
#       format_name: percent
#   kernelspec:
#     display_name: Python 3
#     language: python
#     name: python3
# ---

# %% [markdown]
# # A repeated-split benchmark in Jupyter
#
# The radiogenomics-NB paper compares its classifier with NBLDA, VoomNSC and two random
# forests over 100 stratified 80/20 train/test splits. `RepeatedSplitBenchmark` runs that
# protocol on any cohort: every method sees the same splits, and gene selection, feature
# scaling, imputation and tuning happen inside each training split only.
#
# Here we run a **small** version (10 splits, 2,000 genes) on the bundled
# **semi-synthetic** LGG cohort — real BraTS volume ratios, labels and sex of 64 TCGA-LGG
# patients with *simulated* RNA-seq counts — so that it finishes in about a minute. The full
# protocol is the command `radiogenomics benchmark`.

# %%
import logging

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from radiogenomics import datasets  # noqa: E402
from radiogenomics.classifiers import (  # noqa: E402
    NBLDA,
    NBRadiogenomicsClassifier,
    RFGenomics,
    RFRadiogenomics,
    VoomNSC,
)
from radiogenomics.evaluation import RepeatedSplitBenchmark, stratum_association  # noqa: E402

logging.basicConfig(level=logging.WARNING)

cohort = datasets.load_lgg_radiogenomics("codel_1p19q", n_genes=2000)
print(cohort.description.splitlines()[0])
print(cohort.counts.shape, cohort.y.value_counts().to_dict())
cohort.features.head()

# %% [markdown]
# Five methods. One volume ratio is undefined for one patient (a zero denominator), so the
# methods that use imaging features impute it with the median of the *training* split.
#
# Tuning is nested: every inner cross-validation fold (NBLDA's rho, VoomNSC's threshold,
# the forests' mtry) re-runs the quantile filter and the gene selection on its own training
# rows, so each inner fold costs one more gene selection. Here the baselines share one
# 5-fold inner partition (same seed, same folds), so the five selections of a split are
# computed once and reused by all of them. (`radiogenomics benchmark` shares 3 folds, so a
# split costs 1 outer + 3 inner selections; `run_protocol()` is that command from Python.)

# %%
methods = {
    "radiogenomics-NB": NBRadiogenomicsClassifier(impute="median"),
    "NBLDA": NBLDA(n_repeats=1),
    "VoomNSC": VoomNSC(n_repeats=1),
    # the paper's forests: 500 trees on log2(CPM + 1), max_features tuned by inner
    # stratified CV (compiled backend, the same trees as scikit-learn's)
    "RF-genomics": RFGenomics(cv=5),
    "RF-radiogenomics": RFRadiogenomics(cv=5, impute="median"),
}
bench = RepeatedSplitBenchmark(methods, n_repeats=10, n_genes=10, random_state=0, n_jobs=2,
                               positive="codel", progress=False)
result = bench.run(cohort.counts, cohort.y, features=cohort.features)
result.summary()

# %% [markdown]
# Pairwise comparisons with radiogenomics-NB. The splits overlap, so the default test is the
# corrected resampled t-test of Nadeau & Bengio, with Holm-adjusted p-values next to the raw
# ones; the paper's one-way ANOVA (`test="anova"`) and paired t-test (`test="paired-t"`)
# treat the correlated split scores as independent and call noise significant.

# %%
result.method_table("balanced_accuracy", reference="radiogenomics-NB")

# %%
result.compare(reference="radiogenomics-NB")

# %%
ax = result.plot()
plt.gcf().set_size_inches(10, 4)
plt.tight_layout()

# %% [markdown]
# ## Number of genes
#
# The same splits with 10, 30 and 100 selected genes for radiogenomics-NB (the paper's
# Figure 5 uses 10–150).

# %%
sweep = RepeatedSplitBenchmark({"radiogenomics-NB": NBRadiogenomicsClassifier(impute="median")},
                               n_repeats=10, n_genes=[10, 30, 100], random_state=0, n_jobs=2,
                               positive="codel", progress=False)
sweep_result = sweep.run(cohort.counts, cohort.y, features=cohort.features)
sweep_result.summary()

# %% [markdown]
# ## Sex and the labels
#
# The paper's Table 5: is sex associated with any label? (chi-square with R's continuity
# correction and Fisher's exact test).

# %%
stratum_association(cohort.labels, cohort.clinical["sex"])
