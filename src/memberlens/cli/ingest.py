"""``memberlens ingest``: read sources into the workspace and show where every row went."""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Annotated

import typer
from rich.text import Text

from memberlens.cli._common import FormatOption, OutputFormat, err, option_db, print_json, print_records
from memberlens.errors import ConfigError
from memberlens.i18n import describe_reason
from memberlens.ingest import IngestResult, ingest
from memberlens.io.sources import ReadOptions
from memberlens.io.workspace import Workspace
from memberlens.schema.cleaning import EARLIEST_DATE, LATEST_DATE, CleaningPolicy
from memberlens.schema.mapping import MappingSpec, checked_decimal, load_mapping_file, parse_map_flags


def ingest_command(
    sources: Annotated[list[Path], typer.Argument(help="CSV (optionally .gz), Parquet file or folder, or .xlsx.")],
    db: Annotated[str, option_db()] = "memberlens.duckdb",
    table: Annotated[
        str | None,
        typer.Option(
            help="Canonical table: orders, members, events, campaigns, marketing_costs, customer_360, referrals."
        ),
    ] = None,
    name: Annotated[
        str | None, typer.Option(help="Source name (default: the file's path). Re-ingesting a source replaces it.")
    ] = None,
    replace: Annotated[
        bool,
        typer.Option(
            "--replace", help="Let this file replace another one ingested under the same --name (or --batch)."
        ),
    ] = False,
    append: Annotated[
        bool,
        typer.Option(
            "--append",
            help="Add each file as a batch (a day's rows, say) to the source --name (default: the table's name), beside its earlier batches; the same batch twice changes nothing. A folder's files are appended one by one.",
        ),
    ] = False,
    batch: Annotated[
        str | None, typer.Option("--batch", help="With --append: the batch's name (default: its content's digest).")
    ] = None,
    preset: Annotated[str | None, typer.Option(help="Built-in mapping, e.g. online-retail.")] = None,
    mapping_file: Annotated[Path | None, typer.Option("--mapping", help="TOML mapping file.")] = None,
    maps: Annotated[list[str] | None, typer.Option("--map", help="canonical=source column; repeatable.")] = None,
    encoding: Annotated[str | None, typer.Option(help="Text encoding (default: detected).")] = None,
    delimiter: Annotated[str | None, typer.Option(help="CSV delimiter (default: detected).")] = None,
    sheet: Annotated[str | None, typer.Option(help="Worksheet of an .xlsx file.")] = None,
    date_order: Annotated[str | None, typer.Option("--date-order", help="Slash dates: mdy (default) or dmy.")] = None,
    decimal: Annotated[
        str | None, typer.Option("--decimal", help="Decimal mark of amounts: . or , (default: detected per column).")
    ] = None,
    cancellation_prefix: Annotated[
        str | None, typer.Option(help="Order ids starting with this are cancellations.")
    ] = None,
    require_customer_id: Annotated[bool, typer.Option("--require-customer-id/--keep-missing-customer-id")] = True,
    separate_cancellations: Annotated[bool, typer.Option("--separate-cancellations/--keep-cancellations")] = True,
    positive_quantity: Annotated[bool, typer.Option("--positive-quantity/--keep-non-positive-quantity")] = True,
    positive_price: Annotated[bool, typer.Option("--positive-price/--keep-non-positive-price")] = True,
    positive_amount: Annotated[bool, typer.Option("--positive-amount/--keep-non-positive-amount")] = False,
    drop_duplicates: Annotated[bool, typer.Option("--drop-duplicates/--keep-duplicates")] = True,
    earliest_date: Annotated[
        str,
        typer.Option(
            "--earliest-date", help="Rows with a date before this day (YYYY-MM-DD) are set aside as implausible_date."
        ),
    ] = EARLIEST_DATE.isoformat(),
    latest_date: Annotated[
        str,
        typer.Option(
            "--latest-date", help="Rows with a date after this day (YYYY-MM-DD) are set aside as implausible_date."
        ),
    ] = LATEST_DATE.isoformat(),
    fmt: FormatOption = OutputFormat.table,
) -> None:
    """Ingest files into the workspace, cleaning them and recording a ledger of every row.

    Several files are ingested together: if one fails, none is kept."""
    if batch is not None and not append:
        raise ConfigError("--batch goes with --append", "e.g. --append --batch 2024-06-01")
    if append:
        sources = batch_files(sources)
    if name and len(sources) > 1 and not append:
        raise ConfigError(
            "--name can only be used with a single source", "ingest the files one at a time, or --append them to it"
        )
    if batch is not None and len(sources) > 1:
        raise ConfigError(
            "--batch names one batch: give one file", "leave out --batch to name each file's batch by its content"
        )
    if date_order not in (None, "mdy", "dmy"):
        raise ConfigError(f"--date-order must be mdy or dmy, got {date_order!r}")
    spec = MappingSpec(
        columns=parse_map_flags(maps or []),
        date_order=date_order,  # type: ignore[arg-type]
        cancellation_prefix=cancellation_prefix,
        decimal=checked_decimal(decimal, "--decimal"),
    )
    if mapping_file:
        spec = spec.merged_over(load_mapping_file(mapping_file))
    policy = CleaningPolicy(
        require_customer_id=require_customer_id,
        separate_cancellations=separate_cancellations,
        positive_quantity=positive_quantity,
        positive_price=positive_price,
        positive_amount=positive_amount,
        drop_duplicates=drop_duplicates,
        earliest_date=_day(earliest_date, "--earliest-date"),
        latest_date=_day(latest_date, "--latest-date"),
    )
    options = ReadOptions(encoding=encoding, delimiter=delimiter, sheet=sheet)
    results: list[IngestResult] = []
    with Workspace(db) as workspace, workspace.transaction():  # all the files or none
        for source in sources:
            with err.status(Text(f"ingesting {source}")):
                result = ingest(
                    workspace,
                    source,
                    table=table,
                    name=name,
                    mapping=spec,
                    preset=preset,
                    policy=policy,
                    options=options,
                    replace=replace,
                    append=append,
                    batch=batch,
                )
            results.append(result)
    for warning in (w for r in results for w in r.warnings):
        err.print(f"warning: {warning}", markup=False)
    if fmt is OutputFormat.json:
        print_json([r.to_dict() for r in results])
        return
    records = [
        {"source": r.ledger.source, "table": r.ledger.table, "outcome": outcome, "reason": reason, "rows": rows}
        for r in results
        for outcome, reason, rows in _ledger_rows(r)
    ]
    print_records(records, fmt, title=f"ingested into {db}")


def batch_files(sources: list[Path]) -> list[Path]:
    """The files to append: each file given, and a folder's files in name order (hidden ones
    left out), so a folder of daily Parquet files is appended file by file."""
    files = []
    for source in sources:
        if source.is_dir():
            files += sorted(p for p in source.iterdir() if p.is_file() and not p.name.startswith("."))
        else:
            files.append(source)
    return files


def _day(value: str, flag: str) -> date:
    try:
        return date.fromisoformat(value)
    except ValueError as exc:
        raise ConfigError(f"{flag} {value!r} is not a date", f"use YYYY-MM-DD, e.g. {flag} 2100-01-01") from exc


def _ledger_rows(result: IngestResult) -> list[tuple[str, str, int]]:
    ledger = result.ledger
    rows = [("read", "", ledger.rows_read), ("used", "", ledger.rows_used)]
    rows += [("set aside", f"{reason}: {describe_reason(reason)}", n) for reason, n in ledger.set_aside.items()]
    return rows
