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

from memberlens.errors import ConfigError
from memberlens.metrics._arith import micros
from memberlens.referrals import influence
from memberlens.referrals.cascades import MAX_DEPTH, Cascades, compute_cascades, customer_values
from memberlens.referrals.graph import ReferralGraph, referral_graph


@dataclass
class ReferralNetwork:
    graph: ReferralGraph
    cascades: Cascades
    members: pd.DataFrame
    average_buyer_revenue: float
    max_depth: int
    decay: float


def _node_facts(graph: ReferralGraph, orders: ir.Table, members: ir.Table | None) -> pd.DataFrame:
    """Per node, in node order: id, own revenue, whether a member, reward cost of the referrals made."""
    nodes = graph.nodes
    values = customer_values(orders)
    facts = nodes.left_join(values, nodes.customer_id == values.customer_id).select(
        nodes.node, nodes.customer_id, revenue_micros=values.revenue_micros.fill_null(0))
    if members is not None:
        known = members.select(_id=members.customer_id).distinct().mutate(is_member=ibis.literal(True))
        facts = facts.left_join(known, facts.customer_id == known._id).select(
            *facts.columns, is_member=known.is_member.fill_null(False))
    edges = graph.edges
    if "reward_cost" in edges.columns:
        cost = edges.group_by(_id=edges.referrer_id).aggregate(reward_micros=micros(edges.reward_cost).sum().fill_null(0))
        facts = facts.left_join(cost, facts.customer_id == cost._id).select(
            *facts.columns, reward_micros=cost.reward_micros.fill_null(0))
    return facts.order_by("node").to_pandas()


def analyse_referral_network(referrals: ir.Table, orders: ir.Table, members: ir.Table | None = None, *,
                             max_depth: int = MAX_DEPTH, decay: float = influence.DECAY,
                             alpha: float = influence.DAMPING) -> ReferralNetwork:
    """Count the referrals, walk the cascades in the engine and score influence (module docstring)."""
    if not 0.0 <= decay <= 1.0:
        raise ConfigError(f"The 'decay' parameter must be a float in the range [0, 1]. Got {decay!r} instead.")
    graph = referral_graph(referrals)
    try:
        cascades = compute_cascades(graph.edges, orders, max_depth=max_depth)
        facts = _node_facts(graph, orders, members)
    finally:
        graph.release()
    n = graph.n_nodes
    ids = facts.customer_id.to_numpy(dtype=object)
    own = facts.revenue_micros.to_numpy(dtype=np.int64) / 1_000_000
    parent = np.full(n, -1, dtype=np.int64)
    parent[graph.dst] = graph.src
    rank = influence.pagerank(graph.src, graph.dst, n, alpha=alpha)
    value = influence.referral_value(graph.src, graph.dst, n, own, decay=decay, max_depth=max_depth)
    frame = pd.DataFrame({
        "customer_id": ids,
        "referred_by": pd.Series(np.where(parent >= 0, ids[np.maximum(parent, 0)], None), dtype=object),
        "is_member": facts.is_member.astype("boolean") if "is_member" in facts else pd.Series([pd.NA] * n, dtype="boolean"),
        "own_revenue": own,
    })
    per = cascades.per_member.set_index("customer_id").reindex(frame.customer_id)
    for column in ("direct_referrals", "direct_buyers", "cascade_size", "cascade_buyers", "generations"):
        frame[column] = per[column].fillna(0).astype("int64").to_numpy()
    for column in ("direct_revenue", "cascade_revenue"):
        frame[column] = per[column].fillna(0.0).astype("float64").to_numpy()
    frame["reward_cost"] = facts.reward_micros.to_numpy(dtype=np.int64) / 1_000_000 if "reward_micros" in facts else np.nan
    frame["referral_value"] = value
    frame["pagerank"] = rank
    order = np.lexsort((np.arange(n), -rank))  # node numbers are in customer id order
    pagerank_rank = np.empty(n, dtype=np.int64)
    pagerank_rank[order] = np.arange(1, n + 1)
    frame["pagerank_rank"] = pagerank_rank
    buyers = orders.group_by("customer_id").aggregate(_r=micros(orders.amount).sum())
    total = buyers.aggregate(micros=buyers._r.sum(), buyers=buyers.count()).to_pandas().iloc[0]
    count = int(total.buyers)
    average = int(total.micros) / count / 1_000_000 if count else 0.0  # exact sums: the same on every engine
    return ReferralNetwork(graph=graph, cascades=cascades, members=frame, average_buyer_revenue=average,
                           max_depth=max_depth, decay=decay)


__all__ = ["ReferralNetwork", "analyse_referral_network"]
