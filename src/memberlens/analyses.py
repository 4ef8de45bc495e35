"""The descriptive analyses (trends, RFM, cohorts, KPIs ...) and the model fits they share.

Each analysis of :data:`ANALYSES` names the workspace tables it needs and turns them (plus
options) into a table — an Ibis expression computed in the engine (the referral program's
counts, which come from the graph, as a pandas frame). The fits at the end — CLV, clusters, the
referral network — are what :mod:`memberlens.results` builds its model results on. Everything
reads one :class:`memberlens.snapshot.Snapshot`: the tables as they stood at the start of
``--as-of`` (or of the day after the last order); none filters by date itself.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from typing import Any

import ibis
import ibis.expr.types as ir
import pandas as pd

from memberlens import metrics
from memberlens.errors import ConfigError
from memberlens.io.catalog import Tables
from memberlens.referrals.graph import referral_graph
from memberlens.referrals.network import analyse_referral_network
from memberlens.referrals.program import summarise_referral_program
from memberlens.snapshot import Snapshot, snapshot_of


@dataclass(frozen=True)
class AnalysisOptions:
    period: str = "month"
    as_of: date | None = None
    bins: int = 5
    scheme: Any = "grid"
    split: str = "mean"
    compare_from: date | None = None  # the report's migration: the earlier date (default one period before)
    churn_days: int = 90
    top: int = 3
    by: str = "customer"
    measure: str = "customers"
    cumulative: bool = False
    relative_to: str = "first"
    source: str = "orders"
    k: int | None = None
    lookback_days: int | None = None
    max_depth: int = 50
    decay: float = 0.5
    key_ratio: float = 2.0
    lang: str = "en"
    rules: tuple[Any, ...] | None = None  # the alerts' monitoring rules (None: the built-in ones)
    segment: Any = None  # the segment profile's SegmentSpec (None: the saved example segment)
    segment_table: str = "customer_360"
    segment_name: str | None = None
    min_count: int = 30  # the segment profile's smallest cell worth a finding
    # the prediction models' parameters, as (name, value) pairs (none: the models' defaults)
    churn_settings: tuple[tuple[str, Any], ...] = ()
    response_settings: tuple[tuple[str, Any], ...] = ()
    rules_settings: tuple[tuple[str, Any], ...] = ()  # the association rules' thresholds
    anomaly_settings: tuple[tuple[str, Any], ...] = ()  # the unusual orders' and members' thresholds
    suggestions: int = 3  # next products suggested per member
    # the CLV fit (model, time_unit, calibration_end, spend, penalizer, warn; default BG/NBD and
    # Gamma-Gamma in weeks) and its predictions (discount_rate, clv_horizon)
    clv_settings: tuple[tuple[str, Any], ...] = ()
    clv_predictions: tuple[tuple[str, Any], ...] = ()


@dataclass(frozen=True)
class Analysis:
    name: str
    needs: tuple[str, ...]
    description: str
    run: Callable[[Snapshot, AnalysisOptions], ir.Table | pd.DataFrame]


def _orders(s: Snapshot) -> ir.Table:
    return s.table("orders")


def _rfm(s: Snapshot, o: AnalysisOptions) -> ir.Table:
    rfm = metrics.compute_rfm(_orders(s), as_of=s.day, lookback_days=o.lookback_days)
    return metrics.segment_rfm(metrics.score_rfm(rfm, o.bins), o.scheme, bins=o.bins, split=o.split)


ANALYSES: dict[str, Analysis] = {
    a.name: a
    for a in [
        Analysis(
            "trends",
            ("orders",),
            "buyers, orders, revenue, units, per-buyer revenue, AOV and new customers per period",
            lambda t, o: metrics.summarise_trends(_orders(t), o.period),
        ),
        Analysis(
            "super-orders",
            ("orders",),
            "the largest orders of each period and their share of its revenue",
            lambda t, o: metrics.rank_largest_orders(_orders(t), o.period, o.top),
        ),
        Analysis(
            "price-bands",
            ("orders",),
            "lines, units, revenue and buyers per unit-price band",
            lambda t, o: metrics.summarise_price_bands(_orders(t)),
        ),
        Analysis(
            "lifecycle",
            ("orders",),
            "new / active / return / unactive customers per period",
            lambda t, o: metrics.count_lifecycle_stages(_orders(t), o.period),
        ),
        Analysis(
            "growth",
            ("orders",),
            "new / returning / resurrecting / dormant per period (PostHog view)",
            lambda t, o: metrics.count_growth_stages(_orders(t), o.period),
        ),
        Analysis(
            "lifecycle-stage",
            ("orders",),
            "each customer's lifecycle stage in the last period",
            lambda t, o: metrics.assign_lifecycle_stage(_orders(t), o.period),
        ),
        Analysis(
            "growth-stage",
            ("orders",),
            "each customer's growth stage in the last period (new / returning / resurrecting / dormant / lapsed)",
            lambda t, o: metrics.assign_growth_stage(_orders(t), o.period),
        ),
        Analysis(
            "rates",
            ("orders",),
            "repurchase, return and reactivation rates per period",
            lambda t, o: metrics.compute_repurchase_rates(_orders(t), o.period),
        ),
        Analysis(
            "cohorts",
            ("orders",),
            "acquisition-cohort retention (--measure, --cumulative, --relative-to)",
            lambda t, o: metrics.build_retention_cohorts(
                _orders(t), o.period, measure=o.measure, cumulative=o.cumulative, relative_to=o.relative_to
            ),
        ),
        Analysis(
            "active-users",
            ("orders",),
            "DAU / WAU / MAU and stickiness per day (--source events|orders)",
            lambda t, o: _active_users(t, o),
        ),
        Analysis(
            "churn",
            ("orders",),
            "churn rate and change ratio (异动比) per period (--churn-days)",
            lambda t, o: metrics.compute_churn(_orders(t), o.period, churn_days=o.churn_days),
        ),
        Analysis(
            "rfm",
            ("orders",),
            "per-customer R, F, M, scores, code and segment as of --as-of",
            lambda t, o: _rfm(t, o).order_by("customer_id"),
        ),
        Analysis(
            "rfm-segments",
            ("orders",),
            "per-segment customers, revenue and mean R/F/M",
            lambda t, o: metrics.summarise_segments(_rfm(t, o)),
        ),
        Analysis(
            "rfe",
            ("events",),
            "per-member recency, frequency and engagement of visits, with scores",
            lambda t, o: metrics.score_rfm(
                metrics.compute_rfe(t.table("events"), as_of=t.day, lookback_days=o.lookback_days),
                o.bins,
                columns=("recency", "frequency", "engagement"),
            ).order_by("customer_id"),
        ),
        Analysis(
            "abc",
            ("orders",),
            "ABC class of each customer or product (--by customer|product)",
            lambda t, o: metrics.classify_abc(_orders(t), o.by),
        ),
        Analysis(
            "abc-summary",
            ("orders",),
            "entities and revenue per ABC class",
            lambda t, o: metrics.summarise_abc(metrics.classify_abc(_orders(t), o.by)),
        ),
        Analysis(
            "kpis",
            ("members", "orders"),
            "member-operations KPIs per period",
            lambda t, o: metrics.compute_member_kpis(
                t.table("members"),
                _orders(t),
                campaigns=t.tables.get("campaigns"),
                marketing_costs=t.tables.get("marketing_costs"),
                period=o.period,
            ),
        ),
        Analysis(
            "score-history",
            ("member_scores",),
            "each member's latest stored scores (memberlens score) with the previous RFM segment and the date it last changed",
            lambda t, o: metrics.score_history(t.table("member_scores")),
        ),
        Analysis(
            "member-value",
            ("orders",),
            "per member historic CLV, orders and AOV",
            lambda t, o: metrics.summarise_member_value(_orders(t)).order_by("customer_id"),
        ),
        Analysis(
            "referrals",
            ("orders", "referrals"),
            "the referral program: referred against organic customers (conversion, value, retention), reward cost "
            "per referred buyer, referrals not counted",
            lambda t, o: _referral_program(t),
        ),
    ]
}


def _active_users(s: Snapshot, o: AnalysisOptions) -> ir.Table:
    if o.source == "events":
        if not s.has("events"):
            raise ConfigError(
                "--source events needs the 'events' table", "ingest it with --table events, or use --source orders"
            )
        return metrics.count_active_users(s.table("events"), "occurred_at")
    if o.source != "orders":
        raise ConfigError(f"--source must be 'events' or 'orders'. Got {o.source!r} instead.")
    return metrics.count_active_users(_orders(s), "ordered_at")


def _clusters(s: Snapshot, o: AnalysisOptions) -> metrics.ClusterResult:
    rfm = metrics.compute_rfm(_orders(s), as_of=s.day, lookback_days=o.lookback_days)
    return metrics.cluster_customers(rfm, k=o.k)


def _member_value_fit(s: Snapshot, o: AnalysisOptions):
    """The CLV models on the snapshot's orders, observed to its last day: BG/NBD and Gamma-Gamma
    in weeks unless ``o.clv_settings`` say otherwise."""
    from memberlens.models import fit_member_value  # SciPy: +0.7 s of import that only the CLV analysis needs

    settings = {"time_unit": "W", **dict(o.clv_settings)}
    return fit_member_value(_orders(s), observation_end=s.last_day, **settings)


def referral_network(s: Snapshot, o: AnalysisOptions):
    """The referral network of a snapshot: counted referrals, cascades and influence, computed
    once for the ``referral-cascades`` and ``key-referrers`` analyses (and the report)."""
    return analyse_referral_network(
        s.table("referrals"), _orders(s), s.tables.get("members"), max_depth=o.max_depth, decay=o.decay
    )


def _referral_program(s: Snapshot) -> pd.DataFrame:
    """Executed here: the graph's counts come from Python, and counts that are empty on the
    organic row stay whole numbers (pandas would make them floats)."""
    graph = referral_graph(s.table("referrals"))
    try:
        table = summarise_referral_program(
            graph.edges, _orders(s), day=s.day, members=s.tables.get("members"), ignored=graph.ignored
        )
        frame = table.to_pandas()
    finally:
        graph.release()
    whole = [name for name, dtype in table.schema().items() if dtype.is_integer()]
    return frame.astype({name: "Int64" for name in whole})


CASCADE_COLUMNS = (
    "customer_id",
    "referred_by",
    "is_member",
    "own_revenue",
    "direct_referrals",
    "direct_buyers",
    "direct_revenue",
    "cascade_size",
    "cascade_buyers",
    "cascade_revenue",
    "generations",
    "reward_cost",
)


def referral_cascades(network) -> pd.DataFrame:
    """The members who referred someone, with their cascades (ids in order)."""
    m = network.members
    return (
        m.loc[m.direct_referrals > 0, list(CASCADE_COLUMNS)]
        .sort_values("customer_id", kind="stable")
        .reset_index(drop=True)
    )


def snapshot_for(source: Tables | Snapshot, options: AnalysisOptions) -> Snapshot:
    """The snapshot an analysis reads: ``source`` itself, or the workspace at ``options.as_of``."""
    return source if isinstance(source, Snapshot) else snapshot_of(source, options.as_of)


def member_value_fit(source: Tables | Snapshot, options: AnalysisOptions):
    """The fitted CLV models: the ``clv-model`` result, whose predictions are the ``clv`` table."""
    return _member_value_fit(snapshot_for(source, options), options)


def run_analysis(source: Tables | Snapshot, name: str, options: AnalysisOptions) -> ir.Table | pd.DataFrame:
    """The analysis ``name`` over a snapshot (or a workspace's at ``options.as_of``); not
    executed when it is an Ibis table."""
    if name not in ANALYSES:
        raise ConfigError(f"unknown analysis {name!r}", f"available: {', '.join(ANALYSES)}")
    analysis = ANALYSES[name]
    snapshot = snapshot_for(source, options)
    for table in analysis.needs:
        snapshot.table(table)  # raises naming a missing table
    return analysis.run(snapshot, options)


def cluster_result(source: Tables | Snapshot, options: AnalysisOptions) -> metrics.ClusterResult:
    """The whole clustering — per-customer assignments, profiles and the k curve — fitted once:
    the ``cluster-model`` result; the ``clusters`` and ``cluster-curve`` tables show parts of it."""
    return _clusters(snapshot_for(source, options), options)


# -- the CLV predictions summarised (the report's CLV section) ------------------------------------
ALIVE_BANDS = 10  # tenths of P(alive)
TOP_VALUE_MEMBERS = 20


def alive_bands(predictions: ir.Table) -> ir.Table:
    """Members, historic spend and predicted 365-day value per tenth of P(alive) (0 = under 10 %)."""
    band = (predictions.probability_alive * ALIVE_BANDS).floor().cast("int64")
    band = ibis.ifelse(band >= ALIVE_BANDS, ALIVE_BANDS - 1, band)
    value = predictions.predicted_clv.fill_null(0) if "predicted_clv" in predictions.columns else ibis.literal(0.0)
    return (
        predictions.mutate(band=band, _value=value)
        .group_by("band")
        .aggregate(
            members=ibis._.count(),
            historic_clv=ibis._.historic_clv.sum(),
            predicted_clv=ibis._._value.sum(),
            expected_orders_30d=ibis._.expected_orders_30d.sum(),
        )
        .order_by("band")
    )


def top_members(predictions: ir.Table, n: int = TOP_VALUE_MEMBERS) -> ir.Table:
    """The ``n`` members with the highest predicted 365-day value (ties by customer id)."""
    return predictions.order_by([ibis.desc("predicted_clv"), "customer_id"]).limit(n)


def value_concentration(predictions: ir.Table, share: float = 0.1) -> ir.Table:
    """The predicted value held by the top ``share`` of members (ranked by value, then id), as one row."""
    ranked = predictions.mutate(_rank=ibis.row_number().over(order_by=[ibis.desc("predicted_clv"), "customer_id"]))
    members = ranked.count()
    top = ranked.filter(ranked._rank < (members.cast("float64") * share).ceil().cast("int64"))
    return ranked.aggregate(members=members, total=ranked.predicted_clv.sum()).cross_join(
        top.aggregate(top_members=top.count(), top_value=top.predicted_clv.sum())
    )
