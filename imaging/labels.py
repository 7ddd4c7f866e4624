"""Label schemas: which integer values of a label map form which tumour sub-region.

Schemas are data, not code: the built-in ones live in ``imaging/schemas/*.json`` and a user
schema is a small JSON or YAML file of the same form::

    name: my_schema
    regions:            # base regions, in output order; each owns one or more label values
      ET: {labels: [4, 3]}
      NCR: {labels: [1]}
      ED: {labels: [2]}
    composites:         # unions of base regions
      TC: [ET, NCR]
      WT: [ET, NCR, ED]

(``regions`` may also map a name straight to a list of labels: ``ET: [4, 3]``.)

Built-in schemas
----------------
``brats``
    BraTS adult glioma: 1 necrosis / non-enhancing core (NCR), 2 edema (ED), 4 (BraTS up to
    2021) or 3 (BraTS 2023) enhancing tumour (ET); TC = ET + NCR, WT = ET + NCR + ED.
``paediatric`` (aliases ``pediatric``, ``peds``, ``brats-peds``)
    Paediatric four-region schema: 1 enhancing (ET), 2 non-enhancing (NET), 3 cystic
    component (CC), 4 edema (ED); TC = ET + NET + CC, WT = all four.

Label 0 is always background. Only numpy is needed (YAML schemas import ``yaml`` lazily).
"""

from __future__ import annotations

import functools
import json
import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

__all__ = [
    "LabelSchema",
    "available_schemas",
    "get_schema",
    "load_schema",
    "check_labels",
    "region_masks",
]

_SCHEMA_DIR = Path(__file__).resolve().parent / "schemas"


@dataclass(frozen=True)
class LabelSchema:
    """A label schema.

    Attributes
    ----------
    name : str
    regions : dict[str, tuple[int, ...]]
        Base region -> label values it owns (disjoint across regions, never 0).
    composites : dict[str, tuple[str, ...]]
        Composite region -> base regions it unites (e.g. ``TC``, ``WT``).
    description : str
    """

    name: str
    regions: dict[str, tuple[int, ...]]
    composites: dict[str, tuple[str, ...]] = field(default_factory=dict)
    description: str = ""

    def __post_init__(self) -> None:
        if not self.regions:
            raise ValueError(f"label schema {self.name!r} has no regions")
        seen: dict[int, str] = {}
        for region, labels in self.regions.items():
            if not labels:
                raise ValueError(f"label schema {self.name!r}: region {region!r} has no labels")
            for lab in labels:
                if int(lab) != lab or lab <= 0:
                    raise ValueError(
                        f"label schema {self.name!r}: region {region!r} has label {lab!r}; "
                        "labels must be positive integers (0 is background)"
                    )
                if lab in seen:
                    raise ValueError(
                        f"label schema {self.name!r}: label {lab} belongs to both "
                        f"{seen[lab]!r} and {region!r}"
                    )
                seen[lab] = region
        for comp, parts in self.composites.items():
            if comp in self.regions:
                raise ValueError(f"label schema {self.name!r}: {comp!r} is both a region and a composite")
            unknown = [p for p in parts if p not in self.regions]
            if unknown:
                raise ValueError(
                    f"label schema {self.name!r}: composite {comp!r} refers to unknown "
                    f"regions {unknown}; regions are {list(self.regions)}"
                )

    @property
    def labels(self) -> tuple[int, ...]:
        """All foreground label values of the schema, sorted."""
        return tuple(sorted(lab for labs in self.regions.values() for lab in labs))

    @property
    def names(self) -> list[str]:
        """Output order: base regions, then composites."""
        return [*self.regions, *self.composites]

    def region_labels(self, name: str) -> tuple[int, ...]:
        """Label values of a base or composite region."""
        if name in self.regions:
            return self.regions[name]
        if name in self.composites:
            return tuple(sorted(lab for r in self.composites[name] for lab in self.regions[r]))
        raise KeyError(f"region {name!r} not in schema {self.name!r}; known: {self.names}")

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], *, name: str | None = None) -> LabelSchema:
        """Build a schema from the JSON/YAML mapping described in the module docstring."""
        if not isinstance(data, Mapping) or "regions" not in data:
            raise ValueError("a label schema needs a 'regions' mapping (region -> labels)")
        if not isinstance(data["regions"], Mapping) or not isinstance(
            data.get("composites") or {}, Mapping
        ):
            raise ValueError("label schema: 'regions' (and 'composites') must be mappings "
                             "(name -> list of labels / of regions)")
        regions: dict[str, tuple[int, ...]] = {}
        for region, spec in dict(data["regions"]).items():
            labs = spec.get("labels") if isinstance(spec, Mapping) else spec
            if isinstance(labs, int | float):
                labs = [labs]
            if labs is None or not isinstance(labs, Iterable):
                raise ValueError(f"label schema: region {region!r} needs a list of labels")
            regions[str(region)] = tuple(int(v) if float(v) == int(v) else v for v in labs)
        composites = {
            str(k): tuple(str(p) for p in v) for k, v in dict(data.get("composites") or {}).items()
        }
        return cls(
            name=str(data.get("name") or name or "custom"),
            regions=regions,
            composites=composites,
            description=str(data.get("description", "")),
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "description": self.description,
            "regions": {k: {"labels": list(v)} for k, v in self.regions.items()},
            "composites": {k: list(v) for k, v in self.composites.items()},
        }


@functools.lru_cache(maxsize=1)
def _builtin_files() -> dict[str, Path]:
    out: dict[str, Path] = {}
    for path in sorted(_SCHEMA_DIR.glob("*.json")):
        data = json.loads(path.read_text())
        out[path.stem] = path
        for alias in data.get("aliases", []):
            out[alias] = path
    return out


@functools.lru_cache(maxsize=16)
def _load_builtin(path: Path) -> LabelSchema:
    return load_schema(path)


def available_schemas() -> list[str]:
    """Names (and aliases) of the built-in schemas."""
    return sorted(_builtin_files())


def load_schema(path: str | os.PathLike[str]) -> LabelSchema:
    """Read a user schema from a ``.json``, ``.yaml`` or ``.yml`` file."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"label schema file not found: {path}")
    text = path.read_text()
    if path.suffix.lower() in {".yaml", ".yml"}:
        import yaml

        try:
            data = yaml.safe_load(text)
        except yaml.YAMLError as exc:
            raise ValueError(f"label schema file {path} is not valid YAML: "
                             f"{' '.join(str(exc).split())}") from None
    else:
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise ValueError(f"label schema file {path} is not valid JSON: {exc}") from None
    if not isinstance(data, Mapping):
        raise ValueError(f"label schema file {path} must hold a mapping with 'regions' "
                         f"(and optional 'composites'), got {type(data).__name__}")
    return LabelSchema.from_dict(data, name=path.stem)


def get_schema(schema: str | os.PathLike[str] | Mapping[str, Any] | LabelSchema = "brats") -> LabelSchema:
    """Resolve ``schema``: a :class:`LabelSchema`, a built-in name, a file path or a mapping."""
    if isinstance(schema, LabelSchema):
        return schema
    if isinstance(schema, Mapping):
        return LabelSchema.from_dict(schema)
    builtins = _builtin_files()
    key = str(schema).lower()
    if key in builtins:
        return _load_builtin(builtins[key])
    if Path(schema).suffix.lower() in {".json", ".yaml", ".yml"}:
        return load_schema(schema)
    raise ValueError(
        f"unknown label schema {schema!r}; built-in schemas are {available_schemas()} "
        "(or pass a .json/.yaml schema file)"
    )


def check_labels(
    values: np.ndarray | Iterable[int], schema: Any = "brats", *, strict: bool = True
) -> list[int]:
    """Check that every non-zero value of a label map belongs to ``schema``.

    Parameters
    ----------
    values : array-like of int
        A label map (any shape) or the set of values present in it.
    schema : schema name, path, mapping or LabelSchema
    strict : bool, default True
        Raise ``ValueError`` on unknown labels; with ``strict=False`` return them instead
        (and log a warning).

    Returns
    -------
    list of int
        The unknown label values (empty when all are known).
    """
    sch = get_schema(schema)
    present = np.unique(np.asarray(values))
    unknown = sorted(int(v) for v in present if v != 0 and v not in sch.labels)
    if unknown:
        msg = (
            f"label map has values {unknown} that are not in schema {sch.name!r} "
            f"(known labels {list(sch.labels)}; 0 = background)"
        )
        if strict:
            raise ValueError(msg)
        import logging

        logging.getLogger(__name__).warning(msg)
    return unknown


def region_masks(label_map: np.ndarray, schema: Any = "brats") -> dict[str, np.ndarray]:
    """Boolean mask of every base and composite region of ``schema`` (same axis order as input)."""
    sch = get_schema(schema)
    arr = np.asarray(label_map)
    return {name: np.isin(arr, sch.region_labels(name)) for name in sch.names}
