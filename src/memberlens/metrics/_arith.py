"""Arithmetic that behaves the same on every engine."""

from __future__ import annotations

import ibis.expr.types as ir


def ratio(part: ir.NumericValue, whole: ir.NumericValue) -> ir.FloatingValue:
    """``part / whole`` as a float, null when ``whole`` is zero or null (Spark with ANSI on
    raises on a division by zero, DuckDB returns infinity: neither is a rate)."""
    return part.cast("float64") / whole.cast("float64").nullif(0.0)


#: money is summed in whole millionths of the currency unit
MICROS_PER_UNIT = 1_000_000


def micros(amount: ir.NumericValue) -> ir.IntegerValue:
    """An amount as a whole number of millionths (amounts are kept to 6 decimals)."""
    return (amount.cast("float64") * MICROS_PER_UNIT).round().cast("int64")


def money(micro_total: ir.IntegerValue) -> ir.FloatingValue:
    """A whole number of millionths back as an amount."""
    return micro_total.cast("float64") / MICROS_PER_UNIT


def money_sum(amount: ir.NumericValue, where: ir.BooleanValue | None = None) -> ir.FloatingValue:
    """The exact sum of amounts (to 6 decimals), the same whatever order the rows come in.

    Engines add floats in whatever order their threads meet the rows, and the last bits of a
    float sum differ with it (27.4 or 27.400000000000002): two ingests of the same orders ranked
    customers of equal spend differently in ABC, trained different churn trees (bins are cut at
    such values), and DuckDB and Spark printed a median order as 58.11 and 58.12. Sums of whole
    millionths are exact integers (to 9 trillion currency units), so every ranking, score and
    export is a function of the data. Use :func:`micros` and :func:`money` around window sums."""
    return money(micros(amount).sum(where=where))
