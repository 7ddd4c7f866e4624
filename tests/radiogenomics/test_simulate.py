"""Tests of the simulators: the radiogenomics-NB truth is recoverable, the parametric LGG
cohort (``kind="parametric"``) is sane. The default plasmode cohort: test_plasmode.py."""

import numpy as np
import pandas as pd
import pytest

from radiogenomics.datasets import (
    data_dir,
    load_lgg_radiogenomics,
    load_tcga_lgg,
    simulate_radiogenomic_cohort,
)
from radiogenomics.glm import nb_glm_fit


def test_simulate_shapes_and_reproducible():
    a = simulate_radiogenomic_cohort(n_samples=30, n_genes=80, n_features=3, n_informative=5,
                                     classes=("x", "y", "z"), random_state=3)
    b = simulate_radiogenomic_cohort(n_samples=30, n_genes=80, n_features=3, n_informative=5,
                                     classes=("x", "y", "z"), random_state=3)
    pd.testing.assert_frame_equal(a.counts, b.counts)
    assert a.counts.shape == (30, 80) and a.features.shape == (30, 3)
    assert a.y.value_counts().to_dict() == {"x": 10, "y": 10, "z": 10}
    assert (a.counts.to_numpy() >= 0).all() and a.counts.dtypes.eq(np.int64).all()
    assert set(a.truth["coef"]) == {"x", "y", "z"}
    assert a.truth["coef"]["x"].shape == (80, 4)
    assert len(a.truth["informative_genes"]) == 5
    assert "SIMULATED" in a.description
    # non-informative genes share their coefficients across classes
    other = a.counts.columns.difference(a.truth["informative_genes"])
    np.testing.assert_array_equal(a.truth["coef"]["x"].loc[other], a.truth["coef"]["z"].loc[other])
    c = simulate_radiogenomic_cohort(n_samples=30, n_genes=80, random_state=4)
    assert not c.counts.equals(a.counts.iloc[:, :80])


def test_simulated_means_and_dispersion():
    d = simulate_radiogenomic_cohort(n_samples=2000, n_genes=3, n_features=1, n_informative=0,
                                     n_imaging_genes=0, dispersion=0.5, random_state=0)
    Y = d.counts.to_numpy()
    mu = d.truth["mu"].to_numpy()
    # E y = mu and Var y = mu + phi mu^2 (pooled Pearson statistics)
    assert abs(np.mean((Y - mu) / np.sqrt(mu + 0.5 * mu**2))) < 0.05
    assert abs(np.mean((Y - mu) ** 2 / (mu + 0.5 * mu**2)) - 1) < 0.15


def test_coefficient_recovery_and_se_coverage():
    """nb_glm_fit on the simulated data recovers the true per-class coefficients."""
    d = simulate_radiogenomic_cohort(n_samples=600, n_genes=40, n_features=3, n_informative=40,
                                     effect=1.0, random_state=11)
    log_s = np.log(d.truth["size_factors"].to_numpy())
    phi = d.truth["dispersion"].to_numpy()
    z2, errs = [], []
    for c, true in d.truth["coef"].items():
        rows = (d.y == c).to_numpy()
        X = np.column_stack([np.ones(rows.sum()), d.features.to_numpy()[rows]])
        fit = nb_glm_fit(d.counts.to_numpy()[rows], X, log_s[rows], phi)
        assert fit.converged.all()
        err = fit.coef - true.to_numpy()
        errs.append(np.abs(err))
        z2.append((err / fit.se) ** 2)
    errs, z2 = np.concatenate(errs), np.concatenate(z2)
    assert errs[:, 0].mean() < 0.05      # intercepts
    assert errs[:, 1:].mean() < 0.05     # slopes
    coverage = np.mean(z2 < 1.96**2)     # 95% Wald intervals
    assert 0.9 < coverage <= 1.0


def test_oracle_is_informative():
    d = simulate_radiogenomic_cohort(n_samples=100, n_genes=100, effect=1.5, random_state=2)
    lp = d.oracle_log_proba()
    assert np.allclose(np.exp(lp).sum(axis=1), 1.0)
    assert (lp.idxmax(axis=1) == d.y).mean() > 0.9


def test_simulate_bad_input():
    with pytest.raises(ValueError, match="two labels"):
        simulate_radiogenomic_cohort(classes=("A",))
    with pytest.raises(ValueError, match="n_informative"):
        simulate_radiogenomic_cohort(n_genes=10, n_informative=20)


@pytest.fixture(scope="module")
def lgg():
    """The earlier fully parametric cohort (the default is now the plasmode, test_plasmode.py)."""
    return load_lgg_radiogenomics("IDH", kind="parametric")


def test_lgg_cohort(lgg):
    vol = load_tcga_lgg().volumes
    assert lgg.counts.shape == (64, 20000)
    assert "TCGA-DU-7014" not in lgg.counts.index and "TCGA-DU-7014" in vol.index
    assert lgg.y.value_counts().to_dict() == {"Mutant": 53, "WT": 11}
    assert list(lgg.labels.columns) == ["IDH", "codel_1p19q", "ATRX"]
    assert lgg.labels.notna().all().all()
    assert list(lgg.features.columns) == ["ET/NCR", "ET/(ET+NCR)", "ET/ED", "ET/WT", "ED/NCR",
                                          "ED/(ET+NCR)", "ED/WT", "NCR/WT"]
    assert not np.isinf(lgg.features.to_numpy()).any()
    v = vol.loc[lgg.features.index]
    # real ratios; a zero denominator gives NaN
    np.testing.assert_allclose(lgg.features["ED/WT"], v.ED / v.WT)
    assert lgg.features["ET/ED"].isna().sum() == int((v.ED == 0).sum()) == 1
    assert {"sex", "age", "os_months", "os_event"} <= set(lgg.clinical.columns)
    assert "semi-synthetic (parametric)" in lgg.description and "SIMULATED" in lgg.description
    assert lgg.truth["kind"] == "parametric"
    assert "parametric" in (data_dir() / "lgg_radiogenomics" / "PROVENANCE.md").read_text()
    pool = pd.read_csv(data_dir() / "lgg_radiogenomics" / "dispersions.csv")["dispersion"]
    assert set(np.round(lgg.truth["dispersion"], 10)) <= set(np.round(pool, 10))
    assert lgg.counts.index.equals(lgg.y.index) and lgg.counts.index.equals(lgg.features.index)


def test_lgg_deterministic_and_targets(lgg):
    again = load_lgg_radiogenomics("1p19q", n_genes=20000, kind="parametric")
    assert again.counts.index.equals(lgg.counts.index)
    assert again.counts.columns.equals(lgg.counts.columns)
    assert np.array_equal(again.counts.to_numpy(), lgg.counts.to_numpy())
    assert again.y.name == "codel_1p19q" and set(again.y) == {"codel", "non-codel"}
    assert load_lgg_radiogenomics(n_genes=500, kind="parametric").y is None
    with pytest.raises(ValueError, match="target must be one of"):
        load_lgg_radiogenomics("MGMT")


def test_lgg_status_genes_are_differential(lgg):
    """The status genes of IDH really differ between IDH groups (log-linear truth)."""
    genes = lgg.truth["status_genes"]["IDH"]
    eff = lgg.truth["status_effect"].loc[genes, "IDH"].to_numpy()
    cpm = np.log((lgg.counts[genes] + 0.5).div(lgg.counts.sum(axis=1), axis=0))
    mut = (lgg.y == "Mutant").to_numpy()
    diff = cpm[mut].mean() - cpm[~mut].mean()
    assert np.corrcoef(diff, eff)[0, 1] > 0.5


def test_datasets_package_public_names_and_lazy_simulators():
    """``radiogenomics.datasets`` is a package: its public names are unchanged, the real
    loaders are cheap to import (the simulators load on first use), and the bundled cohort's
    ratios are imaging's (one formula, ``imaging.volumes.volume_ratios``)."""
    import subprocess
    import sys

    import radiogenomics.datasets as ds

    assert sorted(ds.__all__) == sorted([
        "data_dir", "load_cervical", "load_tcga_lgg", "TCGALGG", "load_lgg_radiogenomics",
        "load_humangender", "thin_counts", "simulate_radiogenomic_cohort", "simulate_ich_cohort"])
    for name in ds.__all__:
        assert callable(getattr(ds, name)), name
    code = ("import sys, radiogenomics.datasets as d; d.load_cervical; "
            "assert 'radiogenomics.datasets._plasmode' not in sys.modules; "
            "d.load_lgg_radiogenomics; assert 'radiogenomics.datasets._plasmode' in sys.modules")
    subprocess.run([sys.executable, "-c", code], check=True)
    from imaging.volumes import volume_ratios

    lgg = load_lgg_radiogenomics(n_genes=5, kind="parametric")
    vol = load_tcga_lgg().volumes.loc[lgg.features.index]
    pd.testing.assert_frame_equal(lgg.features, volume_ratios(vol), check_names=False)
