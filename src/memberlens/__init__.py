"""memberlens: member and customer value analytics on DuckDB, Spark and other Ibis engines.

The Python API takes tables in and gives tables out::

    import memberlens as ml

    ws = ml.Workspace("shop.duckdb")
    ml.ingest(ws, "online_retail.csv.gz", preset="online-retail")
    orders = ws.table("orders")          # an Ibis table; analyses take and return Ibis tables
"""

from __future__ import annotations

from memberlens._version import __version__
from memberlens.errors import ConfigError, InputError, MemberlensError, MissingTableError
from memberlens.ingest import IngestResult, ingest
from memberlens.io.sources import ReadOptions
from memberlens.io.workspace import Workspace
from memberlens.schema.cleaning import CleaningPolicy
from memberlens.schema.mapping import MappingSpec

__all__ = [
    "CleaningPolicy",
    "ConfigError",
    "IngestResult",
    "InputError",
    "MappingSpec",
    "MemberlensError",
    "MissingTableError",
    "ReadOptions",
    "Workspace",
    "__version__",
    "ingest",
]
