"""Atomic output: nothing is written half-way.

One implementation for both packages, in the light imaging core (:mod:`imaging._io`, which
``radiogenomics`` may import; see ARCHITECTURE.md). Files are written to a temporary sibling
and renamed into place; report directories are built in a temporary sibling directory and
swapped in when complete.
"""

from __future__ import annotations

from imaging._io import atomic_dir, atomic_path

__all__ = ["atomic_path", "atomic_dir"]
