"""The logistic nomogram model: fit (with backward selection), rms scales, points, ROC.

See the package docstring (:mod:`radiogenomics.nomogram`) for the formulas.
"""

from __future__ import annotations

import logging
import re
import warnings
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats
from scipy.special import expit

from radiogenomics.results import Result
from radiogenomics.roc import ROCResult, roc

from ._plot import plot_nomogram
from ._rcompat import _approx_mean, _level_str, _sorted_levels, datadist, r_pretty
from ._validation import CalibrationResult, ValidationResult, calibrate, validate

__all__ = ["Nomogram"]

logger = logging.getLogger("radiogenomics.nomogram")


@dataclass
class _Term:
    name: str
    categorical: bool
    levels: list = field(default_factory=list)  # all levels, reference first
    columns: list = field(default_factory=list)  # design columns


class Nomogram(Result):
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

    Notes
    -----
    A fitted nomogram is a result object (:class:`radiogenomics.results.Result`):
    ``summary()`` is the odds-ratio table (also what ``save`` writes), ``to_frame()`` the
    points of every predictor value on its axis (``variable, value, Xbeta, points``).
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

    def to_frame(self) -> pd.DataFrame:
        """Points of every predictor value on its nomogram axis: variable, value, Xbeta, points."""
        self._check_fitted()
        return self.axes_.copy()

    def _header(self) -> dict[str, Any]:
        head: dict[str, Any] = {"outcome": self.outcome}
        if hasattr(self, "coef_"):
            head.update(n=int(self.y_.size), events=int(self.y_.sum()),
                        predictors=", ".join(self.predictors_))
        else:
            head.update(fitted=False)
        return head

    def _repr_html_(self) -> str | None:
        return super()._repr_html_() if hasattr(self, "coef_") else None

    # ------------------------------------------------------------------ figure
    def plot(self, ax: Any = None, funlabel: str = "Risk of poor outcome", xfrac: float = 0.7, *,
             fig: Any = None) -> Any:
        """Draw the rms-style nomogram (:func:`~radiogenomics.nomogram._plot.plot_nomogram`).

        Draws on ``ax`` and returns it; with ``ax=None`` makes a figure and returns it (the
        drawing is ``fig.axes[0]``). ``fig=`` (the old first parameter) is deprecated: pass
        ``ax=`` instead. ``xfrac`` is unused (kept for compatibility).
        """
        from matplotlib.figure import Figure

        if isinstance(ax, Figure):  # plot(fig) positionally, the old signature
            ax, fig = None, ax
        if fig is not None:
            warnings.warn("Nomogram.plot(fig=...) is deprecated and will be removed; pass ax= "
                          "(an Axes) or nothing", FutureWarning, stacklevel=2)
        self._check_fitted()
        return plot_nomogram(self, ax=ax, funlabel=funlabel, fig=fig)

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
    def calibration(self, n_bootstrap: int = 200, random_state: Any = None) -> CalibrationResult:
        """Bootstrap optimism-corrected calibration curve, as ``rms::calibrate(fit, B)``
        (:func:`~radiogenomics.nomogram._validation.calibrate`)."""
        self._check_fitted()
        return calibrate(self.X_, self.y_, self.coef_.to_numpy(), n_bootstrap, random_state)

    def validate(self, n_bootstrap: int = 200, random_state: Any = None) -> ValidationResult:
        """Bootstrap optimism-corrected Dxy, AUC (= Dxy/2 + 0.5), Brier score, calibration
        intercept and slope, as ``rms::validate(fit, B)`` (method "boot";
        :func:`~radiogenomics.nomogram._validation.validate`)."""
        self._check_fitted()
        return validate(self.X_, self.y_, self.coef_.to_numpy(), n_bootstrap, random_state)
