"""A source is its path: files with the same name in other folders, names that differ after the
first dot, the same stem fed to another table — each keeps its own rows and ledger; a name
given twice to different files is refused unless --replace; one ingest of several files keeps
all or none. Through the CLI, as a user would, then the workspace read back."""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from memberlens import Workspace
from memberlens.cli import app

HEADER = "InvoiceNo,CustomerID,InvoiceDate,Amount\n"


def orders_csv(path: Path, customers: list[str]) -> Path:
    """An order file with one line per customer id (invoice numbers unique within the file)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    lines = [f"{i + 1},{c},2024-01-{1 + i % 28:02d} 10:00:00,{i + 1}.25" for i, c in enumerate(customers)]
    path.write_text(HEADER + "\n".join(lines) + "\n", encoding="utf-8")
    return path


def workspace_state(db: Path) -> tuple[dict[str, list[str]], dict[str, dict]]:
    """The customers of each source in ``orders`` and each source's ledger (as ``info`` gives it)."""
    with Workspace(db, read_only=True) as ws:
        if not ws.has_table("orders"):
            return {}, {}
        frame = ws.table("orders").select("_source", "customer_id").execute()
        ledgers = {f"{x.source}|{x.table}": x.to_dict() for x in ws.ledgers()}
    rows = {s: sorted(g.customer_id) for s, g in frame.groupby("_source")}
    return rows, ledgers


def key(path: Path) -> str:
    return str(path.resolve())


def test_same_file_name_in_two_folders_keeps_both(run_cli, tmp_path):
    orders_csv(tmp_path / "2023" / "orders.csv", ["a", "b", "c"])
    orders_csv(tmp_path / "2024" / "orders.csv", ["d", "e"])
    result = run_cli("ingest", "2023/orders.csv", "2024/orders.csv")
    assert result.exit_code == 0, result.stderr
    rows, ledgers = workspace_state(tmp_path / "memberlens.duckdb")
    assert rows == {key(tmp_path / "2023/orders.csv"): ["a", "b", "c"], key(tmp_path / "2024/orders.csv"): ["d", "e"]}
    assert sorted(x["rows_used"] for x in ledgers.values()) == [2, 3] and all(x["balanced"] for x in ledgers.values())
    info = json.loads(run_cli("info", "--format", "json").stdout)
    assert {s["source"] for s in info["sources"]} == {
        key(tmp_path / "2023/orders.csv"),
        key(tmp_path / "2024/orders.csv"),
    }


def test_names_that_differ_after_the_first_dot_are_two_sources(run_cli, tmp_path):
    orders_csv(tmp_path / "orders.2023.csv", ["a"])
    orders_csv(tmp_path / "orders.2024.csv", ["b", "c"])
    assert run_cli("ingest", "orders.2023.csv", "orders.2024.csv").exit_code == 0
    rows, _ = workspace_state(tmp_path / "memberlens.duckdb")
    assert sorted(sum(rows.values(), [])) == ["a", "b", "c"] and len(rows) == 2


def test_the_same_stem_into_another_table_leaves_the_first_table_alone(run_cli, tmp_path):
    members = tmp_path / "members.csv"
    members.write_text("customer_id,city\nm1,Lyon\nm2,Oslo\nm3,Pune\n", encoding="utf-8")
    (tmp_path / "crm").mkdir()
    (tmp_path / "crm" / "members.csv").write_text("customer_id,tier\nm1,gold\n", encoding="utf-8")
    assert run_cli("ingest", "members.csv", "--table", "members").exit_code == 0
    assert run_cli("ingest", "crm/members.csv", "--table", "customer_360").exit_code == 0
    # and the very same file into a second table keeps the first table's rows too
    assert run_cli("ingest", "members.csv", "--table", "customer_360").exit_code == 0
    with Workspace(tmp_path / "memberlens.duckdb", read_only=True) as ws:
        assert ws.table("members").count().execute() == 3
        assert ws.table("customer_360").count().execute() == 4
        assert sorted((x.source, x.table) for x in ws.ledgers()) == sorted(
            [
                (key(members), "members"),
                (key(tmp_path / "crm/members.csv"), "customer_360"),
                (key(members), "customer_360"),
            ]
        )


def test_reingesting_a_file_from_another_folder_replaces_it(run_cli, tmp_path):
    orders_csv(tmp_path / "data" / "orders.csv", ["a", "b"])
    assert run_cli("ingest", "data/orders.csv").exit_code == 0
    os.chdir(tmp_path / "data")
    orders_csv(tmp_path / "data" / "orders.csv", ["a", "b", "c"])
    assert run_cli("ingest", "orders.csv", "--db", str(tmp_path / "memberlens.duckdb")).exit_code == 0
    rows, ledgers = workspace_state(tmp_path / "memberlens.duckdb")
    assert rows == {key(tmp_path / "data/orders.csv"): ["a", "b", "c"]} and len(ledgers) == 1


def test_a_name_given_to_another_file_is_refused_unless_replace(run_cli, tmp_path):
    orders_csv(tmp_path / "a.csv", ["a"])
    orders_csv(tmp_path / "b.csv", ["b"])
    assert run_cli("ingest", "a.csv", "--name", "shop").exit_code == 0
    refused = run_cli("ingest", "b.csv", "--name", "shop")
    assert refused.exit_code == 2 and refused.exception is None
    assert "b.csv" in refused.stderr and "a.csv" in refused.stderr and "--replace" in refused.stderr
    assert workspace_state(tmp_path / "memberlens.duckdb")[0] == {"shop": ["a"]}
    assert run_cli("ingest", "a.csv", "--name", "shop").exit_code == 0  # the same file again: replaces itself
    assert run_cli("ingest", "b.csv", "--name", "shop", "--replace").exit_code == 0
    rows, ledgers = workspace_state(tmp_path / "memberlens.duckdb")
    assert rows == {"shop": ["b"]} and [x["location"] for x in ledgers.values()] == ["b.csv"]


def test_several_files_one_bad_keeps_none(run_cli, tmp_path):
    orders_csv(tmp_path / "plain.csv", ["a", "b"])
    (tmp_path / "header_only.csv").write_text(HEADER, encoding="utf-8")
    result = run_cli("ingest", "plain.csv", "header_only.csv")
    assert result.exit_code == 2 and result.exception is None
    assert "header_only.csv" in result.stderr
    assert workspace_state(tmp_path / "memberlens.duckdb") == ({}, {})
    # a workspace that held data before keeps exactly that
    assert run_cli("ingest", "plain.csv").exit_code == 0
    before = workspace_state(tmp_path / "memberlens.duckdb")
    orders_csv(tmp_path / "more.csv", ["z"])
    assert run_cli("ingest", "more.csv", "header_only.csv").exit_code == 2
    assert workspace_state(tmp_path / "memberlens.duckdb") == before


def test_a_workspace_written_before_sources_had_tables_still_takes_new_sources(run_cli, tmp_path):
    """Older workspaces keyed the sources table by source alone; the first ingest upgrades it."""
    orders_csv(tmp_path / "orders.csv", ["a"])
    assert run_cli("ingest", "orders.csv").exit_code == 0
    with Workspace(tmp_path / "memberlens.duckdb") as ws:
        ws.raw.execute("CREATE TABLE old AS SELECT * FROM sources")
        ws.raw.execute("DROP TABLE sources")
        ws.raw.execute(
            "CREATE TABLE sources (source VARCHAR PRIMARY KEY, table_name VARCHAR, location VARCHAR, "
            "rows_read BIGINT, details VARCHAR, ingested_at TIMESTAMP)"
        )
        ws.raw.execute("INSERT INTO sources SELECT * FROM old")
        ws.raw.execute("DROP TABLE old")
    assert run_cli("ingest", "orders.csv", "--table", "customer_360").exit_code == 0
    with Workspace(tmp_path / "memberlens.duckdb", read_only=True) as ws:
        assert sorted(x.table for x in ws.ledgers()) == ["customer_360", "orders"]


# -- any set of paths ------------------------------------------------------------------------------
NAME_PARTS = st.sampled_from(["orders", "Orders", "orders.2024", "s p a c e", "[1]", "订单", "o'brien", "a.b.c", "x"])
PATHS = st.lists(
    st.tuples(st.sampled_from(["", "2023", "2024", "a b", "[x]", "数据"]), NAME_PARTS),
    min_size=1,
    max_size=5,
    unique=True,
)


@pytest.mark.slow
@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(paths=PATHS, order=st.randoms(use_true_random=False))
def test_any_files_ingested_in_any_order_twice_are_each_there_once(paths, order):
    runner = CliRunner()
    cwd = os.getcwd()
    with tempfile.TemporaryDirectory() as folder:
        root = Path(folder)
        os.chdir(root)
        try:
            files = {}
            for i, (sub, stem) in enumerate(paths):
                path = root / sub / f"{stem}.csv" if sub else root / f"{stem}.csv"
                files[key(orders_csv(path, [f"c{i}-{j}" for j in range(i + 1)]))] = [f"c{i}-{j}" for j in range(i + 1)]
            names = [os.path.relpath(p, root) for p in files]
            for _ in range(2):
                order.shuffle(names)
                result = runner.invoke(app, ["ingest", *names])
                assert result.exit_code == 0, result.output
            rows, ledgers = workspace_state(root / "memberlens.duckdb")
        finally:
            os.chdir(cwd)
    assert rows == {k: sorted(v) for k, v in files.items()}
    assert len(ledgers) == len(files) and all(
        x["balanced"] and x["rows_read"] == x["rows_used"] for x in ledgers.values()
    )
