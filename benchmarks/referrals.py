"""Benchmark: the referral network at scale, beside networkx.

    python benchmarks/referrals.py --edges 1_000_000 --subset 100_000 [--folder DIR]

Writes a synthetic referral program as Parquet — ``--edges`` referrals among twice as many
members (members join in order; a tenth are advocates with a heavy-tailed pull, each referred
member picks an advocate who joined before them, so the network is a forest with chains several
generations deep), and one order for each of 70 % of the members — then, each in a fresh
process so peak memory is its own:

* memberlens on DuckDB: :func:`memberlens.referrals.network.analyse_referral_network` — the
  rules, cascades by joins in the engine, PageRank and the decayed referral value with SciPy;
* memberlens and networkx on the subset of the first ``--subset`` referrals: cascade sizes
  (``nx.descendants``), generations (longest shortest path) and PageRank (``nx.pagerank`` of the
  reversed graph); the results are checked equal and the ratio printed.

Printed: seconds (after imports, data read included) and the process's peak resident memory.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

START = np.datetime64("2023-01-01T00:00:00", "s")


def generate(folder: Path, edges: int, seed: int = 1) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    rng = np.random.default_rng(seed)
    members = 2 * edges
    advocate = rng.random(members) < 0.10
    advocate[0] = True
    pull = np.where(advocate, np.minimum((1.0 - rng.random(members)) ** (-1 / 1.5), 50.0), 0.0)
    cumulative = np.cumsum(pull)
    referred = np.sort(rng.choice(np.arange(1, members), size=edges, replace=False))
    referrer = np.searchsorted(cumulative, rng.random(edges) * cumulative[referred - 1], side="right")
    seconds = np.arange(members, dtype=np.int64) * 15  # one member joins every 15 seconds

    def ids(index: np.ndarray) -> pa.Array:
        import pyarrow.compute as pc

        digits = pc.utf8_lpad(pc.cast(pa.array(index), pa.string()), width=9, padding="0")
        return pc.binary_join_element_wise("M", digits, "")

    pq.write_table(
        pa.table(
            {
                "referrer_id": ids(referrer),
                "referred_id": ids(referred),
                "referred_at": pa.array(START + seconds[referred], pa.timestamp("s")),
                "reward_cost": pa.array(np.full(edges, 12.0)),
            }
        ),
        folder / "referrals.parquet",
    )
    buyers = np.flatnonzero(rng.random(members) < 0.7)
    pq.write_table(
        pa.table(
            {
                "customer_id": ids(buyers),
                "order_id": pa.array(buyers.astype(str)),
                "ordered_at": pa.array(START + seconds[buyers] + 86_400, pa.timestamp("s")),
                "amount": pa.array(np.round(rng.gamma(2.0, 40.0, buyers.size), 2)),
            }
        ),
        folder / "orders.parquet",
    )


def _peak_gb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024**2


def run_memberlens(folder: Path, subset: int | None) -> dict:
    import ibis

    from memberlens.io.engines import connect
    from memberlens.referrals.network import analyse_referral_network

    con = connect("duckdb")
    referrals = con.read_parquet(str(folder / "referrals.parquet"))
    if subset:
        referrals = referrals.order_by("referred_at").limit(subset)
    orders = con.read_parquet(str(folder / "orders.parquet"))
    start = time.perf_counter()
    network = analyse_referral_network(referrals, orders)
    seconds = time.perf_counter() - start
    m = network.members
    result = {
        "seconds": seconds,
        "peak_gb": _peak_gb(),
        "members": len(m),
        "referrers": int((m.direct_referrals > 0).sum()),
        "depth": network.cascades.depth,
        "largest_cascade": int(m.cascade_size.max()),
    }
    if subset:
        m = m.sort_values("customer_id")
        result["check"] = {
            "ids": m.customer_id.tolist(),
            "cascade": m.cascade_size.tolist(),
            "generations": m.generations.tolist(),
            "pagerank": m.pagerank.tolist(),
        }
    del ibis
    return result


def run_networkx(folder: Path, subset: int) -> dict:
    import networkx as nx
    import pyarrow.parquet as pq

    table = pq.read_table(folder / "referrals.parquet").sort_by("referred_at").slice(0, subset)
    start = time.perf_counter()
    graph = nx.DiGraph()
    graph.add_edges_from(zip(table["referrer_id"].to_pylist(), table["referred_id"].to_pylist()))
    nodes = sorted(graph.nodes)
    cascade = [len(nx.descendants(graph, n)) for n in nodes]
    generations = [max(nx.single_source_shortest_path_length(graph, n).values()) for n in nodes]
    rank = nx.pagerank(graph.reverse(copy=False), alpha=0.85, tol=1e-12, max_iter=1000)
    seconds = time.perf_counter() - start
    return {
        "seconds": seconds,
        "peak_gb": _peak_gb(),
        "check": {"ids": nodes, "cascade": cascade, "generations": generations, "pagerank": [rank[n] for n in nodes]},
    }


def _in_process(kind: str, folder: Path, subset: int | None) -> dict:
    src = str(Path(__file__).resolve().parents[1] / "src")
    env = {**os.environ, "PYTHONPATH": src + os.pathsep + os.environ.get("PYTHONPATH", "")}
    out = subprocess.run(
        [sys.executable, __file__, "--run", kind, "--folder", str(folder), "--subset", str(subset or 0)],
        check=True,
        capture_output=True,
        text=True,
        env=env,
    ).stdout
    return json.loads(out.splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--edges", type=lambda s: int(float(s.replace("_", ""))), default=1_000_000)
    parser.add_argument("--subset", type=lambda s: int(float(s.replace("_", ""))), default=100_000)
    parser.add_argument("--folder", type=Path)
    parser.add_argument("--run", choices=["memberlens", "networkx"], help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.run:
        run = run_memberlens if args.run == "memberlens" else run_networkx
        print(json.dumps(run(args.folder, args.subset or None)))
        return
    with tempfile.TemporaryDirectory(prefix="bench-referrals-") as scratch:
        folder = args.folder or Path(scratch)
        folder.mkdir(parents=True, exist_ok=True)
        if not (folder / "referrals.parquet").exists():
            start = time.perf_counter()
            generate(folder, args.edges)
            print(
                f"generated {args.edges:,} referrals among {2 * args.edges:,} members in {time.perf_counter() - start:.1f} s"
            )
        whole = _in_process("memberlens", folder, None)
        print(
            f"memberlens, all {args.edges:,} referrals: {whole['seconds']:.1f} s, peak {whole['peak_gb']:.2f} GB "
            f"({whole['members']:,} members in the network, {whole['referrers']:,} referrers, "
            f"{whole['depth']} generations, largest cascade {whole['largest_cascade']:,})"
        )
        ours = _in_process("memberlens", folder, args.subset)
        theirs = _in_process("networkx", folder, args.subset)
        a, b = ours["check"], theirs["check"]
        same = (
            a["ids"] == b["ids"]
            and a["cascade"] == b["cascade"]
            and a["generations"] == b["generations"]
            and np.allclose(a["pagerank"], b["pagerank"], rtol=1e-6)
        )
        print(
            f"subset of {args.subset:,} referrals: memberlens {ours['seconds']:.2f} s (peak {ours['peak_gb']:.2f} GB), "
            f"networkx {theirs['seconds']:.2f} s (peak {theirs['peak_gb']:.2f} GB): "
            f"{theirs['seconds'] / ours['seconds']:.1f}x; results {'equal' if same else 'DIFFER'}"
        )


if __name__ == "__main__":
    main()
