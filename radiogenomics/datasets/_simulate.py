"""Cohorts drawn from the radiogenomics-NB model, with known ground truth.

- :func:`simulate_radiogenomic_cohort` — a fully simulated cohort (counts, imaging features,
  labels) and every true parameter, for tests and method comparisons.
- :class:`RadiogenomicsData` — the container of a cohort (also of the bundled LGG cohort,
  :mod:`radiogenomics.datasets._lgg`).

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

__all__ = ["RadiogenomicsData", "simulate_radiogenomic_cohort"]



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
        from ..glm import nb_logpmf

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
