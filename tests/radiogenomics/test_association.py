"""radiogenomics.association against R stats (chisq.test, fisher.test) and closed forms."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from radiogenomics.association import (
    association_table,
    feature_association,
    fisher_conditional_or,
    ordinal_split,
)

DATA = Path(__file__).resolve().parents[1] / "data" / "survival"
RTOL = 1e-6
REFS = {"IDH": "WT", "codel": "non-codel", "ATRX": "WT"}


@pytest.fixture(scope="module")
def lgg():
    return pd.read_csv(DATA / "lgg_analysis_table.csv")


@pytest.mark.parametrize("v", ["IDH", "codel", "ATRX"])
def test_sex_by_label_matches_r(lgg, v):
    """R (scripts/lgg_survival.R)::

        tb <- table(Gender = droplevels(dv$Gender), droplevels(dv[[v]]))
        chisq.test(tb); chisq.test(tb, correct = FALSE); fisher.test(tb)

    with levels IDH c("WT","Mutant"), codel c("non-codel","codel"), ATRX c("WT","Mutant")."""
    ref = pd.read_csv(DATA / "gender_contingency_tests.csv").set_index("variable").loc[v]
    res = association_table(lgg, "Gender", v, reference={v: REFS[v]})
    s = res.summary().iloc[0]
    assert s["table"] == ref["table"]
    assert res.n == ref["n"] and res.df == ref["df"]
    pairs = [("chi2", "chisq_yates"), ("p_value", "p_yates"),
             ("chi2_uncorrected", "chisq_noyates"), ("p_value_uncorrected", "p_noyates"),
             ("fisher_p_value", "fisher_p"), ("fisher_odds_ratio", "fisher_or"),
             ("fisher_ci_low", "fisher_ci_lo"), ("fisher_ci_high", "fisher_ci_hi")]
    for a, b in pairs:
        if ref[b] == 0:
            assert s[a] == 0, a
        else:
            assert abs(s[a] - ref[b]) / abs(ref[b]) < RTOL, (a, s[a], ref[b])


def test_fisher_or_boundaries_and_sample_or():
    """Zero cell: R's ``fisher.test(matrix(c(0, 5, 5, 5), 2))`` gives estimate 0 and CI
    lower 0; the conditional MLE is close to the sample OR for large balanced tables."""
    p, orr, lo, hi = fisher_conditional_or([[0, 5], [5, 5]])
    assert orr == 0 and lo == 0 and hi > 0
    assert p == pytest.approx(stats.fisher_exact([[0, 5], [5, 5]]).pvalue, rel=1e-12)
    p, orr, lo, hi = fisher_conditional_or([[400, 300], [300, 400]])
    assert orr == pytest.approx(400 * 400 / 300**2, rel=1e-2)
    assert lo < orr < hi
    # matches scipy's conditional OR to scipy's (tighter) tolerance
    sp = stats.contingency.odds_ratio([[12, 5], [3, 9]], kind="conditional")
    assert fisher_conditional_or([[12, 5], [3, 9]])[1] == pytest.approx(sp.statistic, rel=1e-3)


def test_larger_table_no_or():
    df = pd.DataFrame({"a": list("xxyyzzxyzx") * 3, "b": list("ppqqppqqpq") * 3})
    res = association_table(df, "a", "b")
    assert res.df == 2 and np.isnan(res.fisher_odds_ratio)
    assert res.chi2 == pytest.approx(res.chi2_uncorrected)
    chi = stats.chi2_contingency(res.table.to_numpy(), correction=False)
    assert res.chi2 == pytest.approx(chi.statistic)


def test_association_errors(lgg):
    with pytest.raises(ValueError, match="'Sex'"):
        association_table(lgg, "Sex", "IDH")
    with pytest.raises(ValueError, match="single level"):
        association_table(lgg[lgg["IDH"] == "WT"], "Gender", "IDH")


@pytest.fixture(scope="module")
def feats():
    rng = np.random.default_rng(3)
    n = 40
    idx = pd.Index([f"P{i}" for i in range(n)])
    g = pd.Series(np.where(np.arange(n) < 25, "Mutant", "WT"), index=idx, name="IDH")
    g3 = pd.Series(rng.choice(["A", "B", "C"], size=n), index=idx, name="sub")
    X = pd.DataFrame({"f1": rng.normal(size=n) + (g == "WT") * 1.5,
                      "f2": rng.gamma(2.0, size=n)}, index=idx)
    X.iloc[3, 1] = np.nan
    return X, pd.concat([g, g3], axis=1)


def test_feature_association_anova_matches_scipy_statsmodels(feats):
    """R: ``summary(aov(f ~ g))`` F and p; equals scipy f_oneway and statsmodels anova_lm."""
    import statsmodels.api as sm
    import statsmodels.formula.api as smf

    X, labels = feats
    out = feature_association(X, labels, test="anova")
    assert len(out) == 4
    for (lab, feat), row in out.set_index(["label", "feature"]).iterrows():
        ok = X[feat].notna()
        groups = [X.loc[ok & (labels[lab] == v), feat] for v in sorted(labels[lab].unique())]
        f = stats.f_oneway(*groups)
        assert row["statistic"] == pytest.approx(f.statistic, rel=1e-10)
        assert row["p_value"] == pytest.approx(f.pvalue, rel=1e-10)
        d = pd.DataFrame({"y": X.loc[ok, feat], "g": labels.loc[ok, lab]})
        aov = sm.stats.anova_lm(smf.ols("y ~ C(g)", data=d).fit())
        assert row["statistic"] == pytest.approx(aov["F"].iloc[0], rel=1e-8)
        assert row["mean_1"] == pytest.approx(groups[0].mean())
        assert row["sd_1"] == pytest.approx(groups[0].std(ddof=1))
        assert row["n"] == ok.sum()
    assert "±" in out["summary"].iloc[0]


def test_feature_association_kruskal_matches_scipy(feats):
    """R: ``kruskal.test(f ~ g)`` (tie-corrected H, k - 1 df) = scipy.stats.kruskal."""
    X, labels = feats
    out = feature_association(X, labels["IDH"], test="kruskal")
    for _, row in out.iterrows():
        ok = X[row["feature"]].notna()
        groups = [X.loc[ok & (labels["IDH"] == v), row["feature"]] for v in ("Mutant", "WT")]
        k = stats.kruskal(*groups)
        assert row["statistic"] == pytest.approx(k.statistic, rel=1e-12)
        assert row["p_value"] == pytest.approx(k.pvalue, rel=1e-12)


def test_feature_association_reference_order_and_errors(feats):
    X, labels = feats
    out = feature_association(X, labels["IDH"], reference={"IDH": "WT"})
    assert (out["group_1"] == "WT").all()
    with pytest.raises(ValueError, match="test must be"):
        feature_association(X, labels, test="t")
    with pytest.raises(ValueError, match="share no sample ids"):
        feature_association(X.set_axis([f"Q{i}" for i in range(len(X))]), labels)


def test_ordinal_split(feats):
    """High = above the mean (median), low otherwise; NaN stays NaN; tests per label
    equal association_table on the split column."""
    X, labels = feats
    s = ordinal_split(X["f1"], at="median")
    assert isinstance(s, pd.Series)
    assert (s == "high").sum() == (X["f1"] > X["f1"].median()).sum()
    split = ordinal_split(X, at="mean")
    assert split["f2"].isna().sum() == 1
    res = ordinal_split(X, at="mean", labels=labels[["IDH"]])
    assert list(res["feature"]) == ["f1", "f2"]
    d = pd.DataFrame({"f1": split["f1"], "IDH": labels["IDH"]})
    direct = association_table(d, "f1", "IDH", reference={"f1": "low"})
    row = res.set_index("feature").loc["f1"]
    assert row["p_value"] == pytest.approx(direct.p_value)
    assert row["fisher_p_value"] == pytest.approx(direct.fisher_p_value)
    assert row["cut"] == pytest.approx(X["f1"].mean())
