"""Values kept as written: attributes a number would change stay text, identifiers are text,
amounts in decimal-comma or thousands-separator form are read exactly (or refused when they could
be read two ways), and the encoding a user names is the one used. Through the CLI, then read back."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest

from memberlens import Workspace

ORDERS_HEADER = "order_id,customer_id,ordered_at,amount\n"


def read_table(tmp_path: Path, table: str, columns: list[str]):
    with Workspace(tmp_path / "memberlens.duckdb", read_only=True) as ws:
        return ws.table(table).select(*columns).execute().sort_values(columns[0]).reset_index(drop=True)


def test_member_attributes_a_number_would_change_come_back_as_written(run_cli, tmp_path):
    accounts = [str(1234567890123456700 + i) for i in range(50)]  # 19 digits: float64 keeps ~16
    lines = [
        f"m{i:02d},{zip_},{account},{score}"
        for i, (zip_, account, score) in enumerate(zip(["01000", "75001", "00501"] * 17, accounts, [1, 2.5, 3] * 17))
    ]
    (tmp_path / "members.csv").write_text("customer_id,zip,account,score\n" + "\n".join(lines) + "\n", encoding="utf-8")
    result = run_cli("ingest", "members.csv", "--table", "members")
    assert result.exit_code == 0, result.stderr
    members = read_table(tmp_path, "members", ["customer_id", "zip", "account", "score"])
    assert list(members.zip) == [line.split(",")[1] for line in lines]
    assert list(members.account) == accounts and members.account.nunique() == 50
    assert members.score.dtype.kind == "f"  # a plain number column is still a number


def test_customer_ids_stay_text_in_the_workspace_and_the_exports(run_cli, tmp_path):
    ids = ["00123", "0042", "1234567890123456789", "1234567890123456788"]
    rows = [f"{i + 1},{cid},2024-0{1 + i % 3}-1{i} 10:00:00,{10 + i}.50" for i, cid in enumerate(ids * 2)]
    (tmp_path / "orders.csv").write_text(ORDERS_HEADER + "\n".join(rows) + "\n", encoding="utf-8")
    assert run_cli("ingest", "orders.csv").exit_code == 0
    assert sorted(read_table(tmp_path, "orders", ["customer_id"]).customer_id.unique()) == sorted(ids)
    out = run_cli("analyze", "rfm", "--format", "csv", "--out", "rfm.csv")
    assert out.exit_code == 0, out.stderr
    with open(tmp_path / "rfm.csv", newline="", encoding="utf-8") as f:
        assert sorted(row["customer_id"] for row in csv.DictReader(f)) == sorted(ids)


@pytest.mark.parametrize(
    "written, expected",
    [
        (["12.50", "1,234.56", "1,000,000", "$7.25"], [12.5, 1234.56, 1_000_000.0, 7.25]),
        (["12,50", "1.234,56", "1.000.000", "€7,25"], [12.5, 1234.56, 1_000_000.0, 7.25]),
        (["1.000", "12,50"], [1000.0, 12.5]),  # the case: 1.000 is a thousand here, not 1
        (["1,000", "12.50"], [1000.0, 12.5]),
        (["0.001", "0.045", "1234.567"], [0.001, 0.045, 1234.567]),  # no grouping writes 0.001 or 1234.567
        (["0,001", "0,045", "1234,567"], [0.001, 0.045, 1234.567]),
    ],
    ids=[
        "points",
        "commas",
        "thousand-with-comma-decimals",
        "thousand-with-point-decimals",
        "three-point-decimals",
        "three-comma-decimals",
    ],
)
def test_amounts_in_each_notation_are_read_exactly(run_cli, tmp_path, written, expected):
    rows = [f'{i + 1},C{i},2024-01-0{i + 1},"{amount}"' for i, amount in enumerate(written)]
    (tmp_path / "orders.csv").write_text(ORDERS_HEADER + "\n".join(rows) + "\n", encoding="utf-8")
    result = run_cli("ingest", "orders.csv", "--format", "json")
    assert result.exit_code == 0, result.stderr
    assert json.loads(result.stdout)[0]["rows_used"] == len(written)
    assert list(read_table(tmp_path, "orders", ["customer_id", "amount"]).amount) == expected


def test_amounts_that_read_two_ways_are_refused_until_the_user_says_which(run_cli, tmp_path):
    (tmp_path / "orders.csv").write_text(
        ORDERS_HEADER + '1,A,2024-01-01,"1.000"\n2,B,2024-01-02,"2.500"\n', encoding="utf-8"
    )
    refused = run_cli("ingest", "orders.csv")
    assert refused.exit_code == 2 and refused.exception is None
    assert "'1.000'" in refused.stderr and "--decimal" in refused.stderr
    with Workspace(tmp_path / "memberlens.duckdb", read_only=True) as ws:
        assert not ws.has_table("orders")
    assert run_cli("ingest", "orders.csv", "--decimal", ",").exit_code == 0
    assert list(read_table(tmp_path, "orders", ["customer_id", "amount"]).amount) == [1000.0, 2500.0]
    (tmp_path / "map.toml").write_text('decimal = "."\n', encoding="utf-8")
    assert run_cli("ingest", "orders.csv", "--mapping", "map.toml").exit_code == 0
    assert list(read_table(tmp_path, "orders", ["customer_id", "amount"]).amount) == [1.0, 2.5]


def test_a_column_mixing_both_marks_is_refused_with_examples(run_cli, tmp_path):
    (tmp_path / "orders.csv").write_text(
        ORDERS_HEADER + '1,A,2024-01-01,"1.50"\n2,B,2024-01-02,"2,25"\n', encoding="utf-8"
    )
    refused = run_cli("ingest", "orders.csv")
    assert refused.exit_code == 2 and "'1.50'" in refused.stderr and "'2,25'" in refused.stderr


@pytest.mark.parametrize("codec", ["utf-16-le", "utf-16-be"])
def test_utf16_without_a_byte_order_mark_is_text(run_cli, tmp_path, codec):
    text = ORDERS_HEADER + "1,Zoë,2024-01-01,5.5\n2,B,2024-01-02,7.25\n"
    (tmp_path / "orders.csv").write_bytes(text.encode(codec))
    for args in (["orders.csv"], ["orders.csv", "--encoding", codec]):  # detected, and as told
        result = run_cli("ingest", *args, "--format", "json")
        assert result.exit_code == 0, result.stderr
        assert json.loads(result.stdout)[0]["encoding"] == codec
    assert list(read_table(tmp_path, "orders", ["customer_id"]).customer_id) == ["B", "Zoë"]


def test_the_encoding_given_is_the_one_used(run_cli, tmp_path):
    (tmp_path / "orders.csv").write_text(ORDERS_HEADER + "1,Zoë,2024-01-01,5.5\n", encoding="utf-8")
    result = run_cli("ingest", "orders.csv", "--encoding", "latin-1", "--format", "json")
    assert result.exit_code == 0 and json.loads(result.stdout)[0]["encoding"] == "latin-1"
    assert list(read_table(tmp_path, "orders", ["customer_id"]).customer_id) == ["ZoÃ«"]
