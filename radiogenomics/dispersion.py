r"""Negative-binomial dispersion estimation, equal to edgeR.

:func:`estimate_dispersion` returns a :class:`DispersionResult` (common, trended, tagwise
dispersions). Two methods:

``"classic"`` — edgeR 3.40 ``estimateCommonDisp`` + ``estimateTagwiseDisp`` (defaults):

1. *Quantile-adjusted pseudo-counts* (``equalizeLibSizes``): within each group the
   intercept-only NB GLM gives :math:`\hat\lambda_g`; each count :math:`y_{gi}` is mapped from
   :math:`NB(\hat\lambda_g N_i, \phi)` to :math:`NB(\hat\lambda_g N^*, \phi)` with
   :math:`N^* = (\prod_i N_i)^{1/n}` by averaging a normal and a gamma quantile-to-quantile
   map (``q2qnbinom``).
2. *Common dispersion* (qCML): with :math:`r = 1/\phi` and :math:`\delta = \phi/(1+\phi)`,
   the conditional log-likelihood of the pseudo-counts :math:`z` of group *k* (size
   :math:`n_k`) given their sum is

   .. math:: \ell_{gk}(r) = \sum_{i \in k} \log\Gamma(z_{gi} + r) + \log\Gamma(n_k r)
             - \log\Gamma(n_k(\bar z_{gk} + r)) - n_k \log\Gamma(r);

   :math:`\delta` maximises :math:`\sum_g \sum_k \ell_{gk}` over genes with more than 5
   reads (Brent's ``optimize`` on :math:`[10^{-4}, 100/101]`, tol :math:`10^{-6}`),
   iterated twice starting from :math:`\phi = 0.01`.
3. *Tagwise* (weighted likelihood empirical Bayes, Robinson & Smyth 2007): on the grid
   :math:`\phi_j = \phi_c 2^{t_j}`, :math:`t_j \in \{-6, -4.8, \dots, 6\}` the genewise
   :math:`\ell_g(\phi_j)` are smoothed by a moving average over genes ordered by AveLogCPM
   (width :math:`\lfloor 0.3 G \rfloor`) to :math:`m_g(\phi_j)`, and
   :math:`\phi_g = \phi_c 2^{\hat t_g}` maximises the cubic-spline interpolant of
   :math:`\ell_g + \frac{d_0}{n - K} m_g` (prior df :math:`d_0 = 10`, *K* groups).

``"glm"`` — edgeR ``estimateDisp`` (Cox-Reid APL, locfit trend, estimated prior df),
implemented in :mod:`radiogenomics._dispersion_glm`.

Everything is vectorised over genes; internal arrays are genes x samples.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from ._edger.fit import ave_log_cpm
from ._validation import align, as_count_frame, as_labels
from .results import Result

logger = logging.getLogger(__name__)

__all__ = ["estimate_dispersion", "DispersionResult"]



# --------------------------------------------------------------------------------------
# Result object
# --------------------------------------------------------------------------------------
@dataclass(repr=False)
class DispersionResult(Result):
    """NB dispersions of every gene.

    ``summary()`` is the one-column table of scalar results (common dispersion, prior df,
    tagwise quantiles); ``to_frame()`` the per-gene table, which ``save(path)`` writes.

    Attributes
    ----------
    common : float
        Common dispersion :math:`\\phi_c` (BCV = sqrt(common)).
    trended : Series or None
        Abundance-trended dispersions (``"glm"`` only; ``None`` for ``"classic"``).
    tagwise : Series
        Gene-wise (tagwise) empirical-Bayes dispersions, indexed by gene.
    prior_df : float
        Prior degrees of freedom of the weighted likelihood.
    method : str
        ``"classic"`` or ``"glm"``.
    ave_log_cpm : Series or None
        edgeR's AveLogCPM of each gene (x axis of the BCV plot).
    span : float or None
        Width (as a fraction of genes) of the trend smoother.
    """

    common: float
    trended: pd.Series | None
    tagwise: pd.Series
    prior_df: float
    method: str
    ave_log_cpm: pd.Series | None = None
    span: float | None = None
    lib_size: pd.Series | None = field(default=None, repr=False)

    def to_frame(self) -> pd.DataFrame:
        """Per-gene table: ``ave_log_cpm``, ``trended`` (if any), ``tagwise``."""
        cols: dict[str, Any] = {}
        if self.ave_log_cpm is not None:
            cols["ave_log_cpm"] = self.ave_log_cpm
        if self.trended is not None:
            cols["trended"] = self.trended
        cols["tagwise"] = self.tagwise
        return pd.DataFrame(cols)

    def summary(self) -> pd.DataFrame:
        """One-column table of the scalar results and tagwise quantiles."""
        tw = self.tagwise.to_numpy()
        rows = {
            "method": self.method,
            "n_genes": int(tw.size),
            "common_dispersion": float(self.common),
            "common_BCV": float(math.sqrt(self.common)) if self.common >= 0 else float("nan"),
            "prior_df": float(self.prior_df),
            "span": float(self.span) if self.span is not None else float("nan"),
            "tagwise_min": float(np.nanmin(tw)),
            "tagwise_median": float(np.nanmedian(tw)),
            "tagwise_max": float(np.nanmax(tw)),
        }
        return pd.DataFrame({"value": pd.Series(rows, dtype=object)})

    def _header(self) -> dict[str, Any]:
        return {"method": self.method, "common_dispersion": float(self.common),
                "prior_df": float(self.prior_df), "n_genes": int(self.tagwise.size)}

    def _saved_table(self) -> pd.DataFrame:
        return self.to_frame()

    def plot(self, ax: Any = None) -> Any:
        """edgeR ``plotBCV``: sqrt(dispersion) against average log2 CPM. Returns axes."""
        ax = self._axes(ax, figsize=(6, 4.5))
        x = self.ave_log_cpm
        if x is None:
            raise ValueError("ave_log_cpm is not available for this result")
        ax.scatter(x, np.sqrt(self.tagwise.loc[x.index]), s=4, c="k", alpha=0.5, label="Tagwise")
        if self.trended is not None:
            o = np.argsort(x.to_numpy())
            ax.plot(x.to_numpy()[o], np.sqrt(self.trended.loc[x.index].to_numpy()[o]), c="b",
                    label="Trend")
        ax.axhline(math.sqrt(self.common), c="r", label="Common")
        ax.set_xlabel("Average log CPM")
        ax.set_ylabel("Biological coefficient of variation")
        ax.legend(loc="upper right")
        return ax



# --------------------------------------------------------------------------------------
# Kernels (genes x samples)
# --------------------------------------------------------------------------------------
def _fit_one_group(
    y: np.ndarray, offset: np.ndarray, disp: Any, maxit: int = 50, tol: float = 1e-10
) -> np.ndarray:
    r"""Intercept-only NB GLM per gene by Fisher scoring (edgeR ``mglmOneGroup``).

    .. math:: \beta \leftarrow \beta + \frac{\sum_i (y_i - \mu_i)/(1 + \phi\mu_i)}
              {\sum_i \mu_i/(1+\phi\mu_i)},\qquad \mu_i = e^{\beta + o_i},

    started at :math:`\log(\sum_{y_i > 10^{-10}} y_i e^{-o_i} / n)` and stopped gene by
    gene when the step is below ``tol``. Genes without a count above 1e-10 get
    :math:`-\infty`. ``offset`` is one value per sample; compiled, parallel over genes.
    """
    from ._edger.classic import one_group_rows

    y = np.ascontiguousarray(y, dtype=float)
    off = np.ascontiguousarray(offset, dtype=float)
    if off.ndim != 1 or off.size != y.shape[1]:
        raise ValueError("offset must hold one value per sample")
    return one_group_rows(y, off, _per_gene(disp, y.shape[0]), int(maxit), float(tol))


def _per_gene(value: Any, G: int) -> np.ndarray:
    """A scalar or per-gene value as a contiguous float array of length G."""
    v = np.asarray(value, dtype=float)
    return np.ascontiguousarray(np.broadcast_to(v.reshape(-1) if v.ndim else v, (G,)))


def _q2qnbinom(x: np.ndarray, lam: np.ndarray, lib_in: np.ndarray, lib_out: float,
               dispersion: Any, clip_negative: bool = False) -> np.ndarray:
    r"""edgeR ``q2qnbinom``: approximate quantile-to-quantile map of the counts ``x``
    (genes x samples) from :math:`NB(\mu_{in} = \lambda_g N_i, \phi_g)` to
    :math:`NB(\mu_{out} = \lambda_g N^*, \phi_g)`.

    The result is the mean of the normal map
    :math:`\mu_{out} + \sqrt{v_{out}/v_{in}}\,(x - \mu_{in})`, :math:`v = \mu(1+\phi\mu)`,
    and the gamma map :math:`G^{-1}_{out}(G_{in}(x))` with
    :math:`G \sim \Gamma(\text{shape}=\mu/(1+\phi\mu), \text{scale}=1+\phi\mu)` (upper tails
    for :math:`x \ge \mu_{in}`, lower tails otherwise, on the log scale as R's
    ``log.p = TRUE``). Means below 1e-14 get +0.25. Exactly-zero counts in the lower branch
    map to the gamma quantile 0 directly. Compiled (:mod:`radiogenomics._edger.special`).
    """
    from ._edger.special import q2q_rows

    x = np.ascontiguousarray(x, dtype=float)
    return q2q_rows(x, np.ascontiguousarray(lam, dtype=float),
                    np.ascontiguousarray(lib_in, dtype=float), float(lib_out),
                    _per_gene(dispersion, x.shape[0]), bool(clip_negative))


def _equalize_lib_sizes(y: np.ndarray, codes: np.ndarray, dispersion: Any, lib: np.ndarray
                        ) -> np.ndarray:
    r"""edgeR ``equalizeLibSizes``: pseudo-counts at the common library size
    :math:`N^* = \exp(\overline{\log N})`, computed per group (negative values set to 0).

    ``dispersion`` is a scalar or one value per gene."""
    G, n = y.shape
    common_lib = math.exp(np.mean(np.log(lib)))
    disp = _per_gene(dispersion, G)
    out = np.empty((G, n))
    for k in np.unique(codes):
        j = codes == k
        yk = np.ascontiguousarray(y[:, j], dtype=float)
        lam = np.exp(_fit_one_group(yk, np.log(lib[j]), disp))
        out[:, j] = _q2qnbinom(yk, lam, lib[j], common_lib, disp, clip_negative=True)
    return out


def _cond_loglik(groups: list[np.ndarray], r: Any) -> np.ndarray:
    r"""Sum over groups of edgeR's conditional NB log-likelihood given the group sums,

    :math:`\sum_k [\sum_{i\in k}\log\Gamma(z_i + r) + \log\Gamma(n_k r)
    - \log\Gamma(n_k(\bar z_k + r)) - n_k\log\Gamma(r)]`, one row per gene and one
    column per value of ``r`` (a scalar, one value per gene, or a genes x grid array)."""
    from ._edger.classic import cond_loglik_grid

    G = groups[0].shape[0]
    rr = np.asarray(r, dtype=float)
    squeeze = rr.ndim < 2
    rr = np.ascontiguousarray(np.broadcast_to(rr.reshape(-1, 1) if rr.ndim == 1 else rr,
                                              (G, 1) if rr.ndim < 2 else rr.shape))
    out = sum(cond_loglik_grid(z, rr) for z in groups)
    return out[:, 0] if squeeze else out


def _brent_fmin(f: Callable[[float], float], ax: float, bx: float, tol: float) -> float:
    """R's ``optimize`` (Brent's ``fmin``, golden section + parabolic steps), minimising
    ``f`` on ``[ax, bx]`` with R's exact stopping rule and step sequence."""
    c = (3.0 - math.sqrt(5.0)) * 0.5
    eps = math.sqrt(np.finfo(float).eps)
    a, b = ax, bx
    v = a + c * (b - a)
    w = x = v
    d = e = 0.0
    fx = f(x)
    fv = fw = fx
    tol3 = tol / 3.0
    while True:
        xm = (a + b) * 0.5
        tol1 = eps * abs(x) + tol3
        t2 = tol1 * 2.0
        if abs(x - xm) <= t2 - (b - a) * 0.5:
            break
        p = q = r = 0.0
        if abs(e) > tol1:
            r = (x - w) * (fx - fv)
            q = (x - v) * (fx - fw)
            p = (x - v) * q - (x - w) * r
            q = (q - r) * 2.0
            if q > 0.0:
                p = -p
            else:
                q = -q
            r = e
            e = d
        if abs(p) >= abs(q * 0.5 * r) or p <= q * (a - x) or p >= q * (b - x):
            e = (b - x) if x < xm else (a - x)
            d = c * e
        else:
            d = p / q
            u = x + d
            if u - a < t2 or b - u < t2:
                d = tol1 if x < xm else -tol1
        if abs(d) >= tol1:
            u = x + d
        elif d > 0.0:
            u = x + tol1
        else:
            u = x - tol1
        fu = f(u)
        if fu <= fx:
            if u < x:
                b = x
            else:
                a = x
            v, w, x = w, x, u
            fv, fw, fx = fw, fx, fu
        else:
            if u < x:
                a = u
            else:
                b = u
            if fu <= fw or w == x:
                v, fv = w, fw
                w, fw = u, fu
            elif fu <= fv or v == x or v == w:
                v, fv = u, fu
    return x


def _moving_average_by_col(x: np.ndarray, width: int) -> np.ndarray:
    """edgeR ``movingAverageByCol`` (full length): centred running mean of each column over
    ``width`` rows, with shrinking windows at the ends."""
    width = int(width)
    if width <= 1:
        return x.copy()
    n, m = x.shape
    width = min(width, n)
    half1 = math.ceil(width / 2)
    half2 = width // 2
    padded = np.vstack([np.zeros((half1, m)), x, np.zeros((half2, m))])
    cs = np.cumsum(padded, axis=0)
    n2 = padded.shape[0]
    out = cs[width:n2] - cs[: n2 - width]
    n3 = out.shape[0]
    w = np.full(n3, float(width))
    if half1 > 1:
        w[: half1 - 1] = width - np.arange(half1 - 1, 0, -1)
    w[n3 - half2:] = width - np.arange(1, half2 + 1)
    return out / w[:, None]


def _split(z: np.ndarray, codes: np.ndarray) -> list[np.ndarray]:
    return [np.ascontiguousarray(z[:, codes == k], dtype=float) for k in np.unique(codes)]


def _common_disp_classic(y: np.ndarray, codes: np.ndarray, lib: np.ndarray,
                         tol: float = 1e-6, rowsum_filter: float = 5.0) -> float:
    """edgeR ``estimateCommonDisp.default`` (qCML on pseudo-counts, two iterations)."""
    sel = y.sum(axis=1) > rowsum_filter
    if not sel.any():
        raise ValueError(f"no gene has more than {rowsum_filter:g} reads in total")
    ys = y[sel]
    disp = 0.01
    for _ in range(2):
        groups = _split(_equalize_lib_sizes(ys, codes, disp, lib), codes)

        def negll(delta: float, groups: list[np.ndarray] = groups) -> float:
            return -float(np.sum(_cond_loglik(groups, 1.0 / delta - 1.0)))

        delta = _brent_fmin(negll, 1e-4, 100.0 / 101.0, tol)
        disp = delta / (1.0 - delta)
    return disp


def _tagwise_disp_classic(y: np.ndarray, codes: np.ndarray, lib: np.ndarray, common: float,
                          ave_log_cpm: np.ndarray, prior_df: float = 10.0, span: float = 0.3,
                          grid_length: int = 11, grid_range: tuple[float, float] = (-6.0, 6.0)
                          ) -> np.ndarray:
    """edgeR ``estimateTagwiseDisp.default`` (method "grid", trend "movingave")."""
    from ._edger.smooth import maximize_interpolant

    G, n = y.shape
    ngroups = len(np.unique(codes))
    prior_n = prior_df / (n - ngroups)
    groups = _split(_equalize_lib_sizes(y, codes, common, lib), codes)
    pts = np.linspace(grid_range[0], grid_range[1], grid_length)
    disp_grid = common * 2.0**pts
    delta_grid = disp_grid / (1.0 + disp_grid)
    l0 = _cond_loglik(groups, np.broadcast_to(1.0 / delta_grid - 1.0, (G, grid_length)))
    o = np.argsort(ave_log_cpm, kind="stable")
    m0 = np.empty_like(l0)
    m0[o] = _moving_average_by_col(l0[o], math.floor(span * G))
    d = maximize_interpolant(pts, l0 + prior_n * m0)
    return common * 2.0**d


# --------------------------------------------------------------------------------------
# Public API
# --------------------------------------------------------------------------------------
def _lib_sizes(counts: pd.DataFrame, normalization: str) -> np.ndarray:
    """edgeR's effective library sizes (:func:`radiogenomics.counts.library_sizes`)."""
    from .counts import library_sizes

    if normalization not in ("tmm", "none"):
        raise ValueError(f"normalization must be 'tmm' or 'none'; got {normalization!r}")
    return library_sizes(counts, "TMM" if normalization == "tmm" else "none")


def estimate_dispersion(
    counts: Any,
    groups: Any = None,
    design: Any = None,
    method: str = "classic",
    prior_df: float | None = None,
    normalization: str = "tmm",
) -> DispersionResult:
    r"""NB dispersions of every gene, as edgeR computes them.

    Parameters
    ----------
    counts : DataFrame or AnnData, samples x genes
        Raw integer counts.
    groups : Series or array, optional
        Group labels of the samples (aligned by sample id). ``"classic"`` uses them as
        edgeR's ``DGEList(group=)``; without groups all samples form one group. For
        ``"glm"`` the one-way design ``~group`` is built from them when ``design`` is None.
    design : ndarray (n_samples, p), optional
        Design matrix for ``"glm"`` (default: ``~group``, or intercept only).
    method : {"classic", "glm"}
        ``"classic"``: ``estimateCommonDisp`` + ``estimateTagwiseDisp`` (qCML,
        weighted-likelihood empirical Bayes with a moving-average trend, prior.df 10).
        ``"glm"``: ``estimateDisp`` (Cox-Reid APL, locfit trend).
    prior_df : float or None
        Prior degrees of freedom :math:`d_0`. ``None`` (default): edgeR's default for the
        method — 10 for ``"classic"`` (``estimateTagwiseDisp``), estimated from the data for
        ``"glm"`` (``estimateDisp``, ``prior.df = NULL``). A number fixes it for either.
    normalization : {"tmm", "none"}
        Library sizes :math:`N_i f_i` with TMM factors (edgeR's ``calcNormFactors``) or raw
        totals.

    Returns
    -------
    DispersionResult

    Notes
    -----
    See the module docstring for the formulas. Genes with zero counts everywhere are kept
    in the computation (as edgeR does: they enter the moving-average trend) and get finite
    tagwise values; their number is logged.

    Examples
    --------
    >>> from radiogenomics.datasets import load_cervical
    >>> counts, y = load_cervical()
    >>> res = estimate_dispersion(counts, groups=y)
    >>> round(res.common, 4)
    1.2489
    """
    df = as_count_frame(counts)
    if method not in ("classic", "glm"):
        raise ValueError(f"method must be 'classic' or 'glm'; got {method!r}")
    if groups is not None:
        g = as_labels(groups, name="groups", min_per_class=1)
        df, g, _ = align(df, g)
    else:
        g = pd.Series(np.zeros(df.shape[0], dtype=int), index=df.index)
    n_zero = int((df.to_numpy().sum(axis=0) == 0).sum())
    if n_zero:
        logger.info("estimate_dispersion: %d of %d genes have zero counts in every sample",
                    n_zero, df.shape[1])
    if df.shape[0] < 2:
        raise ValueError("need at least two samples to estimate a dispersion")
    totals = df.to_numpy().sum(axis=1)
    if np.any(totals <= 0):
        raise ValueError(f"samples with zero total count: {list(df.index[totals <= 0][:8])}")
    lib = _lib_sizes(df, normalization)
    assert g is not None

    if method == "glm":
        from ._dispersion_glm import estimate_disp_glm

        if design is None:
            from ._edger.design import group_design

            X = group_design(g)[0] if groups is not None else np.ones((df.shape[0], 1))
        else:
            X = np.asarray(design, dtype=float)
        est = estimate_disp_glm(df, X, lib, prior_df)  # common -> trend -> prior df -> tagwise
        return DispersionResult(
            common=float(est.common), trended=est.trended, tagwise=est.tagwise,
            prior_df=float(est.prior_df), method="glm", ave_log_cpm=est.ave_log_cpm,
            span=est.span, lib_size=pd.Series(lib, index=df.index, name="lib_size"),
        )

    if design is not None:
        raise ValueError("method='classic' takes groups, not a design matrix; use method='glm'")
    codes = pd.Categorical(g, categories=sorted(pd.unique(g))).codes.astype(int)
    if np.all(np.bincount(codes) <= 1):
        raise ValueError("no replication: every group has a single sample")
    pdf = 10.0 if prior_df is None else float(prior_df)
    Y = np.ascontiguousarray(df.to_numpy(dtype=float).T)
    common = _common_disp_classic(Y, codes, lib)
    alc = ave_log_cpm(Y, lib, dispersion=common)
    span = 0.3
    tagwise = _tagwise_disp_classic(Y, codes, lib, common, alc, prior_df=pdf, span=span)
    genes = df.columns
    return DispersionResult(
        common=float(common), trended=None,
        tagwise=pd.Series(tagwise, index=genes.copy(), name="tagwise"),
        prior_df=pdf, method="classic",
        ave_log_cpm=pd.Series(alc, index=genes.copy(), name="ave_log_cpm"), span=span,
        lib_size=pd.Series(lib, index=df.index.copy(), name="lib_size"),
    )
