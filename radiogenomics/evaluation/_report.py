"""Benchmark report (HTML + figures + tables) and the stratum-vs-label association table."""

from __future__ import annotations

import html
import importlib
import json
import logging
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from radiogenomics._io import atomic_dir

from ._result import BenchmarkResult, _jsonable

logger = logging.getLogger(__name__)

#: file that marks a folder as a radiogenomics report (only such folders are replaced)
MARKER = "report.html"


# ---------------------------------------------------------------------- Table 5
def _fallback_association(df: pd.DataFrame, a: str, b: str) -> dict[str, float]:
    """Chi-square (Yates-corrected for 2x2) and Fisher's exact test of ``a`` vs ``b``."""
    from scipy.stats import chi2_contingency, fisher_exact

    tab = pd.crosstab(df[a], df[b])
    chi2, p, dof, _ = chi2_contingency(tab.to_numpy(), correction=True)
    out = {"chi2": float(chi2), "dof": int(dof), "p_chi2": float(p), "p_fisher": float("nan")}
    if tab.shape == (2, 2):
        odds, pf = fisher_exact(tab.to_numpy())
        out.update(p_fisher=float(pf), odds_ratio=float(odds))
    return out


def _external_association(df: pd.DataFrame, a: str, b: str) -> dict[str, float] | None:
    """``radiogenomics.association.association_table`` (chi-square with Yates, Fisher)."""
    try:
        func = importlib.import_module("radiogenomics.association").association_table
    except (ImportError, AttributeError):
        return None
    res = func(df, a, b)
    try:
        out = {"chi2": float(res.chi2), "dof": int(res.df), "p_chi2": float(res.p_value),
               "p_fisher": float(res.fisher_p_value)}
    except AttributeError:  # an interface we do not know: use the fallback
        return None
    odds = getattr(res, "fisher_odds_ratio", None)
    if odds is not None:
        out["odds_ratio"] = float(odds)
    return out


def association_table(labels: pd.DataFrame | pd.Series, strata: pd.Series) -> pd.DataFrame:
    """Counts of each label by stratum with chi-square and Fisher p-values (the paper's Table 5).

    Uses :func:`radiogenomics.association.association_table` where available, else
    ``scipy.stats.chi2_contingency`` (Yates continuity correction for 2x2, as R's
    ``chisq.test``) and ``scipy.stats.fisher_exact``.

    Parameters
    ----------
    labels : DataFrame or Series
        One column per label (e.g. ``IDH``, ``codel_1p19q``, ``ATRX``), indexed by sample.
    strata : Series
        The stratum (e.g. sex) of every sample.

    Returns
    -------
    DataFrame
        Indexed by ``(label, class)``, one count column per stratum, and ``chi2``,
        ``p_chi2`` (Yates), ``p_fisher`` on the first row of each label. Samples with a
        missing label or stratum are left out of that label's table.
    """
    if isinstance(labels, pd.Series):
        labels = labels.to_frame(labels.name or "label")
    sname = strata.name or "stratum"
    missing = labels.index.difference(strata.index)
    if len(missing):
        from radiogenomics._validation import _show

        raise ValueError(f"strata are missing for samples: {_show(missing)}")
    rows = []
    for col in labels.columns:
        df = pd.DataFrame({"label": labels[col], sname: strata.loc[labels.index]}).dropna()
        if df["label"].nunique() < 2 or df[sname].nunique() < 2:
            raise ValueError(f"association of {col!r} with {sname!r} needs two levels of each")
        stats = _external_association(df, "label", sname) or _fallback_association(df, "label", sname)
        tab = pd.crosstab(df["label"], df[sname])
        for i, (cls, counts) in enumerate(tab.iterrows()):
            row = {"label": col, "class": cls, **{str(k): int(v) for k, v in counts.items()}}
            first = i == 0
            row["n"] = int(len(df)) if first else np.nan
            row["chi2"] = stats.get("chi2", np.nan) if first else np.nan
            row["p_chi2"] = stats.get("p_chi2", np.nan) if first else np.nan
            row["p_fisher"] = stats.get("p_fisher", np.nan) if first else np.nan
            rows.append(row)
    return pd.DataFrame(rows).set_index(["label", "class"])


# ---------------------------------------------------------------------- report
def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", str(text)).strip("_") or "section"


def _table_html(df: pd.DataFrame, floatfmt: str = "{:.3g}") -> str:
    return df.to_html(
        float_format=lambda v: floatfmt.format(v) if np.isfinite(v) else "NA",
        na_rep="", border=0, classes="tbl", escape=True,
    )


def _save_fig(fig: Any, figdir: Path, name: str) -> str:
    fig.savefig(figdir / f"{name}.png", dpi=120, bbox_inches="tight")
    fig.savefig(figdir / f"{name}.svg", bbox_inches="tight")
    return f"figures/{name}.png"


def _check_target(out: Path) -> None:
    if out.exists() and (not out.is_dir() or (any(out.iterdir()) and not (out / MARKER).exists())):
        raise ValueError(
            f"{out} exists and is not a radiogenomics report folder; choose a new --out path "
            "(only an earlier report is replaced)"
        )


def write_report(
    result: BenchmarkResult | Mapping[str, BenchmarkResult],
    out_dir: str | Path,
    settings: Mapping[str, Any] | None = None,
    provenance: str | None = None,
    *,
    tables: Mapping[str, pd.DataFrame] | None = None,
    reference: str | None = None,
    title: str = "radiogenomics benchmark report",
) -> Path:
    """Write a complete report folder atomically (built aside, swapped in when complete).

    Contents: ``report.html`` (settings, data provenance, package version, tables and the
    figures), ``figures/*.png`` and ``*.svg`` (grouped bars with SD error bars and
    significance marks per section; gene-number sweep and per-stratum figures where
    present), ``tables/*.csv`` (summaries, ANOVA and corrected-t tables, extra ``tables``)
    and ``scores.parquet`` / ``scores.csv`` (all scores with a ``section`` column).

    Parameters
    ----------
    result : BenchmarkResult or dict name -> BenchmarkResult
        One section per entry (e.g. ``"IDH"``, ``"IDH: sex-specific"``).
    out_dir : path
        Report folder. An existing folder is replaced only if it is an earlier report.
    settings, provenance : the run's settings (shown as JSON) and a data provenance text.
    tables : dict name -> DataFrame, optional
        Extra tables, e.g. the stratum-vs-label association table.
    """
    import matplotlib

    if matplotlib.get_backend().lower() not in ("agg", "svg", "pdf", "cairo"):
        import matplotlib.pyplot as plt

        plt.switch_backend("Agg")
    import matplotlib.pyplot as plt

    from radiogenomics import __version__

    sections = {"benchmark": result} if isinstance(result, BenchmarkResult) else dict(result)
    if not sections:
        raise ValueError("no results to report")
    out = Path(out_dir)
    _check_target(out)
    body: list[str] = []
    with atomic_dir(out) as tmp:
        figdir = tmp / "figures"
        tabdir = tmp / "tables"
        figdir.mkdir()
        tabdir.mkdir()
        all_scores = []
        for name, res in sections.items():
            slug = _slug(name)
            sc = res.scores.copy()
            sc.insert(0, "section", name)
            all_scores.append(sc)
            body.append(f"<h2>{html.escape(name)}</h2>")
            body.append(
                f"<p>Positive class: <b>{html.escape(str(res.positive))}</b>; classes "
                f"{html.escape(', '.join(map(str, res.classes)))}; "
                f"{res.scores['repeat'].nunique()} splits; split sizes "
                f"{html.escape(json.dumps(_jsonable(res.split_sizes)))}.</p>"
            )
            # figures
            ref = reference if reference in res.methods else res.methods[0]
            multi_method = len(res.methods) > 1
            strata = list(dict.fromkeys(res.scores["stratum"]))
            gene_vals = res.scores["n_genes"].dropna().unique()
            for st in strata:
                if multi_method:
                    fig, ax = plt.subplots(figsize=(8, 4.2))
                    res.plot(ax=ax, stratum=st, reference=ref,
                             n_genes=int(gene_vals[0]) if len(gene_vals) > 1 else None)
                    label = name if len(strata) == 1 else f"{name} — {st}"
                    ax.set_title(f"{label} ({ax.get_title()})", fontsize=9)
                    fname = slug if len(strata) == 1 else f"{slug}_{_slug(st)}"
                    src = _save_fig(fig, figdir, f"{fname}_methods")
                    plt.close(fig)
                    body.append(f'<figure><img src="{src}" width="720"><figcaption>{html.escape(label)}: '
                                "mean ± SD over the splits; marks: corrected resampled t-test vs "
                                f"{html.escape(str(ref))}</figcaption></figure>")
            if len(gene_vals) > 1:
                for st in strata:
                    fig, ax = plt.subplots(figsize=(7, 4))
                    res.plot(metric="balanced_accuracy", ax=ax, stratum=st, reference=ref)
                    fname = f"{slug}_genes" if len(strata) == 1 else f"{slug}_{_slug(st)}_genes"
                    src = _save_fig(fig, figdir, fname)
                    plt.close(fig)
                    body.append(f'<figure><img src="{src}" width="640"><figcaption>{html.escape(name)}'
                                f" {html.escape(st) if len(strata) > 1 else ''}: balanced accuracy by "
                                "number of genes</figcaption></figure>")
            if len(strata) > 1:
                fig, ax = plt.subplots(figsize=(7, 4))
                res.plot(metric="balanced_accuracy", ax=ax, reference=ref,
                         n_genes=int(gene_vals[0]) if len(gene_vals) > 1 else None)
                src = _save_fig(fig, figdir, f"{slug}_strata")
                plt.close(fig)
                body.append(f'<figure><img src="{src}" width="640"><figcaption>{html.escape(name)}: '
                            "balanced accuracy by stratum (separate models)</figcaption></figure>")
            # tables
            summ = res.summary(formatted=True)
            summ.to_csv(tabdir / f"{slug}_summary.csv")
            res.summary().to_csv(tabdir / f"{slug}_summary_numeric.csv")
            body.append("<h3>Mean ± SD over the splits</h3>" + summ.to_html(border=0, classes="tbl"))
            if multi_method:
                an = res.compare(test="anova")
                an.to_csv(tabdir / f"{slug}_anova.csv")
                body.append("<h3>One-way ANOVA across methods (as in the paper)</h3>" + _table_html(an))
                ct = res.compare(reference=ref, test="corrected-t")
                ct.to_csv(tabdir / f"{slug}_corrected_t.csv")
                body.append(
                    f"<h3>Corrected resampled t-test (Nadeau–Bengio) vs {html.escape(str(ref))}: p-values</h3>"
                    + _table_html(ct)
                )
            if len(gene_vals) > 1:
                sw = res.compare(test="anova", across="n_genes")
                sw.to_csv(tabdir / f"{slug}_genes_anova.csv")
                body.append("<h3>One-way ANOVA across gene numbers</h3>" + _table_html(sw))
            nan = res.nan_counts()
            if len(nan):
                nan.to_csv(tabdir / f"{slug}_undefined_metrics.csv", index=False)
                body.append("<h3>Splits where a metric was undefined (NaN, left out of means)</h3>"
                            + nan.to_html(index=False, border=0, classes="tbl"))
            if res.timings is not None and len(res.timings):
                tm = res.timings.groupby("method", sort=False)[["fit_seconds", "predict_seconds"]].agg(["mean", "sum"])
                tm.columns = [f"{a} {b}" for a, b in tm.columns]
                body.append("<h3>Compute time (seconds)</h3>" + _table_html(tm))
        for name, tab in (tables or {}).items():
            tab.to_csv(tabdir / f"{_slug(name)}.csv")
            body.append(f"<h2>{html.escape(name)}</h2>" + _table_html(tab))
        scores = pd.concat(all_scores, ignore_index=True)
        scores.to_parquet(tmp / "scores.parquet", index=False)
        scores.to_csv(tmp / "scores.csv", index=False)
        pd.concat(
            [r.summary().reset_index().assign(section=n) for n, r in sections.items()], ignore_index=True
        ).to_csv(tmp / "summary.csv", index=False)
        (tmp / "settings.json").write_text(json.dumps(_jsonable(dict(settings or {})), indent=2))
        head = [
            f"<h1>{html.escape(title)}</h1>",
            f"<p>radiogenomics {html.escape(__version__)}</p>",
            "<h2>Data provenance</h2>",
            f"<pre>{html.escape(provenance or 'not given')}</pre>",
            "<h2>Settings</h2>",
            f"<pre>{html.escape(json.dumps(_jsonable(dict(settings or {})), indent=2))}</pre>",
            "<p>Files: <a href='scores.parquet'>scores.parquet</a>, <a href='scores.csv'>scores.csv</a>, "
            "<a href='summary.csv'>summary.csv</a>, tables/*.csv, figures/*.png|svg.</p>",
        ]
        style = ("body{font-family:sans-serif;max-width:1100px;margin:auto}"
                 ".tbl{border-collapse:collapse;font-size:12px}.tbl td,.tbl th{padding:2px 6px;"
                 "border-bottom:1px solid #ddd}pre{background:#f6f6f6;padding:6px}")
        page = (f"<!DOCTYPE html><html><head><meta charset='utf-8'><title>{html.escape(title)}</title>"
                f"<style>{style}</style></head><body>" + "\n".join(head + body) + "</body></html>")
        (tmp / MARKER).write_text(page, encoding="utf-8")
    logger.info("report written to %s", out)
    return out
