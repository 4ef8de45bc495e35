"""The section interface: each analysis contributes one section to the report.

A section names the workspace tables it needs and builds its content from them; the renderer
shows a note naming the missing table (and the command that adds it) when one is absent. A new
analysis adds a section by adding a module with a :class:`Section` and listing it in
:data:`memberlens.reports.sections.SECTIONS` — nothing else changes.

A section reads its numbers only through ``ctx.results`` (the registry of
:mod:`memberlens.results`: every analysis and model result, computed once per report and
shared by every section and by the exports) — it opens no table itself — and its words only
through ``ctx.t`` (the message catalogues). It returns
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
from memberlens.io.catalog import Tables
from memberlens.reports.inert import embed_json
from memberlens.results import Results
from memberlens.schema.contract import UNLOCK_HINTS

if TYPE_CHECKING:  # pragma: no cover
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
    workspace: Tables
    t: Messages
    results: Results | None = None

    def __post_init__(self) -> None:
        if self.results is None:
            object.__setattr__(self, "results", Results(self.workspace))

    def has(self, *tables: str) -> bool:
        return self.results.has(*tables)

    @property
    def day(self) -> date:
        """The report's date: the first day its data does not include."""
        return self.results.day

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
