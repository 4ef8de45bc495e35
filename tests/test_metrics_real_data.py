"""Seed 000's analyses on the real UCI Online Retail file: what memberlens computes after its own
ingest must agree exactly with a plain pandas computation of the same definitions from the raw
CSV (the default cleaning policy applied by hand), and with the seed's two super orders."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from _order_logs import assert_frame_matches

from memberlens import Workspace, ingest
from memberlens.metrics import (
    compute_repurchase_rates,
    compute_rfm,
    count_lifecycle_stages,
    rank_largest_orders,
    summarise_trends,
)

pytestmark = pytest.mark.shared_data

AS_OF = pd.Timestamp("2011-12-10")


@pytest.fixture(scope="module")
def orders(shared_data, tmp_path_factory):
    """The ingested orders (default policy), as an Ibis table of the module's workspace."""
    ws = Workspace(tmp_path_factory.mktemp("uci") / "uci.duckdb")
    ingest(ws, shared_data / "online_retail.csv.gz", preset="online-retail")
    yield ws.table("orders")
    ws.close()


@pytest.fixture(scope="module")
def kept(shared_data) -> pd.DataFrame:
    """The raw CSV with the default policy applied in pandas: no cancellations ('C' invoices), a
    customer id, positive quantity and unit price, exact duplicate lines dropped (first kept)."""
    raw = pd.read_csv(shared_data / "online_retail.csv.gz", encoding="latin-1", dtype=str, keep_default_na=False)
    assert len(raw) == 541_909
    rows = raw[~raw.InvoiceNo.str.startswith("C") & (raw.CustomerID.str.strip() != "")]
    rows = rows[(rows.Quantity.astype(float) > 0) & (rows.UnitPrice.astype(float) > 0)]
    rows = rows[~rows.duplicated(keep="first")]
    quantity, price = rows.Quantity.astype(float), rows.UnitPrice.astype(float)
    return pd.DataFrame(
        {
            "customer_id": rows.CustomerID.str.strip(),
            "order_id": rows.InvoiceNo,
            "ordered_at": pd.to_datetime(rows.InvoiceDate, format="%m/%d/%Y %H:%M"),
            "amount": quantity * price,
            "quantity": quantity,
        }
    )


@pytest.fixture(scope="module")
def months(kept) -> pd.DataFrame:
    """customer x month: True when the customer bought in that month (all 13 months have orders)."""
    month = kept.ordered_at.dt.to_period("M")
    bought = pd.crosstab(kept.customer_id, month) > 0
    assert list(bought.columns) == list(pd.period_range("2010-12", "2011-12", freq="M"))
    return bought


def _month_starts(index) -> list[pd.Timestamp]:
    return [p.start_time for p in index]


def test_monthly_buyers_orders_revenue(orders, kept):
    month = kept.ordered_at.dt.to_period("M")
    expected = kept.groupby(month).agg(
        buyers=("customer_id", "nunique"),
        orders=("order_id", "nunique"),
        revenue=("amount", "sum"),
        units=("quantity", "sum"),
    )
    expected = expected.assign(period_start=_month_starts(expected.index)).reset_index(drop=True)
    actual = summarise_trends(orders, "month").execute()
    assert len(actual) == 13
    assert_frame_matches(
        actual, expected, ["period_start"], columns=["period_start", "buyers", "orders", "revenue", "units"]
    )


def test_monthly_lifecycle_layers(orders, months):
    bought = months.to_numpy()
    previous = np.zeros_like(bought)
    previous[:, 1:] = bought[:, :-1]
    before = np.zeros_like(bought)  # bought in some earlier month
    before[:, 1:] = np.logical_or.accumulate(bought, axis=1)[:, :-1]
    expected = pd.DataFrame(
        {
            "period_start": _month_starts(months.columns),
            "buyers": bought.sum(axis=0),
            "new": (bought & ~before).sum(axis=0),
            "active": (bought & previous).sum(axis=0),
            "return": (bought & before & ~previous).sum(axis=0),
            "unactive": (~bought & before).sum(axis=0),
            "left_censored": [True] + [False] * 12,
        }
    )
    actual = count_lifecycle_stages(orders, "month").execute()
    assert_frame_matches(actual, expected, ["period_start"])
    assert (actual.new + actual.active + actual["return"] == actual.buyers).all()


def test_monthly_repurchase_and_return_rates(orders, kept, months):
    month = kept.ordered_at.dt.to_period("M")
    per_customer = kept.groupby([month, kept.customer_id]).order_id.nunique()
    repeat = (per_customer > 1).groupby(level=0).sum()
    buyers = per_customer.groupby(level=0).size()
    bought = months.to_numpy()
    previous_buyers = np.r_[0, bought.sum(axis=0)[:-1]]
    returning = np.r_[0, (bought[:, 1:] & bought[:, :-1]).sum(axis=0)]
    expected = pd.DataFrame(
        {
            "period_start": _month_starts(months.columns),
            "buyers": buyers.to_numpy(),
            "repeat_buyers": repeat.to_numpy(),
            "repurchase_rate": repeat.to_numpy() / buyers.to_numpy(),
            "previous_buyers": previous_buyers,
            "returning_buyers": returning,
            "return_rate": [None] + list(returning[1:] / previous_buyers[1:]),
        }
    )
    actual = compute_repurchase_rates(orders, "month").execute()
    assert_frame_matches(actual, expected, ["period_start"], columns=list(expected.columns))


def test_rfm_as_of_2011_12_10(orders, kept):
    per = kept.groupby("customer_id")
    expected = pd.DataFrame(
        {
            "recency": (AS_OF - per.ordered_at.max().dt.normalize()).dt.days,
            "frequency": per.order_id.nunique(),
            "monetary": per.amount.sum(),
        }
    ).reset_index()
    assert len(expected) == 4_338
    actual = compute_rfm(orders, as_of="2011-12-10").execute()
    assert_frame_matches(actual, expected, ["customer_id"], columns=["customer_id", "recency", "frequency", "monetary"])
    assert expected.recency.min() == 1  # orders on 2011-12-09, the last day of the data


@pytest.mark.parametrize(
    ("month", "invoice", "units"),
    [("2011-12-01", "581483", 80_995), ("2011-01-01", "541431", 74_215)],  # seed 000
)
def test_super_orders(orders, kept, month, invoice, units):
    top = rank_largest_orders(orders, "month", top=1).execute()
    row = top[pd.to_datetime(top.period_start) == pd.Timestamp(month)]
    assert len(row) == 1
    assert row.order_id.iloc[0] == invoice and row.units.iloc[0] == units
    # and the same order is the largest by amount in pandas
    lines = kept[kept.ordered_at.dt.to_period("M") == pd.Period(month[:7], "M")]
    totals = lines.groupby("order_id").agg(amount=("amount", "sum"), units=("quantity", "sum"))
    assert totals.amount.idxmax() == invoice
    assert row.amount.iloc[0] == pytest.approx(totals.amount.max(), rel=1e-9)
    assert row.share_of_period_revenue.iloc[0] == pytest.approx(totals.amount.max() / lines.amount.sum(), rel=1e-9)
