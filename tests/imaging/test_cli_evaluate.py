"""``imaging evaluate`` / imaging.evaluation: per-case metrics, summary, agreement, HTML."""

from __future__ import annotations

import nibabel as nib
import numpy as np
import pandas as pd
import pytest
from scipy.ndimage import binary_dilation

from imaging.cli import main
from imaging.evaluation import evaluate_cohort
from imaging.io import save_nifti
from imaging.metrics import icc, region_report
from imaging.volumes import subregion_percentages


@pytest.fixture(scope="module")
def folders(tmp_path_factory):
    root = tmp_path_factory.mktemp("eval")
    assert main(["phantoms", "--out", str(root / "ph"), "--n", "4", "--shape", "24", "--spacing", "1,1,1.5"]) == 0
    for d in ("pred", "expert2"):
        (root / d).mkdir()
    for i, p in enumerate(sorted((root / "ph" / "masks").iterdir())):
        img = nib.load(str(p))
        lab = np.asarray(img.dataobj).astype(np.uint8)
        pred = lab.copy()
        grow = binary_dilation(lab > 0, iterations=1 + i % 2) & (lab == 0)
        pred[grow] = 2  # predicted edema one or two voxels too wide
        if i == 3:
            pred[pred == 3] = 1  # no enhancing tumour predicted: an empty region
        save_nifti(pred, img.affine, root / "pred" / p.name)
        e2 = lab.copy()
        e2[binary_dilation(lab == 1) & (lab == 3)] = 1  # expert 2: larger necrosis
        save_nifti(e2, img.affine, root / "expert2" / p.name)
    return root


def test_metrics_summary_and_agreement_by_hand(folders):
    res = evaluate_cohort(folders / "pred", [folders / "ph" / "masks", folders / "expert2"], empty_hd=373.13)
    pc = res.per_case
    assert set(pc["reference"]) == {"masks", "expert2"}
    # per-case rows are region_report of each pair
    p = np.asarray(nib.load(str(folders / "pred" / "case_002.nii.gz")).dataobj)
    r = np.asarray(nib.load(str(folders / "ph" / "masks" / "case_002.nii.gz")).dataobj)
    rep = region_report(p, r, "brats", (1, 1, 1.5), empty_hd=373.13)
    got = pc[(pc["reference"] == "masks") & (pc["case"] == "case_002")].set_index("region")
    pd.testing.assert_frame_equal(got[rep.columns], rep, check_names=False)
    et3 = pc[(pc["reference"] == "masks") & (pc["case"] == "case_003") & (pc["region"] == "ET")].iloc[0]
    assert et3["dice"] == 0 and et3["hd95_mm"] == 373.13 and et3["sensitivity"] == 0
    # summary: mean / SD / median of the per-case values
    s = res.summary().set_index(["reference", "region", "metric"])
    wt = pc[(pc["reference"] == "masks") & (pc["region"] == "WT")]["dice"]
    assert s.loc[("masks", "WT", "dice"), "mean"] == pytest.approx(wt.mean())
    assert s.loc[("masks", "WT", "dice"), "sd"] == pytest.approx(wt.std(ddof=1))
    assert s.loc[("masks", "WT", "dice"), "median"] == pytest.approx(wt.median())
    # agreement of % of WT: Bland–Altman bias and ICC from the volumes by hand
    vp = pc[pc["reference"] == "masks"].pivot(index="case", columns="region", values="pred_ml")
    vr = pc[pc["reference"] == "masks"].pivot(index="case", columns="region", values="ref_ml")
    a, b = subregion_percentages(vp)["ED_pct"], subregion_percentages(vr)["ED_pct"]
    t = res.agreement["pred vs masks"].table.loc["ED_pct"]
    assert t["bias"] == pytest.approx((a - b).mean())
    assert t["loa_high"] == pytest.approx((a - b).mean() + 1.96 * (a - b).std(ddof=1))
    assert t["icc_2_1"] == pytest.approx(icc(np.column_stack([a, b]), "ICC(2,1)"))
    assert "masks vs expert2" in res.agreement  # between experts too


def test_identical_masks_agree_perfectly(folders):
    res = evaluate_cohort(folders / "ph" / "masks", folders / "ph" / "masks")
    assert (res.per_case["dice"] == 1).all() and (res.per_case["hd95_mm"] == 0).all()
    t = res.agreement_table()
    ok = t["n"] > 0
    assert np.allclose(t.loc[ok, "bias"], 0) and np.allclose(t.loc[ok & t["icc_2_1"].notna(), "icc_2_1"], 1)


def test_icc_closed_form_for_a_constant_shift():
    # y = x + c: ICC(3,1) = 1 and, with MSR = 2 s^2, MSC = n c^2 / 2, MSE = 0,
    # ICC(2,1) = MSR / (MSR + 2 MSC / n) = 2 s^2 / (2 s^2 + c^2)
    x = np.array([3.0, 7.0, 1.0, 9.0, 4.0, 6.0])
    c = 2.5
    s2 = x.var(ddof=1)
    assert icc(np.column_stack([x, x + c]), "ICC(3,1)") == pytest.approx(1.0)
    assert icc(np.column_stack([x, x + c]), "ICC(2,1)") == pytest.approx(2 * s2 / (2 * s2 + c**2))


def test_cli_writes_report(folders, tmp_path, capsys):
    out = tmp_path / "eval"
    assert main(["evaluate", "--pred", str(folders / "pred"), "--truth", str(folders / "ph" / "masks"),
                 str(folders / "expert2"), "--out", str(out)]) == 0
    names = sorted(p.name for p in out.iterdir())
    assert names == ["agreement_ml.csv", "agreement_pct.csv", "bland_altman_0.png", "bland_altman_1.png",
                     "bland_altman_2.png", "dice.png", "per_case.csv", "report.html", "summary.csv", "volumes.csv"]
    page = (out / "report.html").read_text()
    assert all(f"src='{n}'" in page for n in names if n.endswith(".png"))
    assert "ICC" in page or "icc_2_1" in page
    per_case = pd.read_csv(out / "per_case.csv")
    assert len(per_case) == 2 * 4 * 5  # references x cases x regions
    # --ref is an alias; a non-empty output needs --overwrite
    assert main(["evaluate", "--pred", str(folders / "pred"), "--ref", str(folders / "ph" / "masks"),
                 "--out", str(out)]) == 2
    assert "not empty" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["evaluate", "--help"])
    assert "imaging evaluate --pred" in capsys.readouterr().out


def test_cli_errors(folders, tmp_path, capsys):
    partial = tmp_path / "partial"
    partial.mkdir()
    src = folders / "pred" / "case_000.nii.gz"
    (partial / src.name).write_bytes(src.read_bytes())
    out = tmp_path / "o"
    assert main(["evaluate", "--pred", str(partial), "--truth", str(folders / "ph" / "masks"), "--out", str(out)]) == 2
    err = capsys.readouterr().err.strip()
    assert "lacks case(s) ['case_001', 'case_002', 'case_003']" in err and len(err.splitlines()) == 1
    # another grid: the message names both files
    shifted = tmp_path / "shifted"
    shifted.mkdir()
    for p in (folders / "pred").iterdir():
        img = nib.load(str(p))
        aff = img.affine.copy()
        aff[0, 3] += 5
        save_nifti(np.asarray(img.dataobj), aff, shifted / p.name)
    assert main(["evaluate", "--pred", str(shifted), "--truth", str(folders / "ph" / "masks"), "--out", str(out)]) == 2
    err = capsys.readouterr().err.strip()
    assert "affines differ" in err and "case_000.nii.gz" in err and len(err.splitlines()) == 1
    assert not out.exists() and not list(tmp_path.glob(".o.*"))
