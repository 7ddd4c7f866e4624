"""``imaging train`` and the training library: folds, transfer with a new head, stepwise freezing.

Tiny phantoms (16³), tiny networks (filters 8-16-32, 16³ patches), one or two iterations
per stage: these tests check the plumbing, not the learning.
"""

from __future__ import annotations

import json
import logging

import numpy as np
import pandas as pd
import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("monai")

from imaging.cli import main  # noqa: E402
from imaging.phantoms import make_tumour_phantom  # noqa: E402
from imaging.segmentation.inference import resample_to_spacing  # noqa: E402
from imaging.segmentation.models import UNetConfig, build_model, load_model, model_parts  # noqa: E402
from imaging.segmentation.train import (  # noqa: E402
    load_init_weights,
    stepwise_transfer,
    train_model,
)

TINY = ["--filters", "8,16,32", "--patch-size", "16", "--epochs", "1", "--iterations-per-epoch", "1"]


def _cfg(schema="brats", **kw):
    return UNetConfig.from_schema(schema, filters=(8, 16, 32), patch_size=(16, 16, 16), **kw)


@pytest.fixture(scope="module")
def cohorts(tmp_path_factory):
    root = tmp_path_factory.mktemp("train")
    assert main(["phantoms", "--out", str(root / "brats"), "--n", "3", "--shape", "16"]) == 0
    assert main(["phantoms", "--out", str(root / "ped"), "--n", "2", "--shape", "16", "--schema", "paediatric",
                 "--seed", "10"]) == 0
    return root


@pytest.fixture(scope="module")
def brats_model(cohorts):
    out = cohorts / "m_brats"
    args = ["train", "--images", str(cohorts / "brats" / "images"), "--masks", str(cohorts / "brats" / "masks"),
            "--out", str(out), "--folds", "3", *TINY]
    assert main(args) == 0
    return out


def test_kfold_model_folder_is_loadable_and_segments(cohorts, brats_model, tmp_path):
    files = sorted(p.name for p in brats_model.iterdir())
    assert files == ["config.json", "fold_0.pt", "fold_1.pt", "fold_2.pt", "timing.csv", "training.json",
                     "training_log.csv", "validation.csv"]
    config, models = load_model(brats_model)
    assert len(models) == 3 and config.schema == "brats" and config.out_channels == 4
    assert config.spacing == (1.0, 1.0, 1.0)  # UNetConfig.spacing (models.py), read by inference
    meta = json.loads((brats_model / "training.json").read_text())
    # every case is held out exactly once
    assert sorted(c for f in meta["folds"] for c in f["val"]) == meta["cases"]
    val = pd.read_csv(brats_model / "validation.csv")
    assert sorted(val["case"]) == meta["cases"] and val["WT"].between(0, 1).all()
    timing = pd.read_csv(brats_model / "timing.csv")
    assert timing["stage"].tolist() == ["scratch"] * 3 and (timing["seconds_per_epoch"] > 0).all()
    # state dicts hold tensors only (weights_only=True loads them)
    state = torch.load(brats_model / "fold_0.pt", weights_only=True)
    assert all(isinstance(v, torch.Tensor) for v in state.values())
    out = tmp_path / "seg"
    assert main(["segment", "--images", str(cohorts / "brats" / "images"), "--out", str(out),
                 "--model", str(brats_model), "--no-tta"]) == 0
    assert len(list(out.glob("case_*.nii.gz"))) == 3


def test_stepwise_transfer_to_new_schema_from_cli(cohorts, brats_model, tmp_path, caplog):
    out = tmp_path / "m_ped"
    args = ["train", "--images", str(cohorts / "ped" / "images"), "--masks", str(cohorts / "ped" / "masks"),
            "--schema", "paediatric", "--out", str(out), "--init", str(brats_model), "--freeze", "encoder",
            "--folds", "2", "--epochs", "1", "--iterations-per-epoch", "1"]
    with caplog.at_level(logging.WARNING):
        assert main(args) == 0
    assert any("re-initialising the output head" in r.getMessage() and "4 classes" in r.getMessage()
               for r in caplog.records)
    config, models = load_model(out)
    assert config.schema == "paediatric" and config.out_channels == 5
    assert config.filters == (8, 16, 32)  # architecture of the init model
    timing = pd.read_csv(out / "timing.csv")
    assert timing["stage"].tolist() == ["transfer", "frozen-encoder"] * 2
    # fold 0 started from the init model's fold 0: its decoder moved, its encoder moved in
    # the transfer stage only; the head was new
    init_state = torch.load(brats_model / "fold_0.pt", weights_only=True)
    new_state = torch.load(out / "fold_0.pt", weights_only=True)
    assert new_state["output_block.conv.conv.weight"].shape[0] == 5
    assert init_state["output_block.conv.conv.weight"].shape[0] == 4


def test_load_init_weights_head_and_architecture():
    torch.manual_seed(0)
    src = build_model(_cfg("brats"))
    dst = build_model(_cfg("paediatric"))
    fresh_head = dst.state_dict()["output_block.conv.conv.weight"].clone()
    reinit = load_init_weights(dst, src.state_dict(), source="brats")
    assert reinit == ["output_block.conv.conv.weight", "output_block.conv.conv.bias"]
    for k, v in src.state_dict().items():
        if not k.startswith("output_block."):
            assert torch.equal(dst.state_dict()[k], v), k
    assert torch.equal(dst.state_dict()["output_block.conv.conv.weight"], fresh_head)
    # the same class count loads everything
    same = build_model(_cfg("brats"))
    assert load_init_weights(same, src.state_dict()) == []
    assert all(torch.equal(same.state_dict()[k], v) for k, v in src.state_dict().items())
    # another architecture: a clear error, not a raw size mismatch
    other = build_model(UNetConfig.from_schema("brats", filters=(4, 8, 16), patch_size=(16, 16, 16)))
    with pytest.raises(ValueError, match="do not fit this architecture.*input_block"):
        load_init_weights(other, src.state_dict(), source="brats.pt")


def _cases(n, schema="brats"):
    return [make_tumour_phantom((16, 16, 16), schema=schema, random_state=i)[:2] for i in range(n)]


def test_train_model_init_with_other_class_count():
    src = train_model(_cases(1), _cfg("brats"), iterations=1, batch_size=1)
    res = train_model(_cases(1, "paediatric"), _cfg("paediatric"), iterations=1, batch_size=1,
                      init=src.model.state_dict())
    assert res.model.output_block.conv.conv.out_channels == 5


def test_stepwise_transfer_folds_keep_frozen_part(tmp_path):
    src = train_model(_cases(1), _cfg("brats"), iterations=1, batch_size=1)
    folds = stepwise_transfer(src.model.state_dict(), _cases(2, "paediatric"), _cfg("paediatric"),
                              freeze="encoder", iterations=(1, 1), k=2, model_dir=tmp_path / "m", batch_size=1)
    assert len(folds) == 2 and all(len(f) == 2 for f in folds)
    for stage1, stage2 in folds:
        enc1 = [p for m in model_parts(stage1.model)["encoder"] for p in m.parameters()]
        enc2 = [p for m in model_parts(stage2.model)["encoder"] for p in m.parameters()]
        assert all(torch.equal(a, b) for a, b in zip(enc1, enc2, strict=True))
        dec1 = [p for m in model_parts(stage1.model)["decoder"] for p in m.parameters()]
        dec2 = [p for m in model_parts(stage2.model)["decoder"] for p in m.parameters()]
        assert not all(torch.equal(a, b) for a, b in zip(dec1, dec2, strict=True))
    config, models = load_model(tmp_path / "m")
    assert len(models) == 2 and config.out_channels == 5
    with pytest.raises(ValueError, match="model_dir"):
        stepwise_transfer(src.model.state_dict(), _cases(2, "paediatric"), _cfg("paediatric"), k=2)


def test_resample_to_spacing_and_cli_spacing(cohorts, tmp_path):
    lab = make_tumour_phantom((16, 16, 16), random_state=0)[1]
    r = resample_to_spacing(lab, (1.0, 1.0, 1.0), (2.0, 2.0, 1.0), nearest=True)
    assert r.shape == (8, 8, 16) and set(np.unique(r)) <= set(np.unique(lab))
    # the resampled label map is the original sampled every second voxel in x and y
    np.testing.assert_array_equal(r, lab[::2, ::2, :])
    out = tmp_path / "m_sp"
    assert main(["train", "--images", str(cohorts / "brats" / "images"), "--masks", str(cohorts / "brats" / "masks"),
                 "--out", str(out), "--spacing", "2,2,1", *TINY, "--patch-size", "8"]) == 0
    config, _ = load_model(out)
    assert config.spacing == (2.0, 2.0, 1.0)


def test_cli_errors_are_one_line(cohorts, brats_model, tmp_path, capsys):
    ph = cohorts / "brats"
    base = ["train", "--images", str(ph / "images"), "--masks", str(ph / "masks")]
    cases = [
        ([*base, "--out", str(brats_model)], "not empty"),
        ([*base, "--out", str(tmp_path / "a"), "--freeze", "encoder"], "--freeze needs --init"),
        ([*base, "--out", str(tmp_path / "a"), "--folds", "9"], "--folds must be between 1 and the number of cases (3)"),
        ([*base, "--out", str(tmp_path / "a"), "--init", str(tmp_path / "none")], "not found"),
        (["train", "--images", str(ph / "images"), "--masks", str(cohorts / "ped" / "masks"),
          "--out", str(tmp_path / "a")], "no mask <case>.nii.gz for case(s) ['case_002']"),
        ([*base, "--out", str(tmp_path / "a"), "--device", "cuda:7"], "--device cuda:7"),
    ]
    for args, msg in cases:
        if "cuda" in msg and torch.cuda.is_available():
            continue
        assert main(args) == 2, args
        err = capsys.readouterr().err.strip()
        assert msg in err and len(err.splitlines()) == 1, err
    assert not (tmp_path / "a").exists()
    with pytest.raises(SystemExit):
        main(["train", "--help"])
    assert "imaging train --images" in capsys.readouterr().out
