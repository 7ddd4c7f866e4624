"""Command-line interface: ``radiogenomics <command> [options]``.

The CLI is a thin layer over library functions. Each sub-command lives in its own module
in this package and exposes ``register(subparsers)``, which adds an ``argparse`` parser
whose ``func`` default runs the command. Heavy imports happen inside the command, so
``radiogenomics --help`` stays fast.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import sys
from collections.abc import Sequence

#: sub-command name -> module that registers it (module order = order in ``--help``)
SUBCOMMANDS: tuple[str, ...] = ("benchmark", "demo", "survival", "nomogram")

logger = logging.getLogger("radiogenomics")


def add_command(subparsers: argparse._SubParsersAction, name: str, *, help: str,
                description: str, example: str) -> argparse.ArgumentParser:
    """The parser of one sub-command, with its ``--help`` ending in an example."""
    return subparsers.add_parser(name, help=help, description=description,
                                 epilog=f"example: {example}")


def build_parser() -> argparse.ArgumentParser:
    from radiogenomics import __version__

    parser = argparse.ArgumentParser(
        prog="radiogenomics",
        description="Radiogenomics statistics for brain tumours: NB classifiers, "
        "repeated-split benchmarks, survival stratification and nomograms.",
    )
    parser.add_argument("--version", action="version", version=f"radiogenomics {__version__}")
    parser.add_argument("-v", "--verbose", action="count", default=0, help="more log output")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in SUBCOMMANDS:
        try:
            module = importlib.import_module(f"radiogenomics.cli.{name}")
        except ModuleNotFoundError as exc:  # a sub-command not built yet
            if exc.name == f"radiogenomics.cli.{name}":
                continue
            raise
        module.register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    # warnings by default; -v: progress messages (INFO); -vv: DEBUG
    level = logging.WARNING - 10 * min(args.verbose, 2)
    logging.basicConfig(level=level, format="%(levelname)s %(name)s: %(message)s")
    if getattr(args, "func", None) is None:
        parser.print_help()
        return 2
    try:
        return int(args.func(args) or 0)
    except (ValueError, KeyError) as exc:
        # bad input: one clear line, no traceback
        print(f"radiogenomics {args.command}: error: {_one_line(exc)}", file=sys.stderr)
        return 2
    except OSError as exc:  # missing input, unwritable output (a file in the way, permissions)
        what = f"{exc.strerror}: {exc.filename}" if exc.strerror and exc.filename else str(exc)
        print(f"radiogenomics {args.command}: error: {_one_line(what)}", file=sys.stderr)
        return 2


def _one_line(exc: object) -> str:
    """The message of an exception on one line (KeyError's quotes removed)."""
    msg = exc.args[0] if isinstance(exc, KeyError) and exc.args else exc
    return " ".join(str(msg).split())


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
