"""The result of a repeated-split benchmark."""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from radiogenomics._io import atomic_path
from radiogenomics.results import SAVE_SUFFIXES, Result

from ._compare import (
    TESTS,
    anova_test,
    corrected_resampled_ttest,
    holm_adjust,
    paired_ttest,
    wilcoxon_test,
)
from ._metrics import METRIC_LABELS, METRICS

logger = logging.getLogger(__name__)

KEYS = ["stratum", "n_genes", "method"]


def _expand_shared(scores: pd.DataFrame) -> pd.DataFrame:
    """Copy the rows of methods without a gene number (``n_genes`` missing) into every gene
    number present, so that they are compared with every level of a sweep."""
    na = scores["n_genes"].isna()
    ks = scores.loc[~na, "n_genes"].unique()
    if not na.any() or len(ks) == 0:
        return scores
    parts = [scores[~na]] + [scores[na].assign(n_genes=k) for k in ks]
    out = pd.concat(parts, ignore_index=True)
    out["n_genes"] = out["n_genes"].astype("Int64")
    return out


def _fmt(mean: float, sd: float, digits: int = 3) -> str:
    if not np.isfinite(mean):
        return "NA"
    sd_s = f"{sd:.{digits}f}" if np.isfinite(sd) else "NA"
    return f"{mean:.{digits}f} ± {sd_s}"


@dataclass
class BenchmarkResult(Result):
    """Scores of every method on every split, with summaries, tests, plots and saving.

    ``summary()`` is mean ± SD per stratum, gene number, method and metric; ``to_frame()``
    the long ``scores`` table (one row per split x method x gene number x metric), which
    is what ``save("x.csv")`` writes; ``save(folder)`` writes the full set of files.

    Attributes
    ----------
    scores : DataFrame
        Long table with columns ``repeat, seed, method, n_genes, stratum, metric, value``
        (one row per split x method x gene number x metric); NaN where a metric is
        undefined on a split.
    positive : label
        The positive class of sensitivity, PPV, F1 and AUC.
    classes : list
        The two labels.
    split_sizes : dict
        ``stratum -> {"n_test": ..., "n_train": ...}`` (used by the corrected t-test).
    splits : DataFrame
        ``stratum, repeat, seed, sample, set`` — the exact splits, for reproduction.
    timings : DataFrame
        Fit and predict seconds per task (not part of the reproducible scores).
    settings : dict
        The benchmark's parameters.
    """

    scores: pd.DataFrame
    positive: Any = None
    classes: list = field(default_factory=list)
    split_sizes: dict = field(default_factory=dict)
    splits: pd.DataFrame | None = None
    timings: pd.DataFrame | None = None
    settings: dict = field(default_factory=dict)

    # -------------------------------------------------------------- tables
    @property
    def methods(self) -> list[str]:
        return list(dict.fromkeys(self.scores["method"]))

    @property
    def metrics(self) -> list[str]:
        present = set(self.scores["metric"])
        return [m for m in METRICS if m in present]

    def to_frame(self) -> pd.DataFrame:
        """A copy of the long ``scores`` table."""
        return self.scores.copy()

    def _saved_table(self) -> pd.DataFrame:
        return self.scores

    def _header(self) -> dict[str, Any]:
        return {"methods": len(self.methods), "splits": int(self.scores["repeat"].nunique()),
                "strata": ", ".join(map(str, sorted(self.split_sizes))) or "-",
                "positive": self.positive}

    def summary(self, formatted: bool = False, digits: int = 3) -> pd.DataFrame:
        """Mean ± SD of every metric per stratum, gene number and method.

        Returns a long table indexed by ``(stratum, n_genes, method, metric)`` with columns
        ``mean, sd, n`` (splits with a value) and ``n_nan`` (splits where the metric was
        undefined). With ``formatted=True``: one row per ``(stratum, n_genes, method)``
        and one ``"mean ± SD"`` column per metric.
        """
        s = self.scores
        g = s.groupby(["stratum", "n_genes", "method", "metric"], sort=False, dropna=False)["value"]
        out = pd.DataFrame(
            {
                "mean": g.mean(),
                "sd": g.std(ddof=1),
                "n": g.count(),
                "n_nan": g.apply(lambda v: int(v.isna().sum())),
            }
        )
        if not formatted:
            return out
        txt = pd.Series([_fmt(m, sd, digits) for m, sd in zip(out["mean"], out["sd"], strict=True)], index=out.index)
        wide = txt.unstack("metric")
        wide = wide[[m for m in METRICS if m in wide.columns]]
        wide.columns = [METRIC_LABELS[m] for m in wide.columns]
        return wide

    def nan_counts(self) -> pd.DataFrame:
        """Number of splits where each metric was undefined, per method (only non-zero)."""
        s = self.scores[self.scores["value"].isna()]
        return s.groupby(["stratum", "n_genes", "method", "metric"], dropna=False).size().rename("n_nan").reset_index()

    def compare(
        self,
        reference: str | int | None = None,
        test: str = "corrected-t",
        metrics: list[str] | None = None,
        across: str = "method",
        long: bool = False,
        adjust: str | None = "holm",
        family: str = "row",
    ) -> pd.DataFrame:
        r"""p-values comparing methods (or gene numbers) over the shared splits.

        Parameters
        ----------
        reference : method name (or gene number with ``across="n_genes"``)
            The level the others are compared with in the paired tests; default the first
            method (``"radiogenomics-NB"`` in the paper's order) or the first gene number.
            Unused by ``"anova"``.
        test : {"corrected-t", "anova", "paired-t", "wilcoxon"}
            ``"corrected-t"`` (default): the Nadeau–Bengio corrected resampled t-test,
            reference vs each other level, with the ``n_test / n_train`` variance term
            for the overlap of the splits' training sets (valid on repeated random
            splits). ``"anova"`` (one-way ANOVA across all levels) and ``"paired-t"``
            are the paper's tests, kept for reproduction: they treat the correlated
            split scores as independent and are anti-conservative here (on pure noise
            they call about 1 in 5 comparisons significant at 0.05). ``"wilcoxon"``:
            signed-rank test over the splits both scored (also assumes independence).
        metrics : list of str, optional
            Default all metrics.
        across : {"method", "n_genes"}
            Compare methods within each gene number, or gene numbers within each method.
        long : bool
            Return the tidy table (``statistic, p_value, p_adjusted, mean_diff, n``)
            instead of the paper-style wide table.
        adjust : {"holm", None}
            Multiple-testing adjustment written to ``p_adjusted`` (Holm's step-down,
            :func:`~radiogenomics.evaluation._compare.holm_adjust`); ``None``: a copy of
            ``p_value``.
        family : {"row", "table"}
            The set of p-values adjusted together. ``"row"`` (default): the comparisons of
            one row of the wide table, i.e. every level vs the reference for one stratum,
            gene number (or method) and metric (for ``"anova"``, one test per row, the
            rows of one stratum and metric across gene numbers / methods). ``"table"``:
            every p-value of the returned table.

        Returns
        -------
        DataFrame
            ``"anova"``: rows ``(stratum, n_genes|method, metric)``, one ``mean ± SD``
            column per level plus ``F``, ``p_value`` and ``p_adjusted`` (the layout of the
            paper's Tables 2–4). Paired tests: the same rows and, per compared level, the
            p-value column ``"<level> vs <reference>"`` followed by its adjusted
            ``"<level> vs <reference> (Holm)"``. The table's ``attrs`` hold ``test``,
            ``reference`` and ``adjust``.
        """
        if test not in TESTS:
            raise ValueError(f"unknown test {test!r}; choose one of {', '.join(TESTS)}")
        if across not in ("method", "n_genes"):
            raise ValueError("across must be 'method' or 'n_genes'")
        if adjust not in ("holm", None):
            raise ValueError(f"adjust must be 'holm' or None; got {adjust!r}")
        if family not in ("row", "table"):
            raise ValueError(f"family must be 'row' or 'table'; got {family!r}")
        other = "n_genes" if across == "method" else "method"
        metrics = self.metrics if metrics is None else list(metrics)
        bad = [m for m in metrics if m not in self.metrics]
        if bad:
            raise ValueError(f"unknown metrics {bad}; available: {self.metrics}")
        s = self.scores[self.scores["metric"].isin(metrics)]
        if across == "method":
            s = _expand_shared(s)
        else:
            s = s[s["n_genes"].notna()]
        levels = list(dict.fromkeys(s[across]))
        if across == "n_genes":
            levels = sorted(levels)
        if test != "anova":
            if reference is None:
                reference = levels[0] if levels else None
            if reference not in levels:
                raise ValueError(f"reference {reference!r} is not among the {across} values {levels}")
        rows = []
        metric_order = {m: i for i, m in enumerate(METRICS)}
        other_order = {v: i for i, v in enumerate(dict.fromkeys(s[other].dropna()))}
        for (stratum, grp_val, metric), block in s.groupby(["stratum", other, "metric"], sort=False, dropna=False):
            piv = block.pivot_table(index="repeat", columns=across, values="value", dropna=False, aggfunc="first")
            present = [lv for lv in levels if lv in piv.columns]
            base = {"stratum": stratum, other: grp_val, "metric": metric, "_o": metric_order[metric],
                    "_g": other_order.get(grp_val, -1)}
            if test == "anova":
                F, p = anova_test([piv[lv].to_numpy() for lv in present])
                row = dict(base, test=test, statistic=F, p_value=p, n_levels=len(present))
                for lv in present:
                    v = piv[lv]
                    row[f"{lv}"] = _fmt(v.mean(), v.std(ddof=1))
                rows.append(row)
                continue
            if reference not in piv.columns:
                continue
            sizes = self.split_sizes.get(stratum, {})
            for lv in present:
                if lv == reference:
                    continue
                a, b = piv[lv].to_numpy(), piv[reference].to_numpy()
                if test == "paired-t":
                    stat, p = paired_ttest(a, b)
                elif test == "wilcoxon":
                    stat, p = wilcoxon_test(a, b)
                else:
                    if "n_train" not in sizes:
                        raise ValueError(f"the corrected t-test needs the split sizes of stratum "
                                         f"{stratum!r} (split_sizes)")
                    stat, p = corrected_resampled_ttest(a, b, sizes["n_train"], sizes["n_test"])
                ok = np.isfinite(a) & np.isfinite(b)
                rows.append(
                    dict(
                        base, test=test, level=lv, reference=reference, statistic=stat, p_value=p,
                        mean_diff=float(np.mean(a[ok] - b[ok])) if ok.any() else float("nan"),
                        n=int(ok.sum()),
                    )
                )
        out = pd.DataFrame(rows)
        if out.empty:
            return out
        out = out.sort_values(["stratum", "_g", "_o"], kind="mergesort").drop(columns=["_o", "_g"])
        if adjust is None:
            out["p_adjusted"] = out["p_value"]
        elif family == "table":
            out["p_adjusted"] = holm_adjust(out["p_value"].to_numpy())
        else:
            fam = ["stratum", "metric"] if test == "anova" else ["stratum", other, "metric"]
            out["p_adjusted"] = out.groupby(fam, sort=False, dropna=False)["p_value"].transform(
                lambda v: holm_adjust(v.to_numpy()))
        label = "Holm" if adjust == "holm" else "unadjusted"
        if long:
            out = out.reset_index(drop=True)
            cols = list(out.columns)
            cols.remove("p_adjusted")
            cols.insert(cols.index("p_value") + 1, "p_adjusted")
            out = out[cols]
            out.attrs.update(test=test, reference=reference, adjust=adjust)
            return out
        idx = ["stratum", other, "metric"]
        if test == "anova":
            cols = [str(lv) for lv in levels if str(lv) in out.columns] + ["statistic", "p_value", "p_adjusted"]
            wide = out.set_index(idx)[cols].rename(columns={"statistic": "F"})
        else:
            out["col"] = [f"{lv} vs {reference}" for lv in out["level"]]
            raw = out.pivot_table(index=idx, columns="col", values="p_value", sort=False, dropna=False)
            adj = out.pivot_table(index=idx, columns="col", values="p_adjusted", sort=False, dropna=False)
            names = [f"{lv} vs {reference}" for lv in levels if f"{lv} vs {reference}" in raw.columns]
            wide = pd.concat({c: raw[c] for c in names} | {f"{c} ({label})": adj[c] for c in names},
                             axis=1)
            wide = wide[[c for n in names for c in (n, f"{n} ({label})")]]
            wide.columns.name = None
        wide.attrs.update(test=test, reference=reference, adjust=adjust)
        return wide

    def method_table(
        self,
        metric: str = "balanced_accuracy",
        reference: str | None = None,
        stratum: str | None = None,
        n_genes: int | None = None,
        digits: int = 3,
    ) -> pd.DataFrame:
        """One row per method: ``metric`` mean ± SD over the splits and the corrected
        resampled t-test against ``reference`` (default the first method), raw and
        Holm-adjusted over the compared methods.

        Columns ``method, mean, sd, n, mean ± SD, p_value, p_adjusted`` (p NaN for the
        reference itself). ``stratum`` / ``n_genes`` default to the first present.
        """
        if metric not in self.metrics:
            raise ValueError(f"unknown metric {metric!r}; available: {self.metrics}")
        s = _expand_shared(self.scores[self.scores["metric"] == metric])
        stratum = s["stratum"].iloc[0] if stratum is None else stratum
        s = s[s["stratum"] == stratum]
        if s["n_genes"].notna().any():
            k = s["n_genes"].dropna().iloc[0] if n_genes is None else n_genes
            s = s[(s["n_genes"] == k).fillna(False)]
        if s.empty:
            raise ValueError(f"no {metric} scores for stratum={stratum!r}, n_genes={n_genes!r}")
        methods = list(dict.fromkeys(s["method"]))
        reference = methods[0] if reference is None else reference
        if reference not in methods:
            raise ValueError(f"reference {reference!r} is not among the methods {methods}")
        g = s.groupby("method", sort=False)["value"]
        out = pd.DataFrame({"mean": g.mean(), "sd": g.std(ddof=1), "n": g.count()})
        out = out.loc[methods]
        out["mean ± SD"] = [_fmt(m, sd, digits) for m, sd in zip(out["mean"], out["sd"], strict=True)]
        out["p_value"] = np.nan
        out["p_adjusted"] = np.nan
        if len(methods) > 1:
            sub = BenchmarkResult(s, self.positive, self.classes, self.split_sizes)
            cmp = sub.compare(reference=reference, metrics=[metric], long=True)
            if len(cmp):
                cmp = cmp.set_index("level")
                out.loc[cmp.index, "p_value"] = cmp["p_value"]
                out.loc[cmp.index, "p_adjusted"] = cmp["p_adjusted"]
        out.index.name = "method"
        out.attrs.update(metric=metric, reference=reference, stratum=stratum)
        return out.reset_index()

    # -------------------------------------------------------------- figure
    def plot(
        self,
        metric: str | list[str] | None = None,
        ax: Any = None,
        *,
        reference: str | None = None,
        test: str = "corrected-t",
        stratum: str | None = None,
        n_genes: int | None = None,
        alpha: float = 0.05,
    ) -> Any:
        """Grouped bars of mean ± SD with significance marks (the paper's Figures 5–7).

        ``metric=None`` (or a list): one group of bars per metric, one bar per method. A
        single metric: groups are the gene numbers (sweep) or strata. Marks above a bar
        compare it with ``reference`` (default the first method) by ``test``, Holm-adjusted
        within each group: ``*`` p < 0.05, ``**`` p < 0.01, ``***`` p < 0.001. Returns the
        axes.
        """
        import matplotlib.pyplot as plt

        s = _expand_shared(self.scores)
        if stratum is not None:
            s = s[s["stratum"] == stratum]
        if n_genes is not None:
            s = s[(s["n_genes"] == n_genes).fillna(False)]
        if s.empty:
            raise ValueError(f"no scores for stratum={stratum!r}, n_genes={n_genes!r}")
        metrics = [metric] if isinstance(metric, str) else (metric or self.metrics)
        for m in metrics:
            if m not in self.metrics:
                raise ValueError(f"unknown metric {m!r}; available: {self.metrics}")
        s = s[s["metric"].isin(metrics)]
        if len(metrics) > 1:
            group_col = "metric"
            if s["stratum"].nunique() > 1 or s["n_genes"].nunique(dropna=False) > 1:
                first = s.iloc[0]
                s = s[(s["stratum"] == first["stratum"])]
                s = s[s["n_genes"].isna() | (s["n_genes"] == first["n_genes"])] if pd.notna(first["n_genes"]) else s
        elif s["n_genes"].nunique() > 1:
            group_col = "n_genes"
            s = s[s["stratum"] == s["stratum"].iloc[0]]
        else:
            group_col = "stratum"
        groups = list(dict.fromkeys(s[group_col]))
        methods = list(dict.fromkeys(s["method"]))
        ref = reference if reference is not None else methods[0]
        stats = s.groupby([group_col, "method"], dropna=False)["value"].agg(["mean", "std"])
        pmap: dict = {}
        if len(methods) > 1 and ref in methods:
            sub = BenchmarkResult(s, self.positive, self.classes, self.split_sizes)
            try:
                cmp = sub.compare(reference=ref, test=test, metrics=sorted(set(s["metric"])), long=True)
            except ValueError:
                cmp = pd.DataFrame()
            for _, r in cmp.iterrows():
                key = r["metric"] if group_col == "metric" else r[group_col] if group_col in r else r["stratum"]
                pmap[(key, r["level"])] = r["p_adjusted"]
        if ax is None:
            _, ax = plt.subplots(figsize=(max(6.0, 1.1 * len(groups) * max(1, len(methods)) / 2), 4.0))
        width = 0.8 / max(1, len(methods))
        x = np.arange(len(groups))
        cmap = plt.get_cmap("tab10")
        for j, mth in enumerate(methods):
            means = [stats["mean"].get((g, mth), np.nan) for g in groups]
            sds = [stats["std"].get((g, mth), np.nan) for g in groups]
            pos = x - 0.4 + width * (j + 0.5)
            ax.bar(pos, means, width, yerr=sds, capsize=2, label=mth, color=cmap(j % 10),
                   error_kw={"elinewidth": 0.8})
            for xi, g, m_, sd in zip(pos, groups, means, sds, strict=True):
                p = pmap.get((g, mth))
                if p is None or not np.isfinite(p) or p >= alpha:
                    continue
                mark = "***" if p < 0.001 else "**" if p < 0.01 else "*"
                top = (m_ if np.isfinite(m_) else 0) + (sd if np.isfinite(sd) else 0)
                # inside the axes (a bar + SD can reach past the top of the 0-1 scale)
                # upright stars would overlap the neighbouring bars' marks: stack them
                ax.text(xi, min(top + 0.01, 1.07), "\n".join(mark), ha="center", va="bottom",
                        fontsize=7, linespacing=0.6)
        labels = [METRIC_LABELS.get(g, g) if group_col == "metric" else str(g) for g in groups]
        ax.set_xticks(x)
        ax.set_xticklabels(labels, rotation=30 if group_col == "metric" else 0, ha="right" if group_col == "metric" else "center")
        ax.set_ylabel(METRIC_LABELS.get(metrics[0], metrics[0]) if len(metrics) == 1 else "score (mean ± SD)")
        if group_col == "n_genes":
            ax.set_xlabel("number of genes")
        ax.set_ylim(0, 1.12)
        ax.legend(fontsize=7, ncol=min(len(methods), 3), loc="upper center", bbox_to_anchor=(0.5, -0.30 if group_col == "metric" else -0.12), frameon=False)
        ax.set_title(f"marks: {test} vs {ref}, Holm" if pmap else "", fontsize=8)
        return ax

    # -------------------------------------------------------------- output
    def save(self, path: str | Path) -> Path:
        """Write ``scores.csv``, ``scores.parquet``, ``summary.csv``, ``splits.csv`` and
        ``settings.json`` into the folder ``path`` (created if needed); each file atomically.

        A path ending in ``.csv``, ``.tsv``, ``.json``, ``.html`` or ``.parquet`` writes one
        file instead (the ``scores`` table; the HTML page shows :meth:`summary`).
        """
        path = Path(path)
        if path.suffix.lower() in SAVE_SUFFIXES:
            return super().save(path)
        return self._save_folder(path)

    def _save_folder(self, path: Path) -> Path:
        path.mkdir(parents=True, exist_ok=True)
        with atomic_path(path / "scores.csv") as tmp:
            self.scores.to_csv(tmp, index=False)
        with atomic_path(path / "scores.parquet") as tmp:
            self.scores.to_parquet(tmp, index=False)
        with atomic_path(path / "summary.csv") as tmp:
            self.summary().to_csv(tmp)
        if self.splits is not None:
            with atomic_path(path / "splits.csv") as tmp:
                self.splits.to_csv(tmp, index=False)
        with atomic_path(path / "settings.json") as tmp:
            tmp.write_text(json.dumps(_jsonable(self.settings), indent=2))
        return path

    @classmethod
    def concat(cls, results: list[BenchmarkResult]) -> BenchmarkResult:
        """Stack results run on the same data and splits (e.g. two gene-number sweeps)."""
        if not results:
            raise ValueError("no results to concatenate")
        first = results[0]
        scores = pd.concat([r.scores for r in results], ignore_index=True)
        seeds = scores.groupby(["stratum", "repeat"])["seed"].nunique()
        if (seeds > 1).any():
            raise ValueError("results were run on different splits (seeds differ); cannot concatenate")
        scores = scores.drop_duplicates(["repeat", "method", "n_genes", "stratum", "metric"], keep="first")
        order = {m: i for i, m in enumerate(dict.fromkeys(scores["method"]))}
        morder = {m: i for i, m in enumerate(METRICS)}
        scores = scores.assign(_m=scores["method"].map(order), _k=scores["metric"].map(morder))
        scores = scores.sort_values(["stratum", "_m", "n_genes", "repeat", "_k"], kind="mergesort",
                                    na_position="first").drop(columns=["_m", "_k"])
        timings = pd.concat([r.timings for r in results if r.timings is not None], ignore_index=True)
        return cls(scores.reset_index(drop=True), first.positive, first.classes, first.split_sizes,
                   first.splits, timings, first.settings)

    def __repr__(self) -> str:
        n_rep = self.scores["repeat"].nunique()
        return (
            f"BenchmarkResult({len(self.methods)} methods, {n_rep} splits, "
            f"strata={sorted(self.split_sizes)}, positive={self.positive!r})"
        )


def _jsonable(obj: Any) -> Any:
    if isinstance(obj, dict):
        return {str(k): _jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_jsonable(v) for v in obj]
    if isinstance(obj, (np.integer,)):
        return int(obj)
    if isinstance(obj, (np.floating,)):
        return float(obj)
    if isinstance(obj, (str, int, float, bool)) or obj is None:
        return obj
    return repr(obj)
