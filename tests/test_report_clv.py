"""The report's CLV section shows what the ``clv`` analysis returns (one source of truth): the
P(alive) bands, the top members and the value concentration, checked against pandas over the
analysis' own per-member output."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from memberlens.i18n import Messages
from memberlens.ingest import ingest
from memberlens.io.workspace import Workspace
from memberlens.reports.base import ReportContext
from memberlens.reports.clv import ClvSection
from memberlens.results import Results


def _number(text: str) -> float:
    return float(str(text).replace(",", "").rstrip("%"))


@pytest.fixture(scope="module")
def clv_view(demo_workspace):
    path, _ = demo_workspace
    with Workspace(path, read_only=True) as ws:
        ctx = ReportContext(ws, Messages("en"))
        content = ClvSection().build(ctx)
        exports = ClvSection().exports(ctx)
        members = Results(ws).get("clv")
    return content, exports, members


def test_alive_bands_match_the_members_predictions(clv_view):
    content, _, members = clv_view
    chart = next(ch for ch in content.charts if ch.key == "clv-alive")
    band = np.minimum(np.floor(members.probability_alive * 10), 9).astype(int)
    expected = (
        members.assign(band=band).groupby("band").agg(members=("customer_id", "size"), value=("predicted_clv", "sum"))
    )
    rows = chart.table.rows
    assert len(rows) == len(expected)
    for row, (b, want) in zip(rows, expected.iterrows()):
        assert row[0].startswith(f"{b * 10}–")
        assert _number(row[1]) == want.members
        assert _number(row[4]) == pytest.approx(want.value, rel=1e-3, abs=1)
    assert sum(_number(r[1]) for r in rows) == len(members)


def test_top_members_are_the_highest_predicted_values(clv_view):
    content, _, members = clv_view
    chart = next(ch for ch in content.charts if ch.key == "clv-top")
    expected = members.sort_values(["predicted_clv", "customer_id"], ascending=[False, True]).head(20)
    assert [r[0] for r in chart.table.rows] == expected.customer_id.tolist()
    top = members.predicted_clv.sort_values(ascending=False)
    n = int(np.ceil(len(members) * 0.1))
    share = top.head(n).sum() / top.sum()
    assert any(f"{share:.1%}" in s and f"{n:,}" in s for s in chart.sentences)


def test_fitted_parameters_and_exports(clv_view):
    content, exports, members = clv_view
    assert any("BG/NBD fitted on" in s and f"{len(members):,} members" in s for s in content.sentences)
    frame = exports["clv"]
    assert len(frame) == len(members) and frame.customer_id.is_unique
    merged = frame.merge(members, on="customer_id", suffixes=("", "_analysis"))
    assert np.allclose(merged.predicted_clv, merged.predicted_clv_analysis)


def test_the_top_members_and_the_export_carry_the_value_intervals(clv_view):
    content, exports, members = clv_view
    frame = exports["clv"]
    assert (frame.predicted_clv_low <= frame.predicted_clv).all()
    assert (frame.predicted_clv <= frame.predicted_clv_high).all()
    assert (frame.predicted_clv_low < frame.predicted_clv_high).mean() > 0.99
    chart = next(ch for ch in content.charts if ch.key == "clv-top")
    column = chart.table.columns.index("90% interval of the predicted value")
    by_id = members.set_index("customer_id")
    for row in chart.table.rows:
        low, high = (_number(part) for part in row[column].split(" – "))
        assert low == pytest.approx(by_id.predicted_clv_low[row[0]], rel=1e-3, abs=0.01)
        assert high == pytest.approx(by_id.predicted_clv_high[row[0]], rel=1e-3, abs=0.01)


def test_a_model_that_cannot_be_fitted_is_a_note_saying_why(tmp_path):
    """Nobody bought twice: BG/NBD has nothing to learn a purchase rate from; the section says so."""
    orders = pd.DataFrame(
        {
            "customer_id": [f"C{i}" for i in range(40)],
            "order_id": [f"O{i}" for i in range(40)],
            "ordered_at": pd.date_range("2024-01-01", periods=40, freq="3D"),
            "amount": [10.0 + i for i in range(40)],
        }
    )
    with Workspace(tmp_path / "w.duckdb") as ws:
        ingest(ws, orders, name="one-timers")
        content = ClvSection().build(ReportContext(ws, Messages("zh")))
    # the reason in the user's words: how many members, and that none of them bought again
    assert content.notes and content.notes[0].startswith("无法拟合 CLV 模型") and "40 位会员" in content.notes[0]
    assert "再次购买" in content.notes[0]
    assert content.charts == []


def test_the_holdout_check_shows_the_model_beside_two_simple_rules(clv_view, demo_workspace):
    """The chart's errors are those of the model refitted without the last 91 days (here by
    hand: the summary, BG/NBD and Gamma-Gamma), and the sentence names the winner."""
    from datetime import timedelta

    from memberlens.models import BetaGeoModel, GammaGammaModel, compare_with_baselines, summarise_purchases
    from memberlens.results import HOLDOUT_DAYS

    content, _, _ = clv_view
    chart = next(ch for ch in content.charts if ch.key == "clv-holdout")
    path, _ = demo_workspace
    with Workspace(path, read_only=True) as ws:
        orders = ws.table("orders")
        end = pd.Timestamp(orders.ordered_at.max().execute()).date()
        summary = summarise_purchases(
            orders, time_unit="W", calibration_end=end - timedelta(days=HOLDOUT_DAYS), observation_end=end
        )
        model = BetaGeoModel().fit(summary)
        spend = GammaGammaModel().fit(summary.filter((summary.frequency > 0) & (summary.monetary_value > 0)))
        expected = compare_with_baselines(model, summary, spend)
    maes = [_number(row[2]) for row in chart.table.rows]
    assert maes == pytest.approx(expected.errors.mae.tolist(), rel=1e-3, abs=0.006)  # shown to 2 decimals
    assert len(chart.table.rows) == 6
    winner = expected.best["orders"]
    assert winner == "BG/NBD"  # on the demo shop the model beats both rules
    assert "predicts each member's orders better than both simple rules" in chart.sentences[0]
    assert f"{expected.errors.mae.iloc[0]:.2f}" in chart.sentences[0]
