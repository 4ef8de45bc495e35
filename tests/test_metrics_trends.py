"""Trends (product.md A): per-period activity, the super orders, price bands — against plain
pandas oracles on generated order logs, plus the calendar (weeks start on Monday)."""

from __future__ import annotations

import pandas as pd
import pytest
from _order_logs import (
    PERIODS,
    assert_frame_matches,
    engine_property,
    largest_orders_oracle,
    order_logs,
    order_totals_oracle,
    orders_frame,
    price_bands_oracle,
    trends_oracle,
)
from conftest import load
from hypothesis import strategies as st

from memberlens.errors import ConfigError
from memberlens.metrics import order_totals, rank_largest_orders, summarise_price_bands, summarise_trends
from memberlens.metrics.trends import DEFAULT_PRICE_BANDS


def _lines(*rows):
    """(customer, order, timestamp, amount[, quantity]) -> an orders frame."""
    out = []
    for row in rows:
        customer, order, at, amount, *rest = row
        quantity = rest[0] if rest else 1.0
        out.append(
            dict(
                customer_id=customer,
                order_id=order,
                ordered_at=at,
                amount=amount,
                quantity=quantity,
                unit_price=amount / quantity if quantity else amount,
                product_id="p",
                coupon_amount=0.0,
            )
        )
    return orders_frame(out)


# -- per-period trends -----------------------------------------------------------------------


@engine_property(orders=order_logs(), period=st.sampled_from(PERIODS))
def test_trends_match_oracle(con, orders, period):
    actual = summarise_trends(load(con, "orders", orders), period).execute()
    expected = trends_oracle(orders, period)
    assert_frame_matches(actual, expected, ["period_start"])
    # invariants
    t = actual
    starts = pd.to_datetime(t.period_start)
    # one row per period, contiguous from the first order's period to the last's
    stepped = {
        "day": starts + pd.Timedelta(days=1),
        "week": starts + pd.Timedelta(days=7),
        "month": starts + pd.DateOffset(months=1),
        "quarter": starts + pd.DateOffset(months=3),
    }[period]
    assert list(stepped[:-1]) == list(starts[1:])
    assert starts.min() <= orders.ordered_at.min() and orders.ordered_at.max() < stepped.iloc[-1]
    if period == "week":
        assert (starts.dt.day_of_week == 0).all()  # Monday
    if period in ("month", "quarter"):
        assert (starts.dt.day == 1).all()
    assert t.new_customers.sum() == orders.customer_id.nunique()
    assert (t.new_customers <= t.buyers).all() and (t.buyers <= t.orders).all()
    assert t.orders.sum() >= orders.order_id.nunique()  # an order is counted once, in its own period
    assert t.revenue.sum() == pytest.approx(orders.amount.sum())


def test_week_starts_on_monday(con):
    # Sunday 2021-01-03 23:59 and Monday 2021-01-04 00:00 are in different weeks
    orders = _lines(("a", "1", "2021-01-03 23:59", 10.0), ("b", "2", "2021-01-04 00:00", 20.0))
    t = summarise_trends(load(con, "orders", orders), "week").execute()
    assert list(pd.to_datetime(t.period_start)) == [pd.Timestamp("2020-12-28"), pd.Timestamp("2021-01-04")]
    assert list(t.revenue) == [10.0, 20.0]


@pytest.mark.parametrize(
    ("period", "starts"),
    [
        ("day", ["2020-12-31", "2021-01-01"]),
        ("week", ["2020-12-28"]),  # Thursday and Friday of the same week
        ("month", ["2020-12-01", "2021-01-01"]),
        ("quarter", ["2020-10-01", "2021-01-01"]),
    ],
)
def test_period_boundaries(con, period, starts):
    orders = _lines(("a", "1", "2020-12-31 23:59", 10.0), ("b", "2", "2021-01-01 00:00", 20.0))
    t = summarise_trends(load(con, "orders", orders), period).execute()
    assert list(pd.to_datetime(t.period_start)) == [pd.Timestamp(s) for s in starts]
    assert t.buyers.tolist() == ([1, 1] if len(starts) == 2 else [2])


def test_empty_month_in_the_middle(con):
    orders = _lines(
        ("a", "1", "2021-01-05", 10.0, 2.0), ("a", "2", "2021-03-05", 30.0, 3.0), ("b", "3", "2021-03-06", 5.0, 1.0)
    )
    t = summarise_trends(load(con, "orders", orders), "month").execute()
    assert list(pd.to_datetime(t.period_start)) == [pd.Timestamp(f"2021-0{m}-01") for m in (1, 2, 3)]
    february = t.iloc[1]
    assert (february.buyers, february.orders, february.revenue, february.new_customers) == (0, 0, 0.0, 0)
    assert pd.isna(february.revenue_per_buyer) and pd.isna(february.average_order_value)
    march = t.iloc[2]
    assert (march.buyers, march.orders, march.revenue, march.units, march.new_customers) == (2, 2, 35.0, 4.0, 1)
    assert march.revenue_per_buyer == 17.5 and march.average_order_value == 17.5


def test_units_of_an_empty_period_are_zero(con):
    # the docstring: empty periods appear with zeros; units are null only when orders have no quantity
    orders = _lines(("a", "1", "2021-01-05", 10.0, 2.0), ("a", "2", "2021-03-05", 30.0, 3.0))
    t = summarise_trends(load(con, "orders", orders), "month").execute()
    assert t.units.tolist() == [2.0, 0.0, 3.0]


def test_units_are_null_without_quantities(con):
    orders = _lines(("a", "1", "2021-01-05", 10.0, None), ("b", "2", "2021-02-05", 30.0, None))
    t = summarise_trends(load(con, "orders", orders), "month").execute()
    assert t.units.isna().all()
    assert t.revenue.tolist() == [10.0, 30.0]


# -- super orders ----------------------------------------------------------------------------


@engine_property(orders=order_logs(), period=st.sampled_from(PERIODS), top=st.integers(1, 3))
def test_largest_orders_and_order_totals_match_oracle(con, orders, period, top):
    actual = rank_largest_orders(load(con, "orders", orders), period, top=top).execute()
    assert_frame_matches(actual, largest_orders_oracle(orders, period, top), ["period_start", "rank"])
    totals = order_totals(load(con, "orders", orders)).execute()
    expected = pd.DataFrame([{"order_id": k, **v} for k, v in order_totals_oracle(orders).items()])
    assert_frame_matches(totals, expected, ["order_id"])


def test_largest_orders_ties_by_order_id(con):
    orders = _lines(("a", "z9", "2021-05-01", 50.0), ("b", "a1", "2021-05-02", 50.0), ("c", "m5", "2021-05-03", 10.0))
    t = rank_largest_orders(load(con, "orders", orders), "month", top=2).execute()
    assert t.order_id.tolist() == ["a1", "z9"] and t["rank"].tolist() == [1, 2]
    assert t.share_of_period_revenue.tolist() == pytest.approx([50 / 110, 50 / 110])


# -- price bands -----------------------------------------------------------------------------

EDGE_SETS = st.sampled_from([DEFAULT_PRICE_BANDS, (1, 2, 10), (0.5, 60), (2, 0.5, 10), (1.25, 1.5, 3, 100)])


@engine_property(orders=order_logs(), bands=EDGE_SETS)
def test_price_bands_match_oracle(con, orders, bands):
    actual = summarise_price_bands(load(con, "orders", orders), bands).execute()
    expected = price_bands_oracle(orders, list(bands))
    assert_frame_matches(actual, expected, ["price_from"])
    lowest = min(bands)
    assert actual.lines.sum() == (orders.unit_price >= lowest).sum()  # only lines below the first edge are left out


# -- bad parameters --------------------------------------------------------------------------


@pytest.mark.parametrize(
    "call",
    [
        lambda t: summarise_trends(t, "year"),
        lambda t: summarise_trends(t, "Month"),
        lambda t: rank_largest_orders(t, "month", top=0),
        lambda t: rank_largest_orders(t, "fortnight"),
        lambda t: summarise_price_bands(t, [1]),
        lambda t: summarise_price_bands(t, [1, 1]),
        lambda t: summarise_price_bands(t, []),
    ],
)
def test_bad_parameters_raise_config_error(con, call):
    orders = _lines(("a", "1", "2021-01-05", 10.0))
    with pytest.raises(ConfigError):
        call(load(con, "orders", orders))
