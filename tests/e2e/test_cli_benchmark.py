"""``radiogenomics benchmark``: bad inputs stop before any work; a tiny run writes the report."""

from __future__ import annotations

import importlib
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.linear_model import LogisticRegression

from radiogenomics.cli import main
from radiogenomics.evaluation import _methods


class _StandIn(ClassifierMixin, BaseEstimator):
    """Logistic regression on log counts of the n_genes most variable genes (chosen in fit)."""

    calls = 0

    def __init__(self, n_genes=10, random_state=None):
        self.n_genes = n_genes
        self.random_state = random_state

    def fit(self, X, y, features=None):
        _StandIn.calls += 1
        L = np.log1p(X.to_numpy(float))
        self.genes_ = np.argsort(-L.var(0), kind="stable")[: self.n_genes]
        self.lr_ = LogisticRegression().fit(L[:, self.genes_], y)
        self.classes_ = self.lr_.classes_
        return self

    def predict(self, X, features=None):
        return self.lr_.predict(np.log1p(X.to_numpy(float))[:, self.genes_])

    def predict_proba(self, X, features=None):
        return self.lr_.predict_proba(np.log1p(X.to_numpy(float))[:, self.genes_])


@pytest.fixture
def standins(monkeypatch):
    real = _methods.make_method

    def fake(name):
        if _methods._canonical(name) is None:
            return real(name)  # the unknown-method error
        return _StandIn()

    monkeypatch.setattr(_methods, "make_method", fake)
    _StandIn.calls = 0


@pytest.fixture(scope="module")
def csvs(tmp_path_factory):
    rng = np.random.default_rng(0)
    d = tmp_path_factory.mktemp("in")
    ids = [f"P{i:02d}" for i in range(40)]
    y = np.r_[["Mutant"] * 28, ["WT"] * 12]
    counts = pd.DataFrame(rng.poisson(10, (40, 60)), index=ids, columns=[f"g{j}" for j in range(60)])
    counts.iloc[:, :3] += (y == "WT")[:, None] * 30
    labels = pd.DataFrame({"IDH": y, "sex": rng.permutation(np.r_[["female"] * 20, ["male"] * 20]),
                           "mono": "x"}, index=ids)
    feats = pd.DataFrame(rng.normal(size=(40, 2)), index=ids, columns=["ET/WT", "ED/WT"])
    counts.to_csv(d / "counts.csv")
    labels.to_csv(d / "labels.csv")
    feats.to_csv(d / "features.csv")
    labels.iloc[:-1].to_csv(d / "labels_short.csv")
    return d


def _err(capsys):
    return capsys.readouterr().err


@pytest.mark.parametrize(
    "extra,message",
    [
        (["--target", "nope"], "target column(s) 'nope' not in the labels"),
        (["--target", "mono"], "single class"),
        (["--stratify-by", "nope"], "stratify_by column 'nope'"),
        (["--labels", "{d}/labels_short.csv"], "ids in counts but not in labels: 'P39'"),
        (["--n-genes", "5,x"], "--n-genes must be comma-separated integers"),
        (["--methods", "bogus"], "unknown method 'bogus'"),
        (["--positive", "maybe"], "positive class 'maybe' is not a class"),
        (["--counts", "{d}/missing.csv"], "--counts file not found"),
        (["--n-genes", "500"], "n_genes=500 exceeds the 60 genes"),
    ],
)
def test_bad_inputs_stop_before_work(csvs, capsys, standins, tmp_path, extra, message):
    out = tmp_path / "rep"
    args = ["benchmark", "--counts", f"{csvs}/counts.csv", "--labels", f"{csvs}/labels.csv",
            "--target", "IDH", "--n-repeats", "2", "--out", str(out), "--no-progress", "--jobs", "1"]
    if "--n-genes" not in extra:
        args += ["--n-genes", "5,10"]
    args += [a.format(d=csvs) for a in extra]
    assert main(args) == 2
    err = _err(capsys)
    assert "radiogenomics benchmark: error:" in err and message in err, err
    assert _StandIn.calls == 0
    assert not out.exists()


def test_stratum_too_small(csvs, capsys, standins, tmp_path):
    lab = pd.read_csv(csvs / "labels.csv", index_col=0)
    lab["site"] = ["a"] * 37 + ["b"] * 3
    lab.to_csv(tmp_path / "lab.csv")
    rc = main(["benchmark", "--counts", f"{csvs}/counts.csv", "--labels", str(tmp_path / "lab.csv"),
               "--target", "IDH", "--stratify-by", "site", "--n-genes", "5", "--out", str(tmp_path / "r")])
    assert rc == 2
    assert "stratum 'b'" in _err(capsys)
    assert _StandIn.calls == 0


def test_tiny_run_writes_report(csvs, standins, tmp_path, capsys):
    out = tmp_path / "rep"
    rc = main(["benchmark", "--counts", f"{csvs}/counts.csv", "--labels", f"{csvs}/labels.csv",
               "--features", f"{csvs}/features.csv", "--target", "IDH", "--stratify-by", "sex",
               "--methods", "radiogenomics-NB,RF-genomics", "--n-repeats", "2", "--n-genes", "3,5",
               "--out", str(out), "--no-progress", "--seed", "3", "--jobs", "1"])
    assert rc == 0, capsys.readouterr().err
    stdout = capsys.readouterr().out
    assert "report in" in stdout
    # the closing table: per target, methods x balanced accuracy, Holm p vs radiogenomics-NB
    assert ("IDH: balanced accuracy over 2 splits; p: corrected resampled t-test vs "
            "radiogenomics-NB, Holm-adjusted") in stdout
    lines = stdout.splitlines()
    i = next(j for j, ln in enumerate(lines) if ln.strip().startswith("method"))
    assert "mean ± SD" in lines[i] and "p (Holm)" in lines[i]
    assert lines[i + 1].split()[0] == "radiogenomics-NB" and "±" in lines[i + 1]
    assert lines[i + 2].split()[0] == "RF-genomics"
    html = (out / "report.html").read_text()
    assert "sha256" in html and "Association of sex" in html
    # key findings first, generated from the numbers; the paper's tests labelled
    assert html.index("Key findings") < html.index("Data provenance")
    assert "IDH: best balanced accuracy" in html and "Holm correction" in html
    assert "IDH: genes (radiogenomics-NB): radiogenomics-NB balanced accuracy" in html
    assert "IDH: by sex, female-only models: best balanced accuracy" in html
    assert "anti-conservative" in html
    assert (out / "tables" / "IDH_corrected_t.csv").is_file()
    assert (out / "tables" / "IDH_genes_radiogenomics-NB_genes_corrected_t.csv").is_file()
    scores = pd.read_parquet(out / "scores.parquet")
    assert set(scores["section"]) == {"IDH", "IDH: genes (radiogenomics-NB)", "IDH: by sex"}
    sweep = scores[scores.section == "IDH: genes (radiogenomics-NB)"]
    assert set(sweep["n_genes"]) == {3, 5}
    assert set(scores.loc[scores.section == "IDH: by sex", "stratum"]) == {"female", "male"}
    assert (out / "figures" / "IDH_methods.png").is_file()
    assert (out / "tables" / "IDH_anova.csv").is_file()
    # 2 repeats x 2 methods (main) + 2 x 1 (sweep, 5 genes only) + 2 x 2 x 2 (by sex)
    assert _StandIn.calls == 4 + 2 + 8
    # rerun into the same folder replaces the report; the old one was complete until then
    assert main(["benchmark", "--counts", f"{csvs}/counts.csv", "--labels", f"{csvs}/labels.csv",
                 "--target", "IDH", "--stratify-by", "none", "--methods", "radiogenomics-NB",
                 "--n-repeats", "2", "--n-genes", "3", "--out", str(out), "--no-progress", "--jobs", "1"]) == 0
    scores = pd.read_parquet(out / "scores.parquet")
    assert set(scores["section"]) == {"IDH"}


def _real_classifiers_available() -> bool:
    try:
        mod = importlib.import_module("radiogenomics.classifiers")
        for name in ("NBRadiogenomicsClassifier", "NBLDA", "VoomNSC", "RFGenomics", "RFRadiogenomics"):
            getattr(mod, name)
    except (ImportError, AttributeError):
        return False
    return True


@pytest.mark.slow
@pytest.mark.skipif(not _real_classifiers_available(), reason="the five classifiers are not all there yet")
def test_real_methods_on_a_bundled_subset(tmp_path, capsys):
    from radiogenomics import datasets

    d = datasets.load_lgg_radiogenomics(n_genes=2000)
    d.counts.to_csv(tmp_path / "counts.csv")
    lab = d.labels.join(d.clinical[["sex"]])
    lab.to_csv(tmp_path / "labels.csv")
    d.features.to_csv(tmp_path / "features.csv")
    out = tmp_path / "rep"
    import warnings

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        rc = main(["benchmark", "--counts", str(tmp_path / "counts.csv"), "--labels",
                   str(tmp_path / "labels.csv"), "--features", str(tmp_path / "features.csv"),
                   "--target", "IDH", "--stratify-by", "none", "--n-repeats", "2", "--n-genes", "10",
                   "--out", str(out), "--no-progress", "--jobs", "1"])
    assert rc == 0, capsys.readouterr().err
    scores = pd.read_parquet(out / "scores.parquet")
    assert set(scores["method"]) == set(_methods.PAPER_METHODS)
    numpy_warnings = [w for w in caught if issubclass(w.category, RuntimeWarning)]
    assert not numpy_warnings, [str(w.message) for w in numpy_warnings]


def test_bundled_caveat_is_the_datasets_description(tmp_path):
    """The report's caveat is the bundled cohort's own description (not hard-coded)."""
    from radiogenomics import datasets
    from radiogenomics.evaluation import BenchmarkResult, bundled_cohort, write_report

    cohort = bundled_cohort()
    prov, caveat = cohort.provenance, cohort.caveat
    assert caveat == datasets.load_lgg_radiogenomics().description
    assert caveat in prov
    scores = pd.DataFrame({"repeat": [0, 1], "seed": [1, 2], "method": "m", "n_genes": 10,
                           "stratum": "all", "metric": "balanced_accuracy", "value": [0.5, 0.6]})
    res = BenchmarkResult(scores, "a", ["a", "b"], {"all": {"n_test": 2, "n_train": 8}})
    html = (write_report(res, tmp_path / "r", caveat=caveat) / "report.html").read_text()
    import html as _html

    assert _html.escape(caveat) in html


def test_help_lists_benchmark():
    assert "benchmark" in sys.modules["radiogenomics.cli"].build_parser().format_help()
    assert Path(importlib.import_module("radiogenomics.cli.benchmark").__file__).is_file()


@pytest.mark.parametrize("command", ["benchmark", "demo", "survival", "nomogram"])
def test_every_command_help_has_an_example(command, capsys):
    with pytest.raises(SystemExit):
        main([command, "--help"])
    out = " ".join(capsys.readouterr().out.split())
    assert f"example: radiogenomics {command} --" in out
