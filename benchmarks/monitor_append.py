"""Benchmark: a day's orders appended to a large workspace and the member base watched, as a
daily scheduled job would (issue: watch the member base).

    .venv/bin/python benchmarks/monitor_append.py --lines 10_000_000 --dir /tmp/memberlens-scale

The demo shop with about ``--lines`` order lines (two years; generated as in bench_scale.py and
kept in ``--dir`` between runs) is split into its last day and everything before it. Everything
before goes into a workspace once (with the members, campaigns, costs and events the monitoring
KPIs read), kept between runs. Then, on a copy of that workspace, the two commands a scheduler
runs each morning, each in its own process and timed from the outside:

    memberlens ingest LAST_DAY.parquet --append
    memberlens monitor --format json

Beside them, the reference: the whole order log ingested again into a fresh workspace, which is
what updating the workspace cost before batches could be appended. Printed: the lines of the
day, each command's wall time, their sum and the ratio to the re-ingest.
Target: append + monitor of one day (≈15k lines) on 10M lines in ≤ 10 s on a 2-core machine.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from bench_scale import generate, human, memberlens_exe  # noqa: E402

TABLES = ("members", "campaigns", "marketing_costs", "events")


def run(*args: str) -> tuple[float, subprocess.CompletedProcess]:
    """Run ``memberlens ARGS``; its wall seconds and result (exit 3, alerts fired, is a success)."""
    start = time.perf_counter()
    done = subprocess.run([memberlens_exe(), *args], capture_output=True, text=True)
    if done.returncode not in (0, 3):
        sys.exit(f"memberlens {' '.join(args)} failed:\n{done.stderr}")
    return time.perf_counter() - start, done


def split_last_day(orders: Path, before: Path, day: Path) -> tuple[int, str]:
    """Write the order log's last day and everything before it as Parquet; (lines of the day, the day)."""
    import duckdb

    con = duckdb.connect()
    last = con.execute(f"SELECT max(ordered_at)::DATE FROM read_parquet('{orders}')").fetchone()[0]
    con.execute(
        f"COPY (SELECT * FROM read_parquet('{orders}') WHERE ordered_at < DATE '{last}') TO '{before}' (FORMAT parquet)"
    )
    con.execute(
        f"COPY (SELECT * FROM read_parquet('{orders}') WHERE ordered_at >= DATE '{last}') TO '{day}' (FORMAT parquet)"
    )
    lines = con.execute(f"SELECT count(*) FROM read_parquet('{day}')").fetchone()[0]
    return int(lines), str(last)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lines", type=lambda s: int(float(s.replace("_", ""))), default=10_000_000)
    parser.add_argument("--dir", type=Path, default=Path("/tmp/memberlens-scale"))
    args = parser.parse_args()
    folder = args.dir / human(args.lines)
    folder.mkdir(parents=True, exist_ok=True)
    print(f"{os.cpu_count()} cores, load average {os.getloadavg()[0]:.1f}")
    took = generate(folder, args.lines)
    before, day = folder / "orders-before-last-day.parquet", folder / "orders-last-day.parquet"
    if not day.exists():
        split_last_day(folder / "orders.parquet", before, day)
    import duckdb

    lines = duckdb.connect().execute(f"SELECT count(*) FROM read_parquet('{day}')").fetchone()[0]
    base = folder / "monitor-base.duckdb"
    if not base.exists():
        building = folder / "monitor-base.building.duckdb"
        building.unlink(missing_ok=True)
        for table in TABLES:
            run("ingest", str(folder / f"{table}.parquet"), "--table", table, "--db", str(building))
        run("ingest", str(before), "--append", "--db", str(building))
        building.rename(base)
    print(
        f"{human(args.lines)} order lines (generated in {took:.0f} s; 0: kept from an earlier run); "
        f"the last day: {lines:,} lines"
    )

    daily = folder / "monitor-daily.duckdb"
    shutil.copyfile(base, daily)
    append_s, _ = run("ingest", str(day), "--append", "--db", str(daily))
    monitor_s, watched = run("monitor", "--format", "json", "--db", str(daily))
    print(f"ingest --append of the day: {append_s:.1f} s")
    print(
        f"monitor:                    {monitor_s:.1f} s (exit {watched.returncode}: "
        f"{'alerts fired' if watched.returncode == 3 else 'no alert'})"
    )
    print(f"the daily job:              {append_s + monitor_s:.1f} s (target 10 s)")

    fresh = folder / "monitor-reingest.duckdb"
    fresh.unlink(missing_ok=True)
    reingest_s, _ = run("ingest", str(folder / "orders.parquet"), "--table", "orders", "--db", str(fresh))
    print(
        f"reference, the whole order log ingested again: {reingest_s:.1f} s ({reingest_s / append_s:.0f}x the append)"
    )
    for path in (daily, fresh):
        path.unlink(missing_ok=True)


if __name__ == "__main__":
    main()
