"""What every ``imaging`` sub-command shares: its parser, help layout and ``-v``.

:func:`add_command` adds a sub-command parser whose description is wrapped to the
terminal and whose examples (the epilog) are kept as written, with ``-v/--verbose``
accepted after the command as well as before it (``imaging -v segment ...`` or
``imaging segment ... -v``). Log level: WARNING by default, ``-v`` INFO, ``-vv`` DEBUG.
"""

from __future__ import annotations

import argparse
import logging

__all__ = ["add_command", "log_level", "VERBOSE_HELP"]

VERBOSE_HELP = "more log output: -v INFO, -vv DEBUG (default: warnings and errors only)"


class _Examples(str):
    """An epilog printed as written (line breaks and indentation kept)."""


class HelpFormatter(argparse.HelpFormatter):
    """Wraps descriptions like argparse's default; keeps :class:`_Examples` text as is."""

    def _fill_text(self, text: str, width: int, indent: str) -> str:
        if isinstance(text, _Examples):
            return "".join(indent + line for line in text.splitlines(keepends=True))
        return super()._fill_text(text, width, indent)


def add_command(
    subparsers: argparse._SubParsersAction, name: str, *, help: str, description: str, examples: str
) -> argparse.ArgumentParser:
    """Add the sub-command ``name`` with ``description`` (wrapped), ``examples`` (the epilog,
    kept as written; start it with ``example:`` or ``examples:``) and ``-v/--verbose``."""
    p = subparsers.add_parser(name, help=help, description=description, epilog=_Examples(examples),
                              formatter_class=HelpFormatter)
    # SUPPRESS: absent after the command, the count given before it (if any) is kept
    p.add_argument("-v", "--verbose", action="count", default=argparse.SUPPRESS, help=VERBOSE_HELP)
    return p


def log_level(verbose: int) -> int:
    """WARNING, then INFO (``-v``), then DEBUG (``-vv`` or more)."""
    return max(logging.DEBUG, logging.WARNING - 10 * int(verbose or 0))
