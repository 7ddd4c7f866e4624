"""The paper's protocol as one Python call: :func:`run_protocol`.

``radiogenomics benchmark`` with no arguments is ``run_protocol().save("radiogenomics-report")``:
on the bundled semi-synthetic (plasmode) TCGA-LGG cohort, for each of IDH, 1p/19q and ATRX,

1. the five methods on ``n_repeats`` (100) stratified 80/20 splits at the first gene number
   (10), compared by the corrected resampled t-test with Holm adjustment;
2. the gene-number sweep of radiogenomics-NB (10, 20, 30, 50, 100, 150 genes) on the first
   ``sweep_repeats`` of those splits;
3. female-only and male-only models (``stratify_by="sex"``) on ``strata_repeats`` splits
   drawn within each sex;

plus the sex-vs-label association table (the paper's Table 5). Gene selection, tuning
(nested: inner folds re-select their genes) and imputation run inside each training split.

:func:`build_protocol` checks every input and sub-run without fitting anything and returns a
:class:`ProtocolPlan`; ``plan.run()`` returns a :class:`ProtocolResult` (``summary()``,
``summary_text()``, ``save(path)`` writing the HTML report, ``plot()``).
"""

from __future__ import annotations

import contextlib
import logging
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from radiogenomics.results import Result

from . import _methods
from ._benchmark import RepeatedSplitBenchmark
from ._result import BenchmarkResult

logger = logging.getLogger(__name__)

DEFAULT_TARGETS: tuple[str, ...] = ("IDH", "codel_1p19q", "ATRX")
#: positive class per known target (the mutation / codeletion); others: the minority class
KNOWN_POSITIVE: dict[str, str] = {"IDH": "Mutant", "codel_1p19q": "codel", "ATRX": "Mutant"}
DEFAULT_GENES: tuple[int, ...] = (10, 20, 30, 50, 100, 150)
SWEEP_METHOD = "radiogenomics-NB"
#: splits of the gene sweep and of each sex stratum by default (the main table keeps
#: ``n_repeats``): the sweep and the strata are secondary analyses, and 25 splits keep the
#: default run within 10 minutes on 2 cores
SECONDARY_REPEATS = 25
AUTO = "auto"


@dataclass
class Cohort:
    """Inputs of the protocol: counts, labels (one column per target, plus e.g. sex),
    imaging features, a provenance text and a caveat shown first in the report."""

    counts: Any
    labels: pd.DataFrame
    features: Any = None
    provenance: str | None = None
    caveat: str | None = None
    bundled: bool = False


def bundled_cohort() -> Cohort:
    """The bundled semi-synthetic (plasmode) TCGA-LGG cohort with ``sex`` among the labels;
    its ``.description`` is the caveat."""
    from radiogenomics import datasets

    data = datasets.load_lgg_radiogenomics()
    labels = data.labels.copy()
    labels["sex"] = data.clinical["sex"].reindex(labels.index)
    desc = str(data.description)
    prov = f"Bundled cohort radiogenomics.datasets.load_lgg_radiogenomics():\n\n{desc}"
    return Cohort(data.counts, labels, data.features, prov, desc, bundled=True)


@dataclass
class Section:
    """One sub-run of the protocol: a benchmark on one target (``kind`` is ``"methods"``,
    ``"genes"`` or ``"strata"``)."""

    name: str
    kind: str
    target: str
    bench: RepeatedSplitBenchmark
    counts: Any
    y: pd.Series
    features: Any = None
    strata: pd.Series | None = None


def _positive_repeats(value: Any, name: str) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
        raise ValueError(f"{name} must be a positive integer; got {value!r}")
    return int(value)


def build_protocol(
    counts: Any = None,
    labels: pd.DataFrame | None = None,
    features: Any = None,
    *,
    targets: Sequence[str] | None = None,
    methods: Any = None,
    n_repeats: int = 100,
    n_genes: int | Sequence[int] = DEFAULT_GENES,
    sweep_repeats: int | None = SECONDARY_REPEATS,
    strata_repeats: int | None = SECONDARY_REPEATS,
    test_size: float = 0.2,
    stratify_by: str | None = AUTO,
    positive: Any = None,
    seed: int = 0,
    n_jobs: int | None = -1,
    progress: bool = True,
    provenance: str | None = None,
    caveat: str | None = None,
    scheduler: str | None = None,
) -> ProtocolPlan:
    """Check every input and sub-run of the protocol; nothing is fitted here.

    Parameters are those of :func:`run_protocol`. Raises ``ValueError`` naming the problem
    (missing ids, an unknown target or method, a stratum too small to split, ...).
    """
    from radiogenomics._validation import _show, as_count_frame, check_same_ids

    n_repeats = _positive_repeats(n_repeats, "n_repeats")
    sweep_repeats = n_repeats if sweep_repeats is None else min(
        _positive_repeats(sweep_repeats, "sweep_repeats"), n_repeats)
    strata_repeats = n_repeats if strata_repeats is None else min(
        _positive_repeats(strata_repeats, "strata_repeats"), n_repeats)
    if n_jobs is not None and (n_jobs == 0 or n_jobs < -1):
        raise ValueError(f"n_jobs must be a positive number (or -1 for all cores); got {n_jobs}")
    genes = [int(n_genes)] if np.isscalar(n_genes) else [int(k) for k in n_genes]
    if not genes or any(k < 1 for k in genes):
        raise ValueError(f"n_genes must be positive integers; got {n_genes!r}")
    if counts is None:
        if labels is not None or features is not None:
            raise ValueError("labels/features need counts (or give none of them for the "
                             "bundled cohort)")
        cohort = bundled_cohort()
    else:
        if labels is None:
            raise ValueError("counts need labels (a DataFrame indexed by sample id)")
        lab = labels.to_frame() if isinstance(labels, pd.Series) else labels
        cohort = Cohort(counts, lab, features)
    provenance = provenance if provenance is not None else cohort.provenance
    caveat = caveat if caveat is not None else cohort.caveat
    X = as_count_frame(cohort.counts, "counts")
    X.index = X.index.astype(str)
    lab = cohort.labels.copy()
    lab.index = lab.index.astype(str)
    check_same_ids(X.index, lab.index, "counts", "labels")
    lab = lab.loc[X.index]
    F = None
    if cohort.features is not None:
        F = cohort.features.copy()
        F.index = F.index.astype(str)
        check_same_ids(X.index, F.index, "counts", "features")
        F = F.loc[X.index]

    strat = ("sex" if cohort.bundled else None) if stratify_by == AUTO else stratify_by
    if strat is not None and str(strat).lower() == "none":
        strat = None
    if strat is not None and strat not in lab.columns:
        raise ValueError(f"stratify_by column {strat!r} not in the labels; available: "
                         f"{_show(lab.columns, 20)}")
    if targets:
        targets = [targets] if isinstance(targets, str) else list(targets)
    elif cohort.bundled:
        targets = list(DEFAULT_TARGETS)
    else:
        targets = [c for c in lab.columns if c != strat]
    missing = [t for t in targets if t not in lab.columns]
    if missing:
        raise ValueError(f"target column(s) {_show(missing)} not in the labels; available: "
                         f"{_show(lab.columns, 20)}")
    if not targets:
        raise ValueError("no target column to predict")
    if methods is None:
        names = list(_methods.PAPER_METHODS)
    elif isinstance(methods, str):
        names = [m.strip() for m in methods.split(",") if m.strip()]
    else:
        names = methods
    if isinstance(names, Mapping):
        estimators = _methods.resolve_methods(names)
    else:
        estimators = {(_methods._canonical(m) or m): _methods.make_method(m) for m in names}
        estimators = _methods.resolve_methods(estimators)
    method_names = list(estimators)
    sweep_method = SWEEP_METHOD if SWEEP_METHOD in method_names else method_names[0]
    imputed = _impute_where_needed(estimators, F)

    sections: list[Section] = []
    common = dict(test_size=test_size, random_state=seed, n_jobs=n_jobs, progress=progress)
    for t in targets:
        y, pos = _target(lab, t, strat, positive)
        Xt, Ft = X.loc[y.index], None if F is None else F.loc[y.index]
        sections.append(Section(t, "methods", t, RepeatedSplitBenchmark(
            estimators, n_repeats=n_repeats, n_genes=genes[0], positive=pos, **common), Xt, y, Ft))
        if len(genes) > 1:
            # the first gene number comes from the comparison run (same splits and seeds)
            sections.append(Section(f"{t}: genes ({sweep_method})", "genes", t, RepeatedSplitBenchmark(
                {sweep_method: estimators[sweep_method]}, n_repeats=sweep_repeats,
                n_genes=genes[1:], positive=pos, **common), Xt, y, Ft))
        if strat is not None:
            sections.append(Section(f"{t}: by {strat}", "strata", t, RepeatedSplitBenchmark(
                estimators, n_repeats=strata_repeats, n_genes=genes[0], positive=pos, **common),
                Xt, y, Ft, lab.loc[y.index, strat]))
    for sec in sections:
        try:
            sec.bench.check(sec.counts, sec.y, sec.features, stratify_by=sec.strata)
        except ValueError as exc:
            raise ValueError(f"{sec.name}: {exc}") from None
    settings = {
        "targets": targets, "methods": method_names, "n_repeats": n_repeats,
        "sweep_repeats": sweep_repeats if len(genes) > 1 else None,
        "strata_repeats": strata_repeats if strat is not None else None,
        "test_size": test_size, "n_genes": genes, "sweep_method": sweep_method,
        "stratify_by": strat, "seed": seed, "imputed_features_for": imputed,
        "estimators": {n: repr(e) for n, e in estimators.items()}, "jobs": n_jobs,
        "scheduler": scheduler,
        "inputs": "bundled" if cohort.bundled else "given",
        "split": "stratified shuffle split per repeat, seeds from numpy SeedSequence(seed); "
                 "the gene sweep uses the first sweep_repeats splits of the method comparison",
    }
    assoc = pd.DataFrame({t: lab[t] for t in targets}) if strat is not None else None
    return ProtocolPlan(sections, settings, provenance, caveat, targets,
                        SWEEP_METHOD if SWEEP_METHOD in method_names else method_names[0],
                        assoc, None if strat is None else lab[strat], scheduler)


def _impute_where_needed(estimators: dict[str, Any], F: pd.DataFrame | None) -> list[str]:
    """Missing ratios (a zero denominator) are imputed inside each training split by the
    estimators that offer it (``impute="median"``); the engine never fills them itself."""
    imputed = []
    if F is not None and F.isna().to_numpy().any():
        for name, est in estimators.items():
            keys = [k for k in _methods.param_keys(est, "impute") if est.get_params()[k] is None]
            if keys:
                est.set_params(**{k: "median" for k in keys})
                imputed.append(name)
        if imputed:
            logger.info("features have missing values: impute='median' (within training "
                        "splits) for %s", ", ".join(imputed))
    return imputed


def _target(lab: pd.DataFrame, t: str, strat: str | None, positive: Any) -> tuple[pd.Series, Any]:
    """The labels of target ``t`` (rows without a label or stratum left out) and its
    positive class."""
    from radiogenomics._validation import _show

    y = lab[t]
    keep = y.notna()
    if strat is not None:
        keep &= lab[strat].notna()
    if not keep.all():
        logger.warning("target %s: %d samples without a label%s are left out", t,
                       int((~keep).sum()), f" or {strat}" if strat else "")
    y = y[keep].astype(str)
    pos = positive if positive is not None else KNOWN_POSITIVE.get(t)
    if pos is not None and str(pos) not in set(y):
        if positive is not None:
            raise ValueError(f"positive class {pos!r} is not a class of {t!r}: "
                             f"{_show(sorted(y.unique()))}")
        pos = None
    return y, (None if pos is None else str(pos))


@dataclass
class ProtocolPlan:
    """The checked protocol: its sections, settings and report texts; :meth:`run` fits."""

    sections: list[Section]
    settings: dict[str, Any]
    provenance: str | None
    caveat: str | None
    targets: list[str]
    reference: str
    association: pd.DataFrame | None = None
    strata: pd.Series | None = None
    scheduler: str | None = None

    def run(self) -> ProtocolResult:
        """Run every section in order and return a :class:`ProtocolResult`."""
        from ._report import stratum_association

        t0 = time.perf_counter()
        ctx: Any = contextlib.nullcontext()
        if self.scheduler:
            try:
                from distributed import Client
            except ImportError as exc:
                raise ValueError("a Dask scheduler needs dask.distributed "
                                 "(pip install 'radiogenomics[distributed]')") from exc
            ctx = Client(self.scheduler)
        results: dict[str, BenchmarkResult] = {}
        with ctx:
            for sec in self.sections:
                logger.info("running %s", sec.name)
                res = sec.bench.run(sec.counts, sec.y, sec.features, stratify_by=sec.strata)
                if sec.kind == "genes":
                    res = _with_first_gene(results[sec.target], res, self.settings["sweep_method"])
                results[sec.name] = res
        tables = {}
        if self.association is not None and self.strata is not None:
            tables[f"Association of {self.strata.name} with the labels (chi-square with Yates, "
                   "Fisher)"] = stratum_association(self.association, self.strata)
        elapsed = time.perf_counter() - t0
        return ProtocolResult(results, self.targets, self.reference,
                              dict(self.settings, elapsed_seconds=round(elapsed, 1)),
                              self.provenance, self.caveat, tables, elapsed)


def _with_first_gene(main: BenchmarkResult, sweep: BenchmarkResult, method: str) -> BenchmarkResult:
    """The sweep result with the comparison run's rows of ``method`` (first gene number) on
    the sweep's splits added."""
    repeats = set(sweep.scores["repeat"])
    keep = (main.scores["method"] == method) & main.scores["repeat"].isin(repeats)
    timings = None
    if main.timings is not None:
        timings = main.timings[(main.timings["method"] == method)
                               & main.timings["repeat"].isin(repeats)]
    splits = main.splits
    if splits is not None:
        splits = splits[splits["repeat"].isin(repeats)]
    first = BenchmarkResult(main.scores[keep], main.positive, main.classes, main.split_sizes,
                            splits, timings, main.settings)
    out = BenchmarkResult.concat([first, sweep])
    out.settings = dict(sweep.settings, n_genes=[*main.settings["n_genes"], *sweep.settings["n_genes"]])
    return out


def run_protocol(
    counts: Any = None,
    labels: pd.DataFrame | None = None,
    features: Any = None,
    **options: Any,
) -> ProtocolResult:
    """The paper's protocol in one call (what ``radiogenomics benchmark`` runs).

    Parameters
    ----------
    counts, labels, features : optional
        Counts (samples x genes), labels (one column per target, plus the stratum column,
        indexed by sample id) and imaging features. All ``None``: the bundled
        semi-synthetic (plasmode) TCGA-LGG cohort, targets IDH, 1p/19q and ATRX, strata by sex.
    targets : list of str, optional
        Label columns to predict (default: the three bundled targets, else every label
        column but ``stratify_by``).
    methods : None, list of names or dict name -> estimator
        Default the paper's five methods (:data:`radiogenomics.evaluation.PAPER_METHODS`).
    n_repeats : int, default 100
        Splits of the method comparison.
    n_genes : int or list of int, default (10, 20, 30, 50, 100, 150)
        The first is used for the method comparison; all for the radiogenomics-NB sweep.
    sweep_repeats, strata_repeats : int or None, default 25
        Splits of the gene sweep (the first ``sweep_repeats`` of the comparison's splits)
        and of each stratum's models, at most ``n_repeats``; ``None``: ``n_repeats``.
    test_size : float, default 0.2
    stratify_by : str or None, default "auto"
        Label column for separate per-stratum models (``"auto"``: ``"sex"`` for the bundled
        cohort, none otherwise).
    positive : label, optional
        Positive class (default Mutant / codel for the known targets, else the minority class).
    seed : int, default 0
    n_jobs : int, default -1
        joblib workers over the splits (-1: all cores; compiled kernels single-threaded in
        each worker).
    progress : bool, default True
    provenance, caveat : str, optional
        Texts for the report (default: the bundled cohort's description).
    scheduler : str, optional
        A Dask scheduler address: the splits run on that cluster.

    Returns
    -------
    ProtocolResult

    Examples
    --------
    >>> from radiogenomics.evaluation import run_protocol
    >>> res = run_protocol(targets=["codel_1p19q"], n_repeats=10)  # doctest: +SKIP
    >>> res.summary()                                               # doctest: +SKIP
    >>> res.save("radiogenomics-report")                            # doctest: +SKIP
    """
    return build_protocol(counts, labels, features, **options).run()


@dataclass(repr=False)
class ProtocolResult(Result):
    """Everything the protocol computed: one :class:`BenchmarkResult` per section.

    ``summary()`` is the closing table (per target and method: balanced accuracy mean, SD
    and the corrected resampled t-test against the reference, Holm-adjusted);
    ``to_frame()`` every score with its ``section``; ``save(folder)`` the HTML report.
    """

    sections: dict[str, BenchmarkResult]
    targets: list[str]
    reference: str
    settings: dict[str, Any] = field(default_factory=dict)
    provenance: str | None = None
    caveat: str | None = None
    tables: dict[str, pd.DataFrame] = field(default_factory=dict)
    elapsed: float = float("nan")

    _title = "Radiogenomics benchmark protocol"

    def _by_kind(self, kind: str) -> dict[str, BenchmarkResult]:
        sweep = self.settings.get("sweep_method", self.reference)
        names = {"methods": "{t}", "genes": "{t}: genes (" + str(sweep) + ")",
                 "strata": "{t}: by " + str(self.settings.get("stratify_by"))}
        return {t: self.sections[names[kind].format(t=t)] for t in self.targets
                if names[kind].format(t=t) in self.sections}

    @property
    def comparisons(self) -> dict[str, BenchmarkResult]:
        """Target -> the method comparison."""
        return self._by_kind("methods")

    @property
    def gene_sweeps(self) -> dict[str, BenchmarkResult]:
        """Target -> the gene-number sweep (empty without one)."""
        return self._by_kind("genes")

    @property
    def strata_results(self) -> dict[str, BenchmarkResult]:
        """Target -> the per-stratum models (empty without strata)."""
        return self._by_kind("strata")

    def _header(self) -> dict[str, Any]:
        return {"targets": ", ".join(self.targets), "n_repeats": self.settings.get("n_repeats"),
                "reference": self.reference, "elapsed_s": round(float(self.elapsed), 1)}

    def summary(self, metric: str = "balanced_accuracy") -> pd.DataFrame:
        """Per target and method: ``n``, ``mean``, ``sd``, ``"mean ± SD"``, ``p_value`` and
        ``p_adjusted`` (corrected resampled t-test against the reference, Holm)."""
        frames = []
        for t, res in self.comparisons.items():
            if metric not in res.metrics:
                continue
            ref = self.reference if self.reference in res.methods else res.methods[0]
            mt = res.method_table(metric, ref).assign(target=t)
            frames.append(mt)
        if not frames:
            return pd.DataFrame(columns=["target", "method", "mean", "sd"])
        out = pd.concat(frames, ignore_index=True)
        return out[["target", *[c for c in out.columns if c != "target"]]]

    def to_frame(self) -> pd.DataFrame:
        """Every score of every section (long format with a ``section`` column)."""
        return pd.concat([r.scores.assign(section=name) for name, r in self.sections.items()],
                         ignore_index=True)

    def summary_text(self, out: str | Path | None = None) -> str:
        """The closing text of ``radiogenomics benchmark``: per target, methods x balanced
        accuracy mean ± SD with the Holm-adjusted corrected p against the reference."""
        head = f"benchmark done in {self.elapsed:.0f} s: {len(self.sections)} runs"
        lines = [head + (f"; report in {out}/report.html" if out is not None else "")]
        if self.caveat:
            lines.append(f"data: {self.caveat.splitlines()[0]}")
        summ = self.summary()
        for t in self.targets:
            mt = summ[summ["target"] == t]
            if mt.empty:
                continue
            ref = self.reference if self.reference in set(mt["method"]) else mt["method"].iloc[0]
            n = self.comparisons[t].scores["repeat"].nunique()
            lines += ["", f"{t}: balanced accuracy over {n} splits; p: corrected resampled "
                      f"t-test vs {ref}, Holm-adjusted"]
            w = max(len("method"), *(len(m) for m in mt["method"]))
            lines.append(f"  {'method':<{w}}  {'mean ± SD':<15}  {'p (Holm)':>8}")
            for _, r in mt.iterrows():
                pa = r["p_adjusted"]
                p = "" if r["method"] == ref else ("NA" if not np.isfinite(pa) else
                                                   "<0.001" if pa < 0.001 else f"{pa:.3f}")
                lines.append(f"  {r['method']:<{w}}  {r['mean ± SD']:<15}  {p:>8}")
        return "\n".join(lines)

    def _save_folder(self, path: Path) -> Path:
        from ._report import write_report

        return write_report(self.sections, path, self.settings, self.provenance,
                            tables=self.tables, reference=self.reference, caveat=self.caveat)

    def plot(self, ax: Any = None, metric: str = "balanced_accuracy") -> Any:
        """Grouped bars: per target, every method's mean ``metric`` with SD error bars."""
        ax = self._axes(ax, figsize=(7, 4))
        summ = self.summary(metric)
        methods = list(dict.fromkeys(summ["method"]))
        width = 0.8 / max(1, len(methods))
        x = np.arange(len(self.targets))
        for i, m in enumerate(methods):
            sub = summ[summ["method"] == m].set_index("target").reindex(self.targets)
            ax.bar(x + (i - (len(methods) - 1) / 2) * width, sub["mean"], width,
                   yerr=sub["sd"], capsize=2, label=m)
        ax.set_xticks(x, self.targets)
        ax.set_ylabel(metric.replace("_", " "))
        ax.legend(fontsize=7, ncol=2)
        return ax
