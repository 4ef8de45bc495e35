"""Simulate one chunk of members end to end and return its rows of every output table.

A chunk is a contiguous range of member indices. Its random numbers come from its own
generator, derived from the user's seed and the chunk number, so a chunk's content depends
only on the arguments and its number, never on other chunks; only the running order number is
carried from one chunk to the next.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pyarrow as pa

from memberlens.demo import _tables as T
from memberlens.demo._baskets import (
    Lines,
    allocate_to_lines,
    build_lines,
    draw_cancellations,
    draw_coupon_cents,
    make_super_orders,
)
from memberlens.demo._catalogue import (
    ORDER_HOURS,
    Catalogue,
    country_names,
    country_shares,
    region_names,
)
from memberlens.demo._crm import (
    CAMPAIGN_CHANNELS,
    ENGAGEMENT_CHANNELS,
    EVENT_TYPES,
    RISK_LEVELS,
    TIERS,
    VELOCITIES,
    Campaign,
    Events,
    History,
    Registry,
    Sends,
    assign_tiers,
    build_customer_360,
    draw_registry,
    send_campaigns,
    simulate_events,
    summarise_events,
)
from memberlens.demo._story import (
    DAY,
    Calendar,
    StoryParameters,
    draw_from_weights,
    draw_join_days,
    group_ends,
    simulate_purchases,
    time_of_day,
)

ORDER_CHANNELS = ("web", "app", "store")
_MEMBER_CHANNEL_SHARES = np.array([0.55, 0.30, 0.15])
_GUEST_CHANNEL_SHARES = np.array([0.60, 0.05, 0.35])
_KEEP_PREFERRED_CHANNEL = 0.8
_FUTURE_DAYS = 730  # horizon of the expected future value behind estimated_customer_ltv
FIRST_ORDER_NUMBER = 100_001


@dataclass(frozen=True)
class Setup:
    """Everything shared by all chunks of one data set."""

    seed: int
    params: StoryParameters
    calendar: Calendar
    catalogue: Catalogue
    campaigns: list[Campaign]
    is_buyer: np.ndarray  # over all members
    id_width: int

    @property
    def n_members(self) -> int:
        """Number of registered members (buyers and never-buyers)."""
        return self.is_buyer.size


@dataclass
class CostTally:
    """A chunk's contribution to the marketing costs (integer cents, by month of the period).

    Attributes
    ----------
    sends
        Number of sends per campaign.
    campaign_coupons
        Coupon cents redeemed through campaigns, by month × campaign channel.
    other_coupons
        Coupon cents of orders not credited to a coupon campaign, by month.
    member_revenue
        Net revenue of members' orders, by month (points are earned on it).
    """

    sends: np.ndarray
    campaign_coupons: np.ndarray
    other_coupons: np.ndarray
    member_revenue: np.ndarray


@dataclass
class ChunkResult:
    """The rows a chunk contributes to each table, and what the next chunks need to know."""

    tables: dict[str, pa.Table]
    orders_used: int
    buyers: int
    costs: CostTally


@dataclass(frozen=True)
class _Members:
    index: np.ndarray
    is_buyer: np.ndarray
    join_s: np.ndarray
    country: np.ndarray
    channel: np.ndarray
    purchase_rate: np.ndarray
    dropout_probability: np.ndarray
    spend_rate: np.ndarray


@dataclass
class _Orders:
    """Orders of the chunk; the first ``n_identified`` belong to members, sorted by member."""

    owner: np.ndarray  # member position, -1 for guests
    seconds: np.ndarray
    channel: np.ndarray
    country: np.ndarray
    value: np.ndarray
    n_identified: int


def chunk_generator(seed: int, chunk: int) -> np.random.Generator:
    """The random generator of chunk number ``chunk``."""
    return np.random.default_rng(np.random.SeedSequence(seed, spawn_key=(1, chunk)))


def _draw_members(rng: np.random.Generator, setup: Setup, lo: int, hi: int) -> _Members:
    """Join times, countries, preferred channels and latent BG/NBD + spend traits."""
    params, n = setup.params, hi - lo
    index = np.arange(lo, hi)
    join_day = draw_join_days(rng, index, setup.n_members, setup.calendar)
    return _Members(
        index=index,
        is_buyer=setup.is_buyer[lo:hi],
        join_s=join_day * DAY + time_of_day(rng, n, ORDER_HOURS),
        country=draw_from_weights(rng, country_shares(), n),
        channel=draw_from_weights(rng, _MEMBER_CHANNEL_SHARES, n),
        purchase_rate=rng.gamma(params.r, 1.0 / params.alpha, n),
        dropout_probability=rng.beta(params.a, params.b, n),
        spend_rate=rng.gamma(params.q, 1.0 / params.gamma, n),
    )


def _draw_orders(rng: np.random.Generator, setup: Setup, members: _Members) -> tuple[_Orders, np.ndarray]:
    """Members' purchases plus guest orders; returns the orders and members' dropout times."""
    params, calendar = setup.params, setup.calendar
    buyers = np.flatnonzero(members.is_buyer)
    purchases = simulate_purchases(
        rng,
        members.join_s[buyers],
        members.purchase_rate[buyers],
        members.dropout_probability[buyers],
        calendar,
        ORDER_HOURS,
    )
    dropped_out_s = np.full(members.index.size, -1, dtype=np.int64)
    dropped_out_s[buyers] = purchases.dropped_out_at
    owner = buyers[purchases.owner]
    switch = rng.random(owner.size) >= _KEEP_PREFERRED_CHANNEL
    any_channel = rng.integers(0, len(ORDER_CHANNELS), owner.size)
    channel = np.where(switch, any_channel, members.channel[owner])
    value = rng.gamma(params.p, 1.0 / members.spend_rate[owner])

    n_guest = int(round(owner.size * params.guest_line_share / (1 - params.guest_line_share)))
    guest_day = np.searchsorted(calendar.acquisition_cdf, rng.random(n_guest), side="right")
    guest_day = np.minimum(guest_day, calendar.n_days - 1)
    guest_s = guest_day * DAY + time_of_day(rng, n_guest, ORDER_HOURS)
    guest_value = rng.gamma(params.p, 1.0 / rng.gamma(params.q, 1.0 / params.gamma, n_guest))
    orders = _Orders(
        owner=np.concatenate([owner, np.full(n_guest, -1)]),
        seconds=np.concatenate([purchases.seconds, guest_s]),
        channel=np.concatenate([channel, draw_from_weights(rng, _GUEST_CHANNEL_SHARES, n_guest)]),
        country=np.concatenate([members.country[owner], draw_from_weights(rng, country_shares(), n_guest)]),
        value=np.concatenate([value, guest_value]),
        n_identified=owner.size,
    )
    return orders, dropped_out_s


def _choose_super_orders(
    rng: np.random.Generator, orders: _Orders, n_lines: int, rate: float, at_least: int
) -> np.ndarray:
    """Positions of the orders that become bulk super orders, placed by repeat customers."""
    wanted = max(at_least, int(rng.poisson(rate * n_lines)))
    owners = orders.owner[: orders.n_identified]
    repeat = np.bincount(owners, minlength=owners.max(initial=0) + 1)[owners] >= 2
    candidates = np.flatnonzero(repeat)
    if candidates.size < wanted:
        candidates = np.arange(orders.n_identified)
    return np.sort(rng.choice(candidates, size=min(wanted, candidates.size), replace=False))


def _coupons(
    rng: np.random.Generator,
    setup: Setup,
    gross: np.ndarray,
    is_super: np.ndarray,
    sends: Sends,
) -> tuple[np.ndarray, np.ndarray]:
    """Coupon cents per order, and the campaign (or -1) each coupon came from.

    A share of orders gets a site-wide coupon; an order credited to a coupon campaign gets the
    campaign's percentage instead. Super orders get none.
    """
    n = gross.size
    coupon = np.zeros(n, dtype=np.int64)
    site_wide = (rng.random(n) < setup.params.coupon_order_share) & ~is_super
    coupon[site_wide] = draw_coupon_cents(rng, gross[site_wide])
    source = np.full(n, -1)
    percent = np.array([c.coupon_percent for c in setup.campaigns])
    credited = sends.order >= 0
    with_coupon = credited & (percent[sends.campaign] > 0) & ~is_super[np.maximum(sends.order, 0)]
    order, campaign = sends.order[with_coupon], sends.campaign[with_coupon]
    cents = np.rint(gross[order] * percent[campaign] / 100).astype(np.int64)
    coupon[order] = np.clip(cents, 1, np.maximum(1, gross[order] // 2))
    source[order] = campaign
    return coupon, source


def _chronological_numbers(orders: _Orders, first_number: int) -> np.ndarray:
    """Order numbers issued in time order within the chunk, starting at ``first_number``."""
    by_time = np.lexsort((np.arange(orders.seconds.size), orders.seconds))
    number = np.empty(by_time.size, dtype=np.int64)
    number[by_time] = first_number + np.arange(by_time.size)
    return number


def _orders_table(
    setup: Setup,
    orders: _Orders,
    lines: Lines,
    line_coupon: np.ndarray,
    order_number: np.ndarray,
    cancel_line: np.ndarray,
    cancel_qty: np.ndarray,
    cancel_s: np.ndarray,
    ids: pa.Array,
) -> pa.Table:
    """Sales lines and cancellation lines of the chunk, in time order."""
    line_coupon_cancel = -np.rint(line_coupon[cancel_line] * cancel_qty / lines.quantity[cancel_line]).astype(np.int64)
    order = np.concatenate([lines.order, lines.order[cancel_line]])
    seconds = np.concatenate([orders.seconds[lines.order], cancel_s])
    is_cancel = np.concatenate([np.zeros(lines.order.size, bool), np.ones(cancel_line.size, bool)])
    position = np.concatenate([np.arange(lines.order.size), cancel_line])
    sort = np.lexsort((position, is_cancel, order_number[order], seconds))
    order, seconds = order[sort], seconds[sort]
    is_cancel, position = is_cancel[sort], position[sort]
    quantity = np.concatenate([lines.quantity, -cancel_qty])[sort]
    coupon = np.concatenate([line_coupon, line_coupon_cancel])[sort]
    product = lines.product[position]
    owner = orders.owner[order]
    catalogue = setup.catalogue
    return T.make_table(
        "orders",
        {
            "order_id": T.numbers_as_strings(order_number[order], is_cancel),
            "ordered_at": T.timestamps(setup.calendar.start, seconds),
            "customer_id": ids.take(pa.array(owner, mask=owner < 0)),
            "product_id": T.labels(catalogue.product_id, product),
            "product_name": T.labels(catalogue.name, product),
            "quantity": quantity,
            "unit_price": lines.price[position],
            "country": T.labels(country_names(), orders.country[order]),
            "channel": T.labels(ORDER_CHANNELS, orders.channel[order]),
            "coupon_amount": T.money(coupon),
            "is_cancellation": is_cancel,
        },
    )


def _history(
    members: _Members,
    orders: _Orders,
    order_net: np.ndarray,
    cancelled_cents: np.ndarray,
    cancelled_order: np.ndarray,
    dropped_out_s: np.ndarray,
    events_summary: dict[str, np.ndarray],
    params: StoryParameters,
) -> History:
    """Summarise each member's orders and events at the end of the period."""
    n = members.index.size
    k = orders.n_identified
    owner = orders.owner[:k]
    spend_cents = np.bincount(owner, order_net[:k], minlength=n) - np.bincount(owner, cancelled_cents[:k], minlength=n)
    last_order = np.full(n, -1, dtype=np.int64)
    ends = group_ends(owner)
    last_order[owner[ends]] = orders.seconds[:k][ends]
    alive = members.is_buyer & (dropped_out_s < 0)
    expected_orders = np.minimum(members.purchase_rate * _FUTURE_DAYS, 1.0 / members.dropout_probability)
    return History(
        n_orders=np.bincount(owner, minlength=n),
        spend=spend_cents / 100.0,
        last_order_s=last_order,
        last_event_s=events_summary["last"],
        events_recent=events_summary["recent"],
        events_before=events_summary["before"],
        events_monthly_cv=events_summary["cv"],
        engagement_year=events_summary["engagement"],
        had_cancellation=np.bincount(owner, cancelled_order[:k], minlength=n) > 0,
        alive=alive,
        expected_future_value=alive * expected_orders * params.p / members.spend_rate,
    )


def simulate_chunk(setup: Setup, chunk: int, lo: int, hi: int, first_order_number: int) -> ChunkResult:
    """Simulate members ``lo..hi-1`` (chunk number ``chunk``) and everything they do."""
    rng = chunk_generator(setup.seed, chunk)
    params, calendar, catalogue = setup.params, setup.calendar, setup.catalogue
    end_s = calendar.end_seconds
    members = _draw_members(rng, setup, lo, hi)
    n = members.index.size
    ids = T.customer_ids(members.index, setup.id_width)

    # orders and their lines
    orders, dropped_out_s = _draw_orders(rng, setup, members)
    n_orders = orders.seconds.size
    lines = build_lines(rng, orders.value, catalogue)
    super_orders = _choose_super_orders(
        rng, orders, lines.order.size, params.super_orders_per_line, 2 if chunk == 0 else 0
    )
    lines = make_super_orders(rng, lines, super_orders, catalogue)
    is_super = np.zeros(n_orders, dtype=bool)
    is_super[super_orders] = True
    line_gross = lines.gross_cents()
    gross = np.bincount(lines.order, line_gross, minlength=n_orders).astype(np.int64)

    # members, campaigns and coupons
    registry = draw_registry(rng, members.is_buyer, members.join_s, dropped_out_s, members.country, calendar)
    k = orders.n_identified
    sends = send_campaigns(rng, setup.campaigns, registry, orders.owner[:k], orders.seconds[:k])
    coupon, coupon_source = _coupons(rng, setup, gross, is_super, sends)
    line_coupon = allocate_to_lines(coupon, lines.order, line_gross)
    net = gross - coupon

    # cancellations
    cancels = draw_cancellations(
        rng, lines, orders.seconds, end_s, params.cancelled_order_share, params.cancelled_line_share
    )
    cancel_line_cents = np.rint(cancels.quantity * lines.price[cancels.line] * 100).astype(np.int64)
    cancel_coupon = np.rint(line_coupon[cancels.line] * cancels.quantity / lines.quantity[cancels.line]).astype(
        np.int64
    )
    cancelled_cents = np.bincount(lines.order[cancels.line], cancel_line_cents - cancel_coupon, minlength=n_orders)
    cancelled_order = np.bincount(lines.order[cancels.line], minlength=n_orders) > 0

    # events and the member-level summaries
    events = simulate_events(
        rng,
        is_buyer=members.is_buyer,
        purchase_rate=members.purchase_rate,
        dropped_out_s=dropped_out_s,
        registry=registry,
        order_owner=orders.owner[:k],
        order_s=orders.seconds[:k],
        order_online=orders.channel[:k] != ORDER_CHANNELS.index("store"),
        calendar=calendar,
    )
    history = _history(
        members,
        orders,
        net,
        cancelled_cents,
        cancelled_order,
        dropped_out_s,
        summarise_events(events, n, end_s),
        params,
    )
    tier = assign_tiers(rng, history.spend)
    weight = calendar.day_weight
    profile = build_customer_360(
        rng,
        is_buyer=members.is_buyer,
        tier=tier,
        registry=registry,
        history=history,
        end_s=end_s,
        seasonal_ratio=float(weight[-90:].sum() / weight[-180:-90].sum()),
    )

    order_number = _chronological_numbers(orders, first_order_number)
    tables = {
        "orders": _orders_table(
            setup,
            orders,
            lines,
            line_coupon,
            order_number,
            cancels.line,
            cancels.quantity,
            cancels.seconds,
            ids,
        ),
        "members": _members_table(setup, members, registry, tier, ids),
        "events": _events_table(setup, events, ids),
        "campaigns": _campaigns_table(setup, sends, orders, net, ids),
        "customer_360": _customer_360_table(profile, ids),
        "truth": _truth_table(setup, members, orders, dropped_out_s, is_super, ids),
    }
    costs = _tally_costs(setup, orders, coupon, coupon_source, net, sends)
    return ChunkResult(tables, n_orders, int(members.is_buyer.sum()), costs)


# --------------------------------------------------------------------------------------------
# Member-side tables
# --------------------------------------------------------------------------------------------


def _members_table(setup: Setup, members: _Members, registry: Registry, tier: np.ndarray, ids: pa.Array) -> pa.Table:
    start = setup.calendar.start
    return T.make_table(
        "members",
        {
            "customer_id": ids,
            "registered_at": T.timestamps(start, registry.registered_s),
            "activated_at": T.timestamps(start, registry.activated_s),
            "tier": T.labels(TIERS, tier),
            "region": T.labels(region_names(), registry.region),
            "marketable": registry.has_contact & (registry.unsubscribed_s < 0),
            "unsubscribed_at": T.timestamps(start, registry.unsubscribed_s),
        },
    )


def _events_table(setup: Setup, events: Events, ids: pa.Array) -> pa.Table:
    return T.make_table(
        "events",
        {
            "customer_id": ids.take(pa.array(events.owner)),
            "occurred_at": T.timestamps(setup.calendar.start, events.seconds),
            "event_type": T.labels(EVENT_TYPES, events.event_type),
            "engagement": events.engagement,
        },
    )


def _campaigns_table(setup: Setup, sends: Sends, orders: _Orders, net: np.ndarray, ids: pa.Array) -> pa.Table:
    campaigns = setup.campaigns
    responded = sends.order >= 0
    credited = np.maximum(sends.order, 0)
    sent_s = np.array([c.sent_s for c in campaigns], dtype=np.int64)[sends.campaign]
    coupon_ids = [c.coupon_id for c in campaigns]
    return T.make_table(
        "campaigns",
        {
            "campaign_id": T.labels([c.campaign_id for c in campaigns], sends.campaign),
            "customer_id": ids.take(pa.array(sends.owner)),
            "sent_at": T.timestamps(setup.calendar.start, sent_s),
            "channel": T.labels([c.channel for c in campaigns], sends.campaign),
            "cost": np.array([c.cost_per_send for c in campaigns])[sends.campaign],
            "coupon_id": pa.array(coupon_ids, type=pa.string()).take(pa.array(sends.campaign)),
            "responded": responded,
            "converted_at": T.timestamps(setup.calendar.start, np.where(responded, orders.seconds[credited], -1)),
            "revenue": T.money(np.where(responded, net[credited], 0)),
        },
    )


def _customer_360_table(profile: dict[str, np.ndarray], ids: pa.Array) -> pa.Table:
    columns: dict[str, object] = {"customer_id": ids}
    for name, values in profile.items():
        columns[name] = values
    columns["marketing_to_sales_days"] = T.nullable_ints(profile["marketing_to_sales_days"])
    columns["sales_to_support_days"] = T.nullable_ints(profile["sales_to_support_days"])
    columns["customer_tier"] = T.labels(TIERS, profile["customer_tier"])
    columns["primary_engagement_channel"] = T.labels(ENGAGEMENT_CHANNELS, profile["primary_engagement_channel"])
    columns["region"] = T.labels(region_names(), profile["region"])
    columns["activity_risk_level"] = T.labels(RISK_LEVELS, profile["activity_risk_level"])
    columns["engagement_velocity"] = T.labels(VELOCITIES, profile["engagement_velocity"])
    return T.make_table("customer_360", columns)


def _truth_table(
    setup: Setup,
    members: _Members,
    orders: _Orders,
    dropped_out_s: np.ndarray,
    is_super: np.ndarray,
    ids: pa.Array,
) -> pa.Table:
    buyers = np.flatnonzero(members.is_buyer)
    n = members.index.size
    owner = orders.owner[: orders.n_identified]
    p = setup.params.p
    return T.make_table(
        "truth",
        {
            "customer_id": ids.take(pa.array(buyers)),
            "acquired_at": T.timestamps(setup.calendar.start, members.join_s[buyers]),
            "purchase_rate_per_day": members.purchase_rate[buyers],
            "dropout_probability": members.dropout_probability[buyers],
            "dropped_out_at": T.timestamps(setup.calendar.start, dropped_out_s[buyers]),
            "spend_shape_p": np.full(buyers.size, p),
            "spend_rate_nu": members.spend_rate[buyers],
            "expected_order_value": p / members.spend_rate[buyers],
            "purchases": np.bincount(owner, minlength=n)[buyers],
            "bulk_orders": np.bincount(owner, is_super[: orders.n_identified], minlength=n)[buyers].astype(np.int64),
        },
    )


def _tally_costs(
    setup: Setup,
    orders: _Orders,
    coupon: np.ndarray,
    coupon_source: np.ndarray,
    net: np.ndarray,
    sends: Sends,
) -> CostTally:
    calendar, campaigns = setup.calendar, setup.campaigns
    n_months = calendar.month_starts.size
    month = calendar.month_of_day[orders.seconds // DAY]
    channel_of = np.array([CAMPAIGN_CHANNELS.index(c.channel) for c in campaigns])
    from_campaign = coupon_source >= 0
    campaign_coupons = np.zeros((n_months, len(CAMPAIGN_CHANNELS)), dtype=np.int64)
    np.add.at(
        campaign_coupons,
        (month[from_campaign], channel_of[coupon_source[from_campaign]]),
        coupon[from_campaign],
    )
    members_orders = orders.owner >= 0
    return CostTally(
        sends=np.bincount(sends.campaign, minlength=len(campaigns)),
        campaign_coupons=campaign_coupons,
        other_coupons=np.bincount(month[~from_campaign], coupon[~from_campaign], minlength=n_months).astype(np.int64),
        member_revenue=np.bincount(month[members_orders], net[members_orders], minlength=n_months).astype(np.int64),
    )
