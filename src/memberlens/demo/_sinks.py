"""Append-only CSV/Parquet outputs that appear in their final place only when complete."""

from __future__ import annotations

import os
from pathlib import Path
from types import TracebackType

import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq


def _csv_options() -> pacsv.WriteOptions:
    """Comma, header, empty field for null; Arrow quotes every string value.

    The header is written unquoted where PyArrow supports it (``quoting_header``, PyArrow 23+).
    """
    try:
        return pacsv.WriteOptions(batch_size=65_536, quoting_header="none")
    except TypeError:
        return pacsv.WriteOptions(batch_size=65_536)


class TableSink:
    """Write one table chunk by chunk to a temporary file, then move it into place.

    Parameters
    ----------
    path
        Final path of the file.
    schema
        Arrow schema of every chunk written.
    fmt
        ``"csv"`` or ``"parquet"``.
    """

    def __init__(self, path: Path, schema: pa.Schema, fmt: str) -> None:
        self.path = path
        self.rows = 0
        self._closed = False
        self._tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
        if fmt == "csv":
            self._writer = pacsv.CSVWriter(str(self._tmp), schema, write_options=_csv_options())
        else:
            self._writer = pq.ParquetWriter(str(self._tmp), schema, compression="snappy")

    def write(self, table: pa.Table) -> None:
        """Append ``table`` (which must have the sink's schema)."""
        if table.num_rows:
            self._writer.write_table(table)
        self.rows += table.num_rows

    def close(self) -> None:
        """Finish the temporary file."""
        if not self._closed:
            self._closed = True
            self._writer.close()

    def move_into_place(self) -> None:
        """Move the finished file to its final path, atomically replacing any older file."""
        os.replace(self._tmp, self.path)

    def discard(self) -> None:
        """Close and delete the temporary file."""
        try:
            self.close()
        finally:
            self._tmp.unlink(missing_ok=True)


class SinkSet:
    """The sinks of all output tables; commits all of them or none (as a context manager)."""

    def __init__(self, out_dir: Path, schemas: dict[str, pa.Schema], fmt: str) -> None:
        self.sinks: dict[str, TableSink] = {}
        try:
            for name, schema in schemas.items():
                self.sinks[name] = TableSink(out_dir / f"{name}.{fmt}", schema, fmt)
        except BaseException:
            self._discard_all()
            raise

    def __enter__(self) -> SinkSet:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if exc_type is not None:
            self._discard_all()
            return
        try:
            for sink in self.sinks.values():
                sink.close()
        except BaseException:
            self._discard_all()
            raise
        for sink in self.sinks.values():
            sink.move_into_place()

    def write(self, tables: dict[str, pa.Table]) -> None:
        """Append each table to its sink."""
        for name, table in tables.items():
            self.sinks[name].write(table)

    def summary(self) -> dict[str, dict]:
        """``{table: {"path": final path, "rows": rows written}}``."""
        return {name: {"path": str(s.path), "rows": s.rows} for name, s in self.sinks.items()}

    def _discard_all(self) -> None:
        for sink in self.sinks.values():
            sink.discard()
