"""imaging.segmentation.nnunet without nnunetv2: folder checks, label mapping, import error."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import pytest

from imaging.segmentation.nnunet import (
    INSTALL_HINT,
    check_model_folder,
    label_mapping,
    predict_nnunet,
    remap_labels,
    require_nnunetv2,
)

PEDS_LABELS = {"background": 0, "enhancing tumor": 1, "non-enhancing tumor": 2, "cystic component": 3, "edema": 4}


def make_folder(root: Path, folds=(0, 1), labels=PEDS_LABELS) -> Path:
    root.mkdir(parents=True)
    (root / "dataset.json").write_text(json.dumps({"channel_names": {"0": "T1"}, "labels": labels, "file_ending": ".nii.gz"}))
    (root / "plans.json").write_text(json.dumps({"plans_name": "nnUNetPlans"}))
    for f in folds:
        (root / f"fold_{f}").mkdir()
        (root / f"fold_{f}" / "checkpoint_final.pth").write_bytes(b"")
    return root


def test_folder_checks(tmp_path: Path) -> None:
    info = check_model_folder(make_folder(tmp_path / "m"))
    assert info.folds == (0, 1) and info.n_channels == 1 and info.labels["edema"] == 4
    assert check_model_folder(tmp_path / "m", folds=[1]).folds == (1,)
    with pytest.raises(FileNotFoundError, match=r"fold_3/checkpoint_final.pth"):
        check_model_folder(tmp_path / "m", folds=[0, 3])
    with pytest.raises(FileNotFoundError, match="not found"):
        check_model_folder(tmp_path / "nope")
    bad = make_folder(tmp_path / "bad", folds=())
    (bad / "plans.json").unlink()
    with pytest.raises(FileNotFoundError, match=r"missing \['plans.json', 'fold_\*/checkpoint_final.pth'\]"):
        check_model_folder(bad)
    nolab = make_folder(tmp_path / "nolab")
    (nolab / "dataset.json").write_text(json.dumps({"channel_names": {"0": "T1"}}))
    with pytest.raises(ValueError, match="'labels'"):
        check_model_folder(nolab)
    (nolab / "dataset.json").write_text("{not json")
    with pytest.raises(ValueError, match="not valid JSON"):
        check_model_folder(nolab)


def test_label_mapping_by_name_and_explicit() -> None:
    assert label_mapping(PEDS_LABELS, "paediatric") == {0: 0, 1: 1, 2: 2, 3: 3, 4: 4}
    brats = {"background": 0, "NCR": 1, "ED": 2, "ET": 3}
    assert label_mapping(brats, "brats") == {0: 0, 1: 1, 2: 2, 3: 3}
    # a model trained with different numbering maps by name
    swapped = {"background": 0, "edema": 1, "enhancing_tumor": 2, "necrosis": 3}
    assert label_mapping(swapped, "brats") == {0: 0, 1: 2, 2: 3, 3: 1}
    with pytest.raises(ValueError, match=r"\['non-enhancing tumor', 'cystic component'\] match no region of schema 'brats'"):
        label_mapping(PEDS_LABELS, "brats")
    m = label_mapping(PEDS_LABELS, "brats", mapping={"non-enhancing tumor": "NCR", "cystic component": "NCR"})
    assert m == {0: 0, 1: 3, 2: 1, 3: 1, 4: 2}
    with pytest.raises(ValueError, match="region-based"):
        label_mapping({"background": 0, "whole tumor": [1, 2, 3]}, "brats")
    lab = np.array([[[0, 1, 2, 3, 4]]])
    assert remap_labels(lab, m).ravel().tolist() == [0, 3, 1, 1, 2]
    with pytest.raises(ValueError, match=r"\[4\] have no mapping"):
        remap_labels(lab, {0: 0, 1: 1, 2: 2, 3: 3})


def test_missing_nnunetv2_names_install_command(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "nnunetv2", None)  # import fails even if installed
    with pytest.raises(ImportError, match="pip install torch==2.13.0 nnunetv2"):
        require_nnunetv2()
    assert INSTALL_HINT == "pip install torch==2.13.0 nnunetv2"
    # the folder is checked before the import: a broken folder gives the folder error
    with pytest.raises(FileNotFoundError, match="model folder not found"):
        predict_nnunet(tmp_path / "nope", tmp_path, tmp_path / "out")
    folder = make_folder(tmp_path / "m")
    (tmp_path / "imgs").mkdir()
    with pytest.raises(ImportError, match="nnunetv2"):
        predict_nnunet(folder, tmp_path / "imgs", tmp_path / "out", schema="paediatric")
