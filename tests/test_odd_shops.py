"""Degenerate shops get a report and an answer from every prediction, never an internal error.

Each shop is a few tiny CSVs written here (orders, members, campaigns), ingested through the CLI
and read on DuckDB and, exported to Parquet, on Spark:

* ``nomatch`` — a members table keyed differently (M1, M2 ...) from the orders' customers (C1,
  C2 ...): no member matches a customer;
* ``oneday`` — every order on one day, every customer spending the same;
* ``onecustomer`` — one customer buying every quarter for three years;
* ``norepeat`` — sixty customers, each ordering once.

The report is written in English and in Chinese; every section either computes or says why it
cannot, in the report's own language (the reason sentences come from the message catalogues, so
the test formats the expected ones with the numbers the shop was built with). Every ``predict``
command and ``clv fit`` either answers (exit 0) or exits 2 with one error line (and a hint) that
says why.
"""

from __future__ import annotations

import html as html_lib
import re
from datetime import date, timedelta
from pathlib import Path

import pytest

from memberlens.i18n import Messages
from memberlens.reports.sections import SECTIONS

# each shop is ingested through the CLI and every command and report run on it: minutes in all
pytestmark = pytest.mark.slow

START = date(2020, 1, 1)
SHOPS = ("nomatch", "oneday", "onecustomer", "norepeat")


# -- the shops ---------------------------------------------------------------------------------
def _orders(rows: list[tuple[str, str, date, float, str]]) -> str:
    lines = ["customer_id,order_id,ordered_at,amount,product_id"]
    lines += [f"{c},{o},{d.isoformat()} 10:00:00,{a},{p}" for c, o, d, a, p in rows]
    return "\n".join(lines) + "\n"


def _members(ids: list[str]) -> str:
    return "\n".join(["customer_id,registered_at,marketable", *(f"{c},2019-06-01,yes" for c in ids)]) + "\n"


def _campaigns(customers: list[str]) -> str:
    """Three campaigns 200 days apart, every customer sent each; one in three responds."""
    lines = ["customer_id,campaign_id,sent_at,responded,converted_at,revenue,cost"]
    for k in range(3):
        sent = START + timedelta(days=30 + 200 * k)
        for i, c in enumerate(customers):
            yes = (i + k) % 3 == 0
            lines.append(
                f"{c},K{k},{sent},{'yes' if yes else 'no'},{sent + timedelta(days=2) if yes else ''},"
                f"{'20' if yes else ''},0.5"
            )
    return "\n".join(lines) + "\n"


def _shop_rows(kind: str) -> tuple[list[tuple[str, str, date, float, str]], list[str]]:
    """Order rows and member ids of each shop (amounts and products vary by a fixed pattern)."""
    if kind == "nomatch":  # 40 customers with 1-6 orders over about three years; members M0..M39
        rows = [
            (
                f"C{c}",
                f"O{c}-{k}",
                START + timedelta(days=(37 * c + 211 * k) % 1000),
                5 + (7 * c + 3 * k) % 80,
                f"P{(c + k) % 6}",
            )
            for c in range(40)
            for k in range(1 + c % 6)
        ]
        return rows, [f"M{c}" for c in range(40)]
    if kind == "oneday":  # 20 customers, one order each on one day, all 25.00
        return [(f"C{c}", f"O{c}", START, 25.0, f"P{c % 6}") for c in range(20)], [f"C{c}" for c in range(20)]
    if kind == "onecustomer":  # one customer, an order every 90 days for three years
        return [("C1", f"O{k}", START + timedelta(days=90 * k), 10.0 + k, f"P{k % 6}") for k in range(12)], ["C1"]
    if kind == "norepeat":  # 60 customers, one order each, 17 days apart
        return (
            [(f"C{c}", f"O{c}", START + timedelta(days=17 * c), 5 + (7 * c) % 80, f"P{c % 6}") for c in range(60)],
            [f"C{c}" for c in range(60)],
        )
    raise ValueError(kind)


def build_shop(run_cli, folder: Path, kind: str) -> None:
    rows, members = _shop_rows(kind)
    files = {
        "orders": _orders(rows),
        "members": _members(members),
        "campaigns": _campaigns(sorted({r[0] for r in rows})),
    }
    for table, text in files.items():
        path = folder / f"{table}.csv"
        path.write_text(text, encoding="utf-8")
        result = run_cli("ingest", path, "--table", table)
        assert result.exit_code == 0, (table, result.stderr)


@pytest.fixture(params=SHOPS)
def shop(request, run_cli, tmp_path) -> str:
    """Each shop built and ingested in ``tmp_path`` (where ``run_cli`` runs)."""
    build_shop(run_cli, tmp_path, request.param)
    return request.param


@pytest.fixture(params=("duckdb", "spark"))
def engine(request) -> str:
    if request.param == "spark":
        request.getfixturevalue("spark_backend")  # the test session's Spark (Java, PySpark)
    return request.param


def on_engine(run_cli, engine: str) -> list[str]:
    """The options that point a command at the shop on ``engine``: the workspace itself on
    DuckDB; on Spark its tables exported to Parquet, as a user moving to Spark would."""
    if engine == "duckdb":
        return []
    result = run_cli("export-tables", "--out", "tables")
    assert result.exit_code == 0, result.stderr
    return ["--engine", "spark", "--db", "tables"]


# -- what each shop cannot compute, and why (catalogue key and the shop's numbers) ------------
CANNOT: dict[str, list[tuple[str, dict]]] = {
    "nomatch": [("cannot.model_fit", {"model": "BetaGeoModel"})],
    "oneday": [
        ("cannot.cluster_alike", {"customers": 20}),
        ("cannot.clv_no_repeat", {"members": 20}),
        ("cannot.churn_short", {"first": START, "last": START, "horizon": 180, "need": 435}),
    ],
    "onecustomer": [
        ("cannot.cluster_few", {"customers": 1}),
        ("cannot.spend_few", {"buyers": 1}),
        ("cannot.churn_none_churned", {"horizon": 180}),
    ],
    "norepeat": [("cannot.clv_no_repeat", {"members": 60}), ("cannot.churn_all_churned", {"horizon": 180})],
}


def _visible(html: str) -> str:
    html = re.sub(r"<script.*?</script>|<style.*?</style>", " ", html, flags=re.S)
    return html_lib.unescape(re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html)))


def _notes(html: str) -> list[str]:
    return [_visible(n).strip() for n in re.findall(r'<p class="(?:note|locked)">(.*?)</p>', html, re.S)]


# English words a Chinese note may carry: the commands and names the user types
_TYPED = re.compile(r"memberlens [^；。]*|[A-Za-z_]+\.(csv|toml)|--[a-z-]+")


def _english_run(text: str) -> str | None:
    """A run of four or more English words (a sentence left untranslated), if any."""
    match = re.search(r"[A-Za-z]+(?:[ ,;:'()-]+[A-Za-z]+){3,}", _TYPED.sub(" ", text))
    return match.group(0) if match else None


@pytest.mark.parametrize("kind", SHOPS)
def test_the_report_computes_or_says_why_in_both_languages(kind, engine, run_cli, tmp_path):
    build_shop(run_cli, tmp_path, kind)
    shop = kind
    options = on_engine(run_cli, engine)
    pages = {}
    for lang, name in (("en", "report.html"), ("zh", "report.zh.html")):
        result = run_cli("report", *options, "--out", "out", "--lang", lang, "--no-exports")
        assert result.exception is None, repr(result.exception)
        assert result.exit_code == 0, result.stderr
        assert "internal error" not in result.stdout + result.stderr
        pages[lang] = (tmp_path / "out" / name).read_text(encoding="utf-8")
    for lang, page in pages.items():
        for section in SECTIONS:  # every section is there: content, or a note saying why not
            assert f'<section id="{section.key}">' in page, (lang, section.key)
        words = _visible(page)
        t = Messages(lang)
        for key, values in CANNOT[shop]:
            assert t(key, **values) in words, (lang, key)
    for note in _notes(pages["zh"]):
        assert _english_run(note) is None, note


# -- every prediction answers, or says why not ---------------------------------------------------
# (command, shop) -> the catalogue key of the reason it exits 2 with; absent: it answers
REFUSALS = {
    ("clv", "nomatch"): None,  # the BG/NBD search runs away: the model's own one-line message
    ("clv", "oneday"): "cannot.clv_no_repeat",
    ("clv", "norepeat"): "cannot.clv_no_repeat",
    ("churn", "oneday"): "cannot.churn_short",
    ("churn", "onecustomer"): "cannot.churn_none_churned",
    ("churn", "norepeat"): "cannot.churn_all_churned",
    ("response", "onecustomer"): "cannot.response_none",
    ("response", "oneday"): "cannot.response_one_campaign",  # every campaign is sent after the only day of orders
}
COMMANDS = {
    "churn": ("predict", "churn"),
    "response": ("predict", "response", "--audience", "all"),
    "next-product": ("predict", "next-product"),
    "anomalies": ("predict", "anomalies"),
    "clv": ("clv", "fit"),
}


def _one_line_refusal(result) -> str:
    assert result.exit_code == 2, (result.exit_code, result.stdout, result.stderr)
    lines = result.stderr.strip().splitlines()
    assert lines[0].startswith("error: ") and all(line.startswith("hint: ") for line in lines[1:]), result.stderr
    assert len(lines) <= 2, result.stderr
    return lines[0].removeprefix("error: ")


@pytest.mark.parametrize("command", COMMANDS)
def test_every_prediction_answers_or_says_why_not(shop, command, engine, run_cli):
    result = run_cli(*COMMANDS[command], *on_engine(run_cli, engine))
    assert result.exception is None, repr(result.exception)
    assert "internal error" not in result.stderr and "Traceback" not in result.stderr
    if (command, shop) not in REFUSALS:
        assert result.exit_code == 0, result.stderr
        assert result.stdout.strip() or result.stderr.strip().startswith("nothing to show:"), "printed nothing"
        return
    said = _one_line_refusal(result)
    key = REFUSALS[(command, shop)]
    if key is not None:  # the sentence the report shows, filled in: its start is the same
        assert said.startswith(Messages("en")(key, **_values(key, shop)).split("{")[0][:40]), said


def _values(key: str, shop: str) -> dict:
    known = dict(CANNOT[shop])
    if key in known:
        return known[key]
    if key == "cannot.response_one_campaign":  # the day after the only day of orders, less 14 days
        end = START + timedelta(days=1)
        return {"campaigns": 0, "last_send": end - timedelta(days=14), "days": 14, "end": end}
    return {"campaigns": "K2", "sends": 1}  # the one-customer shop's last campaign: one send, no response


# -- empty results say so ------------------------------------------------------------------------
BEFORE_FIRST = "nothing to show: no order comes before --as-of 2019-06-30 (the first order is on 2020-01-01)"


def _says_nothing_to_show(result, line: str) -> None:
    assert result.exception is None, repr(result.exception)
    assert result.exit_code == 0, result.stderr
    assert result.stderr.strip().splitlines() == [line], result.stderr


def test_an_as_of_before_the_first_order_says_there_is_nothing_to_show(run_cli, tmp_path):
    build_shop(run_cli, tmp_path, "nomatch")
    for analysis in ("rfm", "trends", "cohorts", "abc", "lifecycle"):
        result = run_cli("analyze", analysis, "--as-of", "2019-06-30")
        _says_nothing_to_show(result, BEFORE_FIRST)
        assert result.stdout.strip() == "", analysis
    for command in (
        ("predict", "next-product"),
        ("predict", "anomalies"),
        ("predict", "anomalies", "--kind", "members"),
    ):
        _says_nothing_to_show(run_cli(*command, "--as-of", "2019-06-30"), BEFORE_FIRST)
    later = run_cli("analyze", "rfm", "--as-of", "2021-06-30")
    assert later.exit_code == 0 and "nothing to show" not in later.stderr and "C0" in later.stdout


def test_a_churn_score_before_the_first_order_says_no_customer_is_scored(run_cli, tmp_path):
    build_shop(run_cli, tmp_path, "nomatch")
    result = run_cli("predict", "churn", "--as-of", "2019-06-30", "--format", "csv")
    _says_nothing_to_show(result, BEFORE_FIRST)
    assert result.stdout.strip() == ""
