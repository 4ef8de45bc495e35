"""memberlens: member and customer value analytics on DuckDB, Spark and other Ibis engines.

The Python API takes tables in and gives tables out::

    import memberlens as ml

    ws = ml.Workspace("shop.duckdb")
    ml.ingest(ws, "online_retail.csv.gz", preset="online-retail")
    orders = ws.table("orders")          # an Ibis table; analyses take and return Ibis tables
"""

from __future__ import annotations

__version__ = "0.1.0"

from memberlens.errors import ConfigError, InputError, MemberlensError, MissingTableError  # noqa: E402
from memberlens.ingest import IngestResult, ingest  # noqa: E402
from memberlens.io.sources import ReadOptions  # noqa: E402
from memberlens.io.workspace import Workspace  # noqa: E402
from memberlens.schema.cleaning import CleaningPolicy  # noqa: E402
from memberlens.schema.mapping import MappingSpec  # noqa: E402

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
