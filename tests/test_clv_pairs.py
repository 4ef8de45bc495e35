"""The pieces that make CLV predictions fast at a million members, each against an independent
computation: the count distribution stepped by recurrences against its closed form, the order
ranges found per (frequency, T) pair against the rule applied member by member, the written-out
count distributions against scipy.stats, and Gamma-Gamma's likelihood from sufficient sums
against the formula member by member."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy import stats
from scipy.special import gammaln

from memberlens.models import (
    BetaGeoBetaBinomModel,
    BetaGeoModel,
    GammaGammaModel,
    ModifiedBetaGeoModel,
    ParetoNBDModel,
    order_range,
)
from memberlens.models._base import CountSteps
from memberlens.models._counts import nbinom_pmf, poisson_pmf
from memberlens.models._histories import Histories
from memberlens.models._limits import NoDropout, SameDropout

LEVEL = 0.9


def _fitted(cls, params, limit=None):
    model = cls(time_unit="W")
    model.params_ = dict(params)
    model.limit_ = limit
    return model


BG = {"r": 0.51, "alpha": 1.64, "a": 0.80, "b": 2.50}
PARETO = {"r": 0.55, "alpha": 10.58, "s": 0.61, "beta": 11.67}
BGBB = {"alpha": 1.204, "beta": 0.750, "gamma": 0.657, "delta": 2.783}


def _histories(seed, n=300, max_x=60, max_T=104.0):
    rng = np.random.default_rng(seed)
    T = rng.uniform(0.0, max_T, n).round(1)
    x = rng.integers(0, max_x, n).astype(float)
    t_x = np.where(x > 0, T * rng.random(n), 0.0).round(1)
    x = np.where(t_x > 0, x, 0.0)
    return x, t_x, T


@pytest.mark.parametrize(("cls", "params"), [(BetaGeoModel, BG), (ModifiedBetaGeoModel, BG), (ParetoNBDModel, PARETO)])
def test_count_recurrence_equals_the_closed_form(cls, params):
    model = _fitted(cls, params)
    x = np.array([0.0, 1.0, 5.0, 40.0, 352.0, 3.0])
    T = np.array([0.5, 10.0, 50.0, 3.0, 104.0, 0.0])
    steps = model.count_steps_alive(52.0, x, T)
    assert type(steps) is not CountSteps  # the recurrence, not the closed form called per n
    rows = np.arange(len(x))
    total = np.zeros(len(x))
    for n in range(600):
        if n == 300:  # a shrinking set of rows, as the order ranges ask
            rows = rows[[0, 2, 4]]
        stepped = steps.next(rows)
        closed = model.probability_of_purchases_alive(n, 52.0, x[rows], T[rows])
        np.testing.assert_allclose(stepped, closed, rtol=1e-9, atol=1e-14)
        total[rows] += stepped
    assert total[[0, 2]] == pytest.approx(1.0, abs=1e-9)  # a whole distribution


def _range_by_rule(model, t, x, t_x, T, level):
    """The module's rule, member by member, over the public P(N = n | history)."""
    tail = (1.0 - level) / 2.0
    lows, highs = [], []
    for xi, ti, Ti in zip(x, t_x, T):
        pmf = []
        n = 0
        while True:
            pmf.append(float(model.probability_of_purchases(n, t, xi, ti, Ti)))
            cdf = np.cumsum(pmf)
            if cdf[-1] >= min(1.0 - tail / 2.0, 1.0 - 1e-12) or n > 5000:
                break
            n += 1
        low = int(np.argmax(cdf >= tail))
        target = (cdf[low - 1] if low else 0.0) + level
        high = int(np.argmax(cdf >= target)) if (cdf >= target).any() else len(cdf) - 1
        if high - 1 >= low and abs(cdf[high - 1] - target) < abs(cdf[high] - target):
            high -= 1
        lows.append(low)
        highs.append(high)
    return np.array(lows), np.array(highs)


@pytest.mark.parametrize(
    "model",
    [
        _fitted(BetaGeoModel, BG),
        _fitted(ModifiedBetaGeoModel, BG),
        _fitted(ParetoNBDModel, PARETO),
        _fitted(BetaGeoModel, BG, limit=NoDropout({"r": 0.5, "alpha": 2.0})),
        _fitted(BetaGeoModel, BG, limit=SameDropout({"r": 0.5, "alpha": 2.0, "p": 0.3})),
    ],
    ids=["bg-nbd", "mbg-nbd", "pareto-nbd", "limit-nbd", "limit-same-dropout"],
)
def test_order_ranges_by_pair_follow_the_rule_member_by_member(model):
    x, t_x, T = _histories(seed=5, n=120 if isinstance(model, ParetoNBDModel) else 300)
    # many members share a (frequency, T) pair with different recencies
    x, t_x, T = (np.concatenate([v, v]) for v in (x, t_x, T))
    t_x[len(t_x) // 2 :] = np.where(x[len(x) // 2 :] > 0, T[len(T) // 2 :], 0.0)
    low, high = order_range(model, 52.0, x, t_x, T, LEVEL)
    expected_low, expected_high = _range_by_rule(model, 52.0, x, t_x, T, LEVEL)
    np.testing.assert_array_equal(low, expected_low)
    np.testing.assert_array_equal(high, expected_high)


def test_bg_bb_order_ranges_follow_the_rule_member_by_member():
    model = _fitted(BetaGeoBetaBinomModel, BGBB)
    rng = np.random.default_rng(8)
    periods = np.full(200, 6.0)
    x = rng.integers(0, 7, 200).astype(float)
    t_x = np.where(x > 0, np.maximum(x, rng.integers(1, 7, 200)), 0.0)
    low, high = order_range(model, 5.0, x, t_x, periods, LEVEL)
    expected_low, expected_high = _range_by_rule(model, 5.0, x, t_x, periods, LEVEL)
    np.testing.assert_array_equal(low, expected_low)
    np.testing.assert_array_equal(high, expected_high)


def test_histories_split_into_pairs_and_back():
    x, t_x, T = _histories(seed=2)
    x, t_x, T = (np.concatenate([v, v]) for v in (x, t_x, T))
    histories = Histories.from_arrays(x, t_x, T)
    assert histories.n_pairs == len(pd.DataFrame({"x": x, "T": T}).drop_duplicates())
    np.testing.assert_array_equal(histories.pair_x[histories.pair], x)
    np.testing.assert_array_equal(histories.pair_T[histories.pair], T)
    model = _fitted(ParetoNBDModel, PARETO)
    alive = histories.probability_alive(model)
    np.testing.assert_allclose(
        histories.probability_of_purchases(model, 0, 30.0, alive),
        [model.probability_of_purchases(0, 30.0, *h) for h in zip(x, t_x, T)],
        rtol=1e-12,
    )


def test_count_distributions_equal_scipy_stats():
    n = np.arange(0, 80)[:, None]
    r = np.array([0.1, 1.0, 5.5, 300.0, 2.0e5])
    q = np.array([0.01, 0.3, 0.5, 0.99, 1.0])
    np.testing.assert_allclose(nbinom_pmf(n, r, q), stats.nbinom.pmf(n, r, q), rtol=1e-9, atol=1e-300)
    mean = np.array([0.0, 0.1, 3.0, 40.0, 500.0])
    np.testing.assert_allclose(poisson_pmf(n, mean), stats.poisson.pmf(n, mean), rtol=1e-11, atol=1e-300)


def test_gamma_gamma_likelihood_from_sums_equals_the_formula_member_by_member():
    rng = np.random.default_rng(3)
    x = rng.integers(1, 30, 500).astype(float)
    m = rng.gamma(2.0, 20.0, 500)
    frame = pd.DataFrame({"frequency": x, "monetary_value": m, "weight": rng.integers(1, 4, 500).astype(float)})
    model = GammaGammaModel()
    data = model._prepare(frame)
    w = frame.weight.to_numpy()

    def formula(p, q, g):
        px = p * x
        terms = (
            gammaln(px + q)
            - gammaln(px)
            - gammaln(q)
            + q * np.log(g)
            + (px - 1.0) * np.log(m)
            + px * np.log(x)
            - (px + q) * np.log(g + x * m)
        )
        return float(w @ terms)

    for theta in ([6.25, 3.74, 15.44], [0.5, 12.0, 300.0], [40.0, 1.5, 2.0]):
        ll, grad = model._loglik(np.array(theta), data)
        assert ll == pytest.approx(formula(*theta), rel=1e-12)
        for j in range(3):
            step = np.array(theta, dtype=float)
            h = 1e-6 * step[j]
            step[j] += h
            down = np.array(theta, dtype=float)
            down[j] -= h
            assert grad[j] == pytest.approx((formula(*step) - formula(*down)) / (2 * h), rel=1e-5, abs=1e-6)
