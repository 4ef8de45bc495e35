"""Facts several sections mention, read from the shared analysis tables."""

from __future__ import annotations

import pandas as pd

from memberlens import format as f
from memberlens.reports import charts as c
from memberlens.reports.base import ReportContext

_NEXT = {
    "day": pd.DateOffset(days=1),
    "week": pd.DateOffset(weeks=1),
    "month": pd.DateOffset(months=1),
    "quarter": pd.DateOffset(months=3),
}


def last_order_at(ctx: ReportContext) -> pd.Timestamp | None:
    """The time of the last order counted (from the ``rfm`` analysis: the latest last order)."""
    rfm = ctx.results.get("rfm")
    if rfm.empty:
        return None
    return pd.Timestamp(rfm.last_order_at.max())


def partial_note(ctx: ReportContext, last_period_start) -> str | None:
    """A sentence saying the last period is cut short by the end of the data, if it is."""
    end = last_order_at(ctx)
    kind = ctx.results.options.period
    if end is None or f.missing(last_period_start):
        return None
    period_end = pd.Timestamp(last_period_start) + _NEXT[kind] - pd.Timedelta(days=1)
    if end.normalize() >= period_end.normalize():
        return None
    return ctx.t("report.partial_period", period=f.period(last_period_start, kind), end=f.day(end))


def trend(values: pd.Series) -> str:
    """``rising``, ``falling`` or ``steady``: the sign of the least-squares slope, steady when
    the fitted change over the whole span is under 10 % of the mean."""
    values = pd.Series(values).dropna().astype(float)
    if len(values) < 3 or values.mean() == 0:
        return "steady"
    x = pd.Series(range(len(values)), dtype=float)
    slope = ((x - x.mean()) * (values.values - values.mean())).sum() / ((x - x.mean()) ** 2).sum()
    change = slope * (len(values) - 1) / abs(values.mean())
    return "rising" if change > 0.10 else "falling" if change < -0.10 else "steady"


def trend_word(ctx: ReportContext, values: pd.Series) -> str:
    return ctx.t(f"report.trend_{trend(values)}")


def share_comparison(
    t, groups: pd.DataFrame, names: list[str], colours: list[str], label_key: str
) -> tuple[dict, dict]:
    """Each group's share of customers beside its share of revenue (RFM segments, clusters):
    the figure and its data table."""
    data = [
        c.bar(
            t("label.customer_share"),
            names,
            groups.customer_share,
            colours=colours,
            pattern="/",
            opacity=0.55,
            percent=True,
        ),
        c.bar(t("label.revenue_share"), names, groups.revenue_share, colours=colours, percent=True),
    ]
    layout = c.layout(x_title=t(label_key), y_title=t("label.share"), y_percent=True, barmode="group", hovermode="x")
    table = c.table(
        groups.assign(name=names),
        [
            ("name", t(label_key), "text"),
            ("customers", t("label.customers"), "int"),
            ("customer_share", t("label.customer_share"), "pct"),
            ("revenue", t("label.revenue"), "num"),
            ("revenue_share", t("label.revenue_share"), "pct"),
            ("mean_recency", t("label.mean_recency"), "num"),
            ("mean_frequency", t("label.mean_frequency"), "num"),
            ("mean_monetary", t("label.mean_monetary"), "num"),
        ],
    )
    return c.figure(data, layout), table
