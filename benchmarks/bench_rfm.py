"""Per-customer RFM summary: memberlens vs a hand-written DuckDB query vs a pandas groupby.

    .venv/bin/python benchmarks/bench_rfm.py --lines 10_000_000 100_000_000 [--dir /tmp/bench]

For each size: synthetic order lines are written to Parquet by DuckDB (bounded memory), then
each contender runs in its own process, producing the same table (customer_id, recency,
frequency, monetary) into a Parquet file; printed: the summary's own time (reading the data to
the written result, after imports), the whole process's time, its peak memory, and memberlens'
ratio to the hand-written query (on the summary's own time). The results are checked to be equal.
pandas is skipped above --pandas-max lines (it needs the whole table in memory).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

AS_OF = "2024-01-01"
MEMORY_LIMIT = "6GB"


def generate(path: Path, lines: int) -> None:
    import duckdb

    if path.exists():
        return
    customers = max(1000, lines // 40)
    con = duckdb.connect(config={"memory_limit": MEMORY_LIMIT})
    con.execute(
        f"""COPY (
          SELECT 'C' || lpad(CAST(hash(i // 3) % {customers} AS VARCHAR), 9, '0') AS customer_id,
                 CAST(i // 3 AS VARCHAR) AS order_id,
                 TIMESTAMP '2021-01-01' + to_seconds(CAST(hash(i // 3 + 7) % (3 * 365 * 86400) AS BIGINT)) AS ordered_at,
                 round(1 + (hash(i) % 10000) / 100.0, 2) AS amount
          FROM range({lines}) t(i)
        ) TO '{path}' (FORMAT parquet, ROW_GROUP_SIZE 1000000)"""
    )


HAND_SQL = f"""
SELECT customer_id,
       date_diff('day', max(CAST(ordered_at AS DATE)), DATE '{AS_OF}') AS recency,
       count(DISTINCT order_id) AS frequency,
       sum(amount) AS monetary
FROM read_parquet('{{src}}')
WHERE ordered_at < TIMESTAMP '{AS_OF}'
GROUP BY customer_id
"""


def run_memberlens(src: str, out: str) -> float:
    import ibis

    from memberlens.metrics import compute_rfm

    start = time.perf_counter()
    con = ibis.duckdb.connect(memory_limit=MEMORY_LIMIT)
    orders = con.read_parquet(src)
    rfm = compute_rfm(orders, as_of=AS_OF).select("customer_id", "recency", "frequency", "monetary")
    con.to_parquet(rfm, out)
    return time.perf_counter() - start


def run_sql(src: str, out: str) -> float:
    import duckdb

    start = time.perf_counter()
    con = duckdb.connect(config={"memory_limit": MEMORY_LIMIT})
    con.execute(f"COPY ({HAND_SQL.format(src=src)}) TO '{out}' (FORMAT parquet)")
    return time.perf_counter() - start


def run_pandas(src: str, out: str) -> float:
    import pandas as pd

    start = time.perf_counter()
    df = pd.read_parquet(src)
    df = df[df.ordered_at < pd.Timestamp(AS_OF)]
    g = df.groupby("customer_id").agg(
        last=("ordered_at", "max"), frequency=("order_id", "nunique"), monetary=("amount", "sum")
    )
    g["recency"] = (pd.Timestamp(AS_OF) - g["last"].dt.normalize()).dt.days
    g.reset_index()[["customer_id", "recency", "frequency", "monetary"]].to_parquet(out)
    return time.perf_counter() - start


RUNNERS = {"memberlens": run_memberlens, "duckdb-sql": run_sql, "pandas": run_pandas}


def measure(tool: str, src: Path, out: Path) -> dict:
    """Run one contender in a child process: the summary's own time (from reading the data to
    the written result, after imports), the whole process's time, and its peak RSS."""
    start = time.perf_counter()
    child = subprocess.Popen([sys.executable, __file__, "--child", tool, str(src), str(out)], stdout=subprocess.PIPE)
    output = child.stdout.read()
    _, status, usage = os.wait4(child.pid, 0)
    process_seconds = time.perf_counter() - start
    peak_gb = usage.ru_maxrss / 1024**2  # ru_maxrss is in KiB on Linux
    seconds = json.loads(output)["seconds"] if status == 0 else float("nan")
    return {
        "tool": tool,
        "seconds": round(seconds, 2),
        "process_seconds": round(process_seconds, 2),
        "peak_gb": round(peak_gb, 2),
        "ok": status == 0,
    }


def same_result(a: Path, b: Path) -> bool:
    import duckdb

    q = "SELECT customer_id, recency, frequency, round(monetary, 4) AS m FROM read_parquet('{}')"
    diff = duckdb.sql(f"({q.format(a)} EXCEPT {q.format(b)}) UNION ALL ({q.format(b)} EXCEPT {q.format(a)})")
    return diff.count("*").fetchone()[0] == 0


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--lines", type=lambda s: int(s.replace("_", "")), nargs="+", default=[10_000_000])
    parser.add_argument("--dir", type=Path, default=Path("/tmp/memberlens-bench"))
    parser.add_argument("--pandas-max", type=lambda s: int(s.replace("_", "")), default=20_000_000)
    parser.add_argument("--child", nargs=3, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        tool, src, out = args.child
        print(json.dumps({"seconds": RUNNERS[tool](src, out)}))
        return
    args.dir.mkdir(parents=True, exist_ok=True)
    for lines in args.lines:
        src = args.dir / f"orders_{lines}.parquet"
        t = time.perf_counter()
        generate(src, lines)
        print(f"\n{lines:,} order lines ({src}, generated in {time.perf_counter() - t:.1f}s)")
        results = {}
        for tool in RUNNERS:
            if tool == "pandas" and lines > args.pandas_max:
                print(f"  {tool:<11} skipped above {args.pandas_max:,} lines (needs the whole table in memory)")
                continue
            out = args.dir / f"rfm_{tool}_{lines}.parquet"
            results[tool] = measure(tool, src, out)
            r = results[tool]
            print(
                f"  {tool:<11} {r['seconds']:>8.2f} s  (process {r['process_seconds']:>6.2f} s)  peak {r['peak_gb']:>5.2f} GB"
                f"  {'ok' if r['ok'] else 'FAILED'}"
            )
        base = results["duckdb-sql"]["seconds"]
        print(
            f"  memberlens / hand-written SQL = {results['memberlens']['seconds'] / base:.2f}x"
            f" (whole processes: {results['memberlens']['process_seconds'] / results['duckdb-sql']['process_seconds']:.2f}x)"
        )
        if "pandas" in results and results["pandas"]["ok"]:
            print(f"  pandas / memberlens = {results['pandas']['seconds'] / results['memberlens']['seconds']:.1f}x")
        equal = same_result(args.dir / f"rfm_memberlens_{lines}.parquet", args.dir / f"rfm_duckdb-sql_{lines}.parquet")
        print(f"  memberlens result equals the hand-written query's: {equal}")
        print(json.dumps({"lines": lines, **{k: v for k, v in results.items()}}))


if __name__ == "__main__":
    main()
