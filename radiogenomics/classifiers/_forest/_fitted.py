"""The Python side of the forest: parameters resolved as scikit-learn resolves them,
scikit-learn's per-tree seeds, and :class:`FittedForest` / :func:`fit_forest`."""

from __future__ import annotations

import functools
import logging
import math
import numbers
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from sklearn.utils import check_random_state, compute_class_weight, compute_sample_weight

from ._kernel import _MAX_INT, _TREE_LEAF
from ._tree import _draws, _forest_proba, _grow_forest

logger = logging.getLogger(__name__)


# ------------------------------------------------------------------------- Python API
def resolve_max_features(max_features: Any, n_features: int) -> int:
    """Number of candidate features per split, as scikit-learn resolves ``max_features``.

    ``"sqrt"`` / ``"log2"``: ``max(1, int(sqrt(p)))`` / ``max(1, int(log2(p)))``; ``None``:
    ``p``; an integer as is; a float: ``max(1, int(max_features * p))``.

    Examples
    --------
    >>> resolve_max_features("sqrt", 10), resolve_max_features(None, 10)
    (3, 10)
    >>> resolve_max_features(0.5, 10)
    5
    """
    p = int(n_features)
    if isinstance(max_features, str):
        if max_features == "sqrt":
            m = max(1, int(np.sqrt(p)))
        elif max_features == "log2":
            m = max(1, int(np.log2(p)))
        else:
            raise ValueError(f"max_features must be 'sqrt', 'log2', an int, a float or None; "
                             f"got {max_features!r}")
    elif max_features is None:
        m = p
    elif isinstance(max_features, (numbers.Integral, np.integer)) and not isinstance(
            max_features, bool):
        m = int(max_features)
    elif isinstance(max_features, numbers.Real):
        m = max(1, int(max_features * p)) if max_features > 0.0 else 0
    else:
        raise ValueError(f"max_features must be 'sqrt', 'log2', an int, a float or None; got "
                         f"{max_features!r}")
    if not 0 < m <= p:
        raise ValueError(f"max_features must be in (0, n_features={p}]; got {max_features!r}")
    return m


def tree_seeds(random_state: Any, n_estimators: int) -> np.ndarray:
    """Per-tree seeds, as scikit-learn's forests draw them.

    ``check_random_state(random_state).randint(2**31 - 1)`` once per tree, in order (an
    integer gives a fresh ``RandomState``; ``None`` the global one; a ``RandomState`` is
    advanced).

    Examples
    --------
    >>> tree_seeds(0, 3).tolist()
    [209652396, 398764591, 924231285]
    """
    if isinstance(random_state, (numbers.Integral, np.integer)) and not isinstance(
            random_state, bool):
        return _int_seeds(int(random_state), int(n_estimators)).copy()
    rs = check_random_state(random_state)
    return np.asarray(rs.randint(_MAX_INT, size=int(n_estimators)), dtype=np.int64)


@functools.lru_cache(maxsize=32)
def _int_seeds(seed: int, n_estimators: int) -> np.ndarray:
    """Seeds of an integer ``random_state`` (cached: building a ``RandomState`` costs
    ~0.3 ms, and the inner CV grows dozens of forests with the same seeds)."""
    rs = np.random.RandomState(seed)
    return np.asarray(rs.randint(_MAX_INT, size=n_estimators), dtype=np.int64)


@functools.lru_cache(maxsize=16)
def _cached_draws(seed: int, n_estimators: int, n: int, bootstrap: bool,
                  cdf: bytes) -> tuple[np.ndarray, np.ndarray]:
    """:func:`_draws` of an integer ``random_state`` (cached: the inner CV grows dozens of
    forests with the same seeds on training sets of the same size; not to be modified)."""
    return _draws(_int_seeds(seed, n_estimators), n, bootstrap,
                  np.frombuffer(cdf, dtype=np.float64).copy())


@dataclass(frozen=True, eq=False)
class FittedForest:
    """A fitted forest: flat node arrays of all trees (scikit-learn's ``tree_`` layout).

    Tree ``t`` holds nodes ``offsets[t]:offsets[t + 1]`` (node 0 of a tree is its root,
    nodes in depth-first order, left child first); ``children_left`` / ``children_right``
    are tree-local node indices (``-1`` at leaves), ``feature`` the split feature (``-2``
    at leaves), a sample goes left when its (float32) value is ``<= threshold``, and
    ``value`` holds the weighted class frequencies of every node.

    Attributes
    ----------
    classes_ : ndarray
        Class labels, sorted (columns of :meth:`predict_proba`).
    n_features_in_ : int
    max_features, min_samples_leaf, class_weight, bootstrap
        The parameters of :func:`fit_forest`; ``max_features_`` is the resolved count.
    """

    classes_: np.ndarray
    n_features_in_: int
    children_left: np.ndarray
    children_right: np.ndarray
    feature: np.ndarray
    threshold: np.ndarray
    value: np.ndarray
    impurity: np.ndarray
    weighted_n_node_samples: np.ndarray
    n_node_samples: np.ndarray
    offsets: np.ndarray
    max_features: Any = "sqrt"
    max_features_: int = 0
    min_samples_leaf: Any = 1
    class_weight: Any = None
    bootstrap: bool = True
    _tree_importances: np.ndarray = field(default=None, repr=False)  # type: ignore[assignment]

    @property
    def n_estimators(self) -> int:
        """Number of trees."""
        return int(self.offsets.shape[0] - 1)

    @property
    def node_counts(self) -> np.ndarray:
        """Number of nodes of every tree."""
        return np.diff(self.offsets)

    @property
    def n_leaves(self) -> np.ndarray:
        """Number of leaves of every tree."""
        leaf = (self.children_left == _TREE_LEAF).astype(np.int64)
        return np.add.reduceat(leaf, self.offsets[:-1])

    def tree(self, t: int) -> dict[str, np.ndarray]:
        """Node arrays of tree ``t`` (compare with a scikit-learn ``tree_``)."""
        if not 0 <= t < self.n_estimators:
            raise IndexError(f"tree index {t} out of range [0, {self.n_estimators})")
        sl = slice(int(self.offsets[t]), int(self.offsets[t + 1]))
        return {name: getattr(self, name)[sl] for name in (
            "children_left", "children_right", "feature", "threshold", "value", "impurity",
            "weighted_n_node_samples", "n_node_samples")}

    @property
    def feature_importances_(self) -> np.ndarray:
        """Impurity-based importances (mean decrease in Gini impurity), summing to one.

        Each tree's decreases are divided by its root weight and normalised to sum to one;
        the mean over the trees with at least one split is renormalised (scikit-learn's
        definition; all zeros when no tree splits).
        """
        rows = self._tree_importances[self.node_counts > 1]
        if rows.shape[0] == 0:
            return np.zeros(self.n_features_in_, dtype=np.float64)
        normalizer = rows.sum(axis=1)
        pos = normalizer > 0.0
        rows[pos] /= normalizer[pos, np.newaxis]
        mean = np.mean(rows, axis=0, dtype=np.float64)
        return mean / np.sum(mean)

    def _check_X(self, X: Any) -> np.ndarray:
        Xa = np.asarray(X, dtype=np.float32)
        if Xa.ndim != 2 or Xa.shape[1] != self.n_features_in_:
            raise ValueError(f"X must be 2-d with {self.n_features_in_} columns; got shape "
                             f"{Xa.shape}")
        if not np.isfinite(Xa).all():
            raise ValueError("X has missing or infinite values")
        return np.ascontiguousarray(Xa)

    def predict_proba(self, X: Any) -> np.ndarray:
        """Class probabilities (mean of the trees' leaf frequencies), columns in
        ``classes_`` order."""
        return _forest_proba(self._check_X(X), self.children_left, self.children_right,
                             self.feature, self.threshold, self.value, self.offsets)

    def predict(self, X: Any) -> np.ndarray:
        """Most probable class of each row (first class on ties)."""
        return self.classes_.take(np.argmax(self.predict_proba(X), axis=1), axis=0)


def _class_sample_weight(class_weight: Any, y: np.ndarray, classes: np.ndarray,
                         bootstrap: bool) -> tuple[np.ndarray | None, bool]:
    """Expanded class weights of the training samples (``None``: unit weights) and whether
    balanced weights are recomputed on every bootstrap sample, as
    ``RandomForestClassifier._validate_y_class_weight``."""
    if class_weight is None:
        return None, False
    if isinstance(class_weight, dict):
        return compute_sample_weight(class_weight, y), False
    if class_weight not in ("balanced", "balanced_subsample"):
        raise ValueError(f"class_weight must be None, 'balanced', 'balanced_subsample' or a "
                         f"dict; got {class_weight!r}")
    if class_weight == "balanced_subsample" and bootstrap:
        return None, True
    cw = compute_class_weight("balanced", classes=classes, y=y)
    return compute_sample_weight(dict(zip(classes, cw, strict=True)), y), False


def fit_forest(X: Any, y: Any, *, n_estimators: int = 100, max_features: Any = "sqrt",
               min_samples_leaf: int | float = 1, class_weight: Any = None,
               bootstrap: bool = True, random_state: Any = None) -> FittedForest:
    """Grow a random forest classifier (numba; scikit-learn's algorithm, see the module).

    Parameters
    ----------
    X : array-like of shape (n_samples, n_features)
        Finite predictors (cast to float32).
    y : array-like of shape (n_samples,)
        Class labels.
    n_estimators : int, default 100
        Number of trees.
    max_features : int, float, "sqrt", "log2" or None, default "sqrt"
        Candidate features per split (:func:`resolve_max_features`).
    min_samples_leaf : int or float, default 1
        Minimum number of (distinct) training samples in a leaf; a float in (0, 1) is a
        fraction of ``n_samples`` (rounded up).
    class_weight : None, "balanced", "balanced_subsample" or dict
        Class weights, scikit-learn's definitions (``"balanced"``:
        ``n_samples / (n_classes * bincount(y))`` on the training labels). With
        ``bootstrap`` they are the sampling weights of the bootstrap draws.
    bootstrap : bool, default True
        Bootstrap samples per tree (``False``: every tree on all samples; with
        ``max_features=None`` the trees are then CART trees differing only in the order
        features are visited, which breaks ties).
    random_state : int, RandomState or None
        Seeds the per-tree seeds (:func:`tree_seeds`).

    Returns
    -------
    FittedForest

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> X = rng.normal(size=(40, 5)); y = (X[:, 0] > 0).astype(int)
    >>> forest = fit_forest(X, y, n_estimators=50, random_state=0)
    >>> forest.n_estimators, forest.predict_proba(X).shape
    (50, (40, 2))
    >>> int(np.argmax(forest.feature_importances_))
    0
    """
    Xa = np.asarray(X, dtype=np.float32)
    if Xa.ndim != 2:
        raise ValueError(f"X must be 2-d; got shape {Xa.shape}")
    if not np.isfinite(Xa).all():
        raise ValueError("X has missing or infinite values")
    ya = np.asarray(y)
    if ya.ndim != 1 or ya.shape[0] != Xa.shape[0]:
        raise ValueError(f"y must be 1-d with {Xa.shape[0]} labels; got shape {ya.shape}")
    n, p = Xa.shape
    if n < 1 or p < 1:
        raise ValueError(f"need at least one sample and one feature; got shape {Xa.shape}")
    if not isinstance(n_estimators, (numbers.Integral, np.integer)) or n_estimators < 1:
        raise ValueError(f"n_estimators must be an integer >= 1; got {n_estimators!r}")
    if isinstance(min_samples_leaf, (numbers.Integral, np.integer)) and not isinstance(
            min_samples_leaf, bool):
        if min_samples_leaf < 1:
            raise ValueError(f"min_samples_leaf must be >= 1; got {min_samples_leaf!r}")
        msl = int(min_samples_leaf)
    elif isinstance(min_samples_leaf, numbers.Real) and 0.0 < min_samples_leaf < 1.0:
        msl = int(math.ceil(min_samples_leaf * n))
    else:
        raise ValueError(f"min_samples_leaf must be an int >= 1 or a float in (0, 1); got "
                         f"{min_samples_leaf!r}")
    m = resolve_max_features(max_features, p)
    classes, y_codes = np.unique(ya, return_inverse=True)
    y_codes = np.ascontiguousarray(y_codes.reshape(-1), dtype=np.int64)
    n_classes = len(classes)
    sw, subsample = _class_sample_weight(class_weight, ya, classes, bool(bootstrap))
    if bootstrap and sw is not None:
        prob = sw / np.sum(sw)  # RandomState.choice(n, n, p=prob)
        cdf = prob.cumsum()
        cdf /= cdf[-1]
    else:
        cdf = np.empty(0, dtype=np.float64)
    weights = np.ones(n) if sw is None else np.asarray(sw, dtype=np.float64)
    if isinstance(random_state, (numbers.Integral, np.integer)) and not isinstance(
            random_state, bool):
        counts, rseeds = _cached_draws(int(random_state), int(n_estimators), n,
                                       bool(bootstrap), cdf.tobytes())
    else:
        counts, rseeds = _draws(tree_seeds(random_state, int(n_estimators)), n,
                                bool(bootstrap), cdf)
    out = _grow_forest(np.ascontiguousarray(Xa), y_codes, n_classes, weights, bool(bootstrap),
                       counts, subsample, rseeds, m, msl)
    left, right, feat, thr, value, imp, wnode, nnode, offsets, tree_imp = out
    logger.debug("grew %d trees, %d nodes (max_features=%d, min_samples_leaf=%d)",
                 n_estimators, len(left), m, msl)
    return FittedForest(classes_=classes, n_features_in_=p, children_left=left,
                        children_right=right, feature=feat, threshold=thr, value=value,
                        impurity=imp, weighted_n_node_samples=wnode, n_node_samples=nnode,
                        offsets=offsets, max_features=max_features, max_features_=m,
                        min_samples_leaf=min_samples_leaf, class_weight=class_weight,
                        bootstrap=bool(bootstrap), _tree_importances=tree_imp)
