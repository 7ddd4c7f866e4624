r"""The class-specific NB model of radiogenomics-NB: its design and its coefficients.

Shared by :class:`radiogenomics.classifiers.NBRadiogenomicsClassifier` and the joint
likelihood-ratio test (:func:`radiogenomics._de_joint.joint_lrt`), so it sits below both
(numpy, scipy and :mod:`radiogenomics.glm` only):

- :func:`model_design`, :func:`full_rank_design` -- the mean model's design matrix;
- :func:`class_coefficients` -- class-specific coefficients, optionally shrunk.

For gene ``g``, class ``c`` and standardised imaging features ``x_i`` the model has

.. math:: \log \mu_{igc} = \log s_i + b_{gc0} + x_i^\top b_{gc}.

``shrinkage=None`` is the paper's fit: one NB GLM per class on that class's samples, a
ridge ``alpha`` on the slopes only. With classes of ~10 samples and 8 imaging slopes the
class fit is (nearly) saturated, and a gene that reads zero in every training sample of a
class drives that class's intercept to the clip (:data:`radiogenomics.glm.ETA_MIN`): one
read of a test sample is then worth ~30 log-odds units.

``shrinkage="normal"`` (the default, an empirical-Bayes normal prior in the spirit of
DESeq2's log-fold-change prior, Love, Huber & Anders 2014, and of the shrunken class
centroids of Tibshirani et al. 2002) writes every class coefficient as the gene's pooled
(all-classes) coefficient plus a class deviation,

.. math::

    b_{gcj} = \bar b_{gj} + \delta_{gcj}, \qquad
    \delta_{gcj} \sim N(0, \sigma_j^2) \quad (j = 0 \text{ intercept}, 1..p \text{ slopes}),

fits :math:`\bar b_g` by one NB GLM over all training samples (ridge ``alpha`` on its
slopes), then maximises, per class and gene, the penalised likelihood of the deviations
with offset :math:`\log s_i + x_i^\top \bar b_g`:

.. math::

    \hat\delta_{gc} = \arg\max_\delta \sum_{i \in c} \log NB(y_{ig};
    s_i e^{x_i^\top(\bar b_g + \delta)}, \phi_g) - \sum_j \frac{\delta_j^2}{2\sigma_j^2}.

The prior variances are estimated across the selected genes and classes from the
(nearly) unpenalised deviations :math:`\tilde\delta_{gcj}` and their standard errors
:math:`\tilde s_{gcj}` by a robust method of moments,

.. math::

    \hat\sigma_j^2 = \max\Big(\frac{\operatorname{median}(\tilde\delta_{gcj}^2)}{0.4549}
    - \operatorname{median}(\tilde s_{gcj}^2),\ \sigma_{\min}^2\Big),

(0.4549 is the median of :math:`\chi^2_1`), over the deviations with
:math:`|\tilde\delta| < 10` (DESeq2 drops the same non-finite-looking estimates), with
:math:`\sigma_{\min} = 0.05`. A zero class now gets a finite, moderate intercept and the
slopes of a 9-sample class stay near the pooled slopes unless the data insist.

``shrinkage="prior-count"`` adds edgeR-style prior counts (``glmFit(prior.count=)`` /
``predFC``) ``c \cdot s_i / \bar s`` to every training count before the paper's class
fits; it keeps a zero class finite but leaves the saturated slopes alone.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

import numpy as np

from .glm import ETA_MAX, ETA_MIN, nb_glm_fit

logger = logging.getLogger(__name__)

__all__ = ["model_design", "full_rank_design", "class_coefficients", "prior_variance",
           "ClassFit", "SHRINKAGE_METHODS"]


def model_design(codes: np.ndarray, K: int, Z: np.ndarray, slopes: str = "class") -> np.ndarray:
    """Design of the radiogenomics-NB mean model: class intercepts, then imaging slopes.

    ``slopes="class"``: ``[1{c_i = k}]_k`` and ``[1{c_i = k} x_i]_k`` (class-specific
    slopes, the model the classifier fits); ``"shared"``: ``[1{c_i = k}]_k`` and ``x_i``.
    """
    onehot = np.eye(K)[codes]
    if slopes == "shared" or Z.shape[1] == 0:
        return np.column_stack([onehot, Z])
    return np.column_stack([onehot, *(onehot[:, [k]] * Z for k in range(K))])


def full_rank_design(design: np.ndarray, tol: float = 1e-7) -> np.ndarray:
    """``design`` without the columns that are linear combinations of earlier ones.

    Column selection by QR with column pivoting and R's ``qr()`` tolerance (a column is
    dependent when its pivot ``|R_jj| < tol * |R_11|``). The eight volume ratios need it:
    ET/WT + ED/WT + NCR/WT = 1 is the intercept.
    """
    from scipy.linalg import qr

    if design.shape[1] == 0:
        return design
    _, R, piv = qr(design, mode="economic", pivoting=True)
    d = np.abs(np.diag(R))
    rank = int((d > tol * d[0]).sum())
    return design[:, np.sort(piv[:rank])]

SHRINKAGE_METHODS = (None, "normal", "prior-count")
#: prior count of ``shrinkage="prior-count"`` (edgeR's ``predFC`` default is 0.125)
PRIOR_COUNT = 0.5
_SIGMA_MIN = 0.05
_CHI2_1_MEDIAN = 0.454936423119572
_NEAR_MLE_RIDGE = 1e-4
#: IRLS settings of the shrunken fits: Fisher scoring crawls on the nearly collinear volume
#: ratios (ET/WT + ED/WT + NCR/WT = 1) at large dispersions; a relative deviance change of
#: 1e-7 leaves the coefficients within ~1e-4 of their limit (the paper's fits keep the
#: nb_glm_fit defaults, so ``shrinkage=None`` is unchanged)
_FIT = {"tol": 1e-7, "max_iter": 200}


@dataclass
class ClassFit:
    """Class-specific coefficients ``(K, G, 1 + p)`` and how they were obtained."""

    coef: np.ndarray
    se: np.ndarray
    converged: bool
    clipped: np.ndarray  # (K, G) linear predictor at the clip in some training sample
    prior_sd: np.ndarray | None = None  # (1 + p,) sigma_j of the normal prior
    pooled: np.ndarray | None = None  # (G, 1 + p)
    notes: list[str] = field(default_factory=list)


def _at_clip(mu: np.ndarray) -> np.ndarray:
    """Per gene: does any fitted linear predictor sit at the clip?"""
    with np.errstate(divide="ignore"):
        eta = np.log(mu)
    return ((eta <= ETA_MIN + 1e-9) | (eta >= ETA_MAX - 1e-9)).any(axis=0)


def prior_variance(dev: np.ndarray, se: np.ndarray) -> np.ndarray:
    r"""Robust method-of-moments prior variances of class deviations, one per term.

    Parameters
    ----------
    dev, se : ndarray, shape (K, G, P)
        Near-MLE deviations from the pooled fit and their standard errors.

    Returns
    -------
    ndarray, shape (P,)
        :math:`\hat\sigma_j^2 = \max(\mathrm{median}(\delta^2)/0.4549 -
        \mathrm{median}(s^2), 0.05^2)` over the finite deviations with
        :math:`|\delta| < 10`; ``1`` for a term with no usable deviation.

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> d = rng.normal(0, np.sqrt(0.5 + 0.25), (2, 4000, 1))
    >>> bool(abs(prior_variance(d, np.full(d.shape, 0.5))[0] - 0.5) < 0.05)
    True
    """
    K, G, P = dev.shape
    out = np.ones(P)
    for j in range(P):  # loop over model terms (1 + p), not genes
        d = dev[:, :, j].ravel()
        s = se[:, :, j].ravel()
        ok = np.isfinite(d) & np.isfinite(s) & (np.abs(d) < 10.0)
        if ok.sum() < 2:
            continue
        v = np.median(d[ok] ** 2) / _CHI2_1_MEDIAN - np.median(s[ok] ** 2)
        out[j] = max(v, _SIGMA_MIN**2)
    return out


def class_coefficients(
    Y: np.ndarray,
    Z: np.ndarray,
    log_s: np.ndarray,
    phi: np.ndarray,
    codes: np.ndarray,
    K: int,
    *,
    slopes: str = "class",
    alpha: float = 1.0,
    shrinkage: str | None = "normal",
    prior_count: float = PRIOR_COUNT,
) -> ClassFit:
    """Fit the class-specific NB coefficients of every selected gene at once.

    Parameters
    ----------
    Y : ndarray (n, G)
        Training counts of the selected genes.
    Z : ndarray (n, p)
        Standardised (transformed) imaging features; ``p`` may be 0.
    log_s : ndarray (n,)
        Log size factors.
    phi : ndarray (G,)
        Dispersions.
    codes : ndarray of int (n,)
        Class index of every sample, ``0..K-1``.
    slopes : {"class", "shared"}
        Class-specific imaging slopes, or one set of slopes shared by the classes.
    alpha : float
        Ridge on the slopes of the paper's fits and of the pooled fit.
    shrinkage : {"normal", "prior-count", None}
        See the module docstring; ``None`` is the paper's model exactly.
    prior_count : float
        Average prior count of ``shrinkage="prior-count"``.

    Returns
    -------
    ClassFit
    """
    n, G = Y.shape
    p = Z.shape[1]
    Xd = np.column_stack([np.ones(n), Z])
    coef = np.empty((K, G, 1 + p))
    se = np.empty((K, G, 1 + p))
    clipped = np.zeros((K, G), dtype=bool)
    converged = True
    slope_ridge = np.full(p, float(alpha))

    if shrinkage in (None, "prior-count"):
        Yf = Y.astype(float)
        if shrinkage == "prior-count":
            s = np.exp(log_s)
            Yf = Yf + prior_count * (s / s.mean())[:, None]
        if slopes == "class":
            for k in range(K):  # loop over classes
                rows = codes == k
                fit = nb_glm_fit(Yf[rows], Xd[rows], log_s[rows], phi,
                                 ridge=np.r_[0.0, slope_ridge])
                coef[k], se[k] = fit.coef, fit.se
                converged &= bool(fit.converged.all())
                clipped[k] = _at_clip(fit.mu)
        else:
            X = np.column_stack([np.eye(K)[codes], Z])
            fit = nb_glm_fit(Yf, X, log_s, phi, ridge=np.r_[np.zeros(K), slope_ridge])
            converged = bool(fit.converged.all())
            at = _at_clip(fit.mu)
            for k in range(K):
                coef[k] = np.column_stack([fit.coef[:, k], fit.coef[:, K:]])
                se[k] = np.column_stack([fit.se[:, k], fit.se[:, K:]])
                clipped[k] = at
        return ClassFit(coef=coef, se=se, converged=converged, clipped=clipped)

    if shrinkage != "normal":
        raise ValueError(f"shrinkage must be one of {SHRINKAGE_METHODS}; got {shrinkage!r}")

    # 1. the pooled fit of every gene over all classes
    pooled = nb_glm_fit(Y, Xd, log_s, phi, ridge=np.r_[0.0, slope_ridge], **_FIT)
    converged = bool(pooled.converged.all())
    off = log_s[:, None] + Xd @ pooled.coef.T  # (n, G)
    # deviations: intercept and (class) slopes, or the intercept only (shared slopes)
    P = 1 + p if slopes == "class" else 1
    Xdev = Xd[:, :P]

    # 2. near-MLE deviations -> prior variances across genes and classes
    raw = np.empty((K, G, P))
    raw_se = np.empty((K, G, P))
    for k in range(K):  # loop over classes
        rows = codes == k
        fit = nb_glm_fit(Y[rows], Xdev[rows], off[rows], phi, ridge=np.full(P, _NEAR_MLE_RIDGE),
                         **_FIT)
        raw[k], raw_se[k] = fit.coef, fit.se
    var = prior_variance(raw, raw_se)

    # 3. MAP deviations under N(0, sigma_j^2)
    for k in range(K):  # loop over classes
        rows = codes == k
        fit = nb_glm_fit(Y[rows], Xdev[rows], off[rows], phi, ridge=1.0 / var, **_FIT)
        converged &= bool(fit.converged.all())
        clipped[k] = _at_clip(fit.mu)
        coef[k] = pooled.coef
        coef[k][:, :P] += fit.coef
        # SE of the class coefficient: the deviation's posterior SE (pooled part is shared)
        se[k] = pooled.se
        se[k][:, :P] = np.sqrt(pooled.se[:, :P] ** 2 + fit.se**2)
    prior_sd = np.full(1 + p, np.nan)
    prior_sd[:P] = np.sqrt(var)
    return ClassFit(coef=coef, se=se, converged=converged, clipped=clipped,
                    prior_sd=prior_sd, pooled=pooled.coef)
