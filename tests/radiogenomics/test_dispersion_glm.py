"""edgeR estimateDisp (GLM) and glmFit/glmLRT against edgeR 3.40 outputs and simulations."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy.stats import spearmanr

from radiogenomics._de_glm import bh_adjust, glm_lrt
from radiogenomics._dispersion_glm import estimate_disp_glm
from radiogenomics._edger.fit import _glm_fit, _mglm_levenberg
from radiogenomics._edger.smooth import maximize_interpolant
from radiogenomics.datasets import load_cervical

DATA = Path(__file__).resolve().parents[1] / "data" / "edger_glm"


def _rel(a, b):
    a, b = np.asarray(a, float), np.asarray(b, float)
    return np.abs(a - b) / np.abs(b)


@pytest.fixture(scope="module")
def cervical():
    counts, y = load_cervical()
    samples = pd.read_csv(DATA / "samples_normfactors.csv", index_col=0).loc[counts.index]
    lib = (samples["lib_size"] * samples["tmm_norm_factor"]).to_numpy()
    design = np.column_stack([np.ones(len(y)), (y == "T").to_numpy(float)])
    return counts.astype(float), y, lib, design


@pytest.fixture(scope="module")
def cervical_disp(cervical):
    counts, _, lib, design = cervical
    return estimate_disp_glm(counts, design, lib)


@pytest.fixture(scope="module")
def params():
    return pd.read_csv(DATA / "params.csv", index_col=0)["value"]


def test_common_prior_df_span_match_edger(cervical_disp, params):
    r = cervical_disp
    assert r["common"] == pytest.approx(float(params["estimateDisp_common"]), rel=1e-8)
    assert r["prior_df"] == pytest.approx(float(params["estimateDisp_prior_df"]), rel=1e-8)
    assert r["span"] == pytest.approx(float(params["estimateDisp_span"]), rel=1e-12)


def test_trended_tagwise_avelogcpm_match_edger(cervical_disp):
    ref = pd.read_csv(DATA / "genes_dispersion.csv", index_col=0)
    r = cervical_disp
    assert list(r["tagwise"].index) == list(ref.index)
    for ours, col in [
        ("ave_log_cpm", "AveLogCPM"),
        ("trended", "estimateDisp_trended"),
        ("tagwise", "estimateDisp_tagwise"),
    ]:
        rel = _rel(r[ours].to_numpy(), ref[col].to_numpy())
        assert np.median(rel) < 1e-8, ours
        assert np.quantile(rel, 0.99) < 1e-7, ours
        assert rel.max() < 1e-6, ours


def test_glm_lrt_matches_edger(cervical):
    counts, y, lib, _ = cervical
    res = glm_lrt(counts.astype(int), y, lib_size=lib)
    assert list(res.columns) == ["logFC", "logCPM", "LR", "pvalue", "padj"]
    assert res["pvalue"].is_monotonic_increasing
    ref = pd.read_csv(DATA / "de_glmlrt.csv", index_col=0).loc[res.index]
    assert spearmanr(res["pvalue"], ref["PValue"]).correlation >= 0.999
    assert set(res.index[:50]) == set(ref["PValue"].sort_values().index[:50])
    for ours, col in [
        ("logFC", "logFC"),
        ("logCPM", "logCPM"),
        ("pvalue", "PValue"),
        ("padj", "FDR"),
    ]:
        assert np.median(_rel(res[ours], ref[col])) < 1e-8, ours
        assert np.max(_rel(res[ours], ref[col])) < 1e-6, ours
    np.testing.assert_allclose(res["LR"], ref["LR"], rtol=1e-6, atol=1e-9)


def test_bh_matches_closed_form():
    p = np.array([0.01, 0.04, 0.03, 0.2, 0.5])
    # sorted: .01 .03 .04 .2 .5 -> m p / k = .05 .075 .0667 .25 .5 -> cummin from the right
    expected = np.array([0.05, 0.0666666667, 0.0666666667, 0.25, 0.5])
    np.testing.assert_allclose(bh_adjust(p), expected, rtol=1e-8)


def test_maximize_interpolant_locates_smooth_maximum():
    x = np.linspace(-10, 10, 21)
    m = np.array([[0.37], [-4.2], [9.6]])
    y = -np.log(np.cosh((x[None, :] - m) / 2.0))
    np.testing.assert_allclose(maximize_interpolant(x, y), m.ravel(), atol=0.02)
    # like edgeR's C code, an exactly quadratic segment (zero cubic term) is not refined
    q = -((x[None, :] - 0.37) ** 2)
    assert maximize_interpolant(x, q)[0] == 0.0


def _simulate(rng, n_genes, design, phi, lib):
    base = rng.uniform(np.log(20), np.log(2000), n_genes)
    beta = np.column_stack(
        [base] + [rng.normal(0, 0.5, n_genes) for _ in range(design.shape[1] - 1)]
    )
    mu = np.exp(beta @ design.T) * (lib / lib.mean())[None, :]
    size = 1.0 / phi
    return rng.negative_binomial(size, size / (size + mu)).astype(float)  # genes x samples


def test_simulation_recovers_common_dispersion():
    rng = np.random.default_rng(0)
    n = 16
    design = np.column_stack([np.ones(n), np.repeat([0.0, 1.0], n // 2)])
    lib = rng.uniform(0.7, 1.3, n) * 1e6
    Y = _simulate(rng, 800, design, 0.15, lib)
    counts = pd.DataFrame(
        Y.T, index=[f"s{i}" for i in range(n)], columns=[f"g{j}" for j in range(800)]
    )
    r = estimate_disp_glm(counts, design, lib)
    assert r["common"] == pytest.approx(0.15, rel=0.08)
    assert np.median(r["tagwise"]) == pytest.approx(0.15, rel=0.15)
    # constant true dispersion: the data should favour strong shrinkage
    assert r["prior_df"] > 10


def test_continuous_covariate_design_runs_and_is_finite():
    rng = np.random.default_rng(1)
    n = 14
    age = rng.uniform(0.1, 0.9, n)
    design = np.column_stack([np.ones(n), age])
    lib = rng.uniform(0.7, 1.3, n) * 1e6
    Y = _simulate(rng, 300, design, 0.1, lib)
    Y[:5, :] = 0.0  # all-zero genes
    Y[5, :3] = 0.0
    counts = pd.DataFrame(
        Y.T, index=[f"s{i}" for i in range(n)], columns=[f"g{j}" for j in range(300)]
    )
    r = estimate_disp_glm(counts, design, lib)
    for key in ("trended", "tagwise"):
        assert np.all(np.isfinite(r[key])) and np.all(r[key] > 0)
    assert np.isfinite(r["common"]) and r["common"] == pytest.approx(0.1, rel=0.25)
    fit = _glm_fit(Y[5:], design, np.log(lib), r["tagwise"].to_numpy()[5:])
    assert fit.method == "levenberg"
    assert np.all(np.isfinite(fit.coefficients)) and np.all(np.isfinite(fit.deviance))


def test_levenberg_agrees_with_oneway_shortcut(cervical):
    counts, _, lib, design = cervical
    Y = counts.to_numpy().T[:200]
    Y = Y[Y.sum(axis=1) > 0]
    off = np.log(lib)
    one = _glm_fit(Y, design, off, 0.3)
    assert one.method == "oneway"
    coef, mu, dev = _mglm_levenberg(Y, design, off, 0.3, maxit=250)
    ok = np.all(np.abs(one.coefficients) < 20, axis=1)  # skip genes with a zero group
    np.testing.assert_allclose(dev[ok], one.deviance[ok], rtol=1e-6, atol=1e-6)
    np.testing.assert_allclose(coef[ok], one.coefficients[ok], atol=1e-3)


def test_all_zero_in_one_group_is_stable(cervical):
    counts, y, lib, design = cervical
    c = counts.iloc[:, :120].copy()
    normal = (y == "N").to_numpy()
    c.iloc[normal, :10] = 0.0  # ten genes silent in all normal samples
    c.iloc[:, 10:12] = 0.0  # two genes silent everywhere
    r = estimate_disp_glm(c, design, lib)
    for key in ("trended", "tagwise", "ave_log_cpm"):
        assert not r[key].isna().any(), key
    res = glm_lrt(c.astype(int), y, lib_size=lib)
    assert not res.isna().any().any()
    assert np.all(res.loc[c.columns[:10], "pvalue"] < 1e-3)
    assert np.all(res.loc[c.columns[10:12], "pvalue"] == 1.0)


def test_bad_inputs_raise(cervical):
    counts, y, lib, design = cervical
    with pytest.raises(ValueError, match="lib_size"):
        estimate_disp_glm(counts, design, lib[:-1])
    with pytest.raises(ValueError, match="design"):
        estimate_disp_glm(counts, design[:-1], lib)
    with pytest.raises(ValueError, match="rank"):
        estimate_disp_glm(counts, np.column_stack([design, design[:, 1]]), lib)
    with pytest.raises(ValueError, match="lib_size"):
        glm_lrt(counts.astype(int), y, lib_size=lib[:3])


def test_fixed_prior_df_and_given_dispersion(cervical, cervical_disp):
    counts, y, lib, design = cervical
    r = estimate_disp_glm(counts, design, lib, prior_df=1e9)
    np.testing.assert_allclose(r["tagwise"], r["trended"])  # infinite shrinkage
    res = glm_lrt(counts.astype(int), y, dispersion=cervical_disp["tagwise"], lib_size=lib)
    assert np.all(np.isfinite(res["LR"]))


def test_three_groups_joint_test_and_series_lib_size(cervical):
    counts, y, lib, _ = cervical
    y3 = y.copy()
    y3.iloc[::3] = "X"
    res = glm_lrt(
        counts.astype(int).iloc[:, :150],
        y3,
        lib_size=pd.Series(lib[::-1], index=counts.index[::-1]),
    )
    assert [c for c in res.columns if c.startswith("logFC")] == ["logFC.groupT", "logFC.groupX"]
    assert np.all(np.isfinite(res.to_numpy()))
    assert np.all((res["pvalue"] >= 0) & (res["pvalue"] <= 1))
    same = glm_lrt(counts.astype(int).iloc[:, :150], y3, lib_size=lib)
    pd.testing.assert_frame_equal(res, same)


# --------------------------------------------------------------------------------------
# Continuous covariates (Levenberg fits) and a class x covariate design (block fits),
# against edgeR 3.40: tests/data/edger_glm/make_covariate_reference.R
# --------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def covariate_data():
    counts = pd.read_csv(DATA / "covariate_counts.csv", index_col=0).T.astype(float)
    s = pd.read_csv(DATA / "covariate_samples.csv", index_col=0).loc[counts.index]
    lib = (s["lib_size"] * s["tmm_norm_factor"]).to_numpy()
    B = (s["class"] == "B").to_numpy(float)
    x1, x2 = s["x1"].to_numpy(), s["x2"].to_numpy()
    one = np.ones(len(B))
    designs = {
        "cov": (np.column_stack([one, B, x1]), np.column_stack([one, B])),
        "joint": (np.column_stack([1 - B, B, x1, x2, B * x1, B * x2]),
                  np.column_stack([one, x1, x2])),
    }
    return counts, lib, designs


@pytest.mark.parametrize("name", ["cov", "joint"])
def test_covariate_designs_match_edger(covariate_data, name):
    from radiogenomics.glm import glm_lrt as lrt_nested

    counts, lib, designs = covariate_data
    X1, X0 = designs[name]
    ref = pd.read_csv(DATA / f"covariate_{name}_genes.csv", index_col=0)
    par = pd.read_csv(DATA / f"covariate_{name}_params.csv", index_col=0)["value"]
    r = estimate_disp_glm(counts, X1, lib)
    # edgeR stops its Levenberg fits at dl'dbeta < 1e-6; the block fits of the class x
    # covariate design take another path to the same maximum: agreement to ~1e-6
    tol = 1e-8 if name == "cov" else 1e-5
    assert r["common"] == pytest.approx(float(par["common"]), rel=tol)
    # the prior df comes from the deviances of fits stopped at edgeR's tolerance
    assert r["prior_df"] == pytest.approx(float(par["prior_df"]), rel=max(10 * tol, 1e-6))
    assert r["span"] == pytest.approx(float(par["span"]), rel=1e-12)
    for ours, col in [("ave_log_cpm", "AveLogCPM"), ("trended", "trended"),
                      ("tagwise", "tagwise")]:
        rel = _rel(r[ours].to_numpy(), ref[col].to_numpy())
        assert np.median(rel) < tol, ours
        assert rel.max() < 100 * tol, ours
    res = lrt_nested(counts, X1, X0, ref["tagwise"], np.log(lib))
    assert list(res.index) == list(ref.index)
    assert (res["df"] == int(par["df"])).all()
    for ours, col in [("deviance_full", "deviance_full"),
                      ("deviance_reduced", "deviance_reduced"), ("LR", "LR")]:
        np.testing.assert_allclose(res[ours], ref[col], rtol=1e-6, atol=1e-5, err_msg=ours)
    np.testing.assert_allclose(res["pvalue"], ref["PValue"], rtol=1e-4, atol=1e-8)


def test_block_design_fit_equals_plain_levenberg(covariate_data):
    """The block-by-block fit of a class x covariate design reaches the maximum of the
    whole-design Levenberg fit (deviances and coefficients), and the reparametrisation
    constant makes the APL equal."""
    from radiogenomics._edger.design import _design_info

    counts, lib, designs = covariate_data
    X1, _ = designs["joint"]
    Y = counts.to_numpy().T
    B = X1[:, 1] == 1
    Y = Y[(Y[:, B].sum(axis=1) > 0) & (Y[:, ~B].sum(axis=1) > 0)]  # counts in both classes
    off = np.log(lib)
    info = _design_info(X1)
    assert info.M is not None and list(info.bp) == [3, 3]
    blk = _glm_fit(Y, info, off, 0.1, maxit=250, tol=1e-12)
    coef, _, dev = _mglm_levenberg(Y, X1, off, 0.1, maxit=500, tol=1e-12)
    np.testing.assert_allclose(blk.deviance, dev, rtol=1e-9, atol=1e-9)
    ok = np.all(np.abs(coef) < 20, axis=1)  # not drifting to -inf (flat likelihood)
    assert ok.mean() > 0.95
    np.testing.assert_allclose(blk.coefficients[ok], coef[ok], atol=1e-6)
    from radiogenomics._edger.fit import _apl_grid

    grid = np.array([0.05, 0.2])
    a_blk = _apl_grid(Y, info, off, grid)
    a_plain = _apl_grid(Y, _design_info(X1, blocks=False), off, grid)
    # both grids stop at edgeR's tolerance (dl'dbeta < 1e-6), hence the absolute 1e-4
    np.testing.assert_allclose(a_blk[ok], a_plain[ok], rtol=1e-7, atol=1e-4)


def test_named_steps_reproduce_estimate_disp_glm(cervical, cervical_disp, covariate_data):
    """estimateDisp as named steps (APL grid -> common -> trend -> prior df -> tagwise),
    each called alone, gives exactly what estimate_disp_glm returns (group design and the
    class x covariate block design)."""
    from radiogenomics._dispersion_glm import (
        GLMDispersion,
        apl_matrix,
        common_dispersion,
        dispersion_trend,
        glm_prior_df,
        tagwise_dispersion,
    )
    from radiogenomics._edger.fit import ave_log_cpm

    c_counts, _, c_lib, c_design = cervical
    j_counts, j_lib, designs = covariate_data
    cases = [(c_counts, c_lib, c_design, cervical_disp),
             (j_counts, j_lib, designs["joint"][0], None)]
    for counts, lib, design, ref in cases:
        ref = ref if ref is not None else estimate_disp_glm(counts, design, lib)
        assert isinstance(ref, GLMDispersion) and ref["common"] == ref.common
        Y = counts.to_numpy(dtype=float).T
        sel = Y.sum(axis=1) >= 5
        pts = np.linspace(-10, 10, 21)
        off = np.log(lib)
        apl = apl_matrix(Y[sel], design, off, 0.1 * 2.0**pts)
        common = common_dispersion(apl, pts)
        assert common == ref.common
        ave = ave_log_cpm(Y, lib, dispersion=common)[sel]
        m0, trend = dispersion_trend(apl, ave, ref.span, pts)
        np.testing.assert_array_equal(trend, ref.trended.to_numpy()[sel])
        d0 = glm_prior_df(Y[sel], design, off, trend, ave)
        assert d0 == ref.prior_df
        n, p = design.shape
        tw = tagwise_dispersion(apl, m0, d0 / (n - p), pts)
        np.testing.assert_array_equal(tw, ref.tagwise.to_numpy()[sel])
        assert tagwise_dispersion(apl, m0, 1e7, pts) is None  # infinite prior: the trend
