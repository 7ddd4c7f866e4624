"""The compiled special functions and the q2qnbinom map against scipy (an independent
implementation: cephes / boost), including far tails on the log scale."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import special, stats

from radiogenomics._edger.qcml import _q2qnbinom
from radiogenomics._edger.special import gamma_quantile_log, log_gamma_pq, q2q_nbinom

A = [1e-3, 0.05, 0.3, 0.9, 1.0, 2.5, 7.0, 30.0, 150.0, 1e3, 2e4]


@pytest.mark.parametrize("a", A)
def test_log_incomplete_gamma_equals_scipy(a):
    x = a * np.array([1e-4, 0.01, 0.2, 0.5, 0.9, 0.99, 1.0, 1.01, 1.2, 2.0, 5.0, 20.0]) + 1e-12
    for xi in x:
        lp, lq = log_gamma_pq(a, xi)
        # scipy's log-tails: logsf/logcdf of the gamma distribution
        rp = stats.gamma.logcdf(xi, a)
        rq = stats.gamma.logsf(xi, a)
        for got, want in ((lp, rp), (lq, rq)):
            if np.isfinite(want):
                assert got == pytest.approx(want, rel=1e-10, abs=1e-12), (a, xi)
            else:  # scipy underflows; the log-scale value is still finite and tiny
                assert np.isfinite(got) and got < -700, (a, xi)


@pytest.mark.parametrize("a", A)
def test_gamma_quantile_inverts_scipy(a):
    for upper in (False, True):
        for p in (1e-250, 1e-30, 1e-8, 1e-3, 0.1, 0.4, 0.5, 0.6, 0.9):
            want = special.gammainccinv(a, p) if upper else special.gammaincinv(a, p)
            if not (np.isfinite(want) and want > 0):
                continue
            # start far off to exercise the safeguards
            got = gamma_quantile_log(a, np.log(p), upper, want * 3.0)
            assert got == pytest.approx(want, rel=1e-9), (a, p, upper)


def _q2q_reference(x, mi, mo, phi):
    """edgeR q2qnbinom written with scipy's incomplete gamma functions (no log scale)."""
    mi = mi.copy()
    mo = mo.copy()
    zero = (mi < 1e-14) | (mo < 1e-14)
    mi[zero] += 0.25
    mo[zero] += 0.25
    ri, ro = 1 + phi * mi, 1 + phi * mo
    q1 = mo + np.sqrt(mo * ro / (mi * ri)) * (x - mi)
    up = x >= mi
    q2 = np.where(up,
                  ro * special.gammainccinv(mo / ro, special.gammaincc(mi / ri, x / ri)),
                  ro * special.gammaincinv(mo / ro, special.gammainc(mi / ri, x / ri)))
    return (q1 + q2) / 2


@pytest.mark.parametrize("phi", [1e-4, 0.05, 0.4, 3.0])
def test_q2q_map_equals_scipy_reference(phi):
    rng = np.random.default_rng(int(phi * 1e4))
    G, n = 300, 12
    lam = np.exp(rng.normal(np.log(1e-5), 2.5, G))
    lib = rng.uniform(0.3e6, 3e6, n)
    lib_out = float(np.exp(np.log(lib).mean()))
    mu = lam[:, None] * lib[None, :]
    y = rng.negative_binomial(1 / phi, 1 / (1 + phi * mu)).astype(float)
    y[:5] = 0.0  # all-zero genes: the +0.25 rule
    lam[:5] = 0.0
    got = _q2qnbinom(y, lam, lib, lib_out, phi)
    want = _q2q_reference(y, lam[:, None] * lib[None, :],
                          np.broadcast_to(lam[:, None] * lib_out, y.shape), phi)
    ok = np.isfinite(want)
    assert ok.mean() > 0.99
    np.testing.assert_allclose(got[ok], want[ok], rtol=1e-9, atol=1e-10)


def test_q2q_scalar_cases():
    # zero count below the mean maps to half the normal map (gamma quantile 0)
    mi, mo, phi = 5.0, 7.0, 0.1
    q1 = mo + np.sqrt(mo * (1 + phi * mo) / (mi * (1 + phi * mi))) * (0 - mi)
    assert q2q_nbinom(0.0, mi, mo, phi) == pytest.approx(q1 / 2)
    # equal means: identity
    assert q2q_nbinom(17.0, 9.0, 9.0, 0.3) == pytest.approx(17.0, rel=1e-12)
    # the far upper tail stays finite and ordered
    vals = [q2q_nbinom(x, 2.0, 4.0, 0.01) for x in (50.0, 200.0, 800.0)]
    assert np.all(np.isfinite(vals)) and vals[0] < vals[1] < vals[2]


def test_rank_window_equals_average_ranks():
    from scipy.stats import rankdata

    from radiogenomics._edger.tmm import _rank_in

    rng = np.random.default_rng(3)
    for n in (1, 2, 7, 50, 501):
        for ties in (False, True):
            v = rng.normal(size=n)
            if ties:
                v = np.round(v, 1)  # many tie blocks, also at the window edges
            r = rankdata(v, method="average")
            for lo, hi in ((1, n), (np.floor(n * 0.3) + 1, n - np.floor(n * 0.3)),
                           (np.floor(n * 0.05) + 1, n - np.floor(n * 0.05)), (3, 2)):
                want = (r >= lo) & (r <= hi)
                np.testing.assert_array_equal(_rank_in(v, float(lo), float(hi)), want)


def test_lgamma_ratio_and_stirling_equal_scipy():
    from radiogenomics._edger.apl import _lgamma_ratio
    from radiogenomics._edger.special import _lgamma_big, lgamma

    for x in [10.0, 10.5, 37.2, 1e3, 1e5, 1e9]:
        assert _lgamma_big(x) == pytest.approx(special.gammaln(x), rel=2e-15, abs=2e-14)
    # the switch at 10: both sides equal scipy's log-gamma
    xs = np.concatenate([np.geomspace(1e-8, 9.999, 60), np.geomspace(10.0, 1e12, 60)])
    np.testing.assert_allclose([lgamma(x) for x in xs], special.gammaln(xs), rtol=3e-15,
                               atol=1e-14)
    for r in [9.8e-3, 0.3, 1.0, 7.5, 1e2, 1e4]:
        for y in [1.0, 2.0, 6.0, 7.0, 25.0, 3.5, 1e3, 1e6]:
            want = special.gammaln(y + r) - special.gammaln(r)
            got = _lgamma_ratio(y, r, special.gammaln(r))
            assert got == pytest.approx(want, rel=1e-12, abs=1e-10), (y, r)


def test_nb_unit_deviance_equals_twice_loglik_ratio():
    from radiogenomics._edger.nbglm import nb_unit_deviance

    # NB branch: 2 [log f(y; y) - log f(y; mu)] with edgeR's 1e-8 shifts
    for y, mu, phi in [(0.0, 3.0, 0.2), (5.0, 3.0, 0.2), (40.0, 55.5, 1.5), (3.0, 0.01, 50.0)]:
        yp, mp, r = y + 1e-8, mu + 1e-8, 1.0 / phi
        want = 2 * (yp * np.log(yp / mp) + (yp + r) * np.log((mp + r) / (yp + r)))
        assert nb_unit_deviance(y, mu, phi) == pytest.approx(want, rel=1e-12)
        ll = stats.nbinom.logpmf(y, r, r / (r + y)) - stats.nbinom.logpmf(y, r, r / (r + mu))
        assert nb_unit_deviance(y, mu, phi) == pytest.approx(2 * ll, rel=1e-6, abs=1e-6)
    # Poisson limit (phi < 1e-4) and gamma limit (mu phi > 1e6) are continuous with the NB form
    for y, mu in [(4.0, 6.0), (120.0, 100.0)]:
        pois = 2 * (y * np.log(y / mu) - (y - mu))
        assert nb_unit_deviance(y, mu, 0.0) == pytest.approx(pois, rel=1e-7)
        assert nb_unit_deviance(y, mu, 9.9e-5) == pytest.approx(nb_unit_deviance(y, mu, 1.01e-4),
                                                                 rel=1e-3)
    y, mu, phi = 3e7, 2e7, 0.06  # mu phi > 1e6: edgeR's gamma form
    gam = 2 * ((y - mu) / mu - np.log(y / mu)) * mu / (1 + mu * phi)
    assert nb_unit_deviance(y, mu, phi) == pytest.approx(gam, rel=1e-12)
    assert nb_unit_deviance(y, mu, phi) == pytest.approx(nb_unit_deviance(y, mu, 0.04), rel=0.6)


@pytest.mark.parametrize("phi", [1e-4, 0.01, 0.05, 0.4, 3.0])
def test_q2q_rows_batches_equal_the_scalar_map(phi):
    """The batched rows (input and output tails in lockstep, one Halley step) give exactly
    the scalar map's values: all-zero and tiny means, zeros, counts far in the upper tail
    (continued-fraction region) and counts in the series region."""
    from radiogenomics._edger.special import q2q_rows

    rng = np.random.default_rng(int(phi * 1e4) + 7)
    G, n = 300, 15
    lam = np.exp(rng.normal(np.log(1e-5), 3.0, G))
    lam[:4] = 0.0
    lam[4:8] = 1e-22
    lib = rng.uniform(0.3e6, 3e6, n)
    lib_out = float(np.exp(np.log(lib).mean()))
    mu = lam[:, None] * lib[None, :]
    y = rng.negative_binomial(1 / phi, 1 / (1 + phi * mu)).astype(float)
    y[10:20] *= 7.0
    y[20:25] = 0.0
    got = q2q_rows(y, lam, lib, lib_out, np.full(G, phi), False)
    want = np.array([[q2q_nbinom(y[g, j], lam[g] * lib[j], lam[g] * lib_out, phi)
                      for j in range(n)] for g in range(G)])
    np.testing.assert_array_equal(got, want)


def test_vectorised_stirling_equals_scipy():
    from radiogenomics._edger.special import lgamma_big_rows

    rng = np.random.default_rng(11)
    x = np.concatenate([[10.0, 16 * 1.4142135623730950, 16 * 1.4142135623730951, 2.0**40],
                        rng.uniform(10, 60, 5000), np.exp(rng.uniform(np.log(10), 35, 5000))])
    out = np.empty_like(x)
    lgamma_big_rows(x, out, np.empty(x.size, dtype=np.int64), x.size)
    np.testing.assert_allclose(out, special.gammaln(x), rtol=3e-15)


@pytest.mark.parametrize("r", [0.02, 0.7, 9.5, 14.0, 300.0, 5e4])
def test_conditional_loglik_equals_scipy(r):
    """Blocks of 64 genes (here 150: a partial last block), values on both sides of the
    Stirling switch at 10, a per-gene grid of r."""
    from radiogenomics._edger.classic import cond_loglik_grid

    rng = np.random.default_rng(int(r * 100))
    z = rng.gamma(0.5, 20.0, size=(150, 13))
    z[:5] = 0.0
    rr = r * np.exp(rng.uniform(-1, 1, size=(150, 3)))
    got = cond_loglik_grid(z, rr)
    n = z.shape[1]
    want = (special.gammaln(z[:, :, None] + rr[:, None, :]).sum(axis=1)
            + special.gammaln(n * rr) - special.gammaln(n * (z.mean(axis=1)[:, None] + rr))
            - n * special.gammaln(rr))
    # the terms cancel (each ~ n lgamma(r)): the error is relative to their size
    scale = (np.abs(special.gammaln(z[:, :, None] + rr[:, None, :])).sum(axis=1)
             + np.abs(special.gammaln(n * rr)) + n * np.abs(special.gammaln(rr))
             + np.abs(special.gammaln(n * (z.mean(axis=1)[:, None] + rr))))
    assert np.all(np.abs(got - want) <= 1e-14 * scale)
