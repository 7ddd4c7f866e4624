"""Real data shipped in ``data/`` (each folder has a PROVENANCE.md with source, licence
and citation): the dataset folder, the cervical miRNA counts and the TCGA-LGG tables.
GEUVADIS (:func:`~radiogenomics.datasets.load_humangender`) is loaded with the plasmode
that uses it (:mod:`._plasmode`)."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

__all__ = ["data_dir", "load_cervical", "load_tcga_lgg", "TCGALGG"]


def data_dir() -> Path:
    """Folder holding the shipped datasets.

    ``$RADIOGENOMICS_DATA`` if set, else the repository's ``data/`` folder (the package is
    installed in editable/development mode from a clone).
    """
    env = os.environ.get("RADIOGENOMICS_DATA")
    path = Path(env) if env else Path(__file__).resolve().parents[2] / "data"
    if not path.is_dir():
        raise FileNotFoundError(
            f"dataset folder {path} not found; install radiogenomics from a clone "
            "(pip install -e .) or set RADIOGENOMICS_DATA to the data/ folder"
        )
    return path


def load_cervical() -> tuple[pd.DataFrame, pd.Series]:
    """Cervical miRNA-seq counts (Witten et al. 2010).

    Returns
    -------
    counts : DataFrame, shape (58, 714)
        Raw integer read counts, samples ``N1..N29, T1..T29`` as rows, miRNAs as columns.
    y : Series, shape (58,)
        ``"N"`` (normal) or ``"T"`` (tumour), indexed by sample id.

    Examples
    --------
    >>> counts, y = load_cervical()
    >>> counts.shape, y.value_counts().to_dict()
    ((58, 714), {'N': 29, 'T': 29})
    """
    d = data_dir() / "cervical"
    counts = pd.read_csv(d / "counts.csv.gz", index_col=0).T.astype("int64")
    counts.index.name = "sample"
    counts.columns.name = "gene"
    y = pd.Series(counts.index.str[0], index=counts.index, name="label")
    return counts, y


@dataclass(frozen=True)
class TCGALGG:
    """The TCGA-LGG tables.

    Attributes
    ----------
    clinical : DataFrame, 516 rows indexed by patient barcode
        ``IDH`` (Mutant/WT), ``codel_1p19q`` (codel/non-codel), ``ATRX`` (Mutant/WT),
        ``sex`` (female/male), ``age`` (years), ``os_months``, ``os_event`` (1 = dead),
        ``grade``, ``histology``, ``rnaseq`` (TCGA RNA-seq exists). Missing values are NaN:
        513 patients have all three labels, 457 have sex and survival.
    volumes : DataFrame, 65 rows indexed by patient barcode
        BraTS sub-region volumes in mL (``ET``, ``NCR`` = necrotic + non-enhancing core,
        ``ED``, ``TC``, ``WT``, ``BRAIN``) joined with the clinical columns.
    """

    clinical: pd.DataFrame
    volumes: pd.DataFrame


_CLINICAL_COLUMNS = {
    "IDH.status": "IDH",
    "X1p.19q.codeletion": "codel_1p19q",
    "ATRX.status": "ATRX",
    "Gender": "sex",
    "Age..years.at.diagnosis.": "age",
    "Survival..months.": "os_months",
    "Vital.status..1.dead.": "os_event",
    "Grade": "grade",
    "Histology": "histology",
    "RNAseq": "rnaseq",
}


def load_tcga_lgg() -> TCGALGG:
    """Real TCGA lower-grade glioma labels, survival and BraTS sub-region volumes.

    Sources: Ceccarelli et al. 2016 (Cell 164:550) Table S1 via TCGAbiolinks, and the
    manually revised BraTS-TCGA-LGG segmentations of Bakas et al. 2017 (Sci Data 4:170117);
    see ``data/tcga_lgg/PROVENANCE.md``. Volumes are converted from mm³ to mL.

    Examples
    --------
    >>> lgg = load_tcga_lgg()
    >>> len(lgg.clinical), len(lgg.volumes)
    (516, 65)
    >>> int(lgg.clinical[["IDH", "codel_1p19q", "ATRX"]].notna().all(axis=1).sum())
    513
    """
    d = data_dir() / "tcga_lgg"
    raw = pd.read_csv(d / "tcgabiolinks_lgg_gbm_subtype_Ceccarelli2016.csv", low_memory=False)
    raw = raw[raw["Study"] == "Brain Lower Grade Glioma"]
    clinical = raw.set_index("patient")[list(_CLINICAL_COLUMNS)].rename(columns=_CLINICAL_COLUMNS)
    clinical.index.name = "patient"
    for col in ("age", "os_months", "os_event"):
        clinical[col] = pd.to_numeric(clinical[col], errors="coerce")
    for col in ("IDH", "codel_1p19q", "ATRX", "sex", "grade", "histology", "rnaseq"):
        clinical[col] = clinical[col].where(clinical[col].notna(), None).astype("object")
        clinical.loc[clinical[col].isin(["NA", ""]), col] = None

    vol = pd.read_csv(d / "lgg_brats65_volumes_labels_merged.csv").set_index("patient")
    mm3 = {"VOLUME_ET": "ET", "VOLUME_NET": "NCR", "VOLUME_ED": "ED", "VOLUME_TC": "TC",
           "VOLUME_WT": "WT", "VOLUME_BRAIN": "BRAIN"}
    volumes = vol[list(mm3)].rename(columns=mm3) / 1000.0
    volumes = volumes.join(clinical, how="left")
    volumes.index.name = "patient"
    return TCGALGG(clinical=clinical, volumes=volumes)
