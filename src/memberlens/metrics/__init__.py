"""Engine-agnostic metrics: functions that take canonical Ibis tables and parameters and return
Ibis tables without executing them (clustering, which fits scikit-learn, is the exception)."""

from memberlens.metrics.abc import classify_abc, summarise_abc
from memberlens.metrics.active_users import count_active_users
from memberlens.metrics.churn import compute_churn, new_buyer_members, newly_churned_members
from memberlens.metrics.cohorts import build_retention_cohorts
from memberlens.metrics.kpis import compute_member_kpis, summarise_member_value
from memberlens.metrics.lifecycle import (
    assign_growth_stage,
    assign_lifecycle_stage,
    count_growth_stages,
    count_lifecycle_stages,
)
from memberlens.metrics.rates import compute_repurchase_rates
from memberlens.metrics.rfm import compute_rfe, compute_rfm, quantile_score, score_rfm, segment_rfm, summarise_segments
from memberlens.metrics.score_history import score_history
from memberlens.metrics.trends import order_totals, rank_largest_orders, summarise_price_bands, summarise_trends


def __getattr__(name: str):
    """Clustering imports scikit-learn: load it only when it is used."""
    if name in ("ClusterResult", "cluster_customers"):
        from memberlens.metrics import clustering

        return getattr(clustering, name)
    raise AttributeError(f"module 'memberlens.metrics' has no attribute {name!r}")


__all__ = [
    "ClusterResult",
    "assign_growth_stage",
    "assign_lifecycle_stage",
    "build_retention_cohorts",
    "classify_abc",
    "cluster_customers",
    "compute_churn",
    "new_buyer_members",
    "newly_churned_members",
    "compute_member_kpis",
    "compute_repurchase_rates",
    "compute_rfe",
    "score_history",
    "compute_rfm",
    "count_active_users",
    "count_growth_stages",
    "count_lifecycle_stages",
    "order_totals",
    "quantile_score",
    "rank_largest_orders",
    "score_rfm",
    "segment_rfm",
    "summarise_abc",
    "summarise_member_value",
    "summarise_price_bands",
    "summarise_segments",
    "summarise_trends",
]
