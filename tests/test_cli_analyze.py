"""``memberlens analyze``: every registered analysis runs from the CLI, in every format, and the
printed table is the analysis function's own output (the functions are tested against pandas
oracles in test_metrics_*)."""

from __future__ import annotations

import json

import pandas as pd
import pytest

from memberlens import Workspace, ingest
from memberlens.analyses import ANALYSES, AnalysisOptions, run_analysis
from memberlens.results import Results

ORDERS = pd.DataFrame(
    {
        "customer_id": ["a", "a", "b", "c", "c", "c", "d"],
        "order_id": ["1", "2", "3", "4", "5", "5", "6"],
        "ordered_at": [
            "2024-01-03",
            "2024-02-10",
            "2024-02-11",
            "2024-01-05",
            "2024-03-01",
            "2024-03-01",
            "2024-03-20",
        ],
        "amount": ["10", "20", "5", "7", "30", "3", "12"],
        "product_id": ["p1", "p2", "p1", "p3", "p1", "p2", "p3"],
        "quantity": ["1", "2", "1", "1", "3", "1", "2"],
        "unit_price": ["10", "10", "5", "7", "10", "3", "6"],
    }
)
MEMBERS = pd.DataFrame(
    {
        "customer_id": ["a", "b", "c", "d", "e"],
        "registered_at": ["2023-12-01", "2024-01-01", "2024-01-02", "2024-03-01", "2024-03-02"],
    }
)
EVENTS = pd.DataFrame(
    {
        "customer_id": ["a", "b", "a"],
        "occurred_at": ["2024-01-01", "2024-01-02", "2024-01-09"],
        "engagement": ["3", "1", "2"],
    }
)
REFERRALS = pd.DataFrame(
    {
        "referrer_id": ["b", "b", "c"],
        "referred_id": ["c", "d", "a"],
        "referred_at": ["2023-12-20", "2024-03-01", "2024-01-02"],
        "reward_cost": ["5", "5", "5"],
    }
)


@pytest.fixture(scope="module")
def workspace(tmp_path_factory):
    path = tmp_path_factory.mktemp("ws") / "memberlens.duckdb"
    with Workspace(path) as ws:
        ingest(ws, ORDERS, name="orders")
        ingest(ws, MEMBERS, table="members", name="members")
        ingest(ws, EVENTS, table="events", name="events")
        ingest(ws, REFERRALS, table="referrals", name="referrals")
    return path


@pytest.mark.parametrize(
    "name", [n for n in ANALYSES if not n.startswith("cluster") and n not in ("clv", "score-history")]
)
def test_every_analysis_prints_its_own_table_as_json(run_cli, workspace, name):
    result = run_cli("analyze", name, "--db", workspace, "--format", "json")
    assert result.exit_code == 0, result.stderr
    printed = pd.DataFrame(json.loads(result.stdout))
    with Workspace(workspace, read_only=True) as ws:
        expected = run_analysis(ws, name, AnalysisOptions())
        expected = expected if isinstance(expected, pd.DataFrame) else expected.to_pandas()  # referrals: pandas
    assert len(printed) == len(expected) > 0
    assert list(printed.columns) == list(expected.columns)


def test_clv_from_the_cli_is_the_analysis(run_cli, demo_workspace):
    """Four customers are too few for BG/NBD: the CLV analysis runs on the demo workspace."""
    path, _ = demo_workspace
    result = run_cli("analyze", "clv", "--db", path, "--as-of", "2024-07-01", "--format", "json")
    assert result.exit_code == 0, result.stderr
    printed = pd.DataFrame(json.loads(result.stdout))
    with Workspace(path, read_only=True) as ws:
        expected = Results(ws, as_of=pd.Timestamp("2024-07-01").date()).get("clv")
    assert printed.customer_id.tolist() == expected.customer_id.tolist()
    assert pd.to_datetime(printed.last_order_date).max() < pd.Timestamp("2024-07-01")
    assert (printed.probability_alive - expected.probability_alive).abs().max() < 1e-9


def test_clv_on_too_little_data_says_why_in_one_line(run_cli, workspace):
    result = run_cli("analyze", "clv", "--db", workspace)
    assert result.exit_code == 2 and "did not converge" in result.stderr and "Traceback" not in result.stderr


def test_clusters_from_the_cli(run_cli, workspace):
    result = run_cli("analyze", "cluster-curve", "--db", workspace, "--format", "json")
    assert result.exit_code == 0, result.stderr
    curve = json.loads(result.stdout)
    assert [row["k"] for row in curve] == [2, 3] and sum(row["chosen"] for row in curve) == 1


def test_as_of_excludes_later_orders(run_cli, workspace):
    result = run_cli("analyze", "rfm", "--db", workspace, "--as-of", "2024-02-11", "--format", "json")
    rows = {r["customer_id"]: r for r in json.loads(result.stdout)}
    assert set(rows) == {"a", "c"}  # b's only order is on the cut-off day
    assert rows["a"]["recency"] == 1 and rows["a"]["frequency"] == 2 and rows["c"]["monetary"] == 7


@pytest.mark.parametrize("fmt, reader", [("csv", pd.read_csv), ("parquet", pd.read_parquet), ("json", pd.read_json)])
def test_out_writes_a_file(run_cli, workspace, tmp_path, fmt, reader):
    out = tmp_path / f"trends.{fmt}"
    result = run_cli("analyze", "trends", "--db", workspace, "--format", fmt, "--out", out)
    assert result.exit_code == 0, result.stderr
    frame = reader(out)
    assert frame["buyers"].tolist() == [2, 2, 2] and frame["orders"].tolist() == [2, 2, 2]


@pytest.mark.parametrize(
    "args, message",
    [
        (["nope"], "unknown analysis 'nope'"),
        (["rfm", "--as-of", "10/12/2011"], "--as-of '10/12/2011' is not a date"),
        (["trends", "--period", "year"], "'period' parameter must be one of"),
        (["rfm", "--bins", "7"], "'bins' parameter must be 3, 4 or 5"),
        (["trends", "--format", "parquet"], "--format parquet needs --out"),
        (["kpis", "--db", "missing.duckdb"], "no such workspace"),
    ],
)
def test_bad_requests_get_one_line_and_exit_2(run_cli, workspace, args, message):
    if "--db" not in args:
        args = [*args, "--db", str(workspace)]
    result = run_cli("analyze", *args)
    assert result.exit_code == 2
    assert result.stderr.startswith("error: ") and message in result.stderr
    assert "Traceback" not in result.stderr + result.stdout


def test_a_missing_table_is_named(run_cli, tmp_path):
    path = tmp_path / "w.duckdb"
    with Workspace(path) as ws:
        ingest(ws, ORDERS, name="orders")
    result = run_cli("analyze", "kpis", "--db", path)
    assert result.exit_code == 2 and "no 'members' table" in result.stderr and "--table members" in result.stderr
