"""Cohorts drawn from the radiogenomics-NB model, with known ground truth.

- :func:`simulate_radiogenomic_cohort` — a fully simulated cohort (counts, imaging features,
  labels) and every true parameter, for tests and method comparisons.
- :func:`load_lgg_radiogenomics` — the bundled **semi-synthetic** default cohort: the 64 real
  TCGA-LGG patients with BraTS volumes and IDH / 1p19q / ATRX status, with **simulated**
  RNA-seq counts (see ``data/lgg_radiogenomics/PROVENANCE.md``).

The generative model (DESIGN.md, "The radiogenomics-NB classifier"):

.. math::

    y_{ig} \\mid c \\sim \\mathrm{NB}(\\mu_{igc}, \\phi_g), \\quad
    \\log \\mu_{igc} = \\log s_i + b_{gc0} + x_i^\\top b_{gc}.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from scipy.special import logsumexp

logger = logging.getLogger(__name__)

__all__ = ["RadiogenomicsData", "simulate_radiogenomic_cohort", "load_lgg_radiogenomics"]

RATIO_NAMES: tuple[str, ...] = (
    "ET/NCR", "ET/(ET+NCR)", "ET/ED", "ET/WT", "ED/NCR", "ED/(ET+NCR)", "ED/WT", "NCR/WT",
)

_TARGETS = {
    "idh": "IDH", "codel_1p19q": "codel_1p19q", "1p19q": "codel_1p19q",
    "1p/19q": "codel_1p19q", "codel": "codel_1p19q", "atrx": "ATRX",
}


@dataclass
class RadiogenomicsData:
    """A cohort: counts, imaging features, labels and (for simulated data) the truth.

    Attributes
    ----------
    counts : DataFrame, samples x genes
        Integer read counts.
    features : DataFrame, samples x features
        Imaging features (may contain NaN for undefined volume ratios).
    y : Series or None
        Labels of the requested target, indexed by sample.
    labels : DataFrame or None
        All available labels (``load_lgg_radiogenomics``: IDH, codel_1p19q, ATRX).
    clinical : DataFrame or None
        Sex, age, survival (real data only).
    truth : dict
        True parameters of the simulation (see the generating function).
    description : str
        What the data are; says "semi-synthetic" / "simulated".
    """

    counts: pd.DataFrame
    features: pd.DataFrame
    y: pd.Series | None
    labels: pd.DataFrame | None = None
    clinical: pd.DataFrame | None = None
    truth: dict[str, Any] = field(default_factory=dict, repr=False)
    description: str = ""

    def __repr__(self) -> str:
        ny = None if self.y is None else self.y.value_counts().to_dict()
        return (f"RadiogenomicsData({self.counts.shape[0]} samples x {self.counts.shape[1]} "
                f"genes, {self.features.shape[1]} features, y={ny}; {self.description[:60]}...)")

    def oracle_log_proba(self, counts: pd.DataFrame | None = None,
                         features: pd.DataFrame | None = None,
                         priors: str | np.ndarray = "equal") -> pd.DataFrame:
        """Posterior log class probabilities under the TRUE parameters (the Bayes oracle).

        ``log p(c | y_i, x_i) = sum_g log NB(y_ig; s_i exp(b_gc0 + x_i' b_gc), phi_g)
        + log pi_c`` normalised over classes, with the true size factors ``s_i`` of the
        samples (so ``counts`` must be rows of :attr:`counts`). Only for cohorts made by
        :func:`simulate_radiogenomic_cohort`.
        """
        from .glm import nb_logpmf

        t = self.truth
        if "coef" not in t:
            raise ValueError("this dataset carries no per-class truth (not simulated)")
        counts = self.counts if counts is None else counts
        features = self.features.loc[counts.index] if features is None else features
        s = t["size_factors"].loc[counts.index].to_numpy()
        classes = list(t["coef"])
        X = np.column_stack([np.ones(len(counts)), features.to_numpy(dtype=float)])
        Y = counts.to_numpy(dtype=float)
        phi = t["dispersion"].loc[counts.columns].to_numpy()
        if isinstance(priors, str):
            if priors == "equal":
                logp = np.full(len(classes), -np.log(len(classes)))
            else:
                raise ValueError("priors must be 'equal' or an array of class probabilities")
        else:
            logp = np.log(np.asarray(priors, dtype=float))
        jll = np.empty((len(counts), len(classes)))
        for k, c in enumerate(classes):  # loop over classes, not genes
            B = t["coef"][c].loc[counts.columns].to_numpy()  # (G, 1+p)
            mu = s[:, None] * np.exp(X @ B.T)
            jll[:, k] = nb_logpmf(Y, mu, phi).sum(axis=1) + logp[k]
        out = jll - logsumexp(jll, axis=1, keepdims=True)
        return pd.DataFrame(out, index=counts.index, columns=classes)


def _rng(random_state: Any) -> np.random.Generator:
    if isinstance(random_state, np.random.RandomState):
        return np.random.default_rng(random_state.randint(0, 2**31 - 1))
    return np.random.default_rng(random_state)


def _draw_nb(rng: np.random.Generator, mu: np.ndarray, phi: np.ndarray) -> np.ndarray:
    """NB(mu, phi) draws as a gamma-Poisson mixture (phi = 0: Poisson); mu (n, G), phi (G,)."""
    phi = np.broadcast_to(phi, mu.shape[1:])
    pos = phi > 0
    lam = mu.copy()
    if pos.any():
        shape = 1.0 / phi[pos]
        lam[:, pos] = rng.gamma(shape, mu[:, pos] / shape)
    return rng.poisson(np.minimum(lam, 1e12)).astype(np.int64)


def simulate_radiogenomic_cohort(
    n_samples: int = 100,
    n_genes: int = 1000,
    n_features: int = 4,
    n_informative: int = 20,
    effect: float = 1.0,
    classes: tuple = ("A", "B"),
    dispersion: float | np.ndarray | None = None,
    slope_effect: float = 0.5,
    n_imaging_genes: int | None = None,
    random_state: Any = None,
) -> RadiogenomicsData:
    """Simulate counts, imaging features and labels from the radiogenomics-NB model.

    .. math::

        \\log \\mu_{igc} = \\log s_i + b_{gc0} + x_i^\\top b_{gc}, \\quad
        y_{ig} \\sim \\mathrm{NB}(\\mu_{igc_i}, \\phi_g)

    - classes are balanced (``n_samples`` cycled over ``classes``, then shuffled);
    - features ``x_i ~ N(0, I)``;
    - baseline ``b_g0 ~ N(log 100, 1.2^2)``; for each of the ``n_informative`` genes one
      class at random is "up": ``b_gc0 = b_g0 + effect (1[c = up] - 1/K)`` (for two
      classes a log fold change of ``effect``), and its slopes differ between classes,
      ``b_gc = b_g + N(0, slope_effect^2)``;
    - ``n_imaging_genes`` further genes (default ``n_genes // 10``) have shared slopes
      ``b_g ~ N(0, 0.3^2)`` (not discriminative); all other slopes are 0;
    - ``phi_g``: ``dispersion`` (float or per-gene array), default log-normal around 0.2;
    - size factors ``log s_i ~ N(0, 0.25^2)``, centred to geometric mean 1.

    Returns
    -------
    RadiogenomicsData
        ``counts`` (samples x genes, ``gene_00000`` ...), ``features`` (``x1`` ...), ``y``,
        and ``truth``: ``coef`` (dict class -> DataFrame genes x [intercept, features]),
        ``dispersion`` (Series), ``size_factors`` (Series), ``informative_genes``,
        ``imaging_genes``. :meth:`RadiogenomicsData.oracle_log_proba` gives the Bayes
        classifier under the true parameters.

    Examples
    --------
    >>> d = simulate_radiogenomic_cohort(n_samples=20, n_genes=50, random_state=0)
    >>> d.counts.shape, d.features.shape, d.y.value_counts().to_dict()
    ((20, 50), (20, 4), {'A': 10, 'B': 10})
    """
    rng = _rng(random_state)
    classes = tuple(classes)
    K = len(classes)
    if K < 2:
        raise ValueError(f"classes needs at least two labels; got {classes!r}")
    if not 0 <= n_informative <= n_genes:
        raise ValueError(f"n_informative must lie in [0, n_genes={n_genes}]")
    n_img = n_genes // 10 if n_imaging_genes is None else int(n_imaging_genes)
    n_img = min(n_img, n_genes - n_informative)
    samples = pd.Index([f"S{i:04d}" for i in range(n_samples)], name="sample")
    genes = pd.Index([f"gene_{g:05d}" for g in range(n_genes)], name="gene")
    fnames = [f"x{j + 1}" for j in range(n_features)]

    codes = rng.permutation(np.resize(np.arange(K), n_samples))
    X = rng.normal(size=(n_samples, n_features))
    logs = rng.normal(0.0, 0.25, n_samples)
    logs -= logs.mean()
    if dispersion is None:
        phi = np.exp(rng.normal(np.log(0.2), 0.5, n_genes))
    else:
        phi = np.broadcast_to(np.asarray(dispersion, dtype=float), (n_genes,)).copy()
        if (phi < 0).any() or not np.isfinite(phi).all():
            raise ValueError("dispersion must be finite and non-negative")

    perm = rng.permutation(n_genes)
    inf_idx = np.sort(perm[:n_informative])
    img_idx = np.sort(perm[n_informative:n_informative + n_img])
    b0 = rng.normal(np.log(100.0), 1.2, n_genes)
    slopes = np.zeros((n_genes, n_features))
    slopes[img_idx] = rng.normal(0.0, 0.3, (n_img, n_features))
    coef = np.repeat(np.column_stack([b0, slopes])[None], K, axis=0)  # (K, G, 1+p)
    up = rng.integers(0, K, n_informative)
    for k in range(K):  # loop over classes
        coef[k, inf_idx, 0] += effect * ((up == k) - 1.0 / K)
        coef[k, inf_idx, 1:] += rng.normal(0.0, slope_effect, (n_informative, n_features))

    Xd = np.column_stack([np.ones(n_samples), X])
    eta = np.einsum("ip,igp->ig", Xd, coef[codes])  # per-sample class coefficients
    mu = np.exp(logs[:, None] + eta)
    counts = _draw_nb(rng, mu, phi)

    cols = ["intercept", *fnames]
    truth = {
        "coef": {c: pd.DataFrame(coef[k], index=genes, columns=cols) for k, c in enumerate(classes)},
        "dispersion": pd.Series(phi, index=genes, name="dispersion"),
        "size_factors": pd.Series(np.exp(logs), index=samples, name="size_factor"),
        "informative_genes": list(genes[inf_idx]),
        "imaging_genes": list(genes[img_idx]),
        "mu": pd.DataFrame(mu, index=samples, columns=genes),
    }
    y = pd.Series(np.asarray(classes, dtype=object)[codes], index=samples, name="label")
    return RadiogenomicsData(
        counts=pd.DataFrame(counts, index=samples, columns=genes),
        features=pd.DataFrame(X, index=samples, columns=pd.Index(fnames, name="feature")),
        y=y,
        truth=truth,
        description=(
            "SIMULATED radiogenomic cohort drawn from the radiogenomics-NB model "
            f"({n_samples} samples, {n_genes} genes, {n_informative} informative, "
            f"effect {effect}); every parameter is known (attribute truth)."
        ),
    )


def _volume_ratios(volumes: pd.DataFrame) -> pd.DataFrame:
    """The eight paper ratios: ``imaging.volumes.volume_ratios`` if importable, else local."""
    try:
        from imaging.volumes import volume_ratios
    except ImportError:  # imaging not installed: same formulas (zero denominator -> NaN)
        v = volumes[["ET", "NCR", "ED", "WT"]].astype(float)
        pairs = {
            "ET/NCR": (v.ET, v.NCR), "ET/(ET+NCR)": (v.ET, v.ET + v.NCR), "ET/ED": (v.ET, v.ED),
            "ET/WT": (v.ET, v.WT), "ED/NCR": (v.ED, v.NCR), "ED/(ET+NCR)": (v.ED, v.ET + v.NCR),
            "ED/WT": (v.ED, v.WT), "NCR/WT": (v.NCR, v.WT),
        }
        return pd.DataFrame({k: (a / b.where(b != 0)) for k, (a, b) in pairs.items()},
                            index=v.index)[list(RATIO_NAMES)]
    return volume_ratios(volumes[["ET", "NCR", "ED", "WT"]])[list(RATIO_NAMES)]


#: fixed seed of the parametric LGG counts (``kind="parametric"``)
LGG_SEED = 20161123
LGG_N_GENES = 20_000
#: the cohorts of :func:`load_lgg_radiogenomics`
LGG_KINDS = ("plasmode", "parametric")
#: fixed seed of the gene subset when ``n_genes`` is given for the plasmode
LGG_SUBSET_SEED = 7


def _lgg_patients(target: str | None):
    """The 64 patients: (target key, features, labels, clinical)."""
    from .datasets import load_tcga_lgg

    if target is not None:
        key = _TARGETS.get(str(target).lower())
        if key is None:
            raise ValueError(f"target must be one of 'IDH', 'codel_1p19q', 'ATRX'; got {target!r}")
        target = key
    vol = load_tcga_lgg().volumes
    label_cols = ["IDH", "codel_1p19q", "ATRX"]
    vol = vol[vol[label_cols].notna().all(axis=1)].sort_index()
    features = _volume_ratios(vol)
    features.columns.name = "feature"
    labels = vol[label_cols].astype(object)
    clinical = vol[["sex", "age", "os_months", "os_event", "grade", "histology"]].copy()
    return target, features, labels, clinical


def load_lgg_radiogenomics(target: str | None = None, n_genes: int | None = None,
                           kind: str = "plasmode") -> RadiogenomicsData:
    """The bundled default cohort: 64 real TCGA-LGG patients, semi-synthetic counts.

    **Semi-synthetic.** The 64 TCGA-LGG patients that have BraTS volumes and all three
    labels (:func:`radiogenomics.datasets.load_tcga_lgg`) with their real eight volume
    ratios (NaN where a denominator is zero), sex, age, survival and IDH / 1p19q / ATRX
    status. No TCGA expression is available offline, so the RNA-seq counts are made:

    ``kind="plasmode"`` (default): **semi-synthetic (plasmode)** counts on real RNA-seq.
    Each patient is paired (fixed seed) with a distinct GEUVADIS lymphoblastoid sample of
    the same sex (:func:`radiogenomics.datasets.load_humangender`, 10,101 genes); its real
    counts are binomially thinned (:func:`radiogenomics.datasets.thin_counts`) to carry
    natural-log effects driven jointly by the patient's real statuses and imaging ratios:

    .. math::

        Y'_{ig} \\sim \\mathrm{Binomial}(Y_{ig}, e^{\\eta_{ig} - \\max_i \\eta_{ig}}),
        \\quad \\eta_{ig} = d_g z_{ik} + \\sum_{j} s_{g z_{ik} j}(u_{ij} - \\bar u_{z_{ik} j})

    for gene ``g`` in target ``k``'s status set (``u``: normal scores of the ratios); see
    :func:`radiogenomics._plasmode.make_lgg_plasmode` and
    ``data/lgg_radiogenomics/PROVENANCE.md`` (effect distribution, calibration). Real library
    sizes, mean-dispersion relation, gene-gene correlation and sex-linked genes are kept.

    ``kind="parametric"``: the earlier fully parametric cohort, 20,000 NB genes drawn from
    the radiogenomics-NB model itself (see :func:`_load_lgg_parametric`).

    Parameters
    ----------
    target : {"IDH", "codel_1p19q" (or "1p19q"), "ATRX"} or None
        Label returned as ``y`` (``None``: ``y`` is None; all labels are in ``labels``).
    n_genes : int or None
        ``None``: all genes (10,101 for the plasmode, 20,000 parametric). An int: the
        plasmode keeps a fixed random subset of that many genes (same counts as in the full
        cohort); the parametric cohort simulates that many genes.
    kind : {"plasmode", "parametric"}
        Which cohort (default the plasmode).

    Returns
    -------
    RadiogenomicsData
        ``counts`` (64 x genes), ``features`` (the 8 ratios), ``y``, ``labels``,
        ``clinical`` (sex, age, os_months, os_event, grade, histology), ``truth`` (the
        generating parameters: for the plasmode the pairing, status genes, effects and
        slopes) and ``description`` (says semi-synthetic).

    Examples
    --------
    >>> d = load_lgg_radiogenomics("IDH")
    >>> d.counts.shape, d.y.value_counts().to_dict()
    ((64, 10101), {'Mutant': 53, 'WT': 11})
    >>> "semi-synthetic (plasmode)" in d.description
    True
    """
    if kind not in LGG_KINDS:
        raise ValueError(f"kind must be one of {LGG_KINDS}; got {kind!r}")
    if n_genes is not None and (isinstance(n_genes, bool) or int(n_genes) != n_genes or n_genes < 1):
        raise ValueError(f"n_genes must be a positive integer or None; got {n_genes!r}")
    if kind == "parametric":
        return _load_lgg_parametric(target, LGG_N_GENES if n_genes is None else int(n_genes))
    from ._plasmode import make_lgg_plasmode

    target, features, labels, clinical = _lgg_patients(target)
    counts, truth = make_lgg_plasmode(features, labels, clinical["sex"])
    counts.index.name = "patient"
    G = counts.shape[1]
    if n_genes is not None and n_genes < G:
        keep = np.sort(np.random.default_rng(LGG_SUBSET_SEED).permutation(G)[: int(n_genes)])
        cols = counts.columns[keep]
        counts = counts[cols]
        kept = set(cols)
        for key in ("status_genes", "slope_genes", "slope_only_genes"):
            truth[key] = {t: [g for g in v if g in kept] for t, v in truth[key].items()}
        truth["status_effect"] = truth["status_effect"].loc[cols]
        truth["status_slopes"] = {t: {c: df.loc[cols] for c, df in v.items()}
                                  for t, v in truth["status_slopes"].items()}
        truth["log_effects"] = truth["log_effects"][[g for g in truth["log_effects"].columns
                                                     if g in kept]]
    elif n_genes is not None and n_genes > G:
        raise ValueError(f"n_genes={n_genes} exceeds the {G} genes of the plasmode cohort")
    description = (
        "semi-synthetic (plasmode) TCGA-LGG radiogenomics cohort: 64 real patients with real "
        "BraTS volume ratios, IDH/1p19q/ATRX status, sex, age and survival; RNA-seq counts "
        f"({counts.shape[1]} genes) are REAL GEUVADIS lymphoblastoid counts of a same-sex "
        "sample, binomially thinned to carry SIMULATED status and imaging effects; see "
        "data/lgg_radiogenomics/PROVENANCE.md. Not tumour expression."
    )
    y = None if target is None else labels[target].rename(target)
    return RadiogenomicsData(counts=counts, features=features, y=y, labels=labels,
                             clinical=clinical, truth=truth, description=description)


def _load_lgg_parametric(target: str | None = None, n_genes: int = LGG_N_GENES
                         ) -> RadiogenomicsData:
    """The fully parametric cohort (``kind="parametric"``): real patients, NB counts.

    The 64 patients of :func:`load_lgg_radiogenomics` with RNA-seq counts simulated (fixed
    seed) from the radiogenomics-NB model:

    .. math::

        \\log \\mu_{ig} = \\log s_i + b_{g0} + \\sum_k d_{gk} z_{ik}
        + \\tilde x_i^\\top (b_g + \\sum_k e_{gk} z_{ik})

    with ``z_ik`` the real status indicators (IDH Mutant, 1p/19q codel, ATRX Mutant) and
    ``x~_i`` the real ratios, NaN replaced by the column median and standardised.
    Status genes: 200 for IDH, 150 for 1p/19q, 100 for ATRX, ``|d_gk| ~ U(0.6, 1.6)`` with
    a random sign; a third of them also have status-specific slopes ``e_gk ~ N(0, 0.3^2)``
    on two ratios; 400 imaging genes have shared slopes ``b_g ~ N(0, 0.3^2)`` on two ratios.
    Dispersions are resampled from 714 real edgeR classic tagwise dispersions (cervical
    data, ``data/lgg_radiogenomics/dispersions.csv``), size factors ``log s_i ~ N(0, 0.3^2)``.
    """
    from .datasets import data_dir

    target, features, labels, clinical = _lgg_patients(target)
    label_cols = list(labels.columns)
    vol = features  # the patients, sorted
    rng = np.random.default_rng(LGG_SEED)
    n, G = len(vol), int(n_genes)
    z = np.column_stack([
        (labels["IDH"] == "Mutant").to_numpy(),
        (labels["codel_1p19q"] == "codel").to_numpy(),
        (labels["ATRX"] == "Mutant").to_numpy(),
    ]).astype(float)
    xf = features.fillna(features.median())
    xs = ((xf - xf.mean()) / xf.std(ddof=1)).to_numpy()
    p = xs.shape[1]

    disp_pool = pd.read_csv(data_dir() / "lgg_radiogenomics" / "dispersions.csv")["dispersion"]
    phi = rng.choice(disp_pool.to_numpy(), size=G, replace=True)
    b0 = rng.normal(np.log(100.0), 1.5, G)
    d = np.zeros((G, 3))
    e = np.zeros((3, G, p))
    slopes = np.zeros((G, p))
    perm = rng.permutation(G)
    sizes = [min(200, G // 20), min(150, G // 20), min(100, G // 20)]
    start = 0
    status_genes = []
    for k, m in enumerate(sizes):  # loop over the three labels
        idx = np.sort(perm[start:start + m])
        start += m
        status_genes.append(idx)
        d[idx, k] = rng.choice([-1.0, 1.0], m) * rng.uniform(0.6, 1.6, m)
        inter = idx[: m // 3]
        for _ in range(2):  # two random ratios per gene
            e[k, inter, rng.integers(0, p, len(inter))] = rng.normal(0.0, 0.3, len(inter))
    n_img = min(400, max(0, G - start))
    img = np.sort(perm[start:start + n_img])
    for _ in range(2):
        slopes[img, rng.integers(0, p, n_img)] = rng.normal(0.0, 0.3, n_img)
    logs = rng.normal(0.0, 0.3, n)
    logs -= logs.mean()
    eta = (b0[None, :] + z @ d.T + xs @ slopes.T + np.einsum("ik,ip,kgp->ig", z, xs, e))
    mu = np.exp(logs[:, None] + np.clip(eta, -30, 25))
    counts = _draw_nb(rng, mu, phi)

    genes = pd.Index([f"SIMG{g:05d}" for g in range(G)], name="gene")
    samples = vol.index.copy()
    samples.name = "patient"
    counts = pd.DataFrame(counts, index=samples, columns=genes)
    truth = {
        "intercept": pd.Series(b0, index=genes),
        "status_effect": pd.DataFrame(d, index=genes, columns=label_cols),
        "slopes": pd.DataFrame(slopes, index=genes, columns=list(RATIO_NAMES)),
        "status_slopes": {c: pd.DataFrame(e[k], index=genes, columns=list(RATIO_NAMES))
                          for k, c in enumerate(label_cols)},
        "dispersion": pd.Series(phi, index=genes, name="dispersion"),
        "size_factors": pd.Series(np.exp(logs), index=samples, name="size_factor"),
        "status_genes": {c: list(genes[ix]) for c, ix in zip(label_cols, status_genes, strict=True)},
        "imaging_genes": list(genes[img]),
        "standardised_features": pd.DataFrame(xs, index=samples, columns=features.columns),
        "seed": LGG_SEED,
        "kind": "parametric",
    }
    description = (
        "semi-synthetic (parametric) TCGA-LGG radiogenomics cohort: 64 real patients with "
        "real BraTS volume ratios, IDH/1p19q/ATRX status, sex, age and survival, and SIMULATED "
        f"RNA-seq counts ({G} genes) drawn from the radiogenomics-NB model (fixed seed "
        f"{LGG_SEED}); see data/lgg_radiogenomics/PROVENANCE.md. Not real expression data."
    )
    y = None if target is None else labels[target].rename(target)
    return RadiogenomicsData(counts=counts, features=features, y=y, labels=labels,
                             clinical=clinical, truth=truth, description=description)
