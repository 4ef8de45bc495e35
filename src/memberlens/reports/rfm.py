"""Report section: RFM segments (value as of the cut-off); exports each customer's segment."""

from __future__ import annotations

import pandas as pd

from memberlens import format as f
from memberlens.reports import charts as c
from memberlens.reports.base import Chart, ReportContext, SectionContent
from memberlens.reports.common import share_comparison
from memberlens.reports.palette import colour

AT_RISK = ("at_risk", "cant_lose")


class RfmSection:
    key = "rfm"
    title_key = "rfm.title"
    needs = ("orders",)

    def build(self, ctx: ReportContext) -> SectionContent:
        t = ctx.t
        segments = ctx.results.get("rfm-segments")
        if segments.empty:
            return SectionContent(self.key, t(self.title_key), notes=[t("report.no_customers")])
        names = [f.label(t, "segment", s) for s in segments.segment]
        colours = [colour(s) for s in segments.segment]
        figure, table = share_comparison(t, segments, names, colours, "label.segment")
        share_chart = Chart(
            "rfm-shares", t("rfm.shares_title"), figure, self._sentences(ctx, segments, names), table, "rfm-segments"
        )

        biggest = segments.revenue.max() or 1
        bubbles = []
        for row, name in zip(segments.itertuples(), names):
            bubbles.append(
                {
                    "type": "scatter",
                    "mode": "markers",
                    "name": c.plain(name),
                    "x": [float(row.mean_recency)],
                    "y": [float(row.mean_frequency)],
                    "marker": {
                        "color": colour(row.segment),
                        "size": [max(8.0, 60 * (max(row.revenue, 0) / biggest) ** 0.5)],
                        "line": {"color": "#ffffff", "width": 1},
                        "opacity": 0.85,
                    },
                    "customdata": [[f.num(row.customers), f.pct(row.revenue_share), f.num(row.mean_monetary)]],
                    "hovertemplate": "<b>"
                    + c.plain(name)
                    + "</b><br>"
                    + c.plain(t("label.mean_recency"))
                    + " %{x:.0f}<br>"
                    + c.plain(t("label.mean_frequency"))
                    + " %{y:.1f}<br>"
                    + c.plain(t("label.customers"))
                    + " %{customdata[0]}<br>"
                    + c.plain(t("label.revenue_share"))
                    + " %{customdata[1]}<br>"
                    + c.plain(t("label.mean_monetary"))
                    + " %{customdata[2]}<extra></extra>",
                }
            )
        layout = c.layout(
            x_title=t("label.mean_recency_days"),
            y_title=t("label.mean_frequency"),
            x_category=False,
            hovermode="closest",
        )
        layout["xaxis"]["rangemode"] = "tozero"
        frame = segments.assign(name=names).reset_index(drop=True)
        recent, frequent, lapsed = (
            frame.loc[frame.mean_recency.idxmin()],
            frame.loc[frame.mean_frequency.idxmax()],
            frame.loc[frame.mean_recency.idxmax()],
        )
        map_sentences = [
            t(
                "rfm.map_explain",
                recent=recent["name"],
                recency=f.num(recent.mean_recency, 0),
                frequent=frequent["name"],
                frequency=f.num(frequent.mean_frequency, 1),
                lapsed=lapsed["name"],
                lapsed_recency=f.num(lapsed.mean_recency, 0),
            )
        ]
        map_chart = Chart(
            "rfm-map", t("rfm.map_title"), c.figure(bubbles, layout), map_sentences, table, "rfm-segments"
        )
        sentences = [
            t(
                "rfm.intro",
                scheme=t("rfm.scheme_grid") if ctx.results.options.scheme == "grid" else t("rfm.scheme_other"),
                bins=ctx.results.options.bins,
            )
        ]
        rfm = ctx.results.get("rfm")
        if len(rfm):
            sentences.append(t("rfm.as_of", cutoff=f.day(ctx.day), customers=f.num(len(rfm))))
        return SectionContent(self.key, t(self.title_key), sentences=sentences, charts=[share_chart, map_chart])

    def _sentences(self, ctx: ReportContext, segments: pd.DataFrame, names: list[str]) -> list[str]:
        t = ctx.t
        frame = segments.assign(name=names).reset_index(drop=True)
        top = frame.loc[frame.revenue_share.idxmax()]
        sentences = [
            t(
                "rfm.top_revenue",
                segment=top["name"],
                customer_share=f.pct(top.customer_share),
                revenue_share=f.pct(top.revenue_share),
                ratio=f.times(top.revenue_share / top.customer_share if top.customer_share else None),
            )
        ]
        largest = frame.loc[frame.customers.idxmax()]
        if largest["name"] != top["name"]:
            sentences.append(
                t(
                    "rfm.largest",
                    segment=largest["name"],
                    customer_share=f.pct(largest.customer_share),
                    revenue_share=f.pct(largest.revenue_share),
                )
            )
        risky = frame[frame.segment.isin(AT_RISK)]
        if len(risky):
            sentences.append(
                t(
                    "rfm.at_risk",
                    segments=t("report.list_separator").join(risky["name"]),
                    customers=f.num(risky.customers.sum()),
                    revenue_share=f.pct(risky.revenue_share.sum()),
                )
            )
        return sentences

    def exports(self, ctx: ReportContext) -> dict[str, pd.DataFrame]:
        rfm = ctx.results.get("rfm")
        columns = [
            "customer_id",
            "segment",
            "r_score",
            "f_score",
            "m_score",
            "rfm_code",
            "rfm_score",
            "recency",
            "frequency",
            "monetary",
            "last_order_at",
        ]
        return {"rfm_segments": rfm[columns]}
