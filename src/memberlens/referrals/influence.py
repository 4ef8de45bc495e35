"""Influence in the referral network, on the compressed edge list with SciPy sparse matrices.

Both measures take node numbers ``src`` (referrer) -> ``dst`` (referred) of the counted
referrals (a forest: see :mod:`memberlens.referrals.graph`) and return one value per node.

``pagerank``
    PageRank (Brin & Page 1998) on the network with credit flowing from each referred member to
    their referrer: damping ``alpha`` (0.85), teleport uniform over the network's members, and
    the rank of members with no referrer (the roots) spread uniformly — the definition
    ``networkx.pagerank(G.reverse())`` computes. It rewards members whose referred members were
    themselves influential, not just many.
``referral_value``
    the value of everyone below a member, each generation counted ``decay`` times the one above:
    ``sum over descendants d of decay ** (generation(d) - 1) * value(d)`` — what the member's
    word of mouth brought, with direct referrals counted in full (after Roelens, Baecke & Benoit
    2016, who value an influencer by the value their referrals bring).
"""

from __future__ import annotations

import numpy as np

DAMPING = 0.85
DECAY = 0.5


def _adjacency(src: np.ndarray, dst: np.ndarray, n_nodes: int):
    """Sparse matrix with A[referrer, referred] = 1."""
    from scipy import sparse

    return sparse.csr_matrix((np.ones(src.size), (src, dst)), shape=(n_nodes, n_nodes))


def pagerank(
    src: np.ndarray, dst: np.ndarray, n_nodes: int, *, alpha: float = DAMPING, tol: float = 1e-12, max_iter: int = 1000
) -> np.ndarray:
    """PageRank of each node with credit flowing referred -> referrer (see the module docstring);
    power iteration until the L1 change is under ``n_nodes * tol``."""
    if n_nodes == 0:
        return np.zeros(0)
    credit = _adjacency(src, dst, n_nodes)  # rank of the referred flows to the referrer: p[i] += A[i, j] p[j]
    out_degree = np.bincount(dst, minlength=n_nodes)  # one referrer each in the reversed graph
    if out_degree.max(initial=0) > 1:
        raise ValueError("pagerank: a member has more than one referrer; count the referrals with referral_graph first")
    dangling = out_degree == 0
    rank = np.full(n_nodes, 1.0 / n_nodes)
    for _ in range(max_iter):
        previous = rank
        rank = alpha * (credit @ previous) + (alpha * previous[dangling].sum() + 1.0 - alpha) / n_nodes
        if np.abs(rank - previous).sum() < n_nodes * tol:
            break
    return rank


def referral_value(
    src: np.ndarray,
    dst: np.ndarray,
    n_nodes: int,
    value: np.ndarray,
    *,
    decay: float = DECAY,
    max_depth: int = 1_000_000,
) -> np.ndarray:
    """For each node, the value of its descendants with ``decay`` per generation (see the module
    docstring): ``V = A (v + decay V)``, iterated from ``V = 0`` — exact once every chain has been
    walked (at most ``max_depth`` iterations)."""
    adjacency = _adjacency(src, dst, n_nodes)
    value = np.asarray(value, dtype=float)
    total = np.zeros(n_nodes)
    for _ in range(max_depth):
        following = adjacency @ (value + decay * total)
        if np.array_equal(following, total):
            break
        total = following
    return total


__all__ = ["DAMPING", "DECAY", "pagerank", "referral_value"]
