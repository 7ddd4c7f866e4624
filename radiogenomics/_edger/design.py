"""What the GLM kernels need to know about a design: edgeR's oneway layout
(``designAsFactor``), the block structure of a design (independent fits per block),
R's ``qr()`` column selection, zero patterns and residual df (``.residDF``)."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np


def _design_as_factor(design: np.ndarray) -> tuple[np.ndarray, int]:
    """Group index of the distinct rows of ``design`` (edgeR's ``designAsFactor``)."""
    z = (math.e + math.pi) / 5.0
    key = (design * z ** np.arange(design.shape[1])).mean(axis=1)
    _, inv = np.unique(np.round(key, 12), return_inverse=True)
    return inv.ravel(), int(inv.max()) + 1


@dataclass
class _Design:
    """What the GLM kernels need to know about a design matrix ``X`` (n x p).

    Samples are processed in the order ``order``, in segments ``seg[k]:seg[k+1]``: the
    groups of a oneway layout, or the blocks of a block-diagonal reparametrisation
    ``Z = X M`` (block ``k`` holds its samples and ``bp[k]`` columns, stored transposed in
    ``Xflat``), or one segment holding ``X`` itself."""

    X: np.ndarray  # contiguous float design
    oneway: bool  # edgeR's oneway layout: as many distinct rows as columns
    order: np.ndarray  # sample order of the kernels
    seg: np.ndarray  # segment boundaries in that order
    bp: np.ndarray  # columns of each segment's design (oneway: 1)
    Xflat: np.ndarray  # the segments' designs, concatenated
    du: np.ndarray  # oneway: design row of each group
    indicator: bool  # oneway: du is an indicator matrix (no back-transform)
    M: np.ndarray | None  # block designs: beta = M gamma (None: gamma = beta)
    logdet_m: float  # log |det M| (added to the APL of a block design)
    q: np.ndarray  # Levenberg "null" start direction (coefficients of the kernel)


def _block_structure(X: np.ndarray) -> tuple[np.ndarray, np.ndarray] | None:
    """Finest partition of the samples over which the column space of ``X`` splits into a
    direct sum of subspaces supported on each part: the connected components of the
    non-zero pattern of the hat matrix ``H = X X^+`` (``H`` is block diagonal exactly for
    such a partition). Returns (component of each sample, number of components) or None
    when there is a single component."""
    H = X @ np.linalg.pinv(X)
    adj = np.abs(H) > 1e-9 * max(1.0, float(np.abs(H).max()))
    n = adj.shape[0]
    lab = np.arange(n)
    while True:  # each sample takes the smallest label of its neighbours, until stable
        new = np.where(adj, lab[None, :], n).min(axis=1)
        new = np.minimum(new, lab)
        if np.array_equal(new, lab):
            break
        lab = new
    roots, lab = np.unique(lab, return_inverse=True)
    if roots.size < 2:
        return None
    return lab.ravel().astype(np.int64), np.array(roots.size)


def _design_info(design: np.ndarray, blocks: bool = True) -> _Design:
    X = np.ascontiguousarray(design, dtype=float)
    n, p = X.shape
    group, ng = _design_as_factor(X)
    q = np.linalg.lstsq(X, np.ones(n), rcond=None)[0]
    one = np.array([0, n], dtype=np.int64)
    if ng == p:  # oneway layout: samples sorted by group
        order = np.argsort(group, kind="stable")
        seg = np.searchsorted(group[order], np.arange(ng + 1)).astype(np.int64)
        du = X[order[seg[:-1]]]
        indicator = int((du == 1).sum()) == ng and int((du == 0).sum()) == (ng - 1) * ng
        return _Design(X, True, order.astype(np.int64), seg, np.ones(ng, dtype=np.int64),
                       np.ascontiguousarray(X[order].T).ravel(), du, indicator, None, 0.0, q)
    plain = _Design(X, False, np.arange(n, dtype=np.int64), one, np.array([p], np.int64),
                    np.ascontiguousarray(X.T).ravel(), np.eye(p), True, None, 0.0, q)
    found = _block_structure(X) if blocks else None
    if found is None:
        return plain
    lab, ncomp = found
    order = np.argsort(lab, kind="stable")
    seg = np.searchsorted(lab[order], np.arange(int(ncomp) + 1)).astype(np.int64)
    Z = np.zeros((n, p))
    bp, parts, col = [], [], 0
    for k in range(int(ncomp)):
        rows = order[seg[k]:seg[k + 1]]
        Xk = X[rows]
        Zk = Xk[:, _kept_columns(Xk)]
        if col + Zk.shape[1] > p:
            return plain
        Z[rows, col:col + Zk.shape[1]] = Zk
        bp.append(Zk.shape[1])
        parts.append(np.ascontiguousarray(Zk.T).ravel())
        col += Zk.shape[1]
    if col != p:
        return plain
    M = np.linalg.lstsq(X, Z, rcond=None)[0]
    if not np.allclose(X @ M, Z, rtol=0, atol=1e-9 * max(1.0, float(np.abs(Z).max()))):
        return plain
    sign, logdet = np.linalg.slogdet(M)
    if sign == 0:
        return plain
    return _Design(X, False, order.astype(np.int64), seg, np.array(bp, dtype=np.int64),
                   np.concatenate(parts), np.eye(p), True, M, float(logdet),
                   np.linalg.solve(M, q))


def _kept_columns(X: np.ndarray, tol: float = 1e-7) -> np.ndarray:
    """Columns kept by R's ``qr()`` (LINPACK ``dqrdc2`` limited pivoting): a column is moved
    to the end when its norm after projection on the previous kept columns is below
    ``tol`` times its original norm. Returns the kept column indices, in order."""
    from .nbglm import kept_columns

    return kept_columns(np.ascontiguousarray(X, dtype=float), float(tol))


def _zero_patterns(zero: np.ndarray) -> list[tuple[np.ndarray, np.ndarray]]:
    """Genes grouped by their pattern of zero observations (rows of the boolean ``zero``):
    ``(row indices, pattern)`` pairs; only the rows with some zero are sorted."""
    G, n = zero.shape
    some = zero.any(axis=1)
    out = []
    none = np.flatnonzero(~some)
    if none.size:
        out.append((none, np.zeros(n, dtype=bool)))
    idx = np.flatnonzero(some)
    if idx.size:
        pats, inv = np.unique(zero[idx], axis=0, return_inverse=True)
        inv = inv.ravel()
        order = np.argsort(inv, kind="stable")
        bounds = np.searchsorted(inv[order], np.arange(pats.shape[0] + 1))
        for k in range(pats.shape[0]):
            out.append((idx[order[bounds[k]:bounds[k + 1]]], pats[k]))
    return out


def _resid_df(zero: np.ndarray, design: np.ndarray) -> np.ndarray:
    """Residual df after dropping exactly-zero fitted observations (edgeR ``.residDF``)."""
    G, n = zero.shape
    p = design.shape[1]
    nzero = zero.sum(axis=1)
    df = np.full(G, n - p, dtype=float)
    df[nzero == n] = 0
    some = (nzero > 0) & (nzero < n)
    if some.any():
        pats, inv = np.unique(zero[some], axis=0, return_inverse=True)
        inv = inv.ravel()
        ranks = np.array([_kept_columns(design[~pat]).size for pat in pats])
        df[some] = np.maximum(n - nzero[some] - ranks[inv], 0)
    return df


def group_design(y: Any) -> tuple[np.ndarray, list[str]]:
    """Treatment-contrast design of R's ``model.matrix(~group)`` with sorted levels.

    Returns the (n, L) matrix (intercept, then one indicator per non-reference level) and
    the column names (``"(Intercept)"``, ``"group<level>"``).
    """
    y = np.asarray(y)
    levels = sorted(set(y.tolist()))
    cols = [np.ones(len(y))] + [(y == lev).astype(float) for lev in levels[1:]]
    names = ["(Intercept)"] + [f"group{lev}" for lev in levels[1:]]
    return np.column_stack(cols), names
