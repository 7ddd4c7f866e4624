r"""Special functions of edgeR's classic path (compiled): incomplete gamma tails, gamma
quantiles and the quantile-to-quantile map of the pseudo-counts (``q2qnbinom``).

Special functions
-----------------
The regularised incomplete gamma functions are evaluated on the log scale,

.. math:: \log P(a, x) = a\log x - x - \log\Gamma(a+1) + \log\sum_{n\ge0}
          \frac{x^n}{(a+1)\cdots(a+n)}

(power series, :math:`x \le 1` or :math:`x < a + 2\sqrt a + 1`; summed in blocks of
four terms with one division per block) and

.. math:: \log Q(a, x) = a\log x - x - \log\Gamma(a) + \log\,
          \cfrac{1}{x+1-a-\cfrac{1\cdot(1-a)}{x+3-a-\cfrac{2(2-a)}{x+5-a-\cdots}}}

(Legendre's continued fraction by the modified Lentz method, otherwise); the other tail is
:math:`\log(1 - e^{\log T})`. The gamma quantile solves
:math:`\log T(a, e^s) = \ell` for :math:`s = \log x` by Halley's method with
:math:`\partial_s \log P = e^{a\log x - x - \log\Gamma(a) - \log P}` (negated over *Q*)
and :math:`\partial_s^2 = h\,(a - x - h)`, kept inside a bisection bracket, from a
Wilson-Hilferty start. ``q2qnbinom`` equates the tail that the algorithm at the input
point computes directly (lower in the series region, upper in the continued-fraction
region): :math:`P_o(y) = P_i(u)` and :math:`Q_o(y) = Q_i(u)` are the same map, and the
direct tail needs no :math:`\log(1 - e^{\ell})` conversion. This matches R's ``pgamma``/``qgamma`` with ``log.p = TRUE`` to
about 1e-12 (relative) and is tested against :mod:`scipy.special`.
"""
from __future__ import annotations

import math

import numpy as np
from numba import njit, prange

_TINY = 1e-300
_MAXIT = 100_000
_HALF_LOG_2PI = 0.91893853320467274178  # log(2 pi) / 2
_LN2_HI = 6.93147180369123816490e-01  # ln 2 in 32 bits: exact when multiplied by an exponent
_LN2_LO = 1.90821492927058770002e-10  # ln 2 - _LN2_HI


@njit(cache=True)
def _lgamma_big(x):  # pragma: no cover
    r"""Stirling series of :math:`\log\Gamma(x)` for :math:`x \ge 10`:
    :math:`(x-\tfrac12)\log x - x + \tfrac12\log 2\pi + \sum_k B_{2k}/(2k(2k-1)x^{2k-1})`
    to :math:`x^{-9}` (truncation error below 3e-14)."""
    return (x - 0.5) * math.log(x) - x + _HALF_LOG_2PI + _stirling_sum(1.0 / x)


@njit(cache=True)
def _stirling_sum(w: float) -> float:  # pragma: no cover
    r""":math:`\sum_{k=1}^{5} B_{2k}/(2k(2k-1))\,w^{2k-1}` at :math:`w = 1/x`: the
    correction terms of the Stirling series of :math:`\log\Gamma(x)`."""
    w2 = w * w
    return w * (1.0 / 12.0 - w2 * (1.0 / 360.0 - w2 * (1.0 / 1260.0 - w2 * (1.0 / 1680.0
                                                                           - w2 / 1188.0))))


@njit(cache=True)
def lgamma(x: float) -> float:  # pragma: no cover
    """log Gamma(x), x > 0: the Stirling series (:func:`_lgamma_big`) from x = 10 (relative
    error below 3e-15, 1.4 times as fast as ``math.lgamma``), ``math.lgamma`` below."""
    if x >= 10.0:
        return _lgamma_big(x)
    return math.lgamma(x)


@njit(cache=True, error_model="numpy")
def lgamma_big_rows(x, out, bits, m):  # pragma: no cover
    r""":math:`\log\Gamma(x_k)` for ``k < m`` by the Stirling series of
    :func:`_lgamma_big` (valid for :math:`x \ge 10`), with
    :math:`\log x = e\log 2 + \log m`, :math:`x = m\,2^e`, :math:`m \in [\sqrt{1/2}, \sqrt 2)`,
    and :math:`\log m = 2\,\mathrm{atanh}\,s = f - s\,(f - s^2 p(s^2))`,
    :math:`f = m - 1`, :math:`s = f/(2 + f)` (:math:`|s| \le 0.172`; the atanh series to
    :math:`s^{23}`): no library call, so the loop is vectorised. Relative error below 3e-15
    (tested against scipy). ``bits`` is an int64 work buffer."""
    xi = x.view(np.int64)
    for k in range(m):
        bits[k] = (xi[k] & 0x000FFFFFFFFFFFFF) | 0x3FF0000000000000
    mant = bits.view(np.float64)
    for k in range(m):
        e = float((xi[k] >> 52) - 1023)
        mm = mant[k]
        big = mm > 1.4142135623730951
        mm = mm * 0.5 if big else mm
        e = e + 1.0 if big else e
        f = mm - 1.0
        s = f / (2.0 + f)
        z = s * s
        p = 2.0 / 23.0
        p = p * z + 2.0 / 21.0
        p = p * z + 2.0 / 19.0
        p = p * z + 2.0 / 17.0
        p = p * z + 2.0 / 15.0
        p = p * z + 2.0 / 13.0
        p = p * z + 2.0 / 11.0
        p = p * z + 2.0 / 9.0
        p = p * z + 2.0 / 7.0
        p = p * z + 2.0 / 5.0
        p = p * z + 2.0 / 3.0
        lx = e * _LN2_HI + (e * _LN2_LO + (f - s * (f - z * p)))
        xv = x[k]
        out[k] = (xv - 0.5) * lx - xv + _HALF_LOG_2PI + _stirling_sum(1.0 / xv)


@njit(cache=True, error_model="numpy")
def _series_block(term: float, ap: float, x: float, x2: float, x4: float
                  ) -> tuple[float, float, float]:  # pragma: no cover
    """The next four terms of :func:`_series` after ``term`` (whose denominator ends at
    ``ap``): (their sum, the last of them, ap + 4), with one division:
    term * (((x b2 + x^2) b3 + x^3) b4 + x^4) / (b1 b2 b3 b4), b_k = ap + k.
    ``error_model="numpy"`` (no division-by-zero branch) lets the batched loop that inlines
    it (:func:`_series_batch`) vectorise."""
    b1 = ap + 1.0
    b2 = ap + 2.0
    b3 = ap + 3.0
    b4 = ap + 4.0
    c = term * (1.0 / ((b1 * b2) * (b3 * b4)))
    return c * (((x * b2 + x2) * b3 + x2 * x) * b4 + x4), c * x4, b4


@njit(cache=True)
def _series(a: float, x: float) -> float:  # pragma: no cover
    """sum_{n>=0} x^n / (a (a+1) ... (a+n)), in blocks of four terms with one division
    (:func:`_series_block`)."""
    term = 1.0 / a
    s = term
    if x > 1e60:  # x^4 would overflow: term by term
        ap = a
        for _ in range(_MAXIT):
            ap += 1.0
            term *= x / ap
            s += term
            if term < s * 1e-17:
                break
        return s
    x2 = x * x
    x4 = x2 * x2
    ap = a
    for _ in range(_MAXIT):
        inc, term, ap = _series_block(term, ap, x, x2, x4)
        s += inc
        if term < s * 1e-17:
            break
    return s


@njit(cache=True)
def _series_region(a: float, x: float) -> bool:  # pragma: no cover
    """Where :func:`_log_tail` sums the power series (Q >~ 1e-2 there, if P is); the
    continued fraction beyond."""
    return x <= 1.0 or x < a + 2.0 * math.sqrt(a) + 1.0


@njit(cache=True)
def _log_tail(a: float, x: float, logx: float, lga: float, upper: bool
              ) -> tuple[float, float]:  # pragma: no cover
    """(log Q(a, x) if ``upper`` else log P(a, x), log of x^a e^-x / Gamma(a)) for a > 0,
    x > 0, given ``logx`` = log(x) and ``lga`` = lgamma(a)."""
    lpre = a * logx - x - lga
    if _series_region(a, x):
        s = _series(a, x)
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
def _log_tail_natural(a: float, x: float, logx: float, lga: float
                      ) -> tuple[float, float, bool]:  # pragma: no cover
    """The tail that :func:`_log_tail`'s algorithm computes directly at (a, x): (log P, lpre,
    False) in the power-series region, (log Q, lpre, True) in the continued-fraction region
    (no ``log1p(-exp(.))`` conversion; both are accurate there)."""
    upper = not _series_region(a, x)
    lt, lpre = _log_tail(a, x, logx, lga, upper)
    return lt, lpre, upper


@njit(cache=True)
def _halley_tol(a: float) -> float:  # pragma: no cover
    """Step size below which a Halley step has converged: the next error is ~ a * step^3."""
    return (1e-11 / max(1.0, a)) ** (1.0 / 3.0)


@njit(cache=True)
def _exp_small(x: float, step: float) -> float:  # pragma: no cover
    """x * exp(-step) for |step| < 1e-3 by its Taylor polynomial (error below 1e-17 x)."""
    return x * (1.0 - step * (1.0 - step * (0.5 - step * (1.0 / 6.0 - step * (1.0 / 24.0)))))


@njit(cache=True)
def _halley_step(g: float, h: float, a: float, x: float, halley_tol: float
                 ) -> tuple[float, float]:  # pragma: no cover
    """(step in s = log x, tolerance below which it has converged) from the residual ``g``
    and the derivative ``h`` of the log tail: Newton (tolerance 1e-7: the next error is
    ~step^2), with Halley's correction near the root (tolerance ``halley_tol``); NaN and
    tolerance 0 when ``h`` is 0 or not finite."""
    if not (h != 0.0 and math.isfinite(h)):
        return np.nan, 0.0
    newton = g / h
    if abs(newton) < 0.5:  # near the root: Halley's correction
        den = 1.0 - 0.5 * newton * (a - x - h)
        if den > 0.5:
            return newton / den, halley_tol
    return newton, 1e-7


@njit(cache=True)
def gamma_quantile_log(a: float, lt: float, upper: bool, guess: float,
                       lga: float = np.nan) -> float:  # pragma: no cover
    """Quantile of Gamma(shape=a, scale=1) at log tail probability ``lt`` (upper tail
    when ``upper``), by safeguarded Halley iterations on ``s = log x`` from ``guess``
    (``lga`` = lgamma(a) if known)."""
    if math.isnan(lga):
        lga = math.lgamma(a)
    return _quantile(a, lt, upper, guess, lga, _halley_tol(a))


@njit(cache=True)
def _quantile(a: float, lt: float, upper: bool, guess: float, lga: float,
              halley_tol: float) -> float:  # pragma: no cover
    """:func:`gamma_quantile_log` given lgamma(a) and the Halley tolerance."""
    if lt == -np.inf:
        return np.inf if upper else 0.0
    if lt >= 0.0:
        return 0.0 if upper else np.inf
    sign = -1.0 if upper else 1.0  # sign * g is increasing in s
    if guess > 0.0:
        x = guess
        s = math.log(guess)
    else:
        x = a
        s = math.log(a)
    lo = -np.inf
    hi = np.inf
    for _ in range(200):
        lcur, lpre = _log_tail(a, x, s, lga, upper)
        g = lcur - lt
        if g == 0.0:
            return x
        if sign * g > 0.0:
            hi = s
        else:
            lo = s
        step, tol = _halley_step(g, sign * math.exp(lpre - lcur), a, x, halley_tol)
        if abs(step) > 5.0:  # far from the root (T near 1): bounded steps
            step = 5.0 if step > 0.0 else -5.0
        if abs(step) < tol:  # converged: the error after this step is below ~1e-11
            return _exp_small(x, step)
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
        x = math.exp(s)
    return x


@njit(cache=True)
def _normal_map(x: float, mi: float, ri: float, mo: float, ro: float) -> float:  # pragma: no cover
    """edgeR's normal quantile map mu_o + sqrt(v_o / v_i) (x - mu_i), v = mu (1 + phi mu)
    (``ri``, ``ro`` = 1 + phi mu)."""
    return mo + math.sqrt(mo * ro / (mi * ri)) * (x - mi)


@njit(cache=True)
def _wh_start(u: float, a_i: float, a_o: float, rt_ao: float) -> float:  # pragma: no cover
    """Wilson-Hilferty start of the gamma map: the normal score of ``u`` under shape
    ``a_i`` taken to shape ``a_o`` (``rt_ao`` = sqrt(a_o))."""
    z = (np.cbrt(u / a_i) - 1.0 + 1.0 / (9.0 * a_i)) * 3.0 * math.sqrt(a_i)
    base = 1.0 - 1.0 / (9.0 * a_o) + z / (3.0 * rt_ao)
    return a_o * base * base * base if base > 0.0 else u * a_o / a_i


@njit(cache=True)
def _q2q_gamma(x: float, mi: float, phi: float, mo: float, a_o: float, ro: float,
               lga_o: float, rt_ao: float, htol: float) -> float:  # pragma: no cover
    """:func:`q2q_nbinom` for means above 1e-14, given the output shape ``a_o``, scale
    ``ro``, lgamma(a_o), sqrt(a_o) and the Halley tolerance (once per gene)."""
    ri = 1.0 + phi * mi
    q1 = _normal_map(x, mi, ri, mo, ro)
    if x <= 0.0 and x < mi:
        return 0.5 * q1
    a_i = mi / ri
    u = x / ri
    # the tail the incomplete-gamma algorithm computes directly at (a_i, u): equal tails
    # P_o(y) = P_i(u) and Q_o(y) = Q_i(u) are the same map, and the direct one is accurate
    lt, _, upper = _log_tail_natural(a_i, u, math.log(u), math.lgamma(a_i))
    if not math.isfinite(lt):
        return q1
    q2 = ro * _quantile(a_o, lt, upper, _wh_start(u, a_i, a_o, rt_ao), lga_o, htol)
    if not math.isfinite(q2):
        return q1
    return 0.5 * (q1 + q2)


@njit(cache=True)
def q2q_nbinom(x: float, mi: float, mo: float, phi: float,
               lga_o: float = np.nan) -> float:  # pragma: no cover
    r"""edgeR ``q2qnbinom`` of one count: mean of the normal map
    :math:`\mu_o + \sqrt{v_o/v_i}(x - \mu_i)` and the gamma map
    :math:`\Gamma_o^{-1}(\Gamma_i(x))` (equal lower or, where the continued fraction
    computes it, equal upper tails); ``lga_o`` = lgamma of the output shape, if known."""
    if mi < 1e-14 or mo < 1e-14:
        mi += 0.25
        mo += 0.25
        lga_o = np.nan
    ro = 1.0 + phi * mo
    a_o = mo / ro
    if math.isnan(lga_o):
        lga_o = math.lgamma(a_o)
    return _q2q_gamma(x, mi, phi, mo, a_o, ro, lga_o, math.sqrt(a_o), _halley_tol(a_o))


@njit(cache=True, error_model="numpy")
def _series_batch(A, X, m, S, term, ap, x4):  # pragma: no cover
    """:func:`_series` of the pairs ``(A[k], X[k])``, k < m, in lockstep: each block of four
    terms runs over all pairs, a loop the compiler vectorises (``error_model="numpy"``: no
    division-by-zero branch), until every pair has converged; one loop exit per batch
    instead of one mispredicted exit per pair. The arithmetic of each pair is that of
    :func:`_series` (results in ``S``; ``term``, ``ap``, ``x4`` are work buffers)."""
    for k in range(m):
        term[k] = 1.0 / A[k]
        S[k] = term[k]
        ap[k] = A[k]
        x2 = X[k] * X[k]
        x4[k] = x2 * x2
    for _ in range(_MAXIT):
        for k in range(m):
            x = X[k]
            inc, t, b = _series_block(term[k], ap[k], x, x * x, x4[k])
            S[k] += inc
            term[k] = t
            ap[k] = b
        done = True
        for k in range(m):
            if term[k] >= S[k] * 1e-17:
                done = False
                break
        if done:
            break


@njit(cache=True)
def _in_series_region(a: float, x: float) -> bool:  # pragma: no cover
    """Where :func:`_series` sums P(a, x) (and x^4 does not overflow)."""
    return x <= 1e60 and _series_region(a, x)


@njit(parallel=True, cache=True)
def q2q_rows(y, lam, lib_in, lib_out, phi, clip_negative):  # pragma: no cover
    """Pseudo-counts of genes x samples ``y``: means ``lam[g] * lib_in[j]`` mapped to
    ``lam[g] * lib_out``, dispersion ``phi[g]``; negatives set to 0 if ``clip_negative``.

    Each value equals :func:`q2q_nbinom`; a gene's counts in the power-series region go
    through it together: the input tails in one batch (:func:`_series_batch`), the output
    tails at the Wilson-Hilferty starts in a second, then one Halley step each (a count
    whose step has not converged, or outside the series region, takes the scalar path)."""
    G, n = y.shape
    out = np.empty((G, n))
    n_chunks = min(G, 256)
    for c in prange(n_chunks):
        A = np.empty(n)
        X = np.empty(n)
        S = np.empty(n)
        term = np.empty(n)
        ap = np.empty(n)
        x4 = np.empty(n)
        idx = np.empty(n, dtype=np.int64)
        lpre = np.empty(n)
        q1s = np.empty(n)
        lts = np.empty(n)
        for g in range(c, G, n_chunks):
            p = phi[g]
            mo = lam[g] * lib_out
            ro = 1.0 + p * mo
            a_o = mo / ro
            ok = mo >= 1e-14
            lga_o = math.lgamma(a_o) if ok else np.nan
            rt_ao = math.sqrt(a_o)
            htol = _halley_tol(a_o)
            # 1. normal map, and the input tails outside the series region (scalar path)
            m = 0
            for j in range(n):
                x = y[g, j]
                mi = lam[g] * lib_in[j]
                if not (ok and mi >= 1e-14):
                    out[g, j] = q2q_nbinom(x, mi, mo, p)
                    continue
                ri = 1.0 + p * mi
                q1 = _normal_map(x, mi, ri, mo, ro)
                if x <= 0.0 and x < mi:
                    out[g, j] = 0.5 * q1
                    continue
                a_i = mi / ri
                u = x / ri
                if not _in_series_region(a_i, u):
                    out[g, j] = _q2q_gamma(x, mi, p, mo, a_o, ro, lga_o, rt_ao, htol)
                    continue
                A[m] = a_i
                X[m] = u
                idx[m] = j
                q1s[m] = q1
                lpre[m] = a_i * math.log(u) - u - math.lgamma(a_i)
                m += 1
            if m == 0:
                continue
            # 2. the input lower tails log P(a_i, u), in one batch
            _series_batch(A, X, m, S, term, ap, x4)
            # 3. Wilson-Hilferty starts; those in the series region of a_o form batch 2
            m2 = 0
            for k in range(m):
                j = idx[k]
                lt = lpre[k] + math.log(S[k])
                if not math.isfinite(lt):
                    out[g, j] = q1s[k]
                    continue
                guess = _wh_start(X[k], A[k], a_o, rt_ao)
                if lt >= 0.0 or not (guess > 0.0 and _in_series_region(a_o, guess)):
                    q2 = ro * _quantile(a_o, lt, False, guess, lga_o, htol)
                    out[g, j] = q1s[k] if not math.isfinite(q2) else 0.5 * (q1s[k] + q2)
                    continue
                A[m2] = a_o
                X[m2] = guess
                idx[m2] = j
                q1s[m2] = q1s[k]
                lts[m2] = lt
                m2 += 1
            if m2 == 0:
                continue
            # 4. the output lower tails at the starts, in one batch
            _series_batch(A, X, m2, S, term, ap, x4)
            # 5. one Halley step each (the first iteration of _quantile)
            for k in range(m2):
                j = idx[k]
                xg = X[k]
                lt = lts[k]
                lpre_o = a_o * math.log(xg) - xg - lga_o
                lcur = lpre_o + math.log(S[k])
                res = np.nan
                diff = lcur - lt
                if diff == 0.0:
                    res = xg
                else:
                    step, tol = _halley_step(diff, math.exp(lpre_o - lcur), a_o, xg, htol)
                    if abs(step) < tol:
                        res = _exp_small(xg, step)
                if math.isnan(res):  # not converged in one step: the full iteration
                    res = _quantile(a_o, lt, False, xg, lga_o, htol)
                q2 = ro * res
                out[g, j] = q1s[k] if not math.isfinite(q2) else 0.5 * (q1s[k] + q2)
    if clip_negative:
        for g in prange(G):
            for j in range(n):
                if out[g, j] < 0.0:
                    out[g, j] = 0.0
    return out
