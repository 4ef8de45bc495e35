"""ABC classification (product.md C) by cumulative revenue share.

Entities (customers or products) are sorted by revenue, largest first, ties by id. An entity is
class ``A`` while the revenue share of the entities before it is below ``a`` (so the entity
that crosses the line is still A), ``B`` likewise below ``b``, and ``C`` after that.
"""

from __future__ import annotations

from typing import Literal

import ibis
import ibis.expr.types as ir

from memberlens.errors import ConfigError
from memberlens.metrics._arith import micros, money, money_sum, ratio

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
    # revenue in whole millionths: exact sums, so equal spend ties exactly and ranks by id
    per = rows.group_by(key).aggregate(_micros=micros(rows.amount).sum())
    order = [per._micros.desc(), per[key]]
    running = ibis.cumulative_window(order_by=order)
    total = per._micros.sum().over()
    # the revenue of the entities ranked before this one, summed directly (a difference of
    # running shares is off by rounding exactly at a threshold)
    preceding = ibis.window(order_by=order, rows=(None, -1))
    before = ratio(per._micros.sum().over(preceding).fill_null(0), total)
    classified = per.mutate(
        revenue=money(per._micros),
        revenue_share=ratio(per._micros, total),
        cumulative_share=ratio(per._micros.sum().over(running), total),
        rank=ibis.row_number().over(order_by=order) + 1,
        abc_class=ibis.cases((before < a, "A"), (before < b, "B"), else_="C"),
    )
    return classified.select(key, "revenue", "revenue_share", "cumulative_share", "rank", "abc_class").order_by("rank")


def summarise_abc(classified: ir.Table) -> ir.Table:
    """Per class: entities, their share, revenue and revenue share."""
    totals = classified.aggregate(n=classified.count(), r=money_sum(classified.revenue))
    per = classified.group_by("abc_class").aggregate(entities=classified.count(), revenue=money_sum(classified.revenue))
    joined = per.cross_join(totals)
    return joined.select(
        "abc_class",
        "entities",
        entity_share=ratio(joined.entities, joined.n),
        revenue=joined.revenue,
        revenue_share=ratio(joined.revenue, joined.r),
    ).order_by("abc_class")
