"""File names are literal: the shell globs, memberlens does not. A file whose name holds glob
characters ([1], *, ?) is read as itself even when its name, read as a pattern, would match
other files beside it; a Parquet folder's own name is literal too, on DuckDB and on Spark.
And --db is a DuckDB workspace or a new path: another file is refused, not written into.
Through the CLI, as a user would, then the workspace read back."""

from __future__ import annotations

import json
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from test_sources_never_collide import orders_csv  # one order file per list of customers

from memberlens import Workspace


def orders_parquet(path: Path, customers: list[str]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    pq.write_table(
        pa.table(
            {
                "InvoiceNo": [str(i + 1) for i in range(len(customers))],
                "CustomerID": customers,
                "InvoiceDate": [f"2024-01-{1 + i:02d} 10:00:00" for i in range(len(customers))],
                "Amount": [f"{i + 1}.25" for i in range(len(customers))],
            }
        ),
        path,
    )
    return path


def ingested(db: Path) -> tuple[dict[str, list[str]], list[dict]]:
    """The customers of each source in ``orders``, and every ledger."""
    with Workspace(db, read_only=True) as ws:
        frame = ws.table("orders").select("_source", "customer_id").execute()
        ledgers = [x.to_dict() for x in ws.ledgers()]
    return {s: sorted(g.customer_id) for s, g in frame.groupby("_source")}, ledgers


def ingest_one(run_cli, tmp_path: Path, name: str) -> tuple[dict[str, list[str]], list[dict]]:
    result = run_cli("ingest", name)
    assert result.exit_code == 0, result.stderr
    return ingested(tmp_path / "memberlens.duckdb")


def test_brackets_in_a_file_name_are_not_a_character_class(run_cli, tmp_path):
    bracketed = orders_csv(tmp_path / "g" / "orders[1].csv", ["x1", "x2", "x3"])
    orders_csv(tmp_path / "g" / "orders1.csv", ["wrong"])  # what orders[1].csv matches as a pattern
    rows, ledgers = ingest_one(run_cli, tmp_path, "g/orders[1].csv")
    assert rows == {str(bracketed.resolve()): ["x1", "x2", "x3"]}
    [ledger] = ledgers
    assert (ledger["source"], ledger["location"]) == (str(bracketed.resolve()), "g/orders[1].csv")
    assert (ledger["rows_read"], ledger["rows_used"]) == (3, 3)


def test_a_star_in_a_file_name_reads_that_file_only(run_cli, tmp_path):
    star = orders_csv(tmp_path / "s*.csv", ["star"])
    orders_csv(tmp_path / "sa.csv", ["a1", "a2"])  # also matched by s*.csv as a pattern
    orders_csv(tmp_path / "sb.csv", ["b1"])
    rows, ledgers = ingest_one(run_cli, tmp_path, "s*.csv")
    assert rows == {str(star.resolve()): ["star"]}
    assert [(x["rows_read"], x["rows_used"]) for x in ledgers] == [(1, 1)]


def test_parquet_files_and_folders_are_literal_too(run_cli, tmp_path):
    orders_parquet(tmp_path / "p[1].parquet", ["p"])
    orders_parquet(tmp_path / "p1.parquet", ["wrong"])
    orders_parquet(tmp_path / "lake[2]" / "part-0.parquet", ["l1", "l2"])  # a folder: all of its files
    orders_parquet(tmp_path / "lake[2]" / "more" / "part-1.parquet", ["l3"])
    orders_parquet(tmp_path / "lake2" / "part-0.parquet", ["wrong"])
    result = run_cli("ingest", "p[1].parquet", "lake[2]")
    assert result.exit_code == 0, result.stderr
    rows, ledgers = ingested(tmp_path / "memberlens.duckdb")
    assert rows == {
        str((tmp_path / "p[1].parquet").resolve()): ["p"],
        str((tmp_path / "lake[2]").resolve()): ["l1", "l2", "l3"],
    }
    assert sorted(x["rows_read"] for x in ledgers) == [1, 3]


@pytest.mark.parametrize("engine", ["duckdb", "spark"])
def test_a_folder_of_tables_is_read_by_its_own_name(run_cli, tmp_path, engine, request):
    if engine == "spark":
        request.getfixturevalue("spark_backend")
    for folder, customers in (("lake[1]", ["a", "b", "c"]), ("lake1", ["wrong"])):
        orders_csv(tmp_path / f"{folder}.csv", customers)
        assert run_cli("ingest", f"{folder}.csv", "--db", f"{folder}.duckdb").exit_code == 0
        assert run_cli("export-tables", "--db", f"{folder}.duckdb", "--out", folder).exit_code == 0
    result = run_cli("analyze", "rfm", "--engine", engine, "--db", "lake[1]", "--format", "json")
    assert result.exit_code == 0, result.stderr
    assert sorted(row["customer_id"] for row in json.loads(result.stdout)) == ["a", "b", "c"]


# -- --db --------------------------------------------------------------------------------------
def test_db_that_is_another_file_is_refused_and_left_alone(run_cli, tmp_path):
    orders_csv(tmp_path / "orders.csv", ["a"])
    existing = orders_csv(tmp_path / "existing.csv", ["kept", "as", "is"])
    before = existing.read_bytes()
    result = run_cli("ingest", "orders.csv", "--db", "existing.csv")
    assert result.exit_code == 2 and result.exception is None
    error = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert error == ["error: existing.csv: exists and is not a DuckDB workspace"]
    assert "hint:" in result.stderr and "Traceback" not in result.stderr
    assert existing.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["existing.csv", "orders.csv"]  # nothing beside it either
    # reading commands refuse it the same way
    analyze = run_cli("analyze", "rfm", "--db", "existing.csv")
    assert analyze.exit_code == 2 and "existing.csv: exists and is not a DuckDB workspace" in analyze.stderr


def test_db_that_is_an_empty_file_is_refused(run_cli, tmp_path):
    orders_csv(tmp_path / "orders.csv", ["a"])
    (tmp_path / "empty.duckdb").touch()
    result = run_cli("ingest", "orders.csv", "--db", "empty.duckdb")
    assert result.exit_code == 2 and "empty.duckdb: exists and is not a DuckDB workspace" in result.stderr
    assert (tmp_path / "empty.duckdb").stat().st_size == 0


def test_db_in_a_folder_that_does_not_exist_yet_is_made_there(run_cli, tmp_path):
    orders_csv(tmp_path / "orders.csv", ["a", "b"])
    result = run_cli("ingest", "orders.csv", "--db", "new/shop/ws.duckdb")
    assert result.exit_code == 0, result.stderr
    rows, _ = ingested(tmp_path / "new" / "shop" / "ws.duckdb")
    assert list(rows.values()) == [["a", "b"]]
    # and the workspace is a workspace: ingesting again into it works
    assert run_cli("ingest", "orders.csv", "--db", "new/shop/ws.duckdb").exit_code == 0


def test_db_whose_folder_is_a_file_is_refused_in_one_line(run_cli, tmp_path):
    orders_csv(tmp_path / "orders.csv", ["a"])
    result = run_cli("ingest", "orders.csv", "--db", "orders.csv/ws.duckdb")
    assert result.exit_code == 2 and result.exception is None
    assert "orders.csv/ws.duckdb: cannot make its folder orders.csv" in result.stderr
    assert "Traceback" not in result.stderr
