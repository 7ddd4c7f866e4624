"""Plasmodes: known signal added to real RNA-seq counts by binomial thinning.

- :func:`thin_counts` — the binomial-thinning kernel (Gerard 2020, the method of the R package
  seqgendiff, written here from the paper): give gene ``g`` the log-effect ``eta_ig`` in
  sample ``i`` by ``Y'_ig ~ Binomial(Y_ig, exp(eta_ig - max_i eta_ig))``.
- :func:`load_humangender` — the real GEUVADIS lymphoblastoid counts of ``data/humangender``.
- :func:`make_lgg_plasmode` — the default cohort of
  :func:`radiogenomics.datasets.load_lgg_radiogenomics`: the 64 real TCGA-LGG patients
  (labels, sex, age, survival, BraTS volume ratios), each paired with a GEUVADIS sample of
  the same sex whose counts are thinned to carry IDH / 1p19q / ATRX effects.

Why thinning: if ``Y ~ Poisson(lambda)`` (or any mixture of Poissons, e.g. NB with real,
unknown gene-gene correlation) then ``Binomial(Y, q) ~`` the same family with mean
``q lambda``; so the thinned counts keep the real library sizes, mean-dispersion relation,
correlation and sex-linked genes of the base data, and their means carry exactly the
multiplicative signal ``exp(eta_ig - max_i eta_ig)``.

References
----------
Gerard D (2020). Data-based RNA-seq simulations by binomial thinning. BMC Bioinformatics
21:206. doi:10.1186/s12859-020-3450-9.
"""

from __future__ import annotations

import functools
import logging
from typing import Any

import numpy as np
import pandas as pd
from scipy.special import ndtri
from scipy.stats import rankdata

from ._real import data_dir
from ._simulate import _rng

logger = logging.getLogger(__name__)

__all__ = ["thin_counts", "load_humangender", "make_lgg_plasmode", "PLASMODE_EFFECT_SCALE"]

# ----------------------------------------------------------------------------------------
# The plasmode's constants. PLASMODE_EFFECT_SCALE holds the calibration knobs (one per
# target: the mean absolute natural-log effect of its status genes); see
# data/lgg_radiogenomics/PROVENANCE.md and benchmarks/calibrate_plasmode.py for how they
# were chosen. Everything else is fixed design.
# ----------------------------------------------------------------------------------------
#: mean |log effect| (natural log) of the status genes, per target — the difficulty knob
PLASMODE_EFFECT_SCALE: dict[str, float] = {"IDH": 0.11, "codel_1p19q": 0.12, "ATRX": 0.10}
#: fraction of all genes that are status genes of each target (disjoint sets)
PLASMODE_DE_FRACTION: dict[str, float] = {"IDH": 0.02, "codel_1p19q": 0.015, "ATRX": 0.01}
#: gamma shape of the effect magnitudes: |d_g| ~ scale * Gamma(shape, 1/shape) (CV 1/sqrt(shape))
PLASMODE_GAMMA_SHAPE = 4.0
#: share of each target's status genes with class-specific imaging slopes (mean shift kept)
PLASMODE_SLOPE_SHARE = 0.25
#: share of each target's status genes that are slope-only (equal class means on the log scale)
PLASMODE_SLOPE_ONLY_SHARE = 0.10
#: SD of the class-specific slopes, relative to the target's effect scale
PLASMODE_SLOPE_RATIO = 1.5
#: ratios per slope gene
PLASMODE_RATIOS_PER_GENE = 2
#: seeds: patient <-> GEUVADIS pairing, and the effects + thinning draws
PLASMODE_PAIRING_SEED = 14
PLASMODE_SEED = 20200519

#: status indicator z_ik = 1 for these label values
POSITIVE_STATUS = {"IDH": "Mutant", "codel_1p19q": "codel", "ATRX": "Mutant"}


def thin_counts(
    counts: Any,
    log_effects: Any = None,
    *,
    library_log_effects: Any = None,
    relative: bool = True,
    random_state: Any = None,
) -> Any:
    """Add known multiplicative signal to real counts by binomial thinning.

    For counts ``Y`` (samples x genes) and natural-log effects ``eta`` (samples x genes),

    .. math::

        Y'_{ig} \\sim \\mathrm{Binomial}\\big(Y_{ig},\\; q_{ig}\\big), \\quad
        q_{ig} = \\exp\\big(\\eta_{ig} + \\ell_i - \\max_{i'} (\\eta_{i'g} + \\ell_{i'})\\big),

    so that ``E[Y'_ig | Y] = q_ig Y_ig`` and, whatever the distribution of ``Y`` within a
    gene (Poisson, NB, any Poisson mixture), ``log E[Y'_ig] = log E[Y_ig] + eta_ig + l_i +
    const_g``: gene ``g`` gets the log fold change ``eta_ig - eta_jg`` between samples
    ``i`` and ``j`` on top of the real data (Gerard 2020, the ``thin_diff`` / ``thin_base``
    method of the R package seqgendiff, which uses log2 effects; here natural log).
    ``l_i`` (``library_log_effects``) thins whole samples (seqgendiff's ``thin_lib``),
    changing library sizes. For a design matrix ``X`` (samples x p) and coefficients ``B``
    (genes x p) pass ``log_effects = X @ B.T``.

    Parameters
    ----------
    counts : array-like or DataFrame, shape (n_samples, n_genes)
        Non-negative integer counts, samples as rows.
    log_effects : array-like or DataFrame, shape (n_samples, n_genes), optional
        Natural-log effects ``eta``; also broadcastable shapes ``(n_samples, 1)`` or
        ``(1, n_genes)`` / ``(n_genes,)``. A DataFrame is aligned to ``counts`` by index and
        columns when ``counts`` is a DataFrame. Only differences between samples matter when
        ``relative=True``: a gene with the same effect in every sample is left unchanged.
    library_log_effects : array-like, shape (n_samples,), optional
        Per-sample natural-log library-size effects ``l_i`` (added to every gene).
    relative : bool, default True
        ``True``: thin relative to the per-gene maximum (``q <= 1`` always; the sample with
        the largest effect keeps its counts). ``False``: ``q = exp(eta + l)``, which requires
        ``eta + l <= 0`` (absolute thinning, e.g. ``l_i = log 0.5`` halves sample ``i``).
    random_state : int, Generator, RandomState or None
        Seed of the binomial draws.

    Returns
    -------
    ndarray or DataFrame of int64, shape (n_samples, n_genes)
        The thinned counts (a DataFrame with the labels of ``counts`` if it was one).

    Examples
    --------
    >>> import numpy as np
    >>> Y = np.full((4, 3), 1000)
    >>> eta = np.array([[0.0], [0.0], [np.log(0.5)], [np.log(0.5)]]) * np.array([0, 1, 2])
    >>> Yt = thin_counts(Y, eta, random_state=0)
    >>> Yt[:, 0].tolist()           # zero effect: unchanged
    [1000, 1000, 1000, 1000]
    >>> bool(abs(Yt[2:, 1].mean() / Yt[:2, 1].mean() - 0.5) < 0.1)
    True
    """
    is_df = isinstance(counts, pd.DataFrame)
    if is_df:
        index, columns = counts.index, counts.columns
        Y = counts.to_numpy()
    else:
        Y = np.asarray(counts)
    if Y.ndim != 2:
        raise ValueError(f"counts must be 2-D (samples x genes); got shape {Y.shape}")
    if Y.dtype == object or not np.issubdtype(Y.dtype, np.number):
        raise ValueError(f"counts must be numeric; got dtype {Y.dtype}")
    Yf = Y.astype(float, copy=False)
    if not np.isfinite(Yf).all():
        raise ValueError("counts contain NaN or infinite values")
    if (Yf < 0).any():
        raise ValueError("counts must be non-negative")
    if (Yf != np.round(Yf)).any():
        raise ValueError("counts must be integers (binomial thinning needs whole reads)")
    n, G = Y.shape

    if log_effects is None:
        eta = np.zeros((1, 1))
    elif isinstance(log_effects, pd.DataFrame) and is_df:
        missing_rows = log_effects.index.difference(index)
        missing_cols = log_effects.columns.difference(columns)
        if len(missing_rows) or len(missing_cols):
            what = (f"samples {list(missing_rows[:5])}" if len(missing_rows)
                    else f"genes {list(missing_cols[:5])}")
            raise ValueError(f"log_effects has {what} that are not in counts")
        eta = log_effects.reindex(index=index, columns=columns, fill_value=0.0).to_numpy(float)
    else:
        eta = np.asarray(log_effects, dtype=float)
        if eta.ndim == 1:
            eta = eta[None, :]
        if eta.ndim != 2 or eta.shape[0] not in (1, n) or eta.shape[1] not in (1, G):
            raise ValueError(f"log_effects has shape {np.shape(log_effects)}; expected "
                             f"({n}, {G}) or a shape broadcastable to it")
    if not np.isfinite(eta).all():
        raise ValueError("log_effects contain NaN or infinite values")

    if library_log_effects is not None:
        lib = np.asarray(library_log_effects, dtype=float).ravel()
        if lib.shape != (n,):
            raise ValueError(f"library_log_effects must have one value per sample ({n}); "
                             f"got shape {np.shape(library_log_effects)}")
        if not np.isfinite(lib).all():
            raise ValueError("library_log_effects contain NaN or infinite values")
        eta = eta + lib[:, None]
    eta = np.broadcast_to(eta, (n, G))
    if relative:
        logq = eta - eta.max(axis=0, keepdims=True)
    else:
        if (eta > 1e-12).any():
            raise ValueError("relative=False needs log_effects + library_log_effects <= 0 "
                             "(a thinning probability cannot exceed 1); use relative=True")
        logq = np.minimum(eta, 0.0)
    q = np.exp(logq)
    rng = _rng(random_state)
    out = rng.binomial(Yf.astype(np.int64), q).astype(np.int64)
    if is_df:
        return pd.DataFrame(out, index=index, columns=columns)
    return out


@functools.lru_cache(maxsize=1)
def _humangender_cached() -> tuple[pd.DataFrame, pd.DataFrame]:
    d = data_dir() / "humangender"
    counts = pd.read_csv(d / "counts.csv.gz", index_col=0).T.astype(np.int64)
    counts.index.name = "sample"
    counts.columns.name = "gene"
    samples = pd.read_csv(d / "samples.csv", index_col="sample_id")
    samples.index.name = "sample"
    if not counts.index.equals(samples.index):
        raise ValueError("data/humangender: counts.csv.gz columns and samples.csv ids differ")
    return counts, samples


def load_humangender() -> tuple[pd.DataFrame, pd.Series]:
    """Real GEUVADIS lymphoblastoid RNA-seq counts, female vs male (DEGreport ``humanGender``).

    85 lymphoblastoid cell lines of the 1000 Genomes / GEUVADIS project (Lappalainen et al.
    2013), 10,101 Ensembl genes pre-filtered by the DEGreport author (smallest gene mean 60
    reads); see ``data/humangender/PROVENANCE.md``. The base counts of the plasmode cohort.

    Returns
    -------
    counts : DataFrame, shape (85, 10101)
        Integer read counts, samples (Coriell ids) as rows, Ensembl gene ids as columns.
    sex : Series, shape (85,)
        ``"female"`` (41) or ``"male"`` (44), indexed by sample.

    Examples
    --------
    >>> counts, sex = load_humangender()
    >>> counts.shape, sex.value_counts().to_dict()
    ((85, 10101), {'male': 44, 'female': 41})
    """
    counts, samples = _humangender_cached()
    return counts.copy(), samples["sex"].rename("sex").copy()


def pair_by_sex(patient_sex: pd.Series, base_sex: pd.Series,
                random_state: Any = PLASMODE_PAIRING_SEED) -> pd.Series:
    """Pair each patient with a distinct base sample of the same sex, deterministically.

    Within each sex, patients in sorted order get the base samples (sorted ids) in the order
    of a seeded permutation. Raises if a sex has more patients than base samples.
    """
    rng = _rng(random_state)
    out = {}
    for sex in sorted(patient_sex.dropna().unique()):
        pats = sorted(patient_sex.index[patient_sex == sex])
        pool = np.array(sorted(base_sex.index[base_sex == sex]))
        if len(pats) > len(pool):
            raise ValueError(f"{len(pats)} {sex} patients but only {len(pool)} {sex} base samples")
        chosen = pool[rng.permutation(len(pool))[: len(pats)]]
        out.update(dict(zip(pats, chosen, strict=True)))
    if patient_sex.isna().any():
        raise ValueError(f"patients without sex: {list(patient_sex.index[patient_sex.isna()][:5])}")
    return pd.Series(out, name="base_sample").reindex(patient_sex.index)


def normal_scores(features: pd.DataFrame) -> pd.DataFrame:
    """Rank-based normal scores ``Phi^-1((rank - 1/2) / n)`` per column; NaN -> 0.

    The volume ratios are heavy-tailed (ED/NCR up to 285); normal scores keep the imaging
    effects bounded (|score| <= 2.4 for 64 patients) whatever the outliers.
    """
    X = features.to_numpy(dtype=float)
    out = np.zeros_like(X)
    for j in range(X.shape[1]):  # loop over the 8 ratios
        ok = np.isfinite(X[:, j])
        r = rankdata(X[ok, j])
        out[ok, j] = ndtri((r - 0.5) / ok.sum())
    return pd.DataFrame(out, index=features.index, columns=features.columns)


def make_lgg_plasmode(
    features: pd.DataFrame,
    labels: pd.DataFrame,
    sex: pd.Series,
    effect_scale: dict[str, float] | None = None,
    de_fraction: dict[str, float] | None = None,
    random_state: Any = PLASMODE_SEED,
) -> tuple[pd.DataFrame, dict[str, Any]]:
    """Plasmode counts for the LGG patients: paired GEUVADIS counts thinned by the labels.

    For patient ``i`` with real statuses ``z_ik`` (IDH Mutant, 1p/19q codel, ATRX Mutant: 1,
    else 0) and real volume ratios (normal scores ``u_ij``), gene ``g`` of target ``k``'s
    status set gets the natural-log effect

    .. math::

        \\eta_{ig} = d_{g} z_{ik} + \\sum_{j \\in J_g} s_{g, z_{ik}, j}
        \\big(u_{ij} - \\bar u_{z_{ik}, j}\\big)

    with ``\\bar u_{c,j}`` the mean score of class ``c``; all other genes have
    ``eta_ig = 0``. The status sets of the three targets are disjoint random gene sets
    (``de_fraction`` of the genes each). Within a set:

    - ``|d_g| ~ scale_k Gamma(shape, 1/shape)`` (mean ``scale_k``) with a random sign;
    - a share ``PLASMODE_SLOPE_SHARE`` also has class-specific slopes on
      ``PLASMODE_RATIOS_PER_GENE`` random ratios, ``s_{gcj} ~ N(0, (ratio scale_k)^2)``
      drawn independently for the two classes;
    - a share ``PLASMODE_SLOPE_ONLY_SHARE`` has slopes only (``d_g = 0``): equal class means
      on the log scale, the class shows only in how expression follows imaging.

    The counts are ``thin_counts(base, eta)`` with ``base`` the GEUVADIS sample paired to
    each patient (same sex, :func:`pair_by_sex`).

    Returns
    -------
    counts : DataFrame (patients x 10,101 genes)
    truth : dict
        ``pairing``, ``status_genes``, ``slope_genes``, ``slope_only_genes`` (per target),
        ``status_effect`` (genes x targets, ``d_g``), ``status_slopes`` (target -> class
        label -> genes x ratios), ``log_effects`` (patients x affected genes, ``eta``),
        ``imaging_scores`` (``u``), ``effect_scale``, ``de_fraction`` and the constants.
    """
    scale = dict(PLASMODE_EFFECT_SCALE if effect_scale is None else effect_scale)
    frac = dict(PLASMODE_DE_FRACTION if de_fraction is None else de_fraction)
    targets = list(POSITIVE_STATUS)
    for name, dct in (("effect_scale", scale), ("de_fraction", frac)):
        if set(dct) != set(targets):
            raise ValueError(f"{name} needs exactly the keys {targets}; got {sorted(dct)}")
        if any(not np.isfinite(v) or v < 0 for v in dct.values()):
            raise ValueError(f"{name} values must be finite and non-negative; got {dct}")
    if sum(frac.values()) > 1:
        raise ValueError(f"de_fraction sums to more than 1: {frac}")

    base, base_sex = load_humangender()
    pairing = pair_by_sex(sex, base_sex)
    Y = base.loc[pairing.to_numpy()].to_numpy()
    n, G = Y.shape
    genes = base.columns
    rng = _rng(random_state)

    u = normal_scores(features)
    U = u.to_numpy()
    p = U.shape[1]
    z = np.column_stack([(labels[t] == POSITIVE_STATUS[t]).to_numpy() for t in targets]).astype(int)

    eta = np.zeros((n, G))
    d = np.zeros((G, len(targets)))
    slopes = {t: np.zeros((2, G, p)) for t in targets}
    perm = rng.permutation(G)
    start = 0
    sets: dict[str, dict[str, np.ndarray]] = {}
    for k, t in enumerate(targets):  # loop over the three targets
        m = int(round(frac[t] * G))
        idx = perm[start:start + m]
        start += m
        n_only = int(round(PLASMODE_SLOPE_ONLY_SHARE * m))
        n_slope = int(round(PLASMODE_SLOPE_SHARE * m))
        only, with_slope = idx[:n_only], idx[n_only:n_only + n_slope]
        mean_genes = idx[n_only:]
        mag = scale[t] * rng.gamma(PLASMODE_GAMMA_SHAPE, 1.0 / PLASMODE_GAMMA_SHAPE, len(mean_genes))
        d[mean_genes, k] = rng.choice([-1.0, 1.0], len(mean_genes)) * mag
        sgenes = np.concatenate([only, with_slope])
        # PLASMODE_RATIOS_PER_GENE distinct ratios per slope gene, shared by the two classes;
        # independent slopes per class
        cols = np.argsort(rng.random((len(sgenes), p)), axis=1)[:, :PLASMODE_RATIOS_PER_GENE]
        for c in (0, 1):  # the two classes
            vals = rng.normal(0.0, PLASMODE_SLOPE_RATIO * scale[t], cols.shape)
            S = np.zeros((len(sgenes), p))
            np.put_along_axis(S, cols, vals, axis=1)
            slopes[t][c, sgenes] = S
        zk = z[:, k]
        ubar = np.stack([U[zk == c].mean(axis=0) if (zk == c).any() else np.zeros(p)
                         for c in (0, 1)])
        Uc = U - ubar[zk]                                    # within-class centred scores
        eta[:, idx] += zk[:, None] * d[idx, k][None, :]
        S_i = slopes[t][zk][:, idx, :]                       # (n, m, p): slopes of own class
        eta[:, idx] += np.einsum("ip,igp->ig", Uc, S_i)
        sets[t] = {"status": np.sort(idx), "slope": np.sort(sgenes), "only": np.sort(only)}

    counts = thin_counts(Y, eta, random_state=rng)
    index = features.index.copy()
    counts = pd.DataFrame(counts, index=index, columns=genes)
    affected = np.sort(np.concatenate([s["status"] for s in sets.values()]))
    ratio_names = list(features.columns)
    classes = {t: (sorted(set(labels[t]) - {POSITIVE_STATUS[t]}) or ["other"])[0] for t in targets}
    truth: dict[str, Any] = {
        "kind": "plasmode",
        "pairing": pairing.rename_axis(index.name),
        "base_library_size": pd.Series(Y.sum(axis=1), index=index, name="base_library_size"),
        "status_genes": {t: list(genes[s["status"]]) for t, s in sets.items()},
        "slope_genes": {t: list(genes[s["slope"]]) for t, s in sets.items()},
        "slope_only_genes": {t: list(genes[s["only"]]) for t, s in sets.items()},
        "status_effect": pd.DataFrame(d, index=genes, columns=targets),
        "status_slopes": {
            t: {classes[t]: pd.DataFrame(slopes[t][0], index=genes, columns=ratio_names),
                POSITIVE_STATUS[t]: pd.DataFrame(slopes[t][1], index=genes, columns=ratio_names)}
            for t in targets
        },
        "log_effects": pd.DataFrame(eta[:, affected], index=index, columns=genes[affected]),
        "imaging_scores": u,
        "effect_scale": scale,
        "de_fraction": frac,
        "gamma_shape": PLASMODE_GAMMA_SHAPE,
        "slope_share": PLASMODE_SLOPE_SHARE,
        "slope_only_share": PLASMODE_SLOPE_ONLY_SHARE,
        "slope_ratio": PLASMODE_SLOPE_RATIO,
        "seed": random_state,
        "pairing_seed": PLASMODE_PAIRING_SEED,
    }
    return counts, truth
