"""Compiled primitives of the forest: scikit-learn's random streams and introsort.

- Mersenne twister (``numpy.random.RandomState``) seeding, twisting and bounded draws, and
  scikit-learn's xorshift ``rand_r`` (:func:`_rand_int`), so that bootstrap draws and
  feature draws are scikit-learn's;
- scikit-learn's ``simultaneous_sort`` (introsort with 3-way partitioning), so that ties
  end up in scikit-learn's order.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit

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
        lo, n, maxd = stack[top, 0], stack[top, 1], stack[top, 2]
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
