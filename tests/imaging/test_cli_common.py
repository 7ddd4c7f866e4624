"""The shared sub-command helper of ``imaging``: help layout, ``-v`` before or after, log level."""

from __future__ import annotations

import logging
import subprocess
import sys

import pytest

from imaging.cli import SUBCOMMANDS, build_parser, main
from imaging.cli._common import log_level


def test_log_level():
    assert [log_level(v) for v in (0, 1, 2, 5)] == [logging.WARNING, logging.INFO, logging.DEBUG, logging.DEBUG]


@pytest.mark.parametrize("argv, expected", [
    (["qc", "--members", "m", "--out", "o.csv"], 0),
    (["-v", "qc", "--members", "m", "--out", "o.csv"], 1),
    (["qc", "--members", "m", "--out", "o.csv", "-vv"], 2),
    (["-v", "phantoms", "--out", "x", "--verbose"], 1),
])
def test_verbose_before_or_after_the_command(argv, expected):
    assert build_parser().parse_args(argv).verbose == expected


@pytest.mark.parametrize("command", SUBCOMMANDS)
def test_every_command_help_has_an_example_and_verbose(command, capsys):
    with pytest.raises(SystemExit):
        main([command, "--help"])
    out = capsys.readouterr().out
    assert "-v, --verbose" in out
    assert "\nexample" in out and f"imaging {command}" in out.split("\nexample", 1)[1]


def test_default_is_quiet_and_v_logs_info(tmp_path):
    """Without -v only warnings and errors reach stderr; -v adds the INFO lines."""
    def run(*extra):
        out = tmp_path / f"ph{len(extra)}"
        cmd = [sys.executable, "-c", "import sys; from imaging.cli import main; sys.exit(main(sys.argv[1:]))",
               "phantoms", "--out", str(out), "--n", "1", "--shape", "16", *extra]
        return subprocess.run(cmd, capture_output=True, text=True, check=True).stderr

    assert "INFO" not in run()
    assert "INFO imaging.cli.phantoms: wrote 1 phantoms" in run("-v")
