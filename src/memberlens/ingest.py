"""Ingest: read a source, map its columns, clean it, and record where every row went.

    source --stage--> staging table --map + classify--> canonical rows | cancellations | set aside
                                                              \\--> ledger (read = used + set aside)

The classification is one Ibis expression (:func:`memberlens.schema.cleaning.classify_rows`),
run once into a temporary table; the workspace then swaps this source's rows in atomically.
"""

from __future__ import annotations

import hashlib
import os
import stat
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import ibis
import ibis.expr.types as ir
import pandas as pd

from memberlens.errors import InputError
from memberlens.io.sources import ReadOptions, StagedSource, new_table_name, stage_source
from memberlens.io.workspace import Workspace
from memberlens.referrals.graph import loop_closing_rows
from memberlens.schema.cleaning import (
    CANCELLATION,
    MALFORMED_LINE,
    REASON_COLUMN,
    CleaningPolicy,
    cast_extra_columns,
    classify_rows,
    detect_decimal_marks,
    infer_extra_column_types,
)
from memberlens.schema.contract import CANCELLATIONS_TABLE, ROW_COLUMN, SOURCE_COLUMN, set_aside_table
from memberlens.schema.ledger import SourceLedger, build_source_ledger
from memberlens.schema.mapping import Mapping, MappingSpec, contract_for, preset_spec, resolve_mapping
from memberlens.schema.referral_rules import CLOSES_CYCLE

EARLIER_BATCH = "duplicate_in_earlier_batch"  # appended: an exact copy of a row an earlier batch brought
DIGEST_CHUNK = 1 << 20


@dataclass(frozen=True)
class IngestResult:
    """What one ingest did: the ledger of the source and the mapping that was applied (None
    when an appended batch was already there and nothing was read)."""

    ledger: SourceLedger
    mapping: Mapping | None
    warnings: list[str] = field(default_factory=list)
    unchanged: bool = False

    def to_dict(self) -> dict[str, Any]:
        return {
            **self.ledger.to_dict(),
            "mapping": self.mapping.to_dict() if self.mapping else None,
            "warnings": self.warnings,
            "unchanged": self.unchanged,
        }


def batch_source(stream: str, batch: str) -> str:
    """The source name of one appended batch of ``stream``: ``STREAM#BATCH``."""
    return f"{stream}#{batch}"


def content_digest(path: str | Path) -> str:
    """The first 16 hex digits of the SHA-256 of a file's bytes: a batch's name when none is given."""
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(DIGEST_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()[:16]


def source_name_for(source: Any) -> str:
    """A source's default name: the file's absolute path (so two files never share a name, and
    the same file re-ingested from anywhere replaces itself); ``frame`` for an in-memory table."""
    if isinstance(source, (str, Path)):
        return str(Path(source).resolve())
    return "frame"


def ingest(
    workspace: Workspace,
    source: Any,
    *,
    table: str | None = None,
    name: str | None = None,
    mapping: MappingSpec | None = None,
    preset: str | None = None,
    policy: CleaningPolicy | None = None,
    options: ReadOptions | None = None,
    replace: bool = False,
    append: bool = False,
    batch: str | None = None,
) -> IngestResult:
    """Ingest ``source`` into ``workspace`` as canonical ``table`` (default: the preset's, or orders).

    ``source`` is a path (CSV, gzip'd CSV, Parquet file or folder, .xlsx), a pandas, polars or
    pyarrow table, or an Ibis table of any backend. ``name`` defaults to the file's absolute path.
    Re-ingesting the same source replaces what it contributed to ``table`` before; a different
    file under a name already in ``table`` is refused unless ``replace``.

    With ``append``, ``source`` is one batch (a day's orders, say) added to the source ``name``
    (default: the table's name) beside its earlier batches, which are not read again: the batch
    is named ``batch`` or, by default, by its content's digest, so the same batch twice changes
    nothing; its rows that copy an earlier batch's are set aside as ``duplicate_in_earlier_batch``;
    its ledger is its own (``memberlens info`` sums a source's batches).
    """
    check_regular_file(source)
    spec = mapping or MappingSpec()
    if preset:
        spec = spec.merged_over(preset_spec(preset))
    contract = contract_for(table or spec.table or "orders")
    policy = policy or CleaningPolicy()
    stream, digest = None, None
    if append:
        stream, digest, name, earlier = _batch(workspace, source, contract.name, name, batch)
        if earlier is not None and earlier.details.get("sha256") == digest:
            return IngestResult(
                ledger=earlier,
                mapping=None,
                unchanged=True,
                warnings=[f"{source}: batch {name.partition('#')[2]!r} of {stream} is already there; nothing changed"],
            )
        if earlier is not None and not replace:
            raise InputError(
                f"{source}: batch {name.partition('#')[2]!r} of {stream} already holds other rows "
                f"(read from {earlier.location})",
                "give this batch its own --batch name, or pass --replace to replace it",
            )
        replace = True  # the batch's name is its own: another location under it is this batch again
    name = name or source_name_for(source)
    with workspace.scratch_dir() as scratch:
        staged = stage_source(workspace.raw, source, name, options or ReadOptions(), scratch)
    resolved = resolve_mapping(contract, staged.columns, spec, where=staged.location)
    if staged.rows == 0 and staged.malformed == 0:
        raise InputError(f"{staged.location}: has a header but no data rows", "export the table again with its rows")
    raw_table = workspace.temp_table(staged.table)
    resolved = resolved.with_decimal_marks(
        detect_decimal_marks(raw_table, contract, resolved, where=staged.location, forced=spec.decimal)
    )
    classified = classify_rows(raw_table, contract, resolved, policy)
    classified = cast_extra_columns(classified, infer_extra_column_types(raw_table, resolved.extra_columns))
    classified = workspace.materialise_temp(new_table_name("classified"), classified)
    if contract.name == "referrals":
        classified = _mark_loops(workspace, classified)
    if append and policy.drop_duplicates:
        classified = _mark_earlier_batches(workspace, classified, contract.name, stream, name)

    outcome_counts = _outcome_counts(classified)
    if staged.malformed:
        outcome_counts[MALFORMED_LINE] = staged.malformed
    ledger = build_source_ledger(
        source=name,
        table=contract.name,
        location=staged.location,
        rows_read=staged.rows + staged.malformed,
        outcome_counts=outcome_counts,
        details={
            "kind": staged.kind,
            **staged.details,
            **({"stream": stream, "batch": name.partition("#")[2], "sha256": digest} if append else {}),
        },
    )
    workspace.replace_source(
        ledger=ledger,
        parts=_parts(contract.name, raw_table, classified),
        malformed_lines=staged.rejects_table if staged.malformed else None,
        metadata={"mapping": resolved.to_dict(), "policy": policy.to_dict()},
        replace=replace,
    )
    return IngestResult(ledger=ledger, mapping=resolved, warnings=_warnings(ledger, staged))


def check_regular_file(source: Any) -> None:
    """Refuse a named pipe, a device or a socket given as a source (``<(cat f)`` is a pipe):
    a file is opened several times (to sniff it, then to load it), which a pipe cannot give —
    it read as empty, or, with no writer, blocked forever. A missing path is left to staging."""
    if not isinstance(source, (str, os.PathLike)):
        return
    try:
        mode = os.stat(source).st_mode
    except OSError:
        return
    if stat.S_ISREG(mode) or stat.S_ISDIR(mode):
        return
    kind = (
        "a named pipe"
        if stat.S_ISFIFO(mode)
        else "a device"
        if stat.S_ISCHR(mode) or stat.S_ISBLK(mode)
        else "a socket"
        if stat.S_ISSOCK(mode)
        else "a special file"
    )
    raise InputError(
        f"{source}: is {kind}, not a regular file",
        "save what it gives to a file first (e.g. cat ... > orders.csv) and ingest that file",
    )


def _mark_loops(workspace: Workspace, classified: ir.Table) -> ir.Table:
    """Referrals that close a loop among this source's used rows: ``closes_cycle`` (the latest
    of each loop; :mod:`memberlens.referrals.graph`)."""
    used = classified.filter(classified[REASON_COLUMN].isnull())
    rows = loop_closing_rows(used)
    if not rows:
        return classified
    closing = workspace.con.create_table(new_table_name("closing"), pd.DataFrame({"_closing_row": rows}), temp=True)
    marked = classified.left_join(closing, classified[ROW_COLUMN] == closing._closing_row)
    reason = ibis.ifelse(marked._closing_row.notnull(), CLOSES_CYCLE, marked[REASON_COLUMN])
    marked = marked.mutate(**{REASON_COLUMN: reason}).drop("_closing_row")
    return workspace.materialise_temp(new_table_name("classified"), marked)


def _batch(
    workspace: Workspace, source: Any, table: str, stream: str | None, batch: str | None
) -> tuple[str, str | None, str, SourceLedger | None]:
    """An appended batch's stream, content digest, source name and earlier ledger (if any)."""
    stream = stream or table
    if "#" in stream:
        raise InputError(f"--name {stream!r}: a source appended to cannot have # in its name", "choose another --name")
    digest = content_digest(source) if isinstance(source, (str, os.PathLike)) and Path(source).is_file() else None
    if batch is None and digest is None:
        raise InputError(f"{source}: a batch that is not one file needs a --batch name", "e.g. --batch 2024-06-01")
    name = batch_source(stream, batch or digest)
    earlier = next((ledger for ledger in workspace.ledgers() if (ledger.source, ledger.table) == (name, table)), None)
    return stream, digest, name, earlier


def _mark_earlier_batches(workspace: Workspace, classified: ir.Table, table: str, stream: str, name: str) -> ir.Table:
    """Used rows that are exact copies of a row another batch of ``stream`` brought to ``table``:
    set aside as ``duplicate_in_earlier_batch`` (nulls equal nulls)."""
    if not workspace.has_table(table):
        return classified
    earlier = workspace.table(table)
    earlier = earlier.filter(earlier[SOURCE_COLUMN].startswith(f"{stream}#") & (earlier[SOURCE_COLUMN] != name))
    columns = [
        c
        for c in classified.columns
        if c not in (SOURCE_COLUMN, ROW_COLUMN, REASON_COLUMN)
        and c in earlier.columns
        and classified[c].type() == earlier[c].type()
    ]
    if not columns:
        return classified
    if "customer_id" in columns:  # only the batch's customers' earlier rows can be copies: a semi join first
        earlier = earlier.semi_join(classified.select("customer_id").distinct(), "customer_id")
    seen = earlier.select(*columns).distinct().mutate(_earlier=ibis.literal(True))
    joined = classified.left_join(seen, [classified[c].identical_to(seen[c]) for c in columns])
    reason = ibis.ifelse(
        joined[REASON_COLUMN].isnull() & joined._earlier.notnull(), EARLIER_BATCH, joined[REASON_COLUMN]
    )
    marked = joined.select(*(reason.name(c) if c == REASON_COLUMN else joined[c] for c in classified.columns))
    return workspace.materialise_temp(new_table_name("classified"), marked)


def _outcome_counts(classified: ir.Table) -> dict[str | None, int]:
    counts = classified.group_by(REASON_COLUMN).aggregate(rows=classified.count()).execute()
    return {
        (None if reason is None or reason != reason else reason): int(rows)
        for reason, rows in zip(counts[REASON_COLUMN], counts["rows"])
    }


def _parts(table: str, raw_table: ir.Table, classified: ir.Table) -> dict[str, ir.Table]:
    """This source's rows for each workspace table: used, cancellations, set aside (raw text)."""
    reason = classified[REASON_COLUMN]
    parts = {table: classified.filter(reason.isnull()).drop(REASON_COLUMN)}
    if table == "orders":
        parts[CANCELLATIONS_TABLE] = classified.filter(reason == CANCELLATION).drop(REASON_COLUMN)
    set_aside = classified.filter(reason.notnull() & (reason != CANCELLATION)).select(ROW_COLUMN, REASON_COLUMN)
    raw_columns = [c for c in raw_table.columns if c not in (SOURCE_COLUMN, ROW_COLUMN)]
    joined = raw_table.join(set_aside, ROW_COLUMN)
    parts[set_aside_table(table)] = joined.select(
        joined[SOURCE_COLUMN],
        joined[ROW_COLUMN],
        joined[REASON_COLUMN],
        *(joined[c].cast("string").name(c) for c in raw_columns),
    )
    return parts


def _warnings(ledger: SourceLedger, staged: StagedSource) -> list[str]:
    warnings = []
    if ledger.rows_used == 0:
        warnings.append(f"{staged.location}: no row passed the cleaning policy; see the ledger for why")
    if staged.malformed:
        warnings.append(f"{staged.location}: {staged.malformed} malformed line(s) set aside")
    return warnings


__all__ = ["EARLIER_BATCH", "IngestResult", "batch_source", "content_digest", "ingest", "source_name_for"]
