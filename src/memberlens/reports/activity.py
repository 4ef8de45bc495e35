"""Report section: daily, weekly and monthly active members (DAU / WAU / MAU) and stickiness,
from events when the workspace has them, else from orders."""

from __future__ import annotations

from memberlens import format as f
from memberlens.reports import charts as c
from memberlens.reports.base import Chart, ReportContext, SectionContent

MEASURES = ("dau", "wau", "mau")


class ActivitySection:
    key = "activity"
    title_key = "activity.title"
    needs = ("orders",)

    def build(self, ctx: ReportContext) -> SectionContent:
        t = ctx.t
        source = "events" if ctx.has("events") else "orders"
        actives = ctx.results.get("active-users", source=source)
        notes = [] if source == "events" else [ctx.locked("events")]
        if actives.empty:
            return SectionContent(self.key, t(self.title_key), notes=[t("report.no_customers")] + notes)
        x = [f.day(v) for v in actives.day]
        data = [c.line(t(f"label.{m}"), x, actives[m], key=m, markers=False) for m in MEASURES]
        data.append(
            c.line(
                t("label.stickiness"),
                x,
                actives.stickiness,
                key="stickiness",
                yaxis="y2",
                markers=False,
                dash="dot",
                percent=True,
            )
        )
        layout = c.layout(
            x_title=t("label.day"),
            y_title=t("label.active_members"),
            y2_title=t("label.stickiness"),
            y2_percent=True,
            x_category=False,
        )
        layout["xaxis"]["type"] = "date"
        last = actives.iloc[-1]
        full = actives[actives.full_window.astype(bool)]
        sentences = [
            t(
                "activity.last_day",
                day=f.day(last.day),
                dau=f.num(last.dau),
                wau=f.num(last.wau),
                mau=f.num(last.mau),
                stickiness=f.pct(last.stickiness),
            )
        ]
        if len(full):
            peak = full.loc[full.mau.idxmax()]
            sentences.append(
                t(
                    "activity.summary",
                    stickiness=f.pct(full.stickiness.mean()),
                    peak_day=f.day(peak.day),
                    peak=f.num(peak.mau),
                )
            )
        table = c.table(
            actives,
            [
                ("day", t("label.day"), "day"),
                ("dau", t("label.dau"), "int"),
                ("wau", t("label.wau"), "int"),
                ("mau", t("label.mau"), "int"),
                ("stickiness", t("label.stickiness"), "pct"),
            ],
        )
        chart = Chart("activity", t("activity.chart_title"), c.figure(data, layout), sentences, table, "active-users")
        return SectionContent(
            self.key, t(self.title_key), sentences=[t(f"activity.intro_{source}")], charts=[chart], notes=notes
        )
