"""Everything memberlens computes, in one registry, behind one cached entry point.

:data:`RESULTS` names every result — the descriptive analyses of :mod:`memberlens.analyses`
(trends, RFM, cohorts ...) and the results of the models built on them (the CLV fit, the
clusters, churn and response scores, next-product rules and suggestions, unusual orders, the
referral network, the segment-versus-population profile, the alerts and the migration since
the previous period). :class:`Results` computes each once per date and options and hands it to
every reader: ``memberlens analyze`` prints any result that is a table, and the report's sections
and member lists read their numbers only from here (they open no table themselves).

A result's value is what its readers need: an executed table (a pandas frame) for the
analyses, the fitted model object for a model (its ``table`` says which frame ``analyze``
prints). Results build on each other through :meth:`Results.get`, so the report fits the CLV
models once although the CLV, migration and referral sections all show them.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import date, timedelta
from typing import Any, NamedTuple

import ibis.expr.types as ir
import pandas as pd

from memberlens import analyses
from memberlens.analyses import ANALYSES, AnalysisOptions
from memberlens.errors import ConfigError, MemberlensError
from memberlens.io.catalog import Tables
from memberlens.metrics.products import name_products
from memberlens.migration import Migration, migrate, one_period_before
from memberlens.models import DEFAULT_LEVEL, BaselineComparison, compare_with_baselines, why_no_intervals
from memberlens.monitor import DEFAULT_RULES, Watch, alerts_at, members_behind
from memberlens.predict.anomalies import AnomalyModel
from memberlens.predict.churn import ChurnModel
from memberlens.predict.features import FEATURE_TABLES
from memberlens.predict.response import ResponseModel
from memberlens.predict.rules import AssociationRuleModel
from memberlens.referrals.key_referrers import select_key_referrers
from memberlens.segments.profile import SegmentProfile, profile_segment, select_members
from memberlens.segments.spec import FAST_HANDOVER_SLOW_SUPPORT, Support
from memberlens.snapshot import Snapshot, snapshot_of


@dataclass(frozen=True)
class Result:
    """One thing memberlens computes.

    ``compute(results, options)`` returns the value (an Ibis table is executed by
    :meth:`Results.get`); ``table`` turns a value that is not a table (a fitted model) into the
    frame ``memberlens analyze`` prints, or is None when the result has no table view. ``needs``
    names the source tables it reads, so a missing one is named before any work.
    """

    name: str
    needs: tuple[str, ...]
    description: str
    compute: Callable[[Results, AnalysisOptions], Any]
    table: Callable[[Any], pd.DataFrame] | None = None

    @property
    def is_table(self) -> bool:
        return self.table is not None


def _as_table(value: Any) -> pd.DataFrame:
    return value


def _analysis(name: str) -> Result:
    """A descriptive analysis of :data:`memberlens.analyses.ANALYSES`, read from the snapshot."""
    analysis = ANALYSES[name]
    return Result(name, analysis.needs, analysis.description, lambda r, o: analysis.run(r.snapshot, o), _as_table)


# -- the models' results --------------------------------------------------------------------------
def _source_tables(r: Results) -> dict[str, ir.Table]:
    """The tables the churn and response features are built from, as the snapshot holds them."""
    return {name: r.snapshot.table(name) for name in FEATURE_TABLES if r.has(name)}


class Scored(NamedTuple):
    """A fitted classifier (churn or response) and its scores of every member at the date."""

    model: Any
    scores: pd.DataFrame


def _churn(r: Results, o: AnalysisOptions) -> Scored:
    tables = _source_tables(r)
    model = ChurnModel(**dict(o.churn_settings)).fit(tables, end=r.day)
    return Scored(model, model.score(tables, r.day))


def _response(r: Results, o: AnalysisOptions) -> Scored:
    tables = _source_tables(r)
    model = ResponseModel(**dict(o.response_settings)).fit(tables, end=r.day)
    return Scored(model, model.score(tables, r.day))


def scored_with(r: Results, model: Any) -> Scored:
    """A churn or response model fitted earlier (e.g. loaded from a file) and its scores of
    every member at these results' date."""
    return Scored(model, model.score(_source_tables(r), r.day))


def _unusual(r: Results, o: AnalysisOptions) -> AnomalyModel:
    cancellations = r.snapshot.table("cancellations") if r.has("cancellations") else None
    return AnomalyModel(**dict(o.anomaly_settings)).fit(r.snapshot.table("orders"), cancellations, as_of=r.day)


def _order_totals(r: Results, o: AnalysisOptions) -> pd.DataFrame:
    orders = r.snapshot.table("orders")
    return orders.aggregate(
        buyers=orders.customer_id.nunique(), spend=orders.amount.sum(), orders=orders.order_id.nunique()
    )


def _product_names(r: Results, o: AnalysisOptions) -> pd.DataFrame:
    orders = r.snapshot.table("orders")
    if "product_name" not in orders.columns:
        return pd.DataFrame({"product_id": pd.Series(dtype=object), "product_name": pd.Series(dtype=object)})
    return name_products(orders)


def _migration(r: Results, o: AnalysisOptions) -> Migration | None:
    """The RFM-segment moves from ``compare_from`` (default: one period before the date) to the
    date; None when the data starts after that earlier date."""
    end = r.day
    start = o.compare_from or one_period_before(end, o.period)
    first = r.get("member-value", options=o).first_order_at.min()
    if pd.isna(first) or pd.Timestamp(first) >= pd.Timestamp(start):
        return None
    moves = migrate(r.source, "rfm-segment", start, end, options=o, with_value=False)
    clv = r.get("clv", options=o)
    if "predicted_clv" in clv.columns:  # the CLV fit of this date, not a second one
        moves = moves.with_values(clv.set_index("customer_id").predicted_clv)
    return moves


def _alerts(r: Results, o: AnalysisOptions) -> Watch:
    return alerts_at(r.snapshot, o.rules or DEFAULT_RULES, o.period, churn_days=o.churn_days)


def _alert_members(r: Results, o: AnalysisOptions) -> pd.DataFrame:
    return members_behind(r.snapshot, r.get("alerts", options=o).alerts, o.period, o.churn_days)


def _segment(o: AnalysisOptions):
    return o.segment or FAST_HANDOVER_SLOW_SUPPORT


def _segment_profile(r: Results, o: AnalysisOptions) -> SegmentProfile:
    return profile_segment(
        r.snapshot.table(o.segment_table),
        _segment(o),
        support=Support(min_count=o.min_count),
        name=o.segment_name,
        table_name=o.segment_table,
    )


def _segment_members(r: Results, o: AnalysisOptions) -> ir.Table:
    return select_members(r.snapshot.table(o.segment_table), _segment(o).where)


def _referral_cascades(r: Results, o: AnalysisOptions) -> pd.DataFrame:
    return analyses.referral_cascades(r.get("referral-network", options=o))


def _key_referrers(r: Results, o: AnalysisOptions) -> pd.DataFrame:
    """The key referrers, their reasons in ``o.lang``: from the network of these results' own
    language, which the words do not change (the report's two languages share one network)."""
    network = r.get("referral-network", options=replace(o, lang=r.options.lang))
    return select_key_referrers(network, key_ratio=o.key_ratio, lang=o.lang)


def _clv_predictions(r: Results, o: AnalysisOptions) -> ir.Table:
    """The fitted CLV models' predictions (``o.clv_predictions``), with 90 % intervals unless
    ``interval`` is set (None: none) or the fit cannot give them (a limit, no covariance)."""
    fit = r.get("clv-model", options=o)
    settings = {"interval": DEFAULT_LEVEL, **dict(o.clv_predictions)}
    if why_no_intervals(fit.purchases, fit.spend):
        settings["interval"] = None
    return fit.predictions(**settings)


HOLDOUT_DAYS = 91  # the report's check of the CLV model: the last 13 weeks held out


def _clv_holdout(r: Results, o: AnalysisOptions) -> BaselineComparison | None:
    """The CLV model fitted on the data up to ``HOLDOUT_DAYS`` before the last day, checked on
    those days beside the two naive baselines; None when the history before them is shorter
    than twice the holdout (too little to fit on)."""
    end = r.snapshot.last_day
    cut = end - timedelta(days=HOLDOUT_DAYS)
    first = r.get("member-value", options=o).first_order_at.min()
    if pd.isna(first) or (cut - pd.Timestamp(first).date()).days < 2 * HOLDOUT_DAYS:
        return None
    settings = {**dict(o.clv_settings), "calibration_end": cut, "warn": None}
    fit = r.get("clv-model", options=replace(o, clv_settings=tuple(settings.items())))
    return compare_with_baselines(fit.purchases, fit.summary, fit.spend)


def _clv_parameters(fit) -> pd.DataFrame:
    rows = [("purchases", type(fit.purchases).__name__, k, float(v)) for k, v in fit.purchases.params_.items()]
    if fit.spend is not None:
        rows += [("spend", type(fit.spend).__name__, k, float(v)) for k, v in fit.spend.params_.items()]
    return pd.DataFrame(rows, columns=["part", "model", "parameter", "value"])


def _ledgers(r: Results, o: AnalysisOptions) -> list:
    """What each ingest read, used and set aside (the ledgers are not cut by date: they say
    what the workspace holds)."""
    return r.source.ledgers()


def _ledger_table(ledgers: list) -> pd.DataFrame:
    return pd.DataFrame([ledger.to_dict() for ledger in ledgers])


_ORDERS = ("orders",)
_REFERRALS = ("orders", "referrals")

RESULTS: dict[str, Result] = {
    result.name: result
    for result in [
        *(_analysis(name) for name in ANALYSES),
        Result(
            "ledgers", (), "each source ingested: rows read, used and set aside, by reason", _ledgers, _ledger_table
        ),
        # models fitted on the snapshot, and the tables drawn from them
        Result(
            "clv-model",
            _ORDERS,
            "the CLV models' fitted parameters (BG/NBD purchases in weeks, Gamma-Gamma spend)",
            lambda r, o: analyses.member_value_fit(r.snapshot, o),
            _clv_parameters,
        ),
        Result(
            "clv",
            _ORDERS,
            "per member P(alive), expected orders, next order and predicted CLV (BG/NBD + Gamma-Gamma)",
            lambda r, o: _clv_predictions(r, o).order_by("customer_id"),
            _as_table,
        ),
        Result(
            "clv-alive-bands",
            _ORDERS,
            "members, historic spend and predicted 365-day value per tenth of P(alive)",
            lambda r, o: analyses.alive_bands(r.get("clv-model", options=o).predictions()),
            _as_table,
        ),
        Result(
            "clv-top-members",
            _ORDERS,
            "the members with the highest predicted 365-day value",
            lambda r, o: analyses.top_members(_clv_predictions(r, o)),
            _as_table,
        ),
        Result(
            "clv-concentration",
            _ORDERS,
            "the share of the predicted value held by the top tenth of members",
            lambda r, o: analyses.value_concentration(r.get("clv-model", options=o).predictions()),
            _as_table,
        ),
        Result(
            "clv-holdout",
            _ORDERS,
            "the CLV model fitted without the last 13 weeks and checked on them, beside two naive baselines: "
            "per-member error of predicted orders and spend",
            _clv_holdout,
            lambda comparison: comparison.errors if comparison is not None else pd.DataFrame(),
        ),
        Result(
            "cluster-model",
            _ORDERS,
            "each customer's k-means cluster on log RFM, with its recency, frequency and spend",
            lambda r, o: analyses.cluster_result(r.snapshot, o),
            lambda fit: fit.assignments,
        ),
        Result(
            "clusters",
            _ORDERS,
            "k-means cluster profiles on log RFM (--k to fix k)",
            lambda r, o: r.get("cluster-model", options=o).profiles,
            _as_table,
        ),
        Result(
            "cluster-curve",
            _ORDERS,
            "inertia and silhouette for k = 2..10 and the chosen k",
            lambda r, o: _curve(r.get("cluster-model", options=o)),
            _as_table,
        ),
        Result(
            "churn-model",
            _ORDERS,
            "each member's churn probability, risk band and spend in the last 180 days (the churn model "
            "trained on the data before the date)",
            _churn,
            lambda scored: scored.scores,
        ),
        Result(
            "response-model",
            _ORDERS,  # without campaigns the model says what it needs
            "each marketable member's probability of responding to the next campaign (the response model)",
            _response,
            lambda scored: scored.scores,
        ),
        Result(
            "next-product-model",
            _ORDERS,
            "the association rules between products (FP-growth on each member's baskets)",
            lambda r, o: AssociationRuleModel(**dict(o.rules_settings)).fit(r.snapshot.table("orders"), as_of=r.day),
            lambda model: model.rules_,
        ),
        Result(
            "next-product",
            _ORDERS,
            "each member's suggested next products from the association rules, strongest first",
            lambda r, o: r.get("next-product-model", options=o).suggest(r.snapshot.table("orders"), top=o.suggestions),
            _as_table,
        ),
        Result("unusual", _ORDERS, "unusual orders and members, with the thresholds", _unusual, None),
        Result(
            "unusual-orders",
            _ORDERS,
            "orders far above the product's or the member's usual, with why",
            lambda r, o: r.get("unusual", options=o).orders_,
            _as_table,
        ),
        Result(
            "unusual-members",
            _ORDERS,
            "members whose orders, returns or cancellations stand out, with why",
            lambda r, o: r.get("unusual", options=o).members_,
            _as_table,
        ),
        Result(
            "order-totals", _ORDERS, "buyers, spend and orders over all the data to the date", _order_totals, _as_table
        ),
        Result("product-names", _ORDERS, "each product's most frequent description", _product_names, _as_table),
        Result(
            "migration",
            _ORDERS,
            "members' moves between RFM segments since the previous period (or --compare-from)",
            _migration,
            lambda moves: moves.paths if moves is not None else pd.DataFrame(),
        ),
        Result(
            "alerts",
            _ORDERS,
            "the monitoring rules' verdicts at the date",
            _alerts,
            lambda watch: pd.DataFrame([alert.record() for alert in watch.alerts]),
        ),
        Result(
            "alert-members", _ORDERS, "the customers behind the alerts that count customers", _alert_members, _as_table
        ),
        Result(
            "segment-profile",
            ("customer_360",),
            "the saved segment against the whole population: its size, and where it differs",
            _segment_profile,
            None,
        ),
        Result("segment-members", ("customer_360",), "the saved segment's members", _segment_members, _as_table),
        # the referral network, computed once for the tables drawn from it
        Result(
            "referral-network",
            _REFERRALS,
            "the referral network's members: own revenue, referrals and cascades",
            lambda r, o: analyses.referral_network(r.snapshot, o),
            lambda network: network.members,
        ),
        Result(
            "referral-cascades",
            _REFERRALS,
            "per member of the referral network: direct referrals, the whole cascade below (--max-depth), "
            "generations, referred revenue",
            _referral_cascades,
            _as_table,
        ),
        Result(
            "key-referrers",
            _REFERRALS,
            "members whose referral value (--decay per generation) is --key-ratio times their own, with PageRank "
            "and the reason (--lang)",
            _key_referrers,
            _as_table,
        ),
    ]
}


def _curve(fit) -> pd.DataFrame:
    return fit.curve.assign(chosen=fit.curve.k == fit.chosen_k, reason=fit.reason)


def result_names(*, tables_only: bool = False) -> list[str]:
    """The registry's names (those ``memberlens analyze`` can print, with ``tables_only``)."""
    return [name for name, result in RESULTS.items() if result.is_table or not tables_only]


class Results:
    """The results of one workspace at one date, each computed on first use and kept.

    ``get(name, **changes)`` is the one way in: the registry's result ``name`` with the
    options changed by ``changes`` (e.g. ``by="product"``). Every result reads the same
    :class:`memberlens.snapshot.Snapshot`: the tables as they stood at the start of the date.
    """

    def __init__(self, source: Tables, *, as_of: date | None = None, options: AnalysisOptions | None = None) -> None:
        self.source = source
        self.options = options or AnalysisOptions(as_of=as_of)
        if as_of is not None and self.options.as_of != as_of:
            self.options = replace(self.options, as_of=as_of)
        self._tables: set[str] | None = None
        self._snapshot: Snapshot | None = None
        self._values: dict[tuple[str, str], Any] = {}
        self._dates: dict[tuple[str, str], list[str]] = {}  # date columns of the executed tables
        self.timings: dict[str, float] = {}

    # -- what the workspace holds ---------------------------------------------------------------
    @property
    def tables(self) -> set[str]:
        if self._tables is None:
            self._tables = set(self.source.list_tables())
        return self._tables

    def has(self, *tables: str) -> bool:
        return all(table in self.tables for table in tables)

    @property
    def snapshot(self) -> Snapshot:
        """The source tables as they stood at the start of the date (``as_of``, or the day after
        the last order)."""
        if self._snapshot is None:
            self._snapshot = snapshot_of(self.source, self.options.as_of)
        return self._snapshot

    @property
    def day(self) -> date:
        """The date: the first day the data does not include."""
        return self.snapshot.day

    # -- the one entry point --------------------------------------------------------------------
    def get(self, name: str, *, options: AnalysisOptions | None = None, **changes: Any) -> Any:
        """The result ``name``, computed once per options; a table comes back executed.

        The options are these results' own changed by ``changes`` (e.g. ``by="product"``); a
        result built on another passes its own ``options`` on, so both are read alike.
        """
        result = lookup(name)
        name, text, options = self._key(name, options, changes)
        key = (name, text)
        if key not in self._values:
            for table in result.needs:
                self.snapshot.table(table)  # raises naming a missing table
            start = time.perf_counter()
            try:
                value = result.compute(self, options)
            except MemberlensError as exc:  # e.g. too few members to fit: said once, not tried again
                value = _Failed(exc)
            if isinstance(value, ir.Table):
                self._dates[key] = [column for column, dtype in value.schema().items() if dtype.is_date()]
                value = value.to_pandas()
            if isinstance(value, pd.DataFrame):
                value = value.reset_index(drop=True)
            self._values[key] = value
            label = describe(name, changes)
            self.timings[label] = self.timings.get(label, 0.0) + time.perf_counter() - start
        value = self._values[key]
        if isinstance(value, _Failed):
            raise value.error
        return value

    def provide(self, name: str, value: Any, **changes: Any) -> None:
        """Use ``value`` as the result ``name`` instead of computing it (e.g. a model fitted
        and saved earlier, scored on this date)."""
        lookup(name)
        self._values[self._key(name, None, changes)[:2]] = value

    def computed_frames(self) -> dict[tuple[str, str], pd.DataFrame]:
        """Every result computed so far that is a table, by its cache key (name, options): what
        a run read, to compare two runs (e.g. on two engines)."""
        return {key: value for key, value in self._values.items() if isinstance(value, pd.DataFrame)}

    def _key(self, name: str, options: AnalysisOptions | None, changes: dict[str, Any]) -> tuple:
        """``(name, repr(options), options)``: the options a result is computed with (these
        results' own, or ``options``, changed by ``changes``) and the key it is kept under."""
        options = options or self.options
        options = replace(options, **changes) if changes else options
        return name, repr(options), options

    def table(self, name: str, **changes: Any) -> pd.DataFrame:
        """The table view of the result ``name`` (what ``memberlens analyze`` prints); date
        columns hold dates (pandas would make them midnight timestamps)."""
        result = lookup(name)
        if not result.is_table:
            raise ConfigError(
                f"{name!r} is a model result without a table to print",
                f"tables: {', '.join(result_names(tables_only=True))}",
            )
        frame = result.table(self.get(name, **changes))
        dates = [c for c in self._dates.get(self._key(name, None, changes)[:2], []) if c in frame.columns]
        return frame.assign(**{c: pd.to_datetime(frame[c]).dt.date for c in dates}) if dates else frame


@dataclass(frozen=True)
class _Failed:
    """A result that could not be computed: the error, raised again to every reader."""

    error: MemberlensError


def describe(name: str, changes: dict[str, Any]) -> str:
    """A result's label in timings and progress: its name and the options changed."""
    return f"{name} {' '.join(f'{k}={v}' for k, v in sorted(changes.items()))}".strip()


def lookup(name: str) -> Result:
    if name not in RESULTS:
        raise ConfigError(f"unknown analysis {name!r}", f"available: {', '.join(result_names(tables_only=True))}")
    return RESULTS[name]
