"""Member lists beside the report, for marketing tools: one file per list (RFM segment, cluster,
lifecycle stage, and whatever later sections contribute, e.g. churn risk band), as CSV, Parquet
or Excel, each written atomically by :func:`memberlens.io.files.write_table_atomic` (where text that
a spreadsheet would take for a formula stays text, and a column of days holds dates)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import pandas as pd

from memberlens.errors import ConfigError, MemberlensError
from memberlens.i18n import Messages
from memberlens.io.catalog import Tables
from memberlens.io.files import write_table_atomic
from memberlens.reports.base import ReportContext, Section, section_exports
from memberlens.reports.sections import SECTIONS
from memberlens.results import Results

FORMATS = {"csv": ".csv", "parquet": ".parquet", "xlsx": ".xlsx"}


def collect_exports(ctx: ReportContext, sections: Sequence[Section] | None = None) -> dict[str, pd.DataFrame]:
    """Every section's member lists whose tables the workspace has (a list that cannot be made,
    e.g. clusters of too few customers, is left out)."""
    lists: dict[str, pd.DataFrame] = {}
    for section in sections if sections is not None else SECTIONS:
        if not ctx.has(*section.needs):
            continue
        try:
            lists |= section_exports(section, ctx)
        except MemberlensError:
            continue
    return lists


def write_exports(
    workspace: Tables,
    out_dir: str | Path,
    fmt: str = "csv",
    *,
    results: Results | None = None,
    lang: str = "en",
    sections: Sequence[Section] | None = None,
) -> list[Path]:
    """Write each member list to ``out_dir/<name>.<fmt>``; returns the paths written."""
    if fmt not in FORMATS:
        raise ConfigError(f"unknown export format {fmt!r}", "use --export-format csv, parquet or xlsx")
    cache = results or Results(workspace)
    ctx = ReportContext(workspace=workspace, t=Messages(lang), results=cache)
    paths = []
    for name, frame in collect_exports(ctx, sections).items():
        target = Path(out_dir) / f"{name}{FORMATS[fmt]}"
        write_table_atomic(frame, target, fmt)
        paths.append(target)
    return paths
