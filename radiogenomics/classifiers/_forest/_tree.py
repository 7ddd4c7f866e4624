"""Growing the trees: the Gini criterion, the best-split search and depth-first growth
(scikit-learn's ``BestSplitter`` and ``DepthFirstTreeBuilder``), the per-tree bootstrap
draws, a whole forest in one compiled call, and soft-voting prediction."""

from __future__ import annotations

import math

import numpy as np
from numba import njit

from ._kernel import (
    _TREE_LEAF,
    _TREE_UNDEFINED,
    _mt_bounded,
    _mt_double,
    _mt_seed,
    _mt_temper,
    _mt_twist,
    _rand_int,
    _sort,
)


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
