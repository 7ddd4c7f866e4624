"""The shared lazy-import helper of the public packages (radiogenomics._lazy)."""

from __future__ import annotations

import subprocess
import sys

import pytest

import radiogenomics
from radiogenomics._lazy import lazy_names


def test_every_lazy_name_resolves():
    for name in radiogenomics.__all__:
        assert getattr(radiogenomics, name) is not None, name
    assert sorted(radiogenomics.__all__) == dir(radiogenomics)
    assert radiogenomics.datasets.__name__ == "radiogenomics.datasets"
    with pytest.raises(AttributeError, match="'radiogenomics' has no attribute 'nope'"):
        radiogenomics.nope  # noqa: B018


def test_lazy_names_imports_on_first_access():
    code = ("import sys, radiogenomics; assert 'radiogenomics.counts' not in sys.modules; "
            "radiogenomics.SizeFactors; assert 'radiogenomics.counts' in sys.modules")
    subprocess.run([sys.executable, "-c", code], check=True)
    import math

    get, dir_, all_ = lazy_names("pkg", {"sqrt": "math"}, extra=("v",))
    assert get("sqrt") is math.sqrt
    assert all_ == ["v", "sqrt"] and dir_() == ["sqrt", "v"]
    with pytest.raises(AttributeError, match="'pkg' has no attribute 'g'"):
        get("g")
