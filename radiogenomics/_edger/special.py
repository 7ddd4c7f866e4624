r"""Special functions of edgeR's classic path (compiled): incomplete gamma tails, gamma
quantiles and the quantile-to-quantile map of the pseudo-counts (``q2qnbinom``).

Special functions
-----------------
The regularised incomplete gamma functions are evaluated on the log scale,

.. math:: \log P(a, x) = a\log x - x - \log\Gamma(a+1) + \log\sum_{n\ge0}
          \frac{x^n}{(a+1)\cdots(a+n)}

(power series, :math:`x \le 1` or :math:`x \le a`) and

.. math:: \log Q(a, x) = a\log x - x - \log\Gamma(a) + \log\,
          \cfrac{1}{x+1-a-\cfrac{1\cdot(1-a)}{x+3-a-\cfrac{2(2-a)}{x+5-a-\cdots}}}

(Legendre's continued fraction by the modified Lentz method, otherwise); the other tail is
:math:`\log(1 - e^{\log T})`. The gamma quantile solves
:math:`\log T(a, e^s) = \ell` for :math:`s = \log x` by Halley's method with
:math:`\partial_s \log P = e^{a\log x - x - \log\Gamma(a) - \log P}` (negated over *Q*)
and :math:`\partial_s^2 = h\,(a - x - h)`, kept inside a bisection bracket, from a
Wilson-Hilferty start. This matches R's ``pgamma``/``qgamma`` with ``log.p = TRUE`` to
about 1e-12 (relative) and is tested against :mod:`scipy.special`.
"""
from __future__ import annotations

import math

import numpy as np
from numba import njit, prange

_TINY = 1e-300
_MAXIT = 100_000


@njit(cache=True)
def _log_tail(a: float, x: float, logx: float, lga: float, upper: bool
              ) -> tuple[float, float]:  # pragma: no cover
    """(log Q(a, x) if ``upper`` else log P(a, x), log of x^a e^-x / Gamma(a)) for a > 0,
    x > 0, given ``logx`` = log(x) and ``lga`` = lgamma(a)."""
    lpre = a * logx - x - lga
    if x <= 1.0 or x < a + 2.0 * math.sqrt(a) + 1.0:  # series (Q >~ 1e-2 here, if P is)
        ap = a
        term = 1.0 / a
        s = term
        for _ in range(_MAXIT):
            ap += 1.0
            term *= x / ap
            s += term
            if term < s * 1e-17:
                break
        lp = lpre + math.log(s)
        return (math.log1p(-math.exp(lp)) if upper else lp), lpre
    b = x + 1.0 - a
    c = 1.0 / _TINY
    d = 1.0 / b
    h = d
    for i in range(1, _MAXIT):
        an = -i * (i - a)
        b += 2.0
        d = an * d + b
        if abs(d) < _TINY:
            d = _TINY
        c = b + an / c
        if abs(c) < _TINY:
            c = _TINY
        d = 1.0 / d
        de = d * c
        h *= de
        if abs(de - 1.0) < 1e-16:
            break
    lq = lpre + math.log(h)
    return (lq if upper else math.log1p(-math.exp(lq))), lpre


@njit(cache=True)
def log_gamma_pq(a: float, x: float) -> tuple[float, float]:  # pragma: no cover - compiled
    """(log P(a, x), log Q(a, x)) of the regularised incomplete gamma functions, a > 0."""
    if x <= 0.0:
        return -np.inf, 0.0
    lga = math.lgamma(a)
    lx = math.log(x)
    return _log_tail(a, x, lx, lga, False)[0], _log_tail(a, x, lx, lga, True)[0]


@njit(cache=True)
def gamma_quantile_log(a: float, lt: float, upper: bool, guess: float,
                       lga: float = np.nan) -> float:  # pragma: no cover
    """Quantile of Gamma(shape=a, scale=1) at log tail probability ``lt`` (upper tail
    when ``upper``), by safeguarded Halley iterations on ``s = log x`` from ``guess``
    (``lga`` = lgamma(a) if known)."""
    if lt == -np.inf:
        return np.inf if upper else 0.0
    if lt >= 0.0:
        return 0.0 if upper else np.inf
    if math.isnan(lga):
        lga = math.lgamma(a)
    halley_tol = (1e-11 / max(1.0, a)) ** (1.0 / 3.0)  # the next error is ~ a * step^3
    sign = -1.0 if upper else 1.0  # sign * g is increasing in s
    s = math.log(guess) if guess > 0.0 else math.log(a)
    lo = -np.inf
    hi = np.inf
    for _ in range(200):
        x = math.exp(s)
        lcur, lpre = _log_tail(a, x, s, lga, upper)
        g = lcur - lt
        if g == 0.0:
            return x
        if sign * g > 0.0:
            hi = s
        else:
            lo = s
        h = sign * math.exp(lpre - lcur)  # d log T / ds
        if not (h != 0.0 and math.isfinite(h)):
            step = np.nan
            tol = 0.0
        else:
            newton = g / h
            step = newton
            tol = 1e-7  # Newton: the next error is ~step^2
            if abs(newton) < 0.5:  # near the root: Halley's correction
                den = 1.0 - 0.5 * newton * (a - x - h)
                if den > 0.5:
                    step = newton / den
                    tol = halley_tol
        if abs(step) > 5.0:  # far from the root (T near 1): bounded steps
            step = 5.0 if step > 0.0 else -5.0
        if abs(step) < tol:  # converged: the error after this step is below ~1e-11
            return math.exp(s - step)
        s_new = s - step
        if not (s_new > lo and s_new < hi):  # outside the bracket (or NaN): bisect / expand
            if math.isfinite(lo) and math.isfinite(hi):
                s_new = 0.5 * (lo + hi)
            elif math.isfinite(lo):
                s_new = lo + 2.0
            else:
                s_new = hi - 2.0
        if hi - lo < 1e-13:
            return math.exp(s_new)
        s = s_new
    return math.exp(s)


@njit(cache=True)
def q2q_nbinom(x: float, mi: float, mo: float, phi: float,
               lga_o: float = np.nan) -> float:  # pragma: no cover
    r"""edgeR ``q2qnbinom`` of one count: mean of the normal map
    :math:`\mu_o + \sqrt{v_o/v_i}(x - \mu_i)` and the gamma map
    :math:`\Gamma_o^{-1}(\Gamma_i(x))` (upper tails for :math:`x \ge \mu_i`);
    ``lga_o`` = lgamma of the output shape, if known."""
    if mi < 1e-14 or mo < 1e-14:
        mi += 0.25
        mo += 0.25
        lga_o = np.nan
    ri = 1.0 + phi * mi
    ro = 1.0 + phi * mo
    q1 = mo + math.sqrt(mo * ro / (mi * ri)) * (x - mi)
    if x <= 0.0 and x < mi:
        return 0.5 * q1
    a_i = mi / ri
    a_o = mo / ro
    u = x / ri
    upper = x >= mi
    lt = _log_tail(a_i, u, math.log(u), math.lgamma(a_i), upper)[0]
    if not math.isfinite(lt):
        return q1
    # Wilson-Hilferty start: the same normal score under the output shape
    z = (np.cbrt(u / a_i) - 1.0 + 1.0 / (9.0 * a_i)) * 3.0 * math.sqrt(a_i)
    base = 1.0 - 1.0 / (9.0 * a_o) + z / (3.0 * math.sqrt(a_o))
    guess = a_o * base * base * base if base > 0.0 else u * a_o / a_i
    q2 = ro * gamma_quantile_log(a_o, lt, upper, guess, lga_o)
    if not math.isfinite(q2):
        return q1
    return 0.5 * (q1 + q2)


@njit(parallel=True, cache=True)
def q2q_rows(y, lam, lib_in, lib_out, phi, clip_negative):  # pragma: no cover
    """Pseudo-counts of genes x samples ``y``: means ``lam[g] * lib_in[j]`` mapped to
    ``lam[g] * lib_out``, dispersion ``phi[g]``; negatives set to 0 if ``clip_negative``."""
    G, n = y.shape
    out = np.empty((G, n))
    for g in prange(G):
        mo = lam[g] * lib_out
        lga_o = math.lgamma(mo / (1.0 + phi[g] * mo)) if mo >= 1e-14 else np.nan
        for j in range(n):
            v = q2q_nbinom(y[g, j], lam[g] * lib_in[j], mo, phi[g], lga_o)
            if clip_negative and v < 0.0:
                v = 0.0
            out[g, j] = v
    return out
