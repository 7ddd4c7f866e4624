"""Cohort evaluation of segmentations against one or more expert references (seed 002).

For every case present in the prediction folder and in each reference folder
(``<case>.nii[.gz]`` label maps on the same grid) and every schema region (base regions and
composites), :func:`imaging.metrics.region_report` gives Dice, HD95 (mm), sensitivity and
the relative volume difference ``(|P| - |R|) / |R|``, with its empty-mask conventions.

Cohort summary per reference, region and metric: n, mean, SD (ddof 1), median, and for
HD95 the number of infinite values (exactly one mask empty, when ``empty_hd`` is ``inf``),
which are left out of the mean, SD and median.

Agreement (:func:`imaging.metrics.volume_agreement`) of the sub-region volume percentages
``100 V_r / V_WT`` (and of the volumes in mL) between the prediction and each reference,
and between references when there are several: Bland–Altman bias and 95 % limits of
agreement ``bias ± 1.96 SD``, Pearson/Spearman correlation, ICC(2,1) and ICC(3,1).

:meth:`EvaluationResult.save` writes the tables, Bland–Altman and Dice figures and an HTML
page into a folder, atomically.
"""

from __future__ import annotations

import html
import logging
import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from imaging._result import SAVE_SUFFIXES, Result

__all__ = ["EvaluationResult", "evaluate_cohort", "find_label_maps"]

logger = logging.getLogger(__name__)

METRICS: tuple[str, ...] = ("dice", "hd95_mm", "sensitivity", "rvd")


def find_label_maps(folder: str | os.PathLike[str]) -> dict[str, Path]:
    """``{case: path}`` for the ``<case>.nii[.gz]`` files of ``folder``."""
    d = Path(folder)
    if not d.is_dir():
        raise FileNotFoundError(f"label-map folder not found: {d}")
    out = {}
    for p in sorted(d.iterdir()):
        for ext in (".nii.gz", ".nii"):
            if p.is_file() and p.name.endswith(ext):
                case = p.name[: -len(ext)]
                if case in out:
                    raise ValueError(f"{d}: two label maps for case {case!r}")
                out[case] = p
    if not out:
        raise FileNotFoundError(f"{d}: no <case>.nii.gz label maps")
    return out


@dataclass(repr=False)
class EvaluationResult(Result):
    """Per-case metrics, cohort summary and volume agreement (:func:`evaluate_cohort`).

    ``summary()`` is n, mean, SD, median per reference, region and metric; ``to_frame()``
    the per-case metrics (one row per reference, case and region). ``save(folder)`` writes
    the report folder; ``save("x.csv")`` (or .tsv/.json/.html/.parquet) the summary alone.

    Attributes
    ----------
    per_case : DataFrame
        One row per reference, case and region: dice, hd95_mm, sensitivity, rvd, pred_ml,
        ref_ml.
    volumes : dict[str, DataFrame]
        Cases × regions volumes (mL) of the prediction (``"pred"``) and each reference.
    agreement : dict[str, AgreementResult]
        Keyed ``"pred vs <ref>"`` (and ``"<ref1> vs <ref2>"``): agreement of volume
        percentages; ``agreement_ml`` the same for volumes in mL.
    """

    per_case: pd.DataFrame
    volumes: dict[str, pd.DataFrame]
    agreement: dict[str, Any]
    agreement_ml: dict[str, Any]
    params: dict[str, Any] = field(default_factory=dict)

    def to_frame(self) -> pd.DataFrame:
        """The per-case metrics (a copy)."""
        return self.per_case.copy()

    def _header(self) -> dict[str, Any]:
        pc = self.per_case
        return {"references": int(pc["reference"].nunique()), "cases": int(pc["case"].nunique()),
                "regions": int(pc["region"].nunique())}

    def summary(self) -> pd.DataFrame:
        """n, mean, SD, median (and n_inf) per reference, region and metric."""
        rows = []
        for (ref, region), g in self.per_case.groupby(["reference", "region"], sort=False):
            for m in METRICS:
                v = g[m].to_numpy(float)
                n_inf = int(np.isinf(v).sum())
                v = v[np.isfinite(v)]
                rows.append({
                    "reference": ref, "region": region, "metric": m, "n": int(v.size),
                    "mean": float(v.mean()) if v.size else np.nan,
                    "sd": float(v.std(ddof=1)) if v.size > 1 else np.nan,
                    "median": float(np.median(v)) if v.size else np.nan,
                    "n_inf": n_inf,
                })
        return pd.DataFrame(rows)

    def agreement_table(self, ml: bool = False) -> pd.DataFrame:
        """All agreement tables stacked, with a ``comparison`` column."""
        src = self.agreement_ml if ml else self.agreement
        frames = [r.table.reset_index().assign(comparison=k) for k, r in src.items()]
        out = pd.concat(frames, ignore_index=True)
        return out[["comparison", *[c for c in out.columns if c != "comparison"]]]

    def plot(self, ax: Any = None, comparison: str | None = None, region: str | None = None) -> Any:
        """Bland–Altman plot of one comparison and region of volume percentages; without
        ``ax`` and ``region`` a grid of every region of the comparison (returns the figure)."""
        import matplotlib.pyplot as plt

        comparison = comparison or next(iter(self.agreement))
        res = self.agreement[comparison]
        if ax is not None or region is not None:
            ax = res.plot(ax=ax, region=region)
            ax.set_title(comparison, fontsize="small")
            return ax
        regions = list(res.table.index)
        ncols = min(3, len(regions))
        nrows = -(-len(regions) // ncols)
        fig, axes = plt.subplots(nrows, ncols, figsize=(4 * ncols, 3.2 * nrows), squeeze=False)
        for a, r in zip(axes.ravel(), regions, strict=False):
            if res.table.loc[r, "n"] > 0:
                res.plot(ax=a, region=r)
            t = res.table.loc[r]
            a.set_title(f"{r}: bias {t['bias']:.2g}, ICC(2,1) {t['icc_2_1']:.2f}", fontsize="small")
        for a in axes.ravel()[len(regions):]:
            a.set_visible(False)
        fig.suptitle(f"Bland–Altman, % of WT: {comparison}", fontsize="medium")
        fig.tight_layout()
        return fig

    def dice_figure(self) -> Any:
        """Box plots of the Dice per region, one panel per reference."""
        import matplotlib.pyplot as plt

        refs = list(pd.unique(self.per_case["reference"]))
        fig, axes = plt.subplots(1, len(refs), figsize=(max(4, 0.9 * self.per_case["region"].nunique() + 1) * len(refs), 3.4),
                                 squeeze=False)
        for a, ref in zip(axes[0], refs, strict=True):
            g = self.per_case[self.per_case["reference"] == ref]
            regions = list(pd.unique(g["region"]))
            a.boxplot([g.loc[g["region"] == r, "dice"].to_numpy(float) for r in regions])
            a.set_xticks(range(1, len(regions) + 1), regions)
            a.set_ylim(-0.02, 1.02)
            a.set_ylabel("Dice")
            a.set_title(f"pred vs {ref}", fontsize="small")
        fig.tight_layout()
        return fig

    def save(self, out_dir: str | os.PathLike[str], *, overwrite: bool = False) -> Path:
        """Write ``per_case.csv``, ``summary.csv``, ``agreement_pct.csv``, ``agreement_ml.csv``,
        ``volumes.csv``, the figures and ``report.html`` into ``out_dir`` (atomically).

        A path ending in ``.csv``, ``.tsv``, ``.json``, ``.html`` or ``.parquet`` writes
        :meth:`summary` alone (one file). Returns the path written.
        """
        import matplotlib.pyplot as plt

        from imaging._io import atomic_dir

        out = Path(out_dir)
        if out.suffix.lower() in SAVE_SUFFIXES:
            return super().save(out)
        if out.exists() and not out.is_dir():
            raise ValueError(f"{out}: exists and is not a folder")
        if out.is_dir() and any(out.iterdir()) and not overwrite:
            raise ValueError(f"{out}: output folder exists and is not empty (use --overwrite)")
        summary = self.summary()
        agree = self.agreement_table()
        agree_ml = self.agreement_table(ml=True)
        with atomic_dir(out) as tmp:
            self.per_case.to_csv(tmp / "per_case.csv", index=False)
            summary.to_csv(tmp / "summary.csv", index=False)
            agree.to_csv(tmp / "agreement_pct.csv", index=False)
            agree_ml.to_csv(tmp / "agreement_ml.csv", index=False)
            pd.concat(self.volumes, names=["source", "case"]).to_csv(tmp / "volumes.csv")
            figures = []
            for i, comp in enumerate(self.agreement):
                fig = self.plot(comparison=comp)
                name = f"bland_altman_{i}.png"
                fig.savefig(tmp / name, dpi=100)
                plt.close(fig)
                figures.append((f"Bland–Altman of volume percentages: {comp}", name))
            fig = self.dice_figure()
            fig.savefig(tmp / "dice.png", dpi=100)
            plt.close(fig)
            figures.insert(0, ("Dice per region", "dice.png"))
            (tmp / "report.html").write_text(self._html(summary, agree, figures), encoding="utf-8")
            for p in tmp.iterdir():
                p.chmod(0o644)
            tmp.chmod(0o755)
        return out

    def _html(self, summary: pd.DataFrame, agree: pd.DataFrame, figures: list[tuple[str, str]]) -> str:
        wide = summary.pivot_table(index=["reference", "region"], columns="metric", values=["mean", "sd", "median"],
                                   sort=False)
        wide = wide.reindex(columns=[(s, m) for m in METRICS for s in ("mean", "sd", "median")])
        wide.columns = [f"{m} {s}" for s, m in wide.columns]
        p = self.params
        parts = [
            "<!DOCTYPE html><html><head><meta charset='utf-8'><title>Segmentation evaluation</title>",
            "<style>body{font-family:sans-serif;margin:2em;max-width:1200px}table{border-collapse:collapse;"
            "font-size:0.85em}td,th{border:1px solid #ccc;padding:2px 6px;text-align:right}"
            "img{max-width:100%;}</style></head><body>",
            "<h1>Segmentation evaluation</h1>",
            f"<p>Prediction: <code>{html.escape(str(p.get('pred', '')))}</code>; references: "
            + ", ".join(f"<code>{html.escape(str(r))}</code>" for r in p.get("truth", []))
            + f"; schema <code>{html.escape(str(p.get('schema', '')))}</code>; "
            f"{int(self.per_case['case'].nunique())} cases. HD95 in mm; one empty mask gives "
            f"{html.escape(str(p.get('empty_hd')))} mm (infinite values are left out of the summary). "
            "RVD = (|P| − |R|) / |R|.</p>",
            "<h2>Cohort summary</h2>", wide.to_html(float_format=lambda v: f"{v:.3f}"),
            "<h2>Agreement of volume percentages (% of WT)</h2>",
            agree.to_html(index=False, float_format=lambda v: f"{v:.3g}"),
        ]
        for title, name in figures:
            parts += [f"<h2>{html.escape(title)}</h2>", f"<img src='{html.escape(name)}' alt='{html.escape(title)}'>"]
        parts.append("<p>Tables: per_case.csv, summary.csv, agreement_pct.csv, agreement_ml.csv, volumes.csv.</p>")
        parts.append("</body></html>")
        return "\n".join(parts) + "\n"


def evaluate_cohort(
    pred_dir: str | os.PathLike[str],
    truth_dirs: str | os.PathLike[str] | Sequence[str | os.PathLike[str]],
    schema: Any = "brats",
    *,
    empty_hd: float = float("inf"),
    strict: bool = True,
) -> EvaluationResult:
    """Evaluate the label maps of ``pred_dir`` against one or more reference folders.

    Parameters
    ----------
    pred_dir : folder of ``<case>.nii[.gz]`` predicted label maps.
    truth_dirs : one folder or several (e.g. two experts) with the same case ids.
    schema : label schema of both.
    empty_hd : HD95 when exactly one mask of a region is empty (BraTS: 373.13).
    strict : unknown label values are an error (else ignored by the region masks).

    Raises ``ValueError`` naming the cases that one folder lacks and the files whose grids
    differ.
    """
    from imaging.io import check_same_space, load_label_map, voxel_spacing
    from imaging.labels import check_labels, get_schema
    from imaging.metrics import region_report, volume_agreement
    from imaging.volumes import subregion_percentages

    sch = get_schema(schema)
    truths = [truth_dirs] if isinstance(truth_dirs, str | os.PathLike) else list(truth_dirs)
    if not truths:
        raise ValueError("no reference folder given")
    pred = find_label_maps(pred_dir)
    refs = {}
    names = []
    for t in truths:
        name = Path(t).name or str(t)
        while name in names or name == "pred":
            name += "'"
        names.append(name)
        refs[name] = find_label_maps(t)
        missing = sorted(set(refs[name]) - set(pred))
        extra = sorted(set(pred) - set(refs[name]))
        if missing or extra:
            msg = []
            if missing:
                msg.append(f"{pred_dir} lacks case(s) {missing[:5]}")
            if extra:
                msg.append(f"{t} lacks case(s) {extra[:5]}")
            raise ValueError("; ".join(msg) + " (the folders must hold the same <case>.nii.gz files)")
    rows = []
    volumes: dict[str, dict[str, pd.Series]] = {"pred": {}, **{n: {} for n in names}}
    for case, ppath in pred.items():
        p_img = load_label_map(ppath)
        p_arr = np.asarray(p_img.dataobj)
        if strict:
            _check(check_labels, p_arr, sch, ppath)
        sp = voxel_spacing(p_img)
        for name in names:
            rpath = refs[name][case]
            r_img = load_label_map(rpath)
            check_same_space(p_img, r_img, names=("prediction", "reference"))
            r_arr = np.asarray(r_img.dataobj)
            if strict:
                _check(check_labels, r_arr, sch, rpath)
            rep = region_report(p_arr, r_arr, sch, sp, empty_hd=empty_hd)
            for region, m in rep.iterrows():
                rows.append({"reference": name, "case": case, "region": region, **m.to_dict()})
            volumes[name][case] = rep["ref_ml"]
            volumes["pred"][case] = rep["pred_ml"]
    per_case = pd.DataFrame(rows)
    vols = {k: pd.DataFrame(v).T.rename_axis("case") for k, v in volumes.items()}
    pct = {k: subregion_percentages(v) for k, v in vols.items()}
    pairs = [("pred", n) for n in names] + [(a, b) for i, a in enumerate(names) for b in names[i + 1 :]]
    agreement = {f"{a} vs {b}": volume_agreement(pct[a], pct[b]) for a, b in pairs}
    agreement_ml = {f"{a} vs {b}": volume_agreement(vols[a], vols[b]) for a, b in pairs}
    params = {"pred": str(pred_dir), "truth": [str(t) for t in truths], "schema": sch.name, "empty_hd": empty_hd}
    logger.info("evaluated %d cases against %d reference(s)", len(pred), len(names))
    return EvaluationResult(per_case, vols, agreement, agreement_ml, params)


def _check(fn: Any, arr: np.ndarray, sch: Any, path: Path) -> None:
    try:
        fn(np.unique(arr), sch, strict=True)
    except ValueError as exc:
        raise ValueError(f"{path}: {exc}") from exc
