"""Anomaly flags against independent oracles: a pandas computation of every definition on
hand-made order logs with planted anomalies (on DuckDB and Spark); seed 000's two super orders in
the UCI Online Retail data, with their reasons and the numbers recomputed from the raw file; and
the bulk buyers the demo generator planted (its ground truth)."""

from __future__ import annotations

import ibis
import numpy as np
import pandas as pd
import pytest
from conftest import load

from memberlens.errors import ConfigError
from memberlens.i18n import Messages
from memberlens.predict.anomalies import (
    AnomalyThresholds,
    explain_members,
    explain_orders,
    find_anomalies,
)

THRESHOLDS = AnomalyThresholds(
    product_ratio=50,
    min_units=500,
    min_product_lines=5,
    order_ratio=40,
    customer_ratio=20,
    min_customer_orders=3,
    orders_per_day=8,
    spend_z=3.5,
)


def planted_orders(seed: int = 3) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Ordinary orders of 80 customers plus planted anomalies, and cancellation lines."""
    rng = np.random.default_rng(seed)
    rows = []
    number = 0

    def order(customer, day, lines):
        nonlocal number
        number += 1
        for product, quantity, price in lines:
            rows.append(
                (
                    customer,
                    f"o{number:04d}",
                    pd.Timestamp(day),
                    product,
                    f"name {product}",
                    float(quantity),
                    float(price),
                    float(quantity) * float(price),
                )
            )
        return f"o{number:04d}"

    products = {f"p{i}": 1.0 + i for i in range(8)}
    for c in range(80):
        for _ in range(int(rng.integers(1, 6))):
            day = pd.Timestamp("2024-01-01") + pd.Timedelta(
                days=int(rng.integers(0, 150)), hours=int(rng.integers(8, 20))
            )
            picked = rng.choice(list(products), size=int(rng.integers(1, 4)), replace=False)
            order(f"c{c:02d}", day, [(p, int(rng.integers(1, 13)), products[p]) for p in picked])
    bulk = order("reseller", "2024-03-01 10:00", [("p2", 6_000, 3.0)])  # product_quantity, order_units
    single = order("one-off", "2024-03-02 11:00", [("rare", 9_000, 0.5)])  # a product nobody else buys
    for amount in (10, 12, 11):
        order("habit", "2024-02-01 09:00", [("p1", 1, amount)])
    habit = order("habit", "2024-04-01 09:00", [("p1", 1, 400.0)])  # 400 vs the customer's median 11.5
    for c in range(6):
        order(f"c{c:02d}", "2024-01-20", [("tiny", 1, 2.0)])
    order("small", "2024-02-01", [("tiny", 150, 2.0)])  # 150× the product's median, but under min_units
    for hour in range(9):  # 9 orders in one day
        order("burst", f"2024-05-05 {8 + hour:02d}:00", [("p3", 1, 4.0)])
    for _ in range(3):  # a VIP: large spend through ordinary baskets
        order("vip", "2024-02-15", [(p, 12, 200.0) for p in ("p4", "p5", "p6")])
    frame = pd.DataFrame(
        rows,
        columns=[
            "customer_id",
            "order_id",
            "ordered_at",
            "product_id",
            "product_name",
            "quantity",
            "unit_price",
            "amount",
        ],
    )
    frame["is_cancellation"] = False
    cancellations = pd.DataFrame(
        {
            "customer_id": ["reseller", "one-off"],
            "order_id": ["C1", "C2"],
            "ordered_at": pd.to_datetime(["2024-03-01 10:05", "2024-03-01 09:00"]),  # C2 is before the order: no match
            "product_id": ["p2", "rare"],
            "quantity": [-6_000.0, -9_000.0],
        }
    )
    return frame, cancellations, {"bulk": bulk, "single": single, "habit": habit}


def oracle_orders(lines: pd.DataFrame, th: AnomalyThresholds) -> pd.DataFrame:
    """The order flags from their definitions, in pandas."""
    stats = lines.groupby("product_id").quantity.agg(["median", "size"])
    lines = lines.join(stats, on="product_id")
    lines["ratio"] = np.where(lines["size"] >= th.min_product_lines, lines.quantity / lines["median"], np.nan)
    top = (
        lines.sort_values(
            ["order_id", "ratio", "quantity", "product_id"], ascending=[True, False, False, True], na_position="last"
        )
        .groupby("order_id")
        .head(1)
        .set_index("order_id")
    )
    totals = lines.groupby("order_id").agg(
        customer_id=("customer_id", "min"), units=("quantity", "sum"), amount=("amount", "sum")
    )
    per_customer = totals.groupby("customer_id").amount.agg(["median", "size"])
    totals = totals.join(per_customer, on="customer_id").join(top[["ratio", "quantity"]])
    totals["product_quantity"] = (totals.ratio >= th.product_ratio) & (totals.quantity >= th.min_units)
    totals["order_units"] = (totals.units / totals.units.median() >= th.order_ratio) & (totals.units >= th.min_units)
    totals["order_amount"] = totals.amount / totals.amount.median() >= th.order_ratio
    totals["customer_history"] = (totals["size"] >= th.min_customer_orders) & (
        totals.amount / totals["median"] >= th.customer_ratio
    )
    return totals


def oracle_members(lines: pd.DataFrame, orders: pd.DataFrame, th: AnomalyThresholds) -> pd.DataFrame:
    spend = lines.groupby("customer_id").amount.sum()
    log_spend = np.log(spend)
    mad = (log_spend - log_spend.median()).abs().median()
    z = 0.6745 * (log_spend - log_spend.median()) / mad
    per_day = lines.assign(day=lines.ordered_at.dt.date).groupby(["customer_id", "day"]).order_id.nunique()
    bulk = orders[orders.product_quantity | orders.order_units].groupby("customer_id").size()
    members = pd.DataFrame({"spend": spend, "spend_z": z, "most_orders_in_a_day": per_day.groupby("customer_id").max()})
    members["bulk_orders"] = bulk.reindex(members.index).fillna(0)
    members["flag_bulk_orders"] = members.bulk_orders >= 1
    members["flag_orders_in_a_day"] = members.most_orders_in_a_day >= th.orders_per_day
    members["flag_extreme_spend"] = members.spend_z >= th.spend_z
    return members


def test_order_and_member_flags_match_pandas_on_each_engine(con):
    frame, cancellations, ids = planted_orders()
    result = find_anomalies(
        load(con, "anomaly_orders", frame), load(con, "anomaly_cancellations", cancellations), thresholds=THRESHOLDS
    )
    expected = oracle_orders(frame, THRESHOLDS)
    reasons = ["product_quantity", "order_units", "order_amount", "customer_history"]
    flagged = expected[expected[reasons].any(axis=1)]
    got = result.orders.set_index("order_id")
    assert set(got.index) == set(flagged.index) and {ids["bulk"], ids["single"], ids["habit"]} <= set(got.index)
    for reason in reasons:
        assert got[f"flag_{reason}"].to_dict() == flagged[reason].to_dict(), reason
    assert got.loc[ids["bulk"], "product_ratio"] == pytest.approx(flagged.loc[ids["bulk"], "ratio"])
    assert got.loc[ids["habit"], "customer_ratio"] == pytest.approx(400 / 11.5)
    # cancelled afterwards: only C1 (C2 is dated before its order)
    assert got.flag_cancelled.to_dict() == {i: i == ids["bulk"] for i in got.index}
    assert got.loc[ids["bulk"], "cancelled_by"] == "C1" and got.loc[ids["bulk"], "cancelled_units"] == 6_000
    assert got.severity.is_monotonic_decreasing

    members = oracle_members(frame, expected, THRESHOLDS)
    expected_members = members[members.filter(like="flag_").any(axis=1)]
    got_members = result.members.set_index("customer_id")
    assert set(got_members.index) == set(expected_members.index)
    assert {"reseller", "one-off", "burst", "vip"} <= set(got_members.index)
    for column in ("flag_bulk_orders", "flag_orders_in_a_day", "flag_extreme_spend"):
        assert got_members[column].to_dict() == expected_members[column].to_dict(), column
    assert got_members.spend_z.to_dict() == pytest.approx(expected_members.spend_z.to_dict())
    assert got_members.kind.to_dict() == {
        c: "reseller" if (r.flag_bulk_orders or r.flag_orders_in_a_day) else "vip"
        for c, r in expected_members.iterrows()
    }
    assert got_members.loc["vip", "kind"] == "vip" and got_members.loc["burst", "most_orders_in_a_day"] == 9


def test_the_floor_keeps_small_quantities_unflagged():
    frame, cancellations, _ = planted_orders()
    result = find_anomalies(ibis.memtable(frame), ibis.memtable(cancellations), thresholds=THRESHOLDS)
    small = frame[frame.customer_id == "small"].order_id.iloc[0]
    tiny = frame[frame.product_id == "tiny"].quantity
    assert 150 / tiny.median() >= THRESHOLDS.product_ratio  # far above the product's median...
    assert small not in set(result.orders.order_id)  # ...but 150 units is under min_units


def test_reasons_carry_the_numbers_in_both_languages():
    frame, cancellations, ids = planted_orders()
    result = find_anomalies(ibis.memtable(frame), ibis.memtable(cancellations), thresholds=THRESHOLDS)
    median = frame[frame.product_id == "p2"].quantity.median()
    for lang in ("en", "zh"):
        orders = explain_orders(result.orders, Messages(lang)).set_index("order_id")
        text = orders.loc[ids["bulk"], "reasons"]
        assert "6,000" in text and f"{6000 / median:,.0f}" in text and "C1" in text
        assert orders.loc[ids["bulk"], "reason_codes"] == "product_quantity,order_units,order_amount,cancelled"
        members = explain_members(result.members, Messages(lang)).set_index("customer_id")
        assert "9" in members.loc["burst", "reasons"] and "2024-05-05" in members.loc["burst", "reasons"]


def test_as_of_leaves_later_orders_out():
    frame, cancellations, ids = planted_orders()
    result = find_anomalies(
        ibis.memtable(frame),
        ibis.memtable(cancellations),
        thresholds=THRESHOLDS,
        as_of=pd.Timestamp("2024-03-15").date(),
    )
    assert ids["bulk"] in set(result.orders.order_id) and ids["habit"] not in set(result.orders.order_id)
    assert "burst" not in set(result.members.customer_id)


@pytest.mark.parametrize(
    "field,value",
    [
        ("product_ratio", 0),
        ("min_units", -5),
        ("orders_per_day", 2.5),
        ("spend_z", float("inf")),
        ("min_product_lines", 0),
    ],
)
def test_bad_thresholds_name_the_parameter(field, value):
    with pytest.raises(ConfigError, match=field):
        AnomalyThresholds(**{field: value})


# -- the UCI Online Retail data: seed 000's super orders ---------------------------------------
@pytest.fixture(scope="module")
def uci(shared_data, tmp_path_factory):
    from memberlens import Workspace, ingest

    path = tmp_path_factory.mktemp("uci") / "uci.duckdb"
    with Workspace(path) as ws:
        ingest(ws, shared_data / "online_retail.csv.gz", preset="online-retail")
        found = find_anomalies(ws.table("orders"), ws.table("cancellations"))
    return found


@pytest.fixture(scope="module")
def uci_used(shared_data):
    raw = pd.read_csv(shared_data / "online_retail.csv.gz", encoding="latin-1", dtype=str, keep_default_na=False)
    used = raw[
        ~raw.InvoiceNo.str.startswith("C")
        & (raw.CustomerID != "")
        & (raw.Quantity.astype(float) > 0)
        & (raw.UnitPrice.astype(float) > 0)
    ].drop_duplicates()
    return used.assign(
        Quantity=used.Quantity.astype(float), amount=used.Quantity.astype(float) * used.UnitPrice.astype(float)
    )


def test_uci_super_orders_are_flagged_with_their_reasons(uci, uci_used):
    orders = explain_orders(uci.orders, Messages("en")).set_index("order_id")
    assert {"581483", "541431"} <= set(orders.index)
    paper_craft, storage_jar = orders.loc["581483"], orders.loc["541431"]
    assert paper_craft.units == 80_995 and storage_jar.units == 74_215

    # independent figures from the raw file
    order_units = uci_used.groupby("InvoiceNo").Quantity.sum()
    jar_median = uci_used[uci_used.StockCode == "23166"].Quantity.median()
    assert storage_jar.product_median_quantity == jar_median == 12
    assert storage_jar.flag_product_quantity and storage_jar.product_ratio == pytest.approx(74_215 / jar_median)
    # the paper craft was bought once only: no product median to compare with; the order itself is the outlier
    assert (uci_used.StockCode == "23843").sum() == 1 and not paper_craft.flag_product_quantity
    assert paper_craft.flag_order_units and paper_craft.units_ratio == pytest.approx(80_995 / order_units.median())

    # both were cancelled minutes later (C581484, C541433): the reason says so
    assert (paper_craft.cancelled_by, storage_jar.cancelled_by) == ("C581484", "C541433")
    assert "80,995" in paper_craft.reasons and "C581484" in paper_craft.reasons
    assert "74,215" in storage_jar.reasons and "6,185×" in storage_jar.reasons and "C541433" in storage_jar.reasons
    assert orders.index[0] == "541431"  # the most unusual order of the data set

    members = uci.members.set_index("customer_id")
    assert members.loc["16446", "kind"] == members.loc["12346", "kind"] == "reseller"


# -- the demo data: the bulk buyers the generator planted --------------------------------------
@pytest.mark.slow
def test_demo_bulk_buyers_are_found(demo_workspace):
    """The generator turns a few orders into one line of 10,000-90,000 units of a cheap product
    (``_SUPER_QUANTITY``); ordinary demo lines stay in the hundreds. The default floor of 1,000
    units and 100× the product's median line sit between the two, so every planted bulk buyer
    should be flagged and nobody else for bulk."""
    from memberlens import Workspace

    path, files = demo_workspace
    truth = pd.read_csv(files["truth"]["path"], dtype={"customer_id": str})
    planted = set(truth[truth.bulk_orders > 0].customer_id)
    with Workspace(path, read_only=True) as ws:
        found = find_anomalies(ws.table("orders"), ws.table("cancellations"))
    flagged = set(found.members[found.members.flag_bulk_orders].customer_id)
    assert len(planted) >= 2
    recall = len(flagged & planted) / len(planted)
    precision = len(flagged & planted) / len(flagged)
    assert recall == 1.0 and precision == 1.0
    bulk_orders = found.members.set_index("customer_id").bulk_orders
    assert {c: int(bulk_orders[c]) for c in planted} == truth.set_index("customer_id").bulk_orders[
        list(planted)
    ].to_dict()
