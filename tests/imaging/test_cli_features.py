"""``imaging features`` and ``imaging phantoms`` command lines."""

from __future__ import annotations

import nibabel as nib
import numpy as np
import pandas as pd
import pytest

from imaging.cli import main
from imaging.volumes import RATIO_NAMES, volume_ratios


@pytest.fixture(scope="module")
def cohort(tmp_path_factory):
    root = tmp_path_factory.mktemp("cli") / "ph"
    assert main(["phantoms", "--out", str(root), "--n", "3", "--shape", "32", "--spacing", "1,1,1.5"]) == 0
    return root


def test_phantoms_command(cohort):
    assert sorted(p.name for p in (cohort / "masks").iterdir()) == [f"case_00{i}.nii.gz" for i in range(3)]
    assert len(list((cohort / "images").glob("case_001_000?.nii.gz"))) == 4
    img = nib.load(str(cohort / "masks" / "case_000.nii.gz"))
    assert img.header.get_zooms()[:3] == pytest.approx((1, 1, 1.5))


def test_features_volumes_ratios(cohort, tmp_path):
    out = tmp_path / "features.csv"
    assert main(["features", "--masks", str(cohort / "masks"), "--schema", "brats", "--out", str(out), "--no-progress"]) == 0
    f = pd.read_csv(out, index_col="patient", keep_default_na=False, na_values=[""])
    truth = pd.read_csv(cohort / "phantoms.csv", index_col="case")
    np.testing.assert_allclose(f[["ET", "NCR", "ED", "TC", "WT"]], truth[["ET", "NCR", "ED", "TC", "WT"]], rtol=1e-9)
    pd.testing.assert_frame_equal(f[list(RATIO_NAMES)], volume_ratios(f), check_dtype=False)
    assert f["errors"].isna().all()
    assert not list(tmp_path.glob(".*"))


def test_features_bad_case_reported_and_parallel(cohort, tmp_path):
    masks = tmp_path / "masks"
    masks.mkdir()
    for p in (cohort / "masks").iterdir():
        (masks / p.name).write_bytes(p.read_bytes())
    (masks / "corrupt.nii.gz").write_bytes(b"garbage")
    img = nib.load(str(cohort / "masks" / "case_000.nii.gz"))
    d = np.asarray(img.dataobj).copy()
    d[0, 0, 0] = 9
    nib.save(nib.Nifti1Image(d, img.affine), str(masks / "oddlabel.nii.gz"))
    (tmp_path / "params.yaml").write_text("featureClass:\n  firstorder: [Mean]\n")
    out = tmp_path / "f.csv"
    rc = main([
        "features", "--masks", str(masks), "--images", str(cohort / "images"), "--out", str(out),
        "--morphology", "--radiomics", str(tmp_path / "params.yaml"), "--channel", "1",
        "-j", "2", "--no-progress", "--schema", "brats",
    ])
    assert rc == 0
    f = pd.read_csv(out, index_col="patient", keep_default_na=False, na_values=[""])
    assert list(f.index) == ["case_000", "case_001", "case_002", "corrupt", "oddlabel"]
    assert "cannot read" in f.loc["corrupt", "errors"]
    assert "[9]" in f.loc["oddlabel", "errors"]
    assert f.loc[["case_000", "case_001", "case_002"], "errors"].isna().all()
    assert (f.loc["case_000":"case_002", "shape_sr_index"] > 0.8).all()
    assert f.loc["case_000", "shape_axis_type"] in {"AP", "LR", "SI", "NL"}
    assert f.loc["case_000", "original_firstorder_Mean"] > 0
    # --lenient: the unknown label is ignored, the case is measured
    out2 = tmp_path / "f2.parquet"
    assert main(["features", "--masks", str(masks), "--out", str(out2), "--lenient", "--no-progress", "--schema", "brats"]) == 0
    g = pd.read_parquet(out2)
    assert g.loc["oddlabel", "WT"] == pytest.approx(g.loc["case_000", "WT"])


def test_features_pairs(cohort, tmp_path):
    pairs = tmp_path / "pairs.csv"
    pairs.write_text("patient,initial,repeat\nP1,case_000,case_000\nP2,case_000,case_001\n")
    out = tmp_path / "p.csv"
    assert main(["features", "--masks", str(cohort / "masks"), "--pairs", str(pairs), "--out", str(out), "--no-progress",
                 "--schema", "brats2023"]) == 0
    f = pd.read_csv(out, index_col="patient", keep_default_na=False, na_values=[""])
    assert list(f.index) == ["P1", "P2"]
    assert f.loc["P1", "change_volume_change_ml"] == 0 and f.loc["P1", "change_center_shift_mm"] == 0
    assert f.loc["P1", "change_center_shift_direction"] == "none"
    truth = pd.read_csv(cohort / "phantoms.csv", index_col="case")
    assert f.loc["P2", "change_volume_change_ml"] == pytest.approx(truth.loc["case_001", "WT"] - truth.loc["case_000", "WT"])


def test_features_cli_errors(cohort, tmp_path, capsys):
    assert main(["features", "--masks", str(tmp_path / "none"), "--out", str(tmp_path / "x.csv")]) == 2
    assert "masks directory not found" in capsys.readouterr().err
    assert main(["features", "--masks", str(cohort / "masks"), "--schema", "nope", "--out", str(tmp_path / "x.csv")]) == 2
    assert "unknown label schema" in capsys.readouterr().err
    assert main(["features", "--masks", str(cohort / "masks"), "--out", str(tmp_path / "x.xlsx"), "--no-progress"]) == 2
    assert not (tmp_path / "x.csv").exists()
    capsys.readouterr()
    bad_yaml = tmp_path / "bad.yaml"
    bad_yaml.write_text("name: x\nregions: [1, 2\n")
    not_map = tmp_path / "list.json"
    not_map.write_text('{"regions": [1, 2]}')
    blocker = tmp_path / "afile"
    blocker.write_text("x")
    for argv, match in [
        (["--schema", str(bad_yaml), "--out", str(tmp_path / "x.csv")], "not valid YAML"),
        (["--schema", str(not_map), "--out", str(tmp_path / "x.csv")], "must be mappings"),
        (["--out", str(blocker / "x.csv")], "afile"),
    ]:
        assert main(["features", "--masks", str(cohort / "masks"), "--no-progress", *argv]) == 2
        err = capsys.readouterr().err.strip().splitlines()
        assert len(err) == 1 and match in err[0], err


def test_paediatric_maps_need_the_schema_named(tmp_path, capsys):
    """Issue 15: paediatric maps were read as BraTS (ET = ET + CC) and the command exited 0."""
    root = tmp_path / "peds"
    assert main(["phantoms", "--out", str(root), "--n", "2", "--shape", "32", "--schema", "paediatric"]) == 0
    out = tmp_path / "f.csv"
    capsys.readouterr()
    # no schema: every case is refused (values 1-4 fit both schemas), exit 1, count on stderr
    assert main(["features", "--masks", str(root / "masks"), "--out", str(out), "--no-progress"]) == 1
    err = capsys.readouterr().err
    assert "0 of 2 case(s) measured, 2 failed" in err and "--schema" in err and len(err.strip().splitlines()) == 1
    f = pd.read_csv(out, index_col="patient")
    assert f["errors"].str.contains(r"case_000\.nii\.gz: label values \[1, 2, 3, 4\]").any()
    # read as BraTS: refused too (ET would be labels 3 + 4)
    assert main(["features", "--masks", str(root / "masks"), "--schema", "brats", "--out", str(out), "--no-progress"]) == 1
    # named: the true volumes, with seed 002's composite
    assert main(["features", "--masks", str(root / "masks"), "--schema", "paediatric", "--out", str(out), "--no-progress"]) == 0
    f = pd.read_csv(out, index_col="patient")
    truth = pd.read_csv(root / "phantoms.csv", index_col="case")
    np.testing.assert_allclose(f["ET"], truth["ET"], rtol=1e-12)
    np.testing.assert_allclose(f["NET+CC+ED"], truth["NET"] + truth["CC"] + truth["ED"], rtol=1e-12)


def test_features_isotropic_option(cohort, tmp_path):
    out = tmp_path / "iso.csv"
    argv = ["features", "--masks", str(cohort / "masks"), "--schema", "brats2023", "--morphology", "--no-progress"]
    assert main([*argv, "--out", str(out), "--isotropic", "1.0"]) == 0
    assert main([*argv, "--out", str(tmp_path / "raw.csv")]) == 0
    iso = pd.read_csv(out, index_col="patient")
    raw = pd.read_csv(tmp_path / "raw.csv", index_col="patient")
    assert iso["errors"].isna().all()
    # volumes (voxel counts) are unchanged; shape is measured on the resampled mask
    np.testing.assert_allclose(iso["WT"], raw["WT"], rtol=1e-12)
    np.testing.assert_allclose(iso["shape_volume_ml"], raw["shape_volume_ml"], rtol=1e-12)
    assert not np.allclose(iso["shape_sr_index"], raw["shape_sr_index"])
