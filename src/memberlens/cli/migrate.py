"""``memberlens migrate``: who moved between two dates — the transition matrix of members by
segment, lifecycle stage, ABC class, cluster or value band, with the revenue and value that moved,
and the members on harmful paths for win-back."""

from __future__ import annotations

from enum import Enum
from pathlib import Path
from typing import Annotated

import typer

from memberlens.analyses import AnalysisOptions
from memberlens.cli._common import (
    FormatOption,
    OutputFormat,
    err,
    option_db,
    option_engine,
    option_out_file,
    parse_day,
    print_records,
    write_frame,
)
from memberlens.errors import ConfigError
from memberlens.io.catalog import open_tables
from memberlens.io.jsonable import plain_records
from memberlens.migration import BASES, migrate

Basis = Enum("Basis", {name.replace("-", "_"): name for name in BASES}, type=str)


class Show(str, Enum):
    paths = "paths"
    members = "members"
    downgrades = "downgrades"


def migrate_command(
    start: Annotated[
        str, typer.Option("--from", help="The first date YYYY-MM-DD: members as the data stood that morning.")
    ],
    end: Annotated[str, typer.Option("--to", help="The second date YYYY-MM-DD (later than --from).")],
    by: Annotated[
        Basis, typer.Option("--by", help="What members move between: " + ", ".join(BASES) + ".")
    ] = Basis.rfm_segment,
    show: Annotated[
        Show,
        typer.Option(
            "--show",
            help="paths (the transition matrix), members (each member's move) or downgrades (members on a harmful path, most value first).",
        ),
    ] = Show.paths,
    downgrade: Annotated[
        list[str] | None,
        typer.Option(
            "--downgrade",
            help="A harmful move FROM:TO (repeatable; default: the basis' own list, e.g. champions:at_risk).",
        ),
    ] = None,
    scheme: Annotated[str, typer.Option(help="RFM segments for --by rfm-segment: grid, eleven or eight.")] = "grid",
    period: Annotated[str, typer.Option(help="Period of the lifecycle stages: day, week, month or quarter.")] = "month",
    value: Annotated[
        bool,
        typer.Option("--value/--no-value", help="Carry each member's predicted value at --to (fits the CLV models)."),
    ] = True,
    fmt: FormatOption = OutputFormat.table,
    out_file: Annotated[
        Path | None,
        option_out_file("Write the rows to this file (.csv, .json, .parquet or .xlsx by its name; else --format)."),
    ] = None,
    limit: Annotated[int, typer.Option(help="Rows shown with --format table.")] = 30,
    db: Annotated[str, option_db()] = "memberlens.duckdb",
    engine: Annotated[str, option_engine()] = "duckdb",
) -> None:
    """Who moved between two dates: members, revenue between the dates and value at the second
    date along each path, members who appeared and left, and the harmful moves."""
    if scheme not in ("grid", "eleven", "eight"):
        raise ConfigError(f"--scheme {scheme!r} is not grid, eleven or eight", "e.g. --scheme eight")
    harmful = [_move(text) for text in downgrade] if downgrade else None
    options = AnalysisOptions(scheme=scheme, period=period)
    with open_tables(engine, db) as workspace:
        result = migrate(
            workspace,
            by.value,
            parse_day(start, "--from"),
            parse_day(end, "--to"),
            options=options,
            downgrades=harmful,
            with_value=value,
        )
    for note in result.notes:
        err.print(f"note: {note}", markup=False)
    frame = {"paths": result.paths, "members": result.members, "downgrades": result.downgrades}[show.value]
    if out_file is not None:
        write_frame(frame, out_file, fmt)
        return
    if frame.empty:
        err.print(f"no {show.value} between {result.start} and {result.end}", markup=False)
    shown = frame.head(limit) if fmt is OutputFormat.table else frame
    records = plain_records(shown)
    print_records(
        records,
        fmt,
        title=f"{show.value} by {by.value}, {result.start} -> {result.end} ({len(shown):,} of {len(frame):,} rows)",
    )


def _move(text: str) -> tuple[str, str]:
    parts = text.split(":")
    if len(parts) != 2 or not all(p.strip() for p in parts):
        raise ConfigError(f"--downgrade {text!r} is not FROM:TO", "e.g. --downgrade champions:at_risk")
    return parts[0].strip(), parts[1].strip()


__all__ = ["migrate_command"]
