"""The holdout comparison of a CLV model with two naive baselines (memberlens.models.
compare_with_baselines), against a plain pandas computation of the same definitions; the
tracking curve's age convention against the curve computed by hand; and `clv evaluate` saying
which predictor wins."""

from __future__ import annotations

import json

import ibis
import numpy as np
import pandas as pd
import pytest

from memberlens.models import (
    BetaGeoModel,
    GammaGammaModel,
    compare_with_baselines,
    simulate_orders,
    summarise_purchases,
    track_cumulative_purchases,
)


@pytest.fixture(scope="module")
def shop():
    lines = simulate_orders(4_000, days=540, seed=8)
    orders = ibis.duckdb.connect().create_table("orders", lines)
    summary = summarise_purchases(orders, time_unit="W", calibration_end="2024-03-31")
    model = BetaGeoModel().fit(summary)
    spend = GammaGammaModel().fit(summary.filter(summary.frequency > 0))
    return orders, summary, model, spend


def _oracle(summary: pd.DataFrame, model, spend) -> pd.DataFrame:
    """Each predictor's per-member holdout orders and spend, written out in pandas."""
    x, t_x, T, d = (summary[c].to_numpy(float) for c in ("frequency", "recency", "T", "duration_holdout"))
    model_orders = model.expected_purchases(d, x, t_x, T)
    mean_spend = np.where(x > 0, summary.monetary_value, 0.0)
    p, q, g = (spend.params_[k] for k in ("p", "q", "gamma"))
    per_order = p * (g + x * mean_spend) / (p * x + q - 1)
    rate = np.where(T > 0, x / np.where(T > 0, T, 1), 0.0)
    return pd.DataFrame(
        {
            ("orders", "BG/NBD"): model_orders,
            ("orders", "historic rate"): rate * d,
            ("orders", "historic frequency"): x,
            ("spend", "BG/NBD + Gamma-Gamma"): model_orders * per_order,
            ("spend", "historic rate"): rate * d * mean_spend,
            ("spend", "historic frequency"): x * mean_spend,
        }
    )


def test_errors_are_the_per_member_errors_of_each_predictor(shop):
    _, summary, model, spend = shop
    comparison = compare_with_baselines(model, summary, spend)
    frame = summary.execute()
    predicted = _oracle(frame, model, spend)
    actual = {"orders": frame.frequency_holdout.to_numpy(float), "spend": frame.spend_holdout.to_numpy(float)}
    assert len(comparison.errors) == 6
    for row in comparison.errors.itertuples():
        gap = predicted[(row.measure, row.predictor)].to_numpy() - actual[row.measure]
        assert row.members == len(frame)
        assert row.mae == pytest.approx(np.abs(gap).mean(), rel=1e-9), row
        assert row.rmse == pytest.approx(np.sqrt((gap**2).mean()), rel=1e-9), row
        assert row.bias == pytest.approx(gap.mean(), rel=1e-9, abs=1e-12), row
        total = actual[row.measure].sum()
        assert row.total_error_pct == pytest.approx(100 * gap.sum() / total, rel=1e-9, abs=1e-9), row
    for measure, best in comparison.best.items():
        part = comparison.errors[comparison.errors.measure == measure]
        assert best == part.loc[part.mae.idxmin(), "predictor"]
    assert comparison.best == {"orders": "BG/NBD", "spend": "BG/NBD + Gamma-Gamma"}  # data simulated from BG/NBD


def test_deciles_cut_the_members_by_the_model_prediction(shop):
    _, summary, model, spend = shop
    deciles = compare_with_baselines(model, summary, spend).deciles
    frame = summary.execute()
    predicted = _oracle(frame, model, spend)
    frame = frame.assign(
        _model=predicted[("orders", "BG/NBD")].to_numpy(), _rate=predicted[("orders", "historic rate")]
    )
    frame = frame.sort_values(["_model", "customer_id"], ascending=[False, True], kind="stable").reset_index(drop=True)
    size, extra = divmod(len(frame), 10)  # NTILE: the first `extra` tenths take one member more
    frame["decile"] = np.repeat(np.arange(1, 11), [size + (k < extra) for k in range(10)])
    sizes = frame.groupby("decile").size()
    assert deciles.members.tolist() == sizes.tolist()
    expected = frame.groupby("decile").agg(
        actual=("frequency_holdout", "mean"), model=("_model", "mean"), rate=("_rate", "mean")
    )
    assert np.allclose(deciles.actual, expected.actual, rtol=1e-12)
    assert np.allclose(deciles["BG/NBD"], expected.model, rtol=1e-9)
    assert np.allclose(deciles["historic rate"], expected.rate, rtol=1e-9)
    assert deciles["BG/NBD"].is_monotonic_decreasing


def test_the_btyd_tracking_age_adds_one_day_to_every_member(shop):
    orders, _, model, _ = shop
    ours = track_cumulative_purchases(model, orders, calibration_end="2024-03-31")
    peers = track_cumulative_purchases(model, orders, calibration_end="2024-03-31", convention="btyd")
    assert ours.actual.tolist() == peers.actual.tolist()
    # by hand: the cohort's first days, and each period end's age in days, 7j - 1 - f or 7j - f
    days = orders.execute().assign(day=lambda f: pd.to_datetime(f.ordered_at).dt.normalize())
    first = days.groupby("customer_id").day.min()
    first = first[first <= pd.Timestamp("2024-03-31")]
    start = first.min()
    offsets = (first - start).dt.days.to_numpy(float)
    for j in (5, 40):
        end = (pd.Timestamp(ours.period_end.iloc[j]) - start).days
        mine = model.expected_purchases(np.clip(end - offsets, 0, None) / 7.0).sum()
        theirs = model.expected_purchases(np.clip(end + 1 - offsets, 0, None) / 7.0).sum()
        assert ours.expected_cumulative.iloc[j] == pytest.approx(mine, rel=1e-12)
        assert peers.expected_cumulative.iloc[j] == pytest.approx(theirs, rel=1e-12)
    assert (peers.expected_cumulative.iloc[10:] > ours.expected_cumulative.iloc[10:]).all()
    with pytest.raises(Exception, match="'convention' parameter"):
        track_cumulative_purchases(model, orders, calibration_end="2024-03-31", convention="lifetimes")


def test_clv_evaluate_says_which_predictor_wins(run_cli, demo_workspace):
    path, _ = demo_workspace
    result = run_cli(
        "clv", "evaluate", "--db", path, "--calibration-end", "2023-12-31", "--no-compare", "--format", "json"
    )
    assert result.exit_code == 0, result.stderr
    data = json.loads(result.stdout)
    errors = pd.DataFrame(data["baselines"]["errors"])
    assert set(errors.predictor) >= {"historic rate", "historic frequency"}
    assert len(data["verdict"]) == len(data["baselines"]["best"]) >= 1
    for sentence, (measure, best) in zip(data["verdict"], data["baselines"]["best"].items(), strict=True):
        assert sentence.startswith(f"On this data {best} predicts members' holdout {measure}")
    table = run_cli("clv", "evaluate", "--db", path, "--calibration-end", "2023-12-31", "--no-compare")
    assert "beside two naive baselines" in table.stdout and "On this data" in table.stdout
