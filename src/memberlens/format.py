"""Formatting numbers, dates and names for what people read: the report's sentences and tables,
the segment explorer's findings, the messages' numbers (:meth:`memberlens.i18n.Messages.number`)
and the tables the command line prints. Every number goes through :func:`stable` first."""

from __future__ import annotations

import math
from collections.abc import Callable
from datetime import date, datetime
from numbers import Integral
from typing import Any

import pandas as pd

DASH = "–"

#: a message catalogue: ``t("cluster.high_value")`` (:class:`memberlens.i18n.Messages`, which
#: formats its numbers here, so this module names only the call)
Catalogue = Callable[..., str]


def missing(value: Any) -> bool:
    if value is None or value is pd.NaT:
        return True
    try:
        return bool(pd.isna(value))
    except (TypeError, ValueError):
        return False


def stable(value: float) -> float:
    """``value`` to 12 significant digits: engines add floats in different orders, so a sum can be
    905.7499999999999 on one and 905.7500000000001 on another; both must print as the same text."""
    return float(f"{value:.12g}")


def num(value: Any, digits: int | None = None) -> str:
    """``1,234`` for whole numbers and large values, ``12.35`` otherwise; ``–`` when missing. An
    integer with no decimals asked for is written exactly (no float has all of a long id's digits)."""
    if missing(value):
        return DASH
    if _integer(value) and not digits:
        return f"{int(value):,}"
    value = stable(float(value))
    if math.isinf(value):
        return "∞" if value > 0 else "-∞"
    if digits is None:
        digits = 0 if value.is_integer() or abs(value) >= 1000 else (1 if abs(value) >= 100 else 2)
    return f"{value:,.{digits}f}"


def number(value: Any) -> str:
    """``1,234`` for a whole number, ``1,234.57`` otherwise: the numbers in messages' sentences and
    in the report's table cells (:meth:`memberlens.i18n.Messages.number`)."""
    if missing(value) or _integer(value):
        return num(value, 0)
    return num(value, 0 if stable(float(value)).is_integer() else 2)


def pct(share: Any, digits: int = 1, *, signed: bool = False) -> str:
    """``12.3%``; ``+12.3%`` when ``signed`` and above zero."""
    if missing(share):
        return DASH
    text = f"{stable(float(share) * 100):.{digits}f}%"
    return "+" + text if signed and float(share) > 0 else text


def times(ratio: Any) -> str:
    """``2.3×``."""
    return DASH if missing(ratio) else f"{stable(float(ratio)):.1f}×"


def day(value: Any) -> str:
    if missing(value):
        return DASH
    return pd.Timestamp(value).strftime("%Y-%m-%d")


def period(value: Any, kind: str = "month") -> str:
    """A period start as the period's name: ``2011-01`` (month), ``2011 Q1``, or the date."""
    if missing(value):
        return DASH
    ts = pd.Timestamp(value)
    if kind == "month":
        return ts.strftime("%Y-%m")
    if kind == "quarter":
        return f"{ts.year} Q{(ts.month - 1) // 3 + 1}"
    return ts.strftime("%Y-%m-%d")


def label(t: Catalogue, group: str, name: Any) -> str:
    """The catalogue's label for a named thing (segment, stage, cluster...), or the name itself
    (a user-defined segment, a product): never an error."""
    text = str(name)
    if group == "cluster":
        return cluster_label(t, text)
    try:
        return t(f"{group}.{text}")
    except (KeyError, ValueError, IndexError):
        return text


def cluster_label(t: Catalogue, name: str) -> str:
    """Clusters are named by value rank: ``high value``, ``developing [n]``, ``low value``."""
    parts = name.split()
    try:
        if parts[:1] == ["developing"] and len(parts) == 2 and parts[1].isdigit():
            return t("cluster.developing_n", n=parts[1])
        return t("cluster." + "_".join(parts))
    except (KeyError, ValueError, IndexError):
        return name


def terminal_cell(value: Any) -> str:
    """A cell of a table the command line prints: integers and values from 1,000 as ``1,234``,
    from 1 as ``12.35``, smaller ones to four significant digits (``0.01234``); empty when
    missing; text as it is."""
    if missing(value):
        return ""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return str(value)
    if isinstance(value, int):
        return num(value, 0)
    value = stable(value)
    if math.isinf(value) or abs(value) >= 1000:
        return num(value, 0)
    return num(value, 2) if abs(value) >= 1 else f"{value:.4g}"


def _integer(value: Any) -> bool:
    return isinstance(value, Integral) and not isinstance(value, bool)


def cell(value: Any) -> Any:
    """A table cell: numbers stay numbers (formatted by the template), dates become text."""
    if missing(value):
        return ""
    if isinstance(value, (pd.Timestamp, datetime)):
        return day(value)
    if isinstance(value, date):
        return value.isoformat()
    if hasattr(value, "item"):  # numpy scalars
        value = value.item()
    if isinstance(value, float) and not value.is_integer():
        return round(stable(value), 4)
    return value
