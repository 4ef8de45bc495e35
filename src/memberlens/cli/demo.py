"""``memberlens demo-data`` and ``memberlens demo``: realistic data, and the whole job on it."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.text import Text

from memberlens.cli._common import OutputFormat, err, option_out_folder, out, print_records
from memberlens.demo.generator import generate_demo_data
from memberlens.errors import ConfigError
from memberlens.ingest import ingest
from memberlens.io.workspace import Workspace
from memberlens.reports.render import write_reports

DEMO_TABLES = ("orders", "members", "events", "campaigns", "marketing_costs", "customer_360", "referrals")


def _generate(out_dir: Path, customers: int, years: int, seed: int, file_format: str) -> dict[str, dict]:
    with Progress(
        TextColumn("generating demo data"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=err,
        transient=True,
    ) as progress:
        task = progress.add_task("customers", total=customers)
        return generate_demo_data(
            out_dir,
            customers=customers,
            years=years,
            seed=seed,
            fmt=file_format,
            progress=lambda n: progress.advance(task, n),
        )


def demo_data_command(
    out_dir: Annotated[Path, option_out_folder("Folder to write the files into.")],
    customers: Annotated[int, typer.Option(help="Number of purchasing customers.")] = 20_000,
    years: Annotated[int, typer.Option(help="Years of history.")] = 2,
    seed: Annotated[int, typer.Option(help="Random seed: the same seed gives the same files.")] = 7,
    file_format: Annotated[str, typer.Option("--format", help="csv or parquet.")] = "csv",
) -> None:
    """Write seeded, realistic demo data: orders, members, events, campaigns, costs, customer 360."""
    files = _generate(out_dir, customers, years, seed, file_format)
    print_records([{"table": k, "rows": v["rows"], "path": v["path"]} for k, v in files.items()], OutputFormat.table)


def demo_command(
    out_dir: Annotated[Path, option_out_folder("Folder for the data, workspace and report.")] = Path("demo-output"),
    customers: Annotated[int, typer.Option(help="Number of purchasing customers.")] = 20_000,
    years: Annotated[int, typer.Option(help="Years of history.")] = 2,
    seed: Annotated[int, typer.Option(help="Random seed.")] = 7,
) -> None:
    """The main job on demo data: generate it, ingest it, analyse it and write the report."""
    if out_dir.exists() and not out_dir.is_dir():
        raise ConfigError(f"{out_dir}: exists and is not a folder", "choose another --out")
    files = _generate(out_dir / "data", customers, years, seed, "csv")
    db = out_dir / "memberlens.duckdb"
    with Workspace(db) as workspace:
        for table in DEMO_TABLES:
            with err.status(Text(f"ingesting {table}")):
                result = ingest(workspace, files[table]["path"], table=table, name=table)
            err.print(
                f"ingested {table}: {result.ledger.rows_read:,} rows read, {result.ledger.rows_used:,} used",
                markup=False,
            )
        with err.status(Text("writing the report (en, zh) and the member lists")):
            files = write_reports(workspace, out_dir, langs=("en", "zh"))  # analyses run once for both
    out.print(f"workspace: {db}", markup=False)
    for report in files.reports:
        out.print(f"report:    {report}", markup=False)
    out.print(f"exports:   {out_dir / 'exports'}", markup=False)
