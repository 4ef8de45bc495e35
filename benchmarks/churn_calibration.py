"""Churn calibration on the demo (issue 5): how far the churn model's deciles are from the
observed churn at the later cut-off, beside two floors that no model trained on earlier cut-offs
can beat.

    .venv/bin/python benchmarks/churn_calibration.py --customers 20000 6000 --seeds 7 11 12 13 14 15 16 --dir /tmp/churn-cal

For each demo shop (customers × seed, two years; generated and ingested once into ``--dir``):

* **model**: ``ChurnModel().fit`` as the report and ``memberlens predict churn`` run it. Printed
  are its ROC-AUC and its largest decile gap (|mean predicted − observed churn| over the ten
  deciles of the validation cut-off). Issue 5 asks for at most 5 points. Seed 7 with
  20,000 customers is the demo ``memberlens demo`` writes.
* **same population**: the same estimator cross-validated (5 folds) on the validation cut-off's
  own members. There is no shift between training and scoring here, so this gap is what the
  features and the sample size allow.
* **perfect model**: the 95th percentile of the largest gap if the model's probabilities were
  exactly right (outcomes drawn from them, 200 draws). This is the noise of ten deciles of this
  size alone.

A model gap above the same-population gap measures the shift from the training cut-offs (the
shop's first year) to the later one.
"""

from __future__ import annotations

import argparse
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.base import clone
from sklearn.model_selection import StratifiedKFold, cross_val_predict

from memberlens.demo.generator import generate_demo_data
from memberlens.ingest import ingest
from memberlens.io.workspace import Workspace
from memberlens.predict._churn_data import training_frame
from memberlens.predict._classifier_metrics import decile_table
from memberlens.predict.churn import ChurnModel

TABLES = ("orders", "members", "events", "campaigns")


def demo_workspace(folder: Path, customers: int, seed: int) -> Path:
    path = folder / f"demo-{customers}-{seed}" / "demo.duckdb"
    if not path.exists():
        files = generate_demo_data(path.parent / "data", customers=customers, years=2, seed=seed)
        with Workspace(path) as ws:
            for table in TABLES:
                ingest(ws, files[table]["path"], table=table, name=table)
    return path


def largest_gap(observed: np.ndarray, predicted: np.ndarray) -> float:
    deciles = decile_table(observed, predicted)
    return float((deciles.predicted - deciles.observed).abs().max())


def perfect_model_gap(predicted: np.ndarray, draws: int = 200, seed: int = 0) -> float:
    rng = np.random.default_rng(seed)
    gaps = [largest_gap((rng.random(predicted.size) < predicted).astype(int), predicted) for _ in range(draws)]
    return float(np.quantile(gaps, 0.95))


def study(path: Path) -> dict[str, float]:
    with Workspace(path, read_only=True) as ws:
        tables = {name: ws.table(name) for name in TABLES}
        model = ChurnModel().fit(tables)
        frame = training_frame(tables, [model.validation_cutoff_], model.horizon_days, model.label)
    frame = frame.sort_values("customer_id", kind="stable")
    features, churned = frame[model.features_], frame.churned.to_numpy()
    predicted = model.predict_frame(frame)
    folds = StratifiedKFold(5, shuffle=True, random_state=0)
    same_population = cross_val_predict(clone(model.estimator_), features, churned, cv=folds, method="predict_proba")[
        :, 1
    ]
    return {
        "members": len(frame),
        "roc_auc": model.metrics_["roc_auc"],
        "model": model.metrics_["max_decile_gap"],
        "model_check": largest_gap(churned, predicted),
        "same_population": largest_gap(churned, same_population),
        "perfect_model": perfect_model_gap(predicted),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--customers", type=int, nargs="+", default=[6_000, 20_000])
    parser.add_argument("--seeds", type=int, nargs="+", default=[7, 11, 12, 13, 14, 15, 16])
    parser.add_argument("--dir", type=Path, default=Path("/tmp/churn-calibration"))
    args = parser.parse_args()
    warnings.filterwarnings("ignore")
    rows = []
    for customers in args.customers:
        for seed in args.seeds:
            result = study(demo_workspace(args.dir, customers, seed))
            assert abs(result.pop("model_check") - result["model"]) < 1e-9  # the model's own decile table
            rows.append({"customers": customers, "seed": seed, **result})
            print(
                " ".join(f"{k} {v:.3f}" if isinstance(v, float) else f"{k} {v}" for k, v in rows[-1].items()),
                flush=True,
            )
    table = pd.DataFrame(rows)
    gaps = ["model", "same_population", "perfect_model"]
    table[gaps] = (table[gaps] * 100).round(1)
    print("\nlargest decile gap, points (issue 5: at most 5)")
    print(table.to_string(index=False))


if __name__ == "__main__":
    main()
