"""RepeatedSplitBenchmark: shared splits, seeding, determinism across backends, no leakage."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from test_evaluation_standins import LogCountLR, RandomGuess, Spy, cohort

from radiogenomics.evaluation import METRICS, RepeatedSplitBenchmark, split_seeds


def _bench(**kw):
    kw.setdefault("methods", {"lr": LogCountLR(), "guess": RandomGuess()})
    kw.setdefault("n_repeats", 6)
    kw.setdefault("progress", False)
    return RepeatedSplitBenchmark(**kw)


def test_scores_layout_and_shared_splits():
    X, y, F, _ = cohort()
    res = _bench(n_genes=[5, 10]).run(X, y, F)
    s = res.scores
    assert list(s.columns) == ["repeat", "seed", "method", "n_genes", "stratum", "metric", "value"]
    # lr runs at both gene numbers, the method without n_genes once
    assert len(s) == 6 * (2 + 1) * len(METRICS)
    assert s.loc[s.method == "guess", "n_genes"].isna().all()
    assert set(s.loc[s.method == "lr", "n_genes"]) == {5, 10}
    # the same seed per repeat for every method, equal to split_seeds(random_state)
    seeds = s.groupby("repeat")["seed"].unique()
    assert all(len(v) == 1 for v in seeds)
    np.testing.assert_array_equal([v[0] for v in seeds], split_seeds(0, 6))
    # stratified 80/20: 12 test samples, 4 of the 20 WT
    sp = res.splits[res.splits.set == "test"]
    assert (sp.groupby("repeat").size() == 12).all()
    assert (sp.assign(wt=sp["sample"].map(y) == "WT").groupby("repeat")["wt"].sum() == 4).all()
    assert res.positive == "WT"  # the minority class by default
    assert res.split_sizes == {"all": {"n_test": 12, "n_train": 48}}


def test_first_repeats_do_not_depend_on_n_repeats():
    X, y, _, _ = cohort()
    a = _bench(n_repeats=3).run(X, y).scores
    b = _bench(n_repeats=5).run(X, y).scores
    b = b[b.repeat < 3].reset_index(drop=True)
    pd.testing.assert_frame_equal(a, b)


def test_random_state_changes_results_and_seeds_estimators():
    X, y, _, _ = cohort()
    a = _bench(random_state=0).run(X, y).scores
    b = _bench(random_state=1).run(X, y).scores
    assert not np.array_equal(a.seed, b.seed)
    # the seeded RandomGuess gives different predictions per repeat (seed passed through)
    g = a[(a.method == "guess") & (a.metric == "roc_auc")]["value"]
    assert g.nunique() > 1


@pytest.mark.slow
def test_bit_identical_joblib_and_dask():
    distributed = pytest.importorskip("distributed")
    X, y, F, sex = cohort(n=48, p=80)
    kw = dict(n_repeats=4, n_genes=[3, 6])
    r1 = _bench(n_jobs=1, **kw).run(X, y, F, stratify_by=sex).scores
    r2 = _bench(n_jobs=2, **kw).run(X, y, F, stratify_by=sex).scores
    pd.testing.assert_frame_equal(r1, r2, check_exact=True)
    with distributed.LocalCluster(processes=False, n_workers=2, threads_per_worker=1,
                                  dashboard_address=None) as cluster, distributed.Client(cluster):
        r3 = _bench(n_jobs=1, **kw).run(X, y, F, stratify_by=sex).scores
    pd.testing.assert_frame_equal(r1, r3, check_exact=True)


def test_fit_never_sees_test_rows():
    X, y, F, sex = cohort()
    Spy.log.clear()
    res = _bench(methods={"spy": Spy(n_genes=5)}, n_repeats=4).run(X, y, F, stratify_by=sex)
    tests = res.splits[res.splits.set == "test"].groupby(["stratum", "repeat"])["sample"].apply(set)
    trains = res.splits[res.splits.set == "train"].groupby(["stratum", "repeat"])["sample"].apply(set)
    fits = [e for e in Spy.log if e[0] == "fit"]
    preds = [e for e in Spy.log if e[0] == "predict"]
    assert len(fits) == len(tests) == 8
    for (_, xi, fi, yi), test_ids, train_ids in zip(fits, tests, trains, strict=True):
        assert set(xi) == set(fi) == set(yi) == train_ids
        assert not set(xi) & test_ids
    for (_, xi, fi, _), test_ids in zip(preds, tests, strict=True):
        assert set(xi) == set(fi) == test_ids
    # separate models per stratum: every fit sees a single sex
    for _, xi, _, _ in fits:
        assert sex[list(xi)].nunique() == 1


def test_noise_gives_chance_balanced_accuracy():
    rng = np.random.default_rng(7)
    n, p = 80, 300
    ids = [f"p{i}" for i in range(n)]
    X = pd.DataFrame(rng.poisson(30, (n, p)), index=ids)
    y = pd.Series(rng.permutation(np.r_[["a"] * 40, ["b"] * 40]), index=ids)
    res = _bench(methods={"lr": LogCountLR(C=0.1)}, n_repeats=40, n_genes=10).run(X, y)
    ba = res.summary().loc[("all", 10, "lr", "balanced_accuracy"), "mean"]
    assert abs(ba - 0.5) < 0.05


def test_signal_is_found():
    X, y, _, _ = cohort(effect=25)
    res = _bench(methods={"lr": LogCountLR()}, n_repeats=5, n_genes=5).run(X, y)
    assert res.summary().loc[("all", 5, "lr", "balanced_accuracy"), "mean"] > 0.9


def test_bad_inputs_raise_before_work():
    X, y, F, sex = cohort()
    Spy.log.clear()
    b = _bench(methods={"spy": Spy()})
    with pytest.raises(ValueError, match="single class"):
        b.run(X, pd.Series("WT", index=X.index))
    with pytest.raises(ValueError, match="ids in counts but not in labels"):
        b.run(X, y.rename(lambda i: i + "x"))
    with pytest.raises(ValueError, match="exactly two classes"):
        b.run(X, pd.Series(np.resize(["a", "b", "c"], len(X)), index=X.index))
    small = pd.Series(np.where(np.arange(len(X)) < 3, "tiny", "big"), index=X.index)
    with pytest.raises(ValueError, match="stratum 'tiny'"):
        b.run(X, y, stratify_by=small)
    with pytest.raises(ValueError, match="positive class 'x'"):
        _bench(methods={"spy": Spy()}, positive="x").run(X, y)
    with pytest.raises(ValueError, match="n_genes=500 exceeds"):
        _bench(methods={"spy": Spy()}, n_genes=500).run(X, y)
    with pytest.raises(ValueError, match="unknown method"):
        _bench(methods=["nope"]).run(X, y)
    with pytest.raises(ValueError, match="not a scikit-learn estimator"):
        _bench(methods={"x": object()}).run(X, y)
    assert Spy.log == []


def test_error_score_and_raise():
    X, y, _, _ = cohort()

    class Broken(LogCountLR):
        def fit(self, X, y, features=None):
            raise RuntimeError("boom")

    with pytest.raises(RuntimeError, match="'broken' failed on stratum 'all', repeat 0"):
        _bench(methods={"broken": Broken()}, n_repeats=2).run(X, y)
    res = _bench(methods={"broken": Broken()}, n_repeats=2, error_score=np.nan).run(X, y)
    assert res.scores["value"].isna().all()
    assert res.summary()["n_nan"].eq(2).all()
