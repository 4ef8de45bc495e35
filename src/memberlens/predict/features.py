"""Member features as of a cut-off date, built in the engine (for churn and response models).

One row per member from data strictly before the cut-off: every source table is cut in one
place, :func:`memberlens.snapshot.tables_as_of`, before any feature is computed — so no feature can read a later
order, event, send, response or unsubscription (tests/test_churn_features.py proves it by adding
absurd later rows and showing that nothing changes). Only the finished feature table comes to
Python.

Features (days are whole calendar days to the cut-off date; ``N`` in 30/90/180):

* orders — ``recency_days``, ``frequency`` (distinct orders), ``monetary``, ``average_order``,
  ``tenure_days`` (since the first order), ``orders_Nd`` and ``spend_Nd`` (the last N days),
  ``mean_gap_days`` (mean days between orders), ``last_gap_days`` (between the last two),
  ``recency_vs_gap`` (recency over the mean gap: > 1 is later than usual), ``coupon_share``
  (share of orders with a coupon, when orders carry ``coupon_amount``);
* events — ``events_30d``, ``events_90d``, ``engagement_30d``, ``engagement_90d``,
  ``days_since_event``;
* campaigns — ``campaign_sends``, ``campaign_responses`` (responses converted before the
  cut-off), ``response_rate``;
* members — ``member_days`` (since registration), ``marketable`` (1/0 as of the cut-off: an
  unsubscription after it is undone), ``activated`` (1/0).

A feature with no basis (no second order, no event) is null, not 0; counts with nothing to
count are 0. The members' ``tier`` is not used: it is a snapshot taken at the end of the data
(it reflects spend after any earlier cut-off) and would leak the future into the past.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import date, timedelta

import ibis
import ibis.expr.types as ir

from memberlens.errors import ConfigError
from memberlens.metrics._arith import money_sum, ratio
from memberlens.snapshot import as_date, start_of, tables_as_of

#: the source tables features are built from
FEATURE_TABLES = ("orders", "events", "campaigns", "members")
ORDER_WINDOWS = (30, 90, 180)
EVENT_WINDOWS = (30, 90)

ORDER_FEATURES = (
    "recency_days",
    "frequency",
    "monetary",
    "average_order",
    "tenure_days",
    *(f"orders_{n}d" for n in ORDER_WINDOWS),
    *(f"spend_{n}d" for n in ORDER_WINDOWS),
    "mean_gap_days",
    "last_gap_days",
    "recency_vs_gap",
)
COUPON_FEATURES = ("coupon_share",)
EVENT_FEATURES = (
    *(f"events_{n}d" for n in EVENT_WINDOWS),
    *(f"engagement_{n}d" for n in EVENT_WINDOWS),
    "days_since_event",
)
CAMPAIGN_FEATURES = ("campaign_sends", "campaign_responses", "response_rate")
MEMBER_FEATURES = ("member_days", "marketable", "activated")


def feature_names(tables: Mapping[str, ir.Table]) -> list[str]:
    """The features :func:`member_features` builds from the tables present."""
    names = list(ORDER_FEATURES)
    if "coupon_amount" in tables["orders"].columns:
        names += COUPON_FEATURES
    for table, group in (("events", EVENT_FEATURES), ("campaigns", CAMPAIGN_FEATURES), ("members", MEMBER_FEATURES)):
        if tables.get(table) is not None:
            names += group
    return names


def member_features(tables: Mapping[str, ir.Table], as_of: date | str, *, customers_only: bool = True) -> ir.Table:
    """One row per member as of ``as_of``: ``customer_id``, ``cutoff`` and the features
    :func:`feature_names` lists, from data strictly before the cut-off.

    ``tables`` maps ``orders`` (required), ``events``, ``campaigns`` and ``members`` (optional)
    to Ibis tables. With ``customers_only`` the rows are the customers with an order before the
    cut-off; otherwise every member registered before it is included too (order features null
    or 0 for those who never bought).
    """
    if tables.get("orders") is None:
        raise ConfigError("member features need the orders table", "memberlens ingest ORDERS_FILE")
    day = as_date(as_of)
    known = tables_as_of({name: tables.get(name) for name in FEATURE_TABLES}, day)
    orders = _order_features(known["orders"], day, "coupon_amount" in tables["orders"].columns)
    if customers_only or "members" not in known:
        base = orders.select("customer_id")
    else:
        registered = known["members"].select("customer_id")
        base = ibis.union(orders.select("customer_id"), registered, distinct=True)
    parts = [(orders, _ORDER_DEFAULTS)]
    if "events" in known:
        parts.append((_event_features(known["events"], day), {c: 0 for c in EVENT_FEATURES if c != "days_since_event"}))
    if "campaigns" in known:
        parts.append((_campaign_features(known["campaigns"]), {"campaign_sends": 0, "campaign_responses": 0}))
    if "members" in known:
        parts.append((_member_features(known["members"], day), {}))
    result = base
    for part, zeros in parts:
        part = part.view()
        joined = result.left_join(part, result.customer_id == part.customer_id)
        values = [
            part[c].fill_null(zeros[c]).name(c) if c in zeros else part[c] for c in part.columns if c != "customer_id"
        ]
        result = joined.select(result, *values)
    ordered = ["customer_id", *feature_names(tables)]
    return result.select(*ordered, cutoff=ibis.date(day.isoformat()))


_ORDER_DEFAULTS = {
    "frequency": 0,
    "monetary": 0.0,
    **{f"orders_{n}d": 0 for n in ORDER_WINDOWS},
    **{f"spend_{n}d": 0.0 for n in ORDER_WINDOWS},
}


def _days_before(day: date, value: ir.TimestampValue) -> ir.IntegerValue:
    return ibis.date(day.isoformat()).delta(value.date(), unit="day")


def _since(day: date, days: int) -> ir.TimestampValue:
    return start_of(day - timedelta(days=days))


def _order_features(orders: ir.Table, day: date, coupons: bool) -> ir.Table:
    """Per customer, from their orders (lines summed per order first)."""
    per_order = orders.group_by(["customer_id", "order_id"]).aggregate(
        ordered_at=orders.ordered_at.min(),
        amount=money_sum(orders.amount),
        coupon=(orders.coupon_amount.fill_null(0) > 0).any() if coupons else ibis.literal(False),
    )
    # 0 = the last order, 1 = the one before (ties on time broken by order id)
    position = ibis.row_number().over(
        group_by=per_order.customer_id, order_by=[per_order.ordered_at.desc(), per_order.order_id.desc()]
    )
    o = per_order.mutate(_position=position)
    windows = {}
    for n in ORDER_WINDOWS:
        recent = o.ordered_at >= _since(day, n)
        windows[f"orders_{n}d"] = recent.ifelse(1, 0).sum()
        windows[f"spend_{n}d"] = money_sum(recent.ifelse(o.amount, 0.0))
    per = o.group_by("customer_id").aggregate(
        first_at=o.ordered_at.min(),
        last_at=o.ordered_at.max(),
        previous_at=o.ordered_at.max(where=o._position == 1),
        frequency=o.count(),
        monetary=money_sum(o.amount),
        coupon_orders=o.coupon.ifelse(1, 0).sum(),
        **windows,
    )
    recency = _days_before(day, per.last_at)
    span = per.last_at.date().delta(per.first_at.date(), unit="day")
    per = per.mutate(
        recency_days=recency,
        tenure_days=_days_before(day, per.first_at),
        average_order=ratio(per.monetary, per.frequency),
        mean_gap_days=ratio(span, per.frequency - 1),
        last_gap_days=per.last_at.date().delta(per.previous_at.date(), unit="day"),
        coupon_share=ratio(per.coupon_orders, per.frequency),
    )
    per = per.mutate(recency_vs_gap=ratio(per.recency_days, per.mean_gap_days))
    columns = ["customer_id", *ORDER_FEATURES, *(COUPON_FEATURES if coupons else ())]
    return per.select(*columns)


def _event_features(events: ir.Table, day: date) -> ir.Table:
    engagement = events.engagement.fill_null(1) if "engagement" in events.columns else ibis.literal(1.0)
    e = events.mutate(_engagement=engagement.cast("float64"))
    windows = {}
    for n in EVENT_WINDOWS:
        recent = e.occurred_at >= _since(day, n)
        windows[f"events_{n}d"] = recent.ifelse(1, 0).sum()
        windows[f"engagement_{n}d"] = recent.ifelse(e._engagement, 0.0).sum()
    per = e.group_by("customer_id").aggregate(last_at=e.occurred_at.max(), **windows)
    return per.select("customer_id", *EVENT_FEATURES[:-1], days_since_event=_days_before(day, per.last_at))


def _campaign_features(campaigns: ir.Table) -> ir.Table:
    per = campaigns.group_by("customer_id").aggregate(
        campaign_sends=campaigns.count(), campaign_responses=campaigns.responded.ifelse(1, 0).sum()
    )
    return per.mutate(response_rate=ratio(per.campaign_responses, per.campaign_sends))


def _member_features(members: ir.Table, day: date) -> ir.Table:
    # a member listed twice: the earliest registration, marketable if any row says so
    per = members.group_by("customer_id").aggregate(
        registered_at=members.registered_at.min(),
        marketable=members.marketable.cast("int64").max(),
        activated=members.activated_at.notnull().ifelse(1, 0).max(),
    )
    return per.select(
        "customer_id",
        member_days=_days_before(day, per.registered_at),
        marketable=per.marketable,
        activated=per.activated,
    )


def learnable_features(frame, names: Sequence[str]) -> list[str]:
    """The features of ``names`` with at least one value among the training rows ``frame`` (a
    pandas frame). A feature with none — members keyed differently from the orders, so no
    member matches a customer; a members table without ``marketable`` — carries nothing to
    learn, and the trees cannot bin it: the model is trained without it."""
    return [name for name in names if frame[name].notna().any()]


def stack_features(frames: Sequence[ir.Table]) -> ir.Table:
    """Feature tables of several cut-offs as one table (one query, one execution)."""
    return ibis.union(*frames, distinct=False) if len(frames) > 1 else frames[0]


__all__ = ["FEATURE_TABLES", "feature_names", "learnable_features", "member_features", "stack_features"]
