r"""The bundled default cohort: 64 real TCGA-LGG patients with semi-synthetic counts.

- :func:`load_lgg_radiogenomics` — the 64 real TCGA-LGG patients with BraTS volumes and
  IDH / 1p19q / ATRX status (their real volume ratios, sex, age, survival) with **plasmode**
  counts (real GEUVADIS counts thinned to carry simulated effects, :mod:`._plasmode`) or,
  with ``kind="parametric"``, counts simulated from the radiogenomics-NB model
  (see ``data/lgg_radiogenomics/PROVENANCE.md``).

The imaging features are the eight volume ratios of :func:`imaging.volumes.volume_ratios`,
their one home: ``radiogenomics`` may use ``imaging`` in its end-to-end helpers (this loader
turns volumes into the per-patient feature table), ``imaging`` never imports
``radiogenomics`` (DESIGN.md, "Layout").
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from imaging.volumes import RATIO_NAMES, volume_ratios

from ._plasmode import make_lgg_plasmode
from ._real import data_dir, load_tcga_lgg
from ._simulate import RadiogenomicsData, _draw_nb

__all__ = ["load_lgg_radiogenomics", "RATIO_NAMES"]

_TARGETS = {
    "idh": "IDH", "codel_1p19q": "codel_1p19q", "1p19q": "codel_1p19q",
    "1p/19q": "codel_1p19q", "codel": "codel_1p19q", "atrx": "ATRX",
}

#: fixed seed of the parametric LGG counts (``kind="parametric"``)
LGG_SEED = 20161123
LGG_N_GENES = 20_000
#: the cohorts of :func:`load_lgg_radiogenomics`
LGG_KINDS = ("plasmode", "parametric")
#: fixed seed of the gene subset when ``n_genes`` is given for the plasmode
LGG_SUBSET_SEED = 7


def _lgg_patients(target: str | None):
    """The 64 patients: (target key, features, labels, clinical)."""
    if target is not None:
        key = _TARGETS.get(str(target).lower())
        if key is None:
            raise ValueError(f"target must be one of 'IDH', 'codel_1p19q', 'ATRX'; got {target!r}")
        target = key
    vol = load_tcga_lgg().volumes
    label_cols = ["IDH", "codel_1p19q", "ATRX"]
    vol = vol[vol[label_cols].notna().all(axis=1)].sort_index()
    features = volume_ratios(vol[["ET", "NCR", "ED", "WT"]])
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
    :func:`radiogenomics.datasets._plasmode.make_lgg_plasmode` and
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
