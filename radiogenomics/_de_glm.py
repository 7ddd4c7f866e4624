"""edgeR's GLM likelihood-ratio test (``glmFit`` + ``glmLRT``).

The fit reproduces edgeR 3.40: genewise NB GLMs with log link and offsets
``log(lib.size * norm.factors)`` (oneway shortcut for group designs, Levenberg-damped
Fisher scoring otherwise), dispersions from :func:`estimate_disp_glm` (tagwise) unless given,
log-fold changes from the fit on counts augmented by a prior count of 0.125 (edgeR's
``predFC``), and the LR statistic from the unaugmented fits.
"""

from __future__ import annotations

import logging
import math
from typing import Any

import numpy as np
import pandas as pd
from scipy.stats import chi2

from ._dispersion_glm import estimate_disp_glm
from ._edger.design import group_design
from ._edger.fit import _glm_fit, ave_log_cpm
from ._edger.stats import bh_adjust
from ._validation import align, as_count_frame, as_labels
from .counts import library_sizes

logger = logging.getLogger(__name__)

__all__ = ["glm_lrt", "group_design", "bh_adjust"]


def _lib_size_array(lib_size: Any, samples: pd.Index) -> np.ndarray:
    """Library sizes as an array in the sample order of the counts (a Series is aligned
    by sample id; missing ids raise)."""
    if isinstance(lib_size, pd.Series) and not isinstance(lib_size.index, pd.RangeIndex):
        missing = samples.difference(lib_size.index)
        if len(missing):
            raise ValueError(f"lib_size has no value for samples: {list(missing[:8])}")
        lib_size = lib_size.loc[samples]
    return np.asarray(lib_size, dtype=float).ravel()


def glm_lrt(
    counts: Any,
    y: Any,
    dispersion: float | np.ndarray | pd.Series | None = None,
    *,
    lib_size: np.ndarray | pd.Series | None = None,
    prior_count: float = 0.125,
) -> pd.DataFrame:
    r"""Likelihood-ratio test of the group effect in an NB GLM (edgeR ``glmFit`` + ``glmLRT``).

    Parameters
    ----------
    counts : DataFrame or AnnData, samples x genes
        Raw integer counts.
    y : Series
        Group labels indexed by sample id. The design is ``~group`` with sorted levels (the
        first is the reference); with two groups the tested coefficient is the second level
        versus the first, with more groups all group coefficients are tested jointly.
    dispersion : float or array (genes), optional
        NB dispersions. Default: tagwise dispersions of :func:`estimate_disp_glm` (edgeR's
        ``estimateDisp(y, design)``).
    lib_size : array (samples), optional
        Effective library sizes ``lib.size * norm.factors``. Default: totals times TMM
        factors from ``radiogenomics.counts.calc_norm_factors`` when available.
    prior_count : float
        Prior count (scaled by library size) added before computing ``logFC`` only.

    Returns
    -------
    DataFrame indexed by gene, sorted by p-value
        ``logFC`` (log2, shrunk with ``prior_count``; one ``logFC.<coef>`` column per tested
        coefficient with more than two groups), ``logCPM`` (AveLogCPM), ``LR``, ``pvalue``,
        ``padj`` (Benjamini-Hochberg).

    Notes
    -----
    With :math:`D_1` and :math:`D_0` the residual deviances of the full and reduced
    (intercept-only) fits at fixed dispersions,

    .. math:: LR_g = D_{0g} - D_{1g} \sim \chi^2_{L-1},
              \qquad D = 2\sum_j \Bigl[y_j \log\frac{y_j}{\mu_j}
              + (y_j + \phi^{-1}) \log\frac{\mu_j + \phi^{-1}}{y_j + \phi^{-1}}\Bigr].
    """
    counts = as_count_frame(counts)
    y = as_labels(y, min_per_class=1)
    counts, y, _ = align(counts, y)
    assert y is not None
    X, names = group_design(y)
    Y = np.ascontiguousarray(counts.to_numpy(dtype=float).T)
    G, n = Y.shape
    if lib_size is None:
        lib = library_sizes(counts, "TMM")
    else:
        lib = _lib_size_array(lib_size, counts.index)
    if lib.size != n or not np.all(np.isfinite(lib)) or np.any(lib <= 0):
        raise ValueError(f"lib_size must hold {n} finite positive values (one per sample)")
    offset = np.log(lib)

    if dispersion is None:
        est = estimate_disp_glm(counts, X, lib)
        disp = est.tagwise.to_numpy()
        logcpm = est.ave_log_cpm.to_numpy()
    else:
        if isinstance(dispersion, pd.Series):
            missing = counts.columns.difference(dispersion.index)
            if len(missing):
                raise ValueError(f"dispersion is missing genes: {list(missing[:8])}")
            disp = dispersion.loc[counts.columns].to_numpy(dtype=float)
        else:
            disp = np.broadcast_to(np.asarray(dispersion, dtype=float), (G,)).copy()
        if not np.all(np.isfinite(disp)) or np.any(disp < 0):
            raise ValueError("dispersion must be finite and non-negative")
        logcpm = ave_log_cpm(Y, lib)  # edgeR default dispersion 0.05 when none is stored

    coef = list(range(1, X.shape[1]))
    fit1 = _glm_fit(Y, X, offset, disp, fitted=False)
    fit0 = _glm_fit(Y, np.delete(X, coef, axis=1), offset, disp, fitted=False)
    lr = fit0.deviance - fit1.deviance
    pval = chi2.sf(lr, df=len(coef))

    # predFC: counts + prior * L/mean(L), library sizes + 2 * that prior
    prior = prior_count * lib / lib.mean()
    fit_fc = _glm_fit(Y + prior, X, np.log(lib + 2.0 * prior), disp, fitted=False)
    lfc = fit_fc.coefficients[:, coef] / math.log(2.0)

    out = pd.DataFrame(index=counts.columns)
    if len(coef) == 1:
        out["logFC"] = lfc[:, 0]
    else:
        for j, c in enumerate(coef):
            out[f"logFC.{names[c]}"] = lfc[:, j]
    out["logCPM"] = logcpm
    out["LR"] = lr
    out["pvalue"] = pval
    out["padj"] = bh_adjust(pval, nan="propagate")
    out.index.name = counts.columns.name or "gene"
    return out.sort_values("pvalue", kind="mergesort")
