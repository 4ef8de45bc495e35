"""Report section: ABC classes of customers and of products by cumulative revenue share."""

from __future__ import annotations

import pandas as pd

from memberlens import format as f
from memberlens.reports import charts as c
from memberlens.reports.base import Chart, ReportContext, SectionContent
from memberlens.reports.palette import colour

TOP_PRODUCTS = 15


class AbcSection:
    key = "abc"
    title_key = "abc.title"
    needs = ("orders",)

    def build(self, ctx: ReportContext) -> SectionContent:
        t = ctx.t
        charts, notes = [], []
        for by in ("customer", "product"):
            summary = ctx.results.get("abc-summary", by=by)
            if summary.empty:
                notes.append(t(f"abc.no_{by}s"))
                continue
            charts.append(self._classes(ctx, summary, by))
        products = ctx.results.get("abc", by="product")
        if len(products):
            charts.append(self._top_products(ctx, products))
        return SectionContent(self.key, t(self.title_key), sentences=[t("abc.intro")], charts=charts, notes=notes)

    def _classes(self, ctx: ReportContext, summary: pd.DataFrame, by: str) -> Chart:
        t = ctx.t
        classes = [t("abc.class", name=n) for n in summary.abc_class]
        colours = [colour(n) for n in summary.abc_class]
        data = [
            c.bar(
                t(f"abc.share_of_{by}s"),
                classes,
                summary.entity_share,
                colours=colours,
                pattern="/",
                opacity=0.55,
                percent=True,
            ),
            c.bar(t("label.revenue_share"), classes, summary.revenue_share, colours=colours, percent=True),
        ]
        layout = c.layout(
            x_title=t("label.abc_class"), y_title=t("label.share"), y_percent=True, barmode="group", hovermode="x"
        )
        table = c.table(
            summary.assign(name=classes),
            [
                ("name", t("label.abc_class"), "text"),
                ("entities", t(f"abc.{by}s"), "int"),
                ("entity_share", t(f"abc.share_of_{by}s"), "pct"),
                ("revenue", t("label.revenue"), "num"),
                ("revenue_share", t("label.revenue_share"), "pct"),
            ],
        )
        sentences = []
        a = summary[summary.abc_class == "A"]
        if len(a):
            sentences.append(
                t(
                    f"abc.a_{by}s",
                    n=f.num(a.entities.iloc[0]),
                    share=f.pct(a.entity_share.iloc[0]),
                    revenue_share=f.pct(a.revenue_share.iloc[0]),
                )
            )
        cc = summary[summary.abc_class == "C"]
        if len(cc):
            sentences.append(
                t(
                    f"abc.c_{by}s",
                    n=f.num(cc.entities.iloc[0]),
                    share=f.pct(cc.entity_share.iloc[0]),
                    revenue_share=f.pct(cc.revenue_share.iloc[0]),
                )
            )
        return Chart(f"abc-{by}s", t(f"abc.{by}s_title"), c.figure(data, layout), sentences, table, "abc-summary")

    def _top_products(self, ctx: ReportContext, products: pd.DataFrame) -> Chart:
        t = ctx.t
        top = products.head(TOP_PRODUCTS).copy()
        names = product_names(ctx, top.product_id.tolist())
        top["product_name"] = [names.get(p) or "" for p in top.product_id]
        labels = [f"{n} ({p})" if n else str(p) for p, n in zip(top.product_id, top.product_name)]
        trace = c.bar(
            t("label.revenue"), labels, top.revenue, colours=[colour(k) for k in top.abc_class], orientation="h"
        )
        trace["customdata"] = [[f.pct(s), f.pct(cs)] for s, cs in zip(top.revenue_share, top.cumulative_share)]
        trace["hovertemplate"] = (
            "%{y}<br>"
            + c.plain(t("label.revenue"))
            + " %{x:,.0f} · "
            + c.plain(t("label.revenue_share"))
            + " %{customdata[0]} · "
            + c.plain(t("label.cumulative_share"))
            + " %{customdata[1]}<extra></extra>"
        )
        layout = c.layout(
            x_title=t("label.revenue"),
            legend=False,
            hovermode="closest",
            x_category=False,
            height=max(320, 26 * len(top) + 100),
        )
        layout["yaxis"] |= {"type": "category", "autorange": "reversed", "rangemode": "normal"}
        layout["margin"]["l"] = 16
        table = c.table(
            top,
            [
                ("rank", t("label.rank"), "int"),
                ("product_id", t("label.product_id"), "text"),
                ("product_name", t("label.product_name"), "text"),
                ("revenue", t("label.revenue"), "num"),
                ("revenue_share", t("label.revenue_share"), "pct"),
                ("cumulative_share", t("label.cumulative_share"), "pct"),
                ("abc_class", t("label.abc_class"), "text"),
            ],
        )
        first = top.iloc[0]
        sentences = [
            t(
                "abc.top_products",
                n=len(top),
                share=f.pct(top.cumulative_share.iloc[-1]),
                first=labels[0],
                first_share=f.pct(first.revenue_share),
            )
        ]
        return Chart(
            "abc-top-products",
            t("abc.top_products_title", n=len(top)),
            c.figure([trace], layout),
            sentences,
            table,
            "abc",
        )


def product_names(ctx: ReportContext, product_ids: list) -> dict:
    """Names of products (the most frequent description of each id) — labels, not figures."""
    names = ctx.results.get("product-names")
    names = names[names.product_id.isin(product_ids)]
    return dict(zip(names.product_id, names.product_name))
