"""Smoothers of edgeR's dispersion estimation, equal to R: the FMM cubic spline and its
maximiser (``maximizeInterpolant``), the degree-0 locfit trend of the APL grid, and the
natural cubic spline basis of ``splines::ns`` (limma's ``fitFDist`` trend)."""

from __future__ import annotations

import numpy as np


def _fmm_spline(x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Forsythe-Malcolm-Moler cubic spline coefficients, one spline per row of ``y``.

    On segment ``[x_i, x_{i+1}]`` the spline is
    ``y_i + b_i u + c_i u^2 + d_i u^3`` with ``u = x - x_i``; the end conditions match the
    third derivatives of the cubics through the first and last four points (R's
    ``spline(method="fmm")``).
    """
    y = np.asarray(y, dtype=float)
    G, n = y.shape
    if n < 3:
        t = (y[:, 1] - y[:, 0]) / (x[1] - x[0])
        b = np.column_stack([t, t])
        z = np.zeros_like(b)
        return b, z, z.copy()
    # 1-based working arrays (index 0 unused) to mirror the textbook algorithm
    X = np.concatenate([[np.nan], np.asarray(x, dtype=float)])
    Y = np.concatenate([np.full((G, 1), np.nan), y], axis=1)
    b = np.zeros((G, n + 1))
    c = np.zeros((G, n + 1))
    d = np.zeros((G, n + 1))
    nm1 = n - 1
    d[:, 1] = X[2] - X[1]
    c[:, 2] = (Y[:, 2] - Y[:, 1]) / d[:, 1]
    for i in range(2, n):
        d[:, i] = X[i + 1] - X[i]
        b[:, i] = 2.0 * (d[:, i - 1] + d[:, i])
        c[:, i + 1] = (Y[:, i + 1] - Y[:, i]) / d[:, i]
        c[:, i] = c[:, i + 1] - c[:, i]
    b[:, 1] = -d[:, 1]
    b[:, n] = -d[:, nm1]
    c[:, 1] = 0.0
    c[:, n] = 0.0
    if n > 3:
        c1 = c[:, 3] / (X[4] - X[2]) - c[:, 2] / (X[3] - X[1])
        cn = c[:, nm1] / (X[n] - X[n - 2]) - c[:, n - 2] / (X[nm1] - X[n - 3])
        c[:, 1] = c1 * d[:, 1] * d[:, 1] / (X[4] - X[1])
        c[:, n] = -cn * d[:, nm1] * d[:, nm1] / (X[n] - X[n - 3])
    for i in range(2, n + 1):
        t = d[:, i - 1] / b[:, i - 1]
        b[:, i] = b[:, i] - t * d[:, i - 1]
        c[:, i] = c[:, i] - t * c[:, i - 1]
    c[:, n] = c[:, n] / b[:, n]
    for i in range(nm1, 0, -1):
        c[:, i] = (c[:, i] - d[:, i] * c[:, i + 1]) / b[:, i]
    b[:, n] = (Y[:, n] - Y[:, n - 1]) / d[:, n - 1] + d[:, n - 1] * (c[:, n - 1] + 2.0 * c[:, n])
    for i in range(1, nm1 + 1):
        b[:, i] = (Y[:, i + 1] - Y[:, i]) / d[:, i] - d[:, i] * (c[:, i + 1] + 2.0 * c[:, i])
        d[:, i] = (c[:, i + 1] - c[:, i]) / d[:, i]
        c[:, i] = 3.0 * c[:, i]
    c[:, n] = 3.0 * c[:, n]
    d[:, n] = d[:, nm1]
    return b[:, 1:], c[:, 1:], d[:, 1:]


def maximize_interpolant(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Location of the maximum of the FMM spline through each row of ``y``.

    edgeR's ``maximizeInterpolant``: start from the largest grid value, then look for a
    stationary point ``3 d u^2 + 2 c u + b = 0`` of the spline in the segments left and
    right of it and keep whichever gives the largest interpolated value.

    Parameters
    ----------
    x : ndarray, shape (k,)
        Sorted, distinct grid points.
    y : ndarray, shape (G, k)
        Values on the grid, one row per curve.

    Returns
    -------
    ndarray, shape (G,)
    """
    x = np.asarray(x, dtype=float)
    y = np.atleast_2d(np.asarray(y, dtype=float))
    G, k = y.shape
    if k != x.size:
        raise ValueError("number of columns of y must equal the number of grid points")
    b, c, d = _fmm_spline(x, y)
    rows = np.arange(G)
    at = np.argmax(y, axis=1)
    maxed = y[rows, at].copy()
    x_max = x[at].copy()
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        for side in ("left", "right"):
            if side == "left":
                ok = at > 0
                seg = np.where(ok, at - 1, 0)
            else:
                ok = at < k - 1
                seg = np.where(ok, at, 0)
            sd, sc, sb = d[rows, seg], c[rows, seg], b[rows, seg]
            qa, qb, qc = 3.0 * sd, 2.0 * sc, sb
            disc = qb * qb - 4.0 * qa * qc
            solvable = ok & (disc >= 0)
            front = -qb / (2.0 * qa)
            back = np.sqrt(np.where(disc >= 0, disc, 0.0)) / (2.0 * qa)
            sol = front - back
            width = x[np.minimum(seg + 1, k - 1)] - x[seg]
            inside = solvable & (sol > 0) & (sol < width)
            val = ((sd * sol + sc) * sol + sb) * sol + y[rows, seg]
            better = inside & (val > maxed)
            maxed = np.where(better, val, maxed)
            x_max = np.where(better, sol + x[seg], x_max)
    return x_max


def _locfit_deg0_by_col(y: np.ndarray, x: np.ndarray, span: float, cut: float = 0.8) -> np.ndarray:
    """Fitted values of ``locfit(y[:, j] ~ x, alpha=span, deg=0)`` for every column ``j``.

    The local-constant fit at a point ``v`` is ``sum_i K_i y_i / sum_i K_i`` with tricube
    weights ``K_i = (1 - (|x_i - v|/h_v)^3)^3`` and ``h_v`` the distance from ``v`` to its
    ``floor(n * span)``-th nearest ``x_i``. As in locfit, fits are computed only at the
    vertices of an adaptive tree over ``[min x, max x]`` (a cell is halved while its length
    exceeds ``cut`` times the smaller vertex bandwidth) and the fitted values are linearly
    interpolated between vertices (degree 0 carries no derivative information).
    """
    y = np.asarray(y, dtype=float)
    x = np.asarray(x, dtype=float)
    n = x.size
    if span * n < 2 or n <= 1:
        return y.copy()
    k = int(n * span + 1e-12)
    xs = np.sort(x)
    lo_x, hi_x = xs[0], xs[-1]

    def bandwidth(v: float) -> float:
        if k < 1:
            return 0.0
        dist = np.abs(xs - v)
        if k < n:
            return float(np.partition(dist, k - 1)[k - 1])
        return float(dist.max() * (k / n))

    verts: list[float] = []
    hs: list[float] = []
    pseudo: list[tuple[int, int] | None] = []

    def add_vertex(v: float, parents: tuple[int, int] | None = None) -> int:
        verts.append(v)
        if parents is None:
            hs.append(bandwidth(v))
        else:
            hs.append((hs[parents[0]] + hs[parents[1]]) / 2.0)
        pseudo.append(parents)
        return len(verts) - 1

    def score(i0: int, i1: int) -> tuple[float, float]:
        le = verts[i1] - verts[i0]
        h = [hh for hh in (hs[i0], hs[i1]) if hh > 0]
        if not h:
            return le, 2.0 * le / (hi_x - lo_x)
        return le, le / min(h)

    # iterative depth-first growth (left child first, as locfit)
    a0, a1 = add_vertex(lo_x), add_vertex(hi_x)
    stack = [(a0, a1)]
    while stack:
        i0, i1 = stack.pop()
        le, sc = score(i0, i1)
        if not cut < sc:
            continue
        pv = le < cut * min(hs[i0], hs[i1])
        mid = (verts[i0] + verts[i1]) / 2.0
        im = add_vertex(mid, (i0, i1) if pv else None)
        stack.append((im, i1))
        stack.append((i0, im))

    V = np.array(verts)
    H = np.array(hs)
    real = np.array([p is None for p in pseudo])
    vals = np.zeros((V.size, y.shape[1]))
    if real.any():
        vr, hr = V[real], H[real]
        with np.errstate(divide="ignore", invalid="ignore"):
            u = np.abs(x[None, :] - vr[:, None]) / hr[:, None]
        K = np.where(u < 1, (1 - u**3) ** 3, 0.0)
        K = np.where(hr[:, None] == 0, (u == 0).astype(float), K) if np.any(hr == 0) else K
        vals[real] = (K @ y) / K.sum(axis=1)[:, None]
    for i, par in enumerate(pseudo):  # pseudo vertices (rare in 1-D): midpoint average
        if par is not None:
            vals[i] = (vals[par[0]] + vals[par[1]]) / 2.0
    order = np.argsort(V)
    Vs, vals = V[order], vals[order]
    # linear interpolation within the tree cell containing each x
    j = np.clip(np.searchsorted(Vs, x, side="right") - 1, 0, Vs.size - 2)
    left, right = Vs[j], Vs[j + 1]
    d = right - left
    t = np.where(d > 0, (x - left) / np.where(d > 0, d, 1.0), 0.0)
    return (1 - t)[:, None] * vals[j] + t[:, None] * vals[j + 1]


def _natural_spline_basis(x: np.ndarray, df: int) -> np.ndarray:
    """A basis of the natural cubic splines spanned by ``splines::ns(x, df, intercept=TRUE)``:
    boundary knots at the range of ``x`` and ``df - 2`` interior knots at quantiles."""
    lo, hi = float(x.min()), float(x.max())
    n_int = df - 2
    interior = np.quantile(x, np.linspace(0, 1, n_int + 2)[1:-1]) if n_int > 0 else np.array([])
    knots = (np.concatenate([[lo], interior, [hi]]) - lo) / (hi - lo)
    u = (x - lo) / (hi - lo)
    cols = [np.ones_like(u), u]
    K = knots.size

    def dk(k: int) -> np.ndarray:
        return (np.maximum(u - knots[k], 0) ** 3 - np.maximum(u - knots[K - 1], 0) ** 3) / (
            knots[K - 1] - knots[k]
        )

    for k in range(K - 2):
        cols.append(dk(k) - dk(K - 2))
    return np.column_stack(cols)
