"""JSON the CLI prints is strict JSON: what is missing is null (never ``NaN``, which only Python's
reader accepts), numpy numbers are plain numbers, dates are ISO text."""

from __future__ import annotations

import json
from datetime import date

import numpy as np
import pandas as pd

from memberlens.io.jsonable import json_text


def strict_loads(text: str):
    def refuse(constant: str):
        raise ValueError(f"not JSON: {constant}")

    return json.loads(text, parse_constant=refuse)


def test_missing_values_of_every_kind_are_null():
    frame = pd.DataFrame({"name": ["a", None], "amount": [1.5, np.nan], "when": pd.to_datetime(["2024-01-02", None])})
    # pandas 3's DataFrame.map turns None back into NaN in an object column: the case that leaked NaN
    mapped = frame.astype(object).where(frame.notna(), None).map(lambda v: v)
    records = mapped.to_dict(orient="records") + [{"na": pd.NA, "inf": float("inf"), "ninf": np.float64("-inf")}]
    assert strict_loads(json_text(records)) == [
        {"name": "a", "amount": 1.5, "when": "2024-01-02T00:00:00"},
        {"name": None, "amount": None, "when": None},
        {"na": None, "inf": None, "ninf": None},
    ]


def test_numpy_numbers_dates_and_nesting():
    data = {
        "n": np.int64(3),
        "x": np.float32(0.5),
        "flag": np.bool_(True),
        "day": date(2024, 2, 29),
        "items": np.array(["tea", "cup"]),
        "pair": ("a", 1),
        7: "key as text",
    }
    assert strict_loads(json_text(data)) == {
        "n": 3,
        "x": 0.5,
        "flag": True,
        "day": "2024-02-29",
        "items": ["tea", "cup"],
        "pair": ["a", 1],
        "7": "key as text",
    }


def test_text_is_kept_as_written():
    assert json_text(["会员 <b>&"], indent=None) == '["会员 <b>&"]'
