"""Ensemble-discord quality control: flag cases whose ensemble members disagree.

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

from imaging.labels import get_schema, region_masks
from imaging.metrics import dice

__all__ = ["QCResult", "ensemble_discord", "case_discord"]

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


@dataclass
class QCResult:
    """Result of :func:`ensemble_discord`.

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

    def to_frame(self) -> pd.DataFrame:
        return self.summary()

    def save(self, path: str | os.PathLike[str]) -> Path:
        from imaging._io import atomic_path

        path = Path(path)
        with atomic_path(path) as tmp:
            self.summary().to_csv(tmp)
        return path

    def plot(self, ax: Any = None) -> Any:
        """Bar chart of the case scores in review order with the threshold line."""
        import matplotlib.pyplot as plt

        if ax is None:
            _, ax = plt.subplots()
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
