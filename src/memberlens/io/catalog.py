"""Where the canonical tables live, for any engine: a DuckDB workspace file, a folder of Parquet
tables, a Spark/Hive database, or the tables of any backend Ibis connects to by URL.

Every analysis, model and report reads its tables through the same small interface —
``list_tables``, ``has_table``, ``table``, ``row_counts``, ``ledgers`` — which
:class:`~memberlens.io.workspace.Workspace` has and :class:`EngineTables` gives the others, so
the same code runs on DuckDB, Spark and the rest. Nothing is copied: a Parquet folder is read in
place (a view on DuckDB, a temporary view on Spark); a database table is read where it is.

``open_tables(engine, location)`` chooses:

================  ==============================  ===========================================
engine            location                        tables
================  ==============================  ===========================================
``duckdb``        ``FILE.duckdb``                 the workspace (ingested, with its ledger)
``duckdb``        a folder                        ``NAME.parquet`` files / ``NAME/`` datasets
``spark``         a folder                        the same, read by Spark
``spark``         ``spark:DATABASE``              the tables of a Spark/Hive database
an Ibis URL       ``DATABASE`` or empty           e.g. ``postgres://user@host/db``
================  ==============================  ===========================================

A folder written by ``memberlens export-tables`` also holds the ledger (``sources``, ``ledger``).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Protocol

import ibis
import ibis.expr.types as ir

from memberlens.errors import ConfigError, InputError, MissingTableError
from memberlens.io.engines import ENGINES, connect, disconnect, release_cached_tables
from memberlens.io.ledger_tables import LEDGER_TABLE, SOURCES_TABLE, ledgers_from
from memberlens.io.paths import literal_for
from memberlens.io.workspace import Workspace
from memberlens.schema.ledger import SourceLedger

SPARK_DATABASE_PREFIX = "spark:"
_TABLE_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\Z")


class Tables(Protocol):
    """What analyses read: canonical tables by name, and the ledger of how they were made."""

    location: str

    def list_tables(self) -> list[str]: ...
    def has_table(self, name: str) -> bool: ...
    def table(self, name: str) -> ir.Table: ...
    def row_counts(self) -> dict[str, int]: ...
    def ledgers(self) -> list[SourceLedger]: ...


class EngineTables:
    """Named Ibis tables on one backend (see the module docstring for where they come from)."""

    def __init__(self, backend: ibis.BaseBackend, tables: dict[str, ir.Table], location: str) -> None:
        self.con = backend
        self.owns_backend = backend.name != "pyspark"  # a Spark session is shared: never stop it
        self._tables = dict(sorted(tables.items()))
        self.location = location

    def list_tables(self) -> list[str]:
        return list(self._tables)

    def has_table(self, name: str) -> bool:
        return name in self._tables

    def table(self, name: str) -> ir.Table:
        if name not in self._tables:
            raise MissingTableError(
                f"{self.location}: has no '{name}' table",
                f"tables there: {', '.join(self._tables) or 'none'}; "
                f"write it with: memberlens export-tables, or name it {name}.parquet",
            )
        return self._tables[name]

    def row_counts(self) -> dict[str, int]:
        return {name: int(table.count().execute()) for name, table in self._tables.items()}

    def ledgers(self) -> list[SourceLedger]:
        if not (self.has_table(SOURCES_TABLE) and self.has_table(LEDGER_TABLE)):
            return []
        sources = self.table(SOURCES_TABLE).order_by(["ingested_at", "source"]).to_pandas()
        outcomes = self.table(LEDGER_TABLE).to_pandas()
        reasons = outcomes.reason.astype(object).where(outcomes.reason.notna(), None)
        return ledgers_from(
            list(
                sources[["source", "table_name", "location", "rows_read", "details"]].itertuples(index=False, name=None)
            ),
            list(zip(outcomes.source, outcomes.table_name, reasons, outcomes.rows)),
        )

    def close(self) -> None:
        if self.owns_backend:
            disconnect(self.con)
        else:  # a session shared with others: only what this work cached goes
            release_cached_tables(self.con)


def parquet_tables(backend: ibis.BaseBackend, folder: Path) -> EngineTables:
    """The tables of a folder: each ``NAME.parquet`` file or ``NAME/`` folder of Parquet files."""
    if not folder.is_dir():
        raise InputError(
            f"{folder}: no such folder", "pass a folder of NAME.parquet tables (memberlens export-tables writes one)"
        )
    tables: dict[str, ir.Table] = {}
    for entry in sorted(folder.iterdir()):
        name = entry.name.removesuffix(".parquet")
        is_table = (entry.is_file() and entry.suffix == ".parquet") or (entry.is_dir() and any(entry.glob("*.parquet")))
        if is_table and _TABLE_NAME.match(name):
            literal = literal_for(backend.name, entry)  # the folder's name is not a pattern
            pattern = literal + "/*.parquet" if entry.is_dir() else literal
            tables[name] = backend.read_parquet(pattern, table_name=f"memberlens_{name}")
    if not tables:
        raise InputError(
            f"{folder}: holds no Parquet tables", "expected orders.parquet (or an orders/ folder of Parquet files), ..."
        )
    return EngineTables(backend, tables, str(folder))


def database_tables(backend: ibis.BaseBackend, database: str | None, location: str) -> EngineTables:
    """The tables of a database (a Spark/Hive database, a PostgreSQL schema...), read in place."""
    try:
        names = backend.list_tables(database=database) if database else backend.list_tables()
    except Exception as exc:
        raise InputError(
            f"{location}: cannot list its tables ({str(exc).splitlines()[0]})",
            "check the database name and the engine's credentials",
        ) from exc
    tables = {
        name: backend.table(name, database=database) if database else backend.table(name)
        for name in names
        if _TABLE_NAME.match(name)
    }
    return EngineTables(backend, tables, location)


@contextmanager
def open_tables(
    engine: str = "duckdb",
    location: str | Path = "memberlens.duckdb",
    *,
    read_only: bool = True,
    spark_conf: dict[str, str] | None = None,
) -> Iterator[Tables]:
    """The tables at ``location`` on ``engine`` (``duckdb``, ``spark`` or an Ibis URL), closed after use."""
    text = str(location)
    if "://" in engine:
        try:
            backend = ibis.connect(engine)
        except Exception as exc:
            raise ConfigError(
                f"--engine {engine}: cannot connect ({str(exc).splitlines()[0]})",
                "an Ibis connection URL such as postgres://user:password@host/db",
            ) from exc
        tables: Any = database_tables(backend, text or None, f"{engine} {text}".strip())
    elif engine == "duckdb" and not Path(text).is_dir():
        tables = Workspace(text, read_only=read_only, must_exist=True)
    elif engine == "duckdb":
        tables = parquet_tables(connect("duckdb"), Path(text))
    elif engine == "spark":
        if text.startswith(SPARK_DATABASE_PREFIX):
            tables = database_tables(
                connect("spark", spark_conf=spark_conf), text.removeprefix(SPARK_DATABASE_PREFIX), text
            )
        elif text.endswith(".duckdb") or Path(text).is_file():
            raise ConfigError(
                f"--engine spark cannot read the DuckDB workspace {text}",
                f"write its tables as Parquet first: memberlens export-tables --db {text} --out FOLDER; "
                "then --engine spark --db FOLDER (or --db spark:DATABASE for a Spark/Hive database)",
            )
        else:
            tables = parquet_tables(connect("spark", spark_conf=spark_conf), Path(text))
    else:
        raise ConfigError(
            f"unknown engine {engine!r}", f"engines: {', '.join(ENGINES)}, or an Ibis URL such as postgres://host/db"
        )
    try:
        yield tables
    finally:
        tables.close()
