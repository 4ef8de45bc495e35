"""File names are literal: the shell globs, memberlens does not.

DuckDB's ``read_csv``/``read_parquet`` and Spark's readers treat a path as a glob pattern, so
``orders[1].csv`` would read ``orders1.csv`` and ``s*.csv`` every match. Each path memberlens
hands to an engine goes through here first: made absolute (DuckDB would also expand ``~``) and
with the engine's glob characters escaped, so it names exactly one file or folder. Only
patterns memberlens adds itself (``**/*.parquet`` under a folder) stay patterns.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

# DuckDB globs *, ? and [...]; a character in brackets matches itself ("[[]" is "[").
_DUCKDB_GLOB = re.compile(r"([*?\[])")
# Hadoop (Spark) globs *, ?, [...] and {a,b}; a backslash escapes the next character.
_HADOOP_GLOB = re.compile(r"([\\*?\[\]{}])")


def duckdb_literal(path: str | Path) -> str:
    """``path`` as a DuckDB file pattern that matches only itself."""
    return _DUCKDB_GLOB.sub(r"[\1]", os.path.abspath(path))


def spark_literal(path: str | Path) -> str:
    """``path`` as a Spark (Hadoop) path pattern that matches only itself."""
    return _HADOOP_GLOB.sub(r"\\\1", os.path.abspath(path))


def literal_for(backend: str, path: str | Path) -> str:
    """``path`` escaped for the Ibis backend named ``backend`` (``duckdb`` or ``pyspark``)."""
    return spark_literal(path) if backend == "pyspark" else duckdb_literal(path)
