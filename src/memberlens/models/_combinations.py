"""Per-member predictions: computed once per distinct combination, joined back in the engine.

A summary of a million members holds far fewer distinct (frequency, recency, T) combinations. The
model runs over those (in NumPy); the result goes back to the engine as an Ibis memtable and is
joined to the members there, so the answer is one row per member (never one per draw or per
combination) and the member table never leaves the engine. The join keys are exact: frequency is
an integer and recency and T are whole days divided by the unit.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import ibis
import ibis.expr.types as ir
import pandas as pd

from memberlens.errors import InputError
from memberlens.models._summary import compress_summary


def as_table(summary: ir.Table | pd.DataFrame) -> tuple[ir.Table, bool]:
    """The summary as an Ibis table, and whether it came as pandas (to answer in pandas)."""
    if isinstance(summary, pd.DataFrame):
        return ibis.memtable(summary), True
    if isinstance(summary, ir.Table):
        return summary, False
    raise InputError(
        f"expected an Ibis table or a pandas DataFrame of the purchase summary, got {type(summary).__name__}",
        "build it with summarise_purchases(orders)",
    )


def combination_table(
    table: ir.Table,
    columns: Sequence[str],
    fn: Callable[[pd.DataFrame], pd.DataFrame],
    combinations: pd.DataFrame | None = None,
) -> ir.Table:
    """``fn``'s predictions for each distinct combination of ``columns`` (``combinations``: those
    of ``table`` as :func:`compress_summary` gives them, when the caller has them), beside it, as
    a memtable."""
    if combinations is None:
        combinations = compress_summary(table, columns)
    combos = combinations[list(columns)]
    predictions = fn(combos)
    frame = pd.concat([combos.reset_index(drop=True), predictions.reset_index(drop=True)], axis=1)
    return ibis.memtable(frame)


def join_to_members(table: ir.Table, predictions: ir.Table, columns: Sequence[str]) -> ir.Table:
    """Every member of ``table`` with the predictions of their combination."""
    # a view: Ibis cannot join a projection of a join to another table by column name
    table = table.view()
    joined = table.join(predictions, list(columns))
    return joined.select(*table.columns, *(c for c in predictions.columns if c not in columns))


def predict_by_combination(
    summary: ir.Table | pd.DataFrame, columns: Sequence[str], fn: Callable[[pd.DataFrame], pd.DataFrame]
) -> ir.Table | pd.DataFrame:
    """Run ``fn`` over the distinct combinations of ``columns`` and join its columns back to
    every member (Ibis in, Ibis out; pandas in, pandas out, in the input's row order)."""
    table, was_pandas = as_table(summary)
    if was_pandas:
        frame = summary.reset_index(drop=True)  # type: ignore[union-attr]
        combos = frame[list(columns)].drop_duplicates().reset_index(drop=True)
        predictions = pd.concat([combos, fn(combos).reset_index(drop=True)], axis=1)
        return frame.merge(predictions, on=list(columns), how="left", sort=False)
    return join_to_members(table, combination_table(table, columns, fn), columns)
