"""The README's tour runs as written (a user's first contact must not fail)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

README = Path(__file__).resolve().parents[2] / "README.md"


@pytest.mark.slow
def test_readme_python_tour_runs():
    blocks = re.findall(r"```python\n(.*?)```", README.read_text(), flags=re.S)
    assert blocks, "README has no python block"
    namespace: dict = {}
    for code in blocks:
        exec(compile(code, str(README), "exec"), namespace)
    clf, cohort = namespace["clf"], namespace["cohort"]
    assert len(clf.genes_) == 10
    proba = clf.predict_proba(cohort.counts, features=cohort.features)
    assert proba.shape == (len(cohort.y), 2)


def test_readme_test_command_is_what_ci_runs():
    """.ci/run greps the first line starting 'pip install ... -e ... pytest'; it must pin
    the CPU torch in the same command (unpinned, nnunetv2's torchvision pulls CUDA torch)."""
    lines = [ln for ln in README.read_text().splitlines()
             if re.match(r"^pip install .*-e .*pytest", ln)]
    assert lines, "README has no 'pip install ... -e ... pytest' line for .ci/run"
    assert "torch==2.13.0 -e " in lines[0]
