"""Member-side tables of the demo: registry, web/app events, campaigns and the customer 360.

The functions here work on one chunk of members at a time. Member arrays are indexed by the
member's position in the chunk; ``-1`` stands for a missing timestamp (null when written).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from memberlens.demo._catalogue import (
    EVENT_HOURS,
    region_of_country,
    uk_region_shares,
)
from memberlens.demo._story import (
    DAY,
    Calendar,
    days_to_seconds,
    draw_from_weights,
    thinned_poisson,
)

TIERS = ("Basic", "Bronze", "Silver", "Gold", "Platinum")
_TIER_SPEND = np.array([100.0, 300.0, 800.0, 2500.0])  # spend thresholds of Bronze..Platinum

EVENT_TYPES = ("visit", "search", "download")
_EVENT_TYPE_SHARES = np.array([0.72, 0.22, 0.06])

CAMPAIGN_CHANNELS = ("sms", "email", "app_push", "social")
_COST_PER_SEND = {"sms": 0.045, "email": 0.003, "app_push": 0.001, "social": 0.12}
RESPONSE_WINDOW = 14 * DAY
_ATTRIBUTION_SHARE = 0.85  # share of in-window orders credited to the campaign

ENGAGEMENT_CHANNELS = ("Email", "Event", "Social Media", "Paid Search", "Webinar", "Organic Search")
_ENGAGEMENT_CHANNEL_SHARES = np.array([0.31, 0.31, 0.31, 0.03, 0.025, 0.015])
RISK_LEVELS = ("Very Low", "Low", "Medium", "High", "Critical")
_RISK_DAYS = np.array([14, 60, 180, 365])  # days since last activity bounding each level
VELOCITIES = ("Accelerating", "Stable", "Declining", "Volatile")

#: Mean health by activity_risk_level (rows) × engagement_velocity (columns).
_RISK_VELOCITY_HEALTH = np.array(
    [
        [37.75, 73.00, 74.76, 65.14],  # Very Low
        [73.45, 83.09, 58.29, 74.36],  # Low
        [72.47, 88.71, 70.99, 61.44],  # Medium
        [67.97, 72.11, 66.78, 74.64],  # High
        [63.32, 77.22, 72.03, 65.47],  # Critical
    ]
)
#: Health by in_marketo × in_stripe × in_zendesk (index 4m + 2s + z), after a reference
#: customer-360 analysis (68.4, 66.2, 82.7, 72.9, 67.7, 40.9, 73.5, 67.9), with stripe's lift
#: evened out so it shows whatever the marketo flag.
_PLATFORM_HEALTH = np.array([68.0, 64.0, 80.0, 72.0, 67.0, 41.0, 76.0, 68.0])
_PLATFORM_REFERENCE = 74.0
#: The default explorer cohort's LTV lift within its tier (Basic, Bronze, Silver, Gold, Platinum):
#: the reference analysis's lifts (1.77, 1.53, 0.99, 1.03, 1.32) with the middle tiers raised so
#: that every tier shows it.
_COHORT_LTV_LIFT = np.array([1.75, 1.55, 1.50, 1.50, 1.50])


# --------------------------------------------------------------------------------------------
# Members
# --------------------------------------------------------------------------------------------


@dataclass
class Registry:
    """Registration facts of a chunk's members (seconds since the start, -1 for null)."""

    registered_s: np.ndarray
    activated_s: np.ndarray
    has_contact: np.ndarray
    unsubscribed_s: np.ndarray
    region: np.ndarray


def draw_registry(
    rng: np.random.Generator,
    is_buyer: np.ndarray,
    join_s: np.ndarray,
    dropped_out_s: np.ndarray,
    country: np.ndarray,
    calendar: Calendar,
) -> Registry:
    """Registration, activation, contactability, unsubscription and region of each member.

    Buyers register at checkout (55 %, minutes before the first purchase) or earlier, and are
    activated between registration and the first purchase. Half of the never-buyers never
    activate (about 15 % of all members). A fifth of the contactable buyers who dropped out
    unsubscribe some weeks after their last purchase.
    """
    n = is_buyer.size
    end = calendar.end_seconds
    at_checkout = rng.random(n) < 0.55
    lag = np.where(at_checkout, rng.integers(60, 1200, n), rng.exponential(30 * DAY, n).astype(np.int64))
    lag = np.where(lag > join_s, (rng.random(n) * join_s).astype(np.int64), lag)
    lag = np.where(is_buyer, lag, 0)
    registered = join_s - lag

    to_activation = np.where(
        is_buyer,
        (rng.random(n) * np.minimum(lag, 3 * DAY)).astype(np.int64),
        rng.exponential(2 * DAY, n).astype(np.int64),
    )
    activated = registered + to_activation
    never_activates = ~is_buyer & ((rng.random(n) < 0.5) | (activated >= end))
    activated = np.where(never_activates, -1, activated)

    has_contact = rng.random(n) < 0.88
    unsubscribe_after = (
        np.where(dropped_out_s >= 0, dropped_out_s, registered + rng.exponential(120 * DAY, n)).astype(np.int64)
        + 1
        + rng.exponential(45 * DAY, n).astype(np.int64)
    )
    unsubscribes = (
        has_contact
        & (unsubscribe_after < end)
        & (rng.random(n) < np.where(dropped_out_s >= 0, 0.20, np.where(is_buyer, 0.0, 0.05)))
    )
    unsubscribed = np.where(unsubscribes, unsubscribe_after, -1)

    uk_region = draw_from_weights(rng, uk_region_shares(), n)
    world_region = region_of_country()[country]
    region = np.where(world_region < 0, uk_region, world_region)
    return Registry(registered, activated, has_contact, unsubscribed, region)


def assign_tiers(rng: np.random.Generator, spend: np.ndarray) -> np.ndarray:
    """Tier index (0 = Basic .. 4 = Platinum) from spend, blurred by +-25 % noise."""
    blurred = spend * np.exp(rng.normal(0.0, 0.25, spend.size))
    return np.searchsorted(_TIER_SPEND, blurred, side="right")


# --------------------------------------------------------------------------------------------
# Events
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Events:
    """Web/app events of a chunk, sorted by time."""

    owner: np.ndarray
    seconds: np.ndarray
    event_type: np.ndarray
    engagement: np.ndarray


def simulate_events(
    rng: np.random.Generator,
    *,
    is_buyer: np.ndarray,
    purchase_rate: np.ndarray,
    dropped_out_s: np.ndarray,
    registry: Registry,
    order_owner: np.ndarray,
    order_s: np.ndarray,
    order_online: np.ndarray,
    calendar: Calendar,
) -> Events:
    """Visits, searches and downloads that follow the purchase story.

    Only activated members are tracked. A buyer browses at a rate proportional to their
    purchase rate from activation until dropout, for a couple of weeks after it at a lower
    rate, and then stops, apart from a few "lurkers" who drop by rarely. Every web/app order
    (``order_online``) is preceded by a visit. Activated never-buyers browse for a few weeks
    after activation. Engagement is page views (>= 1).
    """
    n = is_buyer.size
    end_day = float(calendar.n_days)
    buyers = np.flatnonzero(is_buyer)
    dropped = buyers[dropped_out_s[buyers] >= 0]
    visit_rate = 2.0 * purchase_rate * np.exp(rng.normal(0.0, 0.4, n)) + 0.003

    alive_until = np.where(dropped_out_s >= 0, dropped_out_s / DAY, end_day)
    tail_end = np.minimum(alive_until + rng.exponential(14.0, n), end_day)
    lurker_rate = np.minimum(0.05 * visit_rate, 0.004) * (rng.random(n) < 0.15)
    browsers = np.flatnonzero(~is_buyer & (registry.activated_s >= 0))
    browse_days = rng.exponential(60.0, n)
    segments = (
        (buyers, registry.activated_s[buyers] / DAY, alive_until[buyers], visit_rate[buyers]),
        (dropped, alive_until[dropped], tail_end[dropped], 0.6 * visit_rate[dropped]),
        (dropped, tail_end[dropped], np.full(dropped.size, end_day), lurker_rate[dropped]),
        (
            browsers,
            registry.activated_s[browsers] / DAY,
            np.minimum(registry.activated_s[browsers] / DAY + browse_days[browsers], end_day),
            0.04 * np.exp(rng.normal(0.0, 0.5, browsers.size)),
        ),
    )
    seg_owner = np.concatenate([s[0] for s in segments])
    which, t = thinned_poisson(
        rng,
        np.concatenate([s[1] for s in segments]),
        np.concatenate([s[2] for s in segments]),
        np.concatenate([s[3] for s in segments]),
        calendar,
    )
    owner = seg_owner[which]
    seconds = days_to_seconds(rng, t, registry.activated_s[owner], EVENT_HOURS)
    event_type = draw_from_weights(rng, _EVENT_TYPE_SHARES, owner.size)

    pre_order_owner = order_owner[order_online]
    pre_order_s = np.maximum(
        order_s[order_online] - rng.integers(60, 1800, pre_order_owner.size),
        registry.activated_s[pre_order_owner],
    )
    owner = np.concatenate([owner, pre_order_owner])
    seconds = np.minimum(np.concatenate([seconds, pre_order_s]), calendar.end_seconds - 1)
    event_type = np.concatenate([event_type, np.zeros(pre_order_owner.size, dtype=np.int64)])

    page_views = 2.5 * np.exp(rng.normal(0.0, 0.4, n))
    engagement = 1 + rng.poisson(np.where(event_type == 2, 0.3, page_views[owner]))
    order = np.lexsort((owner, seconds))
    return Events(owner[order], seconds[order], event_type[order], engagement[order])


# --------------------------------------------------------------------------------------------
# Campaigns
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Campaign:
    """One marketing send."""

    campaign_id: str
    sent_s: int
    channel: str
    cost_per_send: float
    coupon_id: str | None
    coupon_percent: int
    audience_share: float


def plan_campaigns(rng: np.random.Generator, calendar: Calendar, years: int) -> list[Campaign]:
    """Plan 6..12 campaigns, one in each equal slot of the period, the last 2 weeks excluded.

    Each goes to a random 10..25 % of the members who can be reached on the day; about 60 %
    carry a percentage coupon.
    """
    n = int(min(12, max(6, 4 * years)))
    slots = np.linspace(0, calendar.n_days - 15, n + 1).astype(np.int64)
    campaigns = []
    for k in range(n):
        day = int(rng.integers(slots[k], max(slots[k] + 1, slots[k + 1])))
        date = (calendar.start + np.timedelta64(day, "D")).astype("datetime64[D]")
        channel = CAMPAIGN_CHANNELS[int(rng.integers(0, len(CAMPAIGN_CHANNELS)))]
        hour = int(rng.choice([9, 10, 12, 18]))
        with_coupon = bool(rng.random() < 0.6)
        percent = int(rng.choice([10, 15, 20]))
        stamp = str(date).replace("-", "")
        campaigns.append(
            Campaign(
                campaign_id=f"CMP{stamp}",
                sent_s=day * DAY + hour * 3600,
                channel=channel,
                cost_per_send=_COST_PER_SEND[channel],
                coupon_id=f"CPN{stamp[2:]}-{percent}" if with_coupon else None,
                coupon_percent=percent if with_coupon else 0,
                audience_share=float(rng.uniform(0.10, 0.25)),
            )
        )
    return campaigns


@dataclass(frozen=True)
class Sends:
    """Campaign sends of a chunk: one row per (campaign, member) sent.

    ``order`` is the position of the order credited to the send, -1 if none.
    """

    campaign: np.ndarray
    owner: np.ndarray
    order: np.ndarray


def send_campaigns(
    rng: np.random.Generator,
    campaigns: list[Campaign],
    registry: Registry,
    order_owner: np.ndarray,
    order_s: np.ndarray,
) -> Sends:
    """Send the campaigns to random reachable members and credit orders to them.

    A send is credited with the member's first order in the 14 days after it (85 % of the
    time): the response probability is therefore that of buying soon, which is high for
    members who are alive and buy often, and zero for those who dropped out or never buy.
    ``order_owner``/``order_s`` must be sorted by owner then time (guests excluded).
    """
    span = int(max(order_s.max(initial=0), max(c.sent_s for c in campaigns)) + RESPONSE_WINDOW + 1)
    key = order_owner.astype(np.int64) * span + order_s
    out_campaign, out_owner, out_order = [], [], []
    for c, campaign in enumerate(campaigns):
        reachable = (
            (registry.registered_s <= campaign.sent_s)
            & registry.has_contact
            & ((registry.unsubscribed_s < 0) | (registry.unsubscribed_s > campaign.sent_s))
        )
        owner = np.flatnonzero(reachable & (rng.random(reachable.size) < campaign.audience_share))
        nxt = np.searchsorted(key, owner * span + campaign.sent_s, side="right")
        found = nxt < key.size
        nxt_safe = np.minimum(nxt, max(key.size - 1, 0))
        if key.size:
            found &= order_owner[nxt_safe] == owner
            found &= order_s[nxt_safe] <= campaign.sent_s + RESPONSE_WINDOW
        found &= rng.random(owner.size) < _ATTRIBUTION_SHARE
        out_campaign.append(np.full(owner.size, c))
        out_owner.append(owner)
        out_order.append(np.where(found, nxt_safe, -1))
    return Sends(np.concatenate(out_campaign), np.concatenate(out_owner), np.concatenate(out_order))


# --------------------------------------------------------------------------------------------
# Customer 360
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class History:
    """What a chunk's members did, summarised at the end of the period.

    Monetary values are in currency units; ``-1`` means never.
    """

    n_orders: np.ndarray
    spend: np.ndarray
    last_order_s: np.ndarray
    last_event_s: np.ndarray
    events_recent: np.ndarray  # events in the last 90 days
    events_before: np.ndarray  # events in the 90 days before those
    events_monthly_cv: np.ndarray  # coefficient of variation over the last six 30-day bins
    engagement_year: np.ndarray  # page views in the last 365 days
    had_cancellation: np.ndarray
    alive: np.ndarray
    expected_future_value: np.ndarray  # expected spend in the next two years


def summarise_events(events: Events, n: int, end_s: int) -> dict[str, np.ndarray]:
    """Per-member recent event counts, six-month volatility, yearly page views, last event."""
    age_days = (end_s - events.seconds) // DAY
    recent = np.bincount(events.owner[age_days < 90], minlength=n)
    before = np.bincount(events.owner[(age_days >= 90) & (age_days < 180)], minlength=n)
    in_six = age_days < 180
    bins = np.zeros((n, 6))
    np.add.at(bins, (events.owner[in_six], age_days[in_six] // 30), 1)
    mean = bins.mean(axis=1)
    cv = np.divide(bins.std(axis=1), mean, out=np.zeros(n), where=mean > 0)
    year = age_days < 365
    engagement = np.bincount(events.owner[year], events.engagement[year], minlength=n)
    last = np.full(n, -1, dtype=np.int64)
    np.maximum.at(last, events.owner, events.seconds)
    return {"recent": recent, "before": before, "cv": cv, "engagement": engagement, "last": last}


def _quintile(rng: np.random.Generator, value: np.ndarray) -> np.ndarray:
    """Scores 1..5 by rank (ties broken at random)."""
    if value.size == 0:
        return np.zeros(0, dtype=np.int64)
    rank = np.lexsort((rng.random(value.size), value)).argsort()
    return 1 + (5 * rank) // value.size


def _logit_score(rng: np.random.Generator, value: np.ndarray) -> np.ndarray:
    """Composite engagement score: a symmetric transform of the rank of ``value``, mean 9."""
    rank = np.lexsort((rng.random(value.size), value)).argsort()
    u = (rank + 0.5) / max(value.size, 1)
    score = 9.0 + 1.4 * np.log(u / (1 - u)) + rng.normal(0.0, 1.0, value.size)
    return np.round(np.clip(score, 0.0, 18.0), 4)


def _risk_level(days_idle: np.ndarray) -> np.ndarray:
    """0 = Very Low .. 4 = Critical, from days since the member's last activity."""
    return np.searchsorted(_RISK_DAYS, days_idle, side="left")


def _velocity(history: History, seasonal_ratio: float) -> np.ndarray:
    """0 = Accelerating, 1 = Stable, 2 = Declining, 3 = Volatile, from the events trend.

    The trend compares the last 90 days with the 90 days before, after dividing out the
    seasonal ratio of the two windows (the last quarter of a calendar year is busier anyway).
    """
    recent, before = history.events_recent / seasonal_ratio, history.events_before
    accelerating = (recent >= 2) & (recent >= 1.5 * before + 1)
    never_seen = (recent == 0) & (before == 0) & (history.last_event_s < 0)
    declining = (2 * recent <= before) & ~never_seen
    volatile = (history.events_monthly_cv > 1.0) & (recent + before >= 4)
    return np.select([accelerating, declining, volatile], [0, 2, 3], default=1)


def build_customer_360(
    rng: np.random.Generator,
    *,
    is_buyer: np.ndarray,
    tier: np.ndarray,
    registry: Registry,
    history: History,
    end_s: int,
    seasonal_ratio: float,
) -> dict[str, np.ndarray]:
    """The customer-360 columns, loosely tied to each member's real history.

    Built-in effects (what a segment report should find):

    - members with ``marketing_to_sales_days`` 10..20, ``sales_to_support_days`` > 30 and an
      engagement score above the mean have a higher LTV than their tier;
    - in_stripe raises health, in_zendesk without stripe lowers it, marketo + zendesk without
      stripe much more;
    - Medium/Low risk with Stable velocity has the best health, Very Low + Accelerating the
      worst; a few risk × velocity and platform cells are small.
    """
    n = is_buyer.size
    buyers = np.flatnonzero(is_buyer)
    recency = np.where(history.last_order_s >= 0, end_s - history.last_order_s, end_s)
    rfm = np.ones((3, n), dtype=np.int64)
    rfm[0, buyers] = _quintile(rng, -recency[buyers])
    rfm[1, buyers] = _quintile(rng, history.n_orders[buyers])
    rfm[2, buyers] = _quintile(rng, history.spend[buyers])

    activity = np.log1p(history.engagement_year) + 0.5 * np.log1p(history.n_orders)
    engagement = _logit_score(rng, activity)
    to_sales = np.where(is_buyer, np.rint(rng.gamma(4.0, 4.0, n)), np.nan)
    to_support = np.where(is_buyer, np.rint(rng.gamma(1.6, 20.0, n)), np.nan)

    in_band = (to_sales >= 10) & (to_sales <= 20) & (to_support > 30)
    lift = 1 + (_COHORT_LTV_LIFT[tier] - 1) * in_band * np.where(engagement > 9.0, 1.0, 0.3)
    ltv = (history.spend + history.expected_future_value) * np.exp(rng.normal(0, 0.2, n))
    ltv = np.where(is_buyer, ltv, 10.0 * np.exp(rng.normal(0, 0.5, n))) * lift

    in_marketo = rng.random(n) < np.where(registry.has_contact, 0.75, 0.15)
    in_stripe = rng.random(n) < np.where(is_buyer, 0.97, 0.06)
    in_zendesk = rng.random(n) < np.where(is_buyer, 0.025 + 0.30 * history.had_cancellation, 0.06)
    zendesk_active = in_zendesk & (rng.random(n) < np.where(to_support > 30, 0.03, 0.35))

    last_active = np.maximum.reduce([history.last_order_s, history.last_event_s, registry.registered_s])
    risk = _risk_level((end_s - last_active) // DAY)
    velocity = _velocity(history, seasonal_ratio)
    platform = 4 * in_marketo + 2 * in_stripe + in_zendesk
    recent_order = (history.last_order_s >= 0) & (end_s - history.last_order_s < 90 * DAY)
    health = (
        _RISK_VELOCITY_HEALTH[risk, velocity]
        + _PLATFORM_HEALTH[platform]
        - _PLATFORM_REFERENCE
        + 2.0 * history.alive
        + 2.0 * recent_order
        + rng.normal(0.0, 5.0, n)
    )
    return {
        "marketing_to_sales_days": to_sales,
        "sales_to_support_days": to_support,
        "composite_engagement_score": engagement,
        "recency_score": rfm[0],
        "frequency_score": rfm[1],
        "monetary_score": rfm[2],
        "estimated_customer_ltv": np.round(ltv, 2),
        "customer_tier": tier,
        "primary_engagement_channel": draw_from_weights(rng, _ENGAGEMENT_CHANNEL_SHARES, n),
        "region": registry.region,
        "zendesk_active": zendesk_active,
        "in_marketo": in_marketo.astype(np.int64),
        "in_stripe": in_stripe.astype(np.int64),
        "in_zendesk": in_zendesk.astype(np.int64),
        "customer_health_score": np.round(np.clip(health, 0.0, 100.0), 1),
        "activity_risk_level": risk,
        "engagement_velocity": velocity,
    }
