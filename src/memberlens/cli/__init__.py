"""The ``memberlens`` command line: thin commands that parse arguments and call the library."""

from __future__ import annotations

import os
import sys
import warnings
from typing import Annotated

import typer

from memberlens import __version__
from memberlens.cli._common import MemberlensGroup
from memberlens.cli.analyze import analyze_command
from memberlens.cli.clv import clv_app
from memberlens.cli.demo import demo_command, demo_data_command
from memberlens.cli.export_tables import export_tables_command
from memberlens.cli.info import info_command
from memberlens.cli.ingest import ingest_command
from memberlens.cli.migrate import migrate_command
from memberlens.cli.monitor import monitor_command
from memberlens.cli.predict import predict_app
from memberlens.cli.report import report_command
from memberlens.cli.score import score_command
from memberlens.cli.segment import segment_command

app = typer.Typer(
    name="memberlens",
    cls=MemberlensGroup,
    help="Member and customer value analytics: ingest order logs, analyse, report.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"memberlens {__version__}")
        raise typer.Exit()


@app.callback()
def root(
    ctx: typer.Context,
    debug: Annotated[bool, typer.Option("--debug", help="Show tracebacks of errors.")] = False,
    version: Annotated[
        bool, typer.Option("--version", callback=_version, is_eager=True, help="Show the version.")
    ] = False,
) -> None:
    """memberlens: member value analytics on DuckDB (default), Spark and other Ibis engines."""
    ctx.obj = {"debug": debug}


app.command("demo")(demo_command)
app.command("demo-data")(demo_data_command)
app.command("ingest")(ingest_command)
app.command("info")(info_command)
app.command("export-tables")(export_tables_command)
app.command("report")(report_command)
app.command("analyze")(analyze_command)
app.command("segment")(segment_command)
app.command("migrate")(migrate_command)
app.command("score")(score_command)
app.command("monitor")(monitor_command)
app.add_typer(clv_app, name="clv")
app.add_typer(predict_app, name="predict")


#: libraries whose own deprecation notices (about their dependencies' newer releases) are not
#: the user's to act on: Ibis 12 on DuckDB 1.5 and pandas 3, Typer on Click 8.5
QUIET_LIBRARIES = ("ibis", "typer", "click", "pyspark")


def quiet_library_deprecations() -> None:
    """Hide the deprecation notices libraries raise about each other (hundreds in one report
    run), unless the user asked for warnings with ``python -W`` or ``PYTHONWARNINGS``."""
    if sys.warnoptions:
        return
    for library in QUIET_LIBRARIES:
        warnings.filterwarnings("ignore", category=DeprecationWarning, module=rf"{library}(\.|$)")


def main() -> None:
    quiet_library_deprecations()
    try:
        app()
    finally:
        try:
            sys.stdout.flush()
        except BrokenPipeError:  # the reader stopped reading (`| head`): not an error
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
