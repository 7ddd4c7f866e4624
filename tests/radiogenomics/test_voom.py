"""limma ``voom`` (log-CPM and precision weights) against limma 3.54.1.

References: ``../shared/reference/cervical`` (copied, gzipped, to ``tests/data/baselines``),
produced by ``scripts/cervical.R`` and ``scripts/reference_edger.R``.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from radiogenomics.voom import lowess, voom, voom_fit

DATA = Path(__file__).resolve().parents[1] / "data" / "baselines"
SPLITS = [(s, f) for s in ("A", "B") for f in ("all714", "top50")]


def split_data(counts, y, split, features):
    """Train counts/labels of one reference split, on its gene set (R's ``Xtr``)."""
    sp = pd.read_csv(DATA / f"split_{split}.csv")
    tr = sp.loc[sp["set"] == "train", "sample"].tolist()
    genes = (list(counts.columns) if features == "all714"
             else pd.read_csv(DATA / f"split_{split}" / "top50_genes.csv")["gene"].tolist())
    return counts.loc[tr, genes], y[tr]


def r_matrix(path: Path) -> pd.DataFrame:
    """An R genes x samples CSV as samples x genes."""
    return pd.read_csv(path, index_col=0).T


@pytest.mark.parametrize("split,features", SPLITS)
def test_voom_nonorm_equals_limma(cervical, split, features):
    """``design <- model.matrix(~ ytr); v1 <- voom(Xtr, design)`` (lib.size = column sums,
    no normalisation factors) -> ``voom_nonorm_{E,weights}.csv``."""
    counts, y = cervical
    Xtr, ytr = split_data(counts, y, split, features)
    E, W = voom(Xtr, design=ytr)
    d = DATA / f"split_{split}" / features
    RE = r_matrix(d / "voom_nonorm_E.csv.gz").loc[Xtr.index, Xtr.columns]
    RW = r_matrix(d / "voom_nonorm_weights.csv.gz").loc[Xtr.index, Xtr.columns]
    assert np.max(np.abs(E.to_numpy() - RE.to_numpy())) < 1e-8
    assert np.max(np.abs(W.to_numpy() / RW.to_numpy() - 1.0)) < 1e-6


@pytest.mark.parametrize("split,features", SPLITS)
def test_voom_tmm_equals_limma(cervical, split, features):
    """``dg <- calcNormFactors(DGEList(Xtr), method = "TMM"); v2 <- voom(dg, design)``
    -> ``voom_TMM_{E,weights,libsizes}.csv``."""
    counts, y = cervical
    Xtr, ytr = split_data(counts, y, split, features)
    fit = voom_fit(Xtr, design=ytr, normalize="tmm")
    d = DATA / f"split_{split}" / features
    libs = pd.read_csv(d / "voom_TMM_libsizes.csv.gz", index_col=0).loc[Xtr.index]
    eff = (libs["lib.size"] * libs["norm.factors"]).to_numpy()
    assert np.allclose(fit.lib_size.to_numpy(), eff, rtol=1e-10)
    RE = r_matrix(d / "voom_TMM_E.csv.gz").loc[Xtr.index, Xtr.columns]
    RW = r_matrix(d / "voom_TMM_weights.csv.gz").loc[Xtr.index, Xtr.columns]
    assert np.max(np.abs(fit.E.to_numpy() - RE.to_numpy())) < 1e-8
    assert np.max(np.abs(fit.weights.to_numpy() / RW.to_numpy() - 1.0)) < 1e-6
    # the same through lib_size=
    E2, W2 = voom(Xtr, design=ytr, lib_size=pd.Series(eff, index=Xtr.index))
    assert np.max(np.abs(W2.to_numpy() / RW.to_numpy() - 1.0)) < 1e-6


def test_voom_full_data_equals_limma(cervical):
    """``y <- calcNormFactors(DGEList(counts, group = group), method = "TMM");
    v <- voom(y, model.matrix(~ group))`` on all 58 samples (``reference_edger.R``)
    -> ``voom_E.csv.gz``, ``voom_weights.csv.gz``."""
    counts, y = cervical
    E, W = voom(counts, design=y, normalize="tmm")
    RE = r_matrix(DATA / "voom_E.csv.gz").loc[counts.index, counts.columns]
    RW = r_matrix(DATA / "voom_weights.csv.gz").loc[counts.index, counts.columns]
    assert np.max(np.abs(E.to_numpy() - RE.to_numpy())) < 1e-8
    assert np.max(np.abs(W.to_numpy() / RW.to_numpy() - 1.0)) < 1e-6


def test_voom_design_matrix_equals_labels(cervical):
    counts, y = cervical
    X = np.column_stack([np.ones(len(y)), (y == "T").to_numpy(dtype=float)])
    E1, W1 = voom(counts, design=y)
    E2, W2 = voom(counts, design=X)
    assert np.allclose(W1.to_numpy(), W2.to_numpy(), rtol=1e-12)
    assert E1.equals(E2)


def test_voom_log_cpm_formula_and_shapes(cervical):
    counts, _ = cervical
    E, W = voom(counts.iloc[:, :40])
    lib = counts.iloc[:, :40].sum(axis=1).to_numpy()
    expect = np.log2((counts.iloc[:, :40].to_numpy() + 0.5) / (lib[:, None] + 1.0) * 1e6)
    assert np.allclose(E.to_numpy(), expect, rtol=0, atol=1e-12)
    assert E.index.equals(counts.index) and (W.to_numpy() > 0).all()


def test_lowess_matches_linear_data_exactly():
    # a straight line is reproduced by every local linear fit
    x = np.linspace(0, 10, 50)
    xs, fit = lowess(x, 3.0 - 0.5 * x, f=0.5)
    assert np.allclose(fit, 3.0 - 0.5 * xs, atol=1e-10)


def test_voom_rejects_bad_input(cervical):
    counts, y = cervical
    with pytest.raises(ValueError, match="normalize"):
        voom(counts, normalize="upper")
    bad = counts.copy()
    bad.iloc[0, 0] = -1
    with pytest.raises(ValueError, match="negative"):
        voom(bad)
    with pytest.raises(ValueError, match="residual"):
        voom(counts.iloc[[0, 29]], design=y.iloc[[0, 29]])


def test_voom_fit_result_contract(cervical, tmp_path):
    """VoomFit follows the result contract: per-gene mean-variance table, repr, save, plot."""
    import matplotlib

    matplotlib.use("Agg")
    from radiogenomics.results import Result

    counts, y = cervical
    fit = voom_fit(counts, design=y)
    assert isinstance(fit, Result)
    tab = fit.summary()
    assert list(tab.columns) == ["sx", "sy"] and list(tab.index) == list(counts.columns)
    assert "\n" not in repr(fit) and "<table" in fit._repr_html_()
    back = pd.read_csv(fit.save(tmp_path / "voom.csv"), index_col=0)
    np.testing.assert_allclose(back["sy"], fit.sy)
    assert fit.plot() is not None
