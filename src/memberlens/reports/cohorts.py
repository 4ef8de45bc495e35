"""Report section: acquisition-cohort retention heatmaps (customers and revenue)."""

from __future__ import annotations

import pandas as pd

from memberlens import format as f
from memberlens.reports import charts as c
from memberlens.reports.base import Chart, ReportContext, SectionContent

MILESTONES = (1, 3, 6, 12)


class CohortsSection:
    key = "cohorts"
    title_key = "cohorts.title"
    needs = ("orders",)

    def build(self, ctx: ReportContext) -> SectionContent:
        t = ctx.t
        customers = ctx.results.get("cohorts", measure="customers")
        revenue = ctx.results.get("cohorts", measure="revenue")
        charts = [
            self._heatmap(ctx, customers, "cohorts-customers", t("cohorts.customers_title"), "customers"),
            self._heatmap(ctx, revenue, "cohorts-revenue", t("cohorts.revenue_title"), "revenue"),
        ]
        sentences = [t("cohorts.intro")]
        if len(customers):
            sentences.append(
                t("cohorts.left_censored", period=f.period(customers.cohort_start.iloc[0], ctx.results.options.period))
            )
        return SectionContent(self.key, t(self.title_key), sentences=sentences, charts=charts)

    def _heatmap(self, ctx: ReportContext, cells: pd.DataFrame, key: str, title: str, measure: str) -> Chart:
        t, kind = ctx.t, ctx.results.options.period
        cohorts = sorted(cells.cohort_start.unique())
        numbers = sorted(cells.period_number.unique())
        grid = cells.pivot(index="cohort_start", columns="period_number", values="retention").reindex(
            index=cohorts, columns=numbers
        )
        observable = cells.pivot(index="cohort_start", columns="period_number", values="observable").reindex(
            index=cohorts, columns=numbers
        )
        z = [
            [
                None if (not bool(o) or f.missing(v)) else float(v)
                for v, o in zip(grid.loc[cohort], observable.loc[cohort])
            ]
            for cohort in cohorts
        ]
        later = [v for row in z for n, v in zip(numbers, row) if n > 0 and v is not None]
        zmax = min(max(later), 1.0) if later and max(later) > 0 else 1.0
        y = [f.period(v, kind) for v in cohorts]
        sizes = cells.groupby("cohort_start").cohort_size.first().reindex(cohorts)
        trace = {
            "type": "heatmap",
            "x": [int(n) for n in numbers],
            "y": [c.plain(v) for v in y],
            "z": z,
            "zmin": 0,
            "zmax": zmax,
            "colorscale": [[0, "#f7fbff"], [0.5, "#6baed6"], [1, "#08306b"]],
            "hoverongaps": False,
            "texttemplate": "%{z:.0%}" if len(numbers) <= 16 else "",
            "textfont": {"size": 10},
            "customdata": [[f.num(s)] * len(numbers) for s in sizes],
            "hovertemplate": c.plain(t("cohorts.hover_cohort"))
            + " %{y} · "
            + c.plain(t("label.period_number"))
            + " %{x}: %{z:.1%}<br>"
            + c.plain(t("label.cohort_size"))
            + " %{customdata[0]}<extra></extra>",
            "colorbar": {"tickformat": ".0%", "thickness": 12},
        }
        layout = c.layout(
            x_title=t("label.period_number"),
            y_title=t("label.cohort"),
            legend=False,
            hovermode="closest",
            height=max(320, 22 * len(cohorts) + 120),
            x_category=False,
        )
        layout["yaxis"] |= {"type": "category", "autorange": "reversed", "rangemode": "normal"}
        layout["xaxis"] |= {"dtick": 1, "rangemode": "normal"}
        table = c.table(
            cells[cells.observable.astype(bool)],
            [
                ("cohort_start", t("label.cohort"), lambda v: f.period(v, kind)),
                ("period_number", t("label.period_number"), "int"),
                ("cohort_size", t("label.cohort_size"), "num"),
                ("value", t(f"label.{measure}"), "num"),
                ("retention", t("label.retention"), "pct"),
            ],
        )
        return Chart(key, title, c.figure([trace], layout), self._sentences(ctx, cells, measure), table, "cohorts")

    def _sentences(self, ctx: ReportContext, cells: pd.DataFrame, measure: str) -> list[str]:
        t, kind = ctx.t, ctx.results.options.period
        seen = cells[cells.observable.astype(bool)]
        parts = []
        for k in MILESTONES:
            at = seen[seen.period_number == k]
            if len(at) >= 2 and at.cohort_size.sum() > 0:
                parts.append(t("cohorts.milestone", k=k, share=f.pct(at.value.sum() / at.cohort_size.sum())))
        sentences = []
        if parts:
            sentences.append(t(f"cohorts.{measure}_milestones", milestones=t("report.list_separator").join(parts)))
        first = seen[(seen.period_number == 1) & (seen.cohort_size > 0)]
        if measure == "customers" and len(first) >= 2:
            best, worst = first.loc[first.retention.idxmax()], first.loc[first.retention.idxmin()]
            sentences.append(
                t(
                    "cohorts.best_worst",
                    best=f.period(best.cohort_start, kind),
                    best_share=f.pct(best.retention),
                    worst=f.period(worst.cohort_start, kind),
                    worst_share=f.pct(worst.retention),
                )
            )
        return sentences
