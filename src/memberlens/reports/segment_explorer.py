"""Report section: the segment explorer — a cohort of the customer-360 table beside
all customers: numeric columns, their distributions, a metric by group, text columns' values,
flag shares, flag combinations and a two-way matrix against a metric, with observations and
recommendations from the numbers. Shows the default cohort
(:data:`~memberlens.segments.spec.FAST_HANDOVER_SLOW_SUPPORT`) unless given another segment;
exports the cohort's member list."""

from __future__ import annotations

from typing import Any

import pandas as pd

from memberlens import format as f
from memberlens.errors import ConfigError
from memberlens.reports import charts as c
from memberlens.reports.base import Card, Chart, ReportContext, SectionContent
from memberlens.reports.palette import colour
from memberlens.segments import (
    FAST_HANDOVER_SLOW_SUPPORT,
    SegmentProfile,
    SegmentSpec,
    Support,
)
from memberlens.segments.observations import Finding, render

COHORT, POPULATION = "#2f6fb0", "#bdbdbd"
TOPICS = ("size", "numeric", "by", "categories", "flags", "combinations", "matrix")
TOPIC_CARD = {
    "size": "card_size",
    "numeric": "card_size",
    "by": "card_by",
    "categories": "card_categories",
    "flags": "card_flags",
    "combinations": "card_combinations",
    "matrix": "card_matrix",
}
TOPIC_COLOUR = {
    "size": "#2f6fb0",
    "numeric": "#2f6fb0",
    "by": "#1a7f37",
    "categories": "#e07b00",
    "flags": "#7b3294",
    "combinations": "#7b3294",
    "matrix": "#d73027",
}


class SegmentExplorerSection:
    """The explorer for one segment (:data:`FAST_HANDOVER_SLOW_SUPPORT` by default) of ``table``.

    ``profile`` may be passed when it has been computed already (the CLI's ``--format html``).
    """

    key = "segment-explorer"
    title_key = "explorer.title"

    def __init__(
        self,
        spec: SegmentSpec | None = None,
        *,
        name: str | None = None,
        table: str = "customer_360",
        min_count: int = 30,
        profile: SegmentProfile | None = None,
    ) -> None:
        self.spec = spec or FAST_HANDOVER_SLOW_SUPPORT
        self.name = name
        self.table = table
        self.needs = (table,)
        self.support = Support(min_count=min_count)
        self._profile = profile

    # -- computing -------------------------------------------------------------------------
    def profile(self, ctx: ReportContext) -> SegmentProfile:
        if self._profile is not None:
            return self._profile
        return ctx.results.get("segment-profile", **self._options())

    def _options(self) -> dict:
        return {
            "segment": self.spec,
            "segment_table": self.table,
            "segment_name": self.name,
            "min_count": self.support.min_count,
        }

    def exports(self, ctx: ReportContext) -> dict[str, pd.DataFrame]:
        members = ctx.results.get("segment-members", **self._options())
        label = self.name or ("fast_handover_slow_support" if self.spec == FAST_HANDOVER_SLOW_SUPPORT else "cohort")
        return {f"segment_{label}": members}

    # -- the section -----------------------------------------------------------------------
    def build(self, ctx: ReportContext) -> SectionContent:
        t = ctx.t
        try:
            profile = self.profile(ctx)
        except ConfigError as exc:  # e.g. a customer table without the default cohort's columns
            return SectionContent(
                self.key,
                t(self.title_key),
                notes=[t("explorer.no_table_columns", table=self.table, reason=t.error(exc))],
            )
        findings = profile.findings()
        said = {topic: [render(x, t) for x in findings if x.topic == topic and not x.action] for topic in TOPICS}
        support = profile.support
        sentences = []
        if self.name:
            sentences.append(t("explorer.saved_intro", name=self.name))
        sentences.append(
            t(
                "explorer.intro",
                where=self.spec.where,
                table=self.table,
                min_lift=f.pct(support.min_lift, 0),
                min_points=f.num(support.min_points * 100, 0),
                min_count=support.min_count,
                z=support.z,
            )
        )
        sentences += said["size"]
        charts: list[Chart] = []
        if profile.cohort_size:
            charts.append(self._numeric_chart(t, profile, said["numeric"]))
            if len(profile.distributions):
                charts.append(self._distribution_chart(t, profile))
            if profile.by_group is not None:
                charts.append(self._by_chart(t, profile, said["by"]))
            if len(profile.categories):
                charts.append(self._categories_chart(t, profile, said["categories"]))
            if len(profile.flags):
                charts.append(self._flags_chart(t, profile, said["flags"]))
            if profile.combinations is not None:
                charts.append(self._combinations_chart(t, profile, said["combinations"]))
            if profile.matrix is not None:
                charts.append(self._matrix_chart(t, profile, said["matrix"]))
        return SectionContent(
            self.key, t(self.title_key), sentences=sentences, charts=charts, cards=self._cards(t, findings)
        )

    def _cards(self, t, findings: list[Finding]) -> list[Card]:
        cards = []
        for card_key in dict.fromkeys(TOPIC_CARD[topic] for topic in TOPICS):
            topics = [topic for topic in TOPICS if TOPIC_CARD[topic] == card_key]
            actions = [render(x, t) for x in findings if x.topic in topics and x.action]
            if actions:
                cards.append(
                    Card(
                        t(f"explorer.{card_key}"),
                        TOPIC_COLOUR[topics[0]],
                        [],
                        actions,
                        group=t("explorer.group_findings"),
                    )
                )
        return cards

    # -- charts ----------------------------------------------------------------------------
    def _numeric_chart(self, t, profile: SegmentProfile, sentences: list[str]) -> Chart:
        frame = profile.numeric.dropna(subset=["lift"])
        names = list(frame.column)
        colours = [COHORT if n else "#9ecae1" for n in frame.notable]
        trace = c.bar(t("explorer.lift"), names, frame.lift, colours=colours, orientation="h", percent=True)
        layout = c.layout(
            x_title=t("explorer.lift"),
            legend=False,
            hovermode="closest",
            x_category=False,
            height=max(280, 34 * len(names) + 100),
        )
        layout["xaxis"] |= {"tickformat": ".0%", "rangemode": "normal", "zeroline": True, "zerolinecolor": "#52606d"}
        layout["yaxis"] |= {"type": "category", "autorange": "reversed", "rangemode": "normal"}
        table = c.table(
            profile.numeric,
            [
                ("column", t("explorer.column"), "text"),
                ("cohort_count", t("explorer.cohort_count"), "int"),
                ("cohort_mean", t("explorer.cohort_mean"), "num"),
                ("population_mean", t("explorer.population_mean"), "num"),
                ("lift", t("explorer.lift"), _signed_pct),
                ("cohort_median", t("explorer.cohort_median"), "num"),
                ("population_median", t("explorer.population_median"), "num"),
                ("notable", t("explorer.notable"), _mark(t)),
            ],
        )
        return Chart(
            "segment-numeric",
            t("explorer.numeric_title"),
            c.figure([trace], layout),
            [t("explorer.numeric_explain"), *sentences],
            table,
            "segment",
        )

    def _distribution_chart(self, t, profile: SegmentProfile) -> Chart:
        frame = profile.distributions
        columns = list(dict.fromkeys(frame.column))
        traces, buttons = [], []
        for i, column in enumerate(columns):
            part = frame[frame.column == column]
            labels = [_bin_label(r.low, r.high) for r in part.itertuples()]
            for name, values, tint in (
                (t("explorer.cohort"), part.cohort_share, COHORT),
                (t("explorer.population"), part.population_share, POPULATION),
            ):
                trace = c.bar(name, labels, values, colours=[tint] * len(labels), percent=True)
                trace["visible"] = i == 0
                traces.append(trace)
            visible = [j // 2 == i for j in range(2 * len(columns))]
            buttons.append({"label": c.plain(column), "method": "update", "args": [{"visible": visible}]})
        layout = c.layout(
            x_title=t("explorer.bin"),
            y_title=t("explorer.cohort_share"),
            y_percent=True,
            barmode="group",
            hovermode="x",
        )
        layout["updatemenus"] = [
            {
                "buttons": buttons,
                "direction": "down",
                "x": 1,
                "xanchor": "right",
                "y": 1.18,
                "yanchor": "top",
                "showactive": True,
            }
        ]
        table = c.table(
            frame,
            [
                ("column", t("explorer.column"), "text"),
                ("low", t("explorer.bin"), lambda v: ""),
                ("cohort", t("explorer.cohort_count"), "int"),
                ("population", t("explorer.population_count"), "int"),
                ("cohort_share", t("explorer.cohort_share"), "pct"),
                ("population_share", t("explorer.population_share"), "pct"),
            ],
        )
        rows = [[r[0], _bin_label(lo, hi), *r[2:]] for r, lo, hi in zip(table.rows, frame.low, frame.high)]
        table = type(table)(table.caption, table.columns, rows, table.numeric)
        return Chart(
            "segment-distributions",
            t("explorer.distribution_title"),
            c.figure(traces, layout),
            [t("explorer.distribution_explain", column=", ".join(columns))],
            table,
            "segment",
        )

    def _by_chart(self, t, profile: SegmentProfile, sentences: list[str]) -> Chart:
        spec, frame = profile.spec, profile.by_group
        groups = [_text(v, t) for v in frame[spec.by]]
        data = [
            c.bar(t("explorer.cohort"), groups, frame.cohort_mean, colours=[COHORT] * len(groups)),
            c.bar(t("explorer.population"), groups, frame.population_mean, colours=[POPULATION] * len(groups)),
        ]
        layout = c.layout(x_title=spec.by, y_title=spec.group_metric, barmode="group", hovermode="x")
        table = c.table(
            frame.assign(group=groups),
            [
                ("group", spec.by, "text"),
                ("cohort_members", t("explorer.cohort_count"), "int"),
                ("cohort_mean", t("explorer.cohort_mean"), "num"),
                ("population_members", t("explorer.population_count"), "int"),
                ("population_mean", t("explorer.population_mean"), "num"),
                ("lift", t("explorer.lift"), _signed_pct),
                ("notable", t("explorer.notable"), _mark(t)),
                ("small", t("explorer.small"), _mark(t, "mark_small")),
            ],
        )
        return Chart(
            "segment-by",
            t("explorer.by_title", metric=spec.group_metric, by=spec.by),
            c.figure(data, layout),
            sentences,
            table,
            "segment",
        )

    def _categories_chart(self, t, profile: SegmentProfile, sentences: list[str]) -> Chart:
        frame = profile.categories.assign(label=[_category(r, t) for r in profile.categories.itertuples()])
        columns = list(dict.fromkeys(frame.column))
        traces, buttons = [], []
        for i, column in enumerate(columns):
            part = frame[frame.column == column]
            for name, values, tint in (
                (t("explorer.cohort"), part.cohort_share, COHORT),
                (t("explorer.population"), part.population_share, POPULATION),
            ):
                trace = c.bar(name, part.label, values, colours=[tint] * len(part), percent=True)
                trace["visible"] = i == 0
                traces.append(trace)
            buttons.append(
                {
                    "label": c.plain(column),
                    "method": "update",
                    "args": [{"visible": [j // 2 == i for j in range(2 * len(columns))]}],
                }
            )
        layout = c.layout(y_title=t("explorer.cohort_share"), y_percent=True, barmode="group", hovermode="x")
        layout["updatemenus"] = [
            {
                "buttons": buttons,
                "direction": "down",
                "x": 1,
                "xanchor": "right",
                "y": 1.18,
                "yanchor": "top",
                "showactive": True,
            }
        ]
        table = c.table(
            frame,
            [
                ("column", t("explorer.column"), "text"),
                ("label", t("explorer.value"), "text"),
                ("cohort", t("explorer.cohort_count"), "int"),
                ("cohort_share", t("explorer.cohort_share"), "pct"),
                ("population", t("explorer.population_count"), "int"),
                ("population_share", t("explorer.population_share"), "pct"),
                ("difference", t("explorer.points"), lambda v: f.num(v * 100, 1) if not f.missing(v) else f.DASH),
                ("notable", t("explorer.notable"), _mark(t)),
            ],
        )
        return Chart(
            "segment-categories", t("explorer.categories_title"), c.figure(traces, layout), sentences, table, "segment"
        )

    def _flags_chart(self, t, profile: SegmentProfile, sentences: list[str]) -> Chart:
        frame = profile.flags
        names = list(frame.column)
        data = [
            c.bar(t("explorer.cohort"), names, frame.cohort_share, colours=[COHORT] * len(names), percent=True),
            c.bar(
                t("explorer.population"), names, frame.population_share, colours=[POPULATION] * len(names), percent=True
            ),
        ]
        layout = c.layout(y_title=t("explorer.cohort_share"), y_percent=True, barmode="group", hovermode="x")
        table = c.table(
            frame,
            [
                ("column", t("explorer.column"), "text"),
                ("cohort_share", t("explorer.cohort_share"), "pct"),
                ("population_share", t("explorer.population_share"), "pct"),
                ("difference", t("explorer.points"), lambda v: f.num(v * 100, 1) if not f.missing(v) else f.DASH),
                ("notable", t("explorer.notable"), _mark(t)),
            ],
        )
        return Chart("segment-flags", t("explorer.flags_title"), c.figure(data, layout), sentences, table, "segment")

    def _combinations_chart(self, t, profile: SegmentProfile, sentences: list[str]) -> Chart:
        spec, frame = profile.spec, profile.combinations
        flags = list(spec.flags)
        labels = [" · ".join(f"{flag}={_text(getattr(r, flag), t)}" for flag in flags) for r in frame.itertuples()]
        colours = ["#c7c7c7" if s else colour("score") for s in frame.small]
        trace = c.bar(t("explorer.cohort_mean"), labels, frame.cohort_mean, colours=colours, orientation="h")
        trace["customdata"] = [[f.num(n, 0), f.num(p)] for n, p in zip(frame.cohort_members, frame.population_mean)]
        trace["hovertemplate"] = (
            "%{y}: %{x:.2f}<br>"
            + c.plain(t("explorer.cohort_count"))
            + " %{customdata[0]}<br>"
            + c.plain(t("explorer.population_mean"))
            + " %{customdata[1]}<extra></extra>"
        )
        layout = c.layout(
            x_title=spec.metric,
            legend=False,
            hovermode="closest",
            x_category=False,
            height=max(300, 30 * len(labels) + 110),
        )
        layout["yaxis"] |= {"type": "category", "autorange": "reversed", "rangemode": "normal"}
        table = c.table(
            frame.assign(**{flag: [_text(v, t) for v in frame[flag]] for flag in flags}),
            [
                *[(flag, flag, "text") for flag in flags],
                ("cohort_members", t("explorer.cohort_count"), "int"),
                ("cohort_mean", t("explorer.cohort_mean"), "num"),
                ("population_members", t("explorer.population_count"), "int"),
                ("population_mean", t("explorer.population_mean"), "num"),
                ("small", t("explorer.small"), _mark(t, "mark_small")),
            ],
        )
        return Chart(
            "segment-combinations",
            t("explorer.combinations_title", metric=spec.metric),
            c.figure([trace], layout),
            sentences,
            table,
            "segment",
        )

    def _matrix_chart(self, t, profile: SegmentProfile, sentences: list[str]) -> Chart:
        spec, frame = profile.spec, profile.matrix
        a, b = spec.matrix
        rows = list(dict.fromkeys(frame[a]))
        cols = list(dict.fromkeys(frame.sort_values(b, na_position="last")[b]))
        means = frame.pivot_table(index=a, columns=b, values="cohort_mean", aggfunc="first", dropna=False)
        counts = frame.pivot_table(index=a, columns=b, values="cohort_members", aggfunc="first", dropna=False)
        z, text = [], []
        for r in rows:
            z_row, text_row = [], []
            for col in cols:
                m = _cell(means, r, col)
                n = _cell(counts, r, col)
                z_row.append(None if f.missing(m) else float(m))
                text_row.append("" if f.missing(n) or n == 0 else f"{f.num(m)} ({f.num(n, 0)})")
            z.append(z_row)
            text.append(text_row)
        trace = {
            "type": "heatmap",
            "x": [c.plain(_text(v, t)) for v in cols],
            "y": [c.plain(_text(v, t)) for v in rows],
            "z": z,
            "text": text,
            "texttemplate": "%{text}",
            "textfont": {"size": 11},
            "hoverongaps": False,
            "colorscale": [[0, "#d73027"], [0.5, "#ffffbf"], [1, "#1a9850"]],
            "colorbar": {"thickness": 12},
            "hovertemplate": "%{y} × %{x}: %{text}<extra></extra>",
        }
        layout = c.layout(
            x_title=b, y_title=a, legend=False, hovermode="closest", height=max(320, 40 * len(rows) + 140)
        )
        layout["yaxis"] |= {"type": "category", "autorange": "reversed", "rangemode": "normal"}
        table = c.table(
            frame.assign(**{a: [_text(v, t) for v in frame[a]], b: [_text(v, t) for v in frame[b]]}),
            [
                (a, a, "text"),
                (b, b, "text"),
                ("cohort_members", t("explorer.cohort_count"), "int"),
                ("cohort_mean", t("explorer.cohort_mean"), "num"),
                ("population_members", t("explorer.population_count"), "int"),
                ("population_mean", t("explorer.population_mean"), "num"),
                ("small", t("explorer.small"), _mark(t, "mark_small")),
            ],
        )
        explain = t("explorer.matrix_explain", metric=spec.metric, min_count=profile.support.min_count)
        return Chart(
            "segment-matrix",
            t("explorer.matrix_title", metric=spec.metric, rows=a, columns=b),
            c.figure([trace], layout),
            [explain, *sentences],
            table,
            "segment",
        )


def _cell(pivot: pd.DataFrame, row: Any, col: Any) -> Any:
    try:
        return pivot.loc[row, col]
    except KeyError:
        return None


def _text(value: Any, t) -> str:
    return t("explorer.missing") if f.missing(value) else str(value)


def _category(row, t) -> str:
    if row.kind == "other":
        return f"{t('explorer.other')} ×{int(row.values)}"
    if row.kind == "missing":
        return t("explorer.missing")
    return str(row.value)


def _bin_label(low: float, high: float) -> str:
    return f.num(low) if low == high else f"{f.num(low)}–{f.num(high)}"


def _signed_pct(value: Any) -> str:
    if f.missing(value):
        return f.DASH
    return ("+" if value > 0 else "") + f.pct(value)


def _mark(t, key: str = "mark_notable"):
    return lambda v: t(f"explorer.{key}") if (not f.missing(v) and bool(v)) else ""
