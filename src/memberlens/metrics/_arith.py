"""Arithmetic that behaves the same on every engine."""

from __future__ import annotations

import ibis.expr.types as ir


def ratio(part: ir.NumericValue, whole: ir.NumericValue) -> ir.FloatingValue:
    """``part / whole`` as a float, null when ``whole`` is zero or null (Spark with ANSI on
    raises on a division by zero, DuckDB returns infinity: neither is a rate)."""
    return part.cast("float64") / whole.cast("float64").nullif(0.0)
