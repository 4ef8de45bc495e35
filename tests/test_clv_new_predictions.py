"""The predictions users ask CLV libraries for, each against an independent computation:
P(no order in the next t) by direct numerical integration over the individual model (BG/NBD,
MBG/NBD, Pareto/NBD), BG/BB's P(alive at the next opportunity) and the next order's wait by
simulation — at several points, scalar and array alike."""

from __future__ import annotations

import functools

import numpy as np
import pytest
from scipy import integrate, stats
from scipy.special import gammaln

from memberlens.models import BetaGeoBetaBinomModel, BetaGeoModel, ModifiedBetaGeoModel, ParetoNBDModel

HISTORIES = [(0.0, 0.0, 30.0), (2.0, 30.43, 38.86), (6.0, 20.0, 50.0)]
BG = {"r": 0.243, "alpha": 4.414, "a": 0.793, "b": 2.426}
PARETO = {"r": 0.553, "alpha": 10.578, "s": 0.606, "beta": 11.669}


def _fitted(cls, params):
    model = cls()
    model.params_ = dict(params)
    model.limit_ = None
    return model


def _gamma_moment(shape, rate, power, c):
    """E[λ^power e^(-λ c)] for λ ~ Gamma(shape, rate): the Gamma integral, written out."""
    return np.exp(gammaln(shape + power) - gammaln(shape) + shape * np.log(rate) - (shape + power) * np.log(rate + c))


def _bg_no_order(x, t_x, T, t, modified):
    """P(no purchase in (T, T+t] | x, t_x, T) for (M)BG/NBD: the individual likelihood of the
    history (alive at T, or gone after the last purchase) times the chance of silence, over
    λ ~ Gamma(r, α) (the Gamma integral) and p ~ Beta(a, b) (numerically)."""
    r, alpha, a, b = BG["r"], BG["alpha"], BG["a"], BG["b"]
    lam = functools.partial(_gamma_moment, r, alpha, x)
    stay = x + (1 if modified else 0)  # purchases after which the member did not leave

    def alive(p, c):
        return stats.beta.pdf(p, a, b) * (1 - p) ** stay * lam(c)

    def dead(p):
        if x == 0 and not modified:
            return 0.0
        return stats.beta.pdf(p, a, b) * p * (1 - p) ** (stay - 1) * lam(t_x)

    def over_p(f):
        return integrate.quad(f, 0, 1, epsabs=1e-14, epsrel=1e-12, limit=200)[0]

    silent = over_p(lambda p: alive(p, T + t) + dead(p))
    return silent / over_p(lambda p: alive(p, T) + dead(p))


def _pareto_no_order(x, t_x, T, t):
    """The same for Pareto/NBD, over λ ~ Gamma(r, α) and μ ~ Gamma(s, β). Death at u in
    (t_x, T) contributes λ^x μ e^(-(λ+μ)u); silence after T is alive to T+t, or death at u in
    (T, T+t) before any purchase: both integrals over λ and μ are Gamma integrals, and the one
    over u is numerical."""
    r, alpha, s, beta = PARETO["r"], PARETO["alpha"], PARETO["s"], PARETO["beta"]

    def alive(c):
        return _gamma_moment(r, alpha, x, c) * _gamma_moment(s, beta, 0, c)

    def dies(u):
        return _gamma_moment(r, alpha, x, u) * _gamma_moment(s, beta, 1, u)

    def over_u(low, high):
        return integrate.quad(dies, low, high, epsabs=1e-15, epsrel=1e-12, limit=200)[0] if high > low else 0.0

    gone = over_u(t_x, T)
    silent = alive(T + t) + over_u(T, T + t) + gone
    return silent / (alive(T) + gone)


@pytest.mark.parametrize(("cls", "modified"), [(BetaGeoModel, False), (ModifiedBetaGeoModel, True)])
def test_bg_nbd_probability_of_no_order_equals_the_integral(cls, modified):
    model = _fitted(cls, BG)
    for x, t_x, T in HISTORIES:
        for t in (4.0, 13.0, 52.0):
            found = float(model.probability_of_purchases(0, t, x, t_x, T))
            assert found == pytest.approx(_bg_no_order(x, t_x, T, t, modified), rel=1e-6), (x, t_x, T, t)
    arrays = model.probability_of_purchases(0, 13.0, *np.array(HISTORIES).T)
    assert np.allclose(arrays, [model.probability_of_purchases(0, 13.0, *h) for h in HISTORIES], rtol=1e-14)


def test_pareto_nbd_probability_of_no_order_equals_the_integral():
    model = _fitted(ParetoNBDModel, PARETO)
    for x, t_x, T in HISTORIES:
        for t in (4.0, 52.0):
            found = float(model.probability_of_purchases(0, t, x, t_x, T))
            assert found == pytest.approx(_pareto_no_order(x, t_x, T, t), rel=1e-6), (x, t_x, T, t)
    arrays = model.probability_of_purchases(0, 52.0, *np.array(HISTORIES).T)
    assert np.allclose(arrays, [model.probability_of_purchases(0, 52.0, *h) for h in HISTORIES], rtol=1e-12)


def test_bg_bb_probability_alive_next_period_equals_the_simulated_share():
    """2,000,000 simulated BG/BB members over 6 opportunities and one more: among those with a
    given (x, t_x), the share still alive at the 7th is the model's probability."""
    alpha, beta, gamma, delta, n = 1.204, 0.750, 0.657, 2.783, 6
    rng = np.random.default_rng(7)
    size = 2_000_000
    p, theta = rng.beta(alpha, beta, size), rng.beta(gamma, delta, size)
    x, t_x, alive = np.zeros(size), np.zeros(size), np.ones(size, dtype=bool)
    for t in range(1, n + 2):
        alive &= rng.random(size) >= theta
        if t <= n:
            buy = alive & (rng.random(size) < p)
            x += buy
            t_x[buy] = t
    model = _fitted(BetaGeoBetaBinomModel, {"alpha": alpha, "beta": beta, "gamma": gamma, "delta": delta})
    for hx, htx in [(0, 0), (1, 1), (3, 4), (6, 6), (2, 6)]:
        chosen = (x == hx) & (t_x == htx)
        share, members = alive[chosen].mean(), chosen.sum()
        expected = float(model.probability_alive_next_period(hx, htx, n))
        assert abs(share - expected) < 4 * np.sqrt(expected * (1 - expected) / members) + 1e-4, (hx, htx)
    arrays = model.probability_alive_next_period(np.array([0, 3]), np.array([0, 4]), n)
    assert np.allclose(
        arrays, [model.probability_alive_next_period(0, 0, n), model.probability_alive_next_period(3, 4, n)]
    )
    assert (
        model.probability_alive_next_period(np.array([0, 3]), np.array([0, 4]), n)
        < model.probability_alive(np.array([0, 3]), np.array([0, 4]), n)
    ).all()


@pytest.mark.parametrize(("cls", "params"), [(BetaGeoModel, BG), (ParetoNBDModel, PARETO)])
def test_the_next_order_wait_has_the_simulated_quantiles(cls, params):
    """A member alive at T has λ ~ Gamma(r+x, α+T) and waits Exp(λ) for the next purchase: the
    model's wait quantiles are those of 1,000,000 such waits."""
    model = _fitted(cls, params)
    rng = np.random.default_rng(3)
    for x, t_x, T in HISTORIES:
        lam = rng.gamma(params["r"] + x, 1.0 / (params["alpha"] + T), 1_000_000)
        waits = rng.exponential(1.0, lam.size) / lam
        for share in (0.05, 0.5, 0.95):
            found = float(model.wait_alive(share, x, t_x, T))
            assert np.mean(waits <= found) == pytest.approx(share, abs=0.002), (x, share)
    arrays = model.wait_alive(0.95, *np.array(HISTORIES).T)
    assert np.allclose(arrays, [model.wait_alive(0.95, *h) for h in HISTORIES], rtol=1e-14)
    assert float(model.median_wait_alive(2.0, 30.43, 38.86)) == pytest.approx(
        float(model.wait_alive(0.5, 2.0, 30.43, 38.86))
    )
