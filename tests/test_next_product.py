"""Next-product rules and suggestions against independent oracles: support, confidence and lift
counted with itertools over hand-made baskets; suggestions recomputed member by member in
pandas; the REGENCY teacup-and-saucer pair of the UCI Online Retail data (lift > 10), its lift
recomputed from the raw file."""

from __future__ import annotations

import itertools
import json
from datetime import date

import ibis
import numpy as np
import pandas as pd
import pytest
from conftest import load

from memberlens.errors import ConfigError, InputError
from memberlens.predict.rules import AssociationRuleModel, count_frequent_items, mine_rules, suggest_next_products


def random_orders(seed: int, n_orders: int = 300, n_products: int = 9) -> pd.DataFrame:
    """Order lines with planted associations (p1 pulls p2 in, p3 pulls p4 and p5), repeated
    lines of one product in an order, lines without a product, and two names for p1."""
    rng = np.random.default_rng(seed)
    rows = []
    for number in range(n_orders):
        customer = f"c{rng.integers(0, 60):02d}"
        basket = {f"p{i}" for i in range(1, n_products + 1) if rng.random() < 0.18}
        if "p1" in basket and rng.random() < 0.7:
            basket.add("p2")
        if "p3" in basket and rng.random() < 0.8:
            basket |= {"p4", "p5"}
        day = pd.Timestamp("2024-01-01") + pd.Timedelta(days=int(rng.integers(0, 120)))
        for product in sorted(basket):
            copies = 2 if rng.random() < 0.1 else 1
            for _ in range(copies):
                rows.append((customer, f"o{number:04d}", day, product, _name(product, rng)))
        if rng.random() < 0.05:
            rows.append((customer, f"o{number:04d}", day, None, None))
    frame = pd.DataFrame(rows, columns=["customer_id", "order_id", "ordered_at", "product_id", "product_name"])
    return frame.assign(quantity=1.0, amount=1.0)


def _name(product: str, rng) -> str:
    if product == "p1":
        return "Teacup" if rng.random() < 0.6 else "TEACUP"
    return f"Product {product[1:]}"


def oracle_rules(
    orders: pd.DataFrame, min_support: float, min_confidence: float, min_lift: float, max_len: int
) -> dict:
    """Every rule A → C by brute force: {(A, C): (support, confidence, lift, leverage, conviction)}."""
    kept = orders.dropna(subset=["product_id"])
    baskets = [frozenset(group.product_id) for _, group in kept.groupby("order_id")]
    n = len(baskets)  # an order without a product is not a basket

    def support(items) -> float:
        return sum(1 for b in baskets if items <= b) / n

    products = sorted({p for b in baskets for p in b})
    rules = {}
    for size in range(2, max_len + 1):
        for itemset in itertools.combinations(products, size):
            both = support(frozenset(itemset))
            if both < min_support:
                continue
            for k in range(1, size):
                for antecedent in itertools.combinations(itemset, k):
                    consequent = tuple(p for p in itemset if p not in antecedent)
                    a, c = support(frozenset(antecedent)), support(frozenset(consequent))
                    confidence = both / a
                    lift = confidence / c
                    if confidence >= min_confidence and lift >= min_lift:
                        conviction = (1 - c) / (1 - confidence) if confidence < 1 else None
                        rules[(antecedent, consequent)] = (both, confidence, lift, both - a * c, conviction)
    return rules


def n_baskets(orders: pd.DataFrame) -> int:
    return orders.dropna(subset=["product_id"]).order_id.nunique()


def fit(orders: pd.DataFrame, **params) -> AssociationRuleModel:
    return AssociationRuleModel(**params).fit(ibis.memtable(orders))


@pytest.mark.parametrize(
    "seed,params",
    [
        (1, dict(min_support=0.05, min_confidence=0.3, min_lift=1.0, max_len=2)),
        (2, dict(min_support=0.04, min_confidence=0.2, min_lift=1.2, max_len=3)),
        (3, dict(min_support=0.02, min_confidence=0.0, min_lift=0.0, max_len=3)),
    ],
)
def test_rules_match_brute_force_counts(seed, params):
    orders = random_orders(seed)
    model = fit(orders, **params)
    expected = oracle_rules(orders, **params)
    got = {(tuple(r.antecedent_ids), tuple(r.consequent_ids)): r for r in model.rules_.itertuples()}
    assert set(got) == set(expected) and expected
    for key, (support, confidence, lift, leverage, conviction) in expected.items():
        rule = got[key]
        assert rule.support == pytest.approx(support)
        assert rule.confidence == pytest.approx(confidence)
        assert rule.lift == pytest.approx(lift)
        assert rule.leverage == pytest.approx(leverage, abs=1e-12)
        assert pd.isna(rule.conviction) == (conviction is None)  # null when confidence is 1
        if conviction is not None:
            assert rule.conviction == pytest.approx(conviction)
        assert rule.baskets == round(support * n_baskets(orders))
    assert model.n_baskets_ == n_baskets(orders) < orders.order_id.nunique()


def test_planted_association_is_found_and_rules_are_totally_ordered():
    orders = random_orders(4)
    rules = fit(orders, min_support=0.03, min_confidence=0.2, min_lift=1.0, max_len=3).rules_
    p1_p2 = rules[(rules.antecedent_ids.map(tuple) == ("p1",)) & (rules.consequent_ids.map(tuple) == ("p2",))]
    assert len(p1_p2) == 1 and p1_p2.lift.iloc[0] > 2
    assert rules.rule_id.tolist() == list(range(1, len(rules) + 1))
    keys = list(zip(-rules.confidence, -rules.lift, -rules.support, rules.antecedent_ids, rules.consequent_ids))
    assert keys == sorted(keys)
    assert len(set(map(tuple, rules[["antecedent_ids", "consequent_ids"]].map(tuple).to_numpy()))) == len(rules)


def test_thresholds_are_respected():
    orders = random_orders(5)
    params = dict(min_support=0.04, min_confidence=0.35, min_lift=1.5, max_len=2)
    rules = fit(orders, **params).rules_
    assert len(rules) > 0
    assert (rules.support >= params["min_support"]).all()
    assert (rules.confidence >= params["min_confidence"]).all()
    assert (rules.lift >= params["min_lift"]).all()
    assert ((rules.antecedent_ids.map(len) + rules.consequent_ids.map(len)) <= 2).all()


def test_display_name_is_the_most_frequent_one():
    orders = random_orders(6)
    rules = fit(orders, min_support=0.03, min_confidence=0.2, min_lift=1.0).rules_
    names = (
        orders.dropna(subset=["product_id"])
        .groupby("product_id")
        .product_name.agg(lambda s: sorted(s.value_counts().items(), key=lambda kv: (-kv[1], kv[0]))[0][0])
    )
    for row in rules.itertuples():
        assert list(row.antecedent_names) == [names[p] for p in row.antecedent_ids]
        assert list(row.consequent_names) == [names[p] for p in row.consequent_ids]
    assert "Teacup" in {n for row in rules.antecedent_names for n in row}  # 60% of p1's lines


def oracle_suggestions(orders: pd.DataFrame, rules: pd.DataFrame, top: int) -> pd.DataFrame:
    owned = orders.dropna(subset=["product_id"]).groupby("customer_id").product_id.agg(set)
    rows = []
    for customer, products in owned.items():
        best: dict[str, int] = {}
        for rule in rules.itertuples():
            if set(rule.antecedent_ids) <= products:
                for product in rule.consequent_ids:
                    if product not in products:
                        best[product] = min(best.get(product, rule.rule_id), rule.rule_id)
        ranked = sorted(best.items(), key=lambda kv: (kv[1], kv[0]))[:top]
        rows += [(customer, rank, product, rule_id) for rank, (product, rule_id) in enumerate(ranked, start=1)]
    return pd.DataFrame(rows, columns=["customer_id", "rank", "product_id", "rule_id"])


@pytest.mark.parametrize("top", [1, 3])
def test_suggestions_match_a_member_by_member_oracle(top):
    orders = random_orders(7)
    model = fit(orders, min_support=0.03, min_confidence=0.2, min_lift=1.0, max_len=3)
    got = model.suggest(ibis.memtable(orders), top=top).to_pandas()
    expected = oracle_suggestions(orders, model.rules_, top)
    assert len(expected) > 0
    pd.testing.assert_frame_equal(
        got[["customer_id", "rank", "product_id", "rule_id"]].reset_index(drop=True), expected, check_dtype=False
    )
    owned = set(map(tuple, orders[["customer_id", "product_id"]].dropna().to_numpy()))
    assert not any((r.customer_id, r.product_id) in owned for r in got.itertuples())  # never what they bought
    by_id = model.rules_.set_index("rule_id")
    assert (got.confidence.to_numpy() == by_id.confidence.loc[got.rule_id].to_numpy()).all()


def test_as_of_leaves_later_orders_out():
    orders = random_orders(8)
    cut = date(2024, 3, 1)
    with_cut = AssociationRuleModel(min_support=0.03, min_lift=1.0).fit(ibis.memtable(orders), as_of=cut)
    before = fit(orders[orders.ordered_at < pd.Timestamp(cut)], min_support=0.03, min_lift=1.0)
    assert with_cut.n_baskets_ == n_baskets(orders[orders.ordered_at < pd.Timestamp(cut)]) < n_baskets(orders)
    pd.testing.assert_frame_equal(with_cut.rules_, before.rules_)


def test_saved_rules_reload_as_the_same_model(tmp_path):
    orders = random_orders(9)
    model = AssociationRuleModel(min_support=0.03, min_confidence=0.2, min_lift=1.0).fit(
        ibis.memtable(orders), as_of=date(2024, 4, 1)
    )
    path = model.save(tmp_path / "rules.json")
    data = json.loads(path.read_text(encoding="utf-8"))
    assert data["as_of"] == "2024-04-01" and data["thresholds"]["min_support"] == 0.03 and data["trained_at"]
    loaded = AssociationRuleModel.load(path)
    pd.testing.assert_frame_equal(loaded.rules_, model.rules_, check_dtype=False)
    assert (loaded.n_baskets_, loaded.as_of_, loaded.thresholds) == (model.n_baskets_, model.as_of_, model.thresholds)
    table = ibis.memtable(orders)
    pd.testing.assert_frame_equal(loaded.suggest(table).to_pandas(), model.suggest(table).to_pandas())


def test_damaged_or_foreign_files_are_input_errors(tmp_path):
    (tmp_path / "bad.json").write_text("{not json", encoding="utf-8")
    (tmp_path / "other.json").write_text('{"model": "bg-nbd"}', encoding="utf-8")
    for name in ("bad.json", "other.json", "missing.json"):
        with pytest.raises(InputError, match=name):
            AssociationRuleModel.load(tmp_path / name)


@pytest.mark.parametrize(
    "params",
    [
        dict(min_support=0),
        dict(min_support=1.5),
        dict(min_confidence=-0.1),
        dict(min_lift=-1),
        dict(max_len=1),
        dict(min_support=float("nan")),
    ],
)
def test_bad_thresholds_name_the_parameter(params):
    model = AssociationRuleModel(**params)  # stored as given; checked when fitted, as scikit-learn's models do
    with pytest.raises(ConfigError, match=next(iter(params))):
        model.fit(ibis.memtable(random_orders(1)))


def test_no_frequent_pair_gives_no_rules():
    orders = pd.DataFrame(
        {
            "customer_id": ["a", "b", "c"],
            "order_id": ["1", "2", "3"],
            "ordered_at": pd.to_datetime(["2024-01-01"] * 3),
            "product_id": ["x", "y", "z"],
            "product_name": ["X", "Y", "Z"],
            "quantity": 1.0,
            "amount": 1.0,
        }
    )
    model = fit(orders, min_support=0.3, min_confidence=0.0, min_lift=0.0)
    assert model.rules_.empty and model.n_baskets_ == 3 and model.n_frequent_items_ == 3
    assert model.suggest(ibis.memtable(orders)).to_pandas().empty


# -- the engine queries, on DuckDB and Spark ---------------------------------------------------
TINY = pd.DataFrame(
    {
        "customer_id": ["a", "a", "a", "b", "b", "c", "c", "c", "d"],
        "order_id": ["1", "1", "2", "3", "3", "4", "4", "4", "5"],
        "ordered_at": pd.to_datetime(["2024-01-01"] * 9),
        "product_id": ["x", "y", "x", "x", "y", "y", "z", "z", None],
        "product_name": ["X", "Y", "X", "X", "Y", "Y", "Z", "Z", None],
        "quantity": 1.0,
        "amount": 1.0,
    }
)


def test_basket_and_suggestion_queries_on_each_engine(con):
    orders = load(con, "tiny_orders", TINY)
    items, pairs, n_baskets = count_frequent_items(orders, min_support=0.5)
    # baskets: {x,y}, {x}, {x,y}, {y,z}: x in 3/4, y in 3/4, z in 1/4 of baskets
    assert n_baskets == 4  # order 5 has no product: not a basket
    items = items.to_pandas().sort_values("item_no").reset_index(drop=True)
    assert items.product_id.tolist() == ["x", "y"] and items.baskets.tolist() == [3, 3]
    pairs = pairs.to_pandas().sort_values(["basket_no", "item_no"]).reset_index(drop=True)
    assert sorted(map(tuple, pairs.to_numpy().tolist())) == [(0, 0), (0, 1), (1, 0), (2, 0), (2, 1), (3, 1)]
    rules = mine_rules(pairs, items, n_baskets, min_support=0.5, min_confidence=0.0, min_lift=0.0, max_len=2)
    assert [(r.antecedent_ids, r.consequent_ids, r.baskets) for r in rules.itertuples()] == [
        (["x"], ["y"], 2),
        (["y"], ["x"], 2),
    ]  # confidence 2/3 each, lift (2/4) / (3/4 * 3/4)
    assert rules.lift.tolist() == pytest.approx([8 / 9, 8 / 9])
    got = suggest_next_products(orders, rules, top=2).to_pandas()
    expected = oracle_suggestions(TINY, rules, 2)
    pd.testing.assert_frame_equal(
        got[["customer_id", "rank", "product_id", "rule_id"]].reset_index(drop=True), expected, check_dtype=False
    )
    assert got[["customer_id", "product_id"]].values.tolist() == [["c", "x"]]  # c has y, not x; a and b have both


# -- the UCI Online Retail data ----------------------------------------------------------------
@pytest.fixture(scope="module")
def uci(shared_data, tmp_path_factory):
    from memberlens import Workspace, ingest

    path = tmp_path_factory.mktemp("uci") / "uci.duckdb"
    with Workspace(path) as ws:
        ingest(ws, shared_data / "online_retail.csv.gz", preset="online-retail")
    return path


GREEN, PINK = "22697", "22698"  # GREEN / PINK REGENCY TEACUP AND SAUCER (22699 is ROSES)


def test_regency_teacups_are_bought_together(uci, shared_data):
    from memberlens import Workspace

    with Workspace(uci, read_only=True) as ws:
        model = AssociationRuleModel().fit(ws.table("orders"))
    rules = model.rules_
    pair = rules[(rules.antecedent_ids.map(tuple) == (GREEN,)) & (rules.consequent_ids.map(tuple) == (PINK,))]
    assert len(pair) == 1
    rule = pair.iloc[0]
    assert rule.lift > 10
    assert rule.antecedent_names == ["GREEN REGENCY TEACUP AND SAUCER"]
    assert rule.consequent_names == ["PINK REGENCY TEACUP AND SAUCER"]

    # the same lift from the raw file, with the default cleaning policy applied in pandas
    raw = pd.read_csv(shared_data / "online_retail.csv.gz", encoding="latin-1", dtype=str, keep_default_na=False)
    used = raw[
        ~raw.InvoiceNo.str.startswith("C")
        & (raw.CustomerID != "")
        & (raw.Quantity.astype(float) > 0)
        & (raw.UnitPrice.astype(float) > 0)
    ]
    baskets = used.groupby("InvoiceNo").StockCode.agg(set)
    n = len(baskets)
    green, pink = baskets.map(lambda b: GREEN in b), baskets.map(lambda b: PINK in b)
    expected_lift = (green & pink).sum() * n / (green.sum() * pink.sum())
    assert model.n_baskets_ == n
    assert rule.lift == pytest.approx(expected_lift)
    assert rule.confidence == pytest.approx((green & pink).sum() / green.sum())
    assert rule.baskets == (green & pink).sum()


# -- the report section ------------------------------------------------------------------------
HOSTILE = '<script>alert(1)</script>"</div>'


def test_report_section_tells_the_numbers_and_escapes_product_names(tmp_path):
    from memberlens import Workspace, ingest
    from memberlens.i18n import Messages
    from memberlens.reports.base import ReportContext
    from memberlens.reports.next_product import NextProductSection
    from memberlens.reports.render import render_report

    orders = random_orders(10).dropna(subset=["product_id"])
    orders["product_name"] = orders.product_name.where(orders.product_id != "p2", HOSTILE)
    orders = orders.assign(ordered_at=orders.ordered_at.dt.strftime("%Y-%m-%d"), unit_price=1.0)
    with Workspace(tmp_path / "w.duckdb") as ws:
        ingest(ws, orders.drop(columns=["amount"]).astype(str), name="orders")
    with Workspace(tmp_path / "w.duckdb", read_only=True) as ws:
        section = NextProductSection()
        ctx = ReportContext(ws, Messages("en"))
        content = section.build(ctx)
        model = AssociationRuleModel().fit(ws.table("orders"))
        best = model.rules_.iloc[0]
        assert len(model.rules_) > 0
        text = " ".join(content.sentences)
        assert f"{len(model.rules_):,} rules" in text and f"{best.confidence * 100:.1f}%" in text
        assert f"{model.n_baskets_:,} baskets" in text
        exports = section.exports(ctx)
        expected = model.suggest(ws.table("orders")).to_pandas()
        pd.testing.assert_frame_equal(exports["next_product"], expected)
        assert set(exports) == {"next_product", "unusual_members"}
        html = render_report(ws, lang="zh", sections=[section])
    assert "<script>alert(1)" not in html and "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "下一次购买" in html


def test_many_baskets_are_mined_from_a_seeded_sample_that_brute_force_agrees_with(tmp_path):
    import hashlib

    orders = random_orders(6, n_orders=900)
    params = dict(min_support=0.04, min_confidence=0.2, min_lift=1.0, max_len=2)
    model = fit(orders, **params, max_baskets=300)
    total = n_baskets(orders)
    fraction = 300 / total
    # the sample's definition, in plain Python: MD5 of "baskets:order_id" below fraction·16⁸
    chosen = {
        o
        for o in orders.order_id.unique()
        if int(hashlib.md5(f"baskets:{o}".encode()).hexdigest()[:8], 16) < round(fraction * 16**8)
    }
    sample = orders[orders.order_id.isin(chosen)]
    assert model.sampled and model.total_baskets_ == total and model.n_baskets_ == n_baskets(sample)
    assert abs(model.n_baskets_ - 300) < 5 * (300 * (1 - fraction)) ** 0.5
    expected = oracle_rules(sample, **params)
    got = {(tuple(r.antecedent_ids), tuple(r.consequent_ids)): r for r in model.rules_.itertuples()}
    assert set(got) == set(expected) and expected
    for key, (support, confidence, lift, *_rest) in expected.items():
        assert (got[key].support, got[key].confidence, got[key].lift) == pytest.approx((support, confidence, lift))
    model.save(tmp_path / "rules.json")
    again = AssociationRuleModel.load(tmp_path / "rules.json")
    assert (again.sampled, again.total_baskets_, again.max_baskets) == (True, total, 300)
    whole = fit(orders, **params)  # the default budget: every basket
    assert not whole.sampled and whole.n_baskets_ == whole.total_baskets_ == total
