"""Shared helpers of the baseline tests (R reference splits and the pure-noise check).

The R outputs come from ``../shared/reference/scripts/cervical.R`` (see
``../shared/reference/SPLITS_SURVIVAL_NOMOGRAM.md`` section 1); the files the tests need
are copied, gzipped, to ``tests/data/baselines``.
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.base import clone
from sklearn.metrics import balanced_accuracy_score
from sklearn.model_selection import StratifiedShuffleSplit

DATA = Path(__file__).resolve().parents[1] / "data" / "baselines"
SPLITS = [(s, f) for s in ("A", "B") for f in ("all714", "top50")]


def split_data(counts: pd.DataFrame, y: pd.Series, split: str, features: str):
    """``Xtr, ytr, Xte, yte`` of one reference split on its gene set (all 714 miRNAs or
    the 50 edgeR-selected ones)."""
    sp = pd.read_csv(DATA / f"split_{split}.csv")
    tr = sp.loc[sp["set"] == "train", "sample"].tolist()
    te = sp.loc[sp["set"] == "test", "sample"].tolist()
    genes = list(counts.columns) if features == "all714" else top50(split)
    return counts.loc[tr, genes], y[tr], counts.loc[te, genes], y[te]


def top50(split: str) -> list[str]:
    return pd.read_csv(DATA / f"split_{split}" / "top50_genes.csv")["gene"].tolist()


def ref(split: str, features: str, name: str) -> pd.DataFrame:
    return pd.read_csv(DATA / f"split_{split}" / features / f"{name}.csv.gz")


def log_value(split: str, features: str, pattern: str) -> float:
    """A number from the split's ``log.txt`` (``pattern`` has one capture group)."""
    text = (DATA / f"split_{split}" / features / "log.txt").read_text()
    m = re.search(pattern, text)
    assert m is not None, pattern
    return float(m.group(1))


def nb_noise(n: int = 60, p: int = 2000, seed: int = 0):
    """Pure noise: NB counts (gene means log-normal, size 5) and random balanced labels."""
    rng = np.random.default_rng(seed)
    mu = np.exp(rng.normal(3.0, 1.5, p))
    X = rng.negative_binomial(5, 5.0 / (5.0 + mu), size=(n, p))
    idx = pd.Index([f"s{i}" for i in range(n)])
    counts = pd.DataFrame(X, index=idx, columns=[f"g{j}" for j in range(p)])
    y = pd.Series(rng.permutation(np.repeat(["a", "b"], n // 2)), index=idx)
    return counts, y


def noise_balanced_accuracy(est, n_repeats: int = 20, n: int = 60, p: int = 2000,
                            seed: int = 0, **fit_kw) -> np.ndarray:
    """Balanced accuracies of ``est`` over ``n_repeats`` stratified 80/20 train/test splits
    of pure noise (:func:`nb_noise`, random labels).

    Every repeat draws its own noise data set, so the repeats are independent and their
    mean has standard error about ``sd / sqrt(n_repeats)``; with one shared data set the
    overlapping splits would all inherit that data set's chance structure.
    """
    out = []
    for r in range(n_repeats):
        counts, y = nb_noise(n=n, p=p, seed=1000 * seed + r)
        sss = StratifiedShuffleSplit(n_splits=1, test_size=0.2, random_state=r)
        tr, te = next(sss.split(counts, y))
        m = clone(est).fit(counts.iloc[tr], y.iloc[tr], **fit_kw)
        out.append(balanced_accuracy_score(y.iloc[te], m.predict(counts.iloc[te])))
    return np.asarray(out)
