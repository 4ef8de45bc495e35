"""Next product (the next product a member will buy, 下一次购买商品的名称): association rules over
baskets, and a next-product suggestion per member from the rules.

Definitions (Agrawal, Imieliński & Swami 1993; frequent itemsets by FP-growth, Han, Pei & Yin
2000, as implemented by ``mlxtend.frequent_patterns``):

basket
    the distinct products (``product_id``) of one order (``order_id``); lines without either are
    ignored. An item is a product id, shown with its most frequent ``product_name`` (ties: the
    smallest name).
support(X)
    share of all baskets that hold every item of X.
confidence(A → C)
    ``support(A ∪ C) / support(A)``: of the baskets with A, the share that also hold C.
lift(A → C)
    ``confidence / support(C)``: how many times more likely C is with A than without knowing A.
leverage, conviction
    ``support(A ∪ C) − support(A) support(C)`` and ``(1 − support(C)) / (1 − confidence)``
    (null when confidence is 1).

What runs where: baskets, item counts and the ``min_support`` filter run in the engine; only the
(basket number, item number) pairs of frequent items come to Python, as a sparse matrix for
FP-growth. Suggestions join the member's products with the (small) rules table in the engine.
Rules are data: :meth:`AssociationRuleModel.save` writes JSON (thresholds, cut-off date, counts
and rules), never pickle.
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import ibis
import ibis.expr.types as ir
import numpy as np
import pandas as pd
from scipy import sparse

from memberlens.errors import InputError
from memberlens.io.files import write_text_atomic
from memberlens.io.jsonable import json_text, plain_records
from memberlens.parameters import check_number
from memberlens.predict._base import PredictionModel, read_json_model
from memberlens.predict._sample import in_seeded_sample
from memberlens.snapshot import orders_before

RULE_COLUMNS = (
    "rule_id",
    "antecedent_ids",
    "antecedent_names",
    "consequent_ids",
    "consequent_names",
    "antecedent_baskets",
    "consequent_baskets",
    "baskets",
    "support",
    "confidence",
    "lift",
    "leverage",
    "conviction",
)
SUGGESTION_COLUMNS = ("customer_id", "rank", "product_id", "product_name", "rule_id", "because", "confidence", "lift")
FORMAT_VERSION = 1


def _basket_items(orders: ir.Table) -> ir.Table:
    """Distinct (order_id, product_id) pairs: what each basket holds."""
    kept = orders.filter(orders.order_id.notnull() & orders.product_id.notnull())
    return kept.select("order_id", "product_id").distinct()


def name_products(orders: ir.Table) -> ir.Table:
    """``product_id, product_name``: each product's most frequent name (ties: the smallest)."""
    named = orders.filter(orders.product_id.notnull() & orders.product_name.notnull())
    counts = named.group_by(["product_id", "product_name"]).aggregate(lines=named.count())
    ranked = counts.mutate(
        position=ibis.row_number().over(group_by=counts.product_id, order_by=[counts.lines.desc(), counts.product_name])
    )
    return ranked.filter(ranked.position == 0).select("product_id", "product_name")


def count_baskets(orders: ir.Table) -> int:
    """The number of baskets (orders with a product)."""
    return int(_basket_items(orders).order_id.nunique().execute() or 0)


def count_frequent_items(
    orders: ir.Table, min_support: float, sample_fraction: float = 1.0, *, all_baskets: int | None = None
) -> tuple[ir.Table, ir.Table, int]:
    """The frequent items and the baskets' pairs of them, numbered in the engine.

    Returns ``(items, pairs, n_baskets)``: ``items`` has ``item_no`` (0-based, by product id),
    ``product_id``, ``product_name`` and ``baskets``; ``pairs`` has ``basket_no`` (0-based) and
    ``item_no`` for every basket holding a frequent item. ``n_baskets`` counts every basket,
    with or without frequent items (the denominator of support). With ``sample_fraction`` < 1,
    all of this is of a seeded sample of the baskets (:mod:`memberlens.predict._sample`).
    ``all_baskets``: :func:`count_baskets` of ``orders`` when the caller has it (not counted again
    unless sampling).
    """
    baskets = _basket_items(orders)
    if sample_fraction < 1.0:
        baskets = baskets.filter(in_seeded_sample(baskets.order_id, sample_fraction, salt="baskets"))
        all_baskets = None
    n_baskets = all_baskets if all_baskets is not None else int(baskets.order_id.nunique().execute() or 0)
    min_count = max(1, math.ceil(min_support * n_baskets - 1e-9))
    counted = baskets.group_by("product_id").aggregate(baskets=baskets.count())
    frequent = counted.filter(counted.baskets >= min_count)
    frequent = frequent.mutate(item_no=ibis.dense_rank().over(order_by=frequent.product_id))
    names = name_products(orders)
    items = frequent.left_join(names, frequent.product_id == names.product_id).select(
        frequent.item_no, frequent.product_id, names.product_name, frequent.baskets
    )
    lines = baskets.view()
    held = lines.join(frequent, lines.product_id == frequent.product_id).select(lines.order_id, frequent.item_no)
    pairs = held.mutate(basket_no=ibis.dense_rank().over(order_by=held.order_id)).select("basket_no", "item_no")
    return items, pairs, n_baskets


def _one_hot(pairs: pd.DataFrame, n_baskets: int, n_items: int) -> pd.DataFrame:
    """Baskets × items as a sparse boolean frame (columns are item numbers); baskets without a
    frequent item are all-false rows, so supports keep every basket in the denominator."""
    matrix = sparse.csr_matrix(
        (np.ones(len(pairs), dtype=bool), (pairs.basket_no.to_numpy(), pairs.item_no.to_numpy())),
        shape=(max(n_baskets, 1), n_items),
        dtype=bool,
    )
    return pd.DataFrame.sparse.from_spmatrix(matrix, columns=list(range(n_items)))


def mine_rules(
    pairs: pd.DataFrame,
    items: pd.DataFrame,
    n_baskets: int,
    *,
    min_support: float,
    min_confidence: float,
    min_lift: float,
    max_len: int,
) -> pd.DataFrame:
    """Association rules from the executed frequent-item pairs by mlxtend's FP-growth, ordered by
    confidence, lift and support (descending), then antecedent and consequent ids; ``rule_id``
    numbers them 1, 2, ... in that order."""
    with warnings.catch_warnings():  # importing it sets "always show DeprecationWarning" for the whole process
        from mlxtend.frequent_patterns import association_rules, fpgrowth

    if n_baskets == 0 or len(items) < 2:
        return empty_rules()
    one_hot = _one_hot(pairs, n_baskets, len(items))
    itemsets = fpgrowth(one_hot, min_support=min_support, use_colnames=True, max_len=max_len)
    if not (itemsets.itemsets.map(len) >= 2).any():
        return empty_rules()
    rules = association_rules(itemsets, num_itemsets=n_baskets, metric="confidence", min_threshold=min_confidence)
    rules = rules[rules.lift >= min_lift]
    ids = items.set_index("item_no").product_id.to_dict()
    names = items.set_index("item_no").product_name.to_dict()

    def ordered(itemset: frozenset) -> list[str]:
        return sorted(ids[i] for i in itemset)

    name_of = {ids[i]: (names[i] if isinstance(names[i], str) else ids[i]) for i in ids}
    columns = [
        "antecedents",
        "consequents",
        "antecedent support",
        "consequent support",
        "support",
        "confidence",
        "lift",
        "leverage",
        "conviction",
    ]
    records = []
    for antecedents, consequents, a_support, c_support, support, confidence, lift, leverage, conviction in rules[
        columns
    ].itertuples(index=False, name=None):
        antecedent, consequent = ordered(antecedents), ordered(consequents)
        records.append(
            {
                "antecedent_ids": antecedent,
                "antecedent_names": [name_of[i] for i in antecedent],
                "consequent_ids": consequent,
                "consequent_names": [name_of[i] for i in consequent],
                "antecedent_baskets": int(round(a_support * n_baskets)),
                "consequent_baskets": int(round(c_support * n_baskets)),
                "baskets": int(round(support * n_baskets)),
                "support": float(support),
                "confidence": float(confidence),
                "lift": float(lift),
                "leverage": float(leverage),
                "conviction": float(conviction) if math.isfinite(conviction) else None,
            }
        )
    records.sort(key=lambda r: (-r["confidence"], -r["lift"], -r["support"], r["antecedent_ids"], r["consequent_ids"]))
    for number, record in enumerate(records, start=1):
        record["rule_id"] = number
    return pd.DataFrame(records, columns=list(RULE_COLUMNS)) if records else empty_rules()


def empty_rules() -> pd.DataFrame:
    """A rules frame without rules (the columns of :func:`mine_rules`)."""
    return pd.DataFrame({column: pd.Series(dtype=_RULE_DTYPES.get(column, "float64")) for column in RULE_COLUMNS})


_RULE_DTYPES = {
    **dict.fromkeys(
        ("antecedent_ids", "antecedent_names", "consequent_ids", "consequent_names", "conviction"), "object"
    ),
    **dict.fromkeys(("rule_id", "antecedent_baskets", "consequent_baskets", "baskets"), "int64"),
}


def suggest_next_products(orders: ir.Table, rules: pd.DataFrame, top: int = 3) -> ir.Table:
    """Per member, up to ``top`` products they have not bought that a rule suggests.

    A rule applies to a member who bought every product of its antecedent; each of its
    consequents the member has not bought is a candidate, credited to the best applicable rule
    (the lowest ``rule_id``: highest confidence, then lift, support, ids). Candidates are ranked
    by that rule, then product id. Runs in the engine: the rules go in as small in-memory tables.
    Returns ``customer_id, rank, product_id, product_name, rule_id, because`` (the antecedent's
    names), ``confidence, lift``, ordered by customer and rank.
    """
    check_number(top, "top", "suggest_next_products", low=1, integer=True, hint="e.g. --top 3")
    antecedents, sizes, consequents = _rule_tables(rules)
    kept = orders.filter(orders.customer_id.notnull() & orders.product_id.notnull())
    owned = kept.select("customer_id", "product_id").distinct()
    hits = (
        owned.join(antecedents, owned.product_id == antecedents.product_id)
        .group_by([owned.customer_id, antecedents.rule_id])
        .aggregate(hits=ibis._.count())
    )
    applicable = hits.join(sizes, hits.rule_id == sizes.rule_id).filter(ibis._.hits == ibis._.antecedent_size)
    applicable = applicable.select("customer_id", "rule_id")
    candidates = applicable.join(consequents, applicable.rule_id == consequents.rule_id).select(
        applicable.customer_id, applicable.rule_id, consequents.product_id, consequents.product_name
    )
    already = owned.view()
    new = candidates.anti_join(
        already, [candidates.customer_id == already.customer_id, candidates.product_id == already.product_id]
    )
    best = new.group_by(["customer_id", "product_id"]).aggregate(
        rule_id=new.rule_id.min(), product_name=new.product_name.min()
    )
    ranked = best.mutate(
        rank=ibis.row_number().over(group_by=best.customer_id, order_by=[best.rule_id, best.product_id]) + 1
    )
    ranked = ranked.filter(ranked["rank"] <= top)
    return (
        ranked.join(sizes, ranked.rule_id == sizes.rule_id)
        .select(
            ranked.customer_id,
            ranked["rank"],
            ranked.product_id,
            ranked.product_name,
            ranked.rule_id,
            sizes.because,
            sizes.confidence,
            sizes.lift,
        )
        .order_by(["customer_id", "rank"])
    )


def _rule_tables(rules: pd.DataFrame) -> tuple[ir.Table, ir.Table, ir.Table]:
    """The rules as three in-memory tables: antecedent items, one row per rule, consequent items."""
    antecedents = [(int(r.rule_id), str(p)) for r in rules.itertuples() for p in r.antecedent_ids]
    consequents = [
        (int(r.rule_id), str(p), str(n))
        for r in rules.itertuples()
        for p, n in zip(r.consequent_ids, r.consequent_names)
    ]
    per_rule = [
        (
            int(r.rule_id),
            len(r.antecedent_ids),
            " + ".join(map(str, r.antecedent_names)),
            float(r.confidence),
            float(r.lift),
        )
        for r in rules.itertuples()
    ]
    return (
        ibis.memtable(
            pd.DataFrame(antecedents, columns=["rule_id", "product_id"]),
            schema={"rule_id": "int64", "product_id": "string"},
        ),
        ibis.memtable(
            pd.DataFrame(per_rule, columns=["rule_id", "antecedent_size", "because", "confidence", "lift"]),
            schema={
                "rule_id": "int64",
                "antecedent_size": "int64",
                "because": "string",
                "confidence": "float64",
                "lift": "float64",
            },
        ),
        ibis.memtable(
            pd.DataFrame(consequents, columns=["rule_id", "product_id", "product_name"]),
            schema={"rule_id": "int64", "product_id": "string", "product_name": "string"},
        ),
    )


# -- the model ---------------------------------------------------------------------------------
@dataclass(repr=False)
class AssociationRuleModel(PredictionModel):
    """Association rules over baskets (FP-growth), and next-product suggestions from them.

    Parameters
    ----------
    min_support
        Smallest share of baskets an itemset (and so a rule) must appear in, in (0, 1].
    min_confidence
        Smallest confidence of a rule, in [0, 1].
    min_lift
        Smallest lift of a rule (1 = independence; default keeps positive associations only).
    max_len
        Most products in a rule (antecedent and consequent together), at least 2.
    max_baskets
        With more baskets than this, the rules are mined from a seeded sample of about this many
        (drawn in the engine; supports, confidences and lifts are the sample's). Two million
        baskets estimate a 1 % support within ±0.02 points.

    Fitted attributes: ``rules_`` (see :func:`mine_rules`), ``n_baskets_`` (baskets mined),
    ``total_baskets_`` (baskets before ``as_of``), ``n_frequent_items_``, ``as_of_`` (the cut-off
    the rules were trained to) and ``trained_at_``.
    """

    min_support: float = 0.01
    min_confidence: float = 0.2
    min_lift: float = 1.2
    max_len: int = 3
    max_baskets: int = 2_000_000

    kind = "next-product"
    model_name = "association-rules"  # in a saved file

    def _check_params(self) -> None:
        self._check_param("min_support", low=0, high=1, low_open=True, hint="e.g. --min-support 0.01")
        self._check_param("min_confidence", low=0, high=1, hint="e.g. --min-confidence 0.2")
        self._check_param("min_lift", low=0, hint="e.g. --min-lift 1.2 (1 = independence)")
        self._check_param("max_len", low=2, integer=True, hint="e.g. --max-len 3")
        self._check_param("max_baskets", low=1, integer=True, hint="e.g. --max-baskets 2000000")

    @property
    def sampled(self) -> bool:
        """True when the rules were mined from a sample of the baskets."""
        self._check_fitted()
        return self.n_baskets_ < self.total_baskets_

    @property
    def thresholds(self) -> dict[str, float | int]:
        return {
            "min_support": self.min_support,
            "min_confidence": self.min_confidence,
            "min_lift": self.min_lift,
            "max_len": self.max_len,
        }

    def fit(self, orders: ir.Table, *, as_of: date | None = None) -> AssociationRuleModel:
        """Mine the rules from the baskets of ``orders`` placed before ``as_of`` (from a seeded
        sample of about ``max_baskets`` of them when there are more); returns ``self``."""
        self._check_params()
        known = orders_before(orders, as_of)
        self.total_baskets_ = count_baskets(known)
        fraction = 1.0 if self.total_baskets_ <= self.max_baskets else self.max_baskets / self.total_baskets_
        items_expr, pairs_expr, n_baskets = count_frequent_items(
            known, self.min_support, fraction, all_baskets=self.total_baskets_
        )
        items = items_expr.order_by("item_no").to_pandas()
        pairs = (
            pairs_expr.to_pandas() if len(items) >= 2 else pd.DataFrame({"basket_no": [], "item_no": []}, dtype="int64")
        )
        self.rules_ = mine_rules(
            pairs,
            items,
            n_baskets,
            min_support=self.min_support,
            min_confidence=self.min_confidence,
            min_lift=self.min_lift,
            max_len=self.max_len,
        )
        self.n_baskets_, self.n_frequent_items_ = n_baskets, len(items)
        self.as_of_, self.trained_at_ = as_of, datetime.now(UTC).replace(microsecond=0)
        return self

    def suggest(self, orders: ir.Table, *, top: int = 3, as_of: date | None = None) -> ir.Table:
        """Up to ``top`` next products per member (see :func:`suggest_next_products`)."""
        return suggest_next_products(orders_before(orders, as_of), self._fitted_rules(), top)

    def score(self, orders: ir.Table, *, top: int = 3, as_of: date | None = None) -> ir.Table:
        """The predictions of the contract (:mod:`memberlens.predict._base`): :meth:`suggest`."""
        return self.suggest(orders, top=top, as_of=as_of)

    def _fitted_rules(self) -> pd.DataFrame:
        self._check_fitted()
        return self.rules_

    # -- saving: rules are data --------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        rules = self._fitted_rules()
        return {
            "model": self.model_name,
            "format_version": FORMAT_VERSION,
            "thresholds": self.thresholds,
            "as_of": self.as_of_.isoformat() if self.as_of_ else None,
            "trained_at": self.trained_at_.isoformat() if self.trained_at_ else None,
            "baskets": self.n_baskets_,
            "total_baskets": self.total_baskets_,
            "max_baskets": self.max_baskets,
            "frequent_items": self.n_frequent_items_,
            "rules": plain_records(rules),
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any], source: str = "rules") -> AssociationRuleModel:
        if not isinstance(data, dict) or data.get("model") != cls.model_name or not isinstance(data.get("rules"), list):
            raise InputError(
                f"{source}: not a saved association-rules file",
                "save one with: memberlens predict next-product --save FILE.json",
            )
        try:
            model = cls(**data["thresholds"], max_baskets=int(data.get("max_baskets", cls.max_baskets)))
            model._check_params()
            frame = pd.DataFrame(data["rules"], columns=list(RULE_COLUMNS)) if data["rules"] else empty_rules()
            for column in ("antecedent_ids", "antecedent_names", "consequent_ids", "consequent_names"):
                frame[column] = frame[column].map(lambda v: [str(x) for x in v])
            model.rules_ = frame.astype(
                {"rule_id": "int64", "baskets": "int64", "antecedent_baskets": "int64", "consequent_baskets": "int64"}
            )
            model.n_baskets_, model.n_frequent_items_ = int(data["baskets"]), int(data["frequent_items"])
            model.total_baskets_ = int(data.get("total_baskets", model.n_baskets_))
            model.as_of_ = date.fromisoformat(data["as_of"]) if data.get("as_of") else None
            model.trained_at_ = datetime.fromisoformat(data["trained_at"]) if data.get("trained_at") else None
        except (KeyError, TypeError, ValueError) as exc:
            raise InputError(
                f"{source}: the saved rules are damaged ({exc})",
                "save them again with: memberlens predict next-product --save FILE.json",
            ) from exc
        return model

    def save(self, path: str | Path) -> Path:
        """Write the rules, thresholds, cut-off and counts as JSON (atomically)."""
        return write_text_atomic(path, json_text(self.to_dict(), indent=1) + "\n")

    @classmethod
    def load(cls, path: str | Path) -> AssociationRuleModel:
        """Rules saved by :meth:`save`."""
        hint = "save rules with: memberlens predict next-product --save FILE.json"
        return cls.from_dict(read_json_model(path, "saved rules", hint), str(path))


__all__ = [
    "AssociationRuleModel",
    "RULE_COLUMNS",
    "SUGGESTION_COLUMNS",
    "count_frequent_items",
    "empty_rules",
    "mine_rules",
    "name_products",
    "suggest_next_products",
]
