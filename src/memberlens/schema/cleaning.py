"""The cleaning policy: which rows an analysis uses, and why each other row is set aside.

:func:`classify_rows` turns a staged source table into one Ibis expression with the canonical,
typed columns and a ``_reason`` column: null for a row that is used, otherwise the first reason
(in the order of :func:`reason_order`) that applies. Every row gets exactly one outcome, so rows read always
equal rows used plus rows set aside — the ledger's invariant holds by construction, and
:mod:`memberlens.schema.ledger` checks it again on the counts.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields
from datetime import date

import ibis
import ibis.expr.types as ir

from memberlens.errors import ConfigError, InputError
from memberlens.schema.contract import ROW_COLUMN, SOURCE_COLUMN, TableContract
from memberlens.schema.mapping import Mapping
from memberlens.schema.parsing import (
    blank_to_null,
    decimal_evidence,
    is_infinite,
    is_missing,
    is_unparseable,
    parse_number,
    parse_timestamp,
    parse_value,
    trim,
)
from memberlens.schema.referral_rules import ALREADY_REFERRED, CLOSES_CYCLE, SELF_REFERRAL, first_referral_rank

REASON_COLUMN = "_reason"
CANCELLATION = "cancellation"
MALFORMED_LINE = "malformed_line"
IMPLAUSIBLE_DATE = "implausible_date"
EARLIEST_DATE = date(1900, 1, 1)
LATEST_DATE = date(2100, 1, 1)


@dataclass(frozen=True)
class CleaningPolicy:
    """Which rows customer analytics uses. Each step can be switched off.

    The defaults are the usual policy for customer analytics: a customer id is present, the
    line is not a cancellation (cancellations are kept in their own table), quantity and unit
    price are positive, exact duplicate lines are removed, and every date falls between
    ``earliest_date`` and ``latest_date`` (both included): a placeholder such as 9999-12-31 or
    0001-01-01 is set aside as ``implausible_date``, not read as an order eight thousand years away.
    """

    require_customer_id: bool = True
    separate_cancellations: bool = True
    positive_quantity: bool = True
    positive_price: bool = True
    positive_amount: bool = False
    drop_duplicates: bool = True
    earliest_date: date = EARLIEST_DATE
    latest_date: date = LATEST_DATE

    def __post_init__(self) -> None:
        if not self.earliest_date < self.latest_date:
            raise ConfigError(
                f"the plausible dates run from {self.earliest_date} to {self.latest_date}: the earliest "
                "must come before the latest",
                "e.g. --earliest-date 1990-01-01 --latest-date 2030-12-31",
            )

    def to_dict(self) -> dict[str, bool | str]:
        return {k: v.isoformat() if isinstance(v, date) else v for k, v in asdict(self).items()}

    @classmethod
    def from_dict(cls, data: dict[str, bool | str]) -> CleaningPolicy:
        known = {f.name for f in fields(cls)}
        return cls(
            **{k: date.fromisoformat(str(v)) if k.endswith("_date") else bool(v) for k, v in data.items() if k in known}
        )


def reason_order(contract: TableContract) -> list[str]:
    """Every reason a row of this table can be set aside for, in order of precedence."""
    reasons = [MALFORMED_LINE, "repeated_header"]
    reasons += [f"missing_{c}" for c in contract.required if c != "customer_id"]
    reasons += [
        _unparseable_reason(c.name, c.kind) for c in contract.columns if c.kind in ("timestamp", "number", "bool")
    ]
    reasons.append(IMPLAUSIBLE_DATE)
    if contract.name == "orders":
        reasons += ["missing_amount", CANCELLATION]
    if "customer_id" in contract.names:
        reasons.append("missing_customer_id")
    if contract.name == "orders":
        reasons += ["non_positive_quantity", "non_positive_price", "non_positive_amount"]
    if contract.name == "referrals":
        reasons.append(SELF_REFERRAL)
    reasons.append("duplicate_line")
    if contract.name == "referrals":  # need the other rows: see memberlens.schema.referral_rules
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
            out[column.name] = parse_value(
                staged[source], column.kind, mapping.date_order, mapping.decimal_marks.get(column.name, ".")
            )
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
        lookup = values.mutate(
            **{_parsed_date_column(column.name): parse_timestamp(values[source], mapping.date_order)}
        )
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
    source_columns = [
        c for c in staged.columns if c not in (ROW_COLUMN, SOURCE_COLUMN) and not c.startswith("__parsed_")
    ]
    if all(staged[c].type().is_string() for c in source_columns):
        repeated = all_of([trim(staged[c]) == c for c in source_columns])
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
    implausible = _implausible_dates(contract, mapping, typed, policy)
    if implausible is not None:
        conditions.append((implausible, IMPLAUSIBLE_DATE))
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


def all_of(conditions: list[ir.BooleanValue]) -> ir.BooleanValue:
    """``c1 & c2 & ...`` as a balanced tree: ``ibis.and_`` nests one level per condition, and a
    file of 1,000+ columns made an expression too deep to compile (RecursionError)."""
    if len(conditions) == 1:
        return conditions[0]
    middle = len(conditions) // 2
    return all_of(conditions[:middle]) & all_of(conditions[middle:])


def _implausible_dates(
    contract: TableContract, mapping: Mapping, typed: dict[str, ir.Value], policy: CleaningPolicy
) -> ir.BooleanValue | None:
    """A mapped date of the row falls before ``policy.earliest_date`` or after ``policy.latest_date``."""
    outside = []
    for column in contract.columns:
        if column.kind == "timestamp" and column.name in mapping.columns:
            day = typed[column.name].date()  # a check of the value (a typo'd year), not a cut by time
            outside.append(
                (
                    (day < ibis.date(policy.earliest_date.isoformat()))
                    | (day > ibis.date(policy.latest_date.isoformat()))
                ).fill_null(False)
            )
    return ibis.or_(*outside) if outside else None


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


def classify_rows(staged: ir.Table, contract: TableContract, mapping: Mapping, policy: CleaningPolicy) -> ir.Table:
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
    return classified.mutate(
        **{REASON_COLUMN: ibis.ifelse(used & (rank > 0), ALREADY_REFERRED, classified[REASON_COLUMN])}
    )


def detect_decimal_marks(
    staged: ir.Table, contract: TableContract, mapping: Mapping, *, where: str, forced: str | None = None
) -> dict[str, str]:
    """The decimal mark of each mapped number column written as text: ``forced`` when the user
    set one, else what its values show (``12,50`` a comma, ``12.50`` a point). A column showing
    both, or only values that read differently under each (``1.000``), is refused with examples
    rather than read wrongly. One aggregate query."""
    columns = {
        c.name: mapping.columns[c.name]
        for c in contract.columns
        if c.kind == "number" and c.name in mapping.columns and staged[mapping.columns[c.name]].type().is_string()
    }
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
                'say which mark it uses with --decimal . or --decimal , (or decimal = "," in the mapping file)',
            )
        marks[name] = "," if comma else "."
    return marks


def reading_loses_text(raw: ir.StringValue) -> ir.BooleanValue:
    """Values a number would not give back as written: a leading zero (``01000``) or more than 15
    significant digits (beyond what a float64 holds exactly)."""
    text = trim(raw)
    digits = text.re_replace(r"^[^1-9]*", "").re_replace(r"[^0-9]", "")
    return text.re_search(r"^[+-]?0[0-9]") | (digits.length() > 15)


@dataclass(frozen=True)
class ExtraType:
    """How a kept text column is read: ``dtype`` (int64, float64, boolean or string) and, for
    numbers, whether every value is plainly written (``12``, ``3.5``: a cast reads them exactly
    as :func:`parse_number` would, without its thousands separators, currency signs, NaN and
    infinity handling, whose repeated sub-expressions made a projection of 1,000+ such columns
    take minutes to plan)."""

    dtype: str
    plain: bool = False


def infer_extra_column_types(staged: ir.Table, columns: tuple[str, ...]) -> dict[str, ExtraType]:
    """For text columns kept as they are (members, customer 360): the narrowest type that fits
    every non-empty value — int64, float64, boolean or string — and string wherever a number
    would change a value (see :func:`reading_loses_text`). One aggregate query.

    ``NaN`` and ``inf`` count as numbers here and become nulls: in an attribute column they are
    how many exports write a missing value."""
    text_columns = [c for c in columns if staged[c].type().is_string()]
    if not text_columns:
        return {}
    # one (column, value) row per cell, aggregated per column: the query's size does not grow
    # with the number of columns (1,200 columns each with its own aggregates took minutes)
    long = staged.select(*text_columns).pivot_longer(text_columns, names_to="_column", values_to="_value")
    value = long["_value"]
    present = ~is_missing(value)
    number = parse_number(value)
    not_finite = trim(value).lower().isin(("nan", "inf", "-inf", "infinity", "-infinity"))
    plain = _plain_number(value)
    per_column = (
        long.group_by("_column")
        .aggregate(
            p=present.sum(),
            n=(present & (number.notnull() | not_finite)).sum(),  # NaN: a null number
            w=(present & number.notnull() & (number % 1 == 0) & (number.abs() < 2.0**63)).sum(),
            b=(present & parse_value(value, "bool").notnull()).sum(),
            l=(present & number.notnull() & reading_loses_text(value)).sum(),
            f=(present & plain.notnull() & ~plain.isnan() & ~is_infinite(plain)).sum(),  # read by a plain cast
        )
        .execute()
        .set_index("_column")
    )
    types: dict[str, ExtraType] = {}
    for c in text_columns:
        counts = per_column.loc[c] if c in per_column.index else {}
        present, numbers, wholes, bools, lossy, plainly = (_count(counts, k) for k in "pnwblf")
        if present == 0 or lossy:  # a zip code 01000, a 19-digit account number: kept as written
            types[c] = ExtraType("string")
        elif wholes == present:  # 0/1 flags such as in_stripe stay numbers: they are summed and averaged
            types[c] = ExtraType("int64", plainly == present)
        elif numbers == present:
            types[c] = ExtraType("float64", plainly == present)
        elif bools == present:
            types[c] = ExtraType("boolean")
        else:
            types[c] = ExtraType("string")
    return types


def _plain_number(raw: ir.StringValue) -> ir.FloatingValue:
    return blank_to_null(raw).try_cast("float64")


def _count(counts, key: str) -> int:
    value = counts[key] if key in counts else 0
    return 0 if value is None or value != value else int(value)


def cast_extra_columns(classified: ir.Table, types: dict[str, ExtraType]) -> ir.Table:
    casts = {}
    for column, kind in types.items():
        dtype = kind.dtype
        if dtype in ("int64", "float64"):
            number = _plain_number(classified[column]) if kind.plain else parse_number(classified[column])
            casts[column] = number.cast(dtype)
        elif dtype == "boolean":
            casts[column] = parse_value(classified[column], "bool")
        else:
            casts[column] = parse_value(classified[column], "text")
    return classified.mutate(**casts) if casts else classified
