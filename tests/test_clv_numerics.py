"""Numerics: analytic gradients, stable hypergeometric terms, no overflow or NaN at frequencies in
the thousands, probabilities that add up, and fits that fail loudly."""

from __future__ import annotations

import re

import numpy as np
import pandas as pd
import pytest
from scipy.integrate import quad
from scipy.special import betaln, gammaln

from memberlens.errors import InputError
from memberlens.models import (
    BetaGeoBetaBinomModel,
    BetaGeoModel,
    ConvergenceError,
    GammaGammaModel,
    ModifiedBetaGeoModel,
    ParetoNBDModel,
    compress_summary,
    simulate_bg_bb,
    simulate_bg_nbd,
    simulate_gamma_gamma,
)
from memberlens.models.pareto_nbd import log_h

TRANSACTION_MODELS = {
    BetaGeoModel: {"r": 0.243, "alpha": 4.414, "a": 0.793, "b": 2.426},
    ModifiedBetaGeoModel: {"r": 0.525, "alpha": 6.183, "a": 0.891, "b": 1.614},
    ParetoNBDModel: {"r": 0.553, "alpha": 10.578, "s": 0.606, "beta": 11.669},
}


def fitted(cls, params, time_unit="W"):
    model = cls(time_unit=time_unit)
    model.params_ = dict(params)
    return model


# a history with frequencies in the thousands: daily buyers over years, in days
HEAVY = pd.DataFrame(
    {
        "frequency": [0, 1, 5, 50, 1000, 3000, 5000, 8000],
        "recency": [0.0, 10.0, 30.0, 300.0, 1200.0, 2000.0, 2900.0, 3000.0],
        "T": [5.0, 40.0, 60.0, 400.0, 1300.0, 2100.0, 3000.0, 3000.0],
    }
)


@pytest.mark.parametrize(
    "cls", list(TRANSACTION_MODELS) + [BetaGeoBetaBinomModel, GammaGammaModel], ids=lambda c: c.__name__
)
def test_analytic_gradient_matches_finite_differences(cls):
    if cls is BetaGeoBetaBinomModel:
        frame, theta = simulate_bg_bb(2000, 1.2, 0.75, 0.66, 2.78, seed=2), np.array([1.1, 0.8, 0.7, 2.5])
        frame = frame.assign(weight=1)
    elif cls is GammaGammaModel:
        x = simulate_bg_nbd(4000, 0.5, 5.0, 0.8, 2.5, seed=2)["frequency"]
        frame, theta = simulate_gamma_gamma(x[x > 0].to_numpy(), 6.0, 4.0, 15.0, seed=2), np.array([5.0, 3.5, 12.0])
    else:
        frame = pd.concat(
            [
                simulate_bg_nbd(2000, 0.5, 5.0, 0.8, 2.5, seed=2),
                HEAVY.assign(T=HEAVY["T"] / 7, recency=HEAVY.recency / 7),
            ]
        )
        theta = np.array(list(TRANSACTION_MODELS[cls].values())) * 1.3
    model = cls()
    data = model._prepare(compress_summary(frame, cls.columns))
    _, grad = model._loglik(theta, data)
    for j in range(len(theta)):
        h = 1e-6 * theta[j]
        up, down = theta.copy(), theta.copy()
        up[j] += h
        down[j] -= h
        numeric = (model._loglik(up, data)[0] - model._loglik(down, data)[0]) / (2 * h)
        assert grad[j] == pytest.approx(numeric, rel=1e-5, abs=1e-4)


@pytest.mark.parametrize(
    ("x", "y", "r", "alpha", "s", "beta"),
    [
        (0, 0, 0.55, 10.5, 0.6, 11.6),
        (3, 5, 0.55, 1.5, 0.6, 11.6),
        (30, 20, 0.5, 20.0, 0.7, 2.0),
        (2, 0, 0.5, 50.0, 0.3, 0.5),
    ],
)
def test_pareto_hypergeometric_term_is_the_integral(x, y, r, alpha, s, beta):
    integral, _ = quad(lambda u: (alpha + u) ** -(r + x) * (beta + u) ** -(s + 1), y, np.inf, epsrel=1e-12, limit=200)
    assert float(log_h(np.array([float(x)]), np.array([float(y)]), r, alpha, s, beta)[0]) == pytest.approx(
        np.log(integral), rel=1e-9
    )


@pytest.mark.parametrize("cls", list(TRANSACTION_MODELS), ids=lambda c: c.__name__)
def test_no_overflow_or_nan_at_frequencies_in_the_thousands(cls):
    model = fitted(cls, TRANSACTION_MODELS[cls], time_unit="D")
    x, t_x, T = (HEAVY[c].to_numpy(float) for c in ("frequency", "recency", "T"))
    alive = model.probability_alive(x, t_x, T)
    expected = model.expected_purchases(30.0, x, t_x, T)
    p0 = model.probability_of_purchases(0, 30.0, x, t_x, T)
    for values in (alive, expected, p0):
        assert np.all(np.isfinite(values))
    assert np.all((alive >= 0) & (alive <= 1)) and np.all((p0 >= 0) & (p0 <= 1))
    # a member who bought 8000 times in 3000 days, the last time today: ~2.7 a day
    assert expected[-1] / 30 == pytest.approx(8000 / 3000, rel=0.1)
    # and the likelihood of such data is finite with a finite gradient
    data = model._prepare(compress_summary(HEAVY))
    ll, grad = model._loglik(np.array(list(TRANSACTION_MODELS[cls].values())), data)
    assert np.isfinite(ll) and np.all(np.isfinite(grad))


@pytest.mark.parametrize("cls", list(TRANSACTION_MODELS) + [BetaGeoBetaBinomModel], ids=lambda c: c.__name__)
def test_purchase_probabilities_add_up_to_one_and_to_the_expectation(cls):
    if cls is BetaGeoBetaBinomModel:
        model = fitted(cls, {"alpha": 1.204, "beta": 0.750, "gamma": 0.657, "delta": 2.783})
        x, t_x, T, t = np.array([0.0, 1, 3, 6]), np.array([0.0, 1, 5, 6]), np.full(4, 6.0), 5
    else:
        model = fitted(cls, TRANSACTION_MODELS[cls])
        x, t_x, T, t = np.array([0.0, 2, 5, 20]), np.array([0.0, 30.43, 20, 38]), np.full(4, 38.86), 39.0
    probabilities = np.array([model.probability_of_purchases(n, t, x, t_x, T) for n in range(300)])
    assert probabilities.sum(axis=0) == pytest.approx(np.ones(4), abs=1e-6)
    mean = (np.arange(300)[:, None] * probabilities).sum(axis=0)
    assert mean == pytest.approx(model.expected_purchases(t, x, t_x, T), rel=1e-5)


@pytest.mark.parametrize("cls", [BetaGeoModel, ModifiedBetaGeoModel], ids=lambda c: c.__name__)
@pytest.mark.parametrize("scale", [1e3, 1e5, 7.1e6])
def test_expectation_stays_finite_when_the_dropout_probability_is_nearly_fixed(cls, scale):
    """A small shop's fit gave a = 2.4e6, b = 4.7e6 (p = a/(a+b) pinned down, its spread not):
    SciPy's hyp2f1 returns NaN there over long horizons. The expectation must still agree with
    the sum of n P(n) (another route: incomplete beta functions) and with the integral over p."""
    a, b = 0.337 * scale, 0.663 * scale
    model = fitted(cls, {"r": 1.68, "alpha": 7.1, "a": a, "b": b})
    x, t_x, T = np.array([0.0, 1, 4, 12]), np.array([0.0, 3, 20, 30]), np.full(4, 31.0)
    for t in (4.3, 52.0, 500.0):
        expected = model.expected_purchases(t, x, t_x, T)
        assert np.isfinite(expected).all() and (expected >= 0).all()
        probabilities = np.array([model.probability_of_purchases(n, t, x, t_x, T) for n in range(400)])
        mean = (np.arange(400)[:, None] * probabilities).sum(axis=0)
        assert expected == pytest.approx(mean, rel=1e-6)
    # a new member: E_p[(1 - (α/(α+pt))^r) / p] over p ~ Beta(a, b), integrated directly
    if cls is BetaGeoModel:
        mode = (a - 1) / (a + b - 2)

        def integrand(p):
            return (
                -np.expm1(-1.68 * np.log1p(p * 52.0 / 7.1))
                / p
                * np.exp((a - 1) * np.log(p) + (b - 1) * np.log1p(-p) - betaln(a, b))
            )

        spread = 12 * np.sqrt(a * b / ((a + b) ** 2 * (a + b + 1)))
        integral = quad(integrand, max(mode - spread, 1e-12), min(mode + spread, 1 - 1e-12), limit=200, points=[mode])[
            0
        ]
        assert float(model.expected_purchases(52.0)) == pytest.approx(integral, rel=1e-7)


def test_a_new_member_is_the_unconditional_model():
    model = fitted(BetaGeoModel, TRANSACTION_MODELS[BetaGeoModel])
    r, alpha, a, b = model.params_.values()
    # Fader, Hardie & Lee (2005) eq. 9, summed over 200 terms of the hypergeometric series
    z = 39 / (alpha + 39)
    terms = np.exp(
        np.cumsum([0.0] + [np.log((r + j) * (b + j) / ((a + b - 1 + j) * (j + 1)) * z) for j in range(3000)])
    )
    eq9 = (a + b - 1) / (a - 1) * (1 - (alpha / (alpha + 39)) ** r * terms.sum())
    assert float(model.expected_purchases(39)) == pytest.approx(eq9, rel=1e-10)
    assert float(model.probability_alive(0, 0, 10)) == 1.0
    mbg = fitted(ModifiedBetaGeoModel, TRANSACTION_MODELS[ModifiedBetaGeoModel])
    assert float(mbg.probability_alive(0, 0, 0)) == pytest.approx(1.614 / (0.891 + 1.614))


def test_bg_bb_expectation_is_the_papers_closed_form():
    """Fader, Hardie & Shang (2010), eq. 13."""
    al, be, ga, de = 1.204, 0.750, 0.657, 2.783
    model = fitted(BetaGeoBetaBinomModel, {"alpha": al, "beta": be, "gamma": ga, "delta": de})
    for x, t_x, n, future in [(0, 0, 6, 5), (2, 4, 6, 3), (6, 6, 6, 10)]:
        likelihood = np.exp(betaln(al + x, be + n - x) - betaln(al, be) + betaln(ga, de + n) - betaln(ga, de)) + sum(
            np.exp(betaln(al + x, be + t_x - x + i) - betaln(al, be) + betaln(ga + 1, de + t_x + i) - betaln(ga, de))
            for i in range(n - t_x)
        )
        gam = lambda v: np.exp(gammaln(v))  # noqa: E731
        eq13 = (
            np.exp(betaln(al + x + 1, be + n - x) - betaln(al, be))
            * de
            / (ga - 1)
            * gam(ga + de)
            / gam(1 + de)
            * (gam(1 + de + n) / gam(ga + de + n) - gam(1 + de + n + future) / gam(ga + de + n + future))
            / likelihood
        )
        assert float(model.expected_purchases(future, x, t_x, n)) == pytest.approx(eq13, rel=1e-10)


def test_a_parameter_that_runs_away_is_named():
    nobody_returns = pd.DataFrame({"frequency": [0] * 50, "recency": [0.0] * 50, "T": np.linspace(1, 50, 50)})
    with pytest.raises(ConvergenceError) as info:
        BetaGeoModel().fit(nobody_returns)
    message = str(info.value)
    # with no repeat purchase the purchase rate r/alpha goes to zero: r to zero or alpha to infinity
    assert re.search(
        r"BetaGeoModel fit did not converge: parameter '(r|alpha)' ran away towards (zero|infinity)", message
    )
    assert "gradient norm" in message and "Hint:" in message and "penalizer" in message


def test_identical_members_none_gone_get_one_purchase_rate_and_no_dropout():
    # identical members, none of whom has dropped out, counts less dispersed than a Poisson's:
    # neither heterogeneity nor dropout can be seen, so the fit ends at that limit (it used to
    # raise): Poisson purchases at λ = Σx / ΣT for everyone, log-likelihood Σx ln λ - λ ΣT
    frame = pd.DataFrame({"frequency": [3] * 40 + [0] * 10, "recency": [20.0] * 40 + [0.0] * 10, "T": [20.0] * 50})
    for model in (ParetoNBDModel().fit(frame), BetaGeoModel().fit(frame)):
        assert model.limit_.name == "poisson"
        assert model.limit_.params["lambda"] == pytest.approx(120 / 1000, rel=1e-8)
        assert model.log_likelihood_ == pytest.approx(120 * np.log(0.12) - 0.12 * 1000, abs=1e-6)
        assert model.probability_alive([3, 0], [20.0, 0.0], [20.0, 20.0]).tolist() == [1.0, 1.0]


def test_the_penalizer_keeps_a_weak_fit_finite():
    nobody_returns = pd.DataFrame(
        {"frequency": [0] * 50 + [1], "recency": [0.0] * 50 + [3.0], "T": np.linspace(1, 51, 51)}
    )
    model = BetaGeoModel(penalizer=0.1).fit(nobody_returns)
    assert all(np.isfinite(v) for v in model.params_.values())


def test_running_out_of_iterations_says_so():
    frame = simulate_bg_nbd(2000, 0.5, 5.0, 0.8, 2.5, seed=4)
    with pytest.raises(ConvergenceError, match=r"reached max_iter=2 with gradient norm") as info:
        BetaGeoModel(max_iter=2).fit(frame)
    assert "raise max_iter (now 2)" in info.value.hint


def test_inconsistent_summaries_are_refused():
    bad = pd.DataFrame({"frequency": [1, 2], "recency": [5.0, 9.0], "T": [4.0, 10.0]})
    with pytest.raises(
        InputError, match="1 member\\(s\\) with recency greater than T, e.g. frequency=1, recency=5, T=4"
    ):
        BetaGeoModel().fit(bad)
    with pytest.raises(InputError, match="frequency that is not a non-negative integer"):
        ParetoNBDModel().fit(pd.DataFrame({"frequency": [1.5], "recency": [1.0], "T": [2.0]}))
    with pytest.raises(InputError, match="at most one purchase per period"):
        BetaGeoBetaBinomModel().fit(pd.DataFrame({"frequency": [3], "recency": [2.0], "T": [4.0]}))


def test_gamma_gamma_refuses_one_time_buyers_and_non_positive_spend():
    frame = pd.DataFrame({"frequency": [0, 2, 3, 1], "monetary_value": [0.0, 10.0, 12.0, 9.0]})
    with pytest.raises(InputError, match="1 of 4 members are one-time buyers") as info:
        GammaGammaModel().fit(frame)
    assert "summary.filter(summary.frequency > 0)" in info.value.hint
    with pytest.raises(InputError, match="1 repeat buyer\\(s\\) have a mean repeat spend <= 0"):
        GammaGammaModel().fit(pd.DataFrame({"frequency": [2, 3, 1], "monetary_value": [10.0, 0.0, 9.0]}))


def test_gamma_gamma_reports_the_correlation_it_assumes_away():
    x = np.repeat([1, 2, 4, 8, 16], 200)
    spend = (
        simulate_gamma_gamma(x, 6.0, 4.0, 15.0, seed=1)["monetary_value"].to_numpy() * x
    )  # spend grows with frequency
    with pytest.warns(UserWarning, match="assumes spend is independent of frequency, but their correlation is 0"):
        model = GammaGammaModel().fit(pd.DataFrame({"frequency": x, "monetary_value": spend}))
    assert model.frequency_spend_correlation_ > 0.3
