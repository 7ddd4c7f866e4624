r"""A compact numba random forest for classification on small dense data.

Why
---
scikit-learn's :class:`~sklearn.ensemble.RandomForestClassifier` spends about 2.5 ms per
tree in Python and thread overhead on the data of this package (40-50 training samples x
10-20 predictors), where growing the tree itself takes microseconds; tuning ``max_features``
by a 10-fold inner CV then costs seconds per fit. :func:`fit_forest` grows the same forest in
one compiled (``numba.njit``, serial, ``nogil``) call: about 10-50 us per tree on such
data (``benchmarks/forest.py``: a tuned RF-genomics fit, 40 inner-CV forests of 100 trees
and a final one of 500, takes ~0.12 s instead of ~10 s).

What
----
Breiman's random forest with scikit-learn's algorithm, step for step (scikit-learn 1.9):

- **Bootstrap.** Per tree, ``n`` draws with replacement from the ``n`` training samples; the
  tree is grown on the distinct drawn samples with their draw counts as sample weights.
  With ``class_weight`` the draws are weighted by the class weights (scikit-learn >= 1.9:
  ``sample_weight`` is the sampling probability of the bootstrap and the tree sees the
  integer draw counts); ``"balanced_subsample"`` multiplies the counts by the balanced
  weights of the bootstrap sample. Without bootstrap every tree sees all samples, weighted
  by the class weights.
- **CART growth** with the Gini impurity of the weighted class counts, depth first (left
  child first). At each node up to ``max_features`` candidate features are drawn without
  replacement (Fisher-Yates); features found constant in a node are remembered for its
  descendants, and drawing continues past ``max_features`` while every feature visited so
  far was constant (scikit-learn's rule: the search stops after ``max_features`` visited
  features provided at least one was non-constant). The split of a feature maximises
  :math:`-w_L G_L - w_R G_R` over the midpoints between consecutive distinct sorted values
  (values closer than ``1e-7`` count as equal), with at least ``min_samples_leaf``
  distinct samples on each side; the first best split (in drawing order, then in
  threshold order) wins. A node is a leaf when it is pure, has fewer than
  ``max(2, 2 * min_samples_leaf)`` samples, or no feature gives a valid split.
- **Prediction.** A leaf holds the weighted class frequencies of its training samples;
  the forest's probabilities are the mean of the trees' leaf frequencies (soft voting).
- **Importances.** Mean decrease in weighted Gini impurity, normalised per tree, averaged
  over the trees that split at least once and renormalised to sum to one.
- **Randomness.** Exactly scikit-learn's: the per-tree seeds are
  ``check_random_state(random_state).randint(2**31 - 1)`` (drawn outside numba); each tree
  re-seeds a Mersenne twister from its seed for the bootstrap (``RandomState.randint`` /
  ``RandomState.choice``) and for the seed of the feature draws (``randint(0, 2**31 - 1)``),
  and draws features with scikit-learn's xorshift ``rand_r``. Results are deterministic
  given an integer ``random_state`` and do not depend on threads. For an integer
  ``random_state`` the draws are cached (the inner CV grows dozens of forests with the same
  seeds on training sets of the same size).

Data are cast to ``float32`` (as scikit-learn does), sorted with scikit-learn's introsort,
partitioned and accumulated in scikit-learn's order, so that with the same ``random_state``
the forest is the same as scikit-learn's, tree by tree (node arrays, probabilities and
importances): ``tests/radiogenomics/test_forest.py`` checks this against
:class:`~sklearn.tree.DecisionTreeClassifier` and
:class:`~sklearn.ensemble.RandomForestClassifier`, and checks statistical equivalence
(accuracy, AUC, importance ranking) with independent seeds. Missing values are not
supported (scikit-learn routes them; here they raise).
"""

from __future__ import annotations

import functools
import logging
import math
import numbers
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from numba import njit
from sklearn.utils import check_random_state, compute_class_weight, compute_sample_weight

logger = logging.getLogger(__name__)

__all__ = ["FittedForest", "fit_forest", "resolve_max_features", "tree_seeds"]

_MAX_INT = int(np.iinfo(np.int32).max)  # bound of the per-tree seeds (sklearn's MAX_INT)
_TREE_LEAF = -1
_TREE_UNDEFINED = -2


# ----------------------------------------------------------------------------- RNG
@njit(cache=True)
def _mt_seed(key: np.ndarray, seed: int) -> None:  # pragma: no cover - compiled
    """numpy's legacy ``mt19937_seed``: the MT19937 state of ``RandomState(seed)``."""
    s = seed & 0xFFFFFFFF
    for pos in range(624):
        key[pos] = s
        s = (1812433253 * (s ^ (s >> 30)) + pos + 1) & 0xFFFFFFFF


@njit(cache=True)
def _mt_twist(key: np.ndarray) -> None:  # pragma: no cover - compiled
    """Regenerate the 624 words of the MT19937 state (``mt19937_gen``)."""
    for i in range(227):
        yy = (key[i] & 0x80000000) | (key[i + 1] & 0x7FFFFFFF)
        key[i] = key[i + 397] ^ (yy >> 1) ^ ((yy & 1) * 0x9908B0DF)
    for i in range(227, 623):
        yy = (key[i] & 0x80000000) | (key[i + 1] & 0x7FFFFFFF)
        key[i] = key[i - 227] ^ (yy >> 1) ^ ((yy & 1) * 0x9908B0DF)
    yy = (key[623] & 0x80000000) | (key[0] & 0x7FFFFFFF)
    key[623] = key[396] ^ (yy >> 1) ^ ((yy & 1) * 0x9908B0DF)


@njit(cache=True, inline="always")
def _mt_temper(yy: int) -> int:  # pragma: no cover - compiled
    yy ^= yy >> 11
    yy ^= (yy << 7) & 0x9D2C5680
    yy ^= (yy << 15) & 0xEFC60000
    yy ^= yy >> 18
    return yy


@njit(cache=True, inline="always")
def _mt_next32(key: np.ndarray, pos: np.ndarray) -> int:  # pragma: no cover - compiled
    """Next 32-bit output; ``pos[0]`` is the position in the state (624: twist first)."""
    if pos[0] >= 624:
        _mt_twist(key)
        pos[0] = 0
    out = _mt_temper(key[pos[0]])
    pos[0] += 1
    return out


@njit(cache=True, inline="always")
def _mt_bounded(key: np.ndarray, pos: np.ndarray, rng: int) -> int:  # pragma: no cover
    """Uniform integer in ``[0, rng]`` by numpy's masked rejection (legacy ``randint``)."""
    if rng == 0:
        return 0
    mask = rng
    mask |= mask >> 1
    mask |= mask >> 2
    mask |= mask >> 4
    mask |= mask >> 8
    mask |= mask >> 16
    while True:
        val = _mt_next32(key, pos) & mask
        if val <= rng:
            return val


@njit(cache=True, inline="always")
def _mt_double(key: np.ndarray, pos: np.ndarray) -> float:  # pragma: no cover - compiled
    """Uniform double in [0, 1) with 53 random bits (``RandomState.random_sample``)."""
    a = _mt_next32(key, pos) >> 5
    b = _mt_next32(key, pos) >> 6
    return (a * 67108864.0 + b) / 9007199254740992.0


@njit(cache=True, inline="always")
def _rand_int(state: np.ndarray, low: int, high: int) -> int:  # pragma: no cover - compiled
    """sklearn's ``rand_int``: ``low + our_rand_r() % (high - low)`` (xorshift32)."""
    s = state[0]
    if s == 0:
        s = 1
    s ^= (s << 13) & 0xFFFFFFFF
    s ^= s >> 17
    s ^= (s << 5) & 0xFFFFFFFF
    state[0] = s
    return low + (s % 2147483648) % (high - low)


# ------------------------------------------------------------------- introsort
@njit(cache=True, inline="always")
def _swap(v: np.ndarray, s: np.ndarray, i: int, j: int) -> None:  # pragma: no cover
    tv = v[i]
    v[i] = v[j]
    v[j] = tv
    ts = s[i]
    s[i] = s[j]
    s[j] = ts


@njit(cache=True)
def _heapsort(v: np.ndarray, s: np.ndarray, lo: int, n: int) -> None:  # pragma: no cover
    start = (n - 2) // 2
    end = n
    while True:
        _sift_down(v, s, lo, start, end)
        if start == 0:
            break
        start -= 1
    end = n - 1
    while end > 0:
        _swap(v, s, lo, lo + end)
        _sift_down(v, s, lo, 0, end)
        end -= 1


@njit(cache=True)
def _sift_down(v: np.ndarray, s: np.ndarray, lo: int, start: int,
               end: int) -> None:  # pragma: no cover - compiled
    root = start
    while True:
        child = root * 2 + 1
        maxind = root
        if child < end and v[lo + maxind] < v[lo + child]:
            maxind = child
        if child + 1 < end and v[lo + maxind] < v[lo + child + 1]:
            maxind = child + 1
        if maxind == root:
            break
        _swap(v, s, lo + root, lo + maxind)
        root = maxind


@njit(cache=True)
def _sort(v: np.ndarray, s: np.ndarray, lo: int, n: int,
          stack: np.ndarray) -> None:  # pragma: no cover - compiled
    """Sort ``v[lo:lo+n]`` carrying ``s`` along: sklearn's ``simultaneous_sort`` with
    3-way partitioning (introsort, median-of-3 pivot, insertion sort below 16), so that
    ties end up in the same order as in scikit-learn."""
    if n == 0:
        return
    top = 0
    stack[0, 0] = lo
    stack[0, 1] = n
    stack[0, 2] = 2 * int(math.log2(n))
    top = 1
    while top > 0:
        top -= 1
        lo = stack[top, 0]
        n = stack[top, 1]
        maxd = stack[top, 2]
        heaped = False
        while n > 15:
            if maxd <= 0:
                _heapsort(v, s, lo, n)
                heaped = True
                break
            maxd -= 1
            a = v[lo]
            b = v[lo + n // 2]
            c = v[lo + n - 1]
            if a < b:
                if b < c:
                    pivot = b
                elif a < c:
                    pivot = c
                else:
                    pivot = a
            elif b < c:
                if a < c:
                    pivot = a
                else:
                    pivot = c
            else:
                pivot = b
            i = 0
            left = 0
            r = n
            while i < r:
                if v[lo + i] < pivot:
                    _swap(v, s, lo + i, lo + left)
                    i += 1
                    left += 1
                elif v[lo + i] > pivot:
                    r -= 1
                    _swap(v, s, lo + i, lo + r)
                else:
                    i += 1
            stack[top, 0] = lo  # left part, sorted later (disjoint from the right part)
            stack[top, 1] = left
            stack[top, 2] = maxd
            top += 1
            lo += r
            n -= r
        if not heaped:
            for i in range(1, n):
                tv = v[lo + i]
                ts = s[lo + i]
                j = i
                while j > 0 and v[lo + j - 1] > tv:
                    v[lo + j] = v[lo + j - 1]
                    s[lo + j] = s[lo + j - 1]
                    j -= 1
                v[lo + j] = tv
                s[lo + j] = ts


# ---------------------------------------------------------------- Gini criterion
@njit(cache=True)
def _reverse_left(samples: np.ndarray, y: np.ndarray, w: np.ndarray, sum_total: np.ndarray,
                  sum_left: np.ndarray, wnn: float, end: int,
                  new_pos: int) -> float:  # pragma: no cover - compiled
    """Left sums of ``samples[:new_pos]`` as the node totals minus ``samples[new_pos:end]``
    (``reverse_reset`` + subtraction); returns the left weight."""
    for c in range(sum_total.shape[0]):
        sum_left[c] = sum_total[c]
    wl = wnn
    for q in range(end - 1, new_pos - 1, -1):
        i = samples[q]
        sum_left[y[i]] -= w[i]
        wl -= w[i]
    return wl


@njit(cache=True, inline="always")
def _move_left(samples: np.ndarray, y: np.ndarray, w: np.ndarray, sum_total: np.ndarray,
               sum_left: np.ndarray, wnn: float, end: int, pos: int, wl: float,
               new_pos: int) -> float:  # pragma: no cover
    """The class sums and weight of the left child once ``samples[pos:new_pos]`` joined it:
    added one by one, or recomputed from the right end when that is nearer."""
    if (new_pos - pos) <= (end - new_pos):
        for q in range(pos, new_pos):
            i = samples[q]
            sum_left[y[i]] += w[i]
            wl += w[i]
    else:
        wl = _reverse_left(samples, y, w, sum_total, sum_left, wnn, end, new_pos)
    return wl


@njit(cache=True, inline="always")
def _update(samples: np.ndarray, y: np.ndarray, w: np.ndarray, sum_total: np.ndarray,
            sum_left: np.ndarray, sum_right: np.ndarray, wnn: float, end: int, pos: int,
            wl: float, new_pos: int) -> tuple[int, float, float]:  # pragma: no cover
    """Move ``samples[pos:new_pos]`` to the left child, from whichever end is nearer (as
    ``ClassificationCriterion.update``); returns ``(new_pos, w_left, w_right)``."""
    wl = _move_left(samples, y, w, sum_total, sum_left, wnn, end, pos, wl, new_pos)
    for c in range(sum_total.shape[0]):
        sum_right[c] = sum_total[c] - sum_left[c]
    return new_pos, wl, wnn - wl


@njit(cache=True, inline="always")
def _children_gini(sum_left: np.ndarray, sum_right: np.ndarray, wl: float,
                   wr: float) -> tuple[float, float]:  # pragma: no cover - compiled
    sq_left = 0.0
    sq_right = 0.0
    for c in range(sum_left.shape[0]):
        cl = sum_left[c]
        sq_left += cl * cl
        cr = sum_right[c]
        sq_right += cr * cr
    return 1.0 - sq_left / (wl * wl), 1.0 - sq_right / (wr * wr)


# ----------------------------------------------------------------------- splitter
@njit(cache=True)
def _node_split(X: np.ndarray, y: np.ndarray, w: np.ndarray, samples: np.ndarray,
                fv: np.ndarray, features: np.ndarray, constant_features: np.ndarray,
                start: int, end: int, n_known_constants: int, impurity: float, wnn: float,
                wns: float, max_features: int, min_samples_leaf: int, rstate: np.ndarray,
                sum_total: np.ndarray, sum_left: np.ndarray, sum_right: np.ndarray,
                sort_stack: np.ndarray):  # pragma: no cover - compiled
    """Best split of ``samples[start:end]`` (sklearn's ``node_split_best``, no missing
    values). Returns ``(pos, feature, threshold, impurity_left, impurity_right,
    improvement, n_constant_features)``; ``pos == end`` when there is no valid split."""
    ft = np.float32(1e-7)  # sklearn's FEATURE_THRESHOLD, compared in float32
    n_features = features.shape[0]
    n_classes = sum_total.shape[0]
    f_i = n_features
    n_visited = 0
    n_found_constants = 0
    n_drawn_constants = 0
    n_total_constants = n_known_constants
    best_pos = end
    best_feature = 0
    best_threshold = 0.0
    best_proxy = -np.inf
    while f_i > n_total_constants and (
            n_visited < max_features
            or n_visited <= n_found_constants + n_drawn_constants):
        n_visited += 1
        f_j = _rand_int(rstate, n_drawn_constants, f_i - n_found_constants)
        if f_j < n_known_constants:
            tmp = features[n_drawn_constants]
            features[n_drawn_constants] = features[f_j]
            features[f_j] = tmp
            n_drawn_constants += 1
            continue
        f_j += n_found_constants
        current = features[f_j]
        for q in range(start, end):
            fv[q] = X[samples[q], current]
        _sort(fv, samples, start, end - start, sort_stack)
        if fv[end - 1] <= fv[start] + ft:
            features[f_j] = features[n_total_constants]
            features[n_total_constants] = current
            n_found_constants += 1
            n_total_constants += 1
            continue
        f_i -= 1
        features[f_j] = features[f_i]
        features[f_i] = current
        # criterion.reset()
        pos = start
        wl = 0.0
        for c in range(n_classes):
            sum_left[c] = 0.0
        p = start
        while p < end:
            p += 1
            while p < end and fv[p] <= fv[p - 1] + ft:
                p += 1
            p_prev = p - 1
            if p == end:
                continue
            if p - start < min_samples_leaf or end - p < min_samples_leaf:
                continue
            # criterion.update(p) without filling sum_right (summed below)
            wl = _move_left(samples, y, w, sum_total, sum_left, wnn, end, pos, wl, p)
            pos = p
            wr = wnn - wl
            sq_left = 0.0
            sq_right = 0.0
            for c in range(n_classes):
                cl = sum_left[c]
                sq_left += cl * cl
                cr = sum_total[c] - cl
                sq_right += cr * cr
            proxy = -wr * (1.0 - sq_right / (wr * wr)) - wl * (1.0 - sq_left / (wl * wl))
            if proxy > best_proxy:
                best_proxy = proxy
                best_pos = p
                best_feature = current
                best_threshold = np.float64(fv[p_prev]) / 2.0 + np.float64(fv[p]) / 2.0
    imp_left = np.inf
    imp_right = np.inf
    improvement = -np.inf
    if best_pos < end:
        ps = start
        pe = end
        while ps < pe:
            if np.float64(X[samples[ps], best_feature]) <= best_threshold:
                ps += 1
            else:
                pe -= 1
                tmp = samples[ps]
                samples[ps] = samples[pe]
                samples[pe] = tmp
        wl = 0.0
        for c in range(n_classes):
            sum_left[c] = 0.0
            sum_right[c] = sum_total[c]
        pos, wl, wr = _update(samples, y, w, sum_total, sum_left, sum_right, wnn, end, start,
                              wl, best_pos)
        imp_left, imp_right = _children_gini(sum_left, sum_right, wl, wr)
        improvement = (wnn / wns) * (impurity - (wr / wnn * imp_right)
                                     - (wl / wnn * imp_left))
    for q in range(n_known_constants):
        features[q] = constant_features[q]
    for q in range(n_known_constants, n_known_constants + n_found_constants):
        constant_features[q] = features[q]
    return (best_pos, best_feature, best_threshold, imp_left, imp_right, improvement,
            n_total_constants)


# --------------------------------------------------------------------- tree/forest
@njit(cache=True)
def _grow_tree(X: np.ndarray, y: np.ndarray, w: np.ndarray, max_features: int,
               min_samples_leaf: int, rseed: int, samples: np.ndarray, fv: np.ndarray,
               features: np.ndarray, constant_features: np.ndarray, stack: np.ndarray,
               stack_imp: np.ndarray, sort_stack: np.ndarray, sum_total: np.ndarray,
               sum_left: np.ndarray, sum_right: np.ndarray, left: np.ndarray,
               right: np.ndarray, feature: np.ndarray, threshold: np.ndarray,
               value: np.ndarray, impurity: np.ndarray, wnode: np.ndarray,
               nnode: np.ndarray, base: int) -> int:  # pragma: no cover - compiled
    """Grow one tree depth first (sklearn's ``DepthFirstTreeBuilder``) into the node arrays
    from index ``base``; returns the number of nodes. Child indices are tree-local."""
    n, n_features = X.shape
    n_classes = sum_total.shape[0]
    min_samples_split = max(2, 2 * min_samples_leaf)
    eps = np.finfo(np.float64).eps
    rstate = np.empty(1, np.int64)
    rstate[0] = rseed
    n_samples = 0
    wns = 0.0
    for i in range(n):
        if w[i] != 0.0:
            samples[n_samples] = i
            n_samples += 1
        wns += w[i]
    for f in range(n_features):
        features[f] = f
    # stack columns: start, end, parent, is_left, n_constant_features
    stack[0, 0] = 0
    stack[0, 1] = n_samples
    stack[0, 2] = -1
    stack[0, 3] = 0
    stack[0, 4] = 0
    stack_imp[0] = np.inf
    top = 1
    first = True
    node_count = 0
    while top > 0:
        top -= 1
        start = stack[top, 0]
        end = stack[top, 1]
        parent = stack[top, 2]
        is_left = stack[top, 3]
        n_constant = stack[top, 4]
        node_impurity = stack_imp[top]
        n_node = end - start
        # criterion.init
        for c in range(n_classes):
            sum_total[c] = 0.0
        wnn = 0.0
        for q in range(start, end):
            i = samples[q]
            sum_total[y[i]] += w[i]
            wnn += w[i]
        is_leaf = n_node < min_samples_split or n_node < 2 * min_samples_leaf
        if first:
            sq = 0.0
            for c in range(n_classes):
                sq += sum_total[c] * sum_total[c]
            node_impurity = 1.0 - sq / (wnn * wnn)
            first = False
        is_leaf = is_leaf or node_impurity <= eps
        pos = end
        feat = 0
        thr = 0.0
        imp_l = np.inf
        imp_r = np.inf
        if not is_leaf:
            pos, feat, thr, imp_l, imp_r, improvement, n_constant = _node_split(
                X, y, w, samples, fv, features, constant_features, start, end, n_constant,
                node_impurity, wnn, wns, max_features, min_samples_leaf, rstate, sum_total,
                sum_left, sum_right, sort_stack)
            is_leaf = pos >= end or improvement + eps < 0.0
        node = base + node_count
        if parent >= 0:
            if is_left:
                left[base + parent] = node_count
            else:
                right[base + parent] = node_count
        left[node] = _TREE_LEAF
        right[node] = _TREE_LEAF
        if is_leaf:
            feature[node] = _TREE_UNDEFINED
            threshold[node] = _TREE_UNDEFINED
        else:
            feature[node] = feat
            threshold[node] = thr
        impurity[node] = node_impurity
        wnode[node] = wnn
        nnode[node] = n_node
        for c in range(n_classes):
            value[node, c] = sum_total[c] / wnn
        if not is_leaf:
            # push the right child, then the left one (popped, hence numbered, first)
            stack[top, 0] = pos
            stack[top, 1] = end
            stack[top, 2] = node_count
            stack[top, 3] = 0
            stack[top, 4] = n_constant
            stack_imp[top] = imp_r
            stack[top + 1, 0] = start
            stack[top + 1, 1] = pos
            stack[top + 1, 2] = node_count
            stack[top + 1, 3] = 1
            stack[top + 1, 4] = n_constant
            stack_imp[top + 1] = imp_l
            top += 2
        node_count += 1
    return node_count


@njit(cache=True, nogil=True)
def _draws(seeds: np.ndarray, n: int, bootstrap: bool,
           cdf: np.ndarray) -> tuple[np.ndarray, np.ndarray]:  # pragma: no cover - compiled
    """Per tree: the bootstrap draw counts of the ``n`` samples (``RandomState(seed)``'s
    ``randint(0, n, n)``, or ``choice(n, n, p)`` given the cumulative ``cdf``; zeros without
    bootstrap) and the seed of the feature draws (``randint(0, RAND_R_MAX)`` of a fresh
    ``RandomState(seed)``: both start at the first output of the generator)."""
    n_trees = seeds.shape[0]
    counts = np.zeros((n_trees, n), np.int64)
    rseeds = np.empty(n_trees, np.int64)
    key = np.empty(624, np.int64)
    pos = np.zeros(1, np.int64)
    for t in range(n_trees):
        _mt_seed(key, seeds[t])
        _mt_twist(key)
        j = 0
        while True:
            rseed = _mt_temper(key[j]) & 0x7FFFFFFF
            j += 1
            if rseed <= 2147483646:
                break
        rseeds[t] = rseed
        if not bootstrap:
            continue
        pos[0] = 0
        if cdf.shape[0] == 0:
            for _ in range(n):
                counts[t, _mt_bounded(key, pos, n - 1)] += 1
        else:
            for _ in range(n):
                u = _mt_double(key, pos)
                lo = 0
                hi = n
                while lo < hi:  # searchsorted(cdf, u, side="right")
                    mid = (lo + hi) // 2
                    if cdf[mid] <= u:
                        lo = mid + 1
                    else:
                        hi = mid
                counts[t, lo] += 1
    return counts, rseeds


@njit(cache=True)
def _enlarge(a: np.ndarray, size: int) -> np.ndarray:  # pragma: no cover - compiled
    out = np.empty(size, a.dtype)
    out[:a.shape[0]] = a
    return out


@njit(cache=True, nogil=True)
def _grow_forest(X: np.ndarray, y: np.ndarray, n_classes: int, sample_weight: np.ndarray,
                 bootstrap: bool, counts: np.ndarray, balanced_subsample: bool,
                 rseeds: np.ndarray, max_features: int,
                 min_samples_leaf: int):  # pragma: no cover - compiled
    """Grow ``len(rseeds)`` trees (draws from :func:`_draws`); returns the concatenated
    node arrays, the tree offsets and the per-tree impurity decreases (divided by the root
    weight, not normalised)."""
    n, n_features = X.shape
    n_trees = rseeds.shape[0]
    cap = 2 * n - 1  # most nodes a tree can have
    total = n_trees * min(cap, 63) + cap  # enlarged below when needed
    left = np.empty(total, np.int64)
    right = np.empty(total, np.int64)
    feature = np.empty(total, np.int64)
    threshold = np.empty(total, np.float64)
    value = np.empty((total, n_classes), np.float64)
    impurity = np.empty(total, np.float64)
    wnode = np.empty(total, np.float64)
    nnode = np.empty(total, np.int64)
    offsets = np.zeros(n_trees + 1, np.int64)
    importances = np.zeros((n_trees, n_features), np.float64)
    w = np.empty(n, np.float64)
    class_counts = np.empty(n_classes, np.int64)
    class_weight = np.empty(n_classes, np.float64)
    samples = np.empty(n, np.int64)
    fv = np.empty(n, np.float32)
    features = np.empty(n_features, np.int64)
    constant_features = np.empty(n_features, np.int64)
    stack = np.empty((n + 2, 5), np.int64)
    stack_imp = np.empty(n + 2, np.float64)
    maxd = 2 * int(math.log2(max(n, 1))) + 2
    sort_stack = np.empty((maxd * maxd + 2, 3), np.int64)
    sum_total = np.empty(n_classes, np.float64)
    sum_left = np.empty(n_classes, np.float64)
    sum_right = np.empty(n_classes, np.float64)
    base = 0
    for t in range(n_trees):
        rseed = rseeds[t]
        if bootstrap:
            for i in range(n):
                w[i] = np.float64(counts[t, i])
            if balanced_subsample:
                class_counts[:] = 0
                for i in range(n):
                    class_counts[y[i]] += counts[t, i]
                n_present = 0
                for c in range(n_classes):
                    if class_counts[c] > 0:
                        n_present += 1
                for c in range(n_classes):
                    if class_counts[c] > 0:
                        class_weight[c] = np.float64(n) / (np.float64(n_present)
                                                            * np.float64(class_counts[c]))
                    else:
                        class_weight[c] = 0.0
                for i in range(n):
                    w[i] = w[i] * class_weight[y[i]]
        else:
            for i in range(n):
                w[i] = sample_weight[i]
        if base + cap > total:
            total = max(2 * total, base + cap)
            left = _enlarge(left, total)
            right = _enlarge(right, total)
            feature = _enlarge(feature, total)
            threshold = _enlarge(threshold, total)
            impurity = _enlarge(impurity, total)
            wnode = _enlarge(wnode, total)
            nnode = _enlarge(nnode, total)
            bigger = np.empty((total, n_classes), np.float64)
            bigger[:base] = value[:base]
            value = bigger
        n_nodes = _grow_tree(X, y, w, max_features, min_samples_leaf, rseed, samples, fv,
                             features, constant_features, stack, stack_imp, sort_stack,
                             sum_total, sum_left, sum_right, left, right, feature, threshold,
                             value, impurity, wnode, nnode, base)
        for k in range(base, base + n_nodes):
            if left[k] != _TREE_LEAF:
                lk = base + left[k]
                rk = base + right[k]
                importances[t, feature[k]] += (wnode[k] * impurity[k]
                                               - wnode[lk] * impurity[lk]
                                               - wnode[rk] * impurity[rk])
        for f in range(n_features):
            importances[t, f] /= wnode[base]
        base += n_nodes
        offsets[t + 1] = base
    return (left[:base].copy(), right[:base].copy(), feature[:base].copy(),
            threshold[:base].copy(), value[:base].copy(), impurity[:base].copy(),
            wnode[:base].copy(), nnode[:base].copy(), offsets, importances)


@njit(cache=True, nogil=True)
def _forest_proba(X: np.ndarray, left: np.ndarray, right: np.ndarray, feature: np.ndarray,
                  threshold: np.ndarray, value: np.ndarray,
                  offsets: np.ndarray) -> np.ndarray:  # pragma: no cover - compiled
    """Mean over the trees of the leaf class frequencies of every row of ``X``."""
    n = X.shape[0]
    n_classes = value.shape[1]
    n_trees = offsets.shape[0] - 1
    out = np.zeros((n, n_classes), np.float64)
    for t in range(n_trees):
        base = offsets[t]
        for i in range(n):
            node = base
            while left[node] != _TREE_LEAF:
                if np.float64(X[i, feature[node]]) <= threshold[node]:
                    node = base + left[node]
                else:
                    node = base + right[node]
            for c in range(n_classes):
                out[i, c] += value[node, c]
    for i in range(n):
        for c in range(n_classes):
            out[i, c] /= n_trees
    return out


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
