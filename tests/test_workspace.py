"""The workspace: idempotent re-ingest, all-or-nothing replacement, several sources per table."""

from __future__ import annotations

import pandas as pd
import pytest

from memberlens import InputError, MissingTableError, Workspace, ingest

ORDERS = pd.DataFrame(
    {
        "customer_id": ["a", "a", "b", ""],
        "order_id": ["1", "2", "3", "4"],
        "ordered_at": ["2024-01-01", "2024-02-01", "2024-02-03", "2024-02-04"],
        "amount": ["10", "20", "5", "7"],
    }
)


def snapshot(ws: Workspace) -> dict[str, list]:
    return {name: sorted(map(str, ws.table(name).execute().to_dict("records"))) for name in ws.list_tables()}


def test_reingesting_a_source_replaces_it(tmp_path):
    with Workspace(tmp_path / "w.duckdb") as ws:
        ingest(ws, ORDERS, name="shop")
        first = snapshot(ws)
        ingest(ws, ORDERS, name="shop")
        second = snapshot(ws)
    assert {k: v for k, v in first.items() if k != "sources"} == {k: v for k, v in second.items() if k != "sources"}
    assert len(second["ledger"]) == 2  # used + missing_customer_id, once each


def test_two_sources_feed_one_table_and_are_replaced_separately(tmp_path):
    with Workspace(tmp_path / "w.duckdb") as ws:
        ingest(ws, ORDERS, name="web")
        ingest(ws, ORDERS.assign(order_id=["9", "8", "7", "6"]), name="store")
        assert ws.table("orders").count().execute() == 6
        ingest(ws, ORDERS.iloc[:1], name="store")
        orders = ws.table("orders").execute()
        assert sorted(orders["_source"]) == ["store", "web", "web", "web"]
        assert [ledger.source for ledger in ws.ledgers()] == ["web", "store"]


def test_a_failed_ingest_leaves_the_previous_state(tmp_path, monkeypatch):
    with Workspace(tmp_path / "w.duckdb") as ws:
        ingest(ws, ORDERS, name="shop")
        before = snapshot(ws)

        def fail(*args, **kwargs):
            raise RuntimeError("disk full")

        monkeypatch.setattr(Workspace, "_record_ledger", fail)  # the last step of the transaction
        with pytest.raises(RuntimeError, match="disk full"):
            ingest(ws, ORDERS.iloc[:2], name="shop")
        assert snapshot(ws) == before
    with Workspace(tmp_path / "w.duckdb") as ws:  # and on disk
        assert snapshot(ws) == before


def test_a_bad_source_changes_nothing(tmp_path):
    with Workspace(tmp_path / "w.duckdb") as ws:
        ingest(ws, ORDERS, name="shop")
        before = snapshot(ws)
        with pytest.raises(InputError, match="customer_id"):
            ingest(ws, ORDERS.drop(columns="customer_id"), name="shop")
        assert snapshot(ws) == before


def test_missing_table_names_the_command_that_adds_it(tmp_path):
    with Workspace(tmp_path / "w.duckdb") as ws:
        with pytest.raises(MissingTableError) as info:
            ws.table("members")
    assert "members" in info.value.message and "--table members" in info.value.hint


def test_members_keep_extra_columns_with_inferred_types(tmp_path):
    members = pd.DataFrame(
        {
            "会员ID": ["m1", "m2", "m3"],
            "注册时间": ["2024-01-01", "2024/02/01", ""],
            "age": ["31", "", "45"],
            "score": ["1.5", "2", "NaN"],
            "vip": ["yes", "no", ""],
            "city": ["上海", "北京", "杭州"],
        }
    )
    with Workspace(tmp_path / "w.duckdb") as ws:
        result = ingest(ws, members, table="members")
        table = ws.table("members")
        schema = table.schema()
        rows = table.order_by("_row").execute()
    assert result.mapping.columns == {"customer_id": "会员ID", "registered_at": "注册时间"}
    assert str(schema["age"]) == "int64" and str(schema["score"]) == "float64"
    assert str(schema["vip"]) == "boolean" and str(schema["city"]) == "string"
    assert rows["registered_at"].tolist()[:2] == [pd.Timestamp("2024-01-01"), pd.Timestamp("2024-02-01")]
    assert rows["vip"].tolist()[:2] == [True, False]


def test_polars_arrow_and_ibis_tables_ingest_like_pandas(tmp_path):
    import ibis
    import polars as pl
    import pyarrow as pa

    other = ibis.duckdb.connect()
    sources = {
        "pandas": ORDERS,
        "polars": pl.from_pandas(ORDERS),
        "arrow": pa.Table.from_pandas(ORDERS),
        "ibis": other.create_table("o", ORDERS),
    }
    with Workspace(tmp_path / "w.duckdb") as ws:
        ledgers = {name: ingest(ws, frame, name=name).ledger for name, frame in sources.items()}
    assert {name: (x.rows_read, x.rows_used, x.set_aside) for name, x in ledgers.items()} == {
        name: (4, 3, {"missing_customer_id": 1}) for name in sources
    }


def test_a_table_without_customer_ids_ingests(tmp_path):
    costs = pd.DataFrame(
        {"date": ["2024-01-01", "2024-02-01", ""], "cost": ["100", "80.5", "3"], "kind": ["media", "coupon", "media"]}
    )
    with Workspace(tmp_path / "w.duckdb") as ws:
        ledger = ingest(ws, costs, table="marketing_costs").ledger
    assert (ledger.rows_used, ledger.set_aside) == (2, {"missing_date": 1})
