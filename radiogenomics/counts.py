r"""Library sizes, normalisation factors and gene filters for RNA-seq counts.

Counts are samples x genes (DataFrame or AnnData), non-negative integers; every public
function validates them with :mod:`radiogenomics._validation`.

- :func:`calc_norm_factors` — edgeR 3.40 ``calcNormFactors(method="TMM")`` (also
  ``"upperquartile"``, ``"RLE"`` and ``"none"``), equal to R to ~1e-15.
- :class:`SizeFactors` — THE size-factor model of the package, fitted on training samples
  (a new sample gets its factor against the *training* constants only). Every convention
  the package uses is an option: edgeR/limma/MLSeq effective library sizes (library, TMM,
  upper quartile, RLE), DESeq2 median of ratios, PoiClaClu/NBLDA/PLDA fractions (mle,
  deseq, quantile, tmm) and the radiogenomics-NB paper's total / mean total. One
  vocabulary (:data:`METHODS`, :data:`CONVENTIONS`; old spellings in
  :data:`METHOD_ALIASES`); every estimator takes it as ``size_factors=`` (a name or a
  :class:`SizeFactors`, see :func:`as_size_factors`).
- :func:`size_factors` — ``SizeFactors(method, convention).fit(counts).factors_``.
- :func:`library_sizes` — edgeR's ``lib.size * norm.factors`` (the DE/dispersion engine).
- :func:`quantile_filter` — keep genes whose mean count exceeds a quantile of gene means.
"""

from __future__ import annotations

import logging
import math
import warnings
from typing import Any

import numpy as np
import pandas as pd

from ._validation import as_count_frame

logger = logging.getLogger(__name__)

__all__ = ["calc_norm_factors", "size_factors", "SizeFactors", "as_size_factors",
           "library_sizes", "quantile_filter", "METHODS", "CONVENTIONS", "METHOD_ALIASES"]


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


def _tmm_many(x: np.ndarray, ref: np.ndarray, lib: np.ndarray, n_ref: float,
              logratio_trim: float = 0.3, sum_trim: float = 0.05, weighting: bool = True,
              a_cutoff: float = -1e10) -> np.ndarray:
    r"""Unscaled TMM factor of every row (library) of samples x genes ``x`` (sizes ``lib``)
    against the reference library ``ref`` (size ``n_ref``); compiled, parallel over samples.

    With :math:`M_g = \log_2\frac{y_{og}/N_o}{y_{rg}/N_r}`,
    :math:`A_g = \tfrac12\log_2\frac{y_{og}}{N_o}\frac{y_{rg}}{N_r}` and
    :math:`v_g = \frac{N_o - y_{og}}{N_o y_{og}} + \frac{N_r - y_{rg}}{N_r y_{rg}}`, genes with
    finite M and A are kept when the (average-tie) rank of M lies in
    :math:`[\lfloor n\,t_M\rfloor + 1, n - \lfloor n\,t_M\rfloor]` and that of A in the same
    range with :math:`t_A`; the factor is :math:`2^{\sum M_g/v_g / \sum 1/v_g}`.
    """
    from ._edger.tmm import tmm_factors

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
# Size factors: one model, every convention of the package
# --------------------------------------------------------------------------------------
METHODS = ("library", "tmm", "upperquartile", "rle", "ratio", "quantile")
CONVENTIONS = ("mean", "edger", "deseq2", "poiclaclu")
#: Old spellings (case-insensitive) -> canonical method. ``"quantile"`` means edgeR's upper
#: quartile under ``convention="edger"`` (MLSeq's word) and PoiClaClu's quantile otherwise.
METHOD_ALIASES = {"mle": "library", "none": "library", "deseq": "rle", "uq": "upperquartile",
                  "deseq2": "ratio", "median_of_ratios": "ratio"}
CONVENTION_ALIASES = {"nblda": "poiclaclu", "plda": "poiclaclu", "mlseq": "edger",
                      "limma": "edger", "voom": "edger"}
_HOME = {"library": "mean", "tmm": "edger", "upperquartile": "edger", "rle": "edger",
         "ratio": "deseq2", "quantile": "poiclaclu"}
_SUPPORTED = {"mean": ("library",), "edger": ("library", "tmm", "upperquartile", "rle"),
              "deseq2": ("ratio",), "poiclaclu": ("library", "rle", "quantile", "tmm")}


def canonical_convention(convention: str | None) -> str | None:
    """``convention`` in :data:`CONVENTIONS` (aliases resolved, case-insensitive) or None."""
    if convention is None:
        return None
    key = str(convention).lower()
    key = CONVENTION_ALIASES.get(key, key)
    if key not in CONVENTIONS:
        raise ValueError(f"size-factor convention must be one of {CONVENTIONS} (or an alias "
                         f"{sorted(CONVENTION_ALIASES)}); got {convention!r}")
    return key


def canonical_method(method: str, convention: str | None = None) -> tuple[str, str]:
    """``(method, convention)`` in canonical names: aliases resolved, the convention
    defaulting to the method's home convention, the pair checked."""
    conv = canonical_convention(convention)
    key = str(method).lower()
    if key == "quantile" and conv == "edger":
        key = "upperquartile"
    key = METHOD_ALIASES.get(key, key)
    if key not in METHODS:
        raise ValueError(f"size-factor method must be one of {METHODS} (or an alias "
                         f"{sorted(METHOD_ALIASES)}); got {method!r}")
    conv = conv or _HOME[key]
    if key not in _SUPPORTED[conv]:
        raise ValueError(f"size-factor method {key!r} is not defined in convention {conv!r} "
                         f"(its methods: {_SUPPORTED[conv]})")
    return key, conv


class _RatioError(ValueError):
    """New samples whose size factor is undefined (rows named by position)."""

    def __init__(self, rows: np.ndarray) -> None:
        self.rows = rows
        super().__init__("size factors: samples with no positive count among the genes with a "
                         f"positive training geometric mean: rows {list(rows[:8])}")


def _plain(keys: Any) -> list:
    """Row keys as plain Python values (numpy integers become ``int``)."""
    return [k.item() if isinstance(k, np.generic) else k for k in keys]


class SizeFactors:
    r"""Per-sample size factors fitted on training samples, in every convention the package uses.

    A new sample gets its factor from its own counts and constants of the *training*
    samples only (reference sample, geometric means, scaling constant), never from the other
    samples passed with it.

    Parameters
    ----------
    method : str
        What measures sequencing depth (canonical names; aliases in
        :data:`METHOD_ALIASES`, case-insensitive). With :math:`N_i = \sum_g y_{gi}`:

        - ``"library"``: :math:`N_i` (aliases ``"mle"``, ``"none"``).
        - ``"tmm"``: edgeR TMM factor :math:`\tilde f_i` against the training reference sample
          (edgeR's default choice, see :func:`calc_norm_factors`).
        - ``"upperquartile"``: edgeR :math:`\tilde f_i = Q_{0.75}(y_{\cdot i}/N_i)` over the
          genes non-zero in some training sample (alias ``"uq"``; MLSeq's ``"quantile"``).
        - ``"rle"``: edgeR RLE, :math:`r_i = \mathrm{median}_{g: m_g>0}(y_{gi}/m_g)` with the
          training geometric means :math:`m_g` (aliases ``"deseq"``, PoiClaClu's and MLSeq's
          name); edgeR's factor is :math:`\tilde f_i = r_i/N_i`.
        - ``"ratio"``: DESeq2 median of ratios,
          :math:`\exp\mathrm{median}_{g: \bar\ell_g>-\infty,\,y_{gi}>0}(\log y_{gi}-\bar\ell_g)`,
          :math:`\bar\ell_g` the mean training log count (aliases ``"deseq2"``,
          ``"median_of_ratios"``). Differs from ``"rle"``: a log-scale median (the two middle
          ratios enter by their geometric mean) and zeros of new samples left out.
        - ``"quantile"``: PoiClaClu, :math:`q_i = \max(1, Q_{0.75}(y_{i\cdot}))` over all genes.
    convention : str or None
        How the depth becomes :math:`s_i` (training constants only; aliases in
        :data:`CONVENTION_ALIASES`):

        - ``"mean"`` (``"library"``): :math:`s_i = N_i/\bar N_{train}` (the radiogenomics-NB paper).
        - ``"edger"``: the effective library size ``lib.size * norm.factors``,
          :math:`s_i = N_i \tilde f_i / C`, :math:`C` the geometric mean of the training
          :math:`\tilde f` (``"library"``: :math:`s_i = N_i`). edgeR, limma-voom, MLSeq.
        - ``"deseq2"`` (``"ratio"``): the median of ratios itself.
        - ``"poiclaclu"``: fractions of the training sum, :math:`s_i = d_i/\sum_{train} d`
          (PoiClaClu ``NullModel``/``NullModelTest``, NBLDA, PLDA, NSC) with depth
          :math:`d_i = N_i` (``"library"``), :math:`r_i` (``"rle"``), :math:`q_i`
          (``"quantile"``; a new sample is divided by :math:`\sum_{train} Q_{0.75}` without
          the ``max``, as ``NullModelTest``) or the TMM factor alone,
          :math:`d_i = \tilde f_i/C` (``"tmm"``, as NBLDA 1.0.1 — not times :math:`N_i`).

        ``None``: the method's home convention (library: ``"mean"``; tmm, upperquartile,
        rle: ``"edger"``; ratio: ``"deseq2"``; quantile: ``"poiclaclu"``).

    Attributes
    ----------
    method_, convention_ : str
        The canonical method and convention.
    sizes_ : ndarray
        Size factors of the training samples.
    factors_ : Series
        The same, indexed by sample (after :meth:`fit`; equal to :func:`size_factors`).
    genes_ : Index
        Genes of the training counts (after :meth:`fit`; new counts must contain them).

    Examples
    --------
    >>> from radiogenomics.datasets import load_cervical
    >>> counts, _ = load_cervical()
    >>> sf = SizeFactors("ratio").fit(counts.iloc[:40])
    >>> sf.transform(counts.iloc[40:]).shape
    (18,)
    >>> round(float(SizeFactors("deseq", convention="nblda").fit(counts).sizes_.sum()), 12)
    1.0
    """

    def __init__(self, method: str = "library", convention: str | None = None) -> None:
        self.method = method
        self.convention = convention

    # ---- array path (callers that validated the counts already) ----------------------
    def fit_array(self, x: np.ndarray, *, keys: Any = None, cache: dict | None = None
                  ) -> SizeFactors:
        """Fit on training counts ``x`` (samples x genes ndarray, validated by the caller).

        ``keys`` (one hashable id per row) and ``cache`` (a dict shared between fits) memoise
        the raw TMM factors per (row, reference row), e.g. over cross-validation folds that
        share their reference sample; cached values are exactly the recomputed ones.
        """
        self.method_, self.convention_ = canonical_method(self.method, self.convention)
        m, conv = self.method_, self.convention_
        x = np.asarray(x)
        lib = x.sum(axis=1)
        self._cache = cache
        if m == "library":
            self._c = lib.mean() if conv == "mean" else x.sum() if conv == "poiclaclu" else 1.0
        elif m == "ratio":
            with np.errstate(divide="ignore"):
                self._logmean = np.log(x).mean(axis=0)
            if not np.isfinite(self._logmean).any():
                raise ValueError("size factors 'ratio': every gene has a zero in some sample, so "
                                 "no geometric mean is positive; use method='tmm' or 'library'")
        elif m == "rle":
            # edgeR drops all-zero genes first, PoiClaClu does not: the same genes enter the
            # median, but numpy's column means differ in the last bit, so each keeps its own
            self._keep = (x > 0).any(axis=0) if conv == "edger" else slice(None)
            with np.errstate(divide="ignore"):
                self._gm = np.exp(np.log(x[:, self._keep]).mean(axis=0))
            self._ok = self._gm > 0
            if not self._ok.any():
                raise ValueError("size factors 'rle' ('deseq'): no gene is positive in every "
                                 "training sample; use 'tmm' or 'library'")
        elif m in ("tmm", "upperquartile"):
            self._keep = (x > 0).any(axis=0)
            if m == "tmm":
                xk = x[:, self._keep]
                ref = _tmm_reference_column(xk.T, lib)
                self._ref_x, self._ref_lib = xk[ref].copy(), float(lib[ref])
                self._ref_row = x[ref].copy()
                self._ref_key = ref if keys is None else _plain(keys)[ref]
        raw = self._raw(x, lib, None if keys is None else _plain(keys), training=True)
        sizes = None
        if conv == "edger" and m != "library":
            self._c = float(np.exp(np.mean(np.log(raw))))
        elif m == "tmm":  # poiclaclu: NBLDA's TMM factors alone
            self._scale = float(np.exp(np.mean(np.log(raw))))
            self._c = (raw / self._scale).sum()
        elif m in ("rle", "quantile"):  # poiclaclu
            self._c = raw.sum()  # quantile: NullModelTest's denominator (q75 without max)
            if m == "quantile":
                qq = np.maximum(raw, 1.0)
                sizes = qq / qq.sum()
        self.sizes_ = self._finish(raw, lib) if sizes is None else sizes
        self.n_features_in_ = x.shape[1]
        return self

    def _raw(self, x: np.ndarray, lib: np.ndarray, keys: Any, training: bool = False
             ) -> np.ndarray:
        """The method's raw depth (before the convention's scaling)."""
        m = self.method_
        if m == "library":
            return lib
        if m == "ratio":
            ok = np.isfinite(self._logmean)
            with np.errstate(divide="ignore"):
                lr = np.log(x[:, ok]) - self._logmean[ok]
            lr[~np.isfinite(lr)] = np.nan
            with np.errstate(all="ignore"), warnings.catch_warnings():
                warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN rows: raised below
                return np.nanmedian(lr, axis=1) if lr.size else np.full(len(x), np.nan)
        if m == "rle":
            r = np.median(x[:, self._keep][:, self._ok] / self._gm[self._ok], axis=1)
            return r / lib if self.convention_ == "edger" else r
        if m == "quantile":
            return np.quantile(x, 0.75, axis=1)
        if m == "upperquartile":
            raw = np.quantile(x[:, self._keep] / lib[:, None], 0.75, axis=1)
            if training and np.any(raw <= 0):
                raise ValueError("size factors 'upperquartile': a training sample has upper "
                                 "quartile 0; use 'tmm'")
            return raw
        xk = x[:, self._keep]
        if keys is None or self._cache is None:
            return _tmm_many(xk, self._ref_x, lib, self._ref_lib)
        pairs = [(k, self._ref_key) for k in keys]
        todo = [i for i, p in enumerate(pairs) if p not in self._cache]
        if todo:
            f = _tmm_many(xk[todo], self._ref_x, lib[todo], self._ref_lib)
            for i, v in zip(todo, f, strict=True):
                self._cache[pairs[i]] = float(v)
        return np.array([self._cache[p] for p in pairs])

    def _finish(self, raw: np.ndarray, lib: np.ndarray) -> np.ndarray:
        """Apply the convention's scaling to the raw depths."""
        m, conv = self.method_, self.convention_
        if conv == "deseq2":
            return np.exp(raw)
        if m == "library":
            return lib / self._c if conv != "edger" else lib
        if conv == "edger":
            return lib * raw / self._c
        if m == "tmm":
            return raw / self._scale / self._c
        if m == "quantile":
            return np.maximum(1.0, raw) / self._c
        return raw / self._c

    def transform_array(self, x: np.ndarray, *, keys: Any = None) -> np.ndarray:
        """Size factors of (new) samples ``x`` (ndarray on the training genes, in order)."""
        self._check_fitted()
        x = np.asarray(x)
        lib = x.sum(axis=1)
        s = self._finish(self._raw(x, lib, None if keys is None else _plain(keys)), lib)
        bad = ~np.isfinite(s)
        if bad.any():
            raise _RatioError(np.flatnonzero(bad))
        return s

    @property
    def reference_(self) -> np.ndarray:
        """The training reference: ``"library"``, the training constant (mean total for
        ``"mean"``); ``"ratio"``, the training mean log counts; ``"rle"``, the geometric
        means; ``"tmm"``, the reference sample's counts."""
        self._check_fitted()
        if self.method_ == "library":
            return np.array([self._c])
        attr = {"ratio": "_logmean", "tmm": "_ref_row", "rle": "_gm"}.get(self.method_)
        if attr is None:
            raise AttributeError(f"SizeFactors({self.method_!r}) keeps no reference sample")
        return getattr(self, attr)

    @property
    def scale_(self) -> float:
        """``convention="edger"``: the geometric mean *C* of the raw training factors; else 1."""
        self._check_fitted()
        return float(self._c) if self.convention_ == "edger" and self.method_ != "library" else 1.0

    def _check_fitted(self) -> None:
        if not hasattr(self, "sizes_"):
            from sklearn.exceptions import NotFittedError

            raise NotFittedError("SizeFactors is not fitted yet; call fit(train_counts)")

    # ---- validated DataFrame / AnnData path -------------------------------------------
    def fit(self, counts: Any, y: Any = None) -> SizeFactors:
        """Learn the training constants from ``counts`` (samples x genes); returns self."""
        canonical_method(self.method, self.convention)
        df = as_count_frame(counts)
        x = df.to_numpy()
        bad = df.index[x.sum(axis=1) <= 0]
        if len(bad):
            raise ValueError(f"samples with zero total count: {list(bad[:8])}")
        self.genes_ = df.columns.copy()
        self.fit_array(x)
        self.factors_ = pd.Series(self.sizes_, index=df.index.copy(), name="size_factor")
        return self

    def transform(self, counts: Any) -> pd.Series:
        """Size factors of (new) samples against the training constants only."""
        self._check_fitted()
        if not hasattr(self, "genes_"):
            raise ValueError("SizeFactors was fitted with fit_array; use transform_array")
        df = as_count_frame(counts)
        missing = self.genes_.difference(df.columns)
        if len(missing):
            raise ValueError(f"counts lack {len(missing)} training genes: {list(missing[:8])}")
        x = df.loc[:, self.genes_].to_numpy()
        bad = df.index[x.sum(axis=1) <= 0]
        if len(bad):
            raise ValueError(f"samples with zero total count: {list(bad[:8])}")
        try:
            s = self.transform_array(x)
        except _RatioError as err:
            raise ValueError(
                f"size factors {self.method_!r}: samples with no positive count among the "
                f"genes with a positive training geometric mean: {list(df.index[err.rows][:8])}"
            ) from None
        return pd.Series(s, index=df.index.copy(), name="size_factor")

    def fit_transform(self, counts: Any, y: Any = None) -> pd.Series:
        """``fit(counts).factors_``."""
        return self.fit(counts).factors_

    def __repr__(self) -> str:
        conv = "" if self.convention is None else f", convention={self.convention!r}"
        return f"SizeFactors({self.method!r}{conv})"


def as_size_factors(spec: Any, convention: str | None = None, *,
                    name: str = "size_factors") -> SizeFactors:
    """A fresh (unfitted) :class:`SizeFactors` from a caller's parameter.

    ``spec`` is a method name (canonical or alias, resolved in the caller's ``convention``)
    or a :class:`SizeFactors` (its method and convention are copied). Errors name the
    caller's parameter ``name``.
    """
    if isinstance(spec, SizeFactors):
        out = SizeFactors(spec.method, spec.convention)
    else:
        out = SizeFactors(spec, convention)
    try:
        canonical_method(out.method, out.convention)
    except ValueError as err:
        raise ValueError(f"{name}: {err}") from None
    return out


def size_factors(counts: Any, method: str = "library", convention: str | None = None
                 ) -> pd.Series:
    r"""Size factors of the samples of ``counts`` (samples x genes).

    ``SizeFactors(method, convention).fit(counts).factors_``; see :class:`SizeFactors` for
    the methods (``"library"``: :math:`N_i/\bar N`; ``"ratio"``: DESeq2 median of ratios;
    ``"tmm"``: edgeR's effective library size :math:`N_i f_i`; ...) and conventions.

    Returns
    -------
    Series indexed by sample.
    """
    return SizeFactors(method, convention).fit(counts).factors_


def library_sizes(counts: Any, norm: str = "TMM") -> np.ndarray:
    r"""edgeR's effective library sizes ``lib.size * norm.factors``, :math:`N_i f_i`, with
    :math:`f` from :func:`calc_norm_factors` (``norm``: its ``method``; ``"none"``: :math:`N_i`).

    ``counts``: a validated samples x genes DataFrame (the engine's callers validated it).
    The product is taken after the factors are scaled to geometric mean one, as edgeR does
    (this differs in the last bit from ``SizeFactors("tmm")``, which divides the product).
    """
    totals = counts.to_numpy().sum(axis=1)
    if norm == "none":
        return totals
    return totals * calc_norm_factors(counts, norm).to_numpy()


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
