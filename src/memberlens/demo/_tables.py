"""Arrow schemas of the demo tables and helpers that turn NumPy arrays into Arrow columns."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

_TS = pa.timestamp("s")

#: Output tables in the order they are written, with their exact Arrow schemas.
SCHEMAS: dict[str, pa.Schema] = {
    "orders": pa.schema(
        [
            ("order_id", pa.string()),
            ("ordered_at", _TS),
            ("customer_id", pa.string()),
            ("product_id", pa.string()),
            ("product_name", pa.string()),
            ("quantity", pa.int64()),
            ("unit_price", pa.float64()),
            ("country", pa.string()),
            ("channel", pa.string()),
            ("coupon_amount", pa.float64()),
            ("is_cancellation", pa.bool_()),
        ]
    ),
    "members": pa.schema(
        [
            ("customer_id", pa.string()),
            ("registered_at", _TS),
            ("activated_at", _TS),
            ("tier", pa.string()),
            ("region", pa.string()),
            ("marketable", pa.bool_()),
            ("unsubscribed_at", _TS),
        ]
    ),
    "events": pa.schema(
        [
            ("customer_id", pa.string()),
            ("occurred_at", _TS),
            ("event_type", pa.string()),
            ("engagement", pa.int64()),
        ]
    ),
    "campaigns": pa.schema(
        [
            ("campaign_id", pa.string()),
            ("customer_id", pa.string()),
            ("sent_at", _TS),
            ("channel", pa.string()),
            ("cost", pa.float64()),
            ("coupon_id", pa.string()),
            ("responded", pa.bool_()),
            ("converted_at", _TS),
            ("revenue", pa.float64()),
        ]
    ),
    "marketing_costs": pa.schema(
        [
            ("date", pa.date32()),
            ("channel", pa.string()),
            ("kind", pa.string()),
            ("cost", pa.float64()),
        ]
    ),
    "customer_360": pa.schema(
        [
            ("customer_id", pa.string()),
            ("marketing_to_sales_days", pa.int64()),
            ("sales_to_support_days", pa.int64()),
            ("composite_engagement_score", pa.float64()),
            ("recency_score", pa.int64()),
            ("frequency_score", pa.int64()),
            ("monetary_score", pa.int64()),
            ("estimated_customer_ltv", pa.float64()),
            ("customer_tier", pa.string()),
            ("primary_engagement_channel", pa.string()),
            ("region", pa.string()),
            ("zendesk_active", pa.bool_()),
            ("in_marketo", pa.int64()),
            ("in_stripe", pa.int64()),
            ("in_zendesk", pa.int64()),
            ("customer_health_score", pa.float64()),
            ("activity_risk_level", pa.string()),
            ("engagement_velocity", pa.string()),
        ]
    ),
    "referrals": pa.schema(
        [
            ("referrer_id", pa.string()),
            ("referred_id", pa.string()),
            ("referred_at", _TS),
            ("channel", pa.string()),
            ("reward_cost", pa.float64()),
        ]
    ),
    "truth": pa.schema(
        [
            ("customer_id", pa.string()),
            ("acquired_at", _TS),
            ("purchase_rate_per_day", pa.float64()),
            ("dropout_probability", pa.float64()),
            ("dropped_out_at", _TS),
            ("spend_shape_p", pa.float64()),
            ("spend_rate_nu", pa.float64()),
            ("expected_order_value", pa.float64()),
            ("purchases", pa.int64()),
            ("bulk_orders", pa.int64()),
        ]
    ),
}


def timestamps(start: np.datetime64, seconds: np.ndarray) -> pa.Array:
    """Timestamps ``start + seconds``; negative seconds become nulls."""
    values = start + seconds.astype("timedelta64[s]")
    return pa.array(values, type=_TS, mask=seconds < 0)


def labels(names: Sequence[str], codes: np.ndarray) -> pa.Array:
    """Strings ``names[codes]``; negative codes become nulls."""
    return pa.array(list(names), type=pa.string()).take(pa.array(codes, mask=codes < 0))


def customer_ids(member_index: np.ndarray, width: int) -> pa.Array:
    """Customer ids ``"M" + zero-padded (index + 1)``, e.g. ``"M0000123"``."""
    numbers = pc.cast(pa.array(member_index + 1), pa.string())
    digits = pc.utf8_lpad(numbers, width=width, padding="0")
    return pc.binary_join_element_wise("M", digits, "")


def numbers_as_strings(numbers: np.ndarray, prefix: np.ndarray | None = None) -> pa.Array:
    """Integers as decimal strings, with ``"C"`` in front where ``prefix`` is true."""
    text = pc.cast(pa.array(numbers), pa.string())
    if prefix is None:
        return text
    return pc.if_else(pa.array(prefix), pc.binary_join_element_wise("C", text, ""), text)


def nullable_ints(values: np.ndarray) -> pa.Array:
    """Float array of whole numbers as int64, NaN as null."""
    missing = np.isnan(values)
    return pa.array(np.where(missing, 0, values).astype(np.int64), mask=missing)


def money(cents: np.ndarray) -> np.ndarray:
    """Whole cents as currency units (exact two-decimal doubles)."""
    return cents / 100.0


def _column(values: object, type_: pa.DataType) -> pa.Array:
    if isinstance(values, pa.Array):
        return values.cast(type_)
    return pa.array(values, type=type_)


def make_table(name: str, columns: dict[str, object]) -> pa.Table:
    """An Arrow table with exactly the schema :data:`SCHEMAS` gives for ``name``.

    ``columns`` maps every column name to an Arrow array or to values Arrow can convert.
    """
    schema = SCHEMAS[name]
    arrays = [_column(columns[field.name], field.type) for field in schema]
    return pa.Table.from_arrays(arrays, schema=schema)
