"""Drawing the rms-style nomogram (``plot(nomogram(fit))`` of R's ``rms``)."""

from __future__ import annotations

from typing import Any

import numpy as np

__all__ = ["plot_nomogram"]


def plot_nomogram(model: Any, ax: Any = None, funlabel: str = "Risk of poor outcome", *,
                  fig: Any = None) -> Any:
    """Draw the rms-style nomogram of a fitted :class:`Nomogram`.

    One axis per row: Points (0-100), each predictor's points, Total Points, Linear
    Predictor and ``funlabel`` (the probability). Draws on ``ax`` and returns it; with
    ``ax=None`` adds the axes to ``fig`` (a new figure when None) and returns the figure
    (the drawing is ``fig.axes[0]`` of a new figure).
    """
    import matplotlib.pyplot as plt

    rows = ["Points"] + model.predictors_ + ["Total Points", "Linear Predictor", funlabel]
    nrow = len(rows)
    out = ax
    if ax is None:
        if fig is None:
            fig = plt.figure(figsize=(8.5, 0.55 * nrow + 0.6))
        ax = fig.add_axes([0.2, 0.03, 0.77, 0.94])
        out = fig
    ax.set_xlim(-4, 104)
    ax.set_ylim(nrow - 0.4, -0.6)
    ax.axis("off")
    tick_len = 0.12
    fs = 9

    def draw(row, pos, labels, minor=None, above=True):
        y = row
        ax.plot([min(pos), max(pos)], [y, y], color="black", lw=1)
        for p, lab, k in zip(pos, labels, _thin_labels(pos, labels), strict=True):
            ax.plot([p, p], [y, y - (tick_len if k else tick_len / 2)], color="black", lw=1)
            if k:
                ax.text(p, y - tick_len - 0.05, lab, ha="center", va="bottom", fontsize=fs - 1)
        if minor is not None:
            for p in minor:
                ax.plot([p, p], [y, y - tick_len / 2], color="black", lw=0.7)
        ax.text(-6, y, rows[row], ha="right", va="center", fontsize=fs, transform=ax.transData)

    draw(0, np.arange(0, 101, 10), [str(v) for v in range(0, 101, 10)], minor=np.arange(0, 101, 2))
    for i, t in enumerate(model.terms_, start=1):
        a = model.axes_[model.axes_["variable"] == t.name]
        labels = [str(v) if t.categorical else _fmt(v) for v in a["value"]]
        pos = a["points"].to_numpy()
        if t.categorical:
            # stagger categorical labels that would overlap: above, below, higher above
            order = np.argsort(pos, kind="stable")
            ax.plot([pos.min(), pos.max()], [i, i], color="black", lw=1)
            last = {0: None, 1: None, 2: None}
            for kk in order:
                p, lab = pos[kk], labels[kk]
                level = 0
                for cand in (0, 1, 2):
                    prev = last[cand]
                    if prev is None or p - prev[0] >= _label_gap(lab, prev[1]):
                        level = cand
                        break
                else:
                    level = 2
                last[level] = (p, lab)
                if level == 1:
                    ax.plot([p, p], [i, i + tick_len], color="black", lw=1)
                    ax.text(p, i + tick_len + 0.03, lab, ha="center", va="top", fontsize=fs - 1)
                else:
                    off = tick_len + 0.05 + (0.3 if level == 2 else 0.0)
                    ax.plot([p, p], [i, i - tick_len], color="black", lw=1)
                    ax.text(p, i - off, lab, ha="center", va="bottom", fontsize=fs - 1)
            ax.text(-6, i, t.name, ha="right", va="center", fontsize=fs)
        else:
            keep = _thin_labels(pos, labels)
            ax.plot([pos.min(), pos.max()], [i, i], color="black", lw=1)
            for p, lab, k in zip(pos, labels, keep, strict=True):
                ax.plot([p, p], [i, i - (tick_len if k else tick_len / 2)], color="black", lw=1)
                if k:
                    ax.text(p, i - tick_len - 0.05, lab, ha="center", va="bottom", fontsize=fs - 1)
            ax.text(-6, i, t.name, ha="right", va="center", fontsize=fs)
    new_max = float(model.total_points_ticks_.max())
    k = len(model.terms_) + 1
    tp = model.total_points_ticks_
    draw(k, tp * 100 / new_max, [_fmt(v) for v in tp])
    lpa = model.lp_axis_
    inside = (lpa["total_points"] >= -1e-9) & (lpa["total_points"] <= new_max + 1e-9)
    lpa = lpa[inside]
    draw(k + 1, lpa["total_points"].to_numpy() * 100 / new_max, [_fmt(v) for v in lpa["linear_predictor"]])
    pa = model.probability_axis_
    pa = pa[(pa["total_points"] >= 0) & (pa["total_points"] <= new_max)]
    draw(k + 2, pa["total_points"].to_numpy() * 100 / new_max, [_fmt(v) for v in pa["probability"]])
    ax.set_title(f"Nomogram for {model.outcome}", fontsize=fs + 2, loc="left")
    return out



def _fmt(v) -> str:
    if isinstance(v, str):
        return v
    v = float(v)
    if abs(v - round(v)) < 1e-9:
        return str(int(round(v)))
    return f"{v:.10g}".rstrip("0") if "." in f"{v:.10g}" else f"{v:.10g}"


def _label_gap(a: str, b: str) -> float:
    """Minimum distance (nomogram x units) between the centres of two tick labels."""
    return 0.62 * (len(a) + len(b)) + 0.8


def _thin_labels(pos: np.ndarray, labels) -> list[bool]:
    """Greedy choice of the tick labels to print so that no two overlap (first kept)."""
    pos = np.asarray(pos, dtype=float)
    order = np.argsort(pos, kind="stable")
    keep = [False] * pos.size
    last = None
    for i in order:
        if last is None or abs(pos[i] - pos[last]) >= _label_gap(labels[i], labels[last]):
            keep[i] = True
            last = i
    return keep
