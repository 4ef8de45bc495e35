"""The referral network against independent oracles.

networkx is the oracle for the graph: the documented rules (self-referrals out, the earliest
referral of a member counts, the latest referral of a loop out) are applied to a networkx
DiGraph with its own cycle finder, and cascade sizes (``nx.descendants``), generations (longest
shortest-path length from the member), the decayed referral value (sum over descendants of
decay ** (distance - 1) * value) and PageRank (``nx.pagerank`` of the reversed graph) are
compared with memberlens' joins in the engine and its SciPy influence — on random graphs
(with self-loops, members referred twice and loops), chains, stars, trees and rings, on DuckDB
and on Spark. The program summary is checked against a pandas oracle.
"""

from __future__ import annotations

import json
from datetime import date, datetime, timedelta

import networkx as nx
import numpy as np
import pandas as pd
import pytest
from conftest import load
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from memberlens.analyses import AnalysisOptions, referral_cascades, referral_network
from memberlens.referrals.cascades import compute_cascades
from memberlens.referrals.graph import referral_graph
from memberlens.referrals.key_referrers import select_key_referrers
from memberlens.referrals.network import analyse_referral_network
from memberlens.referrals.program import summarise_referral_program
from memberlens.snapshot import take_snapshot

START = datetime(2024, 1, 1)
DECAY = 0.5


# -- graphs --------------------------------------------------------------------------------------
def _frame(edges: list[tuple[str, str, int]]) -> pd.DataFrame:
    """Referrals from (referrer, referred, day offset)."""
    return pd.DataFrame(
        {
            "referrer_id": [a for a, _, _ in edges],
            "referred_id": [b for _, b, _ in edges],
            "referred_at": [START + timedelta(hours=int(h)) for _, _, h in edges],
            "reward_cost": [5.0] * len(edges),
        }
    )


def random_graph(seed: int, members: int = 60, referrals: int = 90) -> pd.DataFrame:
    """Random referrals: self-referrals, members referred twice and loops all happen."""
    rng = np.random.default_rng(seed)
    a = rng.integers(0, members, referrals)
    b = rng.integers(0, members, referrals)
    hours = rng.integers(0, 24 * 60, referrals)
    return _frame([(f"m{x:03d}", f"m{y:03d}", h) for x, y, h in zip(a, b, hours)])


def random_tree(seed: int, members: int = 80) -> pd.DataFrame:
    """A random recursive forest: member i referred by an earlier member (or nobody)."""
    rng = np.random.default_rng(seed)
    edges = []
    for i in range(1, members):
        parent = int(rng.integers(-3, i))
        if parent >= 0:
            edges.append((f"t{parent:03d}", f"t{i:03d}", i))
    return _frame(edges)


def chain(length: int = 30) -> pd.DataFrame:
    return _frame([(f"c{i:02d}", f"c{i + 1:02d}", i) for i in range(length)])


def star(size: int = 40) -> pd.DataFrame:
    return _frame([("hub", f"s{i:02d}", i) for i in range(size)])


def ring(size: int = 5, latest: int = 2) -> pd.DataFrame:
    """A loop of ``size`` members; referral ``latest`` is the latest, plus a tail hanging off it."""
    hours = [i if i != latest else 100 for i in range(size)]
    edges = [(f"r{i}", f"r{(i + 1) % size}", hours[i]) for i in range(size)]
    return _frame(edges + [("r0", "tail1", 3), ("tail1", "tail2", 4)])


SHAPES = {
    "random-1": random_graph(1),
    "random-2": random_graph(2, members=30, referrals=60),
    "random-3": random_graph(3),
    "tree": random_tree(4),
    "chain": chain(),
    "star": star(),
    "ring": ring(),
    "ring-last": ring(4, latest=3),
}


def revenues(referrals: pd.DataFrame, seed: int = 0) -> pd.DataFrame:
    """Orders for about two thirds of the members in the referrals (and one outsider)."""
    rng = np.random.default_rng(seed)
    people = sorted(set(referrals.referrer_id) | set(referrals.referred_id))
    rows = []
    for person in people:
        for k in range(int(rng.integers(0, 3))):
            rows.append(
                (
                    person,
                    f"{person}-{k}",
                    START + timedelta(days=int(rng.integers(0, 200))),
                    round(float(rng.uniform(1, 100)), 2),
                )
            )
    rows.append(("outsider", "o-1", START, 42.0))
    return pd.DataFrame(rows, columns=["customer_id", "order_id", "ordered_at", "amount"])


# -- the oracle ----------------------------------------------------------------------------------
def oracle_graph(referrals: pd.DataFrame) -> nx.DiGraph:
    """The documented rules, applied with networkx's cycle finder."""
    rows = referrals[referrals.referrer_id != referrals.referred_id]
    rows = rows.sort_values(["referred_at", "referrer_id"], kind="stable").drop_duplicates("referred_id", keep="first")
    graph = nx.DiGraph()
    for r in rows.itertuples():
        graph.add_edge(r.referrer_id, r.referred_id, at=r.referred_at)
    while True:
        try:
            loop = nx.find_cycle(graph)
        except nx.NetworkXNoCycle:
            return graph
        latest = max(loop, key=lambda e: (graph.edges[e[0], e[1]]["at"], e[0], e[1]))
        graph.remove_edge(latest[0], latest[1])


def oracle_members(graph: nx.DiGraph, orders: pd.DataFrame) -> pd.DataFrame:
    own = orders.groupby("customer_id").amount.sum()
    rows = []
    for member in sorted(graph.nodes):
        distance = nx.single_source_shortest_path_length(graph, member)
        below = {d: k for d, k in distance.items() if k > 0}
        rows.append(
            {
                "customer_id": member,
                "direct_referrals": graph.out_degree(member),
                "cascade_size": len(nx.descendants(graph, member)),
                "generations": max(below.values(), default=0),
                "cascade_revenue": sum(own.get(d, 0.0) for d in below),
                "referral_value": sum(DECAY ** (k - 1) * own.get(d, 0.0) for d, k in below.items()),
                "own_revenue": own.get(member, 0.0),
                "referred_by": next(iter(graph.predecessors(member)), None),
            }
        )
    frame = pd.DataFrame(rows)
    rank = nx.pagerank(graph.reverse(), alpha=0.85, tol=1e-14, max_iter=10_000)
    frame["pagerank"] = frame.customer_id.map(rank)
    return frame


def _nones(values: pd.Series) -> list:
    return [None if pd.isna(v) else v for v in values]


def check_network(network, referrals: pd.DataFrame, orders: pd.DataFrame) -> None:
    expected = oracle_members(oracle_graph(referrals), orders)
    got = network.members.sort_values("customer_id").reset_index(drop=True)
    assert got.customer_id.tolist() == expected.customer_id.tolist()
    for column in ("direct_referrals", "cascade_size", "generations"):
        assert got[column].tolist() == expected[column].tolist(), column
    assert _nones(got.referred_by) == _nones(expected.referred_by)
    for column in ("cascade_revenue", "own_revenue", "referral_value"):
        np.testing.assert_allclose(got[column], expected[column], rtol=1e-9, atol=1e-9, err_msg=column)
    np.testing.assert_allclose(got.pagerank, expected.pagerank, rtol=1e-7)
    assert abs(got.pagerank.sum() - 1) < 1e-9


def network_on(con, referrals: pd.DataFrame, orders: pd.DataFrame, name: str = "g", **options):
    return analyse_referral_network(
        load(con, f"referrals_{name}", referrals), load(con, f"orders_{name}", orders), **options
    )


# -- against networkx ----------------------------------------------------------------------------
#: on every engine (Spark runs a few queries per generation: a short chain there, the long one on DuckDB)
ENGINE_SHAPES = {
    "random-1": SHAPES["random-1"],
    "tree": SHAPES["tree"],
    "chain": chain(6),
    "star": SHAPES["star"],
    "ring": SHAPES["ring"],
}


@pytest.mark.slow  # on Spark: a few jobs per generation of each shape
def test_cascades_generations_and_pagerank_equal_networkx(con):
    """Each shape on each engine (one test per engine: Spark's cached generations take time)."""
    for name, referrals in ENGINE_SHAPES.items():
        orders = revenues(referrals, seed=len(name))
        network = network_on(con, referrals, orders, name.replace("-", "_"))
        check_network(network, referrals, orders)


@pytest.mark.parametrize("shape", [*SHAPES, *(f"random-{seed}" for seed in range(4, 10))])
def test_every_shape_equals_networkx_on_duckdb(shape):
    import ibis

    con = ibis.duckdb.connect()
    seed = int(shape.split("-")[1]) if shape.startswith("random-") else 0
    referrals = SHAPES.get(shape)
    if referrals is None:
        referrals = random_graph(seed, members=int(20 + seed * 10), referrals=int(40 + seed * 15))
    orders = revenues(referrals, seed)
    check_network(network_on(con, referrals, orders), referrals, orders)


def test_the_rules_as_documented():
    """Self-referral out; the earliest referral of a member counts (ties: smaller referrer id);
    the latest referral of a loop out, the rest of the loop and what hangs off it stay."""
    import ibis

    con = ibis.duckdb.connect()
    referrals = _frame(
        [
            ("a", "a", 1),  # self-referral
            ("a", "b", 2),
            ("z", "b", 1),  # b: z's referral is earlier
            ("c", "d", 5),
            ("b", "d", 5),  # d: a tie, the smaller referrer id (b) counts
            ("x", "y", 1),
            ("y", "w", 2),
            ("w", "x", 3),  # loop: w -> x is the latest
            ("y", "v", 9),  # hangs off the loop, after it closed: stays
        ]
    )
    graph = referral_graph(load(con, "r", referrals))
    kept = graph.edges.to_pandas()
    assert sorted(zip(kept.referrer_id, kept.referred_id)) == [
        ("b", "d"),
        ("x", "y"),
        ("y", "v"),
        ("y", "w"),
        ("z", "b"),
    ]
    assert graph.ignored == {"incomplete": 0, "self_referral": 1, "already_referred": 2, "closes_cycle": 1}


def test_the_depth_cap_stops_the_walk_and_says_so():
    import ibis

    con = ibis.duckdb.connect()
    referrals = chain(10)
    cascades = compute_cascades(load(con, "r", referrals), load(con, "o", revenues(referrals)), max_depth=3)
    assert cascades.truncated and cascades.depth == 3
    top = cascades.per_member.set_index("customer_id").loc["c00"]
    assert top.cascade_size == 3 and top.generations == 3
    whole = compute_cascades(load(con, "r", referrals), load(con, "o", revenues(referrals)), max_depth=10)
    assert not whole.truncated and whole.per_member.set_index("customer_id").loc["c00"].cascade_size == 10


# -- a leaf referral changes only its ancestors' figures ------------------------------------------
CASCADE_FIGURES = [
    "direct_referrals",
    "cascade_size",
    "cascade_buyers",
    "generations",
    "cascade_revenue",
    "referral_value",
]


@st.composite
def forests(draw):
    size = draw(st.integers(3, 25))
    parents = [draw(st.integers(-1, i - 1)) for i in range(1, size)]
    spend = draw(st.lists(st.sampled_from([0.0, 5.0, 12.5, 40.0]), min_size=size, max_size=size))
    edges = [(f"p{p:02d}", f"p{i:02d}", i) for i, p in enumerate(parents, start=1) if p >= 0]
    if not edges:
        edges = [("p00", "p01", 1)]
    orders = pd.DataFrame(
        {
            "customer_id": [f"p{i:02d}" for i in range(size)],
            "order_id": [str(i) for i in range(size)],
            "ordered_at": [START] * size,
            "amount": spend,
        }
    )
    return _frame(edges), orders[orders.amount > 0], draw(st.integers(0, 10_000))


def _figures(network) -> pd.DataFrame:
    return network.members.set_index("customer_id")[CASCADE_FIGURES]


@pytest.mark.slow  # 15 pairs of networks in the engine
@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(forests())
def test_removing_a_leaf_referral_changes_only_its_ancestors(case):
    import ibis

    referrals, orders, pick = case
    parents = dict(zip(referrals.referred_id, referrals.referrer_id))
    leaves = sorted(set(referrals.referred_id) - set(referrals.referrer_id))
    leaf = leaves[pick % len(leaves)]
    ancestors, node = set(), leaf
    while node in parents:
        node = parents[node]
        ancestors.add(node)
    con = ibis.duckdb.connect()
    before = _figures(network_on(con, referrals, orders, "before"))
    after = _figures(network_on(con, referrals[referrals.referred_id != leaf], orders, "after"))
    members = before.index.union(after.index)
    before, after = before.reindex(members).fillna(0), after.reindex(members).fillna(0)
    changed = set(members[(before != after).any(axis=1)])
    assert changed <= ancestors | {leaf}
    assert parents[leaf] in changed  # its referrer lost a direct referral
    assert (after.loc[sorted(ancestors), "cascade_size"] == before.loc[sorted(ancestors), "cascade_size"] - 1).all()


# -- DuckDB and Spark identical -------------------------------------------------------------------
@pytest.mark.slow
def test_duckdb_and_spark_give_identical_results(spark_backend):
    import ibis

    referrals = random_graph(11, members=50, referrals=80)
    orders = revenues(referrals, 11)
    members = pd.DataFrame({"customer_id": sorted(set(referrals.referrer_id))[::2]})
    results = []
    for con in (ibis.duckdb.connect(), spark_backend):
        tables = {
            "referrals": load(con, "referrals_same", referrals),
            "orders": load(con, "orders_same", orders),
            "members": load(con, "members_same", members),
        }
        network = analyse_referral_network(tables["referrals"], tables["orders"], tables["members"], max_depth=20)
        graph = referral_graph(tables["referrals"])
        program = summarise_referral_program(
            graph.edges, tables["orders"], day=date(2024, 9, 1), members=tables["members"], ignored=graph.ignored
        ).to_pandas()
        graph.release()
        results.append(
            (network.members, network.cascades.per_generation, program, select_key_referrers(network, lang="zh"))
        )
    for duck, spark in zip(*results):
        pd.testing.assert_frame_equal(duck.reset_index(drop=True), spark.reset_index(drop=True), check_dtype=False)
    # every generation Spark held for the walk is given back
    assert not [t.name for t in spark_backend._session.catalog.listTables() if t.name.startswith("memberlens_held_")]


# -- the program against pandas -------------------------------------------------------------------
def test_program_summary_equals_pandas():
    import ibis

    con = ibis.duckdb.connect()
    referrals = random_tree(21, members=120)
    rng = np.random.default_rng(5)
    people = sorted(set(referrals.referrer_id) | set(referrals.referred_id)) + [f"o{i}" for i in range(40)]
    rows = []
    for person in people:
        first = START + timedelta(days=int(rng.integers(0, 300)))
        for k in range(int(rng.integers(0, 4))):
            rows.append(
                (
                    person,
                    f"{person}-{k}",
                    first + timedelta(days=int(rng.integers(0, 200)) * (k > 0)),
                    float(rng.integers(1, 90)),
                )
            )
    orders = pd.DataFrame(rows, columns=["customer_id", "order_id", "ordered_at", "amount"])
    day = date(2024, 12, 1)
    orders = orders[orders.ordered_at < pd.Timestamp(day)]
    graph = referral_graph(load(con, "r", referrals))
    got = summarise_referral_program(graph.edges, load(con, "o", orders), day=day).to_pandas().set_index("group")

    referred = set(referrals.referred_id)
    population = set(orders.customer_id) | set(referrals.referred_id) | set(referrals.referrer_id)
    for group, who in (("referred", referred), ("organic", population - referred)):
        mine = orders[orders.customer_id.isin(who)]
        buyers = mine.customer_id.nunique()
        row = got.loc[group]
        assert row.members == len(who) and row.buyers == buyers
        assert row.conversion == pytest.approx(buyers / len(who))
        assert row.revenue == pytest.approx(mine.amount.sum())
        days = mine.assign(day=mine.ordered_at.dt.normalize()).groupby("customer_id").day
        first, distinct = days.min(), days.apply(lambda d: sorted(set(d)))
        second = distinct.map(lambda d: d[1] if len(d) > 1 else pd.NaT)
        observable = first + pd.Timedelta(days=90) < pd.Timestamp(day)
        again = observable & second.notna() & ((second - first).dt.days <= 90)
        assert row.repeat_90d == pytest.approx(again.sum() / observable.sum())
        assert row.repeat_rate == pytest.approx((mine.groupby("customer_id").order_id.nunique() >= 2).mean())
    assert got.loc["referred", "referrals"] == len(referrals)
    assert got.loc["referred", "reward_cost"] == pytest.approx(5.0 * len(referrals))
    referred_buyers = orders[orders.customer_id.isin(referred)].customer_id.nunique()
    assert got.loc["referred", "cost_per_referred_buyer"] == pytest.approx(5.0 * len(referrals) / referred_buyers)
    assert pd.isna(got.loc["organic", "reward_cost"])


# -- through the CLI ------------------------------------------------------------------------------
BAD_REFERRALS = """推荐人ID,被推荐人ID,推荐时间,渠道,奖励金额
a,b,2024-01-01,link,5
a,c,2024-01-02,link,5
b,d,2024-01-03,code,5
c,c,2024-01-04,code,5
x,b,2024-01-05,link,5
x,y,2024-01-01,link,5
y,z,2024-01-02,link,5
z,x,2024-01-03,link,5
a,b,2024-01-01,link,5
,e,2024-01-01,link,5
f,g,notadate,link,5
f,h,2024-01-01,link,abc
"""
ORDERS = """customer_id,order_id,ordered_at,amount
a,1,2024-01-01,10
b,2,2024-01-05,100
b,3,2024-03-05,50
d,4,2024-02-01,30
y,5,2024-01-10,20
q,6,2024-01-02,5
"""


def test_bad_referral_rows_are_set_aside_with_a_reason_each(run_cli, tmp_path):
    (tmp_path / "refs.csv").write_text(BAD_REFERRALS, encoding="utf-8")
    result = run_cli("ingest", "refs.csv", "--table", "referrals", "--format", "json")
    assert result.exit_code == 0, result.stderr
    ledger = json.loads(result.stdout)[0]
    assert ledger["rows_read"] == 12 and ledger["rows_used"] == 5 and ledger["balanced"]
    assert ledger["set_aside"] == {
        "self_referral": 1,
        "already_referred": 1,
        "closes_cycle": 1,
        "duplicate_line": 1,
        "missing_referrer_id": 1,
        "unparseable_referred_at": 1,
        "non_numeric_reward_cost": 1,
    }
    from memberlens import Workspace

    with Workspace(tmp_path / "memberlens.duckdb", read_only=True) as ws:
        aside = ws.table("referrals_set_aside").to_pandas()
        kept = ws.table("referrals").to_pandas()
    assert sorted(
        aside.loc[aside._reason == "closes_cycle", ["推荐人ID", "被推荐人ID"]].itertuples(index=False, name=None)
    ) == [("z", "x")]
    assert sorted(zip(kept.referrer_id, kept.referred_id)) == [
        ("a", "b"),
        ("a", "c"),
        ("b", "d"),
        ("x", "y"),
        ("y", "z"),
    ]


def test_rules_hold_across_sources_and_the_analyses_run(run_cli, tmp_path):
    """Each file is clean on its own; together b is referred twice and x, y, z close a loop: the
    analyses apply the rules to all sources and count what they left out."""
    (tmp_path / "one.csv").write_text(
        "referrer_id,referred_id,referred_at\na,b,2024-01-01\nx,y,2024-01-01\ny,z,2024-01-02\n"
    )
    (tmp_path / "two.csv").write_text(
        "referrer_id,referred_id,referred_at,reward_cost\nq,b,2024-01-03,4\nz,x,2024-01-04,4\nb,d,2024-01-05,4\n"
    )
    (tmp_path / "orders.csv").write_text(ORDERS)
    for args in (["orders.csv"], ["one.csv", "two.csv", "--table", "referrals"]):
        assert run_cli("ingest", *args).exit_code == 0
    result = run_cli("analyze", "referrals", "--format", "json")
    assert result.exit_code == 0, result.stderr
    referred = json.loads(result.stdout)[0]
    assert referred["group"] == "referred" and referred["referrals"] == 4
    assert referred["ignored_already_referred"] == 1 and referred["ignored_closes_cycle"] == 1
    cascades = {
        r["customer_id"]: r for r in json.loads(run_cli("analyze", "referral-cascades", "--format", "json").stdout)
    }
    assert (
        cascades["a"]["cascade_size"] == 2 and cascades["a"]["generations"] == 2 and cascades["x"]["cascade_size"] == 2
    )
    key = json.loads(run_cli("analyze", "key-referrers", "--format", "json", "--lang", "zh").stdout)
    assert key[0]["customer_id"] == "a" and "直接推荐 1 人" in key[0]["reason"]
    bad = run_cli("analyze", "key-referrers", "--decay", "2")
    assert bad.exit_code == 2 and "'decay' parameter" in bad.stderr


def test_as_of_leaves_later_referrals_out():
    import ibis

    con = ibis.duckdb.connect()
    referrals = chain(6)  # c00 -> c01 at hour 0, ... c05 -> c06 at hour 5
    tables = {"referrals": load(con, "r", referrals), "orders": load(con, "o", revenues(referrals))}
    snapshot = take_snapshot(tables, date(2024, 1, 1))
    assert referral_cascades(referral_network(snapshot, AnalysisOptions())).empty
    later = take_snapshot(tables, date(2024, 1, 2))
    assert (
        referral_cascades(referral_network(later, AnalysisOptions()))
        .set_index("customer_id")
        .loc["c00", "cascade_size"]
        == 6
    )
