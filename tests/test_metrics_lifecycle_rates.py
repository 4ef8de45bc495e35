"""Lifecycle layers and repurchase / return / reactivation rates (seed 000, product.md B) against
seed 000's state machine and plain set arithmetic on generated order logs."""

from __future__ import annotations

import pandas as pd
import pytest
from _order_logs import (
    PERIODS,
    assert_frame_matches,
    engine_property,
    final_growth_oracle,
    final_stage_oracle,
    growth_oracle,
    lifecycle_oracle,
    order_logs,
    orders_frame,
    rates_oracle,
)
from conftest import load
from hypothesis import strategies as st

from memberlens.errors import ConfigError
from memberlens.metrics import (
    assign_growth_stage,
    assign_lifecycle_stage,
    compute_repurchase_rates,
    count_growth_stages,
    count_lifecycle_stages,
)


def _orders(*rows):
    """(customer, order, timestamp) -> an orders frame of one 10.0 line per order."""
    return orders_frame(
        [
            dict(
                customer_id=c,
                order_id=o,
                ordered_at=at,
                amount=10.0,
                quantity=1.0,
                unit_price=10.0,
                product_id="p",
                coupon_amount=0.0,
            )
            for c, o, at in rows
        ]
    )


# -- seed 000 layering -----------------------------------------------------------------------


@engine_property(orders=order_logs(), period=st.sampled_from(PERIODS))
def test_lifecycle_matches_seed_state_machine(con, orders, period):
    actual = count_lifecycle_stages(load(con, "orders", orders), period).execute()
    assert_frame_matches(actual, lifecycle_oracle(orders, period), ["period_start"])
    # invariants
    t = actual
    per_period = orders.assign(
        p=orders.ordered_at.dt.to_period({"day": "D", "week": "W-SUN", "month": "M", "quarter": "Q"}[period])
    )
    buyers = per_period.groupby("p").customer_id.nunique()
    assert (t.new + t.active + t["return"] == t.buyers).all()
    assert t.buyers[t.buyers > 0].tolist() == buyers.tolist()
    # everyone who ever bought is, from their first period on, in exactly one of the four states
    known = t.new.cumsum()
    assert (t.new + t.active + t["return"] + t.unactive == known).all()
    assert known.iloc[-1] == orders.customer_id.nunique()
    assert t.left_censored.tolist() == [True] + [False] * (len(t) - 1)
    assert t.iloc[0][["active", "return", "unactive"]].tolist() == [0, 0, 0]


@engine_property(orders=order_logs(), period=st.sampled_from(PERIODS))
def test_growth_stages_match_oracle(con, orders, period):
    actual = count_growth_stages(load(con, "orders", orders), period).execute()
    assert_frame_matches(actual, growth_oracle(orders, period), ["period_start"])


@engine_property(orders=order_logs(), period=st.sampled_from(PERIODS))
def test_final_stage_matches_state_machine(con, orders, period):
    stages = assign_lifecycle_stage(load(con, "orders", orders), period).execute()
    assert_frame_matches(stages, final_stage_oracle(orders, period), ["customer_id"])


@engine_property(orders=order_logs(), period=st.sampled_from(PERIODS))
def test_final_growth_stage_matches_the_periods_bought(con, orders, period):
    stages = assign_growth_stage(load(con, "orders", orders), period).execute()
    assert_frame_matches(stages, final_growth_oracle(orders, period), ["customer_id"])


def test_final_growth_stage_by_hand(con):
    # April is the last month. a: Jan, Mar, Apr; b: Mar only; c: Jan only; d: Apr only; e: Feb, Apr
    orders = _orders(
        ("a", "1", "2021-01-10"),
        ("a", "2", "2021-03-10"),
        ("a", "3", "2021-04-01"),
        ("b", "4", "2021-03-31 23:59"),
        ("c", "5", "2021-01-01"),
        ("d", "6", "2021-04-02"),
        ("e", "7", "2021-02-02"),
        ("e", "8", "2021-04-30 23:59"),
    )
    s = assign_growth_stage(load(con, "orders", orders), "month").execute().set_index("customer_id").stage
    assert s.to_dict() == {"a": "returning", "b": "dormant", "c": "lapsed", "d": "new", "e": "resurrecting"}


def test_lifecycle_by_hand(con):
    # a: Jan, Feb, Apr (new, active, -, return); b: Feb (new) then unactive; c: Apr only
    orders = _orders(
        ("a", "1", "2021-01-10"),
        ("a", "2", "2021-02-10"),
        ("a", "3", "2021-04-01"),
        ("a", "4", "2021-04-02"),
        ("b", "5", "2021-02-28 23:59"),
        ("c", "6", "2021-04-30"),
    )
    t = count_lifecycle_stages(load(con, "orders", orders), "month").execute()
    assert t[["buyers", "new", "active", "return", "unactive"]].values.tolist() == [
        [1, 1, 0, 0, 0],  # Jan: a new
        [2, 1, 1, 0, 0],  # Feb: b new, a active
        [0, 0, 0, 0, 2],  # Mar: nobody buys; a, b unactive
        [2, 1, 0, 1, 1],  # Apr: c new, a return, b unactive
    ]
    g = count_growth_stages(load(con, "orders", orders), "month").execute()
    assert g[["new", "returning", "resurrecting", "dormant"]].values.tolist() == [
        [1, 0, 0, 0],
        [1, 1, 0, 0],
        [0, 0, 0, 2],
        [1, 0, 1, 0],  # dormant only the period after activity
    ]


def test_final_stage_by_hand(con, request):
    # a: Jan, Mar, Apr -> active in April; b: Feb -> unactive; c: Jan, Apr -> return; d: Apr -> new
    orders = _orders(
        ("a", "1", "2021-01-10"),
        ("a", "2", "2021-03-10"),
        ("a", "3", "2021-04-01"),
        ("b", "4", "2021-02-28 23:59"),
        ("c", "5", "2021-01-01"),
        ("c", "6", "2021-04-30 23:59"),
        ("d", "7", "2021-04-02"),
    )
    s = assign_lifecycle_stage(load(con, "orders", orders), "month").execute()
    assert dict(zip(s.customer_id, s.stage)) == {"a": "active", "b": "unactive", "c": "return", "d": "new"}
    starts = dict(zip(s.customer_id, pd.to_datetime(s.last_purchase_period_start)))
    assert starts == {
        "a": pd.Timestamp("2021-04-01"),
        "b": pd.Timestamp("2021-02-01"),
        "c": pd.Timestamp("2021-04-01"),
        "d": pd.Timestamp("2021-04-01"),
    }


# -- rates -----------------------------------------------------------------------------------


@engine_property(orders=order_logs(), period=st.sampled_from(PERIODS))
def test_rates_match_oracle(con, orders, period):
    table = load(con, "orders", orders)
    actual = compute_repurchase_rates(table, period).execute()
    assert_frame_matches(actual, rates_oracle(orders, period), ["period_start"])
    # consistent with the lifecycle layers
    r = actual
    life = count_lifecycle_stages(table, period).execute()
    assert (r.buyers == life.buyers).all()
    assert (r.returning_buyers == life.active).all()
    assert (r.reactivated_buyers == life["return"]).all()
    for column in ("repurchase_rate", "return_rate", "reactivation_rate"):
        rates = r[column].dropna()
        assert ((rates >= 0) & (rates <= 1)).all()
    assert r.previous_buyers.iloc[1:].tolist() == r.buyers.iloc[:-1].tolist()


def test_rates_by_hand(con):
    orders = _orders(
        ("a", "1", "2021-01-10"),
        ("a", "2", "2021-01-11"),  # a: two orders in Jan
        ("b", "3", "2021-01-12"),
        ("a", "4", "2021-02-01"),  # Feb: a again
        ("b", "5", "2021-03-03"),
        ("b", "6", "2021-03-03"),
        ("c", "7", "2021-03-04"),  # Mar: b back (two orders), c new
    )
    r = compute_repurchase_rates(load(con, "orders", orders), "month").execute()
    assert r.repurchase_rate.tolist()[0] == 0.5 and r.repurchase_rate.tolist()[1] == 0.0
    assert r.repurchase_rate.tolist()[2] == pytest.approx(1 / 2)  # b with two orders of b, c
    assert pd.isna(r.return_rate.iloc[0])  # nobody bought in the period before the data
    assert r.return_rate.tolist()[1:] == [0.5, 0.0]  # a of {a, b}; none of {a}
    assert r.lapsed_customers.tolist() == [0, 0, 1]  # in March: b (bought in Jan, not in Feb)
    assert pd.isna(r.reactivation_rate.iloc[0]) and pd.isna(r.reactivation_rate.iloc[1])
    assert r.reactivation_rate.iloc[2] == 1.0


@pytest.mark.parametrize(
    "call", [count_lifecycle_stages, count_growth_stages, assign_lifecycle_stage, compute_repurchase_rates]
)
def test_bad_period_raises_config_error(con, call):
    with pytest.raises(ConfigError):
        call(load(con, "orders", _orders(("a", "1", "2021-01-01"))), "year")
