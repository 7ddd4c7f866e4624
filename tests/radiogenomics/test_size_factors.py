"""One SizeFactors, every convention: bit-for-bit the factors of the code paths it replaced
(frozen below as plain numpy reference formulas, written as the old code computed them) and
R's numbers (NBLDA/PoiClaClu test sizes, limma-voom's TMM library sizes, edgeR, DESeq2)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from baseline_helpers import split_data

from radiogenomics.counts import (
    METHOD_ALIASES,
    SizeFactors,
    _tmm_many,
    _tmm_reference_column,
    as_size_factors,
    calc_norm_factors,
    library_sizes,
    size_factors,
)

BASE = Path(__file__).resolve().parents[1] / "data" / "baselines"
EDGER = Path(__file__).resolve().parents[1] / "data" / "edger"


# ------------------------------------------------------------------ frozen old formulas
def _log_colmeans(x):
    with np.errstate(divide="ignore"):
        return np.log(x).mean(axis=0)


def old_poiclaclu(x, xte, method):
    """``_normalization.CountSizeModel`` before the merge: (train sizes, test sizes)."""
    if method == "mle":
        return x.sum(axis=1) / x.sum(), xte.sum(axis=1) / x.sum()
    if method == "deseq":
        gm = np.exp(_log_colmeans(x))
        ok = gm > 0
        raw = np.median(x[:, ok] / gm[ok], axis=1)
        return raw / raw.sum(), np.median(xte[:, ok] / gm[ok], axis=1) / raw.sum()
    if method == "quantile":
        q = np.quantile(x, 0.75, axis=1)
        qq = np.maximum(q, 1.0)
        return qq / qq.sum(), np.maximum(1.0, np.quantile(xte, 0.75, axis=1)) / q.sum()
    lib = x.sum(axis=1)
    keep = (x > 0).any(axis=0)
    ref = _tmm_reference_column(x[:, keep].T, lib)
    raw = _tmm_many(x[:, keep], x[ref, keep], lib, float(lib[ref]))
    scale = float(np.exp(np.mean(np.log(raw))))
    nf = raw / scale
    rte = _tmm_many(xte[:, keep], x[ref, keep], xte.sum(axis=1), float(lib[ref]))
    return nf / nf.sum(), rte / scale / nf.sum()


def old_mlseq(x, xte, norm):
    """``classifiers._voomnsc._VoomModel`` before the merge: effective library sizes."""
    lib, lte = x.sum(axis=1), xte.sum(axis=1)
    keep = (x > 0).any(axis=0)
    xk, tk = x[:, keep], xte[:, keep]
    if norm == "TMM":
        ref = _tmm_reference_column(xk.T, lib)
        raw = _tmm_many(xk, xk[ref], lib, float(lib[ref]))
        rte = _tmm_many(tk, xk[ref], lte, float(lib[ref]))
    elif norm == "deseq":
        gm = np.exp(_log_colmeans(xk))
        ok = gm > 0
        raw = np.median(xk[:, ok] / gm[ok], axis=1) / lib
        rte = np.median(tk[:, ok] / gm[ok], axis=1) / lte
    elif norm == "quantile":
        raw = np.quantile(xk / lib[:, None], 0.75, axis=1)
        rte = np.quantile(tk / lte[:, None], 0.75, axis=1)
    else:
        raw, rte = np.ones(len(x)), np.ones(len(xte))
    g = float(np.exp(np.mean(np.log(raw))))
    return lib * raw / g, lte * rte / g


def old_counts(x, xte, method):
    """``counts.SizeFactors`` before the merge (library / ratio / tmm)."""
    lib, lte = x.sum(axis=1), xte.sum(axis=1)
    if method == "library":
        return lib / lib.mean(), lte / lib.mean()
    if method == "ratio":
        ref = _log_colmeans(x)
        ok = np.isfinite(ref)

        def f(z):
            with np.errstate(divide="ignore"):
                lr = np.log(z[:, ok]) - ref[ok]
            lr[~np.isfinite(lr)] = np.nan
            return np.exp(np.nanmedian(lr, axis=1))

        return f(x), f(xte)
    keep = (x > 0).any(axis=0)
    ref = _tmm_reference_column(x[:, keep].T, lib)
    raw = _tmm_many(x, x[ref], lib, float(lib[ref]))
    scale = float(np.exp(np.mean(np.log(raw))))
    return lib * raw / scale, lte * _tmm_many(xte, x[ref], lte, float(lib[ref])) / scale


# ------------------------------------------------------------------ data
@pytest.fixture(scope="module")
def split(cervical):
    """A random 40/18 split of the cervical counts plus three all-zero genes (where edgeR
    and PoiClaClu differ), and its top-100 genes (upper quartiles > 0)."""
    counts = cervical[0]
    x = np.column_stack([counts.to_numpy(), np.zeros((len(counts), 3))])
    perm = np.random.default_rng(3).permutation(len(x))
    tr, te = perm[:40], perm[40:]
    top = np.argsort(-x[tr].sum(axis=0))[:100]
    return x[tr], x[te], x[tr][:, top], x[te][:, top], tr, te


@pytest.mark.parametrize("old,new", [("mle", "library"), ("deseq", "rle"), ("quantile", "quantile"),
                                     ("tmm", "tmm")])
def test_poiclaclu_convention_equals_old_code(split, old, new):
    x, xte = split[0], split[1]
    if old == "quantile":  # a training sample with upper quartile 0 (the max(1, .) quirk)
        x = x.copy()
        x[0] = 0
        x[0, :3] = 5
    ref_tr, ref_te = old_poiclaclu(x, xte, old)
    for spec in (new, old, old.upper()):
        sf = SizeFactors(spec, convention="poiclaclu").fit_array(x)
        np.testing.assert_array_equal(sf.sizes_, ref_tr)
        np.testing.assert_array_equal(sf.transform_array(xte), ref_te)
    assert SizeFactors(new, "nblda").fit_array(x).sizes_.sum() == pytest.approx(1.0, abs=1e-14)


@pytest.mark.parametrize("old,new", [("TMM", "tmm"), ("deseq", "rle"), ("quantile", "upperquartile"),
                                     ("none", "library")])
def test_edger_convention_equals_old_voomnsc_code(split, old, new):
    x, xte = (split[2], split[3]) if old == "quantile" else (split[0], split[1])
    ref_tr, ref_te = old_mlseq(x, xte, old)
    sf = SizeFactors(old, convention="mlseq").fit_array(x)
    assert (sf.method_, sf.convention_) == (new, "edger")
    np.testing.assert_array_equal(sf.sizes_, ref_tr)
    np.testing.assert_array_equal(sf.transform_array(xte), ref_te)


@pytest.mark.parametrize("method", ["library", "ratio", "tmm"])
def test_home_conventions_equal_old_counts_code(split, method):
    x, xte = split[0], split[1]
    ref_tr, ref_te = old_counts(x, xte, method)
    sf = SizeFactors(method).fit_array(x)
    np.testing.assert_array_equal(sf.sizes_, ref_tr)
    np.testing.assert_array_equal(sf.transform_array(xte), ref_te)


def test_old_attributes_kept(split):
    x = split[0]
    lib = x.sum(axis=1)
    assert SizeFactors("library").fit_array(x).reference_[0] == lib.mean()
    tmm = SizeFactors("tmm").fit_array(x)
    ref = _tmm_reference_column(x[:, (x > 0).any(axis=0)].T, lib)
    np.testing.assert_array_equal(tmm.reference_, x[ref])
    assert tmm.scale_ == tmm._c and SizeFactors("ratio").fit_array(x).scale_ == 1.0
    with pytest.raises(AttributeError, match="no reference"):
        SizeFactors("quantile").fit_array(x).reference_  # noqa: B018


def test_tmm_cache_gives_the_recomputed_factors(split):
    x, xte, tr, te = split[0], split[1], split[4], split[5]
    cache: dict = {}
    plain = SizeFactors("tmm").fit_array(x)
    cached = SizeFactors("tmm").fit_array(x, keys=tr, cache=cache)
    assert len(cache) == len(tr)
    np.testing.assert_array_equal(cached.sizes_, plain.sizes_)
    np.testing.assert_array_equal(cached.transform_array(xte, keys=te), plain.transform_array(xte))
    # a second fit on a fold sharing the reference sample reads the cache (poisoned here)
    key = next(iter(cache))
    cache[key] = 123.0
    again = SizeFactors("tmm").fit_array(x, keys=tr, cache=cache)
    assert again.sizes_[list(tr).index(key[0])] != plain.sizes_[list(tr).index(key[0])]


# ------------------------------------------------------------------ R references
@pytest.mark.parametrize("s", ["A", "B"])
@pytest.mark.parametrize("ty,method", [("mle", "library"), ("deseq", "rle")])
def test_poiclaclu_test_sizes_equal_nblda(cervical, s, ty, method):
    """NBLDA 1.0.1 ``rowSums(predict(trainNBLDA(type=ty))$nste)`` = s*_i * sum(x_train)."""
    Xtr, _, Xte, _ = split_data(*cervical, s, "all714")
    r = pd.read_csv(BASE / f"split_{s}" / "all714" / f"nblda_rho0_{ty}_test_sizes.csv.gz",
                    index_col=0).loc[Xte.index, "nste_rowsum"].to_numpy()
    sf = SizeFactors(method, convention="poiclaclu").fit(Xtr)
    ours = sf.transform(Xte).to_numpy() * Xtr.to_numpy().sum()
    np.testing.assert_allclose(ours, r, rtol=1e-10)


@pytest.mark.parametrize("s", ["A", "B"])
@pytest.mark.parametrize("features", ["all714", "top50"])
def test_edger_tmm_equals_limma_voom_library_sizes(cervical, s, features):
    """``calcNormFactors(DGEList(Xtr))``: ``lib.size * norm.factors`` (MLSeq, voom)."""
    Xtr = split_data(*cervical, s, features)[0]
    r = pd.read_csv(BASE / f"split_{s}" / features / "voom_TMM_libsizes.csv.gz", index_col=0)
    eff = (r["lib.size"] * r["norm.factors"]).loc[Xtr.index].to_numpy()
    np.testing.assert_allclose(SizeFactors("TMM", "mlseq").fit(Xtr).sizes_, eff, rtol=1e-10)
    np.testing.assert_allclose(library_sizes(Xtr), eff, rtol=1e-10)


def test_full_data_equals_edger_and_deseq2(cervical):
    counts = cervical[0]
    r = pd.read_csv(EDGER / "samples_normfactors.csv", index_col=0).loc[counts.index]
    np.testing.assert_allclose(size_factors(counts, "tmm", "edger"), r["eff_lib_size"], rtol=1e-10)
    np.testing.assert_allclose(size_factors(counts, "deseq2"), r["deseq2_size_factor"], rtol=1e-10)
    # library_sizes is edgeR's own product lib.size * norm.factors, bit for bit
    np.testing.assert_array_equal(
        library_sizes(counts), counts.to_numpy().sum(axis=1) * calc_norm_factors(counts).to_numpy())
    np.testing.assert_array_equal(library_sizes(counts, "none"), counts.to_numpy().sum(axis=1))


# ------------------------------------------------------------------ vocabulary
def test_vocabulary_and_errors(cervical):
    counts = cervical[0]
    top = counts.loc[:, counts.sum().nlargest(100).index]
    for alias, canon in METHOD_ALIASES.items():
        assert SizeFactors(alias).fit(top).method_ == canon
    assert SizeFactors("quantile", "edger").fit(top).method_ == "upperquartile"
    assert SizeFactors("quantile").fit(top).convention_ == "poiclaclu"
    with pytest.raises(ValueError, match="not defined in convention 'deseq2'"):
        SizeFactors("tmm", "deseq2").fit(counts)
    with pytest.raises(ValueError, match="convention must be one of"):
        SizeFactors("tmm", "limmma").fit(counts)
    with pytest.raises(ValueError, match="normalization: size-factor method"):
        as_size_factors("upper", "poiclaclu", name="normalization")
    given = SizeFactors("rle", "poiclaclu")
    made = as_size_factors(given, "edger")
    assert made is not given and (made.method, made.convention) == ("rle", "poiclaclu")
    assert repr(made) == "SizeFactors('rle', convention='poiclaclu')"
    with pytest.raises(ValueError, match="samples with no positive count.*'N1'"):
        z = counts.iloc[:3].copy()
        z.iloc[0] = 0
        z.iloc[0, int(np.argmax((counts.iloc[3:] == 0).any().to_numpy()))] = 1
        SizeFactors("ratio").fit(counts.iloc[3:]).transform(z)
