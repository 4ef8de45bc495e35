"""The purchase summary runs in the engine and matches a plain pandas computation."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import pytest
from conftest import load

from memberlens.errors import ConfigError, InputError
from memberlens.models import TimeUnit, compress_summary, simulate_orders, summarise_purchases

ORDERS = pd.DataFrame(
    {
        "customer_id": ["a", "a", "a", "a", "b", "c", "c", "d"],
        "ordered_at": pd.to_datetime(
            [
                "2024-01-01 09:00",
                "2024-01-01 18:00",
                "2024-01-15 10:00",
                "2024-03-01 08:00",
                "2024-02-01 12:00",
                "2024-01-10 12:00",
                "2024-02-20 12:00",
                "2024-03-05 12:00",
            ]
        ),
        "amount": [10.0, 5.0, 20.0, 30.0, 7.0, 3.0, 0.0, 9.0],
    }
)


def oracle(orders: pd.DataFrame, unit_days: float, end: dt.date, cal_end: dt.date | None = None) -> pd.DataFrame:
    """The textbook definitions, one member at a time."""
    rows = []
    period_end = cal_end or end
    days = orders.assign(day=orders.ordered_at.dt.date)
    days = days[days.day <= end].groupby(["customer_id", "day"], as_index=False).amount.sum()
    for cid, g in days.groupby("customer_id"):
        cal = g[g.day <= period_end].sort_values("day")
        if cal.empty:
            continue
        first, last = cal.day.iloc[0], cal.day.iloc[-1]
        frequency = len(cal) - 1
        row = {
            "customer_id": cid,
            "frequency": frequency,
            "recency": (last - first).days / unit_days,
            "T": (period_end - first).days / unit_days,
            "monetary_value": cal.amount.iloc[1:].mean() if frequency else 0.0,
            "total_spend": cal.amount.sum(),
        }
        if cal_end is not None:
            hold = g[g.day > cal_end]
            row["frequency_holdout"] = len(hold)
            row["spend_holdout"] = hold.amount.sum()
        rows.append(row)
    return pd.DataFrame(rows)


def _compare(got: pd.DataFrame, expected: pd.DataFrame) -> None:
    got = got.sort_values("customer_id").reset_index(drop=True)[expected.columns]
    pd.testing.assert_frame_equal(got, expected.sort_values("customer_id").reset_index(drop=True), check_dtype=False)


@pytest.mark.parametrize("unit", ["D", "W", "M", "2W"])
def test_summary_matches_the_oracle(con, unit):
    orders = load(con, "orders", ORDERS)
    got = summarise_purchases(orders, time_unit=unit).execute()
    _compare(got, oracle(ORDERS, TimeUnit.parse(unit).days, dt.date(2024, 3, 5)))
    assert got.frequency.dtype == np.int64


def test_same_day_orders_are_one_purchase_and_spend_is_the_repeat_mean(con):
    got = summarise_purchases(load(con, "orders", ORDERS), time_unit="D").execute().set_index("customer_id")
    a = got.loc["a"]
    assert (a["frequency"], a["recency"], a["T"]) == (2, 60.0, 64.0)
    assert a["monetary_value"] == 25.0  # (20 + 30) / 2; the first day's 15 is not a repeat
    assert a["total_spend"] == 65.0
    assert got.loc["b", "frequency"] == 0 and got.loc["b", "monetary_value"] == 0.0


def test_calibration_and_holdout(con):
    orders = load(con, "orders", ORDERS)
    got = summarise_purchases(
        orders, time_unit="D", calibration_end="2024-02-01", observation_end="2024-03-05"
    ).execute()
    expected = oracle(ORDERS, 1.0, dt.date(2024, 3, 5), dt.date(2024, 2, 1))
    _compare(got, expected)
    assert "d" not in set(got.customer_id)  # first bought after the calibration end
    assert set(got.duration_holdout) == {33.0}
    c = got.set_index("customer_id").loc["c"]
    assert (c["frequency_holdout"], c["monetary_value_holdout"]) == (1, 0.0)


def test_orders_after_the_observation_end_are_ignored(con):
    got = summarise_purchases(load(con, "orders", ORDERS), time_unit="D", observation_end="2024-01-31").execute()
    _compare(got, oracle(ORDERS, 1.0, dt.date(2024, 1, 31)))


def test_discrete_periods_count_whole_periods_from_the_first_purchase(con):
    got = (
        summarise_purchases(load(con, "orders", ORDERS), time_unit="W", discrete=True)
        .execute()
        .set_index("customer_id")
    )
    # a: days 0, 14, 60 of 64 -> periods 0, 2, 8 of 9
    assert got.loc["a", ["frequency", "recency", "T"]].tolist() == [2, 8.0, 9.0]
    assert got.loc["c", ["frequency", "recency", "T"]].tolist() == [1, 5.0, 7.0]
    assert got.loc["b", ["frequency", "recency", "T"]].tolist() == [0, 0.0, 4.0]


def test_summary_of_simulated_orders_matches_the_oracle(con):
    frame = simulate_orders(150, days=200, seed=3)
    got = summarise_purchases(load(con, "orders", frame), time_unit="W", calibration_end="2023-05-01").execute()
    expected = oracle(frame, 7.0, pd.Timestamp(frame.ordered_at.max()).date(), dt.date(2023, 5, 1))
    _compare(got, expected)


def test_compress_counts_members_per_combination(con):
    summary = summarise_purchases(load(con, "orders", ORDERS), time_unit="D")
    combos = compress_summary(summary, ["frequency"]).sort_values("frequency")
    assert combos.to_dict(orient="list") == {"frequency": [0, 1, 2], "weight": [2, 1, 1]}
    frame = summary.execute()
    assert compress_summary(frame, ["frequency"]).to_dict(orient="list") == {
        "frequency": [0, 1, 2],
        "weight": [2, 1, 1],
    }


def test_a_weight_column_is_summed():
    frame = pd.DataFrame(
        {"frequency": [0, 0, 1], "recency": [0.0, 0.0, 2.0], "T": [3.0, 3.0, 3.0], "weight": [5, 2, 1]}
    )
    assert compress_summary(frame)["weight"].tolist() == [7, 1]


def test_bad_arguments_say_what_is_wrong(con):
    orders = load(con, "orders", ORDERS)
    with pytest.raises(ConfigError, match="'time_unit' parameter must be a str among D, W, M, Q, Y"):
        summarise_purchases(orders, time_unit="fortnight")
    with pytest.raises(ConfigError, match="'calibration_end' parameter must be a date as YYYY-MM-DD"):
        summarise_purchases(orders, calibration_end="30/09/1997")
    with pytest.raises(ConfigError, match="must be before the observation end"):
        summarise_purchases(orders, calibration_end="2024-03-05")
    with pytest.raises(InputError, match=r"no column\(s\) \['amount'\]"):
        summarise_purchases(orders.drop("amount"))
