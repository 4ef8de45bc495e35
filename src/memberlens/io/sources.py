"""Read a source — a file, a data frame or an Ibis table — into a staging table of the workspace.

The staging table has the source's own columns (all text for CSV and Excel, native types for
Parquet and frames) plus ``_source`` (the source's name) and ``_row`` (1-based row number in
the source). CSV lines the reader cannot split into the header's columns are not lost: they are
kept in a rejects table and counted as ``malformed_line`` in the ledger.

This module and :mod:`memberlens.io.workspace` are the only places that talk to DuckDB directly.
User text (paths, names) only ever reaches DuckDB as a bound parameter, never as SQL, and a path
is escaped so that DuckDB reads that one file, not what its name matches as a glob pattern.
"""

from __future__ import annotations

import os
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa

from memberlens.errors import InputError
from memberlens.io.paths import duckdb_literal
from memberlens.io.text import NATIVE_ENCODINGS, sniff_text_format, transcode_to_utf8
from memberlens.schema.contract import ROW_COLUMN, SOURCE_COLUMN

RESERVED_COLUMNS = (SOURCE_COLUMN, ROW_COLUMN, "_reason")
MAX_LINE_BYTES = 1 << 27
PARQUET_MAGIC = b"PAR1"
ZIP_MAGIC = b"PK\x03\x04"
OLE_MAGIC = b"\xd0\xcf\x11\xe0"


@dataclass(frozen=True)
class ReadOptions:
    """How to read a file when detection is not enough."""

    encoding: str | None = None
    delimiter: str | None = None
    sheet: str | None = None


@dataclass
class StagedSource:
    """A source read into the staging table ``table``."""

    location: str
    kind: str
    table: str
    columns: list[str]
    rows: int
    malformed: int = 0
    rejects_table: str | None = None
    details: dict[str, Any] = field(default_factory=dict)


def quote_identifier(name: str) -> str:
    """Quote a name we generated ourselves; user text never goes through here."""
    return '"' + name.replace('"', '""') + '"'


def new_table_name(prefix: str) -> str:
    return f"{prefix}_{uuid.uuid4().hex[:12]}"


def stage_source(
    con: duckdb.DuckDBPyConnection, source: Any, source_name: str, options: ReadOptions, scratch: Path
) -> StagedSource:
    """Read ``source`` into a temporary staging table of ``con``."""
    if isinstance(source, (str, os.PathLike)):
        return _stage_path(con, Path(source), source_name, options, scratch)
    return _stage_arrow(con, _to_arrow(source), source_name, kind=_frame_kind(source), location=_frame_kind(source))


def _stage_path(
    con: duckdb.DuckDBPyConnection, path: Path, source_name: str, options: ReadOptions, scratch: Path
) -> StagedSource:
    if not path.exists():
        raise InputError(
            f"{path}: no such file or folder", "check the path (relative paths start from the current folder)"
        )
    if path.is_dir():
        return _stage_parquet(con, path, source_name)
    if not os.access(path, os.R_OK):
        raise InputError(
            f"{path}: permission denied", "make the file readable (chmod +r) or copy it somewhere readable"
        )
    with open(path, "rb") as f:
        magic = f.read(4)
    if magic == PARQUET_MAGIC:
        return _stage_parquet(con, path, source_name)
    if magic == ZIP_MAGIC:
        if path.suffix.lower() in (".xlsx", ".xlsm"):
            return _stage_excel(con, path, source_name, options)
        raise InputError(f"{path}: is a zip archive", "unzip it first, or save spreadsheets as .xlsx")
    if magic == OLE_MAGIC:
        raise InputError(f"{path}: is an old-style .xls workbook", "save it as .xlsx or CSV first")
    return _stage_csv(con, path, source_name, options, scratch)


def _stage_csv(
    con: duckdb.DuckDBPyConnection, path: Path, source_name: str, options: ReadOptions, scratch: Path
) -> StagedSource:
    fmt = sniff_text_format(path, encoding=options.encoding, delimiter=options.delimiter)
    if not any(fmt.header):
        raise InputError(f"{path}: the first line is empty", "the first line must name the columns")
    _check_header(path, fmt.header)
    readable, encoding = path, NATIVE_ENCODINGS.get(fmt.encoding)
    if encoding is None:
        readable, encoding = scratch / f"{uuid.uuid4().hex}.csv", "utf-8"
        transcode_to_utf8(path, fmt, readable)
    table, rejects, scans = (new_table_name(p) for p in ("stage", "rejects", "scans"))
    sql = (
        f"CREATE TEMP TABLE {quote_identifier(table)} AS "
        f"SELECT ?::VARCHAR AS {SOURCE_COLUMN}, row_number() OVER () AS {ROW_COLUMN}, * "
        "FROM read_csv(?, header = true, all_varchar = true, auto_detect = false, columns = ?, "
        "delim = ?, quote = '\"', escape = '\"', encoding = ?, compression = ?, "
        "store_rejects = true, rejects_table = ?, rejects_scan = ?, max_line_size = ?, "
        "strict_mode = true, null_padding = false)"
    )
    columns = {name or f"column{i + 1}": "VARCHAR" for i, name in enumerate(fmt.header)}
    try:
        con.execute(
            sql,
            [
                source_name,
                duckdb_literal(readable),  # the file itself: its name is not a pattern
                columns,
                fmt.delimiter,
                encoding,
                "gzip" if fmt.gzipped and readable == path else "none",
                rejects,
                scans,
                MAX_LINE_BYTES,
            ],
        )
    except duckdb.Error as exc:
        raise InputError(f"{path}: cannot be read as CSV ({_first_line(exc)})", _csv_hint(exc)) from exc
    finally:
        if readable != path:
            readable.unlink(missing_ok=True)
    rows = con.execute(f"SELECT count(*) FROM {quote_identifier(table)}").fetchone()[0]
    malformed = con.execute(f"SELECT count(DISTINCT line) FROM {quote_identifier(rejects)}").fetchone()[0]
    return StagedSource(
        location=str(path),
        kind="csv",
        table=table,
        columns=list(columns),
        rows=rows,
        malformed=malformed,
        rejects_table=rejects,
        details={"encoding": fmt.encoding, "delimiter": fmt.delimiter, "gzip": fmt.gzipped},
    )


def _check_header(path: Path, header: tuple[str, ...]) -> None:
    clash = [c for c in header if c in RESERVED_COLUMNS]
    if clash:
        raise InputError(f"{path}: column name(s) {clash} are reserved by memberlens", "rename them in the source")
    seen: set[str] = set()
    for name in header:
        if name and name in seen:
            raise InputError(
                f"{path}: column {name!r} appears more than once in the header",
                "rename the duplicated columns so each name is unique",
            )
        seen.add(name)


def _first_line(exc: Exception) -> str:
    return str(exc).strip().splitlines()[0][:300]


def _csv_hint(exc: Exception) -> str:
    text = str(exc).lower()
    if "unicode" in text or "encoding" in text:
        return "pass the file's encoding with --encoding (e.g. gb18030, latin-1, cp1252)"
    if "line size" in text or "maximum line" in text:
        return "a line is longer than 128 MB; check the quoting of the file"
    return "check the delimiter (--delimiter) and quoting of the file"


def _stage_parquet(con: duckdb.DuckDBPyConnection, path: Path, source_name: str) -> StagedSource:
    # a folder is read as all its Parquet files; the folder's own name, like a file's, is literal
    target = duckdb_literal(path) + "/**/*.parquet" if path.is_dir() else duckdb_literal(path)
    if path.is_dir() and not any(path.rglob("*.parquet")):
        raise InputError(f"{path}: is a folder with no .parquet files", "point at a file, or a folder of Parquet files")
    table = new_table_name("stage")
    try:
        schema = con.execute("DESCRIBE SELECT * FROM read_parquet(?, union_by_name = true)", [target]).fetchall()
        _check_header(path, tuple(row[0] for row in schema))
        con.execute(
            f"CREATE TEMP TABLE {quote_identifier(table)} AS SELECT ?::VARCHAR AS {SOURCE_COLUMN}, "
            f"row_number() OVER () AS {ROW_COLUMN}, * FROM read_parquet(?, union_by_name = true)",
            [source_name, target],
        )
    except duckdb.Error as exc:
        raise InputError(
            f"{path}: cannot be read as Parquet ({_first_line(exc)})", "check the file is complete"
        ) from exc
    return _staged(con, table, location=str(path), kind="parquet")


def _stage_excel(con: duckdb.DuckDBPyConnection, path: Path, source_name: str, options: ReadOptions) -> StagedSource:
    import pandas as pd

    try:
        workbook = pd.ExcelFile(path, engine="openpyxl")
    except Exception as exc:  # openpyxl raises many types for a damaged file
        raise InputError(f"{path}: cannot be opened as .xlsx ({exc})", "open and save it again in Excel") from exc
    with workbook:
        sheets = workbook.sheet_names
        sheet = options.sheet
        if sheet is None:
            if len(sheets) > 1:
                raise InputError(
                    f"{path}: has {len(sheets)} sheets {sheets}", f"choose one with --sheet, e.g. --sheet {sheets[0]!r}"
                )
            sheet = sheets[0]
        if sheet not in sheets:
            raise InputError(f"{path}: has no sheet {sheet!r}; sheets: {sheets}", "check the sheet name")
        # pandas renames a repeated header cell ("amount" -> "amount.1"): check the cells as written.
        first_row = pd.read_excel(workbook, sheet_name=sheet, header=None, nrows=1, dtype=str)
        written = first_row.iloc[0] if len(first_row) else []
        _check_header(path, tuple(str(c).strip() for c in written if isinstance(c, str)))
        frame = pd.read_excel(workbook, sheet_name=sheet, dtype=str)
    frame.columns = [str(c).strip() for c in frame.columns]
    if frame.empty and len(frame.columns) == 0:
        raise InputError(f"{path}: sheet {sheet!r} is empty", "the first row must name the columns")
    _check_header(path, tuple(frame.columns))
    staged = _stage_arrow(
        con, pa.Table.from_pandas(frame, preserve_index=False), source_name, kind="xlsx", location=str(path)
    )
    staged.details["sheet"] = sheet
    return staged


def _frame_kind(source: Any) -> str:
    module = type(source).__module__.split(".")[0]
    if module == "ibis":
        return "ibis table"
    return {"pandas": "pandas frame", "polars": "polars frame", "pyarrow": "arrow table"}.get(module, "frame")


def _to_arrow(source: Any) -> pa.Table | pa.RecordBatchReader:
    """Frames and Ibis tables as Arrow data (streamed in batches for Ibis tables)."""
    module = type(source).__module__.split(".")[0]
    if isinstance(source, (pa.Table, pa.RecordBatchReader)):
        return source
    if module == "pandas":
        return pa.Table.from_pandas(source, preserve_index=False)
    if module == "polars":
        return source.to_arrow()
    if module == "ibis" and hasattr(source, "to_pyarrow_batches"):
        return source.to_pyarrow_batches()
    raise InputError(
        f"cannot ingest an object of type {type(source).__name__}",
        "pass a file path, a pandas/polars/pyarrow table or an Ibis table",
    )


def _stage_arrow(
    con: duckdb.DuckDBPyConnection, data: pa.Table | pa.RecordBatchReader, source_name: str, *, kind: str, location: str
) -> StagedSource:
    names = [str(n) for n in data.schema.names]
    _check_header(Path(location), tuple(names))
    if len(set(names)) != len(names):
        raise InputError(f"{location}: duplicated column names {sorted({n for n in names if names.count(n) > 1})}")
    view, table = new_table_name("arrow"), new_table_name("stage")
    con.register(view, data)
    try:
        con.execute(
            f"CREATE TEMP TABLE {quote_identifier(table)} AS SELECT ?::VARCHAR AS {SOURCE_COLUMN}, "
            f"row_number() OVER () AS {ROW_COLUMN}, * FROM {quote_identifier(view)}",
            [source_name],
        )
    finally:
        con.unregister(view)
    return _staged(con, table, location=location, kind=kind)


def _staged(con: duckdb.DuckDBPyConnection, table: str, *, location: str, kind: str) -> StagedSource:
    columns = [row[0] for row in con.execute(f"DESCRIBE {quote_identifier(table)}").fetchall()]
    rows = con.execute(f"SELECT count(*) FROM {quote_identifier(table)}").fetchone()[0]
    return StagedSource(
        location=location,
        kind=kind,
        table=table,
        columns=[c for c in columns if c not in (SOURCE_COLUMN, ROW_COLUMN)],
        rows=rows,
    )
