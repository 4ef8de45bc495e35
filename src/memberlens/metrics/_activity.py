"""Customer activity per period: the base table of lifecycle, rate and cohort metrics."""

from __future__ import annotations

import ibis
import ibis.expr.types as ir

from memberlens.metrics._arith import money_sum
from memberlens.metrics._periods import Period, period_index


def customer_periods(orders: ir.Table, period: Period) -> ir.Table:
    """One row per customer and period with an order: ``customer_id, period, orders, revenue,
    first_period`` (the customer's first period with an order) and ``previous_period`` (their
    previous period with an order, null for the first)."""
    lines = orders.mutate(period=period_index(orders.ordered_at, period))
    active = lines.group_by(["customer_id", "period"]).aggregate(
        orders=lines.order_id.nunique(), revenue=money_sum(lines.amount)
    )
    by_customer = ibis.window(group_by=active.customer_id, order_by=active.period)
    return active.mutate(
        first_period=active.period.min().over(group_by=active.customer_id),
        previous_period=active.period.lag().over(by_customer),
    )
