"""Size factors, TMM and the quantile filter against edgeR/DESeq2 outputs and closed forms."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from radiogenomics.counts import SizeFactors, calc_norm_factors, quantile_filter, size_factors
from radiogenomics.datasets import load_cervical

DATA = Path(__file__).resolve().parents[1] / "data" / "edger"


@pytest.fixture(scope="module")
def cervical():
    counts, y = load_cervical()
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
