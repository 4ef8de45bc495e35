"""``memberlens predict churn``: train (or load) the churn model on the workspace, print its
validation metrics and each customer's probability and risk band; the options, loading and
output that ``memberlens predict response`` shares with it."""

from __future__ import annotations

from enum import Enum
from pathlib import Path
from typing import Annotated, Any

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
    option_out_file,
    option_renamed,
    parse_as_of,
    print_json,
    print_records,
    renamed,
    say_nothing_to_show,
    why_nothing_before,
    write_frame,
)
from memberlens.io.catalog import open_tables
from memberlens.io.jsonable import plain_records
from memberlens.predict.churn import ChurnModel, training_sample
from memberlens.results import Results, Scored, scored_with


class LabelName(str, Enum):
    orders = "orders"
    unsubscribe = "unsubscribe"


class Band(str, Enum):
    high = "high"
    medium = "medium"
    low = "low"


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


def churn_scored(results: Results, model_file: Path | None, high: float, medium: float) -> Scored:
    """The churn model loaded from ``model_file`` (with these thresholds) and its scores, or
    the registry's, trained with the results' settings on cut-offs before their date."""
    if model_file is not None:
        return scored_with(results, ChurnModel.load(model_file).with_thresholds(high, medium))
    return results.get("churn-model")


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
        Path | None, option_model_file("Score with a model saved by --save instead of training.")
    ] = None,
    old_model_file: Annotated[Path | None, option_renamed("--model")] = None,
    save: Annotated[Path | None, typer.Option("--save", help="Save the trained model (skops file, no pickle).")] = None,
    out_file: OutOption = None,
    limit: LimitOption = 20,
    db: Annotated[str, option_db()] = "memberlens.duckdb",
    engine: Annotated[str, option_engine()] = "duckdb",
    fmt: FormatOption = OutputFormat.table,
) -> None:
    """Churn probability and risk band per customer; the model's validation on a later cut-off."""
    day = parse_as_of(as_of)
    model_file = renamed(model_file, old_model_file, "--model", "--model-file")
    settings = {
        "horizon_days": horizon_days,
        "label": label.value,
        "high": high,
        "medium": medium,
        "max_training_customers": max_training_customers,
    }
    with open_tables(engine, db) as workspace:
        before = why_nothing_before(workspace.table("orders"), day)
        if before is not None:  # no customer yet: nothing to learn from or score
            say_nothing_to_show(before)
            return
        results = Results(workspace, options=AnalysisOptions(as_of=day, churn_settings=tuple(settings.items())))
        model, scores = churn_scored(results, model_file, high, medium)
        if scores.empty:
            say_nothing_to_show(why_nothing_before(workspace.table("orders"), day) or "no customer to score")
    if save is not None:
        model.save(save)
        err.print(f"saved the churn model to {save}", markup=False)
    if band is not None and not scores.empty:
        scores = scores[scores.risk_band == band.value].reset_index(drop=True)
        if scores.empty:
            say_nothing_to_show(f"no customer is in the {band.value} risk band")
    emit_scores(model.summary(), scores, fmt, out_file, limit, "churn")


def emit_scores(
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


__all__ = ["churn_command", "churn_scored", "emit_scores"]
