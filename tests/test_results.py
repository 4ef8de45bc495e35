"""The one registry (memberlens.results): analyses and model results behind one cached entry
point, read by ``memberlens analyze`` and by the report's sections, which open no table."""

from __future__ import annotations

import ast
import json
import math
from dataclasses import replace
from pathlib import Path

import pandas as pd
import pytest
from test_report import shop_orders

from memberlens import results as results_module
from memberlens.analyses import ANALYSES, AnalysisOptions
from memberlens.errors import InputError
from memberlens.ingest import ingest
from memberlens.io.workspace import Workspace
from memberlens.models import fit_member_value
from memberlens.predict.rules import AssociationRuleModel
from memberlens.reports.base import ReportContext
from memberlens.results import RESULTS, Result, Results, result_names

REPORTS = Path(results_module.__file__).parent / "reports"


@pytest.fixture(scope="module")
def shop(tmp_path_factory):
    path = tmp_path_factory.mktemp("results") / "shop.duckdb"
    with Workspace(path) as ws:
        ingest(ws, shop_orders(customers=120), name="shop")
    return path


def test_the_registry_holds_every_analysis_and_the_models_results():
    assert set(ANALYSES) <= set(RESULTS)
    models = {"clv-model", "cluster-model", "churn-model", "response-model", "next-product-model", "unusual"}
    assert models <= set(RESULTS)
    drawn = {"next-product", "unusual-orders", "unusual-members", "migration", "alerts", "alert-members"}
    assert drawn <= set(result_names(tables_only=True))
    # a model result without a table view is not offered to `analyze`
    assert "unusual" not in result_names(tables_only=True) and "unusual" in result_names()


def test_analyze_prints_a_models_result_the_model_gives_directly(shop, run_cli):
    result = run_cli("analyze", "next-product-model", "--db", shop, "--format", "json")
    assert result.exit_code == 0, result.stderr
    printed = pd.DataFrame(json.loads(result.stdout))
    with Workspace(shop, read_only=True) as ws:
        day = Results(ws).day
        rules = AssociationRuleModel().fit(ws.table("orders"), as_of=day).rules_
    assert len(printed) == len(rules) > 0
    assert printed.confidence.tolist() == pytest.approx(rules.confidence.tolist())


def test_analyze_prints_the_clv_parameters_of_the_fit_the_report_shows(shop, run_cli):
    result = run_cli("analyze", "clv-model", "--db", shop, "--format", "json")
    assert result.exit_code == 0, result.stderr
    printed = {(row["part"], row["parameter"]): row["value"] for row in json.loads(result.stdout)}
    with Workspace(shop, read_only=True) as ws:
        fit = fit_member_value(ws.table("orders"), time_unit="W")
    expected = {("purchases", k): v for k, v in fit.purchases.params_.items()}
    expected |= {("spend", k): v for k, v in fit.spend.params_.items()}
    assert set(printed) == set(expected)
    for key, value in expected.items():  # strict JSON: a parameter that ran to infinity prints null
        assert printed[key] == (pytest.approx(value, rel=1e-9) if math.isfinite(value) else None), key


def test_a_model_result_without_a_table_is_refused_in_one_line(shop, run_cli):
    result = run_cli("analyze", "unusual", "--db", shop)
    assert result.exit_code == 2
    assert "'unusual'" in result.stderr and "unusual-orders" in result.stderr


def test_each_result_is_computed_once_and_a_failure_is_not_retried(shop, monkeypatch):
    calls: list[str] = []

    def failing(r, o):
        calls.append("x")
        raise InputError("too few members")

    registry = dict(RESULTS, broken=Result("broken", ("orders",), "fails", failing, None))
    monkeypatch.setattr(results_module, "RESULTS", registry)
    with Workspace(shop, read_only=True) as ws:
        results = Results(ws)
        for _ in range(2):
            with pytest.raises(InputError, match="too few members"):
                results.get("broken")
        first = results.get("trends")
        assert results.get("trends") is first
        assert results.get("trends", period="week") is not first
    assert calls == ["x"]


def test_a_result_built_on_another_reads_it_with_the_same_options(shop, monkeypatch):
    seen: list[str] = []
    real = RESULTS["member-value"]
    registry = dict(RESULTS)
    registry["member-value"] = replace(real, compute=lambda r, o: seen.append(o.period) or real.compute(r, o))
    monkeypatch.setattr(results_module, "RESULTS", registry)
    with Workspace(shop, read_only=True) as ws:
        Results(ws, options=AnalysisOptions(period="week")).get("migration")
    assert seen == ["week"]


def test_a_result_given_is_used_instead_of_computed(shop):
    with Workspace(shop, read_only=True) as ws:
        results = Results(ws)
        given = pd.DataFrame({"product_id": ["P04"], "product_name": ["the given name"]})
        results.provide("product-names", given)
        assert results.get("product-names") is given


def _attribute_reads(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    return {node.attr for node in ast.walk(tree) if isinstance(node, ast.Attribute)}


@pytest.mark.parametrize("path", sorted(REPORTS.glob("*.py")), ids=lambda p: p.name)
def test_sections_open_no_table(path):
    """The report reads numbers only from the registry: no section reaches the snapshot, a
    table, the engine or a model of its own."""
    reads = _attribute_reads(path)
    assert not reads & {"snapshot", "memo", "to_pandas", "aggregate", "fit"}, path.name
    on_ctx = {
        node.attr
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8")))
        if isinstance(node, ast.Attribute) and _on(node, "ctx")
    }
    assert not on_ctx & {"table", "workspace", "snapshot"}, path.name


def _on(attribute: ast.Attribute, name: str) -> bool:
    return isinstance(attribute.value, ast.Name) and attribute.value.id == name


def test_the_section_check_sees_a_section_that_opens_a_table(tmp_path):
    planted = tmp_path / "planted.py"
    planted.write_text("def build(ctx):\n    return ctx.table('orders').to_pandas()\n", encoding="utf-8")
    assert {"to_pandas"} <= _attribute_reads(planted)
    with pytest.raises(AssertionError):
        test_sections_open_no_table(planted)
    planted.write_text("def build(ctx):\n    return ctx.workspace.ledgers()\n", encoding="utf-8")
    with pytest.raises(AssertionError):
        test_sections_open_no_table(planted)


def test_the_report_context_offers_no_table():
    assert not hasattr(ReportContext, "table") and not hasattr(ReportContext, "snapshot")
