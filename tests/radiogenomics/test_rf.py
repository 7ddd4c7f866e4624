"""RFGenomics / RFRadiogenomics: chance on noise, imaging features used, class weights,
clone, and ``max_features`` tuned by an inner CV inside ``fit`` (training samples only)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from baseline_helpers import nb_noise, noise_balanced_accuracy
from sklearn.base import clone

from radiogenomics.classifiers import RFGenomics, RFRadiogenomics
from radiogenomics.classifiers._rf import mtry_grid


def test_rfgenomics_noise_is_at_chance():
    """Random labels on NB noise, 20 stratified 80/20 splits (all 300 genes; max_features
    fixed to keep the test short, its inner-CV tuning is tested below)."""
    est = RFGenomics(n_genes=None, n_estimators=50, max_features="sqrt", random_state=0)
    bacc = noise_balanced_accuracy(est, p=300)
    assert abs(bacc.mean() - 0.5) <= 0.05, bacc


def test_rfradiogenomics_noise_is_at_chance():
    counts, y = nb_noise(n=60, p=300, seed=5)
    rng = np.random.default_rng(5)
    feats = pd.DataFrame(rng.normal(size=(60, 3)), index=counts.index, columns=["f1", "f2", "f3"])
    from sklearn.metrics import balanced_accuracy_score
    from sklearn.model_selection import StratifiedShuffleSplit
    out = []
    for tr, te in StratifiedShuffleSplit(20, test_size=0.2, random_state=0).split(counts, y):
        m = RFRadiogenomics(n_genes=None, n_estimators=50, max_features="sqrt",
                            random_state=0).fit(counts.iloc[tr], y.iloc[tr],
                                                features=feats.iloc[tr])
        out.append(balanced_accuracy_score(
            y.iloc[te], m.predict(counts.iloc[te], features=feats.iloc[te])))
    assert abs(np.mean(out) - 0.5) <= 0.05, out


def _informative_features():
    counts, y = nb_noise(n=60, p=40, seed=3)
    rng = np.random.default_rng(3)
    feats = pd.DataFrame({"vol_ratio": (y == "b").to_numpy() * 2.0 + rng.normal(0, 0.3, 60),
                          "noise": rng.normal(size=60)}, index=counts.index)
    return counts, y, feats


def test_rfradiogenomics_uses_imaging_features():
    counts, y, feats = _informative_features()
    m = RFRadiogenomics(n_genes=None, n_estimators=100, max_features=5,
                        random_state=0).fit(counts.iloc[:45], y.iloc[:45],
                                            features=feats.iloc[:45])
    assert "vol_ratio" in m.design_columns_
    assert m.feature_importances_.idxmax() == "vol_ratio"
    acc = (m.predict(counts.iloc[45:], features=feats.iloc[45:]) == y.iloc[45:]).mean()
    g = RFGenomics(n_genes=None, n_estimators=100, max_features=5,
                   random_state=0).fit(counts.iloc[:45], y.iloc[:45])
    acc_g = (g.predict(counts.iloc[45:]) == y.iloc[45:]).mean()
    assert acc >= 0.9 and acc > acc_g
    with pytest.raises(ValueError, match="features"):
        m.predict(counts.iloc[45:])


def test_class_weight_is_passed_to_the_forest():
    counts, y, _ = _informative_features()
    m = RFGenomics(n_genes=5, n_estimators=20, max_features=2, class_weight="balanced",
                   random_state=0)
    m.fit(counts, y)
    assert m.forest_.class_weight == "balanced"
    assert len(m.genes_) == 5


def test_clone_and_params():
    est = RFRadiogenomics(n_genes=7, n_estimators=30, cv=4, impute="median", random_state=2)
    c = clone(est)
    assert c.get_params() == est.get_params()
    assert not hasattr(c, "forest_")


@pytest.mark.parametrize("backend", ["numba", "sklearn"])
def test_max_features_tuned_by_inner_cv_inside_fit(monkeypatch, backend):
    """The inner CV runs inside ``fit`` on the training samples only and picks
    ``max_features`` from :func:`mtry_grid` (both backends split with StratifiedKFold)."""
    counts, y, _ = _informative_features()
    import sklearn.model_selection as ms

    seen = []
    real_split = ms.StratifiedKFold.split

    def spy(self, X, yy=None, groups=None):
        seen.append(np.asarray(X).shape[0])
        return real_split(self, X, yy, groups)

    monkeypatch.setattr(ms.StratifiedKFold, "split", spy)
    m = RFGenomics(n_genes=None, n_estimators=30, tune_n_estimators=10, cv=3,
                   random_state=0, backend=backend).fit(counts.iloc[:40], y.iloc[:40])
    assert seen and set(seen) == {40}  # tuned on the 40 training samples passed to fit
    assert list(m.cv_results_["max_features"]) == mtry_grid(counts.shape[1])
    best = m.cv_results_.loc[m.cv_results_["mean_score"].idxmax(), "max_features"]
    assert m.best_params_["max_features"] == best
    assert m.forest_.max_features == best
    # fixed max_features: nothing tuned
    m2 = RFGenomics(n_genes=None, n_estimators=10, max_features=3, random_state=0,
                    backend=backend)
    assert m2.fit(counts, y).cv_results_ is None


def test_design_is_log2_cpm_with_each_samples_library():
    """The forest sees log2(CPM + 1) of the selected genes, CPM = 1e6 * count / L_i with
    L_i the sample's total over all its genes (edgeR's ``cpm()`` of the whole matrix, as
    the R reference); library="selected" takes L_i over the selected genes only."""
    counts, y = nb_noise(n=40, p=60, seed=11)
    m = RFGenomics(n_genes=5, n_estimators=10, max_features=2, random_state=0).fit(counts, y)
    sel = counts[m.genes_].to_numpy(dtype=float)
    lib = counts.to_numpy(dtype=float).sum(axis=1)
    exp = np.log2(sel / lib[:, None] * 1e6 + 1.0)
    Z = m._design(counts[m.genes_], lib, None, None).to_numpy()
    np.testing.assert_allclose(Z, exp, rtol=1e-12)
    # a sample sequenced twice as deep (every count doubled) gets the same prediction
    deeper = counts.copy()
    deeper.iloc[:10] *= 2
    np.testing.assert_array_equal(m.predict_proba(deeper.iloc[:10]),
                                  m.predict_proba(counts.iloc[:10]))
    # library="selected": the library is the selected genes' total
    ms = RFGenomics(n_genes=5, n_estimators=10, max_features=2, random_state=0,
                    library="selected").fit(counts, y)
    Zs = ms._design(counts[ms.genes_], ms._libs(counts[ms.genes_], counts), None, None)
    np.testing.assert_allclose(Zs.to_numpy(), np.log2(sel / sel.sum(1, keepdims=True) * 1e6 + 1))
    # predict needs every gene seen in fit with library="all" (the library sizes)
    with pytest.raises(ValueError, match="genes seen in fit"):
        m.predict(counts[m.genes_])
    assert ms.predict(counts[ms.genes_]).shape == (40,)
    with pytest.raises(ValueError, match="library must be"):
        RFGenomics(n_genes=5, library="some").fit(counts, y)
