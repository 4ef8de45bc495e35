"""Report section: predicted member value — BG/NBD and Gamma-Gamma fitted on the
orders as of the cut-off: members by P(alive), the most valuable members of the next year, how
concentrated that value is; exports every member's prediction."""

from __future__ import annotations

import pandas as pd

from memberlens import format as f
from memberlens.errors import MemberlensError
from memberlens.models import BASELINES, BaselineComparison, GammaGammaModel, TransactionModel
from memberlens.reports import charts as c
from memberlens.reports.base import Chart, ReportContext, SectionContent
from memberlens.results import HOLDOUT_DAYS

EXPORT_COLUMNS = (
    "customer_id",
    "probability_alive",
    "expected_orders_30d",
    "probability_order_30d",
    "predicted_orders",
    "next_order_date",
    "historic_orders",
    "historic_clv",
    "average_order_value",
    "expected_order_value",
    "predicted_clv",
    "predicted_clv_low",
    "predicted_clv_high",
    "residual_clv",
)


class ClvSection:
    key = "clv"
    title_key = "clv.title"
    needs = ("orders",)

    def _fit(self, ctx: ReportContext):
        return ctx.results.get("clv-model")

    def build(self, ctx: ReportContext) -> SectionContent:
        t = ctx.t
        try:
            fit = self._fit(ctx)
        except MemberlensError as exc:
            return SectionContent(
                self.key, t(self.title_key), sentences=[t("clv.intro")], notes=[t("clv.no_fit", reason=t.error(exc))]
            )
        sentences = [t("clv.intro"), self._purchase_sentence(ctx, fit.purchases)]
        notes = []
        if fit.spend is None:
            notes.append(t("clv.no_spend", reason=t.error(fit.spend_error) if fit.spend_error else fit.spend_note))
        else:
            sentences.append(self._spend_sentence(ctx, fit.spend))
        charts = [self._alive_chart(ctx, ctx.results.get("clv-alive-bands"))]
        if fit.spend is not None:
            top, concentration = ctx.results.get("clv-top-members"), ctx.results.get("clv-concentration")
            charts.append(self._top_chart(ctx, top, concentration))
        try:
            holdout = ctx.results.get("clv-holdout")
        except MemberlensError as exc:  # the fit without the last weeks failed: say so, show the rest
            notes.append(t("clv.holdout_failed", reason=t.error(exc)))
            holdout = None
        if holdout is not None:
            charts.append(self._holdout_chart(ctx, holdout))
        return SectionContent(self.key, t(self.title_key), sentences=sentences, charts=charts, notes=notes)

    @staticmethod
    def _purchase_sentence(ctx: ReportContext, model: TransactionModel) -> str:
        t, p = ctx.t, model.params_
        size = {"members": f.num(model.n_members_), "combinations": f.num(model.n_combinations_)}
        limit = model.limit_
        if limit is None:
            return t(
                "clv.fitted",
                **size,
                r=f.num(p["r"], 3),
                alpha=f.num(p["alpha"], 2),
                a=f.num(p["a"], 3),
                b=f.num(p["b"], 3),
            )
        q = {k: f.num(v, 3) for k, v in limit.params.items()}
        words = {
            "nbd": ("limit_nbd", {"r": q.get("r"), "alpha": q.get("alpha")}),
            "poisson": ("limit_poisson", {"rate": q.get("lambda")}),
            "pareto-same-rate": (
                "limit_pareto_same_rate",
                {"rate": q.get("lambda"), "s": q.get("s"), "beta": q.get("beta")},
            ),
            "poisson-exponential": ("limit_poisson_exponential", {"rate": q.get("lambda"), "dropout": q.get("mu")}),
        }
        key, values = words.get(
            limit.name,
            ("limit_same_dropout", {"p": f.pct(limit.params.get("p")), "r": q.get("r"), "alpha": q.get("alpha")}),
        )
        what = t(f"clv.{key}", **values)
        return t("clv.fitted_limit", model=model.title or model.model_name, **size, limit=what)

    @staticmethod
    def _spend_sentence(ctx: ReportContext, spend: GammaGammaModel) -> str:
        t, q = ctx.t, spend.params_
        common = {"buyers": f.num(spend.n_members_), "correlation": f.num(spend.frequency_spend_correlation_, 2)}
        if spend.limit_ is not None:
            mean = spend.limit_.params["p"] / spend.limit_.params["nu"]
            return t("clv.spend_limit", **common, mean=f.num(mean, 2))
        return t("clv.spend_fitted", p=f.num(q["p"], 2), q=f.num(q["q"], 2), gamma=f.num(q["gamma"], 2), **common)

    def _alive_chart(self, ctx: ReportContext, bands: pd.DataFrame) -> Chart:
        t = ctx.t
        labels = [f"{int(b) * 10}–{int(b) * 10 + 10}%" for b in bands.band]
        data = [
            c.bar(t("label.members"), labels, bands.members, key="members"),
            c.line(t("clv.label_predicted_clv"), labels, bands.predicted_clv, key="predicted_clv", yaxis="y2"),
        ]
        layout = c.layout(
            x_title=t("clv.label_probability_alive"), y_title=t("label.members"), y2_title=t("clv.label_predicted_clv")
        )
        table = c.table(
            bands.assign(label=labels),
            [
                ("label", t("clv.label_probability_alive"), "text"),
                ("members", t("label.members"), "int"),
                ("historic_clv", t("clv.label_historic_clv"), "num"),
                ("expected_orders_30d", t("clv.label_expected_orders_30d"), "num"),
                ("predicted_clv", t("clv.label_predicted_clv"), "num"),
            ],
        )
        total = bands.members.sum()
        low = bands[bands.band < 3]
        high = bands[bands.band >= 7]
        sentences = [
            t(
                "clv.alive_low",
                members=f.num(low.members.sum()),
                share=f.pct(low.members.sum() / total if total else 0),
                historic=f.pct(low.historic_clv.sum() / bands.historic_clv.sum() if bands.historic_clv.sum() else 0),
            ),
            t(
                "clv.alive_high",
                members=f.num(high.members.sum()),
                share=f.pct(high.members.sum() / total if total else 0),
                orders=f.num(high.expected_orders_30d.sum(), 0),
                all_orders=f.num(bands.expected_orders_30d.sum(), 0),
            ),
        ]
        return Chart("clv-alive", t("clv.alive_title"), c.figure(data, layout), sentences, table, "clv")

    def _top_chart(self, ctx: ReportContext, top: pd.DataFrame, concentration: pd.DataFrame) -> Chart:
        t = ctx.t
        ids = [str(v) for v in top.customer_id][::-1]
        data = [c.bar(t("clv.label_predicted_clv"), ids, top.predicted_clv[::-1], key="predicted_clv", orientation="h")]
        layout = c.layout(
            x_title=t("clv.label_predicted_clv"),
            legend=False,
            hovermode="closest",
            height=max(380, 22 * len(ids)),
            x_category=False,
        )
        layout["yaxis"]["type"] = "category"
        intervals = "predicted_clv_low" in top.columns
        if intervals:
            top = top.assign(
                clv_interval=[
                    f"{f.num(low)} – {f.num(high)}" for low, high in zip(top.predicted_clv_low, top.predicted_clv_high)
                ]
            )
        table = c.table(
            top,
            [
                ("customer_id", t("label.customer_id"), "text"),
                ("historic_orders", t("clv.label_historic_orders"), "int"),
                ("historic_clv", t("clv.label_historic_clv"), "num"),
                ("probability_alive", t("clv.label_probability_alive"), "pct"),
                ("expected_orders_30d", t("clv.label_expected_orders_30d"), "num"),
                ("expected_order_value", t("clv.label_expected_order_value"), "num"),
                ("predicted_clv", t("clv.label_predicted_clv"), "num"),
                *([("clv_interval", t("clv.label_clv_interval"), "text")] if intervals else []),
                ("next_order_date", t("clv.label_next_order_date"), "day"),
            ],
        )
        row = concentration.iloc[0]
        sentences = []
        if row.total and row.total > 0:
            sentences.append(
                t(
                    "clv.concentration",
                    top_members=f.num(row.top_members),
                    total=f.num(row.total),
                    share=f.pct(row.top_value / row.total),
                    members=f.num(row.members),
                )
            )
        return Chart("clv-top", t("clv.top_title", n=len(top)), c.figure(data, layout), sentences, table, "clv")

    def _holdout_chart(self, ctx: ReportContext, holdout: BaselineComparison) -> Chart:
        """The model checked on the last weeks: mean actual and predicted orders per tenth of the
        prediction, each predictor's error, and which wins."""
        t = ctx.t
        names = {BASELINES[0]: t("clv.baseline_rate"), BASELINES[1]: t("clv.baseline_frequency")}
        deciles = holdout.deciles
        labels = [str(int(d)) for d in deciles.decile]
        predictors = [c for c in deciles.columns if c not in ("decile", "members", "actual")]
        data = [c.bar(t("clv.label_actual_orders"), labels, deciles.actual, key="actual")]
        data += [c.line(names.get(p, p), labels, deciles[p], key=p) for p in predictors]
        layout = c.layout(x_title=t("clv.label_decile"), y_title=t("clv.label_holdout_orders"))
        errors = holdout.errors.assign(
            predictor=[names.get(p, p) for p in holdout.errors.predictor],
            measure=[t(f"clv.measure_{m}") for m in holdout.errors.measure],
        )
        table = c.table(
            errors,
            [
                ("measure", t("clv.label_measure"), "text"),
                ("predictor", t("clv.label_predictor"), "text"),
                ("mae", t("clv.label_mae"), "num"),
                ("rmse", t("clv.label_rmse"), "num"),
                ("bias", t("clv.label_bias"), "num"),
            ],
        )
        orders = holdout.errors[holdout.errors.measure == "orders"].set_index("predictor").mae
        model = next(p for p in orders.index if p not in BASELINES)
        best = holdout.best["orders"]
        common = {
            "days": f.num(HOLDOUT_DAYS),
            "model": model,
            "mae": f.num(orders[model], 2),
            "rate": f.num(orders[BASELINES[0]], 2),
            "frequency": f.num(orders[BASELINES[1]], 2),
        }
        key = "clv.holdout_model_wins" if best == model else "clv.holdout_baseline_wins"
        sentences = [t(key, best=names.get(best, best), **common)]
        return Chart(
            "clv-holdout",
            t("clv.holdout_title", days=f.num(HOLDOUT_DAYS)),
            c.figure(data, layout),
            sentences,
            table,
            "clv",
        )

    def exports(self, ctx: ReportContext) -> dict[str, pd.DataFrame]:
        """Every member's prediction from the section's fit."""
        predictions = ctx.results.get("clv")
        return {"clv": predictions[[col for col in EXPORT_COLUMNS if col in predictions.columns]]}
