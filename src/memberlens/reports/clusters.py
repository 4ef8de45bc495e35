"""Report section: k-means clusters on log RFM: the elbow and silhouette curves that
chose k, and each cluster's size, value and profile; exports each customer's cluster."""

from __future__ import annotations

import pandas as pd

from memberlens import format as f
from memberlens.reports import charts as c
from memberlens.reports.base import Chart, ReportContext, SectionContent
from memberlens.reports.common import share_comparison
from memberlens.reports.palette import colour


class ClustersSection:
    key = "clusters"
    title_key = "clusters.title"
    needs = ("orders",)

    def build(self, ctx: ReportContext) -> SectionContent:
        t = ctx.t
        result = ctx.results.get("cluster-model")
        curve, chosen = result.curve, result.chosen_k
        ks = [int(k) for k in curve.k]
        is_chosen = [k == chosen for k in ks]
        chosen_row = curve[curve.k == chosen]

        elbow = [
            c.line(t("label.inertia"), ks, curve.inertia, key="inertia"),
            {
                "type": "scatter",
                "mode": "markers",
                "name": c.plain(t("clusters.chosen_k", k=chosen)),
                "x": [chosen],
                "y": chosen_row.inertia.tolist(),
                "marker": {"size": 14, "color": "#d73027", "symbol": "circle-open", "line": {"width": 3}},
            },
        ]
        layout = c.layout(x_title="k", y_title=t("label.inertia"), x_category=False, hovermode="closest")
        layout["xaxis"]["dtick"] = 1
        curve_table = c.table(
            curve.assign(chosen=[t("report.yes") if v else "" for v in is_chosen]),
            [
                ("k", "k", "int"),
                ("inertia", t("label.inertia"), "num"),
                ("silhouette", t("label.silhouette"), lambda v: f.num(v, 3)),
                ("chosen", t("label.chosen"), "text"),
            ],
        )
        how = self._how_chosen(ctx, result)
        elbow_chart = Chart(
            "clusters-elbow", t("clusters.elbow_title"), c.figure(elbow, layout), how, curve_table, "cluster-curve"
        )

        silhouette = [
            c.bar(
                t("label.silhouette"),
                ks,
                curve.silhouette,
                colours=["#d73027" if v else colour("silhouette") for v in is_chosen],
            )
        ]
        layout = c.layout(
            x_title="k", y_title=t("label.silhouette"), x_category=False, legend=False, hovermode="closest"
        )
        layout["xaxis"]["dtick"] = 1
        best = curve.loc[curve.silhouette.idxmax()] if curve.silhouette.notna().any() else None
        sil_sentences = []
        if best is not None:
            sil_sentences.append(
                t(
                    "clusters.silhouette_explain",
                    best_k=int(best.k),
                    best=f.num(best.silhouette, 2),
                    k=chosen,
                    value=f.num(chosen_row.silhouette.iloc[0], 2) if len(chosen_row) else f.DASH,
                )
            )
        silhouette_chart = Chart(
            "clusters-silhouette",
            t("clusters.silhouette_title"),
            c.figure(silhouette, layout),
            sil_sentences,
            curve_table,
            "cluster-curve",
        )

        profiles = result.profiles
        names = [f.label(t, "cluster", n) for n in profiles.cluster_name]
        colours = [colour(n) for n in profiles.cluster_name]
        figure, table = share_comparison(t, profiles, names, colours, "label.cluster")
        profile_chart = Chart(
            "clusters-profiles",
            t("clusters.profiles_title"),
            figure,
            self._profile_sentences(ctx, profiles, names),
            table,
            "clusters",
        )
        return SectionContent(
            self.key,
            t(self.title_key),
            sentences=[t("clusters.intro")],
            charts=[elbow_chart, silhouette_chart, profile_chart],
        )

    def _how_chosen(self, ctx: ReportContext, result) -> list[str]:
        t, curve = ctx.t, result.curve
        if ctx.results.options.k is not None:
            return [t("clusters.fixed_k", k=result.chosen_k)]
        return [t("clusters.elbow_explain", k=result.chosen_k, first=int(curve.k.min()), last=int(curve.k.max()))]

    def _profile_sentences(self, ctx: ReportContext, profiles: pd.DataFrame, names: list[str]) -> list[str]:
        t = ctx.t
        out = []
        for row, name in zip(profiles.itertuples(), names):
            out.append(
                t(
                    "clusters.profile",
                    cluster=name,
                    customers=f.num(row.customers),
                    customer_share=f.pct(row.customer_share),
                    revenue_share=f.pct(row.revenue_share),
                    recency=f.num(row.mean_recency, 0),
                    frequency=f.num(row.mean_frequency, 1),
                    monetary=f.num(row.mean_monetary),
                )
            )
        return out

    def exports(self, ctx: ReportContext) -> dict[str, pd.DataFrame]:
        assignments = ctx.results.get("cluster-model").assignments
        return {
            "clusters": assignments[["customer_id", "cluster", "cluster_name", "recency", "frequency", "monetary"]]
            .sort_values("customer_id")
            .reset_index(drop=True)
        }
