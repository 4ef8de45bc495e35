"""Report section: observations and recommendations per cluster and per RFM segment, and for
the customer base as a whole — chosen and worded from the numbers (advice such as
"提高留存、提高活跃度 / 提高活跃度 / 重点维持" per cluster), never canned.

A group's profile compares its mean recency, frequency and spend with the median customer's
(from ⅔× to 1.5× counts as typical — medians, because order counts and spend have long tails);
the profile picks the advice, and the observation states the figures it was picked from.
"""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

from memberlens import format as f
from memberlens.errors import MemberlensError
from memberlens.reports.base import Card, ReportContext, SectionContent
from memberlens.reports.common import partial_note, trend, trend_word
from memberlens.reports.palette import colour

BAND = 1.5  # a group's mean from 1/BAND to BAND times the median customer's counts as typical
CONCENTRATION = 5.0  # revenue share at least this many times the customer share
LOW_RATE = 0.30  # a median repurchase rate below this leaves room to grow (UCI Online Retail: 20-30 % a month)


@dataclass(frozen=True)
class Profile:
    recency: float  # the group's mean over the median customer's: below 1 is more recent (better)
    frequency: float
    monetary: float

    @property
    def recent(self) -> bool:
        return self.recency <= 1 / BAND

    @property
    def lapsed(self) -> bool:
        return self.recency >= BAND

    @property
    def frequent(self) -> bool:
        return self.frequency >= BAND

    @property
    def infrequent(self) -> bool:
        return self.frequency <= 1 / BAND

    @property
    def big(self) -> bool:
        return self.monetary >= BAND

    def advice(self) -> str:
        """The key of the advice that fits the profile, most specific first."""
        if self.recent and self.frequent and self.big:
            return "keep"
        if self.lapsed and (self.frequent or self.big):
            return "win_back"
        if self.lapsed:
            return "low_value"
        if self.recent and self.infrequent:
            return "nurture"
        if self.frequent and not self.big:
            return "raise_basket"
        if self.infrequent and self.big:
            return "raise_frequency"
        return "activate"


def medians(rfm: pd.DataFrame) -> tuple[float, float, float]:
    """The median customer's recency, frequency and spend (from the ``rfm`` analysis)."""
    return tuple(float(rfm[c].median()) for c in ("recency", "frequency", "monetary"))


def profile_of(row, means: tuple[float, float, float]) -> Profile:
    r, fr, m = means

    def rel(value: float, mean: float) -> float:
        return float(value) / mean if mean else 1.0

    return Profile(rel(row.mean_recency, r), rel(row.mean_frequency, fr), rel(row.mean_monetary, m))


class RecommendationsSection:
    key = "recommendations"
    title_key = "advice.title"
    needs = ("orders",)

    def build(self, ctx: ReportContext) -> SectionContent:
        t = ctx.t
        cards, notes = [], []
        cards += self._overall(ctx)
        try:
            profiles = ctx.results.get("cluster-model").profiles
            cards += self._group_cards(ctx, profiles, "cluster", "cluster_name")
        except MemberlensError as exc:
            notes.append(t("report.failed", reason=t.error(exc)))
        segments = ctx.results.get("rfm-segments")
        if len(segments):
            cards += self._group_cards(ctx, segments, "segment", "segment")
        return SectionContent(
            self.key,
            t(self.title_key),
            sentences=[t("advice.intro", low=f.times(1 / BAND), high=f.times(BAND))],
            cards=cards,
            notes=notes,
        )

    # -- per group -----------------------------------------------------------------------------
    def _group_cards(self, ctx: ReportContext, groups: pd.DataFrame, kind: str, name_column: str) -> list[Card]:
        t = ctx.t
        typical = medians(ctx.results.get("rfm"))
        cards = []
        for row in groups.itertuples():
            name = getattr(row, name_column)
            label = f.label(t, kind, name)
            p = profile_of(row, typical)
            advice = p.advice()
            observations = [
                t(
                    "advice.size",
                    customers=f.num(row.customers),
                    customer_share=f.pct(row.customer_share),
                    revenue_share=f.pct(row.revenue_share),
                ),
                t(
                    "advice.rfm",
                    recency=f.num(row.mean_recency, 0),
                    recency_x=f.times(p.recency),
                    frequency=f.num(row.mean_frequency, 1),
                    frequency_x=f.times(p.frequency),
                    monetary=f.num(row.mean_monetary),
                    monetary_x=f.times(p.monetary),
                    median_recency=f.num(typical[0], 0),
                    median_frequency=f.num(typical[1], 1),
                    median_monetary=f.num(typical[2]),
                ),
            ]
            if row.customer_share > 0 and row.revenue_share >= CONCENTRATION * row.customer_share:
                observations.append(
                    t(
                        "advice.concentration",
                        customer_share=f.pct(row.customer_share),
                        revenue_share=f.pct(row.revenue_share),
                    )
                )
            actions = [t(f"advice.{advice}", revenue_share=f.pct(row.revenue_share), customers=f.num(row.customers))]
            if advice in ("keep", "win_back") and row.revenue_share >= 0.2:
                actions.append(t("advice.priority", revenue_share=f.pct(row.revenue_share)))
            cards.append(
                Card(
                    title=label,
                    colour=colour(name),
                    observations=observations,
                    actions=actions,
                    tag=t(f"advice.tag_{advice}"),
                    group=t(f"advice.group_{kind}s"),
                )
            )
        return cards

    # -- the whole base ------------------------------------------------------------------------
    def _overall(self, ctx: ReportContext) -> list[Card]:
        t, kind = ctx.t, ctx.results.options.period
        observations, actions = [], []
        stages = ctx.results.get("lifecycle")
        observed = stages[~stages.left_censored.astype(bool)]
        if len(stages) and partial_note(ctx, stages.period_start.iloc[-1]):
            observed = observed.iloc[:-1]  # a partial last period would overstate the lapse
        if len(observed):
            last = observed.iloc[-1]
            known = last.unactive + last.buyers
            share = last.unactive / known if known else None
            if share is not None:
                observations.append(
                    t(
                        "advice.unactive",
                        period=f.period(last.period_start, kind),
                        share=f.pct(share),
                        unactive=f.num(last.unactive),
                    )
                )
                if share >= 0.5:
                    actions.append(t("advice.reactivate", unactive=f.num(last.unactive)))
        if len(observed) >= 3:
            observations.append(
                t(
                    "advice.new_trend",
                    trend=trend_word(ctx, observed.new),
                    first=f.num(observed.new.iloc[0]),
                    last=f.num(observed.new.iloc[-1]),
                )
            )
            if trend(observed.new) == "falling":
                actions.append(t("advice.acquire"))
        rates = ctx.results.get("rates").dropna(subset=["repurchase_rate"])
        if len(rates):
            median = rates.repurchase_rate.median()
            observations.append(t("advice.repurchase", median=f.pct(median)))
            if median < LOW_RATE:
                actions.append(t("advice.repurchase_low", median=f.pct(median), target=f.pct(LOW_RATE, 0)))
        churn = ctx.results.get("churn").dropna(subset=["change_ratio"])
        if len(churn):
            recent = churn.tail(3)
            mean_ratio = recent.change_ratio.mean()
            observations.append(t("advice.change_ratio", n=len(recent), ratio=f.num(mean_ratio, 2)))
            if mean_ratio < 1:
                actions.append(t("advice.shrinking", ratio=f.num(mean_ratio, 2)))
        if not observations:
            return []
        if not actions:
            actions.append(t("advice.healthy"))
        return [
            Card(
                title=t("advice.overall_card"),
                colour="#2f6fb0",
                observations=observations,
                actions=actions,
                group=t("advice.group_overall"),
            )
        ]
