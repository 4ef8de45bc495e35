"""The HTML report: self-contained, both languages, ledger figures, and user text escaped."""

from __future__ import annotations

import re

import pandas as pd

from memberlens import Workspace, ingest
from memberlens.reports.render import render_report, write_report

ORDERS = pd.DataFrame(
    {
        "customer_id": ["a", "b", "", "c"],
        "order_id": ["1", "2", "3", "4"],
        "ordered_at": ["2024-01-01", "2024-01-02", "2024-01-03", "not a date"],
        "amount": ["10", "20", "5", "7"],
        "product_name": ['<script>alert("x")</script>', "</div><b>bold</b>", "ok", "ok"],
    }
)


def test_report_shows_the_ledger_in_both_languages(tmp_path):
    with Workspace(tmp_path / "w.duckdb") as ws:
        ingest(ws, ORDERS, name="shop")
        en = write_report(ws, tmp_path, lang="en").read_text(encoding="utf-8")
        zh = write_report(ws, tmp_path, lang="zh").read_text(encoding="utf-8")
    assert (tmp_path / "report.html").exists() and (tmp_path / "report.zh.html").exists()
    assert "Of 4 rows read from shop, 2 (50.0%) are used" in en
    assert "从 shop 读取的 4 行中，有 2 行（50.0%）用于分析" in zh
    assert 'lang="zh-CN"' in zh and "Microsoft YaHei" in zh
    for html in (en, zh):
        assert not re.search(r"<(script|link|img)\b[^>]*\b(src|href)=", html)  # nothing fetched


def test_user_text_is_escaped(tmp_path):
    hostile = '<script>alert(1)</script>"</div>'
    with Workspace(tmp_path / "w.duckdb") as ws:
        ingest(ws, ORDERS, name=hostile)
        html = render_report(ws)
    assert "<script>alert(1)" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;&#34;&lt;/div&gt;" in html


def test_a_section_whose_table_is_missing_says_how_to_add_it(tmp_path):
    class NeedsMembers:
        key, title_key, needs = "members_demo", "data_quality.title", ("members",)

        def build(self, ctx):  # pragma: no cover - never called without the table
            raise AssertionError("built without its table")

    with Workspace(tmp_path / "w.duckdb") as ws:
        ingest(ws, ORDERS, name="shop")
        html = render_report(ws, sections=[NeedsMembers()])
    assert "needs the members table" in html and "memberlens ingest FILE --table members" in html
