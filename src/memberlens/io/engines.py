"""Connections to the engines that run memberlens' Ibis expressions.

DuckDB is the embedded default. Spark runs the same expressions: ``connect("spark")`` uses the
active SparkSession when there is one (spark-submit, a notebook on a cluster), or starts a local
one. Settings for a session memberlens starts come from ``MEMBERLENS_SPARK_CONF`` (a file of
``key=value`` lines) and ``MEMBERLENS_SPARK_MASTER``; the defaults suit one machine.

DuckDB runs larger-than-memory data within ``MEMBERLENS_DUCKDB_MEMORY_LIMIT`` (e.g. ``6GB``;
DuckDB's default is 80 % of RAM), spilling to ``MEMBERLENS_DUCKDB_TEMP_DIR`` (default: beside the
database file), with ``MEMBERLENS_DUCKDB_THREADS`` threads (default: all cores).
"""

from __future__ import annotations

import atexit
import os
import shutil
import tempfile
from pathlib import Path
from typing import Any

import ibis

from memberlens.errors import ConfigError

ENGINES = ("duckdb", "spark")
LOG_CONFIG = Path(__file__).with_name("spark-log4j2.properties")
SPARK_DEFAULTS = {
    "spark.sql.session.timeZone": "UTC",
    # -XX:+ExitOnOutOfMemoryError: out of heap, Spark's thread serving a result to Python dies
    # without answering and the Python side waits for ever; an exit is an error the user sees
    "spark.driver.extraJavaOptions": f"-Duser.timezone=UTC -Dlog4j2.configurationFile=file:{LOG_CONFIG} "
    "-XX:+ExitOnOutOfMemoryError",
    "spark.executor.extraJavaOptions": "-Duser.timezone=UTC",
    "spark.sql.shuffle.partitions": "8",
    "spark.ui.enabled": "false",
    "spark.ui.showConsoleProgress": "false",
    "spark.sql.execution.arrow.pyspark.enabled": "true",
}


DUCKDB_SETTINGS = {
    "memory_limit": "MEMBERLENS_DUCKDB_MEMORY_LIMIT",
    "temp_directory": "MEMBERLENS_DUCKDB_TEMP_DIR",
    "threads": "MEMBERLENS_DUCKDB_THREADS",
}


def release_cached_tables(backend: ibis.BaseBackend) -> None:
    """Drop the tables Ibis keeps for ``Table.cache()`` (the CLV summary, computed once) while the
    connection is still open: left to their finalizers, they are dropped after it closed, and
    each prints a traceback. (Ibis has no public call for all of a backend's cached tables.)"""
    for name in list(getattr(backend, "_cache_name_to_entry", {})):
        backend._finalize_cached_table(name)


def disconnect(backend: ibis.BaseBackend) -> None:
    """Close a connection this process opened, its cached tables first."""
    release_cached_tables(backend)
    backend.disconnect()


def engine_limit_error(exc: BaseException) -> ConfigError | None:
    """DuckDB running out of memory, as an error the user can act on (None for anything else)."""
    import duckdb

    if not isinstance(exc, duckdb.OutOfMemoryException):
        return None
    limit = os.environ.get("MEMBERLENS_DUCKDB_MEMORY_LIMIT", "80% of RAM (DuckDB's default)")
    first = str(exc).splitlines()[0] if str(exc) else "out of memory"
    return ConfigError(
        f"DuckDB ran out of memory within its limit of {limit}: {first}",
        "raise MEMBERLENS_DUCKDB_MEMORY_LIMIT, or set MEMBERLENS_DUCKDB_THREADS=1; "
        "MEMBERLENS_DUCKDB_TEMP_DIR should be on a disk with room to spill",
    )


def duckdb_settings() -> dict[str, str]:
    """DuckDB settings from the environment (see the module docstring)."""
    return {setting: os.environ[variable] for setting, variable in DUCKDB_SETTINGS.items() if os.environ.get(variable)}


def spark_settings(extra: dict[str, str] | None = None) -> dict[str, str]:
    """Defaults, then the ``MEMBERLENS_SPARK_CONF`` file, then ``extra``."""
    settings = dict(SPARK_DEFAULTS)
    conf_file = os.environ.get("MEMBERLENS_SPARK_CONF")
    if conf_file:
        path = Path(conf_file)
        if not path.is_file():
            raise ConfigError(f"MEMBERLENS_SPARK_CONF={conf_file}: no such file", "a file of key=value lines")
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            if line.strip() and not line.lstrip().startswith("#"):
                key, sep, value = line.partition("=")
                if not sep:
                    raise ConfigError(f"{conf_file}, line {number}: expected key=value, got {line!r}")
                settings[key.strip()] = value.strip()
    return {**settings, **(extra or {})}


SPARK_EXTRA_HINT = "pip install 'memberlens[spark]'"


def missing_spark(exc: ImportError) -> ConfigError:
    """The spark extra is not installed: the user's to install, said in one line."""
    package = getattr(exc, "name", None) or "pyspark"
    return ConfigError(
        f"--engine spark needs the Python package {package.split('.')[0]}, which is not installed (the spark extra)",
        SPARK_EXTRA_HINT,
    )


def spark_session(extra: dict[str, str] | None = None) -> Any:
    """The active SparkSession, or a new local one with :func:`spark_settings`."""
    try:
        from pyspark.sql import SparkSession
    except ImportError as exc:
        raise missing_spark(exc) from exc
    active = SparkSession.getActiveSession()
    if active is not None:
        return active
    os.environ.setdefault("SPARK_LOCAL_IP", "127.0.0.1")  # one machine: no "resolves to a loopback address" warning
    builder = SparkSession.builder.master(os.environ.get("MEMBERLENS_SPARK_MASTER", "local[*]")).appName("memberlens")
    settings = spark_settings(extra)
    if "spark.sql.warehouse.dir" not in settings:  # a scratch warehouse, removed when Python exits
        scratch = tempfile.mkdtemp(prefix="memberlens-spark-")
        atexit.register(shutil.rmtree, scratch, ignore_errors=True)
        settings["spark.sql.warehouse.dir"] = scratch
    for key, value in settings.items():
        builder = builder.config(key, value)
    session = builder.getOrCreate()
    session.sparkContext.setLogLevel("ERROR")
    return session


def connect(
    engine: str = "duckdb", *, path: str | None = None, spark_conf: dict[str, str] | None = None
) -> ibis.BaseBackend:
    """An Ibis backend for ``engine``: ``duckdb`` (``path`` or in memory) or ``spark``."""
    if engine == "duckdb":
        return ibis.duckdb.connect(path or ":memory:", **duckdb_settings())
    if engine == "spark":
        session = spark_session(spark_conf)
        try:
            backend = ibis.pyspark  # Ibis imports its PySpark backend (and PySpark) here
        except ImportError as exc:
            raise missing_spark(exc) from exc
        return backend.connect(session)
    raise ConfigError(f"unknown engine {engine!r}", f"engines: {', '.join(ENGINES)}")
