"""``memberlens predict next-product``: association rules over baskets and next-product
suggestions per member."""

from __future__ import annotations

from pathlib import Path
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
    err,
    option_db,
    option_engine,
    option_model_file,
    option_renamed,
    parse_as_of,
    renamed,
    say_nothing_to_show,
    why_nothing_before,
)
from memberlens.i18n import Messages
from memberlens.io.catalog import open_tables
from memberlens.parameters import check_number
from memberlens.predict.rules import AssociationRuleModel
from memberlens.reports.next_product import no_rules_sentence
from memberlens.results import Results


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
    model_file: Annotated[Path | None, option_model_file("Use rules saved with --save instead of mining them.")] = None,
    old_model_file: Annotated[Path | None, option_renamed("--model")] = None,
    fmt: FormatOption = OutputFormat.table,
    out_file: RowsOutOption = None,
    limit: RowsLimitOption = 20,
    db: Annotated[str, option_db()] = "memberlens.duckdb",
    engine: Annotated[str, option_engine()] = "duckdb",
) -> None:
    """Association rules over baskets (FP-growth) and the next product for each member."""
    cut_off = parse_as_of(as_of)
    model_file = renamed(model_file, old_model_file, "--model", "--model-file")
    check_number(top, "--top", "predict next-product", low=1, integer=True, hint="e.g. --top 3")
    settings = {
        "min_support": min_support,
        "min_confidence": min_confidence,
        "min_lift": min_lift,
        "max_len": max_len,
        "max_baskets": max_baskets,
    }
    options = AnalysisOptions(as_of=cut_off, rules_settings=tuple(settings.items()), suggestions=top)
    saved = AssociationRuleModel.load(model_file) if model_file else None  # a bad file is named first
    with open_tables(engine, db) as workspace:
        results = Results(workspace, options=options)
        if saved is not None:
            results.provide("next-product-model", saved)
        model = results.get("next-product-model")
        suggestions = results.get("next-product") if members else None
        empty = suggestions.empty if members else not len(model.rules_)
        if empty:
            say_nothing_to_show(why_nothing_before(workspace.table("orders"), cut_off) or _why_no_rules(model, members))
    if save:
        model.save(save)
        err.print(f"saved {len(model.rules_)} rules to {save}", markup=False)
    if members:
        emit_rows(
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
        emit_rows(rules, fmt, out_file, limit, title, shown=RULE_COLUMNS)


RULE_COLUMNS = ("rule_id", "antecedent_names", "consequent_names", "support", "confidence", "lift", "baskets")


def _why_no_rules(model: AssociationRuleModel, members: bool) -> str:
    if len(model.rules_):  # rules, but every member already bought what they suggest
        return Messages("en")("next_product.no_suggestions")
    return no_rules_sentence(Messages("en"), model)


__all__ = ["next_product_command"]
