"""Command-line interface: ``imaging <command> [options]``.

The CLI is a thin layer over library functions. Each sub-command lives in its own module
in this package and exposes ``register(subparsers)``, which adds an ``argparse`` parser
whose ``func`` default runs the command (built with :func:`imaging.cli._common.add_command`).
Heavy imports happen inside the command, so ``imaging --help`` stays fast. Logging:
warnings and errors by default, ``-v`` INFO, ``-vv`` DEBUG (before or after the command).
"""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Sequence

from imaging.cli._common import build_cli, run_cli

#: sub-command name -> module that registers it (module order = order in ``--help``)
SUBCOMMANDS: tuple[str, ...] = ("features", "segment", "qc", "phantoms", "longitudinal", "convert",
                                "train", "evaluate")

logger = logging.getLogger("imaging")


def build_parser() -> argparse.ArgumentParser:
    from imaging import __version__

    return build_cli("imaging", "MRI/CT to tumour sub-region masks, volumes, ratios, shape "
                     "measures and radiomics.", __version__, SUBCOMMANDS)


def main(argv: Sequence[str] | None = None) -> int:
    return run_cli(build_parser(), argv)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
