"""VoomNSC against MLSeq 2.25.0 ``voomNSC`` (``scripts/cervical.R``, part c).

MLSeq's ``classify()`` cannot take a fixed threshold, so the references call its internals::

    fitV <- MLSeq:::voomNSC.train(counts = Xtr, conditions = ytr, thresholds = 1.0,
                                  normalization = nm)            # nm in "TMM", "deseq"
    MLSeq:::predict.voomNSC(fitV, Xte, threshold = 1.0)

MLSeq scales the shrunken differences by its p x K ``se.scale`` matrix as a recycled
vector, ``t(t(delta.shrunk) * as.numeric(se.scale))`` (misaligned genes/classes);
``VoomNSC(mlseq_compat=True)`` reproduces that, the default uses the aligned formula.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from baseline_helpers import SPLITS, log_value, noise_balanced_accuracy, ref, split_data, top50
from sklearn.base import clone

import radiogenomics.classifiers._voomnsc as vn
from radiogenomics.classifiers import VoomNSC
from radiogenomics.classifiers._nsc import soft_shrink
from radiogenomics.datasets import load_cervical

NORMS = [("TMM", "tmm"), ("deseq", "deseq")]


def rel(a, b):
    return float(np.max(np.abs(np.asarray(a) / np.asarray(b) - 1.0)))


@pytest.mark.parametrize("split,features", SPLITS)
@pytest.mark.parametrize("nm,norm", NORMS)
def test_mlseq_compat_equals_mlseq_at_threshold_1(cervical, split, features, nm, norm):
    """``fitV <- MLSeq:::voomNSC.train(counts = Xtr, conditions = ytr, thresholds = 1.0,
    normalization = nm)``; ``vm <- MLSeq:::voomGSD(data.train = fitV$counts, data.test = Xte,
    group = fitV$conditions, norm.method = fitV$normalization)``;
    ``delta.shrunk <- t(t(soft.shrink(fitV$delta, 1)) * as.numeric(fitV$se.scale))``;
    ``dd <- diag.disc((vm$TestExp - fitV$weightedMean) / fitV$weightedSD.pooled,
    delta.shrunk, fitV$prior, posid)``; ``MLSeq:::predict.voomNSC(fitV, Xte, threshold = 1)``
    -> ``voomNSC_{nm}_thr1.0_{test,model}.csv``, ``voomNSC_{nm}_testExpr.csv``."""
    Xtr, ytr, Xte, _ = split_data(*cervical, split, features)
    m = VoomNSC(threshold=1.0, size_factors=norm, mlseq_compat=True).fit(Xtr, ytr)
    mo = ref(split, features, f"voomNSC_{nm}_thr1.0_model").set_index("gene").loc[m.genes_]
    expr = ref(split, features, f"voomNSC_{nm}_testExpr").set_index("gene").T
    assert np.max(np.abs(m.transform_test(Xte).to_numpy()
                         - expr.loc[Xte.index, m.genes_].to_numpy())) < 1e-8
    assert np.max(np.abs(m.centroid_overall_ - mo["weightedMean"])) < 1e-8
    assert np.max(np.abs(m.centroids_.to_numpy()
                         - mo[["centroid_N", "centroid_T"]].to_numpy())) < 1e-8
    assert rel(m.sd_, mo["sd_plus_offset"]) < 1e-8
    assert np.max(np.abs(m.se_scale_.to_numpy()
                         - mo[["se_scale_N", "se_scale_T"]].to_numpy())) < 1e-10
    assert np.max(np.abs(m.delta_.to_numpy() - mo[["delta_N", "delta_T"]].to_numpy())) < 1e-8
    assert np.max(np.abs(m.delta_shrunk_.to_numpy()
                         - mo[["delta_shrunk_N", "delta_shrunk_T"]].to_numpy())) < 1e-8
    nonzero = log_value(split, features, rf"voomNSC {nm} thr=1\.0 offset=[0-9.eE+-]+ "
                                         r"nonzero=(\d+)")
    assert m.n_nonzero_ == nonzero
    t = ref(split, features, f"voomNSC_{nm}_thr1.0_test")
    assert (m.predict(Xte) == t["pred"].to_numpy()).all()
    assert np.max(np.abs(m.decision_function(Xte) - t[["disc_N", "disc_T"]].to_numpy())) < 1e-6
    assert np.max(np.abs(m.predict_proba(Xte) - t[["prob_N", "prob_T"]].to_numpy())) < 1e-6


@pytest.mark.parametrize("split,features", SPLITS)
@pytest.mark.parametrize("nm,norm", NORMS)
def test_default_uses_aligned_se_scale(cervical, split, features, nm, norm):
    """Same R fit as above (``voomNSC_{nm}_thr1.0_model.csv``). The default applies
    ``se.scale[g, k]`` to gene g, class k: its shrunken differences equal
    ``soft.shrink(fitV$delta, 1) * fitV$se.scale`` (element-wise) from R's own columns, not
    MLSeq's recycled product, and it standardises with the same :math:`s_g + s_0` that
    the differences use. Its test predictions are then compared with MLSeq's."""
    Xtr, ytr, Xte, yte = split_data(*cervical, split, features)
    m = VoomNSC(threshold=1.0, size_factors=norm).fit(Xtr, ytr)
    mo = ref(split, features, f"voomNSC_{nm}_thr1.0_model").set_index("gene").loc[m.genes_]
    aligned = soft_shrink(mo[["delta_N", "delta_T"]].to_numpy(), 1.0) \
        * mo[["se_scale_N", "se_scale_T"]].to_numpy()
    assert np.max(np.abs(m.delta_shrunk_.to_numpy() - aligned)) < 1e-8
    mlseq = mo[["delta_shrunk_N", "delta_shrunk_T"]].to_numpy()
    assert np.max(np.abs(aligned - mlseq)) > 1e-3  # the MLSeq quirk matters on these data
    # sd: s_g + s_0 (the pooled weighted sd plus its median), as in the standardised delta
    assert np.allclose(m.sd_, m._model.stats["pooled"] + m._model.stats["s0"])
    t = ref(split, features, f"voomNSC_{nm}_thr1.0_test")
    agree = (m.predict(Xte) == t["pred"].to_numpy()).mean()
    acc = (m.predict(Xte) == yte.to_numpy()).mean()
    assert agree >= 16 / 18 and acc >= 0.8, (agree, acc)


@pytest.mark.parametrize("split,features", SPLITS)
@pytest.mark.parametrize("nm,norm", NORMS)
def test_threshold_grid_and_optimal_threshold_equal_mlseq(cervical, split, features, nm, norm):
    """``fitG <- MLSeq:::voomNSC.train(counts = Xtr, conditions = ytr, normalization = nm)``
    (30 thresholds) -> ``voomNSC_{nm}_grid_train.csv``; ``MLSeq:::predict.voomNSC(fitG,
    Xte)`` at ``fitG$opt.threshold`` (in ``log.txt``; chosen by MLSeq on training
    re-substitution) -> ``voomNSC_{nm}_optthr_test.csv``."""
    Xtr, ytr, Xte, _ = split_data(*cervical, split, features)
    g = ref(split, features, f"voomNSC_{nm}_grid_train")
    fit = VoomNSC(size_factors=norm, mlseq_compat=True, n_repeats=1, random_state=0)
    fit.fit(Xtr, ytr)
    grid = fit.cv_results_["threshold"].to_numpy()
    assert np.max(np.abs(grid - g["threshold"].to_numpy()[:len(grid)])) < 1e-10
    opt = log_value(split, features,
                    rf"voomNSC {nm} grid opt\.threshold \(train resubstitution\) = "
                    r"([0-9.eE+-]+)")
    thr = g["threshold"].to_numpy()[np.argmin(np.abs(g["threshold"].to_numpy() - opt))]
    m = VoomNSC(threshold=thr, size_factors=norm, mlseq_compat=True).fit(Xtr, ytr)
    assert m.n_nonzero_ == int(g.loc[g["threshold"] == thr, "nonzero"].iloc[0])
    t = ref(split, features, f"voomNSC_{nm}_optthr_test")
    assert (m.predict(Xte) == t["pred"].to_numpy()).all()


def test_gene_selection_inside_fit_equals_edger_top50(cervical):
    """``rownames(topTags(exactTest(...), n = 50))`` on the training samples, then as
    ``MLSeq:::voomNSC.train(Xtr[top50, ], ytr, thresholds = 1, normalization = "TMM")``."""
    Xtr, ytr, Xte, _ = split_data(*cervical, "A", "all714")
    m = VoomNSC(threshold=1.0, n_genes=50, quantile=None, mlseq_compat=True).fit(Xtr, ytr)
    assert list(m.genes_) == top50("A")
    t = ref("A", "top50", "voomNSC_TMM_thr1.0_test")
    assert (m.predict(Xte) == t["pred"].to_numpy()).all()


def test_cv_threshold_refits_voom_inside_each_fold(cervical, monkeypatch):
    """``threshold=None``: every CV fold re-runs normalisation, voom and the weighted
    centroids on its training part only (MLSeq fits them once on all training samples,
    held-out folds included)."""
    Xtr, ytr, _, _ = split_data(*cervical, "B", "top50")
    seen = []
    real = vn._VoomModel

    class Spy(real):
        def __init__(self, x, y, classes, norm, rows=None, tmm_cache=None, cols=None):
            seen.append(None if rows is None else np.asarray(rows).copy())
            super().__init__(x, y, classes, norm, rows=rows, tmm_cache=tmm_cache, cols=cols)

        def test_logcpm(self, xte, rows=None):
            if rows is not None:
                seen.append(("test", np.asarray(rows).copy(), self._rows))
            return super().test_logcpm(xte, rows)

    monkeypatch.setattr(vn, "_VoomModel", Spy)
    orig_init = Spy.__init__

    def init(self, x, y, classes, norm, rows=None, tmm_cache=None, cols=None):
        self._rows = None if rows is None else np.asarray(rows)
        orig_init(self, x, y, classes, norm, rows=rows, tmm_cache=tmm_cache, cols=cols)

    monkeypatch.setattr(Spy, "__init__", init)
    m = VoomNSC(size_factors="tmm", n_folds=5, n_repeats=2, random_state=1).fit(Xtr, ytr)
    fits = [s for s in seen if not isinstance(s, tuple)]
    tests = [s for s in seen if isinstance(s, tuple)]
    assert fits[0] is None  # the final model on all training samples
    assert len(fits) == 1 + 10 and len(tests) == 10
    for _, te_rows, tr_rows in tests:
        assert len(np.intersect1d(te_rows, tr_rows)) == 0  # held-out samples not in the fit
        assert len(te_rows) + len(tr_rows) == len(ytr)
    assert m.threshold_ in set(m.cv_results_["threshold"])
    err = m.cv_results_["error"].to_numpy()
    assert m.threshold_ == m.cv_results_["threshold"].to_numpy()[np.nonzero(
        err == err.min())[0].max()]


def test_cv_is_reproducible_and_tmm_cache_exact(cervical):
    Xtr, ytr, Xte, _ = split_data(*cervical, "A", "top50")
    a = VoomNSC(random_state=3).fit(Xtr, ytr)
    b = VoomNSC(random_state=3).fit(Xtr, ytr)
    pd.testing.assert_frame_equal(a.cv_results_, b.cv_results_)
    # a fold model built with the shared TMM cache equals one built from scratch
    tr = np.arange(0, len(ytr), 2)
    x = Xtr.to_numpy()
    classes = np.array(sorted(ytr.unique()))
    cache: dict = {}
    vn._VoomModel(x, ytr.to_numpy(), classes, "TMM", tmm_cache=cache)
    m1 = vn._VoomModel(x[tr], ytr.to_numpy()[tr], classes, "TMM", rows=tr, tmm_cache=cache)
    m2 = vn._VoomModel(x[tr], ytr.to_numpy()[tr], classes, "TMM")
    assert np.array_equal(m1.W, m2.W) and np.array_equal(m1.E, m2.E)


@pytest.mark.parametrize("norm", ["deseq", "mle", "library", "tmm", "quantile"])
def test_normalizations_and_clone(cervical, norm):
    Xtr, ytr, Xte, yte = split_data(*cervical, "B", "top50")
    est = VoomNSC(threshold=1.0, size_factors=norm)
    m = clone(est).fit(Xtr, ytr)
    assert not hasattr(est, "threshold_") and clone(est).get_params() == est.get_params()
    assert (m.predict(Xte) == yte.to_numpy()).mean() >= 0.75
    with pytest.raises(ValueError, match="normalization"):
        VoomNSC(normalization="bogus").fit(Xtr, ytr)


def test_noise_is_at_chance():
    """Random labels on NB noise, 20 stratified 80/20 splits, CV-tuned threshold (3-fold,
    1 repeat, 500 genes: voom's lowess is refitted in every fold, keep the test short)."""
    bacc = noise_balanced_accuracy(VoomNSC(n_folds=3, n_repeats=1, random_state=0), p=500)
    assert abs(bacc.mean() - 0.5) <= 0.05, bacc


def test_undefined_pooled_sd_is_left_out_not_nan():
    """A class whose voom weights sum below 1 for a gene makes MLSeq's pooled sd
    sqrt(sum_k (W_kg - 1) s_kg^2 / (sum_k W_kg - K)) undefined. That gene must drop out
    (difference 0) while s0 and every other gene stay finite."""
    from radiogenomics.classifiers._voomnsc import weighted_statistics

    rng = np.random.default_rng(0)
    x = rng.normal(5.0, 1.0, size=(6, 4))
    w = np.full((6, 4), 2.0)
    w[:2, 0] = 0.2  # gene 0: class "a" (2 samples) has weights summing to 0.4 < 1
    w[2:, 0] = 0.2  # ... and class "b" too, so sum_k W_kg - K < 0 (a finite, meaningless sd)
    w[:2, 1] = 0.2  # gene 1: only class "a" below 1: negative numerator, positive denominator
    w[2:, 1] = 0.3
    y = np.array(["a", "a", "b", "b", "b", "b"])
    st = weighted_statistics(x, w, y, np.array(["a", "b"]))
    assert st["undefined"].tolist() == [True, True, False, False]
    assert np.isfinite(st["s0"])
    assert np.isfinite(st["delta"]).all() and (st["delta"][:2] == 0).all()
    assert np.any(st["delta"][2:] != 0)


def test_library_sizes_from_all_genes_with_gene_selection():
    """voom on the full transcriptome's library sizes, then the selected genes (default),
    equals voom of the full matrix subset to those genes; library="selected" does not."""
    from radiogenomics.voom import voom

    Xtr, ytr, Xte, _ = split_data(*load_cervical(), "A", "all714")
    m = VoomNSC(n_genes=20, threshold=1.0, size_factors="none").fit(Xtr, ytr)
    E, _ = voom(Xtr, design=ytr.to_numpy())
    np.testing.assert_allclose(m._model.E, E.loc[:, m.genes_].to_numpy(), rtol=1e-12)
    lib = Xtr.sum(axis=1).to_numpy()[:, None]
    te = Xte.loc[:, m.genes_].to_numpy()
    lib_te = Xte.sum(axis=1).to_numpy()[:, None]
    np.testing.assert_allclose(m.transform_test(Xte).to_numpy(),
                               np.log2((te + 0.5) / (lib_te + 1.0) * 1e6), rtol=1e-12)
    s = VoomNSC(n_genes=20, threshold=1.0, size_factors="none", library="selected")
    s.fit(Xtr, ytr)
    sel_lib = Xtr.loc[:, s.genes_].sum(axis=1).to_numpy()[:, None]
    assert not np.allclose(sel_lib, lib)
    assert not np.allclose(s._model.E, m._model.E)


def test_undefined_pooled_sd_is_counted_without_numpy_warnings():
    """A class with one sample (or voom weight sums below 1) leaves the pooled sd undefined:
    the genes are counted and left out, and no numpy RuntimeWarning reaches the user."""
    import warnings

    from radiogenomics.classifiers._voomnsc import weighted_statistics

    rng = np.random.default_rng(0)
    x = rng.normal(size=(5, 30))
    w = rng.uniform(0.1, 2.0, (5, 30))
    y = np.array(["a", "b", "b", "b", "b"])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        st = weighted_statistics(x, w, y, np.array(["a", "b"]))
    assert st["undefined"].all()  # one sample in class "a": no within-class sd
    assert np.isfinite(st["delta"]).all()
    y2 = np.array(["a", "a", "b", "b", "b"])
    w2 = w.copy()
    w2[:2, :4] = 0.05  # class "a" weight sums 0.1 < 1 for four genes
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        st2 = weighted_statistics(x, w2, y2, np.array(["a", "b"]))
    assert np.isfinite(st2["delta"]).all()
    assert not st2["undefined"][4:].any()


def test_prior_enters_the_discriminant_as_log_prior():
    """prior="equal" shifts class k's discriminant by log(1/K) - log(n_k/n) and nothing else
    (pamr's diag.disc adds log pi_k); a bad prior is refused."""
    rng = np.random.default_rng(4)
    X = pd.DataFrame(rng.negative_binomial(5, 5 / (5 + np.exp(rng.normal(4, 1, 40))), (30, 40)),
                     index=[f"s{i}" for i in range(30)], columns=[f"g{j}" for j in range(40)])
    y = pd.Series(["a"] * 22 + ["b"] * 8, index=X.index)
    prop = VoomNSC(threshold=0.5).fit(X, y)
    eq = VoomNSC(threshold=0.5, priors="equal").fit(X, y)
    np.testing.assert_allclose(prop.prior_, [22 / 30, 8 / 30])
    np.testing.assert_allclose(eq.prior_, [0.5, 0.5])
    shift = eq.decision_function(X) - prop.decision_function(X)
    np.testing.assert_allclose(shift, np.tile(np.log(0.5) - np.log(prop.prior_), (30, 1)),
                               atol=1e-12)
    given = VoomNSC(threshold=0.5, priors={"a": 1.0, "b": 3.0}).fit(X, y)
    np.testing.assert_allclose(given.prior_, [0.25, 0.75])
    with pytest.raises(ValueError, match="prior"):
        VoomNSC(threshold=0.5, prior="uniform").fit(X, y)
