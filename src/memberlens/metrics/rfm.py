"""RFM and RFE (seed 000, seed 002 §3.2–3.3, product.md C).

RFM as of a cut-off date (default: the day after the last order; orders on or after the cut-off
are not counted), over an optional look-back window:

* R — whole calendar days from the date of the last order to the cut-off (an order the day
  before the cut-off gives R = 1);
* F — distinct orders; M — total amount of the kept order lines.

Scores are quantile bins, tie-safe and deterministic on every engine: a value's score is
``1 + floor(bins * (rank - 1) / n)`` where ``rank`` is its SQL ``RANK()`` (equal values share
the smallest rank) — ascending for F and M, descending for R, so recent customers score high.
RFE (seed 002 §3.2) is the same machinery over events: recency of visit, visits, engagement.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date
from typing import Literal

import ibis
import ibis.expr.types as ir

from memberlens.metrics._arith import ratio
from memberlens.errors import ConfigError
from memberlens.metrics._periods import day_number

Bins = Literal[3, 4, 5]


def _check_bins(bins: int) -> int:
    if bins not in (3, 4, 5):
        raise ConfigError(f"The 'bins' parameter must be 3, 4 or 5. Got {bins!r} instead.")
    return bins


def _cutoff_day(table: ir.Table, time_column: str, as_of: date | str | None) -> ir.IntegerScalar | ir.IntegerValue:
    if as_of is None:
        return day_number(table[time_column]).max() + 1
    return day_number(ibis.date(str(as_of)))


def _in_window(table: ir.Table, time_column: str, as_of: date | str | None, lookback_days: int | None) -> ir.Table:
    day = day_number(table[time_column])
    if as_of is None and lookback_days is None:
        return table.mutate(_day=day)
    cutoff = _cutoff_day(table, time_column, as_of)
    cut = table.mutate(_day=day, _cutoff=cutoff)
    keep = cut._day < cut._cutoff
    if lookback_days is not None:
        if lookback_days < 1:
            raise ConfigError(f"The 'lookback_days' parameter must be an int in the range [1, inf). Got {lookback_days!r} instead.")
        keep &= cut._day >= cut._cutoff - lookback_days
    return cut.filter(keep).drop("_cutoff")


def compute_rfm(orders: ir.Table, *, as_of: date | str | None = None, lookback_days: int | None = None) -> ir.Table:
    """One row per customer: ``customer_id, recency, frequency, monetary, first_order_at,
    last_order_at``."""
    kept = _in_window(orders, "ordered_at", as_of, lookback_days)
    cutoff = _cutoff_day(orders, "ordered_at", as_of)
    per_customer = kept.group_by("customer_id").aggregate(
        last_day=kept._day.max(),
        frequency=kept.order_id.nunique(),
        monetary=kept.amount.sum(),
        first_order_at=kept.ordered_at.min(),
        last_order_at=kept.ordered_at.max(),
    )
    if as_of is None:
        per_customer = per_customer.cross_join(orders.aggregate(_cutoff=cutoff))
    else:
        per_customer = per_customer.mutate(_cutoff=cutoff)
    return per_customer.select(
        "customer_id",
        recency=per_customer._cutoff - per_customer.last_day,
        frequency=per_customer.frequency,
        monetary=per_customer.monetary,
        first_order_at=per_customer.first_order_at,
        last_order_at=per_customer.last_order_at,
    )


def compute_rfe(events: ir.Table, *, as_of: date | str | None = None, lookback_days: int | None = None) -> ir.Table:
    """One row per member: ``customer_id, recency`` (days since the last event), ``frequency``
    (events) and ``engagement`` (summed engagement; an event without one counts 1)."""
    kept = _in_window(events, "occurred_at", as_of, lookback_days)
    cutoff = _cutoff_day(events, "occurred_at", as_of)
    engagement = kept.engagement.fill_null(1) if "engagement" in kept.columns else ibis.literal(1)
    per_member = kept.mutate(_engagement=engagement).group_by("customer_id").aggregate(
        last_day=lambda t: t._day.max(), frequency=lambda t: t.count(), engagement=lambda t: t._engagement.sum()
    )
    if as_of is None:
        per_member = per_member.cross_join(events.aggregate(_cutoff=cutoff))
    else:
        per_member = per_member.mutate(_cutoff=cutoff)
    return per_member.select(
        "customer_id",
        recency=per_member._cutoff - per_member.last_day,
        frequency=per_member.frequency,
        engagement=per_member.engagement,
    )


def quantile_score(column: ir.NumericValue, bins: int, *, higher_is_better: bool = True) -> ir.IntegerValue:
    """``1 + floor(bins * (rank - 1) / n)``: equal values always get equal scores."""
    order = column if higher_is_better else column.desc()
    rank0 = ibis.rank().over(order_by=order)  # 0-based, ties share the smallest rank
    n = column.count().over()
    return (rank0 * bins // n + 1).cast("int64")


def score_rfm(rfm: ir.Table, bins: int = 5, *, columns: tuple[str, str, str] = ("recency", "frequency", "monetary")) -> ir.Table:
    """Add ``r_score, f_score, m_score`` (1..bins), ``rfm_code`` ("534") and ``rfm_score`` (sum).

    Pass ``columns=("recency", "frequency", "engagement")`` to score RFE.
    """
    bins = _check_bins(bins)
    r, f, m = columns
    scored = rfm.mutate(
        r_score=quantile_score(rfm[r], bins, higher_is_better=False),
        f_score=quantile_score(rfm[f], bins),
        m_score=quantile_score(rfm[m], bins),
    )
    return scored.mutate(
        rfm_code=scored.r_score.cast("string") + scored.f_score.cast("string") + scored.m_score.cast("string"),
        rfm_score=scored.r_score + scored.f_score + scored.m_score,
    )


# The complete 5x5 R x F grid (R first, then F): every cell has exactly one name.
GRID_SEGMENTS: dict[str, tuple[tuple[int, ...], tuple[int, ...]]] = {
    "champions": ((5,), (4, 5)),
    "loyal": ((3, 4), (4, 5)),
    "potential_loyalists": ((4, 5), (2, 3)),
    "new": ((5,), (1,)),
    "promising": ((4,), (1,)),
    "need_attention": ((3,), (3,)),
    "about_to_sleep": ((3,), (1, 2)),
    "at_risk": ((1, 2), (3, 4)),
    "cant_lose": ((1, 2), (5,)),
    "hibernating": ((1, 2), (1, 2)),
}

# The 11-segment R/F/M table; the first rule that matches wins (explicit precedence).
ELEVEN_SEGMENTS: list[tuple[str, tuple[int, int], tuple[int, int], tuple[int, int]]] = [
    # name, (R lo, hi), (F lo, hi), (M lo, hi)
    ("champions", (4, 5), (4, 5), (4, 5)),
    ("loyal", (2, 5), (3, 5), (3, 5)),
    ("potential_loyalists", (3, 5), (1, 3), (1, 3)),
    ("recent", (4, 5), (1, 1), (1, 1)),
    ("promising", (3, 4), (1, 1), (1, 1)),
    ("need_attention", (2, 3), (2, 3), (2, 3)),
    ("about_to_sleep", (2, 3), (1, 2), (1, 2)),
    ("at_risk", (1, 2), (2, 5), (2, 5)),
    ("cant_lose", (1, 1), (4, 5), (4, 5)),
    ("hibernating", (1, 2), (1, 2), (1, 2)),
    ("lost", (1, 2), (1, 5), (1, 5)),
]
OTHER_SEGMENT = "other"


def _score_on_five(score: ir.IntegerValue, bins: int) -> ir.IntegerValue:
    """Scores of 3 or 4 bins placed on the 1..5 scale the segment tables are written for."""
    return score if bins == 5 else ((score * 5 + bins - 1) // bins).cast("int64")


def segment_rfm(
    scored: ir.Table,
    scheme: Literal["grid", "eleven"] | Mapping[str, Mapping[str, tuple[int, int]]] = "grid",
    *,
    bins: int = 5,
) -> ir.Table:
    """Add ``segment``: the R x F grid (default), the 11-segment table, or a custom map
    ``{name: {"r": (lo, hi), "f": (lo, hi), "m": (lo, hi)}}`` in precedence order."""
    bins = _check_bins(bins)
    r, f, m = (_score_on_five(scored[c], bins) for c in ("r_score", "f_score", "m_score"))
    if scheme == "grid":
        cases = [(r.isin(rs) & f.isin(fs), name) for name, (rs, fs) in GRID_SEGMENTS.items()]
    elif scheme == "eleven":
        cases = [(r.between(*rr) & f.between(*fr) & m.between(*mr), name) for name, rr, fr, mr in ELEVEN_SEGMENTS]
    elif isinstance(scheme, Mapping):
        cases = [_custom_rule(name, rule, r, f, m) for name, rule in scheme.items()]
    else:
        raise ConfigError(f"The 'scheme' parameter must be 'grid', 'eleven' or a mapping. Got {scheme!r} instead.")
    return scored.mutate(segment=ibis.cases(*cases, else_=OTHER_SEGMENT))


def _custom_rule(name: str, rule: Mapping[str, tuple[int, int]], r, f, m):
    unknown = set(rule) - {"r", "f", "m"}
    if unknown or not rule:
        raise ConfigError(f"segment {name!r}: rules take r, f and m ranges, got {sorted(rule)}", 'e.g. {r = [4, 5], f = [1, 2]}')
    condition = ibis.literal(True)
    for key, score in (("r", r), ("f", f), ("m", m)):
        if key in rule:
            lo, hi = rule[key]
            condition &= score.between(int(lo), int(hi))
    return condition, name


def summarise_segments(segmented: ir.Table) -> ir.Table:
    """Per segment: customers, share, revenue, revenue share and mean R, F, M."""
    totals = segmented.aggregate(all_customers=segmented.count(), all_revenue=segmented.monetary.sum())
    per = segmented.group_by("segment").aggregate(
        customers=segmented.count(),
        revenue=segmented.monetary.sum(),
        mean_recency=segmented.recency.mean(),
        mean_frequency=segmented.frequency.mean(),
        mean_monetary=segmented.monetary.mean(),
    )
    joined = per.cross_join(totals)
    return joined.select(
        "segment",
        "customers",
        customer_share=ratio(joined.customers, joined.all_customers),
        revenue=joined.revenue,
        revenue_share=ratio(joined.revenue, joined.all_revenue),
        mean_recency=joined.mean_recency,
        mean_frequency=joined.mean_frequency,
        mean_monetary=joined.mean_monetary,
    ).order_by([ibis.desc("revenue"), "segment"])
