"""``memberlens segment``: a cohort chosen by a filter, compared with the whole customer table.

    memberlens segment --where "marketing_to_sales_days between 10 and 20 and sales_to_support_days > 30
        and composite_engagement_score > mean(composite_engagement_score)"
        --metric customer_health_score --by customer_tier --by-metric estimated_customer_ltv
        --flags in_marketo,in_stripe,in_zendesk --matrix activity_risk_level,engagement_velocity

prints the profile as JSON (``--format json``), its observations and recommendations
(``--format text``), or writes a one-section HTML report (``--format html --out FILE``).
``--save NAME`` keeps the segment in ``segments.toml`` beside the workspace; ``--segment NAME``
runs a saved one; ``--export FILE`` writes the cohort's member list (.csv, .json, .parquet, .xlsx).
"""

from __future__ import annotations

import sys
from enum import Enum
from pathlib import Path
from typing import Annotated

import typer

from memberlens.cli._common import AsOfOption, err, option_db, option_engine, option_out_file, parse_as_of
from memberlens.errors import ConfigError
from memberlens.i18n import LANGUAGES, Messages
from memberlens.io.catalog import open_tables
from memberlens.io.files import TABLE_FORMATS, write_table_atomic, write_text_atomic
from memberlens.parameters import check_number
from memberlens.reports.render import render_report
from memberlens.reports.segment_explorer import SegmentExplorerSection
from memberlens.schema.contract import SOURCE_TABLES
from memberlens.segments import (
    SegmentSpec,
    Support,
    load_segment,
    profile_segment,
    save_segment,
    segments_file,
    select_members,
)
from memberlens.segments.saved import check_name
from memberlens.snapshot import snapshot_of


class SegmentFormat(str, Enum):
    json = "json"
    text = "text"
    html = "html"


def segment_command(
    where: Annotated[
        str | None,
        typer.Option("--where", help="The cohort's filter, e.g. \"tier in ('Gold') and score > mean(score)\"."),
    ] = None,
    table: Annotated[str, typer.Option("--table", help="The customer table.")] = "customer_360",
    metric: Annotated[
        str | None, typer.Option(help="Numeric column compared across --flags combinations and --matrix cells.")
    ] = None,
    by: Annotated[str | None, typer.Option(help="Grouping column: --by-metric per group, cohort beside all.")] = None,
    by_metric: Annotated[
        str | None, typer.Option("--by-metric", help="Numeric column compared per --by group (default --metric).")
    ] = None,
    flags: Annotated[
        str | None, typer.Option(help="Comma-separated true/false or 0/1 columns: every combination against --metric.")
    ] = None,
    matrix: Annotated[str | None, typer.Option(help="Two comma-separated columns: each cell against --metric.")] = None,
    segment: Annotated[str | None, typer.Option("--segment", help="Run a saved segment by name.")] = None,
    save: Annotated[str | None, typer.Option("--save", help="Save this segment under NAME.")] = None,
    segments: Annotated[
        Path | None,
        typer.Option("--segments", help="Saved-segments TOML file (default: segments.toml beside the workspace)."),
    ] = None,
    export: Annotated[
        Path | None, typer.Option("--export", help="Write the cohort's member list (.csv, .json, .parquet or .xlsx).")
    ] = None,
    lang: Annotated[str, typer.Option(help="en or zh.")] = "en",
    fmt: Annotated[SegmentFormat, typer.Option("--format", help="json, text or html.")] = SegmentFormat.json,
    out_file: Annotated[Path | None, option_out_file("Write to this file instead of printing.")] = None,
    min_count: Annotated[
        int, typer.Option("--min-count", help="Fewest cohort members behind a difference or cell.")
    ] = 30,
    as_of: AsOfOption = None,
    db: Annotated[str, option_db()] = "memberlens.duckdb",
    engine: Annotated[str, option_engine()] = "duckdb",
) -> None:
    """Compare a cohort (--where or a saved --segment) with the whole customer table."""
    if lang not in LANGUAGES:
        raise ConfigError(f"--lang {lang!r} is not a language of memberlens", "use --lang en or --lang zh")
    if fmt is SegmentFormat.html and out_file is None:
        raise ConfigError("--format html needs --out FILE", "e.g. --format html --out segment.html")
    check_number(min_count, "--min-count", "segment", low=1, integer=True, hint="e.g. --min-count 30")
    if export is not None and export.suffix.lower() not in TABLE_FORMATS:
        raise ConfigError(
            f"--export {export}: unknown file type {export.suffix or '(none)'}",
            "end the name in .csv, .json, .parquet or .xlsx",
        )
    if save is not None:
        check_name(save)
    saved_file = segments or segments_file_for(db)
    spec = _spec(where, segment, saved_file, metric=metric, by=by, by_metric=by_metric, flags=flags, matrix=matrix)
    day = parse_as_of(as_of)
    with open_tables(engine, db) as tables:
        customers = snapshot_of(tables, day).table(table) if table in SOURCE_TABLES else tables.table(table)
        profile = profile_segment(
            customers, spec, support=Support(min_count=min_count), name=save or segment, table_name=table
        )
        if save is not None:
            path = save_segment(saved_file, save, spec)
            err.print(f"saved segment {save!r} in {path}", markup=False)
        if export is not None:
            members = select_members(customers, spec.where).to_pandas()
            write_table_atomic(members, export, TABLE_FORMATS[export.suffix.lower()])
            err.print(f"export:  {export} ({len(members):,} members)", markup=False)
        if fmt is SegmentFormat.html:
            section = SegmentExplorerSection(
                spec=spec, name=save or segment, table=table, min_count=min_count, profile=profile
            )
            html = render_report(tables, lang=lang, sections=[section], as_of=day)
            write_text_atomic(out_file, html)
            err.print(f"report:  {out_file}", markup=False)
            return
    text = profile.to_json(lang) if fmt is SegmentFormat.json else _text(profile, lang)
    if out_file is not None:
        write_text_atomic(out_file, text + "\n")
        err.print(f"wrote {out_file}", markup=False)
    else:
        sys.stdout.write(text + "\n")


def segments_file_for(db: str) -> Path:
    """``segments.toml`` in the workspace folder (the folder itself for a folder of tables)."""
    path = Path(db)
    return path / "segments.toml" if path.is_dir() else segments_file(path)


def _spec(where: str | None, segment: str | None, saved_file: Path, **options: str | None) -> SegmentSpec:
    if segment is not None:
        if where is not None:
            raise ConfigError(
                "give --where or --segment, not both", "--segment NAME runs a saved segment as it was saved"
            )
        saved = load_segment(saved_file, segment)
        changes = _options(**options)
        return SegmentSpec(**(saved.to_dict() | changes)) if changes else saved
    if where is None:
        raise ConfigError(
            "no cohort: give --where FILTER or --segment NAME",
            "e.g. --where \"sales_to_support_days > 30 and customer_tier in ('Gold', 'Platinum')\"",
        )
    return SegmentSpec(where=where, **_options(**options))


def _options(*, metric, by, by_metric, flags, matrix) -> dict:
    changes: dict = {"metric": metric, "by": by, "by_metric": by_metric}
    if flags is not None:
        changes["flags"] = tuple(_names(flags, "--flags"))
    if matrix is not None:
        names = _names(matrix, "--matrix")
        if len(names) != 2:
            raise ConfigError(
                f"--matrix {matrix!r}: needs two columns", "e.g. --matrix activity_risk_level,engagement_velocity"
            )
        changes["matrix"] = tuple(names)
    return {k: v for k, v in changes.items() if v is not None}


def _names(text: str, option: str) -> list[str]:
    names = [part.strip() for part in text.split(",")]
    if not all(names):
        raise ConfigError(f"{option} {text!r}: an empty column name", f"e.g. {option} a,b")
    return names


def _text(profile, lang: str) -> str:
    t = Messages(lang)
    sentences = profile.sentences(lang)
    lines = [t("explorer.group_findings"), ""]
    lines += [f"- {s}" for s in sentences["observations"]]
    lines += [""] + [f"* {s}" for s in sentences["recommendations"]]
    return "\n".join(lines)


__all__ = ["segment_command"]
