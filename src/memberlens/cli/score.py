"""``memberlens score``: keep each member's scores as of a date (or a series of dates) in the
workspace, for their history, their previous segment and migration between dates."""

from __future__ import annotations

from typing import Annotated

import typer

from memberlens.analyses import AnalysisOptions
from memberlens.cli._common import AsOfOption, err, option_db, out, parse_as_of, parse_day
from memberlens.errors import ConfigError
from memberlens.io.workspace import Workspace
from memberlens.scores import record_scores, score_dates
from memberlens.snapshot import snapshot_of


def score_command(
    as_of: AsOfOption = None,
    every: Annotated[
        str | None,
        typer.Option("--every", help="Score a series of dates: week, month or quarter, from --from to --as-of."),
    ] = None,
    start: Annotated[str | None, typer.Option("--from", help="With --every: the first date YYYY-MM-DD.")] = None,
    churn: Annotated[
        bool,
        typer.Option(
            "--churn/--no-churn",
            help="Also train the churn model at each date and keep its probability and band (slower).",
        ),
    ] = False,
    scheme: Annotated[str, typer.Option(help="RFM segments: grid, eleven or eight.")] = "grid",
    db: Annotated[str, option_db()] = "memberlens.duckdb",
) -> None:
    """Store each member's RFM scores and segment, lifecycle stage, ABC class, P(alive) and
    predicted value (and churn probability) as of the date(s) in the workspace (member_scores);
    scoring a date again replaces it. See them with: memberlens analyze score-history."""
    if (every is None) != (start is None):
        raise ConfigError("--every and --from go together", "e.g. --every month --from 2024-01-01")
    if scheme not in ("grid", "eleven", "eight"):
        raise ConfigError(f"--scheme {scheme!r} is not grid, eleven or eight", "e.g. --scheme eight")
    options = AnalysisOptions(scheme=scheme)
    with Workspace(db, must_exist=True) as workspace:
        if every is None:
            days = [parse_as_of(as_of)]
        else:
            last = parse_as_of(as_of) or snapshot_of(workspace).day
            days = score_dates(parse_day(start, "--from"), last, every)
        for day, members in record_scores(
            workspace, days, options=options, churn=churn, notes=lambda text: err.print(f"note: {text}", markup=False)
        ):
            out.print(f"scored {day}: {members:,} members", markup=False)
