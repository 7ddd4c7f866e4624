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
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from ._edger.fit import ave_log_cpm
from ._edger.qcml import _common_disp_classic, _tagwise_disp_classic
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
