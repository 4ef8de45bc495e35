"""``memberlens clv fit|predict|evaluate`` as a user runs them."""

from __future__ import annotations

import csv
import io
import json

import pytest
import typer
from typer.testing import CliRunner

import memberlens as ml
from memberlens.cli._common import MemberlensGroup
from memberlens.cli.clv import clv_app
from memberlens.models import simulate_orders


def _app() -> typer.Typer:
    """The real CLI once the clv group is registered in memberlens.cli; until then a root like it."""
    from memberlens.cli import app

    if any(group.name == "clv" for group in app.registered_groups):
        return app
    root = typer.Typer(cls=MemberlensGroup, pretty_exceptions_enable=False, add_completion=False)
    root.callback()(lambda: None)
    root.add_typer(clv_app, name="clv")
    return root


@pytest.fixture(scope="module")
def db(tmp_path_factory):
    path = tmp_path_factory.mktemp("clv") / "shop.duckdb"
    with ml.Workspace(path) as workspace:
        ml.ingest(workspace, simulate_orders(1500, days=540, seed=5), name="orders")
    return path


def run(*args):
    result = CliRunner().invoke(_app(), [str(a) for a in args], catch_exceptions=False)
    return result


def test_fit_prints_parameters_and_saves_the_model(db, tmp_path):
    out = tmp_path / "model.json"
    result = run(
        "clv", "fit", "--db", db, "--model", "pareto-nbd", "--time-unit", "W", "--save", out, "--format", "json"
    )
    assert result.exit_code == 0, result.output
    document = json.loads(result.stdout)
    assert [m["model"] for m in document["models"]] == ["pareto-nbd", "gamma-gamma"]
    assert set(document["models"][0]["params"]) == {"r", "alpha", "s", "beta"}
    assert json.loads(out.read_text())["format"] == "memberlens-clv"


def test_predict_from_a_saved_model_writes_one_row_per_member(db, tmp_path):
    model = tmp_path / "model.json"
    # --out, the old name of --save, still saves (with a warning) so that scripts keep working
    fitted = run("clv", "fit", "--db", db, "--out", model, "--format", "csv")
    assert fitted.exit_code == 0 and "--out is now --save" in fitted.stderr and model.exists()
    result = run("clv", "predict", "--db", db, "--model-file", model, "--format", "csv")
    assert result.exit_code == 0, result.output
    rows = list(csv.DictReader(io.StringIO(result.stdout)))
    assert len(rows) == 1500 and len({r["customer_id"] for r in rows}) == 1500
    assert {"probability_alive", "expected_orders_30d", "next_order_date", "residual_clv"} <= set(rows[0])
    one_order = next(r for r in rows if r["frequency"] == "0")
    assert one_order["average_days_between_orders"] == ""


def test_predict_json_to_a_file(db, tmp_path):
    out = tmp_path / "value.json"
    result = run("clv", "predict", "--db", db, "--model", "mbg-nbd", "--format", "json", "--out", out)
    assert result.exit_code == 0, result.output
    records = json.loads(out.read_text())
    assert len(records) == 1500 and records[0]["next_order_date"][:2] in ("20", None)


def test_evaluate_compares_holdout_and_models(db):
    result = run("clv", "evaluate", "--db", db, "--calibration-end", "2024-03-31", "--format", "json")
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert report["by_frequency"][0]["frequency"] == "0"
    assert {"mae", "rmse", "total_error_pct"} <= set(report["error"])
    assert {row["model"] for row in report["comparison"]} == {"bg-nbd", "mbg-nbd", "pareto-nbd"}
    assert "holdout_mape_cumulative_pct" in report["tracking_error"]


def test_evaluate_table_output(db):
    result = run("clv", "evaluate", "--db", db, "--calibration-end", "2024-03-31", "--no-compare")
    assert result.exit_code == 0, result.output
    assert "holdout purchases per member" in result.stdout


def test_bad_options_are_one_line_and_exit_2(db, tmp_path):
    result = run("clv", "fit", "--db", db, "--time-unit", "fortnight")
    assert result.exit_code == 2
    assert "error: The 'time_unit' parameter" in result.stderr and "hint:" in result.stderr
    result = run("clv", "predict", "--db", db, "--model-file", tmp_path / "missing.json")
    assert result.exit_code == 2 and "no such model file" in result.stderr
    result = run("clv", "fit", "--db", tmp_path / "none.duckdb")
    assert result.exit_code == 2 and "no such workspace" in result.stderr
