"""The ledger's invariant and its reasons, against a plain-Python oracle of the cleaning policy.

For random order logs (text cells as a CSV export gives them, including blanks, broken dates,
non-numbers, cancellations, non-positive values and exact duplicates): rows read always equals
rows used plus rows set aside, and each reason's count equals the oracle's.
"""

from __future__ import annotations

import itertools
import math
from collections import Counter
from datetime import datetime

import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from memberlens import CleaningPolicy, MappingSpec, Workspace, ingest
from memberlens.schema.cleaning import reason_order
from memberlens.schema.contract import ORDERS

COLUMNS = ["Invoice", "Customer", "Date", "Qty", "Price"]
SPEC = MappingSpec(
    columns={
        "order_id": "Invoice",
        "customer_id": "Customer",
        "ordered_at": "Date",
        "quantity": "Qty",
        "unit_price": "Price",
    },
    cancellation_prefix="C",
)
# (text, parsed datetime or None when unparseable); "" is a missing date.
DATES = [
    ("2011-12-09 12:50", datetime(2011, 12, 9, 12, 50)),
    ("12/1/2010 8:26", datetime(2010, 12, 1, 8, 26)),
    ("2011-02-28", datetime(2011, 2, 28)),
    ("20110301", datetime(2011, 3, 1)),
    ("2011-02-30", None),
    ("13/13/2011", None),
    ("yesterday", None),
    ("", None),
]
NUMBERS = ["1", "2", "3.5", "0", "-1", "-2.5", "abc", "NaN", "inf", "", " 4 "]

cells = st.fixed_dictionaries(
    {
        "Invoice": st.sampled_from(["536365", "536366", "C536367", "", "536368"]),
        "Customer": st.sampled_from(["17850", "13047", "17850.0", "", "12583"]),
        "Date": st.sampled_from([d for d, _ in DATES]),
        "Qty": st.sampled_from(NUMBERS),
        "Price": st.sampled_from(NUMBERS),
    }
)
order_logs = st.lists(cells, min_size=1, max_size=40).flatmap(
    # repeat some rows verbatim so exact duplicates are common
    lambda rows: st.lists(st.sampled_from(rows), min_size=len(rows), max_size=len(rows) + 10).map(
        lambda extra: rows + extra
    )
)


def number(text: str) -> float | None:
    try:
        value = float(text)
    except ValueError:
        return None
    return value if math.isfinite(value) else None


def oracle_reason(row: dict[str, str], policy: CleaningPolicy) -> str | None:
    """The cleaning policy, written out row by row in plain Python."""
    if all(row[c] == c for c in COLUMNS):
        return "repeated_header"
    if not row["Invoice"].strip():
        return "missing_order_id"
    if not row["Date"].strip():
        return "missing_ordered_at"
    if dict(DATES)[row["Date"]] is None:
        return "unparseable_ordered_at"
    for column, canonical in (("Qty", "quantity"), ("Price", "unit_price")):
        if row[column].strip() and number(row[column]) is None:
            return f"non_numeric_{canonical}"
    if not row["Qty"].strip() or not row["Price"].strip():
        return "missing_amount"
    if policy.separate_cancellations and row["Invoice"].startswith("C"):
        return "cancellation"
    if policy.require_customer_id and not row["Customer"].strip():
        return "missing_customer_id"
    if policy.positive_quantity and number(row["Qty"]) <= 0:
        return "non_positive_quantity"
    if policy.positive_price and number(row["Price"]) <= 0:
        return "non_positive_price"
    return None


def oracle_outcomes(rows: list[dict[str, str]], policy: CleaningPolicy) -> Counter:
    outcomes: Counter = Counter()
    seen: set[tuple[str, ...]] = set()
    for row in rows:
        reason = oracle_reason(row, policy)
        if reason is None and policy.drop_duplicates:
            key = tuple(row[c] for c in COLUMNS)
            reason = "duplicate_line" if key in seen else None
            seen.add(key)
        outcomes[reason or "used"] += 1
    return outcomes


def ledger_outcomes(ledger) -> Counter:
    return Counter({"used": ledger.rows_used, **ledger.set_aside}) - Counter()


policies = st.builds(
    CleaningPolicy,
    require_customer_id=st.booleans(),
    separate_cancellations=st.booleans(),
    positive_quantity=st.booleans(),
    positive_price=st.booleans(),
    drop_duplicates=st.booleans(),
)


@pytest.mark.slow
@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(rows=order_logs, policy=policies)
def test_rows_read_equal_rows_used_plus_set_aside(rows, policy):
    with Workspace(":memory:") as ws:
        result = ingest(ws, pd.DataFrame(rows, columns=COLUMNS), name="log", mapping=SPEC, policy=policy)
        ledger = result.ledger
        assert ledger.rows_read == len(rows)
        assert ledger.rows_read == ledger.rows_used + sum(ledger.set_aside.values())
        assert ledger_outcomes(ledger) == oracle_outcomes(rows, policy) - Counter()
        counts = ws.row_counts()
        assert counts.get("orders", 0) == ledger.rows_used
        assert counts.get("cancellations", 0) == ledger.set_aside.get("cancellation", 0)
        assert counts.get("orders_set_aside", 0) == ledger.rows_set_aside - ledger.set_aside.get("cancellation", 0)


@pytest.mark.parametrize(
    "policy",
    [
        CleaningPolicy(),
        CleaningPolicy(
            require_customer_id=False, separate_cancellations=False, positive_quantity=False, positive_price=False
        ),
    ],
)
def test_every_combination_of_cell_values(policy):
    """Exhaustive over the value space the random tests sample from: each reason is reached."""
    invoices, customers = ["536365", "C536367", ""], ["17850", "17850.0", ""]
    rows = [
        dict(zip(COLUMNS, values))
        for values in itertools.product(invoices, customers, [d for d, _ in DATES], NUMBERS, NUMBERS)
    ]
    with Workspace(":memory:") as ws:
        ledger = ingest(ws, pd.DataFrame(rows, columns=COLUMNS), name="all", mapping=SPEC, policy=policy).ledger
    expected = oracle_outcomes(rows, policy) - Counter()
    assert ledger_outcomes(ledger) == expected
    assert len(expected) >= (9 if policy == CleaningPolicy() else 6)  # the reasons really occur


@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture]
)
@given(rows=order_logs)
@pytest.mark.slow
def test_csv_file_gives_the_same_ledger_as_the_frame(rows, tmp_path_factory):
    path = tmp_path_factory.mktemp("csv") / "log.csv"
    pd.DataFrame(rows, columns=COLUMNS).to_csv(path, index=False)
    with Workspace(":memory:") as ws:
        ledger = ingest(ws, path, name="log", mapping=SPEC).ledger
    assert ledger_outcomes(ledger) == oracle_outcomes(rows, CleaningPolicy()) - Counter()


def test_used_rows_carry_the_oracles_values():
    rows = [
        {"Invoice": "1", "Customer": "17850.0", "Date": "12/1/2010 8:26", "Qty": "6", "Price": "2.55"},
        {"Invoice": "1", "Customer": "17850", "Date": "12/1/2010 8:26", "Qty": "2", "Price": "3.39"},
        {"Invoice": "C2", "Customer": "17850", "Date": "2011-01-05", "Qty": "-1", "Price": "3.39"},
    ]
    with Workspace(":memory:") as ws:
        ingest(ws, pd.DataFrame(rows), name="log", mapping=SPEC)
        orders = ws.table("orders").order_by("_row").execute()
        cancellations = ws.table("cancellations").execute()
    assert orders["customer_id"].tolist() == ["17850", "17850"]
    assert orders["amount"].tolist() == pytest.approx([6 * 2.55, 2 * 3.39])
    assert orders["ordered_at"].tolist() == [pd.Timestamp("2010-12-01 08:26")] * 2
    assert cancellations["order_id"].tolist() == ["C2"]
    assert cancellations["amount"].tolist() == pytest.approx([-3.39])


def test_reasons_follow_the_documented_precedence():
    documented = reason_order(ORDERS)
    # a row that is both a cancellation and has no customer is counted once, as a cancellation
    rows = [{"Invoice": "C1", "Customer": "", "Date": "2011-01-01", "Qty": "-1", "Price": "1"}]
    with Workspace(":memory:") as ws:
        ledger = ingest(ws, pd.DataFrame(rows), name="log", mapping=SPEC).ledger
    assert ledger.set_aside == {"cancellation": 1}
    assert (
        documented.index("cancellation") < documented.index("missing_customer_id") < documented.index("duplicate_line")
    )
