"""``memberlens clv`` with a date before the first order: the date is at fault, not the orders.

A tiny shop whose first order is on 2023-01-01 is written here and ingested through the CLI (the
``run_cli`` fixture). ``--calibration-end``, ``--observation-end`` or ``--as-of`` before that day
leaves no member to fit a model on: ``clv fit``, ``clv predict`` and ``clv evaluate`` exit 2 with
one ``error:`` line naming the option, the date given and the first order's date, and a hint that
names an option of the command (not "ingest orders first": the orders are there). A saved model
has nothing to predict for: ``nothing to show`` and why, as other predictions say it. An empty
orders table still says to ingest orders.
"""

from __future__ import annotations

import json
import random
import re
from datetime import date, timedelta

import pytest
import typer

from memberlens.cli import app

# every case ingests a shop and fits through the CLI: the whole suite runs them (make test)
pytestmark = pytest.mark.slow

FIRST = date(2023, 1, 1)
OPTION = re.compile(r"(?<![\w-])--[a-z][a-z0-9]*(?:-[a-z0-9]+)*(?![\w-])")


def _orders_csv(customers: int = 120, seed: int = 3) -> str:
    """A year of orders, the first on FIRST: customers buying at different rates, each stopping after
    an order with a chance of their own (the buy-till-you-die story, so BG/NBD fits it)."""
    rnd = random.Random(seed)
    lines = ["customer_id,order_id,ordered_at,amount", f"C0,O0-0,{FIRST.isoformat()} 10:00:00,20.00"]
    last = FIRST + timedelta(days=364)
    for c in range(1, customers):
        day = FIRST + timedelta(days=rnd.randrange(90))
        rate, stop = rnd.gammavariate(2.0, 1 / 40), rnd.betavariate(1.0, 4.0)  # orders a day; P(stop after one)
        k = 0
        while day <= last:
            lines.append(f"C{c},O{c}-{k},{day.isoformat()} 10:00:00,{rnd.uniform(5, 95):.2f}")
            k += 1
            if rnd.random() < stop:
                break
            day += timedelta(days=1 + int(rnd.expovariate(rate)))
    return "\n".join(lines) + "\n"


@pytest.fixture
def shop(run_cli, tmp_path):
    (tmp_path / "orders.csv").write_text(_orders_csv(), encoding="utf-8")
    result = run_cli("ingest", "orders.csv", "--table", "orders")
    assert result.exit_code == 0, result.stderr
    return tmp_path


def _options(*path: str) -> set[str]:
    command = typer.main.get_command(app)
    for name in path:
        command = command.commands[name]
    return {o for p in command.params for o in (*p.opts, *p.secondary_opts) if o.startswith("--")}


def _refused(result, command: tuple[str, ...], option: str, given: str) -> tuple[str, str]:
    """Exit 2, one ``error:`` line naming the option, the date given and the first order's day,
    and one ``hint:`` line whose options are the command's (``option`` among them)."""
    assert result.exception is None, repr(result.exception)
    assert result.exit_code == 2, (result.exit_code, result.stdout, result.stderr)
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 2, result.stderr
    error, hint = lines
    assert error.startswith("error: ") and hint.startswith("hint: "), result.stderr
    assert sum(line.startswith("error:") for line in lines) == 1
    assert f"{option} {given}" in error and FIRST.isoformat() in error, error
    assert "summary has no members" not in error and "ingest" not in hint, result.stderr
    named = OPTION.findall(hint)
    assert option in named and set(named) <= _options(*command), (hint, _options(*command))
    return error, hint


CASES = [
    (("clv", "fit"), "--calibration-end", "2000-01-01"),
    (("clv", "fit"), "--observation-end", "2000-01-01"),
    (("clv", "fit"), "--as-of", "2000-01-01"),
    (("clv", "fit"), "--calibration-end", "2022-12-31"),  # the day before the first order
    (("clv", "fit"), "--observation-end", "2022-12-31"),
    (("clv", "fit"), "--as-of", "2023-01-01"),  # its morning: the first order is not known yet
    (("clv", "predict"), "--calibration-end", "2000-01-01"),
    (("clv", "predict"), "--observation-end", "2000-01-01"),
    (("clv", "predict"), "--as-of", "2000-01-01"),
    (("clv", "evaluate"), "--calibration-end", "2000-01-01"),
]


@pytest.mark.parametrize(("command", "option", "given"), CASES, ids=[f"{c[-1]}{o}={d}" for c, o, d in CASES])
def test_a_date_before_the_first_order_names_the_option_the_date_and_the_first_order(
    shop, run_cli, command, option, given
):
    error, _ = _refused(run_cli(*command, option, given), command, option, given)
    assert "cannot fit bg-nbd" in error


def test_the_cut_is_named_before_the_calibration_end(shop, run_cli):
    result = run_cli("clv", "evaluate", "--as-of", "2000-06-01", "--calibration-end", "2000-01-01")
    _refused(result, ("clv", "evaluate"), "--as-of", "2000-06-01")


def test_evaluate_needs_a_calibration_end_so_its_hint_does_not_say_leave_it_out(shop, run_cli):
    _, hint = _refused(
        run_cli("clv", "evaluate", "--calibration-end", "2000-01-01"),
        ("clv", "evaluate"),
        "--calibration-end",
        "2000-01-01",
    )
    assert "leave it out" not in hint


def test_a_calibration_end_after_the_first_order_still_fits(shop, run_cli):
    result = run_cli("clv", "fit", "--calibration-end", "2023-04-30", "--format", "json")
    assert result.exit_code == 0, result.stderr
    models = json.loads(result.stdout)["models"]
    assert models[0]["model"] == "bg-nbd"
    assert run_cli("clv", "fit", "--as-of", "2023-05-01", "--format", "json").exit_code == 0


def test_a_saved_model_has_nothing_to_predict_before_the_first_order(shop, run_cli, tmp_path):
    model = tmp_path / "model.json"
    assert run_cli("clv", "fit", "--save", model, "--format", "json").exit_code == 0
    for option in ("--as-of", "--calibration-end"):
        result = run_cli("clv", "predict", "--model-file", model, option, "2000-01-01")
        assert result.exit_code == 0, result.stderr
        assert result.stdout == ""
        [line] = result.stderr.strip().splitlines()
        assert line.startswith("nothing to show: ") and f"{option} 2000-01-01" in line and FIRST.isoformat() in line, (
            line
        )


@pytest.mark.parametrize("option", ["--as-of", "--observation-end", "--calibration-end", None])
def test_an_empty_orders_table_still_says_to_ingest_orders(run_cli, tmp_path, option):
    (tmp_path / "orders.csv").write_text(
        "customer_id,order_id,ordered_at,amount\n,O1,2023-01-01 10:00:00,5\n", encoding="utf-8"
    )  # its one row is set aside: no customer id
    assert run_cli("ingest", "orders.csv", "--table", "orders").exit_code == 0
    result = run_cli("clv", "fit", *((option, "2000-01-01") if option else ()))
    assert result.exit_code == 2, (result.stdout, result.stderr)
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 2 and lines[0] == "error: the orders table is empty", result.stderr
    assert lines[1].startswith("hint: ingest orders first"), result.stderr
