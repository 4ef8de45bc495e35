"""Predicted member value, one row per member (:func:`predict_member_value`): the purchase
model's predictions computed once per distinct combination and joined back in the engine
(:mod:`memberlens.models._combinations`); Gamma-Gamma's expected spend is a closed form of
(frequency, mean spend) and is computed in the engine directly.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import ibis
import ibis.expr.types as ir
import numpy as np
import pandas as pd

from memberlens.errors import ConfigError
from memberlens.models._base import BaseModel, TransactionModel
from memberlens.models._combinations import as_table, combination_table, join_to_members
from memberlens.models._histories import Histories
from memberlens.models._intervals import (
    check_level,
    log_parameter_covariance,
    order_range_of,
    parameter_intervals,
    spend_log_standard_error,
    z_score,
)
from memberlens.models._summary import TimeUnit
from memberlens.parameters import check_number

DAYS_PER_YEAR = 365.25
MAX_WAIT_DAYS = 36_525  # a next order expected more than 100 years out is reported as null


def _label(days: float) -> str:
    return f"{int(days)}d" if float(days).is_integer() else f"{days:g}d".replace(".", "_")


def predict_member_value(
    summary: ir.Table | pd.DataFrame,
    model: TransactionModel,
    spend_model: BaseModel | None = None,
    *,
    horizons: Sequence[float] = (7, 30, 90, 365),
    probability_horizon: float = 30,
    no_order_horizon: float = 90,
    clv_horizon: float = 365,
    discount_rate: float = 0.10,
    interval: float | None = None,
    combinations: pd.DataFrame | None = None,
) -> ir.Table | pd.DataFrame:
    """Predicted member value, one row per member.

    Parameters
    ----------
    summary
        From :func:`summarise_purchases` with the model's time unit (Ibis table or pandas).
    model
        A fitted purchase model (BG/NBD, MBG/NBD, Pareto/NBD, BG/BB).
    spend_model
        A fitted :class:`GammaGammaModel`; without it the value columns are left out.
    horizons
        Days for ``expected_orders_<h>d`` (a discrete-period model counts whole periods).
    probability_horizon
        Days for ``probability_order_<h>d``, P(at least one order).
    no_order_horizon
        Days for ``probability_no_order_<h>d``, P(no order at all): churn defined as "no purchase
        in the next h days".
    clv_horizon, discount_rate
        Residual CLV: expected spend over ``clv_horizon`` days, month by month, discounted at
        ``discount_rate`` a year.
    interval
        With a level (e.g. 0.9), per-member intervals (:mod:`memberlens.models._intervals`):
        ``predicted_orders``, ``probability_alive`` and ``predicted_clv`` each get ``_low`` and
        ``_high`` from the parameters' uncertainty, and ``orders_range_low`` / ``_high`` say
        where the member's own number of orders in the next 365 days should fall.
    combinations
        The summary's distinct combinations of the model's columns, as
        :func:`compress_summary` gives them, when the caller has them already (as
        :func:`fit_member_value` does): the members are not grouped again.

    Returns
    -------
    One row per member with the summary's columns and:

    ``probability_alive``, ``churn_probability``
        P(still a customer) at the end of the period, and 1 minus it.
    ``expected_orders_<h>d``, ``probability_order_<h>d``, ``probability_no_order_<h>d``
        Expected purchase occasions in the next h days; P(at least one); P(none).
    ``probability_alive_next_period``
        Discrete-period models (BG/BB): P(still a customer at the next opportunity).
    ``predicted_orders``
        Expected orders in the next 365 days (Klaviyo's "predicted number of orders").
    ``next_order_date``
        The day by which a member who stays active is as likely as not to have ordered again
        (null for discrete-period models and beyond 100 years).
    ``historic_orders``, ``historic_clv``, ``average_order_value``, ``average_days_between_orders``
        From the history: purchase days, total spend, spend per purchase day, days between
        purchases (null for a one-order member).
    ``expected_order_value``, ``predicted_clv``, ``total_clv``, ``residual_clv``
        With a spend model: the next order's expected value, predicted spend over 365 days
        (undiscounted), historic + predicted, and the discounted residual CLV.
    ``predicted_orders_low`` ... ``orders_range_high``, ``next_order_date_low`` / ``_high``
        With ``interval``: the intervals above, and the days between which the next order of a
        member who stays active falls with that probability.
    """
    model._check_fitted()
    if not isinstance(model, TransactionModel):
        raise ConfigError(
            f"The 'model' parameter of predict_member_value must be a fitted purchase model "
            f"(BetaGeoModel, ModifiedBetaGeoModel, ParetoNBDModel, BetaGeoBetaBinomModel). Got {type(model).__name__} instead."
        )
    if spend_model is not None:
        spend_model._check_fitted()
    horizons = [check_number(h, "horizons", "predict_member_value", low=0.0, low_open=True) for h in horizons]
    probability_horizon = check_number(
        probability_horizon, "probability_horizon", "predict_member_value", low=0.0, low_open=True
    )
    no_order_horizon = check_number(
        no_order_horizon, "no_order_horizon", "predict_member_value", low=0.0, low_open=True
    )
    clv_horizon = check_number(clv_horizon, "clv_horizon", "predict_member_value", low=0.0, low_open=True)
    discount_rate = check_number(discount_rate, "discount_rate", "predict_member_value", low=0.0)
    if interval is not None:
        interval = check_level(interval, "predict_member_value")
        log_parameter_covariance(model)  # refuses, before any work, a fit without a covariance
        if spend_model is not None:
            log_parameter_covariance(spend_model)
    unit = TimeUnit.parse(model.time_unit)
    table, was_pandas = as_table(summary)
    columns = model.columns

    def purchases(frame: pd.DataFrame) -> pd.DataFrame:
        histories = Histories.from_arrays(*(frame[c].to_numpy(dtype=float) for c in columns))
        alive = histories.probability_alive(model)
        out: dict[str, Any] = {"probability_alive": alive, "churn_probability": 1.0 - alive}
        for h in horizons:
            out[f"expected_orders_{_label(h)}"] = histories.expected_purchases(model, h / unit.days, alive)
        out[f"probability_order_{_label(probability_horizon)}"] = 1.0 - histories.probability_of_purchases(
            model, 0, probability_horizon / unit.days, alive
        )
        out[f"probability_no_order_{_label(no_order_horizon)}"] = histories.probability_of_purchases(
            model, 0, no_order_horizon / unit.days, alive
        )
        if model.discrete:
            out["probability_alive_next_period"] = model.probability_alive_next_period(
                histories.x, histories.t_x, histories.T
            )
        year = 365.0 / unit.days
        out["predicted_orders"] = histories.expected_purchases(model, year, alive)
        if interval is not None:
            bounds = parameter_intervals(model, histories, out["predicted_orders"], alive, year, interval)
            out["predicted_orders_low"], out["predicted_orders_high"] = bounds.orders_low, bounds.orders_high
            out["_orders_log_se"] = bounds.orders_log_se
            out["probability_alive_low"], out["probability_alive_high"] = bounds.alive_low, bounds.alive_high
            out["orders_range_low"], out["orders_range_high"] = order_range_of(model, histories, alive, year, interval)
        out["discounted_orders"] = alive * _discounted_orders_alive(model, histories, unit, clv_horizon, discount_rate)
        waits = {"_wait_days": 0.5}
        if interval is not None:
            waits |= {"_wait_days_low": (1.0 - interval) / 2.0, "_wait_days_high": (1.0 + interval) / 2.0}
        for column, share in waits.items():
            wait_days = histories.wait_alive(model, share) * unit.days
            with np.errstate(invalid="ignore"):
                out[column] = np.where(np.isfinite(wait_days) & (wait_days <= MAX_WAIT_DAYS), wait_days, np.nan)
        return pd.DataFrame(out)

    result = join_to_members(table, combination_table(table, columns, purchases, combinations), columns)
    wait_columns = {"next_order_date": "_wait_days"}
    if interval is not None:
        wait_columns |= {"next_order_date_low": "_wait_days_low", "next_order_date_high": "_wait_days_high"}
    extra: dict[str, ir.Value] = {}
    for name, column in wait_columns.items():
        wait = result[column]
        if "first_order_date" in table.columns and not model.discrete:
            days_ahead = (result["T"] * unit.days + wait).round().cast("int64")
            extra[name] = ibis.ifelse(
                wait.isnull() | wait.isnan(),
                ibis.null("date"),
                (result.first_order_date + days_ahead.as_interval("D")).cast("date"),
            )
        else:
            extra[name] = ibis.null("date")
    frequency = result["frequency"]
    extra["historic_orders"] = (frequency + 1).cast("int64")
    if "total_spend" in table.columns:
        extra["historic_clv"] = result.total_spend
        extra["average_order_value"] = result.total_spend / (frequency + 1).cast("float64")
    extra["average_days_between_orders"] = ibis.ifelse(
        frequency > 0, result["recency"] * unit.days / frequency.cast("float64"), ibis.null("float64")
    )
    if spend_model is not None:
        # closed form, so computed in the engine row by row (mean spend is a float sum, which an
        # engine may round differently from run to run: no join on it)
        value = spend_model.expected_spend_expression(result)
        predicted = result.predicted_orders * value
        extra |= {
            "expected_order_value": value,
            "predicted_clv": predicted,
            "residual_clv": result.discounted_orders * value,
        }
        if "total_spend" in table.columns:
            extra["total_clv"] = result.total_spend + predicted
        if interval is not None:  # orders and spend per order estimated apart: their log errors add
            log_se = (result._orders_log_se**2 + spend_log_standard_error(spend_model, result) ** 2).sqrt()
            spread = (z_score(interval) * log_se).exp()
            extra["predicted_clv_low"] = predicted / spread
            extra["predicted_clv_high"] = predicted * spread
    # one projection (each further layer costs Ibis a compilation pass over every column)
    working = {*wait_columns.values(), "discounted_orders", "_orders_log_se"}
    result = result.select(*(c for c in result.columns if c not in working), **extra)
    return result.execute() if was_pandas else result


def _discounted_orders_alive(
    model: TransactionModel, histories: Histories, unit: TimeUnit, horizon_days: float, annual_rate: float
) -> np.ndarray:
    """For a member alive today, Σ over months of the expected orders in the month, discounted
    to today (per history: computed per (frequency, T) pair)."""
    months = max(1, math.ceil(horizon_days / (DAYS_PER_YEAR / 12) - 1e-9))
    ends = np.minimum(np.arange(1, months + 1) * (DAYS_PER_YEAR / 12), horizon_days)
    x, T = histories.pair_x, histories.pair_T
    previous = np.zeros_like(x)
    total = np.zeros_like(x)
    for end in ends:
        cumulative = model.expected_purchases_alive(end / unit.days, x, T)
        total += (cumulative - previous) / (1.0 + annual_rate) ** (end / DAYS_PER_YEAR)
        previous = cumulative
    return total[histories.pair]


__all__ = ["predict_member_value"]
