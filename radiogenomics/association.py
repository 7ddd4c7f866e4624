"""Associations between labels, and between imaging features and labels.

- :func:`association_table` is R's ``chisq.test(table(a, b))`` (Yates' continuity
  correction for 2x2 tables, the default), ``chisq.test(..., correct = FALSE)`` and
  ``fisher.test`` (p-value and, for 2x2, the conditional maximum-likelihood odds ratio with
  its exact 95% CI, computed exactly as R does: noncentral hypergeometric + ``uniroot``).
- :func:`feature_association` tests every imaging feature against every label by one-way
  ANOVA (R ``summary(aov(x ~ g))``) or Kruskal–Wallis (R ``kruskal.test``), in the layout of
  the radiogenomics-NB paper's Table 1 (mean ± SD per group, statistic, p).
- :func:`ordinal_split` dichotomises features at their mean or median (high/low) and, given
  labels, tests the split against each label with :func:`association_table`.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats

from radiogenomics._validation import _show, as_feature_frame
from radiogenomics.results import Result
from radiogenomics.survival import _levels

logger = logging.getLogger(__name__)

__all__ = [
    "association_table",
    "feature_association",
    "ordinal_split",
    "fisher_conditional_or",
    "ContingencyResult",
]

_DBL_EPS = float(np.finfo(float).eps)


# ----------------------------------------------------------------------------- R's uniroot
def _zeroin(f: Callable[[float], float], ax: float, bx: float,
            tol: float = _DBL_EPS ** 0.25, maxiter: int = 1000) -> float:
    """R's ``uniroot`` (``R_zeroin2``, Brent's method) with R's defaults, step for step.

    Reproducing R's iteration (and its loose default ``tol = eps^0.25``) is what makes the
    conditional odds ratio and its CI equal ``fisher.test``'s to many digits.
    """
    fa, fb = f(ax), f(bx)
    a, b = ax, bx
    c, fc = a, fa
    if fa == 0.0:
        return a
    if fb == 0.0:
        return b
    if fa * fb > 0:
        raise ValueError("f() values at end points not of opposite sign")
    for _ in range(maxiter + 1):
        prev_step = b - a
        if abs(fc) < abs(fb):
            a, b, c = b, c, b
            fa, fb, fc = fb, fc, fb
        tol_act = 2 * _DBL_EPS * abs(b) + tol / 2
        new_step = (c - b) / 2
        if abs(new_step) <= tol_act or fb == 0.0:
            return b
        if abs(prev_step) >= tol_act and abs(fa) > abs(fb):
            cb = c - b
            if a == c:
                t1 = fb / fa
                p = cb * t1
                q = 1.0 - t1
            else:
                q = fa / fc
                t1 = fb / fc
                t2 = fb / fa
                p = t2 * (cb * q * (q - t1) - (b - a) * (t1 - 1.0))
                q = (q - 1.0) * (t1 - 1.0) * (t2 - 1.0)
            if p > 0:
                q = -q
            else:
                p = -p
            if p < (0.75 * cb * q - abs(tol_act * q) / 2) and p < abs(prev_step * q / 2):
                new_step = p / q
        if abs(new_step) < tol_act:
            new_step = tol_act if new_step > 0 else -tol_act
        a, fa = b, fb
        b += new_step
        fb = f(b)
        if (fb > 0 and fc > 0) or (fb < 0 and fc < 0):
            c, fc = a, fa
    logger.warning("uniroot did not converge in %d iterations", maxiter)
    return b


def fisher_conditional_or(table: Any, conf_level: float = 0.95) -> tuple[float, float, float, float]:
    """Fisher's exact test of a 2x2 table as R's ``fisher.test`` (two-sided).

    With margins fixed, the top-left cell follows Fisher's noncentral hypergeometric law

    .. math:: P(X = x) \\propto \\binom{m}{x}\\binom{n}{k - x}\\,\\psi^x,\\quad
              x = \\max(0, k - n), \\dots, \\min(k, m),

    ``m, n`` the column sums and ``k`` the first row sum. The estimate is the conditional
    MLE of :math:`\\psi` (solve :math:`E_\\psi[X] = x`), the CI inverts the two one-sided
    tests at level :math:`(1 - \\text{conf})/2`, and the p-value sums the probabilities (at
    :math:`\\psi = 1`) not larger than that of the observed table times ``1 + 1e-7``.

    Returns
    -------
    p_value, odds_ratio, ci_low, ci_high : float
    """
    x2 = np.asarray(table, dtype=float)
    if x2.shape != (2, 2):
        raise ValueError(f"fisher_conditional_or needs a 2x2 table, got shape {x2.shape}")
    m = int(round(x2[:, 0].sum()))
    n = int(round(x2[:, 1].sum()))
    k = int(round(x2[0, :].sum()))
    x = int(round(x2[0, 0]))
    lo, hi = max(0, k - n), min(k, m)
    support = np.arange(lo, hi + 1)
    logdc = stats.hypergeom.logpmf(support, m + n, m, k)

    def dnhyper(ncp: float) -> np.ndarray:
        d = logdc + np.log(ncp) * support
        d = np.exp(d - d.max())
        return d / d.sum()

    def mnhyper(ncp: float) -> float:
        if ncp == 0:
            return float(lo)
        if np.isinf(ncp):
            return float(hi)
        return float((support * dnhyper(ncp)).sum())

    def pnhyper(q: int, ncp: float, upper: bool = False) -> float:
        if ncp == 1:
            return float(stats.hypergeom.sf(x - 1, m + n, m, k) if upper
                         else stats.hypergeom.cdf(x, m + n, m, k))
        if ncp == 0:
            return float(q <= lo if upper else q >= lo)
        if np.isinf(ncp):
            return float(q <= hi if upper else q >= hi)
        d = dnhyper(ncp)
        return float(d[support >= q].sum() if upper else d[support <= q].sum())

    d1 = dnhyper(1.0)
    pval = float(min(1.0, d1[d1 <= d1[x - lo] * (1 + 1e-7)].sum()))

    def mle() -> float:
        if x == lo:
            return 0.0
        if x == hi:
            return float("inf")
        mu = mnhyper(1.0)
        if mu > x:
            return _zeroin(lambda t: mnhyper(t) - x, 0.0, 1.0)
        if mu < x:
            return 1.0 / _zeroin(lambda t: mnhyper(1.0 / t) - x, _DBL_EPS, 1.0)
        return 1.0

    def ncp_u(alpha: float) -> float:
        if x == hi:
            return float("inf")
        p = pnhyper(x, 1.0)
        if p < alpha:
            return _zeroin(lambda t: pnhyper(x, t) - alpha, 0.0, 1.0)
        if p > alpha:
            return 1.0 / _zeroin(lambda t: pnhyper(x, 1.0 / t) - alpha, _DBL_EPS, 1.0)
        return 1.0

    def ncp_l(alpha: float) -> float:
        if x == lo:
            return 0.0
        p = pnhyper(x, 1.0, upper=True)
        if p > alpha:
            return _zeroin(lambda t: pnhyper(x, t, upper=True) - alpha, 0.0, 1.0)
        if p < alpha:
            return 1.0 / _zeroin(lambda t: pnhyper(x, 1.0 / t, upper=True) - alpha, _DBL_EPS, 1.0)
        return 1.0

    alpha = (1 - conf_level) / 2
    return pval, mle(), ncp_l(alpha), ncp_u(alpha)


# ----------------------------------------------------------------------------- tables
@dataclass(repr=False)
class ContingencyResult(Result):
    """Cross-tabulation of two categorical variables with chi-square and Fisher tests.

    ``summary()`` (one row) is also ``to_frame()`` and what ``save`` writes; ``table`` holds
    the counts.

    Attributes
    ----------
    table : DataFrame
        Counts, rows = levels of ``a``, columns = levels of ``b`` (reference level first).
    chi2, p_value : float
        Pearson chi-square with Yates' correction for 2x2 tables (R ``chisq.test`` default).
    chi2_uncorrected, p_value_uncorrected : float
        Without the correction (``correct = FALSE``); equal to the above beyond 2x2.
    df : int
    expected : DataFrame
        Expected counts under independence (R warns when any is below 5).
    fisher_p_value : float
        Fisher's exact test (2x2 exactly as R; larger tables via scipy, NaN if unavailable).
    fisher_odds_ratio, fisher_ci : float, tuple
        Conditional MLE odds ratio and its exact CI (2x2 only, else NaN).
    n : int
    """

    a: str
    b: str
    table: pd.DataFrame
    chi2: float
    p_value: float
    chi2_uncorrected: float
    p_value_uncorrected: float
    df: int
    expected: pd.DataFrame
    fisher_p_value: float
    fisher_odds_ratio: float
    fisher_ci: tuple[float, float]
    n: int

    def summary(self) -> pd.DataFrame:
        """One row: n, table as text, chi2 (Yates) and p, uncorrected, df, Fisher p, OR, CI."""
        cells = ";".join(f"{r}/{c}={int(self.table.loc[r, c])}"
                         for c in self.table.columns for r in self.table.index)
        return pd.DataFrame([{
            "a": self.a, "b": self.b, "n": self.n, "table": cells,
            "chi2": self.chi2, "p_value": self.p_value,
            "chi2_uncorrected": self.chi2_uncorrected,
            "p_value_uncorrected": self.p_value_uncorrected, "df": self.df,
            "fisher_p_value": self.fisher_p_value, "fisher_odds_ratio": self.fisher_odds_ratio,
            "fisher_ci_low": self.fisher_ci[0], "fisher_ci_high": self.fisher_ci[1],
            "min_expected": float(self.expected.to_numpy().min()),
        }])

    def _header(self) -> dict[str, Any]:
        return {"a": self.a, "b": self.b, "n": self.n, "chi2": self.chi2, "df": self.df,
                "p_value": self.p_value, "fisher_p_value": self.fisher_p_value}

    def plot(self, ax: Any = None) -> Any:
        """Stacked bars: proportion of each ``b`` level within each ``a`` level."""
        import matplotlib.pyplot as plt

        if ax is None:
            _, ax = plt.subplots(figsize=(5, 4))
        prop = self.table.div(self.table.sum(axis=1), axis=0)
        prop.plot(kind="bar", stacked=True, ax=ax, rot=0)
        ax.set_ylabel(f"proportion of {self.b}")
        ax.set_xlabel(self.a)
        ax.set_title(f"{self.a} x {self.b}: chi2 p = {self.p_value:.2g}, "
                     f"Fisher p = {self.fisher_p_value:.2g}")
        ax.figure.tight_layout()
        return ax


def association_table(
    df: pd.DataFrame,
    a: str,
    b: str,
    *,
    reference: Mapping[str, Any] | None = None,
    correct: bool = True,
    conf_level: float = 0.95,
    warn_small_expected: bool = True,
) -> ContingencyResult:
    """Contingency table of ``a`` x ``b`` with chi-square and Fisher's exact test.

    R equivalent::

        tb <- table(df$a, df$b)          # factor levels: sorted, reference first
        chisq.test(tb)                   # Yates for 2x2 (correct = TRUE)
        chisq.test(tb, correct = FALSE)
        fisher.test(tb)                  # p, conditional MLE odds ratio, 95% CI

    Pearson's statistic :math:`\\sum (|O - E| - c)^2 / E` with :math:`c = \\min(0.5, |O - E|)`
    for a 2x2 table and ``correct=True`` (R's and scipy's form), else :math:`c = 0`.
    The odds ratio of a 2x2 table is that of the first row/column (reference) cell:
    ``table[0,0] * table[1,1] / (table[0,1] * table[1,0])`` for the sample version.

    Rows with a missing ``a`` or ``b`` are dropped (logged). Expected counts below 5 log a
    warning (R's "Chi-squared approximation may be incorrect") unless
    ``warn_small_expected=False``; ``summary()`` reports ``min_expected`` either way.
    """
    if not isinstance(df, pd.DataFrame):
        raise ValueError(f"association_table: df must be a DataFrame, got {type(df).__name__}")
    missing = [c for c in (a, b) if c not in df.columns]
    if missing:
        raise ValueError(f"association_table: column(s) not found: {_show(missing)}; "
                         f"available: {_show(df.columns, limit=20)}")
    if a == b:
        raise ValueError("association_table: a and b must be different columns")
    reference = dict(reference or {})
    sub = df[[a, b]]
    keep = sub.notna().all(axis=1)
    if (~keep).any():
        logger.info("association_table: dropped %d of %d rows with missing %s or %s",
                    int((~keep).sum()), len(sub), a, b)
    sub = sub.loc[keep]
    la, lb = _levels(sub[a], reference.get(a)), _levels(sub[b], reference.get(b))
    for name, lv in ((a, la), (b, lb)):
        if len(lv) < 2:
            raise ValueError(f"association_table: {name!r} has a single level ({_show(lv)}) "
                             "among the complete rows")
    tab = pd.crosstab(sub[a], sub[b]).reindex(index=la, columns=lb, fill_value=0)
    tab.index.name, tab.columns.name = a, b
    obs = tab.to_numpy(dtype=float)
    c1 = stats.chi2_contingency(obs, correction=correct)
    c0 = stats.chi2_contingency(obs, correction=False)
    expected = pd.DataFrame(c0.expected_freq, index=tab.index, columns=tab.columns)
    if (c0.expected_freq < 5).any():
        log = logger.warning if warn_small_expected else logger.debug
        log("association_table %s x %s: expected counts below 5; the chi-square "
            "approximation may be poor (see the Fisher p-value)", a, b)
    if obs.shape == (2, 2):
        fp, orr, lo, hi = fisher_conditional_or(obs, conf_level)
    else:
        orr, lo, hi = float("nan"), float("nan"), float("nan")
        try:
            fp = float(stats.fisher_exact(obs.astype(int)).pvalue)
        except (ValueError, TypeError, NotImplementedError) as exc:  # pragma: no cover
            logger.info("Fisher's test of a %dx%d table unavailable: %s", *obs.shape, exc)
            fp = float("nan")
    return ContingencyResult(
        a=a, b=b, table=tab, chi2=float(c1.statistic), p_value=float(c1.pvalue),
        chi2_uncorrected=float(c0.statistic), p_value_uncorrected=float(c0.pvalue),
        df=int(c0.dof), expected=expected, fisher_p_value=float(fp),
        fisher_odds_ratio=float(orr), fisher_ci=(float(lo), float(hi)), n=int(obs.sum()),
    )


# ----------------------------------------------------------------------------- features
def _as_label_frame(labels: Any, index: pd.Index) -> pd.DataFrame:
    lab = labels.to_frame() if isinstance(labels, pd.Series) else labels
    if not isinstance(lab, pd.DataFrame):
        raise ValueError("labels must be a pandas Series or DataFrame indexed by sample id")
    common = index.intersection(lab.index)
    if len(common) == 0:
        raise ValueError(f"features and labels share no sample ids (features: {_show(index)}; "
                         f"labels: {_show(lab.index)})")
    only_f, only_l = index.difference(lab.index), lab.index.difference(index)
    if len(only_f) or len(only_l):
        logger.info("feature/label ids differ: %d only in features, %d only in labels; "
                    "using the %d shared ids", len(only_f), len(only_l), len(common))
    return lab.loc[common]


def _anova(X: np.ndarray, onehot: np.ndarray) -> tuple[np.ndarray, ...]:
    """One-way ANOVA of every column of ``X`` (NaN = missing) on the groups of ``onehot``.

    .. math:: F = \\frac{\\sum_g n_g(\\bar x_g - \\bar x)^2 / (k - 1)}
                        {\\sum_g \\sum_{i\\in g}(x_i - \\bar x_g)^2 / (N - k)}

    Vectorised over columns; ``k`` counts the groups with at least one value.
    """
    ok = ~np.isnan(X)
    Xz = np.where(ok, X, 0.0)
    G = onehot.astype(float)                              # (n, k)
    n_g = G.T @ ok.astype(float)                           # (k, p)
    s_g = G.T @ Xz
    ss_g = G.T @ (Xz ** 2)
    with np.errstate(divide="ignore", invalid="ignore"):
        mean_g = s_g / n_g
        N = n_g.sum(axis=0)
        grand = s_g.sum(axis=0) / N
        within = (ss_g - n_g * mean_g ** 2)
        within = np.where(n_g > 0, within, 0.0).sum(axis=0)
        between = np.where(n_g > 0, n_g * (mean_g - grand) ** 2, 0.0).sum(axis=0)
        k = (n_g > 0).sum(axis=0)
        df1, df2 = k - 1, N - k
        F = (between / df1) / (within / df2)
        p = stats.f.sf(F, df1, df2)
        var_g = (ss_g - n_g * mean_g ** 2) / (n_g - 1)
    return F, p, mean_g, np.sqrt(np.maximum(var_g, 0.0)), n_g, df1, df2


def feature_association(
    features: Any,
    labels: Any,
    test: str = "anova",
    *,
    reference: Mapping[str, Any] | None = None,
) -> pd.DataFrame:
    """Every imaging feature against every label: mean ± SD per group, statistic, p.

    R equivalent per feature ``x`` and label ``g``::

        summary(aov(x ~ g))      # test = "anova": F on (k - 1, N - k) df
        kruskal.test(x ~ g)      # test = "kruskal": H with tie correction, k - 1 df

    Samples with a missing feature value or label are left out of that feature's test.

    Parameters
    ----------
    features : DataFrame (samples x features), numeric; NaN allowed (e.g. undefined ratios).
    labels : Series or DataFrame (samples x labels), categorical; matched on the index.
    test : "anova" or "kruskal"
    reference : dict, optional
        Level listed first per label (default: sorted order).

    Returns
    -------
    DataFrame, one row per (label, feature): ``label``, ``feature``, ``test``, ``n``,
    ``statistic``, ``df1``, ``df2`` (ANOVA; ``df2`` NaN for Kruskal–Wallis), ``p_value``,
    then per group position ``i = 1..k``: ``group_i``, ``n_i``, ``mean_i``, ``sd_i``, and
    ``summary`` ("Mutant 0.41 ± 0.20 (n=53) | WT ...").
    """
    if test not in ("anova", "kruskal"):
        raise ValueError(f"test must be 'anova' or 'kruskal', got {test!r}")
    F = as_feature_frame(features, "features")
    lab = _as_label_frame(labels, F.index)
    F = F.loc[lab.index]
    reference = dict(reference or {})
    X = F.to_numpy(dtype=float)
    rows = []
    for lname in lab.columns:
        g = lab[lname]
        lv = _levels(g, reference.get(lname))
        if len(lv) < 2:
            raise ValueError(f"label {lname!r} has a single level ({_show(lv)})")
        onehot = np.stack([(g == v).to_numpy() for v in lv], axis=1)  # NaN label -> no group
        stat, p, mean_g, sd_g, n_g, df1, df2 = _anova(X, onehot)
        if test == "kruskal":
            stat = np.full(X.shape[1], np.nan)
            p = np.full(X.shape[1], np.nan)
            df2 = np.full(X.shape[1], np.nan)
            for j in range(X.shape[1]):  # rank tests per feature: a handful of features
                samples = [X[onehot[:, i] & ~np.isnan(X[:, j]), j] for i in range(len(lv))]
                samples = [s for s in samples if len(s)]
                if len(samples) >= 2 and np.ptp(np.concatenate(samples)) > 0:
                    res = stats.kruskal(*samples)
                    stat[j], p[j] = res.statistic, res.pvalue
        for j, feat in enumerate(F.columns):
            row: dict[str, Any] = {"label": lname, "feature": feat, "test": test,
                                   "n": int(n_g[:, j].sum()), "statistic": float(stat[j]),
                                   "df1": float(df1[j]), "df2": float(df2[j]),
                                   "p_value": float(p[j])}
            parts = []
            for i, v in enumerate(lv):
                row[f"group_{i + 1}"] = v
                row[f"n_{i + 1}"] = int(n_g[i, j])
                row[f"mean_{i + 1}"] = float(mean_g[i, j])
                row[f"sd_{i + 1}"] = float(sd_g[i, j])
                parts.append(f"{v} {mean_g[i, j]:.3g} ± {sd_g[i, j]:.3g} (n={int(n_g[i, j])})")
            row["summary"] = " | ".join(parts)
            rows.append(row)
    out = pd.DataFrame(rows)
    lead = ["label", "feature", "test", "n", "statistic", "df1", "df2", "p_value"]
    rest = [c for c in out.columns if c not in lead and c != "summary"]
    return out[lead + rest + ["summary"]]


def ordinal_split(
    features: Any,
    at: str = "mean",
    labels: Any = None,
    *,
    reference: Mapping[str, Any] | None = None,
) -> pd.DataFrame | pd.Series:
    """Dichotomise features at their mean or median: ``"high"`` (> cut) or ``"low"`` (<= cut).

    The cut is computed per feature over the non-missing values; missing stays missing.
    Without ``labels`` the split feature(s) are returned (Series in, Series out). With
    ``labels`` every split feature is tested against every label with
    :func:`association_table` (chi-square with Yates for 2x2, Fisher), one row per
    (label, feature) with the cut value added.
    """
    if at not in ("mean", "median"):
        raise ValueError(f"at must be 'mean' or 'median', got {at!r}")
    series_in = isinstance(features, pd.Series)
    F = as_feature_frame(features, "features")
    cut = F.mean() if at == "mean" else F.median()
    split = pd.DataFrame(
        np.where(F.isna(), None, np.where(F.gt(cut, axis=1), "high", "low")),
        index=F.index, columns=F.columns, dtype=object,
    )
    if labels is None:
        return split.iloc[:, 0] if series_in else split
    lab = _as_label_frame(labels, F.index)
    split = split.loc[lab.index]
    rows = []
    for lname in lab.columns:
        for feat in split.columns:
            d = pd.DataFrame({feat: split[feat], lname: lab[lname]})
            ref = {feat: "low"}
            if reference and lname in reference:
                ref[lname] = reference[lname]
            try:
                r = association_table(d, feat, lname, reference=ref, warn_small_expected=False)
            except ValueError as exc:
                logger.info("ordinal_split: %s x %s not tested: %s", feat, lname, exc)
                continue
            s = r.summary().iloc[0].to_dict()
            s.update({"label": lname, "feature": feat, "cut": float(cut[feat]), "at": at})
            rows.append(s)
    out = pd.DataFrame(rows)
    lead = ["label", "feature", "at", "cut"]
    return out[lead + [c for c in out.columns if c not in lead + ["a", "b"]]]

