"""Lazy public names of a package (PEP 562), shared by ``radiogenomics``,
``radiogenomics.classifiers`` and ``radiogenomics.evaluation``.

A package lists ``{public name: module that defines it}`` and calls::

    __getattr__, __dir__, __all__ = lazy_names(__name__, {"Name": "pkg.module", ...})

``import pkg`` then stays cheap: a module is imported on the first access to one of its
names, and a missing optional dependency only matters for the name that needs it. A table
entry whose module is the package itself names a subpackage (``"datasets": "radiogenomics"``
imports ``radiogenomics.datasets``).
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from typing import Any


def lazy_names(package: str, table: dict[str, str], extra: tuple[str, ...] = ()
               ) -> tuple[Callable[[str], Any], Callable[[], list[str]], list[str]]:
    """``(__getattr__, __dir__, __all__)`` for ``package`` from its lazy ``table``;
    ``extra``: names defined eagerly in the package, listed first in ``__all__``."""
    names = [*extra, *table]

    def __getattr__(name: str) -> Any:
        module = table.get(name)
        if module is None:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        if module == package:
            return importlib.import_module(f"{package}.{name}")
        return getattr(importlib.import_module(module), name)

    def __dir__() -> list[str]:
        return sorted(names)

    return __getattr__, __dir__, names
