"""radiogenomics.survival against R survival 3.5-3 on the TCGA-LGG table.

Reference files (copied from ``shared/reference/tcga_lgg_survival``, made by
``scripts/lgg_survival.R``) are in ``tests/data/survival``.
"""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from radiogenomics.survival import compare_survival, km_table, stratified_cox

DATA = Path(__file__).resolve().parents[1] / "data" / "survival"
RTOL = 1e-6


def _rel(a, b):
    a, b = np.asarray(a, float), np.asarray(b, float)
    return np.abs(a - b) / np.maximum(np.abs(b), 1e-300)


@pytest.fixture(scope="module")
def lgg():
    return pd.read_csv(DATA / "lgg_analysis_table.csv")


@pytest.fixture(scope="module")
def km_idh(lgg):
    return compare_survival(lgg, "OS", "dead", "IDH", levels=["WT", "Mutant"])


def test_logrank_matches_survdiff(lgg):
    """R: ``survdiff(Surv(OS, dead) ~ v, data = d[complete.cases(d[, c("OS","dead",v)]), ])``
    for v in IDH, codel, ATRX: chisq, p, n, events, observed and expected per group."""
    ref = pd.read_csv(DATA / "logrank.csv")
    for v, r in ref.groupby("variable", sort=False):
        res = compare_survival(lgg, "OS", "dead", v)
        assert res.n == r["n"].iloc[0] and res.events == r["events"].iloc[0]
        assert res.df == r["df"].iloc[0]
        assert _rel(res.test_statistic, r["chisq"].iloc[0]) < RTOL
        assert _rel(res.p_value, r["p"].iloc[0]) < RTOL
        groups = r["group"].str.split("=", n=1).str[1]
        exp = res.expected.loc[groups.to_numpy()]
        assert np.all(_rel(exp["expected"], r["exp"]) < RTOL)
        assert np.array_equal(exp["observed"].to_numpy(), r["obs"].to_numpy())
        assert np.array_equal(res.medians.loc[groups.to_numpy(), "n"].to_numpy(),
                              r["group_n"].to_numpy())


def test_km_median_matches_survfit(km_idh):
    """R: ``summary(survfit(Surv(OS, dead) ~ IDH, data = dk))$table`` (conf.type = "log"):
    records, events, median, 0.95LCL, 0.95UCL (NA upper limits stay NaN)."""
    ref = pd.read_csv(DATA / "km_median_by_IDH.csv")
    ref.index = ref["stratum"].str.split("=", n=1).str[1]
    med = km_idh.medians.loc[ref.index]
    assert np.array_equal(med["n"].to_numpy(), ref["records"].to_numpy())
    assert np.array_equal(med["events"].to_numpy(), ref["events"].to_numpy())
    assert np.all(_rel(med["median"], ref["median"]) < RTOL)
    assert np.all(_rel(med["lower_95"], ref["0.95LCL"]) < RTOL)
    assert med["upper_95"].isna().all() and ref["0.95UCL"].isna().all()


def test_km_curve_matches_summary_survfit(km_idh):
    """R: ``summary(km, censored = TRUE)``: time, n.risk, n.event, n.censor, surv, std.err,
    lower, upper (log CI) for every time point of both strata."""
    ref = pd.read_csv(DATA / "km_curve_by_IDH.csv")
    ref["group"] = ref["strata"].str.split("=", n=1).str[1]
    ours = km_idh.km_tables()
    for g, r in ref.groupby("group"):
        o = ours[ours["group"] == g].reset_index(drop=True)
        assert len(o) == len(r)
        for a, b in [("time", "time"), ("n_risk", "n.risk"), ("n_event", "n.event"),
                     ("n_censor", "n.censor"), ("surv", "surv"), ("lower", "lower"),
                     ("upper", "upper")]:
            np.testing.assert_allclose(o[a].to_numpy(), r[b].to_numpy(), rtol=RTOL, atol=1e-12)
        np.testing.assert_allclose(o["std_err"].to_numpy(), r["std.err"].to_numpy(),
                                   rtol=RTOL, atol=1e-12)


def test_stratified_cox_matches_coxph(lgg):
    """R: ``summary(coxph(Surv(OS, dead) ~ IDH + strata(Gender), data = dc))`` with IDH levels
    c("WT", "Mutant") (ties = "efron"): coef, exp(coef), se, z, p, CI, logtest, concordance."""
    coef = pd.read_csv(DATA / "cox_IDH_strataGender_coef.csv").iloc[0]
    tests = pd.read_csv(DATA / "cox_IDH_strataGender_tests.csv").iloc[0]
    res = stratified_cox(lgg, "OS", "dead", ["IDH"], strata="Gender", reference={"IDH": "WT"})
    assert list(res.params.index) == ["IDHMutant"]
    s = res.summary().loc["IDHMutant"]
    for a, b in [("coef", "coef"), ("hr", "exp(coef)"), ("se", "se(coef)"), ("z", "z"),
                 ("p_value", "Pr(>|z|)"), ("lower_95", "lower95"), ("upper_95", "upper95")]:
        assert _rel(s[a], coef[b]) < RTOL, a
    assert res.n == tests["n"] and res.events == tests["nevent"]
    assert _rel(res.loglik_null, tests["loglik_null"]) < RTOL
    assert _rel(res.loglik, tests["loglik_model"]) < RTOL
    assert _rel(res.lr_statistic, tests["lrt_chisq"]) < RTOL
    assert res.lr_df == tests["lrt_df"]
    assert _rel(res.lr_p_value, tests["lrt_p"]) < RTOL
    assert _rel(res.concordance, tests["concordance"]) < RTOL


def test_default_reference_is_sorted_first_level(lgg):
    """R: ``coxph(Surv(OS, dead) ~ factor(IDH) + strata(Gender))`` with default (sorted) levels
    gives the term IDHWT with the opposite sign."""
    ref = stratified_cox(lgg, "OS", "dead", "IDH", strata="Gender", reference={"IDH": "WT"})
    dflt = stratified_cox(lgg, "OS", "dead", "IDH", strata="Gender")
    assert list(dflt.params.index) == ["IDHWT"]
    np.testing.assert_allclose(dflt.params.iloc[0], -ref.params.iloc[0], rtol=1e-6)
    np.testing.assert_allclose(dflt.lr_statistic, ref.lr_statistic, rtol=1e-8)


def test_cox_numeric_and_categorical_covariates(lgg):
    """Numeric covariate enters as is; a 3-level factor gives two dummies; LRT df = 3.
    R: ``coxph(Surv(OS, dead) ~ x + g3)``."""
    rng = np.random.default_rng(0)
    d = lgg.dropna(subset=["OS", "dead", "IDH"]).copy()
    d["x"] = rng.normal(size=len(d))
    d["g3"] = rng.choice(["a", "b", "c"], size=len(d))
    res = stratified_cox(d, "OS", "dead", ["x", "g3"])
    assert list(res.params.index) == ["x", "g3b", "g3c"]
    assert res.lr_df == 3
    assert 0 <= res.lr_p_value <= 1


def test_negative_duration_kept_with_warning(lgg, caplog):
    """R keeps the negative OS (-0.0329): n = 455 for IDH, and we log a warning."""
    with caplog.at_level(logging.WARNING, logger="radiogenomics.survival"):
        res = compare_survival(lgg, "OS", "dead", "IDH")
    assert res.n == 455
    assert any("negative duration" in r.getMessage() for r in caplog.records)


def test_na_rows_dropped_and_logged(lgg, caplog):
    with caplog.at_level(logging.INFO, logger="radiogenomics.survival"):
        res = compare_survival(lgg, "OS", "dead", "codel")
    assert res.n == 457
    assert any("dropped 59 of 516" in r.getMessage() for r in caplog.records)


def test_multigroup_logrank_closed_form():
    """Three groups, no censoring, no ties: compare with a direct computation of U' V^- U.
    R: ``survdiff(Surv(t, e) ~ g)`` has k - 1 = 2 df."""
    rng = np.random.default_rng(1)
    n = 60
    g = np.repeat(["a", "b", "c"], n // 3)
    t = rng.exponential(scale=np.where(g == "a", 1.0, np.where(g == "b", 2.0, 3.0)))
    e = (rng.uniform(size=n) < 0.8).astype(int)
    df = pd.DataFrame({"t": t, "e": e, "g": g})
    res = compare_survival(df, "t", "e", "g")
    assert res.df == 2
    # direct log-rank
    times = np.unique(t[e == 1])
    lv = ["a", "b", "c"]
    U = np.zeros(3)
    V = np.zeros((3, 3))
    for tt in times:
        risk = t >= tt
        nt = risk.sum()
        dt = ((t == tt) & (e == 1)).sum()
        ng = np.array([(risk & (g == v)).sum() for v in lv])
        dg = np.array([((t == tt) & (e == 1) & (g == v)).sum() for v in lv])
        U += dg - dt * ng / nt
        if nt > 1:
            V += dt * (nt - dt) / (nt - 1) * (np.diag(ng / nt) - np.outer(ng, ng) / nt**2)
    stat = U[:2] @ np.linalg.solve(V[:2, :2], U[:2])
    np.testing.assert_allclose(res.test_statistic, stat, rtol=1e-10)
    np.testing.assert_allclose(res.expected["observed"].sum(), e.sum())


def test_median_flat_stretch_midpoint():
    """R's quantile rule: a KM curve flat at exactly 0.5 gives the midpoint of the flat.
    R: ``survfit(Surv(c(1,2,3,4), rep(1,4)) ~ 1)`` has median 2.5."""
    df = pd.DataFrame({"t": [1, 2, 3, 4, 1, 2, 3, 4], "e": [1] * 8, "g": ["a"] * 4 + ["b"] * 4})
    res = compare_survival(df, "t", "e", "g")
    assert res.medians.loc["a", "median"] == pytest.approx(2.5)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"group": "nope"}, "'nope'"),
        ({"duration": "OSX"}, "'OSX'"),
    ],
)
def test_missing_columns_named(lgg, kwargs, match):
    args = {"duration": "OS", "event": "dead", "group": "IDH", **kwargs}
    with pytest.raises(ValueError, match=match):
        compare_survival(lgg, **args)


def test_bad_inputs(lgg):
    d = lgg.copy()
    d["dead2"] = d["dead"] * 2
    with pytest.raises(ValueError, match="binary"):
        compare_survival(d, "OS", "dead2", "IDH")
    one = lgg[lgg["IDH"] == "WT"]
    with pytest.raises(ValueError, match="single level"):
        compare_survival(one, "OS", "dead", "IDH")
    with pytest.raises(ValueError, match="single level"):
        stratified_cox(one, "OS", "dead", "IDH", strata="Gender")
    with pytest.raises(ValueError, match="reference level 'wt'"):
        stratified_cox(lgg, "OS", "dead", "IDH", reference={"IDH": "wt"})
    with pytest.raises(ValueError, match="'Sex'"):
        stratified_cox(lgg, "OS", "dead", "IDH", strata="Sex")


def test_plots_and_summary(km_idh, lgg, tmp_path):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    ax = km_idh.plot()
    assert ax.get_xlabel() == "OS" and len(ax.figure.axes) >= 2  # at-risk table axis
    plt.close(ax.figure)
    s = km_idh.summary()
    assert list(s.index) == ["WT", "Mutant"] and {"median", "p_value", "chisq"} <= set(s.columns)
    cox = stratified_cox(lgg, "OS", "dead", "IDH", strata="Gender", reference={"IDH": "WT"})
    ax = cox.plot()
    plt.close(ax.figure)
    km_idh.save(tmp_path / "km.csv")
    assert (tmp_path / "km.csv").exists()
    t = km_table(km_idh.kmf["WT"])
    assert t["surv"].is_monotonic_decreasing


def test_cli_survival(tmp_path, capsys):
    """``radiogenomics survival`` writes the KM figure, medians and Cox tables atomically."""
    from radiogenomics.cli import main

    out = tmp_path / "out"
    rc = main(["survival", "--data", str(DATA / "lgg_analysis_table.csv"), "--duration", "OS",
               "--event", "dead", "--group", "IDH", "--strata", "Gender",
               "--reference", "IDH=WT", "--out", str(out)])
    assert rc == 0
    for f in ("km.png", "km.svg", "km_medians.csv", "km_curves.csv", "cox.csv",
              "cox_tests.csv", "cox_forest.png"):
        assert (out / f).is_file(), f
    cox = pd.read_csv(out / "cox.csv", index_col=0)
    ref = pd.read_csv(DATA / "cox_IDH_strataGender_coef.csv").iloc[0]
    assert _rel(cox.loc["IDHMutant", "coef"], ref["coef"]) < RTOL
    med = pd.read_csv(out / "km_medians.csv", index_col=0)
    assert list(med.index) == ["WT", "Mutant"]
    rc = main(["survival", "--data", str(DATA / "lgg_analysis_table.csv"), "--duration", "OS",
               "--event", "dead", "--group", "Sex", "--out", str(tmp_path / "x")])
    assert rc == 2
    assert "Sex" in capsys.readouterr().err
    assert not (tmp_path / "x").exists()


def test_cli_survival_bad_input_one_line(tmp_path, capsys):
    """Bad input gives exit code 2 and one line on stderr naming the problem, no traceback."""
    from radiogenomics.cli import main

    data = str(DATA / "lgg_analysis_table.csv")
    base = ["survival", "--data", data, "--duration", "OS", "--event", "dead", "--group", "IDH"]
    blocker = tmp_path / "afile"
    blocker.write_text("x")
    binary = tmp_path / "bin.csv"
    binary.write_bytes(b"a,b\n\xd0\xff\xfe,1\n")
    cases = [
        (base + ["--reference", "IDH=wt", "--out", str(tmp_path / "o1")], "'wt' not found"),
        (base + ["--reference", "Gender=male", "--out", str(tmp_path / "o2")], "Gender"),
        (base + ["--out", str(blocker / "sub")], "afile"),
        (["survival", "--data", str(binary), "--duration", "a", "--event", "b", "--group", "a",
          "--out", str(tmp_path / "o3")], "bin.csv"),
        (["survival", "--data", str(tmp_path), "--duration", "a", "--event", "b", "--group", "a",
          "--out", str(tmp_path / "o4")], "directory"),
    ]
    for argv, match in cases:
        assert main(argv) == 2, argv
        err = capsys.readouterr().err.strip().splitlines()
        assert len(err) == 1 and match in err[0] and "Traceback" not in err[0], err
