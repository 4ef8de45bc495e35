"""Report section: member-operations and marketing KPIs per period."""

from __future__ import annotations

import pandas as pd

from memberlens import format as f
from memberlens.reports import charts as c
from memberlens.reports.base import Chart, ReportContext, SectionContent

FUNNEL = ("registered_cumulative", "activated_cumulative", "purchasing_cumulative", "marketable_cumulative")
CONVERSION = ("activation_rate", "registration_to_purchase_rate", "activation_to_purchase_rate")
COSTS = ("media_cost", "coupon_cost", "points_cost")
UNIT = (
    "revenue_per_order",
    "revenue_per_buyer",
    "revenue_per_registration",
    "cost_per_order",
    "cost_per_buyer",
    "cost_per_registration",
)
COUPONS = ("coupon_member_ratio", "coupon_amount_ratio", "coupon_order_ratio", "coupon_users_repurchase_rate")


class KpisSection:
    key = "kpis"
    title_key = "kpis.title"
    needs = ("members", "orders")

    def build(self, ctx: ReportContext) -> SectionContent:
        t, kind = ctx.t, ctx.results.options.period
        kpis = ctx.results.get("kpis")
        if kpis.empty:
            return SectionContent(self.key, t(self.title_key), notes=[t("report.no_customers")])
        x = [f.period(v, kind) for v in kpis.period_start]
        last = kpis.iloc[-1]
        period = f.period(last.period_start, kind)
        charts, notes = [], []

        data = [c.line(t(f"label.{m}"), x, kpis[m], key=m.replace("_cumulative", ""), markers=False) for m in FUNNEL]
        sentences = [
            t(
                "kpis.funnel",
                period=period,
                registered=f.num(last.registered_cumulative),
                activated=f.num(last.activated_cumulative),
                activation=f.pct(last.activation_rate),
                purchasing=f.num(last.purchasing_cumulative),
                marketable=f.num(last.marketable_cumulative),
                marketable_share=f.pct(
                    last.marketable_cumulative / last.registered_cumulative if last.registered_cumulative else None
                ),
            )
        ]
        charts.append(
            self._chart(
                ctx,
                "kpis-members",
                "kpis.members_title",
                data,
                kpis,
                ("period_start",) + FUNNEL,
                sentences,
                y_title=t("label.members"),
            )
        )

        data = [c.line(t(f"label.{m}"), x, kpis[m], key=m, percent=True, markers=False) for m in CONVERSION]
        sentences = [
            t(
                "kpis.conversion",
                period=period,
                activation=f.pct(last.activation_rate),
                registration_to_purchase=f.pct(last.registration_to_purchase_rate),
                activation_to_purchase=f.pct(last.activation_to_purchase_rate),
            )
        ]
        charts.append(
            self._chart(
                ctx,
                "kpis-conversion",
                "kpis.conversion_title",
                data,
                kpis,
                ("period_start",) + CONVERSION,
                sentences,
                y_title=t("label.rate"),
                y_percent=True,
            )
        )

        if "marketing_cost" in kpis.columns:
            data = [c.bar(t(f"label.{m}"), x, kpis[m], key=m) for m in COSTS]
            columns = ("period_start",) + COSTS + ("marketing_cost",)
            total_cost = kpis.marketing_cost.sum()
            sentences = [
                t(
                    "kpis.cost",
                    cost=f.num(total_cost),
                    media=f.pct(kpis.media_cost.sum() / total_cost if total_cost else None),
                    coupon=f.pct(kpis.coupon_cost.sum() / total_cost if total_cost else None),
                    points=f.pct(kpis.points_cost.sum() / total_cost if total_cost else None),
                )
            ]
            y2 = None
            if "cost_ratio" in kpis.columns:
                data.append(
                    c.line(t("label.cost_ratio"), x, kpis.cost_ratio, key="cost_ratio", yaxis="y2", percent=True)
                )
                columns += ("marketing_revenue", "cost_ratio")
                revenue = kpis.marketing_revenue.sum()
                sentences.append(
                    t("kpis.cost_ratio", revenue=f.num(revenue), ratio=f.pct(total_cost / revenue if revenue else None))
                )
                y2 = t("label.cost_ratio")
            else:
                notes.append(ctx.locked("campaigns"))
            charts.append(
                self._chart(
                    ctx,
                    "kpis-cost",
                    "kpis.cost_title",
                    data,
                    kpis,
                    columns,
                    sentences,
                    y_title=t("label.marketing_cost"),
                    y2_title=y2,
                    barmode="stack",
                )
            )
        else:
            notes.append(ctx.locked("marketing_costs"))

        unit = [m for m in UNIT if m in kpis.columns]
        data = [
            c.line(t(f"label.{m}"), x, kpis[m], key=m, markers=False, dash="dot" if m.startswith("cost") else None)
            for m in unit
        ]
        sentences = [
            t(
                "kpis.unit",
                period=period,
                per_order=f.num(last.revenue_per_order),
                per_buyer=f.num(last.revenue_per_buyer),
            )
        ]
        if "cost_per_order" in kpis.columns:
            sentences.append(
                t(
                    "kpis.unit_cost",
                    period=period,
                    per_order=f.num(last.cost_per_order),
                    per_buyer=f.num(last.cost_per_buyer),
                    per_registration=f.num(last.cost_per_registration),
                )
            )
        charts.append(
            self._chart(
                ctx,
                "kpis-unit",
                "kpis.unit_title",
                data,
                kpis,
                ("period_start",) + tuple(unit),
                sentences,
                y_title=t("label.amount"),
            )
        )

        if "coupon_order_ratio" in kpis.columns:
            data = [c.line(t(f"label.{m}"), x, kpis[m], key=m, percent=True, markers=False) for m in COUPONS]
            data.append(
                c.line(
                    t("label.coupon_users_aov"),
                    x,
                    kpis.coupon_users_aov,
                    key="average_order_value",
                    yaxis="y2",
                    dash="dot",
                    markers=False,
                )
            )
            sentences = [
                t(
                    "kpis.coupons",
                    period=period,
                    members=f.pct(last.coupon_member_ratio),
                    amount=f.pct(last.coupon_amount_ratio),
                    orders=f.pct(last.coupon_order_ratio),
                    aov=f.num(last.coupon_users_aov),
                    all_aov=f.num(last.revenue_per_order),
                    repurchase=f.pct(last.coupon_users_repurchase_rate),
                )
            ]
            charts.append(
                self._chart(
                    ctx,
                    "kpis-coupons",
                    "kpis.coupons_title",
                    data,
                    kpis,
                    ("period_start",) + COUPONS + ("coupon_users_aov",),
                    sentences,
                    y_title=t("label.share"),
                    y_percent=True,
                    y2_title=t("label.coupon_users_aov"),
                )
            )
        else:
            notes.append(t("kpis.no_coupons"))
        return SectionContent(self.key, t(self.title_key), sentences=[t("kpis.intro")], charts=charts, notes=notes)

    def _chart(
        self,
        ctx: ReportContext,
        key: str,
        title_key: str,
        data: list,
        kpis: pd.DataFrame,
        columns: tuple[str, ...],
        sentences: list[str],
        *,
        y_title: str,
        y_percent: bool = False,
        y2_title: str | None = None,
        barmode: str | None = None,
    ) -> Chart:
        t, kind = ctx.t, ctx.results.options.period

        def spec(column: str):
            if column == "period_start":
                return (column, t("label.period"), lambda v: f.period(v, kind))
            is_rate = column.endswith(("_rate", "_ratio"))
            return (column, t(f"label.{column}"), "pct" if is_rate else "num")

        layout = c.layout(
            x_title=t("label.period"),
            y_title=y_title,
            y_percent=y_percent,
            y2_title=y2_title,
            y2_percent=y2_title is not None and "cost_ratio" in columns,
            barmode=barmode,
        )
        return Chart(
            key, t(title_key), c.figure(data, layout), sentences, c.table(kpis, [spec(col) for col in columns]), "kpis"
        )
