"""Exports stay text: a shop whose customer ids and product names a spreadsheet would take for
formulas (=1+1, =HYPERLINK(...), +SUM(A1), -2+3, @cmd) goes through every command that writes a
member list — the report's exports, analyze --out, clv predict --out, predict next-product --out,
segment --export — and comes out as text: no formula cell in Excel files, a leading ' in CSV,
while numbers, negative ones included, are written as numbers. Through the CLI, then each file
read back cell by cell against the command's own JSON."""

from __future__ import annotations

import csv
import json
import math
from datetime import date, datetime
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from openpyxl import load_workbook
from typer.testing import CliRunner

from memberlens.cli import app
from memberlens.io.files import sheet_name, text_safe, write_table_atomic

HOSTILE_IDS = ["=1+1", '=HYPERLINK("http://x","CLICK")', "+SUM(A1)", "-2+3", "@cmd"]
PRODUCTS = ["=2+2", "+CMD|' /C calc'!A0", "-1+1", "@SUM(1)", "soap"]
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def hostile_orders() -> pd.DataFrame:
    """50 customers over a year, five of them with hostile ids; products 0 and 1 (both hostile)
    often bought together, so next-product suggests one to buyers of the other; and R1, whose
    only line is a return: a negative amount."""
    rng = np.random.default_rng(7)
    rows = []
    for c, customer in enumerate(HOSTILE_IDS + [f"C{i:02d}" for i in range(45)]):
        first = rng.integers(0, 8)
        for visit in range(1 + rng.poisson(1.5 if c % 3 else 4)):
            month, day, draw = min(11, first + visit * rng.integers(1, 3)), 1 + rng.integers(0, 27), rng.random()
            basket = [0, 1] if draw < 0.45 else [0] if draw < 0.65 else [int(rng.integers(1, 5))]
            rows += [
                {
                    "customer_id": customer,
                    "order_id": f"O{c:02d}-{visit}",
                    "ordered_at": f"2024-{month + 1:02d}-{day:02d} 10:00",
                    "quantity": int(1 + rng.integers(0, 5)),
                    "unit_price": [1.5, 4.0, 12.0, 0.5, 60.0][p],
                    "product_id": f"P{p}",
                    "product_name": PRODUCTS[p],
                }
                for p in basket
            ]
    rows.append(
        {
            "customer_id": "R1",
            "order_id": "R-1",
            "ordered_at": "2024-05-05 10:00",
            "quantity": -2,
            "unit_price": 5.25,
            "product_id": "P4",
            "product_name": "soap",
        }
    )
    return pd.DataFrame(rows)


@pytest.fixture(scope="module")
def shop(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("hostile")
    hostile_orders().to_csv(folder / "orders.csv", index=False)
    customers = pd.DataFrame(
        {
            "customer_id": HOSTILE_IDS + ["C00", "C01"],
            "note": ["@home", "=A1*2", "plain", "-x", "+y", "-7", "ok"],
            "balance": [-12.5, 3.0, -0.25, 7.0, -1.0, 0.0, 2.5],
        }
    )
    customers.to_csv(folder / "customers.csv", index=False)
    db = folder / "shop.duckdb"
    runner = CliRunner()
    for args in (["orders.csv", "--keep-non-positive-quantity"], ["customers.csv", "--table", "customer_360"]):
        result = runner.invoke(
            app, ["ingest", *(str(folder / a) if a.endswith(".csv") else a for a in args), "--db", str(db)]
        )
        assert result.exit_code == 0, result.output
    return db


# -- reading back --------------------------------------------------------------------------------
def csv_rows(path: Path) -> list[list[str]]:
    with open(path, newline="", encoding="utf-8") as f:
        return list(csv.reader(f))


def xlsx_rows(path: Path) -> list[list]:
    """Every cell's value; no cell of the workbook is a formula."""
    sheet = load_workbook(path).active
    formulas = [c.coordinate for row in sheet.iter_rows() for c in row if c.data_type == "f"]
    assert formulas == [], f"{path.name}: formula cells {formulas}"
    return [[(c.value, c.data_type) for c in row] for row in sheet.iter_rows()]


def expected_csv_cell(value) -> str:
    """How a CSV must hold a JSON value: text that starts a formula behind a ', the rest as is."""
    if value is None:
        return ""
    if isinstance(value, str):
        return "'" + value if value.startswith(FORMULA_STARTS) and not _plain_number(value) else value
    return str(value)


def _plain_number(text: str) -> bool:
    try:
        float(text)
        return not text.strip("+-").lower().startswith(("inf", "nan"))
    except ValueError:
        return False


def assert_csv_holds(path: Path, records: list[dict]) -> None:
    """The CSV at ``path`` is ``records`` (the command's JSON), cell by cell: text marked where a
    spreadsheet would run it, numbers exactly the numbers."""
    header, *rows = csv_rows(path)
    assert header == [expected_csv_cell(c) for c in records[0]]
    assert len(rows) == len(records)
    for row, record in zip(rows, records):
        for cell, value in zip(row, record.values()):
            if isinstance(value, (int, float)) and not isinstance(value, bool):
                assert not cell.startswith("'") and float(cell) == pytest.approx(value, rel=1e-12), (cell, value)
            elif isinstance(value, str) and _iso_date(value):
                assert cell.replace(" ", "T").startswith(value[:10])
            else:
                assert cell == expected_csv_cell(value), (cell, value)


def assert_xlsx_holds(path: Path, records: list[dict]) -> None:
    """The workbook at ``path`` is ``records``: text in string cells exactly as written, numbers
    as numbers."""
    header, *rows = xlsx_rows(path)
    assert [v for v, _ in header] == list(records[0]) and all(t == "s" for _, t in header)
    assert len(rows) == len(records)
    for row, record in zip(rows, records):
        for (cell, kind), value in zip(row, record.values()):
            if value is None:
                assert cell is None
            elif isinstance(value, bool):
                assert cell == value
            elif isinstance(value, (int, float)):
                assert kind == "n" and cell == pytest.approx(value, rel=1e-12), (cell, value)
            elif isinstance(cell, (datetime, date)):
                assert cell.isoformat().startswith(value[:10])
            else:
                assert (cell, kind) == (value, "s")


def _iso_date(text: str) -> bool:
    try:
        datetime.fromisoformat(text)
        return len(text) >= 10 and text[4] == "-"
    except ValueError:
        return False


def run_ok(run_cli, *args) -> str:
    result = run_cli(*args)
    assert result.exit_code == 0, result.stderr
    assert "Traceback" not in result.stderr
    return result.stdout


# -- the commands ----------------------------------------------------------------------------------
def test_analyze_out_xlsx_and_csv_keep_hostile_ids_as_text_and_numbers_as_numbers(run_cli, shop, tmp_path):
    records = json.loads(run_ok(run_cli, "analyze", "rfm", "--db", shop, "--format", "json"))
    assert set(HOSTILE_IDS) <= {r["customer_id"] for r in records}
    refund = next(r for r in records if r["customer_id"] == "R1")
    assert refund["monetary"] == -10.5  # a negative number the CSV must leave alone
    run_ok(run_cli, "analyze", "rfm", "--db", shop, "--out", "rfm.xlsx")
    run_ok(run_cli, "analyze", "rfm", "--db", shop, "--out", "rfm.csv")
    assert_xlsx_holds(tmp_path / "rfm.xlsx", records)
    assert_csv_holds(tmp_path / "rfm.csv", records)
    rows = {row[0]: row for row in csv_rows(tmp_path / "rfm.csv")[1:]}
    assert rows['\'=HYPERLINK("http://x","CLICK")'] and rows["'-2+3"] and rows["'@cmd"] and rows["'+SUM(A1)"]
    assert rows["R1"][3] == "-10.5"
    # and CSV on stdout, which a user redirects into a file just the same
    printed = list(csv.reader(run_ok(run_cli, "analyze", "rfm", "--db", shop, "--format", "csv").splitlines()))
    assert [row[0] for row in printed] == [row[0] for row in csv_rows(tmp_path / "rfm.csv")]
    assert [row[3] for row in printed] == [row[3] for row in csv_rows(tmp_path / "rfm.csv")]  # monetary


def test_clv_predict_out(run_cli, shop, tmp_path):
    records = json.loads(run_ok(run_cli, "clv", "predict", "--db", shop, "--format", "json"))
    run_ok(run_cli, "clv", "predict", "--db", shop, "--out", "value.xlsx")
    run_ok(run_cli, "clv", "predict", "--db", shop, "--out", "value.csv")
    assert set(HOSTILE_IDS) <= {r["customer_id"] for r in records}
    assert_xlsx_holds(tmp_path / "value.xlsx", records)
    assert_csv_holds(tmp_path / "value.csv", records)


def test_predict_next_product_out(run_cli, shop, tmp_path):
    args = ("predict", "next-product", "--members", "--db", shop, "--min-support", "0.05", "--min-lift", "1.0")
    records = json.loads(run_ok(run_cli, *args, "--format", "json"))
    assert {r["product_name"] for r in records} & set(PRODUCTS[:2])  # hostile products are suggested
    assert set(HOSTILE_IDS) & {r["customer_id"] for r in records}
    run_ok(run_cli, *args, "--out", "next.xlsx")
    run_ok(run_cli, *args, "--out", "next.csv")
    assert_xlsx_holds(tmp_path / "next.xlsx", records)
    assert_csv_holds(tmp_path / "next.csv", records)


def test_segment_export_keeps_text_attributes_as_text_and_negative_balances_as_numbers(run_cli, shop, tmp_path):
    for name in ("members.xlsx", "members.csv"):
        run_ok(run_cli, "segment", "--db", shop, "--where", "balance < 100", "--export", name, "--min-count", "1")
    header, *rows = xlsx_rows(tmp_path / "members.xlsx")
    names = [v for v, _ in header]
    by_id = {row[names.index("customer_id")][0]: dict(zip(names, row)) for row in rows}
    assert by_id['=HYPERLINK("http://x","CLICK")']["note"] == ("=A1*2", "s")
    assert by_id["=1+1"]["note"] == ("@home", "s") and by_id["=1+1"]["balance"] == (-12.5, "n")
    assert by_id["-2+3"]["note"] == ("-x", "s") and by_id["+SUM(A1)"]["balance"] == (-0.25, "n")
    header, *lines = csv_rows(tmp_path / "members.csv")
    by_id = {line[header.index("customer_id")]: dict(zip(header, line)) for line in lines}
    assert by_id["'=1+1"]["note"] == "'@home" and by_id["'=1+1"]["balance"] == "-12.5"
    assert by_id["'-2+3"]["note"] == "'-x" and by_id["'@cmd"]["note"] == "'+y"
    assert by_id["C00"]["note"] == "-7"  # text, but a number: nothing a spreadsheet would run


@pytest.mark.slow
@pytest.mark.parametrize("fmt", ["xlsx", "csv"])
def test_report_exports(run_cli, shop, tmp_path, fmt):
    run_ok(run_cli, "report", "--db", shop, "--out", "out", "--export-format", fmt)
    exports = tmp_path / "out" / "exports"
    assert {"rfm_segments", "clv", "next_product", "clusters", "lifecycle_stages"} <= {
        p.stem for p in exports.iterdir()
    }
    for path in sorted(exports.iterdir()):
        assert path.suffix == f".{fmt}"
        if fmt == "xlsx":
            typed = [(v, kind) for row in xlsx_rows(path) for v, kind in row if isinstance(v, str)]
            assert all(kind == "s" for _, kind in typed)
            cells = [v for v, _ in typed]
        else:
            cells = [cell for row in csv_rows(path) for cell in row]
            texts = [c for c in cells if c.startswith(FORMULA_STARTS)]
            assert all(_plain_number(c) for c in texts), f"{path.name}: {texts[:3]}"
        ids = {c.removeprefix("'") for c in cells} & set(HOSTILE_IDS)
        if path.stem in ("rfm_segments", "clv", "clusters", "lifecycle_stages"):
            assert ids == set(HOSTILE_IDS), path.name  # every hostile member is listed, as text
    if fmt == "csv":
        header, *rows = csv_rows(exports / "rfm_segments.csv")
        refund = next(dict(zip(header, row)) for row in rows if row[header.index("customer_id")] == "R1")
        assert refund["monetary"] == "-10.5"


# -- the writer ------------------------------------------------------------------------------------
def test_cells_starting_with_a_tab_or_carriage_return_are_text_too(tmp_path):
    """Ingest trims text, so a leading tab or CR reaches an export only from a frame written
    directly; a line break inside a cell is quoted, so the row stays one row."""
    frame = pd.DataFrame(
        {"name": ["\tTAB", "\rCR", "=1", "-2.5", "in\rside\nout"], "value": [-1.0, -2, 3, math.nan, 0.5]}
    )
    write_table_atomic(frame, tmp_path / "t.csv", "csv")
    write_table_atomic(frame, tmp_path / "t.xlsx", "xlsx")
    rows = csv_rows(tmp_path / "t.csv")
    assert rows == [
        ["name", "value"],
        ["'\tTAB", "-1.0"],
        ["'\rCR", "-2.0"],
        ["'=1", "3.0"],
        ["-2.5", ""],
        ["in\rside\nout", "0.5"],
    ]
    assert (tmp_path / "t.csv").read_bytes().count(b"\r\n") == 0  # rows end in a line feed
    cells = xlsx_rows(tmp_path / "t.xlsx")
    assert all(kind == "s" for (_, kind), _ in cells[1:])
    # a CR in an .xlsx cell reads back as LF (XML's line-end rule; openpyxl writes it as is)
    assert [c[0][0] for c in cells[1:]] == ["\tTAB", "\nCR", "=1", "-2.5", "in\nside\nout"]
    assert [c[1][0] for c in cells[1:]] == [-1.0, -2.0, 3.0, None, 0.5]
    assert not list(tmp_path.glob(".*.tmp"))  # written beside, then renamed


def test_text_safe_marks_only_what_a_spreadsheet_would_run():
    assert [text_safe(v) for v in ("=1+1", "+SUM(A1)", "-2+3", "@cmd", "\tx", "\rx", "-", "+")] == [
        "'=1+1",
        "'+SUM(A1)",
        "'-2+3",
        "'@cmd",
        "'\tx",
        "'\rx",
        "'-",
        "'+",
    ]
    assert [text_safe(v) for v in ("-2", "+3.5", "-1e5", "ok", "a=b", "", -2, -2.5, None)] == [
        "-2",
        "+3.5",
        "-1e5",
        "ok",
        "a=b",
        "",
        -2,
        -2.5,
        None,
    ]


@pytest.mark.parametrize(
    "name, sheet",
    [
        ("rfm_segments", "rfm_segments"),
        ("segment_[vip]:a/b\\c*?", "segment__vip__a_b_c__"),
        ("x" * 40, "x" * 31),
        ("'quoted'", "quoted"),
        ("History", "History_"),
        ("", "Sheet1"),
    ],
)
def test_sheet_names_are_valid_for_excel(name, sheet):
    assert sheet_name(name) == sheet


def test_out_format_follows_the_file_name_and_refuses_a_contradicting_format(run_cli, shop, tmp_path):
    run_ok(run_cli, "analyze", "trends", "--db", shop, "--out", "t.json")
    assert isinstance(json.loads((tmp_path / "t.json").read_text(encoding="utf-8")), list)
    run_ok(
        run_cli, "analyze", "trends", "--db", shop, "--format", "json", "--out", "t.txt"
    )  # no known suffix: --format
    assert isinstance(json.loads((tmp_path / "t.txt").read_text(encoding="utf-8")), list)
    result = run_cli("analyze", "trends", "--db", shop, "--format", "json", "--out", "t.csv")
    assert result.exit_code == 2 and result.exception is None
    assert "error: --format json but t.csv ends in .csv" in result.stderr and not (tmp_path / "t.csv").exists()


def test_a_control_character_excel_cannot_hold_is_one_line_naming_the_cell(tmp_path):
    from memberlens.errors import InputError

    frame = pd.DataFrame({"customer_id": ["a", "b\x01c"], "value": [1, 2]})
    with pytest.raises(InputError, match=r"t\.xlsx: column 'customer_id', row 3: holds a control character"):
        write_table_atomic(frame, tmp_path / "t.xlsx", "xlsx")
    assert list(tmp_path.iterdir()) == []  # no half-written file, no temporary one
