"""Repeated-split benchmark engine: the same splits for every method, in parallel."""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from typing import Any

import joblib
import numpy as np
import pandas as pd
from sklearn.base import clone

from radiogenomics._validation import (
    _show,
    align,
    as_count_frame,
    as_feature_frame,
    as_labels,
    check_same_ids,
)

from ._methods import accepts_kw, param_keys, resolve_methods
from ._metrics import METRICS, classification_metrics, positive_scores
from ._result import BenchmarkResult
from ._splits import Split, n_test_train, repeated_splits

logger = logging.getLogger(__name__)

ALL = "all"


def _active_dask_client() -> Any | None:
    """The active ``dask.distributed`` client, or ``None`` (no import error if not installed)."""
    try:
        from distributed import default_client
    except ImportError:
        return None
    try:
        return default_client()
    except ValueError:
        return None


def choose_positive(y: pd.Series, positive: Any | None) -> Any:
    """``positive`` if given (checked), else the minority class (ties: the last in sorted order)."""
    classes = sorted(y.unique().tolist(), key=str)
    if positive is not None:
        if positive not in classes:
            raise ValueError(f"positive class {positive!r} is not a label; labels are {_show(classes)}")
        return positive
    counts = y.value_counts()
    smallest = counts.min()
    return [c for c in classes if counts[c] == smallest][-1]


class RepeatedSplitBenchmark:
    """Compare classifiers over repeated stratified train/test splits.

    Every method sees exactly the same splits: repeat ``r`` draws its split from a seed
    derived from ``random_state`` (stored in the results as ``seed``), and estimators with a
    ``random_state`` parameter get that seed too. Gene selection, scaling, imputation and
    tuning happen inside each estimator's ``fit`` on the training rows only: the engine
    hands the test rows to ``predict`` / ``predict_proba`` and nothing else.

    Parameters
    ----------
    methods : None, list of str or dict
        ``None``: the paper's five methods ``"radiogenomics-NB"``, ``"NBLDA"``, ``"VoomNSC"``,
        ``"RF-genomics"``, ``"RF-radiogenomics"`` (imported lazily). A list of those names, or
        a dict ``name -> estimator`` (cloned for every split).
    n_repeats : int, default 100
        Number of random splits.
    test_size : float, default 0.2
        Test fraction (or count) of every split; ``n_test = ceil(test_size * n)``.
    n_genes : int, list of int or None, default 10
        Number of selected genes, set with ``set_params(n_genes=k)`` on every method that
        has the parameter. A list sweeps over it (methods without the parameter run once,
        with ``n_genes`` missing). ``None`` keeps each estimator's own setting.
    stratify : bool, default True
        Keep the class proportions in every split (``StratifiedShuffleSplit``).
    random_state : int, default 0
        Seed of the whole benchmark; the same value gives bit-identical scores whatever
        ``n_jobs`` or backend.
    n_jobs : int or None
        joblib workers over the (split x method) tasks. When a ``dask.distributed.Client``
        is active, the tasks go to the cluster through joblib's ``"dask"`` backend.
    positive : label, optional
        Positive class for sensitivity, PPV, F1 and AUC; default the minority class.
    progress : bool, default True
        tqdm progress bar over tasks (shown only on a terminal).
    error_score : "raise" or float, default "raise"
        What a failing fit gives: re-raise (naming method, repeat and seed) or this value
        for every metric of that split.

    Examples
    --------
    >>> from sklearn.dummy import DummyClassifier
    >>> import numpy as np, pandas as pd
    >>> rng = np.random.default_rng(0)
    >>> X = pd.DataFrame(rng.poisson(5, (40, 20)))
    >>> y = pd.Series(["a"] * 20 + ["b"] * 20)
    >>> bench = RepeatedSplitBenchmark({"dummy": DummyClassifier()}, n_repeats=3, progress=False)
    >>> res = bench.run(X, y)
    >>> res.scores.shape[0] == 3 * 9
    True
    """

    def __init__(
        self,
        methods: Any = None,
        n_repeats: int = 100,
        test_size: float = 0.2,
        n_genes: int | Sequence[int] | None = 10,
        stratify: bool = True,
        random_state: int | None = 0,
        n_jobs: int | None = None,
        positive: Any = None,
        progress: bool = True,
        *,
        error_score: Any = "raise",
    ) -> None:
        self.methods = methods
        self.n_repeats = n_repeats
        self.test_size = test_size
        self.n_genes = n_genes
        self.stratify = stratify
        self.random_state = random_state
        self.n_jobs = n_jobs
        self.positive = positive
        self.progress = progress
        self.error_score = error_score

    # ------------------------------------------------------------------ validation
    def _gene_list(self) -> list[int | None]:
        if self.n_genes is None:
            return [None]
        ks = [self.n_genes] if np.isscalar(self.n_genes) else list(self.n_genes)
        if not ks:
            raise ValueError("n_genes is an empty list")
        out = []
        for k in ks:
            if isinstance(k, bool) or not float(k).is_integer() or int(k) < 1:
                raise ValueError(f"n_genes must be positive integers; got {k!r}")
            out.append(int(k))
        if len(set(out)) != len(out):
            raise ValueError(f"n_genes has repeated values: {out}")
        return out

    def _check_params(self) -> None:
        if isinstance(self.n_repeats, bool) or not isinstance(self.n_repeats, (int, np.integer)) or self.n_repeats < 1:
            raise ValueError(f"n_repeats must be a positive integer; got {self.n_repeats!r}")
        ts = self.test_size
        if not (0 < ts < 1 or (float(ts).is_integer() and ts >= 1)):
            raise ValueError(f"test_size must be a fraction in (0, 1) or a count; got {ts!r}")
        if not (self.error_score == "raise" or isinstance(self.error_score, (int, float))):
            raise ValueError("error_score must be 'raise' or a number")

    def _check_stratum(self, name: str, ys: pd.Series) -> tuple[int, int]:
        where = "" if name == ALL else f"stratum {name!r}: "
        n = len(ys)
        n_test, n_train = n_test_train(n, self.test_size)
        counts = ys.value_counts()
        k = len(counts)
        if k < 2:
            raise ValueError(
                f"{where}the label has a single class ({_show(counts.index)}, {n} samples); "
                "a classifier needs two"
            )
        if n_test < k or n_train < k:
            raise ValueError(
                f"{where}too small to split: {n} samples give {n_train} train / {n_test} test, "
                f"fewer than the {k} classes"
            )
        if self.stratify and counts.min() < 2:
            detail = ", ".join(f"{c!r}: {v}" for c, v in counts.items())
            raise ValueError(
                f"{where}too small for a stratified split: every class needs at least 2 "
                f"samples ({detail})"
            )
        return n_test, n_train

    # ------------------------------------------------------------------ run
    def check(self, counts: Any, y: Any, features: Any = None, stratify_by: Any = None, *,
              groups: Any = None) -> dict[str, Any]:
        """Validate the inputs and settings without fitting anything.

        Returns the prepared plan (aligned frames, strata, positive class, methods); raises
        ``ValueError`` naming the problem (missing or misaligned ids, a label with one
        class, a stratum too small to split, an unknown method, ...).
        """
        if groups is not None and stratify_by is not None:
            raise ValueError("give stratify_by or groups, not both (groups is an alias)")
        if stratify_by is None:
            stratify_by = groups
        self._check_params()
        X = as_count_frame(counts, "counts")
        ys = as_labels(y, "labels", min_per_class=1)
        F = None if features is None else as_feature_frame(features, "features")
        X, ys, F = align(X, ys, F)
        classes = sorted(ys.unique().tolist(), key=str)
        if len(classes) != 2:
            raise ValueError(
                f"labels must have exactly two classes for these metrics; got {len(classes)}: "
                f"{_show(classes)}"
            )
        positive = choose_positive(ys, self.positive)
        if stratify_by is None:
            strata = pd.Series(ALL, index=X.index)
        else:
            s = stratify_by.copy() if isinstance(stratify_by, pd.Series) else pd.Series(np.asarray(stratify_by))
            if len(s) == len(X) and (isinstance(s.index, pd.RangeIndex) or s.index.equals(X.index)):
                s.index = X.index
            else:
                check_same_ids(X.index, s.index, "counts", "stratify_by")
                s = s.loc[X.index]
            if s.isna().any():
                raise ValueError(f"stratify_by is missing for samples: {_show(s.index[s.isna()])}")
            strata = s.astype(str)
        sizes = {}
        for name in sorted(strata.unique().tolist(), key=str):
            sizes[name] = self._check_stratum(name, ys[strata == name])
        ks = self._gene_list()
        methods = resolve_methods(self.methods)
        max_k = max((k for k in ks if k is not None), default=None)
        if max_k is not None and max_k > X.shape[1]:
            raise ValueError(f"n_genes={max_k} exceeds the {X.shape[1]} genes in counts")
        return {"X": X, "y": ys, "F": F, "strata": strata, "positive": positive,
                "classes": classes, "sizes": sizes, "ks": ks, "methods": methods}

    def run(self, counts: Any, y: Any, features: Any = None, stratify_by: Any = None, *,
            groups: Any = None) -> BenchmarkResult:
        """Run every method on every split and return a :class:`BenchmarkResult`.

        Parameters
        ----------
        counts : DataFrame or AnnData, shape (n_samples, n_genes)
            Raw integer counts, samples as rows.
        y : Series, shape (n_samples,)
            Binary labels indexed by sample id.
        features : DataFrame, optional
            Imaging features, passed as ``features=`` to the methods that take them.
        stratify_by : Series, optional
            A grouping such as sex: separate models per stratum (female-only, male-only),
            with the splits drawn within each stratum. ``groups`` is an alias.

        All inputs are checked (:meth:`check`) before any model is fitted; problems raise
        ``ValueError``.
        """
        plan = self.check(counts, y, features, stratify_by, groups=groups)
        X, ys, F, strata = plan["X"], plan["y"], plan["F"], plan["strata"]
        methods, ks, positive = plan["methods"], plan["ks"], plan["positive"]
        y_arr = ys.to_numpy()
        splits = repeated_splits(
            y_arr, strata.to_numpy(), self.n_repeats, self.test_size, self.stratify, self.random_state
        )
        # one task per split, fitting every method and gene number on it: the methods share
        # that training split's DE table (radiogenomics.de caches it by content)
        fits = []
        for name, template in methods.items():
            has_k = bool(param_keys(template, "n_genes"))
            fits.extend((name, template, k) for k in (ks if has_k else [None]))
        tasks = [(sp, fits) for sp in splits]
        logger.info(
            "benchmark: %d methods x %d splits (%d strata) = %d fits",
            len(methods), len(splits), len(plan["sizes"]), len(tasks) * len(fits),
        )
        records = self._execute(tasks, X, y_arr, F, positive)
        return self._collect(records, methods, splits, X.index, positive, plan["classes"], plan["sizes"], ks)

    def _execute(self, tasks, X, y_arr, F, positive):
        from tqdm.auto import tqdm

        Xv = X.to_numpy()
        ids = X.index
        genes = X.columns
        Fv = None if F is None else F.to_numpy()
        fnames = None if F is None else F.columns
        data = (Xv, y_arr, ids, genes, Fv, fnames)
        def jobs(kernel_threads: int | None):
            # parallel workers run the compiled kernels on one thread each (no oversubscription)
            return (joblib.delayed(_fit_split)(sp, fits, data, positive, self.error_score,
                                               kernel_threads)
                    for sp, fits in tasks)

        n_fits = sum(len(fits) for _, fits in tasks)
        bar = tqdm(total=n_fits, desc="benchmark", unit="fit", disable=None if self.progress else True)
        client = _active_dask_client()
        results = []
        try:
            if client is not None:
                logger.info("running on the Dask cluster %s", getattr(client, "scheduler", client))
                with joblib.parallel_backend("dask"):
                    gen = joblib.Parallel(n_jobs=-1, return_as="generator")(jobs(1))
                    for r in gen:
                        results.extend(r)
                        bar.update(len(r))
            elif self.n_jobs in (None, 1):
                for job in jobs(None):
                    f, a, kw = job
                    r = f(*a, **kw)
                    results.extend(r)
                    bar.update(len(r))
            else:
                gen = joblib.Parallel(n_jobs=self.n_jobs, return_as="generator")(jobs(1))
                for r in gen:
                    results.extend(r)
                    bar.update(len(r))
        finally:
            bar.close()
        return results

    def _collect(self, records, methods, splits, ids, positive, classes, sizes, ks):
        order = {name: i for i, name in enumerate(methods)}
        rows = []
        timing = []
        for rec in records:
            timing.append(rec["timing"])
            rows.extend(rec["rows"])
        scores = pd.DataFrame(rows, columns=["stratum", "repeat", "seed", "method", "n_genes", "metric", "value"])
        scores["n_genes"] = scores["n_genes"].astype("Int64")
        scores["_m"] = scores["method"].map(order)
        scores["_metric"] = scores["metric"].map({m: i for i, m in enumerate(METRICS)})
        scores = (
            scores.sort_values(["stratum", "_m", "n_genes", "repeat", "_metric"], kind="mergesort", na_position="first")
            .drop(columns=["_m", "_metric"])
            .reset_index(drop=True)
        )
        scores = scores[["repeat", "seed", "method", "n_genes", "stratum", "metric", "value"]]
        timings = pd.DataFrame(timing, columns=["stratum", "repeat", "method", "n_genes", "fit_seconds", "predict_seconds"])
        split_rows = []
        for sp in splits:
            split_rows += [(sp.stratum, sp.repeat, sp.seed, str(ids[i]), "train") for i in sp.train]
            split_rows += [(sp.stratum, sp.repeat, sp.seed, str(ids[i]), "test") for i in sp.test]
        split_frame = pd.DataFrame(split_rows, columns=["stratum", "repeat", "seed", "sample", "set"])
        settings = {
            "methods": list(methods),
            "estimators": {name: repr(est) for name, est in methods.items()},
            "n_repeats": self.n_repeats,
            "test_size": self.test_size,
            "n_genes": ks,
            "stratify": self.stratify,
            "random_state": self.random_state,
            "positive": positive,
            "classes": classes,
        }
        return BenchmarkResult(
            scores=scores,
            positive=positive,
            classes=classes,
            split_sizes={s: {"n_test": t, "n_train": r} for s, (t, r) in sizes.items()},
            splits=split_frame,
            timings=timings,
            settings=settings,
        )


def _frame(values, rows, ids, cols):
    return pd.DataFrame(values[rows], index=ids[rows], columns=cols)


def _fit_split(sp: Split, fits: list, data, positive, error_score,
               kernel_threads: int | None = None) -> list[dict]:
    """Every (method, n_genes) of one split, in order: one record per fit (compiled
    kernels limited to ``kernel_threads`` threads when given)."""
    if kernel_threads is not None:
        import numba

        numba.set_num_threads(max(1, min(int(kernel_threads), numba.config.NUMBA_NUM_THREADS)))
    return [_fit_score(sp, name, template, k, data, positive, error_score)
            for name, template, k in fits]


def _fit_score(sp: Split, name: str, template: Any, k: int | None, data, positive, error_score) -> dict:
    """Fit one method on one split's training rows, score it on the test rows.

    Only ``train`` rows go to ``fit``; ``test`` rows go to ``predict``/``predict_proba``.
    """
    Xv, y, ids, genes, Fv, fnames = data
    est = clone(template)
    params = {key: sp.seed for key in param_keys(est, "random_state")}
    if k is not None:
        params.update({key: k for key in param_keys(est, "n_genes")})
    if params:
        est.set_params(**params)
    Xtr, Xte = _frame(Xv, sp.train, ids, genes), _frame(Xv, sp.test, ids, genes)
    ytr = pd.Series(y[sp.train], index=ids[sp.train], name="label")
    fit_kw, pred_kw = {}, {}
    if Fv is not None:
        if accepts_kw(est.fit, "features"):
            fit_kw["features"] = _frame(Fv, sp.train, ids, fnames)
        if accepts_kw(est.predict, "features"):
            pred_kw["features"] = _frame(Fv, sp.test, ids, fnames)
    t0 = time.perf_counter()
    try:
        est.fit(Xtr, ytr, **fit_kw)
        t1 = time.perf_counter()
        y_pred = np.asarray(est.predict(Xte, **pred_kw))
        score = positive_scores(est, Xte, positive, **pred_kw)
        metrics = classification_metrics(y[sp.test], y_pred, positive, score)
        metrics["ece"] = _test_ece(est, Xte, y[sp.test], pred_kw)
    except Exception as exc:
        if error_score == "raise":
            raise RuntimeError(
                f"method {name!r} failed on stratum {sp.stratum!r}, repeat {sp.repeat} "
                f"(seed {sp.seed}, n_genes={k}): {type(exc).__name__}: {exc}"
            ) from exc
        logger.warning("method %r failed on repeat %d: %s", name, sp.repeat, exc)
        t1 = time.perf_counter()
        metrics = {m: float(error_score) for m in METRICS}
    t2 = time.perf_counter()
    kk = k if k is not None else None
    rows = [(sp.stratum, sp.repeat, sp.seed, name, kk, m, metrics[m]) for m in METRICS]
    return {"rows": rows, "timing": (sp.stratum, sp.repeat, name, kk, t1 - t0, t2 - t1)}


def _test_ece(est: Any, Xte: Any, y_test: np.ndarray, pred_kw: dict[str, Any]) -> float:
    """Expected calibration error of ``predict_proba`` on the test rows (NaN without it)."""
    from radiogenomics.calibration import expected_calibration_error

    if not hasattr(est, "predict_proba"):
        return float("nan")
    proba = np.asarray(est.predict_proba(Xte, **pred_kw), dtype=float)
    if proba.ndim != 2 or not np.isfinite(proba).all():
        return float("nan")
    return expected_calibration_error(y_test, proba, est.classes_)
