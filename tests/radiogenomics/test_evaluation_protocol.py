"""run_protocol: the CLI's protocol from Python, with the same numbers as the command."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.linear_model import LogisticRegression

from radiogenomics.cli import main
from radiogenomics.evaluation import ProtocolResult, _methods, build_protocol, run_protocol


class _TopVarLR(ClassifierMixin, BaseEstimator):
    """Logistic regression on log counts of the n_genes most variable genes (chosen in fit)."""

    def __init__(self, n_genes=10, random_state=None):
        self.n_genes = n_genes
        self.random_state = random_state

    def fit(self, X, y, features=None):
        L = np.log1p(X.to_numpy(float))
        self.genes_ = np.argsort(-L.var(0), kind="stable")[: self.n_genes]
        self.lr_ = LogisticRegression(C=0.1).fit(L[:, self.genes_], y)
        self.classes_ = self.lr_.classes_
        return self

    def predict(self, X, features=None):
        return self.lr_.predict(np.log1p(X.to_numpy(float))[:, self.genes_])

    def predict_proba(self, X, features=None):
        return self.lr_.predict_proba(np.log1p(X.to_numpy(float))[:, self.genes_])


@pytest.fixture
def standins(monkeypatch):
    real = _methods.make_method
    monkeypatch.setattr(_methods, "make_method",
                        lambda name: real(name) if _methods._canonical(name) is None else _TopVarLR())


def _cli_scores(tmp_path, args):
    out = tmp_path / "cli"
    assert main(["benchmark", *args, "--out", str(out), "--no-progress", "--jobs", "1"]) == 0
    return pd.read_parquet(out / "scores.parquet")


def _same(a: pd.DataFrame, b: pd.DataFrame) -> None:
    cols = ["section", "stratum", "method", "n_genes", "repeat", "seed", "metric"]
    a = a.sort_values(cols).reset_index(drop=True)[[*cols, "value"]]
    b = b.sort_values(cols).reset_index(drop=True)[[*cols, "value"]]
    pd.testing.assert_frame_equal(a, b, check_dtype=False)


@pytest.mark.slow
def test_default_protocol_equals_the_cli(tmp_path, standins, capsys):
    """The bundled cohort's whole default protocol (three targets, sweep, sex strata, Table 5),
    small: run_protocol and `radiogenomics benchmark` give the same scores and the same
    closing table."""
    cli = _cli_scores(tmp_path, ["--n-repeats", "3", "--sweep-repeats", "2",
                                 "--strata-repeats", "2", "--n-genes", "10,30"])
    printed = capsys.readouterr().out
    res = run_protocol(n_repeats=3, sweep_repeats=2, strata_repeats=2, n_genes=[10, 30],
                       n_jobs=1, progress=False)
    assert isinstance(res, ProtocolResult)
    _same(res.to_frame(), cli)
    assert res.targets == ["IDH", "codel_1p19q", "ATRX"]
    assert set(res.comparisons) == set(res.gene_sweeps) == set(res.strata_results) == set(res.targets)
    # the sweep runs on the first sweep_repeats of the comparison's splits, 10 genes included
    sweep = res.gene_sweeps["IDH"].scores
    assert set(sweep["repeat"]) == {0, 1} and set(sweep["n_genes"]) == {10, 30}
    main_rows = res.comparisons["IDH"].scores
    a = sweep[sweep.n_genes == 10].drop(columns="n_genes").reset_index(drop=True)
    b = main_rows[(main_rows.method == res.reference) & main_rows.repeat.isin([0, 1])]
    pd.testing.assert_frame_equal(a, b.drop(columns="n_genes").reset_index(drop=True))
    assert set(res.strata_results["ATRX"].scores["stratum"]) == {"female", "male"}
    assert res.strata_results["ATRX"].scores["repeat"].nunique() == 2
    # the closing table is the same text (elapsed time aside)
    text = res.summary_text("x").splitlines()[1:]
    assert printed.strip().splitlines()[-len(text):] == text
    summ = res.summary()
    assert list(summ["target"].unique()) == res.targets
    assert {"mean", "sd", "p_value", "p_adjusted"} <= set(summ.columns)
    assert res.settings["sweep_repeats"] == 2 and res.settings["strata_repeats"] == 2
    assert "plasmode" in res.caveat
    tab = next(iter(res.tables.values()))
    assert set(tab.index.get_level_values("label")) == set(res.targets)


def test_real_method_same_numbers_as_the_cli(tmp_path):
    """radiogenomics-NB itself (gene selection inside each split) through both paths."""
    cli = _cli_scores(tmp_path, ["--target", "codel_1p19q", "--methods", "radiogenomics-NB",
                                 "--n-repeats", "2", "--n-genes", "10", "--stratify-by", "none"])
    res = run_protocol(targets=["codel_1p19q"], methods=["radiogenomics-NB"], n_repeats=2,
                       n_genes=10, stratify_by=None, n_jobs=1, progress=False)
    _same(res.to_frame(), cli)
    assert list(res.sections) == ["codel_1p19q"]


def test_save_writes_the_report_and_the_contract(tmp_path, standins):
    res = run_protocol(targets=["IDH"], n_repeats=2, n_genes=[10], n_jobs=1, progress=False)
    out = res.save(tmp_path / "rep")
    assert out == tmp_path / "rep" and (out / "report.html").is_file()
    html = (out / "report.html").read_text()
    assert "Key findings" in html and "IDH: by sex" in html and "Association of sex" in html
    assert res.save(tmp_path / "s.csv").is_file()
    assert "<table" in res._repr_html_() and "\n" not in repr(res)
    assert res.plot() is not None
    assert res.to_frame()["section"].nunique() == 2


@pytest.mark.parametrize("kwargs,message", [
    ({"labels": pd.DataFrame({"a": [1]})}, "labels/features need counts"),
    ({"n_repeats": 0}, "n_repeats must be a positive integer"),
    ({"sweep_repeats": 0}, "sweep_repeats must be a positive integer"),
    ({"targets": ["nope"]}, "target column(s) 'nope' not in the labels"),
    ({"stratify_by": "nope"}, "stratify_by column 'nope' not in the labels"),
    ({"methods": ["bogus"]}, "unknown method 'bogus'"),
    ({"positive": "maybe", "targets": ["IDH"]}, "positive class 'maybe' is not a class of 'IDH'"),
    ({"n_jobs": 0}, "n_jobs must be a positive number"),
])
def test_bad_settings_stop_before_work(kwargs, message, standins):
    with pytest.raises(ValueError) as err:
        build_protocol(**kwargs)
    assert message in str(err.value)


def test_given_data_without_strata(standins):
    rng = np.random.default_rng(1)
    ids = [f"s{i}" for i in range(30)]
    counts = pd.DataFrame(rng.poisson(8, (30, 40)), index=ids)
    counts.columns = [f"g{j}" for j in range(40)]
    labels = pd.DataFrame({"A": ["x", "y"] * 15, "B": ["u"] * 10 + ["v"] * 20}, index=ids)
    plan = build_protocol(counts, labels, n_repeats=2, n_genes=5, n_jobs=1, progress=False)
    assert [s.name for s in plan.sections] == ["A", "B"]  # every label column, no sweep, no strata
    assert plan.settings["stratify_by"] is None and plan.association is None
    res = plan.run()
    assert set(res.summary()["target"]) == {"A", "B"}


def test_default_methods_share_one_nested_selection_per_split(monkeypatch):
    """The five default methods on one training split cost 1 outer + 3 inner gene selections:
    the tuned baselines (NBLDA, VoomNSC, both forests) tune on the same 3 inner folds, so
    each inner fold's edgeR selection is computed once (a VoomNSC on its own 5 folds made it
    9 and doubled the default run's time)."""
    import radiogenomics.de as de
    from radiogenomics import datasets
    from radiogenomics.evaluation import RepeatedSplitBenchmark

    calls: list[int] = []
    real = de._differential_expression
    monkeypatch.setattr(de, "_differential_expression",
                        lambda *a, **k: calls.append(1) or real(*a, **k))
    cohort = datasets.load_lgg_radiogenomics("IDH")
    genes = cohort.counts.columns[np.random.default_rng(7).permutation(
        cohort.counts.shape[1])[:800]]  # a gene set of its own: nothing cached yet
    methods = _methods.resolve_methods(None)
    for est in methods.values():  # the protocol's imputation of the one undefined ratio
        est.set_params(**{k: "median" for k in _methods.param_keys(est, "impute")})
    bench = RepeatedSplitBenchmark(methods=methods, n_repeats=1, n_jobs=1, progress=False)
    res = bench.run(cohort.counts[genes], cohort.y, cohort.features)
    assert set(res.scores["method"]) == set(_methods.PAPER_METHODS)
    assert len(calls) == 4
