"""Watching the member base: rules over the KPI series (:mod:`memberlens.monitor.rules`) and
the alerts that fire at a date (:func:`alerts_at`)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import pandas as pd

from memberlens.monitor.rules import DEFAULT_RULES, Rule, evaluate_rule, load_rules
from memberlens.monitor.series import METRICS, metric_series
from memberlens.snapshot import Snapshot


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
        return {"rule": self.rule.label, "metric": self.rule.metric, "kind": self.rule.kind,
                "period_start": self.period_start, "value": self.value,
                "low": None if self.low == float("-inf") else self.low,
                "high": None if self.high == float("inf") else self.high, "periods_held": self.held}


@dataclass(frozen=True)
class Watch:
    """What monitoring found at a date: the alerts, each rule's verdict per period, and the
    rules that could not be judged, with why (a message catalogue key and its values)."""

    day: date | None
    alerts: list[Alert]
    verdicts: dict[Rule, pd.DataFrame]
    not_judged: dict[Rule, tuple[str, dict]]


def alerts_at(snapshot: Snapshot, rules: list[Rule] | tuple[Rule, ...] = DEFAULT_RULES, period: str = "month") -> Watch:
    """Every rule over its metric's series in ``snapshot``; the alerts firing on the last complete
    period (for daily metrics, the last day)."""
    series, missing = metric_series(snapshot, sorted({r.metric for r in rules}), period)
    alerts, verdicts, not_judged = [], {}, {}
    for rule in rules:
        if rule.metric in missing:
            not_judged[rule] = ("monitor.no_table", {"table": missing[rule.metric]})
            continue
        values = series[rule.metric]
        if values.empty:
            not_judged[rule] = ("monitor.no_period", {})
            continue
        verdict = evaluate_rule(rule, values, "day" if METRICS[rule.metric].daily else period)
        verdicts[rule] = verdict
        last = verdict.iloc[-1]
        if bool(last.fired):
            alerts.append(Alert(rule, verdict.index[-1].date(), float(last.value), float(last.low), float(last.high),
                                int(last.held)))
    return Watch(snapshot.day, alerts, verdicts, not_judged)


__all__ = ["DEFAULT_RULES", "METRICS", "Alert", "Rule", "Watch", "alerts_at", "evaluate_rule", "load_rules"]
