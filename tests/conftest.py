"""Fixtures shared by the whole test suite.

- ``cervical``: the bundled cervical miRNA counts and labels, ``(counts, y)`` as
  :func:`radiogenomics.datasets.load_cervical` returns them (714 miRNAs x 58 samples,
  29 normal / 29 tumour); module scope, so a test module that modifies them in place only
  affects itself. The R reference outputs on these data are in ``tests/data/`` (see the
  README.md of each topic folder).
"""

from __future__ import annotations

import pytest


@pytest.fixture(scope="module")
def cervical():
    from radiogenomics.datasets import load_cervical

    return load_cervical()
