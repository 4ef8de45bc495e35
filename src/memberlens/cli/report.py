"""``memberlens report``: the HTML report of a workspace, optionally ingesting sources first."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer
from rich.text import Text

from memberlens.cli._common import err, option_db, out
from memberlens.ingest import ingest
from memberlens.io.workspace import Workspace
from memberlens.reports.render import write_report


def report_command(
    sources: Annotated[Optional[list[Path]], typer.Argument(help="Order files to ingest first (optional).")] = None,
    db: Annotated[str, option_db()] = "memberlens.duckdb",
    preset: Annotated[Optional[str], typer.Option(help="Mapping preset for the sources, e.g. online-retail.")] = None,
    lang: Annotated[str, typer.Option(help="en or zh.")] = "en",
    out_dir: Annotated[Path, typer.Option("--out", help="Folder to write report.html into.")] = Path("."),
) -> None:
    """Write the self-contained HTML report of the workspace."""
    with Workspace(db, must_exist=not sources) as workspace:
        for source in sources or []:
            with err.status(Text(f"ingesting {source}")):
                ingest(workspace, source, preset=preset)
        path = write_report(workspace, out_dir, lang=lang)
    out.print(f"report: {path}", markup=False)
