"""The ledger as two tables, as a workspace keeps it and ``memberlens export-tables`` writes it:
``sources`` (one row per ingested source: source, table_name, location, rows_read, details) and
``ledger`` (per source and table, the rows used and set aside by reason)."""

from __future__ import annotations

import json

from memberlens.schema.ledger import SourceLedger

LEDGER_TABLE = "ledger"
SOURCES_TABLE = "sources"


def ledgers_from(sources: list[tuple], outcomes: list[tuple]) -> list[SourceLedger]:
    """Ledgers from the rows of the ``sources`` table (source, table_name, location, rows_read,
    details) in ingest order and of the ``ledger`` table (source, table_name, reason, rows)."""
    result = []
    for source, table, location, rows_read, details in sources:
        counts = {reason: int(rows) for s, t, reason, rows in outcomes if (s, t) == (source, table)}
        result.append(
            SourceLedger(
                source=source,
                table=table,
                location=location,
                rows_read=int(rows_read),
                rows_used=counts.pop(None, 0),
                set_aside=dict(sorted(counts.items())),
                details=json.loads(details),
            )
        )
    return result
