"""``memberlens predict anomalies``: unusual orders and members, each with the reason it was
flagged."""

from __future__ import annotations

from enum import Enum
from typing import Annotated

import typer

from memberlens.analyses import AnalysisOptions
from memberlens.cli._common import (
    AsOfOption,
    FormatOption,
    OutputFormat,
    RowsLimitOption,
    RowsOutOption,
    emit_rows,
    option_db,
    option_engine,
    parse_as_of,
    say_nothing_to_show,
    why_nothing_before,
)
from memberlens.errors import ConfigError
from memberlens.i18n import LANGUAGES, Messages
from memberlens.io.catalog import open_tables
from memberlens.predict.anomalies import explain_members, explain_orders
from memberlens.reports.next_product import no_orders_sentence
from memberlens.results import Results


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
    out_file: RowsOutOption = None,
    limit: RowsLimitOption = 20,
    db: Annotated[str, option_db()] = "memberlens.duckdb",
    engine: Annotated[str, option_engine()] = "duckdb",
) -> None:
    """Unusual orders (bulk super orders, beyond the customer's habit) or members (bulk resellers
    黄牛, bursts of orders, VIP spend), each with the reason it was flagged."""
    if lang not in LANGUAGES:
        raise ConfigError(f"--lang {lang!r} is not a language memberlens speaks", "use --lang en or --lang zh")
    settings = {
        "product_ratio": product_ratio,
        "min_units": min_units,
        "min_product_lines": min_product_lines,
        "order_ratio": order_ratio,
        "customer_ratio": customer_ratio,
        "min_customer_orders": min_customer_orders,
        "orders_per_day": orders_per_day,
        "spend_z": spend_z,
    }
    cut_off = parse_as_of(as_of)
    with open_tables(engine, db) as workspace:
        results = Results(workspace, options=AnalysisOptions(as_of=cut_off, anomaly_settings=tuple(settings.items())))
        model = results.get("unusual")
        before = why_nothing_before(workspace.table("orders"), cut_off)
    t = Messages(lang)
    if kind is AnomalyKind.orders:
        frame = explain_orders(model.score("orders"), t)
        shown = ("order_id", "customer_id", "ordered_at", "units", "amount", "reasons")
        none = no_orders_sentence(t, model.thresholds_)
    else:
        frame = explain_members(model.score("members"), t)
        shown = ("customer_id", "kind", "orders", "spend", "reasons")
        none = t("anomalies.no_members")
    if frame.empty:
        say_nothing_to_show(before or none)
    emit_rows(frame, fmt, out_file, limit, f"{len(frame):,} unusual {kind.value}", shown=shown)


__all__ = ["anomalies_command"]
