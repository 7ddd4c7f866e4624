"""NBLDA (CRAN NBLDA 1.0.1) and PLDA (PoiClaClu 1.0.2.1) against R (``scripts/cervical.R``,
parts a and b). ``x`` = training counts with samples in rows, ``xte`` the test counts."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from baseline_helpers import SPLITS, log_value, noise_balanced_accuracy, ref, split_data, top50
from sklearn.base import clone

from radiogenomics.classifiers import NBLDA, PLDA
from radiogenomics.classifiers._nblda import nb_discriminant

RHO0 = [(s, f, t) for s, f in SPLITS for t in ("mle", "deseq")] + \
    [(s, "top50", "tmm") for s in ("A", "B")]


def rel(a, b):
    return float(np.max(np.abs(np.asarray(a) / np.asarray(b) - 1.0)))


# ---------------------------------------------------------------------------------- NBLDA
@pytest.mark.parametrize("split,features,ty", RHO0)
def test_nblda_rho0_equals_r(cervical, split, features, ty):
    """``fit0 <- trainNBLDA(x = t(Xtr), y = ytr, type = ty,
    train.control = nbldaControl(rhos = 0))``; ``predict(fit0, t(Xte), return =
    "everything")`` -> ``nblda_rho0_{ty}_test.csv`` (``disc_*`` = discriminant),
    ``nblda_rho0_{ty}_params.csv`` (``fm$dispersions$adj``, ``$initial``, ``fm$ds``) and
    ``nblda_rho0_{ty}_test_sizes.csv`` (``rowSums(p0$nste)``).

    ``type = "tmm"`` failed in R for all714; for top50 R normalises the *test* samples
    among themselves, we against the training reference, so there the training side and
    the discriminant given R's test sizes are compared."""
    Xtr, ytr, Xte, _ = split_data(*cervical, split, features)
    m = NBLDA(rho=0, size_factors=ty).fit(Xtr, ytr)
    par = ref(split, features, f"nblda_rho0_{ty}_params").set_index("gene").loc[m.genes_]
    assert np.max(np.abs(m.dispersion_initial_ - par["dispersion_initial"])) < 1e-10
    assert np.max(np.abs(m.dispersion_ - par["dispersion_adj"])) < 1e-10
    assert np.max(np.abs(m.d_.to_numpy().T - par[["d_N", "d_T"]].to_numpy())) < 1e-10
    t = ref(split, features, f"nblda_rho0_{ty}_test")
    disc_r = t[["disc_N", "disc_T"]].to_numpy()
    sizes = ref(split, features, f"nblda_rho0_{ty}_test_sizes")["nste_rowsum"].to_numpy()
    if ty == "tmm":
        colsum = Xtr.to_numpy().sum(axis=0)
        nste = np.outer(sizes / colsum.sum(), colsum)
        d = nb_discriminant(Xte.to_numpy(), nste, m.d_.to_numpy(), m.dispersion_.to_numpy(),
                            m.prior_)
        assert (m.classes_[np.argmax(d, axis=1)] == t["pred"].to_numpy()).all()
        return
    ours = m._model["size_model"].test_expected(Xte.to_numpy()).sum(axis=1)
    assert rel(ours, sizes) < 1e-10
    assert (m.predict(Xte) == t["pred"].to_numpy()).all()
    assert rel(m.decision_function(Xte), disc_r) < 1e-6
    assert np.max(np.abs(m.predict_proba(Xte) - t[["prob_N", "prob_T"]].to_numpy())) < 1e-6


@pytest.mark.parametrize("split,features", SPLITS)
def test_nblda_default_cv_rho_equals_r_given_its_rho(cervical, split, features):
    """``set.seed(1); fit <- trainNBLDA(x = t(Xtr), y = ytr, train.control = nbldaControl())``
    (type "mle", tuneLength 10, 5 folds x 2 repeats); ``predict(fit, t(Xte), return =
    "everything")`` -> ``nblda_default_cvrho_test.csv``; best.rho in ``log.txt``, the rho
    grid in ``nblda_default_cvrho_tuning.csv``. R's folds come from its RNG: the grid is
    compared, and the predictions at R's chosen rho."""
    Xtr, ytr, Xte, _ = split_data(*cervical, split, features)
    tun = ref(split, features, "nblda_default_cvrho_tuning")
    m = NBLDA(random_state=0).fit(Xtr, ytr)
    grid = m.cv_results_["rho"].to_numpy()
    assert np.allclose(grid, tun["rho"].to_numpy(), rtol=1e-10, atol=0)
    assert m.rho_ in set(grid)
    t = ref(split, features, "nblda_default_cvrho_test")
    best = log_value(split, features, r"NBLDA default: best\.rho=([0-9.eE+-]+)")
    rho = grid[np.argmin(np.abs(grid - best))]  # log.txt holds 10 significant digits
    assert abs(rho / best - 1) < 1e-8
    m = NBLDA(rho=rho).fit(Xtr, ytr)
    assert (m.predict(Xte) == t["pred"].to_numpy()).all()
    assert rel(m.decision_function(Xte), t[["disc_N", "disc_T"]].to_numpy()) < 1e-6


def test_nblda_gene_selection_inside_fit(cervical):
    """``rownames(topTags(exactTest(...), n = 50))`` on the training samples -> top50
    genes; then as ``trainNBLDA(x, y, train.control = nbldaControl(rhos = 0))`` on them.
    R gets only the 50-gene matrix, so its size factors come from those genes:
    ``library="selected"``."""
    Xtr, ytr, Xte, _ = split_data(*cervical, "B", "all714")
    m = NBLDA(rho=0, n_genes=50, quantile=None, library="selected").fit(Xtr, ytr)
    assert list(m.genes_) == top50("B")
    t = ref("B", "top50", "nblda_rho0_mle_test")
    assert rel(m.decision_function(Xte), t[["disc_N", "disc_T"]].to_numpy()) < 1e-6


@pytest.mark.parametrize("norm", ["deseq", "mle", "library", "tmm", "quantile"])
def test_nblda_normalizations_and_clone(cervical, norm):
    Xtr, ytr, Xte, yte = split_data(*cervical, "A", "top50")
    est = NBLDA(rho=0, size_factors=norm)
    m = clone(est).fit(Xtr, ytr)
    assert not hasattr(est, "rho_") and clone(est).get_params() == est.get_params()
    assert (m.predict(Xte) == yte.to_numpy()).mean() >= 0.75
    assert m.size_factors_.sum() == pytest.approx(1.0)
    with pytest.raises(ValueError, match="normalization"):
        NBLDA(normalization="bogus").fit(Xtr, ytr)


def test_nblda_noise_is_at_chance():
    """Random labels on NB noise, 20 stratified 80/20 splits, default (CV-tuned) rho."""
    bacc = noise_balanced_accuracy(NBLDA(random_state=0))
    assert abs(bacc.mean() - 0.5) <= 0.05, bacc


# ----------------------------------------------------------------------------------- PLDA
@pytest.mark.parametrize("split,features", SPLITS)
@pytest.mark.parametrize("transform", [True, False])
def test_plda_rho0_equals_poiclaclu(cervical, split, features, transform):
    """``Classify(x = t(Xtr), y = ytr, xte = t(Xte), rho = 0)`` (type "mle",
    transform = TRUE, alpha = FindBestTransform(x), alpha in ``log.txt``) ->
    ``plda_rho0_transform_{test,ds}.csv``; ``Classify(..., rho = 0, transform = FALSE)`` ->
    ``plda_rho0_notransform_{test,ds}.csv``."""
    Xtr, ytr, Xte, _ = split_data(*cervical, split, features)
    name = "transform" if transform else "notransform"
    m = PLDA(rho=0, transform=transform).fit(Xtr, ytr)
    if transform:
        alpha = log_value(split, features, r"PLDA alpha \(FindBestTransform on train\) = "
                                           r"([0-9.eE+-]+)")
        assert m.alpha_ == pytest.approx(alpha, rel=1e-10)
    ds = ref(split, features, f"plda_rho0_{name}_ds").set_index("gene").loc[m.genes_]
    assert np.max(np.abs(m.d_.to_numpy().T - ds[["d_N", "d_T"]].to_numpy())) < 1e-10
    t = ref(split, features, f"plda_rho0_{name}_test")
    assert (m.predict(Xte) == t["pred"].to_numpy()).all()
    assert rel(m.decision_function(Xte), t[["disc_N", "disc_T"]].to_numpy()) < 1e-6


@pytest.mark.parametrize("split,features", SPLITS)
def test_plda_cv_rho_equals_poiclaclu_given_its_rho(cervical, split, features):
    """``set.seed(1); cv <- Classify.cv(x = t(Xtr), y = ytr)`` (5 folds, 30 rhos; the
    table in ``plda_cv_table.csv``); ``Classify(x, y, xte, rho = cv$bestrho)`` ->
    ``plda_cvrho_transform_test.csv`` (bestrho in ``log.txt``). R's folds come from its
    RNG (and use ``type = "quantile"`` inside, a package quirk): the rho grid (built from
    the ``"mle"`` null model of the transformed counts) is compared, and the predictions
    at R's rho."""
    Xtr, ytr, Xte, _ = split_data(*cervical, split, features)
    tab = ref(split, features, "plda_cv_table")
    m = PLDA(rho=None, random_state=0).fit(Xtr, ytr)
    grid = m.cv_results_["rho"].to_numpy()
    assert np.allclose(grid, tab["rho"].to_numpy(), rtol=1e-8, atol=0)
    best = log_value(split, features, r"PLDA Classify\.cv bestrho = ([0-9.eE+-]+)")
    rho = grid[np.argmin(np.abs(grid - best))]
    assert abs(rho / best - 1) < 1e-9
    m = PLDA(rho=rho).fit(Xtr, ytr)
    t = ref(split, features, "plda_cvrho_transform_test")
    assert (m.predict(Xte) == t["pred"].to_numpy()).all()
    assert rel(m.decision_function(Xte), t[["disc_N", "disc_T"]].to_numpy()) < 1e-6


@pytest.mark.parametrize("norm", ["deseq", "mle", "library", "tmm", "quantile"])
def test_plda_normalizations_selection_and_clone(cervical, norm):
    counts, y = cervical
    Xtr, ytr, Xte, yte = split_data(counts, y, "B", "all714")
    m = clone(PLDA(n_genes=30, size_factors=norm)).fit(Xtr, ytr)
    assert len(m.genes_) == 30
    assert (m.predict(Xte) == yte.to_numpy()).mean() >= 0.75


def test_plda_noise_is_at_chance():
    """Random labels on NB noise, 20 stratified 80/20 splits, CV-tuned rho."""
    bacc = noise_balanced_accuracy(PLDA(rho=None, random_state=0))
    assert abs(bacc.mean() - 0.5) <= 0.05, bacc


def test_size_factors_from_all_genes_with_gene_selection():
    """With n_genes selecting a few strongly DE genes, size factors from those genes alone
    (library="selected", what R computes when handed the selected-gene matrix) make the
    up-regulated class look like larger libraries and invert the class effects; the default
    (library="all") takes them from the whole training transcriptome."""
    from sklearn.metrics import balanced_accuracy_score
    from sklearn.model_selection import StratifiedShuffleSplit

    rng = np.random.default_rng(1)
    n, G = 60, 400
    y = pd.Series(np.repeat(["a", "b"], n // 2), index=[f"s{i}" for i in range(n)])
    mu = np.exp(rng.normal(np.log(100), 1.0, G))[None, :] * np.exp(rng.normal(0, .2, (n, 1)))
    mu = np.repeat(mu, 1, axis=0) * np.where((y.to_numpy() == "b")[:, None]
                                             & (np.arange(G) < 10)[None, :], 20.0, 1.0)
    X = pd.DataFrame(rng.negative_binomial(5, 5 / (5 + mu)), index=y.index,
                     columns=[f"g{j}" for j in range(G)])  # genes g0..g9: 20x up in "b"
    ba = {"all": [], "selected": []}
    for r in range(5):
        tr, te = next(StratifiedShuffleSplit(1, test_size=0.25, random_state=r).split(X, y))
        for lib in ba:
            m = NBLDA(n_genes=5, library=lib, rho=0).fit(X.iloc[tr], y.iloc[tr])
            ba[lib].append(balanced_accuracy_score(y.iloc[te], m.predict(X.iloc[te])))
            if lib == "all":  # the up-regulated class gets the larger effect
                assert (m.d_.loc["b"] > m.d_.loc["a"]).all()
            else:  # ... which the selected-gene size factors invert
                assert (m.d_.loc["b"] < m.d_.loc["a"]).any()
    assert np.mean(ba["all"]) >= 0.9
    assert np.mean(ba["all"]) > np.mean(ba["selected"]) + 0.2
    p = PLDA(n_genes=5).fit(X.iloc[tr], y.iloc[tr])
    assert balanced_accuracy_score(y.iloc[te], p.predict(X.iloc[te])) >= 0.8
    m = NBLDA(n_genes=5, rho=0).fit(X.iloc[tr], y.iloc[tr])
    with pytest.raises(ValueError, match="library='selected'"):
        m.predict(X.iloc[te, :50])  # size factors need every training gene
    with pytest.raises(ValueError, match="library must be"):
        NBLDA(n_genes=5, library="some").fit(X, y)
