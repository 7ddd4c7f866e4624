"""imaging.segmentation.nnunet: folder checks, label mapping, import error, and (when
``nnunetv2`` is installed) a real prediction with a tiny, freshly initialised nnU-Net v2 model."""

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
    nnunet_cases,
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
    (tmp_path / "imgs" / "case_0000.nii.gz").write_bytes(b"")  # inputs are checked before the import
    with pytest.raises(ImportError, match="nnunetv2"):
        predict_nnunet(folder, tmp_path / "imgs", tmp_path / "out", schema="paediatric", trust_checkpoint=True)


def test_input_cases_checked(tmp_path: Path) -> None:
    imgs = tmp_path / "imgs"
    imgs.mkdir()
    for name in ("a_0000.nii.gz", "a_0001.nii.gz", "b_0000.nii.gz", "b_0002.nii.gz", "notes.txt"):
        (imgs / name).write_bytes(b"")
    with pytest.raises(ValueError, match=r"'b': 'missing \[1\], extra \[2\]'"):
        nnunet_cases(imgs, 2)
    (imgs / "b_0002.nii.gz").rename(imgs / "b_0001.nii.gz")
    cases = nnunet_cases(imgs, 2)
    assert list(cases) == ["a", "b"] and [p.name for p in cases["b"]] == ["b_0000.nii.gz", "b_0001.nii.gz"]
    with pytest.raises(FileNotFoundError, match=r"no nnU-Net input images .*expected <case>_0000.nii "):
        nnunet_cases(imgs, 2, ".nii")
    with pytest.raises(FileNotFoundError, match="images folder not found"):
        nnunet_cases(tmp_path / "nope", 2)


# --- real nnU-Net v2 inference with a tiny model (skipped without nnunetv2) ------------------

#: the model's own numbering differs from BraTS: the adapter must map by name
TINY_LABELS = {"background": 0, "edema": 1, "enhancing tumor": 2, "necrosis": 3}
#: nnU-Net value -> BraTS value (ED 2, ET 3, NCR 1)
TINY_TO_BRATS = {0: 0, 1: 2, 2: 3, 3: 1}


def tiny_plans(n_channels: int) -> dict:
    """plans.json of a 3d_fullres configuration with a 2-stage PlainConvUNet (4/8 features)."""
    resampling = {"order_z": 0, "force_separate_z": None}
    return {
        "dataset_name": "Dataset999_Tiny",
        "plans_name": "nnUNetPlans",
        "original_median_spacing_after_transp": [1.0, 1.0, 1.0],
        "original_median_shape_after_transp": [24, 24, 20],
        "image_reader_writer": "SimpleITKIO",
        "transpose_forward": [0, 1, 2],
        "transpose_backward": [0, 1, 2],
        "configurations": {
            "3d_fullres": {
                "data_identifier": "nnUNetPlans_3d_fullres",
                "preprocessor_name": "DefaultPreprocessor",
                "batch_size": 2,
                "patch_size": [16, 16, 16],
                "median_image_size_in_voxels": [24, 24, 20],
                "spacing": [1.0, 1.0, 1.0],
                "normalization_schemes": ["ZScoreNormalization"] * n_channels,
                "use_mask_for_norm": [False] * n_channels,
                "resampling_fn_data": "resample_data_or_seg_to_shape",
                "resampling_fn_seg": "resample_data_or_seg_to_shape",
                "resampling_fn_data_kwargs": {"is_seg": False, "order": 3, **resampling},
                "resampling_fn_seg_kwargs": {"is_seg": True, "order": 1, **resampling},
                "resampling_fn_probabilities": "resample_data_or_seg_to_shape",
                "resampling_fn_probabilities_kwargs": {"is_seg": False, "order": 1, **resampling},
                "architecture": {
                    "network_class_name": "dynamic_network_architectures.architectures.unet.PlainConvUNet",
                    "arch_kwargs": {
                        "n_stages": 2,
                        "features_per_stage": [4, 8],
                        "conv_op": "torch.nn.modules.conv.Conv3d",
                        "kernel_sizes": [[3, 3, 3], [3, 3, 3]],
                        "strides": [[1, 1, 1], [2, 2, 2]],
                        "n_conv_per_stage": [1, 1],
                        "n_conv_per_stage_decoder": [1],
                        "conv_bias": True,
                        "norm_op": "torch.nn.modules.instancenorm.InstanceNorm3d",
                        "norm_op_kwargs": {"eps": 1e-05, "affine": True},
                        "dropout_op": None,
                        "dropout_op_kwargs": None,
                        "nonlin": "torch.nn.LeakyReLU",
                        "nonlin_kwargs": {"inplace": True},
                    },
                    "_kw_requires_import": ["conv_op", "norm_op", "dropout_op", "nonlin"],
                },
                "batch_dice": False,
            }
        },
        "experiment_planner_used": "ExperimentPlanner",
        "label_manager": "LabelManager",
        "foreground_intensity_properties_per_channel": {
            str(c): {"max": 1000.0, "mean": 500.0, "median": 500.0, "min": 0.0,
                     "percentile_00_5": 0.0, "percentile_99_5": 1000.0, "std": 200.0}
            for c in range(n_channels)
        },
    }


def make_tiny_model(root: Path, channels: tuple[str, ...]) -> Path:
    """A genuine nnU-Net v2 model folder, built the way nnU-Net's trainer saves one.

    fold_0: the freshly initialised network; fold_1: the same network with its output layer
    set to always predict nnU-Net label 3 ("necrosis"), so the label mapping is observable.
    """
    torch = pytest.importorskip("torch")
    from nnunetv2.utilities.get_network_from_plans import get_network_from_plans
    from nnunetv2.utilities.label_handling.label_handling import determine_num_input_channels
    from nnunetv2.utilities.plans_handling.plans_handler import PlansManager

    dataset = {
        "channel_names": {str(i): c for i, c in enumerate(channels)},
        "labels": TINY_LABELS,
        "numTraining": 1,
        "file_ending": ".nii.gz",
    }
    plans = tiny_plans(len(channels))
    root.mkdir(parents=True)
    (root / "dataset.json").write_text(json.dumps(dataset, indent=2))
    (root / "plans.json").write_text(json.dumps(plans, indent=2))
    pm = PlansManager(plans)
    cm = pm.get_configuration("3d_fullres")
    n_in = determine_num_input_channels(pm, cm, dataset)
    n_out = pm.get_label_manager(dataset).num_segmentation_heads
    with torch.random.fork_rng():
        torch.manual_seed(0)
        # what nnUNetTrainer.build_network_architecture does (its signature varies by version)
        net = get_network_from_plans(
            cm.network_arch_class_name, cm.network_arch_init_kwargs,
            cm.network_arch_init_kwargs_req_import, n_in, n_out,
            allow_init=True, deep_supervision=True,
        )
    assert type(net).__name__ == "PlainConvUNet" and n_in == len(channels) and n_out == 4

    def save(fold: int, weights: dict) -> None:
        (root / f"fold_{fold}").mkdir()
        torch.save(
            {
                "network_weights": weights,
                "init_args": {"plans": plans, "configuration": "3d_fullres", "fold": fold,
                              "dataset_json": dataset, "device": torch.device("cpu")},
                "trainer_name": "nnUNetTrainer",
                "inference_allowed_mirroring_axes": (0, 1, 2),
                "current_epoch": 1,
            },
            root / f"fold_{fold}" / "checkpoint_final.pth",
        )

    save(0, net.state_dict())
    with torch.no_grad():
        head = net.decoder.seg_layers[-1]
        head.weight.zero_()
        head.bias.copy_(torch.tensor([0.0, 0.0, 0.0, 5.0]))
    save(1, net.state_dict())
    return root


@pytest.fixture(scope="module")
def tiny_case(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    pytest.importorskip("nnunetv2")
    from imaging.phantoms import CHANNELS, write_phantom_cohort

    root = tmp_path_factory.mktemp("nnunet")
    model = make_tiny_model(root / "nnUNetTrainer__nnUNetPlans__3d_fullres", CHANNELS)
    write_phantom_cohort(root / "phantom", 1, shape=(24, 24, 20), schema="brats", random_state=3)
    return model, root / "phantom" / "images"


def test_predict_tiny_model(tiny_case: tuple[Path, Path], tmp_path: Path) -> None:
    import nibabel as nib

    from imaging.labels import get_schema

    model, images = tiny_case
    ref = nib.load(str(images / "case_000_0000.nii.gz"))
    allowed = {0, *(v for labs in get_schema("brats").regions.values() for v in labs)}

    # freshly initialised network, all folds found (0 and 1 averaged), mirroring TTA on
    out = predict_nnunet(model, images, tmp_path / "all", schema="brats", device="cpu", trust_checkpoint=True)
    assert out == [tmp_path / "all" / "case_000.nii.gz"] and out[0].is_file()
    assert [p.name for p in (tmp_path / "all").iterdir()] == ["case_000.nii.gz"]  # temp folder gone
    seg = nib.load(str(out[0]))
    assert seg.shape == ref.shape == (24, 24, 20)
    np.testing.assert_allclose(seg.affine, ref.affine, atol=1e-5)
    assert seg.get_data_dtype() == np.uint8
    assert set(np.unique(np.asarray(seg.dataobj)).tolist()) <= allowed

    out0 = predict_nnunet(model, images, tmp_path / "f0", schema="brats", folds=[0], tta=False, device="cpu", trust_checkpoint=True)
    assert set(np.unique(np.asarray(nib.load(str(out0[0])).dataobj)).tolist()) <= allowed

    # fold 1 always says nnU-Net label 3 ("necrosis"): our BraTS NCR label is 1
    out1 = predict_nnunet(model, images, tmp_path / "f1", schema="brats", folds=[1], device="cpu", trust_checkpoint=True)
    lab = np.asarray(nib.load(str(out1[0])).dataobj)
    assert TINY_TO_BRATS[3] == 1 and (lab == 1).all()
    # an explicit mapping overrides the name match (necrosis -> edema, BraTS 2)
    out2 = predict_nnunet(model, images, tmp_path / "f2", schema="brats", folds=["1"],
                          mapping={"necrosis": "ED"}, device="cpu", trust_checkpoint=True)
    assert (np.asarray(nib.load(str(out2[0])).dataobj) == 2).all()


def test_predict_broken_inputs_clear_errors(tiny_case: tuple[Path, Path], tmp_path: Path) -> None:
    import shutil

    import torch

    model, images = tiny_case
    # model folder problems are reported before anything is loaded
    broken = tmp_path / "broken"
    shutil.copytree(model, broken)
    (broken / "plans.json").unlink()
    shutil.rmtree(broken / "fold_1")
    with pytest.raises(FileNotFoundError, match=r"missing \['plans.json', 'fold_1/checkpoint_final.pth'\]"):
        predict_nnunet(broken, images, tmp_path / "out", folds=[0, 1], device="cpu", trust_checkpoint=True)
    with pytest.raises(ValueError, match=r"\['necrosis'\] match no region of schema 'paediatric'"):
        predict_nnunet(model, images, tmp_path / "out", schema="paediatric", device="cpu", trust_checkpoint=True)

    # input problems: a missing channel, files not in nnU-Net naming
    imgs = tmp_path / "imgs"
    shutil.copytree(images, imgs)
    (imgs / "case_000_0003.nii.gz").unlink()
    with pytest.raises(ValueError, match=r"expects 4 channel\(s\).*'case_000': 'missing \[3\], extra \[\]'"):
        predict_nnunet(model, imgs, tmp_path / "out", device="cpu", trust_checkpoint=True)
    for f in imgs.iterdir():
        f.rename(imgs / f.name.replace("_000_", "-"))  # case-0000.nii.gz: no _XXXX suffix
    with pytest.raises(FileNotFoundError, match="no nnU-Net input images"):
        predict_nnunet(model, imgs, tmp_path / "out", device="cpu", trust_checkpoint=True)

    # checkpoints nnU-Net cannot use: the error names the folder, fold and the cause
    shutil.copytree(model / "fold_0", broken / "fold_0", dirs_exist_ok=True)
    shutil.copy(model / "plans.json", broken / "plans.json")
    ckpt = torch.load(broken / "fold_0" / "checkpoint_final.pth", map_location="cpu", weights_only=True)
    del ckpt["network_weights"]
    torch.save(ckpt, broken / "fold_0" / "checkpoint_final.pth")
    with pytest.raises(ValueError, match=r"could not load the nnU-Net model in .*broken \(folds \(0,\), checkpoint_final.pth; nnU-Net unpickles them\): KeyError: 'network_weights'"):
        predict_nnunet(broken, images, tmp_path / "out", device="cpu", trust_checkpoint=True)
    (broken / "fold_0" / "checkpoint_final.pth").write_bytes(b"not a checkpoint")
    with pytest.raises(ValueError, match="could not load the nnU-Net model"):
        predict_nnunet(broken, images, tmp_path / "out", device="cpu", trust_checkpoint=True)
    assert not (tmp_path / "out").exists() or not any((tmp_path / "out").iterdir())


def test_nnunet_needs_trust_checkpoint(tiny_case: tuple[Path, Path], tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    """nnU-Net unpickles its checkpoints: refused unless trusted explicitly (API and CLI)."""
    from imaging.cli import main

    model, images = tiny_case
    with pytest.raises(ValueError, match="nnU-Net unpickles its checkpoints.*trust_checkpoint=True"):
        predict_nnunet(model, images, tmp_path / "out", device="cpu")
    assert not (tmp_path / "out").exists()
    # imaging segment --model <nnU-Net results folder> is recognised and needs --trust-checkpoint
    argv = ["segment", "--model", str(model), "--images", str(images), "--out", str(tmp_path / "seg"), "--device", "cpu"]
    assert main(argv) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "--trust-checkpoint" in err[0] and "unpickles" in err[0]
    assert main([*argv, "--trust-checkpoint", "--et-label", "4"]) == 0
    assert "1 case(s) segmented with nnU-Net" in capsys.readouterr().err
    assert (tmp_path / "seg" / "case_000.nii.gz").is_file()
