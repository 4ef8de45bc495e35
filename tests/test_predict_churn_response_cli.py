"""``memberlens predict churn|response`` as a user runs them: train once and save, reuse the
saved model, filter, write files, and bad input as one line with exit status 2."""

from __future__ import annotations

import json

import pandas as pd
import pytest

pytestmark = pytest.mark.slow  # trains churn models on demo shops


@pytest.fixture(scope="module")
def saved(demo_workspace, tmp_path_factory):
    """Both models trained once through the CLI and saved; the JSON output of each run."""
    from typer.testing import CliRunner

    from memberlens.cli import app

    folder = tmp_path_factory.mktemp("predict-cli")
    db = str(demo_workspace[0])
    runner = CliRunner()
    churn = runner.invoke(
        app, ["predict", "churn", "--db", db, "--format", "json", "--save", str(folder / "churn.skops")]
    )
    response = runner.invoke(
        app,
        [
            "predict",
            "response",
            "--db",
            db,
            "--format",
            "json",
            "--audience",
            "all",
            "--save",
            str(folder / "response.skops"),
        ],
    )
    assert churn.exit_code == 0, churn.output
    assert response.exit_code == 0, response.output
    return folder, json.loads(churn.stdout), json.loads(response.stdout)


def test_churn_prints_metrics_and_every_customer(saved, demo_workspace):
    _, result, _ = saved
    orders = pd.read_csv(demo_workspace[1]["orders"]["path"], usecols=["customer_id"])
    members = pd.DataFrame(result["members"])
    assert len(members) == orders.customer_id.nunique()
    assert result["model"]["metrics"]["roc_auc"] >= 0.75
    assert result["model"]["validation_cutoff"] > result["model"]["training_cutoffs"][-1]
    assert set(members.risk_band) <= {"high", "medium", "low"}


def test_a_saved_churn_model_scores_a_band_to_csv(saved, run_cli, demo_workspace):
    folder, result, _ = saved
    out = run_cli(
        "predict",
        "churn",
        "--db",
        demo_workspace[0],
        "--model-file",
        folder / "churn.skops",
        "--band",
        "high",
        "--high",
        "0.9",
        "--medium",
        "0.6",
        "--format",
        "csv",
    )
    assert out.exit_code == 0, out.stderr
    from io import StringIO

    frame = pd.read_csv(StringIO(out.stdout))
    assert len(frame) and (frame.risk_band == "high").all() and (frame.churn_probability >= 0.9).all()
    expected = pd.DataFrame(result["members"])
    expected = expected[expected.churn_probability >= 0.9]
    assert sorted(frame.customer_id) == sorted(expected.customer_id)  # same probabilities as the trained model


def test_churn_as_of_an_earlier_date_writes_a_file(saved, run_cli, demo_workspace, tmp_path):
    folder, _, _ = saved
    target = tmp_path / "scores.json"
    out = run_cli(
        "predict",
        "churn",
        "--db",
        demo_workspace[0],
        "--model-file",
        folder / "churn.skops",
        "--as-of",
        "2024-06-01",
        "--format",
        "json",
        "--out",
        target,
    )
    assert out.exit_code == 0, out.stderr
    frame = pd.read_json(target)
    orders = pd.read_csv(
        demo_workspace[1]["orders"]["path"], usecols=["customer_id", "ordered_at"], parse_dates=["ordered_at"]
    )
    assert len(frame) == orders.customer_id[orders.ordered_at < "2024-06-01"].nunique()
    assert set(frame.as_of.astype(str)) == {"2024-06-01"}


def test_response_plan_matches_its_member_probabilities(saved):
    _, _, result = saved
    members = pd.DataFrame(result["members"])
    plan = result["model"]["plan"]
    assert plan["audience"] == len(members)
    assert plan["expected_responders"] == pytest.approx(members.response_probability.sum())
    assert plan["expected_revenue"] == pytest.approx(plan["expected_responders"] * plan["revenue_per_response"])
    assert result["model"]["metrics"]["top_decile_lift"] >= 2
    assert result["model"]["rule_sentences"]


def test_response_with_a_saved_model_for_marketable_members(saved, run_cli, demo_workspace):
    folder, _, _ = saved
    out = run_cli(
        "predict",
        "response",
        "--db",
        demo_workspace[0],
        "--model-file",
        folder / "response.skops",
        "--format",
        "json",
        "--lang",
        "zh",
    )
    assert out.exit_code == 0, out.stderr
    result = json.loads(out.stdout)
    members = pd.DataFrame(result["members"])
    assert (members.marketable == 1).all() and result["model"]["plan"]["audience"] == len(members)
    assert any("响应率" in s for s in result["model"]["rule_sentences"])


@pytest.mark.parametrize(
    "args, message",
    [
        (["predict", "churn", "--as-of", "2024-13-01"], "is not a date"),
        (["predict", "churn", "--high", "0.3", "--medium", "0.6"], "risk thresholds"),
        (["predict", "churn", "--horizon-days", "700"], "too short"),
        (["predict", "response", "--campaign", "NOPE"], "no campaign 'NOPE'"),
    ],
)
def test_bad_input_is_one_line_and_exit_status_2(run_cli, demo_workspace, args, message):
    out = run_cli(*args, "--db", demo_workspace[0])
    assert out.exit_code == 2
    assert message in out.stderr and "Traceback" not in out.stderr


def test_a_file_that_is_not_a_model(run_cli, demo_workspace, tmp_path):
    bad = tmp_path / "model.skops"
    bad.write_text("hello")
    out = run_cli("predict", "churn", "--db", demo_workspace[0], "--model-file", bad)
    assert out.exit_code == 2 and "not a memberlens model file" in out.stderr
