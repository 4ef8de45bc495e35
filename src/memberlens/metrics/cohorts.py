"""Acquisition-cohort retention matrices (product.md B).

Customers are grouped by the period of their first order (the cohort). For each cohort and
period number ``k`` (0 = the acquisition period) the matrix holds customers (or revenue)
active in period ``k`` — or, with ``cumulative=True``, in ``k`` or any later period — and the
retention relative to period 0 or to the previous period number.

The long format has a row for every cell of the triangle and beyond: a cell that cannot be
observed yet (its period is after the last period of the data) has ``observable = False`` and
null values, which is not the same as an observed zero.
"""

from __future__ import annotations

from typing import Literal

import ibis
import ibis.expr.types as ir

from memberlens.errors import ConfigError
from memberlens.metrics._activity import customer_periods
from memberlens.metrics._arith import money_sum, ratio
from memberlens.metrics._periods import Period, check_period, period_start

Measure = Literal["customers", "revenue"]


def build_retention_cohorts(
    orders: ir.Table,
    period: Period = "month",
    *,
    measure: Measure = "customers",
    cumulative: bool = False,
    relative_to: Literal["first", "previous"] = "first",
) -> ir.Table:
    """``cohort_start, period_number, cohort_size, value, retention, observable`` per cell."""
    period = check_period(period)
    if measure not in ("customers", "revenue"):
        raise ConfigError(f"The 'measure' parameter must be 'customers' or 'revenue'. Got {measure!r} instead.")
    if relative_to not in ("first", "previous"):
        raise ConfigError(f"The 'relative_to' parameter must be 'first' or 'previous'. Got {relative_to!r} instead.")
    activity = customer_periods(orders, period)
    activity = activity.mutate(period_number=activity.period - activity.first_period)
    cells = _point_values(activity, measure, cumulative)
    grid = _cohort_grid(activity)
    joined = grid.left_join(cells, (grid.cohort == cells.cohort) & (grid.period_number == cells.period_number)).select(
        grid.cohort, grid.period_number, grid.observable, value=cells.value.fill_null(0).cast("float64")
    )
    if cumulative:  # k or later: a running sum from the last period number down
        later = ibis.window(group_by=joined.cohort, order_by=joined.period_number.desc(), preceding=None, following=0)
        joined = joined.mutate(value=joined.value.sum().over(later))
    joined = joined.mutate(value=ibis.ifelse(joined.observable, joined.value, ibis.null("float64")))
    by_cohort = ibis.window(group_by=joined.cohort, order_by=joined.period_number)
    base = joined.value.first().over(by_cohort) if relative_to == "first" else joined.value.lag().over(by_cohort)
    size = joined.value.first().over(by_cohort)
    return joined.select(
        cohort_start=period_start(joined.cohort, period),
        period_number=joined.period_number,
        cohort_size=size,
        value=joined.value,
        retention=ratio(joined.value, base),
        observable=joined.observable,
    ).order_by(["cohort_start", "period_number"])


def _point_values(activity: ir.Table, measure: Measure, cumulative: bool) -> ir.Table:
    """Per (cohort, period number): customers active then, or — for the cumulative customer
    count — customers whose last active period number it is; revenue in that period."""
    if measure == "revenue":
        return activity.group_by(cohort=activity.first_period, period_number=activity.period_number).aggregate(
            value=money_sum(activity.revenue)
        )
    if not cumulative:
        return activity.group_by(cohort=activity.first_period, period_number=activity.period_number).aggregate(
            value=activity.count()
        )
    last = activity.group_by(["customer_id", "first_period"]).aggregate(last_number=activity.period_number.max())
    return last.group_by(cohort=last.first_period, period_number=last.last_number).aggregate(value=last.count())


def _cohort_grid(activity: ir.Table) -> ir.Table:
    """Every (cohort, period number) from 0 to the longest possible span; observable when the
    cell's period is not after the last period of the data."""
    bounds = activity.aggregate(first=activity.period.min(), last=activity.period.max())
    cohorts = activity.select(cohort=activity.first_period).distinct()
    numbers = bounds.select(period_number=ibis.range(0, bounds["last"] - bounds["first"] + 1).unnest())
    grid = cohorts.cross_join(numbers).cross_join(bounds.select("last"))
    return grid.select("cohort", "period_number", observable=grid.cohort + grid.period_number <= grid["last"])
