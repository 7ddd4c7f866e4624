"""Repeated (stratified) train/test splits, seeded per repeat."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from sklearn.model_selection import ShuffleSplit, StratifiedShuffleSplit


@dataclass(frozen=True)
class Split:
    """One train/test split of one stratum (positions into the full sample order)."""

    stratum: str
    repeat: int
    seed: int
    train: np.ndarray
    test: np.ndarray


def split_seeds(random_state: int | None, n_repeats: int) -> np.ndarray:
    """One 32-bit seed per repeat, derived from ``random_state`` by ``numpy.random.SeedSequence``.

    The seed of repeat ``r`` does not depend on ``n_repeats``, so a run with 10 repeats is
    the first 10 repeats of a run with 100.
    """
    return np.random.SeedSequence(random_state).generate_state(n_repeats, dtype=np.uint32).astype(
        np.int64
    )


def n_test_train(n: int, test_size: float) -> tuple[int, int]:
    """Sizes scikit-learn's shuffle splits give for ``n`` samples: ``(n_test, n_train)``."""
    n_test = int(np.ceil(test_size * n)) if test_size < 1 else int(test_size)
    return n_test, n - n_test


def repeated_splits(
    y: np.ndarray,
    strata: np.ndarray,
    n_repeats: int,
    test_size: float,
    stratify: bool,
    random_state: int | None,
) -> list[Split]:
    """Splits for every stratum and repeat; repeat ``r`` uses the same seed in every stratum.

    Within a stratum, ``StratifiedShuffleSplit`` keeps the class proportions (``stratify``) or
    ``ShuffleSplit`` draws at random, with ``random_state`` = the repeat's seed.
    """
    seeds = split_seeds(random_state, n_repeats)
    out: list[Split] = []
    for stratum in sorted(np.unique(strata).tolist(), key=str):
        pos = np.flatnonzero(strata == stratum)
        ys = y[pos]
        for r, seed in enumerate(seeds):
            cls = StratifiedShuffleSplit if stratify else ShuffleSplit
            splitter = cls(n_splits=1, test_size=test_size, random_state=int(seed))
            tr, te = next(splitter.split(np.zeros((len(pos), 1)), ys))
            out.append(Split(str(stratum), r, int(seed), np.sort(pos[tr]), np.sort(pos[te])))
    return out
