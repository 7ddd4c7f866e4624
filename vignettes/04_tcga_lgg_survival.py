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
# # TCGA-LGG: survival, sex and molecular labels, volume ratios
#
# This vignette re-runs the clinical analyses of the radiogenomics-NB paper on real public
# TCGA lower-grade glioma data:
#
# 1. overall survival by IDH status (Kaplan–Meier, log-rank, median survival), also by
#    1p/19q co-deletion and ATRX;
# 2. IDH in a Cox model stratified by sex (likelihood-ratio test);
# 3. sex against each label (chi-square, Fisher);
# 4. the eight sub-region volume ratios against IDH, 1p/19q and ATRX (the paper's Table 1,
#    one-way ANOVA).
#
# Data (see `data/tcga_lgg/PROVENANCE.md`): the Ceccarelli et al. 2016 pan-glioma table
# (516 LGG patients; survival and sex for 457) and the manually revised BraTS sub-region
# volumes of 65 of them (Bakas et al. 2017). Every statistic used here is checked against
# R (`survival` 3.5-3, `stats`) in `tests/radiogenomics/test_survival.py` and
# `test_association.py`.
#
# We run each analysis twice: on **all** TCGA-LGG patients with the variables, and on the
# **64 imaging patients** (volumes + all three labels), which is closer in size to the
# paper's cohort.

# %%
import logging

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import pandas as pd

from imaging.volumes import volume_ratios
from radiogenomics.association import association_table, feature_association, ordinal_split
from radiogenomics.datasets import load_tcga_lgg
from radiogenomics.survival import compare_survival, stratified_cox

logging.basicConfig(level=logging.WARNING)
pd.set_option("display.width", 160)
pd.set_option("display.max_columns", 20)

lgg = load_tcga_lgg()
clinical = lgg.clinical
imaging_cohort = lgg.volumes.dropna(subset=["IDH", "codel_1p19q", "ATRX"])
LABELS = {"IDH": "WT", "codel_1p19q": "non-codel", "ATRX": "WT"}  # reference levels
print(len(clinical), "LGG patients;", len(imaging_cohort), "with volumes and all three labels")

# %% [markdown]
# ## 1. Survival by IDH status
#
# `compare_survival` is `survfit` + `survdiff`. One overall-survival time in the table is
# negative (−0.03 months); like R we keep it and a warning is logged.

# %%
km_all = compare_survival(clinical, "os_months", "os_event", "IDH", levels=["WT", "Mutant"])
km_img = compare_survival(imaging_cohort, "os_months", "os_event", "IDH",
                          levels=["WT", "Mutant"])
print("All TCGA-LGG (n = %d, %d deaths)" % (km_all.n, km_all.events))
print(km_all.summary().round(4))
print("\nImaging cohort (n = %d, %d deaths)" % (km_img.n, km_img.events))
print(km_img.summary().round(4))

# %%
fig, axes = plt.subplots(1, 2, figsize=(13, 5.5))
km_all.plot(ax=axes[0], xlabel="months", title=f"All TCGA-LGG, log-rank p = {km_all.p_value:.1e}")
km_img.plot(ax=axes[1], xlabel="months", title=f"Imaging cohort, log-rank p = {km_img.p_value:.3f}")
fig.tight_layout()

# %% [markdown]
# 1p/19q co-deletion and ATRX:

# %%
rows = []
for cohort_name, cohort in (("all", clinical), ("imaging", imaging_cohort)):
    for label, ref in LABELS.items():
        others = sorted(set(cohort[label].dropna()) - {ref})
        r = compare_survival(cohort, "os_months", "os_event", label, levels=[ref, *others])
        rows.append({"cohort": cohort_name, "label": label, "n": r.n, "events": r.events,
                     "logrank_chi2": r.test_statistic, "p_value": r.p_value,
                     "median_ref": r.medians["median"].iloc[0],
                     "median_other": r.medians["median"].iloc[1]})
logrank = pd.DataFrame(rows)
logrank.round(4)

# %% [markdown]
# ## 2. IDH stratified by sex (Cox, likelihood-ratio test)
#
# `coxph(Surv(os, event) ~ IDH + strata(sex))` with IDH "WT" as reference, so the hazard
# ratio is Mutant vs WT.

# %%
cox_all = stratified_cox(clinical, "os_months", "os_event", "IDH", strata="sex",
                         reference={"IDH": "WT"})
cox_img = stratified_cox(imaging_cohort, "os_months", "os_event", "IDH", strata="sex",
                         reference={"IDH": "WT"})
pd.concat({"all": pd.concat([cox_all.summary().reset_index(), cox_all.tests()], axis=1),
           "imaging": pd.concat([cox_img.summary().reset_index(), cox_img.tests()], axis=1)})

# %%
ax = cox_img.plot()

# %% [markdown]
# ## 3. Sex against the molecular labels

# %%
tables = []
for cohort_name, cohort in (("all", clinical), ("imaging", imaging_cohort)):
    for label, ref in LABELS.items():
        t = association_table(cohort, "sex", label, reference={label: ref}).summary()
        tables.append(t.assign(cohort=cohort_name))
sex_tables = pd.concat(tables, ignore_index=True)
sex_tables[["cohort", "b", "n", "table", "chi2", "p_value", "fisher_p_value",
            "fisher_odds_ratio", "fisher_ci_low", "fisher_ci_high"]].round(4)

# %% [markdown]
# ## 4. Volume ratios against the labels (Table 1)
#
# The eight ratios come from `imaging.volumes.volume_ratios` (the one definition shared by
# the imaging pipeline); a zero denominator gives NaN (one patient has no oedema, so ET/ED
# is undefined for them) and that patient is left out of that ratio's test.

# %%
ratios = volume_ratios(imaging_cohort[["ET", "NCR", "ED", "TC", "WT"]])
table1 = feature_association(ratios, imaging_cohort[list(LABELS)], test="anova",
                             reference=LABELS)
table1[["label", "feature", "n", "summary", "statistic", "p_value"]].round(4)

# %% [markdown]
# Kruskal–Wallis (the ratios are skewed) and the mean split (high/low vs label, chi-square):

# %%
kw = feature_association(ratios, imaging_cohort[list(LABELS)], test="kruskal", reference=LABELS)
print("ratios differing between IDH groups (ANOVA p < 0.05):",
      ", ".join(table1.query("label == 'IDH' and p_value < 0.05")["feature"]))
split = ordinal_split(ratios, at="mean", labels=imaging_cohort[list(LABELS)], reference=LABELS)
pd.DataFrame({"label": table1["label"], "feature": table1["feature"],
              "anova_p": table1["p_value"], "kruskal_p": kw["p_value"]}).merge(
    split[["label", "feature", "p_value", "fisher_p_value"]].rename(
        columns={"p_value": "split_chi2_p", "fisher_p_value": "split_fisher_p"}),
    on=["label", "feature"]).round(4)

# %% [markdown]
# ## 5. Side by side with the paper

# %%
lr = logrank.set_index(["cohort", "label"])
side = pd.DataFrame(
    {
        "paper": ["65.7", "19.9", "0.004", "0.015", "n.s.", "n.s.", "n.s. (all three)"],
        "TCGA-LGG all": [
            f"{km_all.medians.loc['Mutant', 'median']:.1f}",
            f"{km_all.medians.loc['WT', 'median']:.1f}",
            f"{km_all.p_value:.1e}", f"{cox_all.lr_p_value:.1e}",
            f"{lr.loc[('all', 'codel_1p19q'), 'p_value']:.3f}",
            f"{lr.loc[('all', 'ATRX'), 'p_value']:.3f}",
            ", ".join(f"{p:.2f}" for p in sex_tables.query("cohort == 'all'")["p_value"]),
        ],
        "imaging cohort (n=64)": [
            f"{km_img.medians.loc['Mutant', 'median']:.1f}",
            f"{km_img.medians.loc['WT', 'median']:.1f}",
            f"{km_img.p_value:.3f}", f"{cox_img.lr_p_value:.3f}",
            f"{lr.loc[('imaging', 'codel_1p19q'), 'p_value']:.3f}",
            f"{lr.loc[('imaging', 'ATRX'), 'p_value']:.3f}",
            ", ".join(f"{p:.2f}" for p in sex_tables.query("cohort == 'imaging'")["p_value"]),
        ],
    },
    index=["median OS IDH-mutant (months)", "median OS IDH-WT (months)",
           "log-rank p, IDH", "Cox LRT p, IDH | strata(sex)", "log-rank p, 1p/19q",
           "log-rank p, ATRX", "chi-square p, sex vs IDH, 1p/19q, ATRX"],
)
side

# %% [markdown]
# **Where the numbers agree and where they differ, and why.**
#
# - *Direction and conclusions agree.* IDH-mutant patients live longer, IDH stays
#   significant after stratifying for sex, ATRX is not associated with survival, and sex
#   is not associated with any of the three labels, in both cohorts.
# - *The imaging cohort (n = 64, 13 deaths) is close to the paper:* IDH-WT median about 18
#   months (paper 19.9), IDH-mutant 62 months (paper 65.7), log-rank p ≈ 0.015 (paper
#   0.004) and Cox LRT p ≈ 0.02 (paper 0.015). It is not the same cohort: the paper used
#   its own set of segmented TCGA-LGG patients (we have public volumes for 65 of the 108
#   TCIA patients only), and the follow-up comes from the 2016 Ceccarelli table, not
#   necessarily the clinical data release the paper used. With 13 deaths, a single patient
#   more or less moves the medians and p-values visibly.
# - *All 455 TCGA-LGG patients give much smaller p-values* (log-rank p ≈ 3e-18, LRT
#   p ≈ 9e-13) and a longer IDH-mutant median (94.5 months): seven times more patients and
#   79 deaths, so more power and a longer tail of follow-up. The IDH-WT median (19.9
#   months) equals the paper's.
# - *1p/19q:* not associated with survival in the imaging cohort (as in the paper), but
#   clearly associated in the full cohort (p ≈ 0.002) — the well-known better prognosis of
#   the co-deleted oligodendrogliomas, which a 64-patient cohort with 2 deaths among the
#   13 co-deleted patients cannot show.
# - *Table 1 (volume ratios):* the paper's exact per-ratio values are not reproduced here;
#   the ratios separating IDH groups in our 64 patients are listed above (ANOVA p < 0.05:
#   NCR/WT, ET/(ET+NCR), ET/NCR, ED/WT, ET/WT). The ratios are strongly skewed with
#   outliers (ET/NCR, ED/NCR), so the Kruskal–Wallis column is the more robust reading.
