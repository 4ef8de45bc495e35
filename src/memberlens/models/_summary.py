"""From orders to the buy-till-you-die summary: frequency, recency, T and spend per member.

Everything here builds Ibis expressions that run in the engine; only
:func:`compress_summary` brings data to NumPy, and then only the distinct combinations of the
columns a model needs, with how many members share each (``weight``).

Definitions (Fader, Hardie & Lee 2005), with same-day orders merged into one purchase occasion:

``frequency``
    repeat purchase occasions: distinct purchase days after the first, up to the end of the
    (calibration) period.
``recency``
    time from the first to the last purchase day, in the time unit (0 for one-time buyers).
``T``
    the member's age: time from the first purchase day to the end of the period. The end date
    itself is included in the period and ``T`` is measured to it, so a member who first bought on
    1997-01-01 has ``T = 272 days = 38.86 weeks`` at an end of 1997-09-30 (the CDNOW figures).
``monetary_value``
    mean spend of the repeat purchase days (the first day's spend excluded; 0 for one-time buyers),
    what the Gamma-Gamma model uses.

With ``discrete=True`` time is counted in whole periods from each member's first purchase day
(period ``k`` covers days ``[k·unit, (k+1)·unit)``), as BG/BB needs: ``frequency`` is the number of
later periods with a purchase, ``recency`` the last of them, ``T`` the number of whole periods
observed after the first.
"""

from __future__ import annotations

import datetime as _dt
import re
from collections.abc import Sequence
from dataclasses import dataclass

import ibis
import ibis.expr.types as ir
import pandas as pd

from memberlens.errors import ConfigError, InputError
from memberlens.metrics._arith import micros, money

_UNIT_DAYS = {"D": 1.0, "W": 7.0, "M": 365.25 / 12, "Q": 365.25 / 4, "Y": 365.25}
_UNIT_PATTERN = re.compile(r"^\s*(\d+(?:\.\d+)?)?\s*([DWMQY])\s*$", re.IGNORECASE)

SUMMARY_COLUMNS = ("frequency", "recency", "T")
WEIGHT = "weight"


@dataclass(frozen=True)
class TimeUnit:
    """A time unit: ``D`` (day), ``W`` (week), ``M`` (365.25/12 days), ``Q``, ``Y`` (365.25 days),
    optionally with a multiple (``2W``, ``14D``)."""

    code: str
    days: float

    @classmethod
    def parse(cls, value: str | TimeUnit) -> TimeUnit:
        if isinstance(value, TimeUnit):
            return value
        match = _UNIT_PATTERN.match(str(value)) if isinstance(value, str) else None
        if not match:
            raise ConfigError(
                f"The 'time_unit' parameter must be a str among D, W, M, Q, Y with an optional multiple (e.g. '2W'). "
                f"Got {value!r} instead.",
                "use W for weeks, D for days",
            )
        multiple = float(match.group(1)) if match.group(1) else 1.0
        if multiple <= 0:
            raise ConfigError(f"The 'time_unit' multiple must be positive. Got {value!r} instead.")
        letter = match.group(2).upper()
        code = letter if multiple == 1 else f"{match.group(1)}{letter}"
        return cls(code, multiple * _UNIT_DAYS[letter])


def parse_date(value: str | _dt.date | None, name: str) -> _dt.date | None:
    """A date argument given as ``YYYY-MM-DD`` text, a date or a datetime."""
    if value is None:
        return None
    if isinstance(value, _dt.datetime):
        return value.date()
    if isinstance(value, _dt.date):
        return value
    try:
        return _dt.date.fromisoformat(str(value).strip())
    except ValueError:
        raise ConfigError(
            f"The '{name}' parameter must be a date as YYYY-MM-DD. Got {value!r} instead.", "e.g. 1997-09-30"
        ) from None


def _require_columns(table: ir.Table, columns: Sequence[str], what: str) -> None:
    missing = [c for c in columns if c not in table.columns]
    if missing:
        raise InputError(
            f"{what} has no column(s) {missing}; columns: {list(table.columns)}",
            "build it with summarise_purchases(orders) or map your columns onto these names",
        )


def summarise_purchases(
    orders: ir.Table,
    *,
    time_unit: str | TimeUnit = "W",
    observation_end: str | _dt.date | None = None,
    calibration_end: str | _dt.date | None = None,
    discrete: bool = False,
) -> ir.Table:
    """Per member: frequency, recency, T and mean repeat spend, as an Ibis expression.

    Parameters
    ----------
    orders
        The canonical ``orders`` table (``customer_id``, ``ordered_at``, ``amount``), any engine.
    time_unit
        Unit of ``recency`` and ``T``: ``D``, ``W`` (default), ``M``, ``Q``, ``Y``, or a multiple
        such as ``2W``.
    observation_end
        Last day observed (inclusive). Default: the day of the last order. Orders after it are
        ignored.
    calibration_end
        Split the history here (inclusive): the summary describes the calibration period up to
        this day, and adds the holdout columns ``frequency_holdout`` (purchase days in the
        holdout), ``spend_holdout``, ``monetary_value_holdout`` and ``duration_holdout`` for the
        period ``(calibration_end, observation_end]``. Members whose first purchase is after
        ``calibration_end`` are not in the summary.
    discrete
        Count time in whole periods of ``time_unit`` from each member's first purchase (BG/BB).

    Returns
    -------
    ibis.Table
        One row per member: ``customer_id``, ``frequency`` (int64), ``recency``, ``T`` (float64),
        ``monetary_value``, ``total_spend`` (all spend in the period, first day included),
        ``first_order_date``, ``last_order_date`` (dates), and the holdout columns when asked.
    """
    unit = TimeUnit.parse(time_unit)
    _require_columns(orders, ("customer_id", "ordered_at", "amount"), "the orders table")
    end = parse_date(observation_end, "observation_end")
    cal_end = parse_date(calibration_end, "calibration_end")
    observed_to_last_order = end is None
    if end is None:
        last = orders.ordered_at.max().execute()
        if last is None or pd.isna(last):
            raise InputError("the orders table is empty", "ingest orders first: memberlens ingest ORDERS_FILE")
        end = pd.Timestamp(last).date()
    if cal_end is not None and cal_end >= end:
        raise ConfigError(
            f"The 'calibration_end' parameter must be before the observation end {end}. Got {cal_end} instead.",
            "choose a calibration end that leaves a holdout period",
        )
    period_end = cal_end or end

    day = orders.ordered_at.date()
    known = orders.customer_id.notnull()
    if not observed_to_last_order:  # with the default end every order is observed: no filter needed
        known = known & (day <= ibis.literal(end))
    # spend stays in whole millionths (exact integers) until the per-member sums are made
    daily = (
        orders.filter(known)
        .group_by(customer_id=orders.customer_id, day=day)
        .aggregate(spend=micros(orders.amount).sum().fill_null(0))
    )
    cal = daily.filter(daily.day <= ibis.literal(period_end)) if cal_end is not None else daily
    per = cal.group_by("customer_id").aggregate(
        first_order_date=cal.day.min(),
        last_order_date=cal.day.max(),
        days=cal.count(),
        total_spend=money(cal.spend.sum()),
        first_spend=money(_value_at_min(cal.spend, cal.day, _backend_name(orders))),
    )
    age_days = ibis.literal(period_end).delta(per.first_order_date, unit="day")
    span_days = per.last_order_date.delta(per.first_order_date, unit="day")
    if discrete:
        summary = _discrete_summary(cal, per, unit, age_days)
    else:
        frequency = (per.days - 1).cast("int64")
        summary = per.select(
            "customer_id",
            frequency=frequency,
            recency=span_days.cast("float64") / unit.days,
            T=age_days.cast("float64") / unit.days,
            monetary_value=ibis.ifelse(
                frequency > 0, (per.total_spend - per.first_spend) / frequency.cast("float64"), 0.0
            ),
            total_spend=per.total_spend,
            first_order_date=per.first_order_date,
            last_order_date=per.last_order_date,
        )
    if cal_end is None:
        return summary
    hold = daily.filter(daily.day > ibis.literal(cal_end))
    hold = hold.group_by("customer_id").aggregate(frequency_holdout=hold.count(), spend_holdout=money(hold.spend.sum()))
    joined = summary.left_join(hold, "customer_id")
    n_hold = joined.frequency_holdout.fill_null(0).cast("int64")
    spend_hold = joined.spend_holdout.fill_null(0.0)
    duration = (end - cal_end).days / unit.days
    if discrete:
        duration = float(int(duration))
    return joined.select(
        *summary.columns,
        frequency_holdout=n_hold,
        spend_holdout=spend_hold,
        monetary_value_holdout=ibis.ifelse(n_hold > 0, spend_hold / n_hold.cast("float64"), 0.0),
        duration_holdout=ibis.literal(duration, type="float64"),
    )


# The value at the smallest key, as the engine's own aggregate where Ibis would otherwise compile an
# ordered aggregate (``first(value ORDER BY key)``), which is twice as slow on DuckDB.
_ARG_MIN_BUILTINS = {"duckdb": "arg_min", "pyspark": "min_by", "trino": "min_by", "clickhouse": "argMin"}


def _backend_name(table: ir.Table) -> str | None:
    try:
        return table._find_backend().name
    except Exception:  # noqa: BLE001 - an unbound table: use the portable form
        return None


def _value_at_min(value: ir.Column, key: ir.Column, backend: str | None) -> ir.Scalar:
    name = _ARG_MIN_BUILTINS.get(backend or "")
    if name is None:
        return value.argmin(key)

    @ibis.udf.agg.builtin(name=name)
    def value_at_min(value: int, key: _dt.date) -> int:  # type: ignore[empty-body]
        ...

    return value_at_min(value, key)


def _discrete_summary(cal: ir.Table, per: ir.Table, unit: TimeUnit, age_days: ir.IntegerValue) -> ir.Table:
    """Whole periods since each member's first purchase day (BG/BB's transaction opportunities)."""
    per = per.mutate(T=(age_days.cast("float64") / unit.days).floor())
    joined = cal.join(per.select("customer_id", "first_order_date"), "customer_id")
    offset = joined.day.delta(joined.first_order_date, unit="day").cast("float64")
    periods = joined.select("customer_id", "spend", period=(offset / unit.days).floor().cast("int64"))
    periods = periods.group_by("customer_id", "period").aggregate(spend=periods.spend.sum())
    later = periods.period > 0
    counts = periods.group_by("customer_id").aggregate(
        frequency=later.cast("int64").sum(),
        recency=periods.period.max(),
        repeat_spend=money(periods.spend.sum(where=later)),
    )
    out = per.join(counts, "customer_id")
    frequency = out.frequency.cast("int64")
    return out.select(
        "customer_id",
        frequency=frequency,
        recency=out.recency.cast("float64"),
        T=out.T,
        monetary_value=ibis.ifelse(frequency > 0, out.repeat_spend.fill_null(0.0) / frequency.cast("float64"), 0.0),
        total_spend=out.total_spend,
        first_order_date=out.first_order_date,
        last_order_date=out.last_order_date,
    )


def compress_summary(
    summary: ir.Table | pd.DataFrame,
    columns: Sequence[str] = SUMMARY_COLUMNS,
    *,
    where: ir.BooleanValue | None = None,
) -> pd.DataFrame:
    """The distinct combinations of ``columns`` with the number of members sharing each.

    The grouping runs in the engine (or in pandas for a pandas frame); only the distinct
    combinations come back, as a pandas frame with ``columns`` plus ``weight``, sorted by
    ``columns``. A ``weight``
    column already in ``summary`` (a summary that is itself compressed, such as a published
    recency/frequency matrix) is summed instead of counting rows.
    """
    columns = list(columns)
    if isinstance(summary, pd.DataFrame):
        _require_frame_columns(summary, columns)
        frame = summary
        if WEIGHT in frame.columns:
            grouped = frame.groupby(columns, sort=True, dropna=False)[WEIGHT].sum()
        else:
            grouped = frame.groupby(columns, sort=True, dropna=False).size()
        return grouped.rename(WEIGHT).reset_index()
    if not isinstance(summary, ir.Table):
        raise InputError(
            f"expected an Ibis table or a pandas DataFrame of the purchase summary, got {type(summary).__name__}",
            "build it with summarise_purchases(orders)",
        )
    _require_columns(summary, columns, "the purchase summary")
    table = summary.filter(where) if where is not None else summary
    weight = table[WEIGHT].sum() if WEIGHT in table.columns else table.count()
    # A parallel engine returns the combinations in any order; sorted (the combinations are
    # distinct, so the order is total) the likelihood is summed in one order and a fit takes the
    # same path on every run and engine.
    return table.group_by(columns).aggregate(**{WEIGHT: weight}).order_by(columns).execute()


def _require_frame_columns(frame: pd.DataFrame, columns: Sequence[str]) -> None:
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise InputError(
            f"the purchase summary has no column(s) {missing}; columns: {list(frame.columns)}",
            "build it with summarise_purchases(orders) or rename your columns to frequency, recency, T",
        )


__all__ = ["SUMMARY_COLUMNS", "TimeUnit", "compress_summary", "parse_date", "summarise_purchases"]
