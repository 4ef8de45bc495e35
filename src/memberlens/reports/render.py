"""Render the report: one self-contained HTML file (no external requests), escaped throughout."""

from __future__ import annotations

from datetime import date, datetime
from pathlib import Path

from jinja2 import Environment, PackageLoader, select_autoescape

from memberlens import __version__
from memberlens.i18n import Messages
from memberlens.io.files import write_text_atomic
from memberlens.io.workspace import UNLOCK_HINTS, Workspace
from memberlens.reports.base import ReportContext, Section
from memberlens.reports.sections import SECTIONS

_env = Environment(
    loader=PackageLoader("memberlens.reports", "templates"),
    autoescape=select_autoescape(default=True, default_for_string=True),
    trim_blocks=True,
    lstrip_blocks=True,
)


def _locked_note(section: Section, missing: list[str], t: Messages) -> str:
    hint = "; ".join(UNLOCK_HINTS.get(table, "memberlens ingest FILE") for table in missing)
    return t("report.locked", tables=", ".join(missing), hint=hint)


def render_report(workspace: Workspace, *, lang: str = "en", as_of: date | None = None, sections: list[Section] | None = None) -> str:
    """The report as HTML text."""
    t = Messages(lang)
    ctx = ReportContext(workspace=workspace, t=t, as_of=as_of)
    present = set(workspace.list_tables())
    blocks = []
    for section in sections if sections is not None else SECTIONS:
        missing = [table for table in section.needs if table not in present]
        if missing:
            blocks.append({"key": section.key, "title": t(section.title_key), "locked": _locked_note(section, missing, t)})
        else:
            blocks.append({"key": section.key, "content": section.build(ctx)})
    return _env.get_template("report.html.j2").render(
        lang=lang,
        t=t,
        blocks=blocks,
        workspace=workspace.path.name,
        generated=datetime.now().strftime("%Y-%m-%d %H:%M"),
        version=__version__,
    )


def write_report(workspace: Workspace, out_dir: str | Path, *, lang: str = "en", as_of: date | None = None) -> Path:
    """Write ``report.html`` (``report.zh.html`` for Chinese) into ``out_dir`` atomically."""
    name = "report.html" if lang == "en" else f"report.{lang}.html"
    return write_text_atomic(Path(out_dir) / name, render_report(workspace, lang=lang, as_of=as_of))
