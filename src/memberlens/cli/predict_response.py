"""``memberlens predict response``: train (or load) the marketing response model on the
workspace; print its validation metrics, a planned send's expected responders and revenue, the
rules describing likely responders, and each member's probability."""

from __future__ import annotations

from enum import Enum
from pathlib import Path
from typing import Annotated

import pandas as pd
import typer

from memberlens import format as f
from memberlens.analyses import AnalysisOptions
from memberlens.cli._common import (
    AsOfOption,
    FormatOption,
    OutputFormat,
    err,
    option_db,
    option_engine,
    option_model_file,
    option_renamed,
    parse_as_of,
    renamed,
    say_nothing_to_show,
    why_nothing_before,
)
from memberlens.cli.predict_churn import (
    HighOption,
    LimitOption,
    MediumOption,
    OutOption,
    churn_scored,
    emit_scores,
)
from memberlens.errors import ConfigError
from memberlens.i18n import Messages
from memberlens.io.catalog import open_tables
from memberlens.predict.response import ResponseModel, describe_conditions
from memberlens.results import Results, scored_with


class Audience(str, Enum):
    all = "all"
    marketable = "marketable"
    churn_high = "churn-high"
    churn_medium = "churn-medium"
    churn_low = "churn-low"


def response_command(
    campaign: Annotated[
        list[str] | None,
        typer.Option(
            "--campaign", help="Campaign id to learn from (repeatable; default all). The latest is the check."
        ),
    ] = None,
    audience: Annotated[
        Audience,
        typer.Option(
            "--audience", help="Planned send: all, marketable, or a churn band (churn-high, churn-medium, churn-low)."
        ),
    ] = Audience.marketable,
    as_of: AsOfOption = None,
    response_days: Annotated[
        int,
        typer.Option(
            "--response-days",
            help="Days after a send in which a response counts; campaigns sent fewer days before --as-of are not learnt from.",
        ),
    ] = 14,
    churn_model_file: Annotated[
        Path | None,
        typer.Option("--churn-model-file", help="Churn model for a churn-band audience (default: train one)."),
    ] = None,
    old_churn_model_file: Annotated[Path | None, option_renamed("--churn-model")] = None,
    high: HighOption = 0.75,
    medium: MediumOption = 0.5,
    model_file: Annotated[
        Path | None, option_model_file("Score with a model saved by --save instead of training.")
    ] = None,
    old_model_file: Annotated[Path | None, option_renamed("--model")] = None,
    save: Annotated[Path | None, typer.Option("--save", help="Save the trained model (skops file, no pickle).")] = None,
    lang: Annotated[str, typer.Option("--lang", help="Language of the rules: en or zh.")] = "en",
    out_file: OutOption = None,
    limit: LimitOption = 20,
    db: Annotated[str, option_db()] = "memberlens.duckdb",
    engine: Annotated[str, option_engine()] = "duckdb",
    fmt: FormatOption = OutputFormat.table,
) -> None:
    """Response probability per member from past campaigns; a planned send's expected responders,
    conversion rate and revenue; the rules describing likely responders."""
    day = parse_as_of(as_of)
    model_file = renamed(model_file, old_model_file, "--model", "--model-file")
    churn_model_file = renamed(churn_model_file, old_churn_model_file, "--churn-model", "--churn-model-file")
    t = Messages(lang)
    settings = (("campaigns", tuple(campaign) if campaign else None), ("response_days", response_days))
    churn_settings = (("high", high), ("medium", medium))
    options = AnalysisOptions(as_of=day, response_settings=settings, churn_settings=churn_settings)
    with open_tables(engine, db) as workspace:
        before = why_nothing_before(workspace.table("orders"), day)
        if before is not None:
            say_nothing_to_show(before)
            return
        results = Results(workspace, options=options)
        model, scores = (
            scored_with(results, ResponseModel.load(model_file))
            if model_file is not None
            else results.get("response-model")
        )
        if scores.empty:
            say_nothing_to_show(why_nothing_before(workspace.table("orders"), day) or "no member to score")
        members = _audience(scores, audience, results, churn_model_file, high, medium)
    if save is not None:
        model.save(save)
        err.print(f"saved the response model to {save}", markup=False)
    plan = model.plan_send(scores, members)
    summary = model.summary()
    summary["plan"] = {"audience": audience.value, **vars(plan)}
    summary["rule_sentences"] = [
        t(
            "churn_risk.response_rule",
            conditions=describe_conditions(r, t),
            rate=f.pct(r.response_rate),
            lift=f.times(r.lift),
            members=f.num(r.members, 0),
        )
        for r in model.rules(min_lift=1.0)
    ]
    chosen = scores if members is None else scores[scores.customer_id.isin(set(members))].reset_index(drop=True)
    emit_scores(summary, chosen, fmt, out_file, limit, "response")


def _audience(
    scores: pd.DataFrame,
    audience: Audience,
    results: Results,
    churn_model_file: Path | None,
    high: float,
    medium: float,
) -> list[str] | None:
    """The customer ids of the planned send (None: everyone scored)."""
    if audience is Audience.all:
        return None
    if audience is Audience.marketable:
        if "marketable" not in scores.columns:
            raise ConfigError(
                "--audience marketable needs the members table (marketable)",
                "memberlens ingest FILE --table members, or --audience all",
            )
        return scores.customer_id[scores.marketable.fillna(0) == 1].tolist()
    _, churn = churn_scored(results, churn_model_file, high, medium)
    wanted = audience.value.removeprefix("churn-")
    return churn.customer_id[churn.risk_band == wanted].tolist()


__all__ = ["response_command"]
