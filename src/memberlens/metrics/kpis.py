"""Member-operations KPIs (product.md D) per period.

From ``members``: registered, activated and marketable members (new and cumulative), the
activation rate, and registration→purchase and activation→purchase conversion (the share of
registered / activated members who have bought by the end of the period). From ``orders``:
purchasing members (new and cumulative), revenue, orders, and the coupon ratios (orders need
``coupon_amount``); coupon users (用券用户) are the period's buyers with a coupon order, and
their AOV and repurchase rate count all their orders in the period. From ``marketing_costs``: cost
by kind (media, coupon, points) and cost per registration, order and purchasing member. From
``campaigns``: marketing revenue and the cost ratio (营销费率 = marketing cost / marketing
revenue). A table that is absent raises :class:`MissingTableError` naming it.
"""

from __future__ import annotations

import ibis
import ibis.expr.types as ir

from memberlens.errors import MissingTableError
from memberlens.metrics._arith import money_sum, ratio
from memberlens.metrics._periods import Period, check_period, period_index, period_spine, period_start


def _require(table: ir.Table | None, name: str, what: str) -> ir.Table:
    if table is None:
        raise MissingTableError(
            f"{what} needs the '{name}' table", f"add it with: memberlens ingest FILE --table {name}"
        )
    return table


def _per_period(table: ir.Table, time_column: str, period: Period, **metrics) -> ir.Table:
    rows = table.filter(table[time_column].notnull())
    rows = rows.mutate(period=period_index(rows[time_column], period))
    return rows.group_by("period").aggregate(**{k: v(rows) for k, v in metrics.items()})


def compute_member_kpis(
    members: ir.Table | None,
    orders: ir.Table | None,
    *,
    campaigns: ir.Table | None = None,
    marketing_costs: ir.Table | None = None,
    period: Period = "month",
) -> ir.Table:
    """One row per period with every KPI the given tables allow (columns of absent optional
    tables are left out)."""
    period = check_period(period)
    members = _require(members, "members", "member KPIs")
    orders = _require(orders, "orders", "member KPIs")
    parts = [
        _member_counts(members, orders, period),
        _order_counts(orders, period),
    ]
    if marketing_costs is not None:
        parts.append(_cost_counts(marketing_costs, period))
    if campaigns is not None:
        parts.append(
            _per_period(
                campaigns.filter(campaigns.revenue.notnull()),
                "converted_at",
                period,
                marketing_revenue=lambda t: money_sum(t.revenue),
            )
        )
    combined = _combine(parts)
    spine = period_spine(combined)
    right = combined.view()
    joined = spine.left_join(right, spine.period == right.period)
    t = joined.select(spine.period, *(right[c].fill_null(0).name(c) for c in combined.columns if c != "period"))
    running = ibis.cumulative_window(order_by=t.period)
    t = t.mutate(
        registered_cumulative=t.registered_new.sum().over(running),
        activated_cumulative=t.activated_new.sum().over(running),
        purchasing_cumulative=t.purchasing_new.sum().over(running),
        marketable_cumulative=t.marketable_new.sum().over(running),
        registered_buyers_cumulative=t.registered_buyers_new.sum().over(running),
        activated_buyers_cumulative=t.activated_buyers_new.sum().over(running),
    )
    out = {
        "period_start": period_start(t.period, period),
        "registered_new": t.registered_new,
        "registered_cumulative": t.registered_cumulative,
        "activated_new": t.activated_new,
        "activated_cumulative": t.activated_cumulative,
        "activation_rate": ratio(t.activated_cumulative, t.registered_cumulative),
        "purchasing_new": t.purchasing_new,
        "purchasing_cumulative": t.purchasing_cumulative,
        "registration_to_purchase_rate": ratio(t.registered_buyers_cumulative, t.registered_cumulative),
        "activation_to_purchase_rate": ratio(t.activated_buyers_cumulative, t.activated_cumulative),
        "marketable_cumulative": t.marketable_cumulative,
        "buyers": t.buyers,
        "orders": t.orders,
        "revenue": t.revenue,
        "revenue_per_registration": ratio(t.revenue, t.registered_new),
        "revenue_per_order": ratio(t.revenue, t.orders),
        "revenue_per_buyer": ratio(t.revenue, t.buyers),
    }
    if "coupon_orders" in t.columns:
        out |= {
            "coupon_member_ratio": ratio(t.coupon_buyers, t.buyers),
            "coupon_amount_ratio": ratio(t.coupon_revenue, t.revenue),
            "coupon_order_ratio": ratio(t.coupon_orders, t.orders),
            "coupon_users_aov": ratio(t.coupon_users_revenue, t.coupon_users_orders),
            "coupon_users_repurchase_rate": ratio(t.coupon_repeat_buyers, t.coupon_buyers),
        }
    if marketing_costs is not None:
        cost = t.media_cost + t.coupon_cost + t.points_cost + t.other_cost
        out |= {
            "media_cost": t.media_cost,
            "coupon_cost": t.coupon_cost,
            "points_cost": t.points_cost,
            "marketing_cost": cost,
            "cost_per_registration": ratio(cost, t.registered_new),
            "cost_per_order": ratio(cost, t.orders),
            "cost_per_buyer": ratio(cost, t.buyers),
        }
    if campaigns is not None:
        out["marketing_revenue"] = t.marketing_revenue
        if marketing_costs is not None:
            out["cost_ratio"] = ratio(out["marketing_cost"], t.marketing_revenue)
    return t.select(**out).order_by("period_start")


def _member_counts(members: ir.Table, orders: ir.Table, period: Period) -> ir.Table:
    first_order = orders.group_by("customer_id").aggregate(first_order_at=orders.ordered_at.min())
    m = members.left_join(first_order, members.customer_id == first_order.customer_id).select(
        members.customer_id, members.registered_at, members.activated_at, members.marketable, first_order.first_order_at
    )

    # a member counts as a converted registration (activation) in the period of the later of
    # registering (activating) and first buying
    def later(a: ir.TimestampValue, b: ir.TimestampValue) -> ir.TimestampValue:
        # GREATEST ignores nulls: a member who never bought (or never activated) has not converted
        return ibis.ifelse(a.notnull() & b.notnull(), ibis.greatest(a, b), ibis.null("timestamp"))

    m = m.mutate(
        registered_bought_at=later(m.registered_at, m.first_order_at),
        activated_bought_at=later(m.activated_at, m.first_order_at),
    )
    parts = [
        _per_period(
            m,
            "registered_at",
            period,
            registered_new=lambda t: t.count(),
            marketable_new=lambda t: t.marketable.fill_null(False).cast("int64").sum(),
        ),
        _per_period(m, "activated_at", period, activated_new=lambda t: t.count()),
        _per_period(m, "registered_bought_at", period, registered_buyers_new=lambda t: t.count()),
        _per_period(m, "activated_bought_at", period, activated_buyers_new=lambda t: t.count()),
    ]
    return _combine(parts)


def _order_counts(orders: ir.Table, period: Period) -> ir.Table:
    lines = orders.mutate(period=period_index(orders.ordered_at, period))
    first = lines.group_by("customer_id").aggregate(period=lines.period.min())
    new = first.group_by("period").aggregate(purchasing_new=first.count())
    metrics = dict(buyers=lines.customer_id.nunique(), orders=lines.order_id.nunique(), revenue=money_sum(lines.amount))
    activity = lines.group_by("period").aggregate(**metrics)
    parts = [new, activity]
    if "coupon_amount" in orders.columns:
        per_order = lines.group_by(["period", "customer_id", "order_id"]).aggregate(
            coupon=money_sum(lines.coupon_amount.fill_null(0)), amount=money_sum(lines.amount)
        )
        per_order = per_order.mutate(with_coupon=per_order.coupon > 0)
        # coupon users (用券用户): buyers with a coupon order in the period; their AOV and
        # repurchase rate count all their orders in it
        per_user = per_order.group_by(["period", "customer_id"]).aggregate(
            orders=per_order.count(),
            amount=money_sum(per_order.amount),
            coupon_orders=per_order.with_coupon.cast("int64").sum(),
            coupon_revenue=money_sum(ibis.ifelse(per_order.with_coupon, per_order.amount, 0.0)),
        )
        users = per_user.filter(per_user.coupon_orders > 0)
        parts.append(
            per_user.group_by("period").aggregate(
                coupon_orders=per_user.coupon_orders.sum(),
                coupon_revenue=money_sum(per_user.coupon_revenue),
            )
        )
        parts.append(
            users.group_by("period").aggregate(
                coupon_buyers=users.count(),
                coupon_repeat_buyers=(users.orders > 1).cast("int64").sum(),
                coupon_users_orders=users.orders.sum(),
                coupon_users_revenue=money_sum(users.amount),
            )
        )
    return _combine(parts)


def _cost_counts(costs: ir.Table, period: Period) -> ir.Table:
    kind = costs.kind.lower() if "kind" in costs.columns else ibis.literal("media")
    c = costs.mutate(_kind=kind)
    return _per_period(
        c,
        "date",
        period,
        media_cost=lambda t: money_sum(ibis.ifelse(t._kind == "media", t.cost, 0.0)),
        coupon_cost=lambda t: money_sum(ibis.ifelse(t._kind == "coupon", t.cost, 0.0)),
        points_cost=lambda t: money_sum(ibis.ifelse(t._kind == "points", t.cost, 0.0)),
        other_cost=lambda t: money_sum(ibis.ifelse(t._kind.isin(("media", "coupon", "points")), 0.0, t.cost)),
    )


def _combine(parts: list[ir.Table]) -> ir.Table:
    """Per-period tables with different metric columns -> one row per period with all of them
    (a metric a part lacks counts 0 there): a union of aligned parts, summed per period."""
    types = {c: p.schema()[c] for p in parts for c in p.columns if c != "period"}
    aligned = [
        p.select("period", **{c: (p[c] if c in p.columns else ibis.literal(0)).cast(t) for c, t in types.items()})
        for p in parts
    ]
    union = ibis.union(*aligned)
    return union.group_by("period").aggregate(**{c: union[c].sum() for c in types})


def summarise_member_value(orders: ir.Table) -> ir.Table:
    """Per member: historic CLV (total spend), orders, AOV, first and last order."""
    per = orders.group_by("customer_id").aggregate(
        historic_clv=money_sum(orders.amount),
        orders=orders.order_id.nunique(),
        first_order_at=orders.ordered_at.min(),
        last_order_at=orders.ordered_at.max(),
    )
    return per.mutate(average_order_value=ratio(per.historic_clv, per.orders))
