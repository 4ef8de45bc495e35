"""memberlens.io.held: an iterating algorithm's intermediate rows, held by the engine.

The oracle is the rows of the expression itself; on Spark the held table's plan must be a scan of
the held rows, not the expression's plan (a cached Spark table keeps its lineage, and a walk of
twenty generations re-planned all of it for every query until the driver ran out of heap).
"""

from __future__ import annotations

import pandas as pd
from conftest import load

from memberlens.io.held import hold, let_go


def test_held_rows_are_the_expressions_rows_and_are_given_back(con):
    frame = pd.DataFrame({"k": [3, 1, 2, 5, 4], "v": [0.5, 1.5, 2.5, 3.5, 4.5]})
    table = load(con, "held_source", frame)
    expr = table.filter(table.k > 1).mutate(w=table.v * 2)
    held = hold(expr)
    try:
        got = held.order_by("k").to_pandas().reset_index(drop=True)
        pd.testing.assert_frame_equal(got, expr.order_by("k").to_pandas().reset_index(drop=True))
        if con.name == "pyspark":  # the plan is a scan of the held rows: no filter, no projection of v * 2
            plan = con._session.table(held.get_name())._jdf.queryExecution().analyzed().toString()
            assert "Filter" not in plan and "held_source" not in plan, plan
    finally:
        let_go(held)
    if con.name == "pyspark":
        assert held.get_name() not in {t.name for t in con._session.catalog.listTables()}
