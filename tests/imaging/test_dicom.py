"""DICOM series input (imaging.dicom, imaging.io.read_image, ``imaging convert``).

Series are written slice by slice with pydicom; every voxel's expected world position
comes from the DICOM formula ``P_LPS = IPP + i Δcol r + j Δrow c`` (RAS = LPS with x, y
negated), independent of the reader.
"""

from __future__ import annotations

import numpy as np
import pytest

pydicom = pytest.importorskip("pydicom")
pytest.importorskip("SimpleITK")

from imaging.cli import main  # noqa: E402
from imaging.dicom import list_series, read_dicom_series  # noqa: E402
from imaging.io import load_image, read_image, save_nifti  # noqa: E402

MR = "1.2.840.10008.5.1.4.1.1.4"


def write_series(folder, vol, iop, first_ipp, pixel_spacing, dz, *, uid=None, number=1,
                 description="T1", positions=None, shuffle=True):
    """Write ``vol`` (cols, rows, slices) as one DICOM file per slice with pydicom."""
    from pydicom.dataset import Dataset, FileMetaDataset
    from pydicom.uid import ExplicitVRLittleEndian, generate_uid

    folder.mkdir(parents=True, exist_ok=True)
    r, c = np.asarray(iop[:3], float), np.asarray(iop[3:], float)
    n = np.cross(r, c)
    uid = uid or generate_uid()
    study = generate_uid()
    n_sl = vol.shape[2]
    offsets = np.arange(n_sl) * dz if positions is None else np.asarray(positions, float)
    order = np.random.default_rng(0).permutation(n_sl) if shuffle else np.arange(n_sl)
    for write_i, k in enumerate(order):
        meta = FileMetaDataset()
        meta.MediaStorageSOPClassUID = MR
        sop = generate_uid()
        meta.MediaStorageSOPInstanceUID = sop
        meta.TransferSyntaxUID = ExplicitVRLittleEndian
        ds = Dataset()
        ds.file_meta = meta
        ds.SOPClassUID = MR
        ds.SOPInstanceUID = sop
        ds.StudyInstanceUID = study
        ds.SeriesInstanceUID = uid
        ds.FrameOfReferenceUID = generate_uid()
        ds.Modality = "MR"
        ds.PatientID = "P01"
        ds.SeriesNumber = number
        ds.SeriesDescription = description
        ds.InstanceNumber = write_i + 1  # deliberately not the slice order
        ds.ImageOrientationPatient = [f"{v:g}" for v in iop]
        ds.ImagePositionPatient = [f"{v:.6g}" for v in np.asarray(first_ipp) + offsets[k] * n]
        ds.PixelSpacing = [f"{pixel_spacing[0]:g}", f"{pixel_spacing[1]:g}"]  # (row, column)
        ds.SliceThickness = f"{dz:g}"
        ds.Rows, ds.Columns = vol.shape[1], vol.shape[0]
        ds.SamplesPerPixel = 1
        ds.PhotometricInterpretation = "MONOCHROME2"
        ds.BitsAllocated, ds.BitsStored, ds.HighBit, ds.PixelRepresentation = 16, 16, 15, 1
        # pixel (row j, column i) = vol[i, j, k]
        ds.PixelData = np.ascontiguousarray(vol[:, :, k].T.astype(np.int16)).tobytes()
        ds.save_as(folder / f"s{number}_im{write_i:03d}.dcm", enforce_file_format=True)
    return uid


def _world_ras(i, j, k, iop, ipp, pixel_spacing, dz):
    r, c = np.asarray(iop[:3], float), np.asarray(iop[3:], float)
    p = np.asarray(ipp, float) + i * pixel_spacing[1] * r + j * pixel_spacing[0] * c + k * dz * np.cross(r, c)
    return p * np.array([-1, -1, 1])


ORIENTATIONS = {
    "axial": (1, 0, 0, 0, 1, 0),
    "sagittal": (0, 1, 0, 0, 0, -1),
    "oblique": (np.cos(0.3), np.sin(0.3), 0, -np.sin(0.3), np.cos(0.3), 0),
}


@pytest.mark.parametrize("name", list(ORIENTATIONS))
def test_geometry_matches_dicom_formula(tmp_path, name):
    iop = ORIENTATIONS[name]
    shape = (7, 6, 5)  # columns, rows, slices
    vol = np.arange(np.prod(shape), dtype=np.int16).reshape(shape)
    ipp, ps, dz = (-40.0, 25.0, 12.5), (0.9, 0.7), 2.5
    write_series(tmp_path / "s", vol, iop, ipp, ps, dz)
    data, affine, spacing = read_image(tmp_path / "s")
    assert data.dtype == np.float32 and data.shape[0] * data.shape[1] * data.shape[2] == vol.size
    assert sorted(spacing) == pytest.approx(sorted((0.7, 0.9, 2.5)), abs=1e-4)
    # every stored value sits where the DICOM formula puts it
    inv = np.linalg.inv(affine)
    for (i, j, k) in [(0, 0, 0), (6, 5, 4), (3, 1, 2), (0, 5, 4), (6, 0, 1)]:
        w = _world_ras(i, j, k, iop, ipp, ps, dz)
        vox = inv @ np.append(w, 1.0)
        idx = tuple(int(v) for v in np.rint(vox[:3]))
        assert np.allclose(vox[:3], idx, atol=1e-4)
        assert data[idx] == vol[i, j, k]
    if name != "oblique":  # canonical RAS+: a diagonal affine with positive spacing
        assert np.allclose(affine[:3, :3], np.diag(np.diag(affine[:3, :3])))
        assert (np.diag(affine)[:3] > 0).all()


def test_axial_known_affine_and_convert(tmp_path):
    shape = (4, 3, 6)
    vol = (np.arange(np.prod(shape)) * 3).reshape(shape).astype(np.int16)
    write_series(tmp_path / "s", vol, ORIENTATIONS["axial"], (10.0, -20.0, 30.0), (0.5, 0.8), 2.0)
    data, affine, spacing = read_dicom_series(tmp_path / "s", canonical=False)
    expected = np.array([[-0.8, 0, 0, -10.0], [0, -0.5, 0, 20.0], [0, 0, 2.0, 30.0], [0, 0, 0, 1]])
    np.testing.assert_allclose(affine, expected, atol=1e-6)
    np.testing.assert_array_equal(data, vol)  # slices sorted by position, not instance number
    assert spacing == pytest.approx((0.8, 0.5, 2.0))
    out = tmp_path / "out.nii.gz"
    assert main(["convert", "--dicom", str(tmp_path / "s"), "--out", str(out)]) == 0
    nd, naff, nsp = load_image(out)
    cd, caff, csp = read_image(tmp_path / "s")
    np.testing.assert_array_equal(nd, cd)
    np.testing.assert_allclose(naff, caff, atol=1e-5)
    assert nsp == pytest.approx(csp)
    # NIfTI through read_image equals load_image
    nifti = save_nifti(vol.astype(np.float32), expected, tmp_path / "v.nii.gz")
    np.testing.assert_array_equal(read_image(nifti)[0], load_image(nifti)[0])


def test_several_series_need_a_choice(tmp_path, capsys):
    vol = np.ones((3, 3, 3), dtype=np.int16)
    write_series(tmp_path / "s", vol, ORIENTATIONS["axial"], (0, 0, 0), (1, 1), 1.0, number=3, description="T1")
    write_series(tmp_path / "s", vol * 2, ORIENTATIONS["axial"], (0, 0, 0), (1, 1), 1.0, number=7,
                 description="FLAIR")
    assert len(list_series(tmp_path / "s")) == 2
    with pytest.raises(ValueError, match="holds 2 DICOM series.*FLAIR"):
        read_image(tmp_path / "s")
    assert read_image(tmp_path / "s", series="FLAIR")[0].max() == 2
    assert read_dicom_series(tmp_path / "s", series="3")[0].max() == 1
    out = tmp_path / "o.nii.gz"
    assert main(["convert", "--dicom", str(tmp_path / "s"), "--out", str(out)]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "series 7 'FLAIR'" in err and not out.exists()
    assert main(["convert", "--dicom", str(tmp_path / "s"), "--series", "7", "--out", str(out)]) == 0


def test_non_uniform_spacing_rejected(tmp_path, capsys):
    vol = np.ones((3, 3, 4), dtype=np.int16)
    write_series(tmp_path / "s", vol, ORIENTATIONS["axial"], (0, 0, 0), (1, 1), 2.0,
                 positions=[0, 2, 4, 8])  # a missing slice
    with pytest.raises(ValueError, match="non-uniform slice spacing"):
        read_image(tmp_path / "s")
    out = tmp_path / "o.nii"
    assert main(["convert", "--dicom", str(tmp_path / "s"), "--out", str(out)]) == 2
    assert "non-uniform" in capsys.readouterr().err and not out.exists()


def test_bad_inputs(tmp_path, capsys):
    (tmp_path / "empty").mkdir()
    with pytest.raises(ValueError, match="no DICOM series"):
        read_image(tmp_path / "empty")
    with pytest.raises(FileNotFoundError):
        read_image(tmp_path / "missing.nii.gz")
    (tmp_path / "x.txt").write_text("hi")
    with pytest.raises(ValueError, match="NIfTI file .* or a DICOM series folder"):
        read_image(tmp_path / "x.txt")
    assert main(["convert", "--dicom", str(tmp_path / "nope"), "--out", str(tmp_path / "o.nii.gz")]) == 2
    assert "DICOM folder not found" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["convert", "--help"])
    assert "imaging convert --dicom" in capsys.readouterr().out


def test_segment_and_train_accept_dicom_channel_folders(tmp_path):
    """``imaging segment``/``train`` read ``<case>_<cccc>/`` DICOM folders like NIfTI channels."""
    from imaging.io import load_label_map
    from imaging.phantoms import make_tumour_phantom
    from imaging.segmentation.train import find_training_cases, load_training_cases

    images, labels, _ = make_tumour_phantom((24, 24, 24), random_state=3)
    dcm, nii = tmp_path / "dcm", tmp_path / "nii"
    nii.mkdir()
    for c in range(4):
        write_series(dcm / f"case_000_{c:04d}", np.rint(images[c]).astype(np.int16), ORIENTATIONS["axial"],
                     (12.0, 12.0, -12.0), (1.0, 1.0), 1.0, number=c + 1)
        data, affine, _ = read_image(dcm / f"case_000_{c:04d}")
        save_nifti(data, affine, nii / f"case_000_{c:04d}.nii.gz")
    outs = {}
    for name, folder in (("dcm", dcm), ("nii", nii)):
        out = tmp_path / f"seg_{name}"
        assert main(["segment", "--images", str(folder), "--out", str(out), "--no-tta"]) == 0
        outs[name] = load_label_map(out / "case_000.nii.gz")
    np.testing.assert_array_equal(np.asarray(outs["dcm"].dataobj), np.asarray(outs["nii"].dataobj))
    np.testing.assert_allclose(outs["dcm"].affine, outs["nii"].affine, atol=1e-5)
    assert np.asarray(outs["dcm"].dataobj).any()
    # training cases: DICOM channel folders with a NIfTI mask on the same grid
    masks = tmp_path / "masks"
    masks.mkdir()
    lab_img = load_label_map(outs["nii"].get_filename())
    save_nifti(np.asarray(lab_img.dataobj), lab_img.affine, masks / "case_000.nii.gz")
    pairs = find_training_cases(dcm, masks)
    assert [p.name for p in pairs["case_000"][0]] == [f"case_000_{c:04d}" for c in range(4)]
    cases, spacings = load_training_cases(pairs)
    assert cases[0][0].shape == (4, 24, 24, 24) and spacings == [(1.0, 1.0, 1.0)]


def test_features_accept_dicom_image_folders(tmp_path):
    """`imaging features --images` with a DICOM series folder per case gives the radiomics
    of the same image written as NIfTI."""
    import pandas as pd

    rng = np.random.default_rng(1)
    shape = (12, 12, 8)
    vol = rng.integers(50, 400, shape).astype(np.int16)
    write_series(tmp_path / "dicom" / "case1", vol, ORIENTATIONS["axial"], (0.0, 0.0, 0.0),
                 (1.0, 1.0), 2.0)
    data, affine, _ = read_image(tmp_path / "dicom" / "case1")
    (tmp_path / "nifti").mkdir()
    save_nifti(data, affine, tmp_path / "nifti" / "case1.nii.gz")
    mask = np.zeros(data.shape, np.uint8)
    mask[3:9, 3:9, 2:6] = 2  # edema only (BraTS 2021 labels below)
    mask[5:7, 5:7, 3:5] = 4
    (tmp_path / "masks").mkdir()
    save_nifti(mask, affine, tmp_path / "masks" / "case1.nii.gz", dtype=np.uint8)
    tables = {}
    for kind in ("dicom", "nifti"):
        out = tmp_path / f"{kind}.csv"
        rc = main(["features", "--masks", str(tmp_path / "masks"), "--images",
                   str(tmp_path / kind), "--schema", "brats2021", "--radiomics",
                   "--out", str(out), "--no-progress"])
        assert rc == 0
        tables[kind] = pd.read_csv(out, index_col=0)
    rad = [c for c in tables["nifti"].columns if "firstorder" in c]
    assert rad
    pd.testing.assert_frame_equal(tables["dicom"][rad], tables["nifti"][rad])
