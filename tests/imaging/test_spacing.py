"""Voxel spacing: zero pixdim refused, anisotropy warned, isotropic resampling offered."""

from __future__ import annotations

import struct

import nibabel as nib
import numpy as np
import pytest

from imaging.volumes import subregion_volumes


def _zero_pixdim_file(path, axis: int = 2, value: float = 0.0):
    a = np.zeros((8, 8, 8), np.uint8)
    a[2:4, 2:4, 2:4] = 2
    img = nib.Nifti1Image(a, np.eye(4))
    img.header["qform_code"] = 0
    img.header["sform_code"] = 0
    nib.save(img, str(path))
    raw = bytearray(path.read_bytes())
    off = 76 + 4 * (axis + 1)  # pixdim[axis + 1], float32
    raw[off : off + 4] = struct.pack("<f", value)
    path.write_bytes(bytes(raw))
    return path


@pytest.mark.parametrize("value", [0.0, float("nan")])
def test_zero_or_nan_pixdim_is_an_error_naming_the_file(tmp_path, value):
    # nibabel alone reads pixdim 0 as 1 mm (with a log line): volumes silently in the wrong unit
    p = _zero_pixdim_file(tmp_path / "zero.nii", value=value)
    if value == 0:
        assert nib.load(str(p)).header.get_zooms()[2] == 1.0
    with pytest.raises(ValueError, match=r"zero\.nii: voxel spacing is zero or not finite"):
        subregion_volumes(p, "brats2023")
