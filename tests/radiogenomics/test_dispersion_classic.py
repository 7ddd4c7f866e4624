"""Classic edgeR dispersions (estimateCommonDisp + estimateTagwiseDisp) against edgeR 3.40."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy import optimize

from radiogenomics._edger.qcml import (
    _brent_fmin,
    _fit_one_group,
    _moving_average_by_col,
    _q2qnbinom,
)
from radiogenomics.dispersion import DispersionResult, estimate_dispersion

DATA = Path(__file__).resolve().parents[1] / "data" / "edger"


@pytest.fixture(scope="module")
def classic(cervical):
    counts, y = cervical
    return estimate_dispersion(counts, groups=y)


def _param(name):
    p = pd.read_csv(DATA / "params.csv", index_col=0)["value"]
    return float(p[name])


def test_common_dispersion_equals_edger(classic):
    ref = _param("classic_common")
    # edgeR's optimize() stops at tol 1e-6 on delta = phi/(1+phi): that is the attainable
    # agreement (we see ~2.5e-6 relative)
    assert classic.common == pytest.approx(ref, rel=1e-5)
    assert f"{classic.common:.3g}" == f"{ref:.3g}"


def test_tagwise_dispersion_equals_edger(classic):
    ref = pd.read_csv(DATA / "genes_dispersion.csv", index_col=0)
    tw = classic.tagwise.loc[ref.index]
    rel = np.abs(tw / ref["classic_tagwise"] - 1)
    assert rel.median() < 1e-5
    assert rel.quantile(0.99) < 1e-4
    assert rel.max() < 1e-4
    np.testing.assert_allclose(classic.ave_log_cpm.loc[ref.index], ref["classic_AveLogCPM"],
                               atol=1e-5)
    assert classic.prior_df == 10 and classic.method == "classic" and classic.trended is None


@pytest.mark.parametrize("split", ["A", "B"])
def test_common_dispersion_on_training_splits(cervical, split):
    counts, y = cervical
    sp = pd.read_csv(DATA / f"split_{split}" / "split.csv", index_col=0)
    train = sp.index[sp["set"] == "train"]
    ref = pd.read_csv(DATA / f"split_{split}" / "edgeR_train_common_disp.csv").iloc[0, 0]
    res = estimate_dispersion(counts.loc[train], groups=y.loc[train])
    assert res.common == pytest.approx(ref, rel=1e-4)


def test_simulated_common_dispersion_recovered():
    rng = np.random.default_rng(42)
    G, n, phi = 3000, 16, 0.15
    mean = np.exp(rng.uniform(np.log(20), np.log(2000), G))
    lib = rng.uniform(0.6, 1.6, n)
    mu = mean[None, :] * lib[:, None]
    counts = pd.DataFrame(rng.negative_binomial(1 / phi, 1 / (1 + phi * mu)))
    groups = np.repeat(["a", "b"], n // 2)
    res = estimate_dispersion(counts, groups=groups)
    # standard error of the qCML estimate here is about 1%
    assert res.common == pytest.approx(phi, rel=0.05)
    # tagwise values shrink towards the truth: median close, spread smaller than raw
    assert np.median(res.tagwise) == pytest.approx(phi, rel=0.1)


def test_brent_matches_r_semantics():
    f = lambda x: (x - 0.3) ** 2 + 0.1 * math.sin(5 * x)  # noqa: E731
    x = _brent_fmin(f, 0.0, 1.0, 1e-10)
    ref = optimize.minimize_scalar(f, bounds=(0, 1), method="bounded",
                                   options={"xatol": 1e-12}).x
    assert x == pytest.approx(ref, abs=1e-8)


def test_moving_average_closed_form():
    x = np.arange(1.0, 11.0)[:, None]
    out = _moving_average_by_col(x, 3)
    # edgeR: centred window of 3, shrinking at the ends
    np.testing.assert_allclose(out[:, 0], [1.5, 2, 3, 4, 5, 6, 7, 8, 9, 9.5])
    np.testing.assert_allclose(_moving_average_by_col(x, 1), x)


def test_q2q_identity_and_one_group_mle():
    rng = np.random.default_rng(0)
    x = rng.poisson(30, size=(50, 6)).astype(float)
    same = _q2qnbinom(x, np.full(50, 30.0), np.ones(6), 1.0, 0.2)
    np.testing.assert_allclose(same, x, rtol=1e-9, atol=1e-9)
    # Poisson MLE of a single group is the total over the summed exposures
    lib = np.array([1.0, 2, 3, 4, 5, 6])
    beta = _fit_one_group(x, np.log(lib), 1e-12)
    np.testing.assert_allclose(np.exp(beta), x.sum(1) / lib.sum(), rtol=1e-8)


def test_result_object(classic):
    s = classic.summary()
    assert s.loc["common_dispersion", "value"] == classic.common
    assert list(classic.to_frame().columns) == ["ave_log_cpm", "tagwise"]
    import matplotlib

    matplotlib.use("Agg")
    ax = classic.plot()
    assert ax.get_xlabel() == "Average log CPM"
    assert isinstance(classic, DispersionResult)


def test_bad_inputs(cervical):
    counts, y = cervical
    bad = counts.astype(float).copy()
    bad.iloc[0, 0] = -3
    with pytest.raises(ValueError, match="negative.*N1"):
        estimate_dispersion(bad, groups=y)
    bad.iloc[0, 0] = 0.5
    with pytest.raises(ValueError, match="fractional"):
        estimate_dispersion(bad, groups=y)
    bad.iloc[0, 0] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        estimate_dispersion(bad, groups=y)
    yy = y.rename(index={"N1": "X1"})
    with pytest.raises(ValueError, match="X1"):
        estimate_dispersion(counts, groups=yy)
    with pytest.raises(ValueError, match="method"):
        estimate_dispersion(counts, groups=y, method="qcml")
    with pytest.raises(ValueError, match="replication"):
        estimate_dispersion(counts.iloc[:2], groups=y.iloc[[0, 29]].set_axis(counts.index[:2]))


def test_glm_dispatch(cervical):
    pytest.importorskip("radiogenomics._dispersion_glm")
    counts, y = cervical
    res = estimate_dispersion(counts, groups=y, method="glm", prior_df=None)
    assert res.method == "glm"
    assert res.common == pytest.approx(_param("estimateDisp_common"), rel=1e-4)
    assert res.trended is not None and len(res.tagwise) == counts.shape[1]


def test_public_defaults_equal_edger_for_both_methods():
    """``estimate_dispersion(counts, groups=y, method=...)`` with its defaults is edgeR's
    ``estimateCommonDisp`` + ``estimateTagwiseDisp`` (prior.df 10) and ``estimateDisp``
    (design ~group, prior.df estimated) on the cervical data:
    ``y <- calcNormFactors(DGEList(counts, group = group)); estimateDisp(y, design)``."""
    import pandas as pd

    from radiogenomics import datasets
    from radiogenomics.dispersion import estimate_dispersion

    counts, y = datasets.load_cervical()
    ref = pd.read_csv(Path(__file__).resolve().parents[1] / "data" / "edger"
                      / "genes_dispersion.csv", index_col=0)
    c = estimate_dispersion(counts, groups=y, method="classic")
    g = estimate_dispersion(counts, groups=y, method="glm")
    assert c.prior_df == 10.0
    assert g.prior_df == pytest.approx(15.5531526638528, rel=1e-8)
    for res, col in ((c, "classic_tagwise"), (g, "estimateDisp_tagwise")):
        rel = np.abs(res.tagwise[ref.index] - ref[col]) / ref[col]
        assert np.median(rel) < 1e-5 and np.quantile(rel, 0.99) < 1e-4, col


def test_dispersion_result_contract(tmp_path):
    """DispersionResult follows the result contract: summary / to_frame tables, one-line
    repr, HTML, save(path) -> Path writing the per-gene table, plot(ax=None)."""
    import matplotlib

    matplotlib.use("Agg")
    from radiogenomics.datasets import load_cervical
    from radiogenomics.dispersion import DispersionResult, estimate_dispersion
    from radiogenomics.results import Result

    counts, y = load_cervical()
    res = estimate_dispersion(counts, groups=y)
    assert isinstance(res, DispersionResult) and isinstance(res, Result)
    assert res.summary().loc["common_dispersion", "value"] == res.common
    assert list(res.to_frame().columns) == ["ave_log_cpm", "tagwise"]
    assert "\n" not in repr(res) and "common_dispersion" in repr(res)
    assert "<table" in res._repr_html_()
    out = res.save(tmp_path / "disp.csv")
    back = pd.read_csv(out, index_col=0)
    np.testing.assert_allclose(back["tagwise"], res.tagwise.to_numpy())
    assert res.plot() is not None
