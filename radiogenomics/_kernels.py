r"""Compiled (numba) kernels of the classic edgeR pipeline, parallel over genes.

The element-wise work of :mod:`radiogenomics.dispersion` and :mod:`radiogenomics.de` —
the quantile-to-quantile map of the pseudo-counts, the one-group NB fits, the conditional
log-likelihoods and the tails of the exact test — runs here, one gene per ``prange``
iteration, with no temporaries the size of the count matrix.

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


@njit(parallel=True, cache=True)
def one_group_rows(y, offset, disp, maxit, tol):  # pragma: no cover
    """Intercept-only NB GLM of each gene by Fisher scoring (edgeR ``mglmOneGroup``)."""
    G, n = y.shape
    beta = np.empty(G)
    eoff = np.exp(-offset)
    for g in prange(G):
        s = 0.0
        for j in range(n):
            if y[g, j] > 1e-10:
                s += y[g, j] * eoff[j]
        if s <= 0.0:
            beta[g] = -np.inf
            continue
        b = math.log(s / n)
        d = disp[g]
        for _ in range(maxit):
            num = 0.0
            den = 0.0
            for j in range(n):
                mu = math.exp(b + offset[j])
                w = 1.0 + mu * d
                num += (y[g, j] - mu) / w
                den += mu / w
            step = num / den
            b += step
            if abs(step) < tol:
                break
        beta[g] = b
    return beta


@njit(parallel=True, cache=True)
def cond_loglik_grid(z, r):  # pragma: no cover
    r"""edgeR's conditional NB log-likelihood of one group's pseudo-counts given their sum,
    :math:`\sum_i\log\Gamma(z_i+r) + \log\Gamma(n r) - \log\Gamma(n(\bar z + r))
    - n\log\Gamma(r)`, for every gene (rows of ``z``) and every ``r`` (columns of the
    genes x grid array ``r``)."""
    G, n = z.shape
    K = r.shape[1]
    out = np.empty((G, K))
    for g in prange(G):
        tot = 0.0
        for j in range(n):
            tot += z[g, j]
        m = tot / n
        for k in range(K):
            rr = r[g, k]
            s = 0.0
            for j in range(n):
                s += math.lgamma(z[g, j] + rr)
            out[g, k] = s + math.lgamma(n * rr) - math.lgamma(n * (m + rr)) - n * math.lgamma(rr)
    return out


@njit(cache=True)
def _lgamma_shift(x: float, k: float) -> float:  # pragma: no cover
    r""":math:`\log\Gamma(k + x) - \log\Gamma(k)`, x >= 0; for k > 1e4 by the Stirling
    difference :math:`(k-\tfrac12)\,\mathrm{log1p}(x/k) + x\log(k+x) - x + c(k+x) - c(k)`,
    :math:`c(z) = 1/(12z) - 1/(360z^3)`, which has no cancellation."""
    if k <= 1e4:
        return math.lgamma(x + k) - math.lgamma(k)
    z = k + x
    corr = (1.0 / (12.0 * z) - 1.0 / (360.0 * z * z * z)) - (1.0 / (12.0 * k) - 1.0 / (360.0 * k * k * k))
    return (k - 0.5) * math.log1p(x / k) + x * math.log(z) - x + corr


@njit(cache=True)
def _nb_logpmf(x: float, size: float, mu: float) -> float:  # pragma: no cover
    """log NB pmf (size, mean); Poisson for infinite size."""
    if math.isinf(size):
        return x * math.log(mu) - mu - math.lgamma(x + 1.0) if mu > 0 else (0.0 if x == 0 else -np.inf)
    lc = _lgamma_shift(x, size) - math.lgamma(x + 1.0)
    return lc - size * math.log1p(mu / size) + (x * math.log(mu / (size + mu)) if x > 0 else 0.0)


@njit(parallel=True, cache=True)
def exact_tails(s1, s, n1, n2, size_unit, left, idx):  # pragma: no cover
    r"""Double-tail sums of edgeR's exact test for genes ``idx``:
    :math:`2\sum_{x\in T} f_1(x) f_2(s - x) / f(s)` with
    :math:`T = \{0..s_1\}` (``left``) or :math:`\{s_1..s\}`, summed outward from
    :math:`s_1` with the pmf ratio recurrences
    :math:`f(x\pm1)/f(x)`, stopping when a term is below 1e-20 of the sum."""
    m = idx.size
    out = np.empty(m)
    for t in prange(m):
        g = idx[t]
        su = size_unit[g]
        st = s[g]
        a = s1[g]
        mu = st / (n1 + n2)
        mu1 = n1 * mu
        mu2 = n2 * mu
        k1 = n1 * su
        k2 = n2 * su
        lbot = _nb_logpmf(st, (n1 + n2) * su, st)
        lterm = _nb_logpmf(a, k1, mu1) + _nb_logpmf(st - a, k2, mu2) - lbot
        term = math.exp(lterm)
        tot = term
        pois = math.isinf(su)
        r1 = mu1 if pois else mu1 / (k1 + mu1) * k1
        r2 = mu2 if pois else mu2 / (k2 + mu2) * k2
        x = a
        if left:
            while x > 0.0:
                # f1(x-1)/f1(x) * f2(s-x+1)/f2(s-x)
                if pois:
                    ratio = x / r1 * r2 / (st - x + 1.0)
                else:
                    ratio = (x / (x - 1.0 + k1)) * (k1 / r1) * (r2 / k2) * ((st - x + k2) / (st - x + 1.0))
                term *= ratio
                tot += term
                x -= 1.0
                if term < tot * 1e-20:
                    break
        else:
            while x < st:
                if pois:
                    ratio = r1 / (x + 1.0) * (st - x) / r2
                else:
                    ratio = ((x + k1) / (x + 1.0)) * (r1 / k1) * (k2 / r2) * ((st - x) / (st - x - 1.0 + k2))
                term *= ratio
                tot += term
                x += 1.0
                if term < tot * 1e-20:
                    break
        out[t] = 2.0 * tot
    return out


@njit(cache=True)
def _rank_in(v, lo, hi):  # pragma: no cover
    """Mask of the elements of ``v`` whose average-tie rank (R ``rank``, 1..n) lies in
    [lo, hi], by selection (two partitions) instead of a sort: an element strictly between
    the order statistics of positions ``lo`` and ``hi`` is inside, one beyond them is
    outside, and elements tied with either get their tie block's average rank."""
    n = v.size
    out = np.zeros(n, dtype=np.bool_)
    ilo = int(lo) - 1
    ihi = int(hi) - 1
    if ilo > ihi or ilo >= n or ihi < 0:
        return out
    ilo = max(ilo, 0)
    ihi = min(ihi, n - 1)
    t_lo = np.partition(v, ilo)[ilo]
    t_hi = np.partition(v, ihi)[ihi]
    less_lo = 0
    eq_lo = 0
    less_hi = 0
    eq_hi = 0
    for k in range(n):
        x = v[k]
        if x < t_lo:
            less_lo += 1
        elif x == t_lo:
            eq_lo += 1
        if x < t_hi:
            less_hi += 1
        elif x == t_hi:
            eq_hi += 1
    r_lo = less_lo + 0.5 * (eq_lo + 1.0)
    r_hi = less_hi + 0.5 * (eq_hi + 1.0)
    keep_lo = r_lo >= lo and r_lo <= hi
    keep_hi = r_hi >= lo and r_hi <= hi
    for k in range(n):
        x = v[k]
        if x > t_lo and x < t_hi:
            out[k] = True
        elif x == t_lo:
            out[k] = keep_lo
        elif x == t_hi:
            out[k] = keep_hi
    return out


@njit(parallel=True, cache=True)
def tmm_factors(x, ref, lib, n_ref, logratio_trim, sum_trim, weighting, a_cutoff):  # pragma: no cover
    r"""Unscaled TMM factor of every library (rows of samples x genes ``x``, sizes ``lib``)
    against the reference library ``ref`` of size ``n_ref`` (edgeR ``.calcFactorTMM``): the
    (precision-weighted) mean of the log-ratios :math:`M_g` of the genes whose average-tie
    ranks of *M* and *A* survive the ``logratio_trim`` / ``sum_trim`` trimming, as
    :math:`2^{\bar M}`."""
    n, G = x.shape
    out = np.empty(n)
    lp_ref = np.empty(G)  # log2 proportions of the reference, once for every library
    for g in range(G):
        lp_ref[g] = math.log2(ref[g] / n_ref) if ref[g] > 0.0 else -np.inf
    for i in prange(n):
        n_obs = lib[i]
        log_r = np.empty(G)
        abs_e = np.empty(G)
        v = np.empty(G)
        m = 0
        big = 0.0
        for g in range(G):
            o = x[i, g]
            r = ref[g]
            if o <= 0.0 or r <= 0.0:
                continue
            p_o = o / n_obs
            lp_o = math.log2(p_o)
            # R's log2((obs/nO)/(ref/nR)): proportional count pairs tie exactly, as in edgeR
            lr = math.log2(p_o / (r / n_ref))
            ae = (lp_o + lp_ref[g]) / 2.0
            if not (math.isfinite(lr) and math.isfinite(ae) and ae > a_cutoff):
                continue
            log_r[m] = lr
            abs_e[m] = ae
            v[m] = (n_obs - o) / n_obs / o + (n_ref - r) / n_ref / r
            big = max(big, abs(lr))
            m += 1
        if m == 0 or big < 1e-6:
            out[i] = 1.0
            continue
        lo_l = math.floor(m * logratio_trim) + 1.0
        hi_l = m + 1.0 - lo_l
        lo_s = math.floor(m * sum_trim) + 1.0
        hi_s = m + 1.0 - lo_s
        in_r = _rank_in(log_r[:m], lo_l, hi_l)
        in_e = _rank_in(abs_e[:m], lo_s, hi_s)
        num = 0.0
        den = 0.0
        kept = 0
        for k in range(m):
            if in_r[k] and in_e[k]:
                kept += 1
                if weighting:
                    t = log_r[k] / v[k]
                    if not math.isnan(t):
                        num += t
                    t = 1.0 / v[k]
                    if not math.isnan(t):
                        den += t
                else:
                    num += log_r[k]
                    den += 1.0
        f = num / den if kept > 0 else np.nan
        if not math.isfinite(f):
            f = 0.0
        out[i] = 2.0**f
    return out


# --------------------------------------------------------------------------------------
# NB GLM kernels of edgeR's GLM path (glmFit, adjustedProfileLik, estimateDisp, glmLRT)
# --------------------------------------------------------------------------------------
# edgeR's constants (glm.h): low_value, supremely_low_value, ridiculously_low_value
_GLM_LOW = 1e-10
_GLM_LOG_LOW = math.log(1e-10)
_GLM_SUPREMELY_LOW = 1e-13
_GLM_RIDICULOUSLY_LOW = 1e-100
#: Levenberg fits of a whole design switch from Fisher scoring to Newton steps here
_NEWTON_AFTER = 12
#: hot-started fits of the APL grid take a Newton step with a decrement below this without
#: checking the deviance (the NB log-likelihood is concave in beta: such a step, near the
#: maximum, increases it; the next iteration's decrement shows it)
_TRUSTED_DECREMENT = 1e-2


@njit(cache=True)
def kept_columns(X, tol):  # pragma: no cover
    """Columns kept by R's ``qr()`` (LINPACK ``dqrdc2`` limited pivoting): column ``j`` is
    kept when the norm of its residual after projection on the previously kept columns is
    at least ``tol`` times its own norm (classical Gram-Schmidt). Returns their indices."""
    n, p = X.shape
    Q = np.empty((p, n))
    keep = np.empty(p, dtype=np.int64)
    r = np.empty(n)
    m = 0
    for j in range(p):
        norm0 = 0.0
        for i in range(n):
            r[i] = X[i, j]
            norm0 += X[i, j] * X[i, j]
        norm0 = math.sqrt(norm0)
        for k in range(m):
            c = 0.0
            for i in range(n):
                c += Q[k, i] * X[i, j]
            for i in range(n):
                r[i] -= c * Q[k, i]
        nr = 0.0
        for i in range(n):
            nr += r[i] * r[i]
        nr = math.sqrt(nr)
        if norm0 > 0.0 and nr >= tol * norm0:
            for i in range(n):
                Q[m, i] = r[i] / nr
            keep[m] = j
            m += 1
    return keep[:m].copy()


@njit(cache=True)
def nb_unit_deviance(y: float, mu: float, phi: float) -> float:  # pragma: no cover
    r"""edgeR's unit NB deviance (``compute_unit_nb_deviance``): 1e-8 is added to ``y`` and
    ``mu``; :math:`2[y\log(y/\mu) + (y+\phi^{-1})\log((\mu+\phi^{-1})/(y+\phi^{-1}))]`,
    with its Poisson series for ``phi < 1e-4`` (edgeR's integer ``2/3`` = 0 kept) and the
    gamma limit for ``mu phi > 1e6``."""
    y = y + 1e-8
    mu = mu + 1e-8
    if phi < 1e-4:
        resid = y - mu
        return 2.0 * (y * math.log(y / mu) - resid
                      - 0.5 * resid * resid * phi * (1.0 + phi * (0.0 * resid - y)))
    prod = mu * phi
    if prod > 1e6:
        return 2.0 * ((y - mu) / mu - math.log(y / mu)) * mu / (1.0 + prod)
    inv = 1.0 / phi
    return 2.0 * (y * math.log(y / mu) + (y + inv) * math.log((mu + inv) / (y + inv)))


@njit(cache=True)
def _one_group_fit(y, lo, hi, eoff, offset, phi, start, maxit, tol):  # pragma: no cover
    """edgeR ``glm_one_group`` on the samples ``lo:hi``: Fisher scoring of the log mean
    from ``start`` (NaN: ``log(sum_{y>1e-10} y e^{-o} / m)``); ``-inf`` if no count is
    above 1e-10. ``mu_j = e^beta e^{o_j}`` (``eoff = e^o``)."""
    m = hi - lo
    nonzero = False
    s = 0.0
    for j in range(lo, hi):
        if y[j] > _GLM_LOW:
            nonzero = True
            s += y[j] / eoff[j]
    if not nonzero:
        return -np.inf
    b = math.log(s / m) if math.isnan(start) else start
    if not math.isfinite(b):
        b = math.log(s / m)
    for _ in range(maxit):
        eb = math.exp(b)
        dl = 0.0
        info = 0.0
        for j in range(lo, hi):
            mu = eb * eoff[j]
            inv = 1.0 / (1.0 + mu * phi)
            dl += (y[j] - mu) * inv
            info += mu * inv
        step = dl / info
        b += step
        if abs(step) < tol:
            break
    return b


@njit(cache=True, fastmath={"reassoc", "contract"})
def _xtwx(XT, w, A):  # pragma: no cover
    """``X' diag(w) X`` into ``A`` from the transposed design ``XT`` (p x n): one
    contiguous (SIMD, reassociated) dot product per entry of the upper triangle,
    mirrored."""
    p, n = XT.shape
    for a in range(p):
        xa = XT[a]
        for b in range(a, p):
            xb = XT[b]
            t = 0.0
            for j in range(n):
                t += xa[j] * w[j] * xb[j]
            A[a, b] = t
            A[b, a] = t


@njit(cache=True, fastmath={"reassoc", "contract"})
def _xtv(XT, v, out):  # pragma: no cover
    """``X' v`` from the transposed design (SIMD dot products)."""
    p, n = XT.shape
    for a in range(p):
        xa = XT[a]
        t = 0.0
        for j in range(n):
            t += xa[j] * v[j]
        out[a] = t


@njit(cache=True)
def _chol_lam(A, lam, R):  # pragma: no cover
    """Upper Cholesky factor of ``A + lam I`` into ``R`` (LAPACK ``dpotrf``); False if a
    pivot is not positive."""
    p = A.shape[0]
    for i in range(p):
        for j in range(p):
            R[i, j] = A[i, j]
        R[i, i] += lam
    for j in range(p):
        s = R[j, j]
        for k in range(j):
            s -= R[k, j] * R[k, j]
        if not s > 0.0:
            return False
        d = math.sqrt(s)
        R[j, j] = d
        for c in range(j + 1, p):
            t = R[j, c]
            for k in range(j):
                t -= R[k, j] * R[k, c]
            R[j, c] = t / d
    return True


@njit(cache=True)
def _chol_solve(R, b, x):  # pragma: no cover
    """Solve ``R'R x = b`` (R upper triangular)."""
    p = R.shape[0]
    for i in range(p):
        t = b[i]
        for k in range(i):
            t -= R[k, i] * x[k]
        x[i] = t / R[i, i]
    for i in range(p - 1, -1, -1):
        t = x[i]
        for k in range(i + 1, p):
            t -= R[i, k] * x[k]
        x[i] = t / R[i, i]


@njit(cache=True)
def _logdet_half(A, work):  # pragma: no cover
    """Half the sum of the logs of the LDL' diagonal of symmetric ``A`` (diagonals below
    1e-10, or not finite, count as 1e-10: edgeR's ``compute_apl`` adjustment)."""
    p = A.shape[0]
    for i in range(p):
        for j in range(p):
            work[i, j] = A[i, j]
    tot = 0.0
    for j in range(p):
        d = work[j, j]
        bad = (d < _GLM_LOW) or not math.isfinite(d)
        tot += _GLM_LOG_LOW if bad else math.log(d)
        if bad:
            continue
        for i in range(j + 1, p):
            f = work[i, j] / d
            if f == 0.0:
                continue
            for k in range(j + 1, i + 1):
                work[i, k] -= f * work[k, j]
    return 0.5 * tot


@njit(cache=True)
def _eta(XT, beta, offset, eta):  # pragma: no cover
    """Linear predictor ``offset + X beta`` (``XT`` = X transposed, p x n)."""
    p, n = XT.shape
    for j in range(n):
        eta[j] = offset[j]
    for a in range(p):
        ba = beta[a]
        xa = XT[a]
        for j in range(n):
            eta[j] += ba * xa[j]


@njit(cache=True)
def _eta_mu(XT, beta, offset, mu):  # pragma: no cover
    """``mu = exp(offset + X beta)`` (edgeR ``autofill``)."""
    _eta(XT, beta, offset, mu)
    for j in range(mu.size):
        mu[j] = math.exp(mu[j])


@njit(cache=True)
def _deviance(y, mu, phi):  # pragma: no cover
    d = 0.0
    for j in range(y.size):
        d += nb_unit_deviance(y[j], mu[j], phi)
    return d


@njit(cache=True)
def _deviance_cached(y, mu, eta, phi, r, lyp, lyr):  # pragma: no cover
    r"""edgeR's NB deviance (:func:`nb_unit_deviance` summed) with one logarithm per
    observation: for :math:`\phi \ge 10^{-4}` and :math:`\mu\phi \le 10^6`,
    :math:`2[y'(\log y' - \log\mu') + (y'+r)(\log(\mu'+r) - \log(y'+r))]`,
    :math:`y' = y + 10^{-8}`, :math:`\mu' = \mu + 10^{-8}`, :math:`r = 1/\phi`, with
    ``lyp`` = log y', ``lyr`` = log(y' + r) and :math:`\log\mu' = \eta +
    \mathrm{log1p}(10^{-8}/\mu)` (series for :math:`\mu > 10^{-3}`)."""
    if phi < 1e-4:
        return _deviance(y, mu, phi)
    d = 0.0
    for j in range(y.size):
        m = mu[j]
        mp = m + 1e-8
        if mp * phi > 1e6:
            d += nb_unit_deviance(y[j], m, phi)
            continue
        if m > 1e-3:
            x = 1e-8 / m
            lmp = eta[j] + x * (1.0 - x * (0.5 - x / 3.0))
        else:
            lmp = math.log(mp)
        yp = y[j] + 1e-8
        d += 2.0 * (yp * (lyp[j] - lmp) + (yp + r) * (math.log(mp + r) - lyr[j]))
    return d


@njit(cache=True)
def _levenberg_fit(y, XT, offset, phi, beta, mu, maxit, tol, A, R, dl, dbeta, bnew, munew,
                   ww, deriv, newton_after, eta, etanew, lyp, lyr,
                   stop_factor=10.0, need_dev=True, fast_max=0.0):  # pragma: no cover
    r"""edgeR ``glm_levenberg::fit`` of one gene from the coefficients in ``beta``
    (updated in place, with the fitted ``mu``); returns the deviance.

    Each iteration solves :math:`(X^\top W X + \lambda I)\,\delta = X^\top (y-\mu)/(1+\phi\mu)`,
    :math:`W = \mathrm{diag}(\mu/(1+\phi\mu))`, by Cholesky; a step is kept when the
    deviance does not increase (else :math:`\lambda` doubles; a failed factorisation
    multiplies it by 10), :math:`\lambda_0 = 10^{-6}\max\mathrm{diag}(X^\top W X)`, and
    :math:`\lambda` is divided by 10 after an undamped step. Stops when
    :math:`\mathrm{d}l^\top\delta <` ``tol``, the deviance is negligible, or the damping
    exceeds :math:`10^{13}` times the largest information. ``XT`` is the transposed
    design (p x n).

    ``newton_after`` >= 0: from that iteration on, the observed information (weights
    :math:`\mu(1+\phi y)/(1+\phi\mu)^2 > 0`) replaces the expected one (Newton's
    method, damped the same way): the same maximum, reached in a few iterations where
    Fisher scoring crawls for up to ``maxit`` iterations (large dispersions,
    near-separated low counts). Genes that converge before it follow edgeR exactly. A
    Newton iteration whose undamped step has a decrement ``dl' delta < stop_factor * tol``
    ends the fit (the next decrement would be of order its square); such a step is taken
    without evaluating the deviance (the deviance is evaluated only where a step has to
    be judged, and at the end when ``need_dev``; otherwise NaN is returned). From a good
    start (the extrapolated coefficients of the APL grid) a fit is then one Newton step.
    A Newton step whose first trial has a decrement below ``fast_max`` (hot-started grid
    fits) is also taken without judging the deviance, and the iteration goes on.

    ``eta`` receives the linear predictor (log mu); ``lyp`` holds ``log(y + 1e-8)``;
    ``etanew`` and ``lyr`` are work buffers (see :func:`_deviance_cached`)."""
    p, n = XT.shape
    ymax = 0.0
    for j in range(n):
        if y[j] > ymax:
            ymax = y[j]
    if ymax < _GLM_LOW:
        for a in range(p):
            beta[a] = np.nan
        for j in range(n):
            mu[j] = 0.0
            eta[j] = -np.inf
        return 0.0
    r = 1.0 / phi if phi >= 1e-4 else 0.0
    have_lyr = False
    _eta(XT, beta, offset, eta)
    for j in range(n):
        mu[j] = math.exp(eta[j])
    if p == 0:
        if phi >= 1e-4:
            for j in range(n):
                lyr[j] = math.log(y[j] + 1e-8 + r)
        return _deviance_cached(y, mu, eta, phi, r, lyp, lyr)
    dev = np.nan  # deviance at beta, evaluated when first needed
    max_info = -1.0
    lam = 0.0
    for it in range(1, maxit + 1):
        newton = newton_after >= 0 and it > newton_after
        for j in range(n):
            den = 1.0 + mu[j] * phi
            ww[j] = mu[j] * (1.0 + phi * y[j]) / (den * den) if newton else mu[j] / den
            deriv[j] = (y[j] - mu[j]) / den
        _xtwx(XT, ww, A)
        _xtv(XT, deriv, dl)
        for a in range(p):
            if A[a, a] > max_info:
                max_info = A[a, a]
        if it == 1:
            lam = max_info * 1e-6
            if lam < _GLM_SUPREMELY_LOW:
                lam = _GLM_SUPREMELY_LOW
        lev = 0
        low_dev = False
        failed = False
        trusted = False
        while True:
            lev += 1
            while not _chol_lam(A, lam, R):
                lam *= 10.0
                if lam <= 0.0:
                    lam = _GLM_RIDICULOUSLY_LOW
            _chol_solve(R, dl, dbeta)
            for a in range(p):
                bnew[a] = beta[a] + dbeta[a]
            _eta(XT, bnew, offset, etanew)
            for j in range(n):
                munew[j] = math.exp(etanew[j])
            if newton and lev == 1:
                div = 0.0
                for a in range(p):
                    div += dl[a] * dbeta[a]
                if div >= stop_factor * tol and div < fast_max:  # trusted step: go on
                    for a in range(p):
                        beta[a] = bnew[a]
                    for j in range(n):
                        mu[j] = munew[j]
                        eta[j] = etanew[j]
                    dev = np.nan
                    lam /= 10.0
                    trusted = True
                    break
                if div >= 0.0 and div < stop_factor * tol:  # final step: no deviance needed
                    for a in range(p):
                        beta[a] = bnew[a]
                    for j in range(n):
                        mu[j] = munew[j]
                        eta[j] = etanew[j]
                    if not need_dev:
                        return np.nan
                    if not have_lyr and phi >= 1e-4:
                        for j in range(n):
                            lyr[j] = math.log(y[j] + 1e-8 + r)
                    return _deviance_cached(y, mu, eta, phi, r, lyp, lyr)
            if not have_lyr:
                have_lyr = True
                if phi >= 1e-4:
                    for j in range(n):
                        lyr[j] = math.log(y[j] + 1e-8 + r)
            if math.isnan(dev):
                dev = _deviance_cached(y, mu, eta, phi, r, lyp, lyr)
            dev_new = _deviance_cached(y, munew, etanew, phi, r, lyp, lyr)
            if dev_new / ymax < _GLM_SUPREMELY_LOW:
                low_dev = True
            if dev_new <= dev or low_dev:
                for a in range(p):
                    beta[a] = bnew[a]
                for j in range(n):
                    mu[j] = munew[j]
                    eta[j] = etanew[j]
                dev = dev_new
                break
            lam *= 2.0
            if lam <= 0.0:
                lam = _GLM_RIDICULOUSLY_LOW
            if lam / max_info > 1.0 / _GLM_SUPREMELY_LOW:
                failed = True
                break
        if trusted:
            continue
        if failed or low_dev:
            break
        div = 0.0
        for a in range(p):
            div += dl[a] * dbeta[a]
        if div < tol:
            break
        # an undamped Newton step with a small decrement lands within ~div^2 of the
        # maximum (quadratic convergence): no further iteration is needed to reach tol
        if newton and lev == 1 and div < stop_factor * tol:
            break
        if lev == 1:
            lam /= 10.0
    if math.isnan(dev) and need_dev:
        if not have_lyr and phi >= 1e-4:
            for j in range(n):
                lyr[j] = math.log(y[j] + 1e-8 + r)
        dev = _deviance_cached(y, mu, eta, phi, r, lyp, lyr)
    return dev


@njit(cache=True)
def _levenberg_null_start(y, offset, phi, q, beta):  # pragma: no cover
    """edgeR ``get_levenberg_start`` ("null"): the log of the NB-weighted average of
    ``y / N`` (``N = e^o``, weights ``N/(1+phi N)``) times the least-squares coefficients
    ``q`` of the constant 1 on the design."""
    se = 0.0
    sw = 0.0
    for j in range(y.size):
        N = math.exp(offset[j])
        cw = N / (1.0 + phi * N)
        se += y[j] * cw / N
        sw += cw
    level = math.log(se / sw)
    for a in range(q.size):
        beta[a] = level * q[a]


@njit(cache=True)
def _oneway_fit(y, offset, eoff, phi, gstart, bg, mu, lmu, maxit, tol):  # pragma: no cover
    """edgeR ``mglmOneWay`` of one gene whose samples are sorted by group (group ``k`` =
    ``gstart[k]:gstart[k+1]``): one intercept fit per group from the group log means
    ``bg`` (NaN = default start; updated in place, floored at -1e8), fitted ``mu`` and
    their logs ``lmu``."""
    ng = gstart.size - 1
    for k in range(ng):
        b = _one_group_fit(y, gstart[k], gstart[k + 1], eoff, offset, phi, bg[k], maxit, tol)
        b = max(b, -1e8)
        bg[k] = b
        eb = math.exp(b)
        for j in range(gstart[k], gstart[k + 1]):
            mu[j] = eb * eoff[j]
            lmu[j] = b + offset[j]


@njit(cache=True)
def _lgamma_big(x):  # pragma: no cover
    r"""Stirling series of :math:`\log\Gamma(x)` for :math:`x \ge 10`:
    :math:`(x-\tfrac12)\log x - x + \tfrac12\log 2\pi + \sum_k B_{2k}/(2k(2k-1)x^{2k-1})`
    to :math:`x^{-9}` (truncation error below 3e-14)."""
    z = 1.0 / x
    z2 = z * z
    ser = z * (1.0 / 12.0 - z2 * (1.0 / 360.0 - z2 * (1.0 / 1260.0 - z2 * (1.0 / 1680.0
                                                                           - z2 / 1188.0))))
    return (x - 0.5) * math.log(x) - x + 0.91893853320467274178 + ser


@njit(cache=True)
def _lgamma_ratio(y, r, lgr):  # pragma: no cover
    r""":math:`\log\Gamma(y + r) - \log\Gamma(r)` (``lgr`` = lgamma(r)), y > 0: for an
    integer ``y <= 6`` the log of :math:`\prod_{k<y}(r + k)` (one log, no cancellation),
    else the Stirling series when :math:`y + r \ge 10`, else ``lgamma``."""
    if y <= 6.0 and y == math.floor(y):
        prod = r
        for k in range(1, int(y)):
            prod *= r + k
        return math.log(prod)
    x = y + r
    if x >= 10.0:
        return _lgamma_big(x) - lgr
    return math.lgamma(x) - lgr


@njit(cache=True)
def _apl_one(y, mu, lmu, phi, XT, lgy1, ww, A, work):  # pragma: no cover
    r"""edgeR ``compute_apl`` of one gene: :math:`\sum_{\mu_j \ne 0}\log f_{NB}(y_j;\mu_j,\phi)
    - \tfrac12\log\det X^\top W X`, :math:`W = \mathrm{diag}(\mu/(1+\phi\mu))`
    (``lmu`` = log mu, ``lgy1`` = lgamma(y + 1))."""
    n = y.size
    ll = 0.0
    if phi > 0.0:
        r = 1.0 / phi
        rlr = r * math.log(r)
        lgr = math.lgamma(r)
        for j in range(n):
            m = mu[j]
            if m == 0.0:
                ww[j] = 0.0
                continue
            yj = y[j]
            logmur = math.log(m + r)
            ll += yj * (lmu[j] - logmur) - r * logmur + rlr - lgy1[j]
            if yj > 0.0:
                ll += _lgamma_ratio(yj, r, lgr)
            ww[j] = m / (1.0 + phi * m)
    else:
        for j in range(n):
            m = mu[j]
            if m == 0.0:
                ww[j] = 0.0
                continue
            ll += y[j] * lmu[j] - m - lgy1[j]
            ww[j] = m
    _xtwx(XT, ww, A)
    return ll - _logdet_half(A, work)


@njit(cache=True)
def _fit_gene(y, offp, eoff, phi, oneway, seg, bp, coff, xoff, Xflat, beta, mu, lmu,
              maxit, tol, Abuf, Rbuf, dl, dbeta, bnew, munew, ww, deriv, etanew, lyp,
              lyr, grid_fit=False, fast_max=0.0):  # pragma: no cover
    """edgeR ``glmFit`` of one gene whose samples are sorted by segment
    (``seg[k]:seg[k+1]``). Oneway layout: one intercept per segment (``beta`` = group log
    means). Otherwise every segment is an independent block with its own design
    ``Xflat[xoff[k]:...]`` (transposed: ``bp[k] x n_k``, coefficients ``beta[coff[k]:coff[k+1]]``),
    fitted by Levenberg (a design without block structure is one block, fitted as edgeR
    with Newton steps after ``_NEWTON_AFTER`` iterations; blocks use Newton steps from the
    start, see :func:`_levenberg_fit`). Fills ``mu`` and
    ``lmu`` (log mu) and returns the deviance (Levenberg; oneway: NaN); ``lyp`` =
    log(y + 1e-8), ``etanew`` and ``lyr`` are work buffers. ``grid_fit``: a fit of the
    APL grid, where block fits stop at an undamped Newton decrement below 100 tol (the APL
    is stationary at the maximum: its error is second order in the remaining step)."""
    if oneway:
        _oneway_fit(y, offp, eoff, phi, seg, beta, mu, lmu, maxit, tol)
        return np.nan
    dev = 0.0
    for k in range(seg.size - 1):
        lo = seg[k]
        hi = seg[k + 1]
        pk = bp[k]
        nk = hi - lo
        Xk = Xflat[xoff[k]:xoff[k] + nk * pk].reshape((pk, nk))
        A = Abuf[:pk * pk].reshape((pk, pk))
        R = Rbuf[:pk * pk].reshape((pk, pk))
        bk = beta[coff[k]:coff[k] + pk]
        dev += _levenberg_fit(y[lo:hi], Xk, offp[lo:hi], phi, bk, mu[lo:hi], maxit, tol,
                              A, R, dl[:pk], dbeta[:pk], bnew[:pk], munew[lo:hi],
                              ww[lo:hi], deriv[lo:hi], 0 if seg.size > 2 else _NEWTON_AFTER,
                              lmu[lo:hi], etanew[lo:hi], lyp[lo:hi], lyr[lo:hi],
                              100.0 if grid_fit and seg.size > 2 else 10.0, not grid_fit,
                              fast_max)
    return dev


@njit(cache=True)
def _apl_gene(y, mu, lmu, phi, oneway, XpT, seg, bp, xoff, Xflat, lgy1, ww,
              Abuf, Wbuf):  # pragma: no cover
    """Cox-Reid APL of one gene (see :func:`_apl_one`); for a block design the
    log-determinant is the sum over blocks of ``log det(X_k' W_k X_k)`` (the caller adds
    the constant of the reparametrisation)."""
    if oneway or seg.size == 2:
        p = XpT.shape[0]
        A = Abuf[:p * p].reshape((p, p))
        W = Wbuf[:p * p].reshape((p, p))
        return _apl_one(y, mu, lmu, phi, XpT, lgy1, ww, A, W)
    ll = _apl_one(y, mu, lmu, phi, XpT[:0], lgy1, ww, Abuf[:0].reshape((0, 0)),
                  Wbuf[:0].reshape((0, 0)))
    for k in range(seg.size - 1):
        lo = seg[k]
        hi = seg[k + 1]
        pk = bp[k]
        nk = hi - lo
        Xk = Xflat[xoff[k]:xoff[k] + nk * pk].reshape((pk, nk))
        A = Abuf[:pk * pk].reshape((pk, pk))
        W = Wbuf[:pk * pk].reshape((pk, pk))
        _xtwx(Xk, ww[lo:hi], A)
        ll -= _logdet_half(A, W)
    return ll


@njit(cache=True)
def _permuted_design(X, offset, order):  # pragma: no cover
    """Transposed design (p x n) and offsets with the samples in ``order``."""
    n, p = X.shape
    XpT = np.empty((p, n))
    offp = np.empty(n)
    for t in range(n):
        offp[t] = offset[order[t]]
        for a in range(p):
            XpT[a, t] = X[order[t], a]
    return XpT, offp


@njit(parallel=True, cache=True)
def apl_grid(y, X, offset, grid, oneway, order, seg, bp, Xflat, q, maxit, tol,
             extrapolate=False):  # pragma: no cover
    r"""Cox-Reid adjusted profile log-likelihood of every gene (rows of ``y``) at every
    dispersion of ``grid`` (edgeR's ``estimateDisp`` loop of ``adjustedProfileLik``): the
    GLM is fitted at each grid value from the previous value's coefficients (oneway
    shortcut when ``oneway``, else Levenberg from edgeR's "null" start ``q``), then
    :math:`\ell_g(\phi) = \sum_j\log f_{NB}(y_{gj};\hat\mu_{gj},\phi)
    - \tfrac12\log\det(X^\top W_g X)`. Returns a genes x grid array.

    Samples are processed in the order ``order``, sorted by segment ``seg`` (the groups of
    a oneway layout, or the blocks of a block-diagonal reparametrisation: block ``k`` has
    the samples ``seg[k]:seg[k+1]`` and ``bp[k]`` columns, stored transposed in ``Xflat``;
    ``q`` is then in the
    block coefficients). Each thread works on one block of genes with its own buffers.
    ``extrapolate``: start each fit from the linear extrapolation (in log phi) of the last
    two grid points' coefficients instead of the last one (fewer iterations to the same
    maximum; block designs, whose fits take their own path anyway)."""
    G, n = y.shape
    p = X.shape[1]
    K = grid.size
    out = np.empty((G, K))
    nseg = seg.size - 1
    XpT, offp = _permuted_design(X, offset, order)
    eoff = np.exp(offp)
    coff = np.zeros(nseg + 1, dtype=np.int64)
    xoff = np.zeros(nseg + 1, dtype=np.int64)
    for k in range(nseg):
        coff[k + 1] = coff[k] + (1 if oneway else bp[k])
        xoff[k + 1] = xoff[k] + (seg[k + 1] - seg[k]) * bp[k]
    ncoef = coff[nseg]
    nblk = min(G, 256)
    for blk in prange(nblk):
        yg = np.empty(n)
        lgy1 = np.empty(n)
        mu = np.empty(n)
        lmu = np.empty(n)
        ww = np.empty(n)
        deriv = np.empty(n)
        munew = np.empty(n)
        etanew = np.empty(n)
        lyp = np.empty(n)
        lyr = np.empty(n)
        Abuf = np.empty(p * p)
        Rbuf = np.empty(p * p)
        dl = np.empty(p)
        dbeta = np.empty(p)
        bnew = np.empty(p)
        beta = np.empty(max(ncoef, 1))
        prev = np.empty(max(ncoef, 1))
        for g in range(blk * G // nblk, (blk + 1) * G // nblk):
            for t in range(n):
                yg[t] = y[g, order[t]]
                lgy1[t] = math.lgamma(yg[t] + 1.0)
                lyp[t] = math.log(yg[t] + 1e-8)
            for i in range(K):
                phi = grid[i]
                if i == 0:
                    if oneway:
                        for k in range(ncoef):
                            beta[k] = np.nan
                    else:
                        _levenberg_null_start(yg, offp, phi, q, beta)
                elif extrapolate:  # linear in log(phi) from the last two grid points
                    for k in range(ncoef):
                        b1 = beta[k]
                        if i >= 2 and math.isfinite(b1) and math.isfinite(prev[k]):
                            beta[k] = 2.0 * b1 - prev[k]
                        prev[k] = b1
                _fit_gene(yg, offp, eoff, phi, oneway, seg, bp, coff, xoff, Xflat, beta, mu,
                          lmu, maxit, tol, Abuf, Rbuf, dl, dbeta, bnew, munew, ww, deriv,
                          etanew, lyp, lyr, True, _TRUSTED_DECREMENT if i > 0 else 0.0)
                out[g, i] = _apl_gene(yg, mu, lmu, phi, oneway, XpT, seg, bp, xoff, Xflat,
                                      lgy1, ww, Abuf, Rbuf)
    return out


@njit(parallel=True, cache=True)
def glm_fit_rows(y, X, offset, disp, start, oneway, order, seg, bp, Xflat, q,
                 maxit, tol, mu_out):  # pragma: no cover
    r"""edgeR ``glmFit`` (prior.count 0) of every gene at dispersion ``disp[g]``: oneway
    shortcut (group log means, floored at -1e8) when ``oneway``, else Levenberg from
    ``start`` (rows with a NaN first entry: edgeR's "null" start). Returns the
    coefficients (group log means for oneway, block coefficients for a block design: the
    caller maps them to the design) and the deviances; fitted values go to ``mu_out`` if
    it has G rows. Samples and segments as in :func:`apl_grid`."""
    G, n = y.shape
    p = X.shape[1]
    nseg = seg.size - 1
    XpT, offp = _permuted_design(X, offset, order)
    eoff = np.exp(offp)
    coff = np.zeros(nseg + 1, dtype=np.int64)
    xoff = np.zeros(nseg + 1, dtype=np.int64)
    for k in range(nseg):
        coff[k + 1] = coff[k] + (1 if oneway else bp[k])
        xoff[k + 1] = xoff[k] + (seg[k + 1] - seg[k]) * bp[k]
    ncoef = coff[nseg]
    coef = np.empty((G, ncoef))
    dev = np.empty(G)
    keep_mu = mu_out.shape[0] == G
    nblk = min(G, 256)
    for blk in prange(nblk):
        yg = np.empty(n)
        mu = np.empty(n)
        lmu = np.empty(n)
        ww = np.empty(n)
        deriv = np.empty(n)
        munew = np.empty(n)
        etanew = np.empty(n)
        lyp = np.empty(n)
        lyr = np.empty(n)
        Abuf = np.empty(p * p)
        Rbuf = np.empty(p * p)
        dl = np.empty(p)
        dbeta = np.empty(p)
        bnew = np.empty(p)
        beta = np.empty(max(ncoef, 1))
        for g in range(blk * G // nblk, (blk + 1) * G // nblk):
            for t in range(n):
                yg[t] = y[g, order[t]]
                lyp[t] = math.log(yg[t] + 1e-8)
            phi = disp[g]
            if not oneway and math.isnan(start[g, 0]):
                _levenberg_null_start(yg, offp, phi, q, beta)
            else:
                for a in range(ncoef):
                    beta[a] = start[g, a]
            d = _fit_gene(yg, offp, eoff, phi, oneway, seg, bp, coff, xoff, Xflat, beta, mu,
                          lmu, maxit, tol, Abuf, Rbuf, dl, dbeta, bnew, munew, ww, deriv,
                          etanew, lyp, lyr)
            dev[g] = _deviance(yg, mu, phi) if oneway else d
            for a in range(ncoef):
                coef[g, a] = beta[a]
            if keep_mu:
                for t in range(n):
                    mu_out[g, order[t]] = mu[t]
    return coef, dev


@njit(parallel=True, cache=True)
def apl_rows(y, mu, disp, X):  # pragma: no cover
    """edgeR ``compute_apl`` of every gene (rows of ``y`` and fitted ``mu``) at its own
    dispersion ``disp[g]``: see :func:`_apl_one`."""
    G, n = y.shape
    p = X.shape[1]
    XT = np.ascontiguousarray(X.T)
    out = np.empty(G)
    nblk = min(G, 256)
    for blk in prange(nblk):
        lgy1 = np.empty(n)
        lmu = np.empty(n)
        ww = np.empty(n)
        A = np.empty((p, p))
        work = np.empty((p, p))
        for g in range(blk * G // nblk, (blk + 1) * G // nblk):
            for j in range(n):
                lgy1[j] = math.lgamma(y[g, j] + 1.0)
                lmu[j] = math.log(mu[g, j]) if mu[g, j] > 0.0 else -np.inf
            out[g] = _apl_one(y[g], mu[g], lmu, disp[g], XT, lgy1, ww, A, work)
    return out


# --------------------------------------------------------------------------------------
# Penalised NB IRLS of radiogenomics.glm.nb_glm_fit (one gene per prange iteration)
# --------------------------------------------------------------------------------------
@njit(cache=True)
def _pkg_nb_dev(y, mu, phi):  # pragma: no cover
    """Unit NB deviance of :func:`radiogenomics.glm.nb_deviance` (0 log 0 = 0; Poisson
    for phi < 1e-10; clamped at 0)."""
    ylog = 0.0
    if y > 0.0:
        ylog = y * math.log(y) - y * math.log(mu)
    if phi < 1e-10:
        d = 2.0 * (ylog - (y - mu))
    else:
        d = 2.0 * (ylog - (y + 1.0 / phi) * (math.log1p(phi * y) - math.log1p(phi * mu)))
    return d if d > 0.0 else 0.0


@njit(cache=True)
def _pkg_mu_pdev(y, XT, off, beta, phi, lam, mu, ylogy, l1py):  # pragma: no cover
    """Fitted means (linear predictor clipped to [-30, 40]) and penalised deviance of one
    gene (``XT`` = design transposed), the unit deviance of
    :func:`_pkg_nb_dev` with the gene's constants ``ylogy`` = y log y and
    ``l1py`` = log1p(phi y) and ``log mu`` = the clipped linear predictor."""
    p, n = XT.shape
    _eta(XT, beta, off, mu)
    d = 0.0
    pois = phi < 1e-10
    r = 0.0 if pois else 1.0 / phi
    for i in range(n):
        e = min(max(mu[i], -30.0), 40.0)
        m = math.exp(e)
        mu[i] = m
        yi = y[i]
        ylog = ylogy[i] - yi * e if yi > 0.0 else 0.0
        if pois:
            u = 2.0 * (ylog - (yi - m))
        else:
            u = 2.0 * (ylog - (yi + r) * (l1py[i] - math.log1p(phi * m)))
        d += u if u > 0.0 else 0.0
    for a in range(p):
        d += beta[a] * beta[a] * lam[a]
    return d


@njit(cache=True)
def _pkg_solve(A, b, x, R):  # pragma: no cover
    """Solve the SPD system ``A x = b`` by Cholesky, by the pseudo-inverse if singular."""
    p = A.shape[0]
    if _chol_lam(A, 0.0, R):
        _chol_solve(R, b, x)
    else:
        P = np.linalg.pinv(A)
        for a in range(p):
            t = 0.0
            for c in range(p):
                t += P[a, c] * b[c]
            x[a] = t


@njit(parallel=True, cache=True)
def nb_irls_rows(Y, X, off, phi, lam, beta0, max_iter, tol):  # pragma: no cover
    r"""The penalised IRLS of :func:`radiogenomics.glm.nb_glm_fit` for every gene (columns
    of the samples x genes ``Y``; ``off`` samples x genes): Fisher scoring
    :math:`\beta \leftarrow (X^\top W X + \Lambda)^{-1} X^\top W z`, step halving (up to 20
    times) while the penalised deviance increases, the old estimate kept if no halving
    helps; stop when the relative deviance change is below ``tol`` and the relative step
    below ``100 tol`` (or the change below 1e-15). Returns coefficients, diagonal of
    :math:`(X^\top W X + \Lambda)^{-1}` at the estimate, deviances, iterations, converged
    flags and fitted means."""
    n, G = Y.shape
    p = X.shape[1]
    XT = np.ascontiguousarray(X.T)
    coef = np.empty((G, p))
    var = np.empty((G, p))
    dev = np.empty(G)
    n_iter = np.zeros(G, dtype=np.int64)
    conv = np.zeros(G, dtype=np.bool_)
    mu_out = np.empty((n, G))
    nblk = min(G, 256)
    for blk in prange(nblk):
        y = np.empty(n)
        o = np.empty(n)
        ylogy = np.empty(n)
        l1py = np.empty(n)
        mu = np.empty(n)
        mu_new = np.empty(n)
        w = np.empty(n)
        wz = np.empty(n)
        A = np.empty((p, p))
        R = np.empty((p, p))
        b = np.empty(p)
        beta = np.empty(p)
        new = np.empty(p)
        old = np.empty(p)
        for g in range(blk * G // nblk, (blk + 1) * G // nblk):
            ph = phi[g]
            for i in range(n):
                y[i] = Y[i, g]
                o[i] = off[i, g]
                ylogy[i] = y[i] * math.log(y[i]) if y[i] > 0.0 else 0.0
                l1py[i] = math.log1p(ph * y[i])
            for a in range(p):
                beta[a] = beta0[g, a]
            pdev = _pkg_mu_pdev(y, XT, o, beta, ph, lam, mu, ylogy, l1py)
            for it in range(1, max_iter + 1):
                for i in range(n):
                    m = mu[i]
                    wi = m / (1.0 + ph * m)
                    w[i] = wi
                    wz[i] = wi * (math.log(m) - o[i] + (y[i] - m) / m)
                _xtwx(XT, w, A)
                _xtv(XT, wz, b)
                for a in range(p):
                    A[a, a] += lam[a]
                _pkg_solve(A, b, new, R)
                for a in range(p):
                    old[a] = beta[a]
                    if not math.isfinite(new[a]):
                        new[a] = beta[a]
                pdev_new = _pkg_mu_pdev(y, XT, o, new, ph, lam, mu_new, ylogy, l1py)
                for _ in range(20):
                    if pdev_new <= pdev * (1 + 1e-9) + 1e-9:
                        break
                    for a in range(p):
                        new[a] = 0.5 * (new[a] + old[a])
                    pdev_new = _pkg_mu_pdev(y, XT, o, new, ph, lam, mu_new, ylogy, l1py)
                bad = not (pdev_new <= pdev * (1 + 1e-9) + 1e-9)
                if bad:  # no improving step: keep the old estimate
                    for a in range(p):
                        new[a] = old[a]
                    for i in range(n):
                        mu_new[i] = mu[i]
                    pdev_new = pdev
                change = abs(pdev_new - pdev) / (abs(pdev_new) + 0.1)
                step = 0.0
                for a in range(p):
                    beta[a] = new[a]
                    step = max(step, abs(new[a] - old[a]) / (abs(new[a]) + 1.0))
                for i in range(n):
                    mu[i] = mu_new[i]
                pdev = pdev_new
                n_iter[g] = it
                if (change < tol and step < 100.0 * tol) or change < 1e-15 or bad:
                    conv[g] = True
                    break
            # standard errors from (X'WX + Lambda)^-1 at the estimate
            for i in range(n):
                w[i] = mu[i] / (1.0 + ph * mu[i])
            _xtwx(XT, w, A)
            for a in range(p):
                A[a, a] += lam[a]
            for a in range(p):
                for c in range(p):
                    b[c] = 1.0 if c == a else 0.0
                _pkg_solve(A, b, new, R)
                var[g, a] = new[a]
            d = 0.0
            for i in range(n):
                d += _pkg_nb_dev(y[i], mu[i], ph)
                mu_out[i, g] = mu[i]
            dev[g] = d
            for a in range(p):
                coef[g, a] = beta[a]
    return coef, var, dev, n_iter, conv, mu_out
