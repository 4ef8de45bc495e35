"""Monitoring rules against hand-built KPI series: each kind fires exactly on the periods it
should and not on the ones around them; the automatic detector finds a planted break and stays
quiet on a peak that recurs every season; rules files are read or refused in one line; and
``memberlens monitor`` answers with the exit status a scheduler acts on."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from memberlens.errors import ConfigError
from memberlens.monitor import METRICS, Rule, alerts_at, evaluate_rule, load_rules
from memberlens.monitor.rules import DEFAULT_RULES


def monthly(values) -> pd.Series:
    return pd.Series(values, index=pd.date_range("2022-01-01", periods=len(values), freq="MS"), dtype="float64")


def fired_at(verdict: pd.DataFrame) -> list[int]:
    return [i for i, f in enumerate(verdict.fired) if f]


# -- thresholds --------------------------------------------------------------------------------------
def test_a_threshold_below_fires_on_each_breach():
    series = monthly([1.2, 0.9, 1.1, 0.8, 0.7, 1.0, 0.99])
    verdict = evaluate_rule(Rule("change_ratio", "threshold", "down", 1.0), series)
    assert fired_at(verdict) == [1, 3, 4, 6]  # 1.0 itself is not below 1.0


def test_a_threshold_needs_its_periods_in_a_row():
    series = monthly([1.2, 0.9, 1.1, 0.8, 0.7, 0.6, 1.0, 0.9, 0.95])
    verdict = evaluate_rule(Rule("change_ratio", "threshold", "down", 1.0, periods=2), series)
    assert fired_at(verdict) == [4, 5, 8]
    assert list(verdict.held) == [0, 1, 0, 1, 2, 3, 0, 1, 2]


def test_a_threshold_above_and_a_missing_value():
    series = monthly([0.1, 0.35, np.nan, 0.4, 0.2])
    verdict = evaluate_rule(Rule("churn_rate", "threshold", "up", 0.3, periods=2), series)
    assert list(verdict.breached) == [False, True, False, True, False]  # a missing value breaks the run
    assert fired_at(verdict) == []


# -- changes against a baseline ------------------------------------------------------------------------
def test_a_rise_on_the_trailing_median():
    values = [0.10, 0.12, 0.11, 0.13, 0.20, 0.14, 0.12]
    verdict = evaluate_rule(Rule("churn_rate", "change", "up", 0.2, window=3), monthly(values))
    # by hand: medians of the three before — none for the first three periods (fewer than 3 values)
    medians = [None, None, None, 0.11, 0.12, 0.13, 0.14]
    expected = [i for i, m in enumerate(medians) if m is not None and values[i] > m * 1.2]
    assert expected == [4]
    assert fired_at(verdict) == expected
    assert verdict.high.iloc[4] == pytest.approx(0.12 * 1.2)
    assert np.isnan(verdict.high.iloc[:3]).all()


def test_a_fall_against_the_same_period_last_year():
    year_one = [100, 90, 95, 120, 130, 110, 100, 105, 115, 140, 160, 220]
    year_two = [110, 95, 60, 125, 140, 80, 105, 110, 120, 150, 170, 230]
    verdict = evaluate_rule(Rule("revenue", "change", "down", 0.25, baseline="last-year"), monthly(year_one + year_two))
    # by hand: year two against the same month of year one, more than 25 % lower
    expected = [12 + m for m in range(12) if year_two[m] < year_one[m] * 0.75]
    assert expected == [14, 17]
    assert [i for i in fired_at(verdict) if i >= 12] == expected


def test_a_change_on_a_zero_baseline_has_no_verdict():
    verdict = evaluate_rule(Rule("churn_rate", "change", "up", 0.2, window=3), monthly([0, 0, 0, 0.1, 0.1]))
    assert fired_at(verdict) == [] and verdict.high.isna().all()


# -- the automatic detector ------------------------------------------------------------------------------
def seasonal_months(years: int, seed: int = 3) -> np.ndarray:
    """Monthly revenue with growth, a December peak three times a normal month, a summer dip,
    and noise of about 2 %."""
    rng = np.random.default_rng(seed)
    months = np.arange(12 * years)
    season = np.array([1.0, 0.9, 1.0, 1.0, 1.05, 0.8, 0.75, 0.85, 1.0, 1.1, 1.4, 3.0])
    return 1000 * (1 + 0.01 * months) * season[months % 12] * (1 + 0.02 * rng.standard_normal(len(months)))


def test_the_detector_finds_a_planted_break_and_not_the_seasonal_peaks():
    values = seasonal_months(4)
    values[40] *= 0.6  # a May that lost 40 %
    values[29] *= 1.5  # a June half again above its pattern
    verdict = evaluate_rule(Rule("revenue", "auto", "both"), monthly(values))
    judged = verdict.index[verdict.low.notna()]
    decembers = [i for i in range(len(values)) if i % 12 == 11 and verdict.index[i] in judged]
    assert len(decembers) >= 2  # the peaks were judged, and not flagged
    assert fired_at(verdict) == [29, 40]


def test_the_detector_watches_one_side_when_told():
    values = seasonal_months(4)
    values[40] *= 0.6
    values[29] *= 1.5
    assert fired_at(evaluate_rule(Rule("revenue", "auto", "down"), monthly(values))) == [40]
    assert fired_at(evaluate_rule(Rule("revenue", "auto", "up"), monthly(values))) == [29]


def test_the_detector_waits_for_a_season_of_history():
    verdict = evaluate_rule(Rule("revenue", "auto", "both"), monthly(seasonal_months(1)))
    assert verdict.low.isna().all() and not verdict.fired.any()


def test_the_detector_on_days_uses_the_week():
    rng = np.random.default_rng(5)
    weekday = np.array([1.0, 1.0, 1.1, 1.0, 1.2, 2.5, 2.0])  # weekends busy
    values = 500 * weekday[np.arange(70) % 7] * (1 + 0.02 * rng.standard_normal(70))
    values[60] *= 0.5
    series = pd.Series(values, index=pd.date_range("2024-01-01", periods=70, freq="D"))
    assert fired_at(evaluate_rule(Rule("dau", "auto", "both"), series, "day")) == [60]


# -- rules files -------------------------------------------------------------------------------------
def test_a_rules_file_gives_each_kind(tmp_path):
    path = tmp_path / "rules.toml"
    path.write_text(
        """
[[rule]]
name = "shrinking"
metric = "change_ratio"
below = 1
periods = 2

[[rule]]
metric = "churn_rate"
rise = 0.2
baseline = "last-year"

[[rule]]
metric = "revenue"
band = 4
direction = "down"
""",
        encoding="utf-8",
    )
    rules = load_rules(path, set(METRICS))
    assert rules == [
        Rule("change_ratio", "threshold", "down", 1.0, periods=2, name="shrinking"),
        Rule("churn_rate", "change", "up", 0.2, baseline="last-year"),
        Rule("revenue", "auto", "down", band=4.0),
    ]


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ('[[rule]]\nmetric = "revnue"\nabove = 1', ["rule 1", "unknown metric 'revnue'"]),
        ('[[rule]]\nmetric = "revenue"\nabove = 1\nrise = 0.2', ["rule 1", "one of above, below, rise, fall"]),
        ('[[rule]]\nmetric = "revenue"\nthreshold = 1', ["rule 1", "unknown key 'threshold'"]),
        ("[[rule]]\nabove = 1", ["rule 1", "'metric' is missing"]),
        ('[[rule]]\nmetric = "revenue"\nrise = "a lot"', ["rise = 'a lot'"]),
        ('[[rule]]\nmetric = "revenue"\nbaseline = "yesterday"\nfall = 0.1', ["baseline 'yesterday'"]),
        ('metric = "revenue"', ["expected [[rule]] tables"]),
        ("[[rule]\n", ["not valid TOML"]),
    ],
)
def test_a_wrong_rules_file_is_refused_in_one_line(tmp_path, text, words):
    path = tmp_path / "rules.toml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ConfigError) as info:
        load_rules(path, set(METRICS))
    assert str(path) in info.value.message and "\n" not in info.value.message
    for word in words:
        assert word in info.value.message


def test_an_unknown_metric_suggests_the_close_one(tmp_path):
    path = tmp_path / "rules.toml"
    path.write_text('[[rule]]\nmetric = "revnue"\nabove = 1', encoding="utf-8")
    with pytest.raises(ConfigError) as info:
        load_rules(path, set(METRICS))
    assert info.value.hint.startswith("did you mean 'revenue'?")


def test_the_built_in_rules_watch_known_metrics():
    assert {rule.metric for rule in DEFAULT_RULES} <= set(METRICS)


# -- on a shop --------------------------------------------------------------------------------------
def test_the_rules_judge_the_months_that_are_over(demo_workspace):
    """The series a rule reads is the analysis' column over the months that ended before the
    date (the month still running is not judged), and the rule fires on the last of them."""
    from memberlens.analyses import AnalysisOptions, run_analysis
    from memberlens.io.workspace import Workspace
    from memberlens.snapshot import snapshot_of

    path, _ = demo_workspace
    for as_of in ("2024-10-01", "2024-10-17"):
        with Workspace(path, read_only=True) as ws:
            snapshot = snapshot_of(ws, as_of)
            watch_rule = Rule("change_ratio", "threshold", "down", 1.2, name="shrinking")
            watch = alerts_at(snapshot, [watch_rule])
            churn = run_analysis(snapshot, "churn", AnalysisOptions()).execute()
        over = churn[pd.to_datetime(churn.period_start) < pd.Timestamp("2024-10-01")]
        ours = watch.verdicts[watch_rule]
        assert list(ours.index) == list(pd.to_datetime(over.period_start))
        assert np.allclose(ours.value, over.change_ratio.astype("float64"), equal_nan=True)
        fires = bool(over.change_ratio.iloc[-1] < 1.2)
        assert [a.period_start.isoformat() for a in watch.alerts] == (["2024-09-01"] if fires else [])


@pytest.fixture
def shop(run_cli, demo_workspace):
    return str(demo_workspace[0])


def test_monitor_exits_3_with_the_alerts_and_0_without(run_cli, shop, tmp_path):
    rules = tmp_path / "rules.toml"
    rules.write_text('[[rule]]\nname = "any revenue"\nmetric = "revenue"\nabove = 0\n', encoding="utf-8")
    fired = run_cli("monitor", "--db", shop, "--as-of", "2024-06-15", "--rules", rules, "--format", "json")
    assert fired.exit_code == 3, fired.stderr
    alerts = json.loads(fired.stdout)
    assert [(a["rule"], a["period_start"], a["periods_held"]) for a in alerts] == [("any revenue", "2024-05-01", 17)]
    rules.write_text('[[rule]]\nmetric = "revenue"\nbelow = 0\n', encoding="utf-8")
    quiet = run_cli("monitor", "--db", shop, "--as-of", "2024-06-15", "--rules", rules)
    assert quiet.exit_code == 0 and quiet.stdout == "" and quiet.stderr.startswith("no alert: 1 rules"), quiet.stderr


def test_monitor_writes_the_alerts_to_a_file(run_cli, shop, tmp_path):
    rules = tmp_path / "rules.toml"
    rules.write_text('[[rule]]\nmetric = "orders"\nabove = 0\nperiods = 3\n', encoding="utf-8")
    result = run_cli("monitor", "--db", shop, "--as-of", "2024-06-15", "--rules", rules, "--out", "alerts.csv")
    assert result.exit_code == 3
    written = pd.read_csv(tmp_path / "alerts.csv")
    assert list(written.metric) == ["orders"] and list(written.periods_held) == [17]


def test_monitor_refuses_a_bad_rules_file_with_status_2(run_cli, shop, tmp_path):
    (tmp_path / "rules.toml").write_text('[[rule]]\nmetric = "revnue"\n', encoding="utf-8")
    result = run_cli("monitor", "--db", shop, "--rules", "rules.toml")
    assert result.exit_code == 2 and result.stderr.startswith("error: rules.toml, rule 1: unknown metric 'revnue'")


# -- the report's Alerts section -----------------------------------------------------------------
@pytest.mark.parametrize("lang", ["en", "zh"])
def test_the_report_opens_with_the_alerts_in_its_language(demo_workspace, lang):
    import html
    import re

    from memberlens.analyses import AnalysisOptions
    from memberlens.i18n import Messages
    from memberlens.io.workspace import Workspace
    from memberlens.reports.alerts import AlertsSection
    from memberlens.reports.render import render_report
    from memberlens.reports.sections import SECTIONS

    assert isinstance(SECTIONS[0], AlertsSection)  # at the top
    rules = [Rule("orders", "threshold", "up", 100.0, periods=2), Rule("orders", "threshold", "down", 0.0)]
    with Workspace(demo_workspace[0], read_only=True) as ws:
        page = render_report(
            ws,
            lang=lang,
            options=AnalysisOptions(as_of=pd.Timestamp("2024-06-15").date()),
            sections=[AlertsSection(rules)],
        )
        from memberlens.snapshot import snapshot_of

        orders = alerts_at(snapshot_of(ws, "2024-06-15"), rules).verdicts[rules[0]]
    words = html.unescape(re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", page)))
    t = Messages(lang)
    may = orders.loc["2024-05-01"]
    assert may.held == 17  # every month since the first had over 100 orders
    expected = t(
        "monitor.alert_above",
        metric=t("monitor_metric.orders"),
        period="2024-05",
        value=f"{may.value:,.0f}",
        high="100",
        held=17,
        low="",
    )
    assert expected in words, expected
    assert t("monitor.intro", rules=2, alerts=1, day="2024-06-15") in words


def test_a_rule_on_a_missing_table_is_noted_not_an_error(run_cli, tmp_path):
    (tmp_path / "orders.csv").write_text(
        "customer_id,order_id,ordered_at,amount\nC1,O1,2024-01-05,10\nC2,O2,2024-02-05,12\n", encoding="utf-8"
    )
    assert run_cli("ingest", "orders.csv").exit_code == 0
    (tmp_path / "rules.toml").write_text('[[rule]]\nmetric = "activation_rate"\nbelow = 0.5\n', encoding="utf-8")
    result = run_cli("monitor", "--rules", "rules.toml")
    assert result.exit_code == 0
    assert (
        result.stderr.splitlines()[0]
        == "note: rule 'activation_rate below 0.5' not judged: the workspace has no members table"
    )


def test_the_customers_behind_a_churn_alert_are_who_churned_in_its_month(run_cli, shop, demo_workspace, tmp_path):
    """Oracle: the newly churned customers of the alert's month by the definition (pandas), their
    spend and last order before the date, and whether they ordered after the month."""
    from _order_logs import churn_members_oracle

    from memberlens.io.workspace import Workspace

    rules = tmp_path / "rules.toml"
    rules.write_text('[[rule]]\nmetric = "newly_churned"\nabove = 0\n', encoding="utf-8")
    result = run_cli(
        "monitor",
        "--db",
        shop,
        "--as-of",
        "2024-06-15",
        "--rules",
        rules,
        "--members-out",
        "who.csv",
        "--format",
        "json",
    )
    assert result.exit_code == 3, result.stderr
    listed = pd.read_csv(tmp_path / "who.csv", dtype={"customer_id": str})
    with Workspace(demo_workspace[0], read_only=True) as ws:
        orders = ws.table("orders").execute()
    orders = orders[orders.ordered_at < pd.Timestamp("2024-06-15")]
    newly, _ = churn_members_oracle(orders, "month", 90)
    may = pd.Timestamp("2024-05-01")
    assert set(listed.customer_id) == newly[may] and len(listed) == len(newly[may]) > 0
    mine = orders[orders.customer_id.isin(newly[may])].groupby("customer_id")
    assert np.allclose(listed.set_index("customer_id").revenue.sort_index(), mine.amount.sum().sort_index())
    came_back = mine.ordered_at.max() >= pd.Timestamp("2024-06-01")
    assert listed.set_index("customer_id").came_back.sort_index().tolist() == came_back.sort_index().tolist()
    still_gone = listed[~listed.came_back]
    assert still_gone.revenue.is_monotonic_decreasing and listed.came_back.is_monotonic_increasing


def test_the_report_exports_the_customers_behind_its_alerts(demo_workspace, tmp_path):
    from memberlens.analyses import AnalysisOptions
    from memberlens.io.workspace import Workspace
    from memberlens.reports.alerts import AlertsSection
    from memberlens.reports.render import write_reports

    rules = [Rule("newly_churned", "threshold", "up", 0.0), Rule("orders", "threshold", "up", 0.0)]
    with Workspace(demo_workspace[0], read_only=True) as ws:
        files = write_reports(
            ws,
            tmp_path,
            langs=("en",),
            sections=[AlertsSection(rules)],
            options=AnalysisOptions(as_of=pd.Timestamp("2024-06-15").date()),
        )
    assert [p.name for p in files.exports] == ["alert_members.csv"]
    listed = pd.read_csv(files.exports[0])
    assert set(listed.metric) == {"newly_churned"} and set(listed.period_start) == {"2024-05-01"} and len(listed) > 0


# -- shares from the score history -------------------------------------------------------------------
def test_a_segment_share_rule_reads_the_stored_scores(run_cli, demo_workspace, tmp_path):
    """Oracle: the share of each stored date's members in the segment, from the member_scores
    table with pandas."""
    import shutil

    from memberlens.io.workspace import Workspace

    shutil.copy(demo_workspace[0], tmp_path / "shop.duckdb")
    rules = tmp_path / "rules.toml"
    rules.write_text('[[rule]]\nmetric = "segment_share"\nsegment = "at_risk"\nabove = 0.01\n', encoding="utf-8")
    before = run_cli("monitor", "--db", "shop.duckdb", "--rules", rules)
    assert before.exit_code == 0 and "no member scores are stored yet" in before.stderr
    assert (
        run_cli(
            "score", "--every", "month", "--from", "2024-03-01", "--as-of", "2024-06-01", "--db", "shop.duckdb"
        ).exit_code
        == 0
    )
    result = run_cli("monitor", "--db", "shop.duckdb", "--as-of", "2024-06-15", "--rules", rules, "--format", "json")
    with Workspace(tmp_path / "shop.duckdb", read_only=True) as ws:
        scores = ws.table("member_scores").execute()
    shares = scores.groupby("as_of").rfm_segment.apply(lambda s: (s == "at_risk").mean())
    assert len(shares) == 4
    fires = shares.iloc[-1] > 0.01
    assert result.exit_code == (3 if fires else 0), result.stderr
    if fires:
        [alert] = json.loads(result.stdout)
        assert alert["metric"] == "segment_share[at_risk]" and alert["period_start"] == "2024-06-01"
        assert alert["value"] == pytest.approx(shares.iloc[-1])
        assert alert["periods_held"] == int((shares[::-1] > 0.01).cumprod().sum())


def test_a_share_rule_needs_its_group(tmp_path):
    path = tmp_path / "rules.toml"
    path.write_text('[[rule]]\nmetric = "segment_share"\nabove = 0.1\n', encoding="utf-8")
    with pytest.raises(ConfigError, match="segment_share needs segment"):
        load_rules(path, set(METRICS))
    path.write_text('[[rule]]\nmetric = "revenue"\nsegment = "x"\nabove = 0.1\n', encoding="utf-8")
    with pytest.raises(ConfigError, match='segment goes with metric = "segment_share"'):
        load_rules(path, set(METRICS))
