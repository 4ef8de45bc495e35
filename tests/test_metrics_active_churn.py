"""DAU / WAU / MAU (trailing 1/7/30-day distinct actives) and churn with the change ratio
异动比 (product.md B) against brute-force oracles."""

from __future__ import annotations

import pandas as pd
import pytest
from _order_logs import (
    PERIODS,
    active_users_oracle,
    assert_frame_matches,
    churn_members_oracle,
    churn_oracle,
    engine_property,
    order_logs,
    orders_frame,
)
from conftest import load
from hypothesis import strategies as st

from memberlens.errors import ConfigError
from memberlens.metrics import compute_churn, count_active_users, new_buyer_members, newly_churned_members


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


# -- active users ----------------------------------------------------------------------------


@engine_property(orders=order_logs())
def test_active_users_from_orders_match_oracle(con, orders):
    actual = count_active_users(load(con, "orders", orders), "ordered_at").execute()
    assert_frame_matches(actual, active_users_oracle(orders, "ordered_at"), ["day"])
    assert ((actual.dau <= actual.wau) & (actual.wau <= actual.mau)).all()
    assert (actual.mau <= orders.customer_id.nunique()).all()


@engine_property(orders=order_logs())
def test_active_users_from_events_match_oracle(con, orders):
    events = pd.DataFrame(
        {"customer_id": orders.customer_id, "occurred_at": orders.ordered_at, "event_type": "view", "engagement": 1.0}
    )
    actual = count_active_users(load(con, "events", events)).execute()
    assert_frame_matches(actual, active_users_oracle(events, "occurred_at"), ["day"])


def test_active_users_by_hand(con):
    # a on day 1 and 3, b on day 8, c on day 31 (a's day 1 leaves the 30-day window on day 31)
    orders = _orders(
        ("a", "1", "2021-03-01 23:59"),
        ("a", "2", "2021-03-03 00:00"),
        ("a", "3", "2021-03-03 12:00"),
        ("b", "4", "2021-03-08"),
        ("c", "5", "2021-03-31"),
    )
    t = count_active_users(load(con, "orders", orders), "ordered_at").execute().set_index("day")
    day = lambda s: pd.Timestamp(s)  # noqa: E731
    assert len(t) == 31
    assert t.loc[day("2021-03-01"), ["dau", "wau", "mau"]].tolist() == [1, 1, 1]
    assert t.loc[day("2021-03-02"), ["dau", "wau", "mau"]].tolist() == [0, 1, 1]
    assert t.loc[day("2021-03-03"), ["dau", "wau", "mau"]].tolist() == [1, 1, 1]  # a counted once
    assert t.loc[day("2021-03-08"), ["dau", "wau", "mau"]].tolist() == [1, 2, 2]  # a's day 3 within 7 days
    assert t.loc[day("2021-03-10"), ["dau", "wau", "mau"]].tolist() == [0, 1, 2]  # day 3 + 7 = day 10: a out
    assert t.loc[day("2021-03-30"), ["dau", "wau", "mau"]].tolist() == [0, 0, 2]
    assert t.loc[day("2021-03-31"), ["dau", "wau", "mau"]].tolist() == [1, 1, 3]
    assert t.loc[day("2021-03-31"), "stickiness"] == pytest.approx(1 / 3)
    assert t.loc[day("2021-03-10"), "stickiness"] == 0.0  # no DAU, some MAU: zero, not null
    assert t.full_window.tolist() == [False] * 29 + [True, True]


def test_active_users_without_the_time_column_raise_config_error(con):
    with pytest.raises(ConfigError):
        count_active_users(load(con, "orders", _orders(("a", "1", "2021-03-01"))))  # no occurred_at


# -- churn -----------------------------------------------------------------------------------


@engine_property(
    orders=order_logs(), period=st.sampled_from(PERIODS), churn_days=st.sampled_from([1, 6, 7, 30, 45, 90])
)
def test_the_customers_behind_newly_churned_and_new_buyers_match_the_oracle(con, orders, period, churn_days):
    table = load(con, "orders", orders)
    newly, new = churn_members_oracle(orders, period, churn_days)

    def by_period(frame: pd.DataFrame) -> dict:
        groups = {pd.Timestamp(p): set(g.customer_id) for p, g in frame.groupby("period_start")}
        return {p: groups.get(p, set()) for p in newly}

    churned = newly_churned_members(table, period, churn_days=churn_days).execute()
    assert by_period(churned) == newly
    assert not churned.duplicated().any()
    assert by_period(new_buyer_members(table, period).execute()) == new


@engine_property(
    orders=order_logs(), period=st.sampled_from(PERIODS), churn_days=st.sampled_from([1, 6, 7, 30, 45, 90])
)
def test_churn_matches_oracle(con, orders, period, churn_days):
    actual = compute_churn(load(con, "orders", orders), period, churn_days=churn_days).execute()
    assert_frame_matches(actual, churn_oracle(orders, period, churn_days), ["period_start"])
    assert (actual.active + actual.churned == actual.known).all()
    assert actual.new_buyers.sum() == orders.customer_id.nunique() == actual.known.iloc[-1]


def test_churn_by_hand(con):
    # churn_days = 30; months. a: Jan 10, b: Jan 25 and Mar 20, c: Mar 31
    orders = _orders(
        ("a", "1", "2021-01-10"), ("b", "2", "2021-01-25"), ("b", "3", "2021-03-20"), ("c", "4", "2021-03-31")
    )
    t = compute_churn(load(con, "orders", orders), "month", churn_days=30).execute()
    # cut-offs Feb 1, Mar 1, Apr 1 (the day after the last order): ages Jan: a 22, b 7
    # Feb: a 50 (churned), b 35 (churned); Mar: a 81, b 12, c 1
    assert t.known.tolist() == [2, 2, 3]
    assert t.churned.tolist() == [0, 2, 1]
    assert t.churn_rate.tolist() == pytest.approx([0.0, 1.0, 1 / 3])
    assert t.new_buyers.tolist() == [2, 0, 1]
    assert t.newly_churned.tolist() == [0, 2, 0]
    assert pd.isna(t.change_ratio.iloc[0]) and t.change_ratio.iloc[1] == 0.0 and pd.isna(t.change_ratio.iloc[2])


def test_churn_is_more_than_churn_days(con):
    # cut-off Feb 1: an order on Jan 2 is 30 days old -> still active at churn_days=30, churned at 29
    orders = _orders(("a", "1", "2021-01-02 23:59"), ("b", "2", "2021-01-31"), ("b", "3", "2021-02-01"))
    january = lambda days: compute_churn(load(con, "orders", orders), "month", churn_days=days).execute().iloc[0]  # noqa: E731
    assert january(30).churned == 0
    assert january(29).churned == 1


def test_new_and_already_churned_counts_as_newly_churned(con):
    # churn_days 1 with monthly periods: a buys on Jan 5 only and is churned at the Feb 1 cut-off
    orders = _orders(("a", "1", "2021-01-05"), ("b", "2", "2021-02-10"))
    t = compute_churn(load(con, "orders", orders), "month", churn_days=1).execute()
    assert t.newly_churned.tolist() == [1, 0]  # b is 1 day old at the Feb 11 cut-off: active
    assert t.churned.tolist() == [1, 1]
    assert t.change_ratio.iloc[0] == 1.0


@pytest.mark.parametrize("kwargs", [{"churn_days": 0}, {"churn_days": -5}, {"churn_days": 1.5}, {"period": "year"}])
def test_bad_parameters_raise_config_error(con, kwargs):
    with pytest.raises(ConfigError):
        compute_churn(load(con, "orders", _orders(("a", "1", "2021-01-05"))), **kwargs)
