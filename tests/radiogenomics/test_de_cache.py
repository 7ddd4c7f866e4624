"""The DE-table cache: the same training data gives the same table once computed; any
change to the counts, the sample ids or the labels gives a fresh computation."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from radiogenomics import de


@pytest.fixture()
def data():
    rng = np.random.default_rng(3)
    counts = pd.DataFrame(rng.negative_binomial(5, 0.1, size=(12, 60)),
                          index=[f"s{i}" for i in range(12)],
                          columns=[f"g{j}" for j in range(60)])
    y = pd.Series(["a"] * 6 + ["b"] * 6, index=counts.index)
    de._DE_CACHE.clear()
    return counts, y


@pytest.fixture()
def uncached(monkeypatch):
    """(calls, real): every uncached DE computation is recorded in ``calls``."""
    calls: list[int] = []
    real = de._differential_expression
    monkeypatch.setattr(de, "_differential_expression",
                        lambda *a, **k: calls.append(1) or real(*a, **k))
    return calls, real


def test_hit_returns_equal_independent_copy(data, uncached):
    counts, y = data
    calls, real = uncached
    t1 = de.differential_expression(counts, y)
    t1.loc[t1.index[0], "pvalue"] = -1.0  # mutating a returned table never leaks
    t2 = de.differential_expression(counts, y)
    assert len(calls) == 1
    pd.testing.assert_frame_equal(t2, real(counts, y, "exact", None, "tmm"))


def test_any_change_misses(data, uncached):
    counts, y = data
    calls, _ = uncached
    de.differential_expression(counts, y)
    c2 = counts.copy()
    c2.iloc[0, 0] += 1  # one count
    de.differential_expression(c2, y)
    de.differential_expression(counts, y.iloc[::-1].set_axis(y.index))  # labels swapped
    c3 = counts.rename(index={"s0": "other"})  # a sample id
    de.differential_expression(c3, y.rename(index={"s0": "other"}))
    de.differential_expression(counts.iloc[1:], y.iloc[1:])  # a sample left out
    assert len(calls) == 5
    assert len(de._DE_CACHE) <= de._DE_CACHE_SIZE


def test_user_dispersion_bypasses_cache(data):
    counts, y = data
    t_fixed = de.differential_expression(counts, y, dispersion=0.1)
    assert len(de._DE_CACHE) == 0
    assert np.allclose(t_fixed["dispersion"], 0.1)


def test_label_type_and_level_order_are_part_of_the_key(data, uncached):
    """Integer labels {2, 10} and string labels {"10", "2"} print alike but sort in opposite
    orders, so their logFC signs differ: the second call must not reuse the first table."""
    counts, _ = data
    calls, real = uncached
    y_int = pd.Series([2] * 6 + [10] * 6, index=counts.index)
    y_str = y_int.astype(str)
    t_int = de.differential_expression(counts, y_int)
    t_str = de.differential_expression(counts, y_str)
    assert len(calls) == 2
    g = t_int.index[0]
    assert np.sign(t_int.loc[g, "logFC"]) == -np.sign(t_str.loc[g, "logFC"]) != 0
    pd.testing.assert_frame_equal(t_str, real(counts, y_str, "exact", None, "tmm"))


def test_inner_fold_selections_leave_the_cache_alone(data):
    """Inner tuning folds select under ``uncached()``: the outer split's table stays."""
    from radiogenomics.classifiers._inner_cv import inner_folds, inner_splits

    counts, y = data
    de.differential_expression(counts, y)
    before = list(de._DE_CACHE)
    folds = inner_folds(counts, y, inner_splits(y.to_numpy(), 3, random_state=0), n_genes=5)
    assert len(folds) == 3 and all(len(f.genes) == 5 for f in folds)
    assert list(de._DE_CACHE) == before
    with de.uncached():
        t = de.differential_expression(counts.iloc[:10], y.iloc[:10])
    assert len(t) and list(de._DE_CACHE) == before
