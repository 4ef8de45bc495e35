"""Values as strict JSON: NaN, NaT and pandas' NA become null, numpy scalars plain numbers, dates
ISO text. ``json.dumps`` alone writes ``NaN``, which no JSON reader but Python's accepts.

A table is made plain here too (:func:`plain_frame`, :func:`plain_records`): what every command
prints and every CSV and JSON file holds, so a table reads the same on the screen and in a file."""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from datetime import date, datetime
from typing import Any

import numpy as np
import pandas as pd

from memberlens.format import missing


def json_ready(value: Any, floats: Callable[[float], float] | None = None) -> Any:
    """``value`` with every nested container, number and date in a form JSON can hold exactly;
    ``floats``, when given, applied to every (finite) float, e.g. :func:`memberlens.format.stable`."""
    if isinstance(value, dict):
        return {str(k): json_ready(v, floats) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [json_ready(v, floats) for v in value]
    if isinstance(value, np.ndarray):
        return [json_ready(v, floats) for v in value.tolist()]
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if value is None or value is pd.NaT or value is pd.NA:
        return None
    if isinstance(value, (pd.Timestamp, datetime, date)):
        return value.isoformat()
    if isinstance(value, float) and floats is not None:
        return floats(value)
    if isinstance(value, (str, int, float, bool)):
        return value
    return None if missing(value) else value


def json_text(
    data: Any,
    indent: int | None = 2,
    *,
    separators: tuple[str, str] | None = None,
    floats: Callable[[float], float] | None = None,
) -> str:
    """Strict JSON text of ``data`` (see :func:`json_ready`), non-ASCII kept as written: the one
    JSON writer (the commands' output, files, saved models and rules, the report's charts)."""
    return json.dumps(
        json_ready(data, floats),
        ensure_ascii=False,
        indent=indent,
        separators=separators,
        allow_nan=False,
        default=str,
    )


def plain_frame(frame: pd.DataFrame) -> pd.DataFrame:
    """``frame`` with every cell a plain Python value (an object frame): None for what is missing
    (NaN, NaT, pandas' NA, and infinities, which JSON cannot hold), ``int``/``float``/``bool``
    for numpy's numbers, dates and times as ISO text — ``2024-01-31`` for a column whose values
    are all whole days (:func:`whole_days`), ``2024-01-31T10:05:00`` otherwise. Lists (a rule's
    products) stay lists."""
    plain = pd.DataFrame({i: _plain_column(frame.iloc[:, i]) for i in range(frame.shape[1])}, index=frame.index)
    plain.columns = frame.columns
    return plain


def plain_records(frame: pd.DataFrame) -> list[dict[str, Any]]:
    """The rows of :func:`plain_frame` as dicts keyed by column name (as text)."""
    return [{str(k): v for k, v in row.items()} for row in plain_frame(frame).to_dict(orient="records")]


def whole_days(column: pd.Series) -> bool:
    """Whether a datetime column holds days: every value it has at midnight. A date column comes
    back from the engines as midnight timestamps; it is written as dates (``2024-01-31``)."""
    values = column.dropna()
    return bool((values == values.dt.normalize()).all())


def _plain_column(column: pd.Series) -> pd.Series:
    if pd.api.types.is_datetime64_any_dtype(column.dtype):
        known = column.notna()
        text = column.dt.strftime("%Y-%m-%d") if whole_days(column) else column.map(_iso, na_action="ignore")
        values = np.where(known.to_numpy(), text.to_numpy(dtype=object), None)
    elif isinstance(column.dtype, np.dtype) and column.dtype.kind in "biuf":
        values = column.to_numpy().astype(object)  # Python's int, float and bool
        if column.dtype.kind == "f":
            values[~np.isfinite(column.to_numpy())] = None
    else:
        values = [json_ready(v) for v in column.to_numpy(dtype=object)]
    return pd.Series(values, index=column.index, dtype=object)


def _iso(value: pd.Timestamp) -> str:
    return value.isoformat()
