"""3D U-Net models built from a small JSON-serialisable config.

The network is MONAI's ``DynUNet`` (an nnU-Net-like plain convolutional U-Net: two 3×3×3
convolutions + instance norm + leaky ReLU per level, strided-convolution down-sampling,
transposed-convolution up-sampling, skip connections). ``in_channels`` is the number of
modalities, ``out_channels`` the number of schema regions + 1 (background).

A *model folder* is::

    model_dir/
      config.json     UNetConfig as JSON (architecture, channels, schema, class labels)
      fold_0.pt       state dict (torch.save(model.state_dict()))
      fold_1.pt       ... one per fold; several folds form an ensemble

State dicts are loaded with ``torch.load(path, weights_only=True)`` only — no pickled
objects are ever unpickled.

Output channel ``c`` of the network stands for label value ``config.class_labels[c]``
(``class_labels[0] == 0`` is background); by default channel ``i >= 1`` is the ``i``-th base
region of the schema with its smallest label value (BraTS: ET -> 3, NCR -> 1, ED -> 2).
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

import numpy as np

from imaging._io import atomic_path, read_json_object
from imaging.labels import get_schema

__all__ = [
    "UNetConfig",
    "build_model",
    "save_model",
    "load_model",
    "load_state_dict",
    "model_parts",
    "labels_to_classes",
    "classes_to_labels",
]

logger = logging.getLogger(__name__)

CONFIG_NAME = "config.json"


@dataclass
class UNetConfig:
    """Configuration of a 3D U-Net (MONAI ``DynUNet``).

    Attributes
    ----------
    in_channels : int
        Number of input modalities (e.g. 4: T1, T1c, T2, FLAIR).
    out_channels : int
        Number of classes = schema base regions + 1 (background).
    filters : tuple of int
        Feature maps per resolution level; level 0 keeps full resolution, every further
        level halves it (stride 2), so ``len(filters) - 1`` down-samplings.
    kernel_size : int
        Convolution kernel edge (3).
    schema : str
        Label schema name (``imaging.labels``).
    class_labels : tuple of int
        Label value written for each output channel; ``class_labels[0] == 0``.
    channel_names : tuple of str
        Modality names in input order (nnU-Net file suffixes ``_0000``, ``_0001``, ...).
    patch_size : tuple of int
        Training patch and sliding-window ROI size (voxels, x, y, z); every entry must be
        divisible by ``2 ** (len(filters) - 1)``.
    roi_size : tuple of int or None
        Sliding-window ROI at inference (default ``patch_size``). A window larger than
        the training patch is only sensible with ``norm="batch"`` (instance-norm statistics
        depend on the window content).
    norm : str
        Normalisation layer ("instance", as nnU-Net, or "batch").
    description : str
        Free text (provenance).
    spacing : (sx, sy, sz) mm or None
        Voxel spacing the model was trained at (canonical RAS+ axis order). Inference
        resamples each case to it and the prediction back onto the input grid
        (:mod:`imaging.segmentation.inference`). ``None`` (old model folders): the input is
        used at its own spacing, with a warning. A legacy ``extra["spacing_mm"]`` is read as
        the spacing.
    orientation : str
        Axis orientation of the training arrays; always ``"RAS"`` (canonical RAS+: inputs
        are reoriented to it before inference and the output turned back).
    """

    in_channels: int = 4
    out_channels: int = 4
    filters: tuple[int, ...] = (16, 32, 64, 128)
    kernel_size: int = 3
    schema: str = "brats"
    class_labels: tuple[int, ...] = (0, 3, 1, 2)
    channel_names: tuple[str, ...] = ("T1", "T1c", "T2", "FLAIR")
    patch_size: tuple[int, int, int] = (64, 64, 64)
    roi_size: tuple[int, int, int] | None = None
    norm: str = "instance"
    description: str = ""
    extra: dict[str, Any] = field(default_factory=dict)
    spacing: tuple[float, float, float] | None = None
    orientation: str = "RAS"

    def __post_init__(self) -> None:
        if self.spacing is None and isinstance(self.extra, dict) and self.extra.get("spacing_mm") is not None:
            self.spacing = tuple(self.extra["spacing_mm"])  # type: ignore[assignment]
        if self.spacing is not None:
            sp = tuple(float(v) for v in self.spacing)
            if len(sp) != 3 or not all(np.isfinite(v) and v > 0 for v in sp):
                raise ValueError(f"spacing must be three positive numbers of mm (x, y, z), got {self.spacing!r}")
            self.spacing = sp  # type: ignore[assignment]
        if str(self.orientation).upper() != "RAS":
            raise ValueError(
                f"orientation {self.orientation!r} is not supported: models are trained and run on "
                "canonical RAS+ arrays"
            )
        self.orientation = "RAS"
        self.filters = tuple(int(f) for f in self.filters)
        self.class_labels = tuple(int(v) for v in self.class_labels)
        self.channel_names = tuple(str(c) for c in self.channel_names)
        self.patch_size = tuple(int(p) for p in self.patch_size)  # type: ignore[assignment]
        if self.roi_size is not None:
            self.roi_size = tuple(int(p) for p in self.roi_size)  # type: ignore[assignment]
        if self.norm not in ("instance", "batch"):
            raise ValueError(f"norm must be 'instance' or 'batch', got {self.norm!r}")
        if self.in_channels < 1 or self.out_channels < 2:
            raise ValueError(
                f"in_channels must be >= 1 and out_channels >= 2, got {self.in_channels}, {self.out_channels}"
            )
        if len(self.filters) < 3:
            raise ValueError(f"filters needs at least three levels (MONAI DynUNet), got {self.filters}")
        if len(self.class_labels) != self.out_channels or self.class_labels[0] != 0:
            raise ValueError(
                f"class_labels {self.class_labels} must have out_channels={self.out_channels} "
                "entries and start with 0 (background)"
            )
        if len(set(self.class_labels)) != len(self.class_labels):
            raise ValueError(f"class_labels must be distinct, got {self.class_labels}")
        if len(self.channel_names) != self.in_channels:
            raise ValueError(
                f"channel_names {self.channel_names} must have in_channels={self.in_channels} entries"
            )
        div = 2 ** (len(self.filters) - 1)
        for name in ("patch_size", "roi_size"):
            size = getattr(self, name)
            if size is not None and (len(size) != 3 or any(p % div for p in size)):
                raise ValueError(
                    f"{name} {size} must be three sizes divisible by {div} "
                    f"(2 ** number of down-samplings for filters={self.filters})"
                )

    @classmethod
    def from_schema(
        cls,
        schema: Any = "brats",
        channel_names: Sequence[str] = ("T1", "T1c", "T2", "FLAIR"),
        **kwargs: Any,
    ) -> UNetConfig:
        """Config whose classes are the base regions of ``schema`` (smallest label each)."""
        sch = get_schema(schema)
        labels = (0, *(min(labs) for labs in sch.regions.values()))
        return cls(
            in_channels=len(channel_names),
            out_channels=len(labels),
            schema=sch.name,
            class_labels=labels,
            channel_names=tuple(channel_names),
            **kwargs,
        )

    @property
    def window(self) -> tuple[int, int, int]:
        """Sliding-window ROI used at inference (``roi_size`` or ``patch_size``)."""
        return tuple(self.roi_size or self.patch_size)  # type: ignore[return-value]

    @property
    def strides(self) -> list[int]:
        return [1] + [2] * (len(self.filters) - 1)

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        for k in ("filters", "class_labels", "channel_names", "patch_size", "roi_size", "spacing"):
            d[k] = None if d[k] is None else list(d[k])
        return d

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> UNetConfig:
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise ValueError(f"unknown UNetConfig fields {unknown}; known: {sorted(known)}")
        return cls(**data)

    def save(self, path: str | os.PathLike[str]) -> Path:
        path = Path(path)
        with atomic_path(path) as tmp:
            tmp.write_text(json.dumps(self.to_dict(), indent=2) + "\n")
        return path

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> UNetConfig:
        path = Path(path)
        if not path.is_file():
            raise FileNotFoundError(f"model config not found: {path}")
        data = read_json_object(path, "a model config")
        try:
            return cls.from_dict(data)
        except (TypeError, ValueError) as exc:
            raise ValueError(f"{path}: {' '.join(str(exc).split())}") from None


def build_model(config: UNetConfig) -> Any:
    """A MONAI ``DynUNet`` (3D) for ``config``; weights are freshly initialised."""
    from monai.networks.nets import DynUNet

    n = len(config.filters)
    k = int(config.kernel_size)
    norm = ("INSTANCE", {"affine": True}) if config.norm == "instance" else "BATCH"
    return DynUNet(
        spatial_dims=3,
        in_channels=config.in_channels,
        out_channels=config.out_channels,
        kernel_size=[k] * n,
        strides=config.strides,
        upsample_kernel_size=config.strides[1:],
        filters=list(config.filters),
        norm_name=norm,
        res_block=False,
    )


def model_parts(model: Any) -> dict[str, list[Any]]:
    """Modules of the encoder and the decoder of a ``DynUNet``.

    ``encoder`` = input block, down-sampling blocks and bottleneck; ``decoder`` =
    up-sampling blocks and the output (1×1×1 convolution) block.
    """
    missing = [a for a in ("input_block", "downsamples", "bottleneck", "upsamples", "output_block") if not hasattr(model, a)]
    if missing:
        raise ValueError(f"model_parts needs a MONAI DynUNet; {type(model).__name__} lacks {missing}")
    return {
        "encoder": [model.input_block, model.downsamples, model.bottleneck],
        "decoder": [model.upsamples, model.output_block],
    }


def load_state_dict(path: str | os.PathLike[str], *, map_location: Any = "cpu") -> dict[str, Any]:
    """Read a state dict with ``torch.load(path, weights_only=True)`` (never full unpickling)."""
    import pickle

    import torch

    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"checkpoint not found: {path}")
    try:
        state = torch.load(str(path), map_location=map_location, weights_only=True)
    except pickle.UnpicklingError as exc:
        if "weights_only" in str(exc) or "Weights only" in str(exc):
            raise ValueError(
                f"{path}: the checkpoint holds pickled Python objects, which torch.load(weights_only=True) "
                "refuses to unpickle (they could run code); save a plain state dict "
                "(torch.save(model.state_dict(), path)) from a source you trust"
            ) from None
        raise ValueError(f"{path}: not a readable torch checkpoint ({_first_line(exc)})") from None
    except (RuntimeError, EOFError, OSError, ValueError) as exc:
        raise ValueError(
            f"{path}: cannot read the checkpoint, truncated or not a torch file ({_first_line(exc)})"
        ) from None
    if isinstance(state, dict) and "state_dict" in state and isinstance(state["state_dict"], dict):
        state = state["state_dict"]
    if not isinstance(state, dict):
        raise ValueError(f"{path}: expected a state dict, got {type(state).__name__}")
    return state


def _first_line(exc: BaseException) -> str:
    """The first sentence of an exception's first line (torch's messages run long)."""
    text = str(exc).strip().splitlines()
    if not text:
        return type(exc).__name__
    line = " ".join(text[0].split())
    return line.split(". ", 1)[0].rstrip(".")


def save_model(
    model: Any | Sequence[Any],
    config: UNetConfig,
    model_dir: str | os.PathLike[str],
    *,
    folds: Sequence[int] | None = None,
) -> Path:
    """Write ``config.json`` and ``fold_<k>.pt`` state dicts (one per model) into ``model_dir``.

    Each file is written atomically; existing folds with other numbers are left alone.
    """
    import torch

    models = list(model) if isinstance(model, list | tuple) else [model]
    folds = list(range(len(models))) if folds is None else list(folds)
    if len(folds) != len(models):
        raise ValueError(f"{len(models)} models but {len(folds)} fold numbers")
    out = Path(model_dir)
    out.mkdir(parents=True, exist_ok=True)
    config.save(out / CONFIG_NAME)
    for k, m in zip(folds, models, strict=True):
        state = {key: v.detach().cpu() for key, v in m.state_dict().items()}
        with atomic_path(out / f"fold_{k}.pt", suffix=".pt") as tmp:
            torch.save(state, str(tmp))
    for p in [out / CONFIG_NAME, *(out / f"fold_{k}.pt" for k in folds)]:
        p.chmod(0o644)  # mkstemp creates 0600 files; a model folder is meant to be shared
    return out


def _fold_files(model_dir: Path) -> list[tuple[int, Path]]:
    found = []
    for p in model_dir.glob("fold_*.pt"):
        try:
            found.append((int(p.stem.split("_", 1)[1]), p))
        except ValueError:
            continue
    return sorted(found)


def load_model(
    model_dir: str | os.PathLike[str],
    *,
    folds: Sequence[int] | None = None,
    device: Any = "cpu",
) -> tuple[UNetConfig, list[Any]]:
    """Load a model folder: ``(config, [model per fold])``, models in eval mode on ``device``.

    Raises ``FileNotFoundError`` naming what is missing (``config.json``, fold files) and
    ``ValueError`` (one line naming the file) for a truncated or unreadable checkpoint, one
    that holds pickled objects (refused by ``weights_only=True``), or weights that do not fit
    the config.
    """
    model_dir = Path(model_dir)
    if not model_dir.is_dir():
        raise FileNotFoundError(f"model folder not found: {model_dir}")
    config = UNetConfig.load(model_dir / CONFIG_NAME)
    available = _fold_files(model_dir)
    if not available:
        raise FileNotFoundError(f"{model_dir}: no fold_<k>.pt state dicts found")
    if folds is not None:
        wanted = {int(f) for f in folds}
        have = {k for k, _ in available}
        if wanted - have:
            raise FileNotFoundError(
                f"{model_dir}: folds {sorted(wanted - have)} not found (available {sorted(have)})"
            )
        available = [(k, p) for k, p in available if k in wanted]
    models = []
    for k, path in available:
        net = build_model(config)
        net.fold_name = f"fold_{k}"  # names the member files of `segment --save-members`
        state = load_state_dict(path)
        try:
            net.load_state_dict(state)
        except RuntimeError as exc:
            want = net.state_dict()
            missing = [k for k in want if k not in state]
            unexpected = [k for k in state if k not in want]
            sized = [
                f"{k} {tuple(state[k].shape)} vs {tuple(want[k].shape)}"
                for k in want if k in state and hasattr(state[k], "shape") and tuple(state[k].shape) != tuple(want[k].shape)
            ]
            detail = "; ".join(
                part for part in (
                    f"{len(missing)} missing key(s), e.g. {missing[0]}" if missing else "",
                    f"{len(unexpected)} unexpected key(s), e.g. {unexpected[0]}" if unexpected else "",
                    f"{len(sized)} shape mismatch(es), e.g. {sized[0]} (checkpoint vs config)" if sized else "",
                ) if part
            ) or _first_line(exc)
            raise ValueError(
                f"{path}: the weights do not match {model_dir / CONFIG_NAME} ({detail}); "
                "was the checkpoint trained with another config?"
            ) from None
        net.to(device).eval()
        models.append(net)
    return config, models


def labels_to_classes(label_map: np.ndarray, config: UNetConfig) -> np.ndarray:
    """Map a label map (schema label values) to class indices ``0 .. out_channels-1``.

    Every label value of a schema region maps to that region's class (BraTS ET 3 and 4 both
    map to the ET class). Raises ``ValueError`` for labels the schema does not know.
    """
    sch = get_schema(config.schema)
    lut_size = max(int(np.max(label_map, initial=0)), max(sch.labels), max(config.class_labels)) + 1
    lut = np.full(lut_size, -1, dtype=np.int64)
    lut[0] = 0
    for c, lab in enumerate(config.class_labels):
        lut[lab] = c
    for labs in sch.regions.values():
        owner = [c for c, lab in enumerate(config.class_labels) if lab in labs]
        if owner:
            lut[list(labs)] = owner[0]
    arr = np.asarray(label_map).astype(np.int64)
    out = lut[arr]
    if (out < 0).any():
        bad = sorted(int(v) for v in np.unique(arr[out < 0]))
        raise ValueError(f"label values {bad} are not classes of the model (class_labels {config.class_labels})")
    return out.astype(np.uint8)


def classes_to_labels(classes: np.ndarray, config: UNetConfig) -> np.ndarray:
    """Map class indices back to label values (``config.class_labels``), uint8."""
    lut = np.asarray(config.class_labels, dtype=np.uint8)
    return lut[np.asarray(classes, dtype=np.int64)]
