"""Watching the member base: rules over the KPI series (:mod:`memberlens.monitor.rules`) and
the alerts that fire at a date (:func:`alerts_at`)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import ibis
import pandas as pd

from memberlens import metrics
from memberlens.metrics._arith import money_sum
from memberlens.monitor.rules import DEFAULT_RULES, Rule, evaluate_rule, load_rules
from memberlens.monitor.series import METRICS, PERIOD_LENGTH, metric_series, share_series
from memberlens.snapshot import SCORES_TABLE, Snapshot


@dataclass(frozen=True)
class Alert:
    """A rule firing on the last complete period before the snapshot's day."""

    rule: Rule
    period_start: date
    value: float
    low: float
    high: float
    held: int  # breaches in a row, this period included

    def record(self) -> dict:
        return {
            "rule": self.rule.label,
            "metric": self.rule.watched,
            "kind": self.rule.kind,
            "period_start": self.period_start,
            "value": self.value,
            "low": None if self.low == float("-inf") else self.low,
            "high": None if self.high == float("inf") else self.high,
            "periods_held": self.held,
        }


@dataclass(frozen=True)
class Watch:
    """What monitoring found at a date: the alerts, each rule's verdict per period, and the
    rules that could not be judged, with why (a message catalogue key and its values)."""

    day: date | None
    alerts: list[Alert]
    verdicts: dict[Rule, pd.DataFrame]
    not_judged: dict[Rule, tuple[str, dict]]


def alerts_at(
    snapshot: Snapshot,
    rules: list[Rule] | tuple[Rule, ...] = DEFAULT_RULES,
    period: str = "month",
    *,
    churn_days: int = 90,
) -> Watch:
    """Every rule over its metric's series in ``snapshot``; the alerts firing on the last complete
    period (for daily metrics, the last day)."""
    series, missing = metric_series(snapshot, sorted({r.metric for r in rules}), period, churn_days=churn_days)
    alerts, verdicts, not_judged = [], {}, {}
    for rule in rules:
        if rule.metric in missing:
            table = missing[rule.metric]
            not_judged[rule] = (
                ("monitor.no_scores", {}) if table == SCORES_TABLE else ("monitor.no_table", {"table": table})
            )
            continue
        values = share_series(snapshot, METRICS[rule.metric].column, rule.group) if rule.group else series[rule.metric]
        if values.empty:
            not_judged[rule] = ("monitor.no_period", {})
            continue
        verdict = evaluate_rule(rule, values, "day" if METRICS[rule.metric].daily else period)
        verdicts[rule] = verdict
        last = verdict.iloc[-1]
        if bool(last.fired):
            alerts.append(
                Alert(
                    rule, verdict.index[-1].date(), float(last.value), float(last.low), float(last.high), int(last.held)
                )
            )
    return Watch(snapshot.day, alerts, verdicts, not_judged)


# the customers a metric counts, where it counts customers (its alerts name them)
MEMBERS_BEHIND = {
    "churn_rate": "newly_churned",
    "newly_churned": "newly_churned",
    "change_ratio": "newly_churned",
    "new_buyers": "new_buyers",
}


def members_behind(
    snapshot: Snapshot, alerts: list[Alert], period: str = "month", churn_days: int = 90
) -> pd.DataFrame:
    """The customers behind the alerts whose metric counts customers (who churned in the period
    of a churn alert; who bought first in the period of a new-customer one), with what they
    have spent to the snapshot's day, their orders, their last order and whether a churned one
    has ordered again since the period ended; those still gone first, highest spend first (one
    row per customer, alert and period)."""
    orders = snapshot.table("orders")
    spend = orders.group_by("customer_id").aggregate(
        revenue=money_sum(orders.amount), orders=orders.order_id.nunique(), last_order=orders.ordered_at.max().date()
    )
    frames = []
    for alert in alerts:
        kind = MEMBERS_BEHIND.get(alert.rule.metric)
        if kind is None:
            continue
        who = (
            metrics.newly_churned_members(orders, period, churn_days=churn_days)
            if kind == "newly_churned"
            else metrics.new_buyer_members(orders, period)
        )
        who = who.filter(who.period_start == ibis.literal(alert.period_start))  # the alert's period (a key, not a cut)
        joined = who.join(spend, "customer_id").select("customer_id", "period_start", "revenue", "orders", "last_order")
        frame = joined.execute().assign(rule=alert.rule.label, metric=alert.rule.metric, reason=kind)
        period_end = pd.Timestamp(alert.period_start) + PERIOD_LENGTH[period]
        frames.append(
            frame.assign(came_back=(kind == "newly_churned") & (pd.to_datetime(frame.last_order) >= period_end))
        )
    columns = [
        "rule",
        "metric",
        "reason",
        "period_start",
        "customer_id",
        "revenue",
        "orders",
        "last_order",
        "came_back",
    ]
    if not frames:
        return pd.DataFrame(columns=columns)
    members = pd.concat(frames, ignore_index=True)[columns]
    return members.sort_values(
        ["rule", "came_back", "revenue", "customer_id"],
        ascending=[True, True, False, True],
        kind="stable",
        ignore_index=True,
    )


__all__ = [
    "DEFAULT_RULES",
    "MEMBERS_BEHIND",
    "METRICS",
    "Alert",
    "Rule",
    "Watch",
    "alerts_at",
    "evaluate_rule",
    "load_rules",
    "members_behind",
]
