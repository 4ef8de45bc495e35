"""Report section: purchase behaviour by unit-price band (customer purchase preference, 客户购买偏好)."""

from __future__ import annotations

import pandas as pd

from memberlens import format as f
from memberlens.reports import charts as c
from memberlens.reports.base import Chart, ReportContext, SectionContent


def band_label(low: float, high: float | None) -> str:
    return f"{f.num(low)}+" if f.missing(high) else f"{f.num(low)}–{f.num(high)}"


class PriceBandsSection:
    key = "price_bands"
    title_key = "price_bands.title"
    needs = ("orders",)

    def build(self, ctx: ReportContext) -> SectionContent:
        t = ctx.t
        bands = ctx.results.get("price-bands")
        if bands.empty:
            return SectionContent(self.key, t(self.title_key), notes=[t("price_bands.no_prices")])
        x = [band_label(lo, hi) for lo, hi in zip(bands.price_from, bands.price_to)]
        data = [
            c.bar(t("label.units"), x, bands.units, key="units"),
            c.bar(t("label.revenue"), x, bands.revenue, key="revenue"),
            c.line(t("label.buyers"), x, bands.buyers, key="buyers", yaxis="y2"),
        ]
        layout = c.layout(x_title=t("label.unit_price_band"), y_title="", y2_title="", barmode="group")
        table = c.table(
            bands.assign(band=x),
            [
                ("band", t("label.unit_price_band"), "text"),
                ("lines", t("label.lines"), "int"),
                ("units", t("label.units"), "num"),
                ("revenue", t("label.revenue"), "num"),
                ("buyers", t("label.buyers"), "int"),
                ("mean_units_per_line", t("label.mean_units_per_line"), "num"),
            ],
        )
        sentences, per_line_sentences = self._sentences(ctx, bands, x)
        chart = Chart(
            "price-bands", t("price_bands.chart_title"), c.figure(data, layout), sentences, table, "price-bands"
        )
        per_line = [c.bar(t("label.mean_units_per_line"), x, bands.mean_units_per_line, key="mean_units_per_line")]
        layout = c.layout(x_title=t("label.unit_price_band"), y_title=t("label.mean_units_per_line"), legend=False)
        per_line_chart = Chart(
            "price-bands-units",
            t("price_bands.units_title"),
            c.figure(per_line, layout),
            per_line_sentences,
            table,
            "price-bands",
        )
        return SectionContent(
            self.key, t(self.title_key), sentences=[t("price_bands.intro")], charts=[chart, per_line_chart]
        )

    def _sentences(self, ctx: ReportContext, bands: pd.DataFrame, x: list[str]) -> tuple[list[str], list[str]]:
        t = ctx.t
        bands = bands.assign(band=x).reset_index(drop=True)
        sentences = []
        if bands.units.notna().any() and bands.units.sum() > 0:
            top = bands.loc[bands.units.idxmax()]
            sentences.append(t("price_bands.most_units", band=top.band, share=f.pct(top.units / bands.units.sum())))
        if bands.revenue.sum() > 0:
            top = bands.loc[bands.revenue.idxmax()]
            sentences.append(
                t("price_bands.most_revenue", band=top.band, share=f.pct(top.revenue / bands.revenue.sum()))
            )
        top = bands.loc[bands.buyers.idxmax()]
        sentences.append(t("price_bands.most_buyers", band=top.band, buyers=f.num(top.buyers)))
        per_line = bands.dropna(subset=["mean_units_per_line"])
        per_line_sentences = []
        if len(per_line) > 1:
            first, last = per_line.iloc[0], per_line.iloc[-1]
            key = (
                "price_bands.units_fall"
                if last.mean_units_per_line < first.mean_units_per_line
                else "price_bands.units_rise"
            )
            per_line_sentences.append(
                t(
                    key,
                    low_band=first.band,
                    low=f.num(first.mean_units_per_line),
                    high_band=last.band,
                    high=f.num(last.mean_units_per_line),
                )
            )
        else:
            per_line_sentences.append(
                t(
                    "price_bands.units_single",
                    band=per_line.band.iloc[0] if len(per_line) else f.DASH,
                    units=f.num(per_line.mean_units_per_line.iloc[0]) if len(per_line) else f.DASH,
                )
            )
        return sentences, per_line_sentences
