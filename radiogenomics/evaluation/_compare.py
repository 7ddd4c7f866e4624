"""Tests comparing methods over the shared repeated splits."""

from __future__ import annotations

import warnings

import numpy as np
from scipy import stats

TESTS = ("corrected-t", "anova", "paired-t", "wilcoxon")

#: the paper's tests, kept for reproduction; anti-conservative on overlapping splits
PAPER_TESTS = ("anova", "paired-t")

#: one sentence on why the paper's tests are anti-conservative here (shown in reports)
ANTI_CONSERVATIVE = (
    "The repeated 80/20 splits share most of their training samples, so the per-split scores "
    "are positively correlated; ANOVA and the paired t-test treat them as independent "
    "observations, underestimate the variance and call noise significant (the corrected "
    "resampled t-test adds the n_test/n_train term for this overlap)."
)


def holm_adjust(p: np.ndarray) -> np.ndarray:
    r"""Holm step-down adjusted p-values (NaN entries kept and not counted).

    With the :math:`m` finite p-values sorted, :math:`p_{(1)} \le \dots \le p_{(m)}`,

    .. math:: \tilde p_{(i)} = \min\Bigl(1, \max_{j \le i} (m - j + 1)\,p_{(j)}\Bigr),

    which controls the family-wise error rate at the nominal level (Holm 1979); equal to
    R's ``p.adjust(p, "holm")``.
    """
    p = np.asarray(p, dtype=np.float64)
    out = np.full(p.shape, np.nan)
    ok = np.isfinite(p)
    m = int(ok.sum())
    if m == 0:
        return out
    v = p[ok]
    order = np.argsort(v, kind="mergesort")
    adj = np.minimum(1.0, np.maximum.accumulate((m - np.arange(m)) * v[order]))
    res = np.empty(m)
    res[order] = adj
    out[ok] = res
    return out


def corrected_resampled_ttest(
    a: np.ndarray, b: np.ndarray, n_train: int, n_test: int
) -> tuple[float, float]:
    r"""Nadeau–Bengio corrected resampled t-test of paired split scores.

    With the :math:`J` per-split differences :math:`d_j = a_j - b_j`, their mean
    :math:`\bar d` and sample variance :math:`s^2` (ddof 1),

    .. math:: t = \frac{\bar d}{\sqrt{\left(\frac{1}{J} + \frac{n_{test}}{n_{train}}\right) s^2}},
              \qquad p = 2\,P(T_{J-1} > |t|).

    The :math:`n_{test}/n_{train}` term corrects the variance for the overlap of the
    training sets of repeated random splits (Nadeau & Bengio 2003, Bouckaert & Frank 2004).
    Pairs with a NaN are dropped. Returns ``(t, p)``; NaN with fewer than two pairs; when
    every difference is equal the test is degenerate: ``p = 1`` if they are 0, else ``p = 0``.
    """
    a = np.asarray(a, dtype=np.float64)
    b = np.asarray(b, dtype=np.float64)
    ok = np.isfinite(a) & np.isfinite(b)
    d = a[ok] - b[ok]
    J = d.size
    if J < 2:
        return float("nan"), float("nan")
    mean = d.mean()
    var = d.var(ddof=1)
    if var == 0:
        if mean == 0:
            return 0.0, 1.0
        return float(np.sign(mean) * np.inf), 0.0
    t = mean / np.sqrt((1.0 / J + n_test / n_train) * var)
    p = 2.0 * stats.t.sf(abs(t), J - 1)
    return float(t), float(p)


def paired_ttest(a: np.ndarray, b: np.ndarray) -> tuple[float, float]:
    """Paired t-test over the splits both methods scored (NaN pairs dropped)."""
    a, b = _pairs(a, b)
    if a.size < 2:
        return float("nan"), float("nan")
    d = a - b
    if np.all(d == d[0]):
        return (0.0, 1.0) if d[0] == 0 else (float(np.sign(d[0]) * np.inf), 0.0)
    res = stats.ttest_rel(a, b)
    return float(res.statistic), float(res.pvalue)


def wilcoxon_test(a: np.ndarray, b: np.ndarray) -> tuple[float, float]:
    """Wilcoxon signed-rank test over the shared splits (zero differences dropped)."""
    a, b = _pairs(a, b)
    d = a - b
    if d.size == 0:
        return float("nan"), float("nan")
    if np.all(d == 0):
        return 0.0, 1.0
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        res = stats.wilcoxon(a, b, zero_method="wilcox")
    return float(res.statistic), float(res.pvalue)


def anova_test(groups: list[np.ndarray]) -> tuple[float, float]:
    """One-way ANOVA across methods (the paper's test), NaNs dropped, as ``(F, p)``."""
    gs = [np.asarray(g, dtype=np.float64) for g in groups]
    gs = [g[np.isfinite(g)] for g in gs]
    gs = [g for g in gs if g.size > 0]
    if len(gs) < 2 or sum(g.size for g in gs) <= len(gs):
        return float("nan"), float("nan")
    allv = np.concatenate(gs)
    if np.all(allv == allv[0]):
        return float("nan"), 1.0
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        res = stats.f_oneway(*gs)
    return float(res.statistic), float(res.pvalue)


def _pairs(a, b):
    a = np.asarray(a, dtype=np.float64)
    b = np.asarray(b, dtype=np.float64)
    ok = np.isfinite(a) & np.isfinite(b)
    return a[ok], b[ok]
