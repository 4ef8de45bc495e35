"""The data-quality ledger: where every input row went.

For each source: rows read = rows used + the rows set aside under each named reason. The counts
come from the engine (rows read from the staging table and the reader's rejects; the outcomes
from the classified rows), and :func:`build_source_ledger` refuses to record a ledger that does
not balance.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class SourceLedger:
    """Where the rows of one ingested source went."""

    source: str
    table: str
    location: str
    rows_read: int
    rows_used: int
    set_aside: dict[str, int] = field(default_factory=dict)
    details: dict[str, Any] = field(default_factory=dict)

    @property
    def rows_set_aside(self) -> int:
        return sum(self.set_aside.values())

    @property
    def balanced(self) -> bool:
        return self.rows_read == self.rows_used + self.rows_set_aside

    def to_dict(self) -> dict[str, Any]:
        return {
            "source": self.source,
            "table": self.table,
            "location": self.location,
            "rows_read": self.rows_read,
            "rows_used": self.rows_used,
            "rows_set_aside": self.rows_set_aside,
            "set_aside": dict(self.set_aside),
            "balanced": self.balanced,
            **self.details,
        }


def batches_summed(ledgers: list[SourceLedger]) -> list[SourceLedger]:
    """One ledger per appended source (``memberlens ingest --append``) and table: its batches'
    rows read, used and set aside per reason, summed; ``details["batches"]`` counts them."""
    streams: dict[tuple[str, str], list[SourceLedger]] = {}
    for ledger in ledgers:
        if ledger.details.get("stream"):
            streams.setdefault((ledger.details["stream"], ledger.table), []).append(ledger)
    summed = []
    for (stream, table), batches in streams.items():
        reasons: dict[str, int] = {}
        for batch in batches:
            for reason, rows in batch.set_aside.items():
                reasons[reason] = reasons.get(reason, 0) + rows
        summed.append(
            SourceLedger(
                source=stream,
                table=table,
                location=f"{len(batches)} batches",
                rows_read=sum(b.rows_read for b in batches),
                rows_used=sum(b.rows_used for b in batches),
                set_aside=dict(sorted(reasons.items())),
                details={"batches": len(batches)},
            )
        )
    return summed


class LedgerImbalance(AssertionError):
    """Rows were lost or double-counted: a bug in memberlens, never the user's input."""


def build_source_ledger(
    *,
    source: str,
    table: str,
    location: str,
    rows_read: int,
    outcome_counts: dict[str | None, int],
    details: dict[str, Any] | None = None,
) -> SourceLedger:
    """``outcome_counts`` maps a reason (``None`` for used) to its row count."""
    set_aside = {reason: n for reason, n in sorted(outcome_counts.items(), key=lambda kv: str(kv[0])) if reason and n}
    ledger = SourceLedger(
        source=source,
        table=table,
        location=location,
        rows_read=rows_read,
        rows_used=outcome_counts.get(None, 0),
        set_aside=set_aside,
        details=details or {},
    )
    if not ledger.balanced:
        raise LedgerImbalance(
            f"ledger of {source!r} does not balance: read {rows_read}, used {ledger.rows_used}, "
            f"set aside {ledger.rows_set_aside}"
        )
    return ledger
