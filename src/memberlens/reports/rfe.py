"""Report section: RFE visit activity: recency of visit, visits, engagement."""

from __future__ import annotations

from memberlens import format as f
from memberlens.reports import charts as c
from memberlens.reports.base import Chart, ReportContext, SectionContent


class RfeSection:
    key = "rfe"
    title_key = "rfe.title"
    needs = ("events",)

    def build(self, ctx: ReportContext) -> SectionContent:
        t = ctx.t
        rfe = ctx.results.get("rfe")
        if rfe.empty:
            return SectionContent(self.key, t(self.title_key), notes=[t("report.no_customers")])
        bins = ctx.results.options.bins
        counts = (
            rfe.groupby("rfm_score")
            .size()
            .reindex(range(3, 3 * bins + 1), fill_value=0)
            .rename("members")
            .reset_index()
        )
        counts["share"] = counts.members / counts.members.sum()
        data = [c.bar(t("label.members"), [str(s) for s in counts.rfm_score], counts.members, key="score")]
        layout = c.layout(x_title=t("label.rfe_score"), y_title=t("label.members"), legend=False)
        top = rfe[rfe.rfm_score >= 3 * bins - 2]
        low_f_high_e = rfe[(rfe.f_score <= 2) & (rfe.m_score >= bins - 1)]
        sentences = [
            t("rfe.top", n=f.num(len(top)), share=f.pct(len(top) / len(rfe)), threshold=3 * bins - 2),
            t("rfe.low_visits_high_engagement", n=f.num(len(low_f_high_e)), share=f.pct(len(low_f_high_e) / len(rfe))),
        ]
        means = rfe.groupby("rfm_score")[["recency", "frequency", "engagement"]].mean().reset_index()
        table = c.table(
            counts.merge(means, on="rfm_score", how="left"),
            [
                ("rfm_score", t("label.rfe_score"), "int"),
                ("members", t("label.members"), "int"),
                ("share", t("label.share"), "pct"),
                ("recency", t("label.mean_recency"), "num"),
                ("frequency", t("label.mean_visits"), "num"),
                ("engagement", t("label.mean_engagement"), "num"),
            ],
        )
        chart = Chart("rfe", t("rfe.chart_title"), c.figure(data, layout), sentences, table, "rfe")
        return SectionContent(self.key, t(self.title_key), sentences=[t("rfe.intro", bins=bins)], charts=[chart])
