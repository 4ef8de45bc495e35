"""Benchmark of the report on the real UCI Online Retail file: the whole CLI run, as a user types it.

    .venv/bin/python benchmarks/bench_report.py                 # ../shared/data/online_retail.csv.gz
    .venv/bin/python benchmarks/bench_report.py --repeat 3 --data PATH

What is timed: ``memberlens report online_retail.csv.gz --preset online-retail --out DIR`` in a
fresh process with a fresh workspace — starting Python, ingesting the 541,909 rows, running every
analysis once, writing report.html and the member lists (CSV). Then, in this process on the
ingested workspace, each analysis of the report separately (from the report's own cache), to
show where the time goes. Target (issue 7): the whole run <= 30 s on the 2-core machine.
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

TARGET_SECONDS = 30.0
ROOT = Path(__file__).resolve().parents[1]
DEFAULT_DATA = ROOT.parent / "shared" / "data" / "online_retail.csv.gz"


def cli_run(data: Path, work: Path) -> tuple[float, float]:
    """Wall-clock and CPU seconds (user + system) of one ``memberlens report`` process."""
    exe = Path(sys.executable).with_name("memberlens")
    command = [
        str(exe),
        "report",
        str(data),
        "--preset",
        "online-retail",
        "--db",
        str(work / "uci.duckdb"),
        "--out",
        str(work / "out"),
    ]
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    done = subprocess.run(command, capture_output=True, text=True, env={**os.environ, "COLUMNS": "100"})
    seconds = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if done.returncode != 0:
        sys.exit(f"memberlens report failed ({done.returncode}):\n{done.stderr}")
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return seconds, cpu


def breakdown(db: Path) -> dict[str, float]:
    from memberlens.io.workspace import Workspace
    from memberlens.reports.render import write_reports

    with Workspace(db, read_only=True) as ws, tempfile.TemporaryDirectory() as out:
        start = time.perf_counter()
        files = write_reports(ws, out, langs=("en",), export_format="csv")
        total = time.perf_counter() - start
    analyses = sum(files.timings.values())
    return {
        **dict(sorted(files.timings.items(), key=lambda kv: -kv[1])),
        "(analyses)": analyses,
        "(rendering and writing)": total - analyses,
        "(report from an ingested workspace)": total,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--repeat", type=int, default=1)
    args = parser.parse_args()
    if not args.data.exists():
        sys.exit(f"no data at {args.data}")
    times = []
    with tempfile.TemporaryDirectory(prefix="bench-report-") as tmp:
        for i in range(args.repeat):
            work = Path(tmp) / f"run{i}"
            work.mkdir()
            wall, cpu = cli_run(args.data, work)
            times.append(wall)
            print(
                f"run {i + 1}: memberlens report (ingest + report + exports): {wall:.1f} s "
                f"(CPU {cpu:.1f} s, load average {os.getloadavg()[0]:.1f})",
                flush=True,
            )
        print("\nwhere the time goes (same workspace, this process):")
        for label, seconds in breakdown(Path(tmp) / "run0" / "uci.duckdb").items():
            print(f"  {seconds:6.2f} s  {label}")
    best, median = min(times), statistics.median(times)
    print(
        f"\nwhole run: median {median:.1f} s, best {best:.1f} s (target <= {TARGET_SECONDS:.0f} s; "
        f"{os.cpu_count()} cores, load average {os.getloadavg()[0]:.1f})"
    )
    sys.exit(0 if median <= TARGET_SECONDS else 1)


if __name__ == "__main__":
    main()
