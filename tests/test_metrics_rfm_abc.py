"""RFM / RFE, scores, named segments and ABC classes (product.md C) against pandas oracles."""

from __future__ import annotations

from datetime import date, timedelta

import pandas as pd
import pytest
from _order_logs import (
    ELEVEN_TABLE,
    GRID_CHART,
    ON_FIVE,
    abc_oracle,
    assert_frame_matches,
    engine_property,
    first_matching,
    grid_segment,
    order_logs,
    orders_frame,
    quantile_scores,
    rfm_oracle,
)
from conftest import load
from hypothesis import strategies as st

from memberlens.errors import ConfigError
from memberlens.metrics import (
    classify_abc,
    compute_rfe,
    compute_rfm,
    score_rfm,
    segment_rfm,
    summarise_abc,
    summarise_segments,
)
from memberlens.metrics.rfm import GRID_SEGMENTS


def _orders(*rows):
    """(customer, order, timestamp, amount) -> an orders frame."""
    return orders_frame(
        [
            dict(
                customer_id=c,
                order_id=o,
                ordered_at=at,
                amount=a,
                quantity=1.0,
                unit_price=a,
                product_id="p",
                coupon_amount=0.0,
            )
            for c, o, at, a in rows
        ]
    )


@st.composite
def cutoffs(draw, orders: pd.DataFrame):
    """None (the default), or a date at / next to an order's date, as a string or a date."""
    if draw(st.booleans()):
        return None
    day = draw(st.sampled_from(sorted(orders.ordered_at.dt.normalize().unique())))
    as_of = (pd.Timestamp(day) + timedelta(days=draw(st.integers(-1, 3)))).date()
    return as_of.isoformat() if draw(st.booleans()) else as_of


# -- RFM -------------------------------------------------------------------------------------


@engine_property(data=st.data(), orders=order_logs(), lookback=st.one_of(st.none(), st.integers(1, 60)))
def test_rfm_matches_oracle(con, data, orders, lookback):
    as_of = data.draw(cutoffs(orders))
    actual = compute_rfm(load(con, "orders", orders), as_of=as_of, lookback_days=lookback).execute()
    expected = rfm_oracle(orders, as_of, lookback)
    assert_frame_matches(actual, expected, ["customer_id"])
    assert (actual.recency >= 1).all()
    if lookback is not None:
        assert (actual.recency <= lookback).all()


def test_rfm_cutoff_by_hand(con):
    orders = _orders(
        ("a", "1", "2021-06-09 23:59", 10.0),  # the day before the cut-off: R = 1
        ("b", "2", "2021-06-09 00:00", 4.0),
        ("b", "3", "2021-06-10 00:00", 99.0),  # on the cut-off: not counted
        ("c", "4", "2021-05-31 12:00", 2.5),
        ("c", "4", "2021-05-31 12:00", 2.5),
        ("c", "5", "2021-06-01", 1.0),
        ("d", "6", "2021-06-10 08:00", 50.0),  # only on the cut-off: absent
    )
    t = load(con, "orders", orders)
    r = compute_rfm(t, as_of="2021-06-10").execute().set_index("customer_id").sort_index()
    assert r.index.tolist() == ["a", "b", "c"]
    assert r.recency.tolist() == [1, 1, 9]
    assert r.frequency.tolist() == [1, 1, 2]  # c: two lines of order 4 count once
    assert r.monetary.tolist() == [10.0, 4.0, 6.0]
    # the default cut-off is the day after the last order (2021-06-10 08:00 -> 2021-06-11)
    default = compute_rfm(t).execute().set_index("customer_id").sort_index()
    assert default.recency.tolist() == [2, 1, 10, 1]
    # a look-back of 9 days keeps orders from 2021-06-01 on (R <= 9)
    window = compute_rfm(t, as_of=date(2021, 6, 10), lookback_days=9).execute().set_index("customer_id").sort_index()
    assert window.frequency.to_dict() == {"a": 1, "b": 1, "c": 1}
    assert window.monetary.to_dict() == {"a": 10.0, "b": 4.0, "c": 1.0}


@engine_property(orders=order_logs(max_customers=8, max_orders=18), bins=st.sampled_from([3, 4, 5]))
def test_scores_match_oracle(con, orders, bins):
    scored = score_rfm(compute_rfm(load(con, "orders", orders)), bins).execute()
    expected = rfm_oracle(orders)
    expected["r_score"] = quantile_scores(expected.recency, bins, higher_is_better=False)
    expected["f_score"] = quantile_scores(expected.frequency, bins)
    expected["m_score"] = quantile_scores(expected.monetary, bins)
    expected["rfm_code"] = [f"{r}{f}{m}" for r, f, m in zip(expected.r_score, expected.f_score, expected.m_score)]
    expected["rfm_score"] = expected.r_score + expected.f_score + expected.m_score
    assert_frame_matches(scored, expected, ["customer_id"])

    # invariants: scores in 1..bins, equal values equal scores, better values never lower scores
    for value, score, better in (("recency", "r_score", -1), ("frequency", "f_score", 1), ("monetary", "m_score", 1)):
        assert scored[score].between(1, bins).all()
        assert (scored.groupby(value)[score].nunique() == 1).all()
        ordered = scored.assign(key=scored[value] * better).sort_values("key")
        assert ordered[score].is_monotonic_increasing


@engine_property(
    values=st.lists(st.integers(0, 10_000), min_size=1, max_size=40, unique=True), bins=st.sampled_from([3, 4, 5])
)
def test_scores_are_quantiles(con, values, bins):
    """With distinct values, score s holds the values ranked in the s-th bins-quantile."""
    n = len(values)
    rfm = pd.DataFrame(
        {
            "customer_id": [f"c{i}" for i in range(n)],
            "recency": values,
            "frequency": values,
            "monetary": [float(v) for v in values],
        }
    )
    scored = score_rfm(load(con, "rfm", rfm), bins).execute()
    position = scored.monetary.rank().astype(int) - 1  # 0-based, ascending
    assert (scored.m_score == 1 + position * bins // n).all()
    assert (scored.f_score == scored.m_score).all()
    assert (scored.r_score == 1 + (n - 1 - position) * bins // n).all()  # R reversed: the smallest scores highest
    if n % bins == 0:
        assert scored.m_score.value_counts().tolist() == [n // bins] * bins


def test_equal_values_get_equal_scores_by_hand(con):
    rfm = pd.DataFrame(
        {
            "customer_id": list("abcde"),
            "recency": [5, 5, 5, 1, 9],
            "frequency": [1, 1, 1, 1, 2],
            "monetary": [10.0, 10.0, 20.0, 20.0, 30.0],
        }
    )
    s = score_rfm(load(con, "rfm", rfm), 5).execute().set_index("customer_id").sort_index()
    # rank (min) / n = 5 -> 1 + floor(5 * (rank - 1) / 5) = rank
    assert s.m_score.tolist() == [1, 1, 3, 3, 5]
    assert s.f_score.tolist() == [1, 1, 1, 1, 5]
    assert s.r_score.tolist() == [2, 2, 2, 5, 1]  # descending: 9 -> rank 1, the three 5s -> rank 2, 1 -> rank 5
    assert s.rfm_code.tolist() == ["211", "211", "213", "513", "155"]
    assert s.rfm_score.tolist() == [4, 4, 6, 9, 11]


# -- segments --------------------------------------------------------------------------------


def test_grid_covers_every_cell_exactly_once(con):
    cells = [(r, f) for r in range(1, 6) for f in range(1, 6)]
    for r, f in cells:  # the published table: exactly one name per R x F cell
        names = [name for name, (rs, fs) in GRID_SEGMENTS.items() if r in rs and f in fs]
        assert len(names) == 1, (r, f, names)
    scored = pd.DataFrame(
        {
            "customer_id": [f"{r}{f}" for r, f in cells],
            "r_score": [r for r, _ in cells],
            "f_score": [f for _, f in cells],
            "m_score": 3,
        }
    )
    segmented = segment_rfm(load(con, "scored", scored)).execute()
    got = dict(zip(segmented.customer_id, segmented.segment))
    assert got == {f"{r}{f}": GRID_CHART[r][f - 1] for r, f in cells}
    assert set(got.values()) == {
        "champions",
        "loyal",
        "potential_loyalists",
        "new",
        "promising",
        "need_attention",
        "about_to_sleep",
        "at_risk",
        "cant_lose",
        "hibernating",
    }


CUSTOM = {
    "vip": {"r": (4, 5), "m": (4, 5)},
    "big_but_gone": {"r": (1, 2), "m": (4, 5)},
    "frequent": {"f": (3, 5)},
}
CUSTOM_TABLE = [
    ("vip", (4, 5), (1, 5), (4, 5)),
    ("big_but_gone", (1, 2), (1, 5), (4, 5)),
    ("frequent", (1, 5), (3, 5), (1, 5)),
]


def _segment_summary_oracle(segmented: pd.DataFrame) -> pd.DataFrame:
    return pd.DataFrame(
        [
            {
                "segment": name,
                "customers": len(g),
                "customer_share": len(g) / len(segmented),
                "revenue": g.monetary.sum(),
                "revenue_share": g.monetary.sum() / segmented.monetary.sum(),
                "mean_recency": g.recency.mean(),
                "mean_frequency": g.frequency.mean(),
                "mean_monetary": g.monetary.mean(),
            }
            for name, g in segmented.groupby("segment")
        ]
    )


def _check_summary(summary: pd.DataFrame, segmented: pd.DataFrame, customers: int) -> None:
    assert_frame_matches(summary, _segment_summary_oracle(segmented), ["segment"])
    assert summary.customers.sum() == customers
    assert summary.customer_share.sum() == pytest.approx(1.0)
    assert summary.revenue_share.sum() == pytest.approx(1.0)


@engine_property(
    orders=order_logs(max_customers=8, max_orders=18),
    bins=st.sampled_from([3, 4, 5]),
    scheme=st.sampled_from(["grid", "eleven", "custom"]),
)
def test_segments_match_oracle(con, orders, bins, scheme):
    scored = score_rfm(compute_rfm(load(con, "orders", orders)), bins)
    segmented_expr = segment_rfm(scored, CUSTOM if scheme == "custom" else scheme, bins=bins)
    segmented = segmented_expr.execute()
    for row in segmented.itertuples():
        r, f, m = (ON_FIVE[bins][s] for s in (row.r_score, row.f_score, row.m_score))
        if scheme == "grid":
            expected = grid_segment(r, f)
        else:
            expected = first_matching(ELEVEN_TABLE if scheme == "eleven" else CUSTOM_TABLE, r, f, m)
        assert row.segment == expected, (scheme, bins, row)
    if scheme == "grid":
        assert "other" not in set(segmented.segment)  # the grid names every cell on any number of bins
    _check_summary(summarise_segments(segmented_expr).execute(), segmented, orders.customer_id.nunique())


def test_every_score_combination_by_the_tables(con):
    """All 125 R/F/M scores: the grid by its chart, the eleven table by first match, and every one
    of the eleven names is reachable (no rule hidden behind a broader one)."""
    cells = [(r, f, m) for r in range(1, 6) for f in range(1, 6) for m in range(1, 6)]
    scored = load(
        con,
        "scored",
        pd.DataFrame(
            {
                "customer_id": [f"{r}{f}{m}" for r, f, m in cells],
                "r_score": [c[0] for c in cells],
                "f_score": [c[1] for c in cells],
                "m_score": [c[2] for c in cells],
            }
        ),
    )
    grid = segment_rfm(scored).execute()
    assert dict(zip(grid.customer_id, grid.segment)) == {f"{r}{f}{m}": grid_segment(r, f) for r, f, m in cells}
    eleven = segment_rfm(scored, "eleven").execute()
    assert dict(zip(eleven.customer_id, eleven.segment)) == {
        f"{r}{f}{m}": first_matching(ELEVEN_TABLE, r, f, m) for r, f, m in cells
    }
    assert set(eleven.segment) - {"other"} == {name for name, *_ in ELEVEN_TABLE}


@pytest.mark.parametrize("bins", [3, 4])
def test_lowest_bin_reaches_the_first_row_and_column_of_the_grid(con, bins):
    # both ends of a 3- or 4-bin scale land on 1 and 5: a most-recent customer in the lowest
    # frequency bin is 'new', the lowest on all three 'hibernating'
    scored = pd.DataFrame(
        {
            "customer_id": ["top", "bottom", "new"],
            "r_score": [bins, 1, bins],
            "f_score": [bins, 1, 1],
            "m_score": [bins, 1, 1],
        }
    )
    table = load(con, "scored", scored)
    s = segment_rfm(table, bins=bins).execute()
    assert dict(zip(s.customer_id, s.segment)) == {"top": "champions", "bottom": "hibernating", "new": "new"}
    eleven = segment_rfm(table, "eleven", bins=bins).execute()
    assert dict(zip(eleven.customer_id, eleven.segment)) == {
        "top": "champions",
        "bottom": "hibernating",
        "new": "recent",
    }


@pytest.mark.parametrize(
    "call",
    [
        lambda t: score_rfm(t, 2),
        lambda t: score_rfm(t, 6),
        lambda t: segment_rfm(score_rfm(t), "twelve"),
        lambda t: segment_rfm(score_rfm(t), bins=7),
        lambda t: segment_rfm(score_rfm(t), {"bad": {"x": (1, 2)}}),
        lambda t: segment_rfm(score_rfm(t), {"empty": {}}),
    ],
)
def test_bad_scoring_parameters_raise_config_error(con, call):
    rfm = pd.DataFrame({"customer_id": ["a", "b"], "recency": [1, 2], "frequency": [1, 1], "monetary": [1.0, 2.0]})
    with pytest.raises(ConfigError):
        call(load(con, "rfm", rfm))


@pytest.mark.parametrize("lookback", [0, -3, 1.5])
def test_bad_lookback_raises_config_error(con, lookback):
    t = load(con, "orders", _orders(("a", "1", "2021-06-01", 1.0)))
    with pytest.raises(ConfigError):
        compute_rfm(t, lookback_days=lookback)
    with pytest.raises(ConfigError):
        compute_rfm(t, as_of="2021-06-02", lookback_days=lookback)


# -- RFE -------------------------------------------------------------------------------------


@engine_property(data=st.data(), orders=order_logs(), lookback=st.one_of(st.none(), st.integers(1, 60)))
def test_rfe_matches_oracle(con, data, orders, lookback):
    as_of = data.draw(cutoffs(orders))
    events = pd.DataFrame(
        {
            "customer_id": orders.customer_id,
            "occurred_at": orders.ordered_at,
            "engagement": orders.quantity.where(orders.unit_price != 60.0),  # some events without engagement
        }
    )
    actual = compute_rfe(load(con, "events", events), as_of=as_of, lookback_days=lookback).execute()
    days = events.occurred_at.dt.normalize()
    cutoff = days.max() + pd.Timedelta(days=1) if as_of is None else pd.Timestamp(as_of)
    keep = (days < cutoff) & (True if lookback is None else (cutoff - days).dt.days <= lookback)
    expected = pd.DataFrame(
        [
            {
                "customer_id": c,
                "recency": (cutoff - g.occurred_at.max().normalize()).days,
                "frequency": len(g),
                "engagement": g.engagement.fillna(1.0).sum(),
            }
            for c, g in events[keep].groupby("customer_id")
        ],
        columns=["customer_id", "recency", "frequency", "engagement"],
    )
    assert_frame_matches(actual, expected, ["customer_id"])


def test_rfe_scores_with_engagement(con):
    events = pd.DataFrame(
        {
            "customer_id": ["a", "a", "b"],
            "occurred_at": pd.to_datetime(["2021-01-01", "2021-01-03", "2021-01-02"]),
            "engagement": [2.0, None, 5.0],
        }
    )
    rfe = compute_rfe(load(con, "events", events)).execute().set_index("customer_id").sort_index()
    assert rfe.recency.tolist() == [1, 2] and rfe.frequency.tolist() == [2, 1] and rfe.engagement.tolist() == [3.0, 5.0]
    scored = score_rfm(compute_rfe(load(con, "events", events)), 3, columns=("recency", "frequency", "engagement"))
    s = scored.execute().set_index("customer_id").sort_index()
    assert s.r_score.tolist() == [2, 1] and s.f_score.tolist() == [2, 1] and s.m_score.tolist() == [1, 2]


# -- ABC -------------------------------------------------------------------------------------

THRESHOLDS = st.sampled_from([(0.8, 0.95), (0.5, 0.9), (0.3, 0.6), (0.7, 1.0), (0.05, 0.1)])


@engine_property(
    orders=order_logs(max_customers=8, max_orders=18), by=st.sampled_from(["customer", "product"]), ab=THRESHOLDS
)
def test_abc_matches_oracle(con, orders, by, ab):
    a, b = ab
    key = "customer_id" if by == "customer" else "product_id"
    expected, _ = abc_oracle(orders, key, a, b)  # exact, threshold ties included
    actual = classify_abc(load(con, "orders", orders), by, a=a, b=b).execute()
    assert_frame_matches(actual, expected, ["rank"])

    # invariants: A then B then C along the ranking; shares sum to 1
    classes = actual.sort_values("rank").abc_class.tolist()
    assert classes == sorted(classes)
    assert classes[0] == "A"
    assert actual.revenue_share.sum() == pytest.approx(1.0)
    assert actual.sort_values("rank").cumulative_share.iloc[-1] == pytest.approx(1.0)

    summary = summarise_abc(classify_abc(load(con, "orders", orders), by, a=a, b=b)).execute()
    per_class = pd.DataFrame(
        [
            {
                "abc_class": c,
                "entities": len(g),
                "entity_share": len(g) / len(expected),
                "revenue": g.revenue.sum(),
                "revenue_share": g.revenue.sum() / expected.revenue.sum(),
            }
            for c, g in expected.groupby("abc_class")
        ]
    )
    assert_frame_matches(summary, per_class, ["abc_class"])
    assert summary.entities.sum() == len(expected)
    assert summary.revenue_share.sum() == pytest.approx(1.0) and summary.entity_share.sum() == pytest.approx(1.0)


def test_abc_crossing_entity_stays_in_the_class(con):
    # shares 50 %, 40 %, 6 %, 4 %: before = 0, .5, .9, .96 -> A, A (crosses 80 %), B (crosses 95 %), C
    orders = _orders(
        ("a", "1", "2021-01-01", 50.0),
        ("b", "2", "2021-01-01", 40.0),
        ("c", "3", "2021-01-01", 6.0),
        ("d", "4", "2021-01-01", 4.0),
    )
    t = classify_abc(load(con, "orders", orders)).execute().sort_values("rank")
    assert t.customer_id.tolist() == ["a", "b", "c", "d"]
    assert t.abc_class.tolist() == ["A", "A", "B", "C"]


def test_abc_ties_by_id(con):
    orders = _orders(("b", "1", "2021-01-01", 10.0), ("a", "2", "2021-01-01", 10.0), ("c", "3", "2021-01-01", 10.0))
    t = classify_abc(load(con, "orders", orders), a=0.5, b=0.9).execute().sort_values("rank")
    assert t.customer_id.tolist() == ["a", "b", "c"]
    assert t.abc_class.tolist() == ["A", "A", "B"]  # before: 0, 1/3, 2/3


def test_abc_entity_exactly_on_the_threshold(con):
    # the share before the second is exactly 80 %: not below a = 0.8, so B (a difference of running
    # shares in floating point would make it 0.7999... and A); before the third exactly 95 %: C
    orders = _orders(("a", "1", "2021-01-01", 80.0), ("b", "2", "2021-01-01", 15.0), ("c", "3", "2021-01-01", 5.0))
    t = classify_abc(load(con, "orders", orders)).execute().sort_values("rank")
    assert t.abc_class.tolist() == ["A", "B", "C"]


@pytest.mark.parametrize(
    "kwargs",
    [{"by": "region"}, {"a": 0.0}, {"a": 0.9, "b": 0.9}, {"a": 0.95, "b": 0.8}, {"a": 0.8, "b": 1.5}, {"a": -0.1}],
)
def test_bad_abc_parameters_raise_config_error(con, kwargs):
    with pytest.raises(ConfigError):
        classify_abc(load(con, "orders", _orders(("a", "1", "2021-01-01", 1.0))), **kwargs)
