"""The cleaning policy: which rows an analysis uses, and why each other row is set aside.

:func:`classify_rows` turns a staged source table into one Ibis expression with the canonical,
typed columns and a ``_reason`` column: null for a row that is used, otherwise the first reason
(in the order of :func:`reason_order`) that applies. Every row gets exactly one outcome, so rows read always
equal rows used plus rows set aside — the ledger's invariant holds by construction, and
:mod:`memberlens.schema.ledger` checks it again on the counts.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields

import ibis
import ibis.expr.types as ir

from memberlens.referrals.graph import ALREADY_REFERRED, CLOSES_CYCLE, SELF_REFERRAL, first_referral_rank
from memberlens.schema.contract import ROW_COLUMN, SOURCE_COLUMN, TableContract
from memberlens.schema.mapping import Mapping
from memberlens.errors import InputError
from memberlens.schema.parsing import (
    decimal_evidence,
    is_infinite,
    is_missing,
    is_unparseable,
    parse_number,
    parse_timestamp,
    parse_value,
    trim,
)

REASON_COLUMN = "_reason"
CANCELLATION = "cancellation"
MALFORMED_LINE = "malformed_line"


@dataclass(frozen=True)
class CleaningPolicy:
    """Which rows customer analytics uses. Each step can be switched off.

    The defaults are the usual policy for customer analytics: a customer id is present, the
    line is not a cancellation (cancellations are kept in their own table), quantity and unit
    price are positive, and exact duplicate lines are removed.
    """

    require_customer_id: bool = True
    separate_cancellations: bool = True
    positive_quantity: bool = True
    positive_price: bool = True
    positive_amount: bool = False
    drop_duplicates: bool = True

    def to_dict(self) -> dict[str, bool]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, bool]) -> CleaningPolicy:
        known = {f.name for f in fields(cls)}
        return cls(**{k: bool(v) for k, v in data.items() if k in known})


def reason_order(contract: TableContract) -> list[str]:
    """Every reason a row of this table can be set aside for, in order of precedence."""
    reasons = [MALFORMED_LINE, "repeated_header"]
    reasons += [f"missing_{c}" for c in contract.required if c != "customer_id"]
    reasons += [_unparseable_reason(c.name, c.kind) for c in contract.columns if c.kind in ("timestamp", "number", "bool")]
    if contract.name == "orders":
        reasons += ["missing_amount", CANCELLATION]
    if "customer_id" in contract.names:
        reasons.append("missing_customer_id")
    if contract.name == "orders":
        reasons += ["non_positive_quantity", "non_positive_price", "non_positive_amount"]
    if contract.name == "referrals":
        reasons.append(SELF_REFERRAL)
    reasons.append("duplicate_line")
    if contract.name == "referrals":  # need the other rows: see memberlens.referrals.graph
        reasons += [ALREADY_REFERRED, CLOSES_CYCLE]
    return reasons


def _unparseable_reason(column: str, kind: str) -> str:
    return {"timestamp": "unparseable_", "number": "non_numeric_", "bool": "invalid_"}[kind] + column


def typed_columns(staged: ir.Table, contract: TableContract, mapping: Mapping) -> dict[str, ir.Value]:
    """The canonical columns parsed from their mapped source columns (typed nulls when unmapped).

    Text dates are parsed through :func:`with_parsed_dates`' columns when ``staged`` has them.
    """
    out: dict[str, ir.Value] = {}
    for column in contract.columns:
        source = mapping.columns.get(column.name)
        if source is None:
            out[column.name] = ibis.null(_IBIS_TYPES[column.kind])
        elif _parsed_date_column(column.name) in staged.columns:
            out[column.name] = staged[_parsed_date_column(column.name)]
        else:
            out[column.name] = parse_value(staged[source], column.kind, mapping.date_order,
                                           mapping.decimal_marks.get(column.name, "."))
    if contract.name == "orders":
        out.update(_order_columns(staged, mapping, out))
    return out


def _parsed_date_column(canonical: str) -> str:
    return f"__parsed_{canonical}"


def with_parsed_dates(staged: ir.Table, contract: TableContract, mapping: Mapping) -> ir.Table:
    """``staged`` with each text date column parsed once per distinct value and joined back.

    A log has far fewer distinct date strings than rows (UCI: 23k for 542k lines), and the
    pattern matching is the costly part of parsing.
    """
    for column in contract.columns:
        source = mapping.columns.get(column.name)
        if column.kind != "timestamp" or source is None or not staged[source].type().is_string():
            continue
        values = staged.select(source).distinct()
        lookup = values.mutate(**{_parsed_date_column(column.name): parse_timestamp(values[source], mapping.date_order)})
        staged = staged.left_join(lookup, staged[source] == lookup[source]).select(
            *staged.columns, _parsed_date_column(column.name)
        )
    return staged


_IBIS_TYPES = {"id": "string", "text": "string", "timestamp": "timestamp", "number": "float64", "bool": "boolean"}


def _order_columns(staged: ir.Table, mapping: Mapping, typed: dict[str, ir.Value]) -> dict[str, ir.Value]:
    """Orders specifics: derived amount and order id, cancellation flag from an id prefix."""
    out: dict[str, ir.Value] = {}
    if "amount" not in mapping.columns:
        out["amount"] = typed["quantity"] * typed["unit_price"]
    if "order_id" not in mapping.columns:
        out["order_id"] = staged[SOURCE_COLUMN] + ":" + staged[ROW_COLUMN].cast("string")
    flagged = typed["is_cancellation"].fill_null(False)
    if mapping.cancellation_prefix:
        order_id = typed["order_id"] if "order_id" in mapping.columns else out["order_id"]
        flagged = flagged | order_id.startswith(mapping.cancellation_prefix).fill_null(False)
    out["is_cancellation"] = flagged
    return out


def _reason_conditions(
    staged: ir.Table,
    contract: TableContract,
    mapping: Mapping,
    typed: dict[str, ir.Value],
    policy: CleaningPolicy,
) -> list[tuple[ir.BooleanValue, str]]:
    conditions: list[tuple[ir.BooleanValue, str]] = []
    source_columns = [c for c in staged.columns if c not in (ROW_COLUMN, SOURCE_COLUMN) and not c.startswith("__parsed_")]
    if all(staged[c].type().is_string() for c in source_columns):
        repeated = ibis.and_(*(trim(staged[c]) == c for c in source_columns))
        conditions.append((repeated.fill_null(False), "repeated_header"))
    for name in contract.required:
        if name != "customer_id" and name in mapping.columns:
            conditions.append((is_missing(staged[mapping.columns[name]]), f"missing_{name}"))
    for column in contract.columns:
        if column.kind in ("timestamp", "number", "bool") and column.name in mapping.columns:
            raw = staged[mapping.columns[column.name]]
            broken = is_unparseable(raw, typed[column.name])
            if column.kind == "number" and raw.type().is_floating():
                broken = raw.isnan() | is_infinite(raw)
            conditions.append((broken.fill_null(False), _unparseable_reason(column.name, column.kind)))
    if contract.name == "orders":
        conditions.append((typed["amount"].isnull(), "missing_amount"))
    if contract.name == "orders" and policy.separate_cancellations:
        conditions.append((typed["is_cancellation"], CANCELLATION))
    if "customer_id" in typed and (policy.require_customer_id or contract.name != "orders"):
        conditions.append((typed["customer_id"].isnull(), "missing_customer_id"))
    if contract.name == "orders":
        conditions += _order_value_conditions(mapping, typed, policy)
    if contract.name == "referrals":
        conditions.append(((typed["referrer_id"] == typed["referred_id"]).fill_null(False), SELF_REFERRAL))
    return conditions


def _order_value_conditions(
    mapping: Mapping, typed: dict[str, ir.Value], policy: CleaningPolicy
) -> list[tuple[ir.BooleanValue, str]]:
    conditions = []
    if policy.positive_quantity and "quantity" in mapping.columns:
        conditions.append(((typed["quantity"] <= 0).fill_null(False), "non_positive_quantity"))
    if policy.positive_price and "unit_price" in mapping.columns:
        conditions.append(((typed["unit_price"] <= 0).fill_null(False), "non_positive_price"))
    if policy.positive_amount:
        conditions.append(((typed["amount"] <= 0).fill_null(False), "non_positive_amount"))
    return conditions


def classify_rows(
    staged: ir.Table, contract: TableContract, mapping: Mapping, policy: CleaningPolicy
) -> ir.Table:
    """Typed canonical columns, the kept extra columns, ``_source``, ``_row`` and ``_reason``.

    ``staged`` holds the raw source columns plus ``_source`` and ``_row``.
    """
    raw_columns = [c for c in staged.columns if c not in (ROW_COLUMN, SOURCE_COLUMN)]
    parsed = with_parsed_dates(staged, contract, mapping)
    typed = typed_columns(parsed, contract, mapping)
    conditions = _reason_conditions(parsed, contract, mapping, typed, policy)
    reason = ibis.cases(*conditions, else_=ibis.null("string")) if conditions else ibis.null("string")
    if policy.drop_duplicates:
        # A row's reason depends only on its raw values, so exact copies share it: among used
        # rows, every copy after the first is a duplicate.
        copy_number = ibis.row_number().over(group_by=[parsed[c] for c in raw_columns], order_by=parsed[ROW_COLUMN])
        reason = ibis.ifelse(reason.isnull() & (copy_number > 0), "duplicate_line", reason)
    extra = {c: parsed[c] for c in mapping.extra_columns}
    classified = parsed.select(
        **typed,
        **extra,
        **{SOURCE_COLUMN: parsed[SOURCE_COLUMN], ROW_COLUMN: parsed[ROW_COLUMN], REASON_COLUMN: reason},
    )
    if contract.name == "referrals":
        classified = mark_second_referrals(classified)
    return classified


def mark_second_referrals(classified: ir.Table) -> ir.Table:
    """A member referred again by a row still used: ``already_referred`` (the earliest referral
    counts; ties by referrer id, then row)."""
    used = classified[REASON_COLUMN].isnull()
    rank = first_referral_rank(classified, counted=used)
    return classified.mutate(**{REASON_COLUMN: ibis.ifelse(used & (rank > 0), ALREADY_REFERRED, classified[REASON_COLUMN])})


def detect_decimal_marks(staged: ir.Table, contract: TableContract, mapping: Mapping, *, where: str,
                         forced: str | None = None) -> dict[str, str]:
    """The decimal mark of each mapped number column written as text: ``forced`` when the user
    set one, else what its values show (``12,50`` a comma, ``12.50`` a point). A column showing
    both, or only values that read differently under each (``1.000``), is refused with examples
    rather than read wrongly. One aggregate query."""
    columns = {c.name: mapping.columns[c.name] for c in contract.columns
               if c.kind == "number" and c.name in mapping.columns and staged[mapping.columns[c.name]].type().is_string()}
    if forced or not columns:
        return {name: forced or "." for name in columns}
    metrics = {}
    for i, source in enumerate(columns.values()):
        value = staged[source]
        for kind, flag in zip(("point", "comma", "either"), decimal_evidence(value)):
            metrics[f"{kind}{i}"] = value.min(where=flag)
    found = staged.aggregate(**metrics).execute().iloc[0]
    marks = {}
    for i, (name, source) in enumerate(columns.items()):
        point, comma, either = (found[f"{k}{i}"] for k in ("point", "comma", "either"))
        point, comma, either = (None if v is None or v != v else v for v in (point, comma, either))
        if point and comma:
            raise InputError(
                f"{where}: column {source!r} ({name}) mixes decimal points and decimal commas, e.g. {point!r} and {comma!r}",
                "make the column consistent, or say which mark it uses with --decimal . or --decimal ,",
            )
        if not point and not comma and either:
            raise InputError(
                f"{where}: column {source!r} ({name}) has numbers such as {either!r} that read differently "
                "with a decimal point and a decimal comma",
                "say which mark it uses with --decimal . or --decimal , (or decimal = \",\" in the mapping file)",
            )
        marks[name] = "," if comma else "."
    return marks


def reading_loses_text(raw: ir.StringValue) -> ir.BooleanValue:
    """Values a number would not give back as written: a leading zero (``01000``) or more than 15
    significant digits (beyond what a float64 holds exactly)."""
    text = trim(raw)
    digits = text.re_replace(r"^[^1-9]*", "").re_replace(r"[^0-9]", "")
    return text.re_search(r"^[+-]?0[0-9]") | (digits.length() > 15)


def infer_extra_column_types(staged: ir.Table, columns: tuple[str, ...]) -> dict[str, str]:
    """For text columns kept as they are (members, customer 360): the narrowest type that fits
    every non-empty value — int64, float64, boolean or string — and string wherever a number
    would change a value (see :func:`reading_loses_text`). One aggregate query.

    ``NaN`` and ``inf`` count as numbers here and become nulls: in an attribute column they are
    how many exports write a missing value."""
    text_columns = [c for c in columns if staged[c].type().is_string()]
    if not text_columns:
        return {}
    metrics = {}
    for i, c in enumerate(text_columns):
        present = ~is_missing(staged[c])
        number = parse_number(staged[c])
        not_finite = trim(staged[c]).lower().isin(("nan", "inf", "-inf", "infinity", "-infinity"))
        metrics[f"p{i}"] = present.sum()
        metrics[f"n{i}"] = (present & (number.notnull() | not_finite)).sum()  # NaN: a null number
        metrics[f"w{i}"] = (present & number.notnull() & (number % 1 == 0) & (number.abs() < 2.0**63)).sum()
        metrics[f"b{i}"] = (present & parse_value(staged[c], "bool").notnull()).sum()
        metrics[f"l{i}"] = (present & number.notnull() & reading_loses_text(staged[c])).sum()
    counts = staged.aggregate(**metrics).execute().iloc[0]
    types: dict[str, str] = {}
    for i, c in enumerate(text_columns):
        present, numbers, wholes, bools, lossy = (int(counts[f"{k}{i}"] or 0) for k in "pnwbl")
        if present == 0 or lossy:  # a zip code 01000, a 19-digit account number: kept as written
            types[c] = "string"
        elif wholes == present:
            types[c] = "int64"  # 0/1 flags such as in_stripe stay numbers: they are summed and averaged
        elif numbers == present:
            types[c] = "float64"
        elif bools == present:
            types[c] = "boolean"
        else:
            types[c] = "string"
    return types


def cast_extra_columns(classified: ir.Table, types: dict[str, str]) -> ir.Table:
    casts = {}
    for column, dtype in types.items():
        if dtype in ("int64", "float64"):
            casts[column] = parse_number(classified[column]).cast(dtype)
        elif dtype == "boolean":
            casts[column] = parse_value(classified[column], "bool")
        else:
            casts[column] = parse_value(classified[column], "text")
    return classified.mutate(**casts) if casts else classified
