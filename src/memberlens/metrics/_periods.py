"""Calendar periods as integers, so "the previous period" is ``index - 1`` on every engine.

``period_index`` numbers days from 1970-01-01, weeks (Monday to Sunday) from Monday 1970-01-05,
months as ``year * 12 + month - 1`` and quarters as ``year * 4 + quarter - 1``;
``period_start`` turns an index back into the period's first day.
"""

from __future__ import annotations

from typing import Literal

import ibis
import ibis.expr.types as ir

from memberlens.errors import ConfigError

Period = Literal["day", "week", "month", "quarter"]
PERIODS: tuple[str, ...] = ("day", "week", "month", "quarter")
_DAY_ZERO = "1970-01-01"
_MONDAY_ZERO = "1970-01-05"


def check_period(period: str) -> Period:
    if period not in PERIODS:
        raise ConfigError(f"The 'period' parameter must be one of {list(PERIODS)}. Got {period!r} instead.")
    return period  # type: ignore[return-value]


def day_number(ts: ir.Value) -> ir.IntegerValue:
    """Whole days since 1970-01-01 of a timestamp or date."""
    date = ts.date() if ts.type().is_timestamp() else ts
    return date.delta(ibis.date(_DAY_ZERO), unit="day")


def period_index(ts: ir.Value, period: Period) -> ir.IntegerValue:
    """The period a timestamp falls in, as an integer."""
    if period == "day":
        return day_number(ts)
    if period == "week":
        date = ts.date() if ts.type().is_timestamp() else ts
        return date.delta(ibis.date(_MONDAY_ZERO), unit="day") // 7
    if period == "month":
        return ts.year() * 12 + ts.month() - 1
    return ts.year() * 4 + ts.quarter() - 1


def period_start(index: ir.IntegerValue, period: Period) -> ir.DateValue:
    """The first day of the period numbered ``index``."""
    if period == "day":
        return ibis.date(_DAY_ZERO) + index.as_interval("D")
    if period == "week":
        return ibis.date(_MONDAY_ZERO) + (index * 7).as_interval("D")
    if period == "month":
        return ibis.date(index // 12, index % 12 + 1, 1)
    return ibis.date(index // 4, (index % 4) * 3 + 1, 1)


def period_spine(table: ir.Table, column: str = "period") -> ir.Table:
    """One row per period index from the smallest to the largest ``table[column]``, empty
    periods included, as a table with the single column ``column``."""
    bounds = table.aggregate(first=table[column].min(), last=table[column].max())
    return bounds.select(ibis.range(bounds["first"], bounds["last"] + 1).unnest().name(column))
