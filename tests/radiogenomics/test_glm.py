"""Tests of radiogenomics.glm against statsmodels, closed forms and scipy."""

import numpy as np
import pytest
import statsmodels.api as sm
from scipy.stats import nbinom, poisson

from radiogenomics.glm import nb_deviance, nb_glm_fit, nb_logpmf


def _data(seed=0, n=40):
    rng = np.random.default_rng(seed)
    X = np.column_stack([np.ones(n), rng.normal(size=n), rng.integers(0, 2, n)])
    off = np.log(rng.uniform(0.5, 2, n))
    beta = np.array([[2, 0.5, -1], [0.1, 0.3, 0.7], [5, -0.2, 0.1], [1.0, 0.0, 0.0]])
    phi = np.array([0.1, 0.5, 0.02, 2.0])
    mu = np.exp(off[:, None] + X @ beta.T)
    r = 1 / phi
    Y = rng.negative_binomial(r, r / (r + mu))
    return Y, X, off, phi


def test_matches_statsmodels():
    Y, X, off, phi = _data()
    fit = nb_glm_fit(Y, X, off, phi, tol=1e-12)
    assert fit.converged.all()
    for g in range(Y.shape[1]):
        m = sm.GLM(Y[:, g], X, family=sm.families.NegativeBinomial(alpha=phi[g]),
                   offset=off).fit(tol=1e-13)
        np.testing.assert_allclose(fit.coef[g], m.params, atol=1e-6)
        np.testing.assert_allclose(fit.se[g], m.bse, atol=1e-6)
        np.testing.assert_allclose(fit.deviance[g], m.deviance, rtol=1e-8)
        np.testing.assert_allclose(fit.mu[:, g], m.fittedvalues, rtol=1e-6)


def test_gene_specific_offset_and_start():
    Y, X, off, phi = _data(1)
    offG = off[:, None] + np.linspace(0, 1, Y.shape[1])
    fit = nb_glm_fit(Y, X, offG, phi, tol=1e-12)
    fit2 = nb_glm_fit(Y, X, offG, phi, tol=1e-12, start=fit.coef)
    np.testing.assert_allclose(fit2.coef, fit.coef, atol=1e-7)
    for g in range(Y.shape[1]):
        m = sm.GLM(Y[:, g], X, family=sm.families.NegativeBinomial(alpha=phi[g]),
                   offset=offG[:, g]).fit(tol=1e-13)
        np.testing.assert_allclose(fit.coef[g], m.params, atol=1e-6)


def test_one_way_closed_form():
    rng = np.random.default_rng(2)
    n, G = 30, 50
    grp = np.repeat([0, 1, 2], 10)
    X = np.eye(3)[grp]  # cell-means design
    s = rng.uniform(0.5, 2.0, n)
    Y = rng.poisson(20, (n, G)) * 1.0
    # with equal offsets the MLE is the log group mean, for any dispersion
    fit = nb_glm_fit(Y, X, 0.0, rng.uniform(0.01, 1, G), tol=1e-12)
    means = np.stack([Y[grp == k].mean(0) for k in range(3)], axis=1)
    np.testing.assert_allclose(fit.coef, np.log(means), atol=1e-6)
    # Poisson with offsets: log(sum y / sum s) per group
    fit = nb_glm_fit(Y, X, np.log(s), 0.0, tol=1e-12)
    ratio = np.stack([Y[grp == k].sum(0) / s[grp == k].sum() for k in range(3)], axis=1)
    np.testing.assert_allclose(fit.coef, np.log(ratio), atol=1e-6)
    # intercept + treatment coding: log ratio of group means
    Xt = np.column_stack([np.ones(n), grp == 1, grp == 2]).astype(float)
    fit = nb_glm_fit(Y, Xt, 0.0, 0.3, tol=1e-12)
    np.testing.assert_allclose(fit.coef[:, 1], np.log(means[:, 1] / means[:, 0]), atol=1e-6)


def test_degenerate_genes_are_finite():
    rng = np.random.default_rng(3)
    n = 30
    X = np.column_stack([np.ones(n), rng.normal(size=n), np.repeat([0, 1], 15)])
    Y = np.column_stack([
        np.zeros(n),                                       # all-zero gene
        np.where(X[:, 2] == 1, 0, rng.poisson(5, n)),      # complete separation
        rng.poisson(5, n),                                 # huge dispersion
        rng.poisson(1e6, n),                               # huge counts
    ])
    fit = nb_glm_fit(Y, X, 0.0, np.array([0.1, 0.1, 1e6, 0.01]))
    for arr in (fit.coef, fit.se, fit.deviance, fit.mu):
        assert np.isfinite(arr).all()
    assert fit.coef[0, 0] < -10 and fit.coef[1, 2] < -10
    assert fit.converged.all()
    assert abs(fit.coef[3, 0] - np.log(1e6)) < 0.01


def test_ridge_shrinks_slopes_not_intercept():
    Y, X, off, phi = _data(4)
    free = nb_glm_fit(Y, X, off, phi)
    pen = nb_glm_fit(Y, X, off, phi, ridge=1e6)
    assert np.all(np.abs(pen.coef[:, 1:]) < 1e-3)
    assert np.all(np.abs(pen.coef[:, 1:]) <= np.abs(free.coef[:, 1:]))
    # with the slopes at 0 the intercept is the Poisson/NB one-group MLE
    one = nb_glm_fit(Y, X[:, :1], off, phi)
    np.testing.assert_allclose(pen.coef[:, 0], one.coef[:, 0], atol=1e-2)
    # vector ridge: penalised objective is stationary (score = Lambda beta)
    lam = np.array([0.0, 3.0, 5.0])
    fit = nb_glm_fit(Y, X, off, phi, ridge=lam, tol=1e-14)
    score = np.einsum("ip,ig->gp", X, (Y - fit.mu) / (1 + phi * fit.mu))
    np.testing.assert_allclose(score, fit.coef * lam, atol=1e-5)


def test_logpmf_and_deviance():
    y = np.arange(0, 30)[:, None]
    mu = np.array([0.5, 3.0, 40.0])
    phi = np.array([0.2, 1.0, 0.05])
    ref = nbinom.logpmf(y, 1 / phi, 1 / (1 + phi * mu))
    np.testing.assert_allclose(nb_logpmf(y, mu, phi), ref, rtol=1e-10)
    np.testing.assert_allclose(nb_logpmf(y, mu, 0.0), poisson.logpmf(y, mu), rtol=1e-10)
    assert nb_logpmf(0, 0.0, 0.1) == 0.0 and nb_logpmf(0, 0.0, 0.0) == 0.0
    # deviance = 2 (loglik saturated - loglik fitted)
    yy = np.array([0, 1, 5, 20.0])
    d = nb_deviance(yy, 4.0, 0.3, axis=None)
    sat = nb_logpmf(yy, yy, 0.3) - nb_logpmf(yy, 4.0, 0.3)
    np.testing.assert_allclose(d, 2 * sat, rtol=1e-10)
    dp = nb_deviance(yy, 4.0, 0.0, axis=None)
    np.testing.assert_allclose(dp, 2 * (nb_logpmf(yy, yy, 0) - nb_logpmf(yy, 4.0, 0)), rtol=1e-10)


def test_bad_input():
    Y, X, off, phi = _data()
    with pytest.raises(ValueError, match="X must have shape"):
        nb_glm_fit(Y, X[:-1], off, phi)
    with pytest.raises(ValueError, match="dispersion"):
        nb_glm_fit(Y, X, off, phi[:-1])
    with pytest.raises(ValueError, match="non-negative"):
        nb_glm_fit(-Y, X, off, phi)


def test_glm_lrt_nested_designs_against_statsmodels():
    """LR of two nested designs = difference of NB deviances of statsmodels fits (edgeR's
    1e-8 shifts change a deviance by far less than the tolerance)."""
    import pandas as pd

    from radiogenomics.glm import glm_lrt

    Y, X, off, phi = _data(5, n=60)
    X0 = X[:, :2]
    names = [f"g{i}" for i in range(Y.shape[1])]
    res = glm_lrt(pd.DataFrame(Y, columns=names), X, X0,
                  pd.Series(phi[::-1], index=names[::-1]), off)
    assert list(res.index) == names and (res["df"] == 1).all()
    for g in range(Y.shape[1]):
        fam = sm.families.NegativeBinomial(alpha=phi[g])
        d1 = sm.GLM(Y[:, g], X, family=fam, offset=off).fit(tol=1e-13).deviance
        d0 = sm.GLM(Y[:, g], X0, family=fam, offset=off).fit(tol=1e-13).deviance
        assert res["deviance_full"].iloc[g] == pytest.approx(d1, rel=1e-5, abs=1e-5)
        assert res["LR"].iloc[g] == pytest.approx(d0 - d1, rel=1e-4, abs=1e-5)
    from scipy.stats import chi2

    np.testing.assert_allclose(res["pvalue"], chi2.sf(res["LR"], 1), rtol=1e-12)


def test_glm_lrt_bad_input():
    from radiogenomics.glm import glm_lrt

    Y, X, off, phi = _data()
    with pytest.raises(ValueError, match="nested"):
        glm_lrt(Y, X[:, :2], X[:, [0, 2]], phi, off)
    with pytest.raises(ValueError, match="nested"):
        glm_lrt(Y, X, X, phi, off)
    with pytest.raises(ValueError, match="rows"):
        glm_lrt(Y, X[:-1], X[:-1, :1], phi, off)
    with pytest.raises(ValueError, match="dispersion"):
        glm_lrt(Y, X, X[:, :1], phi[:-1], off)
    with pytest.raises(ValueError, match="offset"):
        glm_lrt(Y, X, X[:, :1], phi, off[:-1])
    with pytest.raises(ValueError, match="full column rank"):
        glm_lrt(Y, np.column_stack([X, X[:, 1]]), X[:, :1], phi, off)


def test_compiled_irls_equals_batched_numpy_reference():
    """The compiled IRLS follows the batched numpy IRLS step for step (ridge, offsets per
    gene, degenerate genes)."""
    from radiogenomics.glm import _irls_numpy

    rng = np.random.default_rng(7)
    n, G = 40, 60
    X = np.column_stack([np.ones(n), rng.normal(size=n), rng.integers(0, 2, n)])
    off = np.log(rng.uniform(0.5, 2, (n, 1))) + np.linspace(0, 1, G)
    Y = rng.negative_binomial(2, 0.1, size=(n, G)).astype(float)
    Y[:, 0] = 0.0
    Y[X[:, 2] == 1, 1] = 0.0
    phi = rng.uniform(0.0, 2.0, G)
    phi[2] = 0.0
    lam = np.array([0.0, 0.5, 2.0])
    fit = nb_glm_fit(Y, X, off, phi, ridge=lam)
    start = (np.linalg.pinv(X) @ (np.log(Y + 0.1) - off)).T
    coef, se, dev, n_iter, conv, mu = _irls_numpy(Y, X, off, phi, lam, start, 50, 1e-8)
    np.testing.assert_array_equal(fit.n_iter, n_iter)
    np.testing.assert_array_equal(fit.converged, conv)
    np.testing.assert_allclose(fit.coef, coef, rtol=1e-9, atol=1e-9)
    np.testing.assert_allclose(fit.se, se, rtol=1e-8, atol=1e-12)
    np.testing.assert_allclose(fit.deviance, dev, rtol=1e-9, atol=1e-9)
    np.testing.assert_allclose(fit.mu, mu, rtol=1e-9, atol=1e-12)


def test_nb_glm_result_contract(tmp_path):
    """NBGLMResult follows the result contract (summary per gene, repr, HTML, save, plot)."""
    import matplotlib

    matplotlib.use("Agg")
    import pandas as pd

    from radiogenomics.results import Result

    rng = np.random.default_rng(1)
    n, G = 20, 6
    X = np.column_stack([np.ones(n), rng.integers(0, 2, n)])
    Y = rng.poisson(20.0, size=(n, G)).astype(float)
    fit = nb_glm_fit(Y, X, np.zeros(n), 0.1)
    assert isinstance(fit, Result)
    tab = fit.summary()
    assert list(tab.columns[:4]) == ["coef_0", "se_0", "coef_1", "se_1"] and len(tab) == G
    np.testing.assert_array_equal(tab["coef_1"], fit.coef[:, 1])
    assert "\n" not in repr(fit) and "n_genes=6" in repr(fit)
    assert "<table" in fit._repr_html_()
    back = pd.read_csv(fit.save(tmp_path / "fit.csv"), index_col=0)
    np.testing.assert_allclose(back["deviance"], fit.deviance)
    assert fit.plot() is not None
