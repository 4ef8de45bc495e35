"""``memberlens segment`` as a user runs it: JSON, text and HTML output, saved segments, the member
list export, and bad input answered in one line with exit status 2 (checked against pandas on
the demo customer-360 file)."""

from __future__ import annotations

import json

import pandas as pd
import pytest

DEFAULT_WHERE = (
    "marketing_to_sales_days between 10 and 20 and sales_to_support_days > 30 "
    "and composite_engagement_score > mean(composite_engagement_score)"
)


@pytest.fixture(scope="module")
def demo(demo_workspace):
    path, files = demo_workspace
    frame = pd.read_csv(files["customer_360"]["path"])
    cohort = (
        frame.marketing_to_sales_days.between(10, 20)
        & (frame.sales_to_support_days > 30)
        & (frame.composite_engagement_score > frame.composite_engagement_score.mean())
    )
    return path, frame, cohort


def test_json_profile_of_the_default_cohort(run_cli, demo, tmp_path):
    path, frame, cohort = demo
    result = run_cli(
        "segment",
        "--db",
        path,
        "--where",
        DEFAULT_WHERE,
        "--metric",
        "customer_health_score",
        "--by",
        "customer_tier",
        "--by-metric",
        "estimated_customer_ltv",
        "--flags",
        "in_marketo,in_stripe,in_zendesk",
        "--matrix",
        "activity_risk_level,engagement_velocity",
        "--segments",
        tmp_path / "s.toml",
    )
    assert result.exit_code == 0, result.stderr
    data = json.loads(result.stdout)
    assert data["cohort_size"] == cohort.sum() and data["population_size"] == len(frame)
    tiers = {row["customer_tier"]: row for row in data["by_group"]}
    for tier, ltv in frame[cohort].groupby("customer_tier").estimated_customer_ltv.mean().items():
        assert tiers[tier]["cohort_mean"] == pytest.approx(ltv)
    assert len(data["combinations"]) == len(frame.groupby(["in_marketo", "in_stripe", "in_zendesk"]))
    assert data["observations"] and data["recommendations"]


def test_text_in_chinese_and_html_report(run_cli, demo, tmp_path):
    path, _, cohort = demo
    result = run_cli(
        "segment", "--db", path, "--where", "sales_to_support_days > 30", "--format", "text", "--lang", "zh"
    )
    assert result.exit_code == 0, result.stderr
    assert "观察与建议" in result.stdout and "目标群体共" in result.stdout
    out = tmp_path / "segment.html"
    result = run_cli(
        "segment",
        "--db",
        path,
        "--where",
        DEFAULT_WHERE,
        "--metric",
        "customer_health_score",
        "--matrix",
        "activity_risk_level,engagement_velocity",
        "--format",
        "html",
        "--out",
        out,
    )
    assert result.exit_code == 0, result.stderr
    html = out.read_text(encoding="utf-8")
    assert 'id="chart-segment-matrix"' in html and f"{cohort.sum():,}" in html


def test_save_run_by_name_and_export_members(run_cli, demo, tmp_path):
    path, frame, cohort = demo
    saved = tmp_path / "segments.toml"
    result = run_cli(
        "segment",
        "--db",
        path,
        "--where",
        DEFAULT_WHERE,
        "--metric",
        "customer_health_score",
        "--flags",
        "in_stripe,in_zendesk",
        "--save",
        "slow-support",
        "--segments",
        saved,
        "--format",
        "text",
    )
    assert result.exit_code == 0, result.stderr
    assert "slow-support" in saved.read_text(encoding="utf-8")
    export = tmp_path / "members.csv"
    result = run_cli("segment", "--db", path, "--segment", "slow-support", "--segments", saved, "--export", export)
    assert result.exit_code == 0, result.stderr
    data = json.loads(result.stdout)
    assert data["name"] == "slow-support" and data["segment"]["flags"] == ["in_stripe", "in_zendesk"]
    members = pd.read_csv(export)
    assert sorted(members.customer_id) == sorted(frame.customer_id[cohort])
    parquet = tmp_path / "members.parquet"
    assert (
        run_cli(
            "segment", "--db", path, "--segment", "slow-support", "--segments", saved, "--export", parquet
        ).exit_code
        == 0
    )
    assert len(pd.read_parquet(parquet)) == cohort.sum()


@pytest.mark.parametrize(
    "args, message",
    [
        (["--where", "custmer_tier = 'Gold'"], "error: filter: unknown column 'custmer_tier'"),
        (["--where", "customer_tier = 'Gold'; DROP TABLE customer_360"], "error: filter: unexpected character ';'"),
        (["--where", "read_csv('/etc/passwd')"], "error: filter: function 'read_csv' is not allowed"),
        ([], "error: no cohort: give --where FILTER or --segment NAME"),
        (["--segment", "nope"], "no saved segment 'nope'"),
        (["--where", "in_stripe = 1", "--format", "html"], "error: --format html needs --out FILE"),
        (["--where", "in_stripe = 1", "--flags", "in_stripe"], "--metric is missing"),
        (["--where", "in_stripe = 1", "--matrix", "region"], "--matrix 'region': needs two columns"),
        (["--where", "in_stripe = 1", "--table", "nope"], "no 'nope' table"),
        (["--where", "in_stripe = 1", "--export", "x.txt"], "--export x.txt: unknown file type .txt"),
        (["--where", "in_stripe = 1", "--save", "bad name"], "segment name 'bad name' is not allowed"),
    ],
)
def test_bad_input_is_one_line_and_exit_status_2(run_cli, demo, tmp_path, args, message):
    path, _, _ = demo
    result = run_cli("segment", "--db", path, "--segments", tmp_path / "s.toml", *args)
    assert result.exit_code == 2, (result.stdout, result.stderr)
    assert message in result.stderr
    assert "Traceback" not in result.stderr and result.stdout == ""
    assert result.stderr.splitlines()[-1].startswith("hint:") or len(result.stderr.splitlines()) == 1
