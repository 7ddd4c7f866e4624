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
    2021) or 3 (BraTS 2023) enhancing tumour (ET); TC = ET + NCR, WT = ET + NCR + ED. One map
    may use only ONE of the two ET conventions: a map holding both 3 and 4 is refused (it is
    either a paediatric map or a mix of conventions).
``brats2021`` / ``brats2023``
    The same with only ET = 4 (BraTS <= 2021) or only ET = 3 (BraTS 2023).
``paediatric`` (aliases ``pediatric``, ``peds``, ``brats-peds``)
    Paediatric four-region schema: 1 enhancing (ET), 2 non-enhancing (NET), 3 cystic
    component (CC), 4 edema (ED); TC = ET + NET + CC, WT = all four, and seed 002's
    composite ``NET+CC+ED`` (the non-enhancing components with the edema).

Which schema? Labels 1-4 fit both the adult and the paediatric schemas, so the values of a
map cannot say which one it follows. :func:`infer_schema` (used when no schema is named,
``schema=None``) accepts a map only when exactly one built-in schema fits it cleanly, and
otherwise refuses it with a message naming the file, the values found and the choices.
:func:`set_et_label` writes either BraTS ET convention.

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
    "infer_schema",
    "resolve_schema",
    "set_et_label",
    "region_masks",
    "label_counts",
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
    exclusive : tuple of tuples of int
        Groups of label values that must not occur together in one map (BraTS: ``(3, 4)``,
        the 2023 and the <= 2021 enhancing-tumour labels).
    """

    name: str
    regions: dict[str, tuple[int, ...]]
    composites: dict[str, tuple[str, ...]] = field(default_factory=dict)
    description: str = ""
    exclusive: tuple[tuple[int, ...], ...] = ()

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
        exclusive = tuple(tuple(int(v) for v in group) for group in data.get("exclusive") or ())
        return cls(
            name=str(data.get("name") or name or "custom"),
            regions=regions,
            composites=composites,
            description=str(data.get("description", "")),
            exclusive=exclusive,
        )

    def to_dict(self) -> dict[str, Any]:
        out = {
            "name": self.name,
            "description": self.description,
            "regions": {k: {"labels": list(v)} for k, v in self.regions.items()},
            "composites": {k: list(v) for k, v in self.composites.items()},
        }
        if self.exclusive:
            out["exclusive"] = [list(g) for g in self.exclusive]
        return out


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


def label_counts(labels: np.ndarray) -> np.ndarray:
    """Voxel count of every label value: ``counts[v]`` voxels have value ``v``.

    ``np.bincount`` on the flattened integer map; for the usual small label sets (largest
    value below 16) one ``count_nonzero(map == v)`` per value instead, which avoids
    bincount's cast of the whole map to 64-bit integers (about 10 times faster on a
    128³ uint8 map). The map is flattened in memory order (no copy of a Fortran-ordered
    NIfTI array).
    """
    flat = np.asarray(labels).ravel(order="K")
    if flat.size == 0:
        return np.zeros(1, dtype=np.int64)
    if flat.dtype.kind not in "iub":
        raise ValueError(f"label map must hold integers, got dtype {flat.dtype}")
    if flat.dtype.kind == "b":
        flat = flat.astype(np.uint8)
    if flat.dtype.kind == "i" and flat.min() < 0:
        raise ValueError(f"label map has negative values ({int(flat.min())})")
    top = int(flat.max())
    if top < 16:
        return np.array([np.count_nonzero(flat == v) for v in range(top + 1)], dtype=np.int64)
    return np.bincount(flat)


def _present(values: np.ndarray | Iterable[int]) -> list[int]:
    arr = np.asarray(values)
    if arr.ndim == 1 and arr.size <= 64:
        present = np.unique(arr)
    else:
        present = np.flatnonzero(label_counts(arr))
    return sorted(int(v) for v in present if v != 0)


def check_labels(
    values: np.ndarray | Iterable[int],
    schema: Any = "brats",
    *,
    strict: bool = True,
    name: str | None = None,
) -> list[int]:
    """Check that every non-zero value of a label map belongs to ``schema``.

    Also refuses a map that mixes labels the schema declares mutually exclusive (BraTS: ET
    as both 3 and 4), whatever ``strict`` says: such a map is a paediatric map or a mix of
    conventions, and any volume computed from it would be wrong.

    Parameters
    ----------
    values : array-like of int
        A label map (any shape) or the set of values present in it.
    schema : schema name, path, mapping or LabelSchema
    strict : bool, default True
        Raise ``ValueError`` on unknown labels; with ``strict=False`` return them instead
        (and log a warning).
    name : str, optional
        File (or case) named in the messages.

    Returns
    -------
    list of int
        The unknown label values (empty when all are known).
    """
    sch = get_schema(schema)
    present = _present(values)
    where = f"{name}: " if name else ""
    for group in sch.exclusive:
        both = [v for v in group if v in present]
        if len(both) > 1:
            raise ValueError(
                f"{where}label map has values {present}, including {both}, which schema "
                f"{sch.name!r} does not allow together (BraTS: ET is 4 up to 2021 and 3 in 2023; "
                "labels 1-4 all present usually mean a paediatric map); name the schema: "
                f"--schema {' | '.join(_SCHEMA_CHOICES)}"
            )
    unknown = [v for v in present if v not in sch.labels]
    if unknown:
        msg = (
            f"{where}label map has values {unknown} that are not in schema {sch.name!r} "
            f"(known labels {list(sch.labels)}; 0 = background)"
        )
        if strict:
            raise ValueError(msg)
        import logging

        logging.getLogger(__name__).warning(msg)
    return unknown


#: built-in schemas a map may be read with (the choices named in refusals)
_SCHEMA_CHOICES: tuple[str, ...] = ("brats2021", "brats2023", "brats", "paediatric")
#: the schema families told apart by :func:`infer_schema` (brats covers both ET conventions)
_FAMILIES: tuple[str, ...] = ("brats", "paediatric")


def infer_schema(values: np.ndarray | Iterable[int], *, name: str | None = None) -> LabelSchema:
    """The built-in schema of a label map, when its values leave no doubt.

    A schema *fits* when every non-zero value is one of its labels, and fits *cleanly* when
    the map also respects its exclusive groups (no BraTS map with ET as both 3 and 4). The
    map is accepted only when exactly one of ``brats`` and ``paediatric`` fits cleanly and no
    other fits at all; anything else (values 1-4 fit both; a map with 3 and 4 fits brats
    only uncleanly) raises ``ValueError`` naming the file, the values found and the
    ``--schema`` choices. An empty map fits both and is refused too.

    Returns
    -------
    LabelSchema
    """
    present = _present(values)
    where = f"{name}: " if name else ""
    fits = [f for f in _FAMILIES if set(present) <= set(get_schema(f).labels)]
    clean = [
        f for f in fits
        if not any(sum(v in present for v in g) > 1 for g in get_schema(f).exclusive)
    ]
    if len(fits) == 1 and len(clean) == 1:
        return get_schema(clean[0])
    if not fits:
        why = "fit no built-in schema"
    elif len(fits) > 1:
        why = f"fit more than one schema ({', '.join(fits)})"
    else:
        why = f"fit {fits[0]!r} only with ET as both 3 and 4 (BraTS <= 2021 and 2023 labels mixed)"
    raise ValueError(
        f"{where}label values {present} {why}, so the schema cannot be told from the map; "
        f"name it with --schema ({' | '.join(_SCHEMA_CHOICES)} or a .json/.yaml file)"
    )


def resolve_schema(
    schema: Any, values: np.ndarray | Iterable[int], *, name: str | None = None
) -> LabelSchema:
    """``schema`` itself when one is named; :func:`infer_schema` of ``values`` when it is
    ``None`` or ``"auto"``."""
    if schema is None or (isinstance(schema, str) and schema.lower() == "auto"):
        return infer_schema(values, name=name)
    return get_schema(schema)


def set_et_label(label_map: np.ndarray, et: int, schema: Any = "brats") -> np.ndarray:
    """Rewrite a BraTS label map's enhancing tumour as ``et`` (4: BraTS <= 2021, 3: 2023).

    Every ET label of ``schema`` (3 and 4 for ``brats``) becomes ``et``; other labels are
    unchanged. Returns a new array of the input's dtype.

    Examples
    --------
    >>> set_et_label(np.array([0, 1, 2, 3]), 4).tolist()
    [0, 1, 2, 4]
    """
    if et not in (3, 4):
        raise ValueError(f"BraTS enhancing-tumour label must be 3 (2023) or 4 (<= 2021), got {et}")
    sch = get_schema(schema)
    if "ET" not in sch.regions or not set(sch.regions["ET"]) & {3, 4}:
        raise ValueError(f"set_et_label needs a BraTS schema (ET labelled 3 or 4), got {sch.name!r}")
    arr = np.asarray(label_map)
    out = arr.copy()
    out[np.isin(arr, sch.regions["ET"])] = et
    return out


def region_masks(label_map: np.ndarray, schema: Any = "brats") -> dict[str, np.ndarray]:
    """Boolean mask of every base and composite region of ``schema`` (same axis order as input)."""
    sch = get_schema(schema)
    arr = np.asarray(label_map)
    return {name: np.isin(arr, sch.region_labels(name)) for name in sch.names}
