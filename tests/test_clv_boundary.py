"""Fits whose maximum lies at the edge of the parameter space return that limit, not an error.

Each limit's log-likelihood is checked against the same limiting model fitted here independently:
its per-member likelihood written out in plain NumPy/SciPy and maximised with Nelder-Mead.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy.optimize import minimize
from scipy.special import expit, gammaln
from scipy.stats import gamma

from memberlens import Workspace, ingest
from memberlens.models import (
    BetaGeoModel,
    ConvergenceError,
    GammaGammaModel,
    ModifiedBetaGeoModel,
    ParetoNBDModel,
    load_model,
    predict_member_value,
    save_model,
    summarise_purchases,
)

SMALL_SHOP = Path(__file__).parent / "data" / "small_shop.csv"  # test_report.shop_orders(), drawn once
# Pareto/NBD's likelihood near β → ∞ sums long hypergeometric series: tens of seconds here
PURCHASE_MODELS = [BetaGeoModel, ModifiedBetaGeoModel, pytest.param(ParetoNBDModel, marks=pytest.mark.slow)]
# columns that are null by design: days between orders of a one-order member, no spend model
MAY_BE_NULL = {"average_days_between_orders"}


def _maximum(negative_ll, start) -> float:
    """The maximum of a log-likelihood by Nelder-Mead, restarted until it stops improving."""
    best = minimize(
        negative_ll, start, method="Nelder-Mead", options={"xatol": 1e-10, "fatol": 1e-12, "maxiter": 40_000}
    )
    for _ in range(20):
        again = minimize(
            negative_ll, best.x, method="Nelder-Mead", options={"xatol": 1e-10, "fatol": 1e-12, "maxiter": 40_000}
        )
        if again.fun >= best.fun - 1e-12:
            break
        best = again
    return -float(best.fun)


def nbd_maximum(summary: pd.DataFrame) -> float:
    """Max over (r, α) of Σ ln Γ(r+x) - ln Γ(r) + r ln α - (r+x) ln(α+T): no member drops out."""
    x, T = summary.frequency.to_numpy(float), summary["T"].to_numpy(float)

    def negative(phi):
        r, alpha = np.exp(phi)
        return -np.sum(gammaln(r + x) - gammaln(r) + r * np.log(alpha) - (r + x) * np.log(alpha + T))

    return _maximum(negative, np.log([1.0, max(T.mean() / max(x.mean(), 1e-3), 1e-3)]))


def same_dropout_maximum(summary: pd.DataFrame, *, modified: bool) -> float:
    """Max over (r, α, p) of BG/NBD (or MBG/NBD) with one dropout probability p for everyone:
    L = Γ(r+x) α^r / Γ(r) · [(1-p)^(x+m) (α+T)^-(r+x) + [x>0 or m] p (1-p)^(x-1+m) (α+t_x)^-(r+x)]."""
    x, t_x, T = (summary[c].to_numpy(float) for c in ("frequency", "recency", "T"))
    m = 1.0 if modified else 0.0
    second = (x > 0) | modified

    def negative(phi):
        r, alpha = np.exp(phi[:2])
        p = expit(phi[2])
        alive = (1 - p) ** (x + m) * (alpha + T) ** -(r + x)
        gone = np.where(second, p * (1 - p) ** np.maximum(x - 1 + m, 0) * (alpha + t_x) ** -(r + x), 0.0)
        return -np.sum(gammaln(r + x) - gammaln(r) + r * np.log(alpha) + np.log(alive + gone))

    return _maximum(negative, np.array([0.0, 1.0, -1.0]))


def _finite_predictions(summary, model) -> pd.DataFrame:
    predictions = predict_member_value(summary, model)
    numbers = predictions.select_dtypes("number").drop(columns=list(MAY_BE_NULL))
    assert len(predictions) == len(summary)
    assert np.isfinite(numbers.to_numpy(dtype=float)).all(), numbers.columns[~np.isfinite(numbers).all()].tolist()
    return predictions


@pytest.fixture(scope="module")
def small_shop(tmp_path_factory) -> pd.DataFrame:
    """The report test's small shop (60 customers, 8 months of 2024) as of 2024-07-01, in weeks."""
    path = tmp_path_factory.mktemp("small-shop") / "shop.duckdb"
    with Workspace(path) as ws:
        ingest(ws, SMALL_SHOP, name="shop")
        return summarise_purchases(ws.table("orders"), time_unit="W", observation_end="2024-06-30").execute()


@pytest.fixture(scope="module")
def alive_to_the_end() -> pd.DataFrame:
    """1,500 members buying as Poisson processes (λ ~ Gamma(0.9, 3)) who never drop out, each
    with a purchase on the last day observed: nothing in the data says anyone left."""
    rng = np.random.default_rng(2026)
    n = 1_500
    T = rng.uniform(8.0, 60.0, n).round(3)
    x = rng.poisson(rng.gamma(0.9, 1 / 3.0, n) * T)
    return pd.DataFrame(
        {"customer_id": [f"M{i}" for i in range(n)], "frequency": x, "recency": np.where(x > 0, T, 0.0), "T": T}
    )


@pytest.mark.parametrize("model_cls", [BetaGeoModel, ModifiedBetaGeoModel])
def test_small_shop_fits_one_dropout_probability_for_all(small_shop, model_cls):
    """On the report test's shop the BG/NBD likelihood keeps rising as a and b grow together
    (every member about equally likely to leave): once a ConvergenceError, now that limit."""
    model = model_cls().fit(small_shop)
    assert model.limit_ is not None and model.params_["a"] == model.params_["b"] == math.inf
    assert model.fit_note_.startswith(model_cls.__name__) and "one dropout probability" in model.fit_note_
    oracle = same_dropout_maximum(small_shop, modified=model_cls is ModifiedBetaGeoModel)
    assert model.log_likelihood_ == pytest.approx(oracle, abs=1e-6)
    predictions = _finite_predictions(small_shop, model)
    assert ((predictions.probability_alive > 0) & (predictions.probability_alive <= 1)).all()


def poisson_exponential_maximum(summary: pd.DataFrame) -> float:
    """Max over (λ, μ) of Σ x ln λ + ln[e^(-(λ+μ)T) + ∫_{t_x}^T μ e^(-μu) e^(-λu) du]: one purchase
    rate and one dropout rate for everyone (the integral done by SciPy's quad, member by member)."""
    from scipy.integrate import quad

    x, t_x, T = (summary[c].to_numpy(float) for c in ("frequency", "recency", "T"))

    def negative(phi):
        lam, mu = np.exp(phi)
        gone = [quad(lambda u: mu * np.exp(-(lam + mu) * u), a, b, epsabs=0, epsrel=1e-13)[0] for a, b in zip(t_x, T)]
        return -np.sum(x * np.log(lam) + np.log(np.exp(-(lam + mu) * T) + np.array(gone)))

    return _maximum(negative, np.log([0.1, 0.05]))


def test_small_shop_pareto_nbd_fits_one_purchase_and_one_dropout_rate(small_shop):
    """Pareto/NBD on the same shop: both Gamma mixtures collapse (r, α and s, β grow without
    bound): once a ConvergenceError, now Poisson purchases with exponential lifetimes."""
    model = ParetoNBDModel().fit(small_shop)
    assert model.limit_.name == "poisson-exponential"
    assert all(model.params_[k] == math.inf for k in ("r", "alpha", "s", "beta"))
    assert model.log_likelihood_ == pytest.approx(poisson_exponential_maximum(small_shop), abs=1e-6)
    predictions = _finite_predictions(small_shop, model).sort_values("customer_id").reset_index(drop=True)
    members = small_shop.sort_values("customer_id").reset_index(drop=True)
    lam, mu = model.limit_.params["lambda"], model.limit_.params["mu"]
    k = lam + mu
    alive = np.exp(-k * members["T"])
    alive = alive / (alive + mu / k * (np.exp(-k * members.recency) - np.exp(-k * members["T"])))
    np.testing.assert_allclose(predictions.probability_alive, alive, rtol=1e-9)
    np.testing.assert_allclose(
        predictions.expected_orders_30d, alive * lam / mu * (1 - np.exp(-mu * 30 / 7)), rtol=1e-9
    )


@pytest.mark.parametrize("model_cls", PURCHASE_MODELS)
def test_members_alive_to_the_end_give_the_no_dropout_limit(alive_to_the_end, model_cls):
    model = model_cls().fit(alive_to_the_end)
    assert model.limit_ is not None and model.boundary_ is not None
    assert (model.boundary_.parameter, model.boundary_.direction) in model_cls.boundaries
    assert model.log_likelihood_ == pytest.approx(nbd_maximum(alive_to_the_end), abs=1e-6)
    assert model.limit_.params["r"] == pytest.approx(model.params_["r"])
    predictions = _finite_predictions(alive_to_the_end, model)
    assert (predictions.probability_alive == 1.0).all()
    # no dropout: expected orders are the posterior mean rate (r+x)/(α+T) times the horizon
    r, alpha = model.limit_.params["r"], model.limit_.params["alpha"]
    predictions = predictions.sort_values("customer_id").reset_index(drop=True)
    members = alive_to_the_end.sort_values("customer_id").reset_index(drop=True)
    expected = (r + members.frequency) / (alpha + members["T"]) * (30 / 7)
    np.testing.assert_allclose(predictions.expected_orders_30d, expected, rtol=1e-9)


@pytest.mark.parametrize("model_cls", PURCHASE_MODELS)
def test_members_without_dropout_fit_at_least_as_well_as_the_limit(model_cls):
    """Simulated members who never leave, observed at random times: the fit returns, is at least
    as good as the no-dropout model, and predicts a finite value for everyone."""
    rng = np.random.default_rng(7)
    n = 1_500
    T = rng.uniform(8.0, 60.0, n)
    x = rng.poisson(rng.gamma(0.9, 1 / 3.0, n) * T)
    t_x = np.where(x > 0, T * rng.beta(np.maximum(x, 1), 1.0), 0.0)  # the last of x uniform times
    summary = pd.DataFrame({"customer_id": np.arange(n).astype(str), "frequency": x, "recency": t_x, "T": T})
    model = model_cls().fit(summary)
    assert model.log_likelihood_ >= nbd_maximum(summary) - 1e-6
    _finite_predictions(summary, model)


def test_spend_alike_for_everyone_gives_one_spend_distribution():
    """Every member's spends from one Gamma(p, ν) — mean spends at the quantiles of Gamma(px, νx),
    without sampling noise: Gamma-Gamma's q and γ grow without bound; the limit is one spend
    distribution, and everyone's expected spend is p/ν."""
    x = np.repeat(np.arange(1, 6), 200)
    spend = gamma.ppf(np.tile((np.arange(200) + 0.5) / 200, 5), 4.0 * x, scale=1 / (0.05 * x))
    model = GammaGammaModel().fit(pd.DataFrame({"frequency": x, "monetary_value": spend}))
    assert model.params_["q"] == model.params_["gamma"] == math.inf and model.fit_note_ is not None

    def negative(phi):
        p, nu = np.exp(phi)
        return -np.sum(p * x * np.log(nu * x) + (p * x - 1) * np.log(spend) - nu * x * spend - gammaln(p * x))

    assert model.log_likelihood_ == pytest.approx(_maximum(negative, np.log([1.0, 0.01])), abs=1e-6)
    p, nu = model.limit_.params["p"], model.limit_.params["nu"]
    assert p == pytest.approx(4.0, rel=0.02) and nu == pytest.approx(0.05, rel=0.02)
    np.testing.assert_allclose(model.expected_spend(x, spend), p / nu)


@pytest.mark.parametrize("model_cls", [BetaGeoModel, ParetoNBDModel])
def test_a_limit_survives_saving_and_loading(small_shop, tmp_path, model_cls):
    model = model_cls().fit(small_shop)
    save_model(tmp_path / "model.json", model)
    (loaded,) = load_model(tmp_path / "model.json")
    assert type(loaded.limit_) is type(model.limit_) and loaded.limit_.params == model.limit_.params
    assert loaded.boundary_ == model.boundary_ and loaded.params_ == model.params_
    by_member = [
        predict_member_value(small_shop, m).sort_values("customer_id").reset_index(drop=True) for m in (loaded, model)
    ]
    pd.testing.assert_frame_equal(*by_member)


def test_no_repeat_buyers_is_still_an_error(alive_to_the_end):
    with pytest.raises(ConvergenceError):
        BetaGeoModel().fit(alive_to_the_end.assign(frequency=0, recency=0.0))


@pytest.mark.parametrize(
    "limit_name, theta",
    [
        ("nbd", [0.8, 3.0]),
        ("poisson", [0.2]),
        ("bg-same-dropout", [0.8, 3.0, 0.5]),
        ("mbg-same-dropout", [0.8, 3.0, 0.5]),
        ("pareto-same-rate", [0.2, 1.5, 12.0]),
        ("poisson-exponential", [0.2, 0.05]),
    ],
)
def test_each_limit_gradient_is_the_slope_of_its_log_likelihood(small_shop, limit_name, theta):
    """The analytic gradients the limits are fitted with, against central differences."""
    from memberlens.models._limits import LIMIT_MODELS

    limit = LIMIT_MODELS[limit_name]
    model = ParetoNBDModel()
    data = model._prepare(model._compress(small_shop))
    theta = np.array(theta)
    _, gradient = limit.loglik(theta, data)
    for k in range(len(theta)):
        step = 1e-6 * theta[k] * (np.arange(len(theta)) == k)
        slope = (limit.loglik(theta + step, data)[0] - limit.loglik(theta - step, data)[0]) / (2 * step[k])
        assert gradient[k] == pytest.approx(slope, rel=1e-5, abs=1e-6), (limit_name, k)


def test_clv_fit_command_says_which_limit_it_used(run_cli, tmp_path):
    """On the whole small shop the spend model stalls far out (q, γ ~ 1e7): the command says
    it uses the one-spend-distribution limit, and its JSON stays strict (no Infinity)."""
    import json

    assert run_cli("ingest", str(SMALL_SHOP)).exit_code == 0
    result = run_cli("clv", "fit", "--format", "json", "--save", "model.json")
    assert result.exit_code == 0, result.stderr
    assert "GammaGammaModel: the likelihood is highest at the edge of the parameter space" in result.stderr
    spend = json.loads(result.stdout, parse_constant=lambda c: pytest.fail(f"not strict JSON: {c}"))["models"][1]
    assert spend["params"]["q"] is None and spend["limit"]["model"] == "same-spend-rate"
    predicted = run_cli("clv", "predict", "--model-file", "model.json", "--format", "json")
    assert predicted.exit_code == 0, predicted.stderr
    rows = json.loads(predicted.stdout)
    values = {round(r["expected_order_value"], 9) for r in rows}
    assert len(values) == 1  # one spend distribution: everyone's next order is worth p/ν
