"""Active users (product.md B): DAU, WAU and MAU as trailing 1/7/30-day distinct
actives, and stickiness DAU/MAU — from events, or from orders.

Each active day ``a`` of a customer covers the days ``a .. a + window - 1``, cut short at the
customer's next active day, so coverages never overlap: the number of actives on a day is a
running sum of +1 (coverage starts) and -1 (coverage ends). The work grows with active days,
not with days x window.
"""

from __future__ import annotations

import ibis
import ibis.expr.types as ir

from memberlens.errors import ConfigError
from memberlens.metrics._arith import ratio
from memberlens.metrics._periods import day_number, period_spine

WINDOWS = {"dau": 1, "wau": 7, "mau": 30}


def _active_days(activity: ir.Table, time_column: str) -> ir.Table:
    days = activity.select(customer_id=activity.customer_id, day=day_number(activity[time_column]))
    return days.filter(days.customer_id.notnull() & days.day.notnull()).distinct()


def _actives_per_day(days: ir.Table, window: int) -> ir.Table:
    following = days.day.lead().over(group_by=days.customer_id, order_by=days.day)
    ends = ibis.least(days.day + window, following.fill_null(days.day + window))
    starts = days.select(day=days.day, delta=ibis.literal(1))
    stops = days.select(day=ends, delta=ibis.literal(-1))
    return ibis.union(starts, stops).group_by("day").aggregate(delta=lambda t: t.delta.sum())


def count_active_users(activity: ir.Table, time_column: str = "occurred_at") -> ir.Table:
    """Per day from the first to the last active day: ``day, dau, wau, mau, stickiness`` and
    ``full_window`` (False while fewer than 30 days of history precede the day)."""
    if time_column not in activity.columns:
        raise ConfigError(
            f"count_active_users needs a {time_column!r} column; the table has {list(activity.columns)}",
            "pass time_column='ordered_at' to count actives from orders",
        )
    days = _active_days(activity, time_column)
    spine = period_spine(days.select(day=days.day), "day")
    running = ibis.cumulative_window(order_by=spine.day)
    result = spine
    for name, window in WINDOWS.items():
        deltas = _actives_per_day(days, window)
        joined = result.left_join(deltas, result.day == deltas.day).select(result, delta=deltas.delta.fill_null(0))
        result = joined.mutate(**{name: joined.delta.sum().over(running)}).drop("delta")
        running = ibis.cumulative_window(order_by=result.day)
    first = result.day.min().over()
    return result.select(
        day=ibis.date("1970-01-01") + result.day.as_interval("D"),
        dau=result.dau,
        wau=result.wau,
        mau=result.mau,
        stickiness=ratio(result.dau, result.mau),
        full_window=result.day - first >= 29,
    ).order_by("day")
