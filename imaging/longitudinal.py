"""Longitudinal tumour-volume tracking with volumetric response categories (EASE workflow).

The Erasmus Automated SEgmentation (EASE) workflow for low-grade glioma follows the tumour
volume of each patient over time: every new scan is segmented, the segmentation is
accepted or rejected by a radiologist, and the new volume is compared with the **two
previous accepted scans**. A volume increase of 40 % — the volumetric counterpart of the
25 % increase of the product of diameters in 2-D RANO — is the recommended threshold for
progressive disease.

Input
-----
A scan table (``scans.csv``) with one row per segmentation:

* ``patient`` — patient id;
* ``date`` — scan date (ISO ``YYYY-MM-DD`` or anything ``pandas.to_datetime`` reads);
* ``mask`` — label-map path (NIfTI), relative paths resolved against the table's folder;
* ``accepted`` (optional) — reviewer's decision: true/false, yes/no, 1/0,
  accepted/rejected (empty = accepted);
* ``software_version`` (optional) — version of the segmentation software.

Per scan and region ``R`` (the schema's base regions and composites, e.g. ET, NCR, ED, TC,
WT) the table holds the volume ``R_ml`` and its change against three earlier *accepted*
scans of the same patient: the previous one (``prev``), the one before it (``prev2``) and
the nadir (``nadir``, the earlier accepted scan with the smallest volume of ``R``)::

    R_change_<ref>_ml  = V - V_ref
    R_change_<ref>_pct = 100 (V - V_ref) / V_ref          (NaN when V_ref = 0)

Response categories (column ``response``, judged on ``region``, default WT)
----------------------------------------------------------------------------
With ``V`` the current volume, ``V_1, V_2`` the two previous accepted volumes and
``V_0`` the first accepted (baseline) volume of the patient:

* ``PD`` (progressive disease): ``100 (V - V_i) / V_i >= pd_threshold`` (default 40 %)
  for ``i = 1`` or ``i = 2``, or tumour volume appearing (``V > cr_volume_ml`` while
  ``V_i <= cr_volume_ml``);
* ``CR`` (complete response): ``V <= cr_volume_ml`` (default 0 mL) with ``V_0 >
  cr_volume_ml``;
* ``PR`` (partial response): ``100 (V - V_0) / V_0 <= -pr_threshold`` (default 65 %, the
  volumetric counterpart of RANO's 50 % decrease of the product of diameters, as
  (1 - 0.5)^(3/2) ≈ 0.35);
* ``SD`` (stable disease) otherwise.

PD takes precedence over CR/PR. The category is empty (undefined) when the scan is
rejected, or when fewer than ``min_previous`` (default 1) earlier accepted scans exist;
``response_reason`` then says why (for defined categories it gives the deciding numbers).

Rejected scans keep their row and volumes but never serve as a reference.

Software versions
-----------------
Rows sharing ``patient`` and ``date`` with different ``software_version`` are
*reference scans*: the same scan segmented by two software versions. For each pair of
versions the largest relative difference ``|V_b - V_a| / max(V_a, V_b)`` of ``region``
over the reference scans is computed (:attr:`LongitudinalResult.software_check`); a pair
whose reference volumes differ by more than ``software_tolerance`` (default 25 %) is
flagged incompatible. A scan compared with an earlier scan of another version gets
``version_change = True``, and ``software_flag = True`` when that version pair is flagged
(or has no reference scan to check it). When an earlier date has several versions, the
comparison uses the row with the current scan's version when there is one, else the
row listed last.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from imaging._result import Result
from imaging.labels import LabelSchema, get_schema

__all__ = ["LongitudinalResult", "read_scans", "track_volumes", "REFERENCES"]

logger = logging.getLogger(__name__)

#: comparison scans, in column order
REFERENCES: tuple[str, ...] = ("prev", "prev2", "nadir")

_TRUE = {"true", "t", "yes", "y", "1", "accepted", "accept", "ok", ""}
_FALSE = {"false", "f", "no", "n", "0", "rejected", "reject"}


def read_scans(path: str | os.PathLike[str] | pd.DataFrame) -> pd.DataFrame:
    """Read and check a scan table; returns columns patient, date (datetime), mask (Path),
    accepted (bool), software_version (str), in input order.

    Raises ``ValueError`` naming the file and the row for a missing column, an unreadable
    date, an unknown ``accepted`` value or a duplicated (patient, date, software_version).
    Relative mask paths are resolved against the table's folder.
    """
    if isinstance(path, pd.DataFrame):
        raw, name, base = path.copy(), "scan table", Path.cwd()
    else:
        p = Path(path)
        if not p.is_file():
            raise FileNotFoundError(f"scan table not found: {p}")
        try:
            raw = pd.read_csv(p, dtype=str, keep_default_na=False)
        except (pd.errors.ParserError, UnicodeDecodeError) as exc:
            raise ValueError(f"{p}: cannot read CSV ({' '.join(str(exc).split())})") from exc
        name, base = str(p), p.resolve().parent
    raw.columns = [str(c).strip() for c in raw.columns]
    missing = [c for c in ("patient", "date", "mask") if c not in raw.columns]
    if missing:
        raise ValueError(f"{name}: missing column(s) {missing}; need patient, date, mask "
                         f"(optional accepted, software_version); found {list(raw.columns)}")
    if raw.empty:
        raise ValueError(f"{name}: no scans")
    out = pd.DataFrame(index=range(len(raw)))
    out["patient"] = raw["patient"].astype(str).str.strip().to_numpy()
    if (out["patient"] == "").any():
        row = int(np.flatnonzero(out["patient"] == "")[0]) + 2
        raise ValueError(f"{name}: empty patient id on line {row}")
    dates = []
    for i, d in enumerate(raw["date"].astype(str)):
        try:
            dates.append(pd.Timestamp(d.strip()))
        except (ValueError, TypeError):
            raise ValueError(f"{name}: line {i + 2}: cannot read date {d!r} (use YYYY-MM-DD)") from None
        if pd.isna(dates[-1]):
            raise ValueError(f"{name}: line {i + 2}: empty date")
    out["date"] = pd.to_datetime(dates)
    masks = []
    for i, m in enumerate(raw["mask"].astype(str)):
        if not m.strip():
            raise ValueError(f"{name}: line {i + 2}: empty mask path")
        mp = Path(m.strip())
        masks.append(mp if mp.is_absolute() else base / mp)
    out["mask"] = masks
    if "accepted" in raw.columns:
        acc = []
        for i, v in enumerate(raw["accepted"].astype(str)):
            key = v.strip().lower()
            if key in _TRUE:
                acc.append(True)
            elif key in _FALSE:
                acc.append(False)
            else:
                raise ValueError(
                    f"{name}: line {i + 2}: accepted must be true/false, yes/no, 1/0 or "
                    f"accepted/rejected, got {v!r}"
                )
        out["accepted"] = acc
    else:
        out["accepted"] = True
    out["software_version"] = (
        raw["software_version"].astype(str).str.strip().to_numpy() if "software_version" in raw.columns else ""
    )
    dup = out.duplicated(["patient", "date", "software_version"], keep=False)
    if dup.any():
        first = out[dup].iloc[0]
        raise ValueError(
            f"{name}: patient {first['patient']!r} has several scans on {first['date'].date()} with the same "
            f"software version {first['software_version']!r}"
        )
    return out


def _pct(v: np.ndarray | float, ref: np.ndarray | float) -> np.ndarray:
    v, ref = np.asarray(v, float), np.asarray(ref, float)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(ref > 0, 100.0 * (v - ref) / np.where(ref > 0, ref, 1.0), np.nan)


@dataclass(repr=False)
class LongitudinalResult(Result):
    """Volumes, changes and response categories of every scan (:func:`track_volumes`).

    ``summary()`` is one row per patient; ``to_frame()`` the per-scan table, which is what
    ``save`` writes.

    Attributes
    ----------
    table : DataFrame
        One row per scan, sorted by patient and date (columns in the module docstring).
    software_check : DataFrame
        One row per pair of software versions seen on the same scan: ``version_a``,
        ``version_b``, ``n_reference``, ``max_diff_pct``, ``incompatible``.
    params : dict
        The thresholds used.
    """

    table: pd.DataFrame
    software_check: pd.DataFrame
    params: dict[str, Any] = field(default_factory=dict)

    @property
    def region(self) -> str:
        return str(self.params["region"])

    def to_frame(self) -> pd.DataFrame:
        """The per-scan table (a copy)."""
        return self.table.copy()

    def _header(self) -> dict[str, Any]:
        return {"region": self.params.get("region", ""), "patients": int(self.table["patient"].nunique()),
                "scans": len(self.table)}

    def summary(self) -> pd.DataFrame:
        """One row per patient: scans, accepted scans, first and last volume of ``region``,
        last defined response, date of the first PD, and software flags."""
        rows = {}
        r = self.region
        for patient, g in self.table.groupby("patient", sort=True):
            acc = g[g["accepted"]]
            defined = g[g["response"] != ""]
            pd_rows = g[g["response"] == "PD"]
            rows[patient] = {
                "n_scans": len(g),
                "n_accepted": len(acc),
                f"first_{r}_ml": float(acc[f"{r}_ml"].iloc[0]) if len(acc) else np.nan,
                f"last_{r}_ml": float(acc[f"{r}_ml"].iloc[-1]) if len(acc) else np.nan,
                "last_response": defined["response"].iloc[-1] if len(defined) else "",
                "first_pd_date": pd_rows["date"].iloc[0].date().isoformat() if len(pd_rows) else "",
                "software_flags": int(g["software_flag"].sum()),
            }
        out = pd.DataFrame.from_dict(rows, orient="index")
        out.index.name = "patient"
        return out

    def _saved_table(self) -> pd.DataFrame:
        """The per-scan table with ISO dates (text) and mask paths as text, indexed by patient."""
        out = self.table.copy()
        out["date"] = out["date"].dt.date.astype(str)
        for c in ("prev_date", "prev2_date", "nadir_date"):
            out[c] = [d.date().isoformat() if isinstance(d, pd.Timestamp) else "" for d in out[c]]
        out["mask"] = out["mask"].astype(str)
        return out.set_index("patient")

    def save(self, path: str | os.PathLike[str]) -> Path:
        """Write the per-scan table atomically (``.csv``, ``.tsv``, ``.parquet``, ``.json``;
        ``.html`` a page with the summary)."""
        from imaging.features import write_table

        path = Path(path)
        if path.suffix.lower() in {".csv", ".tsv", ".parquet"}:
            return write_table(self._saved_table(), path)
        return super().save(path)

    def plot(self, ax: Any = None, patient: str | None = None) -> Any:
        """Volume trajectory of one patient with the threshold bands.

        The red band starts at the PD level that the *next* scan would have to reach,
        ``(1 + pd_threshold/100) * min(V_1, V_2)`` over the last two accepted scans; the
        green band lies below the PR level ``(1 - pr_threshold/100) * V_0``. Accepted scans
        are dots coloured by response, rejected scans crosses. Without ``patient`` and
        ``ax`` all patients are drawn on a grid (:meth:`figure`) and that figure is
        returned (its panels are ``fig.axes``).
        """
        import matplotlib.pyplot as plt

        patients = list(pd.unique(self.table["patient"]))
        if patient is None:
            if ax is None:
                return self.figure()
            if len(patients) > 1:
                raise ValueError(f"several patients {patients[:5]}...; pass patient= to draw one on ax")
            patient = patients[0]
        if patient not in patients:
            raise KeyError(f"patient {patient!r} not in the table; patients: {patients[:10]}")
        if ax is None:
            _, ax = plt.subplots(figsize=(5, 3.2))
        r = self.region
        t_pd = float(self.params["pd_threshold"])
        t_pr = float(self.params["pr_threshold"])
        g = self.table[self.table["patient"] == patient]
        acc = g[g["accepted"]]
        rej = g[~g["accepted"]]
        if len(acc):
            v = acc[f"{r}_ml"].to_numpy(float)
            dates = acc["date"].to_numpy()
            ax.plot(dates, v, color="0.4", lw=1, zorder=1)
            # PD level the next scan must reach: step function over the accepted scans
            levels = np.array([(1 + t_pd / 100) * v[max(0, i - 1) : i + 1].min() for i in range(len(v))])
            top = max(float(np.nanmax(v)), float(np.nanmax(levels))) * 1.25 + 1e-9
            ax.fill_between(dates, levels, top, step="post", color="tab:red", alpha=0.12,
                            label=f"PD (+{t_pd:g} % vs either of last 2)")
            if v[0] > 0:
                ax.axhspan(0, (1 - t_pr / 100) * v[0], color="tab:green", alpha=0.12,
                           label=f"PR (-{t_pr:g} % vs baseline)")
            colours = {"PD": "tab:red", "PR": "tab:green", "CR": "tab:blue", "SD": "0.3", "": "white"}
            for resp, sub in acc.groupby("response"):
                ax.scatter(sub["date"], sub[f"{r}_ml"], color=colours.get(resp, "0.3"), edgecolor="k",
                           zorder=3, s=28, label=resp or "undefined")
            ax.set_ylim(0, top)
        if len(rej):
            ax.scatter(rej["date"], rej[f"{r}_ml"], marker="x", color="k", zorder=3, label="rejected")
        flagged = g[g["software_flag"]]
        for d in flagged["date"]:
            ax.axvline(d, color="tab:orange", ls=":", lw=1)
        import matplotlib.dates as mdates

        if g["date"].nunique() > 1:  # one date: matplotlib's default axis
            locator = mdates.AutoDateLocator(maxticks=6)
            ax.xaxis.set_major_locator(locator)
            ax.xaxis.set_major_formatter(mdates.ConciseDateFormatter(locator))
        ax.set_title(str(patient))
        ax.set_ylabel(f"{r} volume (mL)")
        return ax

    def figure(self, ncols: int = 3) -> Any:
        """A grid figure with one trajectory panel per patient (shared legend)."""
        import matplotlib.pyplot as plt

        patients = list(pd.unique(self.table["patient"]))
        ncols = max(1, min(ncols, len(patients)))
        nrows = -(-len(patients) // ncols)
        fig, axes = plt.subplots(nrows, ncols, figsize=(4.2 * ncols, 3.2 * nrows + 0.6), squeeze=False)
        for a, p in zip(axes.ravel(), patients, strict=False):
            self.plot(ax=a, patient=p)
        for a in axes.ravel()[len(patients):]:
            a.set_visible(False)
        handles, labels = {}, []
        for a in axes.ravel()[: len(patients)]:
            for h, lab in zip(*a.get_legend_handles_labels(), strict=True):
                if lab not in handles:
                    handles[lab] = h
                    labels.append(lab)
        fig.legend([handles[x] for x in labels], labels, loc="lower center", ncol=min(4, len(labels)),
                   frameon=False, fontsize="small")
        fig.tight_layout(rect=(0, 0.6 / (3.2 * nrows + 0.6) + 0.04, 1, 1))
        return fig

    def save_figure(self, path: str | os.PathLike[str], dpi: int = 120) -> Path:
        """Write :meth:`figure` atomically (format from the suffix, e.g. ``.png``, ``.pdf``)."""
        import matplotlib.pyplot as plt

        from imaging._io import atomic_path

        path = Path(path)
        fig = self.figure()
        try:
            with atomic_path(path, suffix=path.suffix or ".png") as tmp:
                fig.savefig(tmp, dpi=dpi)
        finally:
            plt.close(fig)
        return path


def _volumes(scans: pd.DataFrame, schema: LabelSchema, strict: bool) -> pd.DataFrame:
    from imaging.volumes import subregion_volumes

    missing = [str(m) for m in scans["mask"] if not Path(m).is_file()]
    if missing:
        more = f" (and {len(missing) - 3} more)" if len(missing) > 3 else ""
        raise FileNotFoundError(f"mask file(s) not found: {', '.join(missing[:3])}{more}")
    rows = []
    for m in scans["mask"]:
        try:
            rows.append(subregion_volumes(m, schema, strict=strict))
        except ValueError as exc:
            msg = str(exc)
            raise ValueError(msg if str(m) in msg else f"{m}: {msg}") from exc
    return pd.DataFrame(rows, index=scans.index)


def _software_check(table: pd.DataFrame, region: str, tolerance: float) -> pd.DataFrame:
    pairs: dict[tuple[str, str], list[float]] = {}
    for _, g in table.groupby(["patient", "date"], sort=False):
        if g["software_version"].nunique() < 2:
            continue
        vols = dict(zip(g["software_version"], g[f"{region}_ml"].astype(float), strict=True))
        versions = sorted(vols)
        for i, a in enumerate(versions):
            for b in versions[i + 1 :]:
                va, vb = vols[a], vols[b]
                den = max(va, vb)
                pairs.setdefault((a, b), []).append(0.0 if den == 0 else 100.0 * abs(vb - va) / den)
    rows = [
        {"version_a": a, "version_b": b, "n_reference": len(d), "max_diff_pct": max(d),
         "incompatible": max(d) > 100 * tolerance}
        for (a, b), d in sorted(pairs.items())
    ]
    return pd.DataFrame(rows, columns=["version_a", "version_b", "n_reference", "max_diff_pct", "incompatible"])


def track_volumes(
    scans: str | os.PathLike[str] | pd.DataFrame,
    schema: Any = "brats",
    *,
    region: str = "WT",
    pd_threshold: float = 40.0,
    pr_threshold: float = 65.0,
    cr_volume_ml: float = 0.0,
    min_previous: int = 1,
    software_tolerance: float = 0.25,
    strict: bool = True,
) -> LongitudinalResult:
    """Volumes, changes and volumetric response category of every scan of every patient.

    Parameters
    ----------
    scans : path to ``scans.csv`` or a DataFrame (see the module docstring); a DataFrame's
        relative mask paths are resolved against the working directory.
    schema : label schema of the masks (``"brats"``, ``"paediatric"``, a file, ...).
    region : region whose volume decides the response (default whole tumour ``WT``).
    pd_threshold : percent increase vs either of the two previous accepted scans giving PD.
    pr_threshold : percent decrease vs the baseline (first accepted) scan giving PR.
    cr_volume_ml : volume at or below which the tumour counts as gone (CR).
    min_previous : earlier accepted scans required for a category (1 or 2).
    software_tolerance : fraction; version pairs whose reference volumes differ more are
        flagged incompatible.
    strict : unknown label values raise ``ValueError`` (False: ignored).

    Returns
    -------
    LongitudinalResult

    Notes
    -----
    Change in percent: ``100 (V - V_ref) / V_ref`` (NaN when ``V_ref = 0``). PD when that
    change reaches ``pd_threshold`` against the previous or the one-before-previous
    accepted scan (or volume appears from ``<= cr_volume_ml``); CR when ``V <= cr_volume_ml``
    after a baseline above it; PR when the change vs baseline is ``<= -pr_threshold``;
    SD otherwise.
    """
    sch = get_schema(schema)
    if region not in sch.names:
        raise ValueError(f"region {region!r} not in schema {sch.name!r}; known: {sch.names}")
    if min_previous not in (1, 2):
        raise ValueError(f"min_previous must be 1 or 2, got {min_previous}")
    if not pd_threshold > 0 or not 0 < pr_threshold <= 100:
        raise ValueError(f"pd_threshold must be > 0 and pr_threshold in (0, 100], got {pd_threshold}, {pr_threshold}")
    if not 0 <= software_tolerance:
        raise ValueError(f"software_tolerance must be >= 0, got {software_tolerance}")
    table = read_scans(scans)
    vols = _volumes(table, sch, strict)
    regions = list(vols.columns)
    for c in regions:
        table[f"{c}_ml"] = vols[c].to_numpy(float)
    table = table.sort_values(["patient", "date", "software_version"], kind="stable").reset_index(drop=True)
    check = _software_check(table, region, software_tolerance)
    bad_pairs = {frozenset((a, b)) for a, b, inc in
                 zip(check["version_a"], check["version_b"], check["incompatible"], strict=True) if inc}
    checked = {frozenset((a, b)) for a, b in zip(check["version_a"], check["version_b"], strict=True)}

    n = len(table)
    change = {f"{c}_change_{ref}_{u}": np.full(n, np.nan) for c in regions for ref in REFERENCES for u in ("ml", "pct")}
    ref_dates: dict[str, list[Any]] = {f"{ref}_date": [pd.NaT] * n for ref in REFERENCES}
    response = [""] * n
    reason = [""] * n
    version_change = np.zeros(n, dtype=bool)
    software_flag = np.zeros(n, dtype=bool)
    eps = float(cr_volume_ml)
    for _, g in table.groupby("patient", sort=False):
        idx = g.index.to_numpy()
        for i in idx:
            row = table.loc[i]
            # earlier accepted scans: one row per earlier date (the current version if present)
            earlier = table.loc[idx][(table.loc[idx, "date"] < row["date"]) & table.loc[idx, "accepted"]]
            chosen = []
            for _, dg in earlier.groupby("date", sort=True):
                same = dg[dg["software_version"] == row["software_version"]]
                chosen.append(same.index[-1] if len(same) else dg.index[-1])
            refs: dict[str, int | None] = {
                "prev": chosen[-1] if chosen else None,
                "prev2": chosen[-2] if len(chosen) >= 2 else None,
            }
            for ref in ("prev", "prev2"):
                j = refs[ref]
                if j is not None:
                    ref_dates[f"{ref}_date"][i] = table.at[j, "date"]
            for c in regions:
                v = float(row[f"{c}_ml"])
                refs_c = dict(refs)
                if chosen:
                    vc = table.loc[chosen, f"{c}_ml"].to_numpy(float)
                    refs_c["nadir"] = chosen[int(np.argmin(vc))]  # earliest among ties
                else:
                    refs_c["nadir"] = None
                for ref in REFERENCES:
                    j = refs_c[ref]
                    if j is None:
                        continue
                    vr = float(table.at[j, f"{c}_ml"])
                    change[f"{c}_change_{ref}_ml"][i] = v - vr
                    change[f"{c}_change_{ref}_pct"][i] = _pct(v, vr)
                if c == region and refs_c["nadir"] is not None:
                    ref_dates["nadir_date"][i] = table.at[refs_c["nadir"], "date"]
            # software versions of the scans compared
            used = [j for j in (refs["prev"], refs["prev2"]) if j is not None]
            others = {table.at[j, "software_version"] for j in used} - {row["software_version"]}
            if others:
                version_change[i] = True
                failed = [o for o in others if frozenset((o, row["software_version"])) in bad_pairs]
                unchecked = [o for o in others if frozenset((o, row["software_version"])) not in checked]
                software_flag[i] = bool(failed or unchecked)
            # response
            if not row["accepted"]:
                reason[i] = "rejected by the reviewer; not compared"
                continue
            if len(chosen) < min_previous:
                reason[i] = (
                    f"{len(chosen)} earlier accepted scan(s), {min_previous} required"
                    if chosen else "no earlier accepted scan (baseline)"
                )
                continue
            v = float(row[f"{region}_ml"])
            prev_v = [float(table.at[j, f"{region}_ml"]) for j in used]
            base_v = float(table.at[chosen[0], f"{region}_ml"])
            pcts = [float(_pct(v, p)) for p in prev_v]
            notes = []
            cur = row["software_version"]
            for o in sorted(others):
                pair = frozenset((o, cur))
                if pair in bad_pairs:
                    notes.append(f"software {o} -> {cur} failed the reference check")
                elif pair in checked:
                    notes.append(f"software {o} -> {cur} passed the reference check")
                else:
                    notes.append(f"software changed ({o} -> {cur}) without reference scans to check it")
            hit = [k for k, (p, pv) in enumerate(zip(pcts, prev_v, strict=True))
                   if (pv > eps and p >= pd_threshold) or (pv <= eps < v)]
            if hit:
                k = hit[0]
                what = "new volume" if prev_v[k] <= eps else f"+{pcts[k]:.1f} %"
                response[i] = "PD"
                reason[i] = f"{region} {what} vs {('previous', 'scan before previous')[k]} accepted scan"
            elif v <= eps and base_v > eps:
                response[i] = "CR"
                reason[i] = f"{region} {v:.3g} mL <= {eps:g} mL"
            elif base_v > eps and float(_pct(v, base_v)) <= -pr_threshold:
                response[i] = "PR"
                reason[i] = f"{region} {float(_pct(v, base_v)):.1f} % vs baseline"
            else:
                response[i] = "SD"
                shown = ", ".join("n/a" if np.isnan(p) else f"{p:+.1f} %" for p in pcts)
                reason[i] = f"{region} change vs previous accepted scan(s): {shown}"
            if notes:
                reason[i] += "; " + "; ".join(notes)
    for k, v in ref_dates.items():
        table[k] = v
    for k, v in change.items():
        table[k] = v
    table["version_change"] = version_change
    table["software_flag"] = software_flag
    table["response"] = response
    table["response_reason"] = reason
    params = {
        "schema": sch.name, "region": region, "pd_threshold": float(pd_threshold),
        "pr_threshold": float(pr_threshold), "cr_volume_ml": eps, "min_previous": int(min_previous),
        "software_tolerance": float(software_tolerance),
    }
    n_pd = int((table["response"] == "PD").sum())
    logger.info("%d scans of %d patients, %d PD", n, table["patient"].nunique(), n_pd)
    if bad_pairs:
        logger.warning("software version pairs failing the reference check: %s",
                       [tuple(sorted(p)) for p in bad_pairs])
    return LongitudinalResult(table, check, params)
