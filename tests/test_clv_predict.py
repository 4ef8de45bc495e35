"""Predicted member value: one row per member, computed per combination and joined in the engine."""

from __future__ import annotations

import datetime as dt

import ibis
import numpy as np
import pandas as pd
import pytest
from conftest import load

from memberlens.errors import ConfigError
from memberlens.models import (
    BetaGeoBetaBinomModel,
    BetaGeoModel,
    GammaGammaModel,
    ParetoNBDModel,
    predict_member_value,
    simulate_orders,
    summarise_purchases,
)


@pytest.fixture(scope="module")
def orders_frame():
    return simulate_orders(3000, days=500, seed=11)


@pytest.fixture(scope="module")
def fitted(orders_frame):
    """On DuckDB; the tests taking ``con`` run on every engine."""
    orders = ibis.duckdb.connect().create_table("orders", orders_frame)
    summary = summarise_purchases(orders, time_unit="W")
    model = BetaGeoModel(time_unit="W").fit(summary)
    spend = GammaGammaModel().fit(summary.filter(summary.frequency > 0))
    return summary, model, spend


def test_every_engine_scores_one_row_per_member_with_the_same_numbers(con, orders_frame, fitted):
    _, model, spend = fitted
    orders_frame = orders_frame[orders_frame.customer_id.isin(orders_frame.customer_id.unique()[:400])]
    summary = summarise_purchases(load(con, "orders", orders_frame), time_unit="W")
    result = predict_member_value(summary, model, spend)
    assert isinstance(result, ibis.expr.types.Table)
    got = result.execute().sort_values("customer_id").reset_index(drop=True)
    # the oracle: the same members scored in pandas
    oracle_summary = summarise_purchases(ibis.duckdb.connect().create_table("orders", orders_frame), time_unit="W")
    expected = (
        predict_member_value(oracle_summary.execute(), model, spend).sort_values("customer_id").reset_index(drop=True)
    )
    assert len(got) == 400 and got.customer_id.is_unique
    numeric = [c for c in got.columns if c.startswith(("probability", "expected", "predicted", "residual", "total"))]
    np.testing.assert_allclose(got[numeric].to_numpy(float), expected[numeric].to_numpy(float), rtol=1e-9)
    assert (pd.to_datetime(got.next_order_date) == pd.to_datetime(expected.next_order_date)).all()


def test_one_row_per_member_with_every_field(fitted):
    summary, model, spend = fitted
    result = predict_member_value(summary, model, spend)
    assert isinstance(result, ibis.expr.types.Table)
    frame = result.execute()
    assert len(frame) == summary.count().execute() and frame.customer_id.is_unique
    for column in [
        "probability_alive",
        "churn_probability",
        "expected_orders_7d",
        "expected_orders_30d",
        "expected_orders_90d",
        "expected_orders_365d",
        "probability_order_30d",
        "predicted_orders",
        "next_order_date",
        "historic_orders",
        "historic_clv",
        "average_order_value",
        "average_days_between_orders",
        "expected_order_value",
        "predicted_clv",
        "total_clv",
        "residual_clv",
    ]:
        assert column in frame.columns, column
    assert np.allclose(frame.probability_alive + frame.churn_probability, 1.0)
    assert (frame.expected_orders_7d <= frame.expected_orders_30d).all()
    assert (frame.expected_orders_30d <= frame.expected_orders_365d).all()
    assert np.allclose(frame.predicted_orders, frame.expected_orders_365d)
    assert (
        (frame.probability_order_30d >= 0) & (frame.probability_order_30d <= frame.expected_orders_30d + 1e-12)
    ).all()
    assert np.allclose(frame.predicted_clv, frame.predicted_orders * frame.expected_order_value)
    assert (frame.residual_clv < frame.predicted_clv).all()  # discounted
    assert np.allclose(frame.total_clv, frame.historic_clv + frame.predicted_clv)


def test_history_fields_follow_their_definitions(fitted):
    summary, model, spend = fitted
    frame = predict_member_value(summary, model, spend).execute()
    one_order = frame[frame.frequency == 0]
    assert one_order.average_days_between_orders.isna().all()
    assert np.allclose(one_order.expected_order_value, spend.expected_spend(0, 0))
    repeat = frame[frame.frequency > 0]
    assert np.allclose(repeat.average_days_between_orders, repeat.recency * 7 / repeat.frequency)
    assert np.allclose(frame.average_order_value, frame.total_spend / (frame.frequency + 1))
    assert (frame.historic_orders == frame.frequency + 1).all()


def test_next_order_date_is_after_the_end_and_matches_the_median_wait(fitted):
    summary, model, spend = fitted
    frame = predict_member_value(summary, model).execute()
    end = pd.Timestamp(frame.last_order_date.max())
    dates = pd.to_datetime(frame.next_order_date.dropna())
    assert (dates >= end).all()
    row = frame.dropna(subset=["next_order_date"]).iloc[0]
    wait = float(model.median_wait_alive(row.frequency, row.recency, row["T"])) * 7
    expected = pd.Timestamp(row.first_order_date) + pd.Timedelta(days=round(row["T"] * 7 + wait))
    assert pd.Timestamp(row.next_order_date) == expected
    assert "expected_order_value" not in frame.columns  # no spend model, no value columns


def test_pandas_in_pandas_out_and_the_same_numbers(fitted):
    summary, model, spend = fitted
    from_engine = (
        predict_member_value(summary, model, spend).execute().sort_values("customer_id").reset_index(drop=True)
    )
    from_pandas = predict_member_value(summary.execute(), model, spend)
    assert isinstance(from_pandas, pd.DataFrame)
    from_pandas = from_pandas.sort_values("customer_id").reset_index(drop=True)
    pd.testing.assert_frame_equal(from_pandas[from_engine.columns], from_engine, check_dtype=False)


def test_horizons_and_discounting_are_parameters(fitted):
    summary, model, spend = fitted
    frame = predict_member_value(
        summary, model, spend, horizons=(14, 60.5), probability_horizon=7, clv_horizon=730, discount_rate=0.0
    ).execute()
    assert {"expected_orders_14d", "expected_orders_60_5d", "probability_order_7d"} <= set(frame.columns)
    x, t_x, T = (frame[c].to_numpy(float) for c in ("frequency", "recency", "T"))
    undiscounted = model.expected_purchases(730 / 7, x, t_x, T) * frame.expected_order_value
    assert np.allclose(frame.residual_clv, undiscounted)
    with pytest.raises(ConfigError, match="The 'discount_rate' parameter of predict_member_value must be a float"):
        predict_member_value(summary, model, spend, discount_rate=-0.1)
    with pytest.raises(ConfigError, match="must be a fitted purchase model"):
        predict_member_value(summary, spend)


def test_pareto_and_discrete_models_score_too(orders_frame):
    orders = ibis.duckdb.connect().create_table("orders", orders_frame)
    summary = summarise_purchases(orders, time_unit="W")
    frame = predict_member_value(summary, ParetoNBDModel().fit(summary)).execute()
    assert frame.probability_alive.between(0, 1).all() and frame.next_order_date.notna().any()
    periods = summarise_purchases(orders, time_unit="M", discrete=True)
    bgbb = BetaGeoBetaBinomModel(time_unit="M").fit(periods)
    frame = predict_member_value(periods, bgbb, horizons=(30, 365)).execute()
    assert frame.next_order_date.isna().all()  # no continuous clock
    assert (frame.expected_orders_365d >= frame.expected_orders_30d).all()


def test_unfitted_models_are_refused(fitted):
    summary, _, _ = fitted
    with pytest.raises(ConfigError, match="not fitted yet"):
        predict_member_value(summary, BetaGeoModel())


def test_the_model_time_unit_converts_days():
    con = ibis.duckdb.connect()
    frame = pd.DataFrame(
        {
            "customer_id": ["a", "a", "b"],
            "ordered_at": pd.to_datetime(["2024-01-01", "2024-01-08", "2024-01-05"]),
            "amount": [1.0, 2.0, 3.0],
        }
    )
    orders = load(con, "orders", frame)
    weekly = BetaGeoModel(time_unit="W")
    weekly.params_ = {"r": 0.5, "alpha": 2.0, "a": 0.8, "b": 2.5}
    daily = BetaGeoModel(time_unit="D")
    daily.params_ = {"r": 0.5, "alpha": 14.0, "a": 0.8, "b": 2.5}  # the same model in days
    by_week = predict_member_value(
        summarise_purchases(orders, time_unit="W", observation_end=dt.date(2024, 1, 15)), weekly
    )
    by_day = predict_member_value(
        summarise_purchases(orders, time_unit="D", observation_end=dt.date(2024, 1, 15)), daily
    )
    a = by_week.execute().sort_values("customer_id")
    b = by_day.execute().sort_values("customer_id")
    assert np.allclose(a.expected_orders_30d, b.expected_orders_30d)
    assert np.allclose(a.probability_alive, b.probability_alive)


# -- predictions for scalars and arrays alike; the quadrature fallback once per distinct history --
SCALAR_MODELS = {
    "ParetoNBDModel": {"r": 0.55, "alpha": 10.58, "s": 0.61, "beta": 11.67},
    "BetaGeoModel": {"r": 0.24, "alpha": 4.41, "a": 0.79, "b": 2.43},
}


@pytest.mark.parametrize("name", SCALAR_MODELS)
def test_probability_of_purchases_takes_scalars_as_arrays(name):
    import memberlens.models as models

    model = getattr(models, name)()
    model.params_ = dict(SCALAR_MODELS[name])
    for n in (0, 1, 3):
        arrays = model.probability_of_purchases(
            n, np.array([5.0, 30.0]), np.array([2.0, 0.0]), np.array([10.0, 0.0]), np.array([20.0, 15.0])
        )
        scalars = [
            model.probability_of_purchases(n, t, x, tx, T) for t, x, tx, T in ((5.0, 2, 10, 20), (30.0, 0, 0, 15))
        ]
        assert np.ndim(scalars[0]) == 0
        assert np.allclose(scalars, arrays, rtol=1e-12)
    assert np.ndim(model.probability_of_purchases(1, 5)) == 0  # a new member, all defaults


def test_the_quadrature_fallback_equals_direct_integration_and_runs_once_per_history(monkeypatch):
    """With a and b in the thousands SciPy's 2F1 fails and E[X(t)] is integrated over p ~ Beta(a, b);
    members with the same (t, r+x, α+T, b') share one integral. Oracle: scipy.integrate.quad of
    E[X(t) | p] = (1 - (α/(α+pt))^r)/p against the Beta density, for each distinct history."""
    from scipy import integrate
    from scipy.stats import beta as beta_dist

    import memberlens.models.bg_nbd as bg

    a, b = 3000.0, 90000.0
    histories = np.array([[365.0, 1.2, 50.0, b], [365.0, 3.2, 400.0, b + 2], [30.0, 0.9, 40.0, b]])
    rows = histories[np.tile([0, 1, 2, 1, 0], 40)]  # 200 members, 3 distinct histories
    calls = []
    real = bg._bgnbd_expected_by_quadrature
    monkeypatch.setattr(bg, "_bgnbd_expected_by_quadrature", lambda *args: calls.append(len(args[0])) or real(*args))
    got = bg._bgnbd_expected(rows[:, 0], rows[:, 1], rows[:, 2], a, rows[:, 3])
    assert calls == [3]
    for t, r, alpha, b_ in histories:
        density = beta_dist(a, b_)
        lo, hi = density.ppf(1e-12), density.ppf(1 - 1e-12)
        expected, _ = integrate.quad(
            lambda p, density=density, r=r, t=t, alpha=alpha: (
                density.pdf(p) * -np.expm1(-r * np.log1p(p * t / alpha)) / p
            ),
            lo,
            hi,
            epsabs=0,
            epsrel=1e-12,
            limit=200,
        )
        mine = got[(rows[:, 0] == t) & (rows[:, 1] == r) & (rows[:, 2] == alpha) & (rows[:, 3] == b_)]
        assert np.allclose(mine, expected, rtol=1e-9), (mine[0], expected)
