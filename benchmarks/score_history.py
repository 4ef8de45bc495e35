"""Benchmark: the member score history for 24 monthly dates on the demo shop (issue: members over time).

    .venv/bin/python benchmarks/score_history.py --lines 10_000_000 --dir /tmp/memberlens-scale

The demo shop with about ``--lines`` order lines (two years; generated as in bench_scale.py and
kept in ``--dir`` between runs) is ingested into a workspace; then, in a fresh process,
``memberlens.scores.record_scores`` scores every member at ``--dates`` monthly dates ending at the
first of the month after the last order — RFM scores and segment, lifecycle stage, ABC class,
cluster, P(alive) and predicted value, each date from its own snapshot — and stores them in
``member_scores``. Beside it, in another fresh process, the reference: the last date scored
alone (what one monthly run costs), so the ratio says what a history costs against a single
scoring. Printed: each date's seconds, the whole run's, the process's peak resident set.
Target: 24 dates on 10M lines in ≤ 5 minutes and ≤ 4 GB on a 2-core machine.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from datetime import date
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
import bench_scale  # noqa: E402
from bench_scale import GB, generate, human, memberlens_exe  # noqa: E402


def child_score(workspace: str, first: str, last: str, copy_to: str) -> dict:
    """Score every month from ``first`` to ``last`` into a copy of the workspace."""
    import shutil

    from memberlens.io.workspace import Workspace
    from memberlens.scores import record_scores, score_dates

    shutil.copyfile(workspace, copy_to)
    days = score_dates(date.fromisoformat(first), date.fromisoformat(last), "month")
    times, start = [], time.perf_counter()
    with Workspace(copy_to) as ws:
        for day in days:
            begun = time.perf_counter()
            [(_, members)] = record_scores(ws, [day], notes=lambda text: print(text, file=sys.stderr))
            times.append({"day": day.isoformat(), "seconds": round(time.perf_counter() - begun, 2), "members": members})
        stored = int(ws.table("member_scores").count().execute())
    Path(copy_to).unlink()
    return {"dates": times, "seconds": round(time.perf_counter() - start, 2), "rows": stored}


def run_child(args: list[str]) -> tuple[dict, float, int]:
    """This script's ``--child`` in a fresh process: (its JSON, wall seconds, peak resident set of its tree)."""
    return bench_scale.run_child(args, script=__file__)


def last_order_month_after(workspace: Path) -> date:
    import pandas as pd

    from memberlens.io.workspace import Workspace

    with Workspace(workspace, read_only=True) as ws:
        last = pd.Timestamp(ws.table("orders").ordered_at.max().execute())
    return (last.to_period("M") + 1).to_timestamp().date()


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "--child":
        print(json.dumps(child_score(*sys.argv[2:])))
        return
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lines", type=lambda s: int(float(s.replace("_", ""))), default=10_000_000)
    parser.add_argument("--dir", type=Path, default=Path("/tmp/memberlens-scale"))
    parser.add_argument("--dates", type=int, default=24)
    args = parser.parse_args()
    import pandas as pd

    folder = args.dir / human(args.lines)
    folder.mkdir(parents=True, exist_ok=True)
    print(f"{os.cpu_count()} cores, load average {os.getloadavg()[0]:.1f}")
    took = generate(folder, args.lines)
    workspace = folder / "scores.duckdb"
    if not workspace.exists():
        done = subprocess.run(
            [memberlens_exe(), "ingest", str(folder / "orders.parquet"), "--table", "orders", "--db", str(workspace)],
            capture_output=True,
            text=True,
        )
        if done.returncode != 0:
            sys.exit(f"ingest failed:\n{done.stderr}")
    last = last_order_month_after(workspace)
    first = (pd.Timestamp(last) - pd.DateOffset(months=args.dates - 1)).date()
    print(
        f"{human(args.lines)} order lines (generated in {took:.0f} s; 0: kept from an earlier run); "
        f"dates {first} .. {last}"
    )
    single, single_wall, single_peak = run_child(
        [str(workspace), last.isoformat(), last.isoformat(), str(folder / "single.duckdb")]
    )
    print(
        f"reference, the last date alone: {single['seconds']:.1f} s ({single['dates'][0]['members']:,} members), "
        f"peak {single_peak / GB:.2f} GB"
    )
    history, wall, peak = run_child(
        [str(workspace), first.isoformat(), last.isoformat(), str(folder / "history.duckdb")]
    )
    for row in history["dates"]:
        print(f"  {row['day']}: {row['seconds']:6.1f} s  {row['members']:>10,} members")
    print(
        f"{len(history['dates'])} dates: {history['seconds']:.1f} s (process {wall:.1f} s), {history['rows']:,} rows "
        f"stored, peak {peak / GB:.2f} GB; {history['seconds'] / single['seconds']:.1f}x one date alone"
    )


if __name__ == "__main__":
    main()
