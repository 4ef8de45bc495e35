"""``memberlens clv fit|predict|evaluate``: buy-till-you-die CLV models on the workspace's orders."""

from __future__ import annotations

import math
from datetime import date, timedelta
from enum import Enum
from pathlib import Path
from typing import Annotated, Any

import typer

from memberlens import format as f
from memberlens.analyses import AnalysisOptions
from memberlens.cli._common import (
    AsOfOption,
    FormatOption,
    MemberlensGroup,
    OutputFormat,
    err,
    option_db,
    option_engine,
    option_out_file,
    out,
    parse_as_of,
    parse_day,
    print_json,
    print_records,
    renamed,
    say_nothing_to_show,
    why_nothing_before,
    write_frame,
)
from memberlens.errors import ConfigError
from memberlens.io.catalog import Tables, open_tables
from memberlens.io.jsonable import plain_records
from memberlens.models import (
    BASELINES,
    DEFAULT_LEVEL,
    PURCHASE_MODELS,
    BaselineComparison,
    GammaGammaModel,
    compare_models,
    compare_with_baselines,
    evaluate_holdout,
    load_model,
    model_to_dict,
    predict_member_value,
    save_model,
    summarise_for,
    track_cumulative_purchases,
    tracking_error,
    why_no_intervals,
)
from memberlens.models._base import BaseModel, TransactionModel
from memberlens.models._evaluate import TRACKING_CONVENTIONS
from memberlens.models._intervals import check_level
from memberlens.parameters import check_choice, check_number
from memberlens.results import Results
from memberlens.snapshot import Snapshot, day_after_last_order

clv_app = typer.Typer(
    name="clv",
    cls=MemberlensGroup,
    help="Buy-till-you-die CLV models: fit, predict member value, evaluate on a holdout.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)


# the --model choices: the purchase models of the registry, by their CLI name
ModelName = Enum("ModelName", {name.replace("-", "_"): name for name in PURCHASE_MODELS}, type=str)
MODEL_HELP = "The purchase model: " + ", ".join(
    name + (" (discrete periods)" if cls.discrete else "") for name, cls in PURCHASE_MODELS.items()
)
ModelOption = Annotated[ModelName, typer.Option("--model", help=MODEL_HELP)]
TimeUnitOption = Annotated[
    str, typer.Option("--time-unit", help="Unit of recency and T: D, W, M, Q, Y or a multiple such as 2W.")
]
CALIBRATION_HELP = (
    "Last day (YYYY-MM-DD) of the calibration period: orders on it are calibration, orders from the "
    "next day on are the holdout."
)
CalibrationOption = Annotated[str | None, typer.Option("--calibration-end", help=CALIBRATION_HELP)]
ObservationOption = Annotated[
    str | None,
    typer.Option(
        "--observation-end",
        help="Last day observed YYYY-MM-DD, orders on it counted: the same as --as-of the next day.",
    ),
]
PenalizerOption = Annotated[
    float,
    typer.Option(
        "--penalizer",
        help="Shrink the models' log-parameters towards 0 by this weight (e.g. 0.001) when the data do not pin them down.",
    ),
]


def _day(as_of: str | None, observation_end: str | None) -> date | None:
    """The morning the orders are taken at: ``--as-of``, or the day after ``--observation-end``
    (one convention with every other command)."""
    day = parse_as_of(as_of)
    if observation_end is not None:
        after = parse_day(observation_end, "--observation-end") + timedelta(days=1)
        if day is not None and day != after:
            raise ConfigError(
                f"--as-of {day} and --observation-end {observation_end} disagree",
                f"give one of them: --as-of {after} is the same as --observation-end {observation_end}",
            )
        day = after
    return day


def _fit_results(
    workspace: Tables,
    as_of: str | None,
    observation_end: str | None,
    model: Enum,
    time_unit: str,
    calibration_end: str | None,
    spend: bool,
    penalizer: float,
) -> Results:
    settings = {"model": model.value, "time_unit": time_unit, "calibration_end": calibration_end}
    settings |= {"spend": spend, "penalizer": penalizer, "warn": _warn}
    options = AnalysisOptions(as_of=_day(as_of, observation_end), clv_settings=tuple(settings.items()))
    return Results(workspace, options=options)


def _warn(note: str) -> None:
    err.print(f"warning: {note}", markup=False)


def _why_no_members(
    workspace: Tables, as_of: str | None, observation_end: str | None, calibration_end: str | None
) -> tuple[str, str] | None:
    """The date option that leaves no order to summarise, as (option, why) — why in the words of
    :func:`why_nothing_before`, said of the option given — or None when orders come before every date
    given. The cut comes first (--as-of, else --observation-end), then --calibration-end. An
    empty orders table is refused as such: the hint is to ingest orders."""
    given: list[tuple[str, date, bool]] = []  # (option, day, whether orders on that day count)
    if as_of is not None:
        given.append(("--as-of", parse_day(as_of, "--as-of"), False))
    elif observation_end is not None:
        given.append(("--observation-end", parse_day(observation_end, "--observation-end"), True))
    if calibration_end is not None:
        given.append(("--calibration-end", parse_day(calibration_end, "--calibration-end"), True))
    if not given:
        return None
    orders = workspace.table("orders")
    day_after_last_order(orders)  # an empty orders table: "ingest orders first"
    for option, day, inclusive in given:
        why = why_nothing_before(orders, day, option, counts_the_day=inclusive)
        if why is not None:
            return option, why
    return None


def _refuse_no_members(
    workspace: Tables,
    model_name: str,
    as_of: str | None,
    observation_end: str | None,
    calibration_end: str | None,
    *,
    calibration_required: bool = False,
) -> None:
    """A model cannot be fitted on no member: say which date is before the first order."""
    found = _why_no_members(workspace, as_of, observation_end, calibration_end)
    if found is not None:
        option, why = found
        optional = not (calibration_required and option == "--calibration-end")
        raise ConfigError(
            f"cannot fit {model_name}: {why}",
            f"choose a later {option}" + (", or leave it out to fit on every order" if optional else ""),
        )


def _summary(snapshot: Snapshot, model_name: str, time_unit: str, calibration_end: str | None):
    """The members' summary a saved model predicts from."""
    return summarise_for(
        snapshot.table("orders"),
        model_name,
        time_unit,
        calibration_end=calibration_end,
        observation_end=snapshot.last_day,
    )


def _parameter_records(model: BaseModel) -> list[dict[str, Any]]:
    return [
        {
            "model": model.model_name,
            "parameter": row.parameter,
            "estimate": row.estimate,
            "std_error": row.std_error if math.isfinite(row.std_error) else None,
        }
        for row in model.parameter_table().itertuples()
    ]


def _fit_record(model: BaseModel) -> dict[str, Any]:
    record = {
        "model": model.model_name,
        "members": model.n_members_,
        "combinations": model.n_combinations_,
        "log_likelihood": model.log_likelihood_,
        "bic": model.bic_,
    }
    if isinstance(model, GammaGammaModel):
        record["frequency_spend_correlation"] = model.frequency_spend_correlation_
    return record


@clv_app.command("fit")
def fit_command(
    model: ModelOption = ModelName.bg_nbd,
    time_unit: TimeUnitOption = "W",
    calibration_end: CalibrationOption = None,
    as_of: AsOfOption = None,
    observation_end: ObservationOption = None,
    spend: Annotated[
        bool, typer.Option("--spend/--no-spend", help="Also fit Gamma-Gamma on the repeat buyers' spend.")
    ] = True,
    penalizer: PenalizerOption = 0.0,
    save: Annotated[
        Path | None,
        option_out_file("Save the fitted model(s) as JSON (clv predict --model-file reads them).", "--save"),
    ] = None,
    old_save: Annotated[Path | None, option_out_file("", "--out", hidden=True)] = None,
    db: Annotated[str, option_db()] = "memberlens.duckdb",
    engine: Annotated[str, option_engine()] = "duckdb",
    fmt: FormatOption = OutputFormat.table,
) -> None:
    """Fit a purchase model (and Gamma-Gamma spend) on the orders; print the parameters."""
    with open_tables(engine, db) as workspace:
        results = _fit_results(workspace, as_of, observation_end, model, time_unit, calibration_end, spend, penalizer)
        _refuse_no_members(workspace, model.value, as_of, observation_end, calibration_end)
        fit = results.get("clv-model")
    models = [m for m in (fit.purchases, fit.spend) if m is not None]
    save = renamed(save, old_save, "--out", "--save")
    if save:
        save_model(save, *models)
        err.print(f"saved {', '.join(m.model_name for m in models)} to {save}", markup=False)
    if fmt is OutputFormat.json:
        print_json({"models": [model_to_dict(m) for m in models]})
        return
    records = [r for m in models for r in _parameter_records(m)]
    print_records(records, fmt, title="parameters")
    if fmt is OutputFormat.table:
        print_records([_fit_record(m) for m in models], fmt, title="fit")


@clv_app.command("predict")
def predict_command(
    model: ModelOption = ModelName.bg_nbd,
    model_file: Annotated[
        Path | None, typer.Option("--model-file", help="Use models saved by 'clv fit --save' instead of fitting.")
    ] = None,
    time_unit: TimeUnitOption = "W",
    as_of: AsOfOption = None,
    observation_end: ObservationOption = None,
    calibration_end: CalibrationOption = None,
    discount_rate: Annotated[float, typer.Option(help="Yearly discount rate of the residual CLV.")] = 0.10,
    clv_horizon: Annotated[float, typer.Option("--clv-horizon", help="Days of the residual CLV.")] = 365.0,
    no_order_days: Annotated[
        float,
        typer.Option("--no-order-days", help="Days of probability_no_order_<days>d: P(no order at all in them)."),
    ] = 90.0,
    interval: Annotated[
        float,
        typer.Option(
            "--interval",
            help="Level of the per-member intervals (predicted orders, P(alive), CLV from the parameters' "
            "uncertainty; the range of the member's own orders in 365 days); 0 for none.",
        ),
    ] = DEFAULT_LEVEL,
    penalizer: PenalizerOption = 0.0,
    out_file: Annotated[
        Path | None,
        option_out_file(
            "Write the predictions to this file (.csv, .json, .parquet or .xlsx by its name; else --format)."
        ),
    ] = None,
    limit: Annotated[int, typer.Option(help="Rows shown with --format table.")] = 20,
    db: Annotated[str, option_db()] = "memberlens.duckdb",
    engine: Annotated[str, option_engine()] = "duckdb",
    fmt: FormatOption = OutputFormat.csv,
) -> None:
    """Predicted value per member: P(alive), expected orders, next order, CLV (one row each), with
    intervals."""
    level = None if interval == 0 else check_level(interval, "clv predict")
    check_number(
        no_order_days, "--no-order-days", "clv predict", low=0.0, low_open=True, hint="e.g. --no-order-days 90"
    )
    with open_tables(engine, db) as workspace:
        results = _fit_results(workspace, as_of, observation_end, model, time_unit, calibration_end, True, penalizer)
        if model_file:
            loaded = load_model(model_file)
            purchase = [m for m in loaded if isinstance(m, TransactionModel)]
            spend_models = [m for m in loaded if isinstance(m, GammaGammaModel)]
            if not purchase:
                raise ConfigError(
                    f"{model_file}: holds no purchase model", "save one with: memberlens clv fit --out FILE"
                )
            fitted: TransactionModel = purchase[0]
            spend_model = spend_models[0] if spend_models else None
            found = _why_no_members(workspace, as_of, observation_end, calibration_end)
            if found is not None:  # a saved model, no member to predict for: as other predictions say it
                say_nothing_to_show(found[1])
                return
            summary = _summary(results.snapshot, fitted.model_name, str(fitted.time_unit), calibration_end)
            level = _interval_level(level, fitted, spend_model)
            result = predict_member_value(
                summary,
                fitted,
                spend_model,
                discount_rate=discount_rate,
                clv_horizon=clv_horizon,
                no_order_horizon=no_order_days,
                interval=level,
            ).order_by("customer_id")
            frame = result.execute()
        else:
            _refuse_no_members(workspace, model.value, as_of, observation_end, calibration_end)
            fit = results.get("clv-model")
            level = _interval_level(level, fit.purchases, fit.spend)
            prediction = (
                ("discount_rate", discount_rate),
                ("clv_horizon", clv_horizon),
                ("no_order_horizon", no_order_days),
                ("interval", level),
            )
            frame = results.get("clv", clv_predictions=prediction)
    if out_file:
        write_frame(frame, out_file, fmt, noun="members")
        return
    if fmt is OutputFormat.table:
        shown = frame[[c for c in TABLE_COLUMNS if c in frame.columns]].head(limit)
        print_records(
            plain_records(shown),
            fmt,
            title=f"member value (first {len(shown)} of {len(frame)}; all columns with --format csv or json)",
        )
        return
    print_records(plain_records(frame), fmt)


def baseline_verdict(comparison: BaselineComparison) -> list[str]:
    """Which predictor wins on this data, per measure, in a sentence."""
    sentences = []
    for measure, best in comparison.best.items():
        part = comparison.errors[comparison.errors.measure == measure].set_index("predictor")
        others = ", ".join(f"{f.num(part.mae[p], 2)} ({p})" for p in part.index if p != best)
        what = "holdout orders" if measure == "orders" else "holdout spend"
        beaten = best not in BASELINES
        verdict = "the model beats both baselines" if beaten else "a naive baseline beats the model"
        sentences.append(
            f"On this data {best} predicts members' {what} best: {verdict} (mean absolute error per member "
            f"{f.num(part.mae[best], 2)}, against {others})."
        )
    return sentences


TABLE_COLUMNS = (
    "customer_id",
    "probability_alive",
    "expected_orders_30d",
    "next_order_date",
    "predicted_clv",
    "predicted_clv_low",
    "predicted_clv_high",
)


def _interval_level(level: float | None, purchases: TransactionModel, spend: BaseModel | None) -> float | None:
    """The intervals' level, or None (said on stderr) when a fitted model cannot give them."""
    why = why_no_intervals(purchases, spend) if level is not None else None
    if why is not None:
        err.print(f"note: no intervals: {why}", markup=False)
        return None
    return level


@clv_app.command("evaluate")
def evaluate_command(
    calibration_end: Annotated[str, typer.Option("--calibration-end", help=CALIBRATION_HELP)],
    model: ModelOption = ModelName.bg_nbd,
    time_unit: TimeUnitOption = "W",
    as_of: AsOfOption = None,
    observation_end: ObservationOption = None,
    compare: Annotated[
        bool,
        typer.Option("--compare/--no-compare", help="Also fit the other continuous-time models and compare by BIC."),
    ] = True,
    max_frequency: Annotated[int, typer.Option(help="Last frequency bin (and above).")] = 7,
    tracking_age: Annotated[
        str,
        typer.Option(
            "--tracking-age",
            help="Member age at a tracking period's end: memberlens (7j-1-f days) or btyd (7j-f, as BTYD, "
            "lifetimes and pymc-marketing count; slightly higher expected curves).",
        ),
    ] = "memberlens",
    penalizer: PenalizerOption = 0.0,
    db: Annotated[str, option_db()] = "memberlens.duckdb",
    engine: Annotated[str, option_engine()] = "duckdb",
    fmt: FormatOption = OutputFormat.table,
) -> None:
    """Fit on the calibration period; compare expected and actual holdout purchases."""
    check_choice(tracking_age, "--tracking-age", "clv evaluate", TRACKING_CONVENTIONS, hint="e.g. --tracking-age btyd")
    with open_tables(engine, db) as workspace:
        results = _fit_results(workspace, as_of, observation_end, model, time_unit, calibration_end, True, penalizer)
        _refuse_no_members(workspace, model.value, as_of, observation_end, calibration_end, calibration_required=True)
        fit = results.get("clv-model")
        snapshot = results.snapshot
        summary, fitted = fit.summary, fit.purchases
        holdout = evaluate_holdout(fitted, summary, max_frequency=max_frequency)
        baselines = compare_with_baselines(fitted, summary, fit.spend)
        tracking = None
        if not fitted.discrete:
            tracking = track_cumulative_purchases(
                fitted,
                snapshot.table("orders"),
                calibration_end=calibration_end,
                observation_end=snapshot.last_day,
                step="W",
                convention=tracking_age,
            )
        comparison = None
        if compare and not fitted.discrete:
            others = [
                cls(time_unit=time_unit, penalizer=penalizer)
                for name, cls in PURCHASE_MODELS.items()
                if not cls.discrete and name != model.value
            ]
            comparison = compare_models(summary, [fitted, *others])
    result: dict[str, Any] = {
        "model": model_to_dict(fitted),
        "by_frequency": holdout.by_frequency.to_dict(orient="records"),
        "error": holdout.error,
        "baselines": baselines.to_dict(),
        "verdict": baseline_verdict(baselines),
    }
    if tracking is not None:
        result["tracking_error"] = tracking_error(tracking)
        result["tracking"] = plain_records(tracking)
    if comparison is not None:
        result["comparison"] = comparison.to_dict(orient="records")
    if fmt is OutputFormat.json:
        print_json(result)
        return
    if fmt is OutputFormat.csv:
        print_records(result["by_frequency"], fmt)
        return
    print_records(result["by_frequency"], fmt, title="holdout purchases per member, by calibration frequency")
    print_records([{"measure": k, "value": v} for k, v in holdout.error.items()], fmt, title="holdout error")
    print_records(plain_records(baselines.errors), fmt, title="per-member holdout error, beside two naive baselines")
    print_records(
        plain_records(baselines.deciles), fmt, title="mean holdout orders per tenth of the prediction (1 = highest)"
    )
    for sentence in result["verdict"]:
        out.print(sentence, markup=False)
    if tracking is not None:
        print_records([{"measure": k, "value": v} for k, v in result["tracking_error"].items()], fmt, title="tracking")
    if comparison is not None:
        print_records(result["comparison"], fmt, title="model comparison (lower BIC is better)")
    out.print(f"fitted {fitted.model_name} on {fitted.n_members_} members up to {calibration_end}", markup=False)


__all__ = ["clv_app"]
