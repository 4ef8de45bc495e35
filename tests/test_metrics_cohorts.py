"""Acquisition-cohort retention matrices (product.md B): customers and revenue, "in period N"
and "in N or later", relative to period 0 or the previous period; unobservable cells null,
observed zeros 0."""

from __future__ import annotations

import pandas as pd
import pytest
from _order_logs import PERIODS, assert_frame_matches, cohorts_oracle, engine_property, order_logs, orders_frame
from conftest import load
from hypothesis import strategies as st

from memberlens.errors import ConfigError
from memberlens.metrics import build_retention_cohorts

KEYS = ["cohort_start", "period_number"]


def _orders(*rows):
    """(customer, order, timestamp, amount) -> an orders frame."""
    return orders_frame(
        [
            dict(
                customer_id=c,
                order_id=o,
                ordered_at=at,
                amount=a,
                quantity=1.0,
                unit_price=a,
                product_id="p",
                coupon_amount=0.0,
            )
            for c, o, at, a in rows
        ]
    )


@engine_property(
    orders=order_logs(),
    period=st.sampled_from(PERIODS),
    measure=st.sampled_from(["customers", "revenue"]),
    cumulative=st.booleans(),
    relative_to=st.sampled_from(["first", "previous"]),
)
def test_cohorts_match_oracle(con, orders, period, measure, cumulative, relative_to):
    actual = build_retention_cohorts(
        load(con, "orders", orders), period, measure=measure, cumulative=cumulative, relative_to=relative_to
    ).execute()
    expected = cohorts_oracle(orders, period, measure=measure, cumulative=cumulative, relative_to=relative_to)
    if measure == "customers":
        assert_frame_matches(actual, expected, KEYS)
    else:  # cohort_size is a customer count in the oracle; see the report for the revenue matrix
        assert_frame_matches(actual, expected, KEYS, columns=[c for c in expected.columns if c != "cohort_size"])

    # invariants
    first = actual[actual.period_number == 0]
    assert first.observable.all()
    if relative_to == "first":
        assert (first.retention == 1.0).all()  # period-0 retention is 100 %
    else:
        assert first.retention.isna().all()
    assert actual.value.isna().equals(~actual.observable)  # null exactly where not observable
    assert (actual.value[actual.observable] >= 0).all()
    if measure == "customers":
        assert first.value.sum() == orders.customer_id.nunique()
        assert (first.value == first.cohort_size).all()
    if cumulative:  # "in N or later" never grows with N
        for _, cells in actual[actual.observable].groupby("cohort_start"):
            values = cells.sort_values("period_number").value.tolist()
            assert values == sorted(values, reverse=True)


def test_cohort_matrix_by_hand(con):
    orders = _orders(
        ("a", "1", "2021-01-03", 10.0),
        ("a", "2", "2021-03-01", 5.0),  # Jan cohort, skips Feb
        ("b", "3", "2021-01-20", 20.0),  # Jan cohort, one order
        ("c", "4", "2021-02-02", 7.0),
        ("c", "5", "2021-02-05", 3.0),  # Feb cohort
    )
    t = load(con, "orders", orders)
    m = build_retention_cohorts(t, "month").execute()
    jan, feb = m[m.cohort_start == pd.Timestamp("2021-01-01")], m[m.cohort_start == pd.Timestamp("2021-02-01")]
    assert jan.value.tolist() == [2.0, 0.0, 1.0]  # Feb observed and zero, not null
    assert jan.retention.tolist() == [1.0, 0.0, 0.5]
    assert jan.observable.tolist() == [True, True, True]
    assert feb.value.tolist()[:2] == [1.0, 0.0] and pd.isna(feb.value.iloc[2])  # Apr is after the data
    assert feb.observable.tolist() == [True, True, False]
    assert pd.isna(feb.retention.iloc[2])

    later = build_retention_cohorts(t, "month", cumulative=True).execute()
    assert later[later.cohort_start == pd.Timestamp("2021-01-01")].value.tolist() == [2.0, 1.0, 1.0]

    revenue = build_retention_cohorts(t, "month", measure="revenue").execute()
    assert revenue[revenue.cohort_start == pd.Timestamp("2021-01-01")].value.tolist() == [30.0, 0.0, 5.0]
    assert revenue[revenue.cohort_start == pd.Timestamp("2021-01-01")].retention.tolist() == pytest.approx(
        [1.0, 0.0, 5 / 30]
    )

    previous = build_retention_cohorts(t, "month", relative_to="previous").execute()
    jan_prev = previous[previous.cohort_start == pd.Timestamp("2021-01-01")].retention.tolist()
    assert pd.isna(jan_prev[0]) and jan_prev[1] == 0.0 and pd.isna(jan_prev[2])  # 1 / 0 has no ratio


@pytest.mark.parametrize(
    "kwargs",
    [{"measure": "orders"}, {"relative_to": "last"}, {"relative_to": None}, {"period": "year"}],
)
def test_bad_parameters_raise_config_error(con, kwargs):
    t = load(con, "orders", _orders(("a", "1", "2021-01-03", 10.0)))
    with pytest.raises(ConfigError):
        build_retention_cohorts(t, **kwargs)
