"""Command-line interface: ``imaging <command> [options]``.

The CLI is a thin layer over library functions. Each sub-command lives in its own module
in this package and exposes ``register(subparsers)``, which adds an ``argparse`` parser
whose ``func`` default runs the command (built with :func:`imaging.cli._common.add_command`).
Heavy imports happen inside the command, so ``imaging --help`` stays fast. Logging:
warnings and errors by default, ``-v`` INFO, ``-vv`` DEBUG (before or after the command).
"""

from __future__ import annotations

import argparse
import importlib
import logging
import sys
from collections.abc import Sequence

from imaging.cli._common import VERBOSE_HELP, log_level

#: sub-command name -> module that registers it (module order = order in ``--help``)
SUBCOMMANDS: tuple[str, ...] = ("features", "segment", "qc", "phantoms", "longitudinal", "convert", "train", "evaluate")

logger = logging.getLogger("imaging")


def build_parser() -> argparse.ArgumentParser:
    from imaging import __version__

    parser = argparse.ArgumentParser(
        prog="imaging",
        description="MRI/CT to tumour sub-region masks, volumes, ratios, shape measures and radiomics."
    )
    parser.add_argument("--version", action="version", version=f"imaging {__version__}")
    parser.add_argument("-v", "--verbose", action="count", default=0, help=VERBOSE_HELP)
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in SUBCOMMANDS:
        try:
            module = importlib.import_module(f"imaging.cli.{name}")
        except ModuleNotFoundError as exc:  # a sub-command not built yet
            if exc.name == f"imaging.cli.{name}":
                continue
            raise
        module.register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(level=log_level(args.verbose), format="%(levelname)s %(name)s: %(message)s")
    if getattr(args, "func", None) is None:
        parser.print_help()
        return 2
    try:
        return int(args.func(args) or 0)
    except (ValueError, KeyError) as exc:
        # bad input: one clear line, no traceback
        print(f"imaging {args.command}: error: {_one_line(exc)}", file=sys.stderr)
        return 2
    except OSError as exc:  # missing input, unwritable output (a file in the way, permissions)
        what = f"{exc.strerror}: {exc.filename}" if exc.strerror and exc.filename else str(exc)
        print(f"imaging {args.command}: error: {_one_line(what)}", file=sys.stderr)
        return 2


def _one_line(exc: object) -> str:
    """The message of an exception on one line (KeyError's quotes removed)."""
    msg = exc.args[0] if isinstance(exc, KeyError) and exc.args else exc
    return " ".join(str(msg).split())


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
