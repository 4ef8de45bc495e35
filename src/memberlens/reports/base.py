"""The section interface: each analysis contributes one section to the report.

A section names the workspace tables it needs and builds its content from them; the renderer
shows a note naming the missing table (and the command that adds it) when one is absent. A new
analysis adds a section by adding a module with a :class:`Section` and listing it in
:data:`memberlens.reports.sections.SECTIONS` — nothing else changes.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from typing import Any, Protocol

from memberlens.i18n import Messages
from memberlens.io.workspace import Workspace


@dataclass(frozen=True)
class TableBlock:
    """A table shown in a section; cells are plain values, escaped by the template."""

    caption: str
    columns: list[str]
    rows: list[list[Any]]


@dataclass(frozen=True)
class SectionContent:
    key: str
    title: str
    sentences: list[str] = field(default_factory=list)
    tables: list[TableBlock] = field(default_factory=list)


@dataclass(frozen=True)
class ReportContext:
    workspace: Workspace
    t: Messages
    as_of: date | None = None


class Section(Protocol):
    key: str
    title_key: str
    needs: tuple[str, ...]

    def build(self, ctx: ReportContext) -> SectionContent: ...
