"""The section interface: each analysis contributes one section to the report.

A section names the workspace tables it needs and builds its content from them; the renderer
shows a note naming the missing table (and the command that adds it) when one is absent. A new
analysis adds a section by adding a module with a :class:`Section` and listing it in
:data:`memberlens.reports.sections.SECTIONS` — nothing else changes.

A section reads its numbers only through ``ctx.analyses`` (the registry of
:mod:`memberlens.analyses`, each analysis executed once per report and shared by every section
and by the exports), and its words only through ``ctx.t`` (the message catalogues). It returns
a :class:`SectionContent`: sentences, charts (each with the sentence saying what it shows and
the table it was drawn from), tables, notes and recommendation cards. A section may also define
``exports(ctx) -> dict[str, pandas.DataFrame]``: member lists written beside the report.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from typing import TYPE_CHECKING, Any, Protocol

from markupsafe import Markup

from memberlens.i18n import Messages
from memberlens.io.workspace import Workspace
from memberlens.reports.context import AnalysisCache
from memberlens.reports.inert import embed_json
from memberlens.schema.contract import UNLOCK_HINTS
from memberlens.snapshot import Snapshot

if TYPE_CHECKING:  # pragma: no cover
    import ibis.expr.types as ir
    import pandas as pd


@dataclass(frozen=True)
class TableBlock:
    """A table shown in a section; cells are plain values, escaped by the template.

    ``numeric`` marks right-aligned columns (default: cells that are numbers).
    """

    caption: str
    columns: list[str]
    rows: list[list[Any]]
    numeric: list[bool] | None = None


@dataclass(frozen=True)
class Chart:
    """A Plotly chart drawn from one executed analysis table.

    ``figure`` is a Plotly figure as plain data (``{"data": [...], "layout": {...}}``) whose
    user text has been made inert (:func:`memberlens.reports.inert.plain`); ``sentences`` say
    what it means, from the numbers; ``table`` is the data behind it ("Show the data").
    """

    key: str
    title: str
    figure: dict[str, Any]
    sentences: list[str] = field(default_factory=list)
    table: TableBlock | None = None
    analysis: str = ""

    @property
    def dom_id(self) -> str:
        return f"chart-{self.key}"

    @property
    def json(self) -> Markup:
        return Markup(embed_json(self.figure))


@dataclass(frozen=True)
class Card:
    """An observation with recommendations for one group (segment, cluster, the whole base)."""

    title: str
    colour: str
    observations: list[str]
    actions: list[str]
    tag: str = ""
    group: str = ""  # cards of one group are shown under its heading


@dataclass(frozen=True)
class SectionContent:
    key: str
    title: str
    sentences: list[str] = field(default_factory=list)
    tables: list[TableBlock] = field(default_factory=list)
    charts: list[Chart] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)  # parts that need another table, or failed
    cards: list[Card] = field(default_factory=list)


@dataclass(frozen=True)
class ReportContext:
    workspace: Workspace
    t: Messages
    analyses: AnalysisCache | None = None

    def __post_init__(self) -> None:
        if self.analyses is None:
            object.__setattr__(self, "analyses", AnalysisCache(self.workspace))

    def has(self, *tables: str) -> bool:
        return self.analyses.has(*tables)

    @property
    def snapshot(self) -> Snapshot:
        """The data every section reads: the tables as they stood at the start of the report's date."""
        return self.analyses.snapshot

    @property
    def day(self) -> date:
        """The report's date: the first day its data does not include."""
        return self.analyses.snapshot.day

    def table(self, name: str) -> ir.Table:
        """A source table as it stood at the start of the report's date."""
        return self.analyses.snapshot.table(name)

    def locked(self, *tables: str) -> str:
        """The note for a part of a section that needs tables the workspace lacks."""
        missing = [table for table in tables if not self.has(table)]
        hint = "; ".join(UNLOCK_HINTS.get(table, "memberlens ingest FILE") for table in missing)
        return self.t("report.locked", tables=", ".join(missing), hint=hint)


class Section(Protocol):
    key: str
    title_key: str
    needs: tuple[str, ...]

    def build(self, ctx: ReportContext) -> SectionContent: ...


def section_exports(section: Section, ctx: ReportContext) -> dict[str, pd.DataFrame]:
    """The member lists a section contributes (none unless it defines ``exports``)."""
    exports = getattr(section, "exports", None)
    return exports(ctx) if exports is not None else {}
