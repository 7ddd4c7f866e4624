"""imaging.phantoms: analytic voxel counts, channels, anisotropic spacing, cohort layout."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from imaging.io import load_image_and_mask, voxel_spacing
from imaging.phantoms import (
    CHANNELS,
    ellipsoid_mask,
    ellipsoid_voxel_count,
    make_lesion_phantom,
    make_tumour_phantom,
    write_phantom_cohort,
)
from imaging.volumes import subregion_volumes


@pytest.mark.parametrize(
    "spacing, center, axes",
    [
        ((1, 1, 1), (0, 0, 0), (10, 10, 10)),
        ((1, 1, 1), (0.5, -0.5, 0.5), (7, 9.3, 4)),
        ((0.7, 1.3, 3.0), (2.0, -3.1, 4.4), (11, 6, 14)),
        ((1, 1, 1), (25, 0, 0), (10, 10, 10)),  # clipped by the grid edge
    ],
)
def test_analytic_count_matches_mask(spacing, center, axes):
    shape = (64, 48, 40)
    m = ellipsoid_mask(shape, spacing, center, axes)
    assert int(m.sum()) == ellipsoid_voxel_count(shape, spacing, center, axes)


def test_sphere_count_close_to_continuous_volume():
    n = ellipsoid_voxel_count((64, 64, 64), (1, 1, 1), (0.3, 0.1, 0.2), (20, 20, 20))
    assert n == pytest.approx(4 / 3 * np.pi * 20**3, rel=0.01)


@pytest.mark.parametrize("schema", ["brats", "paediatric"])
def test_tumour_phantom(schema):
    images, lab, aff, info = make_tumour_phantom((40, 40, 40), (1, 1, 1), schema, random_state=2, return_info=True)
    assert images.shape == (4, 40, 40, 40) and images.dtype == np.float32
    assert lab.shape == (40, 40, 40)
    assert np.issubdtype(lab.dtype, np.integer)
    assert set(np.unique(lab)) == {0, *info["labels"].values()}
    # region-dependent contrast: ET brightest on T1c, ED brighter than brain on FLAIR
    t1c, flair = images[CHANNELS.index("T1c")], images[CHANNELS.index("FLAIR")]
    et, ed = lab == info["labels"]["ET"], lab == info["labels"]["ED"]
    brain = (lab == 0) & (images[0] > 500)
    assert t1c[et].mean() > t1c[brain].mean() + 200
    assert flair[ed].mean() > flair[brain].mean() + 200
    # reproducible
    again = make_tumour_phantom((40, 40, 40), (1, 1, 1), schema, random_state=2)
    np.testing.assert_array_equal(again[0], images)
    assert not np.array_equal(make_tumour_phantom((40, 40, 40), (1, 1, 1), schema, random_state=3)[1], lab)


def test_anisotropic_phantom_keeps_physical_size():
    iso = make_tumour_phantom((60, 60, 60), (1, 1, 1), random_state=0, return_info=True)[3]
    ani = make_tumour_phantom((60, 60, 20), (1, 1, 3), random_state=0, return_info=True)[3]
    # same field of view -> same anatomy in mm; volumes agree to discretisation error
    assert ani["expected_volumes_ml"]["WT"] == pytest.approx(iso["expected_volumes_ml"]["WT"], rel=0.1)


def test_lesion_phantom():
    mask, aff = make_lesion_phantom((40, 40, 40), (1, 1, 2), semi_axes_mm=(8, 6, 10))
    assert int(mask.sum()) == ellipsoid_voxel_count((40, 40, 40), (1, 1, 2), (0, 0, 0), (8, 6, 10))
    irr, _ = make_lesion_phantom((40, 40, 40), semi_axes_mm=(8, 8, 8), irregular=True, random_state=1)
    assert irr.sum() > ellipsoid_voxel_count((40, 40, 40), (1, 1, 1), (0, 0, 0), (8, 8, 8))


def test_bad_arguments():
    with pytest.raises(ValueError, match="shape"):
        make_tumour_phantom((4, 4, 4))
    with pytest.raises(ValueError, match="spacing"):
        make_tumour_phantom((16, 16, 16), (1, -1, 1))
    with pytest.raises(ValueError, match="unknown label schema"):
        make_tumour_phantom((16, 16, 16), schema="nope")


def test_write_cohort(tmp_path):
    man = write_phantom_cohort(tmp_path / "c", 2, shape=(32, 32, 24), spacing=(1.0, 1.0, 1.5), schema="paediatric")
    root = tmp_path / "c"
    assert list(man.index) == ["case_000", "case_001"]
    for case in man.index:
        for c in range(4):
            assert (root / "images" / f"{case}_{c:04d}.nii.gz").is_file()
        img, lab = load_image_and_mask(root / "images" / f"{case}_0001.nii.gz", root / "masks" / f"{case}.nii.gz")
        assert voxel_spacing(lab) == pytest.approx((1.0, 1.0, 1.5))
        v = subregion_volumes(root / man.loc[case, "mask"], "paediatric")
        np.testing.assert_allclose(v.to_numpy(), man.loc[case, list(v.index)].to_numpy(dtype=float), rtol=1e-12)
    on_disk = pd.read_csv(root / "phantoms.csv", index_col="case")
    assert list(on_disk.columns) == ["mask", "ET", "NET", "CC", "ED", "TC", "WT", "NET+CC+ED"]
    ds = json.loads((root / "dataset.json").read_text())
    assert ds["channel_names"] == {"0": "T1", "1": "T1c", "2": "T2", "3": "FLAIR"}
    assert ds["labels"] == {"background": 0, "ET": 1, "NET": 2, "CC": 3, "ED": 4}
    assert not list(root.rglob(".*"))


def test_phantoms_refuse_a_non_empty_folder(tmp_path, capsys):
    """Issue 15: re-running into a folder left old cases beside a dataset.json listing one."""
    import json

    from imaging.cli import main

    out = tmp_path / "ph"
    assert main(["phantoms", "--out", str(out), "--n", "3", "--shape", "16"]) == 0
    capsys.readouterr()
    assert main(["phantoms", "--out", str(out), "--n", "1", "--shape", "16"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "not empty" in err[0] and "--overwrite" in err[0]
    assert len(list((out / "masks").iterdir())) == 3  # untouched
    assert main(["phantoms", "--out", str(out), "--n", "1", "--shape", "16", "--overwrite"]) == 0
    assert [p.name for p in (out / "masks").iterdir()] == ["case_000.nii.gz"]
    assert len(list((out / "images").iterdir())) == 4
    assert json.loads((out / "dataset.json").read_text())["numTraining"] == 1
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]  # no temporary folders left
