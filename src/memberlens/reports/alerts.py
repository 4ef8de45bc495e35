"""Report section, at the top: the alerts the monitoring rules raise on the last complete period
(the built-in rules of :mod:`memberlens.monitor.rules`), each said in a sentence, and every
rule's last verdict in a table."""

from __future__ import annotations

import math

import pandas as pd

from memberlens import format as f
from memberlens.monitor import DEFAULT_RULES, Rule, Watch
from memberlens.reports import charts as c
from memberlens.reports.base import ReportContext, SectionContent

# metrics shown as shares
SHARES = {
    "churn_rate",
    "repurchase_rate",
    "return_rate",
    "reactivation_rate",
    "activation_rate",
    "registration_to_purchase_rate",
    "activation_to_purchase_rate",
    "coupon_member_ratio",
    "coupon_amount_ratio",
    "coupon_order_ratio",
    "stickiness",
    "segment_share",
    "risk_band_share",
}


def metric_value(metric: str, value: float) -> str:
    if value is None or (isinstance(value, float) and math.isinf(value)):
        return ""
    return f.pct(value) if metric in SHARES else f.num(value, 2 if metric in ("change_ratio", "cost_ratio") else None)


def metric_words(t, rule: Rule) -> str:
    """The number a rule watches, in the report's language (a share names its segment or band)."""
    if rule.metric == "segment_share":
        return t("monitor_metric.segment_share", group=f.label(t, "segment", rule.group))
    if rule.metric == "risk_band_share":
        return t("monitor_metric.risk_band_share", group=rule.group)
    return t(f"monitor_metric.{rule.metric}")


class AlertsSection:
    key = "alerts"
    title_key = "monitor.title"
    needs = ("orders",)

    def __init__(self, rules: tuple[Rule, ...] | list[Rule] = DEFAULT_RULES) -> None:
        self.rules = tuple(rules)

    def watch(self, ctx: ReportContext) -> Watch:
        """The rules' verdicts at the report's date, judged once per report."""
        return ctx.results.get("alerts", rules=self.rules)

    def exports(self, ctx: ReportContext) -> dict[str, pd.DataFrame]:
        """The customers behind the alerts that count customers (e.g. who churned in the month a
        churn alert fired), highest spend first."""
        members = ctx.results.get("alert-members", rules=self.rules)
        return {"alert_members": members} if len(members) else {}

    def build(self, ctx: ReportContext) -> SectionContent:
        t, kind = ctx.t, ctx.results.options.period
        watch = self.watch(ctx)
        sentences = [t("monitor.intro", rules=len(self.rules), alerts=len(watch.alerts), day=f.day(watch.day))]
        for alert in watch.alerts:
            sentences.append(
                self._sentence(
                    ctx, alert.rule, alert.period_start, alert.value, alert.low, alert.high, alert.held, kind
                )
            )
        if not watch.alerts:
            sentences.append(t("monitor.none"))
        rows = []
        for rule in self.rules:
            verdict = watch.verdicts.get(rule)
            if verdict is None:
                continue
            last = verdict.iloc[-1]
            rows.append(
                {
                    "metric": metric_words(t, rule),
                    "rule": self._rule_words(ctx, rule),
                    "period": f.period(
                        verdict.index[-1], "day" if rule.metric in ("dau", "wau", "mau", "stickiness") else kind
                    ),
                    "value": metric_value(rule.metric, last.value),
                    "low": metric_value(rule.metric, last.low),
                    "high": metric_value(rule.metric, last.high),
                    "status": t("monitor.fired")
                    if last.fired
                    else (t("monitor.waiting") if pd.isna(last.low) else t("monitor.within")),
                }
            )
        notes = [
            t("monitor.not_judged", metric=metric_words(t, r), why=t(key, **values))
            for r, (key, values) in watch.not_judged.items()
        ]
        table = c.table(
            pd.DataFrame(rows, columns=["metric", "rule", "period", "value", "low", "high", "status"]),
            [
                ("metric", t("monitor.col_metric"), "text"),
                ("rule", t("monitor.col_rule"), "text"),
                ("period", t("label.period"), "text"),
                ("value", t("monitor.col_value"), "text"),
                ("low", t("monitor.col_low"), "text"),
                ("high", t("monitor.col_high"), "text"),
                ("status", t("monitor.col_status"), "text"),
            ],
            caption=t("monitor.table_caption"),
        )
        return SectionContent(self.key, t(self.title_key), sentences=sentences, tables=[table], notes=notes)

    @staticmethod
    def _rule_words(ctx: ReportContext, rule: Rule) -> str:
        t = ctx.t
        if rule.kind == "threshold":
            key = "monitor.rule_below" if rule.direction == "down" else "monitor.rule_above"
            return t(key, limit=metric_value(rule.metric, rule.limit), periods=rule.periods)
        if rule.kind == "change":
            key = "monitor.rule_fall" if rule.direction == "down" else "monitor.rule_rise"
            return t(key, change=f.pct(rule.limit, 0), baseline=t(f"monitor_baseline.{rule.baseline}"))
        return t(f"monitor.rule_auto_{rule.direction}", band=f.num(rule.band))

    def _sentence(self, ctx, rule, period_start, value, low, high, held, kind) -> str:
        t = ctx.t
        period = f.period(period_start, "day" if rule.metric in ("dau", "wau", "mau", "stickiness") else kind)
        values = {
            "metric": metric_words(t, rule),
            "period": period,
            "value": metric_value(rule.metric, value),
            "held": held,
            "low": metric_value(rule.metric, low),
            "high": metric_value(rule.metric, high),
        }
        if rule.kind == "threshold":
            return t("monitor.alert_below" if rule.direction == "down" else "monitor.alert_above", **values)
        if rule.kind == "change":
            return t(
                "monitor.alert_fall" if rule.direction == "down" else "monitor.alert_rise",
                change=f.pct(rule.limit, 0),
                baseline=t(f"monitor_baseline.{rule.baseline}"),
                **values,
            )
        return t("monitor.alert_auto", **values)
