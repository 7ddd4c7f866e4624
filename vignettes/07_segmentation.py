# ---
# jupyter:
#   jupytext:
#     text_representation:
#       extension: .py
#       format_name: percent
#       format_version: '1.3'
#   kernelspec:
#     display_name: Python 3
#     language: python
#     name: python3
# ---

# %% [markdown]
# # Segmentation: phantom scans → 3D U-Net → metrics → volumes and ratios
#
# The `imaging.segmentation` pipeline on synthetic phantoms, on CPU: write scans in nnU-Net
# layout, segment them with the shipped **phantom-only demo model** (`data/segmentation_demo`,
# trained by `python -m imaging.segmentation.train_demo`; never use it on patients), score
# the result against the known truth (`imaging.metrics`), and turn the predicted label maps
# into the sub-region volumes and volume ratios that the statistics consume. Arrays are in
# nibabel axis order (x, y, z).

# %%
import json
import logging
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd

from imaging.cli import main as imaging_cli
from imaging.io import load_label_map
from imaging.metrics import region_report, volume_agreement
from imaging.phantoms import write_phantom_cohort
from imaging.segmentation.inference import DEMO_MODEL_DIR
from imaging.volumes import subregion_percentages, subregion_volumes, volume_ratios

logging.getLogger("imaging").setLevel(logging.WARNING)
work = Path(tempfile.mkdtemp(prefix="imaging_seg_vignette_"))
print((DEMO_MODEL_DIR / "config.json").read_text())

# %% [markdown]
# ## Phantom scans
# Four held-out cases (seeds 0–3, which the demo model never saw in training): T1, T1c, T2,
# FLAIR as `case_XXX_000c.nii.gz`, and the true label maps (1 NCR, 2 ED, 3 ET).

# %%
manifest = write_phantom_cohort(work / "cohort", 4, shape=(64, 64, 64), spacing=(1.0, 1.0, 1.0))
sorted(p.name for p in (work / "cohort" / "images").iterdir())[:4]

# %% [markdown]
# ## Segment from the command line
# `imaging segment --images DIR --out DIR [--model DIR]`: z-score normalisation inside the
# brain, MONAI sliding-window inference with Gaussian blending, fold ensemble, and each
# label map written in its input's space and header. `--no-tta` skips the 8-fold mirroring
# to keep the vignette fast.

# %%
rc = imaging_cli(["segment", "--images", str(work / "cohort" / "images"), "--out", str(work / "seg"), "--no-tta"])
assert rc == 0
sorted(p.name for p in (work / "seg").iterdir())

# %% [markdown]
# ## Metrics against the truth
# Dice, HD95 (mm), sensitivity and relative volume difference per region and for the TC and
# WT composites (`imaging.metrics.region_report`).

# %%
reports = {}
for case in manifest.index:
    pred = load_label_map(work / "seg" / f"{case}.nii.gz")
    ref = load_label_map(work / "cohort" / "masks" / f"{case}.nii.gz")
    reports[case] = region_report(np.asanyarray(pred.dataobj), np.asanyarray(ref.dataobj), "brats", pred.header.get_zooms()[:3])
report = pd.concat(reports, names=["case", "region"])
report.groupby("region", sort=False).mean().round(3)

# %%
wt_dice = report.xs("WT", level="region")["dice"]
print("WT Dice per case:", wt_dice.round(3).to_dict())
assert wt_dice.min() > 0.8
print(json.loads((DEMO_MODEL_DIR / "heldout_metrics.json").read_text())["dice_no_tta"])

# %% [markdown]
# ## Volumes and ratios from the segmentation
# The predicted label maps give the sub-region volumes (mL), the eight volume ratios of the
# radiogenomics-NB paper and the sub-region percentages, ready for the statistics.

# %%
pred_vols = pd.DataFrame({c: subregion_volumes(work / "seg" / f"{c}.nii.gz") for c in manifest.index}).T
true_vols = manifest[["ET", "NCR", "ED", "TC", "WT"]]
pd.concat({"predicted": pred_vols, "truth": true_vols}, axis=1).round(2)

# %%
volume_ratios(pred_vols).round(3)

# %% [markdown]
# ## Agreement of the volume percentages
# Bland–Altman bias and limits of agreement, Pearson/Spearman and ICC between the
# percentages from the segmentation and from the truth (four cases: illustration only).

# %%
agree = volume_agreement(subregion_percentages(pred_vols), subregion_percentages(true_vols))
agree.summary().round(3)

# %% [markdown]
# ## Hand-off to the statistics: radiogenomics-NB
# The ratios above are a per-patient DataFrame, exactly what `radiogenomics` takes as
# imaging features. Phantoms have no RNA-seq, so this last step only **illustrates the data
# flow**: we fit radiogenomics-NB on the bundled semi-synthetic LGG cohort (real BraTS
# ratios, simulated counts; 2,000 genes for speed) and score the four segmented phantom
# "patients", borrowing the counts of four cohort patients. The predictions mean nothing
# clinically; the point is that segmentation output goes straight into the model.

# %%
from radiogenomics import datasets, fit_nb_radiogenomics  # noqa: E402

cohort = datasets.load_lgg_radiogenomics("IDH", n_genes=2000)
clf = fit_nb_radiogenomics(cohort.counts, cohort.features, cohort.y, n_genes=10,
                           impute="median")
phantom_features = volume_ratios(pred_vols)[cohort.features.columns]
borrowed = cohort.counts.iloc[:len(phantom_features)].set_axis(phantom_features.index)
pd.DataFrame(clf.predict_proba(borrowed, features=phantom_features), columns=clf.classes_,
             index=phantom_features.index).round(3)
