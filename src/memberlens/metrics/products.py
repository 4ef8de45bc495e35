"""Product labels: the name shown for a product id."""

from __future__ import annotations

from collections.abc import Sequence

import ibis
import ibis.expr.types as ir


def name_products(orders: ir.Table, product_ids: Sequence | None = None) -> ir.Table:
    """``product_id, product_name`` ordered by product: each product's most frequent name on its
    lines (ties: the alphabetically first), the same on every engine (no ``mode()``, which Spark lacks and which
    breaks ties arbitrarily)."""
    rows = orders.filter(orders.product_id.notnull() & orders.product_name.notnull())
    if product_ids is not None:
        rows = rows.filter(rows.product_id.isin(list(product_ids)))
    counts = rows.group_by(["product_id", "product_name"]).aggregate(lines=ibis._.count())
    rank = ibis.row_number().over(group_by="product_id", order_by=[ibis.desc("lines"), "product_name"])
    return (
        counts.mutate(_rank=rank).filter(ibis._._rank == 0).select("product_id", "product_name").order_by("product_id")
    )
