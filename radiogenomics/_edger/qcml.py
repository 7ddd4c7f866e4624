"""edgeR's classic (qCML) dispersion on arrays (genes x samples): one-group fits,
``q2qnbinom`` / ``equalizeLibSizes`` pseudo-counts, the conditional log-likelihood, R's
``optimize`` (Brent), ``movingAverageByCol``, and the common (``estimateCommonDisp``) and
tagwise (``estimateTagwiseDisp``) estimates. The pandas layer is
:func:`radiogenomics.dispersion.estimate_dispersion`."""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import numpy as np


def _fit_one_group(
    y: np.ndarray, offset: np.ndarray, disp: Any, maxit: int = 50, tol: float = 1e-10
) -> np.ndarray:
    r"""Intercept-only NB GLM per gene by Fisher scoring (edgeR ``mglmOneGroup``).

    .. math:: \beta \leftarrow \beta + \frac{\sum_i (y_i - \mu_i)/(1 + \phi\mu_i)}
              {\sum_i \mu_i/(1+\phi\mu_i)},\qquad \mu_i = e^{\beta + o_i},

    started at :math:`\log(\sum_{y_i > 10^{-10}} y_i e^{-o_i} / n)` and stopped gene by
    gene when the step is below ``tol``. Genes without a count above 1e-10 get
    :math:`-\infty`. ``offset`` is one value per sample; compiled, parallel over genes.
    """
    from .classic import one_group_rows

    y = np.ascontiguousarray(y, dtype=float)
    off = np.ascontiguousarray(offset, dtype=float)
    if off.ndim != 1 or off.size != y.shape[1]:
        raise ValueError("offset must hold one value per sample")
    return one_group_rows(y, off, _per_gene(disp, y.shape[0]), int(maxit), float(tol))


def _per_gene(value: Any, G: int) -> np.ndarray:
    """A scalar or per-gene value as a contiguous float array of length G."""
    v = np.asarray(value, dtype=float)
    return np.ascontiguousarray(np.broadcast_to(v.reshape(-1) if v.ndim else v, (G,)))


def _q2qnbinom(x: np.ndarray, lam: np.ndarray, lib_in: np.ndarray, lib_out: float,
               dispersion: Any, clip_negative: bool = False) -> np.ndarray:
    r"""edgeR ``q2qnbinom``: approximate quantile-to-quantile map of the counts ``x``
    (genes x samples) from :math:`NB(\mu_{in} = \lambda_g N_i, \phi_g)` to
    :math:`NB(\mu_{out} = \lambda_g N^*, \phi_g)`.

    The result is the mean of the normal map
    :math:`\mu_{out} + \sqrt{v_{out}/v_{in}}\,(x - \mu_{in})`, :math:`v = \mu(1+\phi\mu)`,
    and the gamma map :math:`G^{-1}_{out}(G_{in}(x))` with
    :math:`G \sim \Gamma(\text{shape}=\mu/(1+\phi\mu), \text{scale}=1+\phi\mu)` (upper tails
    for :math:`x \ge \mu_{in}`, lower tails otherwise, on the log scale as R's
    ``log.p = TRUE``). Means below 1e-14 get +0.25. Exactly-zero counts in the lower branch
    map to the gamma quantile 0 directly. Compiled (:mod:`radiogenomics._edger.special`).
    """
    from .special import q2q_rows

    x = np.ascontiguousarray(x, dtype=float)
    return q2q_rows(x, np.ascontiguousarray(lam, dtype=float),
                    np.ascontiguousarray(lib_in, dtype=float), float(lib_out),
                    _per_gene(dispersion, x.shape[0]), bool(clip_negative))


def _equalize_lib_sizes(y: np.ndarray, codes: np.ndarray, dispersion: Any, lib: np.ndarray
                        ) -> np.ndarray:
    r"""edgeR ``equalizeLibSizes``: pseudo-counts at the common library size
    :math:`N^* = \exp(\overline{\log N})`, computed per group (negative values set to 0).

    ``dispersion`` is a scalar or one value per gene."""
    G, n = y.shape
    common_lib = math.exp(np.mean(np.log(lib)))
    disp = _per_gene(dispersion, G)
    out = np.empty((G, n))
    for k in np.unique(codes):
        j = codes == k
        yk = np.ascontiguousarray(y[:, j], dtype=float)
        lam = np.exp(_fit_one_group(yk, np.log(lib[j]), disp))
        out[:, j] = _q2qnbinom(yk, lam, lib[j], common_lib, disp, clip_negative=True)
    return out


def _cond_loglik(groups: list[np.ndarray], r: Any) -> np.ndarray:
    r"""Sum over groups of edgeR's conditional NB log-likelihood given the group sums,

    :math:`\sum_k [\sum_{i\in k}\log\Gamma(z_i + r) + \log\Gamma(n_k r)
    - \log\Gamma(n_k(\bar z_k + r)) - n_k\log\Gamma(r)]`, one row per gene and one
    column per value of ``r`` (a scalar, one value per gene, or a genes x grid array)."""
    from .classic import cond_loglik_grid

    G = groups[0].shape[0]
    rr = np.asarray(r, dtype=float)
    squeeze = rr.ndim < 2
    rr = np.ascontiguousarray(np.broadcast_to(rr.reshape(-1, 1) if rr.ndim == 1 else rr,
                                              (G, 1) if rr.ndim < 2 else rr.shape))
    out = sum(cond_loglik_grid(z, rr) for z in groups)
    return out[:, 0] if squeeze else out


def _brent_fmin(f: Callable[[float], float], ax: float, bx: float, tol: float) -> float:
    """R's ``optimize`` (Brent's ``fmin``, golden section + parabolic steps), minimising
    ``f`` on ``[ax, bx]`` with R's exact stopping rule and step sequence."""
    c = (3.0 - math.sqrt(5.0)) * 0.5
    eps = math.sqrt(np.finfo(float).eps)
    a, b = ax, bx
    v = a + c * (b - a)
    w = x = v
    d = e = 0.0
    fx = f(x)
    fv = fw = fx
    tol3 = tol / 3.0
    while True:
        xm = (a + b) * 0.5
        tol1 = eps * abs(x) + tol3
        t2 = tol1 * 2.0
        if abs(x - xm) <= t2 - (b - a) * 0.5:
            break
        p = q = r = 0.0
        if abs(e) > tol1:
            r = (x - w) * (fx - fv)
            q = (x - v) * (fx - fw)
            p = (x - v) * q - (x - w) * r
            q = (q - r) * 2.0
            if q > 0.0:
                p = -p
            else:
                q = -q
            r = e
            e = d
        if abs(p) >= abs(q * 0.5 * r) or p <= q * (a - x) or p >= q * (b - x):
            e = (b - x) if x < xm else (a - x)
            d = c * e
        else:
            d = p / q
            u = x + d
            if u - a < t2 or b - u < t2:
                d = tol1 if x < xm else -tol1
        if abs(d) >= tol1:
            u = x + d
        elif d > 0.0:
            u = x + tol1
        else:
            u = x - tol1
        fu = f(u)
        if fu <= fx:
            if u < x:
                b = x
            else:
                a = x
            v, w, x = w, x, u
            fv, fw, fx = fw, fx, fu
        else:
            if u < x:
                a = u
            else:
                b = u
            if fu <= fw or w == x:
                v, fv = w, fw
                w, fw = u, fu
            elif fu <= fv or v == x or v == w:
                v, fv = u, fu
    return x


def _moving_average_by_col(x: np.ndarray, width: int) -> np.ndarray:
    """edgeR ``movingAverageByCol`` (full length): centred running mean of each column over
    ``width`` rows, with shrinking windows at the ends."""
    width = int(width)
    if width <= 1:
        return x.copy()
    n, m = x.shape
    width = min(width, n)
    half1 = math.ceil(width / 2)
    half2 = width // 2
    padded = np.vstack([np.zeros((half1, m)), x, np.zeros((half2, m))])
    cs = np.cumsum(padded, axis=0)
    n2 = padded.shape[0]
    out = cs[width:n2] - cs[: n2 - width]
    n3 = out.shape[0]
    w = np.full(n3, float(width))
    if half1 > 1:
        w[: half1 - 1] = width - np.arange(half1 - 1, 0, -1)
    w[n3 - half2:] = width - np.arange(1, half2 + 1)
    return out / w[:, None]


def _split(z: np.ndarray, codes: np.ndarray) -> list[np.ndarray]:
    return [np.ascontiguousarray(z[:, codes == k], dtype=float) for k in np.unique(codes)]


def _common_disp_classic(y: np.ndarray, codes: np.ndarray, lib: np.ndarray,
                         tol: float = 1e-6, rowsum_filter: float = 5.0) -> float:
    """edgeR ``estimateCommonDisp.default`` (qCML on pseudo-counts, two iterations)."""
    sel = y.sum(axis=1) > rowsum_filter
    if not sel.any():
        raise ValueError(f"no gene has more than {rowsum_filter:g} reads in total")
    ys = y[sel]
    disp = 0.01
    for _ in range(2):
        groups = _split(_equalize_lib_sizes(ys, codes, disp, lib), codes)

        def negll(delta: float, groups: list[np.ndarray] = groups) -> float:
            return -float(np.sum(_cond_loglik(groups, 1.0 / delta - 1.0)))

        delta = _brent_fmin(negll, 1e-4, 100.0 / 101.0, tol)
        disp = delta / (1.0 - delta)
    return disp


def _tagwise_disp_classic(y: np.ndarray, codes: np.ndarray, lib: np.ndarray, common: float,
                          ave_log_cpm: np.ndarray, prior_df: float = 10.0, span: float = 0.3,
                          grid_length: int = 11, grid_range: tuple[float, float] = (-6.0, 6.0)
                          ) -> np.ndarray:
    """edgeR ``estimateTagwiseDisp.default`` (method "grid", trend "movingave")."""
    from .smooth import maximize_interpolant

    G, n = y.shape
    ngroups = len(np.unique(codes))
    prior_n = prior_df / (n - ngroups)
    groups = _split(_equalize_lib_sizes(y, codes, common, lib), codes)
    pts = np.linspace(grid_range[0], grid_range[1], grid_length)
    disp_grid = common * 2.0**pts
    delta_grid = disp_grid / (1.0 + disp_grid)
    l0 = _cond_loglik(groups, np.broadcast_to(1.0 / delta_grid - 1.0, (G, grid_length)))
    o = np.argsort(ave_log_cpm, kind="stable")
    m0 = np.empty_like(l0)
    m0[o] = _moving_average_by_col(l0[o], math.floor(span * G))
    d = maximize_interpolant(pts, l0 + prior_n * m0)
    return common * 2.0**d
