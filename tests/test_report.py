"""The HTML report: self-contained, both languages, ledger figures, user text escaped, one
message catalogue, one run of each analysis shared by sections and exports, and the CLI."""

from __future__ import annotations

import json
import re
import shutil
import string
import tomllib
from importlib import resources

import pandas as pd
import pytest

from memberlens import Workspace, ingest
from memberlens import results as report_results
from memberlens.analyses import AnalysisOptions
from memberlens.reports import base as report_base
from memberlens.reports.base import Chart, SectionContent
from memberlens.reports.data_quality import DataQualitySection
from memberlens.reports.exports import write_exports
from memberlens.reports.inert import embed_json, plain
from memberlens.reports.recommendations import Profile
from memberlens.reports.render import render_report, write_report, write_reports
from memberlens.reports.sections import SECTIONS

pytestmark = pytest.mark.slow  # the report on whole shops: each test builds one or more reports

ORDERS = pd.DataFrame(
    {
        "customer_id": ["a", "b", "", "c"],
        "order_id": ["1", "2", "3", "4"],
        "ordered_at": ["2024-01-01", "2024-01-02", "2024-01-03", "not a date"],
        "amount": ["10", "20", "5", "7"],
        "product_name": ['<script>alert("x")</script>', "</div><b>bold</b>", "ok", "ok"],
    }
)
HOSTILE = '<script>alert(1)</script>"</div>'
CHART = re.compile(r'<script type="application/json" data-chart="chart-([^"]+)">(.*?)</script>', re.S)


def chart_specs(html: str) -> dict[str, dict]:
    """Every chart's Plotly figure, parsed back from the page."""
    return {key: json.loads(text) for key, text in CHART.findall(html)}


def shop_orders(customers: int = 60, months: int = 8, seed: int = 1, product: str = "mug") -> pd.DataFrame:
    """A small, varied order log: repeat buyers, lapsed ones, several products and prices."""
    import numpy as np

    rng = np.random.default_rng(seed)
    rows = []
    for c in range(customers):
        first = rng.integers(0, months)
        visits = 1 + rng.poisson(2 if c % 3 else 6)
        for v in range(visits):
            month = min(months - 1, first + v * rng.integers(0, 3))
            day = 1 + rng.integers(0, 27)
            for line in range(1 + rng.integers(0, 3)):
                price = float(rng.choice([0.5, 1.5, 4.0, 12.0, 60.0]))
                quantity = int(1 + rng.integers(0, 10))
                rows.append(
                    {
                        "customer_id": f"C{c:03d}",
                        "order_id": f"O{c:03d}-{v}",
                        "ordered_at": f"2024-{month + 1:02d}-{day:02d} 10:00",
                        "quantity": quantity,
                        "unit_price": price,
                        "product_id": f"P{line}{int(price)}",
                        "product_name": product if line == 0 else f"item {line}",
                    }
                )
    return pd.DataFrame(rows)


@pytest.fixture(scope="module")
def shop(tmp_path_factory):
    """A workspace with orders only (no members, events...)."""
    path = tmp_path_factory.mktemp("shop") / "shop.duckdb"
    with Workspace(path) as ws:
        ingest(ws, shop_orders(), name="shop")
    return path


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    """A workspace with every table of the demo data (small)."""
    from conftest import build_demo_workspace

    return build_demo_workspace(tmp_path_factory.mktemp("demo"), customers=300, years=1, seed=3)[0]


# -- the ledger, languages, escaping ---------------------------------------------------------
def test_report_shows_the_ledger_in_both_languages(tmp_path):
    with Workspace(tmp_path / "w.duckdb") as ws:
        ingest(ws, ORDERS, name="shop")
        en = write_report(ws, tmp_path, lang="en").read_text(encoding="utf-8")
        zh = write_report(ws, tmp_path, lang="zh").read_text(encoding="utf-8")
    assert (tmp_path / "report.html").exists() and (tmp_path / "report.zh.html").exists()
    assert "Of 4 rows read from shop, 2 (50.0%) are used" in en
    assert "从 shop 读取的 4 行中，有 2 行（50.0%）用于分析" in zh
    assert 'lang="zh-CN"' in zh and "Microsoft YaHei" in zh and "Noto Sans CJK SC" in zh
    for html in (en, zh):
        assert not re.search(r"<(script|link|img)\b[^>]*\b(src|href)=", html)  # nothing fetched
        assert "default-src 'none'" in html  # and the page may not fetch anything either


def test_user_text_is_escaped(tmp_path):
    with Workspace(tmp_path / "w.duckdb") as ws:
        ingest(ws, ORDERS, name=HOSTILE)
        html = render_report(ws)
    assert "<script>alert(1)" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;&#34;&lt;/div&gt;" in html


def test_hostile_product_and_segment_names_stay_text(tmp_path):
    orders = shop_orders(product=HOSTILE)
    scheme = {HOSTILE: {"r": (1, 5), "f": (4, 5)}, "rest": {"r": (1, 5)}}
    with Workspace(tmp_path / "w.duckdb") as ws:
        ingest(ws, orders, name="shop")
        html = render_report(ws, options=AnalysisOptions(scheme=scheme))
    assert "<script>alert" not in html and '</div>"' not in html
    # our own scripts only: the JSON blocks, Plotly and the loader
    specs = chart_specs(html)
    assert html.count("<script") == len(specs) + 2 == html.count("</script")
    # in tables and sentences: entities; in chart data: JSON escapes, and entities for Plotly
    assert "&lt;script&gt;alert(1)&lt;/script&gt;&#34;&lt;/div&gt;" in html
    assert "\\u003cscript\\u003e" not in html.split("<body>")[0]
    labels = json.dumps([specs["rfm-shares"]["data"][0]["x"], specs["abc-top-products"]["data"][0]["y"]])
    assert '&lt;script&gt;alert(1)&lt;/script&gt;\\"&lt;/div&gt;' in labels
    raw_json = CHART.findall(html)
    assert all("<" not in text and ">" not in text for _, text in raw_json)


def test_embed_json_cannot_end_the_script_element():
    text = embed_json({"label": "</script><script>alert(1)</script>&\u2028\u2029", "nan": float("nan")})
    assert "<" not in text and ">" not in text and "&" not in text and "\u2028" not in text and "\u2029" not in text
    assert json.loads(text) == {"label": "</script><script>alert(1)</script>&\u2028\u2029", "nan": None}
    assert plain('<b>"x" & y</b>') == '&lt;b&gt;"x" &amp; y&lt;/b&gt;'


# -- sections ----------------------------------------------------------------------------------
def test_a_section_whose_table_is_missing_says_how_to_add_it(tmp_path):
    class NeedsMembers:
        key, title_key, needs = "members_demo", "data_quality.title", ("members",)

        def build(self, ctx):  # pragma: no cover - never called without the table
            raise AssertionError("built without its table")

    with Workspace(tmp_path / "w.duckdb") as ws:
        ingest(ws, ORDERS, name="shop")
        html = render_report(ws, sections=[NeedsMembers()])
    assert "needs the members table" in html and "memberlens ingest FILE --table members" in html


def test_a_new_analysis_adds_its_section_through_the_interface(shop):
    class Monthly:
        key, title_key, needs = "monthly", "trends.title", ("orders",)

        def build(self, ctx):
            trends = ctx.results.get("trends")
            figure = {
                "data": [{"type": "bar", "x": [str(v)[:7] for v in trends.period_start], "y": trends.revenue.tolist()}],
                "layout": {},
            }
            return SectionContent(
                self.key, "Monthly", charts=[Chart("monthly", "Revenue", figure, ["A sentence."], None, "trends")]
            )

    with Workspace(shop, read_only=True) as ws:
        html = render_report(ws, sections=[DataQualitySection(), Monthly()])
    specs = chart_specs(html)
    assert set(specs) == {"data-quality", "monthly"}
    assert html.count("* plotly.js v") == 1 and html.count("<script>") == 2  # plotly.js once, one loader


def test_orders_only_workspace_shows_every_orders_section_and_locks_the_rest(shop):
    with Workspace(shop, read_only=True) as ws:
        html = render_report(ws)
    sections = dict(re.findall(r'<section id="([a-z_-]+)">\s*<h2>([^<]*)</h2>', html))
    assert list(sections) == [s.key for s in SECTIONS]
    locked = set(re.findall(r'<section id="([a-z_-]+)">\s*<h2>[^<]*</h2>\s*<p class="locked">', html))
    # churn risk: 6 months of orders cannot train and validate a 180-day churn model; it says so
    assert locked == {"kpis", "rfe", "segment-explorer", "churn-risk", "referrals"}
    assert "needs the members table" in html and "needs the events table" in html
    specs = chart_specs(html)
    for key in (
        "trends-customers",
        "trends-super-orders",
        "price-bands",
        "lifecycle-stages",
        "rates",
        "cohorts-customers",
        "rfm-shares",
        "clusters-elbow",
        "clusters-silhouette",
        "clusters-profiles",
        "abc-customers",
        "abc-top-products",
        "activity",
        "churn",
    ):
        assert specs[key]["data"], key


def test_every_section_works_on_the_demo_data_in_both_languages(demo):
    with Workspace(demo, read_only=True) as ws:
        cache = report_results.Results(ws)
        en = render_report(ws, lang="en", results=cache)
        zh = render_report(ws, lang="zh", results=cache)
    for html in (en, zh):
        # one year of demo data is too short for a 180-day churn model (tested in test_churn_model)
        locked = re.findall(r'<section id="([a-z_-]+)">\s*<h2>[^<]*</h2>\s*<p class="locked">', html)
        assert locked == ["churn-risk"]
        specs = chart_specs(html)
        assert {"kpis-members", "kpis-conversion", "kpis-cost", "kpis-unit", "kpis-coupons", "activity", "rfe"} <= set(
            specs
        )
        for key, spec in specs.items():
            assert spec["data"] and all(
                trace.get("x") is not None or trace.get("z") is not None or trace.get("link") or trace.get("parents")
                for trace in spec["data"]
            ), key  # parents: a tree
    assert "Observations and recommendations" in en and "洞察与建议" in zh
    # every chart: a sentence saying what it shows, and the table it was drawn from
    for html in (en, zh):
        figures = re.findall(r'<figure class="chart-block">(.*?)</figure>', html, re.S)
        assert len(figures) == len(chart_specs(html))
        for figure in figures:
            assert '<p class="explain">' in figure and "<details><summary>" in figure and "<tbody>" in figure, figure[
                :200
            ]
    assert "counted from the events table" in en and "由 events 事件表统计" in zh
    # nothing of one language leaks into the other's sentences
    assert "Revenue peaked" not in zh and "消费金额在" not in en


def test_tiny_data_gives_a_report_not_an_error(tmp_path):
    with Workspace(tmp_path / "w.duckdb") as ws:
        ingest(ws, ORDERS, name="shop")
        html = {lang: render_report(ws, lang=lang) for lang in ("en", "zh")}
    for lang in ("en", "zh"):
        assert '<section id="recommendations">' in html[lang]
    assert "clustering needs at least 3 customers" in html["en"] and "聚类至少需要 3 位客户" in html["zh"]


# -- numbers come from the analyses, once ------------------------------------------------------
def test_each_analysis_runs_once_for_both_languages_and_the_exports(shop, tmp_path, monkeypatch):
    from dataclasses import replace

    from memberlens import analyses

    calls: list[tuple[str, str]] = []
    fits: list[str] = []

    def counted(result):
        def compute(results, options):
            calls.append((result.name, repr(options)))
            return result.compute(results, options)

        return replace(result, compute=compute)

    real_fit = analyses._clusters
    monkeypatch.setattr(report_results, "RESULTS", {n: counted(r) for n, r in report_results.RESULTS.items()})
    monkeypatch.setattr(
        analyses, "_clusters", lambda tables, options: fits.append(repr(options)) or real_fit(tables, options)
    )
    with Workspace(shop, read_only=True) as ws:
        files = write_reports(ws, tmp_path, langs=("en", "zh"), export_format="csv")
    assert len(files.reports) == 2 and len(files.exports) == len(MEMBER_LISTS)
    assert len(calls) == len(set(calls)) and len(calls) >= 15
    # the models too: one clustering, one CLV fit, though several sections show them
    assert len(fits) == 1
    assert [name for name, _ in calls].count("clv-model") == 1


def test_report_figures_are_the_analysis_tables(shop):
    from memberlens.analyses import run_analysis

    with Workspace(shop, read_only=True) as ws:
        html = render_report(ws)
        trends = run_analysis(ws, "trends", AnalysisOptions()).to_pandas()
        segments = run_analysis(ws, "rfm-segments", AnalysisOptions()).to_pandas()
        lifecycle = run_analysis(ws, "lifecycle", AnalysisOptions()).to_pandas()
    specs = chart_specs(html)
    revenue = specs["trends-customers"]["data"][0]["y"]
    assert revenue == pytest.approx(trends.revenue.tolist())
    assert specs["rfm-shares"]["data"][1]["y"] == pytest.approx(segments.revenue_share.tolist())
    assert [t["y"] for t in specs["lifecycle-stages"]["data"]] == [
        lifecycle[s].tolist() for s in ("new", "active", "return", "unactive")
    ]


# -- recommendations ---------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("profile", "advice"),
    [
        (Profile(0.2, 4.0, 5.0), "keep"),
        (Profile(3.0, 4.0, 1.0), "win_back"),
        (Profile(3.0, 0.5, 0.4), "low_value"),
        (Profile(0.3, 0.5, 0.5), "nurture"),
        (Profile(1.0, 2.0, 1.0), "raise_basket"),
        (Profile(1.0, 0.5, 2.0), "raise_frequency"),
        (Profile(1.0, 1.0, 1.0), "activate"),
    ],
)
def test_advice_follows_the_profile(profile, advice):
    assert profile.advice() == advice


def test_recommendations_state_the_numbers_they_come_from(shop):
    from memberlens.analyses import run_analysis

    with Workspace(shop, read_only=True) as ws:
        html = render_report(ws)
        segments = run_analysis(ws, "rfm-segments", AnalysisOptions()).to_pandas()
    cards = html.split('<section id="recommendations">')[1]
    for row in segments.itertuples():
        assert (
            f"{row.customers:,} customers ({row.customer_share:.1%}) hold {row.revenue_share:.1%} of revenue." in cards
        )


# -- exports -----------------------------------------------------------------------------------
# the shop's member lists: every customer's segment, cluster, stage and predicted value; the
# members flagged as unusual; next-product suggestions (none: the shop's baskets give no rules);
# the customers behind the alerts the built-in rules raise at its date (its churn rate is up)
MEMBER_LISTS = (
    "alert_members",
    "rfm_segments",
    "migration_downgrades",
    "clusters",
    "lifecycle_stages",
    "clv",
    "next_product",
    "unusual_members",
)


@pytest.mark.parametrize("fmt", ["csv", "parquet", "xlsx"])
def test_member_lists_are_exported_in_each_format(shop, tmp_path, fmt):
    with Workspace(shop, read_only=True) as ws:
        paths = write_exports(ws, tmp_path / "exports", fmt)
        customers = ws.table("orders").customer_id.nunique().execute()
    assert sorted(p.name for p in paths) == sorted(f"{n}.{fmt}" for n in MEMBER_LISTS)
    read = {"csv": pd.read_csv, "parquet": pd.read_parquet, "xlsx": pd.read_excel}[fmt]
    frames = {p.stem: read(p) for p in paths}
    assert {"customer_id", "segment", "r_score", "f_score", "m_score", "rfm_code"} <= set(
        frames["rfm_segments"].columns
    )
    assert {"customer_id", "cluster", "cluster_name"} <= set(frames["clusters"].columns)
    assert {"customer_id", "stage"} <= set(frames["lifecycle_stages"].columns)
    every_customer = ("rfm_segments", "clusters", "lifecycle_stages", "clv")
    assert all(len(frames[n]) == customers and frames[n].customer_id.is_unique for n in every_customer)
    assert {"customer_id", "reason_codes", "reasons"} <= set(frames["unusual_members"].columns)
    assert len(frames["unusual_members"]) < customers
    assert {"rule", "metric", "period_start", "customer_id", "revenue", "came_back"} <= set(
        frames["alert_members"].columns
    )
    assert not list(tmp_path.glob("exports/.*.tmp"))  # written atomically


# -- catalogues --------------------------------------------------------------------------------
def test_en_and_zh_catalogues_have_the_same_messages_and_placeholders():
    def load(lang):
        return tomllib.loads(
            resources.files("memberlens.messages").joinpath(f"{lang}.toml").read_text(encoding="utf-8")
        )

    en, zh = load("en"), load("zh")
    assert {(s, k) for s in en for k in en[s]} == {(s, k) for s in zh for k in zh[s]}
    fields = string.Formatter()
    for section, messages in en.items():
        for key, text in messages.items():
            names = {f[1] for f in fields.parse(text) if f[1]}
            assert names == {f[1] for f in fields.parse(zh[section][key]) if f[1]}, f"{section}.{key}"


def test_every_message_key_the_reports_use_exists():
    from pathlib import Path

    from memberlens.i18n import catalogue

    en = catalogue("en")
    source = "\n".join(p.read_text(encoding="utf-8") for p in Path(report_base.__file__).parent.glob("*.py"))
    for section, key in set(re.findall(r'\bt\("([a-z_]+)\.([a-z_]+)"', source)):
        assert key in en.get(section, {}), f"{section}.{key}"


# -- the command -------------------------------------------------------------------------------
def test_report_command_ingests_reports_and_exports(run_cli, tmp_path):
    shop_orders().to_csv(tmp_path / "orders.csv", index=False)
    result = run_cli(
        "report", "orders.csv", "--out", "out", "--lang", "zh", "--export-format", "parquet", "--as-of", "2024-07-01"
    )
    assert result.exit_code == 0, result.stderr
    html = (tmp_path / "out" / "report.zh.html").read_text(encoding="utf-8")
    assert "数据截至 2024-07-01" in html and "截止日期 2024-07-01" in html
    assert sorted(p.name for p in (tmp_path / "out" / "exports").iterdir()) == [
        "clusters.parquet",
        "clv.parquet",
        "lifecycle_stages.parquet",
        "migration_downgrades.parquet",
        "next_product.parquet",
        "rfm_segments.parquet",
        "unusual_members.parquet",
    ]
    # this shop's members are about equally likely to leave: the CLV section says it uses that limit
    assert "数据位于模型参数空间的边界" in html and "每位会员在每次购买后停止购买的概率相同" in html
    assert "report" in result.stderr and "ingest" in result.stderr  # the progress bars
    rfm = pd.read_parquet(tmp_path / "out" / "exports" / "rfm_segments.parquet")
    assert pd.to_datetime(rfm.last_order_at).max() < pd.Timestamp("2024-07-01")
    clv = pd.read_parquet(tmp_path / "out" / "exports" / "clv.parquet")
    orders = pd.read_csv(tmp_path / "orders.csv", parse_dates=["ordered_at"])
    buyers = set(orders.customer_id[orders.ordered_at < pd.Timestamp("2024-07-01")].astype(str))
    assert set(clv.customer_id.astype(str)) == buyers and clv.customer_id.is_unique
    assert clv.probability_alive.between(0, 1).all()


def test_installed_command_shows_no_library_deprecation_noise(tmp_path):
    """The libraries' notices about each other (Ibis on pandas 3 and DuckDB 1.5: hundreds per
    run) are not shown to a user of the console script; ``python -W`` still shows them."""
    import os
    import subprocess
    import sys

    from conftest import require

    exe = shutil.which("memberlens", path=os.path.dirname(sys.executable))
    require(exe is not None, f"needs the memberlens console script beside {sys.executable} (pip install -e .)")
    shop_orders().to_csv(tmp_path / "orders.csv", index=False)
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONWARNINGS", "MEMBERLENS_DB", "MEMBERLENS_DEBUG")}
    done = subprocess.run(
        [exe, "report", "orders.csv", "--no-exports"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr
    assert "Warning" not in done.stderr, done.stderr[:2000]
    assert (tmp_path / "report.html").exists()


def test_report_command_reports_an_existing_workspace_and_rejects_bad_options(run_cli, tmp_path):
    shop_orders().to_csv(tmp_path / "orders.csv", index=False)
    assert run_cli("ingest", "orders.csv").exit_code == 0
    result = run_cli("report", "--no-exports")
    assert result.exit_code == 0 and (tmp_path / "report.html").exists() and not (tmp_path / "exports").exists()
    bad = run_cli("report", "--lang", "fr")
    assert bad.exit_code == 2 and "--lang" in bad.stderr
    bad = run_cli("report", "--as-of", "yesterday")
    assert bad.exit_code == 2 and "YYYY-MM-DD" in bad.stderr
    missing = run_cli("report", "--db", "nope.duckdb")
    assert missing.exit_code == 2 and "no such workspace" in missing.stderr


def test_report_explorer_takes_a_filter_or_a_saved_segment(run_cli, demo, tmp_path):
    where = "customer_tier in ('Gold', 'Platinum')"
    result = run_cli("report", "--db", demo, "--where", where, "--out", "out")
    assert result.exit_code == 0, result.stderr
    html = (tmp_path / "out" / "report.html").read_text(encoding="utf-8")
    assert (
        "customer_tier in (&#39;Gold&#39;, &#39;Platinum&#39;)" in html or "customer_tier in (&#x27;Gold&#x27;" in html
    )
    cohort = pd.read_csv(tmp_path / "out" / "exports" / "segment_cohort.csv")
    with Workspace(demo, read_only=True) as ws:
        c360 = ws.table("customer_360").to_pandas()
    assert sorted(cohort.customer_id) == sorted(c360[c360.customer_tier.isin(["Gold", "Platinum"])].customer_id)

    shutil.copy(demo, tmp_path / "w.duckdb")  # segments are saved beside the workspace
    saved = run_cli("segment", "--db", "w.duckdb", "--where", "region = 'Europe'", "--save", "europe")
    assert saved.exit_code == 0, saved.stderr
    result = run_cli("report", "--db", "w.duckdb", "--segment", "europe", "--out", "out2", "--no-exports")
    assert result.exit_code == 0, result.stderr
    assert "“europe”" in (tmp_path / "out2" / "report.html").read_text(encoding="utf-8")


@pytest.mark.parametrize(
    "args, named",
    [
        (("--where", "region = 'Europe'; DROP TABLE orders"), "';'"),
        (("--segment", "nosuch"), "nosuch"),
        (("--segment", "a", "--where", "region = 'x'"), "not both"),
    ],
)
def test_report_explorer_refuses_bad_cohorts_in_one_line(run_cli, demo, args, named):
    result = run_cli("report", "--db", demo, *args, "--out", "out")
    assert result.exit_code == 2 and named in result.stderr and "Traceback" not in result.stderr
