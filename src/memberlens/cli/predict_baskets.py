"""``memberlens predict next-product`` and ``memberlens predict anomalies``: association rules
and next-product suggestions, and unusual orders and members with their reasons."""

from __future__ import annotations

from enum import Enum
from pathlib import Path
from typing import Annotated

import numpy as np
import pandas as pd
import typer

from memberlens.cli._common import (
    OutputFormat,
    err,
    option_as_of,
    option_db,
    option_engine,
    option_out_file,
    out_format,
    parse_as_of,
    print_records,
    say_nothing_to_show,
    why_nothing_before,
    write_frame,
)
from memberlens.errors import ConfigError
from memberlens.i18n import LANGUAGES, Messages
from memberlens.io.catalog import open_tables
from memberlens.io.jsonable import plain_records
from memberlens.predict.anomalies import AnomalyThresholds, explain_members, explain_orders, find_anomalies
from memberlens.predict.baskets import AssociationRuleModel
from memberlens.reports.next_product import no_orders_sentence, no_rules_sentence
from memberlens.snapshot import snapshot_of

AsOfOption = Annotated[str | None, option_as_of()]
FormatOption = Annotated[OutputFormat, typer.Option("--format", help="table, json or csv.")]
OutOption = Annotated[
    Path | None,
    option_out_file("Write all rows to this file (.csv, .json, .parquet or .xlsx by its name; else --format)."),
]
LimitOption = Annotated[int, typer.Option(help="Rows shown with --format table.")]


def next_product_command(
    as_of: AsOfOption = None,
    min_support: Annotated[
        float, typer.Option(help="Smallest share of baskets a rule's products appear in together, (0, 1].")
    ] = 0.01,
    min_confidence: Annotated[float, typer.Option(help="Smallest confidence of a rule, [0, 1].")] = 0.2,
    min_lift: Annotated[float, typer.Option(help="Smallest lift of a rule (1 = independence).")] = 1.2,
    max_len: Annotated[
        int, typer.Option(help="Most products in a rule (bought and suggested together), at least 2.")
    ] = 3,
    max_baskets: Annotated[
        int, typer.Option(help="Mine a seeded sample of about this many baskets when there are more.")
    ] = 2_000_000,
    members: Annotated[
        bool, typer.Option("--members", help="Print suggestions per member instead of the rules.")
    ] = False,
    top: Annotated[int, typer.Option(help="With --members: suggestions per member.")] = 3,
    save: Annotated[
        Path | None, typer.Option("--save", help="Save the rules (thresholds, cut-off, counts) as JSON.")
    ] = None,
    model_file: Annotated[
        Path | None, typer.Option("--model", help="Use rules saved with --save instead of mining them.")
    ] = None,
    fmt: FormatOption = OutputFormat.table,
    out_file: OutOption = None,
    limit: LimitOption = 20,
    db: Annotated[str, option_db()] = "memberlens.duckdb",
    engine: Annotated[str, option_engine()] = "duckdb",
) -> None:
    """Association rules over baskets (FP-growth) and the next product for each member."""
    cut_off = parse_as_of(as_of)
    if top < 1:
        raise ConfigError(f"--top must be at least 1. Got {top} instead.", "e.g. --top 3")
    if model_file:
        model = AssociationRuleModel.load(model_file)
    else:
        model = AssociationRuleModel(
            min_support=min_support,
            min_confidence=min_confidence,
            min_lift=min_lift,
            max_len=max_len,
            max_baskets=max_baskets,
        )
    with open_tables(engine, db) as workspace:
        orders = snapshot_of(workspace, cut_off).table("orders")
        if not model_file:
            model.fit(orders, as_of=cut_off)
        suggestions = model.suggest(orders, top=top).to_pandas() if members else None
        empty = suggestions.empty if members else not len(model.rules_)
        if empty:
            say_nothing_to_show(why_nothing_before(workspace.table("orders"), cut_off) or _why_no_rules(model, members))
    if save:
        model.save(save)
        err.print(f"saved {len(model.rules_)} rules to {save}", markup=False)
    if members:
        _emit(
            suggestions,
            fmt,
            out_file,
            limit,
            f"next product per member ({suggestions.customer_id.nunique():,} members)",
        )
    else:
        rules = model.rules_
        mined = (
            f"a seeded sample of {model.n_baskets_:,} of {model.total_baskets_:,}"
            if model.sampled
            else f"{model.n_baskets_:,}"
        )
        title = f"{len(rules):,} rules from {mined} baskets, {model.n_frequent_items_:,} frequent products" + (
            f", as of {model.as_of_}" if model.as_of_ else ""
        )
        _emit(rules, fmt, out_file, limit, title, shown=RULE_COLUMNS)


RULE_COLUMNS = ("rule_id", "antecedent_names", "consequent_names", "support", "confidence", "lift", "baskets")


def _why_no_rules(model: AssociationRuleModel, members: bool) -> str:
    if len(model.rules_):  # rules, but every member already bought what they suggest
        return Messages("en")("next_product.no_suggestions")
    return no_rules_sentence(Messages("en"), model)


class AnomalyKind(str, Enum):
    orders = "orders"
    members = "members"


def anomalies_command(
    kind: Annotated[AnomalyKind, typer.Option("--kind", help="orders or members.")] = AnomalyKind.orders,
    as_of: AsOfOption = None,
    product_ratio: Annotated[
        float, typer.Option(help="Flag a line at this many times its product's median quantity.")
    ] = 100.0,
    min_units: Annotated[
        float, typer.Option(help="...and at least this many units (also for --order-ratio on units).")
    ] = 1000.0,
    min_product_lines: Annotated[
        int, typer.Option(help="Products with fewer lines have no median to compare with.")
    ] = 5,
    order_ratio: Annotated[
        float, typer.Option(help="Flag an order at this many times the median order's units or amount.")
    ] = 100.0,
    customer_ratio: Annotated[
        float, typer.Option(help="Flag an order at this many times the customer's own median order.")
    ] = 20.0,
    min_customer_orders: Annotated[int, typer.Option(help="...for customers with at least this many orders.")] = 3,
    orders_per_day: Annotated[int, typer.Option(help="Flag a member with this many orders on one day.")] = 10,
    spend_z: Annotated[float, typer.Option(help="Flag a member whose robust z-score of log spend reaches this.")] = 3.5,
    lang: Annotated[str, typer.Option(help="Language of the reasons: en or zh.")] = "en",
    fmt: FormatOption = OutputFormat.table,
    out_file: OutOption = None,
    limit: LimitOption = 20,
    db: Annotated[str, option_db()] = "memberlens.duckdb",
    engine: Annotated[str, option_engine()] = "duckdb",
) -> None:
    """Unusual orders (bulk super orders, beyond the customer's habit) or members (bulk resellers
    黄牛, bursts of orders, VIP spend), each with the reason it was flagged."""
    if lang not in LANGUAGES:
        raise ConfigError(f"--lang {lang!r} is not a language memberlens speaks", "use --lang en or --lang zh")
    thresholds = AnomalyThresholds(
        product_ratio=product_ratio,
        min_units=min_units,
        min_product_lines=min_product_lines,
        order_ratio=order_ratio,
        customer_ratio=customer_ratio,
        min_customer_orders=min_customer_orders,
        orders_per_day=orders_per_day,
        spend_z=spend_z,
    )
    cut_off = parse_as_of(as_of)
    with open_tables(engine, db) as workspace:
        snapshot = snapshot_of(workspace, cut_off)
        found = find_anomalies(
            snapshot.table("orders"), snapshot.tables.get("cancellations"), thresholds=thresholds, as_of=cut_off
        )
        before = why_nothing_before(workspace.table("orders"), cut_off)
    t = Messages(lang)
    if kind is AnomalyKind.orders:
        frame = explain_orders(found.orders, t)
        shown = ("order_id", "customer_id", "ordered_at", "units", "amount", "reasons")
        none = no_orders_sentence(t, thresholds)
    else:
        frame = explain_members(found.members, t)
        shown = ("customer_id", "kind", "orders", "spend", "reasons")
        none = t("anomalies.no_members")
    if frame.empty:
        say_nothing_to_show(before or none)
    _emit(frame, fmt, out_file, limit, f"{len(frame):,} unusual {kind.value}", shown=shown)


def _emit(
    frame: pd.DataFrame,
    fmt: OutputFormat,
    out_file: Path | None,
    limit: int,
    title: str,
    shown: tuple[str, ...] | None = None,
) -> None:
    """Write all of ``frame`` to ``out_file``, or print it (the ``shown`` columns of the first
    ``limit`` rows as a table)."""
    if out_file:
        write_frame(frame if out_format(out_file, fmt) in ("json", "parquet") else _joined(frame), out_file, fmt)
        return
    if fmt is OutputFormat.json:
        print_records(plain_records(frame), fmt)  # a rule's products stay lists
        return
    printed = frame if fmt is OutputFormat.csv or shown is None else frame[list(shown)]
    records = plain_records(_joined(printed))
    if fmt is OutputFormat.table:
        print_records(
            records[:limit],
            fmt,
            title=title + (f" (first {limit}; all with --format csv or json)" if len(records) > limit else ""),
        )
        return
    print_records(records, fmt)


def _joined(frame: pd.DataFrame) -> pd.DataFrame:
    """List cells (a rule's products) as ``a + b`` text, for tables, CSV and Excel."""
    return frame.map(lambda v: " + ".join(map(str, v)) if isinstance(v, (list, tuple, np.ndarray)) else v)


__all__ = ["anomalies_command", "next_product_command"]
