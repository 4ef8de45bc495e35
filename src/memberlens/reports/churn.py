"""Report section: churn rate and the change ratio 异动比 per period."""

from __future__ import annotations

from memberlens import format as f
from memberlens.reports import charts as c
from memberlens.reports.base import Chart, ReportContext, SectionContent
from memberlens.reports.common import trend_word


class ChurnSection:
    key = "churn"
    title_key = "churn.title"
    needs = ("orders",)

    def build(self, ctx: ReportContext) -> SectionContent:
        t, kind = ctx.t, ctx.results.options.period
        days = ctx.results.options.churn_days
        churn = ctx.results.get("churn")
        x = [f.period(v, kind) for v in churn.period_start]
        data = [
            c.bar(t("label.change_ratio"), x, churn.change_ratio, key="change_ratio", opacity=0.6),
            c.line(t("label.churn_rate"), x, churn.churn_rate, key="churn_rate", yaxis="y2", percent=True),
        ]
        layout = c.layout(
            x_title=t("label.period"), y_title=t("label.change_ratio"), y2_title=t("label.churn_rate"), y2_percent=True
        )
        layout["shapes"] = [
            {
                "type": "line",
                "xref": "paper",
                "x0": 0,
                "x1": 1,
                "yref": "y",
                "y0": 1,
                "y1": 1,
                "line": {"color": "#616e7c", "width": 1, "dash": "dash"},
            }
        ]
        sentences = []
        if len(churn):
            last = churn.iloc[-1]
            sentences.append(
                t(
                    "churn.last",
                    period=f.period(last.period_start, kind),
                    churned=f.num(last.churned),
                    known=f.num(last.known),
                    rate=f.pct(last.churn_rate),
                    days=days,
                )
            )
            rates = churn[churn.churned > 0]
            if len(rates) >= 3:
                sentences.append(t("churn.trend", trend=trend_word(ctx, rates.churn_rate)))
            ratios = churn.dropna(subset=["change_ratio"])
            if len(ratios):
                below = ratios[ratios.change_ratio < 1]
                sentences.append(
                    t(
                        "churn.change_ratio",
                        below=len(below),
                        periods=len(ratios),
                        median=f.num(ratios.change_ratio.median(), 2),
                        last=f.num(ratios.change_ratio.iloc[-1], 2),
                        last_period=f.period(ratios.period_start.iloc[-1], kind),
                    )
                )
        table = c.table(
            churn,
            [
                ("period_start", t("label.period"), lambda v: f.period(v, kind)),
                ("known", t("label.known"), "int"),
                ("active", t("label.active_customers"), "int"),
                ("churned", t("label.churned"), "int"),
                ("churn_rate", t("label.churn_rate"), "pct"),
                ("new_buyers", t("label.new_customers"), "int"),
                ("newly_churned", t("label.newly_churned"), "int"),
                ("change_ratio", t("label.change_ratio"), lambda v: f.num(v, 2)),
            ],
        )
        chart = Chart("churn", t("churn.chart_title"), c.figure(data, layout), sentences, table, "churn")
        return SectionContent(self.key, t(self.title_key), sentences=[t("churn.intro", days=days)], charts=[chart])
