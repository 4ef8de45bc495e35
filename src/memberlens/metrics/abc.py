"""ABC classification (seed 002 §3.1.2, product.md C) by cumulative revenue share.

Entities (customers or products) are sorted by revenue, largest first, ties by id. An entity is
class ``A`` while the revenue share of the entities before it is below ``a`` (so the entity
that crosses the line is still A), ``B`` likewise below ``b``, and ``C`` after that.
"""

from __future__ import annotations

from typing import Literal

import ibis
import ibis.expr.types as ir

from memberlens.metrics._arith import ratio
from memberlens.errors import ConfigError

ENTITY_COLUMNS = {"customer": "customer_id", "product": "product_id"}


def classify_abc(
    orders: ir.Table, by: Literal["customer", "product"] = "customer", *, a: float = 0.80, b: float = 0.95
) -> ir.Table:
    """``<entity id>, revenue, revenue_share, cumulative_share, rank, abc_class`` per entity."""
    if by not in ENTITY_COLUMNS:
        raise ConfigError(f"The 'by' parameter must be 'customer' or 'product'. Got {by!r} instead.")
    if not (0 < a < b <= 1):
        raise ConfigError(f"The thresholds must satisfy 0 < a < b <= 1. Got a={a!r}, b={b!r} instead.")
    key = ENTITY_COLUMNS[by]
    rows = orders.filter(orders[key].notnull())
    per = rows.group_by(key).aggregate(revenue=rows.amount.sum())
    order = [per.revenue.desc(), per[key]]
    running = ibis.cumulative_window(order_by=order)
    total = per.revenue.sum().over()
    with_share = per.mutate(
        revenue_share=ratio(per.revenue, total),
        cumulative_share=ratio(per.revenue.sum().over(running), total),
        rank=ibis.row_number().over(order_by=order) + 1,
    )
    # the revenue of the entities ranked before this one, summed directly (a difference of
    # running shares is off by rounding exactly at a threshold)
    preceding = ibis.window(order_by=[with_share.revenue.desc(), with_share[key]], rows=(None, -1))
    before = ratio(with_share.revenue.sum().over(preceding).fill_null(0), with_share.revenue.sum().over())
    return with_share.mutate(
        abc_class=ibis.cases((before < a, "A"), (before < b, "B"), else_="C")
    ).order_by("rank")


def summarise_abc(classified: ir.Table) -> ir.Table:
    """Per class: entities, their share, revenue and revenue share."""
    totals = classified.aggregate(n=classified.count(), r=classified.revenue.sum())
    per = classified.group_by("abc_class").aggregate(entities=classified.count(), revenue=classified.revenue.sum())
    joined = per.cross_join(totals)
    return joined.select(
        "abc_class",
        "entities",
        entity_share=ratio(joined.entities, joined.n),
        revenue=joined.revenue,
        revenue_share=ratio(joined.revenue, joined.r),
    ).order_by("abc_class")
