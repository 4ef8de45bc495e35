"""The data as it stood at the start of a day: the one place memberlens cuts tables by date.

``--as-of D`` means "what memberlens would have printed on the morning of D". A
:class:`Snapshot` holds the source tables as they were known then, and every analysis, model,
report section and export reads it; no other code compares a row's time with a cut-off.

* Rows stamped on or after D are absent: orders by ``ordered_at``, cancellation lines by
  ``ordered_at``, events by ``occurred_at``, campaign sends by ``sent_at``, members by
  ``registered_at``, marketing costs by ``date``, referrals by ``referred_at``. A row without a
  stamp (a member with no registration date) carries no date to be late by and is kept.
* Facts on earlier rows that happen on or after D are not known yet: a campaign conversion then
  is no response (``responded`` false, ``converted_at`` empty, ``revenue`` 0); a later
  activation or unsubscription is empty, and a member who unsubscribed later is still
  marketable.
* Tables without time stamps (``customer_360``) are as they are.

Without a date, D is the day after the last order: the first day nothing is known about (with
no orders, the tables are taken as they are).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, timedelta

import ibis
import ibis.expr.types as ir
import pandas as pd

from memberlens.errors import ConfigError, MissingTableError
from memberlens.schema.contract import SOURCE_TABLES, UNLOCK_HINTS

#: the column that places each table's rows in time
STAMPS = {
    "orders": "ordered_at",
    "cancellations": "ordered_at",
    "events": "occurred_at",
    "campaigns": "sent_at",
    "members": "registered_at",
    "marketing_costs": "date",
    "referrals": "referred_at",
}
#: the member score history (``memberlens score``): a score as of D is known on the morning of D
SCORES_TABLE = "member_scores"
#: tables whose rows describe a day and are known on its morning: kept up to and including D
KNOWN_ON_THE_DAY = {SCORES_TABLE: "as_of"}
#: every table a snapshot of a workspace holds
SNAPSHOT_TABLES = (*SOURCE_TABLES, SCORES_TABLE)


def as_date(value: date | str) -> date:
    """A day as a date (``YYYY-MM-DD`` text accepted)."""
    if isinstance(value, pd.Timestamp):
        return value.date()
    if isinstance(value, date):
        return value
    try:
        return date.fromisoformat(str(value))
    except ValueError as exc:
        raise ConfigError(f"cut-off {value!r} is not a date", "use YYYY-MM-DD, e.g. 2024-07-01") from exc


def start_of(day: date) -> ir.TimestampValue:
    """The first instant of ``day``: rows at or after it are not known on its morning."""
    return ibis.date(day.isoformat()).cast("timestamp")


def day_after_last_order(orders: ir.Table) -> date:
    """The day after the last order: the first day nothing is known about."""
    last = orders.ordered_at.max().execute()
    if last is None or pd.isna(last):
        raise ConfigError("the orders table is empty", "ingest orders first: memberlens ingest ORDERS_FILE")
    return pd.Timestamp(last).date() + timedelta(days=1)


def known_rows(table: ir.Table, stamp: str, day: date) -> ir.Table:
    """The rows of ``table`` stamped before ``day`` (and those with no stamp)."""
    return table.filter(table[stamp].isnull() | (table[stamp] < start_of(day)))


def _known_campaigns(campaigns: ir.Table, cut: ir.TimestampValue) -> ir.Table:
    converted = campaigns.converted_at.notnull() & (campaigns.converted_at < cut)
    changes: dict[str, ir.Value] = {
        "converted_at": ibis.ifelse(converted, campaigns.converted_at, ibis.null("timestamp"))
    }
    if "responded" in campaigns.columns:
        changes["responded"] = campaigns.responded.fill_null(False) & converted
    if "revenue" in campaigns.columns:
        changes["revenue"] = ibis.ifelse(converted, campaigns.revenue.fill_null(0.0), 0.0)
    return campaigns.mutate(**changes)


def _known_members(members: ir.Table, cut: ir.TimestampValue) -> ir.Table:
    changes: dict[str, ir.Value] = {}
    if "activated_at" in members.columns:
        changes["activated_at"] = ibis.ifelse(members.activated_at < cut, members.activated_at, ibis.null("timestamp"))
    if "unsubscribed_at" in members.columns:
        later = members.unsubscribed_at.notnull() & (members.unsubscribed_at >= cut)
        changes["unsubscribed_at"] = ibis.ifelse(later, ibis.null("timestamp"), members.unsubscribed_at)
        if "marketable" in members.columns:
            changes["marketable"] = ibis.ifelse(later, True, members.marketable)
    return members.mutate(**changes) if changes else members


def tables_as_of(tables: Mapping[str, ir.Table | None], day: date | str) -> dict[str, ir.Table]:
    """The tables as they were known at the start of ``day`` (absent tables stay absent)."""
    day = as_date(day)
    cut = start_of(day)
    out: dict[str, ir.Table] = {}
    for name, table in tables.items():
        if table is None:
            continue
        stamp = STAMPS.get(name)
        if stamp is not None and stamp in table.columns:
            table = known_rows(table, stamp, day)
        if name in KNOWN_ON_THE_DAY:
            table = table.filter(table[KNOWN_ON_THE_DAY[name]] <= ibis.date(day.isoformat()))
        if name == "campaigns" and "converted_at" in table.columns:
            table = _known_campaigns(table, cut)
        elif name == "members":
            table = _known_members(table, cut)
        out[name] = table
    return out


@dataclass(frozen=True)
class Snapshot:
    """The source tables as they stood at the start of ``day``; ``given`` says whether the user
    chose the day (``--as-of``) or it is the day after the last order."""

    day: date | None
    tables: Mapping[str, ir.Table]
    given: bool = False
    location: str = "the workspace"

    def has(self, *names: str) -> bool:
        return all(name in self.tables for name in names)

    def table(self, name: str) -> ir.Table:
        if name not in self.tables:
            hint = UNLOCK_HINTS.get(name, "memberlens ingest FILE")
            raise MissingTableError(f"{self.location}: the workspace has no '{name}' table", f"add it with: {hint}")
        return self.tables[name]

    @property
    def last_day(self) -> date | None:
        """The last day whose data the snapshot holds (the day before ``day``)."""
        return None if self.day is None else self.day - timedelta(days=1)


def orders_before(orders: ir.Table, as_of: date | None) -> ir.Table:
    """Order lines known at the start of ``as_of`` (all of them without a date): the snapshot's
    cut (:mod:`memberlens.snapshot`) of the orders alone."""
    return orders if as_of is None else tables_as_of({"orders": orders}, as_of)["orders"]


def take_snapshot(
    tables: Mapping[str, ir.Table | None], as_of: date | str | None = None, *, location: str = "the workspace"
) -> Snapshot:
    """The snapshot at ``as_of`` (default: the day after the last order) of ``tables``."""
    present = {name: table for name, table in tables.items() if table is not None}
    if as_of is None:
        if "orders" not in present:  # no orders to date the data by: every row as it is
            return Snapshot(day=None, tables=present, location=location)
        day = day_after_last_order(present["orders"])
    else:
        day = as_date(as_of)
    return Snapshot(day=day, tables=tables_as_of(present, day), given=as_of is not None, location=location)


def snapshot_of(workspace, as_of: date | str | None = None) -> Snapshot:
    """The snapshot of the source tables a workspace (a :class:`memberlens.io.catalog.Tables`)
    holds."""
    present = set(workspace.list_tables())
    tables = {name: workspace.table(name) for name in SNAPSHOT_TABLES if name in present}
    return take_snapshot(tables, as_of, location=str(workspace.location))


__all__ = [
    "KNOWN_ON_THE_DAY",
    "SCORES_TABLE",
    "SNAPSHOT_TABLES",
    "STAMPS",
    "Snapshot",
    "as_date",
    "day_after_last_order",
    "known_rows",
    "snapshot_of",
    "start_of",
    "take_snapshot",
    "tables_as_of",
]
