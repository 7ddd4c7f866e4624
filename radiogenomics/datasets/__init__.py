"""Datasets: real data shipped in ``data/`` and simulators with known ground truth.

Real data (each folder of ``data/`` has a PROVENANCE.md with source, licence and citation):

- :func:`load_cervical` — cervical miRNA-seq counts (Witten et al. 2010), 58 samples x 714
  miRNAs, the classic benchmark of PLDA, NBLDA and voomNSC.
- :func:`load_tcga_lgg` — TCGA lower-grade glioma labels, sex, age and survival
  (Ceccarelli et al. 2016; 516 LGG patients, 513 with IDH, 1p/19q and ATRX) and the BraTS
  sub-region volumes of 65 of them (Bakas et al. 2017).
- :func:`load_humangender` — real GEUVADIS lymphoblastoid RNA-seq counts (85 samples x
  10,101 genes, female / male; Lappalainen et al. 2013 via DEGreport), the base of the plasmode.

Simulated or semi-synthetic data:

- :func:`simulate_radiogenomic_cohort` — NB counts drawn from the radiogenomics-NB model.
- :func:`thin_counts` — binomial thinning (Gerard 2020): add known log fold changes to real
  counts, to make plasmodes of your own data.
- :func:`load_lgg_radiogenomics` — the bundled default cohort: 64 real TCGA-LGG patients
  (real volumes, ratios, labels, sex, survival) with **semi-synthetic (plasmode)** counts
  (real GEUVADIS counts of a same-sex sample, thinned to carry simulated status effects);
  ``kind="parametric"`` gives the earlier fully simulated NB counts.
- :func:`simulate_ich_cohort` — a synthetic intracerebral-haemorrhage cohort.

Layout (private modules, no cycle: ``_real`` <- ``_simulate`` <- ``_plasmode`` <- ``_lgg``
<- ``_simulate_shaped``; ``_simulate_ich`` stands alone): ``_real`` (data folder, cervical,
TCGA-LGG), ``_simulate`` (``RadiogenomicsData``, the NB simulator), ``_plasmode``
(GEUVADIS, binomial thinning, the LGG plasmode), ``_lgg`` (the bundled cohort; imaging
features from :func:`imaging.volumes.volume_ratios`), ``_simulate_ich``, ``_simulate_shaped``
(the LGG-shaped simulator of the NB-settings benchmark).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from .._lazy import lazy_names
from ._real import TCGALGG, data_dir, load_cervical, load_tcga_lgg

if TYPE_CHECKING:  # defined in their own modules, imported lazily below
    from ._lgg import load_lgg_radiogenomics
    from ._plasmode import load_humangender, thin_counts
    from ._simulate import simulate_radiogenomic_cohort
    from ._simulate_ich import simulate_ich_cohort

#: simulators and semi-synthetic loaders, imported on first use
_LAZY = {
    "load_lgg_radiogenomics": "radiogenomics.datasets._lgg",
    "load_humangender": "radiogenomics.datasets._plasmode",
    "thin_counts": "radiogenomics.datasets._plasmode",
    "simulate_radiogenomic_cohort": "radiogenomics.datasets._simulate",
    "simulate_ich_cohort": "radiogenomics.datasets._simulate_ich",
}

__all__ = ["data_dir", "load_cervical", "load_tcga_lgg", "TCGALGG", "load_lgg_radiogenomics",
           "load_humangender", "thin_counts", "simulate_radiogenomic_cohort", "simulate_ich_cohort"]
__getattr__, __dir__, _ = lazy_names(__name__, _LAZY, extra=tuple(__all__[:4]))
