"""Benchmark report (HTML + figures + tables) and the stratum-vs-label association table."""

from __future__ import annotations

import html
import json
import logging
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from radiogenomics._io import atomic_dir

from ._compare import ANTI_CONSERVATIVE
from ._result import BenchmarkResult, _jsonable

logger = logging.getLogger(__name__)

#: file that marks a folder as a radiogenomics report (only such folders are replaced)
MARKER = "report.html"


# ---------------------------------------------------------------------- Table 5
def stratum_association(labels: pd.DataFrame | pd.Series, strata: pd.Series) -> pd.DataFrame:
    """Counts of each label by stratum with chi-square and Fisher p-values (the paper's Table 5).

    One :func:`radiogenomics.association.association_table` per label column
    (chi-square with Yates' continuity correction for 2x2, as R's ``chisq.test``, and
    Fisher's exact test).

    Parameters
    ----------
    labels : DataFrame or Series
        One column per label (e.g. ``IDH``, ``codel_1p19q``, ``ATRX``), indexed by sample.
    strata : Series
        The stratum (e.g. sex) of every sample.

    Returns
    -------
    DataFrame
        Indexed by ``(label, class)``, one count column per stratum, and ``n``, ``chi2``,
        ``p_chi2`` (Yates), ``p_fisher`` on the first row of each label. Samples with a
        missing label or stratum are left out of that label's table.
    """
    from radiogenomics.association import association_table as _association

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
        res = _association(df, "label", sname, warn_small_expected=False)
        tab = pd.crosstab(df["label"], df[sname])
        for i, (cls, counts) in enumerate(tab.iterrows()):
            row = {"label": col, "class": cls, **{str(k): int(v) for k, v in counts.items()}}
            first = i == 0
            row["n"] = int(len(df)) if first else np.nan
            row["chi2"] = res.chi2 if first else np.nan
            row["p_chi2"] = res.p_value if first else np.nan
            row["p_fisher"] = res.fisher_p_value if first else np.nan
            rows.append(row)
    return pd.DataFrame(rows).set_index(["label", "class"])


def association_table(labels: pd.DataFrame | pd.Series, strata: pd.Series) -> pd.DataFrame:
    """Deprecated name of :func:`stratum_association` (removed in the next release; the one
    ``association_table`` is :func:`radiogenomics.association.association_table`)."""
    import warnings

    warnings.warn("radiogenomics.evaluation.association_table is deprecated; use "
                  "radiogenomics.evaluation.stratum_association (same arguments) or "
                  "radiogenomics.association.association_table", FutureWarning, stacklevel=2)
    return stratum_association(labels, strata)


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


def _kind(res: BenchmarkResult) -> str:
    """``"sweep"`` (several gene numbers), ``"strata"`` (several strata) or ``"methods"``."""
    if res.scores["n_genes"].dropna().nunique() > 1:
        return "sweep"
    if res.scores["stratum"].nunique() > 1:
        return "strata"
    return "methods"


def _p(p: float) -> str:
    return "NA" if not np.isfinite(p) else ("< 0.001" if p < 0.001 else f"= {p:.3f}")


def _method_sentence(name: str, mt: pd.DataFrame, alpha: float) -> str:
    """Best method, the reference, and the differences that survive Holm correction."""
    ref = mt.attrs["reference"]
    m = mt.set_index("method")
    ok = m["mean"].notna()
    if not ok.any():
        return f"{name}: no balanced accuracy could be computed."
    best = m.loc[ok, "mean"].idxmax()
    text = (f"{name}: best balanced accuracy {m.loc[best, 'mean ± SD']} ({best}) over "
            f"{int(m.loc[best, 'n'])} splits")
    if best != ref and ref in m.index:
        text += f"; {ref} {m.loc[ref, 'mean ± SD']}"
    if ok.sum() > 1:
        spread = m.loc[ok, "mean"].max() - m.loc[ok, "mean"].min()
        text += f"; the {int(ok.sum())} methods span {spread:.3f}"
    sig = m[(m["p_adjusted"] < alpha).fillna(False)]
    if len(m) > 1:
        if len(sig):
            parts = [f"{lv} {'higher' if sig.loc[lv, 'mean'] > m.loc[ref, 'mean'] else 'lower'} "
                     f"(Holm p {_p(sig.loc[lv, 'p_adjusted'])})" for lv in sig.index]
            text += (f". Differences from {ref} that survive Holm correction (corrected "
                     f"resampled t-test, {alpha:g}): " + ", ".join(parts) + ".")
        else:
            text += (f". No difference from {ref} survives Holm correction (corrected resampled "
                     f"t-test, {alpha:g}).")
    return text


def key_findings(sections: Mapping[str, BenchmarkResult], reference: str | None = None,
                 tables: Mapping[str, pd.DataFrame] | None = None,
                 metric: str = "balanced_accuracy", alpha: float = 0.05) -> list[str]:
    """Plain-language findings generated from the numbers, one sentence per item.

    Per method-comparison section: the best method by mean ``metric``, the reference, the
    spread, and which differences from the reference survive Holm correction (corrected
    resampled t-test). Gene sweeps: the best gene number and the gene numbers that differ
    from the first after correction. Stratified sections: the best method per stratum and
    the surviving differences within each stratum. Tables with a ``p_chi2`` column (the
    stratum-vs-label association): the labels associated at ``alpha``.
    """
    out = []
    for name, res in sections.items():
        if metric not in res.metrics:
            continue
        ref = reference if reference in res.methods else res.methods[0]
        kind = _kind(res)
        if kind == "methods":
            out.append(_method_sentence(name, res.method_table(metric, ref), alpha))
        elif kind == "strata":
            for st in dict.fromkeys(res.scores["stratum"]):
                try:
                    mt = res.method_table(metric, ref, stratum=st)
                except ValueError:
                    continue
                out.append(_method_sentence(f"{name}, {st}-only models", mt, alpha))
        else:
            for mth in res.methods:
                sc = res.scores[(res.scores["method"] == mth) & (res.scores["metric"] == metric)]
                sc = sc[sc["n_genes"].notna()]
                if sc["n_genes"].nunique() < 2:
                    continue
                means = sc.groupby("n_genes")["value"].mean()
                first = int(means.index.min())
                cmp = res.compare(test="corrected-t", across="n_genes", metrics=[metric],
                                  long=True)
                cmp = cmp[cmp["method"] == mth]
                sig = cmp[(cmp["p_adjusted"] < alpha).fillna(False)]
                text = (f"{name}: {mth} balanced accuracy over {sc['repeat'].nunique()} splits: "
                        + ", ".join(f"{v:.3f} at {int(k)}" for k, v in means.items())
                        + f" genes; best at {int(means.idxmax())} genes")
                if len(sig):
                    text += (f". Gene numbers differing from {first} after Holm correction: "
                             + ", ".join(f"{int(r.level)} ({'higher' if r.mean_diff > 0 else 'lower'},"
                                         f" Holm p {_p(r.p_adjusted)})" for r in sig.itertuples())
                             + ".")
                else:
                    text += f". No gene number differs from {first} after Holm correction."
                out.append(text)
    for name, tab in (tables or {}).items():
        if "p_chi2" not in tab.columns:
            continue
        ps = tab["p_chi2"].dropna()
        if not len(ps):
            continue
        labels = [lab for lab, _ in ps.index] if isinstance(ps.index, pd.MultiIndex) else list(ps.index)
        assoc = [f"{lab} (chi-square p {_p(p)})" for lab, p in zip(labels, ps, strict=True)
                 if p < alpha]
        out.append(f"{name}: " + ("associated at " + f"{alpha:g}: " + ", ".join(assoc) if assoc
                                  else f"no label associated at {alpha:g}") + ".")
    return out


def write_report(
    result: BenchmarkResult | Mapping[str, BenchmarkResult],
    out_dir: str | Path,
    settings: Mapping[str, Any] | None = None,
    provenance: str | None = None,
    *,
    tables: Mapping[str, pd.DataFrame] | None = None,
    reference: str | None = None,
    title: str = "radiogenomics benchmark report",
    caveat: str | None = None,
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
    reference : str, optional
        The method the others are compared with (default each section's first method).
    caveat : str, optional
        A note on the data shown first, next to the key findings (e.g. the dataset's
        ``.description`` saying its counts are a semi-synthetic plasmode).

    The page opens with the key findings in words (:func:`key_findings`, generated from
    the numbers). Method tables show the corrected resampled t-test (Nadeau–Bengio) with
    Holm-adjusted p-values; the paper's ANOVA follows, labelled as anti-conservative.
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
                                "mean ± SD over the splits; marks: corrected resampled t-test (Holm) vs "
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
                ct = res.compare(reference=ref)
                ct.to_csv(tabdir / f"{slug}_corrected_t.csv")
                body.append(
                    f"<h3>Corrected resampled t-test (Nadeau–Bengio) vs {html.escape(str(ref))}: "
                    "p-values, and Holm-adjusted within each row</h3>" + _table_html(ct)
                )
                an = res.compare(test="anova")
                an.to_csv(tabdir / f"{slug}_anova.csv")
                body.append("<h3>The paper's test: one-way ANOVA across methods "
                            "(anti-conservative here)</h3>"
                            f"<p class='note'>{html.escape(ANTI_CONSERVATIVE)}</p>" + _table_html(an))
            if len(gene_vals) > 1:
                sw_ct = res.compare(across="n_genes")
                sw_ct.to_csv(tabdir / f"{slug}_genes_corrected_t.csv")
                first_k = int(min(gene_vals))
                body.append(f"<h3>Gene numbers vs {first_k} genes: corrected resampled t-test, "
                            "Holm-adjusted within each row</h3>" + _table_html(sw_ct))
                sw = res.compare(test="anova", across="n_genes")
                sw.to_csv(tabdir / f"{slug}_genes_anova.csv")
                body.append("<h3>The paper's test: one-way ANOVA across gene numbers "
                            "(anti-conservative here)</h3>" + _table_html(sw))
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
        findings = key_findings(sections, reference, tables)
        head = [
            f"<h1>{html.escape(title)}</h1>",
            f"<p>radiogenomics {html.escape(__version__)}</p>",
            "<div class='findings'><h2>Key findings</h2>",
            (f"<p class='caveat'><b>Data:</b> {html.escape(caveat)}</p>" if caveat else ""),
            "<ul>" + "".join(f"<li>{html.escape(f)}</li>" for f in findings) + "</ul>",
            "<p class='note'>Tests: corrected resampled t-test (Nadeau &amp; Bengio 2003) on the "
            "shared splits, Holm-adjusted within each comparison table row. "
            + html.escape(ANTI_CONSERVATIVE) + "</p></div>",
            "<h2>Data provenance</h2>",
            f"<pre>{html.escape(provenance or 'not given')}</pre>",
            "<h2>Settings</h2>",
            f"<pre>{html.escape(json.dumps(_jsonable(dict(settings or {})), indent=2))}</pre>",
            "<p>Files: <a href='scores.parquet'>scores.parquet</a>, <a href='scores.csv'>scores.csv</a>, "
            "<a href='summary.csv'>summary.csv</a>, tables/*.csv, figures/*.png|svg.</p>",
        ]
        style = ("body{font-family:sans-serif;max-width:1100px;margin:auto}"
                 ".tbl{border-collapse:collapse;font-size:12px}.tbl td,.tbl th{padding:2px 6px;"
                 "border-bottom:1px solid #ddd}pre{background:#f6f6f6;padding:6px;"
                 "white-space:pre-wrap}"
                 ".findings{background:#f3f7fb;border:1px solid #c9d9ea;padding:4px 14px;"
                 "margin:10px 0}.caveat{background:#fff6e0;padding:6px;border-left:4px solid "
                 "#e0a800}.note{font-size:12px;color:#444}")
        page = (f"<!DOCTYPE html><html><head><meta charset='utf-8'><title>{html.escape(title)}</title>"
                f"<style>{style}</style></head><body>" + "\n".join(head + body) + "</body></html>")
        (tmp / MARKER).write_text(page, encoding="utf-8")
    logger.info("report written to %s", out)
    return out
