"""The data contract: the canonical tables every analysis reads, and their columns.

Users map their own column names onto these (see :mod:`memberlens.schema.mapping`). Column kinds
say how a raw value is parsed:

``id``
    an identifier, kept as text (``17850.0`` exported by a spreadsheet becomes ``17850``)
``text``
    free text, trimmed; empty becomes null
``timestamp``
    a date or date-time (ISO, ``m/d/Y H:MM``, ``d/m/Y`` when told, ``YYYYMMDD``, Excel serials)
``number``
    a finite float; ``NaN``, ``inf`` and non-numeric text are invalid
``bool``
    ``true/false``, ``yes/no``, ``1/0``, ``y/n``, ``t/f``

Every canonical table also carries ``_source`` (which ingested source the row came from) and
``_row`` (its row number in that source), so each row can be traced back.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

Kind = Literal["id", "text", "timestamp", "number", "bool"]

SOURCE_COLUMN = "_source"
ROW_COLUMN = "_row"


@dataclass(frozen=True)
class Column:
    name: str
    kind: Kind
    required: bool = False
    description: str = ""


@dataclass(frozen=True)
class TableContract:
    """A canonical table: its columns, and whether it keeps unmapped source columns."""

    name: str
    columns: tuple[Column, ...]
    keeps_extra_columns: bool = False
    description: str = ""

    def column(self, name: str) -> Column:
        return next(c for c in self.columns if c.name == name)

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(c.name for c in self.columns)

    @property
    def required(self) -> tuple[str, ...]:
        return tuple(c.name for c in self.columns if c.required)


ORDERS = TableContract(
    "orders",
    (
        Column("customer_id", "id", True, "the member or customer who ordered"),
        Column("order_id", "id", True, "the order (invoice); lines of one order share it"),
        Column("ordered_at", "timestamp", True, "when the order was placed"),
        Column("amount", "number", False, "line amount; quantity x unit_price when absent"),
        Column("quantity", "number", False, "units on the line"),
        Column("unit_price", "number", False, "price of one unit"),
        Column("product_id", "id", False, "product or SKU code"),
        Column("product_name", "text", False, "product description"),
        Column("country", "text", False, "country or region of the order"),
        Column("channel", "text", False, "sales channel"),
        Column("coupon_amount", "number", False, "coupon value used on the line"),
        Column("is_cancellation", "bool", False, "the line cancels an earlier order"),
    ),
    description="order lines (or orders): the one table every analysis needs",
)

MEMBERS = TableContract(
    "members",
    (
        Column("customer_id", "id", True),
        Column("registered_at", "timestamp"),
        Column("activated_at", "timestamp"),
        Column("tier", "text"),
        Column("region", "text"),
        Column("marketable", "bool", description="has a reachable contact"),
        Column("unsubscribed_at", "timestamp"),
    ),
    keeps_extra_columns=True,
    description="the member registry",
)

EVENTS = TableContract(
    "events",
    (
        Column("customer_id", "id", True),
        Column("occurred_at", "timestamp", True),
        Column("event_type", "text"),
        Column("engagement", "number", description="page views, downloads, plays..."),
    ),
    description="web/app events",
)

CAMPAIGNS = TableContract(
    "campaigns",
    (
        Column("customer_id", "id", True),
        Column("campaign_id", "id", True),
        Column("sent_at", "timestamp", True),
        Column("channel", "text"),
        Column("cost", "number"),
        Column("responded", "bool"),
        Column("converted_at", "timestamp"),
        Column("revenue", "number"),
        Column("coupon_id", "id"),
    ),
    description="marketing sends and responses",
)

MARKETING_COSTS = TableContract(
    "marketing_costs",
    (
        Column("date", "timestamp", True, "the day or the start of the period the cost is for"),
        Column("cost", "number", True),
        Column("channel", "text"),
        Column("kind", "text", description="media / coupon / points"),
    ),
    description="marketing spend per period",
)

CUSTOMER_360 = TableContract(
    "customer_360",
    (Column("customer_id", "id", True),),
    keeps_extra_columns=True,
    description="one wide row per customer, any columns (what the segment explorer reads)",
)

REFERRALS = TableContract(
    "referrals",
    (
        Column("referrer_id", "id", True, "the member who referred (the customer id of the orders table)"),
        Column("referred_id", "id", True, "the member they brought in"),
        Column("referred_at", "timestamp", True, "when the referred member signed up through the referral"),
        Column("channel", "text", False, "how the referral was made (link, code, social...)"),
        Column("reward_cost", "number", False, "what the referral cost in rewards (both sides)"),
    ),
    description="who referred whom (the word-of-mouth network)",
)

CONTRACTS: dict[str, TableContract] = {
    c.name: c for c in (ORDERS, MEMBERS, EVENTS, CAMPAIGNS, MARKETING_COSTS, CUSTOMER_360, REFERRALS)
}

# Where rows that are set aside, and cancellation lines, are kept.
CANCELLATIONS_TABLE = "cancellations"

#: the tables a snapshot of the data holds: the contract's and the cancellation lines
SOURCE_TABLES = (*CONTRACTS, CANCELLATIONS_TABLE)

#: how to add a missing table
UNLOCK_HINTS = {
    "orders": "memberlens ingest ORDERS_FILE",
    **{name: f"memberlens ingest FILE --table {name}" for name in CONTRACTS if name != "orders"},
    "member_scores": "memberlens score (or memberlens score --every month --from DATE for a history)",
}


def set_aside_table(table: str) -> str:
    return f"{table}_set_aside"
