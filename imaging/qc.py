"""Ensemble quality control: flag cases whose ensemble members disagree.

Published method (:func:`ensemble_qc`)
--------------------------------------
The unsupervised quality estimation for segmentation ensembles of Kofler et al. (Front.
Neurosci. 2021, "Robust, primitive, and unsupervised quality estimation for segmentation
ensembles"), per case and per region ``r`` (binary masks; default WT, TC, ET):

1. **Fusion** of the ``M`` members: majority vote (a voxel is in the fusion when more than
   half the members have it, ``votes > M/2``), or SIMPLE (:func:`fuse`).
2. **Member vs fusion**: Dice ``D_m`` and 95 % Hausdorff distance ``H_m`` (mm,
   :func:`imaging.metrics.hausdorff95`) of every member ``m`` against the fusion. Both empty:
   Dice 1, HD 0; exactly one empty: HD infinite.
3. **Per-member thresholds over the cohort**: for each member and region, over all cases,
   ``t_D = median(D) - alpha * MAD(D)`` and ``t_H = median(H) + alpha * MAD(H)`` with
   ``MAD(x) = median(|x - median(x)|)`` (unscaled; ``mad_scale`` multiplies it), HD over its
   finite values.
4. **Alarms**: ``D_m < t_D`` is an alarm, ``H_m > t_H`` is an alarm, and an infinite or
   undefined (NaN) HD is always an alarm. A case's **alarm count** sums them over members,
   regions and both metrics; cases are ranked for review by alarm count (most first), then
   by their lowest member Dice.

``alpha`` defaults to 3 (the usual robust-outlier rule). The paper's own value could not be
checked against its text here; set ``alpha`` to reproduce a published configuration.

Discord score (:func:`ensemble_discord`, older and simpler)
-----------------------------------------------------------
For each case, the members of a segmentation ensemble (e.g. the folds of a model, or
several models) each give a label map. Per region ``r`` of the schema (base regions and
composites):

* ``discord_r = 1 - mean pairwise Dice`` over all member pairs (0 = identical members;
  a pair where both masks are empty has Dice 1, :func:`imaging.metrics.dice`);
* ``volume_cv_r = SD / mean`` of the members' volumes (ddof 0; 0 when all are empty).

The case **score** is the mean of ``discord_r`` over the scored regions (default all).
A case is **flagged** for human review when ``score > threshold``; the **review order**
sorts cases by score, most doubtful first. Disagreement inside an ensemble tracks
segmentation error (cases the members disagree on are the error-prone ones), so the top of
the list is where a reader's time is best spent.
"""

from __future__ import annotations

import itertools
import logging
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from imaging._result import Result
from imaging.labels import get_schema, region_masks
from imaging.metrics import dice

__all__ = [
    "QCResult",
    "EnsembleQCResult",
    "ensemble_discord",
    "case_discord",
    "fuse",
    "member_agreement",
    "ensemble_qc",
    "read_members",
]

logger = logging.getLogger(__name__)


def _as_array(member: Any) -> tuple[np.ndarray, float]:
    """Label array and voxel volume (mL; 1 mm³ voxels for arrays)."""
    if isinstance(member, np.ndarray):
        return member, 1e-3
    from imaging.io import load_label_map, voxel_spacing

    img = load_label_map(member)
    return np.asanyarray(img.dataobj), float(np.prod(voxel_spacing(img))) / 1000.0


def case_discord(
    members: Sequence[Any], schema: Any = "brats", *, regions: Sequence[str] | None = None,
    spacing: Any = None,
) -> pd.DataFrame:
    """Per-region discord of one case's ensemble members (arrays or NIfTI paths).

    Returns a DataFrame indexed by region: ``discord`` (1 - mean pairwise Dice),
    ``min_dice``, ``volume_mean_ml``, ``volume_sd_ml``, ``volume_cv``.
    """
    if len(members) < 2:
        raise ValueError(f"ensemble discord needs at least 2 members, got {len(members)}")
    sch = get_schema(schema)
    loaded = [_as_array(m) for m in members]
    shapes = {a.shape for a, _ in loaded}
    if len(shapes) != 1:
        raise ValueError(f"ensemble members have different shapes: {sorted(shapes)}")
    voxel_ml = loaded[0][1] if spacing is None else float(np.prod(np.broadcast_to(spacing, (3,)))) / 1000.0
    masks = [region_masks(a, sch) for a, _ in loaded]
    names = list(regions) if regions is not None else sch.names
    rows = {}
    for r in names:
        if r not in masks[0]:
            raise KeyError(f"region {r!r} not in schema {sch.name!r}; known: {sch.names}")
        d = [dice(masks[i][r], masks[j][r]) for i, j in itertools.combinations(range(len(masks)), 2)]
        vols = np.array([m[r].sum() * voxel_ml for m in masks], dtype=float)
        mean = vols.mean()
        rows[r] = {
            "discord": 1.0 - float(np.mean(d)),
            "min_dice": float(np.min(d)),
            "volume_mean_ml": float(mean),
            "volume_sd_ml": float(vols.std()),
            "volume_cv": 0.0 if mean == 0 else float(vols.std() / mean),
        }
    out = pd.DataFrame.from_dict(rows, orient="index")
    out.index.name = "region"
    return out


@dataclass(repr=False)
class QCResult(Result):
    """Result of :func:`ensemble_discord`.

    ``summary()`` (one row per case, review order) is also ``to_frame()`` and what ``save``
    writes.

    Attributes
    ----------
    regions : DataFrame, long format: one row per (case, region) with ``discord``,
        ``min_dice``, ``volume_mean_ml``, ``volume_sd_ml``, ``volume_cv``.
    scores : Series, case -> score (mean discord over the scored regions).
    threshold : float
    """

    regions: pd.DataFrame
    scores: pd.Series
    threshold: float

    @property
    def flagged(self) -> list[str]:
        """Cases with ``score > threshold``, most doubtful first."""
        return [c for c in self.review_order if self.scores[c] > self.threshold]

    @property
    def review_order(self) -> list[str]:
        """All cases sorted by score, most doubtful first (ties by case id)."""
        df = self.scores.rename("s").reset_index()
        df.columns = ["case", "s"]
        return df.sort_values(["s", "case"], ascending=[False, True])["case"].tolist()

    def summary(self) -> pd.DataFrame:
        """One row per case in review order: ``score``, ``flagged``, ``rank`` and, per
        region, ``discord_<region>`` and ``volume_cv_<region>``."""
        wide_d = self.regions["discord"].unstack("region").add_prefix("discord_")
        wide_v = self.regions["volume_cv"].unstack("region").add_prefix("volume_cv_")
        order = self.review_order
        out = pd.DataFrame({"score": self.scores, "flagged": self.scores > self.threshold})
        out = out.join(wide_d).join(wide_v).loc[order]
        out.insert(2, "rank", np.arange(1, len(order) + 1))
        out.index.name = "case"
        return out

    def _header(self) -> dict[str, Any]:
        return {"cases": len(self.scores), "threshold": self.threshold, "flagged": len(self.flagged)}

    def plot(self, ax: Any = None) -> Any:
        """Bar chart of the case scores in review order with the threshold line."""
        ax = self._axes(ax)
        s = self.summary()
        colors = ["tab:red" if f else "tab:grey" for f in s["flagged"]]
        ax.bar(range(len(s)), s["score"], color=colors)
        ax.set_xticks(range(len(s)))
        ax.set_xticklabels(s.index, rotation=90)
        ax.axhline(self.threshold, color="black", linestyle="--", label=f"threshold {self.threshold:g}")
        ax.set_ylabel("ensemble discord (1 - mean pairwise Dice)")
        ax.legend()
        return ax


def ensemble_discord(
    cohort: Mapping[str, Sequence[Any]],
    schema: Any = "brats",
    *,
    threshold: float = 0.2,
    regions: Sequence[str] | None = None,
    score_regions: Sequence[str] | None = None,
) -> QCResult:
    """Ensemble-discord QC of a cohort.

    Parameters
    ----------
    cohort : mapping case -> sequence of member label maps (arrays (x, y, z) with 1 mm³
        voxels, or NIfTI paths whose header gives the voxel volume); >= 2 members each.
    schema : label schema
    threshold : flag cases whose score exceeds it (default 0.2).
    regions : regions reported (default all base + composite regions).
    score_regions : regions averaged into the score (default ``regions``).

    Returns
    -------
    QCResult
    """
    if not cohort:
        raise ValueError("empty cohort")
    if not np.isfinite(threshold):
        raise ValueError(f"threshold must be finite, got {threshold}")
    tables = {str(case): case_discord(m, schema, regions=regions) for case, m in cohort.items()}
    long = pd.concat(tables, names=["case", "region"])
    used = list(score_regions) if score_regions is not None else None
    scores = pd.Series(
        {c: float(t["discord"].loc[used].mean() if used else t["discord"].mean()) for c, t in tables.items()},
        name="score",
    )
    scores.index.name = "case"
    return QCResult(long, scores, float(threshold))


# --------------------------------------------------------------------------------------
# the published method: fusion, member-vs-fusion Dice / HD95, median - alpha * MAD alarms
# --------------------------------------------------------------------------------------

FUSION_METHODS: tuple[str, ...] = ("majority", "simple")


def fuse(
    masks: Sequence[np.ndarray], method: str = "majority", *, simple_alpha: float = 3.0,
    max_iter: int = 10,
) -> np.ndarray:
    """Fuse binary member masks into one mask.

    Parameters
    ----------
    masks : sequence of bool arrays, same shape
    method : {"majority", "simple"}
        ``"majority"``: voxel in the fusion when ``votes > M / 2`` (strict majority; with an
        even ``M`` a tie is background). ``"simple"``: SIMPLE (Langerak et al., IEEE TMI
        2010) — start from the majority vote; repeat: weight each kept member by its Dice
        with the current fusion, fuse by weighted vote (``sum w_m x_m > sum w_m / 2``),
        and drop members whose Dice with that fusion is below ``median - simple_alpha *
        1.4826 * MAD`` of the kept members' Dice (a robust form of SIMPLE's ``mean - alpha
        * SD``, which with a fixed alpha keeps dropping the lowest of near-identical
        members); stop when no member is dropped (at least two are always kept, at most
        ``max_iter`` rounds).

    Returns
    -------
    bool array
    """
    if method not in FUSION_METHODS:
        raise ValueError(f"fusion method must be one of {FUSION_METHODS}, got {method!r}")
    stack = np.stack([np.asarray(m, dtype=bool) for m in masks])
    n = stack.shape[0]
    votes = stack.sum(axis=0, dtype=np.int32)
    fused = votes * 2 > n
    if method == "majority":
        return fused
    keep = np.ones(n, dtype=bool)
    for _ in range(int(max_iter)):
        d = np.array([dice(stack[i], fused) if keep[i] else np.nan for i in range(n)])
        w = np.where(keep, d, 0.0)
        if w.sum() <= 0:
            break
        fused = np.tensordot(w, stack, axes=1) * 2 > w.sum()
        d = np.array([dice(stack[i], fused) if keep[i] else np.nan for i in range(n)])
        kept = d[keep]
        cut = np.median(kept) - simple_alpha * 1.4826 * _mad(kept)
        drop = keep & (d < cut)
        if not drop.any() or keep.sum() - drop.sum() < 2:
            break
        keep &= ~drop
    return fused


def _default_regions(sch: Any) -> list[str]:
    if {"WT", "TC", "ET"} <= set(sch.names):
        return ["WT", "TC", "ET"]
    return list(sch.names)


def _load_member(member: Any) -> tuple[np.ndarray, tuple[float, float, float]]:
    if isinstance(member, np.ndarray):
        return member, (1.0, 1.0, 1.0)
    from imaging.io import as_label_array

    arr, sp, _ = as_label_array(member)
    return np.asarray(arr), sp


def member_agreement(
    members: Mapping[str, Any] | Sequence[Any],
    schema: Any = "brats",
    *,
    regions: Sequence[str] | None = None,
    fusion: str = "majority",
    spacing: Any = None,
) -> pd.DataFrame:
    """Dice and HD95 of every member against the fusion, for one case.

    Parameters
    ----------
    members : mapping member name -> label map (array or NIfTI path), or a sequence (named
        ``member_0``, ``member_1``, ...); >= 2 members on one grid.
    schema : label schema of the maps
    regions : regions compared (default WT, TC, ET when the schema has them, else all)
    fusion : "majority" or "simple" (:func:`fuse`)
    spacing : mm, for arrays (default: the files' header spacing, or 1 mm for arrays)

    Returns
    -------
    pandas.DataFrame
        One row per (region, member): ``dice``, ``hd95`` (mm; inf when exactly one of member
        and fusion is empty), ``volume_ml``, ``fused_volume_ml``.
    """
    from imaging.metrics import hausdorff95

    named = dict(members) if isinstance(members, Mapping) else {f"member_{i}": m for i, m in enumerate(members)}
    if len(named) < 2:
        raise ValueError(f"ensemble QC needs at least 2 members, got {len(named)}")
    sch = get_schema(schema)
    loaded = {k: _load_member(v) for k, v in named.items()}
    shapes = {k: a.shape for k, (a, _) in loaded.items()}
    if len(set(shapes.values())) != 1:
        raise ValueError(f"ensemble members have different shapes: {shapes}")
    sp = tuple(loaded[next(iter(loaded))][1]) if spacing is None else tuple(
        float(v) for v in np.broadcast_to(np.asarray(spacing, float), (3,))
    )
    voxel_ml = float(np.prod(sp)) / 1000.0
    names = list(regions) if regions is not None else _default_regions(sch)
    masks = {k: region_masks(a, sch) for k, (a, _) in loaded.items()}
    rows = []
    for r in names:
        if r not in sch.names:
            raise KeyError(f"region {r!r} not in schema {sch.name!r}; known: {sch.names}")
        fused = fuse([masks[k][r] for k in named], fusion)
        for k in named:
            m = masks[k][r]
            rows.append({
                "region": r, "member": k, "dice": dice(m, fused), "hd95": hausdorff95(m, fused, sp),
                "volume_ml": float(m.sum()) * voxel_ml, "fused_volume_ml": float(fused.sum()) * voxel_ml,
            })
    return pd.DataFrame(rows).set_index(["region", "member"])


def _mad(x: np.ndarray) -> float:
    med = np.median(x)
    return float(np.median(np.abs(x - med)))


@dataclass(repr=False)
class EnsembleQCResult(Result):
    """Result of :func:`ensemble_qc`.

    ``summary()`` (one row per case, review order) is also ``to_frame()`` and what ``save``
    writes; ``members`` holds the per-member table.

    Attributes
    ----------
    members : DataFrame, one row per (case, region, member): ``dice``, ``hd95``,
        ``dice_threshold``, ``hd95_threshold``, ``dice_alarm``, ``hd95_alarm``, ``alarms``.
    errors : Series, case -> message for cases that could not be scored (e.g. an unreadable
        member file); they are listed first for review.
    alpha, fusion : the parameters used.
    """

    members: pd.DataFrame
    errors: pd.Series
    alpha: float
    fusion: str

    @property
    def alarms(self) -> pd.Series:
        """Alarm count per scored case."""
        return self.members["alarms"].groupby(level="case").sum().astype(int)

    @property
    def review_order(self) -> list[str]:
        """Failed cases first, then by alarm count (most first), then lowest member Dice."""
        return self.summary().index.tolist()

    def summary(self) -> pd.DataFrame:
        """One row per case in review order: ``rank``, ``alarms``, ``dice_alarms``,
        ``hd95_alarms``, ``min_dice``, ``max_hd95``, ``members_alarmed`` (names) and ``error``."""
        m = self.members
        g = m.groupby(level="case")
        out = pd.DataFrame({
            "alarms": g["alarms"].sum().astype(int),
            "dice_alarms": g["dice_alarm"].sum().astype(int),
            "hd95_alarms": g["hd95_alarm"].sum().astype(int),
            "min_dice": g["dice"].min(),
            "max_hd95": g["hd95"].max(),
        })
        alarmed = m[m["alarms"] > 0].reset_index()
        who = alarmed.groupby("case")["member"].agg(lambda s: ";".join(sorted(set(s))))
        out["members_alarmed"] = who.reindex(out.index).fillna("")
        out["error"] = ""
        if len(self.errors):
            bad = pd.DataFrame(
                {"alarms": -1, "dice_alarms": -1, "hd95_alarms": -1, "min_dice": np.nan,
                 "max_hd95": np.nan, "members_alarmed": "", "error": self.errors},
                index=self.errors.index,
            )
            out = pd.concat([bad, out])
        out["_failed"] = out["error"] != ""
        out = out.reset_index().rename(columns={"index": "case"})
        out = out.sort_values(["_failed", "alarms", "min_dice", "case"], ascending=[False, False, True, True])
        out = out.drop(columns="_failed").set_index("case")
        out.insert(0, "rank", np.arange(1, len(out) + 1))
        return out

    def _header(self) -> dict[str, Any]:
        return {"cases": int(self.members.index.get_level_values("case").nunique()) + len(self.errors),
                "errors": len(self.errors), "alpha": self.alpha, "fusion": self.fusion}

    def plot(self, ax: Any = None) -> Any:
        """Alarm count per case in review order."""
        ax = self._axes(ax)
        s = self.summary()
        s = s[s["error"] == ""]
        ax.bar(range(len(s)), s["alarms"], color=["tab:red" if a else "tab:grey" for a in s["alarms"]])
        ax.set_xticks(range(len(s)))
        ax.set_xticklabels(s.index, rotation=90)
        ax.set_ylabel(f"alarms (median - {self.alpha:g} MAD, {self.fusion} fusion)")
        return ax


def ensemble_qc(
    cohort: Mapping[str, Mapping[str, Any] | Sequence[Any]],
    schema: Any = "brats",
    *,
    alpha: float = 3.0,
    fusion: str = "majority",
    regions: Sequence[str] | None = None,
    mad_scale: float = 1.0,
    spacing: Any = None,
) -> EnsembleQCResult:
    """Ensemble QC of a cohort as published (see the module docstring for the formulas).

    Parameters
    ----------
    cohort : mapping case -> members (mapping member name -> label map, or a sequence); the
        same member names across cases (e.g. ``fold_0`` ... ``fold_4``) share thresholds.
    schema : label schema
    alpha : threshold width in MADs (default 3)
    fusion : "majority" (default) or "simple"
    regions : default WT, TC, ET (when in the schema)
    mad_scale : multiplies the MAD (1.4826 makes it a normal-consistent SD estimate)

    Returns
    -------
    EnsembleQCResult
        A case whose members cannot be read or compared is reported in ``errors`` and does
        not stop the cohort.
    """
    if not cohort:
        raise ValueError("empty cohort")
    if not np.isfinite(alpha) or alpha < 0:
        raise ValueError(f"alpha must be a non-negative number, got {alpha}")
    if fusion not in FUSION_METHODS:
        raise ValueError(f"fusion method must be one of {FUSION_METHODS}, got {fusion!r}")
    tables, errors = {}, {}
    for case, members in cohort.items():
        try:
            tables[str(case)] = member_agreement(members, schema, regions=regions, fusion=fusion, spacing=spacing)
        except (ValueError, KeyError, OSError) as exc:
            errors[str(case)] = " ".join(str(exc).split())
            logger.warning("QC case %s: %s", case, errors[str(case)])
    if not tables:
        raise ValueError(f"no case could be scored ({len(errors)} failed); first: {next(iter(errors.values()))}")
    long = pd.concat(tables, names=["case", "region", "member"])
    d_thr = long.groupby(level=["region", "member"])["dice"].transform(
        lambda x: np.median(x) - alpha * mad_scale * _mad(x.to_numpy())
    )

    def hd_thr(x: pd.Series) -> float:
        v = x.to_numpy(dtype=float)
        v = v[np.isfinite(v)]
        return float(np.median(v) + alpha * mad_scale * _mad(v)) if v.size else float("nan")

    h_thr = long.groupby(level=["region", "member"])["hd95"].transform(hd_thr)
    long["dice_threshold"] = d_thr
    long["hd95_threshold"] = h_thr
    long["dice_alarm"] = long["dice"] < long["dice_threshold"]
    hd = long["hd95"].to_numpy(dtype=float)
    long["hd95_alarm"] = ~np.isfinite(hd) | (hd > long["hd95_threshold"].to_numpy(dtype=float))
    long["alarms"] = long["dice_alarm"].astype(int) + long["hd95_alarm"].astype(int)
    err = pd.Series(errors, dtype=object, name="error")
    err.index.name = "case"
    return EnsembleQCResult(long, err, float(alpha), fusion)


def read_members(folder: str | os.PathLike[str]) -> dict[str, dict[str, Path]]:
    """Members written by ``imaging segment --save-members``: ``folder/<case>/<member>.nii.gz``.

    Returns ``{case: {member: path}}`` (sorted). Raises ``FileNotFoundError`` when the folder
    is missing or holds no case sub-folder with NIfTI files.
    """
    root = Path(folder)
    if not root.is_dir():
        raise FileNotFoundError(f"members folder not found: {root}")
    out: dict[str, dict[str, Path]] = {}
    for case_dir in sorted(p for p in root.iterdir() if p.is_dir() and not p.name.startswith(".")):
        files = sorted(f for f in case_dir.iterdir() if f.name.lower().endswith((".nii", ".nii.gz")))
        if files:
            out[case_dir.name] = {f.name.split(".nii")[0]: f for f in files}
    if not out:
        raise FileNotFoundError(
            f"{root}: no <case>/<member>.nii.gz files (write them with imaging segment --save-members)"
        )
    return out
