"""The whole CLV job beside the peers, on the same data, in one run.

    .venv/bin/python benchmarks/bench_clv_peers.py                 # CDNOW, 100k and 1M members
    .venv/bin/python benchmarks/bench_clv_peers.py --sizes 100000  # smaller

The job, for every library: order lines (a Parquet file of customer_id, ordered_at, amount) →
the per-member summary in weeks → BG/NBD and Gamma-Gamma fitted → each member's 365-day CLV.
memberlens also computes its per-member intervals (90 %: predicted orders, P(alive), CLV, the
order range, the next order's dates); no peer gives per-member intervals from a maximum-likelihood
or MAP fit, so theirs is the point prediction only.

Data: the CDNOW sample (``../shared/data/CDNOW_sample.txt``, when present) and members simulated
by :func:`memberlens.models.simulate_orders` (BG/NBD purchases over two years).

Peers, each installed by this script in its own virtual environment under ``--venvs`` (default
/tmp/bench-peers) when the package registry can be reached: lifetimes, clvkit and pymc-marketing
(its MAP fit of ``BetaGeoModel`` and ``GammaGammaModel``). A peer that does not install, fails or
times out is printed with its error: the ratios use the peers that complete.

Each job runs in a fresh process that reports its own wall time (from reading the file to the
last CLV) and its peak resident memory (``ru_maxrss``). Targets (issue 16): memberlens' job for
1M members with intervals ≤ 10 s and ≤ 2 GB; at least 5x faster than the fastest peer that
completes.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

import pandas as pd

from memberlens.models import simulate_orders

ROOT = Path(__file__).resolve().parents[1]
CDNOW = ROOT.parent / "shared" / "data" / "CDNOW_sample.txt"
PEERS = {"lifetimes": "lifetimes", "clvkit": "clvkit", "pymc-marketing": "pymc-marketing"}

# every worker: argv = (lines.parquet, observation end); prints one JSON line. Peak memory is the
# process's own high-water mark (VmHWM: ru_maxrss would carry the parent's over exec)
PEAK = r"""
def peak_mb():
    return int(next(l for l in open("/proc/self/status") if l.startswith("VmHWM")).split()[1]) / 1024
"""
MEMBERLENS_WORKER = (
    PEAK
    + r"""
import json, sys, time
start = time.perf_counter()
import ibis
from memberlens.models import fit_member_value
path, end = sys.argv[1], sys.argv[2]
orders = ibis.duckdb.connect().read_parquet(path)
fit = fit_member_value(orders, time_unit="W", observation_end=end)
frame = fit.predictions(interval=0.9).select("customer_id", "predicted_clv", "predicted_clv_low", "predicted_clv_high").execute()
seconds = time.perf_counter() - start
print(json.dumps({"seconds": seconds, "peak_mb": peak_mb(),
    "members": len(frame), "total_clv": float(frame.predicted_clv.sum()),
    "params": {**fit.purchases.params_, **{"gg_" + k: v for k, v in fit.spend.params_.items()}}}))
"""
)

LIFETIMES_WORKER = (
    PEAK
    + r"""
import json, sys, time
start = time.perf_counter()
import pandas as pd
from lifetimes import BetaGeoFitter, GammaGammaFitter
from lifetimes.utils import summary_data_from_transaction_data
path, end = sys.argv[1], sys.argv[2]
lines = pd.read_parquet(path)
s = summary_data_from_transaction_data(lines, "customer_id", "ordered_at", monetary_value_col="amount",
    observation_period_end=end, freq="W")
bgf = BetaGeoFitter().fit(s.frequency, s.recency, s["T"])
repeat = s[(s.frequency > 0) & (s.monetary_value > 0)]
ggf = GammaGammaFitter().fit(repeat.frequency, repeat.monetary_value)
clv = ggf.customer_lifetime_value(bgf, s.frequency, s.recency, s["T"], s.monetary_value, time=12, freq="W",
    discount_rate=0.0)
seconds = time.perf_counter() - start
print(json.dumps({"seconds": seconds, "peak_mb": peak_mb(),
    "members": len(clv), "total_clv": float(clv.sum()),
    "params": {**{k: float(v) for k, v in bgf.params_.items()}, **{"gg_" + k: float(v) for k, v in ggf.params_.items()}}}))
"""
)

CLVKIT_WORKER = (
    PEAK
    + r"""
import json, sys, time
start = time.perf_counter()
import pandas as pd
from clvkit import CLV, CustomerBase
path, end = sys.argv[1], sys.argv[2]
lines = pd.read_parquet(path)
# clvkit wants the moment the data was pulled: the end of the last day
pulled = pd.Timestamp(end) + pd.Timedelta(days=1) - pd.Timedelta(seconds=1)
cb = CustomerBase.from_transactions(lines, datetime_col="ordered_at", time_unit="W", collapse="D",
    observation_period_end=pulled)
clv = CLV().fit(cb).predict(horizon=52).to_pandas()["clv"]
seconds = time.perf_counter() - start
print(json.dumps({"seconds": seconds, "peak_mb": peak_mb(), "members": len(clv), "total_clv": float(clv.sum())}))
"""
)

PYMC_WORKER = (
    PEAK
    + r"""
import json, sys, time
start = time.perf_counter()
import pandas as pd
from pymc_marketing.clv import BetaGeoModel, GammaGammaModel, rfm_summary
path, end = sys.argv[1], sys.argv[2]
lines = pd.read_parquet(path)
s = rfm_summary(lines, "customer_id", "ordered_at", monetary_value_col="amount", observation_period_end=end,
    time_unit="W")
bg = BetaGeoModel(data=s[["customer_id", "frequency", "recency", "T"]])
bg.fit(method="map")
repeat = s[(s.frequency > 0) & (s.monetary_value > 0)]
gg = GammaGammaModel(data=repeat[["customer_id", "monetary_value", "frequency"]])
gg.fit(method="map")
clv = gg.expected_customer_lifetime_value(transaction_model=bg, data=s, future_t=12, time_unit="W",
    discount_rate=0.0)
seconds = time.perf_counter() - start
print(json.dumps({"seconds": seconds, "peak_mb": peak_mb(),
    "members": int(clv.sizes["customer_id"]), "total_clv": float(clv.mean(("chain", "draw")).sum())}))
"""
)

WORKERS = {"lifetimes": LIFETIMES_WORKER, "clvkit": CLVKIT_WORKER, "pymc-marketing": PYMC_WORKER}


def peer_python(venvs: Path, name: str, install: bool) -> tuple[Path | None, str]:
    """The peer's Python, installing it into its own venv when asked; (None, why) when it is not there."""
    venv = venvs / name
    python = venv / "bin" / "python"
    module = name.replace("-", "_")
    if not python.exists() and install:
        subprocess.run([sys.executable, "-m", "venv", str(venv)], check=False)
        subprocess.run([str(python), "-m", "pip", "install", "-q", PEERS[name], "pyarrow"], check=False)
    if not python.exists():
        return None, "no virtual environment"
    check = subprocess.run([str(python), "-c", f"import {module}"], capture_output=True, text=True)
    if check.returncode:
        return None, (check.stderr.strip().splitlines() or ["does not import"])[-1]
    return python, ""


def run(python: str, worker: str, lines: Path, end: str, timeout: float) -> dict[str, Any]:
    try:
        done = subprocess.run([python, "-c", worker, str(lines), end], capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        return {"error": f"timed out after {timeout:.0f} s"}
    for line in reversed(done.stdout.strip().splitlines() + done.stderr.strip().splitlines()):
        try:
            return json.loads(line)
        except json.JSONDecodeError:
            continue
    return {"error": (done.stderr.strip().splitlines() or ["no output"])[-1][:200]}


def cdnow_lines() -> pd.DataFrame | None:
    if not CDNOW.exists():
        return None
    raw = pd.read_csv(CDNOW, sep=r"\s+", header=None, names=["customer_id", "sample_id", "date", "cds", "amount"])
    return pd.DataFrame(
        {
            "customer_id": raw.customer_id.astype(str),
            "ordered_at": pd.to_datetime(raw.date.astype(str)),
            "amount": raw.amount.astype(float),
        }
    )


def datasets(sizes: list[int]) -> list[tuple[str, pd.DataFrame, str]]:
    out = []
    cdnow = cdnow_lines()
    if cdnow is not None:
        out.append(("CDNOW (2,357 members)", cdnow, "1998-06-30"))
    for n in sizes:
        lines = simulate_orders(n, days=730, seed=1)[["customer_id", "ordered_at", "amount"]]
        out.append((f"{n:,} simulated members", lines, str(lines.ordered_at.max().date())))
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", type=int, nargs="*", default=[100_000, 1_000_000])
    parser.add_argument("--venvs", type=Path, default=Path("/tmp/bench-peers"))
    parser.add_argument("--no-install", action="store_true", help="use the peers' venvs as they are")
    parser.add_argument("--timeout", type=float, default=1800.0, help="seconds per peer job")
    args = parser.parse_args()
    pythons = {}
    for name in PEERS:
        python, why = peer_python(args.venvs, name, install=not args.no_install)
        pythons[name] = python
        if python is None:
            print(f"{name}: not run ({why})", flush=True)
    rows = []
    with tempfile.TemporaryDirectory() as folder:
        for label, lines, end in datasets(args.sizes):
            path = Path(folder) / "lines.parquet"
            lines.to_parquet(path, index=False)
            ours = run(sys.executable, MEMBERLENS_WORKER, path, end, args.timeout)
            row = {"data": label, "memberlens": ours}
            print(label, "memberlens", json.dumps(ours), flush=True)
            for name, python in pythons.items():
                if python is None:
                    continue
                result = run(str(python), WORKERS[name], path, end, args.timeout)
                row[name] = result
                print(label, name, json.dumps(result), flush=True)
            rows.append(row)
    print()
    print("| data | memberlens (with intervals) | " + " | ".join(PEERS) + " | fastest peer / memberlens |")
    print("|---|---|" + "---|" * len(PEERS) + "---|")
    for row in rows:
        ours = row["memberlens"]
        cells = [_cell(ours)]
        done = []
        for name in PEERS:
            result = row.get(name)
            cells.append(_cell(result) if result is not None else "not run")
            if result and "seconds" in result:
                done.append(result["seconds"])
        ratio = f"{min(done) / ours['seconds']:.1f}x" if done and "seconds" in ours else "–"
        print(f"| {row['data']} | " + " | ".join(cells) + f" | {ratio} |")


def _cell(result: dict[str, Any]) -> str:
    if "seconds" not in result:
        return f"failed: {result.get('error', '?')}"
    return f"{result['seconds']:.2f} s, {result['peak_mb']:,.0f} MB"


if __name__ == "__main__":
    main()
