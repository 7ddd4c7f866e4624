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
# # Longitudinal tumour volume: the EASE workflow
#
# The EASE paper (Erasmus Automated SEgmentation) follows low-grade gliomas over time:
# every new scan is segmented, a radiologist accepts or rejects the segmentation, and the
# new volume is compared with the **two previous accepted scans**. A volume increase of
# 40 % — the volumetric counterpart of RANO's 25 % in two dimensions — is the recommended
# threshold for progressive disease (PD). After a software update, reference scans are
# segmented by both versions; volumes that differ by more than 25 % flag the new version as
# incompatible.
#
# `imaging.longitudinal` implements this on a table of scans. Here three synthetic
# patients (ellipsoidal tumours on a 1.5 mm grid) show growth, a rejected segmentation, a
# response to treatment and a software update.

# %%
import logging
import os
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd

from imaging.cli import main as imaging_cli
from imaging.io import save_nifti
from imaging.longitudinal import track_volumes
from imaging.phantoms import ellipsoid_mask, phantom_affine

logging.getLogger("imaging").setLevel(logging.WARNING)
work = Path(tempfile.mkdtemp(prefix="imaging_longitudinal_"))
(work / "masks").mkdir()

SHAPE, SPACING = (48, 48, 48), (1.5, 1.5, 1.5)


def tumour_mask(wt_ml: float, core_fraction: float = 0.15) -> np.ndarray:
    """Edema (2) ellipsoid of about ``wt_ml`` mL with a necrotic core (1)."""
    ratio = np.array([1.0, 0.8, 0.7])
    a = (3 * wt_ml * 1000 / (4 * np.pi * ratio.prod())) ** (1 / 3)  # semi-axes in mm
    lab = np.zeros(SHAPE, dtype=np.uint8)
    lab[ellipsoid_mask(SHAPE, SPACING, (5.0, -3.0, 2.0), a * ratio)] = 2
    lab[ellipsoid_mask(SHAPE, SPACING, (5.0, -3.0, 2.0), a * ratio * core_fraction ** (1 / 3))] = 1
    return lab


# patient, date, intended WT volume (mL), accepted by the radiologist, software version
plan = [
    ("LGG-01", "2019-03-01", 12.0, "yes", "2.0"),
    ("LGG-01", "2019-09-02", 12.8, "yes", "2.0"),
    ("LGG-01", "2020-03-05", 14.1, "yes", "2.0"),
    ("LGG-01", "2020-09-01", 19.5, "yes", "2.0"),  # +38 % vs previous, +52 % vs the one before
    ("LGG-02", "2019-05-10", 20.0, "yes", "2.0"),
    ("LGG-02", "2019-11-12", 21.0, "yes", "2.0"),
    ("LGG-02", "2020-05-08", 34.0, "no", "2.0"),  # segmentation leaked into the ventricle
    ("LGG-02", "2020-11-03", 21.5, "yes", "2.0"),
    ("LGG-03", "2019-01-15", 30.0, "yes", "2.0"),
    ("LGG-03", "2019-07-20", 24.0, "yes", "2.0"),  # treatment
    ("LGG-03", "2020-01-18", 9.0, "yes", "2.0"),
    ("LGG-03", "2020-01-18", 9.3, "yes", "2.1"),  # reference scan re-segmented by v2.1
    ("LGG-03", "2020-07-22", 9.6, "yes", "2.1"),
]
rows = []
for i, (patient, date, ml, accepted, version) in enumerate(plan):
    name = f"masks/{patient}_{date}_v{version}.nii.gz"
    save_nifti(tumour_mask(ml), phantom_affine(SHAPE, SPACING), work / name)
    rows.append({"patient": patient, "date": date, "mask": name, "accepted": accepted, "software_version": version})
pd.DataFrame(rows).to_csv(work / "scans.csv", index=False)
print((work / "scans.csv").read_text())

# %% [markdown]
# ## From the command line
# `imaging longitudinal --scans scans.csv --out table.csv --figure trajectories.png`
# writes one row per scan: the sub-region volumes, their change (mL and %) against the
# previous accepted scan, the one before it and the nadir, and the volumetric category.

# %%
assert imaging_cli([
    "longitudinal", "--scans", str(work / "scans.csv"), "--out", str(work / "table.csv"),
    "--figure", str(work / "trajectories.png"),
]) == 0
table = pd.read_csv(work / "table.csv").fillna({"response": ""})
table[["patient", "date", "accepted", "WT_ml", "WT_change_prev_pct", "WT_change_prev2_pct", "response"]].round(1)

# %% [markdown]
# ## In Python
# `track_volumes` returns a result object. The categories (on WT by default):
#
# * **PD** — an increase of at least `pd_threshold` (40 %) against either of the two
#   previous accepted scans (or tumour appearing after none);
# * **CR** — no tumour left (`cr_volume_ml`, default 0 mL) after a baseline with tumour;
# * **PR** — a decrease of at least `pr_threshold` (65 %, the volumetric counterpart of
#   RANO's 50 % in 2-D) against the first accepted scan;
# * **SD** — otherwise; empty, with the reason, for rejected scans and baselines.
#
# LGG-01 grows slowly: each step stays below 40 % of the previous scan, but the last scan
# is 52 % above the scan before the previous one — PD by the two-scan rule. LGG-02's
# rejected scan (a leak into the ventricle) is never used as a reference, so the next scan
# is stable. LGG-03 responds to treatment (PR), and its software update passes the
# reference check.

# %%
result = track_volumes(work / "scans.csv")
result.table[["patient", "date", "software_version", "WT_ml", "WT_change_nadir_pct", "response",
              "response_reason"]].round(1)

# %%
result.summary()

# %%
result.software_check

# %% [markdown]
# ## Trajectories
# One panel per patient: accepted scans coloured by category, the rejected scan as a cross,
# the red band above the level that the next scan must reach for PD (40 % above the lower
# of the last two accepted volumes) and the green band below the PR level (65 % below
# baseline).

# %%
fig = result.figure()
fig_dir = Path(os.environ.get("IMAGING_FIGURE_DIR", work))  # the repository's vignettes/figures
fig.savefig(fig_dir / "longitudinal_trajectories.png", dpi=100)
fig
