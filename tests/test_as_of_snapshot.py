"""``--as-of D`` is the data as it stood on the morning of D, for every number memberlens gives.

One demo shop (Parquet, so values keep their types) is ingested four ways:

* ``cut``: the shop as it stood before D, written by this test in plain pandas (the oracle of
  the snapshot's definition: later rows dropped, later conversions, activations and
  unsubscriptions not yet known);
* ``whole``: the shop as generated, with everything after D;
* ``later``: the whole shop plus absurd rows stamped on or after D in every table (huge orders
  and cancellations, events, a campaign with conversions, registrations, unsubscriptions of
  existing members, marketing costs) and absurd later facts on earlier rows;
* ``shuffled``: the whole shop with its order lines in another order.

At ``--as-of D`` every analysis, prediction, CLV fit, report figure and export of ``whole`` and
``later`` equals that of ``cut``; ``shuffled`` gives byte-identical ABC, RFM and exports.
"""

from __future__ import annotations

import re
from datetime import date
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from conftest import DEMO_TABLES

from memberlens.analyses import ANALYSES, AnalysisOptions, run_analysis
from memberlens.demo.generator import generate_demo_data
from memberlens.ingest import ingest
from memberlens.io.catalog import open_tables
from memberlens.io.workspace import Workspace
from memberlens.reports.render import write_reports
from memberlens.results import Results

pytestmark = pytest.mark.slow  # builds four demo workspaces and runs every analysis on two

D = date(2024, 5, 1)
MORNING = pd.Timestamp(D)
VARIANTS = ("cut", "whole", "later", "shuffled")


# -- the oracle: the shop as it stood before D, in plain pandas ----------------------------------
def as_it_stood(frames: dict[str, pd.DataFrame], day: pd.Timestamp) -> dict[str, pd.DataFrame]:
    out = dict(frames)
    out["orders"] = frames["orders"][frames["orders"].ordered_at < day]
    out["events"] = frames["events"][frames["events"].occurred_at < day]
    out["marketing_costs"] = frames["marketing_costs"][pd.to_datetime(frames["marketing_costs"].date) < day]
    campaigns = frames["campaigns"][frames["campaigns"].sent_at < day].copy()
    late = campaigns.converted_at.notna() & (campaigns.converted_at >= day)
    campaigns.loc[late, "responded"] = False
    campaigns.loc[late, "converted_at"] = pd.NaT
    campaigns.loc[late, "revenue"] = 0
    out["campaigns"] = campaigns
    members = frames["members"][frames["members"].registered_at.isna() | (frames["members"].registered_at < day)].copy()
    members.loc[members.activated_at >= day, "activated_at"] = pd.NaT
    unsubscribed_later = members.unsubscribed_at >= day
    members.loc[unsubscribed_later, "marketable"] = True
    members.loc[unsubscribed_later, "unsubscribed_at"] = pd.NaT
    out["members"] = members
    return out


# -- absurd rows on or after D -------------------------------------------------------------------
def with_absurd_rows(frames: dict[str, pd.DataFrame], day: pd.Timestamp, seed: int = 3) -> dict[str, pd.DataFrame]:
    rng = np.random.default_rng(seed)
    out = {name: frame.copy() for name, frame in frames.items()}

    def later(n: int) -> pd.Series:  # D itself at midnight among them
        offsets = np.concatenate([[0], rng.integers(0, 90 * 24 * 3600, n - 1)])
        return pd.Series(day + pd.to_timedelta(offsets, unit="s"))

    orders = frames["orders"]
    extra = orders.sample(60, random_state=seed).reset_index(drop=True)
    extra["ordered_at"] = later(len(extra)).to_numpy().astype(orders.ordered_at.dtype)
    extra["order_id"] = [f"9{i:07d}" for i in range(len(extra))]
    extra["quantity"] = extra["quantity"] * 1000
    extra["unit_price"] = 99_999.99
    extra.loc[:9, "customer_id"] = [f"NEW{i}" for i in range(10)]
    extra.loc[50:, "is_cancellation"] = True
    out["orders"] = pd.concat([orders, extra], ignore_index=True)

    events = frames["events"]
    extra = events.sample(200, random_state=seed).reset_index(drop=True)
    extra["occurred_at"] = later(len(extra)).to_numpy().astype(events.occurred_at.dtype)
    extra["engagement"] = 10**6
    out["events"] = pd.concat([events, extra], ignore_index=True)

    campaigns = frames["campaigns"].copy()
    early = campaigns.index[(campaigns.sent_at < day) & ~campaigns.responded.astype(bool)][:40]
    campaigns.loc[early, "responded"] = True
    campaigns.loc[early, "converted_at"] = day + pd.Timedelta(days=2)
    campaigns.loc[early, "revenue"] = 10**6
    sends = campaigns.sample(300, random_state=seed).reset_index(drop=True)
    sends["campaign_id"] = "CMP-LATER"
    sends["sent_at"] = day
    sends["responded"] = True
    sends["converted_at"] = day + pd.Timedelta(hours=5)
    sends["revenue"] = 10**7
    out["campaigns"] = pd.concat([campaigns, sends], ignore_index=True)

    members = frames["members"].copy()
    known = members.registered_at < day
    # marketable members who unsubscribe after D (at D they still were marketable)
    staying = members.index[known & members.unsubscribed_at.isna() & members.marketable.astype(bool)][:40]
    members.loc[staying, "unsubscribed_at"] = day + pd.Timedelta(days=10)
    members.loc[staying, "marketable"] = False
    waiting = members.index[known & members.activated_at.isna()][:40]
    members.loc[waiting, "activated_at"] = day + pd.Timedelta(days=1)
    joining = members.sample(50, random_state=seed).reset_index(drop=True)
    joining["customer_id"] = [f"NEWM{i}" for i in range(len(joining))]
    joining["registered_at"] = later(len(joining)).to_numpy().astype(members.registered_at.dtype)
    out["members"] = pd.concat([members, joining], ignore_index=True)

    costs = frames["marketing_costs"]
    extra = costs.head(12).copy()
    extra["date"] = day.date() if isinstance(costs.date.iloc[0], date) else day
    extra["cost"] = 10**12
    out["marketing_costs"] = pd.concat([costs, extra], ignore_index=True)
    return out


def _shuffled(frames: dict[str, pd.DataFrame]) -> dict[str, pd.DataFrame]:
    out = dict(frames)
    out["orders"] = frames["orders"].sample(frac=1.0, random_state=11).reset_index(drop=True)
    return out


@pytest.fixture(scope="module")
def shops(tmp_path_factory) -> dict[str, Path]:
    """The four workspaces (see the module's docstring): name -> workspace path."""
    root = tmp_path_factory.mktemp("as-of")
    files = generate_demo_data(root / "raw", customers=500, years=2, seed=23, fmt="parquet")
    whole = {table: pd.read_parquet(files[table]["path"]) for table in DEMO_TABLES}
    frames = {
        "cut": as_it_stood(whole, MORNING),
        "whole": whole,
        "later": with_absurd_rows(whole, MORNING),
        "shuffled": _shuffled(whole),
    }
    assert len(frames["cut"]["orders"]) < len(whole["orders"]) < len(frames["later"]["orders"])
    paths = {}
    for variant, tables in frames.items():
        folder = root / variant
        folder.mkdir()
        paths[variant] = root / f"{variant}.duckdb"
        with Workspace(paths[variant]) as ws:
            for table in DEMO_TABLES:
                target = folder / f"{table}.parquet"
                tables[table].to_parquet(target, index=False)
                ingest(ws, target, table=table, name=table)
    return paths


def _frame(result) -> pd.DataFrame:
    frame = result if isinstance(result, pd.DataFrame) else result.to_pandas()
    return frame.reset_index(drop=True)


# the tables of the models fitted on the snapshot, beside the descriptive analyses
MODEL_TABLES = ("clv", "clusters", "cluster-curve", "referral-cascades", "key-referrers")


def _analyses(tables) -> dict[str, pd.DataFrame]:
    options = AnalysisOptions(as_of=D)
    # every analysis of the source tables (score-history reads what memberlens score stored)
    frames = {
        name: _frame(run_analysis(tables, name, options))
        for name, analysis in ANALYSES.items()
        if "member_scores" not in analysis.needs
    }
    results = Results(tables, options=options)
    return frames | {name: results.get(name) for name in MODEL_TABLES}


@pytest.fixture(scope="module")
def cut_analyses(shops) -> dict[str, pd.DataFrame]:
    with Workspace(shops["cut"], read_only=True) as ws:
        return _analyses(ws)


@pytest.mark.parametrize("variant", ["whole", "later"])
def test_every_analysis_at_as_of_equals_the_shop_as_it_stood(shops, cut_analyses, variant):
    with Workspace(shops[variant], read_only=True) as ws:
        found = _analyses(ws)
    assert len(cut_analyses["rfm"]) > 100 and len(cut_analyses["kpis"]) > 10
    for name, expected in cut_analyses.items():
        pd.testing.assert_frame_equal(found[name], expected, check_exact=True, obj=name)


def test_kpis_count_members_campaigns_and_costs_known_before_the_day(shops, cut_analyses):
    """The issue's first case, against the oracle: the later workspace holds 10^12 of costs, 50
    registrations, 40 activations and a campaign's 10^7 conversions on or after D; at D the
    KPIs count only what the shop knew before D."""
    with Workspace(shops["later"], read_only=True) as ws:
        kpis = _frame(run_analysis(ws, "kpis", AnalysisOptions(as_of=D)))
    known = {
        table: pd.read_parquet(shops["cut"].parent / "cut" / f"{table}.parquet")
        for table in ("members", "marketing_costs", "campaigns")
    }
    assert pd.Timestamp(kpis.period_start.max()) < MORNING
    assert kpis.registered_new.sum() == known["members"].customer_id.nunique()
    assert kpis.activated_new.sum() == known["members"].activated_at.notna().sum()
    assert kpis.marketing_cost.sum() == pytest.approx(known["marketing_costs"].cost.sum(), rel=1e-12)
    responded = known["campaigns"].responded.astype(bool)
    assert kpis.marketing_revenue.sum() == pytest.approx(known["campaigns"].revenue[responded].sum(), rel=1e-12)


@pytest.mark.slow
def test_report_figures_and_exports_at_as_of_ignore_later_rows(shops, tmp_path):
    written = {}
    for variant in ("cut", "later"):
        with Workspace(shops[variant], read_only=True) as ws:
            written[variant] = write_reports(ws, tmp_path / variant, langs=("en",), options=AnalysisOptions(as_of=D))
    cut_exports = {p.name: p.read_bytes() for p in written["cut"].exports}
    later_exports = {p.name: p.read_bytes() for p in written["later"].exports}
    assert {"churn_risk_high.csv", "clv.csv", "next_product.csv", "unusual_members.csv", "rfm_segments.csv"} <= set(
        cut_exports
    )
    for name, content in cut_exports.items():
        assert later_exports[name] == content, name
    cut_words, later_words = (
        _visible_words(files.reports[0].read_text(encoding="utf-8"), variant) for variant, files in written.items()
    )
    assert "2024-05-01" in cut_words
    assert later_words == cut_words


def _visible_words(html: str, variant: str) -> str:
    """The report's words, figures and chart data (in its scripts), but for the data-quality
    section: it accounts for the rows of the files ingested, which are not dated."""
    html = re.sub(r'<section id="data_quality">.*?</section>', " ", html, flags=re.S)
    html = re.sub(r"<style.*?</style>", " ", html, flags=re.S)
    words = re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html))
    words = words.replace(f"{variant}.duckdb", "WORKSPACE")
    return re.sub(r"\d{4}-\d{2}-\d{2} \d{2}:\d{2}", "WHEN", words)


PREDICTIONS = [
    ("predict", "churn", "--format", "csv"),
    ("predict", "response", "--format", "csv", "--audience", "all"),
    ("predict", "next-product", "--format", "csv"),
    ("predict", "next-product", "--members", "--format", "csv"),
    ("predict", "anomalies", "--kind", "orders", "--format", "csv"),
    ("predict", "anomalies", "--kind", "members", "--format", "csv"),
    ("clv", "fit", "--format", "csv"),
    ("clv", "predict", "--format", "csv"),
    ("analyze", "kpis", "--format", "csv"),
    ("analyze", "active-users", "--source", "events", "--format", "csv"),
]


@pytest.mark.slow
@pytest.mark.parametrize("command", PREDICTIONS, ids=lambda c: " ".join(c[:3]))
def test_predictions_at_as_of_ignore_later_rows(shops, run_cli, command):
    if command[1] == "response":  # this small shop's campaigns: learn from those with a responder
        campaigns = pd.read_parquet(shops["cut"].parent / "cut" / "campaigns.parquet")
        responding = sorted(campaigns.campaign_id[campaigns.responded.astype(bool)].unique())
        command = (*command, *(arg for c in responding for arg in ("--campaign", c)))
    printed = {}
    for variant in ("cut", "later"):
        result = run_cli(*command, "--as-of", D.isoformat(), "--db", str(shops[variant]))
        assert result.exit_code == 0, result.stderr
        printed[variant] = result.stdout
    assert printed["cut"].count("\n") > 2
    assert printed["later"] == printed["cut"]


def test_clv_observation_end_is_the_day_before_as_of(shops, run_cli):
    by_as_of = run_cli("clv", "fit", "--format", "csv", "--as-of", "2024-05-01", "--db", str(shops["whole"]))
    by_end = run_cli("clv", "fit", "--format", "csv", "--observation-end", "2024-04-30", "--db", str(shops["whole"]))
    assert by_as_of.exit_code == 0 and by_as_of.stdout == by_end.stdout
    clash = run_cli(
        "clv", "fit", "--as-of", "2024-05-01", "--observation-end", "2024-05-01", "--db", str(shops["whole"])
    )
    assert clash.exit_code == 2 and "disagree" in clash.stderr


@pytest.mark.parametrize("name", ["abc", "rfm-segments", "rfm", "member-value", "trends"])
def test_the_same_rows_in_another_order_print_the_same_bytes(shops, run_cli, name):
    printed = [run_cli("analyze", name, "--format", "csv", "--db", str(shops[v])) for v in ("whole", "shuffled")]
    assert all(p.exit_code == 0 for p in printed), printed[0].stderr
    assert printed[0].stdout.count("\n") > 10
    assert printed[0].stdout == printed[1].stdout


@pytest.mark.slow
def test_the_same_rows_in_another_order_export_the_same_bytes(shops, tmp_path):
    exports = {}
    for variant in ("whole", "shuffled"):
        with Workspace(shops[variant], read_only=True) as ws:
            files = write_reports(ws, tmp_path / variant, langs=("en",))
        exports[variant] = {p.name: p.read_bytes() for p in files.exports}
    assert len(exports["whole"]) >= 8
    assert exports["shuffled"] == exports["whole"]


@pytest.mark.slow
def test_on_spark_every_analysis_at_as_of_equals_the_shop_as_it_stood(shops, cut_analyses, spark_backend, tmp_path):
    with Workspace(shops["later"], read_only=True) as ws:
        ws.export_parquet(tmp_path / "later")
    with open_tables("spark", tmp_path / "later") as tables:
        found = _analyses(tables)
    from test_engines_report import _same_frames

    _same_frames(found, cut_analyses)


@pytest.mark.slow
def test_on_spark_the_report_at_as_of_ignores_later_rows(shops, spark_backend, tmp_path):
    """The report of the shop with absurd later rows, on Spark, says and draws what the DuckDB
    report of the shop as it stood says and draws (but for the ingest ledger's section)."""
    from memberlens.reports.render import render_report

    options = AnalysisOptions(as_of=D)
    with Workspace(shops["cut"], read_only=True) as ws:
        duck = render_report(ws, lang="en", results=Results(ws, options=options))
    with Workspace(shops["later"], read_only=True) as ws:
        ws.export_parquet(tmp_path / "tables-folder")
    with open_tables("spark", tmp_path / "tables-folder") as tables:
        spark = render_report(tables, lang="en", results=Results(tables, options=options))
    duck_words = _visible_words(duck, "cut")
    spark_words = _visible_words(spark, "later").replace("tables-folder", "WORKSPACE")
    assert "2024-05-01" in duck_words
    assert spark_words == duck_words
