"""Member features as of a cut-off: against a pandas oracle of the same definitions, and the
time-split proofs — rows on or after the cut-off (with absurd values) change nothing."""

from __future__ import annotations

from datetime import date, timedelta

import ibis
import numpy as np
import pandas as pd
import pytest
from conftest import load

from memberlens.predict._churn_data import churn_labels, schedule_cutoffs
from memberlens.predict.features import feature_names, member_features

AS_OF = date(2024, 3, 1)
TS = pd.Timestamp


def _orders() -> pd.DataFrame:
    rows = [  # customer, order, time, amount, coupon
        ("A", "1", "2023-06-01 10:00", 10.0, 0.0),
        ("A", "1", "2023-06-01 10:00", 5.0, 1.0),
        ("A", "2", "2023-12-15 09:00", 20.0, 0.0),
        ("A", "3", "2024-02-20 18:00", 30.0, 0.0),
        ("B", "4", "2023-09-01 12:00", 100.0, 2.0),
        ("C", "5", "2024-01-10 08:00", 7.0, 0.0),
        ("C", "6", "2024-01-10 20:00", 8.0, 0.0),
        ("C", "7", "2024-02-29 23:59", 9.0, 0.0),
    ]
    frame = pd.DataFrame(rows, columns=["customer_id", "order_id", "ordered_at", "amount", "coupon_amount"])
    return frame.assign(ordered_at=pd.to_datetime(frame.ordered_at))


def _events() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "customer_id": ["A", "A", "B", "C"],
            "occurred_at": pd.to_datetime(
                ["2024-02-25 10:00", "2023-11-01 10:00", "2024-01-15 10:00", "2024-02-29 22:00"]
            ),
            "event_type": ["visit"] * 4,
            "engagement": [3.0, None, 2.0, 5.0],
        }
    )


def _campaigns() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "customer_id": ["A", "B", "C", "A"],
            "campaign_id": ["K1", "K1", "K1", "K2"],
            "sent_at": pd.to_datetime(["2023-12-10 09:00"] * 3 + ["2024-02-27 09:00"]),
            "responded": [True, False, True, True],
            # C's response and A's second are converted on/after the cut-off: not known yet
            "converted_at": pd.to_datetime(["2023-12-15 09:00", None, "2024-03-02 10:00", "2024-03-01 00:00"]),
            "revenue": [20.0, 0.0, 9.0, 50.0],
        }
    )


def _members() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "customer_id": ["A", "B", "C", "D"],
            "registered_at": pd.to_datetime(["2023-05-01", "2023-08-30", "2024-01-01", "2024-02-01"]),
            "activated_at": pd.to_datetime(["2023-05-02", None, "2024-03-05", "2024-02-02"]),
            "tier": ["Gold", "Basic", "Basic", "Basic"],
            "region": ["x"] * 4,
            "marketable": [True, False, False, True],
            "unsubscribed_at": pd.to_datetime([None, "2024-01-01", "2024-04-01", None]),
        }
    )


def _tables(con) -> dict:
    return {
        "orders": load(con, "orders", _orders()),
        "events": load(con, "events", _events()),
        "campaigns": load(con, "campaigns", _campaigns()),
        "members": load(con, "members", _members()),
    }


def oracle(
    orders: pd.DataFrame, events: pd.DataFrame, campaigns: pd.DataFrame, members: pd.DataFrame, as_of: date
) -> pd.DataFrame:
    """The feature definitions of memberlens.predict.features, written plainly in pandas."""
    cut = TS(as_of)
    o = orders[orders.ordered_at < cut]
    per_order = (
        o.groupby(["customer_id", "order_id"])
        .agg(when=("ordered_at", "min"), amount=("amount", "sum"), coupon=("coupon_amount", lambda s: (s > 0).any()))
        .reset_index()
    )
    rows = []
    for cid, g in per_order.groupby("customer_id"):
        g = g.sort_values(["when", "order_id"])
        days = [(cut.normalize() - a.normalize()).days for a in g.when]
        n = len(g)
        span = (g.when.iloc[-1].normalize() - g.when.iloc[0].normalize()).days
        mean_gap = span / (n - 1) if n > 1 else np.nan
        row = {
            "customer_id": cid,
            "recency_days": days[-1],
            "frequency": n,
            "monetary": g.amount.sum(),
            "average_order": g.amount.sum() / n,
            "tenure_days": days[0],
            "mean_gap_days": mean_gap,
            "last_gap_days": (g.when.iloc[-1].normalize() - g.when.iloc[-2].normalize()).days if n > 1 else np.nan,
            "coupon_share": g.coupon.mean(),
        }
        row["recency_vs_gap"] = row["recency_days"] / mean_gap if mean_gap and not np.isnan(mean_gap) else np.nan
        for w in (30, 90, 180):
            recent = g[g.when >= cut - pd.Timedelta(days=w)]
            row[f"orders_{w}d"], row[f"spend_{w}d"] = len(recent), recent.amount.sum()
        e = events[(events.customer_id == cid) & (events.occurred_at < cut)]
        for w in (30, 90):
            recent = e[e.occurred_at >= cut - pd.Timedelta(days=w)]
            row[f"events_{w}d"], row[f"engagement_{w}d"] = len(recent), recent.engagement.fillna(1).sum()
        row["days_since_event"] = (cut.normalize() - e.occurred_at.max().normalize()).days if len(e) else np.nan
        c = campaigns[(campaigns.customer_id == cid) & (campaigns.sent_at < cut)]
        known = c.responded & c.converted_at.notna() & (c.converted_at < cut)
        row["campaign_sends"], row["campaign_responses"] = len(c), int(known.sum())
        row["response_rate"] = known.mean() if len(c) else np.nan
        m = members[(members.customer_id == cid) & (members.registered_at < cut)]
        if len(m):
            m = m.iloc[0]
            later = pd.notna(m.unsubscribed_at) and m.unsubscribed_at >= cut
            row["member_days"] = (cut.normalize() - m.registered_at.normalize()).days
            row["marketable"] = 1 if (later or m.marketable) else 0
            row["activated"] = int(pd.notna(m.activated_at) and m.activated_at < cut)
        rows.append(row)
    return pd.DataFrame(rows).sort_values("customer_id").reset_index(drop=True)


def _computed(tables, as_of=AS_OF, **kw) -> pd.DataFrame:
    return member_features(tables, as_of, **kw).execute().sort_values("customer_id").reset_index(drop=True)


def _compare(got: pd.DataFrame, expected: pd.DataFrame) -> None:
    assert list(got.customer_id) == list(expected.customer_id)
    for column in expected.columns.drop("customer_id"):
        np.testing.assert_allclose(
            got[column].astype(float), expected[column].astype(float), rtol=1e-9, equal_nan=True, err_msg=column
        )


def test_features_match_the_pandas_oracle():
    con = ibis.duckdb.connect()
    got = _computed(_tables(con))
    expected = oracle(_orders(), _events(), _campaigns(), _members(), AS_OF)
    _compare(got, expected)
    assert list(got.columns) == ["customer_id", *feature_names(_tables(con)), "cutoff"]
    # spot checks written out by hand: A ordered on 2023-06-01, 2023-12-15 and 2024-02-20
    a = got.set_index("customer_id").loc["A"]
    assert (a.frequency, a.recency_days, a.tenure_days, a.last_gap_days, a.monetary) == (3, 10, 274, 67, 65.0)
    assert a.campaign_responses == 1 and a.campaign_sends == 2  # the K2 response on the cut-off day is not known
    c = got.set_index("customer_id").loc["C"]
    assert c.marketable == 1 and c.activated == 0 and c.campaign_responses == 0  # unsubscribed and activated later


def test_members_who_never_bought_are_included_on_request():
    con = ibis.duckdb.connect()
    got = _computed(_tables(con), customers_only=False).set_index("customer_id")
    assert sorted(got.index) == ["A", "B", "C", "D"]
    d = got.loc["D"]
    assert d.frequency == 0 and d.orders_90d == 0 and np.isnan(d.recency_days) and d.member_days == 29


def _future_rows(as_of: date) -> dict[str, pd.DataFrame]:
    """Absurd rows on and after the cut-off: if any feature read them, it would change."""
    at = [TS(as_of), TS(as_of) + pd.Timedelta(hours=1), TS(as_of) + pd.Timedelta(days=400)]
    orders = pd.DataFrame(
        {
            "customer_id": ["A", "B", "Z"],
            "order_id": ["90", "91", "92"],
            "ordered_at": at,
            "amount": [1e9, 1e9, 1e9],
            "coupon_amount": [5.0, 5.0, 5.0],
        }
    )
    events = pd.DataFrame(
        {"customer_id": ["A", "B", "Z"], "occurred_at": at, "event_type": ["visit"] * 3, "engagement": [1e6] * 3}
    )
    campaigns = pd.DataFrame(
        {
            "customer_id": ["A", "B", "Z"],
            "campaign_id": ["K9"] * 3,
            "sent_at": at,
            "responded": [True] * 3,
            "converted_at": at,
            "revenue": [1e9] * 3,
        }
    )
    members = pd.DataFrame(
        {
            "customer_id": ["Z", "Y", "X"],
            "registered_at": at,
            "activated_at": at,
            "tier": ["Platinum"] * 3,
            "region": ["x"] * 3,
            "marketable": [True] * 3,
            "unsubscribed_at": at,
        }
    )
    return {"orders": orders, "events": events, "campaigns": campaigns, "members": members}


@pytest.mark.parametrize("customers_only", [True, False])
def test_nothing_on_or_after_the_cut_off_changes_the_features(customers_only):
    con = ibis.duckdb.connect()
    before = _computed(_tables(con), customers_only=customers_only)
    future = _future_rows(AS_OF)
    base = {"orders": _orders(), "events": _events(), "campaigns": _campaigns(), "members": _members()}
    later = {
        name: load(con, f"{name}_later", pd.concat([frame, future[name]], ignore_index=True))
        for name, frame in base.items()
    }
    after = _computed(later, customers_only=customers_only)
    pd.testing.assert_frame_equal(before, after)
    # and the same additions one day earlier do change them: the test can fail
    earlier = _future_rows(AS_OF - timedelta(days=1))
    moved = {
        name: load(con, f"{name}_earlier", pd.concat([frame, earlier[name]], ignore_index=True))
        for name, frame in base.items()
    }
    assert not _computed(moved, customers_only=customers_only).equals(before)


def test_labels_read_only_the_window_after_the_cut_off():
    con = ibis.duckdb.connect()
    orders = _orders()
    tables = {"orders": load(con, "orders", orders), "members": load(con, "members", _members())}
    got = churn_labels(tables, date(2024, 1, 1), 30).execute().set_index("customer_id").churned.sort_index()
    # customers before 2024-01-01: A, B; A orders on 2024-02-20 (outside 30 days), so both churn
    assert got.to_dict() == {"A": 1, "B": 1}
    got = churn_labels(tables, date(2024, 1, 1), 60).execute().set_index("customer_id").churned.sort_index()
    assert got.to_dict() == {"A": 0, "B": 1}
    # unsubscribe: B unsubscribed on 2024-01-01 (in the window), A never
    got = (
        churn_labels(tables, date(2024, 1, 1), 30, "unsubscribe")
        .execute()
        .set_index("customer_id")
        .churned.sort_index()
    )
    assert got.to_dict() == {"A": 0, "B": 1}


def test_training_labels_are_known_before_the_validation_cut_off():
    training, validation = schedule_cutoffs(
        date(2023, 1, 1), date(2025, 1, 1), horizon_days=180, step_days=15, n_cutoffs=18, min_history_days=60
    )
    assert validation == date(2025, 1, 1) - timedelta(days=180)
    assert all(day + timedelta(days=180) <= validation for day in training)
    assert training == sorted(training) and training[0] >= date(2023, 3, 2)
    assert all((b - a).days == 15 for a, b in zip(training, training[1:]))


def test_engines_agree_with_the_oracle(con):
    got = _computed(_tables(con))
    _compare(got, oracle(_orders(), _events(), _campaigns(), _members(), AS_OF))


def test_spend_features_are_exact_totals_whatever_the_order_of_the_rows():
    """Floats added in another order differ in their last bits, and the churn model's trees cut
    bins at such values: the demo's orders ingested twice (rows stored in another order) trained
    two different models. Spend sums are rounded to 6 decimals in the engine, so they are the
    exact totals whatever the order of the rows (unrounded, 600,000 amounts drift by ~1e-9)."""
    rng = np.random.default_rng(3)
    n = 600_000  # several row groups, added up by parallel threads
    orders = pd.DataFrame(
        {
            "customer_id": rng.choice([f"c{i}" for i in range(20)], n),
            "order_id": [f"o{i}" for i in range(n)],
            "ordered_at": TS("2023-09-01") + pd.to_timedelta(rng.integers(0, 180 * 24, n), unit="h"),
            "amount": rng.choice([0.1, 0.2, 0.3, 0.7, 1.1, 2.35], n),
        }
    )
    con = ibis.duckdb.connect()
    frames = []
    for name, frame in (
        ("in_time_order", orders),
        ("reversed", orders.iloc[::-1]),
        ("shuffled", orders.sample(frac=1, random_state=1)),
    ):
        table = load(con, name, frame.reset_index(drop=True))
        frames.append(member_features({"orders": table}, AS_OF).order_by("customer_id").execute())
    spend = ["monetary", "average_order", "spend_30d", "spend_90d", "spend_180d"]
    raw = [orders.iloc[::step].groupby("customer_id").amount.apply(lambda a: sum(a.tolist())) for step in (1, -1)]
    assert (raw[0] != raw[1].loc[raw[0].index]).any()  # the premise: in another order, other bits
    for other in frames[1:]:
        pd.testing.assert_frame_equal(frames[0][spend], other[spend], check_exact=True)
    expected = orders.groupby("customer_id").amount.sum().round(6).to_numpy()
    np.testing.assert_allclose(frames[0].monetary, expected, rtol=0, atol=1e-9)  # not 23518.49999999822
