"""Intermediate results an iterating algorithm keeps in the engine, with no memory of how they were made.

An algorithm that builds each step on the last (the referral cascades walk one generation at a
time) needs the engine to hold each step's rows. Ibis' ``Table.cache()`` does that, but on Spark
a cached table keeps its whole lineage: step *n*'s plan holds the *n* steps before it, Spark
re-plans (and matches against every cached plan) all of it for every query, and a walk of twenty
generations over eighty referrals took minutes and ran a 2 GB driver out of heap. Here Spark
*checkpoints* the step locally (``localCheckpoint``: the rows stay on the executors, the plan
becomes a scan of them); DuckDB's cached table is a plain temporary table already.
"""

from __future__ import annotations

import itertools

import ibis.expr.types as ir

_names = itertools.count()
_held: dict[tuple[int, str], object] = {}  # (backend id, view name) -> the Spark DataFrame behind it


def hold(table: ir.Table) -> ir.Table:
    """``table``'s rows held by its engine, as a table whose plan is a scan of them; give it
    back with :func:`let_go`."""
    backend = table._find_backend()
    if backend.name != "pyspark":
        return table.cache()
    frame = backend._session.sql(backend.compile(table)).localCheckpoint(eager=True)
    name = f"memberlens_held_{next(_names)}"
    frame.createOrReplaceTempView(name)
    _held[(id(backend), name)] = frame
    return backend.table(name)


def let_go(table: ir.Table) -> None:
    """Free what :func:`hold` kept for ``table``."""
    backend = table._find_backend()
    if backend.name != "pyspark":
        table.release()
        return
    name = table.get_name()
    frame = _held.pop((id(backend), name), None)
    if frame is None:
        return
    backend._session.catalog.dropTempView(name)
    frame.unpersist()
