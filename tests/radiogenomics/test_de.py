"""edgeR exactTest (classic dispersions), DE dispatch and DEGeneSelector."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy import stats
from sklearn.base import clone
from sklearn.pipeline import Pipeline

from radiogenomics.de import (
    DEGeneSelector,
    bh_adjust,
    differential_expression,
    exact_test_double_tail,
)

DATA = Path(__file__).resolve().parents[1] / "data" / "edger"


@pytest.fixture(scope="module")
def exact_table(cervical):
    counts, y = cervical
    return differential_expression(counts, y, method="exact")


def test_exact_test_equals_edger(exact_table):
    ref = pd.read_csv(DATA / "de_exact_classic.csv", index_col=0)
    tab = exact_table.loc[ref.index]
    assert list(exact_table.columns[:4]) == ["logFC", "logCPM", "pvalue", "padj"]
    rel = np.abs(tab["pvalue"] / ref["PValue"] - 1)
    assert rel.max() < 1e-4 and rel.median() < 1e-6
    # ~50 genes have p = 1 up to the last bit (0.9999999999999998 vs 1.0, from the order of
    # summation of the tails): rank ties at 12 decimals, not float noise
    assert stats.spearmanr(tab["pvalue"].round(12), ref["PValue"].round(12))[0] >= 0.999
    np.testing.assert_allclose(tab["logFC"], ref["logFC"], atol=1e-5)
    np.testing.assert_allclose(tab["logCPM"], ref["logCPM"], atol=1e-5)
    np.testing.assert_allclose(tab["padj"], ref["FDR"], rtol=1e-4)
    top_ref = ref["PValue"].sort_values(kind="mergesort").index[:50]
    assert set(exact_table.index[:50]) == set(top_ref)
    assert exact_table["pvalue"].is_monotonic_increasing


@pytest.mark.parametrize("split", ["A", "B"])
def test_exact_test_training_splits_top50(cervical, split):
    counts, y = cervical
    sp = pd.read_csv(DATA / f"split_{split}" / "split.csv", index_col=0)
    train = sp.index[sp["set"] == "train"]
    ref = pd.read_csv(DATA / f"split_{split}" / "edgeR_exacttest_train_all.csv", index_col=0)
    top50 = pd.read_csv(DATA / f"split_{split}" / "top50_genes.csv")["gene"].tolist()
    tab = differential_expression(counts.loc[train], y.loc[train])
    assert list(tab.index[:50]) == top50
    common = tab.index.intersection(ref.index)
    np.testing.assert_allclose(tab.loc[common, "pvalue"], ref.loc[common, "PValue"], rtol=1e-4)
    # edgeR keeps all-zero genes (p = 1); we leave them out of the table
    zero = counts.loc[train].columns[counts.loc[train].sum() == 0]
    assert set(ref.index) - set(tab.index) == set(zero)


def test_double_tail_poisson_closed_form():
    # zero dispersion, one sample per group: conditional binomial(s, 1/2) two-sided test
    y1 = np.array([[3.0], [10.0], [5.0]])
    y2 = np.array([[12.0], [2.0], [5.0]])
    p = exact_test_double_tail(y1, y2, 0.0)
    s = 15
    left = 2 * stats.binom.cdf(3, s, 0.5)
    right = 2 * stats.binom.sf(9, 12, 0.5)
    np.testing.assert_allclose(p, [left, right, 1.0], rtol=1e-10)


def test_double_tail_nb_small_dispersion_tends_to_poisson():
    y1 = np.array([[3.0, 4.0]])
    y2 = np.array([[12.0, 10.0]])
    np.testing.assert_allclose(exact_test_double_tail(y1, y2, 1e-9),
                               exact_test_double_tail(y1, y2, 0.0), rtol=1e-6)


def test_null_pvalues_uniform():
    rng = np.random.default_rng(7)
    G, n, phi = 2000, 12, 0.1
    mu = np.exp(rng.uniform(np.log(10), np.log(500), G))
    counts = pd.DataFrame(rng.negative_binomial(1 / phi, 1 / (1 + phi * mu), size=(n, G)))
    y = pd.Series(np.repeat(["a", "b"], n // 2))
    tab = differential_expression(counts, y)
    # exact test is conservative-to-exact under the null
    assert (tab["pvalue"] < 0.05).mean() < 0.07
    assert (tab["pvalue"] < 0.05).mean() > 0.02


def test_bh_matches_r():
    p = np.array([0.01, 0.04, 0.03, 0.2, np.nan])
    # R: p.adjust(c(.01,.04,.03,.2), "BH") = 0.04 0.0533 0.0533 0.2
    np.testing.assert_allclose(bh_adjust(p)[:4], [0.04, 0.16 / 3, 0.16 / 3, 0.2])
    assert np.isnan(bh_adjust(p)[4])


def test_bh_nan_options():
    """One bh_adjust for every caller: the exact test / joint tables omit missing p-values
    (m counts the others), the GLM LRT table propagates them (as its old copy did); the
    two agree when nothing is missing."""
    from radiogenomics._edger.stats import bh_adjust as bh

    rng = np.random.default_rng(0)
    p = rng.uniform(size=50) ** 3
    np.testing.assert_array_equal(bh(p, nan="omit"), bh(p, nan="propagate"))
    q = np.append(p, np.nan)
    np.testing.assert_array_equal(bh(q, nan="omit")[:50], bh(p))
    assert np.isnan(bh(q, nan="omit")[50])
    assert np.isnan(bh(q, nan="propagate")).all()
    with pytest.raises(ValueError, match="nan must be"):
        bh(p, nan="drop")


def test_bad_inputs(cervical):
    counts, y = cervical
    with pytest.raises(ValueError, match="single class"):
        differential_expression(counts, pd.Series("N", index=counts.index))
    with pytest.raises(ValueError, match="Z9"):
        differential_expression(counts, y.rename(index={"T29": "Z9"}))
    bad = counts.astype(float).copy()
    bad.iloc[1, 2] = -1
    with pytest.raises(ValueError, match="negative.*N2"):
        differential_expression(bad, y)
    bad.iloc[1, 2] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        differential_expression(bad, y)
    bad.iloc[1, 2] = 2.5
    with pytest.raises(ValueError, match="fractional"):
        differential_expression(bad, y)
    with pytest.raises(ValueError, match="method"):
        differential_expression(counts, y, method="wilcoxon")
    y3 = y.copy()
    y3.iloc[:5] = "X"
    with pytest.raises(ValueError, match="two classes"):
        differential_expression(counts, y3, method="exact")


def test_given_dispersion(cervical, exact_table):
    counts, y = cervical
    tab = differential_expression(counts, y, dispersion=exact_table["dispersion"])
    np.testing.assert_allclose(tab["pvalue"], exact_table.loc[tab.index, "pvalue"], rtol=1e-12)
    common = differential_expression(counts, y, dispersion=1.25)
    assert (common["dispersion"] == 1.25).all()


def test_selector_dataframe_and_array(cervical, exact_table):
    counts, y = cervical
    sel = DEGeneSelector(n_genes=7).fit(counts, y)
    assert list(sel.genes_) == list(exact_table.index[:7])
    assert sel.n_features_in_ == counts.shape[1]
    assert list(sel.feature_names_in_) == list(counts.columns)
    out = sel.transform(counts)
    assert isinstance(out, pd.DataFrame) and list(out.columns) == list(sel.genes_)
    arr = sel.transform(counts.to_numpy())
    np.testing.assert_array_equal(arr, out.to_numpy())
    sel2 = DEGeneSelector(n_genes=7).fit(counts.to_numpy(), y.to_numpy())
    assert [counts.columns[i] for i in sel2.genes_] == list(sel.genes_)
    assert list(sel.get_feature_names_out()) == list(sel.genes_)


def test_selector_quantile_and_pipeline(cervical):
    counts, y = cervical
    from radiogenomics.counts import quantile_filter

    kept = quantile_filter(counts, 0.5).columns
    sel = DEGeneSelector(n_genes=5, quantile=0.5).fit(counts, y)
    assert set(sel.genes_) <= set(kept)
    assert len(sel.table_) == len(kept)
    pipe = Pipeline([("de", DEGeneSelector(n_genes=3))])
    assert pipe.fit(counts, y).transform(counts).shape == (58, 3)
    c = clone(DEGeneSelector(n_genes=4, method="exact", quantile=0.2))
    assert c.get_params() == {"n_genes": 4, "method": "exact", "quantile": 0.2}
    from sklearn.exceptions import NotFittedError

    with pytest.raises(NotFittedError):
        DEGeneSelector().transform(counts)
    with pytest.raises(ValueError, match="n_genes"):
        DEGeneSelector(n_genes=0).fit(counts, y)


def test_lrt_dispatch(cervical):
    pytest.importorskip("radiogenomics._de_glm")
    counts, y = cervical
    tab = differential_expression(counts, y, method="lrt")
    assert {"logFC", "logCPM", "pvalue", "padj"} <= set(tab.columns)
    assert tab["pvalue"].is_monotonic_increasing


def test_deseq2_wald(cervical):
    pytest.importorskip("pydeseq2")
    counts, y = cervical
    sub = counts.iloc[:, :60]
    tab = differential_expression(sub, y, method="deseq2")
    assert list(tab.columns[:4]) == ["logFC", "logCPM", "pvalue", "padj"]
    assert tab["pvalue"].is_monotonic_increasing and len(tab) == 60
