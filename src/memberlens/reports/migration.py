"""Report section: who moved between segments since one period before the report's date — the
flows as a Sankey chart and a heat map of the transition matrix, sentences that name the largest
moves and the harmful ones, the members on harmful moves as a win-back list, and (when scores are
kept) the score history's previous segment and segment-since per member as a member list."""

from __future__ import annotations

import pandas as pd

from memberlens import format as f
from memberlens.migration import APPEARED, LEFT, Migration
from memberlens.reports import charts as c
from memberlens.reports.base import Chart, ReportContext, SectionContent, TableBlock
from memberlens.snapshot import SCORES_TABLE

ROWS_SHOWN = 15


class MigrationSection:
    key = "migration"
    title_key = "migration.title"
    needs = ("orders",)

    def result(self, ctx: ReportContext) -> Migration | None:
        """The RFM-segment moves from ``--compare-from`` (default: one period before the report's
        date) to it (None when the data starts after that earlier date)."""

        return ctx.results.get("migration")

    def build(self, ctx: ReportContext) -> SectionContent:
        t = ctx.t
        moves = self.result(ctx)
        if moves is None:
            return SectionContent(self.key, t(self.title_key), notes=[t("migration.too_short")])
        name = lambda state: _state_label(t, state)  # noqa: E731
        sentences = [t("migration.intro", start=f.day(moves.start), end=f.day(moves.end))]
        for row in moves.largest_moves(3).itertuples():
            sentences.append(
                t(
                    "migration.flow",
                    members=f.num(row.members),
                    origin=name(row.from_state),
                    destination=name(row.to_state),
                    share=f.pct(row.share_of_origin),
                )
            )
        stayed = moves.paths[moves.paths.from_state == moves.paths.to_state].members.sum()
        known = moves.paths[moves.paths.from_state != APPEARED].members.sum()
        if known:
            sentences.append(t("migration.stayed", share=f.pct(stayed / known)))
        if len(moves.downgrades):
            at_stake = moves.downgrades.value_at_end.sum(min_count=1)
            sentences.append(
                t(
                    "migration.downgrades",
                    members=f.num(len(moves.downgrades)),
                    value=f.num(at_stake, 0) if pd.notna(at_stake) else f.DASH,
                    revenue=f.num(moves.downgrades.revenue_between.sum(), 0),
                )
            )
        table = self._table(t, moves, name)
        charts = [
            Chart(
                "migration-sankey",
                t("migration.sankey_title"),
                self._sankey(moves, name),
                sentences,
                table,
                "migration",
            ),
            Chart(
                "migration-matrix",
                t("migration.matrix_title"),
                self._heat_map(t, moves, name),
                [t("migration.matrix_explain")],
                table,
                "migration",
            ),
        ]
        return SectionContent(self.key, t(self.title_key), charts=charts)

    def exports(self, ctx: ReportContext) -> dict[str, pd.DataFrame]:
        """The members on harmful moves (win-back) and, once ``memberlens score`` has kept a
        history, each member's latest scores with their previous segment and when it changed."""
        lists = {}
        moves = self.result(ctx)
        if moves is not None:
            lists["migration_downgrades"] = moves.downgrades
        if ctx.has(SCORES_TABLE):
            lists["score_history"] = ctx.results.get("score-history")
        return lists

    # -- charts ---------------------------------------------------------------------------------
    def _sankey(self, moves: Migration, name) -> dict:
        origins = sorted(set(moves.paths.from_state))
        destinations = sorted(set(moves.paths.to_state))
        labels = [c.plain(f"{name(s)} · {f.day(moves.start)}") for s in origins] + [
            c.plain(f"{name(s)} · {f.day(moves.end)}") for s in destinations
        ]
        index = {("from", s): i for i, s in enumerate(origins)} | {
            ("to", s): len(origins) + i for i, s in enumerate(destinations)
        }
        paths = moves.paths
        trace = {
            "type": "sankey",
            "arrangement": "snap",
            "node": {"label": labels, "pad": 12, "thickness": 14},
            "link": {
                "source": [index["from", s] for s in paths.from_state],
                "target": [index["to", s] for s in paths.to_state],
                "value": [int(m) for m in paths.members],
            },
        }
        return c.figure([trace], c.layout(height=520, legend=False, x_category=False))

    def _heat_map(self, t, moves: Migration, name) -> dict:
        matrix = moves.paths.pivot(index="from_state", columns="to_state", values="share_of_origin")
        trace = {
            "type": "heatmap",
            "x": [c.plain(name(s)) for s in matrix.columns],
            "y": [c.plain(name(s)) for s in matrix.index],
            "z": [[None if pd.isna(v) else float(v) for v in row] for row in matrix.to_numpy()],
            "colorscale": "Blues",
            "hovertemplate": "%{y} → %{x}: %{z:.1%}<extra></extra>",
        }
        layout = c.layout(
            x_title=t("migration.to", date=f.day(moves.end)),
            y_title=t("migration.from", date=f.day(moves.start)),
            height=460,
            legend=False,
            hovermode="closest",
        )
        layout["yaxis"]["type"] = "category"
        layout["yaxis"]["autorange"] = "reversed"
        return c.figure([trace], layout)

    def _table(self, t, moves: Migration, name) -> TableBlock:
        shown = moves.paths.sort_values(
            ["members", "from_state", "to_state"], ascending=[False, True, True], kind="mergesort"
        )
        rows = [
            [
                name(r.from_state),
                name(r.to_state),
                int(r.members),
                f.pct(r.share_of_origin),
                f.num(r.revenue_between, 0),
                f.num(r.value_at_end, 0),
            ]
            for r in shown.head(ROWS_SHOWN).itertuples()
        ]
        return TableBlock(
            t("migration.table_caption", n=min(ROWS_SHOWN, len(shown)), total=len(shown)),
            [
                t("migration.from_column"),
                t("migration.to_column"),
                t("label.customers"),
                t("migration.share_column"),
                t("migration.revenue_column"),
                t("migration.value_column"),
            ],
            rows,
        )


def _state_label(t, state: str) -> str:
    if state == APPEARED:
        return t("migration.appeared")
    if state == LEFT:
        return t("migration.left")
    return f.label(t, "segment", state)
