"""Churn rate and the change ratio 异动比 per period (product.md B).

A customer is churned at a cut-off (the first day after a period; for the last, partial period
the day after the last order) when their last order before
it is more than ``churn_days`` days old. Per period:

* ``known`` — customers with an order before the cut-off;
* ``churned`` and ``churn_rate = churned / known``;
* ``newly_churned`` — churned now but not at the previous cut-off (or new and already churned);
* ``new_buyers`` — first order in the period;
* ``change_ratio = new_buyers / newly_churned`` (> 1 growing, < 1 shrinking; null with no churn).
"""

from __future__ import annotations

import ibis
import ibis.expr.types as ir

from memberlens.metrics._arith import ratio
from memberlens.metrics._periods import Period, check_period, day_number, period_index, period_spine, period_start
from memberlens.parameters import check_number


def compute_churn(orders: ir.Table, period: Period = "month", *, churn_days: int = 90) -> ir.Table:
    period = check_period(period)
    spine, firsts, active, newly = _churn_parts(orders, period, churn_days)
    newly_churned = newly.group_by("period").aggregate(newly_churned=lambda t: t.count())
    new_buyers = firsts.group_by(period=firsts.first_period).aggregate(new_buyers=firsts.count())
    active_counts = active.group_by("period").aggregate(active=active.count())

    t = spine
    for table, column in ((new_buyers, "new_buyers"), (active_counts, "active"), (newly_churned, "newly_churned")):
        t = t.left_join(table, t.period == table.period).select(t, table[column].fill_null(0).name(column))
    known = t.new_buyers.sum().over(ibis.cumulative_window(order_by=t.period))
    t = t.mutate(known=known, churned=known - t.active)
    return t.select(
        period_start=period_start(t.period, period),
        known=t.known,
        active=t.active,
        churned=t.churned,
        churn_rate=ratio(t.churned, t.known),
        new_buyers=t.new_buyers,
        newly_churned=t.newly_churned,
        change_ratio=ratio(t.new_buyers, t.newly_churned),
    ).order_by("period_start")


def newly_churned_members(orders: ir.Table, period: Period = "month", *, churn_days: int = 90) -> ir.Table:
    """The customers behind ``newly_churned``: one row per customer and period they churned in
    (``period_start``)."""
    period = check_period(period)
    _, _, _, newly = _churn_parts(orders, period, churn_days)
    return newly.select("customer_id", period_start=period_start(newly.period, period))


def new_buyer_members(orders: ir.Table, period: Period = "month") -> ir.Table:
    """The customers behind ``new_buyers``: each customer and the period of their first order."""
    period = check_period(period)
    first = orders.group_by("customer_id").aggregate(first=period_index(orders.ordered_at, period).min())
    return first.select("customer_id", period_start=period_start(first["first"], period))


def _churn_parts(orders: ir.Table, period: Period, churn_days: int) -> tuple[ir.Table, ir.Table, ir.Table, ir.Table]:
    """The period spine, each customer's first period, the (customer, period) pairs active at the
    period's cut-off, and the (customer, period) pairs of churning."""
    check_number(churn_days, "churn_days", "the churn analysis", low=1, integer=True, hint="e.g. --churn-days 90")
    days = orders.select(
        customer_id=orders.customer_id,
        day=day_number(orders.ordered_at),
        period=period_index(orders.ordered_at, period),
    ).distinct()
    firsts = days.group_by("customer_id").aggregate(first_period=days.period.min())
    spine = period_spine(days)
    # the last period may be partial: its cut-off is the day after the last order
    end_of_data = days.aggregate(end=days.day.max() + 1)
    cutoffs = spine.cross_join(end_of_data)
    cutoffs = cutoffs.select(
        "period", cutoff=ibis.least(day_number(period_start(cutoffs.period + 1, period)), cutoffs.end)
    )

    # (customer, period) pairs where the customer is active at the period's cut-off
    recent = days.join(cutoffs, (days.day >= cutoffs.cutoff - churn_days) & (days.day < cutoffs.cutoff))
    active = recent.select("customer_id", period=recent.period_right).distinct()
    last = active.period.max().over()
    next_active = active.period.lead().over(group_by=active.customer_id, order_by=active.period)
    churn_events = active.select(
        "customer_id",
        period=active.period + 1,
        churns=(next_active.isnull() | (next_active > active.period + 1)),
        last=last,
    )
    churn_events = churn_events.filter(churn_events.churns & (churn_events.period <= churn_events["last"]))
    # a customer new in a period and already churned at its cut-off (churn_days < period length)
    new_and_gone = firsts.anti_join(
        active, (firsts.customer_id == active.customer_id) & (firsts.first_period == active.period)
    ).select("customer_id", period=firsts.first_period)
    newly = ibis.union(churn_events.select("customer_id", "period"), new_and_gone)
    return spine, firsts, active, newly
