"""One check for the numbers and choices a model or an analysis is given, with one message when
one is wrong — scikit-learn's wording, so that every model and function says it alike::

    The 'min_support' parameter of AssociationRuleModel must be a float in the range (0, 1]. Got 0 instead.

Models check their parameters in ``fit`` (``__init__`` only stores them); functions when they are
called. The owner is the class or function the parameter belongs to; the optional hint says what
to give instead (the command-line option, when there is one).
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Sequence
from typing import Any

from memberlens.errors import ConfigError


def check_number(
    value: Any,
    name: str,
    owner: str,
    *,
    low: float = -math.inf,
    high: float = math.inf,
    low_open: bool = False,
    integer: bool = False,
    hint: str | None = None,
) -> Any:
    """``value`` within ``[low, high]`` (``(low, high]`` when ``low_open``), or ConfigError. The
    range is what the message prints: an infinite bound is open, so NaN and infinities are never
    in it. With ``integer`` the value must be an int (Python's or NumPy's; not a bool, not a
    float) and comes back as an int; otherwise any real number but a bool, back as a float."""
    kind = "an int" if integer else "a float"
    interval = f"{'(' if low_open else '['}{_fmt(low)}, {_fmt(high)}{']' if math.isfinite(high) else ')'}"
    ok = isinstance(value, numbers.Integral if integer else numbers.Real) and not isinstance(value, bool)
    if ok:
        v = float(value)
        ok = math.isfinite(v) and (v > low if low_open else v >= low) and v <= high
    if not ok:
        raise ConfigError(
            f"The '{name}' parameter of {owner} must be {kind} in the range {interval}. Got {value!r} instead.", hint
        )
    return int(value) if integer else float(value)


def check_choice(value: Any, name: str, owner: str, choices: Sequence[str], *, hint: str | None = None) -> str:
    """``value`` when it is one of ``choices``, or ConfigError."""
    if not isinstance(value, str) or value not in choices:
        among = ", ".join(repr(c) for c in choices)
        raise ConfigError(
            f"The '{name}' parameter of {owner} must be a str among {among}. Got {value!r} instead.", hint
        )
    return value


def _fmt(x: float) -> str:
    if x == math.inf:
        return "inf"
    if x == -math.inf:
        return "-inf"
    return f"{x:g}"


__all__ = ["check_choice", "check_number"]
