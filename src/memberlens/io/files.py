"""Every file memberlens writes goes through here: written beside the target, then renamed over
it, so a reader never sees half a file; and a table is written one way, whatever the command.

Tables (member lists, analysis results, predictions) are written as CSV, JSON, Parquet or Excel
by :func:`write_table_atomic`, whatever wrote them: CSV and JSON hold the plain values the commands
print (:func:`memberlens.io.jsonable.plain_frame`: dates as ISO text, null for what is missing);
Parquet and Excel keep the values' types, a column of whole days as dates. What spreadsheets open stays text: a text cell that begins with
``=``, ``+``, ``-``, ``@``, a tab or a carriage return would be read as a formula by Excel,
LibreOffice or Google Sheets (OWASP's "CSV injection"), so in CSV it is written with a leading
``'`` and in Excel as a string cell; numbers, negative ones included, are written as numbers.
"""

from __future__ import annotations

import csv
import math
import os
import re
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from memberlens.errors import ConfigError, InputError
from memberlens.io.jsonable import json_text, plain_frame, plain_records, whole_days

TABLE_FORMATS = {".csv": "csv", ".json": "json", ".parquet": "parquet", ".xlsx": "xlsx"}
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
TEXT_MARK = "'"
# text that is one plain number ("-2", "+3.5", "-1e5") is not a formula: it is left as written
_PLAIN_NUMBER = re.compile(r"[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?")
_SHEET_FORBIDDEN = re.compile(r"[\[\]:*?/\\]")
SHEET_NAME_MAX = 31


@contextmanager
def atomic_path(target: str | Path) -> Iterator[Path]:
    """Yield a temporary path in ``target``'s folder; it replaces ``target`` only on success.
    What a killed process left there for ``target`` is removed first."""
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    remove_leftovers(target.parent, target.name)
    fd, tmp = tempfile.mkstemp(prefix=leftover_prefix(target.name), suffix=".tmp", dir=target.parent)
    os.close(fd)
    try:
        yield Path(tmp)
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)  # mkstemp creates 0600; give the file the usual mode
        os.replace(tmp, target)
    except OSError as exc:
        if exc.filename is None:  # a write that failed says which file it was writing
            exc.filename = str(target)
        raise
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def leftover_prefix(name: str) -> str:
    """The prefix of this process's temporary files and folders for ``name``: ``.NAME.PID.`` —
    hidden, and telling a later process whether their writer still runs."""
    return f".{name}.{os.getpid()}."


def leftovers(folder: str | Path, name: str) -> list[Path]:
    """The temporary files and folders for ``name`` in ``folder`` (see :func:`leftover_prefix`)
    whose process runs no more: what a kill -9 left."""
    pattern = re.compile(rf"\.{re.escape(name)}\.(\d+)\.")
    try:
        entries = sorted(os.scandir(folder), key=lambda e: e.name)
    except OSError:
        return []
    return [Path(e.path) for e in entries if (m := pattern.match(e.name)) and not _running(int(m.group(1)))]


def remove_leftovers(folder: str | Path, name: str) -> list[Path]:
    """Remove :func:`leftovers`; the paths removed."""
    removed = []
    for path in leftovers(folder, name):
        try:
            if path.is_dir() and not path.is_symlink():
                shutil.rmtree(path)
            else:
                path.unlink()
        except FileNotFoundError:  # another process removed it first
            continue
        removed.append(path)
    return removed


def _running(pid: int) -> bool:
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's process
        return True
    except OverflowError:
        return False
    return True


def write_text_atomic(target: str | Path, text: str) -> Path:
    with atomic_path(target) as tmp:
        tmp.write_text(text, encoding="utf-8")
    return Path(target)


# -- tables ------------------------------------------------------------------------------------
def table_format(path: str | Path, requested: str | None = None, *, option: str = "--format") -> str:
    """The format to write ``path`` in: its suffix's (.csv, .json, .parquet, .xlsx); for another
    suffix, ``requested`` (CSV when that is none or ``table``). A ``requested`` format that the
    suffix contradicts is refused rather than, say, JSON written into ``scores.csv``."""
    by_suffix = TABLE_FORMATS.get(Path(path).suffix.lower())
    if by_suffix is not None:
        if requested not in (None, "table", by_suffix):
            raise ConfigError(
                f"{option} {requested} but {path} ends in {Path(path).suffix}",
                f"leave out {option}, or name the file *.{requested}",
            )
        return by_suffix
    return requested if requested in TABLE_FORMATS.values() else "csv"


def write_table_atomic(frame: pd.DataFrame, path: str | Path, fmt: str) -> Path:
    """Write ``frame`` to ``path`` as ``fmt`` (csv, json, parquet or xlsx), atomically: every
    command's ``--out``, ``segment --export`` and the report's member lists (values as the
    module's docstring says)."""
    writers = {"csv": _write_csv, "json": _write_json, "parquet": _write_parquet, "xlsx": _write_xlsx}
    if fmt not in writers:
        raise ConfigError(f"{path}: unknown table format {fmt!r}", "write .csv, .json, .parquet or .xlsx")
    with atomic_path(path) as tmp:
        writers[fmt](frame, tmp, Path(path))
    return Path(path)


def text_safe(value: Any) -> Any:
    """A CSV cell as a spreadsheet must show it: text that would start a formula gets a leading
    ``'``; numbers and everything else are returned as they are."""
    if isinstance(value, str) and value.startswith(FORMULA_STARTS) and not _PLAIN_NUMBER.fullmatch(value):
        return TEXT_MARK + value
    return value


def sheet_name(name: str) -> str:
    """``name`` as a valid Excel sheet name: at most 31 characters, none of ``[]:*?/\\``, not
    starting or ending with ``'``, not empty and not the reserved ``History``."""
    cleaned = _SHEET_FORBIDDEN.sub("_", name)[:SHEET_NAME_MAX].strip("'")
    if not cleaned:
        return "Sheet1"
    return cleaned + "_" if cleaned.lower() == "history" else cleaned


def csv_writer(stream: Any) -> Any:
    """A :func:`csv.writer` onto ``stream`` whose rows end in a line feed and whose fields holding
    a line break are quoted (see :class:`_LineFeedRows`)."""
    return csv.writer(_LineFeedRows(stream), lineterminator="\r\n")


class _LineFeedRows:
    """Python's csv writer quotes a field holding a carriage return or line feed only when its
    line terminator holds that character, and a bare CR left unquoted splits the row for every
    reader. So rows are written ending in CRLF, every such field quoted, and the CRLF becomes a
    line feed here (the writer writes one row per call)."""

    def __init__(self, stream: Any) -> None:
        self.stream = stream

    def write(self, row: str) -> int:
        return self.stream.write(row[:-2] + "\n" if row.endswith("\r\n") else row)


def _write_csv(frame: pd.DataFrame, tmp: Path, target: Path) -> None:
    safe = plain_frame(frame)
    safe.columns = [text_safe(str(c)) for c in frame.columns]
    for position, dtype in enumerate(frame.dtypes):
        if _may_hold_text(dtype):  # cell by cell: Series.map would make [1, None] floats
            cells = [text_safe(v) for v in safe.iloc[:, position]]
            safe.isetitem(position, pd.Series(cells, index=safe.index, dtype=object))
    with open(tmp, "w", encoding="utf-8", newline="") as stream:
        safe.to_csv(_LineFeedRows(stream), index=False, lineterminator="\r\n")


def _write_json(frame: pd.DataFrame, tmp: Path, target: Path) -> None:
    tmp.write_text(json_text(plain_records(frame), indent=1) + "\n", encoding="utf-8")


def _write_parquet(frame: pd.DataFrame, tmp: Path, target: Path) -> None:
    _days_as_dates(frame).to_parquet(tmp, index=False)


def _days_as_dates(frame: pd.DataFrame) -> pd.DataFrame:
    """For the typed formats: a datetime column of whole days (:func:`whole_days`) as dates, the
    others as timestamps without a time zone (Excel has none)."""
    out = frame.copy()
    for position, dtype in enumerate(frame.dtypes):
        if pd.api.types.is_datetime64_any_dtype(dtype):
            values = frame.iloc[:, position]
            if values.dt.tz is not None:
                values = values.dt.tz_localize(None)
            out.isetitem(position, values.dt.date if whole_days(values) else values)
    return out


def _write_xlsx(frame: pd.DataFrame, tmp: Path, target: Path) -> None:
    """Every text cell a string cell (never a formula), numbers numbers, dates dates."""
    from openpyxl import Workbook
    from openpyxl.cell import WriteOnlyCell

    _refuse_control_characters(frame, target)
    frame = _days_as_dates(frame)
    book = Workbook(write_only=True)
    sheet = book.create_sheet(sheet_name(target.stem))

    def cell(value: Any) -> Any:
        value = _excel_value(value)
        if not isinstance(value, str):
            return value
        text = WriteOnlyCell(sheet, value=value)
        text.data_type = "s"  # openpyxl would make "=..." a formula
        return text

    sheet.append([cell(str(c)) for c in frame.columns])
    for values in frame.itertuples(index=False, name=None):
        sheet.append([cell(v) for v in values])
    book.save(tmp)


def _refuse_control_characters(frame: pd.DataFrame, target: Path) -> None:
    """Excel files cannot hold most control characters (tab, CR and LF they can): one line
    naming the first cell that has one, before anything is written."""
    from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE

    for name in map(str, frame.columns):
        if ILLEGAL_CHARACTERS_RE.search(name):
            raise _control_character(target, name, 1)
    for position, dtype in enumerate(frame.dtypes):
        if _may_hold_text(dtype):
            text = frame.iloc[:, position].map(lambda v: v if isinstance(v, str) else "")
            found = np.flatnonzero(text.str.contains(ILLEGAL_CHARACTERS_RE).to_numpy(dtype=bool))
            if len(found):
                raise _control_character(target, str(frame.columns[position]), int(found[0]) + 2)


def _control_character(target: Path, column: str, row: int) -> InputError:
    return InputError(
        f"{target}: column {column!r}, row {row}: holds a control character Excel cannot store",
        "write CSV or Parquet instead",
    )


def _excel_value(value: Any) -> Any:
    """A cell value openpyxl writes as Excel would hold it: missing values empty, numpy scalars
    plain, times without a zone (Excel has none), infinities and other objects as text."""
    if value is None or value is pd.NaT or value is pd.NA:
        return None
    if isinstance(value, np.datetime64):
        value = pd.Timestamp(value)
    elif isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and math.isnan(value):
        return None
    if isinstance(value, float) and math.isinf(value):
        return str(value)
    if isinstance(value, pd.Timestamp):
        value = value.to_pydatetime()
    if isinstance(value, datetime) and value.tzinfo is not None:
        return value.replace(tzinfo=None)
    if isinstance(value, (str, int, float, bool, date, Decimal)):
        return value
    return str(value)


def _may_hold_text(dtype: Any) -> bool:
    """Numeric, boolean and date columns cannot hold text; object and string columns can."""
    return not (
        pd.api.types.is_numeric_dtype(dtype)
        or pd.api.types.is_bool_dtype(dtype)
        or pd.api.types.is_datetime64_any_dtype(dtype)
    )
