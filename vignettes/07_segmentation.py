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
# `imaging segment --images DIR --out DIR [--model DIR]`: each case is reoriented to RAS+
# and resampled (SimpleITK, linear) to the spacing the model was trained at (recorded in its
# `config.json`: 1 mm for the demo model), z-score normalised inside the brain, predicted by
# MONAI sliding-window inference with Gaussian blending and the fold ensemble; the
# probabilities are resampled back onto the input grid, and each label map is written in
# its input's space and header. A failing case is reported and the cohort goes on (exit
# status 1 only when every case failed). `--no-tta` skips the 8-fold mirroring to keep the
# vignette fast. An nnU-Net v2 results folder (`dataset.json`, `plans.json`, `fold_*`) also
# works as `--model`, with `--trust-checkpoint` because nnU-Net unpickles its checkpoints.

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
# ## Thick slices: the training spacing matters
# The same phantom (seed 100) at 1 mm and at 1 × 1 × 3 mm. Without resampling the 1 mm
# model saw 3 mm slices as 1 mm ones and the mean Dice over ET, TC and WT fell from 0.971 to
# 0.852 (with TTA, `imaging segment` before this change); now both are predicted at 1 mm.

# %%
from imaging.labels import region_masks  # noqa: E402
from imaging.metrics import dice  # noqa: E402

mean_dice = {}
for tag, spacing, shape in [("1 mm", (1.0, 1.0, 1.0), (64, 64, 64)), ("1 x 1 x 3 mm", (1.0, 1.0, 3.0), (64, 64, 22))]:
    d = work / tag.replace(" ", "")
    write_phantom_cohort(d / "ph", 1, shape=shape, spacing=spacing, random_state=100)
    assert imaging_cli(["segment", "--images", str(d / "ph" / "images"), "--out", str(d / "seg"), "--no-tta"]) == 0
    ref = region_masks(np.asanyarray(load_label_map(d / "ph" / "masks" / "case_000.nii.gz").dataobj))
    pred = region_masks(np.asanyarray(load_label_map(d / "seg" / "case_000.nii.gz").dataobj))
    mean_dice[tag] = {r: dice(pred[r], ref[r]) for r in ("ET", "TC", "WT")}
pd.DataFrame(mean_dice).T.assign(mean=lambda t: t.mean(axis=1)).round(3)

# %% [markdown]
# Model and device problems are one line naming the file and the cause, e.g. a truncated
# checkpoint (and a pickle that `torch.load(weights_only=True)` refuses, weights that do not
# fit `config.json`, or `--device cuda` on a CPU build):

# %%
import shutil  # noqa: E402

broken = work / "broken_model"
broken.mkdir()
shutil.copy(DEMO_MODEL_DIR / "config.json", broken / "config.json")
(broken / "fold_0.pt").write_bytes((DEMO_MODEL_DIR / "fold_0.pt").read_bytes()[:1000])
imaging_cli(["segment", "--images", str(work / "cohort" / "images"), "--out", str(work / "x"), "--model", str(broken)])

# %% [markdown]
# ## Ensemble quality control (Kofler et al. 2021)
# `imaging segment --save-members` writes every fold's label map to
# `OUT/members/<case>/fold_<k>.nii.gz`; `imaging qc --members OUT/members --out qc.csv` then
# fuses the members per case and region (majority vote, or `--fusion simple`), scores each
# member against the fusion by Dice and HD95, sets per-member thresholds median − α·MAD over
# the cohort (α = 3 by default) and counts alarms (an infinite HD95, e.g. a member with no
# enhancing tumour, is always one). The demo model has a single fold, so here the members are
# made by hand: four plausible members per case (the truth shifted by at most one voxel per
# axis) and one deliberately corrupted member in `case_002`.

# %%
from scipy import ndimage  # noqa: E402

from imaging.io import save_nifti  # noqa: E402

rng = np.random.default_rng(0)
members = work / "members"
for case in manifest.index:
    truth = np.asanyarray(load_label_map(work / "cohort" / "masks" / f"{case}.nii.gz").dataobj)
    for k in range(4):
        m = np.roll(truth, tuple(int(v) for v in rng.integers(-1, 2, size=3)), axis=(0, 1, 2))
        if case == "case_002" and k == 2:  # corrupted: dilated by 3 voxels, no enhancing tumour
            m = m.copy()
            m[ndimage.binary_dilation(m > 0, iterations=3) & (m == 0)] = 2
            m[m == 3] = 1
        save_nifti(m, np.eye(4), members / case / f"fold_{k}.nii.gz")
(members / "members.json").write_text(json.dumps({"schema": "brats"}))
assert imaging_cli(["qc", "--members", str(members), "--out", str(work / "qc.csv")]) == 0
pd.read_csv(work / "qc.csv", index_col="case", keep_default_na=False).drop(columns="error").round(3)

# %% [markdown]
# ## Volumes and ratios from the segmentation
# The predicted label maps give the sub-region volumes (mL), the eight volume ratios of the
# radiogenomics-NB paper and the sub-region percentages, ready for the statistics.

# %%
pred_vols = pd.DataFrame({c: subregion_volumes(work / "seg" / f"{c}.nii.gz", "brats2023") for c in manifest.index}).T
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
