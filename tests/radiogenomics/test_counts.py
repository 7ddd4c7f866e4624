"""Size factors, TMM and the quantile filter against edgeR/DESeq2 outputs and closed forms."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from radiogenomics.counts import SizeFactors, calc_norm_factors, quantile_filter, size_factors

DATA = Path(__file__).resolve().parents[1] / "data" / "edger"


@pytest.fixture(scope="module")
def cervical(cervical):
    """The shared fixture (tests/conftest.py) plus edgeR's factors on all 58 samples."""
    counts, y = cervical
    ref = pd.read_csv(DATA / "samples_normfactors.csv", index_col=0).loc[counts.index]
    return counts, y, ref


def test_tmm_equals_edger(cervical):
    counts, _, ref = cervical
    nf = calc_norm_factors(counts)
    assert list(nf.index) == list(counts.index)
    np.testing.assert_allclose(nf, ref["tmm_norm_factor"], rtol=1e-10)
    assert abs(np.exp(np.log(nf).mean()) - 1) < 1e-12


@pytest.mark.parametrize("split", ["A", "B"])
def test_tmm_equals_edger_on_training_splits(cervical, split):
    counts = cervical[0]
    sp = pd.read_csv(DATA / f"split_{split}" / "split.csv", index_col=0)
    train = sp.index[sp["set"] == "train"]
    ref = pd.read_csv(DATA / f"split_{split}" / "edgeR_train_samples_normfactors.csv",
                      index_col=0)
    np.testing.assert_allclose(calc_norm_factors(counts.loc[train]), ref.loc[train, "norm.factors"],
                               rtol=1e-10)


def test_size_factor_methods_equal_references(cervical):
    counts, _, ref = cervical
    np.testing.assert_allclose(size_factors(counts, "tmm"), ref["eff_lib_size"], rtol=1e-10)
    np.testing.assert_allclose(size_factors(counts, "ratio"), ref["deseq2_size_factor"],
                               rtol=1e-10)
    lib = counts.sum(axis=1)
    np.testing.assert_allclose(size_factors(counts, "library"), lib / lib.mean(), rtol=1e-14)


def test_other_norm_methods_closed_forms():
    rng = np.random.default_rng(1)
    base = rng.poisson(50, size=(1, 200)).astype(float) + 1
    scale = np.array([1.0, 2.0, 3.0, 4.0])
    counts = pd.DataFrame(base * scale[:, None])  # exactly proportional libraries
    for m in ("TMM", "RLE", "upperquartile"):
        np.testing.assert_allclose(calc_norm_factors(counts, m), 1.0, rtol=1e-12)
    np.testing.assert_allclose(size_factors(counts, "ratio"),
                               scale / np.exp(np.log(scale).mean()), rtol=1e-12)
    assert (calc_norm_factors(counts, "none") == 1).all()


@pytest.mark.parametrize("method", ["library", "ratio", "tmm"])
def test_sizefactors_fitted_reference(cervical, method):
    counts = cervical[0]
    train, test = counts.iloc[::2], counts.iloc[1::2]
    sf = SizeFactors(method).fit(train)
    # on the training data it equals size_factors
    np.testing.assert_allclose(sf.transform(train), size_factors(train, method), rtol=1e-12)
    np.testing.assert_allclose(sf.factors_, size_factors(train, method), rtol=1e-12)
    # a test sample's factor does not depend on the other test samples
    full = sf.transform(test)
    alone = sf.transform(test.iloc[[3]])
    assert alone.iloc[0] == pytest.approx(full.iloc[3], rel=1e-14)
    changed = test.copy()
    changed.iloc[[0, 1, 2]] = changed.iloc[[0, 1, 2]].to_numpy() * 7
    np.testing.assert_allclose(sf.transform(changed).iloc[3:], full.iloc[3:], rtol=1e-14)
    # gene order of new data does not matter
    np.testing.assert_allclose(sf.transform(test[test.columns[::-1]]), full, rtol=1e-14)


def test_sizefactors_errors(cervical):
    counts = cervical[0]
    from sklearn.exceptions import NotFittedError

    with pytest.raises(NotFittedError):
        SizeFactors("tmm").transform(counts)
    with pytest.raises(ValueError, match="method"):
        size_factors(counts, "upper")
    sf = SizeFactors("ratio").fit(counts)
    with pytest.raises(ValueError, match="training genes"):
        sf.transform(counts.iloc[:, :10])


@pytest.mark.parametrize(
    "value, match", [(-1, "negative"), (1.5, "fractional"), (np.nan, "NaN")]
)
def test_bad_counts_raise_with_names(cervical, value, match):
    counts = cervical[0].astype(float).copy()
    counts.iloc[2, 5] = value
    for fn in (calc_norm_factors, size_factors, quantile_filter):
        with pytest.raises(ValueError, match=match) as err:
            fn(counts)
        assert counts.index[2] in str(err.value) and counts.columns[5] in str(err.value)


def test_duplicated_ids_raise(cervical):
    counts = cervical[0]
    dup = pd.concat([counts.iloc[:3], counts.iloc[[0]]])
    with pytest.raises(ValueError, match="duplicated sample ids.*N1"):
        size_factors(dup)


def test_quantile_filter(caplog):
    means = np.array([0, 0, 1, 2, 3, 4, 5, 6, 7, 8], dtype=float)
    counts = pd.DataFrame(np.tile(means, (3, 1)).astype(int),
                          columns=[f"g{i}" for i in range(10)])
    with caplog.at_level("INFO", logger="radiogenomics.counts"):
        kept = quantile_filter(counts, q=0.25)
    thr = np.quantile(means, 0.25)
    assert list(kept.columns) == [f"g{i}" for i in range(10) if means[i] > thr]
    assert "2 all-zero genes" in caplog.text
    assert quantile_filter(counts, q=0.0).shape[1] == 8
    with pytest.raises(ValueError, match="q must"):
        quantile_filter(counts, q=1.0)


# ---------------------------------------------------------------------- bad input (issue 2)
def test_infinite_counts_raise_with_names(cervical):
    counts = cervical[0].astype(float).copy()
    counts.iloc[1, 3] = np.inf
    for fn in (calc_norm_factors, size_factors, quantile_filter):
        with pytest.raises(ValueError, match="NaN or infinite") as err:
            fn(counts)
        assert counts.index[1] in str(err.value) and counts.columns[3] in str(err.value)


def test_duplicated_gene_ids_raise(cervical):
    counts = cervical[0].iloc[:, :20].copy()
    counts.columns = [*counts.columns[:-1], counts.columns[0]]
    for fn in (calc_norm_factors, size_factors, quantile_filter):
        with pytest.raises(ValueError,
                           match=re.escape(f"duplicated gene ids: '{counts.columns[0]}'")):
            fn(counts)


def test_misaligned_ids_named(cervical):
    from radiogenomics._validation import align
    from radiogenomics.dispersion import estimate_dispersion

    counts, y = cervical[0], cervical[1]
    bad = y.rename(index={counts.index[0]: "ghost"})
    with pytest.raises(ValueError, match=re.escape(f"ids in counts but not in labels: "
                                                   f"'{counts.index[0]}'")
                       + r".*ids in labels but not in counts: 'ghost'"):
        align(counts, bad)
    feats = pd.DataFrame({"ET/WT": 1.0}, index=counts.index[1:])
    with pytest.raises(ValueError, match=re.escape(f"not in features: '{counts.index[0]}'")):
        align(counts, y, feats)
    with pytest.raises(ValueError, match="ghost"):
        estimate_dispersion(counts, groups=bad)
    # same ids in another order are aligned to the counts, not taken positionally
    _, y2, _ = align(counts, y.iloc[::-1])
    pd.testing.assert_series_equal(y2, y)


def test_class_with_fewer_than_two_samples():
    from radiogenomics._validation import as_labels

    y = pd.Series(["a", "a", "b", "b", "c"], index=list("vwxyz"))
    with pytest.raises(ValueError, match=r"fewer than 2 samples \('c': 1\)"):
        as_labels(y)
    with pytest.raises(ValueError, match="single class"):
        as_labels(pd.Series(["a", "a"]))
    with pytest.raises(ValueError, match="missing labels for samples: 'x'"):
        as_labels(y.where(y.index != "x"))


def test_all_zero_genes_dropped_with_logged_count(caplog):
    from radiogenomics._validation import drop_zero_genes

    counts = pd.DataFrame({"g1": [0, 0, 0], "g2": [1, 0, 3], "g3": [0, 0, 0], "g4": [2, 2, 2]},
                          index=["a", "b", "c"])
    with caplog.at_level("INFO", logger="radiogenomics._validation"):
        kept = drop_zero_genes(counts)
    assert list(kept.columns) == ["g2", "g4"]
    assert "dropped 2 all-zero genes of 4" in caplog.text
    caplog.clear()
    with caplog.at_level("INFO", logger="radiogenomics._validation"):
        assert drop_zero_genes(kept) is kept
    assert caplog.text == ""


def test_anndata_input_equals_dataframe(cervical):
    anndata = pytest.importorskip("anndata")
    counts = cervical[0]
    ad = anndata.AnnData(counts.to_numpy(dtype=np.float32))
    ad.obs_names = list(counts.index)
    ad.var_names = list(counts.columns)
    for method in ("library", "ratio", "tmm"):
        sf = size_factors(ad, method)
        assert list(sf.index) == list(counts.index)
        np.testing.assert_allclose(sf, size_factors(counts, method), rtol=1e-12)
    np.testing.assert_allclose(calc_norm_factors(ad), calc_norm_factors(counts), rtol=1e-12)
    assert list(quantile_filter(ad).columns) == list(quantile_filter(counts).columns)
    # sparse .X is densified; negative values in AnnData are named like in DataFrames
    import scipy.sparse as sp

    ad_sparse = anndata.AnnData(sp.csr_matrix(counts.to_numpy(dtype=float)))
    ad_sparse.obs_names = list(counts.index)
    ad_sparse.var_names = list(counts.columns)
    np.testing.assert_allclose(size_factors(ad_sparse, "tmm"), size_factors(counts, "tmm"))
    X = counts.to_numpy(dtype=float)
    X[0, 1] = -2
    ad_neg = anndata.AnnData(X)
    ad_neg.obs_names = list(counts.index)
    ad_neg.var_names = list(counts.columns)
    with pytest.raises(ValueError, match="negative values.*" + re.escape(
            f"('{counts.index[0]}', '{counts.columns[1]}')")):
        size_factors(ad_neg)
