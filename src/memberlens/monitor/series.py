"""The KPI series a monitoring rule can watch: each metric is a column of an analysis memberlens
already computes (``memberlens analyze churn|rates|kpis|active-users``), read from one snapshot
and kept to the periods that are over by its day — a month still running is not judged."""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

from memberlens.analyses import ANALYSES, AnalysisOptions, run_analysis
from memberlens.metrics._arith import ratio
from memberlens.snapshot import SCORES_TABLE, Snapshot

PERIOD_LENGTH = {
    "day": pd.DateOffset(days=1),
    "week": pd.DateOffset(weeks=1),
    "month": pd.DateOffset(months=1),
    "quarter": pd.DateOffset(months=3),
}


@dataclass(frozen=True)
class Metric:
    analysis: str
    column: str
    daily: bool = False  # a series per day whatever the period (active members)


METRICS: dict[str, Metric] = {
    **{c: Metric("churn", c) for c in ("churn_rate", "change_ratio", "new_buyers", "newly_churned", "active")},
    **{c: Metric("rates", c) for c in ("repurchase_rate", "return_rate", "reactivation_rate")},
    **{
        c: Metric("kpis", c)
        for c in (
            "revenue",
            "orders",
            "buyers",
            "revenue_per_order",
            "revenue_per_buyer",
            "registered_new",
            "activation_rate",
            "registration_to_purchase_rate",
            "activation_to_purchase_rate",
            "coupon_member_ratio",
            "coupon_amount_ratio",
            "coupon_order_ratio",
            "marketing_cost",
            "cost_ratio",
        )
    },
    **{c: Metric("active-users", c, daily=True) for c in ("dau", "wau", "mau", "stickiness")},
    # shares of the members scored at each date (memberlens score): a segment's, a risk band's
    "segment_share": Metric("score-history", "rfm_segment"),
    "risk_band_share": Metric("score-history", "risk_band"),
}


def share_series(snapshot: Snapshot, column: str, group: str) -> pd.Series:
    """The share of the members scored at each stored date (``memberlens score``) whose
    ``column`` is ``group``, indexed by date — counted in the engine."""
    scores = snapshot.table(SCORES_TABLE)
    shares = (
        scores.group_by("as_of")
        .aggregate(share=ratio((scores[column] == group).ifelse(1, 0).sum(), scores.count()))
        .order_by("as_of")
        .execute()
    )
    return pd.Series(shares.share.to_numpy(dtype="float64"), index=pd.to_datetime(shares.as_of), name=group)


def metric_series(
    snapshot: Snapshot, names: list[str], period: str = "month", *, churn_days: int = 90
) -> tuple[dict[str, pd.Series], dict[str, str]]:
    """The series of each metric in ``names`` over the periods complete at the snapshot's day,
    indexed by period start (by day for the daily ones); and, for a metric that cannot be had,
    the table the workspace lacks for it."""
    series: dict[str, pd.Series] = {}
    missing: dict[str, str] = {}
    frames: dict[str, pd.DataFrame] = {}
    for name in names:
        metric = METRICS[name]
        if metric.analysis == "score-history":  # a share, per rule: see share_series
            if not snapshot.has(SCORES_TABLE):
                missing[name] = SCORES_TABLE
            continue
        if metric.analysis not in frames:
            needs = [t for t in ANALYSES[metric.analysis].needs if not snapshot.has(t)]
            if needs:
                missing[name] = needs[0]
                continue
            frames[metric.analysis] = _complete_periods(snapshot, metric, period, churn_days)
        frame = frames[metric.analysis]
        series[name] = frame[metric.column] if metric.column in frame else pd.Series(dtype="float64")
    return series, missing


def _complete_periods(snapshot: Snapshot, metric: Metric, period: str, churn_days: int) -> pd.DataFrame:
    options = AnalysisOptions(period="day" if metric.daily else period, churn_days=churn_days)
    result = run_analysis(snapshot, metric.analysis, options)
    frame = result if isinstance(result, pd.DataFrame) else result.execute()
    index = "day" if metric.daily else "period_start"
    frame = frame.assign(**{index: pd.to_datetime(frame[index])}).sort_values(index).set_index(index)
    if snapshot.day is None:
        return frame
    ends = frame.index + PERIOD_LENGTH["day" if metric.daily else period]
    return frame[ends <= pd.Timestamp(snapshot.day)]
