"""Cascades: everyone below a member in the referral network, found by joins in the engine.

Generation 1 below a member is whom they referred; generation k + 1 is whom generation k
referred. :func:`compute_cascades` walks the counted referrals (a forest) one generation at a
time — the pairs (member, descendant) of generation k joined with the referrals give generation
k + 1 — materialising each generation in the engine, until a generation is empty or
``max_depth`` generations have been walked. Each generation is aggregated in the engine as soon
as it is found (members, buyers, revenue per ancestor), so only the pairs of one generation are
held at a time; the per-generation aggregates are summed per member at the end.

The number of pairs is the sum over members of their depth: a chain of a million generations
would be quadratic, which is why the walk stops at ``max_depth`` (50 by default) and says which
members' cascades go deeper (``truncated``).
"""

from __future__ import annotations

from dataclasses import dataclass

import ibis
import ibis.expr.types as ir
import pandas as pd

from memberlens.io.held import hold, let_go
from memberlens.metrics._arith import micros, money
from memberlens.parameters import check_number

MAX_DEPTH = 50


def customer_values(orders: ir.Table) -> ir.Table:
    """Per customer: revenue in whole millionths (exact sums, the same on every engine)."""
    return orders.group_by("customer_id").aggregate(revenue_micros=micros(orders.amount).sum())


@dataclass
class Cascades:
    """Per member with at least one counted referral (``per_member``) and per member and
    generation (``per_generation``), as pandas frames; ``depth``: generations walked;
    ``truncated``: whether some cascade went deeper than ``max_depth``."""

    per_member: pd.DataFrame
    per_generation: pd.DataFrame
    depth: int
    truncated: bool


def _generation_totals(pairs: ir.Table, generation: int) -> ir.Table:
    return pairs.group_by(pairs.ancestor).aggregate(
        generation=ibis.literal(generation, "int64"),
        members=pairs.count(),
        buyers=pairs.revenue_micros.notnull().sum().cast("int64"),
        revenue_micros=pairs.revenue_micros.sum().fill_null(0),
    )


def compute_cascades(
    edges: ir.Table, orders: ir.Table, *, max_depth: int = MAX_DEPTH, values: ir.Table | None = None
) -> Cascades:
    """Walk the cascades of ``edges`` (counted referrals: ``referrer_id``, ``referred_id``) in
    the engine, with the revenue of ``orders`` (see the module docstring; ``values``: its
    :func:`customer_values` when the caller has them already)."""
    if values is None:
        values = customer_values(orders)
    joined = edges.left_join(values, edges.referred_id == values.customer_id)
    links = joined.select(parent=joined.referrer_id, child=joined.referred_id, revenue_micros=joined.revenue_micros)
    return walk_cascades(links, max_depth=max_depth)


def walk_cascades(links: ir.Table, *, max_depth: int = MAX_DEPTH) -> Cascades:
    """Walk the cascades of ``links`` — ``parent``, ``child`` (customer ids, or node numbers:
    integer joins are faster) and ``revenue_micros`` (what the child bought, null for none) —
    generation by generation in the engine. The results name members by the same keys."""
    check_number(max_depth, "max_depth", "walk_cascades", low=1, integer=True, hint="e.g. --max-depth 50")
    # each referral carries what the referred member bought: a generation needs no other join
    links = hold(links.select("parent", "child", "revenue_micros"))
    cached: list[ir.Table] = [links]
    levels: list[ir.Table] = []
    truncated = False
    try:
        pairs = links.select(ancestor=links.parent, node=links.child, revenue_micros=links.revenue_micros)
        generation = 1
        while True:
            totals = hold(_generation_totals(pairs, generation))
            cached.append(totals)
            if int(totals.count().execute()) == 0:
                break
            levels.append(totals)
            following = pairs.join(links, pairs.node == links.parent).select(
                ancestor=pairs.ancestor, node=links.child, revenue_micros=links.revenue_micros
            )
            if generation == max_depth:
                truncated = int(following.count().execute()) > 0
                break
            following = hold(following)  # a generation's plan is a scan, not the walk so far
            cached.append(following)
            if generation > 1:
                let_go(pairs)
                cached.remove(pairs)
            pairs, generation = following, generation + 1
        per_generation, per_member = _collect(levels, key=str(links.parent.type()))
    finally:
        for table in cached:
            let_go(table)
    return Cascades(per_member=per_member, per_generation=per_generation, depth=len(levels), truncated=truncated)


_GENERATION_COLUMNS = {
    "ancestor": "object",
    "generation": "int64",
    "members": "int64",
    "buyers": "int64",
    "revenue": "float64",
}
_MEMBER_COLUMNS = {
    "customer_id": "object",
    "direct_referrals": "int64",
    "direct_buyers": "int64",
    "direct_revenue": "float64",
    "cascade_size": "int64",
    "cascade_buyers": "int64",
    "cascade_revenue": "float64",
    "generations": "int64",
}


def _empty(columns: dict[str, str]) -> pd.DataFrame:
    return pd.DataFrame({name: pd.Series(dtype=kind) for name, kind in columns.items()})


def _collect(levels: list[ir.Table], key: str = "string") -> tuple[pd.DataFrame, pd.DataFrame]:
    """The per-generation aggregates and their sums per member (in the engine), executed."""
    if not levels:
        kind = "object" if key == "string" else "int64"
        return (_empty({**_GENERATION_COLUMNS, "ancestor": kind}), _empty({**_MEMBER_COLUMNS, "customer_id": kind}))
    g = ibis.union(*levels) if len(levels) > 1 else levels[0]
    first = g.generation == 1
    per_member = (
        g.group_by(customer_id=g.ancestor)
        .aggregate(
            direct_referrals=g.members.sum(where=first).fill_null(0),
            direct_buyers=g.buyers.sum(where=first).fill_null(0),
            direct_revenue=money(g.revenue_micros.sum(where=first).fill_null(0)),
            cascade_size=g.members.sum(),
            cascade_buyers=g.buyers.sum(),
            cascade_revenue=money(g.revenue_micros.sum()),
            generations=g.generation.max(),
        )
        .order_by("customer_id")
        .to_pandas()
    )
    per_generation = g.select("ancestor", "generation", "members", "buyers", revenue=money(g.revenue_micros))
    per_generation = per_generation.order_by(["ancestor", "generation"]).to_pandas()
    return _typed(per_generation, _GENERATION_COLUMNS), _typed(per_member, _MEMBER_COLUMNS)


def _typed(frame: pd.DataFrame, columns: dict[str, str]) -> pd.DataFrame:
    return frame.astype({name: kind for name, kind in columns.items() if kind != "object"}).reset_index(drop=True)


__all__ = ["Cascades", "MAX_DEPTH", "compute_cascades", "customer_values", "walk_cascades"]
