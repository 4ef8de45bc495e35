"""Migration between two dates against a pandas oracle: segments (RFM grid, lifecycle stage, ABC
class) assigned at each date independently from the order lines before it, cross-tabulated; the
revenue between the dates summed from the lines between them; rows add up to the members at the
first date and columns to those at the second."""

from __future__ import annotations

from datetime import date

import numpy as np
import pandas as pd
import pytest
from _order_logs import abc_oracle, final_growth_oracle, final_stage_oracle, grid_segment, quantile_scores, rfm_oracle
from conftest import build_demo_orders

from memberlens.analyses import AnalysisOptions, cluster_result, run_analysis
from memberlens.io.workspace import Workspace
from memberlens.migration import APPEARED, LEFT, clv_bands, migrate
from memberlens.results import Results
from memberlens.snapshot import snapshot_of

START, END = date(2023, 10, 1), date(2024, 4, 1)


@pytest.fixture(scope="module")
def shop(tmp_path_factory):
    path = build_demo_orders(tmp_path_factory.mktemp("migration"), customers=600, years=2, seed=31)
    with Workspace(path, read_only=True) as ws:
        orders = ws.table("orders").to_pandas()
    return path, orders


def _before(orders: pd.DataFrame, day: date) -> pd.DataFrame:
    return orders[orders.ordered_at < pd.Timestamp(day)]


def _grid_states(orders: pd.DataFrame, day: date) -> pd.Series:
    rfm = rfm_oracle(_before(orders, day), as_of=day)
    r = quantile_scores(rfm.recency, 5, higher_is_better=False)
    f = quantile_scores(rfm.frequency, 5)
    return pd.Series([grid_segment(a, b) for a, b in zip(r, f)], index=rfm.customer_id)


def _lifecycle_states(orders: pd.DataFrame, day: date) -> pd.Series:
    return final_stage_oracle(_before(orders, day), "month").set_index("customer_id").stage


def _growth_states(orders: pd.DataFrame, day: date) -> pd.Series:
    return final_growth_oracle(_before(orders, day), "month").set_index("customer_id").stage


def _abc_states(orders: pd.DataFrame, day: date) -> pd.Series:
    classes, _ = abc_oracle(_before(orders, day), "customer_id", 0.8, 0.95)
    return classes.set_index("customer_id").abc_class


ORACLES = {"rfm-segment": _grid_states, "lifecycle": _lifecycle_states, "growth": _growth_states, "abc": _abc_states}


def _oracle_paths(
    orders: pd.DataFrame, first: pd.Series, second: pd.Series, start: date = START, end: date = END
) -> pd.DataFrame:
    members = pd.concat([first.rename("from_state"), second.rename("to_state")], axis=1)
    members["from_state"] = members.from_state.fillna(APPEARED)
    members["to_state"] = members.to_state.fillna(LEFT)
    between = orders[(orders.ordered_at >= pd.Timestamp(start)) & (orders.ordered_at < pd.Timestamp(end))]
    members["revenue"] = between.groupby("customer_id").amount.sum().reindex(members.index).fillna(0.0)
    per = members.groupby(["from_state", "to_state"]).agg(members=("revenue", "size"), revenue=("revenue", "sum"))
    per["share"] = per.members / per.groupby(level="from_state").members.transform("sum")
    return per.reset_index()


@pytest.mark.parametrize("by", list(ORACLES))
def test_paths_equal_the_cross_tabulated_oracle(shop, by):
    path, orders = shop
    with Workspace(path, read_only=True) as ws:
        result = migrate(ws, by, START, END, with_value=False)
    first, second = ORACLES[by](orders, START), ORACLES[by](orders, END)
    expected = _oracle_paths(orders, first, second)
    found = result.paths.merge(expected, on=["from_state", "to_state"], how="outer", indicator=True)
    assert (found._merge == "both").all(), found[found._merge != "both"]
    assert (found.members_x == found.members_y).all()
    assert np.allclose(found.share_of_origin, found.share, rtol=1e-12)
    assert np.allclose(found.revenue_between, found.revenue, rtol=1e-9, atol=1e-6)
    # rows add up to the members at the first date, columns to those at the second
    per_origin = result.paths.groupby("from_state").members.sum()
    per_destination = result.paths.groupby("to_state").members.sum()
    assert per_origin.drop(APPEARED, errors="ignore").sum() == len(first)
    assert per_destination.drop(LEFT, errors="ignore").sum() == len(second)
    assert per_origin.get(APPEARED, 0) == len(set(second.index) - set(first.index)) > 0


@pytest.mark.slow
def test_members_carry_their_value_at_the_second_date(demo_workspace):
    """On the 6,000-customer demo (the small shop's Gamma-Gamma fit does not converge: p is not
    identified, and migrate says so in a note instead of a value)."""
    path, _ = demo_workspace
    with Workspace(path, read_only=True) as ws:
        result = migrate(ws, "rfm-segment", START, END)
        clv = Results(ws, as_of=END).get("clv").set_index("customer_id").predicted_clv
    members = result.members.set_index("customer_id")
    assert np.allclose(members.value_at_end, clv.reindex(members.index), rtol=1e-12, equal_nan=True)
    per_path = result.paths.set_index(["from_state", "to_state"]).value_at_end
    assert per_path.sum() == pytest.approx(clv.sum(), rel=1e-9)


def test_without_a_spend_model_migrate_says_why_in_a_note(shop):
    path, _ = shop
    with Workspace(path, read_only=True) as ws:
        result = migrate(ws, "rfm-segment", START, END)
    assert result.members.value_at_end.isna().all()
    assert len(result.notes) == 1 and "no predicted value" in result.notes[0] and "GammaGamma" in result.notes[0]


@pytest.mark.slow
def test_downgrades_are_the_members_on_harmful_paths_most_value_first(demo_workspace):
    path, _ = demo_workspace
    with Workspace(path, read_only=True) as ws:
        result = migrate(
            ws,
            "rfm-segment",
            START,
            END,
            downgrades=[("champions", "at_risk"), ("loyal", "hibernating"), ("potential_loyalists", "about_to_sleep")],
        )
    chosen = result.members[
        [
            (a, b) in {("champions", "at_risk"), ("loyal", "hibernating"), ("potential_loyalists", "about_to_sleep")}
            for a, b in zip(result.members.from_state, result.members.to_state)
        ]
    ]
    assert len(result.downgrades) == len(chosen) > 0
    assert set(result.downgrades.customer_id) == set(chosen.customer_id)
    assert result.downgrades.value_at_end.is_monotonic_decreasing


def test_clusters_keep_the_first_dates_centres(shop):
    """At the first date, the first date's clusters placed again by assign() are the fitted
    assignment; at the second, members are placed by those centres (not a new fit)."""
    path, _ = shop
    with Workspace(path, read_only=True) as ws:
        before = snapshot_of(ws, START)
        fitted = cluster_result(before, AnalysisOptions())
        from memberlens.metrics import compute_rfm

        again = fitted.assign(compute_rfm(before.table("orders"), as_of=before.day))
        result = migrate(ws, "cluster", START, END, with_value=False)
    assert again.set_index("customer_id").cluster_name.equals(
        fitted.assignments.set_index("customer_id").cluster_name.sort_index()
    )
    assert set(result.members.to_state) <= set(fitted.profiles.cluster_name) | {LEFT}
    first = result.members[result.members.from_state != APPEARED].set_index("customer_id").from_state
    assert first.equals(fitted.assignments.set_index("customer_id").cluster_name.sort_index().rename("from_state"))


def test_clv_bands_by_rank():
    values = pd.Series([10.0, 9.0, 8.0, 8.0, 5.0, 4.0, 3.0, 2.0, 1.0, 0.0])
    assert list(clv_bands(values)) == ["high", "high", "medium", "medium", "medium", "low", "low", "low", "low", "low"]


def test_migrate_command_prints_paths_and_refuses_bad_dates(shop, run_cli):
    path, _ = shop
    printed = run_cli(
        "migrate",
        "--from",
        START.isoformat(),
        "--to",
        END.isoformat(),
        "--no-value",
        "--format",
        "csv",
        "--db",
        str(path),
    )
    assert printed.exit_code == 0, printed.stderr
    frame = pd.read_csv(pd.io.common.StringIO(printed.stdout))
    assert list(frame.columns) == [
        "from_state",
        "to_state",
        "members",
        "share_of_origin",
        "revenue_between",
        "value_at_end",
    ]
    assert frame.members.sum() > 100
    backwards = run_cli("migrate", "--from", END.isoformat(), "--to", START.isoformat(), "--db", str(path))
    assert backwards.exit_code == 2 and "before" in backwards.stderr
    bad_move = run_cli(
        "migrate", "--from", START.isoformat(), "--to", END.isoformat(), "--downgrade", "champions", "--db", str(path)
    )
    assert bad_move.exit_code == 2 and "FROM:TO" in bad_move.stderr


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_the_report_section_names_the_largest_moves_and_exports_the_downgrades(shop, lang):
    from memberlens.i18n import Messages
    from memberlens.reports.base import ReportContext
    from memberlens.reports.migration import MigrationSection

    path, _ = shop
    section = MigrationSection()
    with Workspace(path, read_only=True) as ws:
        ctx = ReportContext(ws, Messages(lang))
        content = section.build(ctx)
        exported = section.exports(ctx)
        expected = migrate(ws, "rfm-segment", date(2024, 12, 1), ctx.day, with_value=False)
    assert ctx.day == date(2025, 1, 1)  # the day after the shop's last order; one month before it
    sentences = " ".join(content.charts[0].sentences)
    top = expected.largest_moves(1).iloc[0]
    assert f"{top.members:,}" in sentences
    assert {chart.key for chart in content.charts} == {"migration-sankey", "migration-matrix"}
    sankey = content.charts[0].figure["data"][0]
    assert sum(sankey["link"]["value"]) == expected.paths.members.sum()
    assert set(exported["migration_downgrades"].customer_id) == set(expected.downgrades.customer_id)


@pytest.mark.slow
@pytest.mark.shared_data
def test_online_retail_from_june_to_december(shared_data, tmp_path, run_cli):
    """The UCI Online Retail shop: migrate --from 2011-06-01 --to 2011-12-01 through the CLI
    equals the pandas oracle, and the report's section on the same dates says it in English and
    Chinese."""
    from memberlens.i18n import Messages
    from memberlens.reports.base import ReportContext
    from memberlens.reports.migration import MigrationSection

    db = tmp_path / "uci.duckdb"
    assert (
        run_cli(
            "ingest", str(shared_data / "online_retail.csv.gz"), "--preset", "online-retail", "--db", str(db)
        ).exit_code
        == 0
    )
    printed = run_cli(
        "migrate",
        "--from",
        "2011-06-01",
        "--to",
        "2011-12-01",
        "--by",
        "rfm-segment",
        "--no-value",
        "--format",
        "csv",
        "--db",
        str(db),
    )
    assert printed.exit_code == 0, printed.stderr
    paths = pd.read_csv(pd.io.common.StringIO(printed.stdout), keep_default_na=False)
    with Workspace(db, read_only=True) as ws:
        orders = ws.table("orders").to_pandas()
        start, end = date(2011, 6, 1), date(2011, 12, 1)
        expected = _oracle_paths(orders, _grid_states(orders, start), _grid_states(orders, end), start, end)
        found = paths.merge(expected, on=["from_state", "to_state"], how="outer", indicator=True)
        assert (found._merge == "both").all() and (found.members_x == found.members_y).all()
        assert np.allclose(found.revenue_between, found.revenue, rtol=1e-9, atol=1e-6)
        options = AnalysisOptions(as_of=end, compare_from=start)
        for lang, said in (("en", "customers moved from"), ("zh", "位客户从")):
            content = MigrationSection().build(ReportContext(ws, Messages(lang), results=Results(ws, options=options)))
            sentences = " ".join(content.charts[0].sentences)
            assert said in sentences and "2011-06-01" in sentences
            top = (
                paths[paths.from_state != paths.to_state]
                .sort_values(["members", "from_state", "to_state"], ascending=[False, True, True])
                .iloc[0]
            )
            assert f"{top.members:,}" in sentences


@pytest.mark.slow
def test_churn_bands_move_between_dates(demo_workspace):
    """Members between the churn model's risk bands, the model trained at each date: every
    customer with an order before a date is counted once on that side (dates late enough for the
    model's 180-day horizon)."""
    first_day, second_day = date(2024, 6, 1), date(2024, 12, 1)
    path, _ = demo_workspace
    with Workspace(path, read_only=True) as ws:
        result = migrate(ws, "churn-band", first_day, second_day, with_value=False)
        customers = {
            day: len(run_analysis(ws, "member-value", AnalysisOptions(as_of=day)).to_pandas())
            for day in (first_day, second_day)
        }
    assert set(result.paths.from_state) <= {"high", "medium", "low", APPEARED}
    assert set(result.paths.to_state) <= {"high", "medium", "low", LEFT}
    assert result.paths[result.paths.from_state != APPEARED].members.sum() == customers[first_day]
    assert result.paths[result.paths.to_state != LEFT].members.sum() == customers[second_day]
    assert len(set(result.paths.from_state) - {APPEARED}) >= 2  # the bands are used
