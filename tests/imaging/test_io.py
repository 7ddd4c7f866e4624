"""imaging.io: NIfTI loading, canonical orientation, spacing and clear errors."""

from __future__ import annotations

import nibabel as nib
import numpy as np
import pytest

from imaging._io import atomic_dir, atomic_path
from imaging.io import (
    as_label_array,
    check_same_space,
    load_image,
    load_image_and_mask,
    load_label_map,
    load_nifti,
    save_nifti,
    voxel_spacing,
)


def _write(path, data, affine):
    nib.save(nib.Nifti1Image(data, affine), str(path))
    return path


def test_roundtrip_and_spacing(tmp_path):
    data = np.arange(4 * 5 * 6, dtype=np.float32).reshape(4, 5, 6)
    aff = np.diag([0.5, 0.8, 3.0, 1.0])
    for name in ("a.nii", "a.nii.gz"):
        path = save_nifti(data, aff, tmp_path / name)
        arr, affine, spacing = load_image(path)
        np.testing.assert_array_equal(arr, data)
        np.testing.assert_allclose(affine, aff)
        assert spacing == pytest.approx((0.5, 0.8, 3.0))
    assert not list(tmp_path.glob(".*"))  # no temporary files left behind


def test_reorients_to_ras(tmp_path):
    # LPS-like affine: x flipped and y flipped
    data = np.zeros((4, 5, 6), dtype=np.int16)
    data[0, 0, 0] = 7
    aff = np.diag([-2.0, -1.0, 3.0, 1.0])
    img = load_nifti(_write(tmp_path / "lps.nii.gz", data, aff))
    assert nib.aff2axcodes(img.affine) == ("R", "A", "S")
    arr = np.asarray(img.dataobj)
    assert arr[3, 4, 0] == 7  # the voxel moved to the far x and y ends
    assert voxel_spacing(img) == pytest.approx((2.0, 1.0, 3.0))
    # world coordinate of the voxel is unchanged
    np.testing.assert_allclose(img.affine @ [3, 4, 0, 1], aff @ [0, 0, 0, 1])


def test_missing_file_and_wrong_type(tmp_path):
    with pytest.raises(FileNotFoundError, match="not found"):
        load_nifti(tmp_path / "nope.nii.gz")
    (tmp_path / "x.txt").write_text("hi")
    with pytest.raises(ValueError, match="NIfTI"):
        load_nifti(tmp_path / "x.txt")
    (tmp_path / "bad.nii.gz").write_bytes(b"not a nifti")
    with pytest.raises(ValueError, match="cannot read"):
        load_nifti(tmp_path / "bad.nii.gz")


def test_not_3d(tmp_path):
    path = _write(tmp_path / "4d.nii.gz", np.zeros((4, 4, 4, 2), np.float32), np.eye(4))
    with pytest.raises(ValueError, match="3-D"):
        load_nifti(path)
    path = _write(tmp_path / "2d.nii.gz", np.zeros((4, 4), np.float32), np.eye(4))
    with pytest.raises(ValueError, match="3-D"):
        load_nifti(path)
    # a trailing singleton dimension is fine
    path = _write(tmp_path / "41.nii.gz", np.zeros((4, 4, 4, 1), np.float32), np.eye(4))
    assert load_nifti(path).shape == (4, 4, 4)


def test_image_mask_mismatch(tmp_path):
    img = _write(tmp_path / "img.nii.gz", np.zeros((4, 4, 4), np.float32), np.eye(4))
    small = _write(tmp_path / "small.nii.gz", np.zeros((4, 4, 3), np.uint8), np.eye(4))
    with pytest.raises(ValueError, match=r"shapes differ: \(4, 4, 4\).*\(4, 4, 3\)"):
        load_image_and_mask(img, small)
    shifted = np.eye(4)
    shifted[0, 3] = 5.0
    moved = _write(tmp_path / "moved.nii.gz", np.zeros((4, 4, 4), np.uint8), shifted)
    with pytest.raises(ValueError, match="affines differ"):
        load_image_and_mask(img, moved)
    ok = _write(tmp_path / "ok.nii.gz", np.ones((4, 4, 4), np.uint8), np.eye(4))
    im, lab = load_image_and_mask(img, ok)
    check_same_space(im, lab)


def test_non_integer_label_map(tmp_path):
    data = np.zeros((4, 4, 4), np.float32)
    data[1, 1, 1] = 0.5
    path = _write(tmp_path / "soft.nii.gz", data, np.eye(4))
    with pytest.raises(ValueError, match="non-integer"):
        load_label_map(path)
    data[1, 1, 1] = 2.0  # float storage of integer labels is fine
    lab = load_label_map(_write(tmp_path / "f.nii.gz", data, np.eye(4)))
    assert np.issubdtype(np.asarray(lab.dataobj).dtype, np.integer)
    neg = _write(tmp_path / "neg.nii.gz", -np.ones((4, 4, 4), np.int16), np.eye(4))
    with pytest.raises(ValueError, match="negative"):
        load_label_map(neg)


def test_as_label_array():
    arr = np.zeros((3, 3, 3), np.uint8)
    with pytest.raises(ValueError, match="spacing"):
        as_label_array(arr)
    out, sp, aff = as_label_array(arr, 2.0)
    assert sp == (2.0, 2.0, 2.0)
    np.testing.assert_allclose(np.diag(aff), [2, 2, 2, 1])
    with pytest.raises(ValueError, match="3-D"):
        as_label_array(np.zeros((3, 3)), 1.0)


def test_atomic_helpers(tmp_path):
    target = tmp_path / "t.csv"
    with pytest.raises(RuntimeError), atomic_path(target) as tmp:
        tmp.write_text("half")
        raise RuntimeError
    assert not target.exists()
    with atomic_dir(tmp_path / "d") as d:
        (d / "f").write_text("x")
    assert (tmp_path / "d" / "f").read_text() == "x"
