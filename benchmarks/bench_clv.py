"""Benchmark of the CLV models: fit and summary times beside references, in one run.

    .venv/bin/python benchmarks/bench_clv.py            # the full run (about 10-15 minutes)
    .venv/bin/python benchmarks/bench_clv.py --quick    # 10x smaller, for a smoke test

What is timed (median of 3 unless noted; synthetic data over two years):

* the summary (frequency, recency, T, spend) of 10M order lines, built by memberlens in DuckDB
  and materialised there, beside the same summary as a hand-written DuckDB query — on two shapes
  of data: simulated BG/NBD purchases with one line per order (2.4M members), and the demo
  generator's shop with baskets of several lines (about 760k members);
* BG/NBD and Pareto/NBD fits on 1M and 10M members, from a DuckDB table (compression to distinct
  combinations in the engine included), beside the plain per-member likelihood optimised by SciPy
  (L-BFGS-B with finite-difference gradients, no compression; run once) — the parameters must
  agree;
* lifetimes (0.11) in its own virtual environment (``--lifetimes-venv``, default
  /tmp/bench-venv), when it installs there: BG/NBD at 100k and 1M members, Pareto/NBD at 100k,
  the summary of 10M lines (run once each).

Targets (issue 4): BG/NBD on 1M members <= 0.5 s, Pareto/NBD on 1M <= 10 s, the summary of 10M
lines <= 2 s.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import ibis
import numpy as np
import pandas as pd
from scipy.optimize import minimize
from scipy.special import gammaln, hyp2f1

from memberlens.models import (
    BetaGeoModel,
    ParetoNBDModel,
    compress_summary,
    simulate_bg_nbd,
    simulate_orders,
    simulate_pareto_nbd,
    summarise_purchases,
)

BG_TRUTH = {"r": 0.243, "alpha": 4.414, "a": 0.793, "b": 2.426}  # CDNOW's, in weeks
PARETO_TRUTH = {"r": 0.553, "alpha": 10.578, "s": 0.606, "beta": 11.669}
ROWS: list[dict[str, Any]] = []


def timed(fn: Callable[[], Any], repeat: int = 3) -> tuple[float, Any]:
    times, result = [], None
    for _ in range(repeat):
        start = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times), result


def record(
    task: str, size: str, ours: float | None, reference: float | None, reference_name: str, note: str = ""
) -> None:
    ratio = f"{reference / ours:.1f}x" if ours and reference else ""
    row = {
        "task": task,
        "size": size,
        "memberlens_s": ours,
        "reference": reference_name,
        "reference_s": reference,
        "speed-up": ratio,
        "note": note,
    }
    ROWS.append(row)
    ours_text = f"{ours:.3f}" if ours is not None else "-"
    ref_text = f"{reference:.3f}" if reference is not None else "-"
    print(
        f"  {task:<15} {size:>4}  memberlens {ours_text:>7} s   {reference_name:<32} {ref_text:>8} s  {ratio:>7}  {note}",
        flush=True,
    )


# -- the uncompressed references: textbook per-member likelihoods, SciPy L-BFGS-B ------------------
def plain_bg_nbd(x: np.ndarray, t_x: np.ndarray, T: np.ndarray) -> dict[str, float]:
    def negll(phi: np.ndarray) -> float:
        r, alpha, a, b = np.exp(phi)
        a1 = gammaln(r + x) - gammaln(r) + r * np.log(alpha)
        a2 = gammaln(a + b) + gammaln(b + x) - gammaln(b) - gammaln(a + b + x)
        a3 = -(r + x) * np.log(alpha + T)
        with np.errstate(divide="ignore", invalid="ignore"):
            a4 = np.where(x > 0, np.log(a) - np.log(b + x - 1) - (r + x) * np.log(alpha + t_x), -np.inf)
        return -float(np.mean(a1 + a2 + np.logaddexp(a3, a4)))

    result = minimize(negll, np.zeros(4), method="L-BFGS-B", options={"ftol": 1e-14, "gtol": 1e-9, "maxiter": 1000})
    return dict(zip(BG_TRUTH, np.exp(result.x)))


def plain_pareto_nbd(x: np.ndarray, t_x: np.ndarray, T: np.ndarray) -> dict[str, float]:
    def log_a0_term(r, alpha, s, beta, y):
        # Fader & Hardie's 2F1(r+s+x, s+1; r+s+x+1; z)/(max(α,β)+y)^(r+s+x), Euler-transformed
        if alpha >= beta:
            z = (alpha - beta) / (alpha + y)
            return -(r + x) * np.log(alpha + y) - s * np.log(beta + y) + np.log(hyp2f1(1.0, r + x, r + s + x + 1.0, z))
        z = (beta - alpha) / (beta + y)
        return (
            -(s + 1.0) * np.log(beta + y)
            - (r + x - 1.0) * np.log(alpha + y)
            + np.log(hyp2f1(1.0, s + 1.0, r + s + x + 1.0, z))
        )

    def negll(phi: np.ndarray) -> float:
        r, alpha, s, beta = np.exp(phi)
        head = gammaln(r + x) - gammaln(r) + r * np.log(alpha) + s * np.log(beta)
        alive = -(r + x) * np.log(alpha + T) - s * np.log(beta + T)
        h_tx, h_T = log_a0_term(r, alpha, s, beta, t_x), log_a0_term(r, alpha, s, beta, T)
        with np.errstate(divide="ignore", invalid="ignore"):
            dead = np.log(s / (r + s + x)) + h_tx + np.log1p(-np.minimum(np.exp(h_T - h_tx), 1.0))
        return -float(np.mean(head + np.logaddexp(alive, dead)))

    result = minimize(negll, np.zeros(4), method="L-BFGS-B", options={"ftol": 1e-14, "gtol": 1e-9, "maxiter": 1000})
    return dict(zip(PARETO_TRUTH, np.exp(result.x)))


def max_relative_difference(a: dict[str, float], b: dict[str, float]) -> float:
    return max(abs(a[k] - b[k]) / abs(b[k]) for k in a)


# -- lifetimes, in its own environment -------------------------------------------------------------
LIFETIMES_WORKER = r"""
import json, sys, time
import numpy as np, pandas as pd
task, folder = sys.argv[1], sys.argv[2]
out = {}
try:
    import lifetimes
    from lifetimes import BetaGeoFitter, ParetoNBDFitter
    from lifetimes.utils import summary_data_from_transaction_data
    if task == "summary":
        frame = pd.DataFrame({"customer_id": np.load(folder + "/ids.npy"), "date": np.load(folder + "/dates.npy")})
        start = time.perf_counter()
        s = summary_data_from_transaction_data(frame, "customer_id", "date", freq="W")
        out = {"seconds": time.perf_counter() - start, "members": int(len(s))}
    else:
        x, t_x, T = (np.load(f"{folder}/{c}.npy") for c in ("x", "t_x", "T"))
        fitter = BetaGeoFitter() if task == "bg-nbd" else ParetoNBDFitter()
        start = time.perf_counter()
        fitter.fit(x, t_x, T)
        out = {"seconds": time.perf_counter() - start, "params": {k: float(v) for k, v in fitter.params_.items()}}
    out["version"] = lifetimes.__version__
except Exception as exc:
    out = {"error": f"{type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}"}
print(json.dumps(out))
"""


def lifetimes_python(venv: Path) -> Path | None:
    python = venv / "bin" / "python"
    if not python.exists():
        return None
    check = subprocess.run([str(python), "-c", "import lifetimes"], capture_output=True, text=True)
    return python if check.returncode == 0 else None


def run_lifetimes(python: Path, task: str, folder: Path, timeout: float) -> dict[str, Any]:
    try:
        done = subprocess.run(
            [str(python), "-c", LIFETIMES_WORKER, task, str(folder)], capture_output=True, text=True, timeout=timeout
        )
    except subprocess.TimeoutExpired:
        return {"error": f"timed out after {timeout:.0f} s"}
    try:
        return json.loads(done.stdout.strip().splitlines()[-1])
    except (json.JSONDecodeError, IndexError):
        return {"error": (done.stderr.strip().splitlines() or ["no output"])[-1]}


# -- the benchmark -----------------------------------------------------------------------------------
def one_line_orders(lines_target: int) -> pd.DataFrame:
    """Simulated BG/NBD purchases, one line per order: about 4.1 lines (orders) per member."""
    orders = simulate_orders(int(lines_target / 4.1), days=730, seed=1)
    return orders.iloc[:lines_target] if len(orders) > lines_target else orders


def demo_shape_orders(lines_target: int, work: Path) -> pd.DataFrame:
    """The demo generator's shop (`memberlens demo-data`): baskets of several lines, about 2.9
    orders and 14 kept lines per customer over two years; the lines a default ingest keeps."""
    from memberlens.demo.generator import generate_demo_data

    files = generate_demo_data(work / "demo", customers=int(lines_target / 13.2), years=2, seed=1, fmt="parquet")
    raw = pd.read_parquet(
        files["orders"]["path"],
        columns=["customer_id", "order_id", "ordered_at", "quantity", "unit_price", "is_cancellation"],
    )
    kept = raw[~raw.is_cancellation & raw.customer_id.notna() & (raw.quantity > 0) & (raw.unit_price > 0)]
    orders = pd.DataFrame(
        {
            "customer_id": kept.customer_id,
            "order_id": kept.order_id,
            "ordered_at": pd.to_datetime(kept.ordered_at),
            "amount": kept.quantity * kept.unit_price,
        }
    )
    return orders.iloc[:lines_target].reset_index(drop=True)


def bench_summary(orders: pd.DataFrame, shape: str, lifetimes: Path | None, work: Path) -> None:
    size = f"{len(orders) / 1e6:.0f}M" if len(orders) >= 1e6 else f"{len(orders) / 1e3:.0f}k"
    print(
        f"summary of {len(orders):,} order lines, {shape} ({orders.customer_id.nunique():,} members, "
        f"{orders.order_id.nunique():,} orders)",
        flush=True,
    )
    end = pd.Timestamp(orders.ordered_at.max()).date().isoformat()
    con = ibis.duckdb.connect()
    table = con.create_table("orders", orders)
    expr = summarise_purchases(table, time_unit="W")  # observed to the last order (the default)
    ours, _ = timed(lambda: con.create_table("summary", expr, overwrite=True))
    hand_sql = (
        """
        CREATE OR REPLACE TABLE hand AS
        WITH daily AS (SELECT customer_id, CAST(ordered_at AS DATE) AS day, SUM(amount) AS spend
                       FROM orders GROUP BY ALL),
             per AS (SELECT customer_id, MIN(day) AS first, MAX(day) AS last, COUNT(*) AS n,
                            SUM(spend) AS total, ARG_MIN(spend, day) AS first_spend FROM daily GROUP BY ALL)
        SELECT customer_id, n - 1 AS frequency, DATE_DIFF('day', first, last) / 7.0 AS recency,
               DATE_DIFF('day', first, DATE '"""
        + end
        + """') / 7.0 AS "T",
               CASE WHEN n > 1 THEN (total - first_spend) / (n - 1) ELSE 0 END AS monetary_value
        FROM per"""
    )
    hand, _ = timed(lambda: con.raw_sql(hand_sql))
    mismatches = con.raw_sql(
        "SELECT COUNT(*) FROM summary s FULL JOIN hand h USING (customer_id) "
        "WHERE s.frequency IS DISTINCT FROM h.frequency OR s.recency IS DISTINCT FROM h.recency "
        'OR s."T" IS DISTINCT FROM h."T" OR abs(s.monetary_value - h.monetary_value) > 1e-6'
    ).fetchone()[0]
    record(
        f"summary ({shape})",
        size,
        ours,
        hand,
        "hand-written DuckDB SQL",
        f"same result: {'yes' if mismatches == 0 else f'NO ({mismatches} members differ)'}",
    )
    if lifetimes is not None and shape == "one line per order":
        folder = work / "summary"
        folder.mkdir(exist_ok=True)
        np.save(folder / "ids.npy", orders.customer_id.to_numpy(dtype=object).astype(str))
        np.save(folder / "dates.npy", orders.ordered_at.to_numpy())
        result = run_lifetimes(lifetimes, "summary", folder, timeout=900)
        record("summary", size, ours, result.get("seconds"), "lifetimes (1 run)", result.get("error", ""))


def bench_fit(
    model_cls,
    truth: dict[str, float],
    simulate,
    plain,
    n: int,
    *,
    reference: bool,
    lifetimes: Path | None,
    lifetimes_sizes: tuple[int, ...],
    work: Path,
) -> None:
    size = f"{n / 1e6:.0f}M" if n >= 1e6 else f"{n / 1e3:.0f}k"
    frame = simulate(n, *truth.values(), max_days=730, seed=2)
    con = ibis.duckdb.connect()
    table = con.create_table("members", frame)
    combos = len(compress_summary(table))
    ours, model = timed(lambda: model_cls().fit(table))
    name = model_cls.model_name
    note = f"{combos:,} combinations"
    ref_time = None
    if reference:
        x, t_x, T = (frame[c].to_numpy(float) for c in ("frequency", "recency", "T"))
        start = time.perf_counter()
        ref_params = plain(x, t_x, T)
        ref_time = time.perf_counter() - start
        note += f"; params vs reference: max rel. diff {max_relative_difference(model.params_, ref_params):.1e}"
    with_lifetimes = lifetimes is not None and n in lifetimes_sizes
    if reference or not with_lifetimes:
        record(f"{name} fit", size, ours, ref_time, "plain SciPy, per member (1 run)" if reference else "", note)
    print(f"    memberlens {name} params: " + ", ".join(f"{k}={v:.4f}" for k, v in model.params_.items()), flush=True)
    if with_lifetimes:
        folder = work / f"{name}-{n}"
        folder.mkdir(exist_ok=True)
        for c, key in (("frequency", "x"), ("recency", "t_x"), ("T", "T")):
            np.save(folder / f"{key}.npy", frame[c].to_numpy(float))
        result = run_lifetimes(lifetimes, name, folder, timeout=1800)
        diff = ""
        if "params" in result:
            theirs = dict(zip(truth, result["params"].values()))
            diff = f"params vs lifetimes: max rel. diff {max_relative_difference(model.params_, theirs):.1e}"
        record(
            f"{name} fit",
            size,
            ours,
            result.get("seconds"),
            "lifetimes (1 run)",
            result.get("error", diff if reference else f"{note}; {diff}"),
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="10x smaller sizes (smoke test)")
    parser.add_argument("--lifetimes-venv", type=Path, default=Path("/tmp/bench-venv"))
    parser.add_argument("--no-reference-10m", action="store_true", help="skip the plain SciPy reference at 10M members")
    parser.add_argument(
        "--lifetimes-pareto-1m", action="store_true", help="also time lifetimes' Pareto/NBD on 1M (~7 min)"
    )
    parser.add_argument("--json", type=Path, help="also write the results here")
    parser.add_argument("--summary-only", action="store_true", help="time the summaries only, not the fits")
    args = parser.parse_args()
    scale = 10 if args.quick else 1
    print(f"load average before the run: {' '.join(f'{v:.1f}' for v in os.getloadavg())}")
    lifetimes = lifetimes_python(args.lifetimes_venv)
    print(
        f"lifetimes: {'found in ' + str(args.lifetimes_venv) if lifetimes else 'not installed in ' + str(args.lifetimes_venv)}"
    )
    with tempfile.TemporaryDirectory(prefix="bench-clv-") as tmp:
        work = Path(tmp)
        bench_summary(one_line_orders(10_000_000 // scale), "one line per order", lifetimes, work)
        bench_summary(demo_shape_orders(10_000_000 // scale, work), "demo shop baskets", None, work)
        if args.summary_only:
            return
        for n in (1_000_000 // scale, 10_000_000 // scale):
            reference = not (n >= 10_000_000 and args.no_reference_10m)
            bench_fit(
                BetaGeoModel,
                BG_TRUTH,
                simulate_bg_nbd,
                plain_bg_nbd,
                n,
                reference=reference,
                lifetimes=lifetimes,
                lifetimes_sizes=(100_000, 1_000_000),
                work=work,
            )
        if lifetimes is not None and not args.quick:
            bench_fit(
                BetaGeoModel,
                BG_TRUTH,
                simulate_bg_nbd,
                plain_bg_nbd,
                100_000,
                reference=False,
                lifetimes=lifetimes,
                lifetimes_sizes=(100_000,),
                work=work,
            )
        pareto_lifetimes = (100_000, 1_000_000) if args.lifetimes_pareto_1m else (100_000,)
        for n in (1_000_000 // scale, 10_000_000 // scale):
            bench_fit(
                ParetoNBDModel,
                PARETO_TRUTH,
                simulate_pareto_nbd,
                plain_pareto_nbd,
                n,
                reference=n < 10_000_000 or not args.no_reference_10m,
                lifetimes=lifetimes,
                lifetimes_sizes=pareto_lifetimes,
                work=work,
            )
        if lifetimes is not None and not args.quick:
            bench_fit(
                ParetoNBDModel,
                PARETO_TRUTH,
                simulate_pareto_nbd,
                plain_pareto_nbd,
                100_000,
                reference=False,
                lifetimes=lifetimes,
                lifetimes_sizes=(100_000,),
                work=work,
            )
    if args.json:
        args.json.write_text(json.dumps(ROWS, indent=2))
    print(f"load average after the run: {' '.join(f'{v:.1f}' for v in os.getloadavg())}")
    print()
    print(pd.DataFrame(ROWS).to_string(index=False))


if __name__ == "__main__":
    sys.exit(main())
