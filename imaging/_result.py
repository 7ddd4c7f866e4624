"""One contract for every result object of radiogenomics and imaging: :class:`Result`.

A result is what an analysis returns: a fitted test, a curve, a benchmark. Every one of
them, whatever it holds, answers the same calls (after lifelines'
``statistics.StatisticalResult``, which gives ``summary``, ``print_summary``, ``to_html``,
``_repr_html_`` and ``__repr__`` to every test):

========================  ===============================================================
``summary()``             the table a reader reads (DataFrame): one row per term, group,
                          case, metric ... (implemented by every subclass)
``to_frame()``            the tidy data behind the result (DataFrame, one row per
                          observation: a curve point, a split x method x metric, a scan).
                          Defaults to ``summary()`` where the summary already is that
                          finest grain; a subclass says in its docstring which it is.
``print_summary()``       title, header facts (``key: value``) and the summary, as text
``to_html()``             the same as an HTML fragment; ``_repr_html_`` shows it in Jupyter
``__repr__``              ``ClassName(key=value, ...)`` from the header facts, one line
``save(path) -> Path``    atomic write (temporary file, then rename) chosen by suffix:
                          ``.csv``, ``.tsv``, ``.json`` (pandas ``orient="table"``, keeps
                          index and dtypes), ``.html`` (the ``to_html`` page), ``.parquet``.
                          Results that are inherently several files (a benchmark folder, a
                          model folder, a report) write a folder for a path without suffix.
``plot(ax=None)``         matplotlib: draws on ``ax`` and returns it; with ``ax=None`` makes
                          its own figure. Results that draw several panels return the
                          ``Figure`` when they made it.
========================  ===============================================================

Subclasses implement ``summary()`` and ``plot(ax=None, ...)``; they may override
``_header()`` (the facts printed above the table), ``to_frame()``, ``_saved_table()``
(what a single-file ``save`` writes, default ``summary()``) and ``_save_folder(path)``
(results that are several files). A subclass that is a dataclass is declared with
``@dataclass(repr=False)`` so that it keeps this one-line ``__repr__``.

The class lives here, in the lower of the two packages (``imaging`` never imports
``radiogenomics``; ``radiogenomics`` builds on ``imaging``), and is public as
:class:`radiogenomics.results.Result`.
"""

from __future__ import annotations

import html
import sys
from pathlib import Path
from typing import Any, ClassVar, TextIO

import numpy as np
import pandas as pd

from ._io import atomic_path

__all__ = ["Result", "SAVE_SUFFIXES"]

#: Suffixes that :meth:`Result.save` writes as one file.
SAVE_SUFFIXES = (".csv", ".tsv", ".json", ".html", ".parquet")


def _fmt_value(v: Any, decimals: int) -> str:
    if isinstance(v, (float, np.floating)):
        return f"{float(v):.{decimals}g}" if abs(float(v)) < 1e-3 and v != 0 else f"{float(v):.{decimals}f}"
    if isinstance(v, (tuple, list)) and len(v) <= 4:
        return "(" + ", ".join(_fmt_value(x, decimals) for x in v) + ")"
    return str(v)


def _keeps_index(frame: pd.DataFrame) -> bool:
    """Whether a table's index carries information (anything but an unnamed 0..n-1 range)."""
    idx = frame.index
    return not (isinstance(idx, pd.RangeIndex) and idx.name is None and idx.start == 0 and idx.step == 1)


class Result:
    """Base of every result object: summary, tidy frame, printing, HTML, saving, plotting.

    Subclasses implement :meth:`summary` and :meth:`plot`; see the module docstring for
    the optional hooks.
    """

    #: Heading of ``print_summary``/``to_html``; default: the class name.
    _title: ClassVar[str] = ""

    # ------------------------------------------------------------------ hooks
    def summary(self) -> pd.DataFrame:
        """The table a reader reads (implemented by every subclass)."""
        raise NotImplementedError(f"{type(self).__name__} must implement summary()")

    def plot(self, ax: Any = None) -> Any:
        """Draw the result on ``ax`` (a new figure when None); returns the Axes or Figure."""
        raise NotImplementedError(f"{type(self).__name__} must implement plot(ax=None)")

    def _header(self) -> dict[str, Any]:
        """Facts shown above the table and in ``repr`` (e.g. test statistic, p, n)."""
        return {}

    def _saved_table(self) -> pd.DataFrame:
        """The table a single-file :meth:`save` writes (default :meth:`summary`)."""
        return self.summary()

    def _save_folder(self, path: Path) -> Path:
        """Write a result that is several files into the folder ``path`` (if it is one)."""
        raise ValueError(
            f"{path}: {type(self).__name__}.save needs a file name ending in one of "
            f"{', '.join(SAVE_SUFFIXES)}"
        )

    # ------------------------------------------------------------------ derived
    def to_frame(self) -> pd.DataFrame:
        """The tidy data behind the result; here :meth:`summary` (subclasses say otherwise)."""
        return self.summary()

    @property
    def title(self) -> str:
        return self._title or type(self).__name__

    def _text(self, decimals: int = 3) -> str:
        lines = [f"<{self.title}>"]
        head = self._header()
        if head:
            width = max(len(str(k)) for k in head)
            lines += [f"{str(k):>{width}} = {_fmt_value(v, decimals)}" for k, v in head.items()]
        lines.append("---")
        with pd.option_context("display.max_columns", 50, "display.width", 120,
                               "display.float_format", lambda x: f"{x:.{decimals}g}"):
            lines.append(self.summary().to_string())
        return "\n".join(lines)

    def print_summary(self, decimals: int = 3, file: TextIO | None = None) -> None:
        """Print the title, the header facts and :meth:`summary` as text."""
        print(self._text(decimals), file=file or sys.stdout)

    def to_html(self, decimals: int = 3) -> str:
        """An HTML fragment: title, a table of the header facts and the summary table."""
        parts = [f"<div class='radiogenomics-result'><p><b>{html.escape(self.title)}</b></p>"]
        head = self._header()
        if head:
            rows = "".join(f"<tr><th>{html.escape(str(k))}</th><td>{html.escape(_fmt_value(v, decimals))}</td></tr>"
                           for k, v in head.items())
            parts.append(f"<table class='header'>{rows}</table>")
        parts.append(self.summary().to_html(float_format=lambda x: f"{x:.{decimals}g}"))
        parts.append("</div>")
        return "".join(parts)

    def _repr_html_(self) -> str:
        return self.to_html()

    def __repr__(self) -> str:
        head = self._header()
        if not head:
            s = self.summary()
            head = {"summary": f"{s.shape[0]} rows x {s.shape[1]} columns"}
        inner = ", ".join(f"{k}={v!r}" if isinstance(v, str) else f"{k}={_fmt_value(v, 4)}"
                          for k, v in head.items())
        return f"{type(self).__name__}({inner})"

    # ------------------------------------------------------------------ output
    def save(self, path: str | Path) -> Path:
        """Write the result atomically; the format follows the suffix of ``path``.

        ``.csv``/``.tsv``/``.parquet``: :meth:`_saved_table` (its index written when it is
        not a plain 0..n-1 range); ``.json``: the same table as pandas ``orient="table"``
        (read back with ``pd.read_json(path, orient="table")``; a non-unique index comes back
        as a column); ``.html``: a page with
        :meth:`to_html`. A path without a suffix is a folder for results that are several
        files. Returns the path written.
        """
        path = Path(path)
        suffix = path.suffix.lower()
        if suffix not in SAVE_SUFFIXES:
            if suffix == "":
                return self._save_folder(path)
            raise ValueError(f"{path}: cannot save a {type(self).__name__} as {suffix!r}; "
                             f"use one of {', '.join(SAVE_SUFFIXES)}")
        if suffix == ".html":
            page = ("<!DOCTYPE html><html><head><meta charset='utf-8'>"
                    f"<title>{html.escape(self.title)}</title></head><body>{self.to_html()}</body></html>")
            with atomic_path(path) as tmp:
                tmp.write_text(page, encoding="utf-8")
            return path
        table = self._saved_table()
        index = _keeps_index(table)
        with atomic_path(path) as tmp:
            if suffix == ".json":
                table.to_json(tmp, orient="table", index=True)
            elif suffix == ".parquet":
                table.to_parquet(tmp, index=index)
            else:
                table.to_csv(tmp, sep="\t" if suffix == ".tsv" else ",", index=index)
        return path

    @staticmethod
    def _axes(ax: Any = None, figsize: tuple[float, float] | None = None) -> Any:
        """``ax``, or the axes of a new figure of ``figsize`` when ``ax`` is None."""
        if ax is not None:
            return ax
        import matplotlib.pyplot as plt

        _, ax = plt.subplots(figsize=figsize)
        return ax
