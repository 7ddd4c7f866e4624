"""NearestShrunkenCentroid against CRAN pamr 1.57 (``scripts/cervical.R``, part d).

R calls (per split and gene set, ``genes`` = all 714 or the edgeR top 50)::

    dat <- list(x = log2(Xtr + 1), y = ytr, geneid = genes, genenames = genes)
    pf <- pamr.train(dat)
    set.seed(1); pcv <- pamr.cv(pf, dat)
    best.thr <- max(pcv$threshold[pcv$error == min(pcv$error)])
    pamr.predict(pf, log2(Xte + 1), threshold, type = "class" / "posterior" / "centroid")
"""

from __future__ import annotations

import numpy as np
import pytest
from baseline_helpers import SPLITS, noise_balanced_accuracy, ref, split_data, top50
from sklearn.base import clone

from radiogenomics.classifiers import NearestShrunkenCentroid
from radiogenomics.de import DEGeneSelector


@pytest.mark.parametrize("split,features", SPLITS)
def test_centroids_and_predictions_equal_pamr_at_threshold_1(cervical, split, features):
    """``pf <- pamr.train(list(x = log2(Xtr + 1), y = ytr))``;
    ``pamr.predict(pf, log2(Xte + 1), threshold = 1.0, type = "centroid")`` (with
    ``pf$centroids``, ``pf$centroid.overall``, ``pf$sd``) -> ``pamr_centroids_thr1.0.csv``;
    ``type = "class"`` / ``"posterior"`` -> ``pamr_thr_1.0_test.csv``."""
    Xtr, ytr, Xte, _ = split_data(*cervical, split, features)
    m = NearestShrunkenCentroid(threshold=1.0).fit(Xtr, ytr)
    c = ref(split, features, "pamr_centroids_thr1.0").set_index("gene").loc[m.genes_]
    assert np.max(np.abs(m.shrunken_centroids_.to_numpy()
                         - c[["shrunken_N", "shrunken_T"]].to_numpy())) < 1e-6
    assert np.max(np.abs(m.centroids_.to_numpy()
                         - c[["centroid_N", "centroid_T"]].to_numpy())) < 1e-10
    assert np.max(np.abs(m.centroid_overall_.to_numpy() - c["centroid_overall"])) < 1e-10
    assert np.max(np.abs(m.sd_.to_numpy() - c["sd"].to_numpy())) < 1e-10
    t = ref(split, features, "pamr_thr_1.0_test")
    assert (m.predict(Xte) == t["pred"].to_numpy()).all()
    assert np.max(np.abs(m.predict_proba(Xte) - t[["post_N", "post_T"]].to_numpy())) < 1e-8


@pytest.mark.parametrize("split,features", SPLITS)
def test_threshold_grid_equals_pamr_train(cervical, split, features):
    """``pf$threshold``, ``pf$nonzero`` of ``pamr.train(dat)`` (30 thresholds)
    -> ``pamr_train_table.csv``; our CV tunes over the same grid."""
    Xtr, ytr, _, _ = split_data(*cervical, split, features)
    m = NearestShrunkenCentroid(random_state=0).fit(Xtr, ytr)
    tab = ref(split, features, "pamr_train_table")
    grid = m.cv_results_["threshold"].to_numpy()
    assert len(grid) == len(tab)
    assert np.max(np.abs(grid - tab["threshold"].to_numpy())) < 1e-10
    nonzero = [NearestShrunkenCentroid(threshold=t).fit(Xtr, ytr).n_nonzero_ for t in grid]
    # at threshold 0 a gene with a zero class difference in floating point may count as
    # non-zero in R (697 vs 696 genes on split A); from the first positive threshold on the
    # gene counts are identical
    assert nonzero[1:] == tab["nonzero"].tolist()[1:]
    assert abs(nonzero[0] - tab["nonzero"].iloc[0]) <= 1
    assert m.threshold_ in set(grid)
    # the largest threshold of minimal CV error
    err = m.cv_results_["error"].to_numpy()
    assert m.threshold_ == grid[np.nonzero(err == err.min())[0].max()]


@pytest.mark.parametrize("split,features", SPLITS)
def test_predictions_equal_pamr_at_cv_best_threshold(cervical, split, features):
    """``set.seed(1); pcv <- pamr.cv(pf, dat)``;
    ``best.thr <- max(pcv$threshold[pcv$error == min(pcv$error)])``;
    ``pamr.predict(pf, log2(Xte + 1), best.thr, type = "class" / "posterior")``
    -> ``pamr_thr_cvbest_test.csv``. pamr's balanced folds come from R's RNG, so the
    threshold R chose is given; the CV itself is checked on its grid above."""
    Xtr, ytr, Xte, _ = split_data(*cervical, split, features)
    t = ref(split, features, "pamr_thr_cvbest_test")
    m = NearestShrunkenCentroid(threshold=float(t["threshold"].iloc[0])).fit(Xtr, ytr)
    assert (m.predict(Xte) == t["pred"].to_numpy()).all()
    assert np.max(np.abs(m.predict_proba(Xte) - t[["post_N", "post_T"]].to_numpy())) < 1e-8


def test_gene_selection_inside_fit_equals_edger_top50(cervical):
    """``rownames(topTags(exactTest(estimateTagwiseDisp(estimateCommonDisp(
    calcNormFactors(DGEList(Xtr, group = ytr))))), n = 50))`` -> ``top50_genes.csv``;
    ``n_genes=50, quantile=None`` selects them inside ``fit`` and then equals pamr on them."""
    counts, y = cervical
    Xtr, ytr, Xte, _ = split_data(counts, y, "A", "all714")
    m = NearestShrunkenCentroid(threshold=1.0, n_genes=50, quantile=None).fit(Xtr, ytr)
    assert list(m.genes_) == top50("A")
    t = ref("A", "top50", "pamr_thr_1.0_test")
    assert (m.predict(Xte) == t["pred"].to_numpy()).all()
    assert np.max(np.abs(m.predict_proba(Xte) - t[["post_N", "post_T"]].to_numpy())) < 1e-8


def test_default_selector_is_the_nb_models(cervical):
    counts, y = cervical
    m = NearestShrunkenCentroid(threshold=1.0, n_genes=12).fit(counts, y)
    sel = DEGeneSelector(n_genes=12, method="exact", quantile=0.25).fit(counts, y)
    assert list(m.genes_) == list(sel.genes_)
    assert m.n_features_in_ == counts.shape[1] and m.shrunken_centroids_.shape == (12, 2)
    assert NearestShrunkenCentroid(n_genes=None).get_params()["n_genes"] is None


@pytest.mark.parametrize("norm", ["deseq", "mle", "library", "tmm", "quantile"])
def test_normalizations_and_clone(cervical, norm):
    counts, y = cervical
    Xtr, ytr, Xte, yte = split_data(counts, y, "B", "top50")
    est = NearestShrunkenCentroid(threshold=1.0, size_factors=norm)
    m = clone(est).fit(Xtr, ytr)
    assert est.get_params() == clone(est).get_params()
    assert not hasattr(est, "threshold_")
    assert (m.predict(Xte) == yte.to_numpy()).mean() >= 0.75
    p = m.predict_proba(Xte)
    assert np.allclose(p.sum(axis=1), 1.0)
    with pytest.raises(ValueError):
        NearestShrunkenCentroid(normalization="bogus").fit(Xtr, ytr)


def test_noise_is_at_chance():
    """Random labels on NB noise: 20 stratified 80/20 splits, mean balanced accuracy 0.5."""
    bacc = noise_balanced_accuracy(NearestShrunkenCentroid(random_state=0))
    assert abs(bacc.mean() - 0.5) <= 0.05, bacc
