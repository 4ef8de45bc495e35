"""The member score history: ``memberlens score`` keeps each member's scores per date in the
workspace (a date scored again replaced), and ``analyze score-history`` gives each member's
latest scores with the previous segment and the date it last changed — against a pandas oracle
over the stored rows."""

from __future__ import annotations

import io
from datetime import date

import pandas as pd
import pytest
from conftest import build_demo_orders

from memberlens.analyses import AnalysisOptions, cluster_result, run_analysis
from memberlens.io.workspace import Workspace
from memberlens.scores import score_dates

pytestmark = pytest.mark.slow  # scores a demo shop at four dates, CLV fits included

DATES = ["2024-06-01", "2024-07-01", "2024-08-01", "2024-09-01"]


@pytest.fixture(scope="module")
def scored(tmp_path_factory):
    return build_demo_orders(tmp_path_factory.mktemp("scores"), customers=400, years=2, seed=41)


def _cli(run_cli, *args):
    result = run_cli(*args)
    assert result.exit_code == 0, result.stderr
    return result


def _stored(path) -> pd.DataFrame:
    with Workspace(path, read_only=True) as ws:
        frame = ws.table("member_scores").to_pandas()
    return frame.assign(as_of=pd.to_datetime(frame.as_of).dt.date)


def test_each_date_holds_that_mornings_scores_and_scoring_again_replaces(scored, run_cli):
    printed = _cli(run_cli, "score", "--every", "month", "--from", DATES[0], "--as-of", DATES[-1], "--db", str(scored))
    assert [line.split()[1].rstrip(":") for line in printed.stdout.splitlines()] == DATES
    first = _stored(scored)
    _cli(run_cli, "score", "--as-of", DATES[1], "--db", str(scored))  # again: replaced, not added
    again = _stored(scored)
    assert len(again) == len(first)
    key = ["as_of", "customer_id"]
    pd.testing.assert_frame_equal(
        again.sort_values(key).reset_index(drop=True), first.sort_values(key).reset_index(drop=True)
    )
    with Workspace(scored, read_only=True) as ws:
        for day in DATES:
            options = AnalysisOptions(as_of=date.fromisoformat(day))
            rfm = run_analysis(ws, "rfm", options).to_pandas().set_index("customer_id")
            stage = run_analysis(ws, "lifecycle-stage", options).to_pandas().set_index("customer_id").stage
            rows = first[first.as_of == date.fromisoformat(day)].set_index("customer_id")
            assert set(rows.index) == set(rfm.index)
            assert (rows.rfm_segment == rfm.segment.reindex(rows.index)).all()
            assert (rows.m_score == rfm.m_score.reindex(rows.index)).all()
            assert (rows.lifecycle_stage == stage.reindex(rows.index)).all()
        # clusters: fitted at the first date, those centres applied at every later one
        fitted = cluster_result(ws, AnalysisOptions(as_of=date.fromisoformat(DATES[0])))
        for day in DATES:
            rows = first[first.as_of == date.fromisoformat(day)].set_index("customer_id")
            if day == DATES[0]:
                expected = fitted.assignments.set_index("customer_id").cluster_name
            else:
                rfm = run_analysis(ws, "rfm", AnalysisOptions(as_of=date.fromisoformat(day)))
                expected = fitted.assign(rfm).set_index("customer_id").cluster_name
            assert (rows.cluster == expected.reindex(rows.index)).all(), day


def _history_oracle(stored: pd.DataFrame) -> pd.DataFrame:
    rows = []
    for customer, history in stored.sort_values("as_of").groupby("customer_id"):
        segments, days = history.rfm_segment.tolist(), history.as_of.tolist()
        since, previous = days[0], None
        for i in range(1, len(segments)):
            if segments[i] != segments[i - 1]:
                since, previous = days[i], segments[i - 1]
        rows.append(
            {
                "customer_id": customer,
                "as_of": days[-1],
                "rfm_segment": segments[-1],
                "segment_since": since,
                "previous_segment": previous,
            }
        )
    return pd.DataFrame(rows)


def test_history_gives_the_previous_segment_and_when_it_changed(scored, run_cli):
    _cli(run_cli, "score", "--every", "month", "--from", DATES[0], "--as-of", DATES[-1], "--db", str(scored))
    expected = _history_oracle(_stored(scored)).set_index("customer_id")
    printed = _cli(run_cli, "analyze", "score-history", "--format", "csv", "--db", str(scored))
    found = pd.read_csv(io.StringIO(printed.stdout), keep_default_na=False).set_index("customer_id")
    assert set(found.index) == set(expected.index)
    assert (found.rfm_segment == expected.rfm_segment.reindex(found.index)).all()
    assert (found.segment_since == expected.segment_since.astype(str).reindex(found.index)).all()
    assert (found.previous_segment == expected.previous_segment.fillna("").reindex(found.index)).all()
    assert (expected.previous_segment.notna()).sum() > 20  # members did change segment


def test_the_history_as_of_a_date_ends_with_that_dates_scores(scored, run_cli):
    _cli(run_cli, "score", "--every", "month", "--from", DATES[0], "--as-of", DATES[-1], "--db", str(scored))
    printed = _cli(run_cli, "analyze", "score-history", "--as-of", DATES[1], "--format", "csv", "--db", str(scored))
    found = pd.read_csv(io.StringIO(printed.stdout))
    assert set(found.as_of) == {DATES[1]}  # scored that morning: known; later scores not yet


def test_dates_and_bad_options():
    assert score_dates(date(2024, 1, 31), date(2024, 4, 30), "month") == [
        date(2024, 1, 31),
        date(2024, 2, 29),
        date(2024, 3, 31),
        date(2024, 4, 30),
    ]
    with pytest.raises(Exception, match="week, month or quarter"):
        score_dates(date(2024, 1, 1), date(2024, 2, 1), "fortnight")


def test_every_needs_from(scored, run_cli):
    result = run_cli("score", "--every", "month", "--db", str(scored))
    assert result.exit_code == 2 and "--from" in result.stderr


def test_history_before_any_scoring_says_how_to_score(tmp_path, run_cli):
    pd.DataFrame({"customer_id": ["a"], "order_id": ["1"], "ordered_at": ["2024-01-01"], "amount": [5.0]}).to_csv(
        tmp_path / "orders.csv", index=False
    )
    assert run_cli("ingest", "orders.csv").exit_code == 0
    result = run_cli("analyze", "score-history")
    assert result.exit_code == 2 and "member_scores" in result.stderr and "memberlens score" in result.stderr


def test_the_report_exports_the_history_with_previous_segments(scored, run_cli):
    """The report's member lists carry the score history as ``analyze score-history`` prints it."""
    from memberlens.i18n import Messages
    from memberlens.reports.base import ReportContext
    from memberlens.reports.exports import collect_exports
    from memberlens.reports.migration import MigrationSection

    _cli(run_cli, "score", "--every", "month", "--from", DATES[0], "--as-of", DATES[-1], "--db", str(scored))
    printed = pd.read_csv(
        io.StringIO(_cli(run_cli, "analyze", "score-history", "--format", "csv", "--db", str(scored)).stdout)
    )
    with Workspace(scored, read_only=True) as ws:
        exported = collect_exports(ReportContext(ws, Messages("en")), [MigrationSection()])["score_history"]
    assert list(exported.customer_id) == list(printed.customer_id)
    assert {"previous_segment", "segment_since", "cluster"} <= set(exported.columns)
    assert exported.rfm_segment.astype(str).tolist() == printed.rfm_segment.astype(str).tolist()
    assert (
        exported.previous_segment.fillna("").astype(str).tolist()
        == printed.previous_segment.fillna("").astype(str).tolist()
    )
    assert pd.to_datetime(exported.segment_since).tolist() == pd.to_datetime(printed.segment_since).tolist()
