"""``radiogenomics demo``: fits radiogenomics-NB on the bundled semi-synthetic cohort."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from radiogenomics.cli import build_parser, main


@pytest.mark.slow  # one fit on the 20,000-gene bundled cohort (~20 s on one core)
def test_demo_prints_summary_and_metrics_and_writes_csv(tmp_path, capsys):
    out = tmp_path / "demo"
    assert main(["demo", "--out", str(out), "--n-genes", "5"]) == 0
    text = capsys.readouterr().out
    assert "semi-synthetic" in text.lower()
    assert "radiogenomics-NB summary" in text and "held-out metrics on 13 test patients" in text
    assert "balanced_accuracy" in text
    summary = pd.read_csv(out / "summary.csv")
    assert {"gene", "class", "term", "coef", "se", "dispersion"} <= set(summary.columns)
    assert summary["gene"].nunique() == 5
    assert summary["se"].gt(0).all()
    metrics = pd.read_csv(out / "metrics.csv", index_col=0)["value"]
    assert 0.0 <= metrics["accuracy"] <= 1.0 and np.isfinite(metrics["roc_auc"])
    assert not [p for p in out.iterdir() if p.name.startswith(".")]  # no temporary leftovers


def test_demo_bad_input(capsys, tmp_path):
    assert main(["demo", "--target", "nope"]) == 2
    assert "radiogenomics demo: error: target must be one of" in capsys.readouterr().err
    assert main(["demo", "--test-size", "1.5"]) == 2
    assert "--test-size" in capsys.readouterr().err
    f = tmp_path / "file"
    f.write_text("x")
    assert main(["demo", "--out", str(f)]) == 2
    assert "not a folder" in capsys.readouterr().err


def test_help_lists_demo():
    assert "demo" in build_parser().format_help()
