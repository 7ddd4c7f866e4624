"""pyradiomics feature extraction for a cohort.

``pyradiomics`` (the ``pyradiomics-bhklab`` distribution, imported as ``radiomics``) is
imported lazily inside the functions, and its logger is quieted (ERROR and above). (This
module is ``imaging.radiomics``; ``import radiomics`` inside it is an absolute import of the
third-party package.)

Parameters follow pyradiomics' parameter file (YAML) format, e.g.::

    setting:
      binWidth: 25
      normalize: false
    imageType:
      Original: {}
    featureClass:
      shape: []          # [] = all features of the class
      firstorder: []
      glcm: [Contrast, Correlation]

Image and mask are checked with :mod:`imaging.io` first (readable, 3-D, same shape and
affine, integer labels) so that errors are clear; pyradiomics then reads the files itself.
"""

from __future__ import annotations

import importlib
import logging
import os
import warnings
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import pandas as pd

__all__ = ["DEFAULT_PARAMS", "extract_radiomics", "extract_case", "as_case_paths"]

logger = logging.getLogger(__name__)

#: used when ``params=None``: original image, shape + first-order + GLCM + GLRLM + GLSZM
#: features, bin width 25, no resampling.
DEFAULT_PARAMS: dict[str, Any] = {
    "setting": {"binWidth": 25, "normalize": False, "correctMask": False},
    "imageType": {"Original": {}},
    "featureClass": {"shape": [], "firstorder": [], "glcm": [], "glrlm": [], "glszm": []},
}


def _radiomics() -> Any:
    """Import the third-party ``radiomics`` package and quiet its logger."""
    rad = importlib.import_module("radiomics")
    rad.setVerbosity(logging.ERROR)
    logging.getLogger("radiomics").setLevel(logging.ERROR)
    logging.getLogger("pykwalify").setLevel(logging.WARNING)  # parameter validation chatter
    return rad


def _case_id(path: str | os.PathLike[str]) -> str:
    name = Path(path).name
    for suffix in (".nii.gz", ".nii", ".nrrd", ".mha", ".mhd"):
        if name.lower().endswith(suffix):
            return name[: -len(suffix)]
    return Path(path).stem


def as_case_paths(paths: Any, what: str = "images") -> dict[str, str]:
    """Normalise a cohort's files to ``{case id: path}``.

    Accepts a mapping or Series (case id -> path) or a sequence of paths (id = file name
    without ``.nii``/``.nii.gz``).
    """
    if isinstance(paths, pd.Series):
        paths = paths.to_dict()
    if isinstance(paths, Mapping):
        out = {str(k): str(v) for k, v in paths.items()}
    elif isinstance(paths, str | os.PathLike):
        raise ValueError(f"{what}: pass a list or mapping of files, not a single path ({paths})")
    elif isinstance(paths, Sequence):
        out = {}
        for p in paths:
            cid = _case_id(p)
            if cid in out:
                raise ValueError(f"{what}: duplicate case id {cid!r} ({out[cid]} and {p})")
            out[cid] = str(p)
    else:
        raise ValueError(f"{what}: expected a mapping or list of paths, got {type(paths).__name__}")
    return out


def _strip_channel(case: str, masks: Mapping[str, str]) -> str:
    """``<case>_0001`` -> ``<case>`` when ``<case>`` is a mask id (nnU-Net channel naming)."""
    stem, _, tail = case.rpartition("_")
    if stem and len(tail) == 4 and tail.isdigit() and stem in masks and case not in masks:
        return stem
    return case


def _load_params(params: Any, label: int) -> dict[str, Any] | str:
    if params is None:
        p = {k: (dict(v) if isinstance(v, dict) else v) for k, v in DEFAULT_PARAMS.items()}
    elif isinstance(params, Mapping):
        p = {k: (dict(v) if isinstance(v, Mapping) else v) for k, v in params.items()}
    else:
        path = Path(params)
        if not path.is_file():
            raise FileNotFoundError(f"radiomics parameter file not found: {path}")
        import yaml

        try:
            p = yaml.safe_load(path.read_text()) or {}
        except yaml.YAMLError as exc:
            raise ValueError(f"{path}: not a valid YAML parameter file ({exc})") from exc
        if not isinstance(p, dict):
            raise ValueError(f"{path}: a radiomics parameter file must be a YAML mapping")
    unknown = set(p) - {"setting", "imageType", "featureClass", "voxelSetting"}
    if unknown:
        raise ValueError(
            f"radiomics parameters: unknown top-level keys {sorted(unknown)} "
            "(expected setting, imageType, featureClass, voxelSetting)"
        )
    setting = dict(p.get("setting") or {})
    setting["label"] = int(label)
    p["setting"] = setting
    return p


def extract_case(
    image: str | os.PathLike[str],
    mask: str | os.PathLike[str],
    params: Any = None,
    label: int | Sequence[int] = 1,
    *,
    diagnostics: bool = False,
    isotropic: float | None = None,
) -> pd.Series:
    """pyradiomics features of one image/mask pair (a Series keyed by feature name).

    ``label`` is one mask value, or several (e.g. ``[1, 2, 3, 4]`` for a whole tumour): their
    union is then described as one region. Raises ``ValueError``/``FileNotFoundError`` with the
    file names for bad input.

    Texture and shape features of strongly anisotropic voxels (largest / smallest spacing >
    2, e.g. 0.5 × 0.5 × 5 mm) are not comparable across scans: a warning says so unless the
    parameters resample. ``isotropic=<mm>`` sets pyradiomics' own
    ``setting.resampledPixelSpacing`` to that isotropic spacing (image B-spline, mask nearest
    neighbour, as pyradiomics does).
    """
    import numpy as np

    from imaging.io import load_image_and_mask, voxel_spacing

    _, lab = load_image_and_mask(image, mask)
    sp = np.asarray(voxel_spacing(lab), dtype=float)
    p = _load_params(params, 1)
    if isotropic is not None:
        if not np.isfinite(isotropic) or isotropic <= 0:
            raise ValueError(f"isotropic spacing must be a positive number of mm, got {isotropic!r}")
        p["setting"]["resampledPixelSpacing"] = [float(isotropic)] * 3
        params = p
    elif sp.max() / sp.min() > 2 and not p["setting"].get("resampledPixelSpacing"):
        logging.getLogger(__name__).warning(
            "%s: strongly anisotropic voxels (%s mm); shape and texture features follow the slices: "
            "pass isotropic=%g (or setting.resampledPixelSpacing) to resample",
            mask, " x ".join(f"{v:g}" for v in sp), float(sp.min()),
        )
    labels = [int(v) for v in np.atleast_1d(label)]
    if not np.any(np.isin(np.asanyarray(lab.dataobj), labels)):
        raise ValueError(f"{mask}: label(s) {labels} not present in the mask")
    one = labels[0] if len(labels) == 1 else 1
    with warnings.catch_warnings():
        # pyradiomics' feature-class loader uses the deprecated importlib load_module()
        warnings.simplefilter("ignore", DeprecationWarning)
        rad = _radiomics()
        from radiomics import featureextractor  # noqa: F401  (import after quieting)

        extractor = rad.featureextractor.RadiomicsFeatureExtractor(_load_params(params, one))
        if len(labels) == 1:
            result = extractor.execute(str(image), str(mask), label=one)
        else:
            import SimpleITK as sitk

            img = sitk.ReadImage(str(image))
            msk = sitk.ReadImage(str(mask))
            arr = np.isin(sitk.GetArrayFromImage(msk), labels).astype(np.uint8)
            union = sitk.GetImageFromArray(arr)
            union.CopyInformation(msk)
            result = extractor.execute(img, union, label=1)
    out = {}
    for key, value in result.items():
        if key.startswith("diagnostics_") and not diagnostics:
            continue
        try:
            out[key] = float(value)
        except (TypeError, ValueError):
            out[key] = str(value)
    return pd.Series(out, name=_case_id(image))


def _safe_case(case: str, image: str, mask: str, params: Any, label: Any) -> tuple[str, pd.Series | None, str]:
    logging.getLogger("radiomics").setLevel(logging.ERROR)
    try:
        return case, extract_case(image, mask, params, label), ""
    except Exception as exc:  # reported per case, the cohort goes on
        return case, None, f"{type(exc).__name__}: {exc}"


def extract_radiomics(
    images: Any,
    masks: Any,
    params: Any = None,
    label: int | Sequence[int] = 1,
    n_jobs: int = 1,
    *,
    on_error: str = "raise",
    progress: bool = False,
) -> pd.DataFrame:
    """pyradiomics features for a cohort: one row per patient.

    Parameters
    ----------
    images, masks : mapping (case id -> path), Series, or list of paths
        One image and one label map per case (NIfTI; same space). Lists are matched by case
        id = file name without extension; an image named ``<case>_0001.nii.gz`` (nnU-Net
        channel naming, any 4-digit channel) matches mask ``<case>.nii.gz``.
    params : path to a YAML parameter file, dict, or None
        pyradiomics parameters (see module docstring); ``None`` uses :data:`DEFAULT_PARAMS`.
        ``setting.label`` is set from ``label``.
    label : int or sequence of int, default 1
        Mask value(s) of the region to describe (several values are united).
    n_jobs : int, default 1
        Cases in parallel (joblib).
    on_error : {"raise", "report"}
        ``"report"`` keeps going and writes the message in an ``errors`` column (empty string
        for good cases).
    progress : bool
        Show a tqdm progress bar.

    Returns
    -------
    pandas.DataFrame
        Index ``patient`` (case ids, sorted); columns pyradiomics feature names (e.g.
        ``original_shape_Sphericity``), plus ``errors`` with ``on_error="report"``.
    """
    if on_error not in {"raise", "report"}:
        raise ValueError(f"on_error must be 'raise' or 'report', got {on_error!r}")
    imgs = as_case_paths(images, "images")
    msks = as_case_paths(masks, "masks")
    imgs = {_strip_channel(k, msks): v for k, v in imgs.items()}
    missing = sorted(set(imgs) ^ set(msks))
    if missing:
        raise ValueError(
            f"images and masks do not match: cases without a partner {missing[:10]}"
            + (" ..." if len(missing) > 10 else "")
        )
    if on_error == "raise":
        _load_params(params, 1)  # fail early on a bad parameter file
    cases = sorted(imgs)
    from joblib import Parallel, delayed

    iterator: Any = cases
    if progress:
        from tqdm.auto import tqdm

        iterator = tqdm(cases, desc="radiomics", unit="case")
    results = Parallel(n_jobs=n_jobs)(
        delayed(_safe_case)(c, imgs[c], msks[c], params, label) for c in iterator
    )
    rows, errors = {}, {}
    for case, series, err in results:
        if err and on_error == "raise":
            raise ValueError(f"radiomics failed for case {case!r}: {err}")
        rows[case] = series if series is not None else pd.Series(dtype=float)
        errors[case] = err
        if err:
            logger.warning("radiomics: case %s failed: %s", case, err)
    frame = pd.DataFrame.from_dict(rows, orient="index")
    frame = frame.reindex(cases)
    frame.index.name = "patient"
    if on_error == "report":
        frame["errors"] = pd.Series(errors)
    return frame
