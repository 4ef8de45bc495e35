"""Values as strict JSON: NaN, NaT and pandas' NA become null, numpy scalars plain numbers, dates
ISO text. ``json.dumps`` alone writes ``NaN``, which no JSON reader but Python's accepts."""

from __future__ import annotations

import json
import math
from datetime import date, datetime
from typing import Any

import numpy as np
import pandas as pd


def json_ready(value: Any) -> Any:
    """``value`` with every nested container, number and date in a form JSON can hold exactly."""
    if isinstance(value, dict):
        return {str(k): json_ready(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [json_ready(v) for v in value]
    if isinstance(value, np.ndarray):
        return [json_ready(v) for v in value.tolist()]
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if value is None or value is pd.NaT or value is pd.NA:
        return None
    if isinstance(value, (pd.Timestamp, datetime, date)):
        return value.isoformat()
    if isinstance(value, (str, int, float, bool)):
        return value
    return None if _missing(value) else value


def json_text(data: Any, indent: int | None = 2) -> str:
    """Strict JSON text of ``data`` (see :func:`json_ready`), non-ASCII kept as written."""
    return json.dumps(json_ready(data), ensure_ascii=False, indent=indent, allow_nan=False, default=str)


def _missing(value: Any) -> bool:
    try:
        return bool(pd.isna(value))
    except (TypeError, ValueError):
        return False
