"""Command-line interface: ``radiogenomics <command> [options]``.

The CLI is a thin layer over library functions. Each sub-command lives in its own module
in this package and exposes ``register(subparsers)``, which adds an ``argparse`` parser
(:func:`add_command`) whose ``func`` default runs the command. Heavy imports happen inside
the command, so ``radiogenomics --help`` stays fast. The parser, ``-v`` handling and error
reporting are shared with the ``imaging`` CLI (:mod:`imaging.cli._common`): warnings by
default, ``-v`` INFO, ``-vv`` DEBUG (before or after the command); bad input ends in one
line on stderr, never a traceback.
"""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Sequence

from imaging.cli import _common

#: sub-command name -> module that registers it (module order = order in ``--help``)
SUBCOMMANDS: tuple[str, ...] = ("benchmark", "demo", "survival", "nomogram")

logger = logging.getLogger("radiogenomics")


def add_command(subparsers: argparse._SubParsersAction, name: str, *, help: str,
                description: str, example: str) -> argparse.ArgumentParser:
    """The parser of one sub-command, with its ``--help`` ending in an example."""
    return _common.add_command(subparsers, name, help=help, description=description,
                               examples=f"example: {example}")


def build_parser() -> argparse.ArgumentParser:
    from radiogenomics import __version__

    return _common.build_cli(
        "radiogenomics", "Radiogenomics statistics for brain tumours: NB classifiers, "
        "repeated-split benchmarks, survival stratification and nomograms.", __version__,
        SUBCOMMANDS)


def main(argv: Sequence[str] | None = None) -> int:
    return _common.run_cli(build_parser(), argv)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
