"""Render the report: one self-contained HTML file (no external requests), escaped throughout.

``write_report`` writes one language; ``write_reports`` writes several languages and the member
lists (exports) from one run of the analyses.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import gc
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import Any

import pyarrow as pa
from jinja2 import Environment, PackageLoader, select_autoescape
from markupsafe import Markup

from memberlens._version import __version__
from memberlens.analyses import AnalysisOptions
from memberlens.errors import MemberlensError
from memberlens.i18n import Messages
from memberlens.io.catalog import Tables
from memberlens.io.files import write_text_atomic
from memberlens.io.together import files_together
from memberlens.reports.base import ReportContext, Section
from memberlens.reports.charts import plotly_js
from memberlens.reports.exports import write_exports
from memberlens.reports.sections import SECTIONS
from memberlens.results import Results
from memberlens.schema.contract import UNLOCK_HINTS

_env = Environment(
    loader=PackageLoader("memberlens.reports", "templates"),
    autoescape=select_autoescape(default=True, default_for_string=True),
    trim_blocks=True,
    lstrip_blocks=True,
)

# progress(label, done, total): called before each section is built and once at the end
Progress = Callable[[str, int, int], None]


def _locked_note(section: Section, missing: list[str], t: Messages) -> str:
    hint = "; ".join(UNLOCK_HINTS.get(table, "memberlens ingest FILE") for table in missing)
    return t("report.locked", tables=", ".join(missing), hint=hint)


def render_report(
    workspace: Tables,
    *,
    lang: str = "en",
    as_of: date | None = None,
    sections: Sequence[Section] | None = None,
    options: AnalysisOptions | None = None,
    results: Results | None = None,
    progress: Progress | None = None,
) -> str:
    """The report as HTML text.

    ``options`` are the analyses' options (cut-off date, period, RFM scheme...); ``results``
    are the computed results to share with another language or with the exports.
    """
    t = Messages(lang)
    cache = results or Results(workspace, as_of=as_of, options=options)
    ctx = ReportContext(workspace=workspace, t=t, results=cache)
    chosen = list(sections if sections is not None else SECTIONS)
    blocks = []
    for done, section in enumerate(chosen):
        title = t(section.title_key)
        if progress:
            progress(title, done, len(chosen))
        missing = [table for table in section.needs if table not in cache.tables]
        if missing:
            blocks.append({"key": section.key, "title": title, "locked": _locked_note(section, missing, t)})
            continue
        try:
            blocks.append({"key": section.key, "content": section.build(ctx)})
        except MemberlensError as exc:  # e.g. too few customers to cluster: say so, go on
            blocks.append({"key": section.key, "title": title, "locked": t("report.failed", reason=t.error(exc))})
        release_freed_memory()
    if progress:
        progress(t("report.writing"), len(chosen), len(chosen))
    has_charts = any(block.get("content") and block["content"].charts for block in blocks)
    return _env.get_template("report.html.j2").render(
        lang=lang,
        t=t,
        blocks=blocks,
        workspace=Path(str(workspace.location)).name,
        as_of=cache.options.as_of,
        generated=datetime.now().strftime("%Y-%m-%d %H:%M"),
        version=__version__,
        plotly_js=Markup(plotly_js()) if has_charts else None,
    )


def release_freed_memory() -> None:
    """Hand memory that a section's large transient frames freed back to the system: Arrow's
    pool and the C heap keep freed blocks for reuse, so on large data a long report's resident
    set would otherwise stay near the largest section's peak for every section after it."""
    gc.collect()
    pa.default_memory_pool().release_unused()
    if _LIBC is not None:
        _LIBC.malloc_trim(0)


def _glibc() -> Any:
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        return libc if hasattr(libc, "malloc_trim") else None  # glibc only (not musl, macOS)
    except OSError:
        return None


_LIBC = _glibc()


def report_name(lang: str) -> str:
    return "report.html" if lang == "en" else f"report.{lang}.html"


def write_report(
    workspace: Tables,
    out_dir: str | Path,
    *,
    lang: str = "en",
    as_of: date | None = None,
    options: AnalysisOptions | None = None,
    results: Results | None = None,
    progress: Progress | None = None,
    sections: Sequence[Section] | None = None,
) -> Path:
    """Write ``report.html`` (``report.zh.html`` for Chinese) into ``out_dir`` atomically
    (``sections``: only these, e.g. one section on its own; default all)."""
    html = render_report(
        workspace, lang=lang, as_of=as_of, options=options, results=results, progress=progress, sections=sections
    )
    return write_text_atomic(Path(out_dir) / report_name(lang), html)


@dataclass
class ReportFiles:
    reports: list[Path] = field(default_factory=list)
    exports: list[Path] = field(default_factory=list)
    timings: dict[str, float] = field(default_factory=dict)


def write_reports(
    workspace: Tables,
    out_dir: str | Path,
    *,
    langs: Sequence[str] = ("en", "zh"),
    as_of: date | None = None,
    options: AnalysisOptions | None = None,
    export_format: str | None = "csv",
    progress: Progress | None = None,
    sections: Sequence[Section] | None = None,
) -> ReportFiles:
    """The report in each of ``langs`` and (unless ``export_format`` is None) the member lists
    in ``out_dir/exports`` — every analysis run once for all of them."""
    cache = Results(workspace, as_of=as_of, options=options)
    staged = ReportFiles()
    with files_together(out_dir) as staging:  # the reports and lists replace the old ones together
        for lang in langs:
            staged.reports.append(
                write_report(workspace, staging, lang=lang, results=cache, progress=progress, sections=sections)
            )
        if export_format is not None:
            staged.exports = write_exports(
                workspace, staging / "exports", export_format, results=cache, lang=langs[0], sections=sections
            )
    moved = [Path(out_dir) / path.relative_to(staging) for path in staged.reports + staged.exports]
    return ReportFiles(
        reports=moved[: len(staged.reports)], exports=moved[len(staged.reports) :], timings=dict(cache.timings)
    )
