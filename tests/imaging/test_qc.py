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


# ---------------------------------------------------------------- the published method
from scipy import ndimage  # noqa: E402

from imaging.qc import ensemble_qc, fuse, member_agreement, read_members  # noqa: E402


def test_majority_vote_by_hand() -> None:
    a = np.array([1, 1, 0, 0, 1], bool)
    b = np.array([1, 0, 1, 0, 1], bool)
    c = np.array([0, 1, 1, 0, 0], bool)
    assert fuse([a, b, c]).tolist() == [True, True, True, False, True]
    # even count: a tie is background (strict majority)
    assert fuse([a, b]).tolist() == [True, False, False, False, True]
    with pytest.raises(ValueError, match="fusion method"):
        fuse([a, b], "staple")


def test_simple_drops_the_outlier_member() -> None:
    truth = np.zeros((20, 20, 20), bool)
    truth[5:15, 5:15, 5:15] = True
    rng = np.random.default_rng(0)
    members = [truth ^ (rng.random(truth.shape) < 0.01) for _ in range(4)]
    outlier = np.zeros_like(truth)
    outlier[0:12, 0:12, 0:12] = True
    mv = fuse([*members, outlier])
    simple = fuse([*members, outlier], "simple")
    from imaging.metrics import dice as d

    assert d(simple, truth) >= d(mv, truth) and d(simple, truth) > 0.97


def _perturbed(lab: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """A plausible ensemble member: the label map shifted by at most one voxel per axis."""
    return np.roll(lab, tuple(int(v) for v in rng.integers(-1, 2, size=3)), axis=(0, 1, 2))


@pytest.fixture(scope="module")
def qc_cohort():
    cohort = {}
    for seed in range(8):
        _, lab, _ = make_tumour_phantom((48, 48, 48), (1.0, 1.0, 1.0), "brats", seed)
        rng = np.random.default_rng(100 + seed)
        cohort[f"case_{seed}"] = {f"fold_{k}": _perturbed(lab, rng) for k in range(4)}
    # one deliberately corrupted member: fold_2 of case_5 misses the enhancing rim and is
    # dilated by 3 voxels
    bad = cohort["case_5"]["fold_2"].copy()
    grown = ndimage.binary_dilation(bad > 0, iterations=3)
    bad[grown & (bad == 0)] = 2
    bad[bad == 3] = 1
    cohort["case_5"]["fold_2"] = bad
    return cohort


def test_ensemble_qc_flags_the_corrupted_member(qc_cohort) -> None:
    res = ensemble_qc(qc_cohort, "brats")
    s = res.summary()
    assert s.index[0] == "case_5" and s.loc["case_5", "rank"] == 1
    assert s.loc["case_5", "alarms"] > s["alarms"].drop("case_5").max()
    m = res.members.loc["case_5"]
    per_member = m["alarms"].groupby(level="member").sum()
    assert per_member.idxmax() == "fold_2" and per_member["fold_2"] >= 3
    # no enhancing tumour in the corrupted member: Dice 0 and an infinite HD, both alarms
    assert m.loc[("ET", "fold_2"), "dice"] == 0.0 and np.isinf(m.loc[("ET", "fold_2"), "hd95"])
    assert m.loc[("ET", "fold_2"), "alarms"] == 2
    # thresholds: median - 3 MAD of the member's Dice over the 8 cases, by hand
    d = res.members.xs(("WT", "fold_2"), level=("region", "member"))["dice"].to_numpy()
    med = np.median(d)
    assert res.members.loc[("case_0", "WT", "fold_2"), "dice_threshold"] == pytest.approx(
        med - 3 * np.median(np.abs(d - med))
    )
    import matplotlib

    matplotlib.use("Agg")
    assert len(res.plot().patches) == 8


def test_infinite_hd_is_an_alarm_and_member_errors_do_not_stop(qc_cohort, tmp_path) -> None:
    cohort = {k: dict(v) for k, v in qc_cohort.items()}
    empty = np.zeros_like(cohort["case_1"]["fold_0"])
    cohort["case_1"] = {**cohort["case_1"], "fold_0": empty}
    cohort["broken"] = {"fold_0": tmp_path / "nope.nii.gz", "fold_1": tmp_path / "nope2.nii.gz"}
    res = ensemble_qc(cohort, "brats", alpha=100.0)  # thresholds so wide only inf HD alarms
    row = res.members.loc[("case_1", "WT", "fold_0")]
    assert np.isinf(row["hd95"]) and bool(row["hd95_alarm"]) and not bool(row["dice_alarm"])
    s = res.summary()
    assert s.index[0] == "broken" and "not found" in s.loc["broken", "error"]
    assert s.index[1] == "case_1"


def test_member_agreement_regions_and_shapes() -> None:
    a = np.zeros((8, 8, 8), np.uint8)
    a[2:5, 2:5, 2:5] = 2
    t = member_agreement({"x": a, "y": a, "z": a}, "brats")
    assert list(t.index.get_level_values("region").unique()) == ["WT", "TC", "ET"]
    assert (t["dice"] == 1).all() and (t["hd95"] == 0).all()
    with pytest.raises(ValueError, match="different shapes"):
        member_agreement([a, a[:4]], "brats")
    with pytest.raises(ValueError, match="at least 2"):
        member_agreement([a], "brats")


def test_read_members_layout(tmp_path) -> None:
    from imaging.io import save_nifti

    a = np.zeros((8, 8, 8), np.uint8)
    for case in ("c1", "c2"):
        for k in range(2):
            save_nifti(a, np.eye(4), tmp_path / case / f"fold_{k}.nii.gz")
    found = read_members(tmp_path)
    assert list(found) == ["c1", "c2"] and list(found["c1"]) == ["fold_0", "fold_1"]
    with pytest.raises(FileNotFoundError, match="save-members"):
        read_members(tmp_path / "c1")


def test_qc_command(qc_cohort, tmp_path, capsys) -> None:
    import json

    import pandas as pd

    from imaging.cli import main
    from imaging.io import save_nifti

    root = tmp_path / "members"
    for case, members in qc_cohort.items():
        for name, lab in members.items():
            save_nifti(lab, np.eye(4), root / case / f"{name}.nii.gz")
    out = tmp_path / "qc.csv"
    # maps with labels 1-3 fit BraTS 2023 and paediatric: refused without a schema
    assert main(["qc", "--members", str(root), "--out", str(out)]) == 2
    assert "--schema" in capsys.readouterr().err
    (root / "members.json").write_text(json.dumps({"schema": "brats"}))
    (root / "case_9").mkdir()
    (root / "case_9" / "fold_0.nii.gz").write_bytes(b"truncated")
    (root / "case_9" / "fold_1.nii.gz").write_bytes(b"truncated")
    assert main(["qc", "--members", str(root), "--out", str(out), "--figure", str(tmp_path / "qc.png")]) == 0
    err = capsys.readouterr().err
    assert "9 case(s)" in err and "1 failed" in err
    t = pd.read_csv(out, index_col="case", keep_default_na=False)
    assert list(t.index[:2]) == ["case_9", "case_5"] and "cannot read" in t.loc["case_9", "error"]
    assert (tmp_path / "qc.png").stat().st_size > 0
