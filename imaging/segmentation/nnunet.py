"""Run a user's trained nnU-Net v2 model folder and map its labels to our schema.

We delegate to the installed ``nnunetv2`` (``nnunetv2.inference.predict_from_raw_data.
nnUNetPredictor``) rather than re-implementing it. ``nnunetv2`` is an optional extra; it
must be installed with the CPU torch pinned in the same command, otherwise pip pulls a CUDA
build of torch::

    pip install torch==2.13.0 nnunetv2

(pip then installs the CUDA torchvision wheel, pulled in through timm, which does not load
with the CPU torch build; nnU-Net's inference path never imports torchvision.)

A trained model folder (e.g. ``nnUNetTrainer__nnUNetPlans__3d_fullres``) must contain::

    dataset.json                 channel names, labels (name -> value), file ending
    plans.json                   network and preprocessing plans
    fold_<k>/checkpoint_final.pth   one per fold used

:func:`check_model_folder` checks this layout up front and raises ``FileNotFoundError`` /
``ValueError`` naming every missing piece (nnU-Net itself asserts deep inside). Inputs follow
nnU-Net naming: ``<case>_0000.nii.gz``, ``<case>_0001.nii.gz``, ... one file per channel;
:func:`predict_nnunet` checks them up front too (nnU-Net silently predicts nothing when no file
matches its naming, and fails deep in preprocessing when a channel is missing).

Trust: nnU-Net loads its ``checkpoint_final.pth`` files with ``torch.load(...,
weights_only=False)``, i.e. it *unpickles* them, and a pickle can run arbitrary code. This
package otherwise never unpickles a file (our model folders load with ``weights_only=True``),
so :func:`predict_nnunet` refuses to run unless ``trust_checkpoint=True`` is passed
(``imaging segment --trust-checkpoint``): run only models from a source you trust.

Processes: ``num_processes=0`` runs nnU-Net's preprocessing, prediction and export in this
process (``predict_from_files_sequential``); ``num_processes>=1`` uses nnU-Net's background
workers, which are started with ``spawn`` and so re-import the calling script: guard a script's
entry point with ``if __name__ == "__main__":``.

Labels: nnU-Net writes the values of ``dataset.json["labels"]``; :func:`label_mapping` maps
each label *name* to a base region of our schema (ET, NCR, NET, CC, ED) by name, with common
synonyms ("enhancing tumor", "edema", "cyst", ...), or through an explicit
``{nnunet_name: region}`` mapping; :func:`remap_labels` rewrites a label map accordingly.
Region-based models (labels given as lists) need the explicit mapping of their
``regions_class_order`` values and are rejected otherwise.
"""

from __future__ import annotations

import logging
import os
import re
import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from imaging._io import read_json_object
from imaging.labels import get_schema

__all__ = [
    "INSTALL_HINT",
    "NnUNetFolder",
    "check_model_folder",
    "label_mapping",
    "remap_labels",
    "require_nnunetv2",
    "nnunet_cases",
    "predict_nnunet",
]

logger = logging.getLogger(__name__)

INSTALL_HINT = "pip install torch==2.13.0 nnunetv2"

_SYNONYMS: dict[str, tuple[str, ...]] = {
    "ET": ("et", "enhancing", "enhancing tumor", "enhancing tumour", "enhancing_tumor", "enhancing_tumour", "gd-enhancing tumor"),
    "NCR": ("ncr", "necrosis", "necrotic", "necrotic core", "ncr/net", "necrotic tumor core", "non-enhancing tumor core"),
    "NET": ("net", "non-enhancing", "nonenhancing", "non-enhancing tumor", "non-enhancing tumour", "non_enhancing_tumor", "nonenhancing tumor"),
    "CC": ("cc", "cyst", "cystic", "cystic component", "cystic_component"),
    "ED": ("ed", "edema", "oedema", "peritumoral edema", "peritumoural oedema", "snfh", "flair hyperintensity"),
}


def _norm(name: str) -> str:
    return re.sub(r"\s+", " ", str(name).strip().lower().replace("_", " "))


@dataclass(frozen=True)
class NnUNetFolder:
    """A checked nnU-Net v2 model folder."""

    path: Path
    dataset: dict[str, Any]
    plans: dict[str, Any]
    folds: tuple[int | str, ...]
    checkpoint_name: str

    @property
    def labels(self) -> dict[str, Any]:
        return dict(self.dataset["labels"])

    @property
    def n_channels(self) -> int:
        return len(self.dataset.get("channel_names") or self.dataset.get("modality") or {})


def check_model_folder(
    folder: str | os.PathLike[str],
    folds: Sequence[int | str] | None = None,
    checkpoint_name: str = "checkpoint_final.pth",
) -> NnUNetFolder:
    """Check an nnU-Net v2 trained model folder up front.

    Parameters
    ----------
    folder : the trainer/plans/configuration folder (holds dataset.json, plans.json, fold_*)
    folds : folds to use (default: every ``fold_<k>`` holding ``checkpoint_name``); "all"
        is nnU-Net's fold trained on all cases (``fold_all``).
    checkpoint_name : default ``checkpoint_final.pth``

    Raises
    ------
    FileNotFoundError
        The folder, ``dataset.json``, ``plans.json`` or a requested fold checkpoint is
        missing (the message lists everything missing and what was found).
    ValueError
        ``dataset.json`` lacks ``labels`` or ``channel_names``, or is not valid JSON.
    """
    path = Path(folder)
    if not path.is_dir():
        raise FileNotFoundError(f"nnU-Net model folder not found: {path}")
    missing = [n for n in ("dataset.json", "plans.json") if not (path / n).is_file()]
    fold_dirs = sorted(p for p in path.glob("fold_*") if p.is_dir())
    with_ckpt = {p.name[len("fold_"):]: p for p in fold_dirs if (p / checkpoint_name).is_file()}
    if folds is None:
        chosen: list[int | str] = [int(k) if k.isdigit() else k for k in sorted(with_ckpt)]
        if not chosen:
            missing.append(f"fold_*/{checkpoint_name}")
    else:
        chosen = [int(f) if str(f).isdigit() else str(f) for f in folds]
        missing += [f"fold_{f}/{checkpoint_name}" for f in chosen if str(f) not in with_ckpt]
    if missing:
        found = sorted(p.name for p in path.iterdir())
        raise FileNotFoundError(
            f"{path} is not a complete nnU-Net v2 model folder: missing {missing} "
            f"(found {found}). Expected dataset.json, plans.json and fold_<k>/{checkpoint_name}."
        )
    dataset = read_json_object(path / "dataset.json", "dataset.json")
    plans = read_json_object(path / "plans.json", "plans.json")
    for key in ("labels", "channel_names"):
        if key not in dataset and not (key == "channel_names" and "modality" in dataset):
            raise ValueError(f"{path / 'dataset.json'} has no {key!r} entry")
    return NnUNetFolder(path, dataset, plans, tuple(chosen), checkpoint_name)


def label_mapping(
    labels: Mapping[str, Any],
    schema: Any = "brats",
    mapping: Mapping[str, str] | None = None,
) -> dict[int, int]:
    """Map nnU-Net output values to our schema's label values.

    Parameters
    ----------
    labels : ``dataset.json["labels"]`` (name -> value; ``background`` -> 0)
    schema : target schema; each name is matched to a base region by name or synonym
    mapping : optional ``{nnunet_label_name: region}`` overriding the name matching
        (``region`` may be ``"background"`` to drop a label)

    Returns
    -------
    dict nnU-Net value -> our label value (the region's smallest label), 0 -> 0.

    Raises ``ValueError`` naming the labels that match no region, or region-based labels.
    """
    sch = get_schema(schema)
    explicit = {_norm(k): v for k, v in (mapping or {}).items()}
    out: dict[int, int] = {0: 0}
    unmatched = []
    for name, value in labels.items():
        if isinstance(value, list | tuple):
            if _norm(name) in explicit and len(value) == 1:
                value = value[0]
            else:
                raise ValueError(
                    f"label {name!r} is region-based ({value}); pass mapping={{name: region}} "
                    "for the values nnU-Net writes (regions_class_order)"
                )
        value = int(value)
        if value == 0 or _norm(name) == "background":
            continue
        region = explicit.get(_norm(name))
        if region is None:
            region = next(
                (r for r, syn in _SYNONYMS.items() if r in sch.regions and _norm(name) in syn), None
            )
            if region is None and name in sch.regions:
                region = name
        if region is None:
            unmatched.append(name)
            continue
        if region == "background":
            out[value] = 0
            continue
        if region not in sch.regions:
            raise ValueError(f"mapping sends {name!r} to {region!r}, not a region of schema {sch.name!r} ({list(sch.regions)})")
        out[value] = min(sch.regions[region])
    if unmatched:
        raise ValueError(
            f"nnU-Net labels {unmatched} match no region of schema {sch.name!r} "
            f"({list(sch.regions)}); pass mapping={{'<nnunet name>': '<region>'}}"
        )
    return out


def remap_labels(label_map: np.ndarray, mapping: Mapping[int, int]) -> np.ndarray:
    """Apply a value mapping to a label map; values without a mapping raise ``ValueError``."""
    arr = np.asarray(label_map).astype(np.int64)
    size = max(int(arr.max(initial=0)), *mapping.keys()) + 1
    lut = np.full(size, -1, dtype=np.int64)
    for k, v in mapping.items():
        lut[int(k)] = int(v)
    out = lut[arr]
    if (out < 0).any():
        bad = sorted(int(v) for v in np.unique(arr[out < 0]))
        raise ValueError(f"label values {bad} have no mapping (known {sorted(mapping)})")
    return out.astype(np.uint8)


def nnunet_cases(
    images_dir: str | os.PathLike[str], n_channels: int, file_ending: str = ".nii.gz"
) -> dict[str, list[Path]]:
    """The cases of an nnU-Net input folder: ``{case: [<case>_0000<ending>, ...]}``.

    Every case must have exactly the channels ``_0000`` ... ``_{n_channels - 1:04d}``.

    Raises
    ------
    FileNotFoundError
        The folder is missing or holds no ``<case>_<XXXX><file_ending>`` file.
    ValueError
        A case lacks channels or has extra ones (all such cases are named).
    """
    if int(n_channels) < 1:
        raise ValueError(f"n_channels must be >= 1 (dataset.json channel_names), got {n_channels}")
    images = Path(images_dir)
    if not images.is_dir():
        raise FileNotFoundError(f"images folder not found: {images}")
    pattern = re.compile(r"(.+)_(\d{4})" + re.escape(file_ending))
    by_case: dict[str, dict[int, Path]] = {}
    for f in sorted(images.iterdir()):
        m = pattern.fullmatch(f.name)
        if m and f.is_file():
            by_case.setdefault(m.group(1), {})[int(m.group(2))] = f
    if not by_case:
        found = sorted(p.name for p in images.iterdir())
        raise FileNotFoundError(
            f"no nnU-Net input images in {images}: expected <case>_0000{file_ending} ... "
            f"<case>_{n_channels - 1:04d}{file_ending} (found {found[:10]}"
            f"{' ...' if len(found) > 10 else ''})"
        )
    want = set(range(n_channels))
    bad = {
        case: f"missing {sorted(want - set(ch))}, extra {sorted(set(ch) - want)}"
        for case, ch in by_case.items()
        if set(ch) != want
    }
    if bad:
        raise ValueError(
            f"the model expects {n_channels} channel(s) (_0000 ... _{n_channels - 1:04d}) per case; "
            f"channel files do not match in {images}: {bad}"
        )
    return {case: [ch[i] for i in range(n_channels)] for case, ch in by_case.items()}


def require_nnunetv2() -> Any:
    """Import ``nnunetv2``'s predictor class or raise ``ImportError`` with the install command."""
    try:
        from nnunetv2.inference.predict_from_raw_data import nnUNetPredictor
    except ImportError as exc:
        raise ImportError(
            "running an nnU-Net model needs the optional 'nnunetv2' package; install it with the "
            f"CPU torch pinned in the same command: `{INSTALL_HINT}` "
            "(without the pin pip pulls a CUDA build of torch)"
        ) from exc
    return nnUNetPredictor


def predict_nnunet(
    model_folder: str | os.PathLike[str],
    images_dir: str | os.PathLike[str],
    out_dir: str | os.PathLike[str],
    *,
    schema: Any = "brats",
    mapping: Mapping[str, str] | None = None,
    folds: Sequence[int | str] | None = None,
    checkpoint_name: str = "checkpoint_final.pth",
    tta: bool = True,
    device: Any = None,
    num_processes: int = 0,
    trust_checkpoint: bool = False,
) -> list[Path]:
    """Segment ``images_dir`` with a trained nnU-Net v2 model; write our-schema label maps.

    The model folder, the label mapping and the input files (:func:`nnunet_cases`) are
    checked *before* ``nnunetv2`` is imported or any image is read. nnU-Net writes its
    predictions to a temporary folder; each is remapped to ``schema`` and written atomically
    as ``out_dir/<case>.nii.gz`` (same header).

    Parameters
    ----------
    num_processes : default 0 runs everything in this process (nnU-Net's sequential
        predictor: no worker start-up, no ``__main__`` guard needed); ``>= 1`` is the number
        of nnU-Net's preprocessing and export workers (started with ``spawn``: each worker
        re-imports torch and nnunetv2, ~10-20 s, which pays off only for many cases).
    device : torch device (default: CUDA when available, else CPU)
    trust_checkpoint : bool, default False
        Must be True: nnU-Net itself unpickles its checkpoints (``torch.load`` with
        ``weights_only=False``), which can run arbitrary code from the file. Pass True only
        for a model from a source you trust.

    Returns the written paths, one per case, in case order.

    Raises
    ------
    FileNotFoundError, ValueError
        From :func:`check_model_folder`, :func:`label_mapping` and :func:`nnunet_cases`;
        ``ValueError`` without ``trust_checkpoint=True``.
    ImportError
        ``nnunetv2`` is not installed (the message gives the install command).
    RuntimeError
        nnU-Net could not load the model (message names folder, folds and cause).
    """
    import nibabel as nib

    from imaging._io import atomic_path

    info = check_model_folder(model_folder, folds, checkpoint_name)
    if not trust_checkpoint:
        raise ValueError(
            f"{info.path}: nnU-Net unpickles its checkpoints (fold_*/{checkpoint_name}, torch.load with "
            "weights_only=False), which can run arbitrary code; pass trust_checkpoint=True "
            "(imaging segment --trust-checkpoint) only for a model from a source you trust"
        )
    lut = label_mapping(info.labels, schema, mapping)
    file_ending = str(info.dataset.get("file_ending", ".nii.gz"))
    if file_ending not in (".nii.gz", ".nii"):
        raise ValueError(
            f"{info.path / 'dataset.json'}: file_ending {file_ending!r} is not NIfTI; this adapter "
            "reads and writes .nii.gz / .nii"
        )
    cases = nnunet_cases(images_dir, info.n_channels, file_ending)
    if int(num_processes) < 0:
        raise ValueError(f"num_processes must be >= 0, got {num_processes}")
    predictor_cls = require_nnunetv2()
    import torch

    dev = torch.device(device) if device is not None else torch.device("cuda" if torch.cuda.is_available() else "cpu")
    predictor = predictor_cls(
        tile_step_size=0.5,
        use_gaussian=True,
        use_mirroring=tta,
        perform_everything_on_device=dev.type == "cuda",
        device=dev,
        verbose=False,
        allow_tqdm=True,
    )
    try:
        predictor.initialize_from_trained_model_folder(
            str(info.path), use_folds=info.folds, checkpoint_name=checkpoint_name
        )
    except Exception as exc:  # nnU-Net asserts / KeyErrors deep inside: add what was loaded
        raise ValueError(
            f"could not load the nnU-Net model in {info.path} (folds {info.folds}, "
            f"{checkpoint_name}; nnU-Net unpickles them): {type(exc).__name__}: {' '.join(str(exc).split())}. A trained checkpoint holds "
            "network_weights, init_args['configuration'] (a configuration of plans.json), "
            "trainer_name and inference_allowed_mirroring_axes."
        ) from exc
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    written = []
    with tempfile.TemporaryDirectory(prefix=".nnunet_", dir=out) as tmp:
        # explicit file lists: nnU-Net's folder listing would start a 12-process pool
        inputs = [[str(f) for f in files] for files in cases.values()]
        targets = [str(Path(tmp) / case) for case in cases]
        if int(num_processes) == 0:
            predictor.predict_from_files_sequential(inputs, targets, save_probabilities=False, overwrite=True)
        else:
            predictor.predict_from_files(
                inputs, targets, save_probabilities=False, overwrite=True,
                num_processes_preprocessing=int(num_processes),
                num_processes_segmentation_export=int(num_processes),
            )
        for case in cases:
            seg = Path(tmp) / f"{case}{file_ending}"
            if not seg.is_file():
                raise RuntimeError(f"nnU-Net wrote no prediction for case {case!r} (expected {seg.name})")
            img = nib.load(str(seg))
            data = remap_labels(np.asanyarray(img.dataobj), lut)
            new = nib.Nifti1Image(data, img.affine, img.header)
            new.set_data_dtype(np.uint8)
            with atomic_path(out / seg.name, suffix=file_ending) as t:
                nib.save(new, str(t))
            written.append(out / seg.name)
            logger.info("nnU-Net segmented %s -> %s", case, out / seg.name)
    return written
