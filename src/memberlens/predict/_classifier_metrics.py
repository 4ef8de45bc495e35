"""How good a probability model is on data it was not trained on: ROC-AUC, PR-AUC, Brier score,
the decile table (predicted against observed, lift, capture) and permutation importances.

Shared by the churn and the response models.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd
from sklearn.inspection import permutation_importance
from sklearn.metrics import average_precision_score, brier_score_loss, roc_auc_score

DECILES = 10


def decile_table(observed: Sequence[int], predicted: Sequence[float]) -> pd.DataFrame:
    """Members ranked by predicted probability, highest first, cut into ten equal groups.

    Columns: ``decile`` (1 = highest risk), ``members``, ``predicted`` (mean probability),
    ``observed`` (share with the outcome), ``lift`` (observed over the base rate), ``capture``
    (share of all outcomes in the decile) and ``cumulative_capture``. Ties in the prediction are
    broken by position, so pass rows in a fixed order (e.g. by customer id).
    """
    y = np.asarray(observed, dtype=float)
    p = np.asarray(predicted, dtype=float)
    order = np.lexsort((np.arange(p.size), -p))  # highest first, ties by position
    decile = np.empty(p.size, dtype=int)
    decile[order] = np.arange(p.size) * DECILES // max(p.size, 1) + 1
    frame = pd.DataFrame({"decile": decile, "y": y, "p": p})
    table = (
        frame.groupby("decile")
        .agg(members=("y", "size"), predicted=("p", "mean"), observed=("y", "mean"), outcomes=("y", "sum"))
        .reset_index()
    )
    base = y.mean() if y.size else float("nan")
    total = y.sum()
    table["lift"] = table.observed / base if base > 0 else float("nan")
    table["capture"] = table.outcomes / total if total > 0 else float("nan")
    table["cumulative_capture"] = table.capture.cumsum()
    return table.drop(columns="outcomes")


def probability_metrics(observed: Sequence[int], predicted: Sequence[float]) -> dict[str, Any]:
    """ROC-AUC, PR-AUC (average precision), Brier score, the base rate and the top decile's
    lift and capture; AUCs are null when only one class is present."""
    y = np.asarray(observed, dtype=int)
    p = np.asarray(predicted, dtype=float)
    both = 0 < y.sum() < y.size
    deciles = decile_table(y, p)
    top = deciles.iloc[0] if len(deciles) else None
    return {
        "members": int(y.size),
        "outcomes": int(y.sum()),
        "base_rate": float(y.mean()) if y.size else None,
        "roc_auc": float(roc_auc_score(y, p)) if both else None,
        "pr_auc": float(average_precision_score(y, p)) if both else None,
        "brier": float(brier_score_loss(y, p)) if y.size else None,
        "top_decile_lift": float(top.lift) if top is not None else None,
        "top_decile_capture": float(top.capture) if top is not None else None,
        "max_decile_gap": float((deciles.predicted - deciles.observed).abs().max()) if len(deciles) else None,
    }


def feature_importances(
    estimator: Any, features: pd.DataFrame, observed: Sequence[int], *, repeats: int = 5, random_state: int = 0
) -> pd.DataFrame:
    """Permutation importance on held-out rows: how much the ROC-AUC drops when one feature's
    values are shuffled (``importance`` mean, ``spread`` standard deviation), largest first."""
    result = permutation_importance(
        estimator, features, np.asarray(observed), scoring="roc_auc", n_repeats=repeats, random_state=random_state
    )
    table = pd.DataFrame(
        {"feature": list(features.columns), "importance": result.importances_mean, "spread": result.importances_std}
    )
    return table.sort_values(["importance", "feature"], ascending=[False, True]).reset_index(drop=True)
