"""imaging.radiomics: cohort extraction with pyradiomics, parameter files, errors."""

from __future__ import annotations

import logging
import sys

import numpy as np
import pytest

from imaging.phantoms import write_phantom_cohort

pytest.importorskip("radiomics")
from imaging.radiomics import as_case_paths, extract_case, extract_radiomics  # noqa: E402

PARAMS = "setting:\n  binWidth: 25\nimageType:\n  Original: {}\nfeatureClass:\n  shape: [Sphericity, MeshVolume]\n  firstorder: [Mean, Maximum]\n"


@pytest.fixture(scope="module")
def cohort(tmp_path_factory):
    root = tmp_path_factory.mktemp("rad")
    manifest = write_phantom_cohort(root, 2, shape=(32, 32, 32), spacing=(1.0, 1.0, 1.5))
    (root / "params.yaml").write_text(PARAMS)
    return root, manifest


def _files(root, channel=1):
    imgs = sorted((root / "images").glob(f"*_{channel:04d}.nii.gz"))
    masks = sorted((root / "masks").glob("*.nii.gz"))
    return imgs, masks


def test_extract_cohort_with_yaml(cohort):
    root, manifest = cohort
    imgs, masks = _files(root)
    df = extract_radiomics(imgs, masks, params=root / "params.yaml", label=3)
    assert list(df.index) == ["case_000", "case_001"] and df.index.name == "patient"
    assert set(df.columns) == {
        "original_shape_Sphericity", "original_shape_MeshVolume",
        "original_firstorder_Mean", "original_firstorder_Maximum",
    }
    # enhancing tumour is bright on T1c
    assert (df["original_firstorder_Mean"] > 800).all()
    assert "radiomics" not in sys.modules or logging.getLogger("radiomics").level >= logging.ERROR


def test_multi_label_union_and_mapping(cohort):
    root, manifest = cohort
    imgs, masks = _files(root)
    images = {i.name[:8]: i for i in imgs}
    maskmap = {m.name[:8]: m for m in masks}
    params = {"featureClass": {"shape": ["MeshVolume", "VoxelVolume"]}}
    df = extract_radiomics(images, maskmap, params=params, label=[1, 2, 3], n_jobs=1)
    np.testing.assert_allclose(df["original_shape_VoxelVolume"] / 1000, manifest["WT"], rtol=1e-9)


def test_errors_raise_or_report(cohort):
    root, _ = cohort
    imgs, masks = _files(root)
    with pytest.raises(ValueError, match="label\\(s\\) \\[9\\] not present"):
        extract_radiomics(imgs, masks, params=root / "params.yaml", label=9)
    rep = extract_radiomics(imgs, masks, params=root / "params.yaml", label=9, on_error="report")
    assert rep["errors"].str.contains("not present").all()
    with pytest.raises(ValueError, match="do not match"):
        extract_radiomics(imgs[:1], masks)
    with pytest.raises(FileNotFoundError):
        extract_radiomics(imgs, masks, params=root / "nope.yaml")
    (root / "bad.yaml").write_text("colour: blue\n")
    with pytest.raises(ValueError, match="unknown top-level keys"):
        extract_radiomics(imgs, masks, params=root / "bad.yaml")


def test_case_ids():
    assert as_case_paths(["/a/p1.nii.gz", "/a/p2.nii"]) == {"p1": "/a/p1.nii.gz", "p2": "/a/p2.nii"}
    with pytest.raises(ValueError, match="duplicate"):
        as_case_paths(["/a/p1.nii.gz", "/b/p1.nii"])


def test_image_mask_mismatch_is_clear(cohort, tmp_path):
    import nibabel as nib

    root, _ = cohort
    imgs, masks = _files(root)
    m = nib.load(str(masks[0]))
    small = tmp_path / "small.nii.gz"
    nib.save(nib.Nifti1Image(np.asarray(m.dataobj)[:-1], m.affine), str(small))
    with pytest.raises(ValueError, match="shapes differ"):
        extract_case(imgs[0], small, label=1)


def test_anisotropic_warning_and_isotropic_resampling(tmp_path, caplog):
    root = tmp_path / "aniso"
    write_phantom_cohort(root, 1, shape=(32, 32, 12), spacing=(1.0, 1.0, 3.0), random_state=2)
    img, mask = root / "images" / "case_000_0001.nii.gz", root / "masks" / "case_000.nii.gz"
    params = {"imageType": {"Original": {}}, "featureClass": {"shape": ["MeshVolume", "Sphericity"]}}
    with caplog.at_level(logging.WARNING, logger="imaging.radiomics"):
        raw = extract_case(img, mask, params, [1, 2, 3])
    assert "anisotropic" in caplog.text and "isotropic=1" in caplog.text
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="imaging.radiomics"):
        iso = extract_case(img, mask, params, [1, 2, 3], isotropic=1.0, diagnostics=True)
    assert "anisotropic" not in caplog.text
    assert iso["diagnostics_Image-interpolated_Spacing"] == "(1.0, 1.0, 1.0)"
    assert iso["original_shape_MeshVolume"] == pytest.approx(raw["original_shape_MeshVolume"], rel=0.1)
    with pytest.raises(ValueError, match="isotropic"):
        extract_case(img, mask, params, [1, 2, 3], isotropic=0)
