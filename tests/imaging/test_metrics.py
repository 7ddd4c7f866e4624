"""imaging.metrics against MONAI (Dice 1e-6, HD95 1e-4 mm), closed forms and ICC references."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest

from imaging.metrics import (
    dice,
    hausdorff95,
    icc,
    region_report,
    relative_volume_difference,
    sensitivity,
    volume_agreement,
)

torch = pytest.importorskip("torch")
monai_metrics = pytest.importorskip("monai.metrics")


def _blob(rng: np.random.Generator, shape: tuple[int, ...], frac: float) -> np.ndarray:
    from scipy.ndimage import gaussian_filter

    field = gaussian_filter(rng.normal(size=shape), sigma=2.0)
    return field > np.quantile(field, 1 - frac)


def _monai(pred: np.ndarray, ref: np.ndarray, spacing) -> tuple[float, float]:
    p = torch.from_numpy(pred[None, None].astype(np.float32))
    r = torch.from_numpy(ref[None, None].astype(np.float32))
    dm = monai_metrics.DiceMetric(include_background=True, reduction="none")
    hd = monai_metrics.HausdorffDistanceMetric(include_background=True, percentile=95, reduction="none")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        d = float(dm(p, r)[0, 0])
        h = float(hd(p, r, spacing=list(spacing))[0, 0])
    return d, h


SPACINGS = [(1.0, 1.0, 1.0), (0.8, 1.2, 3.0), (0.5, 0.5, 5.0)]


@pytest.mark.parametrize("spacing", SPACINGS)
@pytest.mark.parametrize("seed", range(6))
def test_dice_and_hd95_equal_monai(seed: int, spacing) -> None:
    rng = np.random.default_rng(seed)
    shape = tuple(int(s) for s in rng.integers(16, 33, size=3))
    pred = _blob(rng, shape, rng.uniform(0.05, 0.4))
    ref = _blob(rng, shape, rng.uniform(0.05, 0.4)) if seed % 3 else pred ^ (rng.random(shape) < 0.02)
    d_m, h_m = _monai(pred, ref, spacing)
    assert dice(pred, ref) == pytest.approx(d_m, abs=1e-6)
    assert hausdorff95(pred, ref, spacing) == pytest.approx(h_m, abs=1e-4)


def test_masks_touching_the_border_and_tiny_masks() -> None:
    rng = np.random.default_rng(7)
    shape = (12, 10, 8)
    pred = np.zeros(shape, bool)
    ref = np.zeros(shape, bool)
    pred[:5, :4, :] = True  # touches three faces
    ref[3, 3, 3] = True  # single voxel
    for sp in SPACINGS:
        d_m, h_m = _monai(pred, ref, sp)
        assert dice(pred, ref) == pytest.approx(d_m, abs=1e-6)
        assert hausdorff95(pred, ref, sp) == pytest.approx(h_m, abs=1e-4)
    noise = rng.random(shape) < 0.3  # scattered voxels
    d_m, h_m = _monai(noise, pred, (1.0, 2.0, 0.7))
    assert hausdorff95(noise, pred, (1.0, 2.0, 0.7)) == pytest.approx(h_m, abs=1e-4)


def test_empty_masks_have_documented_values() -> None:
    empty = np.zeros((10, 10, 10), bool)
    full = empty.copy()
    full[3:6, 3:6, 3:6] = True
    # both empty: perfect agreement (MONAI gives NaN)
    assert dice(empty, empty) == 1.0
    assert hausdorff95(empty, empty, 1.0) == 0.0
    assert np.isnan(sensitivity(empty, empty))
    assert relative_volume_difference(empty, empty) == 0.0
    # one empty: Dice 0, HD95 inf (MONAI gives NaN or inf) or the chosen empty_hd
    _, h_m = _monai(empty, full, (1, 1, 1))
    assert not np.isfinite(h_m) and np.isinf(hausdorff95(empty, full))
    assert hausdorff95(full, empty, empty_hd=373.13) == 373.13
    assert dice(full, empty) == 0.0 == dice(empty, full)
    assert sensitivity(empty, full) == 0.0
    assert np.isnan(sensitivity(full, empty))
    assert relative_volume_difference(empty, full) == -1.0
    assert np.isnan(relative_volume_difference(full, empty))


def test_shape_mismatch_names_both_shapes() -> None:
    with pytest.raises(ValueError, match=r"\(3, 3, 3\) vs \(3, 3, 4\)"):
        dice(np.ones((3, 3, 3)), np.ones((3, 3, 4)))
    with pytest.raises(ValueError, match="spacing"):
        hausdorff95(np.ones((3, 3, 3)), np.ones((3, 3, 3)), (1, -1, 1))


def test_region_report_brats_with_composites() -> None:
    from imaging.phantoms import make_tumour_phantom

    _, ref, _ = make_tumour_phantom((32, 32, 32), (1.0, 1.0, 2.0), "brats", 3)
    pred = ref.copy()
    pred[pred == 1] = 3  # necrosis predicted as enhancing: NCR lost, TC and WT intact
    rep = region_report(pred, ref, "brats", (1.0, 1.0, 2.0))
    assert list(rep.index) == ["ET", "NCR", "ED", "TC", "WT"]
    assert rep.loc["WT", "dice"] == 1.0 and rep.loc["TC", "dice"] == 1.0
    assert rep.loc["WT", "hd95_mm"] == 0.0
    assert rep.loc["NCR", "dice"] == 0.0 and rep.loc["NCR", "sensitivity"] == 0.0
    assert rep.loc["NCR", "rvd"] == -1.0 and np.isinf(rep.loc["NCR", "hd95_mm"])
    n_ncr, n_et = int((ref == 1).sum()), int((ref == 3).sum())
    assert rep.loc["ET", "rvd"] == pytest.approx(n_ncr / n_et)
    assert rep.loc["ET", "sensitivity"] == 1.0
    assert rep.loc["WT", "ref_ml"] == pytest.approx((ref > 0).sum() * 2.0 / 1000)


def test_icc_shrout_fleiss_table() -> None:
    # Shrout & Fleiss (1979), Table 2: 6 targets x 4 judges; published ICC(1,1)=.17,
    # ICC(2,1)=.29, ICC(3,1)=.71 (pingouin: 0.166, 0.290, 0.715)
    x = np.array([[9, 2, 5, 8], [6, 1, 3, 2], [8, 4, 6, 8], [7, 1, 2, 6], [10, 5, 6, 9], [6, 2, 4, 7]])
    assert icc(x, "ICC(1,1)") == pytest.approx(0.1657, abs=1e-3)
    assert icc(x, "ICC(2,1)") == pytest.approx(0.2898, abs=1e-3)
    assert icc(x, "ICC(3,1)") == pytest.approx(0.7148, abs=1e-3)
    y = np.column_stack([np.arange(5.0), np.arange(5.0)])
    assert icc(y) == pytest.approx(1.0)
    with pytest.raises(ValueError, match="kind"):
        icc(x, "ICC(9)")


def test_volume_agreement_bland_altman_and_correlations() -> None:
    rng = np.random.default_rng(0)
    a = pd.DataFrame(rng.uniform(5, 50, size=(20, 3)), columns=["ET", "NCR", "ED"], index=[f"c{i}" for i in range(20)])
    b = a * 1.0 + 2.0  # constant offset: bias -2, SD 0, r = rho = 1
    res = volume_agreement(a, b)
    t = res.summary()
    assert np.allclose(t["bias"], -2.0) and np.allclose(t["sd_diff"], 0.0, atol=1e-12)
    assert np.allclose(t["pearson_r"], 1.0) and np.allclose(t["spearman_rho"], 1.0)
    assert (t["icc_3_1"] > 0.999).all() and (t["icc_2_1"] < t["icc_3_1"]).all()
    b2 = a + rng.normal(0, 1, size=a.shape)
    t2 = volume_agreement(a, b2).summary()
    d = a - b2
    assert np.allclose(t2["loa_high"], d.mean() + 1.96 * d.std(ddof=1))
    ax = volume_agreement(a, b2).plot()
    assert ax.get_ylabel().startswith("ET")
    with pytest.raises(ValueError, match="share no case"):
        volume_agreement(a, b.set_index(pd.Index(list("abcdefghijklmnopqrst"))))
