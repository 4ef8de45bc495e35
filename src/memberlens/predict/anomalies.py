"""Anomalies ("识别黄牛或VIP", spotting scalpers or VIPs; the super orders that move a period's
averages): unusual orders and unusual members, each with the reason it was flagged.

Unusual orders — an order is flagged by any of:

``product_quantity``
    a line's quantity is at least ``product_ratio`` times the median quantity per line of its
    product (products with at least ``min_product_lines`` lines) and at least ``min_units``;
``order_units`` / ``order_amount``
    the order's units (at least ``min_units``) or amount are at least ``order_ratio`` times the
    median order's — this catches a bulk order of a product nobody else buys (the UCI Online
    Retail data's 80,995-unit order, invoice 581483);
``customer_history``
    the order's amount is at least ``customer_ratio`` times the customer's own median order
    (customers with at least ``min_customer_orders`` orders).

``cancelled`` is added to a flagged order when cancellation lines of the same customer and
product, dated at or after it, cancel at least a line's quantity (UCI invoices 581483 and 541431
were cancelled minutes later by C581484 and C541433).

Unusual members — a member is flagged by any of:

``bulk_orders``
    at least one order flagged for its units (``product_quantity`` or ``order_units``);
``orders_in_a_day``
    at least ``orders_per_day`` orders on one calendar day;
``extreme_spend``
    the robust z-score of log spend, ``0.6745 (ln spend − median) / MAD`` (Iglewicz & Hoaglin
    1993), is at least ``spend_z`` (3.5, their recommended cut-off).

A member flagged for bulk orders or a burst of orders is a ``reseller`` (黄牛): volume beyond
one household. A member flagged only for spend is a ``vip``: high value through normal orders.

Medians and MADs are computed in the engine (medians by aggregation, never by a window); only
the flagged orders and members come to Python, where :func:`explain_orders` and
:func:`explain_members` turn their numbers into sentences in the user's language.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import ibis
import ibis.expr.types as ir
import pandas as pd

from memberlens import format as f
from memberlens.errors import InputError
from memberlens.i18n import Messages
from memberlens.io.files import write_text_atomic
from memberlens.io.jsonable import json_ready, json_text
from memberlens.metrics._arith import money_sum, ratio
from memberlens.metrics.products import name_products
from memberlens.parameters import check_choice, check_number
from memberlens.predict._base import PredictionModel, read_json_model
from memberlens.snapshot import orders_before, tables_as_of

ORDER_REASONS = ("product_quantity", "order_units", "order_amount", "customer_history", "cancelled")
MEMBER_REASONS = ("bulk_orders", "orders_in_a_day", "extreme_spend")
UNIT_REASONS = ("product_quantity", "order_units")
MAD_TO_Z = 0.6745  # the 0.75 quantile of the standard normal: MAD / 0.6745 estimates sigma
FORMAT_VERSION = 1  # of a saved AnomalyModel


@dataclass(frozen=True)
class AnomalyThresholds:
    """When an order or a member is unusual (see the module docstring)."""

    product_ratio: float = 100.0
    min_units: float = 1_000.0
    min_product_lines: int = 5
    order_ratio: float = 100.0
    customer_ratio: float = 20.0
    min_customer_orders: int = 3
    orders_per_day: int = 10
    spend_z: float = 3.5

    def __post_init__(self) -> None:
        check_thresholds(asdict(self), type(self).__name__)

    def to_dict(self) -> dict[str, float | int]:
        return asdict(self)


def check_thresholds(values: dict[str, Any], owner: str) -> dict[str, float | int]:
    """The anomaly thresholds ``values`` (by :class:`AnomalyThresholds` field), checked: counts
    are ints from 1, ratios and cut-offs floats above 0."""
    checked: dict[str, float | int] = {}
    for item in fields(AnomalyThresholds):
        integer = item.type in ("int", int)
        checked[item.name] = check_number(
            values[item.name],
            item.name,
            owner,
            low=1 if integer else 0,
            low_open=not integer,
            integer=integer,
            hint=f"e.g. --{item.name.replace('_', '-')} {item.default:g}",
        )
    return checked


# -- orders ------------------------------------------------------------------------------------
def _is_cancellation(orders: ir.Table) -> ir.BooleanValue:
    if "is_cancellation" not in orders.columns:
        return ibis.literal(False)
    return orders.is_cancellation.fill_null(False)


def _purchase_lines(orders: ir.Table) -> ir.Table:
    """Order lines that are purchases (cancellation lines kept in ``orders`` are left out)."""
    return orders.filter(~_is_cancellation(orders) & orders.order_id.notnull())


_CANCELLATION_COLUMNS = ("order_id", "customer_id", "product_id", "ordered_at", "quantity")


def _cancellation_lines(orders: ir.Table, cancellations: ir.Table | None) -> ir.Table:
    """Cancellation lines: the ``cancellations`` table and those kept in ``orders``."""
    kept = orders.filter(_is_cancellation(orders)).select(*_CANCELLATION_COLUMNS)
    if cancellations is None:
        return kept
    return ibis.union(kept, cancellations.select(*_CANCELLATION_COLUMNS))


def _largest_line_per_order(lines: ir.Table, thresholds: AnomalyThresholds) -> ir.Table:
    """Per order, its line with the largest quantity relative to its product's median line."""
    known = lines.filter(lines.product_id.notnull() & lines.quantity.notnull())
    products = known.group_by("product_id").aggregate(
        product_median_quantity=known.quantity.median(), product_lines=known.count()
    )
    products = products.filter(products.product_lines >= thresholds.min_product_lines)
    view = lines.view()
    joined = view.join(products, view.product_id == products.product_id).select(
        view.order_id,
        view.product_id,
        view.quantity,
        products.product_median_quantity,
        product_ratio=ratio(view.quantity, products.product_median_quantity),
    )
    ranked = joined.mutate(
        position=ibis.row_number().over(
            group_by=joined.order_id,
            order_by=[joined.product_ratio.fill_null(-1.0).desc(), joined.quantity.desc(), joined.product_id],
        )
    )
    return ranked.filter(ranked.position == 0).drop("position")


def _order_totals(lines: ir.Table) -> ir.Table:
    return lines.group_by("order_id").aggregate(
        customer_id=lines.customer_id.min(),
        ordered_at=lines.ordered_at.min(),
        lines=lines.count(),
        units=lines.quantity.sum(),
        amount=money_sum(lines.amount),
    )


def score_orders(orders: ir.Table, thresholds: AnomalyThresholds = AnomalyThresholds()) -> ir.Table:
    """Every order with the numbers the order flags compare, and the flags (booleans)."""
    lines = _purchase_lines(orders)
    totals = _order_totals(lines)
    population = totals.aggregate(median_order_units=totals.units.median(), median_order_amount=totals.amount.median())
    per_customer = totals.view()
    customers = per_customer.group_by("customer_id").aggregate(
        customer_orders=per_customer.count(), customer_median_amount=per_customer.amount.median()
    )
    top = _largest_line_per_order(lines, thresholds)
    scored = totals.left_join(top, totals.order_id == top.order_id).select(
        totals, top.product_id, top.quantity, top.product_median_quantity, top.product_ratio
    )
    scored = (
        scored.left_join(customers, scored.customer_id == customers.customer_id)
        .select(scored, customers.customer_orders, customers.customer_median_amount)
        .cross_join(population)
    )
    units_ratio = ratio(scored.units, scored.median_order_units)
    amount_ratio = ratio(scored.amount, scored.median_order_amount)
    customer_ratio = ratio(scored.amount, scored.customer_median_amount)
    t = thresholds
    return scored.mutate(
        units_ratio=units_ratio,
        amount_ratio=amount_ratio,
        customer_ratio=customer_ratio,
        flag_product_quantity=((scored.product_ratio >= t.product_ratio) & (scored.quantity >= t.min_units)).fill_null(
            False
        ),
        flag_order_units=((units_ratio >= t.order_ratio) & (scored.units >= t.min_units)).fill_null(False),
        flag_order_amount=(amount_ratio >= t.order_ratio).fill_null(False),
        flag_customer_history=(
            (scored.customer_orders >= t.min_customer_orders)
            & (scored.amount > 0)
            & (customer_ratio >= t.customer_ratio)
        ).fill_null(False),
    )


def _cancelled_units(flagged_lines: ir.Table, cancellations: ir.Table) -> ir.Table:
    """Per flagged order: units of its products cancelled afterwards, and the first such
    cancellation's order id (same customer and product, dated at or after the order, cancelling
    at least the order's quantity of the product)."""
    bought = (
        flagged_lines.filter(flagged_lines.product_id.notnull())
        .group_by(["order_id", "customer_id", "product_id"])
        .aggregate(ordered_at=flagged_lines.ordered_at.min(), quantity=flagged_lines.quantity.sum())
    )
    c = cancellations
    matched = bought.join(
        c,
        [
            bought.customer_id == c.customer_id,
            bought.product_id == c.product_id,
            c.ordered_at >= bought.ordered_at,
            -c.quantity >= bought.quantity,
        ],
    ).select(bought.order_id, bought.product_id, bought.quantity, cancelled_by=c.order_id, cancelled_at=c.ordered_at)
    first = matched.mutate(
        position=ibis.row_number().over(
            group_by=[matched.order_id, matched.product_id], order_by=[matched.cancelled_at, matched.cancelled_by]
        )
    )
    first = first.filter(first.position == 0)
    return first.group_by("order_id").aggregate(
        cancelled_units=first.quantity.sum(), cancelled_by=first.cancelled_by.min()
    )


def flag_unusual_orders(
    orders: ir.Table,
    cancellations: ir.Table | None = None,
    thresholds: AnomalyThresholds = AnomalyThresholds(),
) -> ir.Table:
    """The unusual orders, most unusual first (``severity``: the largest of the ratios, then
    order id), each with its evidence and ``flag_*`` columns (see the module docstring).

    ``cancellations`` are cancellation lines in the orders layout (the workspace's
    ``cancellations`` table); cancellation lines kept in ``orders`` are used as well.
    """
    scored = score_orders(orders, thresholds)
    flags = [scored[f"flag_{reason}"] for reason in ORDER_REASONS if reason != "cancelled"]
    flagged = scored.filter(ibis.or_(*flags))
    cancelled_lines = _cancellation_lines(orders, cancellations)
    lines = _purchase_lines(orders)
    flagged_ids = flagged.select(flagged_id=flagged.order_id)
    flagged_lines = lines.semi_join(flagged_ids, lines.order_id == flagged_ids.flagged_id)
    cancelled = _cancelled_units(flagged_lines, cancelled_lines)
    names = name_products(orders)
    result = flagged.left_join(cancelled, flagged.order_id == cancelled.order_id).select(
        flagged, cancelled.cancelled_units, cancelled.cancelled_by
    )
    result = result.left_join(names, result.product_id == names.product_id).select(result, names.product_name)
    severity = ibis.greatest(
        result.product_ratio.fill_null(0.0),
        result.units_ratio.fill_null(0.0),
        result.amount_ratio.fill_null(0.0),
        result.customer_ratio.fill_null(0.0),
    )
    result = result.mutate(flag_cancelled=result.cancelled_units.notnull(), severity=severity)
    return result.select(*ORDER_COLUMNS).order_by([ibis.desc("severity"), "order_id"])


ORDER_COLUMNS = (
    "order_id",
    "customer_id",
    "ordered_at",
    "lines",
    "units",
    "amount",
    "product_id",
    "product_name",
    "quantity",
    "product_median_quantity",
    "product_ratio",
    "median_order_units",
    "units_ratio",
    "median_order_amount",
    "amount_ratio",
    "customer_orders",
    "customer_median_amount",
    "customer_ratio",
    "cancelled_units",
    "cancelled_by",
    *(f"flag_{reason}" for reason in ORDER_REASONS),
    "severity",
)


# -- members -----------------------------------------------------------------------------------
def _busiest_days(lines: ir.Table) -> ir.Table:
    """Per customer, the most orders placed on one calendar day and that day (ties: earliest)."""
    daily = (
        lines.mutate(day=lines.ordered_at.date())
        .group_by(["customer_id", "day"])
        .aggregate(day_orders=ibis._.order_id.nunique())
    )
    ranked = daily.mutate(
        position=ibis.row_number().over(group_by=daily.customer_id, order_by=[daily.day_orders.desc(), daily.day])
    )
    return ranked.filter(ranked.position == 0).select(
        "customer_id", busiest_day=ranked.day, most_orders_in_a_day=ranked.day_orders
    )


def flag_unusual_members(
    orders: ir.Table,
    bulk_orders: ir.Table,
    thresholds: AnomalyThresholds = AnomalyThresholds(),
) -> ir.Table:
    """The unusual members (see the module docstring) with ``kind`` ``reseller`` or ``vip``,
    their evidence and ``flag_*`` columns; ordered by spend (descending), then customer id.

    ``bulk_orders`` (``customer_id``, ``units``) are the orders flagged for their units
    (:func:`select_bulk_orders` of :func:`flag_unusual_orders` on the same orders).
    """
    lines = _purchase_lines(orders).filter(ibis._.customer_id.notnull())
    totals = _order_totals(lines)
    members = totals.group_by("customer_id").aggregate(
        orders=totals.count(), units=totals.units.sum(), spend=money_sum(totals.amount)
    )
    log_spend = ibis.ifelse(members.spend > 0, members.spend.ln(), ibis.null("float64"))
    members = members.mutate(log_spend=log_spend)
    centre = members.aggregate(median_log_spend=members.log_spend.median(), median_spend=members.spend.median())
    spread_input = members.view().cross_join(centre)
    spread = spread_input.aggregate(
        mad_log_spend=(spread_input.log_spend - spread_input.median_log_spend).abs().median()
    )
    bulk = bulk_orders.group_by("customer_id").aggregate(
        bulk_orders=bulk_orders.count(), bulk_units=bulk_orders.units.sum()
    )
    days = _busiest_days(lines)
    joined = members.cross_join(centre).cross_join(spread)
    joined = joined.left_join(bulk, joined.customer_id == bulk.customer_id).select(
        joined, bulk.bulk_orders, bulk.bulk_units
    )
    joined = joined.left_join(days, joined.customer_id == days.customer_id).select(
        joined, days.busiest_day, days.most_orders_in_a_day
    )
    t = thresholds
    spend_z = MAD_TO_Z * ratio(joined.log_spend - joined.median_log_spend, joined.mad_log_spend)
    scored = joined.mutate(
        bulk_orders=joined.bulk_orders.fill_null(0),
        bulk_units=joined.bulk_units.fill_null(0.0),
        bulk_unit_share=ratio(joined.bulk_units.fill_null(0.0), joined.units),
        spend_ratio=ratio(joined.spend, joined.median_spend),
        spend_z=spend_z,
        flag_bulk_orders=joined.bulk_orders.fill_null(0) >= 1,
        flag_orders_in_a_day=(joined.most_orders_in_a_day >= t.orders_per_day).fill_null(False),
        flag_extreme_spend=(spend_z >= t.spend_z).fill_null(False),
    )
    flagged = scored.filter(scored.flag_bulk_orders | scored.flag_orders_in_a_day | scored.flag_extreme_spend)
    kind = ibis.ifelse(flagged.flag_bulk_orders | flagged.flag_orders_in_a_day, "reseller", "vip")
    return flagged.mutate(kind=kind).select(*MEMBER_COLUMNS).order_by([ibis.desc("spend"), "customer_id"])


MEMBER_COLUMNS = (
    "customer_id",
    "kind",
    "orders",
    "units",
    "spend",
    "median_spend",
    "spend_ratio",
    "spend_z",
    "bulk_orders",
    "bulk_units",
    "bulk_unit_share",
    "most_orders_in_a_day",
    "busiest_day",
    *(f"flag_{reason}" for reason in MEMBER_REASONS),
)


# -- both, executed ----------------------------------------------------------------------------
@dataclass(frozen=True)
class Anomalies:
    """Executed flags: ``orders`` and ``members`` (language-free; see :func:`explain_orders`)."""

    orders: pd.DataFrame
    members: pd.DataFrame
    thresholds: AnomalyThresholds
    as_of: date | None = None


def find_anomalies(
    orders: ir.Table,
    cancellations: ir.Table | None = None,
    *,
    thresholds: AnomalyThresholds = AnomalyThresholds(),
    as_of: date | None = None,
) -> Anomalies:
    """Flag unusual orders and members among the orders (and cancellations) placed before
    ``as_of`` and execute."""
    known = orders_before(orders, as_of)
    if cancellations is not None and as_of is not None:
        cancellations = tables_as_of({"cancellations": cancellations}, as_of)["cancellations"]
    unusual = flag_unusual_orders(known, cancellations, thresholds).to_pandas()
    members = flag_unusual_members(known, select_bulk_orders(unusual), thresholds)
    return Anomalies(unusual, members.to_pandas(), thresholds, as_of)


def select_bulk_orders(unusual_orders: pd.DataFrame) -> ir.Table:
    """The executed unusual orders flagged for their units, as a small table for the member
    query (so the engine does not score every order a second time)."""
    bulk = unusual_orders[unusual_orders[[f"flag_{r}" for r in UNIT_REASONS]].any(axis=1)]
    frame = pd.DataFrame({"customer_id": bulk.customer_id.astype(object), "units": bulk.units.astype("float64")})
    return ibis.memtable(frame, schema={"customer_id": "string", "units": "float64"})


class AnomalyModel(PredictionModel):
    """The unusual orders and members of a shop, behind the prediction models' contract
    (:mod:`memberlens.predict._base`): ``fit`` flags them, ``score`` gives them, ``save`` keeps
    them as JSON.

    The flags are transductive, like scikit-learn's ``LocalOutlierFactor`` without novelty: an
    order is unusual against the medians of the orders it is fitted on, so the model flags those
    orders and no others; to flag another shop or another day, fit it there.

    Parameters: the thresholds of :class:`AnomalyThresholds` (the module docstring).

    Fitted attributes: ``orders_`` and ``members_`` (the flagged orders and members with their
    evidence, :func:`find_anomalies`), ``thresholds_``, ``as_of_`` and ``fitted_at_``.
    """

    kind = "anomalies"
    model_name = "anomalies"  # in a saved file

    def __init__(
        self,
        *,
        product_ratio: float = AnomalyThresholds.product_ratio,
        min_units: float = AnomalyThresholds.min_units,
        min_product_lines: int = AnomalyThresholds.min_product_lines,
        order_ratio: float = AnomalyThresholds.order_ratio,
        customer_ratio: float = AnomalyThresholds.customer_ratio,
        min_customer_orders: int = AnomalyThresholds.min_customer_orders,
        orders_per_day: int = AnomalyThresholds.orders_per_day,
        spend_z: float = AnomalyThresholds.spend_z,
    ) -> None:
        self.product_ratio = product_ratio
        self.min_units = min_units
        self.min_product_lines = min_product_lines
        self.order_ratio = order_ratio
        self.customer_ratio = customer_ratio
        self.min_customer_orders = min_customer_orders
        self.orders_per_day = orders_per_day
        self.spend_z = spend_z

    def fit(
        self, orders: ir.Table, cancellations: ir.Table | None = None, *, as_of: date | None = None
    ) -> AnomalyModel:
        """Flag the unusual orders and members among the orders (and cancellations) placed
        before ``as_of``; returns ``self``."""
        thresholds = self._thresholds()
        found = find_anomalies(orders, cancellations, thresholds=thresholds, as_of=as_of)
        self.orders_, self.members_ = found.orders, found.members
        self.thresholds_, self.as_of_ = thresholds, as_of
        self.fitted_at_ = datetime.now(UTC).replace(microsecond=0)
        return self

    def _thresholds(self) -> AnomalyThresholds:
        return AnomalyThresholds(**check_thresholds(self.get_params(), type(self).__name__))

    def score(self, kind: str = "orders") -> pd.DataFrame:
        """The flagged ``orders`` (most unusual first) or ``members`` (by spend), language-free:
        :func:`explain_orders` and :func:`explain_members` add the reasons in words."""
        self._check_fitted()
        check_choice(kind, "kind", f"{type(self).__name__}.score", ("orders", "members"))
        return self.orders_ if kind == "orders" else self.members_

    @property
    def anomalies(self) -> Anomalies:
        """The flags as :func:`find_anomalies` gives them."""
        self._check_fitted()
        return Anomalies(self.orders_, self.members_, self.thresholds_, self.as_of_)

    def save(self, path: str | Path) -> Path:
        """Write the thresholds, the cut-off and the flags as JSON (atomically)."""
        self._check_fitted()
        document = {
            "model": self.model_name,
            "format_version": FORMAT_VERSION,
            "params": self.thresholds_.to_dict(),
            "as_of": self.as_of_,
            "fitted_at": self.fitted_at_,
            "orders": _frame_document(self.orders_),
            "members": _frame_document(self.members_),
        }
        return write_text_atomic(path, json_text(document, indent=1) + "\n")

    @classmethod
    def load(cls, path: str | Path) -> AnomalyModel:
        """Flags saved by :meth:`save`."""
        hint = "save them with AnomalyModel(...).fit(orders).save(FILE)"
        data = read_json_model(path, "saved anomaly flags", hint)
        if not isinstance(data, dict) or data.get("model") != cls.model_name:
            raise InputError(f"{path}: not saved anomaly flags", hint)
        if data.get("format_version") != FORMAT_VERSION:
            raise InputError(f"{path}: anomaly flags version {data.get('format_version')!r} is not supported", hint)
        try:
            model = cls(**data["params"])
            model.thresholds_ = model._thresholds()
            model.as_of_ = date.fromisoformat(data["as_of"]) if data.get("as_of") else None
            model.fitted_at_ = datetime.fromisoformat(data["fitted_at"])
            model.orders_ = _document_frame(data["orders"])
            model.members_ = _document_frame(data["members"])
        except (KeyError, TypeError, ValueError) as exc:
            raise InputError(f"{path}: the saved anomaly flags are damaged ({exc})", hint) from exc
        return model


def _frame_document(frame: pd.DataFrame) -> dict[str, Any]:
    """A frame as JSON-ready columns with their dtypes, to come back as the same frame."""
    return {
        "dtypes": {str(name): str(dtype) for name, dtype in frame.dtypes.items()},
        "columns": json_ready(frame.to_dict(orient="list")),
    }


def _document_frame(document: dict[str, Any]) -> pd.DataFrame:
    """The frame :func:`_frame_document` wrote."""
    frame = pd.DataFrame(document["columns"], columns=list(document["dtypes"]))
    for name, dtype in document["dtypes"].items():
        column = pd.to_datetime(frame[name]) if dtype.startswith("datetime64") else frame[name]
        frame[name] = column.astype(dtype)
    return frame


def reason_codes(row: Any, reasons: tuple[str, ...]) -> list[str]:
    """The reasons whose ``flag_*`` column is true in ``row`` (a mapping or a named tuple)."""
    get = row.get if isinstance(row, dict) else (lambda key: getattr(row, key))
    return [reason for reason in reasons if bool(get(f"flag_{reason}"))]


def _times(value: float) -> str:
    """``6,185`` for large ratios, ``21.3`` below 100: the "×" comes from the message."""
    return f.num(value, 0 if value >= 100 else 1)


def explain_order(row: Any, t: Messages) -> list[str]:
    """Why an order was flagged, one sentence per reason, from its numbers."""
    out = []
    for reason in reason_codes(row, ORDER_REASONS):
        if reason == "product_quantity":
            out.append(
                t(
                    "anomalies.reason_product_quantity",
                    quantity=t.number(row.quantity),
                    product=row.product_name if isinstance(row.product_name, str) else row.product_id,
                    ratio=_times(row.product_ratio),
                    median=t.number(row.product_median_quantity),
                )
            )
        elif reason == "order_units":
            out.append(
                t(
                    "anomalies.reason_order_units",
                    units=t.number(row.units),
                    ratio=_times(row.units_ratio),
                    median=t.number(row.median_order_units),
                )
            )
        elif reason == "order_amount":
            out.append(
                t(
                    "anomalies.reason_order_amount",
                    amount=t.number(row.amount),
                    ratio=_times(row.amount_ratio),
                    median=t.number(row.median_order_amount),
                )
            )
        elif reason == "customer_history":
            out.append(
                t(
                    "anomalies.reason_customer_history",
                    amount=t.number(row.amount),
                    ratio=_times(row.customer_ratio),
                    median=t.number(row.customer_median_amount),
                    orders=t.number(row.customer_orders),
                )
            )
        else:
            out.append(
                t(
                    "anomalies.reason_cancelled",
                    units=t.number(row.cancelled_units),
                    total=t.number(row.units),
                    cancellation=row.cancelled_by,
                )
            )
    return out


def explain_member(row: Any, t: Messages) -> list[str]:
    """Why a member was flagged, one sentence per reason, from their numbers."""
    out = []
    for reason in reason_codes(row, MEMBER_REASONS):
        if reason == "bulk_orders":
            out.append(
                t(
                    "anomalies.reason_bulk_orders",
                    orders=t.number(row.bulk_orders),
                    units=t.number(row.bulk_units),
                    share=t.percent(row.bulk_unit_share),
                    total=t.number(row.units),
                )
            )
        elif reason == "orders_in_a_day":
            out.append(
                t(
                    "anomalies.reason_orders_in_a_day",
                    orders=t.number(row.most_orders_in_a_day),
                    day=pd.Timestamp(row.busiest_day).strftime("%Y-%m-%d"),
                )
            )
        else:
            out.append(
                t(
                    "anomalies.reason_extreme_spend",
                    spend=t.number(row.spend),
                    ratio=_times(row.spend_ratio),
                    median=t.number(row.median_spend),
                    z=f.num(row.spend_z, 1),
                )
            )
    return out


def explain_orders(frame: pd.DataFrame, t: Messages) -> pd.DataFrame:
    """``frame`` (flagged orders) with ``reason_codes`` and ``reasons`` (sentences joined by "; ")."""
    rows = list(frame.itertuples(index=False))
    return frame.assign(
        reason_codes=[",".join(reason_codes(r, ORDER_REASONS)) for r in rows],
        reasons=[t("anomalies.reason_separator").join(explain_order(r, t)) for r in rows],
    )


def explain_members(frame: pd.DataFrame, t: Messages) -> pd.DataFrame:
    """``frame`` (flagged members) with ``reason_codes`` and ``reasons``."""
    rows = list(frame.itertuples(index=False))
    return frame.assign(
        reason_codes=[",".join(reason_codes(r, MEMBER_REASONS)) for r in rows],
        reasons=[t("anomalies.reason_separator").join(explain_member(r, t)) for r in rows],
    )


__all__ = [
    "AnomalyModel",
    "AnomalyThresholds",
    "Anomalies",
    "MEMBER_REASONS",
    "ORDER_REASONS",
    "explain_members",
    "explain_orders",
    "find_anomalies",
    "flag_unusual_members",
    "flag_unusual_orders",
    "score_orders",
    "select_bulk_orders",
]
