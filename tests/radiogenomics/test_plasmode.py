"""Binomial thinning against known truth, and the plasmode LGG cohort."""

import numpy as np
import pandas as pd
import pytest

from radiogenomics.datasets import (
    data_dir,
    load_humangender,
    load_lgg_radiogenomics,
    load_tcga_lgg,
    thin_counts,
)
from radiogenomics.datasets._plasmode import (
    PLASMODE_EFFECT_SCALE,
    make_lgg_plasmode,
    normal_scores,
    pair_by_sex,
)
from radiogenomics.glm import nb_glm_fit

# ------------------------------------------------------------------------- thin_counts


def test_thinning_is_binomial_with_the_stated_probability():
    """Y' | Y ~ Binomial(Y, exp(eta - max_i eta)): standardised residuals are N(0, 1)-like."""
    rng = np.random.default_rng(0)
    n, G = 6, 30000
    Y = rng.integers(0, 400, (n, G))
    eta = rng.normal(0, 1.0, (n, G))
    Yt = thin_counts(Y, eta, random_state=1)
    q = np.exp(eta - eta.max(axis=0))
    assert (Yt <= Y).all() and (Yt >= 0).all() and Yt.dtype == np.int64
    # the sample with the largest effect keeps its counts (q = 1)
    top = eta.argmax(axis=0)
    np.testing.assert_array_equal(Yt[top, np.arange(G)], Y[top, np.arange(G)])
    m, v = Y * q, Y * q * (1 - q)
    ok = v > 0
    r = (Yt - m)[ok] / np.sqrt(v[ok])
    assert abs(r.mean()) < 0.01           # E[Y'] = Y q
    assert abs(r.var() - 1) < 0.02        # Var[Y'] = Y q (1 - q)
    # and overall E[Y'] / E[Y q]
    assert abs(Yt.sum() / m.sum() - 1) < 0.002


def test_log_fold_change_recovered_by_nb_glm():
    """NB base counts, thinned with a two-group design: the NB GLM (true dispersion) recovers
    the log fold changes (thinning an NB(mu, phi) gives NB(q mu, phi)), with Wald coverage."""
    rng = np.random.default_rng(5)
    n, G, phi = 300, 400, 0.1
    mu = np.exp(rng.normal(np.log(200), 1.0, G))[None, :] * np.ones((n, 1))
    shape = 1 / phi
    Y = rng.poisson(rng.gamma(shape, mu / shape))
    x = np.repeat([0.0, 1.0], n // 2)
    b = rng.normal(0, 0.7, G)
    b[: G // 4] = 0.0
    Yt = thin_counts(Y, np.outer(x, b), random_state=2)
    X = np.column_stack([np.ones(n), x])
    fit = nb_glm_fit(Yt, X, 0.0, np.full(G, phi))
    assert fit.converged.all()
    err = fit.coef[:, 1] - b
    assert np.abs(err).mean() < 0.05
    cover = np.mean(np.abs(err / fit.se[:, 1]) < 1.96)
    assert 0.91 < cover <= 0.99
    # the null genes stay null
    assert np.abs(fit.coef[: G // 4, 1]).mean() < 0.05


def test_zero_or_gene_constant_effects_leave_counts_unchanged():
    rng = np.random.default_rng(3)
    Y = rng.integers(0, 1000, (10, 50))
    np.testing.assert_array_equal(thin_counts(Y, np.zeros((10, 50)), random_state=0), Y)
    np.testing.assert_array_equal(thin_counts(Y, random_state=0), Y)
    # the same effect in every sample of a gene is no differential signal: unchanged
    np.testing.assert_array_equal(thin_counts(Y, rng.normal(size=50), random_state=0), Y)
    # only the genes with effects change
    eta = np.zeros((10, 50))
    eta[:5, 7] = -1.0
    Yt = thin_counts(Y, eta, random_state=0)
    np.testing.assert_array_equal(np.delete(Yt, 7, axis=1), np.delete(Y, 7, axis=1))
    assert (Yt[:5, 7] < Y[:5, 7]).all()


def test_reproducible_and_dataframe_aligned():
    rng = np.random.default_rng(4)
    Y = pd.DataFrame(rng.integers(0, 500, (8, 6)), index=list("abcdefgh"),
                     columns=[f"g{j}" for j in range(6)])
    eta = pd.DataFrame(rng.normal(size=(8, 6)), index=Y.index, columns=Y.columns)
    a = thin_counts(Y, eta, random_state=7)
    b = thin_counts(Y, eta, random_state=7)
    c = thin_counts(Y, eta, random_state=8)
    pd.testing.assert_frame_equal(a, b)
    assert not a.equals(c)
    assert a.index.equals(Y.index) and a.columns.equals(Y.columns)
    # a shuffled effect table is aligned by labels; missing genes get zero effect
    shuffled = eta.iloc[::-1, ::-1]
    pd.testing.assert_frame_equal(thin_counts(Y, shuffled, random_state=7), a)
    part = thin_counts(Y, eta[["g0"]], random_state=7)
    pd.testing.assert_frame_equal(part.drop(columns="g0"), Y.drop(columns="g0"))


def test_library_thinning():
    """l_i thins whole samples: relative=False halves sample 0, keeps sample 1."""
    Y = np.full((2, 20000), 100)
    Yt = thin_counts(Y, library_log_effects=[np.log(0.5), 0.0], relative=False, random_state=0)
    assert abs(Yt[0].mean() / 100 - 0.5) < 0.005
    np.testing.assert_array_equal(Yt[1], Y[1])
    # relative: the same library effects up to a constant give the same thinning
    Yr = thin_counts(Y, library_log_effects=[0.0, -np.log(0.5)], random_state=0)
    np.testing.assert_array_equal(Yr, Yt)


@pytest.mark.parametrize(
    ("counts", "eta", "kw", "match"),
    [
        (np.array([[1, -1]]), None, {}, "non-negative"),
        (np.array([[1.5, 2]]), None, {}, "integers"),
        (np.array([[1, np.nan]]), None, {}, "NaN"),
        (np.array([1, 2]), None, {}, "2-D"),
        (np.ones((2, 3), int), np.ones((3, 2)), {}, "shape"),
        (np.ones((2, 3), int), np.array([[0, np.inf, 0], [0, 0, 0]]), {}, "log_effects contain"),
        (np.ones((2, 3), int), np.ones((2, 3)), {"relative": False}, "relative=False"),
        (np.ones((2, 3), int), None, {"library_log_effects": [0.0]}, "one value per sample"),
    ],
)
def test_thin_counts_bad_input(counts, eta, kw, match):
    with pytest.raises(ValueError, match=match):
        thin_counts(counts, eta, **kw)


def test_thin_counts_unknown_labels():
    Y = pd.DataFrame([[1, 2]], index=["s1"], columns=["g1", "g2"])
    with pytest.raises(ValueError, match="genes .*'gX'"):
        thin_counts(Y, pd.DataFrame([[0.0]], index=["s1"], columns=["gX"]))


# ------------------------------------------------------------------------- the cohort


@pytest.fixture(scope="module")
def plasmode():
    return load_lgg_radiogenomics("IDH")


def test_humangender_shipped():
    counts, sex = load_humangender()
    assert counts.shape == (85, 10101)
    assert sex.value_counts().to_dict() == {"male": 44, "female": 41}
    samples = pd.read_csv(data_dir() / "humangender" / "samples.csv", index_col=0)
    np.testing.assert_array_equal(counts.sum(axis=1), samples.loc[counts.index, "source_lib_size"])
    prov = (data_dir() / "humangender" / "PROVENANCE.md").read_text()
    assert "MIT" in prov and "Lappalainen" in prov
    # a real sex-linked gene: RPS4Y1 (Y) is near zero in females
    rps4y1 = counts["ENSG00000129824"]
    assert rps4y1[sex == "female"].median() < 10 < 1000 < rps4y1[sex == "male"].median()


def test_plasmode_is_the_default(plasmode):
    d = plasmode
    assert d.counts.shape == (64, 10101)
    assert d.truth["kind"] == "plasmode"
    assert "semi-synthetic (plasmode)" in d.description
    assert d.y.value_counts().to_dict() == {"Mutant": 53, "WT": 11}
    assert d.counts.dtypes.eq(np.int64).all()
    # the real patients, labels, ratios and clinical data of the parametric cohort
    par = load_lgg_radiogenomics("IDH", n_genes=50, kind="parametric")
    pd.testing.assert_frame_equal(d.features, par.features)
    pd.testing.assert_frame_equal(d.labels, par.labels)
    pd.testing.assert_frame_equal(d.clinical, par.clinical)
    assert d.counts.index.equals(d.features.index)
    prov = (data_dir() / "lgg_radiogenomics" / "PROVENANCE.md").read_text()
    assert "semi-synthetic (plasmode)" in prov


def test_pairing_same_sex_distinct_deterministic(plasmode):
    pairing = plasmode.truth["pairing"]
    _, base_sex = load_humangender()
    sex = plasmode.clinical["sex"]
    assert sex.value_counts().to_dict() == {"female": 38, "male": 26}
    assert pairing.is_unique and pairing.index.equals(plasmode.counts.index)
    np.testing.assert_array_equal(base_sex.loc[pairing.to_numpy()].to_numpy(), sex.to_numpy())
    pd.testing.assert_series_equal(pair_by_sex(sex, base_sex), pairing)
    with pytest.raises(ValueError, match="only 2 female"):
        pair_by_sex(pd.Series(["female"] * 3, index=list("abc")),
                    pd.Series(["female", "female", "male"], index=list("xyz")))


def test_unaffected_genes_are_the_real_counts(plasmode):
    base, _ = load_humangender()
    t = plasmode.truth
    paired = base.loc[t["pairing"].to_numpy()].set_axis(plasmode.counts.index)
    affected = set().union(*t["status_genes"].values())
    other = [g for g in plasmode.counts.columns if g not in affected]
    assert len(other) == 10101 - len(affected)
    pd.testing.assert_frame_equal(plasmode.counts[other], paired[other], check_names=False)
    # status genes are thinned, never increased
    aff = sorted(affected)
    assert (plasmode.counts[aff].to_numpy() <= paired[aff].to_numpy()).all()


def test_effects_follow_the_documented_design(plasmode):
    t = plasmode.truth
    sizes = {k: len(v) for k, v in t["status_genes"].items()}
    assert sizes == {k: round(f * 10101) for k, f in t["de_fraction"].items()}
    sets = [set(v) for v in t["status_genes"].values()]
    assert not (sets[0] & sets[1]) and not (sets[0] & sets[2]) and not (sets[1] & sets[2])
    d = t["status_effect"]
    for target, genes in t["status_genes"].items():
        only = t["slope_only_genes"][target]
        slope = t["slope_genes"][target]
        assert set(only) <= set(slope) <= set(genes)
        assert (d.loc[only, target] == 0).all()
        mean_genes = [g for g in genes if g not in set(only)]
        mags = d.loc[mean_genes, target].abs()
        assert (mags > 0).all()
        # |d| ~ scale * Gamma(4, 1/4): mean scale
        assert abs(mags.mean() / t["effect_scale"][target] - 1) < 0.25
        # class-specific slopes: two ratios per slope gene, different between classes
        sl = t["status_slopes"][target]
        assert len(sl) == 2
        a, b = (df.loc[slope] for df in sl.values())
        assert ((a != 0).sum(axis=1) == 2).all() and not np.allclose(a, b)
        others = [g for g in genes if g not in set(slope)]
        assert all((df.loc[others] == 0).all().all() for df in sl.values())


def test_log_effects_match_truth_and_slope_only_means_are_equal(plasmode):
    t = plasmode.truth
    eta = t["log_effects"]
    u = t["imaging_scores"]
    for target, pos in (("IDH", "Mutant"), ("codel_1p19q", "codel"), ("ATRX", "Mutant")):
        z = (plasmode.labels[target] == pos).to_numpy()
        genes = t["status_genes"][target]
        sl = t["status_slopes"][target]
        neg = next(c for c in sl if c != pos)
        uc = u.to_numpy() - np.where(z[:, None], u[z].mean().to_numpy(), u[~z].mean().to_numpy())
        expect = (z[:, None] * t["status_effect"].loc[genes, target].to_numpy()[None, :]
                  + np.where(z[:, None], uc @ sl[pos].loc[genes].to_numpy().T,
                             uc @ sl[neg].loc[genes].to_numpy().T))
        np.testing.assert_allclose(eta[genes].to_numpy(), expect, atol=1e-12)
        only = t["slope_only_genes"][target]
        e = eta[only]
        np.testing.assert_allclose(e[z].mean(), 0, atol=1e-12)
        np.testing.assert_allclose(e[~z].mean(), 0, atol=1e-12)
        assert e.abs().max().min() > 0


def test_status_effects_are_recovered(plasmode):
    """The observed log-CPM difference between status groups tracks the true effects."""
    d = plasmode
    lib = d.counts.sum(axis=1)
    for target, pos in (("IDH", "Mutant"), ("codel_1p19q", "codel"), ("ATRX", "Mutant")):
        genes = [g for g in d.truth["status_genes"][target]
                 if g not in set(d.truth["slope_only_genes"][target])]
        eff = d.truth["status_effect"].loc[genes, target].to_numpy()
        logcpm = np.log((d.counts[genes] + 0.5).div(lib, axis=0))
        z = (d.labels[target] == pos).to_numpy()
        diff = logcpm[z].mean() - logcpm[~z].mean()
        assert np.corrcoef(diff, eff)[0, 1] > 0.6, target
        slope = np.polyfit(eff, diff, 1)[0]
        assert 0.7 < slope < 1.3, target


def test_plasmode_deterministic_subset_and_errors(plasmode):
    again = load_lgg_radiogenomics("1p19q")
    pd.testing.assert_frame_equal(again.counts, plasmode.counts)
    assert again.y.name == "codel_1p19q"
    sub = load_lgg_radiogenomics(n_genes=2000)
    assert sub.y is None and sub.counts.shape == (64, 2000)
    pd.testing.assert_frame_equal(sub.counts, plasmode.counts[sub.counts.columns])
    assert set(sub.truth["status_genes"]["IDH"]) == (
        set(plasmode.truth["status_genes"]["IDH"]) & set(sub.counts.columns))
    with pytest.raises(ValueError, match="kind must be one of"):
        load_lgg_radiogenomics(kind="real")
    with pytest.raises(ValueError, match="exceeds the 10101 genes"):
        load_lgg_radiogenomics(n_genes=20000)
    with pytest.raises(ValueError, match="n_genes must be a positive integer"):
        load_lgg_radiogenomics(n_genes=0)


def test_effect_scale_controls_difficulty():
    """Larger effect scale, larger observed status differences; zero scale: base counts."""
    lgg = load_lgg_radiogenomics()
    feats, labels, sex = lgg.features, lgg.labels, lgg.clinical["sex"]
    zero = dict.fromkeys(PLASMODE_EFFECT_SCALE, 0.0)
    c0, t0 = make_lgg_plasmode(feats, labels, sex, effect_scale=zero)
    base, _ = load_humangender()
    np.testing.assert_array_equal(c0.to_numpy(), base.loc[t0["pairing"].to_numpy()].to_numpy())
    with pytest.raises(ValueError, match="effect_scale needs exactly the keys"):
        make_lgg_plasmode(feats, labels, sex, effect_scale={"IDH": 1.0})


def test_normal_scores():
    f = pd.DataFrame({"a": [3.0, 1.0, np.nan, 100.0], "b": [1.0, 2.0, 3.0, 4.0]})
    u = normal_scores(f)
    assert u.loc[2, "a"] == 0.0
    np.testing.assert_allclose(u["a"].iloc[[1, 0, 3]], [-0.9674, 0.0, 0.9674], atol=1e-4)
    assert u["b"].is_monotonic_increasing and abs(u["b"].sum()) < 1e-12


def test_tcga_patients_have_all_labels():
    vol = load_tcga_lgg().volumes
    d = load_lgg_radiogenomics(n_genes=10)
    assert "TCGA-DU-7014" not in d.counts.index and "TCGA-DU-7014" in vol.index
