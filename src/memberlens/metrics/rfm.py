"""RFM and RFE (product.md C).

RFM as of a cut-off date (default: the day after the last order; orders on or after the cut-off
are not counted), over an optional look-back window:

* R — whole calendar days from the date of the last order to the cut-off (an order the day
  before the cut-off gives R = 1);
* F — distinct orders; M — total amount of the kept order lines.

Scores are quantile bins, tie-safe and deterministic on every engine: a value's score is
``1 + floor(bins * (rank - 1) / n)`` where ``rank`` is its SQL ``RANK()`` (equal values share
the smallest rank) — ascending for F and M, descending for R, so recent customers score high.
RFE is the same machinery over events: recency of visit, visits, engagement.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date, timedelta
from typing import Literal

import ibis
import ibis.expr.types as ir

from memberlens.errors import ConfigError
from memberlens.metrics._arith import micros, money_sum, ratio
from memberlens.parameters import check_number
from memberlens.snapshot import as_date, known_rows, start_of

Bins = Literal[3, 4, 5]


def _check_bins(bins: int) -> int:
    if bins not in (3, 4, 5):
        raise ConfigError(f"The 'bins' parameter must be 3, 4 or 5. Got {bins!r} instead.")
    return bins


def _day_after_last(table: ir.Table, time_column: str) -> ir.Table:
    """A one-row table: ``_cutoff``, the day after the last event of ``table`` (the default cut-off)."""
    return table.aggregate(_cutoff=table[time_column].max().date() + ibis.interval(days=1))


def _in_window(table: ir.Table, time_column: str, as_of: date | str | None, lookback_days: int | None) -> ir.Table:
    """Rows known at the start of ``as_of`` (the snapshot's cut, :mod:`memberlens.snapshot`) and,
    with ``lookback_days``, no older than that many days before it."""
    if lookback_days is not None:
        check_number(
            lookback_days, "lookback_days", "the RFM scores", low=1, integer=True, hint="e.g. --lookback-days 365"
        )
    if as_of is not None:
        day = as_date(as_of)
        known = known_rows(table, time_column, day)
        if lookback_days is None:
            return known
        return known.filter(known[time_column] >= start_of(day - timedelta(days=lookback_days)))
    if lookback_days is None:
        return table
    cut = table.cross_join(_day_after_last(table, time_column))
    start = cut._cutoff.cast("timestamp")
    return cut.filter(cut[time_column] >= start - ibis.interval(days=lookback_days)).drop("_cutoff")


def _with_recency(per: ir.Table, source: ir.Table, time_column: str, as_of: date | str | None) -> ir.Table:
    """``recency``: whole days from the date of ``last_at`` to the cut-off date."""
    if as_of is None:
        per = per.cross_join(_day_after_last(source, time_column))
        cutoff = per._cutoff
    else:
        cutoff = ibis.date(str(as_of))
    return per.mutate(recency=cutoff.delta(per.last_at.date(), unit="day"))


def compute_rfm(orders: ir.Table, *, as_of: date | str | None = None, lookback_days: int | None = None) -> ir.Table:
    """One row per customer: ``customer_id, recency, frequency, monetary, first_order_at,
    last_order_at``."""
    kept = _in_window(orders, "ordered_at", as_of, lookback_days)
    per_customer = kept.group_by("customer_id").aggregate(
        last_at=kept.ordered_at.max(),
        frequency=kept.order_id.nunique(),
        monetary=money_sum(kept.amount),
        first_order_at=kept.ordered_at.min(),
    )
    per_customer = _with_recency(per_customer, orders, "ordered_at", as_of)
    return per_customer.select(
        "customer_id", "recency", "frequency", "monetary", "first_order_at", last_order_at=per_customer.last_at
    )


def compute_rfe(events: ir.Table, *, as_of: date | str | None = None, lookback_days: int | None = None) -> ir.Table:
    """One row per member: ``customer_id, recency`` (days since the last event), ``frequency``
    (events) and ``engagement`` (summed engagement; an event without one counts 1)."""
    kept = _in_window(events, "occurred_at", as_of, lookback_days)
    engagement = kept.engagement.fill_null(1) if "engagement" in kept.columns else ibis.literal(1)
    per_member = (
        kept.mutate(_engagement=engagement)
        .group_by("customer_id")
        .aggregate(
            last_at=lambda t: t.occurred_at.max(),
            frequency=lambda t: t.count(),
            engagement=lambda t: t._engagement.sum(),
        )
    )
    per_member = _with_recency(per_member, events, "occurred_at", as_of)
    return per_member.select("customer_id", "recency", "frequency", "engagement")


def quantile_score(column: ir.NumericValue, bins: int, *, higher_is_better: bool = True) -> ir.IntegerValue:
    """``1 + floor(bins * (rank - 1) / n)``: equal values always get equal scores."""
    order = column if higher_is_better else column.desc()
    rank0 = ibis.rank().over(order_by=order)  # 0-based, ties share the smallest rank
    n = column.count().over()
    return (rank0 * bins // n + 1).cast("int64")


def score_rfm(
    rfm: ir.Table, bins: int = 5, *, columns: tuple[str, str, str] = ("recency", "frequency", "monetary")
) -> ir.Table:
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
    # name, (R lo, hi), (F lo, hi), (M lo, hi). The first rule that matches wins, so each
    # specific rule stands before the broader ones that contain it.
    ("champions", (4, 5), (4, 5), (4, 5)),
    ("loyal", (2, 5), (3, 5), (3, 5)),
    ("recent", (4, 5), (1, 1), (1, 1)),
    ("promising", (3, 4), (1, 1), (1, 1)),
    ("potential_loyalists", (3, 5), (1, 3), (1, 3)),
    ("need_attention", (2, 3), (2, 3), (2, 3)),
    ("about_to_sleep", (2, 3), (1, 2), (1, 2)),
    ("cant_lose", (1, 1), (4, 5), (4, 5)),
    ("at_risk", (1, 2), (2, 5), (2, 5)),
    ("hibernating", (1, 2), (1, 2), (1, 2)),
    ("lost", (1, 2), (1, 5), (1, 5)),
]
OTHER_SEGMENT = "other"

# The Chinese eight-type scheme (RFM 八类客户): each of R, F, M is high or low against its mean
# (or median) over the customers scored; high recency means recent (few days since the last
# order). Names in R, F, M order of high (True) / low (False).
EIGHT_SEGMENTS: dict[tuple[bool, bool, bool], str] = {
    (True, True, True): "important_value",  # 重要价值客户
    (True, False, True): "important_develop",  # 重要发展客户
    (False, True, True): "important_retain",  # 重要保持客户
    (False, False, True): "important_win_back",  # 重要挽留客户
    (True, True, False): "general_value",  # 一般价值客户
    (True, False, False): "general_develop",  # 一般发展客户
    (False, True, False): "general_retain",  # 一般保持客户
    (False, False, False): "general_win_back",  # 一般挽留客户
}
SPLITS = ("mean", "median")


def _score_on_five(score: ir.IntegerValue, bins: int) -> ir.IntegerValue:
    """Scores of 3 or 4 bins placed on the 1..5 scale the segment tables are written for,
    keeping both ends: ``1 + round(4 (s - 1) / (bins - 1))`` (3 bins: 1, 3, 5; 4 bins: 1, 2, 4, 5)."""
    if bins == 5:
        return score
    return (1 + ((score - 1) * 8 + bins - 1) // (2 * (bins - 1))).cast("int64")


def segment_rfm(
    scored: ir.Table,
    scheme: Literal["grid", "eleven", "eight"] | Mapping[str, Mapping[str, tuple[int, int]]] = "grid",
    *,
    bins: int = 5,
    split: Literal["mean", "median"] = "mean",
) -> ir.Table:
    """Add ``segment``: the R x F grid (default), the 11-segment table, the eight-type scheme
    (high or low R, F and M against their ``split``, mean or median; a value at it counts as
    high, a recency at it as recent), or a custom map ``{name: {"r": (lo, hi), "f": (lo, hi),
    "m": (lo, hi)}}`` in precedence order."""
    bins = _check_bins(bins)
    if scheme == "eight":
        return _segment_eight(scored, split)
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


def _segment_eight(rfm: ir.Table, split: str) -> ir.Table:
    """The eight-type scheme on whole numbers (days, orders, millionths of money), so a value at
    the mean or median compares exactly on every engine."""
    if split not in SPLITS:
        raise ConfigError(f"The 'split' parameter must be 'mean' or 'median'. Got {split!r} instead.")

    def at_least_middle(column: ir.IntegerValue) -> ir.BooleanValue:
        if split == "mean":  # x >= sum / n, with the sum exact
            return column.cast("float64") >= column.sum().over().cast("float64") / column.count().over().cast("float64")
        return column.cast("float64") >= column.median().over().cast("float64")

    def at_most_middle(column: ir.IntegerValue) -> ir.BooleanValue:
        if split == "mean":
            return column.cast("float64") <= column.sum().over().cast("float64") / column.count().over().cast("float64")
        return column.cast("float64") <= column.median().over().cast("float64")

    high_r, high_f, high_m = (
        at_most_middle(rfm.recency),
        at_least_middle(rfm.frequency),
        at_least_middle(micros(rfm.monetary)),
    )
    cases = [((high_r == r) & (high_f == f) & (high_m == m), name) for (r, f, m), name in EIGHT_SEGMENTS.items()]
    return rfm.mutate(segment=ibis.cases(*cases, else_=OTHER_SEGMENT))


def _custom_rule(name: str, rule: Mapping[str, tuple[int, int]], r, f, m):
    unknown = set(rule) - {"r", "f", "m"}
    if unknown or not rule:
        raise ConfigError(
            f"segment {name!r}: rules take r, f and m ranges, got {sorted(rule)}", "e.g. {r = [4, 5], f = [1, 2]}"
        )
    condition = ibis.literal(True)
    for key, score in (("r", r), ("f", f), ("m", m)):
        if key in rule:
            lo, hi = rule[key]
            condition &= score.between(int(lo), int(hi))
    return condition, name


def summarise_segments(segmented: ir.Table) -> ir.Table:
    """Per segment: customers, share, revenue, revenue share and mean R, F, M."""
    totals = segmented.aggregate(all_customers=segmented.count(), all_revenue=money_sum(segmented.monetary))
    per = segmented.group_by("segment").aggregate(
        customers=segmented.count(),
        revenue=money_sum(segmented.monetary),
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
