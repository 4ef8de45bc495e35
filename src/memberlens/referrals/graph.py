"""The referral network as a graph: which referrals count, and the compressed edge list.

The rules of which referrals count are the data contract's (:mod:`memberlens.schema.referral_rules`):
no self-referrals, the earliest referral of a member counts, and the latest referral of a loop
does not. After them every member has at most one referrer and no member is their own ancestor:
the network is a forest, and "the cascade below a member" is well defined.

Referrers who are not in the ``members`` table are **flagged, not set aside**
(``is_member`` false in the per-member results, counted by the program summary): a referral
program often lets customers without a registration, or members of another system, refer.

:func:`referral_graph` compresses the counted referrals to integer node numbers in the engine
(``node`` = rank of the customer id) and brings three integer arrays to Python — referrer,
referred, time — for SciPy (cycles, PageRank, decayed value).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import ibis
import ibis.expr.types as ir
import numpy as np
import pandas as pd

from memberlens.schema.referral_rules import (
    ALREADY_REFERRED,
    CLOSES_CYCLE,
    IGNORED_REASONS,
    INCOMPLETE,
    SELF_REFERRAL,
    first_referral_rank,
)


def mark_ignored(table: ir.Table) -> ir.Table:
    """``table`` (referrals) with ``_ignored``: null for a referral that counts so far, else
    ``incomplete`` (no referrer, referred member or time: ingest sets such rows aside, a table
    read in place may hold them), ``self_referral`` or ``already_referred`` (cycles need the
    whole graph: :func:`referral_graph`)."""
    incomplete = table.referrer_id.isnull() | table.referred_id.isnull() | table.referred_at.isnull()
    table = table.mutate(
        _out=ibis.ifelse(
            incomplete,
            INCOMPLETE,
            ibis.ifelse(table.referrer_id == table.referred_id, SELF_REFERRAL, ibis.null("string")),
        )
    )
    rank = first_referral_rank(table, counted=table._out.isnull())
    reason = ibis.ifelse(table._out.isnull() & (rank > 0), ALREADY_REFERRED, table._out)
    return table.mutate(_ignored=reason).drop("_out")


def cycle_closing_edges(src: np.ndarray, dst: np.ndarray, stamp: np.ndarray, n_nodes: int) -> np.ndarray:
    """Positions of the referrals that close a loop (:mod:`memberlens.schema.referral_rules`),
    given at most one referrer per member: node numbers ``src`` -> ``dst`` ordered like the ids,
    ``stamp`` the time of each referral as an integer.

    With one referrer per member every loop is one strongly connected component of two or more
    members, and each holds exactly one loop; dropping its latest referral opens it.
    """
    from scipy import sparse
    from scipy.sparse import csgraph

    if src.size == 0:
        return np.zeros(0, dtype=np.int64)
    graph = sparse.csr_matrix((np.ones(src.size, dtype=np.int8), (src, dst)), shape=(n_nodes, n_nodes))
    count, labels = csgraph.connected_components(graph, directed=True, connection="strong")
    size = np.bincount(labels, minlength=count)
    on_loop = np.flatnonzero((labels[src] == labels[dst]) & (size[labels[src]] > 1))
    if on_loop.size == 0:
        return on_loop.astype(np.int64)
    component = labels[src[on_loop]]
    order = np.lexsort((dst[on_loop], src[on_loop], stamp[on_loop], component))  # last key sorts first
    ordered = component[order]
    last = np.r_[ordered[1:] != ordered[:-1], True]
    return np.sort(on_loop[order[last]]).astype(np.int64)


def loop_closing_rows(used: ir.Table) -> list[int]:
    """The ``_row`` of each referral of ``used`` (referrals with at most one per referred member)
    that closes a loop — at ingest, over one source's rows."""
    frame = used.select("referrer_id", "referred_id", "referred_at", "_row").to_pandas()
    if frame.empty:
        return []
    n = len(frame)
    codes, uniques = pd.factorize(pd.concat([frame.referrer_id, frame.referred_id], ignore_index=True), sort=True)
    closing = cycle_closing_edges(
        codes[:n].astype(np.int64), codes[n:].astype(np.int64), timestamps_as_integers(frame.referred_at), len(uniques)
    )
    return sorted(int(r) for r in frame["_row"].to_numpy()[closing])


def timestamps_as_integers(values: pd.Series | np.ndarray) -> np.ndarray:
    """Times as whole microseconds (for ordering)."""
    return pd.to_datetime(pd.Series(values)).astype("datetime64[us]").to_numpy().astype(np.int64)


@dataclass
class ReferralGraph:
    """The counted referrals of a snapshot, in the engine and compressed.

    ``edges`` (Ibis): ``referrer_id``, ``referred_id``, ``referred_at`` and what else the
    referrals table holds, one row per counted referral. ``nodes`` (Ibis): ``customer_id`` and
    its ``node`` number (0..n-1, in id order). ``coded`` (Ibis): ``src``, ``dst``, the node
    numbers of each counted referral; ``src``/``dst``: the same in NumPy, ordered by ``dst``.
    ``ignored``: referrals not counted, per reason.
    """

    edges: ir.Table
    nodes: ir.Table
    coded: ir.Table
    src: np.ndarray
    dst: np.ndarray
    n_nodes: int
    ignored: dict[str, int] = field(default_factory=dict)

    def release(self) -> None:
        """Drop the engine's copies of ``edges`` and ``nodes`` (they are cached: every analysis
        of the network reads them several times)."""
        for table in (self.edges, self.nodes, self.coded):
            try:
                table.release()
            except Exception:  # noqa: BLE001  (already released, or the connection is gone)
                pass


def _node_table(edges: ir.Table) -> ir.Table:
    ids = edges.select(customer_id=edges.referrer_id).union(edges.select(customer_id=edges.referred_id), distinct=True)
    return ids.mutate(node=ibis.row_number().over(order_by=ids.customer_id))


def referral_graph(referrals: ir.Table) -> ReferralGraph:
    """The counted referrals of ``referrals`` (the rules of the module docstring), held in the
    engine until :meth:`ReferralGraph.release`."""
    marked = mark_ignored(referrals).cache()  # read twice: the counts, then what counts
    try:
        counts = marked.group_by("_ignored").aggregate(n=marked.count()).to_pandas()
        kept = marked.filter(marked._ignored.isnull()).drop("_ignored").cache()
    finally:
        marked.release()
    ignored = {reason: 0 for reason in IGNORED_REASONS}
    for reason, n in zip(counts["_ignored"], counts["n"]):
        if isinstance(reason, str):
            ignored[reason] = int(n)
    nodes = _node_table(kept).cache()
    coded = _coded(kept, nodes).cache()
    pulled = coded.to_pyarrow()
    order = np.argsort(pulled["dst"].to_numpy(), kind="stable")  # one referral per member: a fixed order
    src = pulled["src"].to_numpy().astype(np.int64)[order]
    dst = pulled["dst"].to_numpy().astype(np.int64)[order]
    stamp = timestamps_as_integers(pulled["referred_at"].to_pandas())[order]
    del pulled
    n_nodes = int(max(src.max(initial=-1), dst.max(initial=-1)) + 1)
    closing = cycle_closing_edges(src, dst, stamp, n_nodes)
    ignored[CLOSES_CYCLE] = int(closing.size)
    if closing.size:  # each member has one referrer: a referral is known by whom it referred
        keep = np.ones(src.size, dtype=bool)
        keep[closing] = False
        codes = [int(code) for code in dst[closing]]
        referred = nodes.filter(nodes.node.isin(codes)).customer_id.to_pandas().tolist()
        uncut, uncut_codes = kept, coded
        kept = kept.filter(~kept.referred_id.isin(referred)).cache()  # no in-memory table: Spark caches see only SQL
        coded = coded.filter(~coded.dst.isin(codes)).cache()
        uncut.release()
        uncut_codes.release()
        src, dst = src[keep], dst[keep]
    return ReferralGraph(edges=kept, nodes=nodes, coded=coded, src=src, dst=dst, n_nodes=n_nodes, ignored=ignored)


def _coded(edges: ir.Table, nodes: ir.Table) -> ir.Table:
    """Each referral with the node numbers of referrer (``src``) and referred (``dst``) (in any
    order: the engine's)."""
    a = nodes.rename(_a_id="customer_id", src="node")
    b = nodes.rename(_b_id="customer_id", dst="node")
    joined = edges.join(a, edges.referrer_id == a._a_id).join(b, edges.referred_id == b._b_id)
    return joined.select("src", "dst", "referred_at")


__all__ = [
    "ReferralGraph",
    "cycle_closing_edges",
    "loop_closing_rows",
    "mark_ignored",
    "referral_graph",
    "timestamps_as_integers",
]
