"""The whole report on Spark equals the DuckDB run: same tables in (the demo workspace written as
Parquet), every analysis the report runs gives the same frame, and the report says the same
words. Also: a folder of Parquet tables read in place by DuckDB, and the engine errors."""

from __future__ import annotations

import re

import numpy as np
import pandas as pd
import pytest
from conftest import build_demo_workspace
from test_jsonable import strict_loads

from memberlens.analyses import AnalysisOptions
from memberlens.errors import ConfigError, InputError
from memberlens.io.catalog import open_tables
from memberlens.io.workspace import Workspace
from memberlens.reports.render import render_report
from memberlens.results import Results


@pytest.fixture(scope="module")
def demo_parquet(tmp_path_factory):
    """A small demo workspace and the same tables as a Parquet folder."""
    root = tmp_path_factory.mktemp("engines")
    path, _ = build_demo_workspace(root, customers=400, years=1, seed=5)
    with Workspace(path, read_only=True) as ws:
        ws.export_parquet(root / "demo-parquet")
    return path, root / "demo-parquet"


def _visible_text(html: str) -> str:
    html = re.sub(r"<script.*?</script>", " ", html, flags=re.S)
    html = re.sub(r"<style.*?</style>", " ", html, flags=re.S)
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html))


def _report(tables, lang: str = "en") -> tuple[str, Results]:
    cache = Results(tables, options=AnalysisOptions())
    return render_report(tables, lang=lang, results=cache), cache


def _same_frames(left: dict, right: dict) -> None:
    assert left.keys() == right.keys()
    for key in left:
        a, b = left[key], right[key]
        assert list(a.columns) == list(b.columns), key
        assert len(a) == len(b), key
        for column in a.columns:
            x, y = a[column], b[column]
            if (
                pd.api.types.is_numeric_dtype(x)
                and pd.api.types.is_numeric_dtype(y)
                and not pd.api.types.is_bool_dtype(x)
            ):
                assert np.allclose(x.astype(float), y.astype(float), rtol=1e-9, atol=1e-9, equal_nan=True), (
                    key,
                    column,
                )
            else:
                assert x.map(_text).tolist() == y.map(_text).tolist(), (key, column)


def _text(value) -> str | None:
    """A cell as comparable text: missing as None, dates and timestamps as their day."""
    if value is None or (isinstance(value, float) and np.isnan(value)):
        return None
    return str(pd.Timestamp(value).date()) if hasattr(value, "year") else str(value)


def test_the_report_on_spark_equals_the_duckdb_report(demo_parquet, spark_backend):
    path, folder = demo_parquet
    with Workspace(path, read_only=True) as ws:
        duck_html, duck = _report(ws)
    with open_tables("spark", folder) as tables:
        spark_html, spark = _report(tables)
    assert len(duck.computed_frames()) >= 15  # every registry analysis the report shows
    _same_frames(duck.computed_frames(), spark.computed_frames())
    duck_words, spark_words = _visible_text(duck_html), _visible_text(spark_html)
    # the only difference allowed: where the data came from
    duck_words = duck_words.replace(path.name, "LOCATION")
    spark_words = spark_words.replace(folder.name, "LOCATION")
    generated = re.compile(r"\d{4}-\d{2}-\d{2} \d{2}:\d{2}")  # when each was written
    duck_words, spark_words = generated.sub("WHEN", duck_words), generated.sub("WHEN", spark_words)
    _same_words(duck_words, spark_words)


NUMBER = re.compile(r"-?[\d,]*\.?\d+%?")


def _same_words(left: str, right: str) -> None:
    """Word for word equal; a number may differ by one unit of its last printed digit (a model
    fitted on sums that two engines add in different orders can land either side of a rounding
    boundary)."""
    a, b = left.split(" "), right.split(" ")
    assert len(a) == len(b)
    for x, y in zip(a, b):
        if x == y:
            continue
        assert NUMBER.fullmatch(x) and NUMBER.fullmatch(y), (x, y)
        decimals = len(x.rstrip("%").partition(".")[2])
        unit = 10.0**-decimals
        assert abs(float(x.rstrip("%").replace(",", "")) - float(y.rstrip("%").replace(",", ""))) <= unit * 1.01, (x, y)


@pytest.mark.slow
def test_duckdb_reads_a_parquet_folder_in_place(demo_parquet):
    path, folder = demo_parquet
    with Workspace(path, read_only=True) as ws, open_tables("duckdb", folder) as tables:
        assert set(tables.list_tables()) == set(ws.list_tables())
        assert tables.row_counts() == ws.row_counts()
        assert [x.to_dict() for x in tables.ledgers()] == [x.to_dict() for x in ws.ledgers()]
        _, from_folder = _report(tables)
        _, from_workspace = _report(ws)
    _same_frames(from_workspace.computed_frames(), from_folder.computed_frames())


def test_engine_errors_name_the_problem(tmp_path, demo_parquet):
    path, folder = demo_parquet
    with pytest.raises(ConfigError, match="export-tables"):
        with open_tables("spark", path):
            pass
    with pytest.raises(ConfigError, match="unknown engine 'oracle'"):
        with open_tables("oracle", folder):
            pass
    (tmp_path / "empty").mkdir()
    with pytest.raises(InputError, match="holds no Parquet tables"):
        with open_tables("duckdb", tmp_path / "empty"):
            pass
    with open_tables("duckdb", folder) as tables, pytest.raises(Exception, match="has no 'nothing' table"):
        tables.table("nothing")


def test_a_local_spark_session_removes_its_scratch_warehouse_at_exit(tmp_path, spark_backend):
    import os
    import subprocess
    import sys

    script = (
        "from memberlens.io.engines import spark_session\n"
        "s = spark_session()\n"
        "s.sql('CREATE TABLE t AS SELECT 1 AS x')\n"
        "print(s.conf.get('spark.sql.warehouse.dir'))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script],
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, "TMPDIR": str(tmp_path), "MEMBERLENS_SPARK_CONF": ""},
    )
    assert done.returncode == 0, done.stderr[-2000:]
    warehouse = done.stdout.strip().splitlines()[-1].removeprefix("file:")
    assert warehouse.startswith(str(tmp_path)) and "memberlens-spark-" in warehouse
    assert not any(tmp_path.glob("memberlens-spark-*"))


def _close(a, b, path: str = "") -> None:
    """Equal JSON values, floats to 1e-6 relative (engines add floats in different orders)."""
    if isinstance(a, dict) and isinstance(b, dict):
        assert set(a) == set(b), path
        for key in a:
            _close(a[key], b[key], f"{path}.{key}")
    elif isinstance(a, list) and isinstance(b, list):
        assert len(a) == len(b), path
        for i, (x, y) in enumerate(zip(a, b)):
            _close(x, y, f"{path}[{i}]")
    elif isinstance(a, float) or isinstance(b, float):
        assert a == pytest.approx(b, rel=1e-6, abs=1e-9), path
    else:
        assert a == b, path


SPARK_COMMANDS = [
    ["analyze", "rfm"],
    ["analyze", "cohorts", "--measure", "revenue"],
    ["clv", "fit"],
    [
        "segment",
        "--where",
        "marketing_to_sales_days between 10 and 20 or sales_to_support_days > 30",
        "--format",
        "json",
    ],
    ["predict", "next-product", "--min-support", "0.02"],
    ["predict", "anomalies"],
]


@pytest.mark.parametrize("command", SPARK_COMMANDS, ids=lambda c: " ".join(c[:2]))
def test_commands_on_spark_print_what_they_print_on_duckdb(demo_parquet, spark_backend, run_cli, command):
    fmt = [] if "--format" in command else ["--format", "json"]
    _, folder = demo_parquet
    duck = run_cli(*command, *fmt, "--engine", "duckdb", "--db", folder)
    spark = run_cli(*command, *fmt, "--engine", "spark", "--db", folder)
    assert duck.exit_code == 0, duck.stderr
    assert spark.exit_code == 0, spark.stderr
    _close(strict_loads(duck.stdout), strict_loads(spark.stdout))
