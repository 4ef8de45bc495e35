"""One pass over the referral network of a snapshot: counted referrals, cascades (in the engine)
and influence (SciPy), per member — what the ``referral-cascades`` and ``key-referrers``
analyses, the report section and its member list all show.

Per member of the network (anyone who referred or was referred, counting the rules of
:mod:`memberlens.referrals.graph`), :attr:`ReferralNetwork.members` holds:

``customer_id``, ``referred_by`` (null for a member nobody referred), ``is_member`` (in the
``members`` table; null without one), ``own_revenue`` (their own orders), ``direct_referrals``,
``direct_buyers``, ``direct_revenue``, ``cascade_size``, ``cascade_buyers``, ``cascade_revenue``
and ``generations`` (0 for a member who referred nobody), ``reward_cost`` (of their direct
referrals), ``referral_value`` (decayed, see :mod:`memberlens.referrals.influence`) and
``pagerank`` with ``pagerank_rank`` (1 = most influential; ties by customer id).
"""

from __future__ import annotations

from dataclasses import dataclass

import ibis
import ibis.expr.types as ir
import numpy as np
import pandas as pd
import pyarrow as pa

from memberlens.metrics._arith import micros
from memberlens.parameters import check_number
from memberlens.referrals import influence
from memberlens.referrals.cascades import MAX_DEPTH, Cascades, customer_values, walk_cascades
from memberlens.referrals.graph import ReferralGraph, referral_graph


@dataclass
class ReferralNetwork:
    graph: ReferralGraph
    cascades: Cascades
    members: pd.DataFrame
    average_buyer_revenue: float
    max_depth: int
    decay: float


def _node_facts(graph: ReferralGraph, node_values: ir.Table, members: ir.Table | None) -> pd.DataFrame:
    """Per node, in node order: id, own revenue, whether a member, reward cost of the referrals made."""
    nodes = graph.nodes
    facts = nodes.join(node_values, nodes.node == node_values._node).select(
        nodes.node, nodes.customer_id, revenue_micros=node_values.revenue_micros.fill_null(0)
    )
    if members is not None:
        known = members.select(_id=members.customer_id).distinct().mutate(is_member=ibis.literal(True))
        facts = facts.left_join(known, facts.customer_id == known._id).select(
            *facts.columns, is_member=known.is_member.fill_null(False)
        )
    edges = graph.edges
    if "reward_cost" in edges.columns:
        cost = edges.group_by(_id=edges.referrer_id).aggregate(
            reward_micros=micros(edges.reward_cost).sum().fill_null(0)
        )
        facts = facts.left_join(cost, facts.customer_id == cost._id).select(
            *facts.columns, reward_micros=cost.reward_micros.fill_null(0)
        )
    pulled = facts.to_pyarrow()  # ordered here: a sort of numbers, not of ids in the engine
    order = np.argsort(pulled["node"].to_numpy(), kind="stable")
    return pulled.take(pa.array(order)).to_pandas()


def _by_node(frame: pd.DataFrame, key: str, n: int, columns: dict[str, str]) -> dict[str, np.ndarray]:
    """Columns of a frame keyed by node number, spread over all ``n`` nodes (0 where absent)."""
    index = frame[key].to_numpy(dtype=np.int64)
    out = {}
    for column, kind in columns.items():
        values = np.zeros(n, dtype=kind)
        values[index] = frame[column].to_numpy(dtype=kind)
        out[column] = values
    return out


def _named(frame: pd.DataFrame, key: str, ids: pa.Array) -> pd.DataFrame:
    """``frame`` with node numbers in ``key`` replaced by customer ids."""
    out = frame.copy()
    out[key] = ids.take(pa.array(frame[key].to_numpy(dtype=np.int64))).to_pandas()
    return out


def analyse_referral_network(
    referrals: ir.Table,
    orders: ir.Table,
    members: ir.Table | None = None,
    *,
    max_depth: int = MAX_DEPTH,
    decay: float = influence.DECAY,
    alpha: float = influence.DAMPING,
) -> ReferralNetwork:
    """Count the referrals, walk the cascades in the engine and score influence (module docstring)."""
    check_number(decay, "decay", "analyse_referral_network", low=0, high=1, hint="e.g. --decay 0.5")
    graph = referral_graph(referrals)
    values = customer_values(orders).cache()  # read twice: the network's members, and every buyer's average
    node_values = (
        graph.nodes.left_join(values, graph.nodes.customer_id == values.customer_id)
        .select(_node=graph.nodes.node, revenue_micros=values.revenue_micros)
        .cache()
    )
    try:
        coded = graph.coded
        links = coded.left_join(node_values, coded.dst == node_values._node).select(
            parent=coded.src, child=coded.dst, revenue_micros=node_values.revenue_micros
        )
        walked = walk_cascades(links, max_depth=max_depth)  # on node numbers: integer joins
        facts = _node_facts(graph, node_values, members)
        everyone = values.aggregate(micros=values.revenue_micros.sum(), buyers=values.count()).to_pandas().iloc[0]
    finally:
        graph.release()
        node_values.release()
        values.release()
    n = graph.n_nodes
    ids = pa.array(facts.customer_id)
    own = facts.revenue_micros.to_numpy(dtype=np.int64) / 1_000_000
    parent = np.full(n, -1, dtype=np.int64)
    parent[graph.dst] = graph.src
    rank = influence.pagerank(graph.src, graph.dst, n, alpha=alpha)
    value = influence.referral_value(graph.src, graph.dst, n, own, decay=decay, max_depth=max_depth)
    frame = pd.DataFrame(
        {
            "customer_id": facts.customer_id,
            "referred_by": ids.take(pa.array(np.maximum(parent, 0), mask=parent < 0)).to_pandas(),
            "is_member": facts.is_member.astype("boolean")
            if "is_member" in facts
            else pd.Series([pd.NA] * n, dtype="boolean"),
            "own_revenue": own,
        }
    )
    per = _by_node(
        walked.per_member,
        "customer_id",
        n,
        {
            "direct_referrals": "int64",
            "direct_buyers": "int64",
            "cascade_size": "int64",
            "cascade_buyers": "int64",
            "generations": "int64",
            "direct_revenue": "float64",
            "cascade_revenue": "float64",
        },
    )
    for column in (
        "direct_referrals",
        "direct_buyers",
        "cascade_size",
        "cascade_buyers",
        "generations",
        "direct_revenue",
        "cascade_revenue",
    ):
        frame[column] = per[column]
    frame["reward_cost"] = (
        facts.reward_micros.to_numpy(dtype=np.int64) / 1_000_000 if "reward_micros" in facts else np.nan
    )
    frame["referral_value"] = value
    frame["pagerank"] = rank
    order = np.lexsort((np.arange(n), -rank))  # node numbers are in customer id order
    pagerank_rank = np.empty(n, dtype=np.int64)
    pagerank_rank[order] = np.arange(1, n + 1)
    frame["pagerank_rank"] = pagerank_rank
    cascades = Cascades(
        per_member=_named(walked.per_member, "customer_id", ids),
        per_generation=_named(walked.per_generation, "ancestor", ids),
        depth=walked.depth,
        truncated=walked.truncated,
    )
    count = int(everyone.buyers)
    average = int(everyone.micros) / count / 1_000_000 if count else 0.0  # exact sums: the same on every engine
    return ReferralNetwork(
        graph=graph, cascades=cascades, members=frame, average_buyer_revenue=average, max_depth=max_depth, decay=decay
    )


__all__ = ["ReferralNetwork", "analyse_referral_network"]
