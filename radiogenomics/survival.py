"""Survival analysis on lifelines: Kaplan–Meier with log-rank test, stratified Cox PH.

The numbers follow R's ``survival`` package (checked against survival 3.5-3 in the tests):

- :func:`compare_survival` is ``survfit(Surv(t, e) ~ g)`` + ``survdiff(Surv(t, e) ~ g)``:
  Kaplan–Meier curves per group (lifelines ``KaplanMeierFitter``), the log-rank test
  (lifelines ``multivariate_logrank_test``, any number of groups) and the median survival
  with R's default ``conf.type = "log"`` 95% confidence interval and R's quantile rule.
- :func:`stratified_cox` is ``coxph(Surv(t, e) ~ x + strata(s))`` (lifelines
  ``CoxPHFitter(strata=...)``, Efron ties like R's default) with the likelihood-ratio test
  against the null model (``summary(coxph)$logtest``) and Harrell's concordance.

Categorical covariates are dummy-coded the way R codes a factor: levels sorted (or in the
order of a pandas Categorical), the first one is the reference unless ``reference`` names
another, and the dummy column is called ``<column><level>`` (``IDHMutant``). Rows with a
missing value in any variable used are dropped (the count is logged, ``n`` is recorded).
A negative duration is kept with a logged warning, as R does.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats

from radiogenomics._validation import _show
from radiogenomics.results import Result

logger = logging.getLogger(__name__)

__all__ = [
    "compare_survival",
    "stratified_cox",
    "km_table",
    "SurvivalComparison",
    "CoxResult",
]


# ----------------------------------------------------------------------------- validation
def _prepare(
    df: pd.DataFrame,
    duration: str,
    event: str,
    others: Sequence[str],
    what: str,
) -> pd.DataFrame:
    """Check columns, drop rows with NA in the used variables, validate time and event."""
    if not isinstance(df, pd.DataFrame):
        raise ValueError(f"{what}: df must be a pandas DataFrame, got {type(df).__name__}")
    used = list(dict.fromkeys([duration, event, *others]))
    missing = [c for c in used if c not in df.columns]
    if missing:
        raise ValueError(
            f"{what}: column(s) not found in the data: {_show(missing)}; "
            f"available columns: {_show(df.columns, limit=20)}"
        )
    sub = df[used].copy()
    dur = pd.to_numeric(sub[duration], errors="coerce")
    bad = sub[duration].notna() & dur.isna()
    if bad.any():
        raise ValueError(
            f"{what}: duration column {duration!r} has non-numeric values at rows "
            f"{_show(sub.index[bad])}"
        )
    sub[duration] = dur
    if np.isinf(sub[duration].to_numpy(dtype=float)).any():
        raise ValueError(f"{what}: duration column {duration!r} has infinite values")
    keep = sub.notna().all(axis=1)
    n_drop = int((~keep).sum())
    if n_drop:
        logger.info(
            "%s: dropped %d of %d rows with missing values in %s", what, n_drop, len(sub), used
        )
    sub = sub.loc[keep]
    if sub.empty:
        raise ValueError(f"{what}: no complete rows left in columns {_show(used)}")
    ev = sub[event]
    if ev.dtype == bool:
        ev = ev.astype(int)
    evn = pd.to_numeric(ev, errors="coerce")
    vals = set(np.unique(evn.dropna().to_numpy()).tolist())
    if evn.isna().any() or not vals <= {0, 1}:
        shown = sorted(map(str, pd.unique(sub[event])))
        raise ValueError(
            f"{what}: event column {event!r} must be binary 0/1 (1 = event); found values "
            f"{_show(shown)}"
        )
    sub[event] = evn.astype(int)
    neg = sub[duration] < 0
    if neg.any():
        logger.warning(
            "%s: %d negative duration(s) in %r kept (as R does) at rows %s",
            what, int(neg.sum()), duration, _show(sub.index[neg]),
        )
    return sub


def _levels(values: pd.Series, reference: Any = None) -> list[Any]:
    """Factor levels as R orders them: categories order or sorted; ``reference`` first."""
    if isinstance(values.dtype, pd.CategoricalDtype):
        present = set(values.dropna().unique())
        levels = [c for c in values.cat.categories if c in present]
    else:
        levels = sorted(pd.unique(values.dropna()), key=lambda v: (str(type(v)), v))
    if reference is not None:
        if reference not in levels:
            raise ValueError(
                f"reference level {reference!r} of {values.name!r} not among its levels "
                f"{_show(levels)}"
            )
        levels = [reference] + [lv for lv in levels if lv != reference]
    return levels


def _is_categorical(s: pd.Series) -> bool:
    return not (pd.api.types.is_numeric_dtype(s) and not pd.api.types.is_bool_dtype(s))


# ----------------------------------------------------------------------------- Kaplan–Meier
def km_table(kmf: Any, conf_level: float = 0.95) -> pd.DataFrame:
    """Kaplan–Meier table of a fitted lifelines ``KaplanMeierFitter``, R style.

    Equals ``summary(survfit(...), censored = TRUE)`` for one curve: ``time``, ``n_risk``,
    ``n_event``, ``n_censor``, ``surv``, ``std_err`` (Greenwood standard error of S) and
    R's default ``conf.type = "log"`` limits

    .. math:: \\sigma^2(t) = \\sum_{t_i \\le t} \\frac{d_i}{n_i (n_i - d_i)},\\quad
              S(t)\\, e^{\\pm z_{1-\\alpha/2} \\sigma(t)}

    with the upper limit capped at 1 (NaN where S = 0 or the variance is infinite).
    """
    et = kmf.event_table
    et = et[et["removed"] > 0]
    n = et["at_risk"].to_numpy(dtype=float)
    d = et["observed"].to_numpy(dtype=float)
    surv = kmf.survival_function_.iloc[:, 0].reindex(et.index).to_numpy(dtype=float)
    with np.errstate(divide="ignore", invalid="ignore"):
        var = np.cumsum(np.where(d > 0, d / (n * (n - d)), 0.0))
        sigma = np.sqrt(var)
        z = stats.norm.ppf(1 - (1 - conf_level) / 2)
        ok = (surv > 0) & np.isfinite(sigma)
        lower = np.where(ok, np.exp(np.log(np.where(surv > 0, surv, 1.0)) - z * sigma), np.nan)
        upper = np.where(ok, np.minimum(1.0, np.exp(np.log(np.where(surv > 0, surv, 1.0))
                                                      + z * sigma)), np.nan)
    return pd.DataFrame(
        {
            "time": et.index.to_numpy(dtype=float),
            "n_risk": n,
            "n_event": d,
            "n_censor": et["censored"].to_numpy(dtype=float),
            "surv": surv,
            "std_err": surv * sigma,
            "lower": lower,
            "upper": upper,
        }
    )


def _findq(x: np.ndarray, y: np.ndarray, p: float, tol: float) -> float:
    """R ``survival:::findq``: where a horizontal line at ``p`` meets the curve ``y = 1 - S``.

    A flat stretch exactly at ``p`` (within ``tol``) gives the midpoint of the stretch.
    """
    y = np.asarray(y, dtype=float)
    if np.all(np.isnan(y)) or np.nanmax(y) < p:
        return float("nan")
    xmax = x[-1]
    _, first = np.unique(y, return_index=True)  # drop duplicated y (censorings)
    keep = np.zeros(len(y), dtype=bool)
    keep[first] = True
    keep &= ~np.isnan(y)
    x, y = x[keep], y[keep]

    i1 = np.nonzero(y + tol >= p)[0]
    i2 = np.nonzero(y - tol >= p)[0]
    x1 = float(x[i1[0]]) if len(i1) else float("nan")
    x2 = float(x[i2[0]]) if len(i2) else float("nan")
    quant = (x1 + x2) / 2
    if abs(p - y[-1]) < tol and len(i1):
        quant = (x1 + xmax) / 2
    return quant


def _median_ci(tab: pd.DataFrame, p: float = 0.5, firstx: float = 0.0) -> tuple[float, float, float]:
    """Median survival and its CI from an R-style KM table (R ``quantile.survfit``)."""
    tol = float(np.sqrt(np.finfo(float).eps))
    x = np.concatenate([[firstx], tab["time"].to_numpy()])
    med = _findq(x, np.concatenate([[0.0], 1 - tab["surv"].to_numpy()]), p, tol)
    lo = _findq(x, np.concatenate([[0.0], 1 - tab["lower"].to_numpy()]), p, tol)
    hi = _findq(x, np.concatenate([[0.0], 1 - tab["upper"].to_numpy()]), p, tol)
    return med, lo, hi


@dataclass(repr=False)
class SurvivalComparison(Result):
    """Kaplan–Meier curves per group with the log-rank test (see :func:`compare_survival`).

    ``summary()`` (one row per group) is also ``to_frame()`` and what ``save`` writes;
    :meth:`km_tables` holds the curves.

    Attributes
    ----------
    test_statistic, p_value, df : float, float, int
        Log-rank chi-square (R ``survdiff(rho = 0)``), its p-value and degrees of freedom.
    medians : DataFrame
        Per group: ``n``, ``events``, ``median``, ``lower_95``, ``upper_95`` (R's log CI).
    expected : DataFrame
        Per group: ``observed`` and ``expected`` events under the null (as ``survdiff``).
    kmf : dict
        Group -> fitted lifelines ``KaplanMeierFitter``.
    n, events : int
        Rows used and events among them.
    """

    duration: str
    event: str
    group: str
    test_statistic: float
    p_value: float
    df: int
    medians: pd.DataFrame
    expected: pd.DataFrame
    kmf: dict[Any, Any]
    n: int
    events: int
    conf_level: float = 0.95
    data: pd.DataFrame = field(default=None, repr=False)  # type: ignore[assignment]

    def _header(self) -> dict[str, Any]:
        return {"group": self.group, "n": self.n, "events": self.events,
                "chisq": self.test_statistic, "df": self.df, "p_value": self.p_value}

    def summary(self) -> pd.DataFrame:
        """One row per group: n, events, expected, median (CI), log-rank chi2, df, p."""
        out = self.medians.join(self.expected[["expected"]])
        out = out[["n", "events", "expected", "median", "lower_95", "upper_95"]]
        out["chisq"] = self.test_statistic
        out["df"] = self.df
        out["p_value"] = self.p_value
        out.index.name = self.group
        return out

    def km_tables(self) -> pd.DataFrame:
        """The Kaplan–Meier tables of all groups stacked (column ``group`` first)."""
        parts = [km_table(k, self.conf_level).assign(group=g) for g, k in self.kmf.items()]
        out = pd.concat(parts, ignore_index=True)
        return out[["group", *[c for c in out.columns if c != "group"]]]

    def plot(self, ax: Any = None, *, at_risk: bool = True, ci: bool = False,
             xlabel: str | None = None, title: str | None = None) -> Any:
        """Kaplan–Meier curves (censor ticks) with a numbers-at-risk table underneath.

        Returns the matplotlib axes.
        """
        import matplotlib.pyplot as plt

        if ax is None:
            _, ax = plt.subplots(figsize=(7, 5))
        for k in self.kmf.values():
            k.plot_survival_function(ax=ax, ci_show=ci, show_censors=True,
                                     censor_styles={"ms": 5, "marker": "|"})
        ax.set_xlabel(xlabel or self.duration)
        ax.set_ylabel("Survival probability")
        ax.set_ylim(0, 1.02)
        p = self.p_value
        ptxt = f"p = {p:.2g}" if p >= 1e-4 else f"p = {p:.1e}"
        ax.set_title(title or f"{self.group}: log-rank chi2 = {self.test_statistic:.2f}, {ptxt}")
        if at_risk:
            from lifelines.plotting import add_at_risk_counts

            add_at_risk_counts(*self.kmf.values(), ax=ax, rows_to_show=["At risk"])
        ax.figure.tight_layout()
        return ax


def compare_survival(
    df: pd.DataFrame,
    duration: str,
    event: str,
    group: str,
    *,
    levels: Sequence[Any] | None = None,
    conf_level: float = 0.95,
) -> SurvivalComparison:
    """Kaplan–Meier by group, log-rank test and median survival with 95% CI.

    R equivalent::

        km <- survfit(Surv(duration, event) ~ group, data = df)   # conf.type = "log"
        summary(km)$table[, c("records", "events", "median", "0.95LCL", "0.95UCL")]
        survdiff(Surv(duration, event) ~ group, data = df)         # rho = 0

    The log-rank statistic is :math:`U^\\top V^{-} U` with :math:`U_g = \\sum_t (d_{gt} -
    n_{gt} d_t / n_t)` and the hypergeometric covariance :math:`V`, chi-square with
    ``k - 1`` df for ``k`` groups (lifelines ``multivariate_logrank_test``).

    Parameters
    ----------
    df : DataFrame
    duration, event, group : str
        Columns: time (numeric), event indicator (0/1 or bool), grouping variable.
    levels : sequence, optional
        Order of the groups (default: sorted, or the categories of a Categorical).
    conf_level : float
        Level of the median's confidence interval.

    Raises
    ------
    ValueError
        Missing columns (named), non-binary event, fewer than two groups.
    """
    from lifelines import KaplanMeierFitter
    from lifelines.statistics import multivariate_logrank_test

    sub = _prepare(df, duration, event, [group], "compare_survival")
    lv = _levels(sub[group]) if levels is None else list(levels)
    present = set(sub[group].unique())
    if len(present) < 2:
        raise ValueError(
            f"compare_survival: group column {group!r} has a single level "
            f"({_show(present)}) among the complete rows; a comparison needs two or more"
        )
    unknown = present - set(lv)
    if unknown:
        raise ValueError(f"compare_survival: levels of {group!r} not listed in levels: {_show(unknown)}")
    lv = [g for g in lv if g in present]
    t = sub[duration].to_numpy(dtype=float)
    e = sub[event].to_numpy(dtype=int)
    g = sub[group].to_numpy()

    lr = multivariate_logrank_test(t, g, e)
    kmfs: dict[Any, Any] = {}
    rows = []
    for level in lv:
        m = g == level
        k = KaplanMeierFitter(alpha=1 - conf_level, label=f"{group}={level}")
        k.fit(t[m], e[m])
        kmfs[level] = k
        med, lo, hi = _median_ci(km_table(k, conf_level))
        rows.append({"n": int(m.sum()), "events": int(e[m].sum()), "median": med,
                     "lower_95": lo, "upper_95": hi})
    medians = pd.DataFrame(rows, index=pd.Index(lv, name=group))

    # observed / expected events as survdiff reports them
    times = np.unique(t[e == 1])
    at_risk = (t[None, :] >= times[:, None])                      # (T, n)
    died = (t[None, :] == times[:, None]) & (e[None, :] == 1)
    n_t = at_risk.sum(axis=1)
    d_t = died.sum(axis=1)
    onehot = np.stack([g == level for level in lv], axis=1)       # (n, k)
    n_gt = at_risk.astype(float) @ onehot
    exp_g = (n_gt * (d_t / n_t)[:, None]).sum(axis=0)
    obs_g = onehot[e == 1].sum(axis=0)
    expected = pd.DataFrame({"observed": obs_g.astype(int), "expected": exp_g},
                            index=pd.Index(lv, name=group))
    return SurvivalComparison(
        duration=duration, event=event, group=group,
        test_statistic=float(lr.test_statistic), p_value=float(lr.p_value),
        df=int(lr.degrees_of_freedom), medians=medians, expected=expected, kmf=kmfs,
        n=len(sub), events=int(e.sum()), conf_level=conf_level, data=sub,
    )


# ----------------------------------------------------------------------------- Cox
@dataclass(repr=False)
class CoxResult(Result):
    """A (stratified) Cox proportional-hazards fit (see :func:`stratified_cox`).

    ``summary()`` (R's coefficient table) is also ``to_frame()`` and what ``save`` writes;
    :meth:`tests` holds the model-level tests.

    Attributes
    ----------
    params, se, z, p : Series
        Coefficients (log hazard ratios), standard errors, Wald z and p per term.
    hazard_ratios : DataFrame
        ``hr``, ``lower_95``, ``upper_95`` per term.
    lr_statistic, lr_df, lr_p_value : float, int, float
        Likelihood-ratio test against the null model (R ``summary(coxph)$logtest``).
    loglik_null, loglik : float
        Partial log-likelihoods at beta = 0 and at the estimate.
    concordance : float
        Harrell's C (within strata).
    n, events : int
    model : lifelines.CoxPHFitter
    """

    params: pd.Series
    se: pd.Series
    z: pd.Series
    p: pd.Series
    hazard_ratios: pd.DataFrame
    lr_statistic: float
    lr_df: int
    lr_p_value: float
    loglik_null: float
    loglik: float
    concordance: float
    n: int
    events: int
    strata: list[str]
    model: Any = field(repr=False)

    def summary(self) -> pd.DataFrame:
        """R's coefficient table: coef, exp(coef), se(coef), z, p, lower/upper 95% of HR."""
        out = pd.DataFrame({
            "coef": self.params, "hr": self.hazard_ratios["hr"], "se": self.se,
            "z": self.z, "p_value": self.p,
            "lower_95": self.hazard_ratios["lower_95"], "upper_95": self.hazard_ratios["upper_95"],
        })
        out.index.name = "term"
        return out

    def _header(self) -> dict[str, Any]:
        return {"n": self.n, "events": self.events, "strata": ",".join(self.strata) or "none",
                "lr_statistic": self.lr_statistic, "lr_df": self.lr_df,
                "lr_p_value": self.lr_p_value, "concordance": self.concordance}

    def tests(self) -> pd.DataFrame:
        """One row: n, events, log-likelihoods, LRT statistic/df/p, concordance."""
        return pd.DataFrame([{
            "n": self.n, "events": self.events, "loglik_null": self.loglik_null,
            "loglik": self.loglik, "lr_statistic": self.lr_statistic, "lr_df": self.lr_df,
            "lr_p_value": self.lr_p_value, "concordance": self.concordance,
            "strata": ",".join(self.strata),
        }])

    def plot(self, ax: Any = None) -> Any:
        """Forest plot: hazard ratio with 95% CI per term on a log axis. Returns the axes."""
        import matplotlib.pyplot as plt

        hr = self.hazard_ratios
        h = hr["hr"].to_numpy(dtype=float)
        lo = hr["lower_95"].to_numpy(dtype=float)
        hi = hr["upper_95"].to_numpy(dtype=float)
        if ax is None:
            _, ax = plt.subplots(figsize=(6, 1.2 + 0.5 * len(hr)))
        y = np.arange(len(hr))[::-1]
        ax.errorbar(h, y, xerr=np.vstack([h - lo, hi - h]),
                    fmt="s", color="k", capsize=3)
        ax.axvline(1.0, color="grey", ls="--", lw=1)
        ax.set_xscale("log")
        ax.set_yticks(y)
        ax.set_yticklabels([f"{t}  {a:.2f} ({b:.2f}–{c:.2f})" for t, a, b, c in
                            zip(hr.index, h, lo, hi, strict=True)])
        ax.set_xlabel("Hazard ratio (95% CI)")
        st = f", strata: {', '.join(self.strata)}" if self.strata else ""
        ax.set_title(f"Cox PH{st}; LRT p = {self.lr_p_value:.2g}")
        ax.figure.tight_layout()
        return ax


def _design(sub: pd.DataFrame, covariates: Sequence[str],
            reference: Mapping[str, Any]) -> pd.DataFrame:
    """Numeric covariates as they are, categorical ones as R treatment dummies."""
    cols = {}
    for c in covariates:
        s = sub[c]
        if _is_categorical(s):
            lv = _levels(s, reference.get(c))
            if len(lv) < 2:
                raise ValueError(
                    f"stratified_cox: covariate {c!r} has a single level ({_show(lv)}) "
                    "among the complete rows"
                )
            for level in lv[1:]:
                cols[f"{c}{level}"] = (s == level).astype(float)
        else:
            if c in reference:
                raise ValueError(f"stratified_cox: reference given for numeric covariate {c!r}")
            cols[c] = s.astype(float)
    return pd.DataFrame(cols, index=sub.index)


def stratified_cox(
    df: pd.DataFrame,
    duration: str,
    event: str,
    covariates: str | Sequence[str],
    strata: str | Sequence[str] | None = None,
    *,
    reference: Mapping[str, Any] | None = None,
    conf_level: float = 0.95,
) -> CoxResult:
    """Cox proportional-hazards model with optional strata and likelihood-ratio test.

    R equivalent::

        fit <- coxph(Surv(duration, event) ~ IDH + strata(sex), data = df)  # ties = "efron"
        summary(fit)$coefficients; summary(fit)$logtest; summary(fit)$concordance

    Each stratum has its own baseline hazard; the coefficients are shared. The partial
    log-likelihood with Efron's tie correction is maximised by lifelines ``CoxPHFitter``;
    the LRT statistic is :math:`2(\\ell(\\hat\\beta) - \\ell(0))`, chi-square with as many df
    as coefficients.

    Parameters
    ----------
    df : DataFrame
    duration, event : str
    covariates : str or list of str
        Numeric columns enter as they are; other columns are dummy-coded against their
        reference level.
    strata : str or list of str, optional
        Stratification columns (``strata(...)`` in R).
    reference : dict, optional
        Reference level per categorical covariate, e.g. ``{"IDH": "WT"}`` (HR = Mutant vs WT).
        Default: the first level in sorted order, like R's ``factor``.
    """
    from lifelines import CoxPHFitter

    covariates = [covariates] if isinstance(covariates, str) else list(covariates)
    strata_l = [] if strata is None else ([strata] if isinstance(strata, str) else list(strata))
    if not covariates:
        raise ValueError("stratified_cox: at least one covariate is needed")
    overlap = set(covariates) & set(strata_l)
    if overlap:
        raise ValueError(f"stratified_cox: column(s) both covariate and stratum: {_show(overlap)}")
    reference = dict(reference or {})
    unknown_ref = set(reference) - set(covariates)
    if unknown_ref:
        raise ValueError(f"stratified_cox: reference given for non-covariates: {_show(unknown_ref)}")
    sub = _prepare(df, duration, event, [*covariates, *strata_l], "stratified_cox")
    X = _design(sub, covariates, reference)
    const = [c for c in X.columns if X[c].nunique() < 2]
    if const:
        raise ValueError(f"stratified_cox: constant design column(s) {_show(const)}")
    data = X.copy()
    dcol, ecol = "__duration__", "__event__"
    data[dcol] = sub[duration].astype(float)
    data[ecol] = sub[event].astype(int)
    scols = []
    for i, s in enumerate(strata_l):
        name = f"__stratum{i}__"
        data[name] = sub[s].astype(str)
        scols.append(name)
    cph = CoxPHFitter(alpha=1 - conf_level)
    cph.fit(data, duration_col=dcol, event_col=ecol, strata=scols or None)
    sm = cph.summary
    lrt = cph.log_likelihood_ratio_test()
    stat = float(lrt.test_statistic)
    z = stats.norm.ppf(1 - (1 - conf_level) / 2)
    params = sm["coef"].rename(None)
    se = sm["se(coef)"].rename(None)
    hrs = pd.DataFrame({"hr": np.exp(params), "lower_95": np.exp(params - z * se),
                        "upper_95": np.exp(params + z * se)})
    for obj in (params, se, hrs):
        obj.index.name = "term"
    return CoxResult(
        params=params, se=se, z=sm["z"].rename(None), p=sm["p"].rename(None),
        hazard_ratios=hrs, lr_statistic=stat, lr_df=int(lrt.degrees_freedom),
        lr_p_value=float(lrt.p_value), loglik_null=float(cph.log_likelihood_) - stat / 2,
        loglik=float(cph.log_likelihood_), concordance=float(cph.concordance_index_),
        n=len(sub), events=int(sub[event].sum()), strata=strata_l, model=cph,
    )
