"""Nomogram against R rms 6.5 (lrm, datadist, nomogram, calibrate) and pROC 1.18.

Reference scripts: ``scripts/nomogram.R`` (simulated ICH cohort, ``tests/data/nomogram/ich``)
and ``scripts/reference_nomogram.R --demo`` (MASS::birthwt, ``tests/data/nomogram/birthwt``).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from radiogenomics.nomogram import Nomogram, datadist, r_pretty

DATA = Path(__file__).resolve().parents[1] / "data" / "nomogram"
ICH_PREDS = ["age", "gcs", "volume_ml", "location", "expansion", "sr_index", "lr_change_mm"]
BW_PREDS = ["age", "lwt", "race", "smoke", "ptl", "ht"]


@pytest.fixture(scope="module")
def cohort():
    return pd.read_csv(DATA / "ich" / "cohort.csv")


@pytest.fixture(scope="module")
def ich(cohort):
    """R::

    dd <- datadist(cohort); options(datadist = "dd")
    fit <- lrm(poor ~ age + gcs + volume_ml + location + expansion + sr_index + lr_change_mm,
               data = cohort, x = TRUE, y = TRUE)
    nom <- nomogram(fit, fun = plogis)
    """
    return Nomogram("poor", ICH_PREDS, categorical=["location"], selection=None).fit(cohort)


@pytest.fixture(scope="module")
def birthwt():
    d = pd.read_csv(DATA / "birthwt" / "data_used.csv")
    return d, Nomogram("low", BW_PREDS, categorical=["race"], selection=None).fit(d)


# ----------------------------------------------------------------------------- lrm
def test_coefficients_equal_lrm(ich):
    """R: ``coef(fit)``, ``sqrt(diag(vcov(fit)))``, Wald z, p, ``exp(coef)`` -> lrm_coefficients.csv."""
    ref = pd.read_csv(DATA / "ich" / "lrm_coefficients.csv")
    s = ich.summary()
    assert list(s.index) == list(ref["term"])
    for col in ["coef", "se", "z", "p"]:
        np.testing.assert_allclose(s[col], ref[col], atol=1e-6, rtol=0)
    np.testing.assert_allclose(s["OR"], ref["OR"], rtol=1e-6)


def test_coefficients_equal_lrm_birthwt(birthwt):
    """R: ``lrm(low ~ age + lwt + race + smoke + ptl + ht)`` on MASS::birthwt, race a factor;
    OR CI = exp(b -+ qnorm(.975) se)."""
    _, m = birthwt
    ref = pd.read_csv(DATA / "birthwt" / "lrm_coefficients.csv")
    s = m.summary()
    assert list(s.index) == list(ref["term"])
    np.testing.assert_allclose(s["coef"], ref["coef"], atol=1e-6, rtol=0)
    np.testing.assert_allclose(s["se"], ref["se"], atol=1e-6, rtol=0)
    np.testing.assert_allclose(s["p"], ref["p"], atol=1e-6, rtol=0)
    np.testing.assert_allclose(s["OR_lower"], ref["OR_lo"], rtol=1e-6)
    np.testing.assert_allclose(s["OR_upper"], ref["OR_hi"], rtol=1e-6)


def test_datadist_limits(cohort):
    """R: ``datadist(cohort)$limits`` -> datadist_limits.csv."""
    ref = pd.read_csv(DATA / "ich" / "datadist_limits.csv").set_index("limit")
    dd = datadist(cohort, categorical=["location"])
    for col in ["id", "age", "gcs", "volume_ml", "expansion", "sr_index", "lr_change_mm", "poor"]:
        np.testing.assert_allclose(dd[col].astype(float), ref[col].astype(float), atol=1e-9, err_msg=col)
    assert dd.loc["Adjust to", "location"] == "deep"
    assert dd.loc["High", "location"] == "subtentorial"


def test_r_pretty():
    """R: pretty(c(18, 95), 10); pretty(c(0.2, 0.8836), 10); pretty(c(3, 15), 10); pretty(c(0, 185), 10)."""
    np.testing.assert_allclose(r_pretty(18, 95, 10), np.arange(10, 101, 10))
    np.testing.assert_allclose(r_pretty(0.2, 0.8836, 10), np.arange(0.2, 0.901, 0.05), atol=1e-12)
    np.testing.assert_allclose(r_pretty(3, 15, 10), np.arange(3, 16))
    np.testing.assert_allclose(r_pretty(0, 185, 10), np.arange(0, 201, 20))
    np.testing.assert_allclose(r_pretty(0.00669, 0.99909, 10), np.arange(0, 1.01, 0.1), atol=1e-12)


# ----------------------------------------------------------------------------- nomogram
def test_axes_points_equal_rms(ich):
    """R: ``nom[[p]]$points`` per axis value -> nomogram_points_table.csv; attr(nom, "info")$sc."""
    ref = pd.read_csv(DATA / "ich" / "nomogram_points_table.csv")
    a = ich.axes_
    assert list(a["variable"]) == list(ref["predictor"])
    for v, r in zip(a["value"], ref["value"], strict=True):
        assert str(v) == r if isinstance(v, str) else float(v) == pytest.approx(float(r))
    np.testing.assert_allclose(a["points"], ref["points"], atol=1e-6)
    info = dict(line.split("=", 1) for line in (DATA / "ich" / "nomogram_info.txt").read_text().split())
    assert ich.scale_ == pytest.approx(float(info["sc"]), rel=1e-8)
    assert ich.nomogram_intercept_ == pytest.approx(float(info["Intercept"]), abs=1e-7)
    np.testing.assert_allclose(ich.total_points_ticks_, [float(x) for x in info["total_points_axis"].split(",")])


def test_total_points_axes_equal_rms(ich):
    """R: ``nom$lp`` (x, x.real) and ``nom[["Predicted Value"]]`` (x, x.real)."""
    lp = pd.read_csv(DATA / "ich" / "nomogram_totalpoints_to_lp.csv")
    np.testing.assert_allclose(ich.lp_axis_["linear_predictor"], lp["linear_predictor"])
    np.testing.assert_allclose(ich.lp_axis_["total_points"], lp["total_points"], atol=1e-6)
    pr = pd.read_csv(DATA / "ich" / "nomogram_totalpoints_to_prob.csv")
    np.testing.assert_allclose(ich.probability_axis_["probability"], pr["probability"])
    np.testing.assert_allclose(ich.probability_axis_["total_points"], pr["total_points"], atol=1e-6)


def test_patient_points_and_probabilities_equal_rms(ich, cohort):
    """R: points per predictor from the nomogram axes, total, ``predict(fit, type="fitted")``
    -> first20_points_probs.csv and fitted_probs_all.csv."""
    ref = pd.read_csv(DATA / "ich" / "first20_points_probs.csv")
    pts = ich.points(cohort.iloc[:20])
    np.testing.assert_allclose(pts[ICH_PREDS].to_numpy(), ref[ICH_PREDS].to_numpy(), atol=0.01)
    np.testing.assert_allclose(pts["total"], ref["total_points"], atol=0.01)
    assert np.max(np.abs(pts["total"] - ref["total_points"])) < 1e-6
    np.testing.assert_allclose(ich.points_to_probability(pts["total"]), ref["prob"], atol=1e-6)
    allp = pd.read_csv(DATA / "ich" / "fitted_probs_all.csv")
    np.testing.assert_allclose(ich.predict_proba(cohort), allp["fitted_prob"], atol=1e-6)
    np.testing.assert_allclose(ich.linear_predictor(cohort), allp["lp"], atol=1e-6)


def test_birthwt_points_equal_rms(birthwt):
    """R: ``reference_nomogram.R --demo``: nomogram_axes.csv, per_row.csv, nomogram_total_points.csv."""
    d, m = birthwt
    ax = pd.read_csv(DATA / "birthwt" / "nomogram_axes.csv")
    assert list(m.axes_["variable"]) == list(ax["variable"])
    np.testing.assert_allclose(m.axes_["points"], ax["points"], atol=1e-4)
    per = pd.read_csv(DATA / "birthwt" / "per_row.csv")
    pts = m.points(d)
    np.testing.assert_allclose(pts[BW_PREDS].to_numpy(), per[BW_PREDS].to_numpy(), atol=0.01)
    np.testing.assert_allclose(pts["total"], per["total_points"], atol=0.01)
    np.testing.assert_allclose(m.predict_proba(d), per["prob"], atol=1e-6)
    ticks = pd.read_csv(DATA / "birthwt" / "nomogram_total_points_ticks.csv")["total_points"]
    np.testing.assert_allclose(m.total_points_ticks_, ticks)
    tp = pd.read_csv(DATA / "birthwt" / "nomogram_total_points.csv")
    np.testing.assert_allclose(m.probability_axis_["total_points"], tp["total_points"], atol=1e-3)


def test_roc_equals_proc(ich):
    """R: ``ci.auc(roc(poor, fitted, levels=c(0,1), direction="<"), method="delong")``."""
    ref = pd.read_csv(DATA / "ich" / "proc_auc_delong.csv").iloc[0]
    r = ich.roc()
    assert abs(r.auc - ref["auc"]) < 1e-6
    assert abs(r.ci[0] - ref["ci_lower"]) < 1e-6 and abs(r.ci[1] - ref["ci_upper"]) < 1e-6


# ----------------------------------------------------------------------------- calibration
def test_calibration_close_to_rms(ich):
    """R: ``set.seed(1); cal <- calibrate(fit, B = 200)`` (method "boot", lowess) -> calibrate_table.csv.

    predy and the apparent curve are deterministic and must agree; the corrected curve
    depends on the bootstrap draws (different RNG), so only closeness is required (the
    measured mean absolute difference is about 0.002)."""
    ref = pd.read_csv(DATA / "ich" / "calibrate_table.csv")
    cal = ich.calibration(n_bootstrap=200, random_state=1)
    t = cal.table
    np.testing.assert_allclose(t["predy"], ref["predy"], atol=1e-12)
    np.testing.assert_allclose(t["calibrated.orig"], ref["calibrated.orig"], atol=1e-6)
    mad = np.mean(np.abs(t["calibrated.corrected"] - ref["calibrated.corrected"]))
    assert mad < 0.006
    assert np.max(np.abs(t["optimism"] - ref["optimism"])) < 0.02
    assert (t["n"] >= 150).all()
    # R's print.calibrate mean absolute error computed on R's corrected curve
    pred = cal.predicted
    r_err = pred - np.interp(pred, ref["predy"], ref["calibrated.corrected"])
    r_err[(pred < ref["predy"].min()) | (pred > ref["predy"].max())] = np.nan
    assert abs(cal.mean_absolute_error - np.nanmean(np.abs(r_err))) < 0.004
    import matplotlib

    matplotlib.use("Agg")
    assert cal.plot().get_ylabel() == "Actual probability"


def test_validate_optimism(ich):
    v = ich.validate(n_bootstrap=40, random_state=0)
    t = v.table
    assert t.loc["AUC", "index.orig"] == pytest.approx(ich.roc().auc, abs=1e-12)
    assert t.loc["B", "index.orig"] == pytest.approx(0.173323321318935, abs=1e-9)  # lrm_stats Brier
    assert 0 < t.loc["AUC", "optimism"] < 0.02
    assert v.auc < t.loc["AUC", "index.orig"]
    assert t.loc["Slope", "index.corrected"] < 1


# ----------------------------------------------------------------------------- selection / API
def test_selection_drops_nonsignificant(birthwt):
    d, _ = birthwt
    m = Nomogram("low", BW_PREDS, categorical=["race"]).fit(d)
    assert m.predictors_ == ["lwt", "race", "smoke", "ht"]
    assert [n for n, _ in m.dropped_] == ["age", "ptl"]
    assert (m.term_pvalues_ < 0.05).all()


def test_reference_level_and_plot(cohort):
    import matplotlib

    matplotlib.use("Agg")
    m = Nomogram("poor", ICH_PREDS, categorical=["location"], selection=None,
                 reference={"location": "lobar"}).fit(cohort)
    assert "location=deep" in m.summary().index
    base = Nomogram("poor", ICH_PREDS, categorical=["location"], selection=None).fit(cohort)
    np.testing.assert_allclose(m.predict_proba(cohort), base.predict_proba(cohort), atol=1e-8)
    fig = m.plot()
    texts = {t.get_text() for t in fig.axes[0].texts}
    assert {"Points", "Total Points", "Linear Predictor", "age", "deep", "lobar"} <= texts


def test_simulated_cohort_recovers_lateral_or():
    from radiogenomics.datasets import simulate_ich_cohort

    d = simulate_ich_cohort(n=3000, random_state=3)
    assert d.attrs["synthetic"]
    assert 0.45 < d["poor"].mean() < 0.55
    assert d["gcs"].median() == 14
    assert 15 < d["volume_ml"].median() < 25
    m = Nomogram("poor", ICH_PREDS, categorical=["location"], selection=None).fit(d)
    or_lr = m.summary().loc["lr_change_mm", ["OR_lower", "OR_upper"]]
    assert or_lr["OR_lower"] < 1.139 < or_lr["OR_upper"]
    d2 = simulate_ich_cohort(n=50, random_state=3)
    pd.testing.assert_frame_equal(d2, simulate_ich_cohort(n=50, random_state=3))


# ----------------------------------------------------------------------------- bad input
def test_bad_input_messages(cohort):
    d = cohort.copy()
    d.loc[[0, 5, 9], "age"] = np.nan
    d.loc[[1], "gcs"] = np.nan
    with pytest.raises(ValueError, match=r"age \(3 rows\), gcs \(1 row\)"):
        Nomogram("poor", ICH_PREDS, categorical=["location"]).fit(d)
    d = cohort.copy()
    d["poor"] = d["gcs"]
    with pytest.raises(ValueError, match="must be binary"):
        Nomogram("poor", ["age"]).fit(d)
    with pytest.raises(ValueError, match="not in the data: nope"):
        Nomogram("poor", ["age", "nope"]).fit(cohort)
    d = cohort.copy()
    d["sep"] = d["poor"] * 2.0 + 1
    with pytest.raises(ValueError, match="separation.*penalised"):
        Nomogram("poor", ["age", "sep"], selection=None).fit(d)
    d = cohort.copy()
    d.loc[d["location"] == "subtentorial", "poor"] = 0
    with pytest.raises(ValueError, match="'subtentorial' of categorical predictor 'location' has no events"):
        Nomogram("poor", ICH_PREDS, categorical=["location"]).fit(d)
    m = Nomogram("poor", ["age", "location"], selection=None).fit(cohort)  # strings -> categorical
    with pytest.raises(ValueError, match="levels not seen in fitting"):
        m.predict_proba(cohort.assign(location="cerebellar"))
    with pytest.raises(ValueError, match="not fitted"):
        Nomogram("poor", ["age"]).points(cohort)
    with pytest.raises(ValueError, match="selection"):
        Nomogram("poor", ["age"], selection="aic").fit(cohort)


def test_cli_writes_outputs(tmp_path, cohort):
    from radiogenomics.cli import main

    src = tmp_path / "cohort.csv"
    cohort.iloc[:400].to_csv(src, index=False)
    out = tmp_path / "out"
    rc = main(["nomogram", "--data", str(src), "--outcome", "poor", "--predictors", ",".join(ICH_PREDS),
               "--categorical", "location", "--out", str(out), "--n-bootstrap", "10", "--format", "png,svg"])
    assert rc == 0
    names = {p.name for p in out.iterdir()}
    assert {"nomogram.png", "nomogram.svg", "roc.png", "calibration.svg", "odds_ratios.csv",
            "roc_auc.csv", "calibration.csv", "points.csv"} <= names
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".out")]
    rc = main(["nomogram", "--data", str(src), "--outcome", "age", "--predictors", "gcs", "--out", str(out)])
    assert rc == 2


def test_cli_bad_input_one_line(tmp_path, cohort, capsys):
    """Each bad input: exit code 2, one stderr line naming the problem, no traceback."""
    from radiogenomics.cli import main

    src = tmp_path / "cohort.csv"
    d = cohort.iloc[:300].copy()
    d.loc[[3, 7], "age"] = np.nan
    d.to_csv(src, index=False)
    blocker = tmp_path / "afile"
    blocker.write_text("x")
    base = ["nomogram", "--data", str(src), "--outcome", "poor", "--n-bootstrap", "5"]
    cases = [
        (base + ["--predictors", "age,gcs", "--out", str(tmp_path / "o")], "age (2 rows)"),
        (base + ["--predictors", "gcs,nope", "--out", str(tmp_path / "o")], "nope"),
        (base + ["--predictors", "gcs", "--out", str(blocker / "sub")], "afile"),
        (["nomogram", "--data", str(tmp_path / "missing.csv"), "--outcome", "poor",
          "--predictors", "gcs", "--out", str(tmp_path / "o")], "missing.csv"),
    ]
    for argv, match in cases:
        assert main(argv) == 2, argv
        err = capsys.readouterr().err.strip().splitlines()
        assert len(err) == 1 and match in err[0] and "Traceback" not in err[0], err
    assert not (tmp_path / "o").exists()
