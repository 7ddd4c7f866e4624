"""imaging.longitudinal and ``imaging longitudinal``: volumes, changes and categories by hand."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from imaging.cli import main
from imaging.io import save_nifti
from imaging.longitudinal import read_scans, track_volumes

# 10 mm voxels: one voxel = 1 mL, so volumes are whole numbers of mL
AFFINE = np.diag([10.0, 10.0, 10.0, 1.0])


def _mask(path, ed_ml: int, ncr_ml: int = 0):
    lab = np.zeros((8, 8, 8), dtype=np.uint8)
    flat = lab.reshape(-1)
    flat[:ed_ml] = 2
    flat[ed_ml : ed_ml + ncr_ml] = 1
    save_nifti(lab, AFFINE, path)
    return path.name


# patient, date, WT mL (ED only unless noted), accepted, version
SCANS = [
    ("A", "2020-01-01", 10, "yes", "1"),
    ("A", "2020-04-01", 12, "yes", "1"),
    ("A", "2020-07-01", 30, "no", "1"),  # rejected: never a reference
    ("A", "2020-10-01", 15, "yes", "1"),  # +25 % vs 12, +50 % vs 10 -> PD
    ("A", "2021-01-01", 5, "yes", "1"),  # -50 % vs baseline 10 -> SD
    ("A", "2021-04-01", 3, "yes", "1"),  # -70 % vs baseline -> PR
    ("A", "2021-07-01", 0, "yes", "1"),  # gone -> CR
    ("B", "2020-02-01", 7, "", "1"),  # single scan: baseline, undefined
    ("C", "2020-01-01", 20, "yes", "v1"),  # reference scan, two versions:
    ("C", "2020-01-01", 30, "yes", "v2"),  # 10/30 = 33 % > 25 % -> incompatible
    ("C", "2020-06-01", 32, "yes", "v2"),  # compared with the v2 row (30): +6.7 % SD
    ("C", "2020-12-01", 25, "yes", "v1"),  # prev = d2 (v2 only) -> flagged
    ("D", "2020-01-01", 10, "yes", "a"),
    ("D", "2020-06-01", 11, "yes", "b"),  # version change without reference scans -> flagged
]


@pytest.fixture(scope="module")
def scans_csv(tmp_path_factory):
    root = tmp_path_factory.mktemp("long")
    (root / "masks").mkdir()
    rows = []
    for i, (p, d, v, acc, ver) in enumerate(SCANS):
        name = _mask(root / "masks" / f"{p}_{i}.nii.gz", v)
        rows.append({"patient": p, "date": d, "mask": f"masks/{name}", "accepted": acc, "software_version": ver})
    path = root / "scans.csv"
    # shuffled row order: the table is sorted by patient and date
    pd.DataFrame(rows).sample(frac=1, random_state=1).to_csv(path, index=False)
    return path


def _row(res, patient, date, version=None):
    t = res.table
    sel = (t["patient"] == patient) & (t["date"] == pd.Timestamp(date))
    if version is not None:
        sel &= t["software_version"] == version
    assert sel.sum() == 1
    return t[sel].iloc[0]


def test_changes_and_categories_by_hand(scans_csv):
    res = track_volumes(scans_csv)
    a = res.table[res.table["patient"] == "A"]
    assert a["WT_ml"].tolist() == pytest.approx([10, 12, 30, 15, 5, 3, 0])
    assert a["response"].tolist() == ["", "SD", "", "PD", "SD", "PR", "CR"]
    assert "baseline" in a["response_reason"].iloc[0]
    assert "rejected" in a["response_reason"].iloc[2]
    r3 = _row(res, "A", "2020-10-01")  # prev = 12 (the rejected 30 skipped), prev2 = 10
    assert r3["prev_date"] == pd.Timestamp("2020-04-01")
    assert r3["prev2_date"] == pd.Timestamp("2020-01-01")
    assert r3["WT_change_prev_ml"] == pytest.approx(3)
    assert r3["WT_change_prev_pct"] == pytest.approx(25.0)
    assert r3["WT_change_prev2_pct"] == pytest.approx(50.0)
    assert r3["WT_change_nadir_pct"] == pytest.approx(50.0)  # nadir 10
    assert "scan before previous" in r3["response_reason"]
    r5 = _row(res, "A", "2021-04-01")  # nadir among 10, 12, 15, 5 is 5
    assert r5["nadir_date"] == pd.Timestamp("2021-01-01")
    assert r5["WT_change_nadir_ml"] == pytest.approx(-2)
    assert r5["WT_change_nadir_pct"] == pytest.approx(-40.0)
    assert r5["WT_change_prev2_pct"] == pytest.approx(100 * (3 - 15) / 15)
    # sub-regions: NCR is empty everywhere -> change 0 mL, percentage undefined (NaN)
    assert r5["NCR_change_prev_ml"] == 0 and np.isnan(r5["NCR_change_prev_pct"])
    # rejected scans are still measured against the accepted ones
    rej = _row(res, "A", "2020-07-01")
    assert rej["WT_change_prev_pct"] == pytest.approx(150.0)
    b = _row(res, "B", "2020-02-01")
    assert b["response"] == "" and np.isnan(b["WT_change_prev_ml"])


def test_threshold_and_min_previous_parameters(scans_csv):
    res = track_volumes(scans_csv, pd_threshold=60.0)  # +50 % no longer PD
    assert _row(res, "A", "2020-10-01")["response"] == "SD"
    res2 = track_volumes(scans_csv, min_previous=2)
    r1 = _row(res2, "A", "2020-04-01")
    assert r1["response"] == "" and "1 earlier accepted scan(s), 2 required" in r1["response_reason"]
    assert _row(res2, "A", "2020-10-01")["response"] == "PD"
    res3 = track_volumes(scans_csv, pr_threshold=50.0)  # -50 % vs baseline is now PR
    assert _row(res3, "A", "2021-01-01")["response"] == "PR"


def test_software_reference_check(scans_csv):
    res = track_volumes(scans_csv)
    chk = res.software_check
    assert chk[["version_a", "version_b"]].values.tolist() == [["v1", "v2"]]
    assert chk["max_diff_pct"].iloc[0] == pytest.approx(100 * 10 / 30)
    assert bool(chk["incompatible"].iloc[0])
    same = _row(res, "C", "2020-06-01")  # compared with the v2 reference row (30 mL)
    assert same["WT_change_prev_pct"] == pytest.approx(100 * 2 / 30)
    assert not same["version_change"] and not same["software_flag"]
    assert same["prev_date"] == pd.Timestamp("2020-01-01")
    cross = _row(res, "C", "2020-12-01")  # v1 scan, previous only in v2
    assert cross["version_change"] and cross["software_flag"]
    assert "failed the reference check" in cross["response_reason"]
    assert cross["WT_change_prev2_pct"] == pytest.approx(100 * (25 - 20) / 20)  # v1 row of d1
    # with a 40 % tolerance the pair passes
    res2 = track_volumes(scans_csv, software_tolerance=0.40)
    assert not _row(res2, "C", "2020-12-01")["software_flag"]
    assert "v2 -> v1 passed the reference check" in _row(res2, "C", "2020-12-01")["response_reason"]
    d = _row(res, "D", "2020-06-01")
    assert d["version_change"] and d["software_flag"] and d["response"] == "SD"
    assert "without reference scans" in d["response_reason"]


def test_result_object(scans_csv, tmp_path):
    import matplotlib

    matplotlib.use("Agg")
    res = track_volumes(scans_csv)
    s = res.summary()
    assert s.loc["A", "n_scans"] == 7 and s.loc["A", "n_accepted"] == 6
    assert s.loc["A", "first_pd_date"] == "2020-10-01" and s.loc["A", "last_response"] == "CR"
    ax = res.plot(patient="A")
    assert ax.get_title() == "A"
    axes = res.plot().axes
    assert len([a for a in axes if a.get_visible()]) == 4
    out = res.save(tmp_path / "t.csv")
    back = pd.read_csv(out, keep_default_na=False)
    assert len(back) == len(SCANS) and back["date"].iloc[0] == "2020-01-01"
    assert res.to_frame().shape == res.table.shape


def test_cli_end_to_end_and_errors(scans_csv, tmp_path, capsys):
    out, fig = tmp_path / "table.csv", tmp_path / "traj.png"
    args = ["longitudinal", "--scans", str(scans_csv), "--out", str(out), "--figure", str(fig)]
    assert main(args) == 0
    table = pd.read_csv(out, keep_default_na=False)
    assert table.loc[table["patient"] == "A", "response"].tolist() == ["", "SD", "", "PD", "SD", "PR", "CR"]
    assert fig.stat().st_size > 1000
    # a missing mask: one line naming the file, nothing written
    bad = tmp_path / "bad.csv"
    df = pd.read_csv(scans_csv, dtype=str, keep_default_na=False)
    df.loc[0, "mask"] = "masks/nope.nii.gz"
    df.to_csv(bad, index=False)
    out2 = tmp_path / "t2.csv"
    assert main(["longitudinal", "--scans", str(bad), "--out", str(out2)]) == 2
    err = capsys.readouterr().err.strip()
    assert "nope.nii.gz" in err and len(err.splitlines()) == 1
    assert not out2.exists() and not list(tmp_path.glob(".t2*"))
    # a bad date names the line
    df = pd.read_csv(scans_csv, dtype=str, keep_default_na=False)
    df.loc[2, "date"] = "yesterday"
    df.to_csv(bad, index=False)
    assert main(["longitudinal", "--scans", str(bad), "--out", str(out2)]) == 2
    assert "line 4" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["longitudinal", "--help"])
    assert "example:" in capsys.readouterr().out


def test_read_scans_errors(tmp_path):
    p = tmp_path / "s.csv"
    p.write_text("patient,mask\nA,x.nii.gz\n")
    with pytest.raises(ValueError, match="missing column"):
        read_scans(p)
    p.write_text("patient,date,mask,accepted\nA,2020-01-01,x.nii.gz,maybe\n")
    with pytest.raises(ValueError, match="accepted must be"):
        read_scans(p)
    p.write_text("patient,date,mask\nA,2020-01-01,x.nii.gz\nA,2020-01-01,y.nii.gz\n")
    with pytest.raises(ValueError, match="several scans"):
        read_scans(p)
    with pytest.raises(ValueError, match="region"):
        track_volumes(p, region="XX")
