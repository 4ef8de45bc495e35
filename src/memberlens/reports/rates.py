"""Report section: repurchase rate (复购率), return rate (回购率) and reactivation rate per period."""

from __future__ import annotations

import pandas as pd

from memberlens import format as f
from memberlens.reports import charts as c
from memberlens.reports.base import Chart, ReportContext, SectionContent
from memberlens.reports.common import partial_note

RATES = ("repurchase_rate", "return_rate", "reactivation_rate")


class RatesSection:
    key = "rates"
    title_key = "rates.title"
    needs = ("orders",)

    def build(self, ctx: ReportContext) -> SectionContent:
        t, kind = ctx.t, ctx.results.options.period
        rates = ctx.results.get("rates")
        x = [f.period(v, kind) for v in rates.period_start]
        data = [c.line(t(f"label.{r}"), x, rates[r], key=r, percent=True) for r in RATES]
        layout = c.layout(x_title=t("label.period"), y_title=t("label.rate"), y_percent=True)
        table = c.table(
            rates,
            [
                ("period_start", t("label.period"), lambda v: f.period(v, kind)),
                ("buyers", t("label.buyers"), "int"),
                ("repeat_buyers", t("label.repeat_buyers"), "int"),
                ("repurchase_rate", t("label.repurchase_rate"), "pct"),
                ("previous_buyers", t("label.previous_buyers"), "int"),
                ("returning_buyers", t("label.returning_buyers"), "int"),
                ("return_rate", t("label.return_rate"), "pct"),
                ("lapsed_customers", t("label.lapsed_customers"), "int"),
                ("reactivated_buyers", t("label.reactivated_buyers"), "int"),
                ("reactivation_rate", t("label.reactivation_rate"), "pct"),
            ],
        )
        sentences = [s for s in (self._range(ctx, rates, r) for r in RATES) if s]
        both = rates.dropna(subset=["repurchase_rate", "return_rate"])
        if len(both) >= 4:
            corr = both.repurchase_rate.corr(both.return_rate)
            if not f.missing(corr):
                key = "rates.together" if corr >= 0.5 else ("rates.opposite" if corr <= -0.5 else "rates.independent")
                sentences.append(t(key, corr=f.num(corr, 2)))
        if len(rates):
            note = partial_note(ctx, rates.period_start.iloc[-1])
            if note:
                sentences.append(note)
        chart = Chart("rates", t("rates.chart_title"), c.figure(data, layout), sentences, table, "rates")
        return SectionContent(self.key, t(self.title_key), sentences=[t("rates.intro")], charts=[chart])

    def _range(self, ctx: ReportContext, rates: pd.DataFrame, column: str) -> str | None:
        t, kind = ctx.t, ctx.results.options.period
        values = rates.dropna(subset=[column])
        if values.empty:
            return None
        low, high = values.loc[values[column].idxmin()], values.loc[values[column].idxmax()]
        return t(
            "rates.range",
            rate=t(f"label.{column}"),
            low=f.pct(low[column]),
            low_period=f.period(low.period_start, kind),
            high=f.pct(high[column]),
            high_period=f.period(high.period_start, kind),
            median=f.pct(values[column].median()),
        )
