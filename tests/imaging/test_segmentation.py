"""imaging.segmentation: config/checkpoints, inference geometry, training and transfer (tiny nets)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("monai")

from imaging.phantoms import make_tumour_phantom, write_phantom_cohort  # noqa: E402
from imaging.segmentation.inference import (  # noqa: E402
    find_cases,
    normalize_images,
    predict_proba,
    segment_array,
    segment_cohort,
)
from imaging.segmentation.models import (  # noqa: E402
    UNetConfig,
    build_model,
    classes_to_labels,
    labels_to_classes,
    load_model,
    save_model,
)
from imaging.segmentation.train import (  # noqa: E402
    freeze_parameters,
    kfold_splits,
    sample_patches,
    stepwise_transfer,
    train_folds,
    train_model,
)

torch.set_num_threads(1)


def tiny_config(**kw) -> UNetConfig:
    return UNetConfig.from_schema("brats", filters=(2, 4, 8), patch_size=(16, 16, 16), **kw)


def tiny_cases(n: int = 2, shape=(20, 20, 20)):
    return [make_tumour_phantom(shape, (1.0, 1.0, 1.0), "brats", s)[:2] for s in range(n)]


def test_config_roundtrip_and_validation(tmp_path: Path) -> None:
    cfg = tiny_config(roi_size=(32, 32, 32))
    assert cfg.class_labels == (0, 3, 1, 2) and cfg.in_channels == 4 and cfg.out_channels == 4
    cfg.save(tmp_path / "c.json")
    assert UNetConfig.load(tmp_path / "c.json") == cfg
    assert json.loads((tmp_path / "c.json").read_text())["filters"] == [2, 4, 8]
    with pytest.raises(ValueError, match="divisible"):
        UNetConfig(filters=(2, 4, 8), patch_size=(30, 32, 32))
    with pytest.raises(ValueError, match="class_labels"):
        UNetConfig(out_channels=3)
    with pytest.raises(ValueError, match="unknown UNetConfig fields"):
        UNetConfig.from_dict({"bogus": 1})
    peds = UNetConfig.from_schema("paediatric", filters=(2, 4, 8), patch_size=(16, 16, 16))
    assert peds.out_channels == 5 and peds.class_labels == (0, 1, 2, 3, 4)


def test_label_class_mapping_roundtrip() -> None:
    cfg = tiny_config()
    lab = np.array([0, 1, 2, 3, 4], dtype=np.uint8).reshape(5, 1, 1)
    cls = labels_to_classes(lab, cfg)
    assert cls.ravel().tolist() == [0, 2, 3, 1, 1]  # ET labels 3 and 4 -> class 1
    assert classes_to_labels(cls, cfg).ravel().tolist() == [0, 1, 2, 3, 3]
    with pytest.raises(ValueError, match=r"\[7\]"):
        labels_to_classes(np.array([7]), cfg)


def test_checkpoint_save_load_weights_only(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    cfg = tiny_config()
    nets = [build_model(cfg), build_model(cfg)]
    save_model(nets, cfg, tmp_path / "m")
    assert sorted(p.name for p in (tmp_path / "m").iterdir()) == ["config.json", "fold_0.pt", "fold_1.pt"]
    calls = []
    real_load = torch.load

    def spy(*a, **k):
        calls.append(k.get("weights_only"))
        return real_load(*a, **k)

    monkeypatch.setattr(torch, "load", spy)
    cfg2, loaded = load_model(tmp_path / "m")
    assert calls == [True, True] and cfg2 == cfg and len(loaded) == 2
    for a, b in zip(nets[1].state_dict().values(), loaded[1].state_dict().values(), strict=True):
        assert torch.equal(a, b)
    _, one = load_model(tmp_path / "m", folds=[1])
    assert len(one) == 1
    with pytest.raises(FileNotFoundError, match="folds \\[5\\]"):
        load_model(tmp_path / "m", folds=[5])
    with pytest.raises(FileNotFoundError, match="config.json"):
        load_model(tmp_path)


def test_normalize_inside_brain() -> None:
    rng = np.random.default_rng(0)
    img = np.zeros((2, 8, 8, 8), np.float32)
    img[:, 2:6, 2:6, 2:6] = rng.normal(100, 10, size=(2, 4, 4, 4))
    z = normalize_images(img)
    inside = z[:, 2:6, 2:6, 2:6].reshape(2, -1)
    assert np.allclose(inside.mean(axis=1), 0, atol=1e-5) and np.allclose(inside.std(axis=1), 1, atol=1e-4)
    assert (z[:, 0] == 0).all()
    assert (normalize_images(np.zeros((1, 4, 4, 4))) == 0).all()


def test_tta_and_ensemble_are_means_of_softmax() -> None:
    cfg = tiny_config()
    torch.manual_seed(0)
    nets = [build_model(cfg).eval(), build_model(cfg).eval()]
    images = make_tumour_phantom((20, 18, 16), (1.0, 1.0, 1.0), "brats", 0)[0]
    p_ens = predict_proba(nets, images, cfg, tta=False, device="cpu")
    p0 = predict_proba(nets[:1], images, cfg, tta=False, device="cpu")
    p1 = predict_proba(nets[1:], images, cfg, tta=False, device="cpu")
    assert p_ens.shape == (4, 20, 18, 16)
    assert np.allclose(p_ens, (p0 + p1) / 2, atol=1e-6)
    p_tta = predict_proba(nets[:1], images, cfg, tta=True, device="cpu")
    assert np.allclose(p_tta.sum(axis=0), 1, atol=1e-5)
    # mirroring TTA is flip-equivariant: flipping the input flips the output
    p_flip = predict_proba(nets[:1], images[:, ::-1].copy(), cfg, tta=True, device="cpu")
    assert np.allclose(p_flip[:, ::-1], p_tta, atol=1e-5)
    lab = segment_array(images, nets, cfg, tta=False, device="cpu")
    assert lab.dtype == np.uint8 and set(np.unique(lab)) <= {0, 1, 2, 3}
    with pytest.raises(ValueError, match="C=4"):
        predict_proba(nets, images[:3], cfg)


def test_segment_cohort_keeps_input_space(tmp_path: Path) -> None:
    import nibabel as nib

    cfg = tiny_config()
    save_model(build_model(cfg), cfg, tmp_path / "model")
    write_phantom_cohort(tmp_path / "coh", 2, shape=(16, 20, 12), spacing=(1.0, 1.2, 2.0))
    # re-orient case_001 to LPS-like axes with a flipped, permuted affine
    for c in range(4):
        p = tmp_path / "coh" / "images" / f"case_001_{c:04d}.nii.gz"
        img = nib.load(str(p))
        flipped = img.as_reoriented(np.array([[1, -1], [0, 1], [2, 1]]))  # swap x/y, flip one
        nib.save(flipped, str(p))
    table = segment_cohort(tmp_path / "coh" / "images", tmp_path / "out", tmp_path / "model", tta=False, progress=False)
    assert list(table.index) == ["case_000", "case_001"]
    for case in table.index:
        src = nib.load(str(tmp_path / "coh" / "images" / f"{case}_0000.nii.gz"))
        out = nib.load(table.loc[case, "output"])
        assert out.shape == src.shape and np.allclose(out.affine, src.affine)
        assert out.get_data_dtype() == np.uint8
    # the label map of the re-oriented case equals the canonical case's prediction re-oriented back
    from imaging.io import load_image, load_nifti
    from imaging.segmentation.models import load_model as lm

    cfg2, nets = lm(tmp_path / "model")
    data = np.stack([load_image(tmp_path / "coh" / "images" / f"case_001_{c:04d}.nii.gz")[0] for c in range(4)])
    expected = segment_array(data, nets, cfg2, tta=False, device="cpu")
    got = np.asarray(load_nifti(table.loc["case_001", "output"]).dataobj)
    assert np.array_equal(got, expected)


def test_find_cases_errors(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError):
        find_cases(tmp_path / "nope")
    with pytest.raises(FileNotFoundError, match="nnU-Net naming"):
        find_cases(tmp_path)
    (tmp_path / "a_0000.nii.gz").touch()
    (tmp_path / "a_0002.nii.gz").touch()
    with pytest.raises(ValueError, match=r"missing \[1\]"):
        find_cases(tmp_path)


def test_patch_sampling_oversamples_foreground() -> None:
    cfg = tiny_config()
    from imaging.segmentation.train import prepare_cases

    cases = prepare_cases(tiny_cases(1, (40, 40, 40)), cfg)
    rng = np.random.default_rng(0)
    x, y = sample_patches(cases, 30, (8, 8, 8), rng, foreground_fraction=1.0, flip=False)
    assert x.shape == (30, 4, 8, 8, 8) and y.shape == (30, 1, 8, 8, 8)
    assert all(y[i].any() for i in range(30))
    x, y = sample_patches(cases, 4, (48, 48, 48), rng)  # bigger than the image: padded
    assert x.shape == (4, 4, 48, 48, 48)


def test_training_reduces_loss_and_kfold(tmp_path: Path) -> None:
    cfg = tiny_config()
    res = train_model(tiny_cases(2), cfg, iterations=12, batch_size=2, learning_rate=1e-2, device="cpu", log_every=4)
    assert list(res.history.columns) == ["iteration", "loss", "lr"]
    assert res.history["loss"].iloc[-1] < res.history["loss"].iloc[0]
    splits = kfold_splits(5, 5)
    assert sorted(np.concatenate([v for _, v in splits]).tolist()) == list(range(5))
    out = train_folds(tiny_cases(3), cfg, tmp_path / "m", k=3, folds=[0, 2], iterations=1, device="cpu")
    assert len(out) == 2 and (tmp_path / "m" / "fold_2.pt").is_file()
    assert not (tmp_path / "m" / "fold_1.pt").exists()


@pytest.mark.parametrize("freeze", ["encoder", "decoder"])
def test_frozen_parameters_unchanged_after_fine_tuning(tmp_path: Path, freeze: str) -> None:
    from imaging.segmentation.models import model_parts

    cfg = tiny_config()
    torch.manual_seed(1)
    base = build_model(cfg)
    save_model(base, cfg, tmp_path / "pre")
    stages = stepwise_transfer(
        tmp_path / "pre" / "fold_0.pt", tiny_cases(2), cfg, freeze=freeze,
        iterations=(2, 3), learning_rates=(1e-2, 1e-2), device="cpu",
    )
    stage1, stage2 = stages
    assert stage2.frozen == freeze and stage1.frozen is None
    parts = model_parts(stage2.model)
    before = {id(p): p for p in stage1.model.parameters()}
    names1 = dict(stage1.model.named_parameters())
    names2 = dict(stage2.model.named_parameters())
    frozen_ids = {id(p) for m in model_parts(stage2.model)[freeze] for p in m.parameters()}
    n_frozen = n_changed = 0
    for name, p2 in names2.items():
        p1 = names1[name]
        if id(p2) in frozen_ids:
            assert torch.equal(p1, p2), f"frozen parameter {name} changed"
            n_frozen += 1
        elif not torch.equal(p1, p2):
            n_changed += 1
    assert n_frozen > 0 and n_changed > 0
    other = "decoder" if freeze == "encoder" else "encoder"
    assert any(p.numel() for m in parts[other] for p in m.parameters())
    assert before  # stage 1 changed the pretrained weights too
    pre = load_model(tmp_path / "pre")[1][0]
    assert any(not torch.equal(a, b) for a, b in zip(pre.parameters(), stage1.model.parameters(), strict=True))
    assert all(p.requires_grad for p in stage2.model.parameters())  # unfrozen again on return
    with pytest.raises(ValueError, match="freeze"):
        freeze_parameters(base, "middle")


def test_cli_segment(tmp_path: Path) -> None:
    from imaging.cli import main

    cfg = tiny_config()
    save_model(build_model(cfg), cfg, tmp_path / "model")
    write_phantom_cohort(tmp_path / "coh", 1, shape=(16, 16, 16))
    rc = main(["segment", "--images", str(tmp_path / "coh" / "images"), "--out", str(tmp_path / "seg"),
               "--model", str(tmp_path / "model"), "--no-tta"])
    assert rc == 0 and (tmp_path / "seg" / "case_000.nii.gz").is_file()
    rc = main(["segment", "--images", str(tmp_path / "nope"), "--out", str(tmp_path / "seg"),
               "--model", str(tmp_path / "model")])
    assert rc == 2


def test_segment_cohort_uses_active_dask_client(tmp_path: Path) -> None:
    distributed = pytest.importorskip("distributed")
    cfg = tiny_config()
    save_model(build_model(cfg), cfg, tmp_path / "model")
    write_phantom_cohort(tmp_path / "coh", 2, shape=(16, 16, 16))
    local = segment_cohort(tmp_path / "coh" / "images", tmp_path / "a", tmp_path / "model", tta=False,
                           use_dask=False, progress=False)
    with pytest.raises(ValueError, match="no dask.distributed client"):
        segment_cohort(tmp_path / "coh" / "images", tmp_path / "b", tmp_path / "model", use_dask=True)
    with distributed.LocalCluster(processes=False, n_workers=1, threads_per_worker=1,
                                  dashboard_address=None) as cluster, distributed.Client(cluster):
        table = segment_cohort(tmp_path / "coh" / "images", tmp_path / "b", tmp_path / "model", tta=False,
                               progress=False)
    assert list(table.index) == list(local.index)
    import nibabel as nib

    for case in table.index:
        a = np.asarray(nib.load(local.loc[case, "output"]).dataobj)
        b = np.asarray(nib.load(table.loc[case, "output"]).dataobj)
        assert np.array_equal(a, b)


def test_shipped_demo_model_on_a_heldout_phantom() -> None:
    from imaging.metrics import dice
    from imaging.segmentation.inference import DEMO_MODEL_DIR

    if not (DEMO_MODEL_DIR / "config.json").is_file():
        pytest.skip("demo model not shipped in this checkout")
    cfg, nets = load_model(DEMO_MODEL_DIR)
    assert cfg.schema == "brats" and cfg.in_channels == 4
    assert sum(p.stat().st_size for p in DEMO_MODEL_DIR.iterdir()) < 5_000_000
    images, ref, _ = make_tumour_phantom((64, 64, 64), (1.0, 1.0, 1.0), "brats", 7)  # seed 7: held out
    pred = segment_array(images, nets, cfg, tta=False, device="cpu")
    assert dice(pred > 0, ref > 0) >= 0.85
