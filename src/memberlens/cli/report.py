"""``memberlens report``: the HTML report of a workspace, optionally ingesting sources first,
with the member lists (exports) beside it."""

from __future__ import annotations

from dataclasses import replace
from enum import Enum
from pathlib import Path
from typing import Annotated

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from memberlens.analyses import AnalysisOptions
from memberlens.cli._common import (
    AsOfOption,
    err,
    option_db,
    option_engine,
    option_out_folder,
    out,
    parse_as_of,
    parse_day,
)
from memberlens.cli.segment import segments_file_for
from memberlens.errors import ConfigError
from memberlens.i18n import LANGUAGES
from memberlens.ingest import check_regular_file, ingest
from memberlens.io.catalog import open_tables
from memberlens.io.workspace import Workspace
from memberlens.reports.render import write_reports
from memberlens.reports.sections import SECTIONS
from memberlens.reports.segment_explorer import SegmentExplorerSection
from memberlens.segments import FAST_HANDOVER_SLOW_SUPPORT, load_segment
from memberlens.segments.filters import parse_filter


class ExportFormat(str, Enum):
    csv = "csv"
    parquet = "parquet"
    xlsx = "xlsx"


def report_command(
    sources: Annotated[list[Path] | None, typer.Argument(help="Order files to ingest first (optional).")] = None,
    db: Annotated[str, option_db()] = "memberlens.duckdb",
    engine: Annotated[str, option_engine()] = "duckdb",
    preset: Annotated[str | None, typer.Option(help="Mapping preset for the sources, e.g. online-retail.")] = None,
    as_of: AsOfOption = None,
    compare_from: Annotated[
        str | None,
        typer.Option(
            "--compare-from",
            help="The earlier date YYYY-MM-DD of the section on who moved between segments (default: one month before the report's date).",
        ),
    ] = None,
    lang: Annotated[str, typer.Option(help="en or zh.")] = "en",
    out_dir: Annotated[Path, option_out_folder("Folder to write report.html (and exports/) into.")] = Path("."),
    export_format: Annotated[
        ExportFormat, typer.Option("--export-format", help="Member lists as csv, parquet or xlsx.")
    ] = ExportFormat.csv,
    exports: Annotated[
        bool, typer.Option("--exports/--no-exports", help="Write the member lists into OUT/exports.")
    ] = True,
    segment: Annotated[
        str | None,
        typer.Option(
            "--segment", help="The segment explorer's cohort: a saved segment (memberlens segment --save NAME)."
        ),
    ] = None,
    where: Annotated[
        str | None,
        typer.Option(
            "--where",
            help="The segment explorer's cohort as a filter (default: customers handed to sales in 10-20 days, to support after 30, with above-average engagement).",
        ),
    ] = None,
) -> None:
    """Write the self-contained HTML report of the workspace, and the member lists beside it."""
    if lang not in LANGUAGES:
        raise ConfigError(f"--lang {lang!r} is not a language of the report", "use --lang en or --lang zh")
    if out_dir.exists() and not out_dir.is_dir():
        raise ConfigError(f"{out_dir}: exists and is not a folder", "choose another --out")
    if sources and engine != "duckdb":
        raise ConfigError(
            f"--engine {engine} reads tables that are already clean; it does not ingest files",
            "ingest with DuckDB first (memberlens ingest FILE), then memberlens export-tables --out FOLDER "
            f"and memberlens report --engine {engine} --db FOLDER",
        )
    options = AnalysisOptions(
        as_of=parse_as_of(as_of), compare_from=parse_day(compare_from, "--compare-from") if compare_from else None
    )
    sections = _sections(db, segment, where)
    for source in sources or ():  # a pipe or a device is refused before any work starts
        check_regular_file(source)
    tables = Workspace(db, must_exist=False) if sources else open_tables(engine, db)
    with (
        tables as workspace,
        Progress(
            TextColumn("{task.description:<44}"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            console=err,
        ) as bar,
    ):
        if sources:
            task = bar.add_task("ingest", total=len(sources))
            for source in sources:
                bar.update(task, description=f"ingest {source.name}"[:44])
                ingest(workspace, source, preset=preset)
                bar.advance(task)
            bar.update(task, description="ingest")
        task = bar.add_task("report", total=None)

        def on_section(label: str, done: int, total: int) -> None:
            bar.update(task, description=f"report: {label}"[:44], completed=done, total=total)

        files = write_reports(
            workspace,
            out_dir,
            langs=(lang,),
            options=options,
            export_format=export_format.value if exports else None,
            progress=on_section,
            sections=sections,
        )
        bar.update(task, description="report")
    for path in files.reports:
        out.print(f"report:  {path}", markup=False)
    for path in files.exports:
        out.print(f"export:  {path}", markup=False)


def _sections(db: str, segment: str | None, where: str | None) -> list | None:
    """The report's sections with the explorer on the chosen cohort (None: the defaults)."""
    if segment is None and where is None:
        return None
    if segment is not None and where is not None:
        raise ConfigError("give --segment or --where, not both", "--segment NAME uses a saved segment as it was saved")
    if segment is not None:
        spec, name = load_segment(segments_file_for(db), segment), segment
    else:
        parse_filter(where)  # a bad filter is an error now, not a note in the report
        spec, name = replace(FAST_HANDOVER_SLOW_SUPPORT, where=where), None
    return [SegmentExplorerSection(spec, name=name) if isinstance(s, SegmentExplorerSection) else s for s in SECTIONS]
