"""Report section: churn risk and marketing response.

The churn model is trained on the workspace (:class:`memberlens.predict.churn.ChurnModel`) and
shown with its check on a later cut-off: risk bands and the revenue at stake, predicted against
observed churn per tenth of risk, and the features it rests on. With a campaigns table, the
response model adds its check on the latest campaign, a planned send to the marketable members
and the rules describing likely responders. Exports one member list per risk band.
"""

from __future__ import annotations

import pandas as pd

from memberlens import format as f
from memberlens.errors import MemberlensError
from memberlens.predict.churn import RISK_BANDS, ChurnModel, training_sample
from memberlens.predict.response import ResponseModel, describe_conditions
from memberlens.reports import charts as c
from memberlens.reports.base import Chart, ReportContext, SectionContent, TableBlock

CALIBRATION_TOLERANCE = 0.05  # points of difference between predicted and observed per tenth


def churn_result(ctx: ReportContext) -> tuple[ChurnModel, pd.DataFrame]:
    """The churn model and its scores as of the report's date."""
    scored = ctx.results.get("churn-model")
    return scored.model, scored.scores


def response_result(ctx: ReportContext) -> tuple[ResponseModel, pd.DataFrame]:
    scored = ctx.results.get("response-model")
    return scored.model, scored.scores


def band_summary(scores: pd.DataFrame) -> pd.DataFrame:
    """Per risk band: customers, share, mean probability, spend in the last 180 days and the
    revenue at stake (spend × probability)."""
    frame = scores.assign(at_stake=scores.spend_180d * scores.churn_probability)
    per = frame.groupby("risk_band").agg(
        customers=("customer_id", "size"),
        probability=("churn_probability", "mean"),
        spend=("spend_180d", "sum"),
        at_stake=("at_stake", "sum"),
    )
    per = per.reindex(list(RISK_BANDS)).fillna({"customers": 0, "spend": 0.0, "at_stake": 0.0}).reset_index()
    per["share"] = per.customers / max(len(scores), 1)
    return per


class ChurnRiskSection:
    key = "churn-risk"
    title_key = "churn_risk.title"
    needs = ("orders",)

    def build(self, ctx: ReportContext) -> SectionContent:
        t = ctx.t
        model, scores = churn_result(ctx)
        summary, metrics = model.summary(), model.metrics_
        intro = "churn_risk.intro" if model.label == "orders" else "churn_risk.intro_unsubscribe"
        sentences = [
            t(
                intro,
                horizon=model.horizon_days,
                cutoffs=len(model.training_cutoffs_),
                first=summary["training_cutoffs"][0],
                last=summary["training_cutoffs"][-1],
                validation=summary["validation_cutoff"],
            ),
            t(
                "churn_risk.quality",
                validation=summary["validation_cutoff"],
                auc=f.num(metrics["roc_auc"], 3),
                pr_auc=f.num(metrics["pr_auc"], 3),
                brier=f.num(metrics["brier"], 3),
                top_rate=f.pct(model.deciles_.observed.iloc[0]),
                lift=f.times(metrics["top_decile_lift"]),
                base=f.pct(metrics["base_rate"]),
                capture=f.pct(metrics["top_decile_capture"]),
            ),
        ]
        sample = training_sample(summary)
        if sample is not None:
            sentences.append(
                t(
                    "churn_risk.sampled",
                    share=f.pct(sample["fraction"]),
                    customers=f.num(sample["customers_before_validation"]),
                )
            )
        charts = [
            self._bands_chart(ctx, model, scores),
            self._decile_chart(ctx, model),
            self._importance_chart(ctx, model),
        ]
        notes: list[str] = []
        if ctx.has("campaigns"):
            try:
                charts_sentences = self._response(ctx)
                sentences += charts_sentences
            except MemberlensError as exc:
                notes.append(t("churn_risk.response_locked", reason=t.error(exc)))
        else:
            notes.append(ctx.locked("campaigns"))
        return SectionContent(self.key, t(self.title_key), sentences=sentences, charts=charts, notes=notes)

    def _bands_chart(self, ctx: ReportContext, model: ChurnModel, scores: pd.DataFrame) -> Chart:
        t = ctx.t
        bands = band_summary(scores)
        names = [t(f"churn_risk.band_{b}") for b in bands.risk_band]
        day = f.day(scores.as_of.iloc[0]) if len(scores) else f.DASH
        high = bands[bands.risk_band == "high"].iloc[0]
        if high.customers:
            sentences = [
                t(
                    "churn_risk.bands",
                    date=day,
                    high=f.num(high.customers),
                    high_share=f.pct(high.share),
                    threshold=f.pct(model.high, 0),
                    spend=f.num(high.spend),
                    at_stake=f.num(high.at_stake),
                ),
                t(
                    "churn_risk.action_high",
                    high=f.num(high.customers),
                    at_stake=f.num(high.at_stake),
                    horizon=model.horizon_days,
                ),
            ]
        else:
            sentences = [t("churn_risk.bands_none", date=day, threshold=f.pct(model.high, 0))]
        data = [c.bar(t("churn_risk.col_customers"), names, bands.customers, colours=["#d73027", "#fc8d59", "#91bfdb"])]
        table = c.table(
            bands.assign(name=names),
            [
                ("name", t("churn_risk.col_band"), "text"),
                ("customers", t("churn_risk.col_customers"), "int"),
                ("share", t("churn_risk.col_share"), "pct"),
                ("probability", t("churn_risk.col_probability"), "pct"),
                ("spend", t("churn_risk.col_spend"), "num"),
                ("at_stake", t("churn_risk.col_at_stake"), "num"),
            ],
        )
        layout = c.layout(x_title=t("churn_risk.col_band"), y_title=t("churn_risk.col_customers"), legend=False)
        return Chart(
            "churn-risk-bands", t("churn_risk.bands_title", date=day), c.figure(data, layout), sentences, table
        )

    def _decile_chart(self, ctx: ReportContext, model: ChurnModel) -> Chart:
        t = ctx.t
        deciles = model.deciles_
        validation = model.validation_cutoff_.isoformat()
        x = [str(int(d)) for d in deciles.decile]
        data = [
            c.bar(t("churn_risk.col_predicted"), x, deciles.predicted, key="predicted", percent=True),
            c.bar(t("churn_risk.col_observed"), x, deciles.observed, key="observed", percent=True),
        ]
        gaps = (deciles.predicted - deciles.observed).abs()
        worst = int(gaps.idxmax()) if len(gaps) else 0
        sentences = [t("churn_risk.deciles_explain", validation=validation)]
        if len(gaps) and gaps.max() <= CALIBRATION_TOLERANCE:
            sentences.append(t("churn_risk.calibration_good", gap=f.num(CALIBRATION_TOLERANCE * 100, 0)))
        elif len(gaps):
            sentences.append(t("churn_risk.calibration_gap", gap=f.num(gaps.max() * 100, 1), decile=x[worst]))
        table = c.table(
            deciles,
            [
                ("decile", t("churn_risk.col_decile"), "int"),
                ("members", t("churn_risk.col_customers"), "int"),
                ("predicted", t("churn_risk.col_predicted"), "pct"),
                ("observed", t("churn_risk.col_observed"), "pct"),
                ("lift", t("churn_risk.col_lift"), lambda v: f.times(v)),
                ("capture", t("churn_risk.col_capture"), "pct"),
            ],
        )
        layout = c.layout(
            x_title=t("churn_risk.col_decile"), y_title=t("churn_risk.col_observed"), y_percent=True, barmode="group"
        )
        return Chart(
            "churn-risk-deciles",
            t("churn_risk.deciles_title", validation=validation),
            c.figure(data, layout),
            sentences,
            table,
        )

    def _importance_chart(self, ctx: ReportContext, model: ChurnModel) -> Chart:
        t = ctx.t
        top = model.importances_.head(8).iloc[::-1]
        names = [t(f"churn_feature.{name}") for name in top.feature]
        data = [c.bar(t("churn_risk.col_importance"), names, top.importance, key="importance", orientation="h")]
        layout = c.layout(x_title=t("churn_risk.col_importance"), legend=False, hovermode="closest", x_category=False)
        table = TableBlock(
            "",
            [t("churn_risk.col_feature"), t("churn_risk.col_importance")],
            [[n, f.num(v, 4)] for n, v in zip(names[::-1], top.importance[::-1])],
            [False, True],
        )
        leaders = t("report.list_separator").join(names[::-1][:3])
        return Chart(
            "churn-risk-importance",
            t("churn_risk.importance_title"),
            c.figure(data, layout),
            [t("churn_risk.importance_explain", top=leaders)],
            table,
        )

    def _response(self, ctx: ReportContext) -> list[str]:
        t = ctx.t
        model, scores = response_result(ctx)
        metrics = model.metrics_
        out = [
            t(
                "churn_risk.response_quality",
                campaigns=len(model.training_campaigns_),
                sends=f.num(model.training_sends_),
                validation=model.validation_campaign_,
                top_rate=f.pct(model.deciles_.observed.iloc[0]),
                lift=f.times(metrics["top_decile_lift"]),
                base=f.pct(metrics["base_rate"]),
                auc=f.num(metrics["roc_auc"], 3),
            )
        ]
        if "marketable" in scores.columns:
            audience = scores.customer_id[scores.marketable.fillna(0) == 1]
            plan = model.plan_send(scores, audience)
            out.append(
                t(
                    "churn_risk.response_plan",
                    audience=f.num(plan.audience),
                    date=f.day(scores.as_of.iloc[0]),
                    responders=f.num(plan.expected_responders, 0),
                    rate=f.pct(plan.conversion_rate),
                    revenue=f.num(plan.expected_revenue),
                    per_response=f.num(plan.revenue_per_response),
                )
            )
        for rule in model.rules(min_lift=1.0)[:3]:
            out.append(
                t(
                    "churn_risk.response_rule",
                    conditions=describe_conditions(rule, t),
                    rate=f.pct(rule.response_rate),
                    lift=f.times(rule.lift),
                    members=f.num(rule.members),
                )
            )
        return out

    def exports(self, ctx: ReportContext) -> dict[str, pd.DataFrame]:
        """One member list per risk band, highest probability first."""
        _, scores = churn_result(ctx)
        return {f"churn_risk_{band}": scores[scores.risk_band == band].reset_index(drop=True) for band in RISK_BANDS}
