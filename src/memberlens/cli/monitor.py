"""``memberlens monitor``: the alerts that fire at a date, with an exit status a scheduler can
act on — 0 no alert, 3 alerts fired, 2 bad input."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import pandas as pd
import typer

from memberlens.analyses import AnalysisOptions
from memberlens.cli._common import (
    AsOfOption,
    FormatOption,
    OutputFormat,
    err,
    option_db,
    option_engine,
    option_out_file,
    option_renamed,
    parse_as_of,
    print_records,
    renamed,
    write_frame,
)
from memberlens.errors import ConfigError
from memberlens.i18n import Messages
from memberlens.io.catalog import open_tables
from memberlens.io.faults import check_output_file
from memberlens.monitor import DEFAULT_RULES, METRICS, load_rules
from memberlens.monitor.series import PERIOD_LENGTH
from memberlens.parameters import check_number
from memberlens.results import Results

ALERTS_FIRED = 3


def monitor_command(
    as_of: AsOfOption = None,
    rules_file: Annotated[
        Path | None,
        typer.Option("--rules", help="A TOML file of [[rule]] tables (default: the built-in rules; see the README)."),
    ] = None,
    period: Annotated[str, typer.Option(help="The KPI series' period: day, week, month or quarter.")] = "month",
    fmt: FormatOption = OutputFormat.table,
    out_file: Annotated[
        Path | None,
        option_out_file("Write the alerts to this file (.csv, .json, .parquet or .xlsx by its name; else --format)."),
    ] = None,
    members_file: Annotated[
        Path | None,
        option_out_file(
            "Write the customers behind the alerts (who churned, who came new) to this file (.csv, .json, .parquet "
            "or .xlsx).",
            "--members-out",
        ),
    ] = None,
    old_members_file: Annotated[Path | None, option_renamed("--members")] = None,
    churn_days: Annotated[
        int, typer.Option("--churn-days", help="Days without an order after which a customer counts as churned.")
    ] = 90,
    db: Annotated[str, option_db()] = "memberlens.duckdb",
    engine: Annotated[str, option_engine()] = "duckdb",
) -> None:
    """The alerts the monitoring rules raise on the last complete period before the date. Exit
    status 0: no alert; 3: alerts fired (for a scheduler); 2: bad input."""
    members_file = renamed(members_file, old_members_file, "--members", "--members-out")
    if old_members_file is not None:
        check_output_file(old_members_file, "--members")
    if period not in PERIOD_LENGTH:
        raise ConfigError(f"--period {period!r} is not day, week, month or quarter", "e.g. --period week")
    rules = load_rules(rules_file, set(METRICS)) if rules_file is not None else list(DEFAULT_RULES)
    check_number(churn_days, "--churn-days", "monitor", low=1, integer=True, hint="e.g. --churn-days 90")
    options = AnalysisOptions(as_of=parse_as_of(as_of), period=period, churn_days=churn_days, rules=tuple(rules))
    with open_tables(engine, db) as workspace:
        results = Results(workspace, options=options)
        watch = results.get("alerts")
        members = results.get("alert-members") if members_file is not None else None
    if members is not None:
        write_frame(members, members_file, None, noun="customers behind the alerts")
    for rule, (key, values) in watch.not_judged.items():
        err.print(f"note: rule {rule.label!r} not judged: {Messages('en')(key, **values)}", markup=False)
    records = [alert.record() for alert in watch.alerts]
    if out_file is not None:
        columns = ["rule", "metric", "kind", "period_start", "value", "low", "high", "periods_held"]
        write_frame(pd.DataFrame(records, columns=columns), out_file, fmt, noun="alerts")
    elif records:
        print_records(records, fmt, title=f"alerts as of {watch.day}")
    if not records:
        err.print(f"no alert: {len(rules)} rules watched as of {watch.day}", markup=False)
        return
    raise typer.Exit(ALERTS_FIRED)


__all__ = ["monitor_command"]
