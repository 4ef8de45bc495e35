"""Report section: lifecycle layers per period (new / active / return / unactive) and the
PostHog/Amplitude growth view; exports each customer's current stage."""

from __future__ import annotations

import pandas as pd

from memberlens import format as f
from memberlens.reports import charts as c
from memberlens.reports.base import Chart, ReportContext, SectionContent
from memberlens.reports.common import partial_note, trend_word

STAGES = ("new", "active", "return", "unactive")
GROWTH = ("new", "returning", "resurrecting", "dormant")


class LifecycleSection:
    key = "lifecycle"
    title_key = "lifecycle.title"
    needs = ("orders",)

    def build(self, ctx: ReportContext) -> SectionContent:
        t, kind = ctx.t, ctx.results.options.period
        stages = ctx.results.get("lifecycle")
        growth = ctx.results.get("growth")
        current = ctx.results.get("lifecycle-stage")
        x = [f.period(v, kind) for v in stages.period_start]
        partial = partial_note(ctx, stages.period_start.iloc[-1]) if len(stages) else None

        data = [c.bar(f.label(t, "stage", s), x, stages[s], key=s) for s in STAGES]
        layout = c.layout(x_title=t("label.period"), y_title=t("label.customers"), barmode="stack")
        table = c.table(
            stages,
            [("period_start", t("label.period"), lambda v: f.period(v, kind)), ("buyers", t("label.buyers"), "int")]
            + [(s, f.label(t, "stage", s), "int") for s in STAGES],
        )
        layers = Chart(
            "lifecycle-stages",
            t("lifecycle.chart_title"),
            c.figure(data, layout),
            self._stage_sentences(ctx, stages, partial),
            table,
            "lifecycle",
        )

        signed = growth.assign(dormant=-growth.dormant)
        data = [c.bar(f.label(t, "stage", s), x, signed[s], key=s) for s in GROWTH]
        layout = c.layout(x_title=t("label.period"), y_title=t("label.customers"), barmode="relative")
        layout["yaxis"]["rangemode"] = "normal"
        table = c.table(
            growth,
            [("period_start", t("label.period"), lambda v: f.period(v, kind))]
            + [(s, f.label(t, "stage", s), "int") for s in GROWTH],
        )
        growth_chart = Chart(
            "lifecycle-growth",
            t("lifecycle.growth_title"),
            c.figure(data, layout),
            self._growth_sentences(ctx, growth),
            table,
            "growth",
        )

        counts = current.stage.value_counts()
        sentences = [t("lifecycle.intro")]
        if len(current):
            sentences.append(
                t(
                    "lifecycle.current",
                    period=f.period(stages.period_start.iloc[-1], kind),
                    **{s: f.num(counts.get(s, 0)) for s in STAGES},
                    total=f.num(len(current)),
                )
            )
        return SectionContent(self.key, t(self.title_key), sentences=sentences, charts=[layers, growth_chart])

    def _stage_sentences(self, ctx: ReportContext, stages: pd.DataFrame, partial: str | None) -> list[str]:
        t, kind = ctx.t, ctx.results.options.period
        sentences = []
        observed = stages[~stages.left_censored.astype(bool)]
        if partial:
            sentences.append(partial)
        if len(observed) >= 2:
            first, last = observed.iloc[0], observed.iloc[-1]
            falls = observed[observed.unactive.diff() < 0]
            sentences.append(
                t(
                    "lifecycle.unactive",
                    first_period=f.period(first.period_start, kind),
                    first=f.num(first.unactive),
                    last_period=f.period(last.period_start, kind),
                    last=f.num(last.unactive),
                    share=f.pct(last.unactive / (last.unactive + last.buyers) if last.unactive + last.buyers else None),
                )
            )
            if len(falls):
                sentences.append(
                    t("lifecycle.unactive_falls", periods=", ".join(f.period(v, kind) for v in falls.period_start))
                )
            else:
                sentences.append(t("lifecycle.unactive_never_falls"))
            complete = observed.iloc[:-1] if partial else observed
            if len(complete) >= 3:
                peak = complete.loc[complete.new.idxmax()]
                sentences.append(
                    t(
                        "lifecycle.new_trend",
                        trend=trend_word(ctx, complete.new),
                        first_period=f.period(complete.iloc[0].period_start, kind),
                        first=f.num(complete.iloc[0].new),
                        last_period=f.period(complete.iloc[-1].period_start, kind),
                        last=f.num(complete.iloc[-1].new),
                        peak_period=f.period(peak.period_start, kind),
                        peak=f.num(peak.new),
                    )
                )
        if len(stages) and bool(stages.left_censored.iloc[0]):
            sentences.append(t("lifecycle.left_censored", period=f.period(stages.period_start.iloc[0], kind)))
        return sentences

    def _growth_sentences(self, ctx: ReportContext, growth: pd.DataFrame) -> list[str]:
        t = ctx.t
        observed = growth[~growth.left_censored.astype(bool)]
        if observed.empty:
            return []
        gained = observed.new + observed.resurrecting
        net = gained - observed.dormant
        quick = gained.sum() / observed.dormant.sum() if observed.dormant.sum() else None
        shrinking = observed[net < 0]
        return [t("lifecycle.quick_ratio", ratio=f.num(quick), shrinking=len(shrinking), periods=len(observed))]

    def exports(self, ctx: ReportContext) -> dict[str, pd.DataFrame]:
        current = ctx.results.get("lifecycle-stage")
        return {"lifecycle_stages": current[["customer_id", "stage", "last_purchase_period_start"]]}
