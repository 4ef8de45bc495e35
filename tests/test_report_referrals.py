"""The report's word-of-mouth section: its figures are the referral analyses' own, in English
and Chinese; its member list is the key-referrers analysis; without a referrals table it says
how to add one."""

from __future__ import annotations

import re

import pandas as pd
import pytest
from test_report import chart_specs, shop_orders

from memberlens import Workspace, ingest
from memberlens.analyses import AnalysisOptions, run_analysis
from memberlens.reports.exports import write_exports
from memberlens.reports.referrals import ReferralsSection
from memberlens.reports.render import render_report
from memberlens.results import Results

pytestmark = pytest.mark.slow  # a demo shop and its report section


@pytest.fixture(scope="module")
def shop(tmp_path_factory):
    from conftest import build_demo_workspace

    return build_demo_workspace(tmp_path_factory.mktemp("referrals"), customers=1_500, years=2, seed=5)[0]


def _text(html: str) -> str:
    section = html[html.index('<section id="referrals">') :]
    section = section[: section.index("</section>")]
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", re.sub(r"<script.*?</script>", "", section, flags=re.S)))


def test_the_section_shows_the_analyses_numbers_in_both_languages(shop, tmp_path):
    with Workspace(shop, read_only=True) as ws:
        en = render_report(ws, sections=[ReferralsSection()])
        zh = render_report(ws, lang="zh", sections=[ReferralsSection()])
        program = run_analysis(ws, "referrals", AnalysisOptions()).set_index("group")
        results = Results(ws)
        key = results.get("key-referrers")
        key_zh = results.get("key-referrers", lang="zh")
        cascades = results.get("referral-cascades")
        paths = write_exports(ws, tmp_path / "exports", "csv", sections=[ReferralsSection()])
    specs = chart_specs(en)
    assert set(specs) == {"referrals-cascades", "referrals-groups", "referrals-tree"}
    assert sum(specs["referrals-cascades"]["data"][0]["y"]) == len(cascades)
    referred = program.loc["referred"]
    text, text_zh = _text(en), _text(zh)
    assert f"{int(referred.referrals):,} referrals count: {int(referred.referrers):,} members" in text
    assert f"有效推荐 {int(referred.referrals):,} 条" in text_zh
    assert f"{referred.conversion:.1%} of referred members bought" in text
    first = key.iloc[0]
    assert first.reason in text and key_zh.iloc[0].reason in text_zh
    assert f"The cascade below the first key referrer, {first.customer_id}" in text
    tree = specs["referrals-tree"]["data"][0]
    assert tree["type"] == "sunburst" and len(tree["ids"]) == min(first.cascade_size + 1, 300)
    assert "Grow the referral program" in text or "Review what the referral rewards attract" in text
    assert [p.name for p in paths] == ["key_referrers.csv"]
    exported = pd.read_csv(paths[0], dtype={"customer_id": str, "referred_by": str})
    assert exported.customer_id.tolist() == key.customer_id.tolist() and exported.reason.tolist() == key.reason.tolist()


def test_without_a_referrals_table_the_section_says_how_to_add_it(tmp_path):
    with Workspace(tmp_path / "w.duckdb") as ws:
        ingest(ws, shop_orders(), name="shop")
        html = render_report(ws, sections=[ReferralsSection()])
    assert "needs the referrals table" in html and "memberlens ingest FILE --table referrals" in html
