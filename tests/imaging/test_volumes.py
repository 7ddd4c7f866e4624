"""imaging.volumes: exact sub-region volumes, the eight ratios by hand, percentages."""

from __future__ import annotations

import subprocess
import sys

import nibabel as nib
import numpy as np
import pandas as pd
import pytest

from imaging.phantoms import make_tumour_phantom
from imaging.volumes import RATIO_NAMES, subregion_percentages, subregion_volumes, volume_ratios


def _boxes(et_label=4):
    lab = np.zeros((20, 20, 20), dtype=np.uint8)
    lab[0:10, 0:10, 0:10] = 2  # ED 1000 voxels
    lab[0:5, 0:4, 0:3] = 1  # NCR 60 voxels
    lab[10:12, 0:5, 0:3] = et_label  # ET 30 voxels
    return lab


def test_box_volumes_exact_anisotropic():
    sp = (0.5, 1.0, 2.0)  # voxel = 1 mm^3 = 0.001 mL
    v = subregion_volumes(_boxes(), "brats", spacing=sp)
    assert list(v.index) == ["ET", "NCR", "ED", "TC", "WT"]
    expected = {"ET": 0.030, "NCR": 0.060, "ED": 0.940, "TC": 0.090, "WT": 1.030}
    for k, e in expected.items():
        assert v[k] == pytest.approx(e, rel=1e-12)
    # ET as label 3 (BraTS 2023) is the same region
    pd.testing.assert_series_equal(v, subregion_volumes(_boxes(3), "brats", spacing=sp))


def test_volume_from_nifti_header(tmp_path):
    lab = _boxes()
    aff = np.diag([-0.5, 1.0, 2.0, 1.0])  # flipped x: canonical reorientation must not matter
    path = tmp_path / "m.nii.gz"
    nib.save(nib.Nifti1Image(lab, aff), str(path))
    v = subregion_volumes(path)
    assert v["WT"] == pytest.approx(1.030)
    assert subregion_volumes(nib.load(str(path)))["ET"] == pytest.approx(0.030)
    with pytest.raises(ValueError, match="disagrees"):
        subregion_volumes(path, spacing=(1, 1, 1))


@pytest.mark.parametrize("schema", ["brats", "paediatric"])
@pytest.mark.parametrize("spacing", [(1.0, 1.0, 1.0), (0.9, 1.2, 2.5)])
def test_phantom_volumes_match_analytic_counts(schema, spacing):
    _, lab, aff, info = make_tumour_phantom((48, 48, 40), spacing, schema, random_state=4, return_info=True)
    v = subregion_volumes(lab, schema, spacing=spacing)
    voxel_ml = np.prod(spacing) / 1000
    for region, n in info["voxel_counts"].items():
        assert v[region] == pytest.approx(n * voxel_ml, rel=1e-12)
        assert n > 0
    for region, e in info["expected_volumes_ml"].items():
        assert v[region] == pytest.approx(e, rel=1e-12)
    if schema == "paediatric":
        assert list(v.index) == ["ET", "NET", "CC", "ED", "TC", "WT", "NET+CC+ED"]
        assert v["TC"] == pytest.approx(v["ET"] + v["NET"] + v["CC"])
        assert v["NET+CC+ED"] == pytest.approx(v["NET"] + v["CC"] + v["ED"])
        # the same map read without a schema is refused (1-4 fit brats and paediatric) ...
        with pytest.raises(ValueError, match="more than one schema"):
            subregion_volumes(lab, None, spacing=spacing)
        # ... and read as BraTS it is refused too (ET would be 3 + 4)
        with pytest.raises(ValueError, match="3, 4"):
            subregion_volumes(lab, "brats", spacing=spacing)


def test_unknown_labels_strict_and_lenient():
    lab = _boxes()
    lab[19, 19, 19] = 9
    with pytest.raises(ValueError, match=r"\[9\]"):
        subregion_volumes(lab, spacing=1)
    v = subregion_volumes(lab, spacing=1, strict=False)
    assert v["WT"] == pytest.approx(1.030)


def test_array_needs_spacing_and_integers():
    with pytest.raises(ValueError, match="spacing"):
        subregion_volumes(_boxes())
    with pytest.raises(ValueError, match="non-integer"):
        subregion_volumes(_boxes() + 0.5, spacing=1)
    with pytest.raises(ValueError, match="positive"):
        subregion_volumes(_boxes(), spacing=(1, 0, 1))


def test_ratios_by_hand_series():
    v = pd.Series({"ET": 3.0, "NCR": 1.0, "ED": 6.0, "TC": 4.0, "WT": 10.0})
    r = volume_ratios(v)
    assert tuple(r.index) == RATIO_NAMES == (
        "ET/NCR", "ET/(ET+NCR)", "ET/ED", "ET/WT", "ED/NCR", "ED/(ET+NCR)", "ED/WT", "NCR/WT",
    )
    hand = [3.0, 0.75, 0.5, 0.3, 6.0, 1.5, 0.6, 0.1]
    np.testing.assert_allclose(r.to_numpy(), hand, rtol=1e-15)


def test_ratios_frame_and_zero_denominators():
    vols = pd.DataFrame(
        {"ET": [3.0, 2.0, 0.0], "NCR": [1.0, 0.0, 0.0], "ED": [6.0, 0.0, 0.0], "WT": [10.0, 2.0, 0.0]},
        index=pd.Index(["p1", "p2", "p3"], name="patient"),
    )
    r = volume_ratios(vols)
    assert list(r.columns) == list(RATIO_NAMES)
    assert list(r.index) == ["p1", "p2", "p3"]
    np.testing.assert_allclose(r.loc["p1"], [3.0, 0.75, 0.5, 0.3, 6.0, 1.5, 0.6, 0.1])
    assert np.isnan(r.loc["p2", "ET/NCR"]) and np.isnan(r.loc["p2", "ET/ED"])
    assert r.loc["p2", "ET/(ET+NCR)"] == 1.0 and r.loc["p2", "ED/WT"] == 0.0
    assert r.loc["p3"].isna().all()
    assert not np.isinf(r.to_numpy()).any()
    # row-wise equal to the Series form
    pd.testing.assert_series_equal(volume_ratios(vols.loc["p1"]), r.loc["p1"], check_names=False)


def test_ratios_errors():
    with pytest.raises(ValueError, match=r"lack \['NCR'\]"):
        volume_ratios(pd.Series({"ET": 1.0, "ED": 1.0, "WT": 2.0}))
    with pytest.raises(ValueError, match="Series"):
        volume_ratios([1, 2, 3])
    with pytest.raises(ValueError, match="negative"):
        volume_ratios(pd.Series({"ET": -1.0, "NCR": 1.0, "ED": 1.0, "WT": 2.0}))


def test_percentages():
    v = subregion_volumes(_boxes(), spacing=(0.5, 1.0, 2.0))
    p = subregion_percentages(v)
    assert list(p.index) == ["ET_pct", "NCR_pct", "ED_pct", "TC_pct"]
    assert p["ET_pct"] == pytest.approx(100 * 30 / 1030)
    assert p[["ET_pct", "NCR_pct", "ED_pct"]].sum() == pytest.approx(100)
    frame = pd.DataFrame([v, v * 0], index=["a", "b"])
    pf = subregion_percentages(frame)
    assert pf.loc["b"].isna().all()
    assert pf.loc["a", "TC_pct"] == pytest.approx(100 * 90 / 1030)


def test_import_is_light():
    code = (
        "import sys; import imaging.volumes as v; "
        "bad = [m for m in ('nibabel', 'radiomics', 'torch', 'monai', 'skimage', 'SimpleITK') "
        "if m in sys.modules]; assert not bad, bad; print(v.volume_ratios.__name__)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=False)
    assert out.returncode == 0, out.stderr


def test_label_counts_equals_bincount():
    """Both paths (few small labels: comparisons; larger labels: bincount) and memory
    orders give np.bincount's answer."""
    from imaging.volumes import label_counts

    rng = np.random.default_rng(0)
    small = rng.choice(np.array([0, 1, 2, 4], dtype=np.uint8), size=(17, 13, 11))
    for arr in (small, np.asfortranarray(small), small[:, ::2, :], small.astype(np.int16) * 7,
                small.astype(bool), small.astype(np.int32) + 20):
        np.testing.assert_array_equal(label_counts(arr), np.bincount(np.asarray(arr).ravel()))
    with pytest.raises(ValueError, match="negative"):
        label_counts(small.astype(np.int8) - 1)
    with pytest.raises(ValueError, match="integers"):
        label_counts(small.astype(float))
