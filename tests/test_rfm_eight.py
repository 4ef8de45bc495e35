"""The Chinese eight-type RFM scheme (RFM 八类客户: 重要价值 ... 一般挽留) against a hand computation:
each of R, F, M high or low against its mean (or median); a value exactly at it counts as high,
a recency exactly at it as recent."""

from __future__ import annotations

import pandas as pd
import pytest
from conftest import load

from memberlens.errors import ConfigError
from memberlens.metrics import compute_rfm, score_rfm, segment_rfm

AS_OF = "2024-03-01"

# customer: (days before AS_OF of each order, amount of each order)
SHOP = {
    # recency 10 (mean of recency: (10+30+50+30)/4 = 30), frequency 3 (mean 2), monetary 300 (mean 150)
    "a": ([10, 40, 70], [100.0, 100.0, 100.0]),
    # recency 30 = the mean: recent; frequency 2 = the mean: high; monetary 150 = the mean: high
    "b": ([30, 60], [75.0, 75.0]),
    # recency 50: not recent; frequency 1: low; monetary 120: low
    "c": ([50], [120.0]),
    # recency 30: recent; frequency 2: high; monetary 30: low
    "d": ([30, 31], [10.0, 20.0]),
}
BY_HAND_MEAN = {"a": "important_value", "b": "important_value", "c": "general_win_back", "d": "general_value"}


def _orders() -> pd.DataFrame:
    rows = []
    for customer, (days, amounts) in SHOP.items():
        for i, (d, amount) in enumerate(zip(days, amounts)):
            rows.append(
                dict(
                    customer_id=customer,
                    order_id=f"{customer}{i}",
                    amount=amount,
                    ordered_at=pd.Timestamp(AS_OF) - pd.Timedelta(days=d) + pd.Timedelta(hours=9),
                )
            )
    return pd.DataFrame(rows)


def _segments(con, split: str) -> dict[str, str]:
    orders = load(con, "orders_eight", _orders())
    scored = score_rfm(compute_rfm(orders, as_of=AS_OF), 5)
    frame = segment_rfm(scored, "eight", split=split).to_pandas()
    return dict(zip(frame.customer_id, frame.segment))


def test_eight_types_by_hand_with_ties_at_the_mean(con):
    assert _segments(con, "mean") == BY_HAND_MEAN


@pytest.mark.parametrize(
    "split, expected",
    [
        # one order each on one day: R and F at their middle (recent, high); M 10, 20, 30, 1000
        (
            "median",
            {"m10": "general_value", "m20": "general_value", "m30": "important_value", "m1000": "important_value"},
        ),
        ("mean", {"m10": "general_value", "m20": "general_value", "m30": "general_value", "m1000": "important_value"}),
    ],
)
def test_median_and_mean_split_money_differently(con, split, expected):
    orders = pd.DataFrame(
        [
            dict(customer_id=f"m{a}", order_id=f"o{a}", amount=float(a), ordered_at=pd.Timestamp("2024-02-01"))
            for a in (10, 20, 30, 1000)
        ]
    )
    scored = score_rfm(compute_rfm(load(con, "orders_median", orders), as_of=AS_OF), 5)
    frame = segment_rfm(scored, "eight", split=split).to_pandas()
    assert dict(zip(frame.customer_id, frame.segment)) == expected


def test_money_at_the_mean_after_float_arithmetic_is_high(con):
    """0.1 + 0.2 of one customer and 0.3 of another: their mean is 0.3 in exact money, so both
    are high (a float mean of 0.30000000000000004 would make the 0.3 customer low)."""
    orders = pd.DataFrame(
        [
            dict(customer_id="x", order_id="x1", amount=0.1, ordered_at=pd.Timestamp("2024-02-01")),
            dict(customer_id="x", order_id="x2", amount=0.2, ordered_at=pd.Timestamp("2024-02-02")),
            dict(customer_id="y", order_id="y1", amount=0.3, ordered_at=pd.Timestamp("2024-02-02")),
        ]
    )
    scored = score_rfm(compute_rfm(load(con, "orders_tie", orders), as_of=AS_OF), 5)
    frame = segment_rfm(scored, "eight").to_pandas().set_index("customer_id")
    assert frame.segment["y"].startswith("important_") and frame.segment["x"].startswith("important_")


def test_an_unknown_split_is_refused(con):
    scored = score_rfm(compute_rfm(load(con, "orders_split", _orders()), as_of=AS_OF), 5)
    with pytest.raises(ConfigError, match="split"):
        segment_rfm(scored, "eight", split="mode")


def test_analyze_prints_the_eight_types(run_cli, tmp_path):
    frame = _orders()
    frame.to_csv(tmp_path / "orders.csv", index=False)
    assert run_cli("ingest", "orders.csv").exit_code == 0
    result = run_cli("analyze", "rfm", "--scheme", "eight", "--as-of", AS_OF, "--format", "csv")
    assert result.exit_code == 0, result.stderr
    printed = pd.read_csv(pd.io.common.StringIO(result.stdout))
    assert dict(zip(printed.customer_id, printed.segment)) == BY_HAND_MEAN
