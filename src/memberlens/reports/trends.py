"""Report section: trends per period, and the super orders that explain outlier periods."""

from __future__ import annotations

import pandas as pd

from memberlens import format as f
from memberlens.reports import charts as c
from memberlens.reports.base import Chart, ReportContext, SectionContent

# A period is "lifted" by one order when its average order value is this much above the median
# period's and its largest order holds at least this share of its revenue.
OUTLIER_FACTOR = 1.2
SUPER_ORDER_SHARE = 0.10
TOP_ORDERS = 3


class TrendsSection:
    key = "trends"
    title_key = "trends.title"
    needs = ("orders",)

    def build(self, ctx: ReportContext) -> SectionContent:
        t, kind = ctx.t, ctx.results.options.period
        trends = ctx.results.get("trends")
        supers = ctx.results.get("super-orders", top=TOP_ORDERS)
        x = [f.period(v, kind) for v in trends.period_start]
        lifted = lifted_periods(trends, supers)
        charts = [
            self._customers_chart(ctx, trends, x, lifted),
            self._orders_chart(ctx, trends, x),
            self._super_orders_chart(ctx, trends, supers, lifted),
        ]
        return SectionContent(key=self.key, title=t(self.title_key), sentences=[t("trends.intro")], charts=charts)

    # -- charts ------------------------------------------------------------------------------
    def _customers_chart(self, ctx: ReportContext, trends: pd.DataFrame, x: list[str], lifted: pd.DataFrame) -> Chart:
        t, kind = ctx.t, ctx.results.options.period
        data = [
            c.bar(t("label.revenue"), x, trends.revenue, key="revenue", opacity=0.85),
            c.line(t("label.buyers"), x, trends.buyers, key="buyers", yaxis="y2"),
            c.line(
                t("label.revenue_per_buyer"),
                x,
                trends.revenue_per_buyer,
                key="revenue_per_buyer",
                yaxis="y2",
                dash="dot",
            ),
        ]
        layout = c.layout(x_title=t("label.period"), y_title=t("label.revenue"), y2_title="")
        sentences = []
        if len(trends) and trends.revenue.notna().any():
            peak = trends.loc[trends.revenue.idxmax()]
            median = trends.revenue.median()
            sentences.append(
                t(
                    "trends.peak_revenue",
                    period=f.period(peak.period_start, kind),
                    revenue=f.num(peak.revenue),
                    above=f.pct(peak.revenue / median - 1 if median else None),
                    median=f.num(median),
                    buyers=f.num(peak.buyers),
                )
            )
            per_buyer = trends.dropna(subset=["revenue_per_buyer"])
            if len(per_buyer) > 1:
                top = per_buyer.loc[per_buyer.revenue_per_buyer.idxmax()]
                sentences.append(
                    t(
                        "trends.peak_per_buyer",
                        period=f.period(top.period_start, kind),
                        value=f.num(top.revenue_per_buyer),
                        buyers=f.num(top.buyers),
                        median=f.num(per_buyer.revenue_per_buyer.median()),
                    )
                )
        sentences += [super_order_sentence(ctx, row) for row in lifted.itertuples()]
        table = c.table(
            trends,
            [
                ("period_start", t("label.period"), lambda v: f.period(v, kind)),
                ("buyers", t("label.buyers"), "int"),
                ("orders", t("label.orders"), "int"),
                ("revenue", t("label.revenue"), "num"),
                ("units", t("label.units"), "num"),
                ("revenue_per_buyer", t("label.revenue_per_buyer"), "num"),
                ("average_order_value", t("label.average_order_value"), "num"),
                ("new_customers", t("label.new_customers"), "int"),
            ],
        )
        return Chart(
            "trends-customers", t("trends.customers_title"), c.figure(data, layout), sentences, table, "trends"
        )

    def _orders_chart(self, ctx: ReportContext, trends: pd.DataFrame, x: list[str]) -> Chart:
        t, kind = ctx.t, ctx.results.options.period
        units_per_order = trends.units / trends.orders.where(trends.orders > 0)
        data = [
            c.bar(t("label.orders"), x, trends.orders, key="orders"),
            c.line(t("label.units"), x, trends.units, key="units", yaxis="y2"),
        ]
        layout = c.layout(x_title=t("label.period"), y_title=t("label.orders"), y2_title=t("label.units"))
        sentences = []
        if units_per_order.notna().sum() > 1:
            ranked = trends.assign(units_per_order=units_per_order).dropna(subset=["units_per_order"])
            ranked = ranked.sort_values("units_per_order", ascending=False)
            top = ranked.head(2)
            sentences.append(
                t(
                    "trends.units_per_order",
                    periods=", ".join(f.period(v, kind) for v in top.period_start),
                    values=", ".join(f.num(v) for v in top.units_per_order),
                    median=f.num(ranked.units_per_order.median()),
                )
            )
        elif trends.units.isna().all():
            sentences.append(t("trends.no_units"))
        table = c.table(
            trends.assign(units_per_order=units_per_order),
            [
                ("period_start", t("label.period"), lambda v: f.period(v, kind)),
                ("orders", t("label.orders"), "int"),
                ("units", t("label.units"), "num"),
                ("units_per_order", t("label.units_per_order"), "num"),
                ("average_order_value", t("label.average_order_value"), "num"),
            ],
        )
        return Chart("trends-orders", t("trends.orders_title"), c.figure(data, layout), sentences, table, "trends")

    def _super_orders_chart(
        self, ctx: ReportContext, trends: pd.DataFrame, supers: pd.DataFrame, lifted: pd.DataFrame
    ) -> Chart:
        t, kind = ctx.t, ctx.results.options.period
        top1 = supers[supers["rank"] == 1]
        x = [f.period(v, kind) for v in top1.period_start]
        colours = ["#d73027" if p in set(lifted.period_start) else "#9ecae1" for p in top1.period_start]
        data = [
            c.bar(t("label.share_of_period_revenue"), x, top1.share_of_period_revenue, colours=colours, percent=True)
        ]
        data[0]["customdata"] = [[c.plain(o), c.plain(cu)] for o, cu in zip(top1.order_id, top1.customer_id)]
        data[0]["hovertemplate"] = (
            "%{y:.1%} · "
            + c.plain(t("label.order_id"))
            + " %{customdata[0]} · "
            + c.plain(t("label.customer_id"))
            + " %{customdata[1]}<extra></extra>"
        )
        layout = c.layout(
            x_title=t("label.period"),
            y_title=t("label.revenue_share"),
            y_percent=True,
            legend=False,
            hovermode="closest",
        )
        sentences = []
        if len(top1):
            if len(lifted):
                sentences.append(
                    t(
                        "trends.super_orders_found",
                        n=len(lifted),
                        threshold=f.pct(SUPER_ORDER_SHARE, 0),
                        periods=", ".join(f.period(v, kind) for v in lifted.period_start),
                    )
                )
            else:
                sentences.append(
                    t(
                        "trends.super_orders_none",
                        share=f.pct(top1.share_of_period_revenue.max()),
                        threshold=f.pct(SUPER_ORDER_SHARE, 0),
                    )
                )
        table = c.table(
            supers,
            [
                ("period_start", t("label.period"), lambda v: f.period(v, kind)),
                ("rank", t("label.rank"), "int"),
                ("order_id", t("label.order_id"), "text"),
                ("customer_id", t("label.customer_id"), "text"),
                ("ordered_at", t("label.ordered_at"), "day"),
                ("amount", t("label.amount"), "num"),
                ("units", t("label.units"), "num"),
                ("share_of_period_revenue", t("label.share_of_period_revenue"), "pct"),
            ],
        )
        return Chart(
            "trends-super-orders", t("trends.super_title"), c.figure(data, layout), sentences, table, "super-orders"
        )


def lifted_periods(trends: pd.DataFrame, supers: pd.DataFrame) -> pd.DataFrame:
    """Periods whose average order value is an outlier explained by their largest order: per
    period, the order and the average order value with and without it."""
    aov = trends.dropna(subset=["average_order_value"])
    if len(aov) < 3:
        return pd.DataFrame(columns=["period_start"])
    median = aov.average_order_value.median()
    top1 = supers[supers["rank"] == 1].set_index("period_start")
    rows = []
    for row in aov.itertuples():
        if row.average_order_value < OUTLIER_FACTOR * median or row.period_start not in top1.index:
            continue
        order = top1.loc[row.period_start]
        if order.share_of_period_revenue < SUPER_ORDER_SHARE:
            continue
        without = (row.revenue - order.amount) / (row.orders - 1) if row.orders > 1 else None
        rows.append(
            {
                "period_start": row.period_start,
                "aov": row.average_order_value,
                "median_aov": median,
                "aov_without": without,
                "order_id": order.order_id,
                "customer_id": order.customer_id,
                "amount": order.amount,
                "units": order.units,
                "share": order.share_of_period_revenue,
            }
        )
    return pd.DataFrame(
        rows,
        columns=[
            "period_start",
            "aov",
            "median_aov",
            "aov_without",
            "order_id",
            "customer_id",
            "amount",
            "units",
            "share",
        ],
    )


def super_order_sentence(ctx: ReportContext, row) -> str:
    t, kind = ctx.t, ctx.results.options.period
    return t(
        "trends.super_order",
        period=f.period(row.period_start, kind),
        aov=f.num(row.aov),
        above=f.pct(row.aov / row.median_aov - 1),
        order=row.order_id,
        customer=row.customer_id,
        units=f.num(row.units),
        amount=f.num(row.amount),
        share=f.pct(row.share),
        without=f.num(row.aov_without),
    )
