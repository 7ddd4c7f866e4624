"""The result contract (radiogenomics.results.Result) and every result class that follows it.

Adding a result class to the contract test is one line in ``CASES``: a name and a function
that builds a small instance.
"""

from __future__ import annotations

import io
import warnings
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import pytest  # noqa: E402

from imaging._result import Result as ImagingResult  # noqa: E402
from radiogenomics.results import SAVE_SUFFIXES, Result  # noqa: E402


class _Toy(Result):
    def __init__(self, n: int = 3) -> None:
        self.n = n

    def summary(self) -> pd.DataFrame:
        return pd.DataFrame({"x": np.arange(self.n, dtype=float), "y": list("abc")[: self.n]},
                            index=pd.Index(["r0", "r1", "r2"][: self.n], name="row"))

    def _header(self):
        return {"n": self.n, "p_value": 1.5e-7}

    def plot(self, ax=None):
        ax = self._axes(ax)
        ax.plot(self.summary()["x"])
        return ax


def test_one_implementation():
    """radiogenomics.results.Result is imaging's class (one implementation, no copy)."""
    assert Result is ImagingResult


def test_base_text_html_repr(capsys):
    t = _Toy()
    assert repr(t) == "_Toy(n=3, p_value=1.5e-07)"
    t.print_summary()
    out = capsys.readouterr().out
    assert out.startswith("<_Toy>") and "p_value = 1.5e-07" in out and "r2" in out
    h = t._repr_html_()
    assert h.count("<table") == 2 and "r1" in h
    assert t.to_frame().equals(t.summary())


def test_base_save_by_suffix(tmp_path):
    t = _Toy()
    s = t.summary()
    for suf in SAVE_SUFFIXES:
        p = t.save(tmp_path / f"t{suf}")
        assert isinstance(p, Path) and p.is_file()
        assert not [q for q in tmp_path.iterdir() if q.name.startswith(".")]  # no temporary left
    pd.testing.assert_frame_equal(pd.read_csv(tmp_path / "t.csv", index_col=0), s)
    pd.testing.assert_frame_equal(pd.read_csv(tmp_path / "t.tsv", sep="\t", index_col=0), s)
    pd.testing.assert_frame_equal(pd.read_json(tmp_path / "t.json", orient="table"), s)
    pd.testing.assert_frame_equal(pd.read_parquet(tmp_path / "t.parquet"), s)
    assert "<table" in (tmp_path / "t.html").read_text()
    with pytest.raises(ValueError, match=r"'\.xlsx'"):
        t.save(tmp_path / "t.xlsx")
    with pytest.raises(ValueError, match="needs a file name"):
        t.save(tmp_path / "folder")


def test_base_requires_summary_and_plot():
    with pytest.raises(NotImplementedError, match="summary"):
        Result().summary()
    with pytest.raises(NotImplementedError, match="plot"):
        Result().plot()


# --------------------------------------------------------------------------- every result class
def _roc():
    from radiogenomics.roc import roc

    return roc([0, 0, 1, 1, 0, 1, 1, 0], [0.1, 0.4, 0.35, 0.8, 0.2, 0.9, 0.7, 0.5])


def _surv_frame():
    rng = np.random.default_rng(0)
    g = np.repeat(["a", "b"], 20)
    t = rng.exponential(np.where(g == "a", 10.0, 5.0))
    return pd.DataFrame({"t": t, "e": (rng.random(40) < 0.8).astype(int), "g": g,
                         "x": rng.normal(size=40)})


def _survival():
    from radiogenomics.survival import compare_survival

    return compare_survival(_surv_frame(), "t", "e", "g")


def _cox():
    from radiogenomics.survival import stratified_cox

    return stratified_cox(_surv_frame(), "t", "e", ["g", "x"])


def _contingency():
    from radiogenomics.association import association_table

    df = pd.DataFrame({"a": list("xxxxyyyyxy"), "b": list("ppqqppqqqp")})
    return association_table(df, "a", "b", warn_small_expected=False)


def _nomogram():
    from radiogenomics.nomogram import Nomogram

    rng = np.random.default_rng(1)
    df = pd.DataFrame({"x": rng.normal(size=60), "g": rng.choice(["a", "b"], 60)})
    df["y"] = (rng.random(60) < 1 / (1 + np.exp(-1.5 * df["x"]))).astype(int)
    return Nomogram("y", ["x", "g"], selection=None).fit(df)


def _calibration():
    return _nomogram().calibration(n_bootstrap=5, random_state=0)


def _validation():
    return _nomogram().validate(n_bootstrap=5, random_state=0)


def _benchmark():
    from radiogenomics.evaluation import BenchmarkResult

    rng = np.random.default_rng(2)
    rows = [(r, 100 + r, m, 10, "all", k, float(rng.random()))
            for m in ("A", "B") for r in range(5) for k in ("accuracy", "auc")]
    scores = pd.DataFrame(rows, columns=["repeat", "seed", "method", "n_genes", "stratum", "metric", "value"])
    scores["n_genes"] = scores["n_genes"].astype("Int64")
    return BenchmarkResult(scores, "M", ["M", "W"], {"all": {"n_test": 12, "n_train": 48}})


# ---- imaging (imaging._result.Result: the same code as radiogenomics.results.Result)
def _label_members(seed: int, n: int = 3, noise: float = 0.2):
    rng = np.random.default_rng(seed)
    base = np.zeros((6, 6, 6), np.uint8)
    base[1:5, 1:5, 1:5] = 2
    base[2:4, 2:4, 2:4] = 1
    out = []
    for _ in range(n):
        m = base.copy()
        m[(rng.random(m.shape) < noise) & (m > 0)] = 0
        out.append(m)
    return out


def _agreement():
    from imaging.metrics import volume_agreement

    rng = np.random.default_rng(3)
    a = pd.DataFrame(rng.random((8, 2)) * 50, columns=["WT", "TC"], index=[f"c{i}" for i in range(8)])
    return volume_agreement(a, a + rng.normal(0, 2, a.shape))


def _qc():
    from imaging.qc import ensemble_discord

    return ensemble_discord({f"c{i}": _label_members(i) for i in range(3)}, threshold=0.1)


def _ensemble_qc():
    from imaging.qc import ensemble_qc

    return ensemble_qc({f"c{i}": _label_members(i) for i in range(4)})


def _longitudinal():
    import tempfile

    from imaging.io import save_nifti
    from imaging.longitudinal import track_volumes

    root = Path(tempfile.mkdtemp())
    rows = []
    for i, (p, d, ml) in enumerate([("A", "2020-01-01", 10), ("A", "2020-06-01", 14), ("B", "2020-02-01", 5)]):
        lab = np.zeros((8, 8, 8), np.uint8)
        lab.reshape(-1)[:ml] = 2
        save_nifti(lab, np.diag([10.0, 10.0, 10.0, 1.0]), root / f"m{i}.nii.gz")
        rows.append({"patient": p, "date": d, "mask": f"m{i}.nii.gz"})
    pd.DataFrame(rows).to_csv(root / "scans.csv", index=False)
    return track_volumes(root / "scans.csv")


def _evaluation():
    from imaging.evaluation import METRICS, EvaluationResult

    ag = _agreement()
    rng = np.random.default_rng(4)
    per_case = pd.DataFrame([{"reference": "r", "case": c, "region": reg, **{m: rng.random() for m in METRICS},
                              "pred_ml": 1.0, "ref_ml": 1.0} for c in ag.a.index for reg in ag.table.index])
    return EvaluationResult(per_case, {"pred": ag.a, "r": ag.b}, {"pred vs r": ag}, {"pred vs r": ag})


def _train():
    from imaging.segmentation.train import TrainResult

    hist = pd.DataFrame({"iteration": np.arange(1, 6), "loss": np.linspace(1.5, 0.8, 5), "lr": 1e-3})
    return TrainResult(model=None, config=None, history=hist)


def _cohort_train():
    from imaging.segmentation.train import CohortTrainResult

    hist = pd.DataFrame({"fold": 0, "stage": "train", "iteration": np.arange(1, 6),
                         "loss": np.linspace(1.5, 0.8, 5), "lr": 1e-3})
    timing = pd.DataFrame({"fold": [0], "stage": ["train"], "epochs": [1], "iterations": [5], "seconds": [1.0],
                           "seconds_per_epoch": [1.0], "frozen": [""]})
    val = pd.DataFrame({"fold": [0, 0], "case": ["a", "b"], "WT": [0.8, 0.7]})
    return CohortTrainResult(Path("model"), None, hist, timing, val)


def _counts(n: int = 12, g: int = 30, seed: int = 5):
    rng = np.random.default_rng(seed)
    counts = pd.DataFrame(rng.poisson(30.0, size=(n, g)), index=[f"s{i}" for i in range(n)],
                          columns=[f"g{j}" for j in range(g)])
    y = pd.Series(np.repeat(["a", "b"], n // 2), index=counts.index)
    return counts, y


def _dispersion():
    from radiogenomics.dispersion import estimate_dispersion

    return estimate_dispersion(*_counts())


def _nb_glm():
    from radiogenomics.glm import nb_glm_fit

    counts, y = _counts()
    X = np.column_stack([np.ones(len(y)), (y == "b").to_numpy(float)])
    return nb_glm_fit(counts.to_numpy(float), X, np.zeros(len(y)), 0.1)


def _voom():
    from radiogenomics.voom import voom_fit

    counts, y = _counts()
    return voom_fit(counts, design=y)


def _protocol():
    from sklearn.dummy import DummyClassifier

    from radiogenomics.evaluation import run_protocol

    counts, y = _counts(n=20, seed=6)
    methods = {"prior": DummyClassifier(strategy="prior"),
               "uniform": DummyClassifier(strategy="uniform", random_state=0)}
    return run_protocol(counts, y.to_frame("label"), methods=methods, n_repeats=2, n_genes=[5],
                        stratify_by=None, n_jobs=1, progress=False)


#: name -> function building a small instance. Adding a result class is one line here.
CASES = {
    "ROCResult": _roc,
    "SurvivalComparison": _survival,
    "CoxResult": _cox,
    "ContingencyResult": _contingency,
    "Nomogram": _nomogram,
    "CalibrationResult": _calibration,
    "ValidationResult": _validation,
    "BenchmarkResult": _benchmark,
    "AgreementResult": _agreement,
    "QCResult": _qc,
    "EnsembleQCResult": _ensemble_qc,
    "LongitudinalResult": _longitudinal,
    "EvaluationResult": _evaluation,
    "TrainResult": _train,
    "CohortTrainResult": _cohort_train,
    "DispersionResult": _dispersion,
    "NBGLMResult": _nb_glm,
    "VoomFit": _voom,
    "ProtocolResult": _protocol,
}


def test_every_result_class_is_in_the_contract_test():
    """Every subclass of the result base in both packages has a CASES entry (so a new result
    class cannot skip the contract)."""
    import importlib
    import pkgutil

    import imaging
    import radiogenomics

    for pkg in (radiogenomics, imaging):
        for mod in pkgutil.walk_packages(pkg.__path__, pkg.__name__ + "."):
            if ".cli" in mod.name or mod.name.endswith("__main__") or "nnunet" in mod.name:
                continue
            importlib.import_module(mod.name)

    def subclasses(cls):
        for sub in cls.__subclasses__():
            yield sub
            yield from subclasses(sub)

    found = {c.__name__ for c in subclasses(Result)
             if c.__module__.split(".")[0] in ("radiogenomics", "imaging")}
    assert found - set(CASES) == set(), f"result classes without a contract case: {found - set(CASES)}"


@pytest.fixture(params=sorted(CASES), ids=sorted(CASES))
def result(request):
    return CASES[request.param]()


def test_contract(result, tmp_path):
    assert isinstance(result, (Result, ImagingResult)), f"{type(result).__name__} does not derive from the result base"
    s = result.summary()
    assert isinstance(s, pd.DataFrame) and len(s)
    assert isinstance(result.to_frame(), pd.DataFrame) and len(result.to_frame())
    assert "<table" in result._repr_html_()
    r = repr(result)
    assert r.startswith(type(result).__name__ + "(") and "\n" not in r and len(r) < 400
    buf = io.StringIO()
    result.print_summary(file=buf)
    assert buf.getvalue().startswith(f"<{result.title}>") and "---" in buf.getvalue()
    for suffix in (".csv", ".json", ".html"):
        p = result.save(tmp_path / f"out{suffix}")
        assert isinstance(p, Path) and p.is_file() and p.stat().st_size > 0
    table = result._saved_table()
    if not table.index.is_unique:  # pandas' table schema keeps only a unique index as the key
        table = table.reset_index()
    back = pd.read_json(tmp_path / "out.json", orient="table")
    assert back.shape == table.shape and list(back.columns) == [str(c) for c in table.columns]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # tight_layout on small figures
        drawn = result.plot(ax=None)
    assert isinstance(drawn, (matplotlib.axes.Axes, matplotlib.figure.Figure))
    plt.close("all")


def test_nomogram_plot_fig_deprecated():
    nom = _nomogram()
    fig = plt.figure()
    with pytest.warns(FutureWarning, match="fig="):
        assert nom.plot(fig=fig) is fig
    with pytest.warns(FutureWarning, match="fig="):
        assert nom.plot(fig) is fig  # the old positional form
    _, ax = plt.subplots()
    assert nom.plot(ax) is ax and ax.get_title(loc="left").startswith("Nomogram for")
    assert isinstance(nom.plot(), matplotlib.figure.Figure)
    plt.close("all")


def test_benchmark_save_folder_and_file(tmp_path):
    res = _benchmark()
    out = res.save(tmp_path / "run")
    assert out == tmp_path / "run" and {p.name for p in out.iterdir()} >= {
        "scores.csv", "scores.parquet", "summary.csv", "settings.json"}
    f = res.save(tmp_path / "scores.csv")
    pd.testing.assert_frame_equal(pd.read_csv(f), pd.read_csv(out / "scores.csv"))


def test_folder_results(tmp_path):
    """Results that are several files write a folder for a path without suffix."""
    ev = _evaluation().save(tmp_path / "eval")
    assert {"per_case.csv", "summary.csv", "report.html"} <= {p.name for p in ev.iterdir()}
    ct = _cohort_train().save(tmp_path / "train")
    assert {p.name for p in ct.iterdir()} == {"training_log.csv", "timing.csv", "validation.csv", "summary.csv"}
    pd.testing.assert_frame_equal(pd.read_csv(ct / "training_log.csv"), _cohort_train().history)


def test_longitudinal_plot_returns_figure():
    res = _longitudinal()
    fig = res.plot()
    assert isinstance(fig, matplotlib.figure.Figure) and len([a for a in fig.axes if a.get_visible()]) == 2
    plt.close("all")
