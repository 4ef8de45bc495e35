"""Odd files, implausible dates, a missing extra and hints: each gets a clear answer.

Through the CLI as a user would run it (the ``run_cli`` fixture): an input memberlens can read is
ingested and its ledger balances; one it cannot is refused with one ``error:`` line (and a
``hint:`` line), exit status 2, never an internal error or a hang. Every input is built here.
"""

from __future__ import annotations

import ast
import os
import re
import signal
import sys
import tomllib
from pathlib import Path

import click
import pytest
import typer
from test_bad_inputs import assert_ledger, ingest_ok

import memberlens
from memberlens.cli import app


def one_line_error(result, *names: str, hint: str | None = None) -> str:
    """The command failed as the user's to fix: exit 2, ``error: ...`` naming ``names``, an
    optional hint line, nothing else."""
    assert result.exception is None, repr(result.exception)
    assert result.exit_code == 2, (result.exit_code, result.stdout, result.stderr)
    lines = result.stderr.strip().splitlines()
    assert lines and lines[0].startswith("error: "), result.stderr
    assert len(lines) <= 2 and all(line.startswith("hint: ") for line in lines[1:]), result.stderr
    for name in names:
        assert name in lines[0], (name, lines[0])
    if hint is not None:
        assert len(lines) == 2 and hint in lines[1], result.stderr
    return lines[0]


# -- a missing optional dependency ---------------------------------------------------------------
@pytest.fixture
def without_pyspark(monkeypatch):
    """PySpark cannot be imported (as without the spark extra), even if this process loaded it."""
    for name in [n for n in sys.modules if n == "pyspark" or n.startswith("pyspark.")] + ["pyspark"]:
        monkeypatch.setitem(sys.modules, name, None)


@pytest.mark.parametrize("command", [("analyze", "rfm"), ("report",), ("predict", "churn"), ("clv", "fit")])
def test_spark_without_the_spark_extra_names_the_package_and_the_install(command, without_pyspark, run_cli, tmp_path):
    (tmp_path / "tables").mkdir()
    result = run_cli(*command, "--engine", "spark", "--db", tmp_path / "tables")
    one_line_error(result, "pyspark", hint="pip install 'memberlens[spark]'")
    assert "internal error" not in result.stderr


# -- hints name options that exist ---------------------------------------------------------------
SRC = Path(__file__).resolve().parents[1] / "src" / "memberlens"
OPTION = re.compile(r"(?<![\w-])--[a-z][a-z0-9]*(?:-[a-z0-9]+)*(?![\w-])")
# "memberlens CMD [SUB] ... --option": the words after memberlens, then the rest of the clause
COMMAND_LINE = re.compile(r"memberlens((?: [a-z][a-z-]*)+)((?:(?!memberlens)[^;,()\n])*)")


def _command_options(command: click.Command) -> set[str]:
    return {o for p in command.params for o in (*p.opts, *p.secondary_opts) if o.startswith("--")} | {"--help"}


def _commands() -> dict[tuple[str, ...], click.Command]:
    """Every command of the CLI by its path (``("clv", "fit")``), groups included."""
    found: dict[tuple[str, ...], click.Command] = {}

    def walk(command: click.Command, path: tuple[str, ...]) -> None:
        found[path] = command
        for name, sub in getattr(command, "commands", {}).items():
            walk(sub, (*path, name))

    walk(typer.main.get_command(app), ())
    return found


def _texts() -> list[tuple[str, str]]:
    """Every string literal in the package (hints, messages, help, docstrings) and every
    message-catalogue text, with where it is."""
    texts = []
    for path in sorted(SRC.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Constant) and isinstance(node.value, str):
                texts.append((f"{path.relative_to(SRC)}:{node.lineno}", node.value))
    for path in sorted((SRC / "messages").glob("*.toml")):
        for section, entries in tomllib.loads(path.read_text(encoding="utf-8")).items():
            texts += [(f"{path.name} [{section}] {key}", text) for key, text in entries.items()]
    return texts


def test_every_option_a_text_names_exists_on_a_command():
    every = set().union(*(_command_options(c) for c in _commands().values()))
    named = [(where, option) for where, text in _texts() for option in OPTION.findall(text)]
    assert any(option == "--penalizer" for _, option in named)  # the hint that named a missing option
    assert [(where, option) for where, option in named if option not in every] == []


def test_an_option_named_after_a_command_is_that_commands():
    commands = _commands()
    wrong, checked = [], 0
    for where, text in _texts():
        for match in COMMAND_LINE.finditer(text):
            words, path = match.group(1).split(), ()
            while len(path) < len(words) and (*path, words[len(path)]) in commands:
                path = (*path, words[len(path)])
            rest = " ".join(words[len(path) :]) + match.group(2)
            options = OPTION.findall(rest)
            checked += len(options)
            wrong += [(where, " ".join(path), o) for o in options if o not in _command_options(commands[path])]
    assert checked > 10 and wrong == []


def test_the_clv_hint_names_an_option_that_makes_the_fit_work(run_cli, tmp_path):
    from test_odd_shops import build_shop

    build_shop(run_cli, tmp_path, "nomatch")  # BG/NBD's alpha runs away on it
    refused = run_cli("clv", "fit")
    one_line_error(refused, "BetaGeoModel", hint="memberlens clv fit --penalizer 0.001")
    fitted = run_cli("clv", "fit", "--penalizer", "0.001", "--format", "json")
    assert fitted.exit_code == 0, fitted.stderr
    assert '"bg-nbd"' in fitted.stdout


# -- implausible dates ---------------------------------------------------------------------------
def _orders_with_dates(days: list[str]) -> str:
    lines = ["customer_id,order_id,ordered_at,amount"]
    lines += [f"C{i % 4},O{i},{day},{10 + i}.50" for i, day in enumerate(days)]
    return "\n".join(lines) + "\n"


PLAUSIBLE = [
    "2021-03-01 10:00:00",
    "2021-04-02 11:00:00",
    "2021-05-03",
    "2021-06-04",
    "2021-07-05",
    "2021-08-06",
    "1900-01-01",
    "2100-01-01 23:59:00",
]  # the bounds themselves are plausible
IMPLAUSIBLE = ["9999-12-31", "9999-12-31 00:00:00", "1899-12-31", "0001-01-01", "2100-01-02"]


@pytest.mark.slow
def test_dates_outside_the_plausible_range_are_set_aside_and_counted(run_cli, tmp_path):
    (tmp_path / "orders.csv").write_text(_orders_with_dates(PLAUSIBLE + IMPLAUSIBLE), encoding="utf-8")
    ledger, _ = ingest_ok(run_cli, "orders.csv")
    assert_ledger(ledger, read=13, used=8, set_aside={"implausible_date": 5})
    report = run_cli("report", "--out", "out", "--no-exports")  # it died on 9999-12-31: 'year 10000 is out of range'
    assert report.exit_code == 0 and "internal error" not in report.stderr, report.stderr
    shown = (tmp_path / "out" / "report.html").read_text(encoding="utf-8")
    assert "date outside the plausible range" in shown  # the data-quality section names the reason


def test_the_plausible_range_is_an_ingest_option(run_cli, tmp_path):
    days = ["1995-06-01", "2001-01-01", "2015-05-05", "2030-12-31", "2031-01-01"]
    (tmp_path / "orders.csv").write_text(_orders_with_dates(days), encoding="utf-8")
    ledger, _ = ingest_ok(run_cli, "orders.csv", "--earliest-date", "2000-01-01", "--latest-date", "2030-12-31")
    assert_ledger(ledger, read=5, used=3, set_aside={"implausible_date": 2})
    one_line_error(run_cli("ingest", "orders.csv", "--latest-date", "soon"), "--latest-date", "soon", hint="YYYY-MM-DD")
    one_line_error(
        run_cli("ingest", "orders.csv", "--earliest-date", "2040-01-01", "--latest-date", "2030-01-01"),
        "2040-01-01",
        "2030-01-01",
        hint="--earliest-date",
    )


def test_any_date_column_of_a_table_is_checked(run_cli, tmp_path):
    members = "customer_id,registered_at,unsubscribed_at\nC1,2020-01-01,\nC2,1066-10-14,\nC3,2020-02-02,9999-12-31\nC4,2020-03-03,2021-01-01\n"
    (tmp_path / "members.csv").write_text(members, encoding="utf-8")
    ledger, _ = ingest_ok(run_cli, "members.csv", "--table", "members")
    assert_ledger(ledger, read=4, used=2, set_aside={"implausible_date": 2})


# -- odd files -----------------------------------------------------------------------------------
HEADER = "customer_id,order_id,ordered_at,amount"


def _rows(n: int) -> list[str]:
    return [f"C{i % 7},O{i},2021-03-{1 + i % 28:02d} 10:00:00,{10 + i}.50" for i in range(n)]


def _stored(tmp_path: Path, table: str):
    with memberlens.Workspace(tmp_path / "memberlens.duckdb", read_only=True) as ws:
        return ws.table(table).execute()


def test_a_200_kb_field_is_read_whole(run_cli, tmp_path):
    long = "very long description " * 10_000  # 220,000 characters
    lines = [f"{HEADER},product_name", *(f"{row},{long if i == 3 else 'short'}" for i, row in enumerate(_rows(10)))]
    (tmp_path / "orders.csv").write_text("\n".join(lines) + "\n", encoding="utf-8")
    ledger, _ = ingest_ok(run_cli, "orders.csv")
    assert_ledger(ledger, read=10, used=10)
    names = _stored(tmp_path, "orders").product_name
    assert sorted(names.str.len())[-1] == len(long.strip())  # trimmed like every text value


def test_a_5_mb_row_among_short_ones_is_read(run_cli, tmp_path):
    lines = [f"{HEADER},product_name", f"{_rows(1)[0]},{'y' * 5_000_000}", *(f"{r},short" for r in _rows(3)[1:])]
    (tmp_path / "orders.csv").write_text("\n".join(lines) + "\n", encoding="utf-8")
    ledger, _ = ingest_ok(run_cli, "orders.csv")
    assert_ledger(ledger, read=3, used=3)


def test_a_50_mb_file_of_one_line_is_refused_in_one_line(run_cli, tmp_path):
    with open(tmp_path / "dump.csv", "w", encoding="utf-8") as f:  # a header with no line break, 50 MB
        f.write(HEADER + "".join(f",column{i}" for i in range(5_000_000)))
    assert (tmp_path / "dump.csv").stat().st_size > 50_000_000
    one_line_error(run_cli("ingest", "dump.csv"), "dump.csv", "no line break", hint="one row per line")


@pytest.mark.parametrize("ending", ["\r", "\r\n", "\n"])
def test_lines_ending_in_cr_alone_are_read_like_any_other(ending, run_cli, tmp_path):
    (tmp_path / "orders.csv").write_bytes((ending.join([HEADER, *_rows(12)]) + ending).encode())
    ledger, _ = ingest_ok(run_cli, "orders.csv")
    assert_ledger(ledger, read=12, used=12)
    orders = _stored(tmp_path, "orders")
    assert orders.amount.sum() == sum(10 + i + 0.5 for i in range(12))
    assert set(orders.customer_id) == {f"C{i}" for i in range(7)}


@pytest.mark.slow
def test_1200_columns_of_orders_are_read(run_cli, tmp_path):
    extra = [f"x{i}" for i in range(1200)]
    lines = [
        ",".join([HEADER, *extra]),
        *(",".join([row, *(str(i * j) for j in range(1200))]) for i, row in enumerate(_rows(5))),
    ]
    (tmp_path / "orders.csv").write_text("\n".join(lines) + "\n", encoding="utf-8")
    ledger, _ = ingest_ok(run_cli, "orders.csv")  # it was a RecursionError
    assert_ledger(ledger, read=5, used=5)


@pytest.mark.slow
def test_1200_columns_of_customer_360_keep_their_types(run_cli, tmp_path):
    extra = [f"x{i}" for i in range(1200)]
    rows = [",".join([f"C{i}", *(str(i * j) if j % 3 else f"{i * j}.5" for j in range(1200))]) for i in range(5)]
    (tmp_path / "c360.csv").write_text("\n".join([",".join(["customer_id", *extra]), *rows]) + "\n", encoding="utf-8")
    ledger, _ = ingest_ok(run_cli, "c360.csv", "--table", "customer_360")
    assert_ledger(ledger, read=5, used=5)
    stored = _stored(tmp_path, "customer_360")
    assert str(stored.x1.dtype).lower().startswith("int") and str(stored.x3.dtype).startswith("float")
    assert stored.x1199.sum() == sum(i * 1199 for i in range(5)) and stored.x3.sum() == sum(
        i * 3 + 0.5 for i in range(5)
    )


@pytest.fixture
def no_hang():
    """Fail instead of hanging for ever when a command blocks (a pipe with no writer)."""

    def stop(signum, frame):
        raise TimeoutError("the command blocked")

    previous = signal.signal(signal.SIGALRM, stop)
    signal.alarm(60)
    yield
    signal.alarm(0)
    signal.signal(signal.SIGALRM, previous)


@pytest.mark.parametrize("command", ["ingest", "report"])
def test_a_named_pipe_is_refused_not_waited_for(command, no_hang, run_cli, tmp_path):
    os.mkfifo(tmp_path / "orders.csv")  # no writer: opening it to read would wait for ever
    one_line_error(run_cli(command, "orders.csv"), "orders.csv", "named pipe", "not a regular file", hint="save")


def test_a_process_substitution_is_refused_not_read_as_empty(no_hang, run_cli, tmp_path):
    read_end, write_end = os.pipe()  # what `memberlens ingest <(cat orders.csv)` passes: /dev/fd/N
    os.write(write_end, ("\n".join([HEADER, *_rows(3)]) + "\n").encode())
    os.close(write_end)
    try:
        one_line_error(run_cli("ingest", f"/dev/fd/{read_end}"), f"/dev/fd/{read_end}", "not a regular file")
    finally:
        os.close(read_end)
