"""The segment explorer's whole profile on a large customer-360 table: memberlens (DuckDB) vs pandas.

    .venv/bin/python benchmarks/bench_segment.py [--rows 5_000_000] [--dir /tmp/bench-segment] [--repeat 3]

A seeded customer-360-like table (seed 001's columns) is written to Parquet with NumPy; then
each contender loads it into its own memory (DuckDB: a table in an in-memory database; pandas:
a data frame) — load times printed separately — and computes the same profile for seed 001's
filter: cohort size; per numeric column the cohort's and the rest's count, mean and standard
deviation, the population's mean, min, max and both sides' quartiles; histograms on shared
edges; text columns' value counts; flag shares; LTV by tier; the 8 platform-flag combinations
and the risk x velocity matrix against the health score. Printed: the median time of each,
the ratio, and a check that the two agree.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

QUANTILES = (0.25, 0.5, 0.75)
BINS = 10


def generate(path: Path, rows: int, seed: int = 1) -> None:
    if path.exists():
        return
    import pyarrow as pa
    import pyarrow.parquet as pq

    rng = np.random.default_rng(seed)
    chunk = 1_000_000
    writer = None
    for start in range(0, rows, chunk):
        n = min(chunk, rows - start)
        buyer = rng.random(n) < 0.7
        tier = rng.choice(["Basic", "Bronze", "Silver", "Gold", "Platinum"], n, p=[0.55, 0.25, 0.12, 0.06, 0.02])
        ltv = (
            rng.lognormal(6, 1.2, n)
            * pd.Series(tier).map({"Basic": 1, "Bronze": 3, "Silver": 6, "Gold": 12, "Platinum": 30}).to_numpy()
        )
        columns = {
            "customer_id": pa.array([f"C{i:09d}" for i in range(start, start + n)]),
            "marketing_to_sales_days": pa.array(np.rint(rng.gamma(4, 4, n)).astype("int64"), mask=~buyer),
            "sales_to_support_days": pa.array(np.rint(rng.gamma(1.6, 20, n)).astype("int64"), mask=~buyer),
            "composite_engagement_score": np.round(np.clip(rng.normal(9, 2.5, n), 0, 18), 4),
            "recency_score": rng.integers(1, 6, n),
            "frequency_score": rng.integers(1, 6, n),
            "monetary_score": rng.integers(1, 6, n),
            "estimated_customer_ltv": np.round(ltv, 2),
            "customer_tier": tier,
            "primary_engagement_channel": rng.choice(
                ["Email", "Event", "Social Media", "Paid Search", "Webinar", "Organic Search"],
                n,
                p=[0.32, 0.32, 0.32, 0.02, 0.015, 0.005],
            ),
            "region": rng.choice([f"Region {i:02d}" for i in range(14)], n),
            "zendesk_active": rng.random(n) < 0.02,
            "in_marketo": (rng.random(n) < 0.66).astype("int64"),
            "in_stripe": (rng.random(n) < 0.7).astype("int64"),
            "in_zendesk": (rng.random(n) < 0.06).astype("int64"),
            "customer_health_score": np.round(np.clip(rng.normal(72, 12, n), 0, 100), 1),
            "activity_risk_level": rng.choice(["Very Low", "Low", "Medium", "High", "Critical"], n),
            "engagement_velocity": rng.choice(
                ["Accelerating", "Stable", "Declining", "Volatile"], n, p=[0.15, 0.5, 0.3, 0.05]
            ),
        }
        table = pa.table(columns)
        if writer is None:
            writer = pq.ParquetWriter(path, table.schema)
        writer.write_table(table)
    writer.close()


def seed_spec():
    from memberlens.segments import FAST_HANDOVER_SLOW_SUPPORT

    return FAST_HANDOVER_SLOW_SUPPORT


def run_memberlens(con, spec):
    from memberlens.segments import profile_segment

    return profile_segment(con.table("customer_360"), spec)


def run_pandas(frame: pd.DataFrame, spec) -> dict:
    """The same profile with pandas (seed 001's filter hard-coded, as a user would write it)."""
    mean = frame.composite_engagement_score.mean()
    cohort = (
        (
            frame.marketing_to_sales_days.between(10, 20)
            & (frame.sales_to_support_days > 30)
            & (frame.composite_engagement_score > mean)
        )
        .fillna(False)
        .astype(bool)
    )
    rest = ~cohort
    out: dict = {"cohort_size": int(cohort.sum()), "population_size": len(frame)}
    numeric = [
        c
        for c in frame.columns
        if pd.api.types.is_numeric_dtype(frame[c]) and frame[c].dtype != bool and c not in spec.flags
    ]
    flags = list(spec.flags) + [c for c in frame.columns if frame[c].dtype == bool]
    text = [c for c in frame.columns if pd.api.types.is_string_dtype(frame[c]) and c != "customer_id"]
    stats = {}
    for column in numeric:
        x = frame[column].astype(float)
        c, r = x[cohort], x[rest]
        stats[column] = {
            "cohort_count": c.count(),
            "cohort_mean": c.mean(),
            "cohort_std": c.std(),
            "rest_count": r.count(),
            "rest_mean": r.mean(),
            "rest_std": r.std(),
            "population_mean": x.mean(),
            "min": x.min(),
            "max": x.max(),
            "cohort_q": c.quantile(list(QUANTILES)).tolist(),
            "population_q": x.quantile(list(QUANTILES)).tolist(),
        }
        low, high = stats[column]["min"], stats[column]["max"]
        whole = pd.api.types.is_integer_dtype(frame[column]) or frame[column].dtype == "Int64"
        count = int(high - low) + 1 if whole and high - low + 1 <= 30 else BINS
        width = 1.0 if count != BINS else (high - low) / BINS
        index = np.clip(np.floor((x - low) / width), 0, count - 1)
        stats[column]["hist_cohort"] = index[cohort].value_counts().sort_index()
        stats[column]["hist_population"] = index.value_counts().sort_index()
    out["numeric"] = stats
    out["flags"] = {f: (frame[f][cohort].astype(float).mean(), frame[f].astype(float).mean()) for f in flags}
    out["categories"] = {
        col: pd.DataFrame(
            {
                "cohort": frame[col][cohort].value_counts(dropna=False),
                "population": frame[col].value_counts(dropna=False),
            }
        )
        for col in text
    }

    def grouped(keys, metric):
        x = frame[metric]
        g = pd.DataFrame({**{k: frame[k] for k in keys}, "x": x, "c": cohort})
        return g.groupby(keys, dropna=False).apply(
            lambda d: pd.Series(
                {
                    "cohort_members": d.c.sum(),
                    "cohort_mean": d.x[d.c].mean(),
                    "cohort_std": d.x[d.c].std(),
                    "rest_mean": d.x[~d.c].mean(),
                    "rest_std": d.x[~d.c].std(),
                    "population_mean": d.x.mean(),
                    "population_members": len(d),
                }
            ),
            include_groups=False,
        )

    out["by_group"] = grouped([spec.by], spec.group_metric)
    out["combinations"] = grouped(list(spec.flags), spec.metric)
    out["matrix"] = grouped(list(spec.matrix), spec.metric)
    return out


def check(profile, reference: dict) -> None:
    assert profile.cohort_size == reference["cohort_size"], (profile.cohort_size, reference["cohort_size"])
    for row in profile.numeric.itertuples():
        ref = reference["numeric"][row.column]
        assert np.isclose(row.cohort_mean, ref["cohort_mean"]) and np.isclose(
            row.population_mean, ref["population_mean"]
        )
        assert np.allclose([row.cohort_q25, row.cohort_median, row.cohort_q75], ref["cohort_q"])
    by = reference["by_group"]
    for row in profile.by_group.itertuples():
        assert np.isclose(row.cohort_mean, by.loc[getattr(row, profile.spec.by), "cohort_mean"])
    assert int(profile.matrix.cohort_members.sum()) == int(reference["matrix"].cohort_members.sum())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=lambda s: int(s.replace("_", "")), default=5_000_000)
    parser.add_argument("--dir", type=Path, default=None)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    folder = args.dir or Path(tempfile.mkdtemp(prefix="bench-segment-"))
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"customer_360_{args.rows}.parquet"
    start = time.perf_counter()
    generate(path, args.rows)
    print(f"data: {path} ({args.rows:,} rows; {time.perf_counter() - start:.1f} s to make)")

    import ibis

    spec = seed_spec()
    start = time.perf_counter()
    con = ibis.duckdb.connect()
    con.create_table("customer_360", con.read_parquet(path))
    print(f"load into DuckDB: {time.perf_counter() - start:.2f} s")
    start = time.perf_counter()
    frame = pd.read_parquet(path)
    frame["marketing_to_sales_days"] = frame.marketing_to_sales_days.astype("Float64").astype(float)
    frame["sales_to_support_days"] = frame.sales_to_support_days.astype("Float64").astype(float)
    print(f"load into pandas: {time.perf_counter() - start:.2f} s")

    ours, theirs = [], []
    for _ in range(args.repeat):
        start = time.perf_counter()
        profile = run_memberlens(con, spec)
        ours.append(time.perf_counter() - start)
        start = time.perf_counter()
        reference = run_pandas(frame, spec)
        theirs.append(time.perf_counter() - start)
    check(profile, reference)
    a, b = statistics.median(ours), statistics.median(theirs)
    print(f"memberlens profile (DuckDB): median {a:.2f} s of {args.repeat} ({', '.join(f'{v:.2f}' for v in ours)})")
    print(f"pandas profile:              median {b:.2f} s of {args.repeat} ({', '.join(f'{v:.2f}' for v in theirs)})")
    print(
        f"pandas / memberlens: {b / a:.1f}x; results agree; cohort {profile.cohort_size:,} of {profile.population_size:,}"
    )


if __name__ == "__main__":
    main()
