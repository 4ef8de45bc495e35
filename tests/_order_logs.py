"""Shared pieces of the metric tests: hypothesis strategies for order logs, plain pandas/Python
oracles of the definitions in product.md (A-D), and a frame comparison that treats missing
values explicitly.

The oracles are written from the definitions, customer by customer and period by period, with
pandas ``Period`` objects for the calendar (weeks are pandas' ``W-SUN`` periods: Monday to
Sunday). They are deliberately naive: clarity over speed.
"""

from __future__ import annotations

import inspect
import math
import os
from datetime import date, datetime, timedelta
from fractions import Fraction

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

# -- settings --------------------------------------------------------------------------------

PROPERTY = settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
# A query on DuckDB takes milliseconds, on a local Spark seconds: engines other than DuckDB run
# fewer examples of each property (MEMBERLENS_TEST_ENGINE_EXAMPLES, default 5) and do not shrink
# a failing example (the same property usually fails, and shrinks, on DuckDB too).
SLOW_ENGINE_EXAMPLES = int(os.environ.get("MEMBERLENS_TEST_ENGINE_EXAMPLES", "5"))


def xfail_on(request, con, engines: dict[str, str]) -> None:
    """Mark the running test a strict xfail when ``con`` is one of ``engines`` (Ibis backend
    name -> reason): a known engine-specific bug, expected to fail until it is fixed."""
    if con.name in engines:
        request.node.add_marker(pytest.mark.xfail(strict=True, reason=engines[con.name]))


# `make test-fast` (MEMBERLENS_FAST_LANE=1) draws fewer examples for the edit-test loop; `make
# test`, which CI runs, draws them all
FAST_LANE = os.environ.get("MEMBERLENS_FAST_LANE") == "1"
FAST_LANE_EXAMPLES = 8


def engine_property(*, examples: int = 25, xfail: dict[str, str] | None = None, **strategies):
    """Like ``@given(**strategies)`` on a test ``body(con, **drawn)``, with as many examples as
    the engine of ``con`` affords: ``examples`` on DuckDB, at most SLOW_ENGINE_EXAMPLES on others.
    ``xfail`` (engine -> reason): a strict xfail on those engines, tried on one example."""

    def decorate(body):
        def test(con, request):
            if con.name == "duckdb":
                options = {"max_examples": min(examples, FAST_LANE_EXAMPLES) if FAST_LANE else examples}
            else:
                options = {
                    "max_examples": min(examples, SLOW_ENGINE_EXAMPLES),
                    "phases": (Phase.explicit, Phase.generate),
                }
            if xfail and con.name in xfail:
                xfail_on(request, con, xfail)
                options["max_examples"] = 1

            def run(**drawn):
                body(con, **drawn)

            run.__signature__ = inspect.Signature(
                [inspect.Parameter(name, inspect.Parameter.KEYWORD_ONLY) for name in strategies]
            )
            run.__name__ = run.__qualname__ = body.__name__
            # a database key of its own per test and engine (the inner function is shared)
            run._hypothesis_internal_add_digest = f"{body.__module__}.{body.__qualname__}:{con.name}".encode()
            settings(PROPERTY, **options)(given(**strategies)(run))()

        test.__name__, test.__qualname__, test.__doc__ = body.__name__, body.__qualname__, body.__doc__
        test.__module__ = body.__module__
        return test

    return decorate


PERIODS = ("day", "week", "month", "quarter")
FREQ = {"day": "D", "week": "W-SUN", "month": "M", "quarter": "Q"}  # W-SUN: weeks Monday..Sunday

ORDER_COLUMNS = [
    "customer_id",
    "order_id",
    "ordered_at",
    "amount",
    "quantity",
    "unit_price",
    "product_id",
    "coupon_amount",
]

# -- strategies ------------------------------------------------------------------------------

# a Sunday at a year/quarter/week boundary, a Monday, a Friday, a leap-year February
START_DATES = (datetime(2020, 12, 27), datetime(2021, 3, 29), datetime(2021, 1, 1), datetime(2024, 2, 27))
# minutes after midnight: just after midnight, mid-morning, just before midnight
TIMES = (0, 1, 600, 1439)
QUANTITIES = (1.0, 2.0, 3.0, 6.0)
PRICES = (0.5, 1.25, 2.0, 10.0, 60.0)  # multiples of 1/4: sums are exact in binary floating point
PRODUCTS = ("p1", "p2", "p3", "p4")


@st.composite
def day_pools(draw) -> list[int]:
    """The days (offsets from the start) orders may fall on: few days, so several orders share a
    day and recencies tie; spans from one day to over a year, some with a gap of empty months,
    some about one period apart so customers buy in consecutive periods and skip some."""
    shape = draw(st.sampled_from(["one_day", "short", "long", "gapped", "periodic", "periodic"]))
    if shape == "one_day":
        return [0]
    if shape == "periodic":  # about one day per day/week/month/quarter: runs of periods and skipped ones
        step = draw(st.sampled_from([1, 7, 31, 92]))
        steps = draw(st.lists(st.integers(0, 7), min_size=2, max_size=6, unique=True))
        return sorted({step * k + draw(st.integers(0, 2)) for k in steps})
    if shape == "short":
        return draw(st.lists(st.integers(0, 16), min_size=1, max_size=5, unique=True))
    if shape == "long":
        return draw(st.lists(st.integers(0, 420), min_size=1, max_size=6, unique=True))
    early = draw(st.lists(st.integers(0, 40), min_size=1, max_size=3, unique=True))
    late = draw(st.lists(st.integers(130, 260), min_size=1, max_size=3, unique=True))
    return early + late


@st.composite
def order_logs(draw, *, max_customers: int = 6, max_orders: int = 14) -> pd.DataFrame:
    """A canonical order-line table: several lines per order, several orders per day, customers
    with one order or many, skipped periods, equal amounts (prices and quantities come from small
    sets) and a coupon on some orders."""
    start = draw(st.sampled_from(START_DATES))
    pool = draw(day_pools())
    customers = [f"c{i}" for i in range(draw(st.integers(1, max_customers)))]
    rows = []
    for number in range(draw(st.integers(1, max_orders))):
        customer = draw(st.sampled_from(customers))
        at = start + timedelta(days=draw(st.sampled_from(pool)), minutes=draw(st.sampled_from(TIMES)))
        coupon = draw(st.sampled_from((0.0, 0.0, 1.5)))
        for line in range(draw(st.integers(1, 3))):
            quantity = draw(st.sampled_from(QUANTITIES))
            price = draw(st.sampled_from(PRICES))
            rows.append(
                {
                    "customer_id": customer,
                    "order_id": f"o{number:03d}",
                    "ordered_at": at,
                    "amount": quantity * price,
                    "quantity": quantity,
                    "unit_price": price,
                    "product_id": draw(st.sampled_from(PRODUCTS)),
                    "coupon_amount": coupon if line == 0 else 0.0,
                }
            )
    return orders_frame(rows)


def orders_frame(rows: list[dict] | dict[str, list]) -> pd.DataFrame:
    """Rows (or columns) -> an orders frame with the canonical dtypes."""
    frame = pd.DataFrame(rows)
    frame["ordered_at"] = pd.to_datetime(frame["ordered_at"], format="ISO8601").astype("datetime64[us]")
    for column in ("amount", "quantity", "unit_price", "coupon_amount"):
        if column in frame:
            frame[column] = frame[column].astype("float64")
    return frame


# -- calendar --------------------------------------------------------------------------------


def to_period(ts, period: str):
    """A pandas Period (scalar or Series) for timestamps."""
    if isinstance(ts, pd.Series):
        return ts.dt.to_period(FREQ[period])
    return pd.Timestamp(ts).to_period(FREQ[period])


def period_list(first, last) -> list:
    """Every period from ``first`` to ``last`` inclusive, empty ones included."""
    out, p = [], first
    while p <= last:
        out.append(p)
        p = p + 1
    return out


def start_of(p) -> pd.Timestamp:
    return p.start_time.normalize()


def customer_periods(orders: pd.DataFrame, period: str) -> dict[str, set]:
    """customer -> the set of periods with an order."""
    out: dict[str, set] = {}
    for customer, at in zip(orders["customer_id"], orders["ordered_at"]):
        out.setdefault(customer, set()).add(to_period(at, period))
    return out


def all_periods(orders: pd.DataFrame, period: str) -> list:
    p = to_period(orders["ordered_at"], period)
    return period_list(p.min(), p.max())


def ratio(part, whole):
    return None if whole == 0 else part / whole


# -- oracles: trends (A) ---------------------------------------------------------------------


def trends_oracle(orders: pd.DataFrame, period: str) -> pd.DataFrame:
    periods = to_period(orders["ordered_at"], period)
    firsts = {c: min(ps) for c, ps in customer_periods(orders, period).items()}
    rows = []
    for p in all_periods(orders, period):
        lines = orders[periods == p]
        buyers = lines["customer_id"].nunique()
        n_orders = lines["order_id"].nunique()
        revenue = float(lines["amount"].sum())
        rows.append(
            {
                "period_start": start_of(p),
                "buyers": buyers,
                "orders": n_orders,
                "revenue": revenue,
                "units": float(lines["quantity"].sum()),
                "revenue_per_buyer": ratio(revenue, buyers),
                "average_order_value": ratio(revenue, n_orders),
                "new_customers": sum(1 for f in firsts.values() if f == p),
            }
        )
    return pd.DataFrame(rows)


def order_totals_oracle(orders: pd.DataFrame) -> dict[str, dict]:
    out = {}
    for order_id, lines in orders.groupby("order_id"):
        out[order_id] = {
            "customer_id": lines["customer_id"].iloc[0],
            "ordered_at": lines["ordered_at"].min(),
            "amount": float(lines["amount"].sum()),
            "units": float(lines["quantity"].sum()),
            "lines": len(lines),
        }
    return out


def largest_orders_oracle(orders: pd.DataFrame, period: str, top: int) -> pd.DataFrame:
    totals = order_totals_oracle(orders)
    by_period: dict = {}
    for order_id, t in totals.items():
        by_period.setdefault(to_period(t["ordered_at"], period), []).append((order_id, t))
    rows = []
    for p, members in by_period.items():
        period_revenue = sum(t["amount"] for _, t in members)
        members.sort(key=lambda item: (-item[1]["amount"], item[0]))  # largest first, ties by order id
        for rank, (order_id, t) in enumerate(members[:top], start=1):
            rows.append(
                {
                    "period_start": start_of(p),
                    "rank": rank,
                    "order_id": order_id,
                    "customer_id": t["customer_id"],
                    "ordered_at": t["ordered_at"],
                    "amount": t["amount"],
                    "units": t["units"],
                    "share_of_period_revenue": t["amount"] / period_revenue,
                }
            )
    return pd.DataFrame(rows)


def price_bands_oracle(orders: pd.DataFrame, edges: list[float]) -> pd.DataFrame:
    edges = sorted(edges)
    rows = []
    for i, lo in enumerate(edges):
        hi = edges[i + 1] if i + 1 < len(edges) else None
        inside = orders[(orders["unit_price"] >= lo) & ((orders["unit_price"] < hi) if hi is not None else True)]
        if len(inside) == 0:
            continue
        rows.append(
            {
                "price_from": float(lo),
                "price_to": None if hi is None else float(hi),
                "lines": len(inside),
                "units": float(inside["quantity"].sum()),
                "revenue": float(inside["amount"].sum()),
                "buyers": inside["customer_id"].nunique(),
                "mean_units_per_line": float(inside["quantity"].mean()),
            }
        )
    return pd.DataFrame(
        rows, columns=["price_from", "price_to", "lines", "units", "revenue", "buyers", "mean_units_per_line"]
    )


# -- oracles: lifecycle and rates (B) --------------------------------------------------------


def lifecycle_states(orders: pd.DataFrame, period: str) -> dict:
    """Seed 000's state machine, month by month: every customer starts 'not yet purchased';
    buying this period: never bought -> new, bought last period -> active, otherwise -> return;
    not buying: bought before -> unactive, otherwise still 'not yet purchased'.
    Returns period -> {customer: state}."""
    bought = customer_periods(orders, period)
    states = {c: "none" for c in bought}
    out = {}
    for p in all_periods(orders, period):
        new_states = {}
        for c, previous in states.items():
            if p in bought[c]:
                if previous == "none":
                    new_states[c] = "new"
                elif previous in ("new", "active", "return"):  # bought in the previous period
                    new_states[c] = "active"
                else:  # unactive: bought before, not last period
                    new_states[c] = "return"
            else:
                new_states[c] = "none" if previous == "none" else "unactive"
        states = new_states
        out[p] = dict(states)
    return out


def lifecycle_oracle(orders: pd.DataFrame, period: str) -> pd.DataFrame:
    rows = []
    states = lifecycle_states(orders, period)
    first = min(states)
    for p, by_customer in states.items():
        counts = {s: sum(1 for v in by_customer.values() if v == s) for s in ("new", "active", "return", "unactive")}
        rows.append(
            {
                "period_start": start_of(p),
                "buyers": counts["new"] + counts["active"] + counts["return"],
                **counts,
                "left_censored": p == first,
            }
        )
    return pd.DataFrame(rows)


def growth_oracle(orders: pd.DataFrame, period: str) -> pd.DataFrame:
    """PostHog/Amplitude: new, returning (bought the previous period too), resurrecting (bought
    before, not the previous period), dormant (bought the previous period, not this one)."""
    bought = customer_periods(orders, period)
    periods = all_periods(orders, period)
    rows = []
    for p in periods:
        buyers = {c for c, ps in bought.items() if p in ps}
        previous = {c for c, ps in bought.items() if p - 1 in ps}
        rows.append(
            {
                "period_start": start_of(p),
                "new": sum(1 for c in buyers if min(bought[c]) == p),
                "returning": len(buyers & previous),
                "resurrecting": sum(1 for c in buyers - previous if min(bought[c]) < p),
                "dormant": len(previous - buyers),
                "left_censored": p == periods[0],
            }
        )
    return pd.DataFrame(rows)


def final_stage_oracle(orders: pd.DataFrame, period: str) -> pd.DataFrame:
    states = lifecycle_states(orders, period)
    last = max(states)
    bought = customer_periods(orders, period)
    return pd.DataFrame(
        [
            {"customer_id": c, "stage": stage, "last_purchase_period_start": start_of(max(bought[c]))}
            for c, stage in states[last].items()
        ]
    )


def final_growth_oracle(orders: pd.DataFrame, period: str) -> pd.DataFrame:
    """Each customer's growth stage in the last period with an order, from their set of periods."""
    bought = customer_periods(orders, period)
    last = max(max(ps) for ps in bought.values())
    rows = []
    for c, ps in bought.items():
        if last in ps:
            stage = "new" if min(ps) == last else "returning" if last - 1 in ps else "resurrecting"
        else:
            stage = "dormant" if last - 1 in ps else "lapsed"
        rows.append({"customer_id": c, "stage": stage, "last_purchase_period_start": start_of(max(ps))})
    return pd.DataFrame(rows)


def rates_oracle(orders: pd.DataFrame, period: str) -> pd.DataFrame:
    bought = customer_periods(orders, period)
    periods_of_line = to_period(orders["ordered_at"], period)
    rows = []
    for p in all_periods(orders, period):
        lines = orders[periods_of_line == p]
        orders_per_customer = lines.groupby("customer_id")["order_id"].nunique()
        buyers = set(orders_per_customer.index)
        repeat = int((orders_per_customer > 1).sum())
        previous = {c for c, ps in bought.items() if p - 1 in ps}
        returning = len(buyers & previous)
        # known customers (first order before the previous period) who did not buy in it
        lapsed = {c for c, ps in bought.items() if min(ps) < p - 1 and p - 1 not in ps}
        reactivated = len(buyers & lapsed)
        rows.append(
            {
                "period_start": start_of(p),
                "buyers": len(buyers),
                "repeat_buyers": repeat,
                "repurchase_rate": ratio(repeat, len(buyers)),
                "previous_buyers": len(previous),
                "returning_buyers": returning,
                "return_rate": ratio(returning, len(previous)),
                "lapsed_customers": len(lapsed),
                "reactivated_buyers": reactivated,
                "reactivation_rate": ratio(reactivated, len(lapsed)),
            }
        )
    return pd.DataFrame(rows)


def cohorts_oracle(
    orders: pd.DataFrame,
    period: str,
    *,
    measure: str = "customers",
    cumulative: bool = False,
    relative_to: str = "first",
) -> pd.DataFrame:
    """Every (cohort, k) with k from 0 to the span of the data; cells after the last period of
    the data are not observable (null); observed cells with nobody are 0."""
    bought = customer_periods(orders, period)
    line_periods = to_period(orders["ordered_at"], period)
    revenue = {}  # (customer, period) -> revenue
    for c, p, a in zip(orders["customer_id"], line_periods, orders["amount"]):
        revenue[(c, p)] = revenue.get((c, p), 0.0) + a
    periods = all_periods(orders, period)
    last = periods[-1]
    cohorts: dict = {}
    for c, ps in bought.items():
        cohorts.setdefault(min(ps), []).append(c)
    rows = []
    for cohort, members in cohorts.items():
        values = []
        for k in range(len(periods)):
            target = cohort + k
            if target > last:
                values.append(None)
                continue
            if measure == "customers":
                if cumulative:
                    v = sum(1 for c in members if any(q >= target for q in bought[c]))
                else:
                    v = sum(1 for c in members if target in bought[c])
            elif cumulative:
                v = sum(r for (c, q), r in revenue.items() if c in members and q >= target)
            else:
                v = sum(r for (c, q), r in revenue.items() if c in members and q == target)
            values.append(float(v))
        for k, v in enumerate(values):
            base = values[0] if relative_to == "first" else (values[k - 1] if k > 0 else None)
            rows.append(
                {
                    "cohort_start": start_of(cohort),
                    "period_number": k,
                    "cohort_size": float(len(members)),
                    "value": v,
                    "retention": None if v is None or base is None or base <= 0 else v / base,
                    "observable": cohort + k <= last,
                }
            )
    return pd.DataFrame(rows)


def active_users_oracle(activity: pd.DataFrame, time_column: str) -> pd.DataFrame:
    days_of = {}
    for c, at in zip(activity["customer_id"], activity[time_column]):
        days_of.setdefault(c, set()).add(pd.Timestamp(at).normalize())
    all_days = sorted(set().union(*days_of.values()))
    first, last = all_days[0], all_days[-1]
    rows = []
    for d in pd.date_range(first, last, freq="D"):
        counts = {}
        for name, window in (("dau", 1), ("wau", 7), ("mau", 30)):
            lo = d - pd.Timedelta(days=window - 1)
            counts[name] = sum(1 for ds in days_of.values() if any(lo <= x <= d for x in ds))
        rows.append(
            {
                "day": d,
                **counts,
                "stickiness": ratio(counts["dau"], counts["mau"]),
                "full_window": (d - first).days >= 29,
            }
        )
    return pd.DataFrame(rows)


def churn_oracle(orders: pd.DataFrame, period: str, churn_days: int) -> pd.DataFrame:
    """Cut-off of a period: its end (the first day after it), or for the last period the day
    after the last order if earlier. Known: an order before the cut-off. Churned: known, and
    the last order before the cut-off is more than churn_days days old."""
    days = {}
    for c, at in zip(orders["customer_id"], orders["ordered_at"]):
        days.setdefault(c, set()).add(pd.Timestamp(at).normalize())
    end_of_data = max(max(ds) for ds in days.values()) + pd.Timedelta(days=1)
    firsts = {c: to_period(min(ds), period) for c, ds in days.items()}
    rows, churned_before = [], set()
    for p in all_periods(orders, period):
        cutoff = min(start_of(p + 1), end_of_data)
        known, churned = set(), set()
        for c, ds in days.items():
            before = [d for d in ds if d < cutoff]
            if not before:
                continue
            known.add(c)
            if (cutoff - max(before)).days > churn_days:
                churned.add(c)
        new_buyers = sum(1 for f in firsts.values() if f == p)
        newly = len(churned - churned_before)
        rows.append(
            {
                "period_start": start_of(p),
                "known": len(known),
                "active": len(known) - len(churned),
                "churned": len(churned),
                "churn_rate": ratio(len(churned), len(known)),
                "new_buyers": new_buyers,
                "newly_churned": newly,
                "change_ratio": ratio(new_buyers, newly),
            }
        )
        churned_before = churned
    return pd.DataFrame(rows)


def churn_members_oracle(orders: pd.DataFrame, period: str, churn_days: int) -> tuple[dict, dict]:
    """Per period start: the customers churned at its cut-off who were not at the previous one
    (as :func:`churn_oracle` counts them), and the customers whose first order is in it."""
    days = {}
    for c, at in zip(orders["customer_id"], orders["ordered_at"]):
        days.setdefault(c, set()).add(pd.Timestamp(at).normalize())
    end_of_data = max(max(ds) for ds in days.values()) + pd.Timedelta(days=1)
    newly, new, churned_before = {}, {}, set()
    for p in all_periods(orders, period):
        cutoff = min(start_of(p + 1), end_of_data)
        churned = {
            c
            for c, ds in days.items()
            if (before := [d for d in ds if d < cutoff]) and (cutoff - max(before)).days > churn_days
        }
        newly[start_of(p)] = churned - churned_before
        new[start_of(p)] = {c for c, ds in days.items() if to_period(min(ds), period) == p}
        churned_before = churned
    return newly, new


# -- oracles: value (C) ----------------------------------------------------------------------


def abc_oracle(orders: pd.DataFrame, key: str, a: float, b: float) -> tuple[pd.DataFrame, bool]:
    """Entities largest revenue first (ties by id); A while the share of the entities before it
    is below a, B while below b, C after. Also says whether some entity sits exactly on a
    threshold (the share before it equals a or b), where floating point decides."""
    revenue: dict[str, Fraction] = {}
    for k, amount in zip(orders[key], orders["amount"]):
        revenue[k] = revenue.get(k, Fraction(0)) + Fraction(amount)  # amounts are exact binary fractions
    total = sum(revenue.values())
    ranked = sorted(revenue, key=lambda k: (-revenue[k], k))
    fa, fb = Fraction(str(a)), Fraction(str(b))
    rows, before, on_boundary = [], Fraction(0), False
    for rank, k in enumerate(ranked, start=1):
        share_before = before / total
        on_boundary |= share_before in (fa, fb)
        before += revenue[k]
        rows.append(
            {
                key: k,
                "revenue": float(revenue[k]),
                "revenue_share": float(revenue[k] / total),
                "cumulative_share": float(before / total),
                "rank": rank,
                "abc_class": "A" if share_before < fa else "B" if share_before < fb else "C",
            }
        )
    return pd.DataFrame(rows), on_boundary


def rfm_oracle(orders: pd.DataFrame, as_of=None, lookback_days: int | None = None) -> pd.DataFrame:
    """R: whole calendar days from the date of the last order to the cut-off date; F: distinct
    orders; M: summed amount; only orders before the cut-off (and within the look-back)."""
    dates = orders["ordered_at"].dt.normalize()
    cutoff = dates.max() + pd.Timedelta(days=1) if as_of is None else pd.Timestamp(as_of)
    keep = dates < cutoff
    if lookback_days is not None:
        keep &= (cutoff - dates).dt.days <= lookback_days
    rows = []
    for c, lines in orders[keep].groupby("customer_id"):
        rows.append(
            {
                "customer_id": c,
                "recency": (cutoff - lines["ordered_at"].max().normalize()).days,
                "frequency": lines["order_id"].nunique(),
                "monetary": float(lines["amount"].sum()),
                "first_order_at": lines["ordered_at"].min(),
                "last_order_at": lines["ordered_at"].max(),
            }
        )
    return pd.DataFrame(
        rows, columns=["customer_id", "recency", "frequency", "monetary", "first_order_at", "last_order_at"]
    )


def quantile_scores(values: pd.Series, bins: int, *, higher_is_better: bool = True) -> pd.Series:
    """1 + floor(bins * (rank - 1) / n), rank = the smallest rank among equal values (SQL RANK),
    ascending when higher is better, descending otherwise (recency)."""
    ranks = values.rank(method="min", ascending=higher_is_better)
    return (1 + np.floor(bins * (ranks - 1) / len(values))).astype("int64")


# The complete R x F grid as a chart: rows R = 5 (top) .. 1, columns F = 1 .. 5.
GRID_CHART = {
    5: ["new", "potential_loyalists", "potential_loyalists", "champions", "champions"],
    4: ["promising", "potential_loyalists", "potential_loyalists", "loyal", "loyal"],
    3: ["about_to_sleep", "about_to_sleep", "need_attention", "loyal", "loyal"],
    2: ["hibernating", "hibernating", "at_risk", "at_risk", "cant_lose"],
    1: ["hibernating", "hibernating", "at_risk", "at_risk", "cant_lose"],
}

# The 11-segment table in precedence order: name, R range, F range, M range (on 1..5). Each
# specific rule stands before the broader rules that contain it.
ELEVEN_TABLE = [
    ("champions", (4, 5), (4, 5), (4, 5)),
    ("loyal", (2, 5), (3, 5), (3, 5)),
    ("recent", (4, 5), (1, 1), (1, 1)),
    ("promising", (3, 4), (1, 1), (1, 1)),
    ("potential_loyalists", (3, 5), (1, 3), (1, 3)),
    ("need_attention", (2, 3), (2, 3), (2, 3)),
    ("about_to_sleep", (2, 3), (1, 2), (1, 2)),
    ("cant_lose", (1, 1), (4, 5), (4, 5)),
    ("at_risk", (1, 2), (2, 5), (2, 5)),
    ("hibernating", (1, 2), (1, 2), (1, 2)),
    ("lost", (1, 2), (1, 5), (1, 5)),
]

# 3- and 4-bin scores on the 1..5 scale of the tables, both ends kept: 1 + round(4 (s - 1) / (bins - 1))
ON_FIVE = {3: {1: 1, 2: 3, 3: 5}, 4: {1: 1, 2: 2, 3: 4, 4: 5}, 5: {s: s for s in range(1, 6)}}


def grid_segment(r: int, f: int) -> str:
    return GRID_CHART[r][f - 1]


def first_matching(rules, r: int, f: int, m: int) -> str:
    for name, (rl, rh), (fl, fh), (ml, mh) in rules:
        if rl <= r <= rh and fl <= f <= fh and ml <= m <= mh:
            return name
    return "other"


# -- comparison ------------------------------------------------------------------------------


def _missing(x) -> bool:
    if x is None or x is pd.NA or x is pd.NaT:
        return True
    if isinstance(x, (float, np.floating)):
        return math.isnan(x)
    if isinstance(x, (np.datetime64, pd.Timestamp)):
        return pd.isna(x)
    return False


def _same(actual, expected, rel: float) -> bool:
    if _missing(expected):
        return _missing(actual)
    if _missing(actual):
        return False
    if isinstance(expected, (bool, np.bool_)):
        return isinstance(actual, (bool, np.bool_)) and bool(actual) == bool(expected)
    if isinstance(expected, (pd.Timestamp, datetime, date, np.datetime64)):
        return pd.Timestamp(actual) == pd.Timestamp(expected)
    if isinstance(expected, str):
        return isinstance(actual, str) and actual == expected
    if isinstance(expected, (int, np.integer)):
        return not isinstance(actual, (bool, np.bool_)) and float(actual) == float(expected)
    return math.isclose(float(actual), float(expected), rel_tol=rel, abs_tol=1e-12)


def _normalise(frame: pd.DataFrame) -> pd.DataFrame:
    out = frame.copy()
    for column in out.columns:
        if pd.api.types.is_datetime64_any_dtype(out[column]):
            out[column] = out[column].astype("datetime64[ns]")
        elif (
            out[column].dtype == object
            and len(out)
            and all(isinstance(v, (date, pd.Timestamp)) for v in out[column].dropna())
        ):
            out[column] = pd.to_datetime(out[column]).astype("datetime64[ns]")
    return out


def assert_frame_matches(
    actual: pd.DataFrame,
    expected: pd.DataFrame,
    keys: list[str],
    *,
    rel: float = 1e-9,
    columns: list[str] | None = None,
) -> None:
    """Same rows (after sorting by ``keys``) and, column by column, the same values: ints and
    strings exactly, floats to ``rel``, and a missing value (null or NaN) only where one is
    expected. Without ``columns`` the two frames must have exactly the same columns."""
    if columns is None:
        assert sorted(actual.columns) == sorted(expected.columns), (list(actual.columns), list(expected.columns))
        columns = list(expected.columns)
    actual = _normalise(actual)[columns].sort_values(keys, kind="stable").reset_index(drop=True)
    expected = _normalise(expected)[columns].sort_values(keys, kind="stable").reset_index(drop=True)
    assert len(actual) == len(expected), f"{len(actual)} rows, expected {len(expected)}\n{actual}\n{expected}"
    problems = [
        f"row {i} ({', '.join(f'{k}={expected.at[i, k]}' for k in keys)}) {c}: got {actual.at[i, c]!r}, expected {expected.at[i, c]!r}"
        for i in range(len(expected))
        for c in columns
        if not _same(actual.at[i, c], expected.at[i, c], rel)
    ]
    assert not problems, "\n".join(problems[:25])
