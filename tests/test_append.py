"""Appending batches to a source: a day's orders added beside the earlier ones without reading
them again; the same batch twice changes nothing; copies of an earlier batch's rows are set
aside under their own reason; a failing batch or a kill leaves the workspace as it was; every
batch's ledger balances; and the member base watched day by day gives the alerts it gives when
all the data is ingested at once and looked at as of each day."""

from __future__ import annotations

import json
import shutil

import pandas as pd
import pytest

from memberlens.ingest import EARLIER_BATCH, ingest
from memberlens.io.workspace import Workspace
from memberlens.schema.contract import ROW_COLUMN, SOURCE_COLUMN

CANONICAL = ["customer_id", "order_id", "ordered_at", "amount", "product_id"]


def orders_csv(rows: list[tuple]) -> str:
    return "customer_id,order_id,ordered_at,amount,product_id\n" + "".join(
        f"{c},{o},{d} 10:00:00,{a},{p}\n" for c, o, d, a, p in rows
    )


DAY1 = [
    ("C1", "O1", "2024-06-01", 10.5, "P1"),
    ("C2", "O2", "2024-06-01", 20, "P2"),
    ("C2", "O2", "2024-06-01", 20, "P2"),
]
DAY2 = [("C1", "O3", "2024-06-02", 7.25, "P3"), ("C3", "O4", "2024-06-02", 12, "P1")]
DAY2_AGAIN_WITH_DAY1 = DAY2 + [DAY1[0], ("C4", "O5", "2024-06-02", 3, "P2")]


def orders_in(path) -> pd.DataFrame:
    with Workspace(path, read_only=True) as ws:
        frame = ws.table("orders").execute()
    return frame


def ledgers(path) -> list:
    with Workspace(path, read_only=True) as ws:
        return ws.ledgers()


@pytest.fixture
def days(tmp_path):
    for name, rows in (("day1.csv", DAY1), ("day2.csv", DAY2), ("overlap.csv", DAY2_AGAIN_WITH_DAY1)):
        (tmp_path / name).write_text(orders_csv(rows), encoding="utf-8")
    return tmp_path


def test_batches_are_added_beside_each_other_with_their_own_ledgers(days, run_cli):
    for day in ("day1.csv", "day2.csv"):
        assert run_cli("ingest", day, "--append").exit_code == 0
    orders = orders_in(days / "memberlens.duckdb")
    assert sorted(orders.order_id) == ["O1", "O2", "O3", "O4"]  # the copy inside day 1 set aside as usual
    books = ledgers(days / "memberlens.duckdb")
    assert [(b.rows_read, b.rows_used, b.set_aside) for b in books] == [(3, 2, {"duplicate_line": 1}), (2, 2, {})]
    assert all(b.balanced and b.source.startswith("orders#") and b.details["stream"] == "orders" for b in books)
    assert set(orders[SOURCE_COLUMN]) == {b.source for b in books}


def test_the_same_batch_twice_changes_nothing(days, run_cli):
    assert run_cli("ingest", "day1.csv", "--append").exit_code == 0
    before, books = orders_in(days / "memberlens.duckdb"), ledgers(days / "memberlens.duckdb")
    shutil.copy(days / "day1.csv", days / "day1-copy.csv")  # the same content under another name
    for again in ("day1.csv", "day1-copy.csv"):
        result = run_cli("ingest", again, "--append")
        assert result.exit_code == 0, result.stderr
        assert "is already there; nothing changed" in result.stderr
    pd.testing.assert_frame_equal(orders_in(days / "memberlens.duckdb"), before)
    assert ledgers(days / "memberlens.duckdb") == books


def test_rows_an_earlier_batch_brought_are_set_aside_under_their_own_reason(days, run_cli):
    for day in ("day1.csv", "day2.csv", "overlap.csv"):
        assert run_cli("ingest", day, "--append").exit_code == 0
    orders = orders_in(days / "memberlens.duckdb")
    assert sorted(orders.order_id) == ["O1", "O2", "O3", "O4", "O5"]  # each row once
    last = ledgers(days / "memberlens.duckdb")[-1]
    assert (last.rows_read, last.rows_used, last.set_aside) == (4, 1, {EARLIER_BATCH: 3})
    with Workspace(days / "memberlens.duckdb", read_only=True) as ws:
        aside = ws.table("orders_set_aside").execute()
    assert sorted(aside[aside._reason == EARLIER_BATCH].order_id) == ["O1", "O3", "O4"]


@pytest.mark.slow
def test_appended_days_hold_what_one_ingest_of_all_of_them_holds(demo_workspace, tmp_path):
    """Oracle: the whole file ingested at once. The used rows, as a multiset, are the same."""
    files = demo_workspace[1]
    whole = pd.read_csv(files["orders"]["path"], dtype=str, keep_default_na=False)
    day = whole.ordered_at.str[:10]
    last_days = sorted(day.unique())[-5:]
    parts = [whole[day < last_days[0]], *(whole[day == d] for d in last_days)]
    for i, part in enumerate(parts):
        part.to_csv(tmp_path / f"part{i}.csv", index=False)
    with Workspace(tmp_path / "appended.duckdb") as ws:
        for i in range(len(parts)):
            ingest(ws, tmp_path / f"part{i}.csv", append=True)
    with Workspace(tmp_path / "whole.duckdb") as ws:
        ingest(ws, files["orders"]["path"])

    def key(frame):
        return (
            frame.drop(columns=[SOURCE_COLUMN, ROW_COLUMN])
            .sort_values(list(frame.columns.drop([SOURCE_COLUMN, ROW_COLUMN])))
            .reset_index(drop=True)
        )

    appended, at_once = orders_in(tmp_path / "appended.duckdb"), orders_in(tmp_path / "whole.duckdb")
    assert len(appended) == len(at_once) > 0
    pd.testing.assert_frame_equal(key(appended), key(at_once))
    assert all(b.balanced for b in ledgers(tmp_path / "appended.duckdb"))
    assert sum(b.rows_read for b in ledgers(tmp_path / "appended.duckdb")) == len(whole)


def test_a_failing_batch_leaves_the_workspace_as_it_was(days, run_cli):
    assert run_cli("ingest", "day1.csv", "--append").exit_code == 0
    before, books = orders_in(days / "memberlens.duckdb"), ledgers(days / "memberlens.duckdb")
    (days / "header_only.csv").write_text("customer_id,order_id,ordered_at,amount,product_id\n", encoding="utf-8")
    result = run_cli("ingest", "day2.csv", "header_only.csv", "--append")  # the second fails: neither is kept
    assert result.exit_code == 2 and "header_only.csv" in result.stderr
    pd.testing.assert_frame_equal(orders_in(days / "memberlens.duckdb"), before)
    assert ledgers(days / "memberlens.duckdb") == books


def test_a_named_batch_with_other_rows_is_refused_unless_replaced(days, run_cli):
    assert run_cli("ingest", "day1.csv", "--append", "--batch", "2024-06-01").exit_code == 0
    refused = run_cli("ingest", "day2.csv", "--append", "--batch", "2024-06-01")
    assert refused.exit_code == 2 and "batch '2024-06-01' of orders already holds other rows" in refused.stderr
    assert run_cli("ingest", "day2.csv", "--append", "--batch", "2024-06-01", "--replace").exit_code == 0
    assert sorted(orders_in(days / "memberlens.duckdb").order_id) == ["O3", "O4"]


def test_a_folder_of_daily_files_is_appended_file_by_file(days, run_cli):
    folder = days / "daily"
    folder.mkdir()
    for name in ("day1.csv", "day2.csv"):
        pd.read_csv(days / name).to_parquet(folder / name.replace(".csv", ".parquet"))
    assert run_cli("ingest", "daily", "--append").exit_code == 0
    assert [b.location.rsplit("/", 1)[-1] for b in ledgers(days / "memberlens.duckdb")] == [
        "day1.parquet",
        "day2.parquet",
    ]
    pd.read_csv(days / "overlap.csv").to_parquet(folder / "day3.parquet")
    again = run_cli("ingest", "daily", "--append")  # the earlier files are there already; only day 3 is new
    assert again.exit_code == 0
    assert again.stderr.count("is already there; nothing changed") == 2
    assert sorted(orders_in(days / "memberlens.duckdb").order_id) == ["O1", "O2", "O3", "O4", "O5"]


def test_batch_options_are_checked(days, run_cli):
    assert run_cli("ingest", "day1.csv", "--batch", "x").stderr.startswith("error: --batch goes with --append")
    both = run_cli("ingest", "day1.csv", "day2.csv", "--append", "--batch", "x")
    assert both.exit_code == 2 and "--batch names one batch" in both.stderr


# -- watching day by day ---------------------------------------------------------------------------
@pytest.mark.slow
def test_watching_day_by_day_gives_what_the_whole_data_gives_as_of_each_day(demo_workspace, tmp_path):
    """The demo shop's last 60 days of orders appended one day at a time; after each, the alerts
    and every rule's verdicts (the default rules, and three that fire now and then: daily active
    members off their weekly pattern, order value and new customers against their medians)
    equal those of the shop ingested at once, as of the same morning."""
    from memberlens.monitor import DEFAULT_RULES, Rule, alerts_at
    from memberlens.snapshot import snapshot_of

    rules = [
        *DEFAULT_RULES,
        Rule("dau", "auto", "both", band=2.0),
        Rule("revenue_per_order", "change", "up", 0.02),
        Rule("new_buyers", "change", "down", 0.05),
    ]
    whole_path, files = demo_workspace
    orders = pd.read_csv(files["orders"]["path"], dtype=str, keep_default_na=False)
    day = orders.ordered_at.str[:10]
    last = sorted(day.unique())[-60:]
    orders[day < last[0]].to_csv(tmp_path / "before.csv", index=False)
    fired = 0
    with Workspace(tmp_path / "daily.duckdb") as daily, Workspace(whole_path, read_only=True) as whole:
        for table in ("members", "campaigns", "marketing_costs", "events"):
            ingest(daily, files[table]["path"], table=table, name=table)
        ingest(daily, tmp_path / "before.csv", append=True)
        for d in last:
            orders[day == d].to_csv(tmp_path / f"{d}.csv", index=False)
            ingest(daily, tmp_path / f"{d}.csv", append=True)
            ours = alerts_at(snapshot_of(daily), rules)
            theirs = alerts_at(snapshot_of(whole, ours.day), rules)
            assert ours.alerts == theirs.alerts, d
            assert ours.verdicts.keys() == theirs.verdicts.keys()
            for rule, verdict in ours.verdicts.items():
                pd.testing.assert_frame_equal(verdict, theirs.verdicts[rule], obj=f"{d} {rule.label}")
            fired += len(ours.alerts)
    assert fired > 0  # the comparison covered alerts, not only their absence


@pytest.mark.slow
def test_a_kill_mid_append_leaves_the_workspace_openable_and_as_it_was_or_with_the_batch(demo_workspace, tmp_path):
    """kill -9 at ten moments of ``ingest DAY --append`` (the installed command, in a subprocess):
    the workspace opens with every ledger balanced and holds the batch whole or not at all."""
    from test_faults import POINTS, kill_at, ledgers_balanced, leftovers_under, memberlens, timed

    orders = pd.read_csv(demo_workspace[1]["orders"]["path"], dtype=str, keep_default_na=False)
    day = orders.ordered_at.str[:10]
    orders[day < day.max()].to_csv(tmp_path / "before.csv", index=False)
    orders[day == day.max()].to_csv(tmp_path / "last-day.csv", index=False)
    base = tmp_path / "base.duckdb"
    assert memberlens("ingest", tmp_path / "before.csv", "--append", "--db", base, cwd=tmp_path).returncode == 0
    before = ledgers_balanced(base)
    complete = tmp_path / "complete.duckdb"
    shutil.copy(base, complete)
    seconds = timed(["ingest", tmp_path / "last-day.csv", "--append", "--db", complete], tmp_path)
    after = ledgers_balanced(complete)
    assert after != before
    for point in range(POINTS):
        folder = tmp_path / f"kill{point}"
        folder.mkdir()
        shutil.copy(base, folder / "w.duckdb")
        kill_at(
            ["ingest", tmp_path / "last-day.csv", "--append", "--db", folder / "w.duckdb"],
            folder,
            seconds * (point + 0.5) / POINTS,
        )
        assert ledgers_balanced(folder / "w.duckdb") in (before, after), point
        assert leftovers_under(folder) == [], point


def test_info_sums_each_appended_source_over_its_batches(days, run_cli):
    for day in ("day1.csv", "day2.csv", "overlap.csv"):
        assert run_cli("ingest", day, "--append").exit_code == 0
    info = json.loads(run_cli("info", "--format", "json").stdout)
    batches = [s for s in info["sources"] if s["source"].startswith("orders#")]
    [summed] = info["appended"]
    assert summed["source"] == "orders" and summed["batches"] == 3 and summed["balanced"]
    assert summed["rows_read"] == sum(b["rows_read"] for b in batches) == 3 + 2 + 4
    assert summed["rows_used"] == sum(b["rows_used"] for b in batches) == 5
    assert summed["set_aside"] == {"duplicate_line": 1, EARLIER_BATCH: 3}
    assert "appended sources, their batches summed" in run_cli("info").stdout
