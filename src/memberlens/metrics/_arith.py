"""Arithmetic that behaves the same on every engine."""

from __future__ import annotations

import ibis.expr.types as ir


def ratio(part: ir.NumericValue, whole: ir.NumericValue) -> ir.FloatingValue:
    """``part / whole`` as a float, null when ``whole`` is zero or null (Spark with ANSI on
    raises on a division by zero, DuckDB returns infinity: neither is a rate)."""
    return part.cast("float64") / whole.cast("float64").nullif(0.0)


def money_total(total: ir.FloatingValue) -> ir.FloatingValue:
    """A sum of amounts to 6 decimals. Engines add floats in whatever order their threads meet
    the rows, and the last bits of a sum differ with it (27.4 or 27.400000000000002): two
    ingests of the same orders trained different churn trees (bins are cut at such values), and
    DuckDB and Spark printed an anomaly's median order as 58.11 and 58.12 (58.115 either side)."""
    return total.round(6)
