"""``memberlens info``: what the workspace holds, and the ledger of every source."""

from __future__ import annotations

from typing import Annotated

from memberlens.cli._common import FormatOption, OutputFormat, option_db, option_engine, out, print_json, print_records
from memberlens.i18n import describe_reason
from memberlens.io.catalog import open_tables
from memberlens.schema.ledger import batches_summed


def info_command(
    db: Annotated[str, option_db()] = "memberlens.duckdb",
    engine: Annotated[str, option_engine()] = "duckdb",
    fmt: FormatOption = OutputFormat.table,
) -> None:
    """Show the workspace's tables and the data-quality ledger (rows read = used + set aside)."""
    with open_tables(engine, db) as workspace:
        tables = workspace.row_counts()
        ledgers = workspace.ledgers()
    appended = batches_summed(ledgers)
    if fmt is OutputFormat.json:
        print_json(
            {
                "workspace": db,
                "tables": tables,
                "sources": [ledger.to_dict() for ledger in ledgers],
                "appended": [ledger.to_dict() for ledger in appended],
            }
        )
        return
    records = [
        {"source": ledger.source, "table": ledger.table, "outcome": outcome, "reason": reason, "rows": rows}
        for ledger in ledgers
        for outcome, reason, rows in [
            ("read", None, ledger.rows_read),
            ("used", None, ledger.rows_used),
            *(("set_aside", r, n) for r, n in ledger.set_aside.items()),
        ]
    ]
    if fmt is OutputFormat.csv:
        print_records(records, fmt)
        return
    print_records([{"table": t, "rows": n} for t, n in tables.items()], fmt, title=f"workspace {db}")
    for record in records:
        if record["reason"]:
            record["reason"] = f"{record['reason']}: {describe_reason(record['reason'])}"
    print_records(records, fmt, title="data-quality ledger")
    if appended:
        print_records(
            [
                {
                    "source": a.source,
                    "table": a.table,
                    "batches": a.details["batches"],
                    "read": a.rows_read,
                    "used": a.rows_used,
                    "set_aside": a.rows_set_aside,
                }
                for a in appended
            ],
            fmt,
            title="appended sources, their batches summed",
        )
    unbalanced = [ledger.source for ledger in ledgers if not ledger.balanced]
    out.print("every row accounted for" if not unbalanced else f"NOT BALANCED: {unbalanced}", markup=False)
