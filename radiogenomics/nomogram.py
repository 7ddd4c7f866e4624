"""Logistic-regression nomogram reproducing R's ``rms`` (``lrm``, ``datadist``, ``nomogram``,
``calibrate``, ``validate``) on top of statsmodels.

Model.  ``logit P(y = 1) = b0 + sum_j beta_j x_j``, fitted by maximum likelihood
(statsmodels ``Logit``, Newton-Raphson); a categorical predictor enters by treatment
coding, one indicator ``name=level`` per non-reference level, the reference being the first
sorted level (as R's ``factor``) unless ``reference`` names another.

Nomogram scaling (``rms::nomogram`` with ``maxscale=100, nint=10``).  Each predictor gets an
axis of values: its levels (categorical), its sorted unique values (numeric with at most 10
distinct values, ``datadist``'s ``n.unique``), otherwise ``pretty(min, max, 10)`` over the
full data range (``datadist`` limits ``Low``/``High``).  With ``Xb_j(v) = beta_j v`` on that axis,
``R_j = max Xb_j - min Xb_j`` and

.. math::  sc = 100 / \\max_j R_j, \\qquad
           \\mathrm{points}_j(x) = sc\\,(\\beta_j x - \\min_v Xb_j(v)), \\qquad
           lp = b_0 + \\sum_j \\min_v Xb_j(v) + \\mathrm{total}/sc .

The total-points axis is ``pretty(0, max(100, sc*max(lp.at - Intercept)), 10)`` with
``lp.at = pretty(range(fitted lp), 10)``; the probability axis puts ticks at
``pretty(plogis(range(lp.at)), 10)`` placed by linear interpolation on a 1000-point lp grid,
as rms does.

Calibration (``rms::calibrate``, ``method="boot"``).  ``predy`` = 50 equally spaced points
between the 5th smallest and 5th largest apparent probability; the calibration curve is
``lowess(p, y, iter=0)`` interpolated at ``predy``; with B bootstrap refits the optimism is
``mean_b[cal_b(train_b) - cal_b(original)] - predy`` differences, and the corrected curve
is ``apparent - optimism``.  ``validate`` does the same for Dxy (AUC = Dxy/2 + 1/2), Brier,
calibration intercept and slope.
"""

from __future__ import annotations

import logging
import math
import re
import warnings
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from scipy import stats
from scipy.special import expit

from radiogenomics.roc import ROCResult, roc

__all__ = ["Nomogram", "CalibrationResult", "ValidationResult", "r_pretty", "datadist"]

logger = logging.getLogger(__name__)

_EPS = np.finfo(float).eps


# --------------------------------------------------------------------------- R helpers
def r_pretty(lo: float, up: float, n: int = 5) -> np.ndarray:
    """R's ``pretty(c(lo, up), n)``: about ``n + 1`` equally spaced round values covering
    ``[lo, up]``, step ``unit`` in {1, 2, 5, 10} x 10^k chosen with R's biases
    (``high.u.bias = 1.5``, ``u5.bias = 2.75``)."""
    lo, up = float(min(lo, up)), float(max(lo, up))
    h, h5 = 1.5, 0.5 + 1.5 * 1.5
    min_n = n // 3
    dx = up - lo
    if dx == 0 and up == 0:
        cell, i_small = 1.0, True
    else:
        cell = max(abs(lo), abs(up))
        u = 1 + (1 / (1 + h) if h5 >= 1.5 * h + 0.5 else 1.5 / (1 + h5))
        u *= max(1, n) * _EPS
        i_small = dx < cell * u * 3
    if i_small:
        if cell > 10:
            cell = 9 + cell / 10
        cell *= 0.75
        if min_n > 1:
            cell /= min_n
    else:
        cell = dx
        if n > 1:
            cell /= n
    if cell < 20 * np.finfo(float).tiny:
        cell = 20 * np.finfo(float).tiny
    base = 10.0 ** math.floor(math.log10(cell))
    unit = base
    if 2 * base - cell < h * (cell - unit):
        unit = 2 * base
        if 5 * base - cell < h5 * (cell - unit):
            unit = 5 * base
            if 10 * base - cell < h * (cell - unit):
                unit = 10 * base
    ns = math.floor(lo / unit + 1e-7)
    nu = math.ceil(up / unit - 1e-7)
    while ns * unit > lo + 1e-10 * unit:
        ns -= 1
    while nu * unit < up - 1e-10 * unit:
        nu += 1
    k = int(0.5 + nu - ns)
    if k < min_n:
        k = min_n - k
        if ns >= 0:
            nu += k // 2
            ns -= k // 2 + k % 2
        else:
            ns -= k // 2
            nu += k // 2 + k % 2
        ndiv = min_n
    else:
        ndiv = k
    s = np.linspace(ns * unit, nu * unit, ndiv + 1)
    if ndiv:
        delta = (nu * unit - ns * unit) / ndiv
        s[np.abs(s) < 1e-14 * delta] = 0.0
    return s


def _r_quantile(x: np.ndarray, q) -> np.ndarray:
    return np.quantile(np.asarray(x, dtype=float), q)  # numpy "linear" = R type 7


def datadist(df: pd.DataFrame, categorical=(), n_unique: int = 10) -> pd.DataFrame:
    """``rms::datadist`` limits: rows Low:effect, Adjust to, High:effect, Low:prediction,
    High:prediction, Low, High (one column per variable).

    Numeric: effect limits = quartiles, adjust-to = median (lowest value if binary, middle if
    3 values), prediction limits = quantiles ``q`` and ``1 - q`` with ``q = 10/max(n, 200)``,
    Low/High = range.  Categorical: adjust-to = the most frequent level, Low/High = first
    and last level.
    """
    rows = ["Low:effect", "Adjust to", "High:effect", "Low:prediction", "High:prediction", "Low", "High"]
    out = {}
    for col in df.columns:
        x = df[col]
        if col in categorical or not pd.api.types.is_numeric_dtype(x):
            lev = _sorted_levels(x.dropna())
            counts = x.astype(str).value_counts()
            mode = max(lev, key=lambda v: (counts.get(v, 0), -lev.index(v)))
            out[col] = [None, mode, None, lev[0], lev[-1], lev[0], lev[-1]]
            continue
        y = x.dropna().to_numpy(dtype=float)
        vals = np.unique(y)
        r = (vals[0], vals[-1])
        if vals.size < 2:
            out[col] = [y[0]] * 7
            continue
        if vals.size < 4:
            qd = r
        else:
            qq = 10 / max(y.size, 200)
            qd = tuple(_r_quantile(y, [qq, 1 - qq]))
        if qd[0] == qd[1]:
            qd = r
        adj = vals[0] if vals.size < 3 else vals[1] if vals.size == 3 else np.median(y)
        qe = r if vals.size < 4 else tuple(_r_quantile(y, [0.25, 0.75]))
        if qe[0] == qe[1]:
            qe = r
        out[col] = [qe[0], adj, qe[1], qd[0], qd[1], r[0], r[1]]
    return pd.DataFrame(out, index=rows)


def _sorted_levels(x: pd.Series) -> list[str]:
    """Levels sorted as R's ``factor`` would (numerically when the values are numbers)."""
    uniq = pd.unique(x)
    try:
        order = sorted(uniq, key=float)
    except (TypeError, ValueError):
        order = sorted(uniq, key=str)
    out = []
    for v in order:
        s = _level_str(v)
        if s not in out:
            out.append(s)
    return out


def _level_str(v) -> str:
    if isinstance(v, (float, np.floating)) and float(v).is_integer():
        return str(int(v))
    return str(v)


def _r_lowess(x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """R ``lowess(x, y, f=2/3, iter=0)`` (``delta = 0.01 * range(x)``): sorted x, smooth."""
    from statsmodels.nonparametric.smoothers_lowess import lowess

    delta = 0.01 * (np.max(x) - np.min(x))
    s = lowess(y, x, frac=2 / 3, it=0, delta=delta, return_sorted=True)
    return s[:, 0], s[:, 1]


def _approx_first(xs: np.ndarray, ys: np.ndarray, xout: np.ndarray) -> np.ndarray:
    """R ``approx(xs, ys, xout, ties=function(x) x[1])`` with NA (NaN) outside the range."""
    u, idx = np.unique(xs, return_index=True)
    out = np.interp(xout, u, ys[idx])
    out[(xout < u[0]) | (xout > u[-1])] = np.nan
    return out


def _approx_mean(xs: np.ndarray, ys: np.ndarray, xout: np.ndarray) -> np.ndarray:
    """R ``approx(..., ties=mean)`` with NaN outside the range."""
    s = pd.Series(ys).groupby(xs).mean()
    u = s.index.to_numpy(dtype=float)
    out = np.interp(xout, u, s.to_numpy())
    out[(xout < u[0]) | (xout > u[-1])] = np.nan
    return out


def _newton_logit(X: np.ndarray, y: np.ndarray, tol: float = 1e-10, maxiter: int = 50):
    """Maximum-likelihood logistic fit by Newton-Raphson (X includes the intercept column).

    Returns ``(beta, converged)``; used for the bootstrap refits (statsmodels ``Logit``
    gives the same MLE but is slower per call)."""
    beta = np.zeros(X.shape[1])
    p0 = y.mean()
    beta[0] = math.log(p0 / (1 - p0)) if 0 < p0 < 1 else 0.0
    for _ in range(maxiter):
        eta = X @ beta
        p = expit(eta)
        w = p * (1 - p)
        g = X.T @ (y - p)
        H = (X * w[:, None]).T @ X
        try:
            step = np.linalg.solve(H, g)
        except np.linalg.LinAlgError:
            return beta, False
        beta = beta + step
        if np.max(np.abs(step)) < tol:
            return beta, bool(np.all(np.isfinite(beta)) and np.max(np.abs(beta)) < 1e3)
    return beta, False


def _somers_dxy(p: np.ndarray, y: np.ndarray) -> float:
    yb = y.astype(bool)
    if yb.all() or (~yb).all():
        return np.nan
    ranks = stats.rankdata(p)
    n1 = yb.sum()
    n0 = y.size - n1
    auc = (ranks[yb].sum() - n1 * (n1 + 1) / 2) / (n1 * n0)
    return 2 * auc - 1


# --------------------------------------------------------------------------- results
@dataclass
class CalibrationResult:
    """Bootstrap optimism-corrected calibration curve (``rms::calibrate`` layout)."""

    table: pd.DataFrame
    predicted: np.ndarray
    n_bootstrap: int
    mean_absolute_error: float
    mean_squared_error: float
    quantile90_absolute_error: float
    n_failed: int = 0

    def summary(self) -> pd.DataFrame:
        return pd.DataFrame({
            "mean_absolute_error": [self.mean_absolute_error],
            "mean_squared_error": [self.mean_squared_error],
            "q90_absolute_error": [self.quantile90_absolute_error],
            "n": [self.predicted.size],
            "B": [self.n_bootstrap],
        })

    def to_frame(self) -> pd.DataFrame:
        return self.table.copy()

    def save(self, path) -> None:
        from radiogenomics._io import atomic_path

        with atomic_path(path) as tmp:
            self.table.to_csv(tmp, index=False)

    def plot(self, ax=None):
        """Apparent (dotted), bias-corrected (solid) and ideal (dashed) curves, with a rug of
        predicted probabilities, as ``plot.calibrate``."""
        import matplotlib.pyplot as plt

        if ax is None:
            _, ax = plt.subplots(figsize=(4.8, 4.8))
        t = self.table
        lim = (0.0, 1.0)
        ax.plot(lim, lim, ls="--", color="grey", lw=1, label="Ideal")
        ax.plot(t["predy"], t["calibrated.orig"], ls=":", color="black", lw=1.5, label="Apparent")
        ax.plot(t["predy"], t["calibrated.corrected"], ls="-", color="black", lw=1.5, label="Bias-corrected")
        ax.plot(self.predicted, np.full(self.predicted.size, 0.01), "|", color="black",
                alpha=0.3, ms=6, transform=ax.get_xaxis_transform())
        ax.set_xlim(*lim)
        ax.set_ylim(*lim)
        ax.set_aspect("equal")
        ax.set_xlabel("Predicted probability")
        ax.set_ylabel("Actual probability")
        ax.legend(loc="upper left", frameon=False, fontsize=9)
        ax.text(0.98, 0.02, f"B = {self.n_bootstrap} bootstrap repetitions\n"
                f"Mean absolute error = {self.mean_absolute_error:.3f}, n = {self.predicted.size}",
                transform=ax.transAxes, ha="right", va="bottom", fontsize=8)
        return ax


@dataclass
class ValidationResult:
    """Bootstrap optimism-corrected indexes (``rms::validate`` layout)."""

    table: pd.DataFrame
    n_bootstrap: int
    n_failed: int = 0

    def summary(self) -> pd.DataFrame:
        return self.table.copy()

    to_frame = summary

    @property
    def auc(self) -> float:
        return float(self.table.loc["AUC", "index.corrected"])

    @property
    def brier(self) -> float:
        return float(self.table.loc["B", "index.corrected"])

    def save(self, path) -> None:
        from radiogenomics._io import atomic_path

        with atomic_path(path) as tmp:
            self.table.to_csv(tmp)

    def plot(self, ax=None):
        import matplotlib.pyplot as plt

        if ax is None:
            _, ax = plt.subplots(figsize=(5, 3))
        t = self.table
        y = np.arange(len(t))
        ax.barh(y - 0.2, t["index.orig"], height=0.4, color="grey", label="apparent")
        ax.barh(y + 0.2, t["index.corrected"], height=0.4, color="black", label="corrected")
        ax.set_yticks(y, t.index)
        ax.legend(frameon=False)
        return ax


# --------------------------------------------------------------------------- model
@dataclass
class _Term:
    name: str
    categorical: bool
    levels: list = field(default_factory=list)  # all levels, reference first
    columns: list = field(default_factory=list)  # design columns


class Nomogram:
    """Multivariable logistic nomogram with rms-equivalent points, ROC, calibration.

    Parameters
    ----------
    outcome : str
        Binary (0/1 or two-valued) outcome column; the second sorted value is the event.
    predictors : list of str
        Candidate predictors.
    categorical : list of str, optional
        Predictors coded as factors (treatment coding).  Non-numeric columns are always
        categorical.
    selection : {"p<0.05", None} or "p<ALPHA"
        Backward elimination: refit dropping the least significant term (Wald test; joint
        for a multi-level factor) while its p >= alpha.  ``None`` keeps all predictors.
    reference : dict, optional
        ``{predictor: level}`` reference levels (default: first sorted level, as R).
    """

    def __init__(self, outcome, predictors, categorical=None, selection="p<0.05", reference=None):
        self.outcome = outcome
        self.predictors = predictors
        self.categorical = categorical
        self.selection = selection
        self.reference = reference

    # ------------------------------------------------------------------ validation
    def _alpha(self):
        if self.selection is None:
            return None
        m = re.fullmatch(r"\s*p\s*<\s*([0-9.eE-]+)\s*", str(self.selection))
        if not m:
            raise ValueError(f"selection must be None or 'p<ALPHA' (e.g. 'p<0.05'), got {self.selection!r}")
        return float(m.group(1))

    def _check_frame(self, df, need_outcome=True) -> pd.DataFrame:
        if not isinstance(df, pd.DataFrame):
            raise ValueError(f"data must be a pandas DataFrame, got {type(df).__name__}")
        preds = list(self.predictors_ if hasattr(self, "predictors_") else self._all_predictors())
        cols = preds + ([self.outcome] if need_outcome else [])
        missing = [c for c in cols if c not in df.columns]
        if missing:
            raise ValueError(f"columns not in the data: {', '.join(map(str, missing))}")
        na = df[cols].isna().sum()
        na = na[na > 0]
        if len(na):
            listed = ", ".join(f"{k} ({v} row{'s' if v > 1 else ''})" for k, v in na.items())
            raise ValueError(f"missing (NaN) values in: {listed}; drop or impute these rows first")
        for c in preds:
            if c not in self._categorical_set(df):
                try:
                    v = df[c].to_numpy(dtype=float)
                except (TypeError, ValueError):
                    raise ValueError(f"predictor {c!r} is not numeric; list it in categorical=") from None
                if not np.all(np.isfinite(v)):
                    raise ValueError(f"predictor {c!r} has {int((~np.isfinite(v)).sum())} infinite values")
        return df

    def _all_predictors(self) -> list[str]:
        preds = [self.predictors] if isinstance(self.predictors, str) else list(self.predictors)
        if not preds:
            raise ValueError("predictors is empty")
        if len(set(preds)) != len(preds):
            raise ValueError(f"duplicated predictors: {sorted({p for p in preds if preds.count(p) > 1})}")
        if self.outcome in preds:
            raise ValueError(f"the outcome {self.outcome!r} is also listed as a predictor")
        return preds

    def _categorical_set(self, df) -> set:
        cat = set([self.categorical] if isinstance(self.categorical, str) else (self.categorical or []))
        unknown = cat - set(self._all_predictors())
        if unknown:
            raise ValueError(f"categorical names not among the predictors: {sorted(unknown)}")
        for p in self._all_predictors():
            if p in df.columns and not pd.api.types.is_numeric_dtype(df[p]):
                cat.add(p)
        return cat

    def _binary_outcome(self, y: pd.Series) -> np.ndarray:
        vals = _sorted_levels(y)
        if len(vals) != 2:
            shown = vals[:10]
            raise ValueError(f"outcome {self.outcome!r} must be binary; it has {len(vals)} distinct values "
                             f"({', '.join(shown)}{', ...' if len(vals) > 10 else ''})")
        self.outcome_levels_ = vals
        return (y.map(_level_str) == vals[1]).to_numpy(dtype=float)

    # ------------------------------------------------------------------ design
    def _make_terms(self, df, preds) -> list[_Term]:
        cat = self._categorical_set(df)
        ref = dict(self.reference or {})
        terms = []
        for p in preds:
            if p in cat:
                lev = _sorted_levels(df[p])
                if p in ref:
                    r = _level_str(ref[p])
                    if r not in lev:
                        raise ValueError(f"reference level {r!r} of {p!r} not among its levels {lev}")
                    lev = [r] + [v for v in lev if v != r]
                if len(lev) < 2:
                    raise ValueError(f"categorical predictor {p!r} has a single level ({lev[0]})")
                terms.append(_Term(p, True, lev, [f"{p}={v}" for v in lev[1:]]))
            else:
                if df[p].nunique() < 2:
                    raise ValueError(f"predictor {p!r} is constant")
                terms.append(_Term(p, False, [], [p]))
        return terms

    def _design(self, df, terms) -> pd.DataFrame:
        cols = {"Intercept": np.ones(len(df))}
        for t in terms:
            if t.categorical:
                s = df[t.name].map(_level_str)
                bad = sorted(set(s) - set(t.levels))
                if bad:
                    raise ValueError(f"{t.name!r} has levels not seen in fitting: {bad}")
                for lev, c in zip(t.levels[1:], t.columns, strict=True):
                    cols[c] = (s == lev).to_numpy(dtype=float)
            else:
                cols[t.name] = df[t.name].to_numpy(dtype=float)
        return pd.DataFrame(cols, index=df.index)

    def _check_events(self, df, y, terms):
        for t in terms:
            if not t.categorical:
                continue
            s = df[t.name].map(_level_str).to_numpy()
            for lev in t.levels:
                m = s == lev
                ev = y[m].sum()
                if ev == 0 or ev == m.sum():
                    what = "no events" if ev == 0 else "no non-events"
                    raise ValueError(
                        f"level {lev!r} of categorical predictor {t.name!r} has {what} "
                        f"({int(m.sum())} rows, {int(ev)} with {self.outcome}={self.outcome_levels_[1]}); "
                        "its odds ratio is infinite - merge it with another level or use penalised "
                        "(Firth) logistic regression")

    def _fit_logit(self, X: pd.DataFrame, y: np.ndarray):
        import statsmodels.api as sm
        from statsmodels.tools.sm_exceptions import ConvergenceWarning

        try:
            from statsmodels.tools.sm_exceptions import PerfectSeparationWarning
        except ImportError:  # older statsmodels
            PerfectSeparationWarning = RuntimeWarning  # noqa: N806
        from statsmodels.tools.sm_exceptions import PerfectSeparationError

        msg = ("perfect or quasi-complete separation: some predictor (combination) predicts the "
               "outcome exactly, so the maximum-likelihood coefficients are infinite; remove or merge "
               "the offending predictor/level, or use penalised (Firth / ridge) logistic regression")
        rank = np.linalg.matrix_rank(X.to_numpy())
        if rank < X.shape[1]:
            raise ValueError(f"the design matrix is rank deficient (rank {rank} < {X.shape[1]} columns "
                             f"{list(X.columns)}); some predictors are collinear")
        with warnings.catch_warnings():
            warnings.simplefilter("error", PerfectSeparationWarning)
            warnings.simplefilter("ignore", ConvergenceWarning)
            warnings.simplefilter("ignore", RuntimeWarning)
            try:
                res = sm.Logit(y, X).fit(method="newton", maxiter=100, tol=1e-12, disp=0)
            except (PerfectSeparationError, PerfectSeparationWarning, np.linalg.LinAlgError):
                raise ValueError(msg) from None
        p = res.predict(X)
        if (not res.mle_retvals.get("converged", True) or not np.all(np.isfinite(res.bse))
                or np.any(np.minimum(p, 1 - p) < 1e-10) or np.max(np.abs(res.params.iloc[1:])) > 50
                and np.any(np.minimum(p, 1 - p) < 1e-6)):
            raise ValueError(msg)
        return res

    def _wald_terms(self, res, terms) -> pd.Series:
        out = {}
        cov = res.cov_params()
        for t in terms:
            b = res.params[t.columns].to_numpy()
            V = cov.loc[t.columns, t.columns].to_numpy()
            chi2 = float(b @ np.linalg.solve(V, b))
            out[t.name] = stats.chi2.sf(chi2, len(t.columns))
        return pd.Series(out)

    # ------------------------------------------------------------------ fit
    def fit(self, df: pd.DataFrame) -> Nomogram:
        """Fit the logistic model (with selection) and build the rms nomogram scales."""
        preds = self._all_predictors()
        alpha = self._alpha()
        for attr in ("predictors_",):
            if hasattr(self, attr):
                delattr(self, attr)
        self._check_frame(df)
        df = df.copy()
        y = self._binary_outcome(df[self.outcome])
        if y.sum() < 2 or (1 - y).sum() < 2:
            raise ValueError(f"outcome {self.outcome!r} needs at least 2 events and 2 non-events")
        terms = self._make_terms(df, preds)
        self._check_events(df, y, terms)
        dropped = []
        while True:
            X = self._design(df, terms)
            res = self._fit_logit(X, y)
            if alpha is None:
                break
            pv = self._wald_terms(res, terms)
            worst = pv.idxmax()
            if pv[worst] < alpha or len(terms) == 1:
                if pv[worst] >= alpha:
                    logger.warning("no predictor reaches p < %g; keeping %s", alpha, worst)
                break
            logger.info("dropping %s (Wald p = %.4g)", worst, pv[worst])
            dropped.append((worst, float(pv[worst])))
            terms = [t for t in terms if t.name != worst]
        self.terms_ = terms
        self.predictors_ = [t.name for t in terms]
        self.dropped_ = dropped
        self.result_ = res
        self.coef_ = res.params.copy()
        self.cov_ = res.cov_params()
        self.X_ = X.to_numpy()
        self.y_ = y
        self.columns_ = list(X.columns)
        self.datadist_ = datadist(df[self.predictors_], categorical=[t.name for t in terms if t.categorical])
        self.term_pvalues_ = self._wald_terms(res, terms)
        self._build_scales(df)
        return self

    def _check_fitted(self):
        if not hasattr(self, "coef_"):
            raise ValueError("this Nomogram is not fitted yet; call .fit(df) first")

    # ------------------------------------------------------------------ scales
    def _axis_values(self, df, t: _Term):
        if t.categorical:
            return list(t.levels)
        x = df[t.name].to_numpy(dtype=float)
        u = np.unique(x)
        if u.size <= 10:
            return list(u)
        return list(r_pretty(u[0], u[-1], 10))

    def _xbeta(self, t: _Term, values) -> np.ndarray:
        if t.categorical:
            b = {lev: self.coef_[c] for lev, c in zip(t.levels[1:], t.columns, strict=True)}
            return np.array([b.get(_level_str(v), 0.0) for v in values])
        return self.coef_[t.name] * np.asarray(values, dtype=float)

    def _build_scales(self, df):
        rows = []
        mins, ranges = {}, {}
        for t in self.terms_:
            vals = self._axis_values(df, t)
            xb = self._xbeta(t, vals)
            mins[t.name] = xb.min()
            ranges[t.name] = xb.max() - xb.min()
            for v, b in zip(vals, xb, strict=True):
                rows.append((t.name, v, b))
        sc = 100.0 / max(ranges.values())
        self.scale_ = sc
        self.xbeta_min_ = pd.Series(mins)
        self.nomogram_intercept_ = float(self.coef_["Intercept"] + sum(mins.values()))
        axes = pd.DataFrame(rows, columns=["variable", "value", "Xbeta"])
        axes["points"] = (axes["Xbeta"] - axes["variable"].map(mins)) * sc
        self.axes_ = axes
        lp = self.X_ @ self.coef_.to_numpy()
        lp_at = r_pretty(lp.min(), lp.max(), 10)
        self.lp_at_ = lp_at
        sum_max = max(100.0, sc * np.max(lp_at - self.nomogram_intercept_))
        self.total_points_ticks_ = r_pretty(0, sum_max, 10)
        self.lp_axis_ = pd.DataFrame({"total_points": (lp_at - self.nomogram_intercept_) * sc,
                                      "linear_predictor": lp_at})
        fat = r_pretty(*expit([lp_at.min(), lp_at.max()]), 10)
        xseq = np.linspace(lp_at.min(), lp_at.max(), 1000)
        w = _approx_mean(expit(xseq), xseq, fat)
        ok = ~np.isnan(w)
        self.probability_axis_ = pd.DataFrame({"total_points": (w[ok] - self.nomogram_intercept_) * sc,
                                               "probability": fat[ok]})

    # ------------------------------------------------------------------ outputs
    def summary(self) -> pd.DataFrame:
        """Coefficients, odds ratios with 95% Wald CI, z and p (one row per model term)."""
        self._check_fitted()
        b = self.coef_
        se = np.sqrt(np.diag(self.cov_))
        z = stats.norm.ppf(0.975)
        out = pd.DataFrame({
            "coef": b.to_numpy(), "se": se, "z": b.to_numpy() / se,
            "p": 2 * stats.norm.sf(np.abs(b.to_numpy() / se)),
            "OR": np.exp(b.to_numpy()), "OR_lower": np.exp(b.to_numpy() - z * se),
            "OR_upper": np.exp(b.to_numpy() + z * se),
        }, index=pd.Index(self.columns_, name="term"))
        return out

    def linear_predictor(self, df) -> np.ndarray:
        self._check_fitted()
        self._check_frame(df, need_outcome=False)
        X = self._design(df, self.terms_)
        return X.to_numpy() @ self.coef_.to_numpy()

    def predict_proba(self, df) -> np.ndarray:
        """Predicted probability of the event, ``plogis(lp)``."""
        return expit(self.linear_predictor(df))

    def points(self, df) -> pd.DataFrame:
        """Points per predictor and ``total`` for each row, as ``rms::nomogram`` scales them."""
        self._check_fitted()
        self._check_frame(df, need_outcome=False)
        out = {}
        for t in self.terms_:
            vals = df[t.name].map(_level_str) if t.categorical else df[t.name]
            if t.categorical:
                bad = sorted(set(vals) - set(t.levels))
                if bad:
                    raise ValueError(f"{t.name!r} has levels not seen in fitting: {bad}")
            out[t.name] = (self._xbeta(t, vals.to_numpy()) - self.xbeta_min_[t.name]) * self.scale_
        res = pd.DataFrame(out, index=df.index)
        res["total"] = res.sum(axis=1)
        return res

    def points_to_probability(self, total) -> np.ndarray:
        return expit(self.nomogram_intercept_ + np.asarray(total, dtype=float) / self.scale_)

    # ------------------------------------------------------------------ figure
    def plot(self, fig=None, funlabel="Risk of poor outcome", xfrac=0.7):
        """Draw the rms-style nomogram; returns the matplotlib figure (``fig.axes[0]``)."""
        import matplotlib.pyplot as plt

        self._check_fitted()
        rows = ["Points"] + self.predictors_ + ["Total Points", "Linear Predictor", funlabel]
        nrow = len(rows)
        if fig is None:
            fig = plt.figure(figsize=(8.5, 0.55 * nrow + 0.6))
        ax = fig.add_axes([0.2, 0.03, 0.77, 0.94])
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
        for i, t in enumerate(self.terms_, start=1):
            a = self.axes_[self.axes_["variable"] == t.name]
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
        new_max = float(self.total_points_ticks_.max())
        k = len(self.terms_) + 1
        tp = self.total_points_ticks_
        draw(k, tp * 100 / new_max, [_fmt(v) for v in tp])
        lpa = self.lp_axis_
        inside = (lpa["total_points"] >= -1e-9) & (lpa["total_points"] <= new_max + 1e-9)
        lpa = lpa[inside]
        draw(k + 1, lpa["total_points"].to_numpy() * 100 / new_max, [_fmt(v) for v in lpa["linear_predictor"]])
        pa = self.probability_axis_
        pa = pa[(pa["total_points"] >= 0) & (pa["total_points"] <= new_max)]
        draw(k + 2, pa["total_points"].to_numpy() * 100 / new_max, [_fmt(v) for v in pa["probability"]])
        ax.set_title(f"Nomogram for {self.outcome}", fontsize=fs + 2, loc="left")
        return fig

    # ------------------------------------------------------------------ discrimination
    def roc(self, df=None) -> ROCResult:
        """ROC with AUC and DeLong 95% CI of the fitted probabilities (or on ``df``)."""
        self._check_fitted()
        if df is None:
            return roc(self.y_, expit(self.X_ @ self.coef_.to_numpy()))
        self._check_frame(df)
        y = (df[self.outcome].map(_level_str) == self.outcome_levels_[1]).to_numpy(dtype=float)
        return roc(y, self.predict_proba(df))

    # ------------------------------------------------------------------ bootstrap
    def _bootstrap_fits(self, n_bootstrap, random_state):
        rng = np.random.default_rng(random_state)
        n = self.y_.size
        for _ in range(int(n_bootstrap)):
            idx = rng.integers(0, n, n)
            Xb, yb = self.X_[idx], self.y_[idx]
            if yb.min() == yb.max():
                yield idx, None
                continue
            beta, ok = _newton_logit(Xb, yb)
            yield idx, (beta if ok else None)

    def calibration(self, n_bootstrap: int = 200, random_state=None) -> CalibrationResult:
        """Bootstrap optimism-corrected calibration curve, as ``rms::calibrate(fit, B)``."""
        self._check_fitted()
        if int(n_bootstrap) < 1:
            raise ValueError(f"n_bootstrap must be >= 1, got {n_bootstrap}")
        X, y = self.X_, self.y_
        beta0 = self.coef_.to_numpy()
        pred = expit(X @ beta0)
        n = y.size
        if n < 11:
            raise ValueError("calibration needs more than 10 observations")
        ps = np.sort(pred)
        predy = np.linspace(ps[4], ps[n - 5], 50)

        def cal(lp, yy):
            xs, ys = _r_lowess(expit(lp), yy)
            return _approx_first(xs, ys, predy)

        orig = cal(X @ beta0, y)
        train_sum = np.zeros(predy.size)
        test_sum = np.zeros(predy.size)
        num = np.zeros(predy.size)
        failed = 0
        for idx, beta in self._bootstrap_fits(n_bootstrap, random_state):
            if beta is None:
                failed += 1
                continue
            lp = X @ beta
            tr = cal(lp[idx], y[idx]) - predy
            te = cal(lp, y) - predy
            na = np.isnan(tr + te)
            num += ~na
            train_sum += np.where(na, 0, tr)
            test_sum += np.where(na, 0, te)
        if failed:
            logger.warning("%d bootstrap refits failed (separation or non-convergence)", failed)
        with np.errstate(invalid="ignore", divide="ignore"):
            training = train_sum / num
            test = test_sum / num
        optimism = training - test
        index_orig = orig - predy
        table = pd.DataFrame({
            "predy": predy, "calibrated.orig": orig, "calibrated.corrected": orig - optimism,
            "index.orig": index_orig, "training": training, "test": test, "optimism": optimism,
            "index.corrected": index_orig - optimism, "n": num.astype(int),
        })
        s = ~np.isnan(table["calibrated.corrected"].to_numpy())
        err = pred - _approx_mean(predy[s], table["calibrated.corrected"].to_numpy()[s], pred)
        return CalibrationResult(
            table=table, predicted=pred, n_bootstrap=int(n_bootstrap),
            mean_absolute_error=float(np.nanmean(np.abs(err))),
            mean_squared_error=float(np.nanmean(err ** 2)),
            quantile90_absolute_error=float(np.nanquantile(np.abs(err), 0.9)), n_failed=failed)

    def validate(self, n_bootstrap: int = 200, random_state=None) -> ValidationResult:
        """Bootstrap optimism-corrected Dxy, AUC (= Dxy/2 + 0.5), Brier score, calibration
        intercept and slope, as ``rms::validate(fit, B)`` (method "boot")."""
        self._check_fitted()
        X, y = self.X_, self.y_

        def indexes(lp, yy, apparent):
            p = expit(lp)
            dxy = _somers_dxy(p, yy)
            brier = float(np.mean((p - yy) ** 2))
            if apparent:
                a, b = 0.0, 1.0
            else:
                Z = np.column_stack([np.ones_like(lp), lp])
                (a, b), ok = _newton_logit(Z, yy)
                if not ok:
                    a, b = np.nan, np.nan
            return np.array([dxy, dxy / 2 + 0.5, brier, a, b])

        beta0 = self.coef_.to_numpy()
        orig = indexes(X @ beta0, y, True)
        tr_sum = np.zeros(5)
        te_sum = np.zeros(5)
        num = np.zeros(5)
        failed = 0
        for idx, beta in self._bootstrap_fits(n_bootstrap, random_state):
            if beta is None:
                failed += 1
                continue
            lp = X @ beta
            tr = indexes(lp[idx], y[idx], True)
            te = indexes(lp, y, False)
            na = np.isnan(tr + te)
            num += ~na
            tr_sum += np.where(na, 0, tr)
            te_sum += np.where(na, 0, te)
        training, test = tr_sum / num, te_sum / num
        optimism = training - test
        table = pd.DataFrame({"index.orig": orig, "training": training, "test": test, "optimism": optimism,
                              "index.corrected": orig - optimism, "n": num.astype(int)},
                             index=["Dxy", "AUC", "B", "Intercept", "Slope"])
        return ValidationResult(table=table, n_bootstrap=int(n_bootstrap), n_failed=failed)


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
