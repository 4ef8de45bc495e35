"""Lifecycle layers (product.md B) in two vocabularies.

A customer who buys in a period is ``new`` if they never bought before, ``active`` if they
bought in the previous period, ``return`` (回流) if they bought before but not in the
previous period; a customer who bought before but not in this period is ``unactive``.

PostHog/Amplitude: ``new``, ``returning`` (bought in the previous period too), ``resurrecting``
(bought before, not in the previous period) and ``dormant`` — bought in the previous period but
not in this one (counted only in the period right after the activity). A customer's growth stage
in the last period adds ``lapsed`` for those dormant longer (last bought before the previous period).

The first period of the data is left-censored: history before it is unseen, so everyone buying
then looks new. Rows carry ``left_censored = True`` for that period.
"""

from __future__ import annotations

import ibis
import ibis.expr.types as ir

from memberlens.metrics._activity import customer_periods
from memberlens.metrics._periods import Period, check_period, period_spine, period_start


def _stage_counts(orders: ir.Table, period: Period) -> ir.Table:
    """Per period with activity: buyers, new, active (bought the period before) and the
    number who bought in the previous period (for dormant counts)."""
    activity = customer_periods(orders, period)
    stage = activity.mutate(
        is_new=activity.period == activity.first_period,
        is_consecutive=(activity.previous_period == activity.period - 1).fill_null(False),
    )
    return stage.group_by("period").aggregate(
        buyers=stage.count(),
        new=stage.is_new.sum(),
        active=stage.is_consecutive.sum(),
    )


def _on_spine(orders: ir.Table, period: Period) -> ir.Table:
    counts = _stage_counts(orders, period)
    spine = period_spine(counts)
    joined = spine.left_join(counts, spine.period == counts.period).select(
        spine.period,
        buyers=counts.buyers.fill_null(0),
        new=counts.new.fill_null(0),
        active=counts.active.fill_null(0),
    )
    ordered = ibis.window(order_by=joined.period)
    running = ibis.cumulative_window(order_by=joined.period)
    return joined.mutate(
        known_before=(joined.new.sum().over(running) - joined.new),  # first bought before this period
        previous_buyers=joined.buyers.lag().over(ordered).fill_null(0),
        left_censored=joined.period == joined.period.min().over(),
    )


def count_lifecycle_stages(orders: ir.Table, period: Period = "month") -> ir.Table:
    """The lifecycle layering per period: ``new, active, return, unactive`` (new + active + return
    = buyers; unactive = customers who bought before but not in this period)."""
    period = check_period(period)
    t = _on_spine(orders, period)
    return t.select(
        period_start=period_start(t.period, period),
        buyers=t.buyers,
        new=t.new,
        active=t.active,
        **{"return": t.buyers - t.new - t.active},
        unactive=t.known_before - (t.buyers - t.new),
        left_censored=t.left_censored,
    ).order_by("period_start")


def count_growth_stages(orders: ir.Table, period: Period = "month") -> ir.Table:
    """The PostHog/Amplitude view per period: ``new, returning, resurrecting, dormant``."""
    period = check_period(period)
    t = _on_spine(orders, period)
    return t.select(
        period_start=period_start(t.period, period),
        new=t.new,
        returning=t.active,
        resurrecting=t.buyers - t.new - t.active,
        dormant=t.previous_buyers - t.active,
        left_censored=t.left_censored,
    ).order_by("period_start")


def _latest_periods(orders: ir.Table, period: Period) -> ir.Table:
    """Each customer's last period with an order (``period``, ``first_period``, ``previous_period``)
    beside the data's last period (``current``)."""
    activity = customer_periods(orders, period)
    marked = activity.mutate(
        current=activity.period.max().over(),
        latest_period=activity.period.max().over(group_by=activity.customer_id),
    )
    return marked.filter(marked.period == marked.latest_period)  # a window inside a filter breaks on Spark


def assign_lifecycle_stage(orders: ir.Table, period: Period = "month") -> ir.Table:
    """Each customer's lifecycle stage (new / active / return / unactive) in the last period of
    the data: ``customer_id, stage, last_period_start`` (for member lists per lifecycle state)."""
    period = check_period(period)
    latest = _latest_periods(orders, period)
    stage = ibis.cases(
        (latest.period < latest.current, "unactive"),
        (latest.period == latest.first_period, "new"),
        ((latest.previous_period == latest.period - 1).fill_null(False), "active"),
        else_="return",
    )
    return latest.select(
        "customer_id", stage=stage, last_purchase_period_start=period_start(latest.period, period)
    ).order_by("customer_id")


def assign_growth_stage(orders: ir.Table, period: Period = "month") -> ir.Table:
    """Each customer's growth stage in the last period of the data: ``new``, ``returning``,
    ``resurrecting`` (bought in it), ``dormant`` (bought in the period before, not in it) or
    ``lapsed`` (last bought earlier): ``customer_id, stage, last_purchase_period_start``."""
    period = check_period(period)
    latest = _latest_periods(orders, period)
    stage = ibis.cases(
        (latest.period < latest.current - 1, "lapsed"),
        (latest.period < latest.current, "dormant"),
        (latest.period == latest.first_period, "new"),
        ((latest.previous_period == latest.period - 1).fill_null(False), "returning"),
        else_="resurrecting",
    )
    return latest.select(
        "customer_id", stage=stage, last_purchase_period_start=period_start(latest.period, period)
    ).order_by("customer_id")
