r"""Joint gene selection with imaging: a likelihood-ratio test of the radiogenomics-NB model.

A marginal DE test (edgeR's exact test) compares class means, so it cannot see genes whose
class dependence acts through class-specific imaging slopes: their class means are equal.
:func:`joint_lrt` tests, per gene, the class-specific model of the classifier

.. math:: H_1:\ \log\mu_{ig} = \log s_i + b_{gc_i0} + x_i^\top b_{gc_i}

against the imaging-only model

.. math:: H_0:\ \log\mu_{ig} = \log s_i + \bar b_{g0} + x_i^\top \bar b_g ,

with :math:`\mathrm{LR}_g = D_g(H_0) - D_g(H_1)` (NB deviances at dispersion
:math:`\phi_g`) referred to :math:`\chi^2` with :math:`(C-1)(1+p)` degrees of freedom
(the difference of the two designs' ranks when features are linearly dependent, as the
eight volume ratios are).
The dispersions are edgeR's Cox–Reid tagwise dispersions (``estimateDisp``) on the full
class x imaging design. With classes of ~10 samples and 8 slopes the unpenalised
:math:`H_1` saturates the small class (and a class of zeros sends its intercept to the
clip), so :math:`H_1` is fitted with the same shrinkage as the classifier
(:func:`radiogenomics._class_model.class_coefficients`, ``shrinkage="normal"``):
class deviations from the pooled (:math:`H_0`) fit under an empirical-Bayes normal prior
whose variances are estimated across all tested genes. The statistic is then a penalised
likelihood ratio; the :math:`\chi^2` p-value is used for ranking (it is exact only
asymptotically and without the penalty).
"""

from __future__ import annotations

import logging

import numpy as np
import pandas as pd
from scipy import stats

logger = logging.getLogger(__name__)

__all__ = ["joint_lrt"]


def joint_lrt(
    counts: pd.DataFrame,
    y: pd.Series,
    features: np.ndarray,
    *,
    dispersion: np.ndarray | None = None,
    alpha: float = 1.0,
    shrinkage: str | None = "normal",
) -> pd.DataFrame:
    """Per-gene LRT of class intercepts and class x imaging slopes against imaging only.

    Parameters
    ----------
    counts : DataFrame, samples x genes
        Validated, aligned training counts.
    y : Series
        Class labels aligned with ``counts``.
    features : ndarray (n, p)
        Imaging features as the model sees them (transformed, standardised), rows in the
        order of ``counts``; ``p = 0`` reduces the test to class intercepts only.
    dispersion : ndarray (genes,), optional
        Dispersions; default edgeR ``estimateDisp`` on the full design.
    alpha : float
        Ridge on the imaging slopes of the pooled fit (as in the classifier).
    shrinkage : {"normal", None}
        How :math:`H_1` is fitted (see the module docstring).

    Returns
    -------
    DataFrame indexed by gene, sorted by p-value
        ``LR``, ``df``, ``pvalue``, ``padj`` (BH), ``dispersion``. All-zero genes are left
        out.
    """
    from ._class_model import class_coefficients, full_rank_design, model_design
    from ._edger.stats import bh_adjust
    from .counts import SizeFactors
    from .dispersion import estimate_dispersion
    from .glm import nb_deviance

    levels = np.array(sorted(pd.unique(y)), dtype=object)
    codes = np.searchsorted(levels, y.to_numpy())
    K = len(levels)
    Z = np.asarray(features, dtype=float).reshape(len(counts), -1)
    p = Z.shape[1]
    Y = counts.to_numpy()
    keep = Y.sum(axis=0) > 0
    genes = counts.columns[keep]
    Y = Y[:, keep]
    # dependent columns (a small class, ratios summing to one) are dropped
    design = full_rank_design(model_design(codes, K, Z, "class"))
    if dispersion is None:
        res = estimate_dispersion(counts.loc[:, genes], design=design, method="glm")
        phi = res.tagwise.to_numpy(dtype=float)
    else:
        phi = np.asarray(dispersion, dtype=float)[keep]
    log_s = np.log(SizeFactors("library").fit(counts).factors_.to_numpy())
    cf = class_coefficients(Y, Z, log_s, phi, codes, K, slopes="class", alpha=alpha,
                            shrinkage=shrinkage)
    Xd = np.column_stack([np.ones(len(Y)), Z])
    if cf.pooled is not None:
        pooled = cf.pooled
    else:
        from .glm import nb_glm_fit

        pooled = nb_glm_fit(Y, Xd, log_s, phi, ridge=np.r_[0.0, np.full(p, alpha)]).coef
    mu0 = np.exp(np.clip(log_s[:, None] + Xd @ pooled.T, -30, 40))
    mu1 = np.empty_like(mu0)
    for k in range(K):  # loop over classes
        rows = codes == k
        mu1[rows] = np.exp(np.clip(log_s[rows, None] + Xd[rows] @ cf.coef[k].T, -30, 40))
    lr = np.maximum(nb_deviance(Y, mu0, phi) - nb_deviance(Y, mu1, phi), 0.0)
    # degrees of freedom: the ranks of the two designs (dependent features count once)
    df = design.shape[1] - full_rank_design(Xd).shape[1]
    pval = stats.chi2.sf(lr, df)
    tab = pd.DataFrame({"LR": lr, "df": df, "pvalue": pval, "padj": bh_adjust(pval),
                        "dispersion": phi}, index=genes)
    order = np.lexsort((-lr, pval))  # p ties (underflow): larger LR first
    tab = tab.iloc[order]
    tab.index.name = counts.columns.name or "gene"
    return tab
