"""``memberlens analyze NAME``: any table memberlens computes — a descriptive analysis or a
model's result (:data:`memberlens.results.RESULTS`) — printed or saved."""

from __future__ import annotations

from enum import Enum
from pathlib import Path
from typing import Annotated

import typer

from memberlens.analyses import AnalysisOptions
from memberlens.cli._common import (
    AsOfOption,
    OutputFormat,
    option_db,
    option_engine,
    option_out_file,
    parse_as_of,
    print_records,
    say_nothing_to_show,
    why_nothing_before,
    write_frame,
)
from memberlens.errors import ConfigError
from memberlens.io.catalog import open_tables
from memberlens.io.jsonable import plain_records
from memberlens.results import Results, result_names


class TableFormat(str, Enum):
    table = "table"
    csv = "csv"
    json = "json"
    parquet = "parquet"


def analyze_command(
    name: Annotated[str, typer.Argument(help="Analysis or model result: " + ", ".join(result_names(tables_only=True)))],
    db: Annotated[str, option_db()] = "memberlens.duckdb",
    engine: Annotated[str, option_engine()] = "duckdb",
    as_of: AsOfOption = None,
    period: Annotated[str, typer.Option(help="day, week, month or quarter.")] = "month",
    fmt: Annotated[TableFormat, typer.Option("--format", help="table, csv, json or parquet.")] = TableFormat.table,
    out: Annotated[
        Path | None,
        option_out_file(
            "Write to this file instead of printing (.csv, .json, .parquet or .xlsx by its name; else --format)."
        ),
    ] = None,
    bins: Annotated[int, typer.Option(help="RFM/RFE score bins: 3, 4 or 5.")] = 5,
    scheme: Annotated[
        str,
        typer.Option(
            help="RFM segments: grid, eleven, eight (high/low R, F, M: 重要价值客户 ...), or a TOML file of rules."
        ),
    ] = "grid",
    split: Annotated[
        str, typer.Option(help="With --scheme eight: high or low against each measure's mean or median.")
    ] = "mean",
    lookback_days: Annotated[int | None, typer.Option(help="RFM/RFE look-back window in days.")] = None,
    churn_days: Annotated[int, typer.Option(help="Days without an order after which a customer is churned.")] = 90,
    top: Annotated[int, typer.Option(help="Largest orders per period (super-orders).")] = 3,
    by: Annotated[str, typer.Option(help="ABC by customer or product.")] = "customer",
    measure: Annotated[str, typer.Option(help="Cohorts: customers or revenue.")] = "customers",
    cumulative: Annotated[bool, typer.Option(help="Cohorts: active in period N or later.")] = False,
    relative_to: Annotated[
        str, typer.Option(help="Cohorts: retention relative to the first or previous period.")
    ] = "first",
    source: Annotated[str, typer.Option(help="Active users from events or orders.")] = "orders",
    k: Annotated[int | None, typer.Option(help="Clusters: fix k instead of choosing it by the elbow.")] = None,
    max_depth: Annotated[int, typer.Option(help="Referrals: generations a cascade is followed down.")] = 50,
    decay: Annotated[
        float, typer.Option(help="Referrals: weight of each generation against the one above it (0..1).")
    ] = 0.5,
    key_ratio: Annotated[
        float, typer.Option(help="Key referrers: referral value at least this many times their own.")
    ] = 2.0,
    lang: Annotated[str, typer.Option(help="Key referrers: language of the reasons, en or zh.")] = "en",
) -> None:
    """Run one analysis or model on the workspace and print (or --out save) its table."""
    if fmt is TableFormat.parquet and out is None:
        raise ConfigError("--format parquet needs --out FILE", "e.g. --format parquet --out rfm.parquet")
    options = AnalysisOptions(
        period=period,
        as_of=parse_as_of(as_of),
        bins=bins,
        scheme=_scheme(scheme),
        split=split,
        churn_days=churn_days,
        top=top,
        by=by,
        measure=measure,
        cumulative=cumulative,
        relative_to=relative_to,
        source=source,
        k=k,
        lookback_days=lookback_days,
        max_depth=max_depth,
        decay=decay,
        key_ratio=key_ratio,
        lang=lang,
    )
    with open_tables(engine, db) as workspace:
        frame = Results(workspace, options=options).table(name)
        if frame.empty:
            say_nothing_to_show(_why_empty(workspace, name, options))
    if out is not None:
        write_frame(frame, out, fmt)
        return
    records = plain_records(frame)
    print_records(records, OutputFormat(fmt.value), title=f"{name} ({len(records):,} rows)")


def _why_empty(workspace, name: str, options: AnalysisOptions) -> str:
    orders = workspace.table("orders") if workspace.has_table("orders") else None
    before = why_nothing_before(orders, options.as_of) if orders is not None else None
    return before or f"{name} has no rows on the workspace's tables with these options"


def _scheme(value: str):
    if value in ("grid", "eleven", "eight"):
        return value
    import tomllib

    path = Path(value)
    try:
        rules = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ConfigError(
            f"--scheme {value!r}: not 'grid', 'eleven', 'eight' or a readable TOML file ({exc})",
            "a TOML file of [segment] tables, e.g. [champions] r = [5, 5] f = [4, 5]",
        ) from exc
    return {name: {k: tuple(v) for k, v in rule.items()} for name, rule in rules.items()}
