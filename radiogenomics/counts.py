r"""Library sizes, normalisation factors and gene filters for RNA-seq counts.

Counts are samples x genes (DataFrame or AnnData), non-negative integers; every public
function validates them with :mod:`radiogenomics._validation`.

- :func:`calc_norm_factors` — edgeR 3.40 ``calcNormFactors(method="TMM")`` (also
  ``"upperquartile"``, ``"RLE"`` and ``"none"``), equal to R to ~1e-15.
- :func:`size_factors` — per-sample size factors ``s_i``: ``"library"`` (total / mean total,
  the radiogenomics-NB paper), ``"ratio"`` (DESeq2 median of ratios), ``"tmm"`` (edgeR's
  effective library size ``N_i f_i``).
- :class:`SizeFactors` — the same, fitted on training samples: a new sample gets its
  factor against the *training* reference only (never against other test samples).
- :func:`quantile_filter` — keep genes whose mean count exceeds a quantile of gene means.
"""

from __future__ import annotations

import logging
import math
from typing import Any

import numpy as np
import pandas as pd

from ._validation import as_count_frame

logger = logging.getLogger(__name__)

__all__ = ["calc_norm_factors", "size_factors", "SizeFactors", "quantile_filter"]

_METHODS = ("library", "ratio", "tmm")


# --------------------------------------------------------------------------------------
# TMM (edgeR calcNormFactors)
# --------------------------------------------------------------------------------------
def _upper_quartile(x: np.ndarray, lib: np.ndarray, p: float = 0.75) -> np.ndarray:
    """Column ``p``-quantiles (R type 7) of ``x / lib``; ``x`` is genes x samples.

    The same numbers as ``np.quantile(x / lib, p, axis=0)`` (its linear interpolation,
    bit for bit), by one partition per sample on contiguous rows."""
    rows = np.ascontiguousarray(x.T, dtype=float) / np.asarray(lib, dtype=float)[:, None]
    G = rows.shape[1]
    if G == 0:
        return np.full(rows.shape[0], np.nan)
    h = (G - 1) * p
    lo = int(math.floor(h))
    hi = min(lo + 1, G - 1)
    part = np.partition(rows, [lo, hi] if hi != lo else [lo], axis=1)
    a, b = part[:, lo], part[:, hi]
    t = h - lo
    diff = b - a
    return b - diff * (1.0 - t) if t >= 0.5 else a + diff * t


def _tmm_pair(
    obs: np.ndarray,
    ref: np.ndarray,
    n_obs: float,
    n_ref: float,
    logratio_trim: float = 0.3,
    sum_trim: float = 0.05,
    weighting: bool = True,
    a_cutoff: float = -1e10,
) -> float:
    r"""Unscaled TMM factor of one library against the reference library.

    With :math:`M_g = \log_2\frac{y_{og}/N_o}{y_{rg}/N_r}`,
    :math:`A_g = \tfrac12\log_2\frac{y_{og}}{N_o}\frac{y_{rg}}{N_r}` and
    :math:`v_g = \frac{N_o - y_{og}}{N_o y_{og}} + \frac{N_r - y_{rg}}{N_r y_{rg}}`, genes with
    finite M and A are kept when the (average-tie) rank of M lies in
    :math:`[\lfloor n\,t_M\rfloor + 1, n - \lfloor n\,t_M\rfloor]` and that of A in the same
    range with :math:`t_A`; the factor is :math:`2^{\sum M_g/v_g / \sum 1/v_g}`.
    Vectorised over genes.
    """
    return float(_tmm_many(np.asarray(obs, dtype=float)[None, :], ref, np.array([n_obs]), n_ref,
                           logratio_trim, sum_trim, weighting, a_cutoff)[0])


def _tmm_many(x: np.ndarray, ref: np.ndarray, lib: np.ndarray, n_ref: float,
              logratio_trim: float = 0.3, sum_trim: float = 0.05, weighting: bool = True,
              a_cutoff: float = -1e10) -> np.ndarray:
    """:func:`_tmm_pair` of every row of samples x genes ``x`` (sizes ``lib``) against
    ``ref``; compiled, parallel over samples."""
    from ._kernels import tmm_factors

    return tmm_factors(np.ascontiguousarray(x, dtype=float), np.ascontiguousarray(ref, dtype=float),
                       np.ascontiguousarray(lib, dtype=float), float(n_ref), float(logratio_trim),
                       float(sum_trim), bool(weighting), float(a_cutoff))


def _tmm_reference_column(x: np.ndarray, lib: np.ndarray) -> int:
    """edgeR's default TMM reference: the library whose upper-quartile factor is closest to
    the mean upper-quartile factor (or, if the median upper quartile is ~0, the library with
    the largest ``sum sqrt(y)``)."""
    f75 = _upper_quartile(x, lib)
    if np.median(f75) < 1e-20:
        return int(np.argmax(np.sqrt(x).sum(axis=0)))
    return int(np.argmin(np.abs(f75 - f75.mean())))


def _raw_norm_factors(
    x: np.ndarray, lib: np.ndarray, method: str, ref_column: int | None, **kw: Any
) -> tuple[np.ndarray, int | None]:
    """Unscaled factors for genes x samples ``x`` (all-zero genes already removed)."""
    n = x.shape[1]
    if x.shape[0] == 0 or n == 1:
        method = "none"
    if method == "TMM":
        if ref_column is None:
            ref_column = _tmm_reference_column(x, lib)
        f = _tmm_many(x.T, x[:, ref_column], lib, lib[ref_column], **kw)
        return f, ref_column
    if method == "upperquartile":
        return _upper_quartile(x, lib), None
    if method == "RLE":
        with np.errstate(divide="ignore"):
            lg = np.log(x)
        gm = np.exp(lg.mean(axis=1))
        ok = gm > 0
        f = np.median(x[ok] / gm[ok, None], axis=0) / lib
        return f, None
    return np.ones(n), None


def calc_norm_factors(
    counts: Any,
    method: str = "TMM",
    *,
    ref_column: int | None = None,
    logratio_trim: float = 0.3,
    sum_trim: float = 0.05,
    weighting: bool = True,
    a_cutoff: float = -1e10,
) -> pd.Series:
    r"""Normalisation factors, exactly as edgeR 3.40 ``calcNormFactors``.

    Parameters
    ----------
    counts : DataFrame or AnnData, samples x genes
        Raw integer counts.
    method : {"TMM", "upperquartile", "RLE", "none"}
        ``"TMM"``: trimmed mean of M-values (Robinson & Oshlack 2010).
    ref_column : int, optional
        Position of the reference sample. Default (edgeR): the sample whose upper-quartile
        factor :math:`q_{0.75}(y_{\cdot i}/N_i)` is closest to the mean of those factors.
    logratio_trim, sum_trim, weighting, a_cutoff
        edgeR's ``logratioTrim=0.3``, ``sumTrim=0.05``, ``doWeighting=TRUE``,
        ``Acutoff=-1e10``.

    Returns
    -------
    Series indexed by sample
        Factors :math:`f_i` scaled to geometric mean 1. The effective library size is
        :math:`N_i f_i` with :math:`N_i = \sum_g y_{gi}`.

    Notes
    -----
    Genes with zero count in every sample are removed first. For TMM, the raw factor of
    sample *i* is

    .. math:: \tilde f_i = 2^{\sum_{g \in K} w_g M_g / \sum_{g\in K} w_g},\quad
              M_g = \log_2\frac{y_{gi}/N_i}{y_{gr}/N_r},\quad
              w_g = \Bigl(\frac{N_i - y_{gi}}{N_i y_{gi}} + \frac{N_r - y_{gr}}{N_r y_{gr}}
              \Bigr)^{-1},

    where *K* excludes the 30% most extreme M values on each side and the 5% most extreme
    average log-expressions; finally :math:`f_i = \tilde f_i / (\prod_j \tilde f_j)^{1/n}`.

    Examples
    --------
    >>> from radiogenomics.datasets import load_cervical
    >>> counts, _ = load_cervical()
    >>> round(float(calc_norm_factors(counts)["N1"]), 6)
    1.349223
    """
    df = as_count_frame(counts)
    methods = ("TMM", "upperquartile", "RLE", "none")
    if method not in methods:
        raise ValueError(f"method must be one of {methods}; got {method!r}")
    x = df.to_numpy().T
    lib = x.sum(axis=0)
    zero_lib = df.index[lib <= 0]
    if len(zero_lib):
        raise ValueError(f"samples with zero total count: {list(zero_lib[:8])}")
    x = x[(x > 0).any(axis=1)]
    f, _ = _raw_norm_factors(
        x, lib, method, ref_column, logratio_trim=logratio_trim, sum_trim=sum_trim,
        weighting=weighting, a_cutoff=a_cutoff,
    )
    f = f / np.exp(np.mean(np.log(f)))
    return pd.Series(f, index=df.index.copy(), name="norm_factor")


# --------------------------------------------------------------------------------------
# Size factors
# --------------------------------------------------------------------------------------
class SizeFactors:
    r"""Per-sample size factors fitted on training samples.

    Parameters
    ----------
    method : {"library", "ratio", "tmm"}
        - ``"library"``: :math:`s_i = N_i / \bar N_{train}` (total count over the mean
          training total; the radiogenomics-NB paper).
        - ``"ratio"``: DESeq2 median of ratios,
          :math:`s_i = \exp\,\mathrm{median}_{g: \bar\ell_g > -\infty,\ y_{gi} > 0}
          (\log y_{gi} - \bar\ell_g)` with :math:`\bar\ell_g` the mean log count of gene *g*
          over the training samples.
        - ``"tmm"``: edgeR's effective library size :math:`s_i = N_i \tilde f_i / C` with
          :math:`\tilde f_i` the raw TMM factor against the training reference sample and
          *C* the geometric mean of the raw training factors.

    Attributes
    ----------
    genes_ : Index
        Genes of the training counts (new counts must contain them).
    reference_ : ndarray
        ``"library"``: the mean training total; ``"ratio"``: the training log geometric
        means; ``"tmm"``: the reference sample's counts.
    scale_ : float
        ``"tmm"`` only: the training scaling constant *C* (otherwise 1).
    factors_ : Series
        Size factors of the training samples (equal to :func:`size_factors` on them).

    Examples
    --------
    >>> from radiogenomics.datasets import load_cervical
    >>> counts, _ = load_cervical()
    >>> sf = SizeFactors("ratio").fit(counts.iloc[:40])
    >>> sf.transform(counts.iloc[40:]).shape
    (18,)
    """

    def __init__(self, method: str = "library") -> None:
        self.method = method

    def _check_method(self) -> str:
        if self.method not in _METHODS:
            raise ValueError(f"method must be one of {_METHODS}; got {self.method!r}")
        return self.method

    def fit(self, counts: Any, y: Any = None) -> SizeFactors:
        """Learn the training reference from ``counts`` (samples x genes); returns self."""
        method = self._check_method()
        df = as_count_frame(counts)
        x = df.to_numpy()
        lib = x.sum(axis=1)
        bad = df.index[lib <= 0]
        if len(bad):
            raise ValueError(f"samples with zero total count: {list(bad[:8])}")
        self.genes_ = df.columns.copy()
        self.scale_ = 1.0
        if method == "library":
            self.reference_ = np.array([lib.mean()])
        elif method == "ratio":
            with np.errstate(divide="ignore"):
                self.reference_ = np.log(x).mean(axis=0)
            if not np.isfinite(self.reference_).any():
                raise ValueError(
                    "size factors 'ratio': every gene has a zero in some sample, so no "
                    "geometric mean is positive; use method='tmm' or 'library'"
                )
        else:
            keep = (x > 0).any(axis=0)
            xt = x[:, keep].T
            ref = _tmm_reference_column(xt, lib)
            self.reference_ = x[ref].copy()
            self._ref_lib = float(lib[ref])
            raw = _tmm_many(x, self.reference_, lib, self._ref_lib)
            self.scale_ = float(np.exp(np.mean(np.log(raw))))
        self.n_features_in_ = df.shape[1]
        self.factors_ = self._apply(x, df.index)
        return self

    def _apply(self, x: np.ndarray, index: pd.Index) -> pd.Series:
        lib = x.sum(axis=1)
        if self.method == "library":
            s = lib / self.reference_[0]
        elif self.method == "ratio":
            ok = np.isfinite(self.reference_)
            with np.errstate(divide="ignore"):
                lr = np.log(x[:, ok]) - self.reference_[ok]
            lr[~np.isfinite(lr)] = np.nan
            with np.errstate(all="ignore"):
                med = np.nanmedian(lr, axis=1) if lr.size else np.full(len(x), np.nan)
            bad = index[~np.isfinite(med)]
            if len(bad):
                raise ValueError(
                    f"size factors 'ratio': samples with no positive count among the genes "
                    f"with a positive training geometric mean: {list(bad[:8])}"
                )
            s = np.exp(med)
        else:
            raw = _tmm_many(x, self.reference_, lib, self._ref_lib)
            s = lib * raw / self.scale_
        return pd.Series(s, index=index.copy(), name="size_factor")

    def transform(self, counts: Any) -> pd.Series:
        """Size factors of (new) samples against the training reference only.

        Each sample's factor depends on its own counts and the fitted reference, never on
        the other samples passed together with it.
        """
        if not hasattr(self, "reference_"):
            from sklearn.exceptions import NotFittedError

            raise NotFittedError("SizeFactors is not fitted yet; call fit(train_counts)")
        df = as_count_frame(counts)
        missing = self.genes_.difference(df.columns)
        if len(missing):
            raise ValueError(
                f"counts lack {len(missing)} training genes: {list(missing[:8])}"
            )
        x = df.loc[:, self.genes_].to_numpy()
        bad = df.index[x.sum(axis=1) <= 0]
        if len(bad):
            raise ValueError(f"samples with zero total count: {list(bad[:8])}")
        return self._apply(x, df.index)

    def fit_transform(self, counts: Any, y: Any = None) -> pd.Series:
        """``fit(counts).factors_``."""
        return self.fit(counts).factors_


def size_factors(counts: Any, method: str = "library") -> pd.Series:
    r"""Size factors of the samples of ``counts`` (samples x genes).

    Parameters
    ----------
    counts : DataFrame or AnnData
        Raw integer counts.
    method : {"library", "ratio", "tmm"}
        ``"library"``: :math:`s_i = N_i / \bar N`; ``"ratio"``: DESeq2 median of ratios
        :math:`s_i = \exp\,\mathrm{median}_g(\log y_{gi} - \overline{\log y_g})` over genes
        with all counts positive (and :math:`y_{gi}>0`); ``"tmm"``: edgeR's effective
        library size :math:`N_i f_i` (TMM factors :math:`f_i` of :func:`calc_norm_factors`).

    Returns
    -------
    Series indexed by sample.

    See Also
    --------
    SizeFactors : the same factors fitted on training data and applied to new samples.
    """
    return SizeFactors(method).fit(counts).factors_


# --------------------------------------------------------------------------------------
# Filters
# --------------------------------------------------------------------------------------
def quantile_filter(counts: Any, q: float = 0.25) -> pd.DataFrame:
    r"""Keep the genes whose mean count exceeds the ``q``-quantile of the gene means.

    Gene *g* is kept when :math:`\bar y_g > Q_q(\bar y_1, \dots, \bar y_G)` (R type-7
    quantile of all gene means); all-zero genes are therefore always dropped (their number is
    logged).

    Parameters
    ----------
    counts : DataFrame or AnnData, samples x genes
    q : float in [0, 1)

    Returns
    -------
    DataFrame
        The kept columns of ``counts`` (original values and dtype).
    """
    if not 0.0 <= float(q) < 1.0:
        raise ValueError(f"q must lie in [0, 1); got {q!r}")
    df = as_count_frame(counts)
    orig = counts if isinstance(counts, pd.DataFrame) else df
    means = df.to_numpy().mean(axis=0)
    nonzero = means > 0
    n_zero = int((~nonzero).sum())
    if n_zero:
        logger.info("quantile_filter: dropped %d all-zero genes of %d", n_zero, len(means))
    thr = np.quantile(means, q)
    keep = nonzero & (means > thr)
    logger.info("quantile_filter: kept %d of %d genes (q=%g)", int(keep.sum()), len(means), q)
    return orig.loc[:, keep]
