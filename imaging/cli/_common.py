"""What every command line of both packages shares: parser, help layout, ``-v`` and ``main``.

:func:`add_command` adds a sub-command parser whose description is wrapped to the
terminal and whose examples (the epilog) are kept as written, with ``-v/--verbose``
accepted after the command as well as before it (``imaging -v segment ...`` or
``imaging segment ... -v``). Log level: WARNING by default, ``-v`` INFO, ``-vv`` DEBUG.
:func:`build_cli` and :func:`run_cli` are the top-level parser and ``main`` of both
``imaging`` and ``radiogenomics`` (``radiogenomics.cli`` imports this light module; it needs
only the standard library).
"""

from __future__ import annotations

import argparse
import importlib
import logging
import sys
from collections.abc import Sequence

__all__ = ["add_command", "build_cli", "log_level", "run_cli", "VERBOSE_HELP"]

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


def build_cli(prog: str, description: str, version: str,
              subcommands: Sequence[str]) -> argparse.ArgumentParser:
    """The top-level parser of ``prog``: ``--version``, ``-v`` and one sub-command per module.

    Each name in ``subcommands`` is a module ``<prog>.cli.<name>`` exposing
    ``register(subparsers)``; a module not built yet is skipped.
    """
    parser = argparse.ArgumentParser(prog=prog, description=description)
    parser.add_argument("--version", action="version", version=f"{prog} {version}")
    parser.add_argument("-v", "--verbose", action="count", default=0, help=VERBOSE_HELP)
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in subcommands:
        try:
            module = importlib.import_module(f"{prog}.cli.{name}")
        except ModuleNotFoundError as exc:  # a sub-command not built yet
            if exc.name == f"{prog}.cli.{name}":
                continue
            raise
        module.register(sub)
    return parser


def run_cli(parser: argparse.ArgumentParser, argv: Sequence[str] | None = None) -> int:
    """Parse ``argv``, set the log level and run the command.

    Bad input (``ValueError``, ``KeyError``) and missing or unwritable files (``OSError``)
    end in one line on stderr and exit status 2, never a traceback.
    """
    args = parser.parse_args(argv)
    logging.basicConfig(level=log_level(args.verbose), format="%(levelname)s %(name)s: %(message)s")
    if getattr(args, "func", None) is None:
        parser.print_help()
        return 2
    try:
        return int(args.func(args) or 0)
    except (ValueError, KeyError) as exc:
        print(f"{parser.prog} {args.command}: error: {one_line(exc)}", file=sys.stderr)
        return 2
    except OSError as exc:  # missing input, unwritable output (a file in the way, permissions)
        what = f"{exc.strerror}: {exc.filename}" if exc.strerror and exc.filename else str(exc)
        print(f"{parser.prog} {args.command}: error: {one_line(what)}", file=sys.stderr)
        return 2


def one_line(exc: object) -> str:
    """The message of an exception on one line (KeyError's quotes removed)."""
    msg = exc.args[0] if isinstance(exc, KeyError) and exc.args else exc
    return " ".join(str(msg).split())
