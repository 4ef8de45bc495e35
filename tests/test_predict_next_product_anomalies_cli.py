"""``memberlens predict next-product`` and ``memberlens predict anomalies`` as a user runs them,
on a small workspace with a planted pair of products and a planted bulk order: the output
parses, thresholds are honoured, saved rules reload, and bad input is one line and exit 2."""

from __future__ import annotations

import io
import json
import re

import numpy as np
import pandas as pd
import pytest
from test_jsonable import strict_loads

from memberlens import Workspace, ingest


def small_orders() -> pd.DataFrame:
    """120 orders of 30 customers: 'kettle' pulls 'teapot' into the basket; one bulk order."""
    rng = np.random.default_rng(5)
    rows = []
    for number in range(120):
        customer = f"m{rng.integers(0, 30):02d}"
        basket = {p for p in ("kettle", "mug", "spoon", "towel", "tray") if rng.random() < 0.3}
        if "kettle" in basket and rng.random() < 0.8:
            basket.add("teapot")
        day = pd.Timestamp("2024-01-01") + pd.Timedelta(days=int(rng.integers(0, 90)))
        for product in sorted(basket) or ["mug"]:
            rows.append(
                (customer, f"{number:04d}", day.isoformat(), product, product.title(), int(rng.integers(1, 6)), 4.0)
            )
    rows.append(("m99", "9999", "2024-02-01T10:00:00", "spoon", "Spoon", 50_000, 0.5))  # the bulk order
    return pd.DataFrame(
        rows, columns=["customer_id", "order_id", "ordered_at", "product_id", "product_name", "quantity", "unit_price"]
    )


@pytest.fixture(scope="module")
def workspace(tmp_path_factory):
    path = tmp_path_factory.mktemp("ws") / "memberlens.duckdb"
    with Workspace(path) as ws:
        ingest(ws, small_orders().astype(str), name="orders")
    return path


def run_json(run_cli, *args):
    result = run_cli("predict", *args, "--format", "json")
    assert result.exit_code == 0, result.stderr
    return strict_loads(result.stdout)


def test_rules_as_json_honour_the_thresholds(run_cli, workspace):
    rules = run_json(
        run_cli,
        "next-product",
        "--db",
        workspace,
        "--min-support",
        "0.05",
        "--min-confidence",
        "0.5",
        "--min-lift",
        "1.1",
        "--max-len",
        "2",
    )
    assert rules, "the planted kettle → teapot rule"
    assert any(r["antecedent_ids"] == ["kettle"] and r["consequent_ids"] == ["teapot"] for r in rules)
    assert all(r["support"] >= 0.05 and r["confidence"] >= 0.5 and r["lift"] >= 1.1 for r in rules)
    assert all(len(r["antecedent_ids"]) + len(r["consequent_ids"]) <= 2 for r in rules)
    kettle = next(r for r in rules if r["antecedent_ids"] == ["kettle"] and r["consequent_ids"] == ["teapot"])
    baskets = small_orders().groupby("order_id").product_id.agg(set)
    assert kettle["confidence"] == pytest.approx(
        sum({"kettle", "teapot"} <= b for b in baskets) / sum("kettle" in b for b in baskets)
    )


def test_member_suggestions_exclude_what_they_bought(run_cli, workspace):
    suggestions = run_json(
        run_cli, "next-product", "--db", workspace, "--members", "--top", "1", "--min-support", "0.05"
    )
    assert suggestions
    owned = set(map(tuple, small_orders()[["customer_id", "product_id"]].to_numpy()))
    assert all((s["customer_id"], s["product_id"]) not in owned for s in suggestions)
    assert all(s["rank"] == 1 for s in suggestions) and len({s["customer_id"] for s in suggestions}) == len(suggestions)


def test_saved_rules_are_reused(run_cli, workspace, tmp_path):
    saved = tmp_path / "rules.json"
    fitted = run_json(
        run_cli, "next-product", "--db", workspace, "--min-support", "0.05", "--as-of", "2024-03-01", "--save", saved
    )
    document = json.loads(saved.read_text(encoding="utf-8"))
    assert document["as_of"] == "2024-03-01" and document["thresholds"]["min_support"] == 0.05
    assert document["baskets"] == small_orders().query("ordered_at < '2024-03-01'").order_id.nunique()
    reused = run_json(run_cli, "next-product", "--db", workspace, "--model-file", saved)
    assert reused == fitted


def test_the_old_name_of_model_file_still_reads_saved_rules(run_cli, workspace, tmp_path):
    saved = tmp_path / "rules.json"
    fitted = run_json(run_cli, "next-product", "--db", workspace, "--min-support", "0.05", "--save", saved)
    old = run_cli("predict", "next-product", "--db", workspace, "--model", saved, "--format", "json")
    assert old.exit_code == 0, old.stderr
    assert strict_loads(old.stdout) == fitted and "--model is now --model-file" in old.stderr
    both = run_cli("predict", "next-product", "--db", workspace, "--model", saved, "--model-file", saved)
    assert both.exit_code == 2 and "same option" in both.stderr


@pytest.mark.parametrize("command", [("predict", "churn"), ("predict", "response"), ("predict", "next-product")])
def test_a_saved_model_is_read_with_model_file_as_in_clv(run_cli, command):
    """``--model`` is a CLV model's name (``clv fit --model bg-nbd``); a file is ``--model-file``
    in every command, the old ``--model FILE`` of ``predict`` hidden."""
    shown = run_cli(*command, "--help").stdout
    assert "--model-file" in shown and not re.search(r"--model(?![-\w])", shown)
    assert "--model-file" in run_cli("clv", "predict", "--help").stdout


def test_csv_has_the_same_rows_as_json(run_cli, workspace):
    as_json = run_json(run_cli, "next-product", "--db", workspace, "--min-support", "0.05")
    result = run_cli("predict", "next-product", "--db", workspace, "--min-support", "0.05", "--format", "csv")
    assert result.exit_code == 0, result.stderr
    frame = pd.read_csv(io.StringIO(result.stdout), dtype={"antecedent_ids": str, "consequent_ids": str})
    assert len(frame) == len(as_json) > 0
    assert frame.antecedent_ids.tolist() == [" + ".join(r["antecedent_ids"]) for r in as_json]


def test_anomalies_flag_the_bulk_order_and_its_buyer(run_cli, workspace, tmp_path):
    orders = run_json(run_cli, "anomalies", "--db", workspace)
    bulk = next(o for o in orders if o["order_id"] == "9999")
    assert "product_quantity" in bulk["reason_codes"] and "50,000" in bulk["reasons"]
    members = run_json(run_cli, "anomalies", "--db", workspace, "--kind", "members", "--lang", "zh")
    buyer = next(m for m in members if m["customer_id"] == "m99")
    assert buyer["kind"] == "reseller" and "批量订单" in buyer["reasons"]
    out = tmp_path / "flags.json"
    result = run_cli("predict", "anomalies", "--db", workspace, "--format", "json", "--out", out)
    assert result.exit_code == 0 and json.loads(out.read_text(encoding="utf-8")) == orders


def test_table_output_runs(run_cli, workspace):
    for args in (("next-product",), ("next-product", "--members"), ("anomalies",), ("anomalies", "--kind", "members")):
        result = (
            run_cli("predict", *args, "--db", workspace, "--min-support", "0.05")
            if args[0] == "next-product"
            else run_cli("predict", *args, "--db", workspace)
        )
        assert result.exit_code == 0, result.stderr
        assert result.stdout.strip()


@pytest.mark.parametrize(
    "args,named",
    [
        (("next-product", "--min-support", "0"), "min_support"),
        (("next-product", "--min-confidence", "1.5"), "min_confidence"),
        (("next-product", "--max-len", "1"), "max_len"),
        (("next-product", "--top", "0"), "--top"),
        (("anomalies", "--spend-z", "-1"), "spend_z"),
        (("anomalies", "--orders-per-day", "0"), "orders_per_day"),
        (("anomalies", "--as-of", "31/12/2024"), "--as-of"),
        (("anomalies", "--lang", "fr"), "--lang"),
    ],
)
def test_bad_input_is_one_line_and_exit_2(run_cli, workspace, args, named):
    result = run_cli("predict", *args, "--db", workspace)
    assert result.exit_code == 2
    lines = result.stderr.strip().splitlines()
    assert (
        lines[0].startswith("error: ") and named in lines[0] and all(x.startswith(("error: ", "hint: ")) for x in lines)
    )
    assert "Traceback" not in result.stderr and result.exception is None


def test_missing_workspace_and_rules_file(run_cli, tmp_path):
    result = run_cli("predict", "anomalies", "--db", tmp_path / "none.duckdb")
    assert result.exit_code == 2 and "no such workspace" in result.stderr
    result = run_cli(
        "predict", "next-product", "--db", tmp_path / "none.duckdb", "--model-file", tmp_path / "none.json"
    )
    assert result.exit_code == 2 and "none.json" in result.stderr
