"""Trends (product.md A): per-period activity, the orders behind outliers, price bands."""

from __future__ import annotations

from collections.abc import Sequence

import ibis
import ibis.expr.types as ir

from memberlens.errors import ConfigError
from memberlens.metrics._arith import micros, money, money_sum, ratio
from memberlens.metrics._periods import Period, check_period, period_index, period_spine, period_start
from memberlens.parameters import check_number


def _with_period(orders: ir.Table, period: Period) -> ir.Table:
    return orders.mutate(period=period_index(orders.ordered_at, period))


def summarise_trends(orders: ir.Table, period: Period = "month") -> ir.Table:
    """Per period: buying customers, orders, revenue, units, revenue per customer, AOV, new customers.

    Every period between the first and the last order appears, empty ones with zeros (and null
    ratios). Units are null when the orders have no quantity.
    """
    period = check_period(period)
    lines = _with_period(orders, period)
    first_period = lines.group_by("customer_id").aggregate(first=lines.period.min())
    new = first_period.group_by(period=first_period.first).aggregate(new_customers=first_period.count())
    activity = lines.group_by("period").aggregate(
        buyers=lines.customer_id.nunique(),
        orders=lines.order_id.nunique(),
        revenue=money_sum(lines.amount),
        units=lines.quantity.sum(),
    )
    spine = period_spine(lines)
    joined = spine.left_join(activity, spine.period == activity.period).select(
        spine.period, *(activity[c] for c in ("buyers", "orders", "revenue", "units"))
    )
    joined = joined.left_join(new, joined.period == new.period).select(joined, new.new_customers)
    joined = joined.cross_join(lines.aggregate(has_quantity=lines.quantity.count() > 0))
    empty = joined.buyers.isnull()
    units = ibis.ifelse(empty & joined.has_quantity, 0.0, joined.units)
    buyers = joined.buyers.fill_null(0)
    orders_n = joined.orders.fill_null(0)
    revenue = joined.revenue.fill_null(0.0)
    return joined.select(
        period_start=period_start(joined.period, period),
        buyers=buyers,
        orders=orders_n,
        revenue=revenue,
        units=units,
        revenue_per_buyer=ratio(revenue, buyers),
        average_order_value=ratio(revenue, orders_n),
        new_customers=joined.new_customers.fill_null(0),
    ).order_by("period_start")


def order_totals(orders: ir.Table) -> ir.Table:
    """One row per order: customer, time, amount, units and lines."""
    return orders.group_by("order_id").aggregate(
        customer_id=orders.customer_id.min(),
        ordered_at=orders.ordered_at.min(),
        amount=money_sum(orders.amount),
        units=orders.quantity.sum(),
        lines=orders.count(),
    )


def rank_largest_orders(orders: ir.Table, period: Period = "month", top: int = 3) -> ir.Table:
    """The ``top`` largest orders by amount in each period, with their share of the period's revenue.

    These are the "super orders" that explain an outlier period (in the UCI Online Retail data,
    two orders of 80,995 and 74,215 units lift December and January). Ties are broken by order id.
    """
    period = check_period(period)
    check_number(top, "top", "rank_largest_orders", low=1, integer=True, hint="e.g. --top 3")
    totals = order_totals(orders)
    totals = totals.mutate(period=period_index(totals.ordered_at, period))
    ranked = totals.mutate(
        rank=ibis.row_number().over(group_by=totals.period, order_by=[totals.amount.desc(), totals.order_id]) + 1,
        period_revenue=money(micros(totals.amount).sum().over(group_by=totals.period)),
    )
    return (
        ranked.filter(ranked["rank"] <= top)
        .select(
            period_start=period_start(ranked.period, period),
            rank=ranked["rank"],
            order_id=ranked.order_id,
            customer_id=ranked.customer_id,
            ordered_at=ranked.ordered_at,
            amount=ranked.amount,
            units=ranked.units,
            share_of_period_revenue=ratio(ranked.amount, ranked.period_revenue),
        )
        .order_by(["period_start", "rank"])
    )


DEFAULT_PRICE_BANDS = (0, 1, 2, 3, 5, 10, 20, 50, 100)


def summarise_price_bands(orders: ir.Table, bands: Sequence[float] = DEFAULT_PRICE_BANDS) -> ir.Table:
    """Purchase behaviour by unit-price band (customer purchase preference, 客户购买偏好): lines,
    units, revenue, buyers and mean units per line in each band ``[lower, upper)``; the last band is open."""
    edges = sorted(float(b) for b in bands)
    if len(edges) < 2 or len(set(edges)) != len(edges):
        raise ConfigError(f"The 'bands' parameter must hold at least two distinct edges. Got {list(bands)!r} instead.")
    price = orders.unit_price
    cases = [((price >= lo) & (price < hi), i) for i, (lo, hi) in enumerate(zip(edges, edges[1:]))]
    cases.append((price >= edges[-1], len(edges) - 1))
    banded = orders.mutate(band=ibis.cases(*cases, else_=ibis.null("int64")))
    banded = banded.filter(banded.band.notnull())
    summary = banded.group_by("band").aggregate(
        lines=banded.count(),
        units=banded.quantity.sum(),
        revenue=money_sum(banded.amount),
        buyers=banded.customer_id.nunique(),
        mean_units_per_line=banded.quantity.mean(),
    )
    lower = ibis.cases(*((summary.band == i, e) for i, e in enumerate(edges)))
    upper = ibis.cases(*((summary.band == i, e) for i, e in enumerate(edges[1:])), else_=ibis.null("float64"))
    columns = ("lines", "units", "revenue", "buyers", "mean_units_per_line")
    return (
        summary.mutate(price_from=lower, price_to=upper)
        .select("price_from", "price_to", *columns)
        .order_by("price_from")
    )
