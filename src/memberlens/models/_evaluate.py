"""Calibration/holdout evaluation and model comparison.

* :func:`evaluate_holdout` — actual vs expected repeat purchases in the holdout period, by
  calibration frequency (Fader, Hardie & Lee 2005, figure 3), with the member-level error.
* :func:`track_cumulative_purchases` — the tracking curve: cumulative repeat purchases of the
  calibration cohort, actual vs expected, period by period across calibration and holdout
  (figure 2).
* :func:`compare_with_baselines` — the model's per-member holdout errors (orders and spend)
  beside two naive baselines, overall and per decile of the prediction.
* :func:`compare_models` — log-likelihood, AIC and BIC of several models on one summary.
"""

from __future__ import annotations

import datetime as _dt
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import ibis
import ibis.expr.types as ir
import numpy as np
import pandas as pd

from memberlens.errors import InputError
from memberlens.models._base import BaseModel, TransactionModel
from memberlens.models._combinations import as_table, combination_table, join_to_members
from memberlens.models._summary import SUMMARY_COLUMNS, TimeUnit, parse_date
from memberlens.parameters import check_choice, check_number

HOLDOUT_COLUMNS = ("frequency_holdout", "duration_holdout")
TRACKING_CONVENTIONS = ("memberlens", "btyd")


@dataclass(frozen=True)
class HoldoutEvaluation:
    """Actual vs expected holdout purchases.

    Attributes
    ----------
    by_frequency
        Per calibration frequency (the last bin is ``max_frequency`` and above): ``members``,
        ``actual`` and ``expected`` mean holdout purchases per member.
    error
        ``members``, ``actual_total``, ``expected_total``, ``total_error_pct`` (expected vs actual
        total), ``mae`` and ``rmse`` per member, and ``mae_by_frequency`` (mean absolute error of
        the binned means, weighted by members).
    """

    by_frequency: pd.DataFrame
    error: dict[str, float] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {"by_frequency": self.by_frequency.to_dict(orient="list"), "error": dict(self.error)}


def evaluate_holdout(
    model: TransactionModel, summary: ir.Table | pd.DataFrame, *, max_frequency: int = 7
) -> HoldoutEvaluation:
    """Compare the model's conditional expectations with what members did in the holdout.

    ``summary`` comes from ``summarise_purchases(..., calibration_end=...)`` (it has
    ``frequency_holdout`` and ``duration_holdout``). The work runs per distinct combination.
    """
    model._check_fitted()
    max_frequency = int(check_number(max_frequency, "max_frequency", "evaluate_holdout", low=1, integer=True))
    table, _ = as_table(summary)
    missing = [c for c in (*SUMMARY_COLUMNS, *HOLDOUT_COLUMNS) if c not in table.columns]
    if missing:
        raise InputError(
            f"the summary has no holdout column(s) {missing}",
            "build it with summarise_purchases(orders, calibration_end=DATE)",
        )
    keys = [*SUMMARY_COLUMNS, "duration_holdout"]
    # members per (combination, holdout purchases): small, and enough for every error measure
    counts = table.group_by([*keys, "frequency_holdout"]).aggregate(members=table.count()).execute()
    combos = counts[keys].drop_duplicates().reset_index(drop=True)
    x, t_x, T, duration = (combos[c].to_numpy(dtype=float) for c in keys)
    expected_per_combo = model.expected_purchases(duration, x, t_x, T)
    counts = counts.merge(combos.assign(_expected=expected_per_combo), on=keys, how="left")
    held = counts["frequency_holdout"].to_numpy(dtype=float)
    members = counts["members"].to_numpy(dtype=float)
    e = counts["_expected"].to_numpy(dtype=float)
    abs_err = float(members @ np.abs(held - e))
    sse = members * (held - e) ** 2
    x = counts["frequency"].to_numpy(dtype=float)
    w = members
    actual = held * members
    expected = e
    bins = np.minimum(x, max_frequency).astype(int)
    frame = pd.DataFrame({"frequency": bins, "members": w, "actual": actual, "expected": expected * w})
    grouped = frame.groupby("frequency", sort=True).sum()
    by_frequency = pd.DataFrame(
        {
            "frequency": [f"{f}+" if f == max_frequency else str(f) for f in grouped.index],
            "members": grouped["members"].astype(int).to_numpy(),
            "actual": (grouped["actual"] / grouped["members"]).to_numpy(),
            "expected": (grouped["expected"] / grouped["members"]).to_numpy(),
        }
    )
    n = float(w.sum())
    actual_total, expected_total = float(actual.sum()), float((expected * w).sum())
    error = {
        "members": n,
        "actual_total": actual_total,
        "expected_total": expected_total,
        "total_error_pct": 100.0 * (expected_total - actual_total) / actual_total if actual_total else float("nan"),
        "mae": abs_err / n,
        "rmse": float(np.sqrt(max(sse.sum(), 0.0) / n)),
        "mae_by_frequency": float(
            np.average(np.abs(by_frequency["actual"] - by_frequency["expected"]), weights=by_frequency["members"])
        ),
    }
    return HoldoutEvaluation(by_frequency, error)


BASELINES = ("historic rate", "historic frequency")


@dataclass(frozen=True)
class BaselineComparison:
    """A model's holdout predictions beside two naive baselines, per member.

    * ``historic rate`` — the member's repeat purchases per unit of their calibration age,
      times the holdout length (spend: times their mean repeat spend);
    * ``historic frequency`` — the member's calibration repeat purchases as they are (spend:
      their average order value times that frequency).

    Attributes
    ----------
    errors
        One row per predictor and measure (``orders``, ``spend``): ``mae``, ``rmse`` and ``bias``
        (mean predicted minus actual) per member, and ``total_error_pct``.
    deciles
        Per tenth of the model's predicted holdout orders (1 = highest): members and the mean
        actual and predicted orders of each predictor.
    best
        Per measure, the predictor with the lowest mean absolute error per member.
    """

    errors: pd.DataFrame
    deciles: pd.DataFrame
    best: dict[str, str]

    def to_dict(self) -> dict[str, Any]:
        return {
            "errors": self.errors.to_dict(orient="records"),
            "deciles": self.deciles.to_dict(orient="records"),
            "best": dict(self.best),
        }


def compare_with_baselines(
    model: TransactionModel,
    summary: ir.Table | pd.DataFrame,
    spend_model: BaseModel | None = None,
    *,
    deciles: int = 10,
) -> BaselineComparison:
    """Holdout errors of ``model`` (and ``spend_model``'s expected spend per order) beside the
    two baselines of :class:`BaselineComparison`, computed in the engine: the model's expected
    holdout purchases once per distinct history, joined back to the members."""
    model._check_fitted()
    deciles = int(check_number(deciles, "deciles", "compare_with_baselines", low=1, integer=True))
    table, _ = as_table(summary)
    missing = [c for c in (*SUMMARY_COLUMNS, *HOLDOUT_COLUMNS, "spend_holdout") if c not in table.columns]
    if missing:
        raise InputError(
            f"the summary has no holdout column(s) {missing}",
            "build it with summarise_purchases(orders, calibration_end=DATE)",
        )
    keys = [*SUMMARY_COLUMNS, "duration_holdout"]

    def expected(frame: pd.DataFrame) -> pd.DataFrame:
        x, t_x, T, duration = (frame[c].to_numpy(dtype=float) for c in keys)
        return pd.DataFrame({"_model_orders": model.expected_purchases(duration, x, t_x, T)})

    members = join_to_members(table, combination_table(table, keys, expected), keys)
    x = members.frequency.cast("float64")
    rate = ibis.ifelse(members["T"] > 0, x / members["T"].cast("float64"), 0.0)
    mean_spend = ibis.ifelse(members.frequency > 0, members.monetary_value.cast("float64"), 0.0)
    name = model.title or model.model_name
    orders = {
        name: members._model_orders,
        BASELINES[0]: rate * members.duration_holdout.cast("float64"),
        BASELINES[1]: x,
    }
    actual_orders = members.frequency_holdout.cast("float64")
    actual_spend = members.spend_holdout.cast("float64")
    spend: dict[str, ir.FloatingValue] = {}
    if spend_model is not None:
        spend_name = f"{name} + {spend_model.title or spend_model.model_name}"
        spend = {
            spend_name: members._model_orders * spend_model.expected_spend_expression(members),
            BASELINES[0]: orders[BASELINES[0]] * mean_spend,
            BASELINES[1]: x * mean_spend,
        }
    predictors = [("orders", label, value, actual_orders) for label, value in orders.items()]
    predictors += [("spend", label, value, actual_spend) for label, value in spend.items()]
    errors = _errors(members, predictors)
    best = {
        measure: str(part.sort_values(["mae", "predictor"], kind="stable").predictor.iloc[0])
        for measure, part in errors.groupby("measure", sort=True)
    }
    return BaselineComparison(errors, _deciles(members, orders, actual_orders, deciles), best)


def _errors(members: ir.Table, predictors: list[tuple[str, str, ir.FloatingValue, ir.FloatingValue]]) -> pd.DataFrame:
    """Per-member error measures of each ``(measure, predictor, value, actual)``, aggregated in
    the engine in one pass over the members."""
    sums: dict[str, ir.Scalar] = {"members": members.count()}
    for k, (_, _, value, actual) in enumerate(predictors):
        gap = value - actual
        sums |= {
            f"mae{k}": gap.abs().mean(),
            f"mse{k}": (gap * gap).mean(),
            f"bias{k}": gap.mean(),
            f"predicted{k}": value.sum(),
            f"actual{k}": actual.sum(),
        }
    row = members.aggregate(**sums).execute().iloc[0]
    rows = []
    for k, (measure, predictor, _, _) in enumerate(predictors):
        actual_total = float(row[f"actual{k}"])
        predicted = float(row[f"predicted{k}"])
        rows.append(
            {
                "measure": measure,
                "predictor": predictor,
                "members": int(row.members),
                "mae": float(row[f"mae{k}"]),
                "rmse": float(np.sqrt(max(float(row[f"mse{k}"]), 0.0))),
                "bias": float(row[f"bias{k}"]),
                "total_error_pct": 100.0 * (predicted - actual_total) / actual_total if actual_total else float("nan"),
            }
        )
    return pd.DataFrame(rows)


def _deciles(
    members: ir.Table, orders: dict[str, ir.FloatingValue], actual: ir.FloatingValue, deciles: int
) -> pd.DataFrame:
    """Mean actual and predicted holdout orders per tenth of the model's prediction (highest
    first; ties by customer id, so every engine cuts the same)."""
    model_name = next(iter(orders))
    columns = {f"_p{k}": value for k, value in enumerate(orders.values())}
    ranked = members.mutate(_actual=actual, **columns)
    ranked = ranked.mutate(
        decile=ibis.ntile(deciles).over(order_by=[ibis.desc("_p0"), "customer_id"]) + 1
        if "customer_id" in members.columns
        else ibis.ntile(deciles).over(order_by=[ibis.desc("_p0"), *SUMMARY_COLUMNS]) + 1
    )
    frame = (
        ranked.group_by("decile")
        .aggregate(members=ibis._.count(), actual=ibis._._actual.mean(), **{c: ibis._[c].mean() for c in columns})
        .order_by("decile")
        .execute()
    )
    names = dict(zip(columns, orders, strict=True))
    frame = frame.rename(columns=names)
    return frame[["decile", "members", "actual", model_name, *(n for n in orders if n != model_name)]]


def track_cumulative_purchases(
    model: TransactionModel,
    orders: ir.Table,
    *,
    calibration_end: str | _dt.date,
    observation_end: str | _dt.date | None = None,
    step: str = "W",
    convention: str = "memberlens",
) -> pd.DataFrame:
    """Cumulative repeat purchases of the calibration cohort, actual vs expected, per ``step``.

    ``convention`` says how old a member is at the end of a period: ``"memberlens"`` counts the
    days after the first purchase day that the period end includes (first bought on day f, the
    end of week j is day 7j - 1: 7j - 1 - f days); ``"btyd"`` counts 7j - f, as BTYD, lifetimes
    and pymc-marketing do, which gives slightly higher expected curves (on CDNOW's cumulative
    curve +2.6 % at week 11, +0.3 % at week 39, +0.1 % at week 78).

    The cohort is every member whose first purchase is on or before ``calibration_end``; a repeat
    purchase is a purchase day after the member's first. The expectation sums the model's
    ``E[X(t)]`` over the cohort's first-purchase days (Fader, Hardie & Lee 2005, figure 2).

    Returns a frame with ``period_end`` (date), ``actual``, ``expected`` (repeat purchases in the
    period), ``actual_cumulative``, ``expected_cumulative`` and ``holdout`` (bool).
    """
    model._check_fitted()
    convention = check_choice(convention, "convention", "track_cumulative_purchases", TRACKING_CONVENTIONS)
    unit = TimeUnit.parse(model.time_unit)
    step_unit = TimeUnit.parse(step)
    cal_end = parse_date(calibration_end, "calibration_end")
    end = parse_date(observation_end, "observation_end")
    if end is None:
        end = pd.Timestamp(orders.ordered_at.max().execute()).date()
    day = orders.ordered_at.date()
    daily = orders.filter(day <= ibis.literal(end)).select(customer_id=orders.customer_id, day=day).distinct()
    firsts = daily.group_by("customer_id").aggregate(first_day=daily.day.min())
    cohort = firsts.filter(firsts.first_day <= ibis.literal(cal_end))
    cohort_sizes = cohort.group_by("first_day").aggregate(members=cohort.count()).execute()
    repeat = daily.join(cohort, "customer_id")
    repeat = repeat.filter(repeat.day > repeat.first_day)
    repeat_days = repeat.group_by("day").aggregate(purchases=repeat.count()).execute()

    start = pd.Timestamp(cohort_sizes["first_day"].min()).date()
    n_steps = int(np.ceil(((end - start).days + 1) / step_unit.days))
    period_ends = [start + _dt.timedelta(days=int(round((k + 1) * step_unit.days)) - 1) for k in range(n_steps)]
    period_ends[-1] = min(period_ends[-1], end)
    first_days = np.array([(pd.Timestamp(d).date() - start).days for d in cohort_sizes["first_day"]], dtype=float)
    members = cohort_sizes["members"].to_numpy(dtype=float)
    expected_cum = []
    for pe in period_ends:
        age_days = (pe - start).days + 1 - first_days  # days observed after each first-purchase day
        t = np.clip(age_days - (1 if convention == "memberlens" else 0), 0.0, None) / unit.days
        expected_cum.append(float(members @ model.expected_purchases(t)))
    repeat_days["offset"] = [(pd.Timestamp(d).date() - start).days for d in repeat_days["day"]]
    bucket = np.minimum((repeat_days["offset"].to_numpy() // step_unit.days).astype(int), n_steps - 1)
    actual = np.bincount(bucket, repeat_days["purchases"].to_numpy(dtype=float), n_steps)
    expected_cum_arr = np.array(expected_cum)
    return pd.DataFrame(
        {
            "period_end": period_ends,
            "actual": actual,
            "expected": np.diff(expected_cum_arr, prepend=0.0),
            "actual_cumulative": np.cumsum(actual),
            "expected_cumulative": expected_cum_arr,
            "holdout": [pe > cal_end for pe in period_ends],
        }
    )


def tracking_error(tracking: pd.DataFrame) -> dict[str, float]:
    """Summary of a tracking curve: mean absolute percentage error of the cumulative curve in the
    holdout, and the error of the final cumulative count."""
    hold = tracking[tracking["holdout"]]
    if hold.empty:
        return {"holdout_mape_cumulative_pct": float("nan"), "final_error_pct": float("nan")}
    actual = hold["actual_cumulative"].to_numpy(dtype=float)
    expected = hold["expected_cumulative"].to_numpy(dtype=float)
    ok = actual > 0
    return {
        "holdout_mape_cumulative_pct": float(100 * np.mean(np.abs(expected[ok] - actual[ok]) / actual[ok])),
        "final_error_pct": float(100 * (expected[-1] - actual[-1]) / actual[-1]) if actual[-1] else float("nan"),
    }


def compare_models(summary: ir.Table | pd.DataFrame, models: Sequence[BaseModel]) -> pd.DataFrame:
    """Fit (if needed) each model on ``summary`` and compare log-likelihood, AIC and BIC.

    Lower BIC is better; models must be fitted on the same summary to be comparable.
    """
    rows = []
    for model in models:
        if not model.is_fitted:
            model.fit(summary)
        rows.append(
            {
                "model": model.model_name,
                "parameters": len(model.param_names),
                "log_likelihood": model.log_likelihood_,
                "aic": model.aic_,
                "bic": model.bic_,
                "members": model.n_members_,
            }
        )
    return pd.DataFrame(rows).sort_values("bic", kind="stable").reset_index(drop=True)


__all__ = [
    "BASELINES",
    "BaselineComparison",
    "HoldoutEvaluation",
    "compare_models",
    "compare_with_baselines",
    "evaluate_holdout",
    "track_cumulative_purchases",
    "tracking_error",
]
