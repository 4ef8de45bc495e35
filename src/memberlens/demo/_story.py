"""The buy-till-you-die story behind the demo orders: calendar, acquisition, purchases, dropout.

Times inside the generator are integer seconds since the start of the period (``int64``) or
fractional days since the start (``float64``) while sampling; they become timestamps only when
a table is written.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import numpy as np

from memberlens.demo._catalogue import MONTH_FACTOR, WEEKDAY_FACTOR

DAY = 86_400  # seconds


@dataclass(frozen=True)
class StoryParameters:
    """Population parameters of the generative story (the "truth" a model should recover).

    Attributes
    ----------
    r, alpha
        Purchase rate per day ``lambda ~ Gamma(shape=r, rate=alpha)``: mean ``r / alpha`` = 0.02
        orders a day (one every 50 days), strongly heterogeneous.
    a, b
        Dropout probability after each repeat purchase ``p ~ Beta(a, b)``, mean 0.2.
    p, q, gamma
        Gamma-Gamma spend: per customer ``nu ~ Gamma(shape=q, rate=gamma)``, each order's value
        ``~ Gamma(shape=p, rate=nu)``; mean order value ``p * gamma / (q - 1)`` ≈ 64.
    acquisition_growth
        Log growth of the acquisition intensity over the whole period (1.0: about 2.7 times as
        many new customers a day at the end as at the start).
    never_buyer_share
        Share of registered members who never buy.
    guest_line_share
        Share of order lines placed by guests (no customer id).
    cancelled_order_share, cancelled_line_share
        Share of orders with a cancellation, and of the lines of such an order that are cancelled.
    coupon_order_share
        Share of orders with a coupon outside campaigns (campaign coupons come on top).
    super_orders_per_line
        Rate of bulk "super orders" per order line (at least two per data set).
    """

    r: float = 0.8
    alpha: float = 40.0
    a: float = 1.0
    b: float = 4.0
    p: float = 6.0
    q: float = 3.8
    gamma: float = 30.0
    acquisition_growth: float = 1.0
    never_buyer_share: float = 0.30
    guest_line_share: float = 0.25
    cancelled_order_share: float = 0.035
    cancelled_line_share: float = 0.55
    coupon_order_share: float = 0.09
    super_orders_per_line: float = 4e-5


@dataclass(frozen=True)
class Calendar:
    """The period and its daily order intensity.

    Attributes
    ----------
    start
        First day of the period, as ``datetime64[s]`` (midnight).
    n_days
        Length of the period in days; the period ends (exclusive) at ``start + n_days``.
    day_weight
        Relative order intensity of each day (month × weekday factors), mean 1.
    max_weight
        ``day_weight.max()``, the envelope used to thin Poisson processes.
    acquisition_cdf
        Cumulative share of all acquisitions up to the end of each day (growth × day weight).
    month_of_day
        Month number since the start month (0, 1, ...) of each day.
    month_starts
        First day of every month in the period, as ``datetime64[D]``.
    """

    start: np.datetime64
    n_days: int
    day_weight: np.ndarray
    max_weight: float
    acquisition_cdf: np.ndarray
    month_of_day: np.ndarray
    month_starts: np.ndarray

    @property
    def end_seconds(self) -> int:
        """End of the period (exclusive) in seconds since the start."""
        return self.n_days * DAY


def add_years(day: dt.date, years: int) -> dt.date:
    """``day`` plus ``years`` calendar years (29 February becomes 28 February)."""
    try:
        return day.replace(year=day.year + years)
    except ValueError:
        return day.replace(year=day.year + years, day=28)


def build_calendar(start: dt.date, years: int, growth: float) -> Calendar:
    """Build the calendar of ``years`` years from ``start`` with a Q4 peak and a weekly rhythm."""
    n_days = (add_years(start, years) - start).days
    days = np.datetime64(start, "D") + np.arange(n_days)
    calendar_month = days.astype("datetime64[M]").astype(np.int64) % 12
    weekday = (days.astype(np.int64) + 3) % 7  # 1970-01-01 was a Thursday; Monday = 0
    weight = MONTH_FACTOR[calendar_month] * WEEKDAY_FACTOR[weekday]
    weight = weight / weight.mean()
    acquisition = weight * np.exp(growth * np.arange(n_days) / n_days)
    cdf = np.cumsum(acquisition / acquisition.sum())
    cdf[-1] = 1.0
    month = days.astype("datetime64[M]")
    month_of_day = (month - month[0]).astype(np.int64)
    month_starts = np.arange(month[0], month[-1] + 1).astype("datetime64[D]")
    return Calendar(
        start=np.datetime64(start, "s"),
        n_days=n_days,
        day_weight=weight,
        max_weight=float(weight.max()),
        acquisition_cdf=cdf,
        month_of_day=month_of_day,
        month_starts=month_starts,
    )


# --------------------------------------------------------------------------------------------
# Small vectorised helpers
# --------------------------------------------------------------------------------------------


def rank_within(owner: np.ndarray) -> np.ndarray:
    """0-based position of each element within its run of equal, consecutive ``owner`` values."""
    n = owner.size
    if n == 0:
        return np.zeros(0, dtype=np.int64)
    idx = np.arange(n)
    starts = np.ones(n, dtype=bool)
    starts[1:] = owner[1:] != owner[:-1]
    return idx - np.maximum.accumulate(np.where(starts, idx, 0))


def group_ends(owner: np.ndarray) -> np.ndarray:
    """Index of the last element of each run of equal, consecutive ``owner`` values."""
    if owner.size == 0:
        return np.zeros(0, dtype=np.int64)
    return np.append(np.flatnonzero(owner[1:] != owner[:-1]), owner.size - 1)


def draw_from_weights(rng: np.random.Generator, weights: np.ndarray, n: int) -> np.ndarray:
    """Draw ``n`` category indices with probabilities proportional to ``weights``."""
    cdf = np.cumsum(weights / np.sum(weights))
    return np.minimum(np.searchsorted(cdf, rng.random(n), side="right"), len(weights) - 1)


def time_of_day(rng: np.random.Generator, n: int, hours: np.ndarray) -> np.ndarray:
    """Whole seconds into the day, with hours drawn from the profile ``hours``."""
    hour = draw_from_weights(rng, hours, n)
    return hour * 3600 + rng.integers(0, 3600, size=n)


def days_to_seconds(
    rng: np.random.Generator, t_days: np.ndarray, not_before: np.ndarray, hours: np.ndarray
) -> np.ndarray:
    """Turn sampled fractional days into timestamps (seconds) with a realistic time of day.

    The day is kept and the time of day redrawn from ``hours``; where that would fall at or
    before ``not_before`` (an earlier event of the same owner on the same day), the exact
    sampled time is used instead, so order within an owner's day is preserved.
    """
    day = np.floor(t_days).astype(np.int64)
    seconds = day * DAY + time_of_day(rng, t_days.size, hours)
    exact = np.ceil(t_days * DAY).astype(np.int64)
    return np.where(seconds > not_before, seconds, np.maximum(exact, not_before + 1))


def thinned_poisson(
    rng: np.random.Generator,
    start: np.ndarray,
    end: np.ndarray,
    rate: np.ndarray,
    calendar: Calendar,
) -> tuple[np.ndarray, np.ndarray]:
    """Sample, for every owner, a Poisson process on ``(start, end)`` (days) with seasonality.

    The intensity at time ``t`` is ``rate * day_weight[floor(t)]``, so ``rate`` is the owner's
    average rate per day. Candidates come from the envelope ``rate * max_weight`` and are kept
    with probability ``day_weight / max_weight`` (Lewis-Shedler thinning).

    Returns
    -------
    owner, t
        Owner index and time in days of each event, sorted by owner then time.
    """
    span = np.clip(end - start, 0.0, None)
    counts = rng.poisson(rate * calendar.max_weight * span)
    owner = np.repeat(np.arange(start.size), counts)
    t = start[owner] + rng.random(owner.size) * span[owner]
    day = np.minimum(t.astype(np.int64), calendar.n_days - 1)
    keep = rng.random(owner.size) * calendar.max_weight < calendar.day_weight[day]
    owner, t = owner[keep], t[keep]
    order = np.lexsort((t, owner))
    return owner[order], t[order]


# --------------------------------------------------------------------------------------------
# Acquisition, purchases and dropout
# --------------------------------------------------------------------------------------------


def draw_join_days(
    rng: np.random.Generator, member_index: np.ndarray, n_members: int, calendar: Calendar
) -> np.ndarray:
    """Day on which each member joins (first purchase for buyers, registration otherwise).

    Stratified inverse-CDF sampling over all members: member ``m`` draws its quantile from
    ``[m / n, (m + 1) / n)``, so join days grow with the member index (ids are issued in order)
    and the result does not depend on how members are split into chunks.
    """
    u = (member_index + rng.random(member_index.size)) / n_members
    day = np.searchsorted(calendar.acquisition_cdf, u, side="right")
    return np.minimum(day, calendar.n_days - 1)


@dataclass(frozen=True)
class Purchases:
    """The purchases of a chunk's buyers, sorted by buyer then time.

    Attributes
    ----------
    owner
        Buyer position (0..n_buyers-1) of each purchase.
    seconds
        Timestamp of each purchase in seconds since the start.
    dropped_out_at
        Per buyer: seconds of the purchase after which the buyer dropped out, -1 if alive at
        the end of the period.
    """

    owner: np.ndarray
    seconds: np.ndarray
    dropped_out_at: np.ndarray


def simulate_purchases(
    rng: np.random.Generator,
    acquired_s: np.ndarray,
    purchase_rate: np.ndarray,
    dropout_probability: np.ndarray,
    calendar: Calendar,
    hours: np.ndarray,
) -> Purchases:
    """Simulate BG/NBD purchases after each buyer's first purchase at ``acquired_s``.

    While alive, repeat purchases follow a seasonal Poisson process with average rate
    ``purchase_rate``; after each repeat purchase the buyer drops out for good with probability
    ``dropout_probability``: the number of repeat purchases before dropout is geometric.
    """
    n = acquired_s.size
    start_days = acquired_s / DAY
    owner, t = thinned_poisson(rng, start_days, np.full(n, float(calendar.n_days)), purchase_rate, calendar)
    repeats_until_dropout = rng.geometric(dropout_probability)
    keep = rank_within(owner) < repeats_until_dropout[owner]
    owner, t = owner[keep], t[keep]
    repeat_s = days_to_seconds(rng, t, acquired_s[owner], hours)
    repeat_s = np.minimum(repeat_s, calendar.end_seconds - 1)

    all_owner = np.concatenate([np.arange(n), owner])
    all_s = np.concatenate([acquired_s, repeat_s])
    order = np.lexsort((all_s, all_owner))
    all_owner, all_s = all_owner[order], all_s[order]

    n_repeats = np.bincount(owner, minlength=n)
    dropped = repeats_until_dropout <= n_repeats
    last = all_s[group_ends(all_owner)]  # every buyer has at least the first purchase
    return Purchases(all_owner, all_s, np.where(dropped, last, -1))
