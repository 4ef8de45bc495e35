"""The referral program: referred against organic customers, and what the referrals cost.

:func:`summarise_referral_program` returns two rows, ``referred`` and ``organic``, computed in
the engine. The population is every member of the ``members`` table (when there is one), every
customer of the orders and everyone in a counted referral; ``referred`` are those with a counted
referral (see :mod:`memberlens.referrals.graph`), ``organic`` the others.

``members``, ``buyers``, ``conversion``
    people in the group, those with at least one order, and the share who bought — for the
    referred group the program's conversion (referred members who bought);
``revenue``, ``revenue_per_member``, ``revenue_per_buyer``, ``orders_per_buyer``
    their orders' value (exact sums);
``repeat_rate``
    share of buyers with two orders or more;
``repeat_30d`` ... ``repeat_365d``
    retention after the first purchase: among buyers whose first order was at least N days
    before the snapshot's day (so the N days after it are all known), the share who bought again
    on a later day within N days of it (null when no buyer is that old);

and, on the ``referred`` row (null on ``organic``): ``referrals`` (counted), ``referrers``,
``referrers_not_members`` (referrers missing from the ``members`` table; null without one),
``reward_cost`` (of the counted referrals; null when the table has no ``reward_cost``),
``cost_per_referred_buyer`` and the referrals not counted per reason (``ignored_*``).
"""

from __future__ import annotations

from datetime import date

import ibis
import ibis.expr.types as ir

from memberlens.metrics._arith import micros, money, ratio
from memberlens.metrics._periods import day_number
from memberlens.schema.referral_rules import IGNORED_REASONS

REPEAT_DAYS = (30, 90, 180, 365)
GROUPS = ("referred", "organic")


def _epoch_day(day: date) -> int:
    return (day - date(1970, 1, 1)).days


def buyer_histories(orders: ir.Table) -> ir.Table:
    """Per customer: revenue (millionths), orders, the day number of the first order and of the
    first order on a later day (null when none)."""
    days = orders.mutate(_day=day_number(orders.ordered_at))
    first = days.group_by("customer_id").aggregate(
        revenue_micros=micros(days.amount).sum(), orders=days.order_id.nunique(), first_day=days._day.min()
    )
    later = days.join(first.select("customer_id", _first=first.first_day), "customer_id")
    second = later.filter(later._day > later._first).group_by("customer_id").aggregate(second_day=later._day.min())
    return first.left_join(second, "customer_id").select(*first.columns, "second_day")


def summarise_referral_program(
    edges: ir.Table,
    orders: ir.Table,
    *,
    day: date,
    members: ir.Table | None = None,
    ignored: dict[str, int] | None = None,
) -> ir.Table:
    """Referred against organic customers as of ``day`` (see the module docstring)."""
    people = ibis.union(
        orders.select("customer_id"),
        edges.select(customer_id=edges.referred_id),
        edges.select(customer_id=edges.referrer_id),
        distinct=True,
    )
    if members is not None:
        people = people.union(members.select("customer_id"), distinct=True)
    referred = edges.select(customer_id=edges.referred_id).distinct().mutate(_referred=ibis.literal(True))
    histories = buyer_histories(orders)
    base = people.left_join(referred, "customer_id").select("customer_id", "_referred")
    base = base.left_join(histories, "customer_id").select(
        *base.columns, *[c for c in histories.columns if c != "customer_id"]
    )
    base = base.mutate(group=ibis.ifelse(base._referred.fill_null(False), GROUPS[0], GROUPS[1]))
    today = _epoch_day(day)
    bought = base.first_day.notnull()
    metrics: dict[str, ir.Value] = {
        "members": base.count(),
        "buyers": bought.sum().cast("int64"),
        "revenue": money(base.revenue_micros.sum().fill_null(0)),
        "_orders": base.orders.sum().fill_null(0),
        "_repeaters": (base.orders >= 2).sum().cast("int64"),
    }
    for n in REPEAT_DAYS:
        observable = bought & (base.first_day + n < today)
        metrics[f"_seen{n}"] = observable.sum().cast("int64")
        metrics[f"_again{n}"] = (
            (observable & base.second_day.notnull() & (base.second_day - base.first_day <= n)).sum().cast("int64")
        )
    per = base.group_by("group").aggregate(**metrics)
    groups = ibis.memtable({"group": list(GROUPS), "_order": [0, 1]})
    per = groups.left_join(per, "group").select("group", "_order", *[c for c in per.columns if c != "group"])
    out = per.mutate(
        members=per.members.fill_null(0),
        buyers=per.buyers.fill_null(0),
        revenue=per.revenue.fill_null(0.0),
    )
    out = out.mutate(
        conversion=ratio(out.buyers, out.members),
        revenue_per_member=ratio(out.revenue, out.members),
        revenue_per_buyer=ratio(out.revenue, out.buyers),
        orders_per_buyer=ratio(out._orders, out.buyers),
        repeat_rate=ratio(out._repeaters, out.buyers),
        **{f"repeat_{n}d": ratio(out[f"_again{n}"], out[f"_seen{n}"]) for n in REPEAT_DAYS},
    )
    program = _program_row(edges, members, ignored or {})
    out = out.cross_join(program)
    is_referred = out.group == GROUPS[0]
    program_columns = {c: ibis.ifelse(is_referred, out[c], ibis.null(out[c].type())) for c in program.columns}
    program_columns["cost_per_referred_buyer"] = ibis.ifelse(
        is_referred, ratio(out.reward_cost, out.buyers), ibis.null("float64")
    )
    out = out.mutate(**program_columns)
    columns = [
        "group",
        "members",
        "buyers",
        "conversion",
        "revenue",
        "revenue_per_member",
        "revenue_per_buyer",
        "orders_per_buyer",
        "repeat_rate",
        *[f"repeat_{n}d" for n in REPEAT_DAYS],
        "referrals",
        "referrers",
        "referrers_not_members",
        "reward_cost",
        "cost_per_referred_buyer",
        *[f"ignored_{r}" for r in IGNORED_REASONS],
    ]
    return out.order_by("_order").select(*columns)


def _program_row(edges: ir.Table, members: ir.Table | None, ignored: dict[str, int]) -> ir.Table:
    cost = (
        money(micros(edges.reward_cost).sum().fill_null(0)) if "reward_cost" in edges.columns else ibis.null("float64")
    )
    row = edges.aggregate(referrals=edges.count(), referrers=edges.referrer_id.nunique(), reward_cost=cost)
    if members is not None:
        referrers = edges.select(customer_id=edges.referrer_id).distinct()
        outside = referrers.anti_join(members.select("customer_id").distinct(), "customer_id")
        row = row.cross_join(outside.aggregate(referrers_not_members=outside.count()))
    else:
        row = row.mutate(referrers_not_members=ibis.null("int64"))
    return row.mutate(**{f"ignored_{r}": ibis.literal(int(ignored.get(r, 0)), "int64") for r in IGNORED_REASONS})


__all__ = ["GROUPS", "REPEAT_DAYS", "buyer_histories", "summarise_referral_program"]
