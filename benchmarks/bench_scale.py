"""Scale: the full report on 1M, 10M, 100M order lines with DuckDB, and the RFM + lifecycle +
cohort stages on Spark local mode beside a hand-written DuckDB query (issue 8).

    .venv/bin/python benchmarks/bench_scale.py --lines 1_000_000 10_000_000 100_000_000 --dir /tmp/scale
    .venv/bin/python benchmarks/bench_scale.py --lines 10_000_000 --no-spark

For each size, in a work folder that is kept between runs (generation is skipped when done):

1. **Data**: the demo shop (``memberlens demo-data --format parquet``) with enough customers for
   the number of order lines (about 22 lines per purchasing customer over two years). Only the
   orders file is used: the report is the order log's report.
2. **Full report with DuckDB**, in a fresh process limited by ``MEMBERLENS_DUCKDB_MEMORY_LIMIT``
   (default here 3GB; at 2GB the trends query runs out of memory at 100M lines) with a spill
   folder: ingest the orders Parquet into a workspace, write the English report and every
   member list (Parquet). Printed: ingest and report times, the time
   and peak memory (resident set) of each analysis, and the peak of the whole process. The target
   is a peak under 8 GB at 100M lines.
3. **Stages on Spark**: the workspace's orders exported to Parquet; then, each in its own
   process, RFM (raw values), lifecycle layers per month and customer retention cohorts per
   month by memberlens on DuckDB (the workspace), by memberlens on Spark local mode (reading
   the Parquet folder in place), and by a hand-written DuckDB SQL query over the same Parquet.
   Their results are checked equal; printed are the stages' own times (after imports and
   session start) and the whole process's.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import subprocess
import sys
import threading
import time
from pathlib import Path

LINES_PER_CUSTOMER = 21.8  # the demo shop over two years: 435k order lines from 20,000 customers
SEED = 7
GB = 1024**3


# -- the parent: generate, run children, print ----------------------------------------------------
def memberlens_exe() -> str:
    return str(Path(sys.executable).with_name("memberlens"))


def run_child(args: list[str], env: dict[str, str] | None = None, script: str = __file__) -> tuple[dict, float, int]:
    """Run ``python bench_scale.py --child ...``; returns (its JSON result, wall seconds, the peak
    resident set of its whole process tree, Spark's JVM included, sampled every 50 ms)."""
    start = time.perf_counter()
    child = subprocess.Popen(
        [sys.executable, script, "--child", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, **(env or {})},
    )
    peak = [0]

    def watch() -> None:
        while child.poll() is None:
            peak[0] = max(peak[0], tree_rss(child.pid))
            time.sleep(0.05)

    watcher = threading.Thread(target=watch, daemon=True)
    watcher.start()
    out, errors = child.communicate()
    watcher.join()
    wall = time.perf_counter() - start
    if child.returncode != 0:
        sys.exit(f"child {args[0]} failed ({child.returncode}):\n{errors[-4000:]}")
    return json.loads(out.strip().splitlines()[-1]), wall, peak[0]


def tree_rss(root: int) -> int:
    """The resident set in bytes of process ``root`` and all its descendants, from /proc."""
    parents: dict[int, int] = {}
    rss: dict[int, int] = {}
    page = os.sysconf("SC_PAGE_SIZE")
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
        except OSError:  # ended meanwhile
            continue
        parents[int(entry)] = int(fields[1])
        rss[int(entry)] = int(fields[21]) * page
    family, total, frontier = {root}, 0, [root]
    while frontier:
        pid = frontier.pop()
        total += rss.get(pid, 0)
        kids = [p for p, parent in parents.items() if parent == pid and p not in family]
        family.update(kids)
        frontier.extend(kids)
    return total


def generate(folder: Path, lines: int) -> float:
    """Demo data with about ``lines`` order lines; seconds taken (0 when already there)."""
    orders = folder / "orders.parquet"
    if orders.exists():
        return 0.0
    customers = max(10, math.ceil(lines / LINES_PER_CUSTOMER))
    start = time.perf_counter()
    done = subprocess.run(
        [
            memberlens_exe(),
            "demo-data",
            "--out",
            str(folder),
            "--customers",
            str(customers),
            "--format",
            "parquet",
            "--seed",
            str(SEED),
        ],
        capture_output=True,
        text=True,
    )
    if done.returncode != 0:
        sys.exit(f"demo-data failed:\n{done.stderr}")
    return time.perf_counter() - start


def human(n: float) -> str:
    return f"{n / 1e6:.0f}M" if n >= 1e6 else f"{n / 1e3:.0f}k"


def report_size(args: argparse.Namespace, lines: int) -> None:
    work = args.dir / human(lines)
    data = work / "data"
    print(f"\n== {human(lines)} order lines ({work})", flush=True)
    seconds = generate(data, lines)
    counted = parquet_rows(data / "orders.parquet")
    print(f"data: {counted:,} order lines" + (f", generated in {seconds:.0f} s" if seconds else " (already generated)"))
    env = {"MEMBERLENS_DUCKDB_MEMORY_LIMIT": args.memory_limit, "MEMBERLENS_DUCKDB_TEMP_DIR": str(work / "spill")}
    if not args.no_report:
        for stale in (work / "ws.duckdb", work / "ws.duckdb.wal"):
            stale.unlink(missing_ok=True)
        result, wall, peak = run_child(["report", str(data / "orders.parquet"), str(work)], env)
        print(
            f"full report (DuckDB, memory limit {args.memory_limit}): {wall:.0f} s in all, peak memory {peak / GB:.2f} GB"
        )
        print(
            f"  ingest {result['ingest_s']:.0f} s (peak {result['peaks'].get('ingest', 0) / GB:.2f} GB), "
            f"report + exports {result['report_s']:.0f} s"
        )
        for label, secs in sorted(result["timings"].items(), key=lambda kv: -kv[1]):
            seen = result["peaks"].get(label)  # absent: over before the first 50 ms sample
            print(f"  {secs:7.1f} s  peak {f'{seen / GB:5.2f}' if seen else '    -'} GB  {label}")
        for label in ("render", "exports"):
            print(f"  {'':7s}    peak {result['peaks'].get(label, 0) / GB:5.2f} GB  ({label})")
    if args.no_stages:
        return
    tables = work / "tables"
    if not (tables / "orders.parquet").exists():
        run_child(["export", str(work / "ws.duckdb"), str(tables)], env)
    contenders = [
        ("memberlens, DuckDB", ["stages", "duckdb", str(work / "ws.duckdb"), str(work / "stages-duckdb")]),
        ("hand-written DuckDB SQL", ["stages", "sql", str(tables), str(work / "stages-sql")]),
    ]
    if not args.no_spark:
        contenders.append(("memberlens, Spark local", ["stages", "spark", str(tables), str(work / "stages-spark")]))
    times = {}
    for name, child in contenders:
        result, wall, peak = run_child(child, env)
        times[name] = result["seconds"]
        print(
            f"RFM + lifecycle + cohorts, {name}: {result['seconds']:.1f} s (process {wall:.1f} s, peak {peak / GB:.2f} GB)",
            flush=True,
        )
    check_equal([Path(c[1][3]) for c in contenders])
    reference = times["hand-written DuckDB SQL"]
    print("  ratio to the hand-written query: " + ", ".join(f"{n} {t / reference:.2f}x" for n, t in times.items()))


def parquet_rows(path: Path) -> int:
    import pyarrow.parquet as pq

    return pq.ParquetFile(path).metadata.num_rows


def check_equal(folders: list[Path]) -> None:
    import pandas as pd

    for stage, keys in (
        ("rfm", ["customer_id"]),
        ("lifecycle", ["period_start"]),
        ("cohorts", ["cohort_start", "period_number"]),
    ):
        frames = [
            pd.read_parquet(folder / f"{stage}.parquet").sort_values(keys, ignore_index=True) for folder in folders
        ]
        for other, folder in zip(frames[1:], folders[1:]):
            pd.testing.assert_frame_equal(
                frames[0],
                other,
                check_dtype=False,
                check_exact=False,
                rtol=1e-9,
                obj=f"{stage}: {folders[0].name} vs {folder.name}",
            )
    print("  results equal (RFM per customer, lifecycle per month, cohort cells)")


# -- the children ------------------------------------------------------------------------------
class PeakMemory:
    """The largest resident set seen while each labelled step ran (sampled every 50 ms)."""

    def __init__(self) -> None:
        self.label = "start"
        self.peaks: dict[str, int] = {}
        self._page = os.sysconf("SC_PAGE_SIZE")
        threading.Thread(target=self._sample, daemon=True).start()

    def _sample(self) -> None:
        while True:
            with open("/proc/self/statm") as f:
                rss = int(f.read().split()[1]) * self._page
            self.peaks[self.label] = max(self.peaks.get(self.label, 0), rss)
            time.sleep(0.05)


def child_report(orders: str, work: str) -> dict:
    from memberlens import results as results_module
    from memberlens.ingest import ingest
    from memberlens.io.workspace import Workspace
    from memberlens.reports import render

    memory = PeakMemory()
    cache_class = results_module.Results

    def labelled(method, label_of):
        def wrapper(self, *a, **k):
            before = memory.label
            memory.label = label_of(a, k)
            try:
                return method(self, *a, **k)
            finally:
                memory.label = before

        return wrapper

    cache_class.get = labelled(cache_class.get, lambda a, k: results_module.describe(a[0], k))
    from memberlens.reports import exports as exports_module

    write_exports = exports_module.write_exports

    def exports_labelled(*a, **k):
        memory.label = "exports"
        return write_exports(*a, **k)

    exports_module.write_exports = exports_labelled
    start = time.perf_counter()
    memory.label = "ingest"
    with Workspace(Path(work) / "ws.duckdb") as ws:
        ingest(ws, orders, table="orders", name="orders")
    ingest_s = time.perf_counter() - start
    start = time.perf_counter()
    memory.label = "render"
    with Workspace(Path(work) / "ws.duckdb", read_only=True) as ws:
        files = render.write_reports(ws, Path(work) / "report", langs=("en",), export_format="parquet")
    return {
        "ingest_s": ingest_s,
        "report_s": time.perf_counter() - start,
        "timings": files.timings,
        "peaks": memory.peaks,
    }


def child_export(workspace: str, folder: str) -> dict:
    """The workspace's orders as Parquet, for Spark and the hand-written query to read."""
    from memberlens.io.workspace import Workspace

    with Workspace(Path(workspace), read_only=True) as ws:
        ws.export_parquet(Path(folder), ["orders"])
    return {}


def child_stages(engine: str, location: str, out: str) -> dict:
    folder = Path(out)
    folder.mkdir(parents=True, exist_ok=True)
    if engine == "sql":
        return stages_by_hand(location, folder)
    from memberlens.io.catalog import open_tables
    from memberlens.metrics import build_retention_cohorts, compute_rfm, count_lifecycle_stages

    with open_tables(engine, location) as tables:
        orders = tables.table("orders")
        orders.count().execute()  # start the session and find the files before the clock starts
        start = time.perf_counter()
        results = {
            "rfm": compute_rfm(orders).select("customer_id", "recency", "frequency", "monetary"),
            "lifecycle": count_lifecycle_stages(orders).drop("left_censored"),
            "cohorts": (cohorts := build_retention_cohorts(orders))
            .filter(cohorts.observable)
            .select("cohort_start", "period_number", "cohort_size", "value"),
        }
        for name, expr in results.items():
            expr.to_parquet(folder / f"{name}.parquet")
        return {"seconds": time.perf_counter() - start}


HAND_SQL = {
    "rfm": """
        SELECT customer_id,
               date_diff('day', CAST(max(ordered_at) AS DATE),
                         (SELECT CAST(max(ordered_at) AS DATE) + 1 FROM orders)) AS recency,
               count(DISTINCT order_id) AS frequency, sum(amount) AS monetary
        FROM orders GROUP BY customer_id""",
    # per customer and month, the previous month with an order and the first
    "_activity": """
        CREATE TEMP TABLE activity AS
        SELECT customer_id, m,
               lag(m) OVER (PARTITION BY customer_id ORDER BY m) AS prev_m,
               min(m) OVER (PARTITION BY customer_id) AS first_m
        FROM (SELECT DISTINCT customer_id, year(ordered_at) * 12 + month(ordered_at) - 1 AS m FROM orders)""",
    "lifecycle": """
        WITH per AS (
            SELECT m, count(*) AS buyers, count(*) FILTER (WHERE m = first_m) AS new,
                   count(*) FILTER (WHERE prev_m = m - 1) AS active
            FROM activity GROUP BY m),
        spine AS (SELECT range AS m FROM range((SELECT min(m) FROM per), (SELECT max(m) FROM per) + 1)),
        filled AS (
            SELECT spine.m, coalesce(buyers, 0) AS buyers, coalesce(new, 0) AS new, coalesce(active, 0) AS active
            FROM spine LEFT JOIN per USING (m))
        SELECT make_date(CAST(m // 12 AS INT), CAST(m % 12 + 1 AS INT), 1) AS period_start, buyers, new, active,
               buyers - new - active AS "return",
               sum(new) OVER (ORDER BY m) - new - (buyers - new) AS unactive
        FROM filled""",
    "cohorts": """
        WITH cells AS (SELECT first_m AS cohort, m - first_m AS k, count(*) AS value FROM activity GROUP BY ALL),
        bounds AS (SELECT min(m) AS lo, max(m) AS hi FROM activity),
        grid AS (SELECT cohort, range AS k FROM (SELECT DISTINCT first_m AS cohort FROM activity), bounds,
                 range(0, hi - lo + 1) WHERE cohort + range <= hi)
        SELECT make_date(CAST(cohort // 12 AS INT), CAST(cohort % 12 + 1 AS INT), 1) AS cohort_start,
               k AS period_number,
               first_value(coalesce(value, 0)) OVER (PARTITION BY cohort ORDER BY k) AS cohort_size,
               CAST(coalesce(value, 0) AS DOUBLE) AS value
        FROM grid LEFT JOIN cells USING (cohort, k)""",
}


def stages_by_hand(tables: str, folder: Path) -> dict:
    import duckdb

    con = duckdb.connect(config={"memory_limit": os.environ.get("MEMBERLENS_DUCKDB_MEMORY_LIMIT", "3GB")})
    con.execute(f"CREATE VIEW orders AS SELECT * FROM read_parquet('{Path(tables) / 'orders.parquet'}')")
    con.execute("SELECT count(*) FROM orders").fetchone()
    start = time.perf_counter()
    con.execute(HAND_SQL["_activity"])
    for name in ("rfm", "lifecycle", "cohorts"):
        con.execute(f"COPY ({HAND_SQL[name]}) TO '{folder / (name + '.parquet')}' (FORMAT parquet)")
    return {"seconds": time.perf_counter() - start}


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "--child":
        kind, *rest = sys.argv[2:]
        children = {"report": child_report, "stages": child_stages, "export": child_export}
        print(json.dumps(children[kind](*rest)))
        return
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--lines", type=lambda s: int(float(s.replace("_", ""))), nargs="+", default=[1_000_000, 10_000_000]
    )
    parser.add_argument("--dir", type=Path, default=Path("/tmp/memberlens-scale"))
    parser.add_argument("--memory-limit", default="3GB", help="MEMBERLENS_DUCKDB_MEMORY_LIMIT for the DuckDB runs")
    parser.add_argument("--no-report", action="store_true", help="skip the full report")
    parser.add_argument("--no-stages", action="store_true", help="skip the RFM + lifecycle + cohort comparison")
    parser.add_argument("--no-spark", action="store_true", help="skip Spark in the stage comparison")
    args = parser.parse_args()
    print(
        f"{os.cpu_count()} cores, {os.sysconf('SC_PAGE_SIZE') * os.sysconf('SC_PHYS_PAGES') / GB:.0f} GB memory, "
        f"load average {os.getloadavg()[0]:.1f}"
    )
    for lines in args.lines:
        report_size(args, lines)


if __name__ == "__main__":
    main()
