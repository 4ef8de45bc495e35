"""Tests of the demo-data generator: determinism, formats, and the story the data must tell."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow.csv as pacsv
import pyarrow.parquet as pq
import pytest

from memberlens.demo.generator import TABLES, generate_demo_data
from memberlens.errors import ConfigError

CUSTOMERS = 2_000
SEED = 11
TS_COLUMNS = {
    "orders": ["ordered_at"],
    "members": ["registered_at", "activated_at", "unsubscribed_at"],
    "events": ["occurred_at"],
    "campaigns": ["sent_at", "converted_at"],
    "marketing_costs": ["date"],
    "customer_360": [],
    "referrals": ["referred_at"],
    "truth": ["acquired_at", "dropped_out_at"],
}
ID_COLUMNS = {"order_id": str, "customer_id": str, "product_id": str, "referrer_id": str, "referred_id": str}


# --------------------------------------------------------------------------------------------
# Fixtures
# --------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def csv_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, dict]]:
    out = tmp_path_factory.mktemp("demo_csv")
    return out, generate_demo_data(out, customers=CUSTOMERS, seed=SEED)


@pytest.fixture(scope="module")
def data(csv_run: tuple[Path, dict[str, dict]]) -> dict[str, pd.DataFrame]:
    out, _ = csv_run
    return {name: pd.read_csv(out / f"{name}.csv", dtype=ID_COLUMNS, parse_dates=TS_COLUMNS[name]) for name in TABLES}


@pytest.fixture(scope="module")
def sales(data: dict[str, pd.DataFrame]) -> pd.DataFrame:
    """Sales lines (no cancellations) with their amount."""
    orders = data["orders"]
    lines = orders[~orders["is_cancellation"]].copy()
    lines["amount"] = lines["quantity"] * lines["unit_price"]
    return lines


@pytest.fixture(scope="module")
def customer_orders(sales: pd.DataFrame) -> pd.DataFrame:
    """One row per members' sales order: order_id, customer_id, ordered_at, amount."""
    members_lines = sales.dropna(subset=["customer_id"])
    return members_lines.groupby(["order_id", "customer_id", "ordered_at"], as_index=False)["amount"].sum()


def _files(out: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(out.iterdir())}


# --------------------------------------------------------------------------------------------
# Determinism, formats, outputs
# --------------------------------------------------------------------------------------------


def test_same_seed_gives_identical_bytes(csv_run, tmp_path: Path) -> None:
    out, _ = csv_run
    generate_demo_data(tmp_path, customers=CUSTOMERS, seed=SEED)
    assert _files(tmp_path) == _files(out)


def test_same_seed_gives_identical_parquet(tmp_path: Path) -> None:
    generate_demo_data(tmp_path / "a", customers=300, seed=3, fmt="parquet")
    generate_demo_data(tmp_path / "b", customers=300, seed=3, fmt="parquet")
    assert _files(tmp_path / "a") == _files(tmp_path / "b")


def test_different_seed_gives_different_data(csv_run, tmp_path: Path) -> None:
    out, _ = csv_run
    generate_demo_data(tmp_path, customers=CUSTOMERS, seed=SEED + 1)
    for name in ("orders", "members", "events", "campaigns", "customer_360", "truth"):
        assert (tmp_path / f"{name}.csv").read_bytes() != (out / f"{name}.csv").read_bytes()


def test_csv_and_parquet_hold_the_same_rows(csv_run, tmp_path: Path) -> None:
    out, _ = csv_run
    generate_demo_data(tmp_path, customers=CUSTOMERS, seed=SEED, fmt="parquet")
    for name in TABLES:
        parquet = pq.read_table(tmp_path / f"{name}.parquet")
        csv = pacsv.read_csv(
            out / f"{name}.csv",
            convert_options=pacsv.ConvertOptions(column_types=parquet.schema, strings_can_be_null=True),
        )
        assert csv.schema == parquet.schema, name
        assert csv.equals(parquet), name


def test_every_demo_table_ingests_with_nothing_set_aside(tmp_path: Path, run_cli) -> None:
    """The files ``memberlens demo`` writes are read whole by ``ingest``. A small shop's campaign
    costs are all written with three decimals (``0.001``, ``0.045``): a decimal point, since no
    grouping of thousands starts with 0, not an ambiguity to refuse."""
    import json

    files = generate_demo_data(tmp_path / "data", customers=300, years=1, seed=3)
    for table in ("orders", "members", "events", "campaigns", "marketing_costs", "customer_360", "referrals"):
        result = run_cli("ingest", str(files[table]["path"]), "--table", table, "--format", "json")
        assert result.exit_code == 0, result.stderr
        ledger = json.loads(result.stdout)[0]
        assert ledger["rows_read"] == files[table]["rows"], table
        assert ledger["rows_used"] + ledger["rows_set_aside"] == ledger["rows_read"], table


def test_returns_path_and_row_count_of_every_table(csv_run) -> None:
    out, files = csv_run
    assert list(files) == list(TABLES)
    for name, info in files.items():
        assert info["path"] == str(out / f"{name}.csv")
        assert len(pd.read_csv(info["path"])) == info["rows"], name
    assert not [p for p in out.iterdir() if p.name.startswith(".")]


def test_csv_layout(csv_run) -> None:
    out, _ = csv_run
    head = (out / "orders.csv").read_text(encoding="utf-8").splitlines()[:3]
    assert head[0].replace('"', "") == (
        "order_id,ordered_at,customer_id,product_id,product_name,quantity,unit_price,country,"
        "channel,coupon_amount,is_cancellation"
    )
    fields = head[1].split(",")
    dt.datetime.strptime(fields[1], "%Y-%m-%d %H:%M:%S")
    assert fields[-1] in ("true", "false")


def test_progress_adds_up_to_customers(tmp_path: Path) -> None:
    steps: list[int] = []
    generate_demo_data(tmp_path, customers=500, seed=1, progress=steps.append)
    assert steps and sum(steps) == 500


def test_failed_run_leaves_previous_files_untouched(tmp_path: Path) -> None:
    (tmp_path / "orders.csv").write_text("old\n")

    def explode(_: int) -> None:
        raise RuntimeError("interrupted")

    with pytest.raises(RuntimeError):
        generate_demo_data(tmp_path, customers=200, progress=explode)
    assert [p.name for p in tmp_path.iterdir()] == ["orders.csv"]
    assert (tmp_path / "orders.csv").read_text() == "old\n"


def test_creates_missing_out_dir_and_accepts_date_start(tmp_path: Path) -> None:
    out = tmp_path / "a" / "b"
    files = generate_demo_data(out, customers=50, years=1, start=dt.date(2020, 2, 29))
    orders = pd.read_csv(files["orders"]["path"], parse_dates=["ordered_at"])
    assert orders["ordered_at"].min() >= pd.Timestamp("2020-02-29")
    assert orders["ordered_at"].max() < pd.Timestamp("2021-02-28")


@pytest.mark.parametrize(
    ("kwargs", "parameter"),
    [
        ({"customers": 9}, "customers"),
        ({"customers": True}, "customers"),
        ({"customers": 100.0}, "customers"),
        ({"years": 0}, "years"),
        ({"years": 21}, "years"),
        ({"seed": -1}, "seed"),
        ({"fmt": "xlsx"}, "fmt"),
        ({"start": "2023-13-01"}, "start"),
        ({"start": 20230101}, "start"),
        ({"progress": 5}, "progress"),
    ],
)
def test_bad_arguments_raise_config_error(tmp_path: Path, kwargs: dict, parameter: str) -> None:
    out = tmp_path / "out"
    with pytest.raises(ConfigError, match=f"'{parameter}'"):
        generate_demo_data(out, **kwargs)
    assert not out.exists()


# --------------------------------------------------------------------------------------------
# Orders
# --------------------------------------------------------------------------------------------


def test_a_quarter_of_lines_are_guest_lines(data) -> None:
    share = data["orders"]["customer_id"].isna().mean()
    assert 0.20 <= share <= 0.30


def test_guest_orders_have_their_own_order_ids(data) -> None:
    orders = data["orders"]
    guest_ids = set(orders.loc[orders["customer_id"].isna(), "order_id"])
    member_ids = set(orders.loc[orders["customer_id"].notna(), "order_id"])
    assert guest_ids and not guest_ids & member_ids


def test_lines_of_an_order_share_order_attributes(data) -> None:
    per_order = data["orders"].groupby("order_id").nunique(dropna=False)
    for column in ("ordered_at", "customer_id", "country", "channel"):
        assert (per_order[column] == 1).all(), column


def test_ids_look_like_the_contract(data) -> None:
    orders = data["orders"]
    sales_ids = orders.loc[~orders["is_cancellation"], "order_id"]
    assert sales_ids.str.fullmatch(r"\d{6,}").all()
    assert data["members"]["customer_id"].str.fullmatch(r"M\d{7}").all()
    assert data["members"]["customer_id"].is_unique


def test_cancellations(data) -> None:
    orders = data["orders"]
    cancels = orders[orders["is_cancellation"]]
    assert 0.01 <= len(cancels) / len(orders) <= 0.03
    assert cancels["order_id"].str.startswith("C").all()
    assert (cancels["quantity"] < 0).all()
    originals = orders[~orders["is_cancellation"]].groupby("order_id")["ordered_at"].first()
    original_at = originals.reindex(cancels["order_id"].str[1:]).to_numpy()
    assert not pd.isna(original_at).any()
    assert (cancels["ordered_at"].to_numpy() > original_at).all()
    assert not orders.loc[~orders["is_cancellation"], "order_id"].str.startswith("C").any()


def test_even_a_tiny_data_set_has_two_super_orders(tmp_path: Path) -> None:
    files = generate_demo_data(tmp_path, customers=10, seed=5)
    orders = pd.read_csv(files["orders"]["path"])
    assert (orders.loc[~orders["is_cancellation"], "quantity"] >= 10_000).sum() >= 2


def test_bulk_super_orders(sales) -> None:
    bulk = sales[sales["quantity"] >= 10_000]
    assert len(bulk) >= 2
    assert bulk["customer_id"].notna().all()
    assert (bulk.groupby("order_id").size() == 1).all()


def test_coupons_are_spread_over_lines_in_proportion(sales) -> None:
    per_order = sales.groupby("order_id").agg(coupon=("coupon_amount", "sum"), value=("amount", "sum"))
    assert 0.06 <= (per_order["coupon"] > 0).mean() <= 0.16
    assert (per_order["coupon"] <= per_order["value"] / 2 + 0.01).all()
    lines = sales.join(per_order, on="order_id")
    with_coupon = lines[lines["coupon"] > 0]
    expected = with_coupon["coupon"] * with_coupon["amount"] / with_coupon["value"]
    assert (with_coupon["coupon_amount"] - expected).abs().max() < 0.011
    multi = with_coupon.groupby("order_id")["coupon_amount"].agg(["nunique", "size"])
    assert (multi.loc[multi["size"] > 2, "nunique"] > 1).mean() > 0.9


def test_products_and_prices(sales) -> None:
    assert 300 <= sales["product_id"].nunique() <= 500
    assert sales["unit_price"].min() >= 0.39 - 1e-9
    assert sales["unit_price"].max() >= 20
    assert sales["unit_price"].median() < 3
    assert (sales["quantity"] == sales["quantity"].round()).all()
    assert sales["product_name"].str.contains(r"[\u4e00-\u9fff]").any()
    top = sales["product_id"].value_counts(normalize=True)
    assert top.iloc[0] > 5 * top.median()


def test_countries_and_channels(data) -> None:
    orders = data["orders"].drop_duplicates("order_id")
    countries = orders["country"].value_counts(normalize=True)
    assert countries.index[0] == "United Kingdom" and 0.8 <= countries.iloc[0] <= 0.92
    assert {"Germany", "France", "EIRE", "中国"} <= set(countries.index)
    assert set(orders["channel"]) == {"web", "app", "store"}
    per_customer = data["orders"].dropna(subset=["customer_id"]).groupby("customer_id")["country"]
    assert (per_customer.nunique() == 1).all()


def test_q4_months_sell_more_than_q2_q3(sales) -> None:
    regular = sales[sales["quantity"] < 10_000]
    monthly = regular.groupby(regular["ordered_at"].dt.to_period("M"))["amount"].sum()
    for year in monthly.index.year.unique():
        months = monthly[monthly.index.year == year]
        quarter = months.index.quarter
        assert months[quarter == 4].mean() > 1.2 * months[(quarter == 2) | (quarter == 3)].mean()


def test_november_december_beat_the_next_january_february(sales) -> None:
    regular = sales[sales["quantity"] < 10_000]
    monthly = regular.groupby(regular["ordered_at"].dt.to_period("M"))["amount"].sum()
    first_year = monthly.index.year.min()
    peak = monthly[(monthly.index.year == first_year) & (monthly.index.month >= 11)].mean()
    after = monthly[(monthly.index.year == first_year + 1) & (monthly.index.month <= 2)].mean()
    assert peak > 1.2 * after  # despite the growth in between


def test_weekends_are_quieter(sales) -> None:
    weekday = sales.groupby(sales["ordered_at"].dt.day_of_week)["order_id"].nunique()
    assert weekday[5] < 0.8 * weekday[:5].mean()


# --------------------------------------------------------------------------------------------
# Truth and members
# --------------------------------------------------------------------------------------------


def test_truth_has_one_row_per_buyer(data, customer_orders) -> None:
    truth = data["truth"]
    assert len(truth) == CUSTOMERS and truth["customer_id"].is_unique
    assert set(truth["customer_id"]) == set(customer_orders["customer_id"])
    first = customer_orders.groupby("customer_id")["ordered_at"].min()
    assert (truth.set_index("customer_id")["acquired_at"] == first).all()
    counts = customer_orders.groupby("customer_id").size()
    assert (truth.set_index("customer_id")["purchases"] == counts).all()


def test_nobody_buys_after_dropping_out(data, customer_orders) -> None:
    truth = data["truth"].set_index("customer_id")
    assert 0.2 <= truth["dropped_out_at"].notna().mean() <= 0.8
    last = customer_orders.groupby("customer_id")["ordered_at"].max()
    dropped = truth["dropped_out_at"].dropna()
    assert (last.reindex(dropped.index) <= dropped).all()


def test_frequent_buyers_who_fell_silent_dropped_out(data, customer_orders) -> None:
    truth = data["truth"].set_index("customer_id")
    end = data["orders"]["ordered_at"].max()
    early = truth["acquired_at"] < end - pd.Timedelta(days=365)
    frequent = truth[early & (truth["purchase_rate_per_day"] >= 0.05)]
    last = customer_orders.groupby("customer_id")["ordered_at"].max().reindex(frequent.index)
    silent = last < end - pd.Timedelta(days=180)
    assert len(frequent) >= 50
    assert silent.mean() > 0.3  # without dropout, a buyer every 20 days is never silent so long
    assert frequent.loc[silent, "dropped_out_at"].notna().all()


def test_truth_parameters_follow_the_population(data, customer_orders) -> None:
    truth = data["truth"]
    assert 0.012 <= truth["purchase_rate_per_day"].mean() <= 0.03  # r / alpha = 0.02
    assert 0.15 <= truth["dropout_probability"].mean() <= 0.25  # a / (a + b) = 0.2
    typical = customer_orders["amount"] < 5_000  # leave out bulk super orders
    spend = customer_orders[typical].groupby("customer_id")["amount"].mean()
    expected = truth.set_index("customer_id")["expected_order_value"].reindex(spend.index)
    assert np.corrcoef(np.log(spend), np.log(expected))[0, 1] > 0.5


def test_members_registered_before_buying(data, customer_orders) -> None:
    members = data["members"].set_index("customer_id")
    first = customer_orders.groupby("customer_id")["ordered_at"].min()
    buyers = members.loc[first.index]
    assert (buyers["registered_at"] <= first).all()
    assert buyers["activated_at"].notna().all()
    assert (buyers["activated_at"] <= first).all()
    assert (buyers["registered_at"] <= buyers["activated_at"]).all()


def test_member_registry_shares(data) -> None:
    members = data["members"]
    never_buy = 1 - CUSTOMERS / len(members)
    assert 0.25 <= never_buy <= 0.35
    assert 0.10 <= members["activated_at"].isna().mean() <= 0.20
    assert 0.72 <= members["marketable"].mean() <= 0.88
    assert set(members["tier"]) == {"Basic", "Bronze", "Silver", "Gold", "Platinum"}
    assert not members.loc[members["unsubscribed_at"].notna(), "marketable"].any()


def test_unsubscribing_follows_dropout(data) -> None:
    members = data["members"].set_index("customer_id")
    truth = data["truth"].set_index("customer_id")
    buyers = members.loc[truth.index]
    unsubscribed = buyers["unsubscribed_at"].notna()
    assert unsubscribed.sum() > 0
    dropped_at = truth.loc[unsubscribed, "dropped_out_at"]
    assert dropped_at.notna().all()
    assert (buyers.loc[unsubscribed, "unsubscribed_at"] > dropped_at).all()


def test_tier_follows_spend(data, customer_orders) -> None:
    spend = customer_orders.groupby("customer_id")["amount"].sum()
    tiers = data["members"].set_index("customer_id")["tier"].reindex(spend.index)
    median = spend.groupby(tiers).median()
    ladder = median.reindex(["Basic", "Bronze", "Silver", "Gold", "Platinum"])
    assert ladder.is_monotonic_increasing


# --------------------------------------------------------------------------------------------
# Events
# --------------------------------------------------------------------------------------------


def test_events_are_bounded_and_well_formed(data) -> None:
    events = data["events"]
    assert len(events) <= 2 * len(data["orders"])
    assert set(events["event_type"]) == {"visit", "search", "download"}
    assert (events["engagement"] >= 1).all()
    activated = data["members"].set_index("customer_id")["activated_at"]
    activated_at = activated.reindex(events["customer_id"]).to_numpy()
    assert (events["occurred_at"].to_numpy() >= activated_at).all()  # NaT compares False


def test_events_mostly_stop_after_dropout(data) -> None:
    truth = data["truth"]
    end = data["orders"]["ordered_at"].max()
    dropped = truth[truth["dropped_out_at"] < end - pd.Timedelta(days=150)]
    events = data["events"].merge(dropped, on="customer_id")
    before = (events["occurred_at"] <= events["dropped_out_at"]).sum()
    after = (events["occurred_at"] > events["dropped_out_at"] + pd.Timedelta(days=60)).sum()
    days_before = (dropped["dropped_out_at"] - dropped["acquired_at"]).dt.days.add(1).sum()
    days_after = (end - dropped["dropped_out_at"]).dt.days.sub(60).sum()
    assert after / days_after < 0.1 * before / days_before


def test_browsing_goes_with_buying(data, customer_orders) -> None:
    visits = data["events"].groupby("customer_id").size()
    orders = customer_orders.groupby("customer_id").size()
    both = pd.concat([visits, orders], axis=1).fillna(0)
    assert both.corr(method="spearman").iloc[0, 1] > 0.5


# --------------------------------------------------------------------------------------------
# Campaigns and marketing costs
# --------------------------------------------------------------------------------------------


def test_campaign_responses(data, customer_orders) -> None:
    campaigns = data["campaigns"]
    assert 6 <= campaigns["campaign_id"].nunique() <= 12
    assert 0.03 <= campaigns["responded"].mean() <= 0.15
    responders = campaigns[campaigns["responded"]]
    delay = responders["converted_at"] - responders["sent_at"]
    assert ((delay > pd.Timedelta(0)) & (delay <= pd.Timedelta(days=14))).all()
    assert (responders["revenue"] > 0).all()
    others = campaigns[~campaigns["responded"]]
    assert others["converted_at"].isna().all()
    assert (others["revenue"] == 0).all()
    credited = responders.merge(
        customer_orders,
        left_on=["customer_id", "converted_at"],
        right_on=["customer_id", "ordered_at"],
    )
    assert credited["customer_id"].nunique() == responders["customer_id"].nunique()


def test_campaign_recipients_are_reachable_members(data) -> None:
    members = data["members"].set_index("customer_id")
    sends = data["campaigns"].join(members, on="customer_id")
    assert (sends["registered_at"] <= sends["sent_at"]).all()
    assert (sends["unsubscribed_at"].isna() | (sends["unsubscribed_at"] > sends["sent_at"])).all()


def test_recent_frequent_buyers_respond_more(data, customer_orders) -> None:
    campaigns = data["campaigns"]
    bought = customer_orders[["customer_id", "ordered_at"]]
    pairs = campaigns.merge(bought, on="customer_id", how="left")
    in_year = pairs[
        (pairs["ordered_at"] < pairs["sent_at"]) & (pairs["ordered_at"] >= pairs["sent_at"] - pd.Timedelta(days=365))
    ]
    frequency = in_year.groupby(["campaign_id", "customer_id"]).size()
    last = in_year.groupby(["campaign_id", "customer_id"])["ordered_at"].max()
    scored = campaigns.set_index(["campaign_id", "customer_id"])
    scored["frequency"] = frequency.reindex(scored.index).fillna(0)
    idle = (scored["sent_at"] - last.reindex(scored.index)).dt.days.fillna(10_000)
    scored["score"] = scored["frequency"] - idle / 100_000
    top = scored.sort_values("score", ascending=False).head(len(scored) // 10)
    assert top["responded"].mean() >= 2 * scored["responded"].mean()


def test_marketing_costs(data) -> None:
    costs = data["marketing_costs"]
    assert set(costs["kind"]) == {"media", "coupon", "points"}
    assert set(costs["channel"]) == {"sms", "email", "app_push", "social"}
    assert len(costs) == 24 * 4 * 3
    assert (costs["date"].dt.day == 1).all()
    assert (costs["cost"] >= 0).all()
    assert (costs.groupby("kind")["cost"].sum() > 0).all()
    coupons = costs.loc[costs["kind"] == "coupon", "cost"].sum()
    orders = data["orders"]
    line_coupons = orders.loc[~orders["is_cancellation"], "coupon_amount"].sum()
    assert coupons == pytest.approx(line_coupons, abs=0.5)


# --------------------------------------------------------------------------------------------
# Customer 360
# --------------------------------------------------------------------------------------------


def test_customer_360_columns(data) -> None:
    c360 = data["customer_360"]
    assert len(c360) == len(data["members"])
    assert set(c360["customer_id"]) == set(data["members"]["customer_id"])
    assert 8.5 <= c360["composite_engagement_score"].mean() <= 9.5
    for score in ("recency_score", "frequency_score", "monetary_score"):
        assert set(c360[score]) == {1, 2, 3, 4, 5}
    assert c360["customer_health_score"].between(0, 100).all()
    assert set(c360["activity_risk_level"]) == {"Very Low", "Low", "Medium", "High", "Critical"}
    assert set(c360["engagement_velocity"]) == {"Accelerating", "Stable", "Declining", "Volatile"}
    assert set(c360["primary_engagement_channel"]) == {
        "Email",
        "Event",
        "Social Media",
        "Organic Search",
        "Paid Search",
        "Webinar",
    }
    for flag in ("in_marketo", "in_stripe", "in_zendesk"):
        assert set(c360[flag]) == {0, 1}
    assert c360["zendesk_active"].dtype == bool


def test_customer_360_ties_to_orders(data, customer_orders) -> None:
    c360 = data["customer_360"].set_index("customer_id")
    spend = customer_orders.groupby("customer_id")["amount"].sum()
    monetary = c360["monetary_score"].reindex(spend.index)
    assert spend.groupby(monetary).median().is_monotonic_increasing
    assert (c360.drop(spend.index)["frequency_score"] == 1).all()


def test_stripe_raises_health(data) -> None:
    health = data["customer_360"].groupby("in_stripe")["customer_health_score"].mean()
    assert health[1] > health[0] + 3


def test_zendesk_without_stripe_lowers_health(data) -> None:
    c360 = data["customer_360"]
    without_stripe = c360[c360["in_stripe"] == 0].groupby("in_zendesk")["customer_health_score"]
    assert without_stripe.mean()[1] < without_stripe.mean()[0] - 5
    cells = c360.groupby(["in_marketo", "in_stripe", "in_zendesk"])["customer_health_score"].agg(["mean", "size"])
    assert cells.loc[(1, 0, 1), "mean"] < cells.loc[(1, 0, 0), "mean"] - 15
    others = cells.drop((1, 0, 1))
    assert (cells.loc[(1, 0, 1), "mean"] < others.loc[others["size"] >= 10, "mean"]).all()


def test_risk_and_velocity_shape_health(data) -> None:
    cells = (
        data["customer_360"]
        .groupby(["activity_risk_level", "engagement_velocity"])["customer_health_score"]
        .agg(["mean", "size"])
    )
    big = cells[cells["size"] >= 30]["mean"]
    assert big.idxmax() in {("Medium", "Stable"), ("Low", "Stable")}
    assert big.idxmin() == ("Very Low", "Accelerating")
    assert (cells["size"] < 0.01 * cells["size"].sum()).any()  # some small cells


def test_default_cohort_has_higher_ltv_in_each_tier(data) -> None:
    c360 = data["customer_360"]
    score = c360["composite_engagement_score"]
    cohort = c360[
        c360["marketing_to_sales_days"].between(10, 20) & (c360["sales_to_support_days"] > 30) & (score > score.mean())
    ]
    assert 0.03 <= len(cohort) / len(c360) <= 0.25
    cohort_ltv = cohort.groupby("customer_tier")["estimated_customer_ltv"].agg(["mean", "size"])
    population_ltv = c360.groupby("customer_tier")["estimated_customer_ltv"].mean()
    compared = cohort_ltv[cohort_ltv["size"] >= 15]
    assert len(compared) >= 3
    assert (compared["mean"] > population_ltv.reindex(compared.index)).all()
    assert cohort["zendesk_active"].mean() < c360["zendesk_active"].mean()


# --------------------------------------------------------------------------------------------
# The referral program
# --------------------------------------------------------------------------------------------


def test_the_referral_program_leaves_every_other_table_as_it_was(csv_run, tmp_path: Path, monkeypatch) -> None:
    """The program draws from its own stream after each chunk: without it, the other files are
    the same bytes."""
    import pyarrow as pa

    from memberlens.demo import _referrals
    from memberlens.demo._tables import SCHEMAS

    out, _ = csv_run
    monkeypatch.setattr(_referrals.ReferralProgram, "draw", lambda self, tables: SCHEMAS["referrals"].empty_table())
    generate_demo_data(tmp_path, customers=CUSTOMERS, seed=SEED)
    for name in TABLES:
        if name != "referrals":
            assert (tmp_path / f"{name}.csv").read_bytes() == (out / f"{name}.csv").read_bytes(), name
    assert pa.csv.read_csv(tmp_path / "referrals.csv").num_rows == 0


def test_referrals_form_a_forest_in_time(data) -> None:
    """One referrer per member, nobody their own ancestor, referrers registered before the
    members they brought, who were referred when they registered."""
    import networkx as nx

    referrals, members = data["referrals"], data["members"].set_index("customer_id")
    assert referrals.referred_id.is_unique and not (referrals.referrer_id == referrals.referred_id).any()
    graph = nx.DiGraph(list(zip(referrals.referrer_id, referrals.referred_id)))
    assert nx.is_directed_acyclic_graph(graph)
    assert (referrals.referred_at == referrals.referred_id.map(members.registered_at)).all()
    assert (referrals.referrer_id.map(members.registered_at) < referrals.referred_at).all()
    assert set(referrals.channel) == {"link", "code", "social"}
    assert set(referrals.reward_cost) <= {2.0, 12.0, 17.0}


def test_most_refer_nobody_a_few_refer_many_and_chains_run_deep(data) -> None:
    import networkx as nx

    referrals, members = data["referrals"], data["members"]
    per_referrer = referrals.referrer_id.value_counts()
    assert 0.05 <= len(referrals) / len(members) <= 0.25
    assert len(per_referrer) / len(members) < 0.06  # most members refer nobody
    assert per_referrer.max() >= 10 * per_referrer.median()  # a few refer many
    graph = nx.DiGraph(list(zip(referrals.referrer_id, referrals.referred_id)))
    roots = [n for n in graph if graph.in_degree(n) == 0]
    # three generations in this 2,000-customer shop; the default demo (20,000) runs to seven
    assert max(max(nx.single_source_shortest_path_length(graph, r).values()) for r in roots) >= 3


def test_referred_customers_are_worth_more_and_some_never_buy(data, sales) -> None:
    spend = sales.dropna(subset=["customer_id"]).groupby("customer_id").amount.sum()
    members = data["members"].assign(
        spend=lambda m: m.customer_id.map(spend).fillna(0.0),
        referred=lambda m: m.customer_id.isin(data["referrals"].referred_id),
    )
    referred, organic = members[members.referred], members[~members.referred]
    assert (referred.spend > 0).mean() > (organic.spend > 0).mean() + 0.05  # they convert more...
    assert (referred.spend > 0).mean() < 0.95  # ...but not all of them buy
    assert referred.spend.mean() > 1.3 * organic.spend.mean()  # and are worth more per member
    rewards = data["referrals"].assign(bought=lambda r: r.referred_id.map(spend).fillna(0) > 0)
    assert (rewards.reward_cost[~rewards.bought] == 2.0).all() and (rewards.reward_cost[rewards.bought] > 2.0).all()
