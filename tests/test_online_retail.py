"""The UCI Online Retail file through the CLI, as a user runs it, against independent figures:
the published row and cancellation counts, and a plain pandas computation of the policy."""

from __future__ import annotations

import json

import pandas as pd
import pytest


@pytest.fixture(scope="module")
def uci_frame(shared_data):
    return pd.read_csv(shared_data / "online_retail.csv.gz", encoding="latin-1", dtype=str, keep_default_na=False)


def test_ingest_and_info_account_for_every_row(run_cli, shared_data, uci_frame):
    result = run_cli("ingest", shared_data / "online_retail.csv.gz", "--preset", "online-retail")
    assert result.exit_code == 0, result.stderr
    info = run_cli("info", "--format", "json")
    assert info.exit_code == 0, info.stderr
    (ledger,) = json.loads(info.stdout)["sources"]
    tables = json.loads(info.stdout)["tables"]

    assert ledger["rows_read"] == 541_909  # product.md
    assert ledger["set_aside"]["cancellation"] == 9_288  # product.md
    assert tables["cancellations"] == 9_288
    assert ledger["rows_used"] + sum(ledger["set_aside"].values()) == ledger["rows_read"]
    assert tables["orders"] == ledger["rows_used"]

    # the default policy, computed independently with pandas
    df = uci_frame
    cancelled = df["InvoiceNo"].str.startswith("C")
    no_customer = ~cancelled & (df["CustomerID"].str.strip() == "")
    rest = df[~cancelled & ~no_customer]
    non_positive_qty = rest["Quantity"].astype(float) <= 0
    non_positive_price = ~non_positive_qty & (rest["UnitPrice"].astype(float) <= 0)
    kept = rest[~non_positive_qty & ~non_positive_price]
    duplicates = kept.duplicated(keep="first")
    expected = {
        "cancellation": int(cancelled.sum()),
        "missing_customer_id": int(no_customer.sum()),
        "non_positive_quantity": int(non_positive_qty.sum()),
        "non_positive_price": int(non_positive_price.sum()),
        "duplicate_line": int(duplicates.sum()),
    }
    assert ledger["set_aside"] == {k: v for k, v in expected.items() if v}
    assert ledger["rows_used"] == int((~duplicates).sum())
    assert ledger["encoding"] == "latin-1"


def test_used_orders_match_pandas(tmp_path, shared_data, uci_frame):
    from memberlens import Workspace, ingest

    with Workspace(tmp_path / "w.duckdb") as ws:
        ingest(ws, shared_data / "online_retail.csv.gz", preset="online-retail")
        orders = ws.table("orders")
        summary = orders.aggregate(
            customers=orders.customer_id.nunique(),
            revenue=orders.amount.sum(),
            first=orders.ordered_at.min(),
            last=orders.ordered_at.max(),
            countries=orders.country.nunique(),
        ).execute()
    df = uci_frame
    used = df[
        ~df["InvoiceNo"].str.startswith("C")
        & (df["CustomerID"] != "")
        & (df["Quantity"].astype(float) > 0)
        & (df["UnitPrice"].astype(float) > 0)
    ].drop_duplicates()
    assert summary["customers"][0] == used["CustomerID"].nunique() == 4_338
    assert summary["revenue"][0] == pytest.approx(
        (used["Quantity"].astype(float) * used["UnitPrice"].astype(float)).sum()
    )
    assert summary["first"][0] == pd.Timestamp("2010-12-01 08:26")
    assert summary["last"][0] == pd.Timestamp("2011-12-09 12:50")
    assert summary["countries"][0] == used["Country"].nunique()
