"""k-means clusters on log RFM (seed 000) and the member-operations KPIs (seed 002 §1,
product.md D) on small hand-built tables with hand-computed expected values."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from _order_logs import assert_frame_matches
from conftest import load

from memberlens.errors import ConfigError, InputError, MissingTableError
from memberlens.metrics import cluster_customers, compute_member_kpis, summarise_member_value
from memberlens.metrics.clustering import elbow_k

# -- clustering ------------------------------------------------------------------------------


def _three_groups() -> pd.DataFrame:
    """60 lapsed one-off small spenders, 60 regulars, 8 very recent, very frequent big spenders."""
    rng = np.random.default_rng(7)
    groups = {
        "low": (60, (250, 350), (1, 1), (10, 30)),
        "mid": (60, (30, 60), (4, 6), (300, 600)),
        "high": (8, (1, 3), (40, 60), (20_000, 40_000)),
    }
    frames = []
    for name, (n, r, f, m) in groups.items():
        frames.append(
            pd.DataFrame(
                {
                    "customer_id": [f"{name}{i:02d}" for i in range(n)],
                    "recency": rng.integers(r[0], r[1] + 1, n),
                    "frequency": rng.integers(f[0], f[1] + 1, n),
                    "monetary": rng.uniform(m[0], m[1], n).round(2),
                    "group": name,
                }
            )
        )
    return pd.concat(frames, ignore_index=True)


def test_clusters_find_separated_groups(con):
    data = _three_groups()
    result = cluster_customers(load(con, "rfm", data.drop(columns="group")))
    assert result.chosen_k == 3, result.curve
    assert "elbow" in result.reason
    assert list(result.curve.k) == list(range(2, 11))

    a = result.assignments.merge(data[["customer_id", "group"]], on="customer_id")
    assert len(a) == len(data) and a.customer_id.is_unique
    # every cluster is exactly one group, and named by its spend
    assert (a.groupby("cluster").group.nunique() == 1).all() and a.cluster.nunique() == 3
    names = dict(zip(a.group, a.cluster_name))
    assert names == {"high": "high value", "mid": "developing", "low": "low value"}

    p = result.profiles.set_index("cluster_name")
    assert list(result.profiles.cluster_name) == ["high value", "developing", "low value"]
    assert result.profiles.mean_monetary.is_monotonic_decreasing
    for group, name in names.items():
        members = data[data.group == group]
        assert p.loc[name, "customers"] == len(members)
        assert p.loc[name, "revenue"] == pytest.approx(members.monetary.sum())
        assert p.loc[name, "mean_recency"] == pytest.approx(members.recency.mean())
        assert p.loc[name, "mean_frequency"] == pytest.approx(members.frequency.mean())
        assert p.loc[name, "mean_monetary"] == pytest.approx(members.monetary.mean())
        assert p.loc[name, "customer_share"] == pytest.approx(len(members) / len(data))
        assert p.loc[name, "revenue_share"] == pytest.approx(members.monetary.sum() / data.monetary.sum())
    assert result.profiles.customer_share.sum() == pytest.approx(1.0)
    assert result.profiles.revenue_share.sum() == pytest.approx(1.0)
    # seed 000's picture: a small high-value cluster holding a large part of revenue
    assert p.loc["high value", "customer_share"] < 0.07 and p.loc["high value", "revenue_share"] > 0.8


def test_clusters_with_a_given_k(con):
    data = _three_groups()
    result = cluster_customers(load(con, "rfm", data.drop(columns="group")), k=4)
    assert result.chosen_k == 4 and "caller" in result.reason
    names = result.profiles.cluster_name.tolist()
    assert len(names) == 4 and len(set(names)) == 4
    assert names[0] == "high value" and names[-1] == "low value"
    assert all(n.startswith("developing") for n in names[1:-1])
    assert result.profiles.mean_monetary.is_monotonic_decreasing
    assert result.profiles.customers.sum() == len(data)
    assert result.profiles.customer_share.sum() == pytest.approx(1.0)
    assert result.profiles.revenue_share.sum() == pytest.approx(1.0)
    assert set(result.assignments.customer_id) == set(data.customer_id)


def _elbow_oracle(ks, inertias):
    """The point furthest (perpendicular distance) from the chord joining the first and last
    points of the curve, both axes scaled to [0, 1]."""
    x = (np.array(ks, float) - ks[0]) / (ks[-1] - ks[0])
    y = (np.array(inertias, float) - min(inertias)) / (max(inertias) - min(inertias))
    (x0, y0), (x1, y1) = (x[0], y[0]), (x[-1], y[-1])
    distance = np.abs((x1 - x0) * (y0 - y) - (x0 - x) * (y1 - y0)) / np.hypot(x1 - x0, y1 - y0)
    return ks[int(np.argmax(distance))]


@pytest.mark.parametrize(
    ("ks", "inertias", "elbow"),
    [
        (list(range(1, 11)), [1000, 250, 100, 90, 80, 70, 60, 50, 40, 30], 3),  # a textbook elbow at 3
        (list(range(2, 11)), [500, 300, 100, 95, 90, 85, 80, 75, 70], 4),
        (list(range(1, 11)), [1 / k for k in range(1, 11)], 3),
        ([2, 3, 4], [10.0, 2.0, 1.0], 3),
    ],
)
def test_elbow_on_textbook_curves(ks, inertias, elbow):
    assert _elbow_oracle(ks, inertias) == elbow
    assert elbow_k(ks, inertias) == elbow


def test_clustering_bad_inputs(con):
    two = pd.DataFrame({"customer_id": ["a", "b"], "recency": [1, 2], "frequency": [1, 2], "monetary": [1.0, 2.0]})
    with pytest.raises(InputError):
        cluster_customers(load(con, "rfm", two))
    four = pd.DataFrame(
        {
            "customer_id": list("abcd"),
            "recency": [1, 2, 3, 4],
            "frequency": [1, 2, 3, 4],
            "monetary": [1.0, 2.0, 3.0, 4.0],
        }
    )
    with pytest.raises(ConfigError):
        cluster_customers(load(con, "rfm", four), k_range=range(5, 8))  # no k below the 4 customers


# -- member KPIs -----------------------------------------------------------------------------

# m6 registers and activates but never buys
MEMBERS = {
    "customer_id": ["m1", "m2", "m3", "m4", "m5", "m6"],
    "registered_at": ["2023-01-05", "2023-01-20", "2023-02-10", "2023-03-03", "2023-03-15", "2023-02-20"],
    "activated_at": ["2023-01-06", None, "2023-02-11", "2023-03-04", None, "2023-02-21"],
    "marketable": [True, False, True, True, None, True],
}
# order lines; m5 buys in February before registering in March (a guest order)
ORDERS = {
    "customer_id": ["m1", "m1", "m1", "m2", "m5", "m3", "m1", "m4"],
    "order_id": ["o1", "o1", "o2", "o3", "o4", "o5", "o6", "o7"],
    "ordered_at": [
        "2023-01-10 09:00",
        "2023-01-10 09:00",
        "2023-01-25 18:00",
        "2023-02-02 10:00",
        "2023-02-15 11:00",
        "2023-03-01 00:00",
        "2023-03-05 12:00",
        "2023-03-20 23:59",
    ],
    "amount": [30.0, 20.0, 40.0, 60.0, 25.0, 100.0, 10.0, 30.0],
    "coupon_amount": [5.0, 0.0, 4.0, 10.0, 0.0, 0.0, 2.0, 0.0],
}
COSTS = {
    "date": ["2023-01-01", "2023-01-15", "2023-02-01", "2023-03-10", "2023-03-10", "2023-05-02"],
    "cost": [100.0, 20.0, 5.0, 50.0, 7.0, 10.0],
    "kind": ["media", "coupon", "points", "media", "sms", "media"],
}
CAMPAIGNS = {
    "customer_id": ["m1", "m2", "m2", "m3"],
    "campaign_id": ["c1", "c1", "c2", "c2"],
    "sent_at": ["2023-01-02", "2023-01-02", "2023-01-30", "2023-01-30"],
    "converted_at": ["2023-01-10", None, "2023-02-02", "2023-03-01"],
    "revenue": [50.0, None, 60.0, 100.0],
}

N = None  # a ratio with a zero denominator
# Hand-computed, one list per column, January to May (April is empty; May only has a cost).
EXPECTED_KPIS = {
    "period_start": ["2023-01-01", "2023-02-01", "2023-03-01", "2023-04-01", "2023-05-01"],
    "registered_new": [2, 2, 2, 0, 0],
    "registered_cumulative": [2, 4, 6, 6, 6],
    "activated_new": [1, 2, 1, 0, 0],
    "activated_cumulative": [1, 3, 4, 4, 4],
    "activation_rate": [1 / 2, 3 / 4, 4 / 6, 4 / 6, 4 / 6],
    "purchasing_new": [1, 2, 2, 0, 0],  # first orders: m1 Jan; m2, m5 Feb; m3, m4 Mar
    "purchasing_cumulative": [1, 3, 5, 5, 5],
    # registered and bought by the end of the period: m1 | m1 m2 | m1..m5 (m5 registers in March); not m6
    "registration_to_purchase_rate": [1 / 2, 2 / 4, 5 / 6, 5 / 6, 5 / 6],
    # activated and bought: m1 | m1 (m3 activated, buys in March; m6 never buys) | m1 m3 m4
    "activation_to_purchase_rate": [1 / 1, 1 / 3, 3 / 4, 3 / 4, 3 / 4],
    "marketable_cumulative": [1, 3, 4, 4, 4],
    "buyers": [1, 2, 3, 0, 0],
    "orders": [2, 2, 3, 0, 0],
    "revenue": [90.0, 85.0, 140.0, 0.0, 0.0],
    "revenue_per_registration": [45.0, 42.5, 70.0, N, N],
    "revenue_per_order": [45.0, 42.5, 140 / 3, N, N],
    "revenue_per_buyer": [90.0, 42.5, 140 / 3, N, N],
    # coupon orders: o1, o2 (Jan, both m1), o3 (Feb, m2), o6 (Mar, m1)
    "coupon_member_ratio": [1.0, 1 / 2, 1 / 3, N, N],
    "coupon_amount_ratio": [1.0, 60 / 85, 10 / 140, N, N],
    "coupon_order_ratio": [1.0, 1 / 2, 1 / 3, N, N],
    "coupon_users_aov": [45.0, 60.0, 10.0, N, N],
    "coupon_users_repurchase_rate": [1.0, 0.0, 0.0, N, N],
    "media_cost": [100.0, 0.0, 50.0, 0.0, 10.0],
    "coupon_cost": [20.0, 0.0, 0.0, 0.0, 0.0],
    "points_cost": [0.0, 5.0, 0.0, 0.0, 0.0],
    "marketing_cost": [120.0, 5.0, 57.0, 0.0, 10.0],  # the 'sms' cost counts in the total
    "cost_per_registration": [60.0, 2.5, 28.5, N, N],
    "cost_per_order": [60.0, 2.5, 19.0, N, N],
    "cost_per_buyer": [120.0, 2.5, 19.0, N, N],
    "marketing_revenue": [50.0, 60.0, 100.0, 0.0, 0.0],
    "cost_ratio": [120 / 50, 5 / 60, 57 / 100, N, N],
}


def _frames():
    members = pd.DataFrame(MEMBERS)
    members["registered_at"] = pd.to_datetime(members.registered_at)
    members["activated_at"] = pd.to_datetime(members.activated_at)
    members["marketable"] = members.marketable.astype("boolean")
    orders = pd.DataFrame(ORDERS)
    orders["ordered_at"] = pd.to_datetime(orders.ordered_at)
    costs = pd.DataFrame(COSTS)
    costs["date"] = pd.to_datetime(costs.date)
    campaigns = pd.DataFrame(CAMPAIGNS)
    for column in ("sent_at", "converted_at"):
        campaigns[column] = pd.to_datetime(campaigns[column])
    return members, orders, costs, campaigns


def _expected(columns=None) -> pd.DataFrame:
    frame = pd.DataFrame(EXPECTED_KPIS)
    frame["period_start"] = pd.to_datetime(frame.period_start)
    return frame if columns is None else frame[columns]


CONVERSION = ["registration_to_purchase_rate", "activation_to_purchase_rate"]


def _all_kpis(con) -> pd.DataFrame:
    members, orders, costs, campaigns = _frames()
    return compute_member_kpis(
        load(con, "members", members),
        load(con, "orders", orders),
        campaigns=load(con, "campaigns", campaigns),
        marketing_costs=load(con, "marketing_costs", costs),
    ).execute()


def test_member_kpis_by_hand(con):
    kpis = _all_kpis(con)
    assert sorted(kpis.columns) == sorted(EXPECTED_KPIS)
    # the conversion rates: test_conversion_rates_count_members_who_bought
    assert_frame_matches(kpis, _expected(), ["period_start"], columns=[c for c in EXPECTED_KPIS if c not in CONVERSION])


def test_conversion_rates_count_members_who_bought(con):
    kpis = _all_kpis(con)
    assert_frame_matches(kpis, _expected(), ["period_start"], columns=["period_start", *CONVERSION])


def test_member_kpis_without_optional_tables(con):
    members, orders, _, _ = _frames()
    kpis = compute_member_kpis(load(con, "members", members), load(con, "orders", orders.drop(columns="coupon_amount")))
    absent = {
        "coupon_member_ratio",
        "coupon_amount_ratio",
        "coupon_order_ratio",
        "coupon_users_aov",
        "coupon_users_repurchase_rate",
        "media_cost",
        "coupon_cost",
        "points_cost",
        "marketing_cost",
        "cost_per_registration",
        "cost_per_order",
        "cost_per_buyer",
        "marketing_revenue",
        "cost_ratio",
    }
    expected = _expected([c for c in EXPECTED_KPIS if c not in absent]).iloc[:3]  # March is the last period now
    actual = kpis.execute()
    assert sorted(actual.columns) == sorted(expected.columns)
    assert_frame_matches(
        actual, expected, ["period_start"], columns=[c for c in expected.columns if c not in CONVERSION]
    )


def test_coupon_users_aov_and_repurchase_count_all_their_orders(con):
    members, orders, _, _ = _frames()
    # in January m1 uses a coupon on o1 only; o2 (40.0) has none
    orders.loc[orders.order_id == "o2", "coupon_amount"] = 0.0
    kpis = compute_member_kpis(load(con, "members", members), load(con, "orders", orders)).execute()
    january = kpis.iloc[0]
    assert january.coupon_order_ratio == 0.5 and january.coupon_amount_ratio == pytest.approx(50 / 90)
    assert january.coupon_users_aov == pytest.approx(45.0)  # m1: 90.0 over two orders
    assert january.coupon_users_repurchase_rate == 1.0  # m1 ordered twice in January


def test_member_value_by_hand(con):
    _, orders, _, _ = _frames()
    value = summarise_member_value(load(con, "orders", orders)).execute()
    expected = pd.DataFrame(
        {
            "customer_id": ["m1", "m2", "m3", "m4", "m5"],
            "historic_clv": [100.0, 60.0, 100.0, 30.0, 25.0],
            "orders": [3, 1, 1, 1, 1],
            "first_order_at": pd.to_datetime(
                ["2023-01-10 09:00", "2023-02-02 10:00", "2023-03-01 00:00", "2023-03-20 23:59", "2023-02-15 11:00"]
            ),
            "last_order_at": pd.to_datetime(
                ["2023-03-05 12:00", "2023-02-02 10:00", "2023-03-01 00:00", "2023-03-20 23:59", "2023-02-15 11:00"]
            ),
            "average_order_value": [100 / 3, 60.0, 100.0, 30.0, 25.0],
        }
    )
    assert_frame_matches(value, expected, ["customer_id"])


def test_member_kpis_need_members_and_orders(con):
    members, orders, _, _ = _frames()
    with pytest.raises(MissingTableError, match="'members'"):
        compute_member_kpis(None, load(con, "orders", orders))
    with pytest.raises(MissingTableError, match="'orders'"):
        compute_member_kpis(load(con, "members", members), None)
    with pytest.raises(ConfigError):
        compute_member_kpis(load(con, "members", members), load(con, "orders", orders), period="year")
