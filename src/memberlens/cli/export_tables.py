"""``memberlens export-tables``: the workspace's tables as a folder of Parquet files, for Spark and
other engines (``--engine spark --db FOLDER``) and for the lake."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from memberlens.cli._common import option_db, option_out_folder, out
from memberlens.errors import ConfigError
from memberlens.io.workspace import Workspace


def export_tables_command(
    out_dir: Annotated[Path, option_out_folder("Folder to write NAME.parquet into (created if missing).")],
    db: Annotated[str, option_db()] = "memberlens.duckdb",
    tables: Annotated[str | None, typer.Option("--tables", help="Comma-separated table names (default: all).")] = None,
) -> None:
    """Write the workspace's tables (and its ledger) as Parquet files, one per table."""
    if out_dir.exists() and not out_dir.is_dir():
        raise ConfigError(f"{out_dir}: exists and is not a folder", "choose another --out")
    with Workspace(db, read_only=True, must_exist=True) as workspace:
        names = [n.strip() for n in tables.split(",")] if tables else None
        unknown = [n for n in names or [] if not workspace.has_table(n)]
        if unknown:
            raise ConfigError(
                f"--tables: the workspace has no {', '.join(repr(n) for n in unknown)}",
                f"tables: {', '.join(workspace.list_tables())}",
            )
        for path in workspace.export_parquet(out_dir, names):
            out.print(f"wrote {path}", markup=False)
