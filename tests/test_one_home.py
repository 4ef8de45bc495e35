"""Each idea has one home: a table made plain and JSON written (:mod:`memberlens.io.jsonable`),
numbers written for people (:mod:`memberlens.format`, 12 significant digits first), and the
copies that once stood beside them do not come back under their old names."""

from __future__ import annotations

import ast
import re
from datetime import date, datetime
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from memberlens import format as f
from memberlens.i18n import Messages
from memberlens.io.jsonable import json_text, plain_frame, plain_records

PACKAGE = Path(__file__).resolve().parents[1] / "src" / "memberlens"

# (module, function) pairs that were copies of an idea with a home now; None: in no module
GONE = {
    (None, "_plain"): "memberlens.io.jsonable.plain_frame",
    (None, "_plain_record"): "memberlens.io.jsonable.plain_records",
    (None, "_plain_dates"): "memberlens.io.files.write_table_atomic",
    (None, "write_member_list"): "memberlens.io.files.write_table_atomic",
    (None, "_stable_numbers"): "memberlens.io.jsonable.json_text(..., floats=memberlens.format.stable)",
    ("segments/observations.py", "_format"): "str() of Num, Count and Pct, written by memberlens.format",
    ("cli/_common.py", "_cell"): "memberlens.format.terminal_cell",
    ("referrals/key_referrers.py", "_money"): "memberlens.format.num(value, 2)",
    ("cli/analyze.py", "_records"): "memberlens.io.jsonable.plain_records",
    ("segments/profile.py", "_records"): "memberlens.io.jsonable.plain_records",
}


def defined_functions() -> list[tuple[str, str]]:
    """``(module path under memberlens/, name)`` of every function the package defines."""
    return [
        (str(path.relative_to(PACKAGE)), node.name)
        for path in sorted(PACKAGE.rglob("*.py"))
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8")))
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef))
    ]


def test_the_old_copies_are_gone():
    back = [
        f"{module}: {name} (use {GONE.get((module, name)) or GONE[(None, name)]})"
        for module, name in defined_functions()
        if (module, name) in GONE or (None, name) in GONE
    ]
    assert not back, "a copy came back:\n" + "\n".join(back)


# the modules that write dates as text and test for missing values, and why
DATES_AND_MISSING = {
    Path("io/jsonable.py"): "the home: values and tables made plain for JSON and CSV",
    Path("format.py"): "text for people (a report's day, period and table cell), not data",
}


def dates_as_text_beside_missing(source: str) -> list[str]:
    """The functions in ``source`` that both write a date as text and test for a missing value:
    the shape every copy of "make it plain" had."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            body = ast.get_source_segment(source, node) or ""
            dates = any(word in body for word in ("isoformat", "strftime"))
            missing = any(word in body for word in ("NaT", "isna(", "notna(", "isfinite(", "isnan(", "missing("))
            if dates and missing:
                found.append(node.name)
    return found


def test_only_the_home_makes_values_plain():
    found = [
        f"{path.relative_to(PACKAGE)}: {name}"
        for path in sorted(PACKAGE.rglob("*.py"))
        if path.relative_to(PACKAGE) not in DATES_AND_MISSING
        for name in dates_as_text_beside_missing(path.read_text(encoding="utf-8"))
    ]
    assert not found, "make values plain with memberlens.io.jsonable (plain_frame, json_ready):\n" + "\n".join(found)


def test_the_check_sees_a_copy():
    copy = """
def _plain(frame):
    for column in frame.columns:
        frame[column] = frame[column].map(lambda v: None if pd.isna(v) else v.isoformat())
    return frame
"""
    assert dates_as_text_beside_missing(copy) == ["_plain"]
    assert dates_as_text_beside_missing("def day(v):\n    return v.isoformat()\n") == []


# the modules that call json.dumps themselves, and why they do not write JSON with json_text
JSON_DUMPS = {
    Path("io/jsonable.py"): "the home: json_text",
    Path("segments/saved.py"): "TOML text: a JSON string is a TOML basic string",
    Path("reports/segment_explorer.py"): "a cache key (sort_keys), not a document",
    Path(
        "predict/_churn_persistence.py"
    ): "the churn model's metadata inside a skops file (reworked on another branch)",
}


def test_json_is_written_by_json_text():
    found = [
        f"{path.relative_to(PACKAGE)}:{number}"
        for path in sorted(PACKAGE.rglob("*.py"))
        if path.relative_to(PACKAGE) not in JSON_DUMPS
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1)
        if "json.dumps(" in line or "json.dump(" in line
    ]
    assert not found, "write JSON with memberlens.io.jsonable.json_text:\n" + "\n".join(found)


# modules that write numbers with a precision of their own (f"{x:.2f}", f"{x:.1%}"), and why
NUMBER_FORMATS = {
    Path("format.py"): "the home",
    Path("models"): "the fits' diagnostics in errors and warnings (parameters to 3-4 digits): the models' own",
}


def number_formats(source: str) -> list[tuple[int, str]]:
    """``(line, spec)`` of every f-string field in ``source`` that writes a number to a precision
    or as a percentage; ``{n:,}`` (a count) and ``{x:g}`` (a value echoed as given) are not."""
    return [
        (node.lineno, spec)
        for node in ast.walk(ast.parse(source))
        if isinstance(node, ast.FormattedValue) and node.format_spec is not None
        for spec in ["".join(str(v.value) for v in node.format_spec.values if isinstance(v, ast.Constant))]
        if re.search(r"\.\d|[f%e]$", spec)
    ]


def test_numbers_are_written_by_format():
    found = [
        f"{path.relative_to(PACKAGE)}:{line}: {spec!r}"
        for path in sorted(PACKAGE.rglob("*.py"))
        if not any(path.relative_to(PACKAGE).is_relative_to(home) for home in NUMBER_FORMATS)
        for line, spec in number_formats(path.read_text(encoding="utf-8"))
    ]
    assert not found, "write numbers with memberlens.format (num, pct, times, number):\n" + "\n".join(found)


def test_the_number_check_sees_a_precision():
    source = 'a = f"{x:,.2f} {y:.1%} {z:.1f}× {n:,} {v:g} {w:.{d}f}"\n'
    assert [spec for _, spec in number_formats(source)] == [",.2f", ".1%", ".1f", ".f"]


def test_messages_and_the_command_line_write_numbers_by_the_stable_rule():
    """Engines add floats in different orders: 905.7499999999999 on one, 905.7500000000001 on
    another; every number people read is rounded from 12 significant digits (README)."""
    t = Messages("en")
    low, high = 1.0049999999999999, 1.0050000000000001  # f"{x:.2f}": "1.00" and "1.01"
    assert t.number(low) == t.number(high) == f.number(high) == "1.00"
    assert f.terminal_cell(low) == f.terminal_cell(high) == "1.00"
    low, high = 0.12349999999999999, 0.12350000000000001  # f"{x:.1%}": "12.3%" and "12.4%"
    assert t.percent(low) == t.percent(high) == "12.3%"
    assert t.number(2.9999999999999996) == "3" and t.number(1234.5) == "1,234.50"
    assert t.percent(0.1234) == "12.3%" and t.number(float("nan")) == f.DASH
    assert [f.terminal_cell(v) for v in (None, 12345, 1234.5, 12.345, 0.0123456, True, "x")] == [
        "",
        "12,345",
        "1,234",
        "12.35",
        "0.01235",
        "True",
        "x",
    ]
    assert f.num(12345678901234567) == "12,345,678,901,234,567"  # an integer is written exactly
    assert f.pct(0.1234, signed=True) == "+12.3%" and f.pct(-0.1, signed=True) == "-10.0%"


def hand_built() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "day": pd.to_datetime(["2024-01-31", None, "2024-02-29"]),
            "at": pd.to_datetime(["2024-01-31 10:05:00", "2024-02-01 00:00:00", None]),
            "zoned": pd.to_datetime(["2024-01-31 10:05:00", None, "2024-02-01 00:00:00"]).tz_localize("UTC"),
            "count": np.array([1, 2, 3], dtype=np.int64),
            "small": np.array([1, 2, 3], dtype=np.int32),
            "share": [0.5, np.nan, np.inf],
            "nullable": pd.array([7, None, 9], dtype="Int64"),
            "flag": [True, False, True],
            "maybe": pd.array([True, None, False], dtype="boolean"),
            "text": ["a", None, "=1"],
            "dates": [date(2024, 3, 1), None, pd.NaT],
            "mixed": [np.int64(4), np.float64(2.5), pd.NA],
            "stamp": [pd.Timestamp("2024-03-01 12:00"), datetime(2024, 3, 2), None],
            "items": [["tea", "cup"], np.array(["pot"]), ()],
        }
    )


def test_plain_frame_of_a_hand_built_frame():
    records = plain_records(hand_built())
    assert records == [
        {
            "day": "2024-01-31",
            "at": "2024-01-31T10:05:00",
            "zoned": "2024-01-31T10:05:00+00:00",
            "count": 1,
            "small": 1,
            "share": 0.5,
            "nullable": 7,
            "flag": True,
            "maybe": True,
            "text": "a",
            "dates": "2024-03-01",
            "mixed": 4,
            "stamp": "2024-03-01T12:00:00",
            "items": ["tea", "cup"],
        },
        {
            "day": None,
            "at": "2024-02-01T00:00:00",  # a column with times keeps them at midnight too
            "zoned": None,
            "count": 2,
            "small": 2,
            "share": None,
            "nullable": None,
            "flag": False,
            "maybe": None,
            "text": None,
            "dates": None,
            "mixed": 2.5,
            "stamp": "2024-03-02T00:00:00",
            "items": ["pot"],
        },
        {
            "day": "2024-02-29",
            "at": None,
            "zoned": "2024-02-01T00:00:00+00:00",
            "count": 3,
            "small": 3,
            "share": None,  # JSON holds no infinity
            "nullable": 9,
            "flag": True,
            "maybe": False,
            "text": "=1",
            "dates": None,
            "mixed": None,
            "stamp": None,
            "items": [],
        },
    ]
    # plain Python values, not numpy's: what JSON and CSV writers take as they are
    for record in records:
        for name, value in record.items():
            assert value is None or type(value) in (str, int, float, bool, list), (name, type(value))
    assert json_text(records)  # strict JSON: no NaN slipped through


def test_plain_frame_keeps_the_frame_shape_and_leaves_the_frame_alone():
    frame = hand_built()
    before = frame.copy()
    plain = plain_frame(frame)
    assert plain.shape == frame.shape and list(plain.columns) == list(frame.columns)
    assert list(plain.index) == list(frame.index)
    assert all(dtype == np.dtype(object) for dtype in plain.dtypes)
    pd.testing.assert_frame_equal(frame, before)


@pytest.mark.parametrize("rows", [0, 1])
def test_plain_frame_of_an_empty_or_one_row_frame(rows):
    frame = hand_built().head(rows)
    assert len(plain_records(frame)) == rows
    assert plain_records(pd.DataFrame()) == []


MODEL_NAME = re.compile(r"""["'](bg-nbd|mbg-nbd|pareto-nbd|bg-bb|BG/NBD|MBG/NBD|Pareto/NBD|BG/BB)["']""")


def test_the_clv_models_are_listed_only_by_their_registry():
    """The CLI's --model choices, the comparison and the report's model titles come from
    models/_registry.py and each model's class; no list of the models is written elsewhere."""
    found = [
        f"{path.relative_to(PACKAGE)}:{number}"
        for path in sorted(PACKAGE.rglob("*.py"))
        if path.relative_to(PACKAGE).parts[0] != "models"
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1)
        if MODEL_NAME.search(line)
    ]
    assert not found, "a CLV model named outside models/ (read it from PURCHASE_MODELS):\n" + "\n".join(found)
    assert MODEL_NAME.search('for n in ("bg-nbd", "mbg-nbd", "pareto-nbd")')


def test_the_clv_command_offers_every_purchase_model():
    from memberlens.cli.clv import ModelName
    from memberlens.models import PURCHASE_MODELS

    assert [m.value for m in ModelName] == list(PURCHASE_MODELS) == ["bg-nbd", "mbg-nbd", "pareto-nbd", "bg-bb"]
    assert {cls.title for cls in PURCHASE_MODELS.values()} == {"BG/NBD", "MBG/NBD", "Pareto/NBD", "BG/BB"}
