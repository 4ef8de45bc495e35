"""``memberlens predict churn`` and ``memberlens predict response``: train (or load) the model on
the workspace, print its validation metrics and each member's probability."""

from __future__ import annotations

from enum import Enum
from pathlib import Path
from typing import Annotated, Any

import pandas as pd
import typer

from memberlens import format as f
from memberlens.cli._common import (
    OutputFormat,
    err,
    option_as_of,
    option_db,
    option_engine,
    option_out_file,
    parse_as_of,
    print_json,
    print_records,
    say_nothing_to_show,
    why_nothing_before,
    write_frame,
)
from memberlens.errors import ConfigError
from memberlens.i18n import Messages
from memberlens.io.catalog import open_tables
from memberlens.io.jsonable import plain_records
from memberlens.predict.churn import ChurnModel, training_sample
from memberlens.predict.features import FEATURE_TABLES
from memberlens.predict.response import ResponseModel, describe_conditions
from memberlens.snapshot import Snapshot, snapshot_of


class LabelName(str, Enum):
    orders = "orders"
    unsubscribe = "unsubscribe"


class Band(str, Enum):
    high = "high"
    medium = "medium"
    low = "low"


class Audience(str, Enum):
    all = "all"
    marketable = "marketable"
    churn_high = "churn-high"
    churn_medium = "churn-medium"
    churn_low = "churn-low"


AsOfOption = Annotated[str | None, option_as_of()]
FormatOption = Annotated[OutputFormat, typer.Option("--format", help="table, json or csv.")]
OutOption = Annotated[
    Path | None,
    option_out_file(
        "Write the per-member probabilities to this file (.csv, .json, .parquet or .xlsx by its name; else --format)."
    ),
]
LimitOption = Annotated[int, typer.Option(help="Members shown with --format table.")]
HighOption = Annotated[float, typer.Option("--high", help="Churn probability from which a customer is high risk.")]
MediumOption = Annotated[
    float, typer.Option("--medium", help="Churn probability from which a customer is medium risk.")
]


def model_tables(snapshot: Snapshot) -> dict[str, Any]:
    """The snapshot's tables the models read (orders required, the others when present)."""
    snapshot.table("orders")  # a missing orders table: the usual error and hint
    return {name: snapshot.tables[name] for name in FEATURE_TABLES if snapshot.has(name)}


def churn_model(
    snapshot: Snapshot,
    model_file: Path | None,
    horizon_days: int,
    label: str,
    high: float,
    medium: float,
    max_training_customers: int = 200_000,
) -> ChurnModel:
    """A churn model loaded from ``model_file`` (with these thresholds) or trained on the
    snapshot (cut-offs before its day)."""
    if model_file is not None:
        return ChurnModel.load(model_file).with_thresholds(high, medium)
    return ChurnModel(
        horizon_days=horizon_days, label=label, high=high, medium=medium, max_training_customers=max_training_customers
    ).fit(model_tables(snapshot), end=snapshot.day)


def churn_command(
    as_of: AsOfOption = None,
    horizon_days: Annotated[
        int, typer.Option("--horizon-days", help="Churned = no order (or an unsubscription) in this many days.")
    ] = 180,
    label: Annotated[
        LabelName,
        typer.Option("--label", help="orders (no order in the horizon) or unsubscribe (members.unsubscribed_at)."),
    ] = LabelName.orders,
    high: HighOption = 0.75,
    medium: MediumOption = 0.5,
    band: Annotated[Band | None, typer.Option("--band", help="Only members of this risk band.")] = None,
    max_training_customers: Annotated[
        int,
        typer.Option(
            "--max-training-customers",
            help="Train on a seeded sample of about this many customers when there are more (every customer is still scored).",
        ),
    ] = 200_000,
    model_file: Annotated[
        Path | None, typer.Option("--model", help="Score with a model saved by --save instead of training.")
    ] = None,
    save: Annotated[Path | None, typer.Option("--save", help="Save the trained model (skops file, no pickle).")] = None,
    out_file: OutOption = None,
    limit: LimitOption = 20,
    db: Annotated[str, option_db()] = "memberlens.duckdb",
    engine: Annotated[str, option_engine()] = "duckdb",
    fmt: FormatOption = OutputFormat.table,
) -> None:
    """Churn probability and risk band per customer; the model's validation on a later cut-off."""
    day = parse_as_of(as_of)
    with open_tables(engine, db) as workspace:
        snapshot = snapshot_of(workspace, day)
        before = why_nothing_before(workspace.table("orders"), day)
        if before is not None:  # no customer yet: nothing to learn from or score
            say_nothing_to_show(before)
            return
        model = churn_model(snapshot, model_file, horizon_days, label.value, high, medium, max_training_customers)
        scores = model.score(model_tables(snapshot), snapshot.day)
        if scores.empty:
            say_nothing_to_show(why_nothing_before(workspace.table("orders"), day) or "no customer to score")
    if save is not None:
        model.save(save)
        err.print(f"saved the churn model to {save}", markup=False)
    if band is not None and not scores.empty:
        scores = scores[scores.risk_band == band.value].reset_index(drop=True)
        if scores.empty:
            say_nothing_to_show(f"no customer is in the {band.value} risk band")
    _emit(model.summary(), scores, fmt, out_file, limit, "churn")


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
        Path | None, typer.Option("--churn-model", help="Churn model for a churn-band audience (default: train one).")
    ] = None,
    high: HighOption = 0.75,
    medium: MediumOption = 0.5,
    model_file: Annotated[
        Path | None, typer.Option("--model", help="Score with a model saved by --save instead of training.")
    ] = None,
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
    t = Messages(lang)
    with open_tables(engine, db) as workspace:
        snapshot = snapshot_of(workspace, day)
        before = why_nothing_before(workspace.table("orders"), day)
        if before is not None:
            say_nothing_to_show(before)
            return
        tables = model_tables(snapshot)
        model = (
            ResponseModel.load(model_file)
            if model_file is not None
            else ResponseModel(campaigns=campaign or None, response_days=response_days).fit(tables, end=snapshot.day)
        )
        scores = model.score(tables, snapshot.day)
        if scores.empty:
            say_nothing_to_show(why_nothing_before(workspace.table("orders"), day) or "no member to score")
        members = _audience(scores, audience, snapshot, churn_model_file, high, medium)
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
    _emit(summary, chosen, fmt, out_file, limit, "response")


def _audience(
    scores: pd.DataFrame,
    audience: Audience,
    snapshot: Snapshot,
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
    churn = churn_model(snapshot, churn_model_file, 180, "orders", high, medium).score(
        model_tables(snapshot), snapshot.day
    )
    wanted = audience.value.removeprefix("churn-")
    return churn.customer_id[churn.risk_band == wanted].tolist()


def _emit(
    summary: dict[str, Any], scores: pd.DataFrame, fmt: OutputFormat, out_file: Path | None, limit: int, kind: str
) -> None:
    records = plain_records(scores)
    if out_file is not None:
        write_frame(scores, out_file, fmt, noun="members")
        if fmt is not OutputFormat.table:
            return
    if fmt is OutputFormat.json:
        print_json({"model": summary, "members": records} if out_file is None else {"model": summary})
        return
    if fmt is OutputFormat.csv:
        print_records(records, fmt)
        return
    metrics = summary["metrics"]
    checked_on = summary.get("validation_cutoff") or summary.get("validation_campaign")
    print_records(
        [{"measure": k, "value": v} for k, v in metrics.items()], fmt, title=f"{kind} model checked on {checked_on}"
    )
    sample = training_sample(summary)
    if sample is not None:
        err.print(
            f"trained and checked on a seeded sample of {f.pct(sample['fraction'])} of the "
            f"{sample['customers_before_validation']:,} customers; every customer is scored",
            markup=False,
        )
    print_records(summary["deciles"], fmt, title="by tenth of predicted probability, highest first")
    print_records(summary["importances"][:8], fmt, title="feature importances (ROC-AUC drop when shuffled)")
    if kind == "response":
        print_records([{"measure": k, "value": v} for k, v in summary["plan"].items()], fmt, title="planned send")
        print_records([{"rule": s} for s in summary["rule_sentences"]], fmt, title="likely responders")
    shown = records[:limit]
    print_records(
        shown, fmt, title=f"members (first {len(shown):,} of {len(records):,}; all with --format csv or json)"
    )


__all__ = ["churn_command", "response_command"]
