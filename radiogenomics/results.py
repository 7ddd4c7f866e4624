"""One contract for every result object of the package: :class:`Result`.

Every result (a test, a curve, a fitted nomogram, a benchmark, an imaging QC table) answers
``summary()``, ``to_frame()``, ``print_summary()``, ``to_html()``/``_repr_html_()``,
``__repr__``, ``save(path) -> Path`` (atomic, format by suffix; a folder for results that
are several files) and ``plot(ax=None)``. Subclasses implement ``summary()`` and
``plot()``; the hooks and the file formats are described in :mod:`imaging._result`, where
the one implementation lives (the lower package, so that ``imaging`` results share it
without importing ``radiogenomics``).

Examples
--------
>>> from radiogenomics.roc import roc
>>> r = roc([0, 0, 1, 1], [0.1, 0.6, 0.4, 0.9])
>>> r
ROCResult(auc=0.7500, ci=(0.0570, 1.0000), n_cases=2, n_controls=2)
>>> r.summary()[["auc", "n_cases"]]
    auc  n_cases
0  0.75        2
"""

from __future__ import annotations

from imaging._result import SAVE_SUFFIXES, Result

__all__ = ["Result", "SAVE_SUFFIXES"]
