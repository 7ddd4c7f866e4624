"""LGG-shaped cohorts drawn from the radiogenomics-NB model, for measuring the classifier.

:func:`simulate_lgg_shaped_cohort` has the bundled cohort's shape: 64 samples, a minority
class of 11, the 8 real (heavy-tailed) BraTS volume ratios of the 64 TCGA-LGG patients as
imaging features, dispersions resampled from 714 real edgeR tagwise dispersions clipped to
[0.02, 4], and signal in 150 genes:

- ``kind="mean"``: class log fold changes ``+-U(0.5, 1.5) * effect`` split evenly between
  the classes; a third of these genes also get class-specific slopes ``N(0, slope_effect^2)``
  on two ratios;
- ``kind="slopes"``: the class signal is only in imaging slopes (``+-effect`` on one ratio,
  opposite in the two classes), so the class means are equal;

plus 10% imaging genes with shared slopes ``N(0, 0.25^2)`` on two ratios, baselines
``N(log 80, 1.5^2)`` and size factors ``log s ~ N(0, 0.3^2)``. The ratios enter the mean
model as rank-based normal scores (``imaging="normal-scores"``, the convention of the
bundled plasmode, :func:`radiogenomics._plasmode.normal_scores`), or standardised on their
raw scale (``imaging="raw"``, NaN -> column median): one patient's extreme ratio then
multiplies that patient's means many times over.
"""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pandas as pd

from ._lgg import load_lgg_radiogenomics
from ._plasmode import normal_scores
from ._real import data_dir
from ._simulate import _draw_nb

__all__ = ["simulate_lgg_shaped_cohort"]


def simulate_lgg_shaped_cohort(seed: int = 0, n_genes: int = 2000, n_informative: int = 150,
                      effect: float = 0.6, kind: str = "mean", n_minority: int = 11,
                      slope_effect: float = 0.3, imaging: str = "normal-scores"):
    """An LGG-shaped cohort drawn from the NB model (see the module docstring).

    Returns a namespace with ``counts`` (64 x ``n_genes``), ``features`` (the 8 real
    ratios), ``y`` (``"major"`` / ``"minor"``), ``truth`` (``informative_genes``) and
    ``description``; the same ``seed`` gives the same cohort.
    """
    rng = np.random.default_rng(seed)
    base = load_lgg_radiogenomics("IDH", kind="parametric", n_genes=10)
    F = base.features.fillna(base.features.median())
    n = len(F)
    if imaging == "raw":
        Zs = ((F - F.mean()) / F.std(ddof=1)).to_numpy()
    elif imaging == "normal-scores":
        Zs = normal_scores(base.features).to_numpy()
    else:
        raise ValueError(f"imaging must be 'normal-scores' or 'raw'; got {imaging!r}")
    codes = np.zeros(n, dtype=int)
    codes[rng.choice(n, n_minority, replace=False)] = 1
    phi_pool = pd.read_csv(data_dir() / "lgg_radiogenomics" / "dispersions.csv")[
        "dispersion"].to_numpy()
    phi = np.clip(rng.choice(phi_pool, n_genes), 0.02, 4.0)
    b0 = rng.normal(np.log(80.0), 1.5, n_genes)
    p = Zs.shape[1]
    coef = np.zeros((2, n_genes, 1 + p))
    coef[:, :, 0] = b0
    img = rng.choice(n_genes, n_genes // 10, replace=False)
    coef[:, img, 1:3] += rng.normal(0, 0.25, (len(img), 2))  # shared imaging genes
    inf = rng.choice(np.setdiff1d(np.arange(n_genes), img), n_informative, replace=False)
    if kind == "mean":
        lfc = rng.choice([-1, 1], n_informative) * rng.uniform(0.5, 1.5, n_informative) * effect
        coef[1, inf, 0] += lfc / 2
        coef[0, inf, 0] -= lfc / 2
        third = inf[: n_informative // 3]
        coef[1, third, 1:3] += rng.normal(0, slope_effect, (len(third), 2))
    else:  # slope-only genes: equal class means (features are centred)
        cols = rng.integers(0, p, n_informative)
        sgn = rng.choice([-1, 1], n_informative)
        coef[1, inf, 1 + cols] += sgn * effect
        coef[0, inf, 1 + cols] -= sgn * effect
    logs = rng.normal(0, 0.3, n)
    Xd = np.column_stack([np.ones(n), Zs])
    eta = np.einsum("ip,igp->ig", Xd, coef[codes]) + logs[:, None]
    mu = np.exp(np.clip(eta, -30, 12))
    counts = _draw_nb(rng, mu, phi)
    genes = [f"g{g:05d}" for g in range(n_genes)]
    return SimpleNamespace(
        counts=pd.DataFrame(counts, index=F.index, columns=genes), features=F,
        y=pd.Series(np.where(codes == 1, "minor", "major"), index=F.index, name="label"),
        truth={"informative_genes": [genes[g] for g in inf]},
        description=f"SIMULATED LGG-shaped cohort ({kind}, effect {effect}, {imaging} imaging)")
