"""imaging.qc: ensemble-discord scores, flags and review order."""

from __future__ import annotations

import numpy as np
import pytest

from imaging.phantoms import make_tumour_phantom
from imaging.qc import case_discord, ensemble_discord


def _members(seed: int, noise: float, n: int = 3):
    _, lab, _ = make_tumour_phantom((24, 24, 24), (1.0, 1.0, 1.0), "brats", seed)
    rng = np.random.default_rng(seed)
    out = []
    for _ in range(n):
        m = lab.copy()
        flip = (rng.random(lab.shape) < noise) & (lab > 0)
        m[flip] = 0
        out.append(m)
    return out


def test_identical_members_have_zero_discord() -> None:
    m = _members(0, 0.0)
    t = case_discord(m)
    assert (t["discord"] == 0).all() and np.allclose(t["volume_cv"], 0, atol=1e-12)
    assert list(t.index) == ["ET", "NCR", "ED", "TC", "WT"]


def test_pairwise_dice_by_hand() -> None:
    a = np.zeros((4, 4, 4), np.uint8)
    b, c = a.copy(), a.copy()
    a[0, 0, :2] = 2
    b[0, 0, :1] = 2  # Dice(a, b) = 2/3
    c[0, 0, :2] = 2  # Dice(a, c) = 1, Dice(b, c) = 2/3
    t = case_discord([a, b, c], regions=["ED"])
    assert t.loc["ED", "discord"] == pytest.approx(1 - (2 / 3 + 1 + 2 / 3) / 3)
    assert t.loc["ED", "min_dice"] == pytest.approx(2 / 3)
    vols = np.array([2, 1, 2]) * 1e-3
    assert t.loc["ED", "volume_cv"] == pytest.approx(vols.std() / vols.mean())


def test_review_order_flags_and_plot() -> None:
    cohort = {"calm": _members(1, 0.01), "noisy": _members(2, 0.5), "mid": _members(3, 0.15)}
    res = ensemble_discord(cohort, threshold=0.2)
    assert res.review_order == ["noisy", "mid", "calm"]
    assert res.flagged == ["noisy"]
    s = res.summary()
    assert list(s.index) == ["noisy", "mid", "calm"] and s["rank"].tolist() == [1, 2, 3]
    assert s.loc["noisy", "flagged"] and not s.loc["calm", "flagged"]
    assert {"discord_WT", "volume_cv_ET"} <= set(s.columns)
    wt_only = ensemble_discord(cohort, score_regions=["WT"])
    assert wt_only.scores["noisy"] == pytest.approx(res.regions.loc[("noisy", "WT"), "discord"])
    import matplotlib

    matplotlib.use("Agg")
    ax = res.plot()
    assert len(ax.patches) == 3


def test_errors() -> None:
    with pytest.raises(ValueError, match="at least 2"):
        case_discord([np.zeros((2, 2, 2))])
    with pytest.raises(ValueError, match="different shapes"):
        case_discord([np.zeros((2, 2, 2)), np.zeros((2, 2, 3))])
    with pytest.raises(ValueError, match="empty cohort"):
        ensemble_discord({})
