"""Report section: next product and anomalies — the strongest association rules with a chart,
how many members get a suggestion, and the unusual orders (such as the super orders that move a
period's averages) and members with the reason each was flagged. Exports each member's
suggestions and the flagged members."""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

from memberlens import format as f
from memberlens.i18n import Messages
from memberlens.predict.anomalies import (
    Anomalies,
    AnomalyThresholds,
    explain_members,
    explain_order,
    explain_orders,
)
from memberlens.predict.rules import AssociationRuleModel
from memberlens.reports import charts as c
from memberlens.reports.base import Chart, ReportContext, SectionContent, TableBlock

RULES_SHOWN = 10
ROWS_SHOWN = 15


def no_rules_sentence(t: Messages, model: AssociationRuleModel) -> str:
    """Why no rule was kept: the thresholds and what passed them (the report and the CLI say it)."""
    return t(
        "next_product.no_rules",
        items=f.num(model.n_frequent_items_),
        min_support=f.pct(model.min_support),
        baskets=f.num(model.n_baskets_),
        min_confidence=f.pct(model.min_confidence),
        min_lift=f.num(model.min_lift, 1),
    )


def no_orders_sentence(t: Messages, th: AnomalyThresholds) -> str:
    """That no order is unusual, and by which thresholds."""
    return t(
        "anomalies.no_orders",
        product_ratio=f.num(th.product_ratio),
        min_units=f.num(th.min_units),
        order_ratio=f.num(th.order_ratio),
    )


@dataclass(frozen=True)
class _Totals:
    buyers: int
    spend: float
    orders: int


class NextProductSection:
    key = "next-product"
    title_key = "next_product.title"
    needs = ("orders",)

    # -- results, computed once per report ------------------------------------------------------
    def _model(self, ctx: ReportContext) -> AssociationRuleModel:
        return ctx.results.get("next-product-model")

    def _suggestions(self, ctx: ReportContext) -> pd.DataFrame:
        return ctx.results.get("next-product")

    def _anomalies(self, ctx: ReportContext) -> Anomalies:
        return ctx.results.get("unusual").anomalies

    def _totals(self, ctx: ReportContext) -> _Totals:
        row = ctx.results.get("order-totals").iloc[0]
        return _Totals(int(row.buyers), float(row.spend or 0.0), int(row.orders))

    # -- the section ----------------------------------------------------------------------------
    def build(self, ctx: ReportContext) -> SectionContent:
        t = ctx.t
        # the anomaly queries first: the engine's largest working set (medians per product and
        # customer) then runs before the per-member suggestions are held in Python
        anomalies = self._anomalies(ctx)
        model = self._model(ctx)
        sentences = [
            t(
                "next_product.intro",
                baskets=f.num(model.n_baskets_),
                min_support=f.pct(model.min_support),
                min_confidence=f.pct(model.min_confidence),
                min_lift=f.num(model.min_lift, 1),
            )
        ]
        if model.sampled:
            sentences.append(
                t("next_product.sampled", sample=f.num(model.n_baskets_), total=f.num(model.total_baskets_))
            )
        sentences += self._rule_sentences(ctx, model)
        charts = [self._rules_chart(ctx, model.rules_)] if len(model.rules_) else []
        sentences += [t("anomalies.intro"), *self._anomaly_sentences(ctx, anomalies)]
        if len(anomalies.members):
            charts.append(self._members_chart(ctx, anomalies.members))
        tables = [self._orders_table(ctx, anomalies.orders), self._members_table(ctx, anomalies.members)]
        return SectionContent(
            self.key,
            t(self.title_key),
            sentences=sentences,
            charts=charts,
            tables=[table for table in tables if table.rows],
        )

    def _rule_sentences(self, ctx: ReportContext, model: AssociationRuleModel) -> list[str]:
        t, rules = ctx.t, model.rules_
        if not len(rules):
            return [no_rules_sentence(t, model)]
        best = rules.iloc[0]
        out = [
            t(
                "next_product.summary",
                rules=f.num(len(rules)),
                items=f.num(model.n_frequent_items_),
                min_support=f.pct(model.min_support),
                antecedent=_names(t, best.antecedent_names),
                consequent=_names(t, best.consequent_names),
                confidence=f.pct(best.confidence),
                lift=f.num(best.lift, 1),
            )
        ]
        suggestions = self._suggestions(ctx)
        if not len(suggestions):
            return out + [t("next_product.no_suggestions")]
        per_product = suggestions.groupby(["product_id", "product_name"], dropna=False).customer_id.nunique()
        per_product = per_product.reset_index().sort_values(["customer_id", "product_id"], ascending=[False, True])
        top = per_product.iloc[0]
        members = suggestions.customer_id.nunique()
        buyers = self._totals(ctx).buyers
        out.append(
            t(
                "next_product.suggestions",
                members=f.num(members),
                share=f.pct(members / buyers if buyers else None),
                products=f.num(len(per_product)),
                top_product=top.product_name if isinstance(top.product_name, str) else top.product_id,
                top_members=f.num(top.customer_id),
            )
        )
        return out

    def _rules_chart(self, ctx: ReportContext, rules: pd.DataFrame) -> Chart:
        t = ctx.t
        shown = rules.head(RULES_SHOWN).iloc[::-1]  # strongest at the top of a horizontal bar chart
        labels = [
            f"{r.rule_id}. {_names(t, r.antecedent_names)} {t('next_product.arrow')} {_names(t, r.consequent_names)}"
            for r in shown.itertuples()
        ]
        trace = c.bar(
            t("next_product.label_confidence"),
            labels,
            shown.confidence.tolist(),
            key="confidence",
            orientation="h",
            percent=True,
        )
        layout = c.layout(
            x_title=t("next_product.col_confidence"),
            legend=False,
            hovermode="closest",
            height=max(320, 40 * len(shown) + 80),
            x_category=False,
        )
        layout["xaxis"] |= {"tickformat": ".0%", "range": [0, 1]}
        layout["yaxis"] = {"automargin": True, "type": "category"}
        table = self._rules_table(ctx, rules.head(RULES_SHOWN))
        sentences = [t("next_product.chart_explain", shown=len(shown), lift=f.num(shown.lift.median(), 1))]
        return Chart(
            "next-product-rules",
            t("next_product.chart_title"),
            c.figure([trace], layout),
            sentences,
            table,
            "next-product",
        )

    def _rules_table(self, ctx: ReportContext, rules: pd.DataFrame) -> TableBlock:
        t = ctx.t
        frame = rules.assign(
            bought=rules.antecedent_names.map(lambda v: _names(t, v)),
            suggested=rules.consequent_names.map(lambda v: _names(t, v)),
        )
        return c.table(
            frame,
            [
                ("bought", t("next_product.col_antecedent"), "text"),
                ("suggested", t("next_product.col_consequent"), "text"),
                ("support", t("next_product.col_support"), "pct"),
                ("confidence", t("next_product.col_confidence"), "pct"),
                ("lift", t("next_product.col_lift"), "num"),
                ("baskets", t("next_product.col_baskets"), "int"),
            ],
            t("next_product.rules_caption"),
        )

    def _anomaly_sentences(self, ctx: ReportContext, anomalies: Anomalies) -> list[str]:
        t, th = ctx.t, anomalies.thresholds
        totals = self._totals(ctx)
        out = []
        if len(anomalies.orders):
            first = anomalies.orders.iloc[0]
            out.append(
                t(
                    "anomalies.orders_summary",
                    orders=f.num(len(anomalies.orders)),
                    total=f.num(totals.orders),
                    order_id=first.order_id,
                    reasons=t("anomalies.reason_separator").join(explain_order(first, t)),
                )
            )
        else:
            out.append(no_orders_sentence(t, th))
        members = anomalies.members
        if len(members):
            out.append(
                t(
                    "anomalies.members_summary",
                    members=f.num(len(members)),
                    resellers=f.num(int((members.kind == "reseller").sum())),
                    vips=f.num(int((members.kind == "vip").sum())),
                    orders_per_day=f.num(th.orders_per_day),
                    spend_share=f.pct(members.spend.sum() / totals.spend if totals.spend else None),
                )
            )
        else:
            out.append(t("anomalies.no_members"))
        return out

    def _orders_table(self, ctx: ReportContext, orders: pd.DataFrame) -> TableBlock:
        t = ctx.t
        frame = explain_orders(orders.head(ROWS_SHOWN), t)
        return c.table(
            frame,
            [
                ("order_id", t("anomalies.col_order"), "text"),
                ("customer_id", t("anomalies.col_customer"), "text"),
                ("ordered_at", t("anomalies.col_date"), "day"),
                ("units", t("anomalies.col_units"), "int"),
                ("amount", t("anomalies.col_amount"), "num"),
                ("reasons", t("anomalies.col_reasons"), "text"),
            ],
            t("anomalies.orders_caption"),
        )

    def _members_table(self, ctx: ReportContext, members: pd.DataFrame) -> TableBlock:
        t = ctx.t
        frame = explain_members(members.head(ROWS_SHOWN), t)
        frame = frame.assign(kind_label=frame.kind.map(lambda k: t(f"anomalies.kind_{k}")))
        return c.table(
            frame,
            [
                ("customer_id", t("anomalies.col_customer"), "text"),
                ("kind_label", t("anomalies.col_kind"), "text"),
                ("orders", t("anomalies.col_orders"), "int"),
                ("spend", t("anomalies.col_spend"), "num"),
                ("reasons", t("anomalies.col_reasons"), "text"),
            ],
            t("anomalies.members_caption"),
        )

    def _members_chart(self, ctx: ReportContext, members: pd.DataFrame) -> Chart:
        t = ctx.t
        traces = []
        for kind, colour in (("reseller", "#d73027"), ("vip", "#1a7f37")):
            part = members[members.kind == kind]
            if len(part):
                traces.append(
                    {
                        "type": "scatter",
                        "mode": "markers",
                        "name": c.plain(t(f"anomalies.kind_{kind}")),
                        "x": part.bulk_unit_share.fillna(0.0).tolist(),
                        "y": part.spend.tolist(),
                        "text": [c.plain(v) for v in part.customer_id],
                        "marker": {"size": 10, "color": colour},
                        "hovertemplate": "%{text}: %{y:,.0f} · %{x:.0%}<extra></extra>",
                    }
                )
        layout = c.layout(
            x_title=t("anomalies.col_bulk_share"),
            y_title=t("anomalies.col_spend"),
            x_category=False,
            hovermode="closest",
        )
        layout["xaxis"] |= {"tickformat": ".0%", "range": [-0.05, 1.05]}
        layout["yaxis"] |= {"type": "log", "rangemode": "normal"}
        table = self._members_table(ctx, members)
        sentences = [
            t(
                "anomalies.chart_explain",
                resellers=f.num(int((members.kind == "reseller").sum())),
                vips=f.num(int((members.kind == "vip").sum())),
            )
        ]
        return Chart(
            "anomalies-members", t("anomalies.chart_title"), c.figure(traces, layout), sentences, table, "anomalies"
        )

    # -- member lists -------------------------------------------------------------------------
    def exports(self, ctx: ReportContext) -> dict[str, pd.DataFrame]:
        suggestions = (
            self._suggestions(ctx)
            if len(self._model(ctx).rules_)
            else pd.DataFrame(
                columns=[
                    "customer_id",
                    "rank",
                    "product_id",
                    "product_name",
                    "rule_id",
                    "because",
                    "confidence",
                    "lift",
                ]
            )
        )
        members = explain_members(self._anomalies(ctx).members, ctx.t)
        return {"next_product": suggestions.reset_index(drop=True), "unusual_members": members.reset_index(drop=True)}


def _names(t, names) -> str:
    """A rule side as text: ``A + B``."""
    return t("next_product.and").join(str(n) for n in names)


__all__ = ["NextProductSection"]
