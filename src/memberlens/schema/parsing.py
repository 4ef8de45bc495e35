"""Raw values -> typed canonical values, as Ibis expressions that run in the engine.

Each ``parse_*`` function takes a raw column (text from a CSV, or an already typed column from
Parquet or a data frame) and returns the typed column, null where the value is missing or cannot
be parsed. :func:`is_unparseable` tells the two apart, so that a missing value and a broken one
are set aside under different reasons.

Dates are matched against explicit patterns and rebuilt as ``YYYY-MM-DD HH:MM:SS`` before a
``try_cast``, so that every engine accepts exactly the same spellings and an impossible date
(month 13, 31 February) becomes null rather than an error.
"""

from __future__ import annotations

import ibis
import ibis.expr.types as ir

from memberlens.schema.contract import Kind
from memberlens.schema.mapping import DateOrder

TRUE_WORDS = ("true", "t", "yes", "y", "1", "是", "真")
FALSE_WORDS = ("false", "f", "no", "n", "0", "否", "假")
EXCEL_EPOCH = "1899-12-30"  # Excel serial day 1 is 1900-01-01 (with the 1900 leap-year bug)

_TIME = r"(?:[ T](\d{1,2}):(\d{2})(?::(\d{2}(?:\.\d{1,6})?))?)?"
# (pattern, group of year, month, day); hour, minute, second follow the date groups.
_ISO = (r"^(\d{4})[-/.](\d{1,2})[-/.](\d{1,2})" + _TIME + r"(?:Z|[+-]\d{2}:?\d{2})?$", (1, 2, 3))
_COMPACT = (r"^(\d{4})(\d{2})(\d{2})$", (1, 2, 3))
_CHINESE = (r"^(\d{4})年(\d{1,2})月(\d{1,2})日?" + _TIME.replace("[ T]", r"\s*") + "$", (1, 2, 3))
_SLASH = r"^(\d{1,2})[/.-](\d{1,2})[/.-](\d{4})" + _TIME + "$"
_EXCEL_SERIAL = r"^\d{5}(?:\.\d+)?$"
_GROUPED_NUMBER = r"^-?[£$€¥￥]?\d{1,3}(?:,\d{3})+(?:\.\d+)?$"
_CURRENCY_NUMBER = r"^-?[£$€¥￥]\d+(?:\.\d+)?$"
# decimal-comma notation, and the evidence for each notation (after an optional sign and currency sign)
_SIGN = r"^-?[£$€¥￥]?"
_COMMA_NUMBER = _SIGN + r"\d+(?:,\d+)?$"
_COMMA_GROUPED = _SIGN + r"\d{1,3}(?:\.\d{3})+(?:,\d+)?$"
# a mark is decimal when its digits could not be a group of thousands: not three of them after it,
# or a whole part that no grouping writes (``0.001``, ``0,045``, ``1234.567``)
_POINT_DECIMAL = _SIGN + r"(?:\d*\.(?:\d{1,2}|\d{4,})|0\d*\.\d+|\d{4,}\.\d+)$"
_COMMA_DECIMAL = _SIGN + r"(?:\d*,(?:\d{1,2}|\d{4,})|0\d*,\d+|\d{4,},\d+)$"
_GROUPED_NUMBER_WITH_POINT = _SIGN + r"\d{1,3}(?:,\d{3})+\.\d+$"
_POINT_GROUPED_WITH_COMMA = _SIGN + r"\d{1,3}(?:\.\d{3})+,\d+$"
_COMMA_GROUPS = _SIGN + r"\d{1,3}(?:,\d{3}){2,}$"
_POINT_GROUPS = _SIGN + r"\d{1,3}(?:\.\d{3}){2,}$"
_EITHER = _SIGN + r"[1-9]\d{0,2}[.,]\d{3}$"


def trim(raw: ir.StringValue) -> ir.StringValue:
    """Leading and trailing white space removed (Ibis' ``strip()`` also drops the letters v
    and f on Spark, and ``lstrip``/``rstrip`` differ between engines)."""
    return raw.re_replace(r"^\s+|\s+$", "")


def is_infinite(value: ir.FloatingValue) -> ir.BooleanValue:
    """``isinf()`` compiles to FALSE on Spark; compare with the infinities instead."""
    return (value == float("inf")) | (value == float("-inf"))


def blank_to_null(raw: ir.StringValue) -> ir.StringValue:
    return trim(raw).nullif("")


def is_missing(raw: ir.Value) -> ir.BooleanValue:
    """Null, or text that is empty after trimming."""
    if raw.type().is_string():
        return blank_to_null(raw).isnull()
    if raw.type().is_floating():
        return raw.isnull() | raw.isnan()
    return raw.isnull()


def parse_id(raw: ir.Value) -> ir.StringValue:
    """Identifiers as text; ``17850.0`` (an integer exported through a float) becomes ``17850``."""
    dtype = raw.type()
    if dtype.is_integer():
        return raw.cast("string")
    if dtype.is_floating():
        finite = raw.notnull() & ~raw.isnan() & ~is_infinite(raw)
        whole = finite & (raw % 1 == 0) & (raw.abs() < 2.0**63)  # fits int64 (floor() casts to int64)
        return ibis.cases(
            (whole, raw.cast("int64").cast("string")), (finite, raw.cast("string")), else_=ibis.null("string")
        )
    text = blank_to_null(raw.cast("string"))
    return ibis.ifelse(text.re_search(r"^\d+\.0+$"), text.re_replace(r"\.0+$", ""), text)


def parse_text(raw: ir.Value) -> ir.StringValue:
    return blank_to_null(raw.cast("string"))


def parse_number(raw: ir.Value, decimal: str = ".") -> ir.FloatingValue:
    """Finite floats; thousands separators and a leading currency sign are accepted. With
    ``decimal=","`` numbers are written the European way: ``12,50``, ``1.000``, ``1.234,56``."""
    dtype = raw.type()
    if dtype.is_numeric() or dtype.is_boolean():
        value = raw.cast("float64")
    elif decimal == ",":
        text = trim(blank_to_null(raw.cast("string")))
        written = text.re_search(_COMMA_NUMBER) | text.re_search(_COMMA_GROUPED)
        cleaned = text.re_replace(r"[£$€¥￥.]", "").replace(",", ".").try_cast("float64")
        value = ibis.ifelse(written, cleaned, ibis.null("float64"))
    else:
        text = blank_to_null(raw.cast("string"))
        plain = text.try_cast("float64")
        decorated = text.re_search(_GROUPED_NUMBER) | text.re_search(_CURRENCY_NUMBER)
        cleaned = text.re_replace(r"[£$€¥￥,]", "").try_cast("float64")
        value = ibis.coalesce(plain, ibis.ifelse(decorated, cleaned, ibis.null("float64")))
    return ibis.ifelse(value.isnan() | is_infinite(value), ibis.null("float64"), value)


def decimal_evidence(raw: ir.StringValue) -> tuple[ir.BooleanValue, ir.BooleanValue, ir.BooleanValue]:
    """Whether a written number shows a decimal point (``12.50``, ``1,234.5``, ``1,000,000``), a
    decimal comma (``12,50``, ``1.234,5``, ``1.000.000``), or could be either (``1.000``, ``1,000``)."""
    text = trim(raw)
    point = text.re_search(_POINT_DECIMAL) | text.re_search(_GROUPED_NUMBER_WITH_POINT) | text.re_search(_COMMA_GROUPS)
    comma = text.re_search(_COMMA_DECIMAL) | text.re_search(_POINT_GROUPED_WITH_COMMA) | text.re_search(_POINT_GROUPS)
    either = text.re_search(_EITHER)
    return point, comma, either


def parse_bool(raw: ir.Value) -> ir.BooleanValue:
    dtype = raw.type()
    if dtype.is_boolean():
        return raw
    if dtype.is_numeric():
        return ibis.ifelse(raw.isnull(), ibis.null("boolean"), raw != 0)
    word = blank_to_null(raw.cast("string")).lower()
    return ibis.cases((word.isin(TRUE_WORDS), True), (word.isin(FALSE_WORDS), False), else_=ibis.null("boolean"))


def _assemble(text: ir.StringValue, pattern: str, ymd: tuple[int, int, int]) -> ir.StringValue:
    """Rebuild a matched date as ``YYYY-MM-DD HH:MM:SS`` text (null when it does not match)."""

    def group(index: int, default: str) -> ir.StringValue:
        return ibis.coalesce(text.re_extract(pattern, index).nullif(""), ibis.literal(default))

    year, month, day = ymd
    first_time_group = max(ymd) + 1
    hour, minute, second = (group(first_time_group + i, "0") for i in range(3))
    built = (
        group(year, "")
        + "-"
        + group(month, "").lpad(2, "0")
        + "-"
        + group(day, "").lpad(2, "0")
        + " "
        + hour.lpad(2, "0")
        + ":"
        + minute.lpad(2, "0")
        + ":"
        + ibis.ifelse(second.length() == 1, "0" + second, second)
    )
    return ibis.ifelse(text.re_search(pattern), built, ibis.null("string"))


def _from_excel_serial(days: ir.FloatingValue) -> ir.TimestampValue:
    seconds = (days * 86400).round().cast("int64")
    return ibis.timestamp(EXCEL_EPOCH + " 00:00:00") + seconds.as_interval("s")


def _numeric_date(number: ir.FloatingValue) -> ir.TimestampValue:
    """A number column: Excel serials as in text (five digits), whole ``YYYYMMDD`` numbers; else null."""
    serial = (number >= 10000) & (number < 100000)
    compact = (number >= 10000101) & (number <= 99991231) & (number % 1 == 0)
    as_compact = _assemble(ibis.ifelse(compact, number.cast("int64").cast("string"), ibis.null("string")), *_COMPACT)
    return ibis.cases(
        (serial, _from_excel_serial(number)),
        (compact, as_compact.try_cast("timestamp")),
        else_=ibis.null("timestamp"),
    )


def parse_timestamp(raw: ir.Value, date_order: DateOrder = "mdy") -> ir.TimestampValue:
    """Dates and date-times in ISO, compact ``YYYYMMDD``, Chinese, slash or Excel-serial form.

    Slash dates with the year last (``12/1/2010 8:26``) are month/day/year unless
    ``date_order='dmy'``.
    """
    dtype = raw.type()
    if dtype.is_timestamp():
        return raw.cast("timestamp")
    if dtype.is_date():
        return raw.cast("timestamp")
    if dtype.is_numeric():
        return _numeric_date(raw.cast("float64"))
    text = blank_to_null(raw.cast("string"))
    # _SLASH's groups are (first, second, year): pick (year, month, day) by the date order.
    slash_ymd = (3, 2, 1) if date_order == "dmy" else (3, 1, 2)
    candidates = [
        _assemble(text, *_ISO),
        _assemble(text, _SLASH, slash_ymd),
        _assemble(text, *_COMPACT),
        _assemble(text, *_CHINESE),
    ]
    parsed = ibis.coalesce(*candidates).try_cast("timestamp")
    serial = ibis.ifelse(
        text.re_search(_EXCEL_SERIAL), _from_excel_serial(text.try_cast("float64")), ibis.null("timestamp")
    )
    return ibis.coalesce(parsed, serial)


def parse_value(raw: ir.Value, kind: Kind, date_order: DateOrder = "mdy", decimal: str = ".") -> ir.Value:
    if kind == "id":
        return parse_id(raw)
    if kind == "text":
        return parse_text(raw)
    if kind == "number":
        return parse_number(raw, decimal)
    if kind == "bool":
        return parse_bool(raw)
    return parse_timestamp(raw, date_order)


def is_unparseable(raw: ir.Value, parsed: ir.Value) -> ir.BooleanValue:
    """Present in the source but not understood (a NaN or inf number counts as present)."""
    present = raw.notnull() if not raw.type().is_string() else blank_to_null(raw).notnull()
    return present & parsed.isnull()
