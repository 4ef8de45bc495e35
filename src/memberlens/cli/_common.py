"""What every command shares: the error path, output formats and the console."""

from __future__ import annotations

import io
import os
import sys
import traceback
from datetime import date, datetime
from enum import Enum
from pathlib import Path
from typing import Annotated, Any, NoReturn

import click
import numpy as np
import pandas as pd
import typer
from click.core import ParameterSource
from rich.console import Console
from rich.table import Table
from rich.text import Text
from typer.core import TyperGroup

from memberlens import format as f
from memberlens.errors import ConfigError, MemberlensError
from memberlens.io.engines import engine_limit_error
from memberlens.io.faults import check_output_file, check_output_folder, environment_error
from memberlens.io.files import csv_writer, table_format, text_safe, write_table_atomic
from memberlens.io.jsonable import json_ready, json_text, plain_records

out = Console(highlight=False, soft_wrap=True)
err = Console(stderr=True, highlight=False, soft_wrap=True)


class OutputFormat(str, Enum):
    table = "table"
    json = "json"
    csv = "csv"


def debug_enabled(ctx: click.Context | None) -> bool:
    if os.environ.get("MEMBERLENS_DEBUG", "") not in ("", "0"):
        return True
    root = ctx.find_root() if ctx else None
    return bool(root and isinstance(root.obj, dict) and root.obj.get("debug"))


class MemberlensGroup(TyperGroup):
    """Turns a :class:`MemberlensError` into one line (and a hint), exit status 2, no traceback."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except (click.exceptions.Exit, click.exceptions.Abort, click.ClickException):
            raise
        except MemberlensError as exc:
            self._fail(ctx, exc)
        except BrokenPipeError:  # the reader (e.g. `| head`) stopped reading: not an error
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
            raise click.exceptions.Exit(0) from None
        except KeyboardInterrupt:
            err.print("interrupted", markup=False)
            raise click.exceptions.Exit(130) from None
        except Exception as exc:  # a bug: say so in one line, traceback only with --debug
            # except an engine's resource limit, or a fault of the machine (a full disk, a
            # read-only folder): the user's to fix
            theirs = engine_limit_error(exc) or environment_error(exc)
            if theirs is not None:
                self._fail(ctx, theirs)
            if debug_enabled(ctx):
                traceback.print_exc()
            err.print(
                f"internal error: {type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}", markup=False
            )
            err.print("hint: rerun with --debug for the traceback and report it", markup=False)
            raise click.exceptions.Exit(1) from None

    @staticmethod
    def _fail(ctx: click.Context, exc: MemberlensError) -> NoReturn:
        if debug_enabled(ctx):
            traceback.print_exc()
        err.print(f"error: {exc.message}", markup=False)
        if exc.hint:
            err.print(f"hint: {exc.hint}", markup=False)
        raise click.exceptions.Exit(exc.exit_code) from None


def print_records(records: list[dict[str, Any]], fmt: OutputFormat, *, title: str | None = None) -> None:
    """Print rows as a Rich table, JSON (a list of objects) or CSV on stdout."""
    if fmt is OutputFormat.json:
        print_json(records)
    elif fmt is OutputFormat.csv:
        print_csv(records)
    else:
        table = Table(title=Text(title) if title else None, title_justify="left")
        columns = list(records[0]) if records else []
        for column in columns:
            table.add_column(Text(column), justify="right" if _numeric(records, column) else "left")
        for record in records:
            table.add_row(*(Text(f.terminal_cell(record.get(c))) for c in columns))  # never markup
        out.print(table)


def print_json(data: Any) -> None:
    sys.stdout.write(json_text(data) + "\n")


def print_csv(records: list[dict[str, Any]]) -> None:
    """CSV on stdout, text that a spreadsheet would take for a formula marked as text, as in files."""
    buffer = io.StringIO()
    if records:
        writer = csv_writer(buffer)
        columns = list(records[0])
        writer.writerow([text_safe(str(c)) for c in columns])
        for record in json_ready(records):  # NaN as an empty cell, not "nan"
            writer.writerow([text_safe(record.get(c)) for c in columns])
    sys.stdout.write(buffer.getvalue())


def out_format(out: Path, fmt: Enum) -> str:
    """The format ``--out FILE`` is written in: its suffix's (.csv, .json, .parquet, .xlsx), or
    for another suffix --format's (CSV for ``table``). A --format given that the suffix
    contradicts is refused (see :func:`memberlens.io.files.table_format`)."""
    ctx = click.get_current_context(silent=True)
    source = ctx.get_parameter_source("fmt") if ctx is not None else None
    given = source not in (None, ParameterSource.DEFAULT, ParameterSource.DEFAULT_MAP)
    return table_format(out, fmt.value if given else None)


def write_frame(frame: pd.DataFrame, out: Path, fmt: Enum | None, *, noun: str = "rows") -> None:
    """A command's table to ``--out FILE``, atomically, by the one table writer
    (:func:`memberlens.io.files.write_table_atomic`) in the format :func:`out_format` says (by the
    name alone when ``fmt`` is None: a second file, such as ``monitor --members``); then one line
    on stderr saying so."""
    write_table_atomic(frame, out, table_format(out) if fmt is None else out_format(out, fmt))
    err.print(f"wrote {len(frame):,} {noun} to {out}", markup=False)


def emit_rows(
    frame: pd.DataFrame,
    fmt: OutputFormat,
    out_file: Path | None,
    limit: int,
    title: str,
    shown: tuple[str, ...] | None = None,
) -> None:
    """Write all of ``frame`` to ``out_file``, or print it (the ``shown`` columns of the first
    ``limit`` rows as a table)."""
    if out_file:
        write_frame(frame if out_format(out_file, fmt) in ("json", "parquet") else joined_lists(frame), out_file, fmt)
        return
    if fmt is OutputFormat.json:
        print_records(plain_records(frame), fmt)  # a rule's products stay lists
        return
    printed = frame if fmt is OutputFormat.csv or shown is None else frame[list(shown)]
    records = plain_records(joined_lists(printed))
    if fmt is OutputFormat.table:
        print_records(
            records[:limit],
            fmt,
            title=title + (f" (first {limit}; all with --format csv or json)" if len(records) > limit else ""),
        )
        return
    print_records(records, fmt)


def joined_lists(frame: pd.DataFrame) -> pd.DataFrame:
    """List cells (a rule's products) as ``a + b`` text, for tables, CSV and Excel."""
    return frame.map(lambda v: " + ".join(map(str, v)) if isinstance(v, (list, tuple, np.ndarray)) else v)


def _numeric(records: list[dict[str, Any]], column: str) -> bool:
    return all(isinstance(r.get(column), (int, float)) for r in records if r.get(column) is not None)


def say_nothing_to_show(why: str) -> None:
    """One line on stderr when a command has no row to show, saying why (the exit status stays 0)."""
    err.print(f"nothing to show: {why}", markup=False)


def why_nothing_before(
    orders: Any, as_of: date | None, option: str = "--as-of", *, counts_the_day: bool = False
) -> str | None:
    """Why a result cut at ``option`` (``--as-of`` by default) is empty when it is because no
    order came before that day — or on it, when ``counts_the_day`` (an inclusive end such as
    ``--calibration-end``) — and None when orders did: the emptiness has another cause."""
    if as_of is None:
        return None
    first = orders.ordered_at.min().execute()
    if first is None or first != first:
        return "the orders table has no rows"
    first_day = first.date() if hasattr(first, "date") else first
    if first_day < as_of or (counts_the_day and first_day == as_of):
        return None
    words = "on or before" if counts_the_day else "before"
    return f"no order comes {words} {option} {as_of.isoformat()} (the first order is on {first_day.isoformat()})"


def option_out_file(help: str, name: str = "--out", *, hidden: bool = False) -> Any:
    """``--out FILE`` (or ``name``, e.g. ``--save`` for a model), tried before any work starts
    (a folder, a read-only place or a full disk is refused at once, not after the analysis)."""
    return typer.Option(name, help=help, hidden=hidden, callback=lambda value: value and check_output_file(value))


def option_out_folder(help: str) -> Any:
    """``--out FOLDER``, tried before any work starts."""
    return typer.Option("--out", help=help, callback=lambda value: value and check_output_folder(value))


def option_db() -> Any:
    return typer.Option("--db", help="Workspace file (DuckDB).", envvar="MEMBERLENS_DB")


def option_engine() -> Any:
    return typer.Option(
        "--engine",
        envvar="MEMBERLENS_ENGINE",
        help="duckdb (default), spark, or an Ibis URL (postgres://...). With spark, --db is a folder of "
        "Parquet tables or spark:DATABASE.",
    )


AS_OF_HELP = (
    "The data as it stood at the start of this day (YYYY-MM-DD): orders, events, sends, registrations "
    "and costs dated on it or later are not counted (default: the day after the last order)."
)


def option_as_of() -> Any:
    return typer.Option("--as-of", help=AS_OF_HELP)


# the options every command that reads data at a date, or prints a table, takes alike
AsOfOption = Annotated[str | None, option_as_of()]
FormatOption = Annotated[OutputFormat, typer.Option("--format", help="table, json or csv.")]
# the options of a command printing rows with emit_rows
RowsOutOption = Annotated[
    Path | None,
    option_out_file("Write all rows to this file (.csv, .json, .parquet or .xlsx by its name; else --format)."),
]
RowsLimitOption = Annotated[int, typer.Option(help="Rows shown with --format table.")]


def option_model_file(help: str) -> Any:
    """``--model-file FILE``: a model saved earlier, as in ``clv predict`` (where ``--model`` is a
    model's name)."""
    return typer.Option("--model-file", help=help)


def option_renamed(old: str) -> Any:
    """The name ``old`` an option had before, hidden from the help but still read (see
    :func:`renamed`), so that scripts written for it keep working."""
    return typer.Option(old, hidden=True)


def renamed(value: Any, old_value: Any, old: str, new: str) -> Any:
    """The option ``new``'s value, or the one given under its old name ``old`` (with a warning on
    stderr); both at once are refused."""
    if old_value is None:
        return value
    if value is not None:
        raise ConfigError(f"{old} and {new} are the same option (its old and new name)", f"give {new} only")
    err.print(f"warning: {old} is now {new}; the old name will go", markup=False)
    return old_value


def parse_day(value: str, option: str) -> date:
    """A ``YYYY-MM-DD`` option as a date."""
    try:
        return datetime.strptime(value, "%Y-%m-%d").date()
    except ValueError as exc:
        raise ConfigError(f"{option} {value!r} is not a date", f"use YYYY-MM-DD, e.g. {option} 2011-12-10") from exc


def parse_as_of(value: str | None) -> date | None:
    """``--as-of YYYY-MM-DD`` as a date (None when not given)."""
    return None if value is None else parse_day(value, "--as-of")
