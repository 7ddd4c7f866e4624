"""Cohort feature table: one row per patient from a folder of label maps (and images).

Columns (all optional groups after the volumes):

* volumes (mL) keyed by region name — ``ET, NCR, ED, TC, WT`` (BraTS) or ``ET, NET, CC, ED,
  TC, WT`` (paediatric) — so that :func:`imaging.volumes.volume_ratios` can be applied to the
  table directly;
* the eight volume ratios ``ET/NCR ... NCR/WT`` (schemas with ET, NCR, ED, WT) and the
  percentages ``<region>_pct`` of WT;
* ``shape_<key>`` for the :func:`imaging.morphology.shape_measures` of the whole lesion
  (all schema labels) with ``morphology=True``;
* pyradiomics features (``original_...``) of one region with ``radiomics=<params>``;
* ``change_<key>`` for :func:`imaging.morphology.compare_scans` with ``pairs``: rows are then
  the pairs' patients, described by their initial scan;
* ``errors``: empty for a good case, else the message(s); a bad case never stops the cohort.
  An unreadable mask (or unknown labels with ``strict=True``) leaves the whole row empty;
  a failing optional group (``morphology: ...``, ``change: ...``, ``radiomics: ...``) keeps
  the other columns.

The index is ``patient`` (case id = mask file name without ``.nii``/``.nii.gz``).
"""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from imaging.labels import get_schema

__all__ = ["find_cases", "case_features", "cohort_features", "write_table", "read_pairs"]

logger = logging.getLogger(__name__)


def _case_id(path: Path) -> str:
    name = path.name
    for suffix in (".nii.gz", ".nii"):
        if name.lower().endswith(suffix):
            return name[: -len(suffix)]
    return path.stem


def find_cases(masks_dir: str | os.PathLike[str]) -> dict[str, Path]:
    """``{case id: mask path}`` for every ``.nii``/``.nii.gz`` file in ``masks_dir`` (sorted)."""
    d = Path(masks_dir)
    if not d.is_dir():
        raise FileNotFoundError(f"masks directory not found: {d}")
    files = sorted(p for p in d.iterdir() if p.is_file() and p.name.lower().endswith((".nii", ".nii.gz")))
    if not files:
        raise ValueError(f"no NIfTI masks (.nii/.nii.gz) in {d}")
    out: dict[str, Path] = {}
    for p in files:
        cid = _case_id(p)
        if cid in out:
            raise ValueError(f"two masks for case {cid!r}: {out[cid].name} and {p.name}")
        out[cid] = p
    return out


def find_image(images_dir: str | os.PathLike[str], case: str, channel: int | None = None) -> Path:
    """The image of ``case``: ``<case>_<channel:04d>.nii[.gz]`` when ``channel`` is given,
    else ``<case>.nii[.gz]`` or, failing that, ``<case>_0000.nii[.gz]`` (nnU-Net naming).

    A DICOM series folder of the same name (``<case>/`` or ``<case>_0000/``) is read with
    :func:`imaging.io.read_image` and handed on as a temporary NIfTI file (canonical RAS+),
    removed when the process ends."""
    d = Path(images_dir)
    stems = [f"{case}_{channel:04d}"] if channel is not None else [case, f"{case}_0000"]
    for stem in stems:
        for ext in (".nii.gz", ".nii"):
            p = d / f"{stem}{ext}"
            if p.is_file():
                return p
        if (d / stem).is_dir():
            return _dicom_as_nifti(d / stem)
    raise FileNotFoundError(f"no image for case {case!r} in {d} (looked for "
                            f"{', '.join(s + '.nii[.gz]' for s in stems)} and DICOM folders "
                            f"{', '.join(s + '/' for s in stems)})")


_DICOM_TMP: dict[Path, Path] = {}


def _dicom_as_nifti(folder: Path) -> Path:
    """A DICOM series folder converted once per process to a temporary NIfTI file."""
    import atexit
    import shutil
    import tempfile

    from imaging.io import read_image, save_nifti

    folder = folder.resolve()
    if folder not in _DICOM_TMP:
        data, affine, _ = read_image(folder)
        tmp = Path(tempfile.mkdtemp(prefix="imaging-dicom-"))
        atexit.register(shutil.rmtree, tmp, True)
        _DICOM_TMP[folder] = save_nifti(data, affine, tmp / f"{folder.name}.nii.gz")
    return _DICOM_TMP[folder]


def read_pairs(path: str | os.PathLike[str]) -> pd.DataFrame:
    """Read a pairs table: columns ``patient, initial, repeat`` (case ids or mask paths)."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"pairs file not found: {path}")
    pairs = pd.read_csv(path, dtype=str)
    need = ["patient", "initial", "repeat"]
    missing = [c for c in need if c not in pairs.columns]
    if missing:
        raise ValueError(f"{path}: pairs table lacks columns {missing} (needs {need})")
    dup = pairs["patient"][pairs["patient"].duplicated()].tolist()
    if dup:
        raise ValueError(f"{path}: duplicate patients {dup[:10]}")
    return pairs[need]


def case_features(
    mask: str | os.PathLike[str],
    *,
    schema: Any = "brats",
    image: str | os.PathLike[str] | None = None,
    morphology: bool = False,
    radiomics: Any = None,
    radiomics_region: str = "WT",
    repeat: str | os.PathLike[str] | None = None,
    strict: bool = True,
) -> dict[str, Any]:
    """All requested features of one case as a flat dict (see module docstring for keys).

    Raises on the first failure; :func:`cohort_features` instead keeps the groups that
    worked and reports the rest in ``errors``.
    """
    row, errors = _case_features(
        mask, schema=schema, image=image, morphology=morphology, radiomics=radiomics,
        radiomics_region=radiomics_region, repeat=repeat, strict=strict, collect=False,
    )
    return row


def _case_features(
    mask: str | os.PathLike[str],
    *,
    schema: Any,
    image: Any,
    morphology: bool,
    radiomics: Any,
    radiomics_region: str,
    repeat: Any,
    strict: bool,
    collect: bool,
    image_error: str = "",
    isotropic: float | None = None,
) -> tuple[dict[str, Any], list[str]]:
    from imaging.io import as_label_array
    from imaging.labels import resolve_schema
    from imaging.volumes import (
        label_counts,
        subregion_percentages,
        subregion_volumes,
        volume_ratios,
    )

    arr, sp, aff = as_label_array(mask)  # a bad mask fails the whole case
    # no schema named: infer it, refusing a map whose values fit more than one schema
    sch = resolve_schema(schema, np.flatnonzero(label_counts(arr)), name=str(mask))
    vols = subregion_volumes(arr, sch, spacing=sp, strict=strict, name=str(mask))
    row: dict[str, Any] = dict(vols)
    if {"ET", "NCR", "ED", "WT"} <= set(vols.index):
        row.update(volume_ratios(vols))
    if "WT" in vols.index:
        row.update(subregion_percentages(vols))
    lesion_labels = list(sch.labels)
    errors: list[str] = []

    def group(name: str, fn: Any) -> None:
        try:
            row.update(fn())
        except Exception as exc:
            if not collect:
                raise
            errors.append(f"{name}: {type(exc).__name__}: {exc}")

    if morphology:
        from imaging.morphology import shape_measures

        group("morphology", lambda: {
            f"shape_{k}": v
            for k, v in shape_measures(
                arr, spacing=sp, affine=aff, label=lesion_labels, isotropic=isotropic
            ).items()
        })
    if repeat is not None:
        from imaging.morphology import compare_scans

        group("change", lambda: {
            f"change_{k}": v for k, v in compare_scans(mask, repeat, label=lesion_labels).items()
        })
    if radiomics is not None and radiomics is not False:

        def rad() -> dict[str, Any]:
            from imaging.radiomics import extract_case

            if image is None:
                raise FileNotFoundError(image_error or "radiomics needs an image for the case (--images)")
            labels = sch.region_labels(radiomics_region)
            present = [v for v in labels if np.any(arr == v)]
            if not present:
                raise ValueError(f"region {radiomics_region} is empty")
            params = None if radiomics is True else radiomics
            return extract_case(image, mask, params, present, isotropic=isotropic).to_dict()

        group("radiomics", rad)
    return row, errors


def _safe(case: str, kwargs: dict[str, Any]) -> tuple[str, dict[str, Any], str]:
    logging.getLogger("radiomics").setLevel(logging.ERROR)
    try:
        row, errors = _case_features(**kwargs, collect=True)
        return case, row, "; ".join(errors)
    except Exception as exc:  # a bad case is reported, the cohort goes on
        return case, {}, f"{type(exc).__name__}: {exc}"


def cohort_features(
    masks: str | os.PathLike[str],
    *,
    images: str | os.PathLike[str] | None = None,
    schema: Any = "brats",
    morphology: bool = False,
    radiomics: Any = None,
    radiomics_region: str = "WT",
    channel: int | None = None,
    pairs: str | os.PathLike[str] | pd.DataFrame | None = None,
    strict: bool = True,
    n_jobs: int = 1,
    progress: bool = True,
    isotropic: float | None = None,
) -> pd.DataFrame:
    """Per-patient feature table for a cohort of label maps.

    Parameters
    ----------
    masks : directory of ``<case>.nii[.gz]`` label maps
    images : directory of images, needed for radiomics (see :func:`find_image`)
    schema : label schema (name, file or LabelSchema); ``None`` infers it per case and fails
        a case whose values fit more than one schema (:func:`imaging.labels.infer_schema`)
    morphology : add ``shape_*`` columns (whole lesion = all schema labels)
    radiomics : None, True (default parameters) or a pyradiomics YAML parameter file / dict
    radiomics_region : region of ``schema`` to describe with radiomics (default WT)
    channel : image channel for radiomics (``<case>_<channel:04d>``); default ``<case>`` or
        ``<case>_0000``
    pairs : CSV path or DataFrame with ``patient, initial, repeat`` (case ids in ``masks`` or
        mask paths); rows are then the patients, features of the initial scan plus
        ``change_*`` columns
    strict : unknown labels are errors (``False``: ignored, logged)
    n_jobs : patients in parallel (joblib)
    progress : tqdm progress bar
    isotropic : mm, optional; resample to isotropic voxels before shape measures and
        radiomics (strongly anisotropic masks otherwise log a warning)

    Returns
    -------
    pandas.DataFrame
        Index ``patient``; the ``errors`` column is empty for good cases.
    """
    from joblib import Parallel, delayed

    sch = None if schema is None or str(schema).lower() == "auto" else get_schema(schema)
    found = find_cases(masks)
    jobs: dict[str, dict[str, Any]] = {}
    if pairs is not None:
        table = pairs if isinstance(pairs, pd.DataFrame) else read_pairs(pairs)

        def resolve(ref: str) -> Path:
            # a case id in the masks folder, else a path (a missing one fails only that case)
            return found[ref] if ref in found else Path(ref)

        for _, r in table.iterrows():
            jobs[str(r["patient"])] = {"mask": resolve(str(r["initial"])), "repeat": resolve(str(r["repeat"]))}
    else:
        jobs = {case: {"mask": path} for case, path in found.items()}
    for kw in jobs.values():
        kw.update(schema=sch, morphology=morphology, radiomics=radiomics, radiomics_region=radiomics_region,
                  strict=strict, isotropic=isotropic)
        if radiomics is not None and radiomics is not False:
            if images is None:
                raise ValueError("radiomics needs --images (a directory of images)")
            ref = _case_id(Path(kw["mask"]))
            try:
                kw["image"] = find_image(images, ref, channel)
            except FileNotFoundError as exc:
                kw["image"] = None
                kw["image_error"] = str(exc)
        else:
            kw["image"] = None
        kw.setdefault("repeat", None)
    tasks = list(jobs.items())
    gen = Parallel(n_jobs=n_jobs, return_as="generator")(delayed(_safe)(c, kw) for c, kw in tasks)
    if progress:
        from tqdm.auto import tqdm

        gen = tqdm(gen, total=len(tasks), desc="features", unit="case")
    rows, errors = {}, {}
    for case, row, err in gen:
        rows[case] = row
        errors[case] = err
        if err:
            logger.warning("case %s: %s", case, err)
    frame = pd.DataFrame.from_dict(rows, orient="index").reindex(list(jobs))
    frame.index.name = "patient"
    frame["errors"] = pd.Series(errors).reindex(frame.index).fillna("")
    return frame


def write_table(frame: pd.DataFrame, path: str | os.PathLike[str]) -> Path:
    """Write a feature table atomically (``.csv``, ``.tsv`` or ``.parquet`` by suffix)."""
    from imaging._io import atomic_path

    path = Path(path)
    suffix = path.suffix.lower()
    if suffix not in {".csv", ".tsv", ".parquet"}:
        raise ValueError(f"{path}: output must end in .csv, .tsv or .parquet")
    with atomic_path(path) as tmp:
        if suffix == ".parquet":
            out = frame.copy()
            for col in out.select_dtypes(include="object").columns:
                out[col] = out[col].astype(str)
            out.to_parquet(tmp)
        else:
            frame.to_csv(tmp, sep="\t" if suffix == ".tsv" else ",")
    return path
