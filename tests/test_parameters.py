"""The one parameter check (memberlens.parameters): its message, its ranges, and no copy of it
elsewhere."""

from __future__ import annotations

import math
import re
from pathlib import Path

import numpy as np
import pytest

from memberlens.errors import ConfigError
from memberlens.parameters import check_choice, check_number

PACKAGE = Path(__file__).resolve().parents[1] / "src" / "memberlens"


@pytest.mark.parametrize(
    ("value", "bounds", "message"),
    [
        (0, {"low": 0, "high": 1, "low_open": True}, "a float in the range (0, 1]. Got 0 instead."),
        (1.5, {"low": 0, "high": 1}, "a float in the range [0, 1]. Got 1.5 instead."),
        (math.nan, {"low": 0}, "a float in the range [0, inf). Got nan instead."),
        (math.inf, {"low": 0}, "a float in the range [0, inf). Got inf instead."),
        ("3", {"low": 0}, "a float in the range [0, inf). Got '3' instead."),
        (True, {"low": 0}, "a float in the range [0, inf). Got True instead."),
        (0, {"low": 1, "integer": True}, "an int in the range [1, inf). Got 0 instead."),
        (2.0, {"low": 1, "integer": True}, "an int in the range [1, inf). Got 2.0 instead."),
        (21, {"low": 1, "high": 20, "integer": True}, "an int in the range [1, 20]. Got 21 instead."),
    ],
)
def test_one_message_names_the_parameter_its_owner_the_range_and_the_value(value, bounds, message):
    with pytest.raises(ConfigError) as info:
        check_number(value, "x", "Thing", **bounds, hint="e.g. --x 1")
    assert info.value.message == f"The 'x' parameter of Thing must be {message}"
    assert info.value.hint == "e.g. --x 1"


def test_values_in_range_come_back_as_their_kind():
    assert check_number(np.int64(3), "x", "Thing", low=1, integer=True) == 3
    assert type(check_number(np.int64(3), "x", "Thing", low=1, integer=True)) is int
    assert type(check_number(1, "x", "Thing", low=0, high=1)) is float
    assert check_number(0.5, "x", "Thing", low=0, high=1, low_open=True) == 0.5
    assert check_choice("orders", "label", "Thing", ("orders", "unsubscribe")) == "orders"
    with pytest.raises(ConfigError, match=r"^The 'label' parameter of Thing must be a str among 'a', 'b'. Got 'c'"):
        check_choice("c", "label", "Thing", ("a", "b"))


HAND_WRITTEN = re.compile(
    r"must be an? (int|float)\b.*(in the range|>=)|\ban? (int|float) in the range|must be at least \d|"
    r"is not a number of days"
)


def test_no_range_check_is_written_by_hand():
    found = [
        f"{path.relative_to(PACKAGE)}:{number}"
        for path in sorted(PACKAGE.rglob("*.py"))
        if path.name != "parameters.py"
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1)
        if HAND_WRITTEN.search(line)
    ]
    assert not found, "range checks written by hand (use memberlens.parameters.check_number):\n" + "\n".join(found)


def test_the_copy_check_sees_the_old_spellings():
    for line in (
        "f\"The '{name}' parameter must be an int in the range [1, inf). Got {value!r} instead.\"",
        "f\"The 'max_depth' parameter of compute_cascades must be an int >= 1 (--max-depth).\"",
        'kind = "an int in the range [1, inf)" if integer else "a float in the range (0, inf)"',
        'raise ConfigError(f"--top must be at least 1. Got {top} instead.", "e.g. --top 3")',
        'raise ConfigError(f"--churn-days {churn_days} is not a number of days", "e.g. --churn-days 90")',
    ):
        assert HAND_WRITTEN.search(line), line


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            ("predict", "next-product", "--top", "0"),
            "The '--top' parameter of predict next-product must be an int in the range [1, inf). Got 0 instead.",
        ),
        (
            ("monitor", "--churn-days", "0"),
            "The '--churn-days' parameter of monitor must be an int in the range [1, inf). Got 0 instead.",
        ),
        (
            ("segment", "--min-count", "0"),
            "The '--min-count' parameter of segment must be an int in the range [1, inf). Got 0 instead.",
        ),
        (
            ("analyze", "super-orders", "--top", "0"),
            "The 'top' parameter of rank_largest_orders must be an int in the range [1, inf). Got 0 instead.",
        ),
        (
            ("analyze", "rfm", "--lookback-days", "0"),
            "The 'lookback_days' parameter of the RFM scores must be an int in the range [1, inf). Got 0 instead.",
        ),
        (
            ("analyze", "churn", "--churn-days", "0"),
            "The 'churn_days' parameter of the churn analysis must be an int in the range [1, inf). Got 0 instead.",
        ),
        (
            ("clv", "predict", "--no-order-days", "0"),
            "The '--no-order-days' parameter of clv predict must be a float in the range (0, inf). Got 0.0 instead.",
        ),
        (
            ("clv", "evaluate", "--calibration-end", "2023-12-31", "--tracking-age", "lifetimes"),
            "The '--tracking-age' parameter of clv evaluate must be a str among 'memberlens', 'btyd'. "
            "Got 'lifetimes' instead.",
        ),
    ],
)
def test_commands_refuse_a_count_below_one_in_the_one_message(run_cli, demo_workspace, args, message):
    path, _ = demo_workspace
    result = run_cli(*args, "--db", path)
    assert result.exit_code == 2, result.stderr
    assert result.stderr.splitlines()[0] == f"error: {message}"
    assert "Traceback" not in result.stderr
