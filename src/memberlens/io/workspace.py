"""The workspace: one DuckDB file holding the canonical tables, the set-aside rows and the ledger.

Tables a workspace may hold:

* the canonical tables of :mod:`memberlens.schema.contract` (``orders``, ``members``, ...),
  each row tagged with ``_source`` and ``_row``;
* ``cancellations`` — cancellation lines, in the orders layout;
* ``<table>_set_aside`` — every other row that was not used, with ``_reason`` and its raw
  source values (malformed CSV lines keep their text in ``_line_text``);
* ``ledger`` — per source, rows used and set aside per reason; ``sources`` — what was read, from
  where, how, with which mapping and cleaning policy.

A source is keyed by its name (by default the file's absolute path) and the table it feeds.
Ingesting it again replaces what it contributed to that table, in one transaction: a failure
half-way leaves the workspace as it was; another file under the same name is refused unless
replacing is asked for.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import duckdb
import ibis
import ibis.expr.types as ir

from memberlens.errors import InputError, MissingTableError
from memberlens.io.engines import disconnect, duckdb_settings
from memberlens.io.faults import environment_error
from memberlens.io.files import leftover_prefix, remove_leftovers
from memberlens.io.jsonable import json_text
from memberlens.io.ledger_tables import LEDGER_TABLE, SOURCES_TABLE, ledgers_from
from memberlens.io.sources import quote_identifier
from memberlens.io.together import files_together
from memberlens.schema.contract import CANCELLATIONS_TABLE, SOURCE_COLUMN, UNLOCK_HINTS
from memberlens.schema.ledger import SourceLedger

DEFAULT_PATH = Path("memberlens.duckdb")
SCRATCH = "memberlens-scratch"  # transcoded copies of inputs beside the workspace, while ingesting
DUCKDB_MAGIC, DUCKDB_MAGIC_AT = b"DUCK", 8  # a DuckDB file: an 8-byte checksum, then "DUCK"


class Workspace:
    """A DuckDB workspace file. Analyses read its tables through :meth:`table` as Ibis tables.

    Parameters
    ----------
    path
        The ``.duckdb`` file (created when missing unless ``must_exist``).
    read_only
        Open without taking the write lock.
    must_exist
        Raise :class:`InputError` instead of creating a new, empty workspace.
    """

    def __init__(self, path: str | Path = DEFAULT_PATH, *, read_only: bool = False, must_exist: bool = False) -> None:
        self.path = Path(path)
        self.location = str(self.path)
        self._in_transaction = False
        if must_exist and not self.path.exists():
            raise InputError(
                f"{self.path}: no such workspace", "ingest data first: memberlens ingest FILE (or pass --db)"
            )
        if self.path.exists() and self.path.is_dir():
            raise InputError(f"{self.path}: is a folder, not a workspace file", "pass --db FILE.duckdb")
        _refuse_other_files(self.path)
        if not read_only:
            _make_parent(self.path)
            remove_leftovers(self.path.resolve().parent, SCRATCH)  # what a killed ingest left
        try:
            self.con = ibis.duckdb.connect(str(self.path), read_only=read_only, **duckdb_settings())
        except duckdb.Error as exc:
            fault = environment_error(exc, self.path)  # a read-only folder, a full disk
            if fault is not None:
                raise fault from exc
            raise InputError(
                f"{self.path}: cannot open the workspace ({str(exc).splitlines()[0]})",
                "is another memberlens process using it, or is it not a DuckDB file?",
            ) from exc

    # -- reading -------------------------------------------------------------------------------
    @property
    def raw(self) -> duckdb.DuckDBPyConnection:
        return self.con.con

    def list_tables(self) -> list[str]:
        rows = self.raw.execute(
            "SELECT table_name FROM information_schema.tables "
            "WHERE table_schema = 'main' AND table_catalog = current_database() ORDER BY table_name"
        ).fetchall()
        return [r[0] for r in rows]

    def has_table(self, name: str) -> bool:
        return name in self.list_tables()

    def table(self, name: str) -> ir.Table:
        """A workspace table as an Ibis table; a missing one says which ingest would add it."""
        if not self.has_table(name):
            hint = UNLOCK_HINTS.get(name, "memberlens ingest FILE")
            raise MissingTableError(f"{self.path}: the workspace has no '{name}' table", f"add it with: {hint}")
        return self.con.table(name)

    def temp_table(self, name: str) -> ir.Table:
        return self.con.table(name, database=("temp", "main"))

    def row_counts(self) -> dict[str, int]:
        return {
            name: self.raw.execute(f"SELECT count(*) FROM {quote_identifier(name)}").fetchone()[0]
            for name in self.list_tables()
        }

    def ledgers(self) -> list[SourceLedger]:
        """Every source's ledger, in ingest order."""
        if not self.has_table(SOURCES_TABLE):
            return []
        sources = self.raw.execute(
            f"SELECT source, table_name, location, rows_read, details FROM {SOURCES_TABLE} ORDER BY ingested_at, source"
        ).fetchall()
        outcomes = self.raw.execute(f"SELECT source, table_name, reason, rows FROM {LEDGER_TABLE}").fetchall()
        return ledgers_from(sources, outcomes)

    def export_parquet(self, folder: str | Path, tables: list[str] | None = None) -> list[Path]:
        """Write each table (default: all) to ``folder/NAME.parquet``, all of them replacing the
        old files together (a kill never leaves old tables beside new ones): the folder other
        engines read with ``--engine spark --db FOLDER``."""
        names = tables or self.list_tables()
        with files_together(folder) as staging:
            for name in names:
                target = staging / f"{name}.parquet"
                self.raw.execute(f"COPY {quote_identifier(name)} TO '{_sql_string(str(target))}' (FORMAT parquet)")
        return [Path(folder) / f"{name}.parquet" for name in names]

    # -- writing -------------------------------------------------------------------------------
    def replace_rows(self, table: str, key: str, value: Any, frame: Any, *, schema: dict[str, str]) -> None:
        """Replace the rows of ``table`` whose ``key`` is ``value`` by ``frame`` (a pandas or
        Arrow table with the columns of ``schema``: name -> string, date, int64 or float64),
        creating the table when missing; one transaction."""
        types = {"string": "VARCHAR", "date": "DATE", "int64": "BIGINT", "float64": "DOUBLE"}
        name = quote_identifier(table)
        columns = ", ".join(f"{quote_identifier(c)} {types[k]}" for c, k in schema.items())
        selected = ", ".join(
            f"CAST({quote_identifier(c)} AS {types[k]}) AS {quote_identifier(c)}" for c, k in schema.items()
        )
        with self.transaction():
            self.raw.execute(f"CREATE TABLE IF NOT EXISTS {name} ({columns})")
            self.raw.execute(f"DELETE FROM {name} WHERE {quote_identifier(key)} = ?", [value])
            self.raw.register("_memberlens_rows", frame)
            try:
                self.raw.execute(f"INSERT INTO {name} BY NAME SELECT {selected} FROM _memberlens_rows")
            finally:
                self.raw.unregister("_memberlens_rows")

    @contextmanager
    def scratch_dir(self) -> Iterator[Path]:
        """A temporary folder beside the workspace for transcoded copies of inputs."""
        parent = self.path.resolve().parent
        with tempfile.TemporaryDirectory(prefix=leftover_prefix(SCRATCH), dir=parent if parent.exists() else None) as d:
            yield Path(d)

    def materialise_temp(self, name: str, expr: ir.Table) -> ir.Table:
        """Run ``expr`` once into a temporary table (dropped when the workspace closes)."""
        self.raw.execute(f"CREATE TEMP TABLE {quote_identifier(name)} AS {self.con.compile(expr)}")
        return self.temp_table(name)

    @contextmanager
    def transaction(self) -> Iterator[None]:
        """One transaction around everything inside (nested uses join the outer one): a failure
        anywhere leaves the workspace as it was — how one ``ingest`` of several files commits all
        of them or none."""
        if self._in_transaction:
            yield
            return
        self.raw.execute("BEGIN TRANSACTION")
        self._in_transaction = True
        try:
            yield
            self.raw.execute("COMMIT")
        except BaseException:
            try:
                self.raw.execute("ROLLBACK")
            except duckdb.Error:  # DuckDB already ended it (e.g. a full disk at COMMIT): the first error tells why
                pass
            raise
        finally:
            self._in_transaction = False

    def replace_source(
        self,
        *,
        ledger: SourceLedger,
        parts: dict[str, ir.Table],
        malformed_lines: str | None,
        metadata: dict[str, Any],
        replace: bool = False,
    ) -> None:
        """Replace what ``ledger.source`` contributed to ``ledger.table`` (and its cancellations
        and set-aside rows), in one transaction; other tables keep their rows from that source.

        ``parts`` maps a workspace table name to the Ibis expression of this source's rows for it.
        A source of that name already read from another location is refused unless ``replace``.
        """
        compiled = {table: self.con.compile(expr) for table, expr in parts.items()}
        with self.transaction():
            self._check_collision(ledger, replace)
            self._remove_source(ledger.source, ledger.table)
            for table, sql in compiled.items():
                self._append(table, sql)
            if malformed_lines:
                self._append(f"{ledger.table}_set_aside", _malformed_lines_sql(malformed_lines), [ledger.source])
            self._record_ledger(ledger, metadata)

    def _check_collision(self, ledger: SourceLedger, replace: bool) -> None:
        if replace or not self.has_table(SOURCES_TABLE):
            return
        found = self.raw.execute(
            f"SELECT location FROM {SOURCES_TABLE} WHERE source = ? AND table_name = ?", [ledger.source, ledger.table]
        ).fetchone()
        if found is not None and not _same_location(found[0], ledger.location, ledger.source):
            raise InputError(
                f"{ledger.location}: the {ledger.table} table already holds source {ledger.source!r}, read from "
                f"{found[0]}; ingesting this under the same name would replace it",
                "give this file its own name with --name, or pass --replace to replace the earlier one",
            )

    def _remove_source(self, source: str, table: str) -> None:
        """Delete ``source``'s rows from ``table``, its cancellations, set-aside rows and ledger."""
        owned = {table, f"{table}_set_aside", *([CANCELLATIONS_TABLE] if table == "orders" else [])}
        for name in self.list_tables():
            if name in (LEDGER_TABLE, SOURCES_TABLE):
                self.raw.execute(
                    f"DELETE FROM {quote_identifier(name)} WHERE source = ? AND table_name = ?", [source, table]
                )
            elif name in owned:
                self.raw.execute(f"DELETE FROM {quote_identifier(name)} WHERE {SOURCE_COLUMN} = ?", [source])

    def _columns(self, table: str) -> list[str]:
        return [r[0] for r in self.raw.execute(f"DESCRIBE {quote_identifier(table)}").fetchall()]

    def _append(self, table: str, select_sql: str, params: list[Any] | None = None) -> None:
        """Add the rows of ``select_sql`` to ``table``: inserted when the table has each of their
        columns with the same type (a day's batch into a large table is not a copy of it);
        otherwise the table is rebuilt with the union of both sets of columns."""
        name = quote_identifier(table)
        if not self.has_table(table):
            self.raw.execute(f"CREATE TABLE {name} AS {select_sql}", params)
            return
        have = dict(self.raw.execute(f"SELECT column_name, column_type FROM (DESCRIBE {name})").fetchall())
        new = self.raw.execute(f"SELECT column_name, column_type FROM (DESCRIBE ({select_sql}))", params).fetchall()
        if all(have.get(column) == kind for column, kind in new):
            self.raw.execute(f"INSERT INTO {name} BY NAME ({select_sql})", params)
        else:
            self.raw.execute(
                f"CREATE OR REPLACE TABLE {name} AS SELECT * FROM {name} UNION ALL BY NAME ({select_sql})", params
            )

    def _record_ledger(self, ledger: SourceLedger, metadata: dict[str, Any]) -> None:
        raw = self.raw
        raw.execute(
            f"CREATE TABLE IF NOT EXISTS {SOURCES_TABLE} (source VARCHAR, table_name VARCHAR, "
            "location VARCHAR, rows_read BIGINT, details VARCHAR, ingested_at TIMESTAMP, PRIMARY KEY (source, table_name))"
        )
        _upgrade_sources_key(raw)
        raw.execute(
            f"CREATE TABLE IF NOT EXISTS {LEDGER_TABLE} (source VARCHAR, table_name VARCHAR, "
            "outcome VARCHAR, reason VARCHAR, rows BIGINT)"
        )
        raw.execute(
            f"INSERT INTO {SOURCES_TABLE} VALUES (?, ?, ?, ?, ?, ?)",
            [
                ledger.source,
                ledger.table,
                ledger.location,
                ledger.rows_read,
                json_text({**ledger.details, **metadata}, indent=None),
                datetime.now(UTC).replace(tzinfo=None),
            ],
        )
        rows = [(ledger.source, ledger.table, "used", None, ledger.rows_used)]
        rows += [(ledger.source, ledger.table, "set_aside", r, n) for r, n in ledger.set_aside.items()]
        raw.executemany(f"INSERT INTO {LEDGER_TABLE} VALUES (?, ?, ?, ?, ?)", rows)

    # -- lifecycle -----------------------------------------------------------------------------
    def close(self) -> None:
        disconnect(self.con)

    def __enter__(self) -> Workspace:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _refuse_other_files(path: Path) -> None:
    """An existing file is opened only when it is a DuckDB database: DuckDB would open a CSV
    given as ``--db`` as a database of its own, and what was ingested into it is lost."""
    if not path.is_file():
        return
    try:
        with open(path, "rb") as f:
            head = f.read(DUCKDB_MAGIC_AT + len(DUCKDB_MAGIC))
    except OSError as exc:
        raise InputError(f"{path}: cannot read the workspace ({exc.strerror})", "check the file's permissions") from exc
    if head[DUCKDB_MAGIC_AT:] != DUCKDB_MAGIC:
        raise InputError(
            f"{path}: exists and is not a DuckDB workspace",
            "--db takes a workspace file (.duckdb) or a new path; memberlens does not write into other files",
        )


def _make_parent(path: Path) -> None:
    """A new workspace in a folder that does not exist yet: the folder is made, as for --out."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise InputError(
            f"{path}: cannot make its folder {path.parent} ({exc.strerror})",
            "check the path, or pass --db in a folder you can write to",
        ) from exc


def _same_location(earlier: str, now: str, source: str) -> bool:
    """The same file (under any path that names it, or keyed by its own absolute path), or the
    same kind of in-memory table."""
    if earlier == now or source == str(Path(now).resolve()):
        return True
    try:
        return os.path.samefile(earlier, now)
    except OSError:
        return False


def _upgrade_sources_key(raw: duckdb.DuckDBPyConnection) -> None:
    """Workspaces written before a source could feed several tables keyed ``sources`` by source
    alone: rebuild the table with the key (source, table_name), keeping its rows."""
    keys = raw.execute(
        "SELECT constraint_column_names FROM duckdb_constraints() "
        f"WHERE table_name = '{SOURCES_TABLE}' AND constraint_type = 'PRIMARY KEY'"
    ).fetchall()
    if not keys or list(keys[0][0]) != ["source"]:
        return
    raw.execute(f"CREATE TEMP TABLE _sources_before AS SELECT * FROM {SOURCES_TABLE}")
    raw.execute(f"DROP TABLE {SOURCES_TABLE}")
    raw.execute(
        f"CREATE TABLE {SOURCES_TABLE} (source VARCHAR, table_name VARCHAR, location VARCHAR, rows_read BIGINT, "
        "details VARCHAR, ingested_at TIMESTAMP, PRIMARY KEY (source, table_name))"
    )
    raw.execute(f"INSERT INTO {SOURCES_TABLE} SELECT * FROM _sources_before")
    raw.execute("DROP TABLE _sources_before")


def _sql_string(text: str) -> str:
    return text.replace("'", "''")


def _malformed_lines_sql(rejects_table: str) -> str:
    return (
        f"SELECT DISTINCT ON (line) ?::VARCHAR AS {SOURCE_COLUMN}, NULL::BIGINT AS _row, "
        "'malformed_line' AS _reason, line AS _line, csv_line AS _line_text, error_message AS _error "
        f"FROM {quote_identifier(rejects_table)} ORDER BY line"
    )


__all__ = ["CANCELLATIONS_TABLE", "DEFAULT_PATH", "Workspace"]
