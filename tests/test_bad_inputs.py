"""A corpus of bad and awkward inputs, run through the CLI as a user would.

The contract for bad input: one line ``error: ...`` naming the file, column, row or value, an
optional ``hint: ...`` line, on stderr; exit status 2; no traceback unless ``--debug``. Input files
are never modified. Any input that can be read is ingested, and the ledger (``memberlens info
--format json``) shows where every row went: rows read = rows used + rows set aside per named
reason. Every expected count here is worked out from how the test built its file, not from
memberlens.

Every input file is built inside its test, in ``tmp_path`` (the CLI runs there too).
"""

from __future__ import annotations

import gzip
import json
import os
import random
import shutil
import subprocess
import sys
import zipfile
from collections import Counter
from datetime import datetime
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from conftest import require
from openpyxl import Workbook

import memberlens
from memberlens.ingest import source_name_for

HEADER = ["customer_id", "order_id", "ordered_at", "amount"]
DB = "memberlens.duckdb"


# -- helpers ---------------------------------------------------------------------------------------
def csv_text(rows: list[list[object]], header: list[str] = HEADER, sep: str = ",") -> str:
    return "\n".join(sep.join(str(v) for v in row) for row in [header, *rows]) + "\n"


def write(path: Path, text: str | bytes, encoding: str = "utf-8") -> Path:
    path.write_bytes(text if isinstance(text, bytes) else text.encode(encoding))
    return path


def good_rows(n: int, start: int = 1) -> list[list[object]]:
    """``n`` distinct, valid order lines."""
    return [[1000 + i, f"A{i}", f"2021-03-{1 + i % 28:02d} 10:00:00", f"{i}.50"] for i in range(start, start + n)]


def no_traceback(result) -> None:
    assert result.exception is None, repr(result.exception)
    assert "Traceback" not in result.stdout + result.stderr


def expect_error(run_cli, *args: object, names: tuple[str, ...], hint: str | None = None) -> tuple[str, str]:
    """Run a command that must fail on bad input; return its error line and hint line."""
    result = run_cli(*args)
    no_traceback(result)
    assert result.exit_code == 2, (result.exit_code, result.stdout, result.stderr)
    lines = result.stderr.strip().splitlines()
    assert lines and lines[0].startswith("error: "), result.stderr
    for name in names:
        assert name in lines[0], (name, lines[0])
    hints = [line for line in lines[1:] if line.startswith("hint: ")]
    assert len(lines) <= 2 and len(hints) == len(lines) - 1, result.stderr  # one error line, an optional hint
    if hint is not None:
        assert hints and hint in hints[0], (hint, result.stderr)
    return lines[0], hints[0] if hints else ""


def ingest_ok(run_cli, *args: object) -> tuple[dict, object]:
    """Ingest (exit 0, no traceback) and return this source's ledger as ``memberlens info`` shows it."""
    result = run_cli("ingest", *args)
    no_traceback(result)
    assert result.exit_code == 0, (result.stdout, result.stderr)
    info = run_cli("info", "--format", "json")
    no_traceback(info)
    assert info.exit_code == 0, info.stderr
    sources = json.loads(info.stdout)["sources"]
    name = _option(args, "--name") or source_name_for(str(args[0]))
    [ledger] = [s for s in sources if s["source"] == name]
    assert ledger["rows_read"] == ledger["rows_used"] + sum(ledger["set_aside"].values())
    assert ledger["balanced"] is True
    return ledger, result


def _option(args: tuple[object, ...], flag: str) -> str | None:
    args = tuple(str(a) for a in args)
    return args[args.index(flag) + 1] if flag in args else None


def assert_ledger(ledger: dict, *, read: int, used: int, set_aside: dict[str, int] | None = None) -> None:
    assert ledger["rows_read"] == read, ledger
    assert ledger["rows_used"] == used, ledger
    assert ledger["set_aside"] == (set_aside or {}), ledger
    assert read == used + sum((set_aside or {}).values())  # the test's own arithmetic


def table(tmp_path: Path, name: str) -> pd.DataFrame:
    with memberlens.Workspace(tmp_path / DB, read_only=True) as ws:
        return ws.table(name).execute()


def info_tables(run_cli) -> dict[str, int]:
    return json.loads(run_cli("info", "--format", "json").stdout)["tables"]


def snapshot(path: Path) -> tuple[bytes, int, int]:
    stat = path.stat()
    return path.read_bytes(), stat.st_mtime_ns, stat.st_mode


def xlsx(path: Path, sheets: dict[str, list[list[object]]]) -> Path:
    workbook = Workbook()
    workbook.remove(workbook.active)
    for title, rows in sheets.items():
        sheet = workbook.create_sheet(title)
        for row in rows:
            sheet.append(row)
    workbook.save(path)
    return path


def memberlens_executable() -> str | None:
    """The installed console script beside the interpreter running the tests."""
    return shutil.which("memberlens", path=str(Path(sys.executable).parent))


# -- files that cannot be read: one error line, exit 2 ------------------------------------------
def test_empty_file_of_zero_bytes(run_cli, tmp_path):
    write(tmp_path / "empty.csv", b"")
    expect_error(run_cli, "ingest", "empty.csv", names=("empty.csv", "empty"), hint="header")


def test_file_of_blank_lines_is_empty(run_cli, tmp_path):
    write(tmp_path / "blank.csv", "\n \n\r\n\t\n")
    expect_error(run_cli, "ingest", "blank.csv", names=("blank.csv", "empty"))


def test_header_only(run_cli, tmp_path):
    write(tmp_path / "header.csv", csv_text([]))
    expect_error(run_cli, "ingest", "header.csv", names=("header.csv", "no data rows"))


def test_missing_required_column_suggests_the_closest(run_cli, tmp_path):
    header = ["CustmerID", "InvoiceNo", "InvoiceDate", "Amount"]
    write(tmp_path / "typo.csv", csv_text(good_rows(3), header=header))
    error, hint = expect_error(
        run_cli,
        "ingest",
        "typo.csv",
        names=("typo.csv", "customer_id", "CustmerID"),
        hint="--map customer_id=CustmerID",
    )
    # Only the plausible candidate: Amount already feeds amount and is no customer id.
    assert hint == "hint: did you mean ['CustmerID']? map it with --map customer_id=CustmerID"


def test_map_to_a_column_that_does_not_exist(run_cli, tmp_path):
    header = ["CustmerID", "order_id", "ordered_at", "amount"]
    write(tmp_path / "typo.csv", csv_text(good_rows(3), header=header))
    expect_error(
        run_cli,
        "ingest",
        "typo.csv",
        "--map",
        "customer_id=CustomerID",
        names=("typo.csv", "'CustomerID'", "customer_id"),
        hint="CustmerID",
    )


def test_duplicated_header_column(run_cli, tmp_path):
    header = ["customer_id", "order_id", "order_id", "ordered_at", "amount"]
    write(tmp_path / "dup.csv", csv_text([[1, "A", "B", "2021-01-01", 5]], header=header))
    expect_error(run_cli, "ingest", "dup.csv", names=("dup.csv", "'order_id'", "more than once"))


def test_duplicated_header_column_in_xlsx(run_cli, tmp_path):
    # pandas would silently rename the second "amount" to "amount.1"; CSV and xlsx must agree.
    xlsx(tmp_path / "dup.xlsx", {"Orders": [[*HEADER, "amount"], [1, "A", "2021-01-01", 5, 6]]})
    expect_error(run_cli, "ingest", "dup.xlsx", names=("dup.xlsx", "'amount'", "more than once"))


def test_reserved_column_name(run_cli, tmp_path):
    write(tmp_path / "reserved.csv", csv_text([[*good_rows(1)[0], 7]], header=[*HEADER, "_row"]))
    expect_error(run_cli, "ingest", "reserved.csv", names=("reserved.csv", "_row", "reserved"))


def test_semicolon_file_read_with_comma_delimiter(run_cli, tmp_path):
    write(tmp_path / "semi.csv", csv_text(good_rows(3), sep=";"))
    expect_error(run_cli, "ingest", "semi.csv", "--delimiter", ",", names=("semi.csv", "customer_id"), hint="delimiter")


def test_comma_file_read_with_semicolon_delimiter(run_cli, tmp_path):
    write(tmp_path / "comma.csv", csv_text(good_rows(3)))
    expect_error(
        run_cli, "ingest", "comma.csv", "--delimiter", ";", names=("comma.csv", "customer_id"), hint="delimiter"
    )


def test_delimiter_of_two_characters(run_cli, tmp_path):
    write(tmp_path / "orders.csv", csv_text(good_rows(3)))
    expect_error(run_cli, "ingest", "orders.csv", "--delimiter", ";;", names=("';;'",), hint="--delimiter")


def test_binary_file(run_cli, tmp_path):
    noise = random.Random(7).randbytes(4000)
    write(tmp_path / "noise.csv", b"ab" + noise[:1000] + b"\x00" + noise[1000:])  # "ab": neither gzip nor zip magic
    expect_error(run_cli, "ingest", "noise.csv", names=("noise.csv", "binary"), hint="CSV")


def test_zip_renamed_csv(run_cli, tmp_path):
    with zipfile.ZipFile(tmp_path / "orders.csv", "w") as archive:
        archive.writestr("orders.csv", csv_text(good_rows(3)))
    expect_error(run_cli, "ingest", "orders.csv", names=("orders.csv", "zip"), hint="unzip")


def test_old_xls_workbook(run_cli, tmp_path):
    write(tmp_path / "orders.xls", b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + bytes(2000))
    expect_error(run_cli, "ingest", "orders.xls", names=("orders.xls", ".xls"), hint=".xlsx")


def test_xlsx_with_several_sheets(run_cli, tmp_path):
    rows = [HEADER, *good_rows(4)]
    xlsx(tmp_path / "book.xlsx", {"Orders": rows, "Notes": [["note"], ["hello"]]})
    expect_error(run_cli, "ingest", "book.xlsx", names=("book.xlsx", "'Orders'", "'Notes'"), hint="--sheet")
    expect_error(
        run_cli, "ingest", "book.xlsx", "--sheet", "Nope", names=("book.xlsx", "'Nope'", "'Orders'", "'Notes'")
    )
    ledger, _ = ingest_ok(run_cli, "book.xlsx", "--sheet", "Orders")
    assert_ledger(ledger, read=4, used=4)
    assert ledger["sheet"] == "Orders"
    assert sorted(table(tmp_path, "orders")["customer_id"]) == [str(r[0]) for r in good_rows(4)]


def test_missing_path(run_cli, tmp_path):
    expect_error(run_cli, "ingest", "nowhere/orders.csv", names=("orders.csv", "no such file"))


def test_folder_without_parquet_files(run_cli, tmp_path):
    (tmp_path / "exports").mkdir()
    write(tmp_path / "exports" / "orders.csv", csv_text(good_rows(2)))
    expect_error(run_cli, "ingest", "exports", names=("exports", ".parquet"))


@pytest.mark.parametrize("cut", ["truncated", "corrupt"])
def test_damaged_gzip_beyond_the_first_megabyte(run_cli, tmp_path, cut):
    # Only a bounded sample is sniffed; the damage is found later, while reading the whole file.
    rows = [[i, f"A{i}", "2021-01-01 10:00:00", f"{i % 97}.25"] for i in range(150_000)]
    data = bytearray(gzip.compress(csv_text(rows).encode(), compresslevel=1))
    if cut == "truncated":
        data = data[: len(data) * 3 // 4]
    else:
        middle = len(data) * 3 // 4
        data[middle : middle + 64] = bytes(64)
    write(tmp_path / "big.csv.gz", bytes(data))
    expect_error(run_cli, "ingest", "big.csv.gz", names=("big.csv.gz", "cannot be read"), hint="complete")


def test_unknown_encoding(run_cli, tmp_path):
    write(tmp_path / "orders.csv", csv_text(good_rows(2)))
    expect_error(run_cli, "ingest", "orders.csv", "--encoding", "klingon", names=("'klingon'",), hint="utf-8")


# -- options and mapping files -------------------------------------------------------------------
def test_unknown_preset(run_cli, tmp_path):
    write(tmp_path / "orders.csv", csv_text(good_rows(2)))
    expect_error(run_cli, "ingest", "orders.csv", "--preset", "nope", names=("'nope'", "preset"), hint="online-retail")


def test_unknown_table(run_cli, tmp_path):
    write(tmp_path / "orders.csv", csv_text(good_rows(2)))
    expect_error(run_cli, "ingest", "orders.csv", "--table", "nope", names=("'nope'", "table"), hint="orders")


def test_map_without_equals(run_cli, tmp_path):
    write(tmp_path / "orders.csv", csv_text(good_rows(2)))
    expect_error(run_cli, "ingest", "orders.csv", "--map", "customer_id", names=("'customer_id'", "--map"), hint="=")


def test_bad_date_order_option(run_cli, tmp_path):
    write(tmp_path / "orders.csv", csv_text(good_rows(2)))
    expect_error(run_cli, "ingest", "orders.csv", "--date-order", "ymd", names=("'ymd'", "--date-order"))


def test_toml_mapping_file(run_cli, tmp_path):
    rows = [["K1", "R1", "01/02/2021", "5"], ["K2", "R2", "13/01/2021", "6"], ["K3", "R3", "31/02/2021", "7"]]
    write(tmp_path / "kasse.csv", csv_text(rows, header=["Kunde", "Beleg", "Datum", "Betrag"]))
    write(
        tmp_path / "kasse.toml",
        'table = "orders"\ndate_order = "dmy"\n\n[columns]\ncustomer_id = "Kunde"\norder_id = "Beleg"\n'
        'ordered_at = "Datum"\namount = "Betrag"\n',
    )
    ledger, _ = ingest_ok(run_cli, "kasse.csv", "--mapping", "kasse.toml")
    assert_ledger(ledger, read=3, used=2, set_aside={"unparseable_ordered_at": 1})  # 31 February
    assert ledger["mapping"]["date_order"] == "dmy"
    orders = table(tmp_path, "orders").set_index("customer_id")
    assert orders.loc["K1", "ordered_at"] == pd.Timestamp("2021-02-01")
    assert orders.loc["K2", "ordered_at"] == pd.Timestamp("2021-01-13")


@pytest.mark.parametrize(
    ("content", "names"),
    [
        ("[columns\ncustomer_id = ", ("bad.toml", "TOML")),  # not TOML at all
        ('date_order = "ymd"\n', ("bad.toml", "'ymd'")),
        ("cancellation_prefix = 5\n", ("bad.toml", "cancellation_prefix", "5")),
        ('colour = "blue"\n', ("bad.toml", "colour")),
        ("[columns]\ncustomer_id = 5\n", ("bad.toml", "[columns]")),
    ],
    ids=["syntax", "date_order", "prefix_not_text", "unknown_key", "column_not_text"],
)
def test_invalid_toml_mapping_file(run_cli, tmp_path, content, names):
    write(tmp_path / "orders.csv", csv_text(good_rows(2)))
    write(tmp_path / "bad.toml", content)
    expect_error(run_cli, "ingest", "orders.csv", "--mapping", "bad.toml", names=names)


def test_mapping_file_that_is_a_folder_or_missing(run_cli, tmp_path):
    write(tmp_path / "orders.csv", csv_text(good_rows(2)))
    (tmp_path / "maps").mkdir()
    expect_error(run_cli, "ingest", "orders.csv", "--mapping", "maps", names=("maps", "mapping file"))
    expect_error(run_cli, "ingest", "orders.csv", "--mapping", "gone.toml", names=("gone.toml", "not found"))


# -- rows that are set aside, with the right reason and count ------------------------------------
def test_unparseable_dates_are_counted(run_cli, tmp_path):
    bad = ["not a date", "2021-13-01", "31/31/2021", "2021-02-30", "yesterday", "2021-01-01 25:00:00"]
    rows = good_rows(5) + [[2000 + i, f"B{i}", value, "3"] for i, value in enumerate(bad)]
    rows += [[3000, "C1", "", "3"]]  # blank: missing, not unparseable
    write(tmp_path / "dates.csv", csv_text(rows))
    ledger, _ = ingest_ok(run_cli, "dates.csv")
    assert_ledger(
        ledger, read=len(rows), used=5, set_aside={"unparseable_ordered_at": len(bad), "missing_ordered_at": 1}
    )
    kept = table(tmp_path, "orders_set_aside")
    assert sorted(kept.loc[kept["_reason"] == "unparseable_ordered_at", "ordered_at"]) == sorted(bad)


def test_mixed_date_formats_in_one_column(run_cli, tmp_path):
    spellings = {
        "1": ("2021-03-04 05:06:07", datetime(2021, 3, 4, 5, 6, 7)),
        "2": ("2021-03-04T05:06:07Z", datetime(2021, 3, 4, 5, 6, 7)),
        "3": ("12/1/2010 8:26", datetime(2010, 12, 1, 8, 26)),
        "4": ("40179", datetime(2010, 1, 1)),  # Excel serial
        "5": ("40179.5", datetime(2010, 1, 1, 12)),
        "6": ("20200315", datetime(2020, 3, 15)),
        "7": ("2021年3月4日", datetime(2021, 3, 4)),
        "8": ("2021/3/4", datetime(2021, 3, 4)),
    }
    rows = [[cid, f"A{cid}", text, "1"] for cid, (text, _) in spellings.items()]
    write(tmp_path / "mixed.csv", csv_text(rows))
    ledger, _ = ingest_ok(run_cli, "mixed.csv")
    assert_ledger(ledger, read=len(rows), used=len(rows))
    parsed = table(tmp_path, "orders").set_index("customer_id")["ordered_at"]
    assert {cid: parsed[cid].to_pydatetime() for cid in spellings} == {c: ts for c, (_, ts) in spellings.items()}


def test_date_order_dmy(run_cli, tmp_path):
    rows = [["1", "A1", "01/02/2021 10:30", "1"], ["2", "A2", "13/01/2021", "1"], ["3", "A3", "02/13/2021", "1"]]
    write(tmp_path / "slash.csv", csv_text(rows))
    ledger, _ = ingest_ok(run_cli, "slash.csv", "--date-order", "dmy")
    assert_ledger(ledger, read=3, used=2, set_aside={"unparseable_ordered_at": 1})  # month 13
    parsed = table(tmp_path, "orders").set_index("customer_id")["ordered_at"]
    assert parsed["1"] == pd.Timestamp("2021-02-01 10:30") and parsed["2"] == pd.Timestamp("2021-01-13")
    # The same file read month-first: the other two are the valid ones.
    ledger, _ = ingest_ok(run_cli, "slash.csv", "--name", "slash_mdy")
    assert_ledger(ledger, read=3, used=2, set_aside={"unparseable_ordered_at": 1})
    mdy = table(tmp_path, "orders").query("_source == 'slash_mdy'").set_index("customer_id")["ordered_at"]
    assert mdy["1"] == pd.Timestamp("2021-01-02 10:30") and mdy["3"] == pd.Timestamp("2021-02-13")


def test_non_numeric_nan_and_inf_amounts_as_text(run_cli, tmp_path):
    invalid = ["abc", "12x", "NaN", "nan", "inf", "-Infinity", "1.2.3", "(5.00)"]
    accepted = {"1,234.50": 1234.5, "£12": 12.0, " 7 ": 7.0, "-3": -3.0}
    rows = [[100 + i, f"N{i}", "2021-01-01", f'"{v}"'] for i, v in enumerate(invalid)]
    rows += [[200 + i, f"V{i}", "2021-01-01", f'"{v}"'] for i, v in enumerate(accepted)]
    write(tmp_path / "amounts.csv", csv_text(rows))
    ledger, _ = ingest_ok(run_cli, "amounts.csv")
    assert_ledger(ledger, read=len(rows), used=len(accepted), set_aside={"non_numeric_amount": len(invalid)})
    assert sorted(table(tmp_path, "orders")["amount"]) == sorted(accepted.values())
    kept = table(tmp_path, "orders_set_aside")
    assert sorted(kept["amount"]) == sorted(invalid)  # raw text kept verbatim


def test_nan_and_inf_in_a_parquet_float_column(run_cli, tmp_path):
    amounts = [1.5, float("nan"), float("inf"), float("-inf"), None, 2.5]
    expected = Counter({"non_numeric_amount": 3, "missing_amount": 1})  # NaN, inf, -inf | null
    pq.write_table(
        pa.table(
            {
                "customer_id": pa.array([f"C{i}" for i in range(len(amounts))]),
                "order_id": pa.array([f"O{i}" for i in range(len(amounts))]),
                "ordered_at": pa.array([datetime(2021, 1, 1)] * len(amounts)),
                "amount": pa.array(amounts, pa.float64()),  # pa.array keeps NaN as NaN, not null
            }
        ),
        tmp_path / "floats.parquet",
    )
    ledger, _ = ingest_ok(run_cli, "floats.parquet")
    assert_ledger(ledger, read=6, used=2, set_aside=dict(expected))
    assert sorted(table(tmp_path, "orders")["amount"]) == [1.5, 2.5]


def test_negative_and_zero_quantity_and_negative_price(run_cli, tmp_path):
    header = ["customer_id", "order_id", "ordered_at", "quantity", "unit_price"]
    rows = [
        [1, "A1", "2021-01-01", 2, "3.5"],
        [2, "A2", "2021-01-01", 1, "10"],
        [3, "A3", "2021-01-01", -1, "3.5"],  # returned
        [4, "A4", "2021-01-01", 0, "3.5"],
        [5, "A5", "2021-01-01", 2, "-2"],  # negative price (an adjustment line)
        [6, "A6", "2021-01-01", 1, "-0.01"],
        [7, "A7", "2021-01-01", -1, "-1"],  # both: quantity is checked first
    ]
    write(tmp_path / "lines.csv", csv_text(rows, header=header))
    ledger, _ = ingest_ok(run_cli, "lines.csv")
    assert_ledger(ledger, read=7, used=2, set_aside={"non_positive_quantity": 3, "non_positive_price": 2})
    orders = table(tmp_path, "orders").set_index("customer_id")
    assert orders.loc["1", "amount"] == 7.0 and orders.loc["2", "amount"] == 10.0  # quantity x unit_price


def test_all_rows_cancelled(run_cli, tmp_path):
    rows = [[10 + i, f"C{500 + i}", "2021-01-01", "-2"] for i in range(4)]
    write(tmp_path / "returns.csv", csv_text(rows))
    ledger, result = ingest_ok(run_cli, "returns.csv", "--cancellation-prefix", "C")
    assert_ledger(ledger, read=4, used=0, set_aside={"cancellation": 4})
    assert "warning:" in result.stderr and "returns.csv" in result.stderr
    tables = info_tables(run_cli)
    assert tables["orders"] == 0 and tables["cancellations"] == 4
    assert sorted(table(tmp_path, "cancellations")["order_id"]) == [f"C{500 + i}" for i in range(4)]


def test_header_repeated_inside_the_data(run_cli, tmp_path):
    # Concatenated exports repeat the header; a padded copy is a repeated header too.
    rows = good_rows(3) + [HEADER] + good_rows(2, start=10) + [[f" {c} " for c in HEADER]] + good_rows(1, start=20)
    write(tmp_path / "concat.csv", csv_text(rows))
    ledger, _ = ingest_ok(run_cli, "concat.csv")
    assert_ledger(ledger, read=len(rows), used=6, set_aside={"repeated_header": 2})


def test_lines_with_too_many_or_too_few_fields(run_cli, tmp_path):
    too_many, too_few = "9001,X1,2021-01-01,5,surplus", "9002,X2,2021-01-01"
    lines = [",".join(HEADER), *(",".join(map(str, r)) for r in good_rows(3))]
    lines += [too_many, too_few, "9003,X3,2021-01-01,5"]  # file lines 5, 6 and 7
    write(tmp_path / "ragged.csv", "\n".join(lines) + "\n")
    ledger, result = ingest_ok(run_cli, "ragged.csv")
    assert_ledger(ledger, read=6, used=4, set_aside={"malformed_line": 2})
    assert "2 malformed line(s)" in result.stderr
    kept = table(tmp_path, "orders_set_aside")
    malformed = kept[kept["_reason"] == "malformed_line"]
    assert sorted(malformed["_line_text"]) == sorted([too_many, too_few])
    assert sorted(malformed["_line"]) == [5, 6]  # the file's line numbers, header = line 1


def test_semicolon_delimiter_detected(run_cli, tmp_path):
    # decimal commas (as semicolon files from European spreadsheets write them): read as numbers
    rows = [[r[0], r[1], r[2], r[3].replace(".", ",")] for r in good_rows(4)] + [[77, "Q1", "2021-01-01", '"1,5"']]
    write(tmp_path / "semi.csv", csv_text(rows, sep=";"))
    ledger, _ = ingest_ok(run_cli, "semi.csv")
    assert ledger["delimiter"] == ";"
    assert_ledger(ledger, read=5, used=5)
    # a point among them is refused, not set aside in silence (it once was)
    write(tmp_path / "mixed.csv", csv_text(good_rows(4) + [[77, "Q1", "2021-01-01", '"1,5"']], sep=";"))
    refused = run_cli("ingest", "mixed.csv")
    assert refused.exit_code == 2 and "mixes decimal points and decimal commas" in refused.stderr


@pytest.mark.parametrize("spelling", ["\\t", "tab"])
def test_tab_delimiter_as_typed_on_a_shell(run_cli, tmp_path, spelling):
    write(tmp_path / "orders.tsv", csv_text(good_rows(3), sep="\t"))
    ledger, _ = ingest_ok(run_cli, "orders.tsv", "--delimiter", spelling)
    assert ledger["delimiter"] == "\t"
    assert_ledger(ledger, read=3, used=3)


def test_crlf_and_trailing_blank_lines(run_cli, tmp_path):
    write(tmp_path / "windows.csv", csv_text(good_rows(3)).replace("\n", "\r\n") + "\r\n\r\n")
    ledger, _ = ingest_ok(run_cli, "windows.csv")
    assert_ledger(ledger, read=3, used=3)
    assert sorted(table(tmp_path, "orders")["amount"]) == [1.5, 2.5, 3.5]


def test_unreadable_file(run_cli, tmp_path):
    path = write(tmp_path / "locked.csv", csv_text(good_rows(2)))
    path.chmod(0)
    try:
        if os.geteuid() == 0 or os.access(path, os.R_OK):
            # Running as root (as in many containers): permissions do not block reading, so the
            # honest outcome is a normal ingest. No skip, so CI runs this either way.
            ledger, _ = ingest_ok(run_cli, "locked.csv")
            assert_ledger(ledger, read=2, used=2)
        else:
            expect_error(run_cli, "ingest", "locked.csv", names=("locked.csv", "permission denied"), hint="chmod")
    finally:
        path.chmod(0o644)


def test_very_long_field(run_cli, tmp_path):
    name = "long " * 1_000_000  # 5 MB in one field
    rows = [[*r, "short"] for r in good_rows(2)] + [[42, "L1", "2021-01-01", "9", f'"{name}"']]
    write(tmp_path / "long.csv", csv_text(rows, header=[*HEADER, "product_name"]))
    ledger, _ = ingest_ok(run_cli, "long.csv")
    assert_ledger(ledger, read=3, used=3)
    stored = table(tmp_path, "orders").set_index("customer_id").loc["42", "product_name"]
    assert len(stored) == len(name.strip()) and stored == name.strip()  # text is trimmed, not cut


def test_markup_and_html_stored_verbatim(run_cli, tmp_path):
    names = ["<script>alert(1)</script>", 'say "hi" </div>', "[bold]loud[/bold]", "[/]", "{{ 7*7 }}", "a\\nb"]
    rows = [[i, f"H{i}", "2021-01-01", "1", '"' + n.replace('"', '""') + '"'] for i, n in enumerate(names)]
    write(tmp_path / "html.csv", csv_text(rows, header=[*HEADER, "product_name"]))
    ledger, result = ingest_ok(run_cli, "html.csv", "--name", "[bold]shop[/]")
    assert_ledger(ledger, read=len(names), used=len(names))
    assert "[bold]shop[/]" in result.stdout  # the ledger table prints the name as text, not markup
    stored = table(tmp_path, "orders").sort_values("_row")["product_name"].tolist()
    assert stored == names
    for fmt in ("table", "csv"):
        shown = run_cli("info", "--format", fmt)
        no_traceback(shown)
        assert shown.exit_code == 0 and "[bold]shop[/]" in shown.stdout


def test_markup_in_column_names_of_an_error(run_cli, tmp_path):
    write(tmp_path / "odd.csv", csv_text(good_rows(1), header=["[/bold]id", "order_id", "ordered_at", "amount"]))
    error, _ = expect_error(run_cli, "ingest", "odd.csv", names=("odd.csv", "'[/bold]id'"))


def test_markup_in_the_path(run_cli, tmp_path):
    (tmp_path / "q[").mkdir()
    write(tmp_path / "q[" / "]orders.csv", csv_text(good_rows(2)))
    ledger, _ = ingest_ok(run_cli, "q[/]orders.csv", "--name", "q")
    assert_ledger(ledger, read=2, used=2)


# -- encodings and formats that must be read -----------------------------------------------------
def test_gbk_file_with_chinese_headers(run_cli, tmp_path):
    header = ["会员ID", "订单号", "下单时间", "订单金额", "商品名称"]
    rows = [["1001", "D1", "2021-03-01 10:00:00", "99.5", "绿茶"]]
    rows += [["1002", "D2", "2021年3月2日", "12", "乌龙茶"]]
    rows += [["1003", "D3", "2021/03/02", "无", "红茶"]]  # "none": not a number
    write(tmp_path / "会员订单.csv", csv_text(rows, header=header), encoding="gbk")
    ledger, _ = ingest_ok(run_cli, "会员订单.csv", "--name", "gbk")
    assert ledger["encoding"] == "gb18030"
    assert ledger["mapping"]["columns"] == {
        "customer_id": "会员ID",
        "order_id": "订单号",
        "ordered_at": "下单时间",
        "amount": "订单金额",
        "product_name": "商品名称",
    }
    assert_ledger(ledger, read=3, used=2, set_aside={"non_numeric_amount": 1})
    orders = table(tmp_path, "orders").set_index("customer_id")
    assert orders.loc["1002", "product_name"] == "乌龙茶"
    assert orders.loc["1002", "ordered_at"] == pd.Timestamp("2021-03-02")
    assert table(tmp_path, "orders_set_aside")["商品名称"].tolist() == ["红茶"]


def test_utf8_with_bom(run_cli, tmp_path):
    write(tmp_path / "bom.csv", "\ufeff" + csv_text(good_rows(3)))
    ledger, _ = ingest_ok(run_cli, "bom.csv")
    assert ledger["encoding"] == "utf-8-sig"
    assert ledger["mapping"]["columns"]["customer_id"] == "customer_id"  # the BOM is not part of the name
    assert_ledger(ledger, read=3, used=3)


def test_utf16_tab_separated(run_cli, tmp_path):
    # Excel's "Unicode text" export.
    write(tmp_path / "unicode.txt", csv_text(good_rows(2) + [[9, "Z", "2021-01-01", "1"]], sep="\t"), encoding="utf-16")
    ledger, _ = ingest_ok(run_cli, "unicode.txt")
    assert (ledger["encoding"], ledger["delimiter"]) == ("utf-16", "\t")
    assert_ledger(ledger, read=3, used=3)


@pytest.mark.parametrize("ascii_lines", [0, 40_000], ids=["short", "pound_after_1MB"])
def test_iso_8859_1_with_pound_sign(run_cli, tmp_path, ascii_lines):
    header = [*HEADER, "product_name"]
    rows = [[5000 + i, f"P{i}", "2021-01-01", "1", "plain tea"] for i in range(ascii_lines)]
    rows += [[1, "L1", "2021-01-01", "2", "Tea £2 café"]]
    write(tmp_path / "latin.csv", csv_text(rows, header=header), encoding="latin-1")
    assert (tmp_path / "latin.csv").stat().st_size > (1 << 20) or not ascii_lines
    ledger, _ = ingest_ok(run_cli, "latin.csv")
    assert ledger["encoding"] in ("latin-1", "cp1252")
    assert_ledger(ledger, read=len(rows), used=len(rows))
    orders = table(tmp_path, "orders").set_index("customer_id")
    assert orders.loc["1", "product_name"] == "Tea £2 café"


def test_gzipped_csv(run_cli, tmp_path):
    rows = good_rows(5) + [good_rows(1)[0]]  # an exact duplicate line
    write(tmp_path / "orders.csv.gz", gzip.compress(csv_text(rows).encode()))
    ledger, _ = ingest_ok(run_cli, "orders.csv.gz")
    assert ledger["gzip"] is True
    assert_ledger(ledger, read=6, used=5, set_aside={"duplicate_line": 1})


def _orders_arrow(n: int, start: int = 0) -> pa.Table:
    return pa.table(
        {
            "customer_id": pa.array([float(17850 + i) for i in range(start, start + n)]),  # ids exported as floats
            "order_id": pa.array([f"O{i}" for i in range(start, start + n)]),
            "ordered_at": pa.array([datetime(2021, 1, 1 + i % 28) for i in range(start, start + n)]),
            "amount": pa.array([1.0 + i for i in range(start, start + n)]),
        }
    )


def test_parquet_file(run_cli, tmp_path):
    pq.write_table(_orders_arrow(4), tmp_path / "orders.parquet")
    ledger, _ = ingest_ok(run_cli, "orders.parquet")
    assert ledger["kind"] == "parquet"
    assert_ledger(ledger, read=4, used=4)
    assert sorted(table(tmp_path, "orders")["customer_id"]) == ["17850", "17851", "17852", "17853"]


def test_parquet_folder(run_cli, tmp_path):
    folder = tmp_path / "lake" / "orders"
    (folder / "year=2021").mkdir(parents=True)
    pq.write_table(_orders_arrow(3), folder / "part-0.parquet")
    pq.write_table(_orders_arrow(2, start=3), folder / "year=2021" / "part-1.parquet")
    write(folder / "_SUCCESS", b"")
    ledger, _ = ingest_ok(run_cli, "lake/orders")
    assert_ledger(ledger, read=5, used=5)
    assert sorted(table(tmp_path, "orders")["order_id"]) == [f"O{i}" for i in range(5)]


def test_float_customer_ids_normalised(run_cli, tmp_path):
    rows = [["17850.0", "A1", "2021-01-01", "1"], ["17850", "A2", "2021-01-02", "2"]]
    rows += [["13047.00", "A3", "2021-01-03", "3"], ["12.5", "A4", "2021-01-04", "4"]]
    rows += [["017850", "A5", "2021-01-05", "5"]]
    write(tmp_path / "ids.csv", csv_text(rows))
    ledger, _ = ingest_ok(run_cli, "ids.csv")
    assert_ledger(ledger, read=5, used=5)
    ids = table(tmp_path, "orders").sort_values("_row")["customer_id"].tolist()
    assert ids == ["17850", "17850", "13047", "12.5", "017850"]  # leading zeros are part of an id


def test_float_ids_and_number_dates_in_parquet(run_cli, tmp_path):
    # NaN id = no id; an id too big for int64 and a date column of numbers must not crash.
    ids = [17850.0, float("nan"), 1e20, 12.5, 13047.0, 13048.0, 13049.0]
    dates = [20210315.0, 20210316.0, 20210317.0, 44197.0, 1e20, float("nan"), 20211399.0]
    pq.write_table(
        pa.table(
            {
                "customer_id": pa.array(ids),
                "order_id": [f"O{i}" for i in range(len(ids))],
                "ordered_at": pa.array(dates),  # YYYYMMDD numbers and an Excel serial
                "amount": [1.0] * len(ids),
            }
        ),
        tmp_path / "numbers.parquet",
    )
    ledger, _ = ingest_ok(run_cli, "numbers.parquet")
    # NaN id | dates 1e20 and 20211399 (month 13) | NaN date
    expected = {"missing_customer_id": 1, "unparseable_ordered_at": 2, "missing_ordered_at": 1}
    assert_ledger(ledger, read=7, used=3, set_aside=expected)
    orders = table(tmp_path, "orders").set_index("customer_id")["ordered_at"]
    assert orders.to_dict() == {
        "17850": pd.Timestamp("2021-03-15"),
        "1e+20": pd.Timestamp("2021-03-17"),
        "12.5": pd.Timestamp("2021-01-01"),
    }


def test_huge_number_in_an_extra_members_column(run_cli, tmp_path):
    write(tmp_path / "members.csv", "customer_id,score\n1,100000000000000000000\n2,5\n")
    ledger, _ = ingest_ok(run_cli, "members.csv", "--table", "members")
    assert_ledger(ledger, read=2, used=2)


# -- the workspace and the input files ------------------------------------------------------------
def test_reingesting_replaces_the_source(run_cli, tmp_path):
    rows = good_rows(5) + [[None, "X", "2021-01-01", "1"]]
    write(tmp_path / "orders.csv", csv_text(rows).replace("None", ""))
    first, _ = ingest_ok(run_cli, "orders.csv")
    before = info_tables(run_cli)
    second, _ = ingest_ok(run_cli, "orders.csv")
    assert info_tables(run_cli) == before
    assert before["orders"] == 5 and before["orders_set_aside"] == 1
    for ledger in (first, second):
        assert_ledger(ledger, read=6, used=5, set_aside={"missing_customer_id": 1})
    sources = json.loads(run_cli("info", "--format", "json").stdout)["sources"]
    assert [s["source"] for s in sources] == [str((tmp_path / "orders.csv").resolve())]


@pytest.mark.parametrize("kind", ["csv", "gbk", "gz", "xlsx", "parquet"])
def test_input_file_is_never_modified(run_cli, tmp_path, kind):
    text = csv_text(good_rows(3) + [["", "X", "bad date", "1"]])
    if kind == "csv":
        path = write(tmp_path / "in.csv", text)
    elif kind == "gbk":
        path = write(tmp_path / "in.csv", text.replace("customer_id", "会员ID"), encoding="gbk")
    elif kind == "gz":
        path = write(tmp_path / "in.csv.gz", gzip.compress(text.encode()))
    elif kind == "xlsx":
        path = xlsx(tmp_path / "in.xlsx", {"Orders": [HEADER, *good_rows(3)]})
    else:
        path = tmp_path / "in.parquet"
        pq.write_table(_orders_arrow(3), path)
    old = os.stat(path).st_mtime_ns - 10**9
    os.utime(path, ns=(old, old))  # a distinct, known mtime
    before = snapshot(path)
    ingest_ok(run_cli, path.name)
    assert snapshot(path) == before
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted([path.name, DB])  # no scratch copies left


# -- --debug, and the real entry point ------------------------------------------------------------
def test_debug_shows_the_traceback_normal_run_does_not(run_cli, tmp_path):
    write(tmp_path / "empty.csv", b"")
    normal = run_cli("ingest", "empty.csv")
    assert normal.exit_code == 2 and "Traceback" not in normal.stdout + normal.stderr
    debug = run_cli("--debug", "ingest", "empty.csv")
    assert debug.exit_code == 2
    assert "Traceback (most recent call last)" in debug.stderr and "InputError" in debug.stderr
    assert debug.stderr.strip().splitlines()[-2].startswith("error: ")  # the error line still follows


@pytest.mark.slow  # the installed command in a subprocess
@pytest.mark.parametrize(
    ("content", "names"),
    [(b"", ("input.csv", "empty")), (b"\xd0\xcf\x11\xe0" + bytes(600), ("input.csv", ".xls"))],
    ids=["empty", "old_xls"],
)
def test_installed_entry_point_exits_2_without_traceback(tmp_path, content, names):
    exe = memberlens_executable()
    require(exe is not None, f"needs the memberlens console script beside {sys.executable} (pip install -e .)")
    write(tmp_path / "input.csv", content)
    env = {k: v for k, v in os.environ.items() if k not in ("MEMBERLENS_DEBUG", "MEMBERLENS_DB")}
    done = subprocess.run(
        [exe, "ingest", "input.csv"], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 2, (done.stdout, done.stderr)
    assert "Traceback" not in done.stdout + done.stderr
    lines = done.stderr.strip().splitlines()
    assert lines[0].startswith("error: ") and all(n in lines[0] for n in names), done.stderr
    assert len(lines) <= 2 and (len(lines) == 1 or lines[1].startswith("hint: "))
    assert done.stdout == ""


def test_duckdb_out_of_memory_is_one_line_naming_the_limit(run_cli, demo_workspace, monkeypatch):
    monkeypatch.setenv("MEMBERLENS_DUCKDB_MEMORY_LIMIT", "1MB")
    out = run_cli("analyze", "rfm", "--db", demo_workspace[0], "--format", "csv")
    assert out.exit_code == 2, (out.exit_code, out.stderr)
    lines = out.stderr.strip().splitlines()
    assert lines[0].startswith("error: DuckDB ran out of memory within its limit of 1MB")
    assert lines[1].startswith("hint: raise MEMBERLENS_DUCKDB_MEMORY_LIMIT") and len(lines) == 2
    assert "Traceback" not in out.stderr and out.exception is None
