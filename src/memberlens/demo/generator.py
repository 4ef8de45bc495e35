"""Seeded, realistic demo data for memberlens: a gift shop's orders, members and marketing.

:func:`generate_demo_data` writes eight tables (CSV or Parquet) that follow memberlens' data
contract, at any size, in bounded memory, byte-identical for the same arguments (with the same
NumPy and PyArrow versions).

Tables: ``orders`` (order lines), ``members``, ``events``, ``campaigns``, ``marketing_costs``,
``customer_360``, ``referrals`` and ``truth``; their exact columns and types are
:data:`memberlens.demo._tables.SCHEMAS`.

The generative story
--------------------
*Members.* ``customers`` buyers plus never-buyers (30 % of all members) join over the period,
more of them every month (log growth 1.0 over the period) and more in Q4; member ids
(``"M0000001"``...) are issued in joining order. Buyers register at checkout or some weeks
before their first purchase and are activated at or before it; half of the never-buyers never
activate. 88 % leave a contact; a fifth of the contactable buyers who drop out unsubscribe
some weeks later; ``marketable`` is "has a contact and has not unsubscribed". Tiers follow
spend.

*Purchases (BG/NBD).* A buyer's first purchase is their acquisition. While alive, they buy at
rate ``lambda ~ Gamma(r=0.8, alpha=40)`` per day (mean one order every 50 days), modulated by
month (Q4 peak, November strongest) and weekday through Poisson thinning. After each repeat
purchase they drop out for good with probability ``p ~ Beta(a=1, b=4)``.

*Spend (Gamma-Gamma).* Each buyer has ``nu ~ Gamma(q=3.8, rate gamma=30)``; each order's value
is ``~ Gamma(p=6, rate nu)`` (mean order ≈ 64). The value is realised as 1..k lines of a
~500-product catalogue (Zipf popularity, prices 0.39..99.95, a few Chinese descriptions) with
integer quantities, so the realised value approximates the drawn one.

*Noise an analyst must handle.* A quarter of the lines are guest orders without a customer id;
about 2 % of lines are cancellations (order id ``"C" + original``, negative quantity,
``is_cancellation`` true, dated after the original); a few bulk "super orders" (one line of
tens of thousands of a cheap item, at least two per data set, like the UCI Online Retail
data's 80,995-unit order); about 10 % of orders carry a coupon spread over their lines to the cent.

*Events.* Members browse (visit / search / download; engagement = page views) at a rate
proportional to their purchase rate until they drop out, a little for two weeks after, and then
(apart from a few lurkers) never again: engagement predicts churn. Every web/app order is
preceded by a visit.

*Campaigns.* 6..12 campaigns, each sent to 10..25 % of the members reachable that day. A send is
credited (85 %) with the member's first order in the 14 days after it, so responding depends on
being alive and buying often; coupon campaigns put their coupon on the credited order. There is
no causal uplift: campaigns only take credit for orders the story produced anyway.

*Referrals.* A referral program drawn from the members and their orders, on its own random
stream: most members refer nobody, a few refer many, chains run several generations deep,
referred buyers spend more than others and a few referred members never buy; rewards cost 2.00
a sign-up and 10.00 or 15.00 a first purchase. See :mod:`memberlens.demo._referrals`.

*Customer 360.* One wide row per member, loosely tied to their history (RFM quintiles, tier,
engagement from events, risk from days idle, velocity from the event trend), with effects
for the segment explorer to find built in: see :func:`memberlens.demo._crm.build_customer_360`.

The ``truth`` table
-------------------
One row per buyer (``customers`` rows):

``customer_id``
    As in the other tables.
``acquired_at``
    Timestamp of the first purchase.
``purchase_rate_per_day``
    BG/NBD ``lambda``: average purchases a day while alive (the seasonal rate averages to it).
``dropout_probability``
    BG/NBD ``p``: probability of dropping out after each repeat purchase.
``dropped_out_at``
    Timestamp of the purchase after which the buyer dropped out (their last purchase); null if
    still alive at the end. Nobody buys after it (cancellations of earlier orders may follow).
``spend_shape_p``, ``spend_rate_nu``
    Gamma-Gamma ``p`` (the same for everyone) and the buyer's ``nu``; order values are drawn
    from ``Gamma(shape=p, rate=nu)`` before being rounded to whole units of products.
``expected_order_value``
    ``p / nu``.
``purchases``
    Number of purchase orders (first purchase included, cancellations excluded).
``bulk_orders``
    How many of those orders were turned into bulk super orders (their value then no longer
    follows the Gamma-Gamma draw).

Population parameters are the defaults of :class:`memberlens.demo._story.StoryParameters`.

Determinism
-----------
Members are simulated in chunks (25,000 members, fewer for periods over three years, so memory
stays bounded whatever the size); chunk ``k`` draws from
``SeedSequence(seed, spawn_key=(1, k))`` and the data-set-wide choices (who never buys, the
campaign plan) from ``SeedSequence(seed, spawn_key=(0,))``. Chunks are written in
order and carry only a running order number, so the same arguments give byte-identical files.
Media-spend noise comes from ``SeedSequence(seed, spawn_key=(2,))``, the referral program from
``SeedSequence(seed, spawn_key=(3,))`` (drawn after each chunk, from its tables: the other
tables are the same bytes with or without it).
"""

from __future__ import annotations

import datetime as dt
import os
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pyarrow as pa

from memberlens.demo import _tables as T
from memberlens.demo._catalogue import build_catalogue
from memberlens.demo._chunk import (
    FIRST_ORDER_NUMBER,
    CostTally,
    Setup,
    simulate_chunk,
)
from memberlens.demo._crm import CAMPAIGN_CHANNELS, plan_campaigns
from memberlens.demo._referrals import ReferralProgram
from memberlens.demo._sinks import SinkSet
from memberlens.demo._story import DAY, StoryParameters, build_calendar
from memberlens.errors import ConfigError
from memberlens.parameters import check_choice, check_number

__all__ = ["generate_demo_data", "TABLES", "FORMATS"]

#: Names of the tables written, in order.
TABLES: tuple[str, ...] = tuple(T.SCHEMAS)
#: Supported output formats.
FORMATS: tuple[str, ...] = ("csv", "parquet")

_CHUNK_MEMBERS = 25_000  # members per chunk for periods of up to three years
_MIN_CUSTOMERS = 10
_MAX_YEARS = 20
_MARKETING_KINDS = ("media", "coupon", "points")
_CHANNEL_SPLIT = np.array([0.15, 0.35, 0.25, 0.25])  # sms, email, app_push, social: coupons, points
_MEDIA_SPLIT = np.array([0.15, 0.10, 0.15, 0.60])  # always-on media spend by channel
_MEDIA_PER_BUYER = 4.0  # always-on media spend per acquired buyer
_POINTS_RATE = 0.01  # points liability per unit of members' revenue


def generate_demo_data(
    out_dir: str | os.PathLike[str],
    *,
    customers: int = 20_000,
    years: int = 2,
    seed: int = 7,
    fmt: str = "csv",
    start: str | dt.date = "2023-01-01",
    progress: Callable[[int], object] | None = None,
) -> dict[str, dict]:
    """Write a seeded, realistic demo data set of a gift shop into ``out_dir``.

    Parameters
    ----------
    out_dir
        Folder to write into; created if missing. Existing files of the same names are replaced
        atomically, and only once every table is complete.
    customers
        Number of purchasing customers (at least 10). Never-buying members come on top (30 % of
        all members), and guest orders add a third to the members' order lines.
    years
        Length of the period in years, 1..20.
    seed
        Random seed (a non-negative integer); the same arguments give byte-identical files.
    fmt
        ``"csv"`` (UTF-8, comma, header, ``YYYY-MM-DD HH:MM:SS`` timestamps, ``true``/``false``,
        empty field for null) or ``"parquet"``.
    start
        First day of the period, ``"YYYY-MM-DD"`` or a date.
    progress
        Optional callable, called after each chunk with the number of purchasing customers
        finished, so the calls add up to ``customers`` (e.g. ``bar.advance``).

    Returns
    -------
    dict
        ``{table: {"path": str, "rows": int}}`` for ``orders``, ``members``, ``events``,
        ``campaigns``, ``marketing_costs``, ``customer_360``, ``referrals`` and ``truth``.

    Raises
    ------
    ConfigError
        If an argument is out of range.

    Examples
    --------
    >>> files = generate_demo_data("demo-output", customers=2_000, seed=1)  # doctest: +SKIP
    >>> files["orders"]["rows"]  # doctest: +SKIP
    """
    first_day = _validate(customers, years, seed, fmt, start, progress)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    setup = _make_setup(customers, years, seed, first_day)

    with SinkSet(out, T.SCHEMAS, fmt) as sinks:
        next_order = FIRST_ORDER_NUMBER
        tally: CostTally | None = None
        size = _chunk_size(years)
        program = ReferralProgram(seed, setup.id_width)
        for chunk, lo in enumerate(range(0, setup.n_members, size)):
            hi = min(lo + size, setup.n_members)
            result = simulate_chunk(setup, chunk, lo, hi, next_order)
            sinks.write({**result.tables, "referrals": program.draw(result.tables)})
            next_order += result.orders_used
            tally = result.costs if tally is None else _add_tallies(tally, result.costs)
            if progress is not None:
                progress(result.buyers)
        sinks.write({"marketing_costs": _marketing_costs_table(setup, tally, customers)})
    return sinks.summary()


# --------------------------------------------------------------------------------------------
# Arguments and setup
# --------------------------------------------------------------------------------------------


def _bad(name: str, expected: str, got: object, hint: str | None = None) -> ConfigError:
    return ConfigError(
        f"The '{name}' parameter of generate_demo_data must be {expected}. Got {got!r} instead.",
        hint,
    )


def _validate(customers: object, years: object, seed: object, fmt: object, start: object, progress: object) -> dt.date:
    """Check the arguments; return the start day."""
    owner = "generate_demo_data"
    hint = "Use customers=2000 for a quick look, 20000 (the default) for a demo."
    check_number(customers, "customers", owner, low=_MIN_CUSTOMERS, integer=True, hint=hint)
    check_number(years, "years", owner, low=1, high=_MAX_YEARS, integer=True)
    check_number(seed, "seed", owner, low=0, integer=True)
    check_choice(fmt, "fmt", owner, FORMATS)
    if progress is not None and not callable(progress):
        raise _bad("progress", "a callable or None", progress)
    if isinstance(start, dt.datetime):
        return start.date()
    if isinstance(start, dt.date):
        return start
    if isinstance(start, str):
        try:
            return dt.date.fromisoformat(start)
        except ValueError:
            pass
    raise _bad("start", "a date or a 'YYYY-MM-DD' string", start, "For example start='2023-01-01'.")


def _chunk_size(years: int) -> int:
    """Members per chunk: fewer for long periods, whose early members have long histories."""
    return max(5_000, _CHUNK_MEMBERS * 3 // max(years, 3))


def _make_setup(customers: int, years: int, seed: int, first_day: dt.date) -> Setup:
    """Draw the data-set-wide choices: who never buys, and the campaign plan."""
    params = StoryParameters()
    rng = np.random.default_rng(np.random.SeedSequence(seed, spawn_key=(0,)))
    n_never = int(round(customers * params.never_buyer_share / (1 - params.never_buyer_share)))
    n_members = customers + n_never
    is_buyer = np.ones(n_members, dtype=bool)
    is_buyer[rng.choice(n_members, size=n_never, replace=False)] = False
    calendar = build_calendar(first_day, years, params.acquisition_growth)
    return Setup(
        seed=seed,
        params=params,
        calendar=calendar,
        catalogue=build_catalogue(),
        campaigns=plan_campaigns(rng, calendar, years),
        is_buyer=is_buyer,
        id_width=max(7, len(str(n_members))),
    )


# --------------------------------------------------------------------------------------------
# Marketing costs
# --------------------------------------------------------------------------------------------


def _add_tallies(a: CostTally, b: CostTally) -> CostTally:
    return CostTally(
        sends=a.sends + b.sends,
        campaign_coupons=a.campaign_coupons + b.campaign_coupons,
        other_coupons=a.other_coupons + b.other_coupons,
        member_revenue=a.member_revenue + b.member_revenue,
    )


def _split_cents(total: np.ndarray, shares: np.ndarray) -> np.ndarray:
    """Split monthly cents over channels; rows add up exactly to ``total``."""
    parts = np.floor(total[:, None] * shares[None, :]).astype(np.int64)
    parts[:, 0] += total - parts.sum(axis=1)
    return parts


def _marketing_costs_table(setup: Setup, tally: CostTally, customers: int) -> pa.Table:
    """Monthly costs by channel and kind: media (campaign sends + always-on), coupon, points."""
    calendar = setup.calendar
    n_months = calendar.month_starts.size
    rng = np.random.default_rng(np.random.SeedSequence(setup.seed, spawn_key=(2,)))

    acquisitions = np.bincount(
        calendar.month_of_day, np.diff(calendar.acquisition_cdf, prepend=0.0), minlength=n_months
    )
    always_on = acquisitions * customers * _MEDIA_PER_BUYER * 100
    noise = np.exp(rng.normal(0.0, 0.1, (n_months, len(CAMPAIGN_CHANNELS))))
    media = np.rint(always_on[:, None] * _MEDIA_SPLIT[None, :] * noise).astype(np.int64)
    for c, campaign in enumerate(setup.campaigns):
        month = calendar.month_of_day[campaign.sent_s // DAY]
        channel = CAMPAIGN_CHANNELS.index(campaign.channel)
        media[month, channel] += int(round(tally.sends[c] * campaign.cost_per_send * 100))

    coupon = tally.campaign_coupons + _split_cents(tally.other_coupons, _CHANNEL_SPLIT)
    points_total = np.rint(tally.member_revenue * _POINTS_RATE).astype(np.int64)
    points = _split_cents(points_total, _CHANNEL_SPLIT)

    cents = np.stack([media, coupon, points], axis=2)  # month × channel × kind
    month, channel, kind = np.indices(cents.shape).reshape(3, -1)
    return T.make_table(
        "marketing_costs",
        {
            "date": calendar.month_starts[month],
            "channel": T.labels(CAMPAIGN_CHANNELS, channel),
            "kind": T.labels(_MARKETING_KINDS, kind),
            "cost": T.money(cents.reshape(-1)),
        },
    )
