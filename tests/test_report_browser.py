"""The report in a real headless Chromium (Debian's ``chromium``, driven by Playwright): it loads
with no console errors and no network requests, every chart has drawn, in English and Chinese,
on a laptop and a phone, in print; and hostile names stay text. Screenshots are kept under
test-artifacts/ (gitignored). Without chromium the tests skip — and fail when CI=true."""

from __future__ import annotations

import shutil
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from conftest import require

from memberlens import Workspace, ingest
from memberlens.analyses import AnalysisOptions
from memberlens.reports.render import render_report, write_reports

pytestmark = [pytest.mark.browser, pytest.mark.slow]

ARTIFACTS = Path(__file__).resolve().parents[1] / "test-artifacts"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
]
LOCAL = ("file:", "data:", "about:", "blob:")
HOSTILE = '<script>alert(1)</script>"</div>'
HOSTILE_IMG = '<img src=x onerror="window.__pwned=1">'


def chromium_path() -> str | None:
    return shutil.which("chromium") or ("/usr/bin/chromium" if Path("/usr/bin/chromium").exists() else None)


@pytest.fixture(scope="module")
def browser():
    exe = chromium_path()
    require(exe is not None, "needs Debian's chromium (make test installs it: apt-get install chromium)")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        require(False, "needs Playwright (pip install -e '.[test]')")
    with sync_playwright() as p:
        chromium = p.chromium.launch(executable_path=exe, args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


@dataclass
class Visit:
    page: object
    errors: list[str] = field(default_factory=list)
    requests: list[str] = field(default_factory=list)
    dialogs: list[str] = field(default_factory=list)


def visit(browser, path: Path, *, width: int = 1280, height: int = 900, mobile: bool = False) -> Visit:
    """Open a report and wait until every chart has been drawn."""
    context = browser.new_context(
        viewport={"width": width, "height": height},
        is_mobile=mobile,
        has_touch=mobile,
        device_scale_factor=2 if mobile else 1,
    )
    page = context.new_page()
    seen = Visit(page)
    page.on("console", lambda m: seen.errors.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: seen.errors.append(str(e)))
    page.on("request", lambda r: None if r.url.startswith(LOCAL) else seen.requests.append(r.url))
    page.on("dialog", lambda d: (seen.dialogs.append(d.message), d.dismiss()))
    page.goto(path.resolve().as_uri())
    page.wait_for_function(
        "document.querySelectorAll('.chart').length === document.querySelectorAll('.chart[data-rendered]').length",
        timeout=60_000,
    )
    return seen


DRAWN = """() => Array.from(document.querySelectorAll('.chart')).map(el => {
  const svg = el.querySelector('svg.main-svg');
  const box = el.getBoundingClientRect();
  const marks = Array.from(el.querySelectorAll('g.trace path, g.trace rect, g.points path, path.sankey-link, rect.node-rect'))
    .filter(p => (p.getAttribute('d') || '').length > 4 || p.tagName === 'rect').length;
  const images = el.querySelectorAll('g.hm image, image').length;
  return {id: el.id, svg: !!svg, width: box.width, height: box.height, marks: marks, images: images};
})"""


@pytest.fixture(scope="module")
def demo_reports(tmp_path_factory):
    from conftest import build_demo_workspace

    root = tmp_path_factory.mktemp("demo-browser")
    path, _ = build_demo_workspace(root, customers=300, years=1, seed=5)
    with Workspace(path) as ws:
        written = write_reports(ws, root / "out", langs=("en", "zh"), export_format=None)
    return dict(zip(("en", "zh"), written.reports))


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_report_loads_offline_and_draws_every_chart(browser, demo_reports, lang):
    seen = visit(browser, demo_reports[lang])
    page = seen.page
    charts = page.evaluate(DRAWN)
    assert len(charts) >= 20
    for chart in charts:
        assert chart["svg"] and chart["width"] > 200 and chart["height"] > 150, chart
        assert chart["marks"] + chart["images"] > 0, chart  # bars, lines, markers or the heatmap image
    assert seen.errors == [] and seen.requests == [] and seen.dialogs == []
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"report-{lang}.png"), full_page=True)
    if lang == "zh":
        assert page.evaluate("document.documentElement.lang") == "zh-CN"
        assert "会员价值分析报告" in page.inner_text("h1")
        assert "Noto Sans CJK SC" in page.evaluate("getComputedStyle(document.body).fontFamily")
        assert "洞察与建议" in page.inner_text("#recommendations h2")
    page.context.close()


def test_the_migration_sankey_draws_a_link_per_path(browser, demo_reports):
    page = visit(browser, demo_reports["en"]).page
    links = page.evaluate("document.querySelectorAll('#chart-migration-sankey path.sankey-link').length")
    paths = page.evaluate(
        "JSON.parse(document.querySelector('script[data-chart=\"chart-migration-sankey\"]').textContent)"
        ".data[0].link.value.length"
    )
    assert links == paths > 3


def test_chart_data_is_one_click_away_and_legends_toggle(browser, demo_reports):
    seen = visit(browser, demo_reports["en"])
    page = seen.page
    details = page.locator("#chart-rates ~ details")
    assert not details.locator("table").is_visible()
    details.locator("summary").click()
    assert details.locator("table").is_visible() and details.locator("tbody tr").count() >= 6
    before = page.evaluate("document.querySelector('#chart-rates')._fullData.filter(t => t.visible === true).length")
    page.locator("#chart-rates g.legend g.traces").first.click()
    page.wait_for_timeout(300)
    after = page.evaluate("document.querySelector('#chart-rates')._fullData.filter(t => t.visible === true).length")
    assert after == before - 1
    page.hover("#chart-rates g.trace.scatter path.js-line", force=True)
    assert seen.errors == [] and seen.requests == []
    page.context.close()


def test_report_is_readable_on_a_phone_and_printable(browser, demo_reports):
    seen = visit(browser, demo_reports["zh"], width=390, height=844, mobile=True)
    page = seen.page
    overflow = page.evaluate("document.documentElement.scrollWidth - document.documentElement.clientWidth")
    assert overflow <= 1  # no sideways scrolling of the page (wide tables scroll in their own box)
    for chart in page.evaluate(DRAWN):
        assert 0 < chart["width"] <= 390, chart
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "report-zh-phone.png"), full_page=False)
    page.emulate_media(media="print")
    assert page.evaluate("getComputedStyle(document.querySelector('nav')).display") == "none"
    pdf = page.pdf(path=str(ARTIFACTS / "report-zh.pdf"), format="A4", print_background=True)
    assert pdf[:4] == b"%PDF" and len(pdf) > 50_000
    assert seen.errors == [] and seen.requests == []
    page.context.close()


def test_hostile_names_are_text_in_the_browser(browser, tmp_path):
    from test_report import shop_orders

    orders = shop_orders(product=HOSTILE)
    orders.loc[orders.product_name == "item 1", "product_name"] = HOSTILE_IMG
    scheme = {HOSTILE: {"r": (1, 5), "f": (4, 5)}, HOSTILE_IMG: {"r": (1, 5)}}
    with Workspace(tmp_path / "w.duckdb") as ws:
        ingest(ws, orders, name=HOSTILE)
        html = render_report(ws, options=AnalysisOptions(scheme=scheme))
    path = tmp_path / "report.html"
    path.write_text(html, encoding="utf-8")
    seen = visit(browser, path)
    page = seen.page
    assert seen.dialogs == [] and seen.errors == [] and seen.requests == []
    assert page.evaluate("window.__pwned") is None
    assert page.evaluate("document.querySelectorAll('img').length") == 0
    scripts = page.evaluate("document.querySelectorAll('script').length")
    assert scripts == page.evaluate("document.querySelectorAll('.chart').length") + 2
    text = page.inner_text("body")
    assert HOSTILE in text and HOSTILE_IMG in text  # shown, as text
    svg_text = page.evaluate(
        """Array.from(document.querySelectorAll('.chart text')).map(t => t.textContent).join('\\n')"""
    )
    assert "<script>alert(1)</script>" in svg_text  # a chart label, drawn as text
    ARTIFACTS.mkdir(exist_ok=True)
    page.locator("#abc").screenshot(path=str(ARTIFACTS / "report-hostile-names.png"))
    page.context.close()
