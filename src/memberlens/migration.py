"""Members over time: who moved between two dates, and the value that moved with them.

"RFM模型基于一个固定时间点来做模型分析，因此今天做的RFM得分与7天前的结果可能不一样": a
member-operations team's first question each month is who moved — which champions slipped to at
risk, which new customers became loyal. Each member is placed at both dates, each date from its
own :class:`memberlens.snapshot.Snapshot` (the data as it stood that morning), by one basis:

* ``rfm-segment`` — the RFM segment (``--scheme`` grid, eleven or eight);
* ``lifecycle`` — the lifecycle stage in the last period (new / active / return / unactive);
* ``growth`` — the growth stage in the last period (new / returning / resurrecting / dormant, who
  bought the period before but not this one, / lapsed, who last bought earlier);
* ``abc`` — the customer's ABC class;
* ``cluster`` — the k-means cluster, the centres fitted at the first date applied at the second,
  so a cluster means the same customers' kind at both dates;
* ``clv-band`` — high / medium / low predicted value (the top fifth, the next three tenths, the
  rest, by the CLV models at each date);
* ``churn-band`` — the churn model's risk band, the model trained at each date on what was known
  then.

A member known at the second date only comes from ``(appeared)``; one known at the first only
goes to ``(left)``. Along each path: members, their share of the origin row, their revenue between
the dates (spend at the second minus spend at the first, exact) and their predicted value at the
second date. Harmful moves (``DOWNGRADES``, or the caller's) list the members for win-back with
the value at stake.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import date

import numpy as np
import pandas as pd

from memberlens import metrics
from memberlens.analyses import AnalysisOptions, cluster_result, member_value_fit, run_analysis
from memberlens.errors import ConfigError, InputError, MemberlensError
from memberlens.io.catalog import Tables
from memberlens.predict.churn import churn_scores_at
from memberlens.snapshot import Snapshot, snapshot_of

APPEARED, LEFT = "(appeared)", "(left)"
BASES = ("rfm-segment", "lifecycle", "growth", "abc", "cluster", "clv-band", "churn-band")
CLV_BANDS = (("high", 0.2), ("medium", 0.5))  # the top fifth, then down to the top half; the rest low

#: moves a member-operations team acts on (from, to), by basis
DOWNGRADES: dict[str, tuple[tuple[str, str], ...]] = {
    "rfm-segment": (
        ("champions", "at_risk"),
        ("champions", "cant_lose"),
        ("champions", "hibernating"),
        ("champions", "about_to_sleep"),
        ("loyal", "at_risk"),
        ("loyal", "hibernating"),
        ("loyal", "about_to_sleep"),
        ("loyal", "lost"),
        ("potential_loyalists", "hibernating"),
        ("cant_lose", "hibernating"),
        ("cant_lose", "lost"),
        ("important_value", "important_retain"),
        ("important_value", "important_win_back"),
        ("important_develop", "important_win_back"),
        ("important_retain", "important_win_back"),
    ),
    "lifecycle": (("active", "unactive"), ("return", "unactive"), ("new", "unactive")),
    "growth": (
        ("returning", "dormant"),
        ("resurrecting", "dormant"),
        ("new", "dormant"),
        ("returning", "lapsed"),
        ("dormant", "lapsed"),
    ),
    "abc": (("A", "B"), ("A", "C"), ("B", "C")),
    "cluster": (("high value", "low value"),),
    "clv-band": (("high", "medium"), ("high", "low"), ("medium", "low")),
    "churn-band": (("low", "medium"), ("low", "high"), ("medium", "high")),
}

MEMBER_COLUMNS = ("customer_id", "from_state", "to_state", "revenue_between", "value_at_end")
PATH_COLUMNS = ("from_state", "to_state", "members", "share_of_origin", "revenue_between", "value_at_end")


@dataclass(frozen=True)
class Migration:
    """Who moved between ``start`` and ``end`` by ``by``: per member and per path."""

    by: str
    start: date
    end: date
    members: pd.DataFrame  # MEMBER_COLUMNS, by customer id
    paths: pd.DataFrame  # PATH_COLUMNS, by origin then destination
    downgrades: pd.DataFrame  # the members on a harmful path, most value at stake first
    notes: list[str] = field(default_factory=list)
    harmful: frozenset[tuple[str, str]] = frozenset()

    def with_values(self, values: pd.Series) -> Migration:
        """These moves with each member's predicted value at the end taken from ``values`` (by
        customer id; e.g. a CLV fit already made), paths and downgrades with them."""
        members = self.members.assign(value_at_end=self.members.customer_id.map(values).astype("float64"))
        return assemble(self.by, self.start, self.end, members, self.harmful, self.notes)

    def largest_moves(self, n: int = 3) -> pd.DataFrame:
        """The ``n`` paths with the most members between two different states (ties by name)."""
        moved = self.paths[self.paths.from_state != self.paths.to_state]
        return moved.sort_values(
            ["members", "from_state", "to_state"], ascending=[False, True, True], kind="mergesort"
        ).head(n)


def member_states(
    snapshot: Snapshot, by: str, options: AnalysisOptions, *, clusters: metrics.ClusterResult | None = None
) -> pd.DataFrame:
    """``customer_id, state`` of every customer of the snapshot by the basis ``by``."""
    if by == "rfm-segment":
        frame = _executed(run_analysis(snapshot, "rfm", options))[["customer_id", "segment"]]
        return frame.rename(columns={"segment": "state"})
    if by == "lifecycle":
        frame = _executed(run_analysis(snapshot, "lifecycle-stage", options))[["customer_id", "stage"]]
        return frame.rename(columns={"stage": "state"})
    if by == "growth":
        frame = _executed(run_analysis(snapshot, "growth-stage", options))[["customer_id", "stage"]]
        return frame.rename(columns={"stage": "state"})
    if by == "abc":
        frame = _executed(run_analysis(snapshot, "abc", replace(options, by="customer")))[["customer_id", "abc_class"]]
        return frame.rename(columns={"abc_class": "state"})
    if by == "cluster":  # in the clusters given (fitted at another date), else in those fitted here
        if clusters is None:
            frame = cluster_result(snapshot, options).assignments
        else:
            frame = clusters.assign(
                metrics.compute_rfm(snapshot.table("orders"), as_of=snapshot.day, lookback_days=options.lookback_days)
            )
        return frame[["customer_id", "cluster_name"]].rename(columns={"cluster_name": "state"})
    if by == "churn-band":
        return churn_bands(snapshot)
    if by == "clv-band":
        values = predicted_values(snapshot, options)
        return values.assign(state=clv_bands(values.value))[["customer_id", "state"]]
    raise ConfigError(f"--by {by!r} is not a basis memberlens compares", f"use one of: {', '.join(BASES)}")


def churn_bands(snapshot: Snapshot) -> pd.DataFrame:
    """``customer_id, state``: each customer's churn risk band, the model trained on the snapshot."""
    return churn_scores_at(snapshot)[["customer_id", "risk_band"]].rename(columns={"risk_band": "state"})


def clv_bands(values: pd.Series) -> np.ndarray:
    """``high`` for the top fifth of predicted value, ``medium`` down to the top half, ``low``
    after that; ranks by value, ties sharing the better band."""
    ranks = values.rank(method="min", ascending=False) - 1  # 0 = the best
    n = max(len(values), 1)
    bands = np.full(len(values), "low", dtype=object)
    for name, share in reversed(CLV_BANDS):
        bands[(ranks / n < share).to_numpy()] = name
    return bands


def predicted_values(snapshot: Snapshot, options: AnalysisOptions) -> pd.DataFrame:
    """``customer_id, value``: each member's predicted value (CLV models) at the snapshot."""
    fit = member_value_fit(snapshot, options)
    if fit.spend is None:
        raise InputError(f"no spend model at {snapshot.day}: {fit.spend_note}")
    predictions = _executed(fit.predictions())
    return predictions[["customer_id", "predicted_clv"]].rename(columns={"predicted_clv": "value"})


def spend(snapshot: Snapshot) -> pd.DataFrame:
    """``customer_id, micros``: each member's spend to the snapshot in whole millionths."""
    frame = _executed(metrics.summarise_member_value(snapshot.table("orders")))[["customer_id", "historic_clv"]]
    return frame.assign(micros=(frame.historic_clv * 1_000_000).round().astype("int64"))[["customer_id", "micros"]]


PERIOD_LENGTHS = {
    "day": pd.DateOffset(days=1),
    "week": pd.DateOffset(weeks=1),
    "month": pd.DateOffset(months=1),
    "quarter": pd.DateOffset(months=3),
}


def one_period_before(day: date, period: str) -> date:
    """The day one ``period`` (day, week, month or quarter; else a month) before ``day``: where
    the report's migration starts when no earlier date is given."""
    return (pd.Timestamp(day) - PERIOD_LENGTHS.get(period, PERIOD_LENGTHS["month"])).date()


def migrate(
    source: Tables,
    by: str,
    start: date,
    end: date,
    *,
    options: AnalysisOptions | None = None,
    downgrades: Sequence[tuple[str, str]] | None = None,
    with_value: bool = True,
) -> Migration:
    """The moves of every member between the mornings of ``start`` and ``end`` by ``by``."""
    if by not in BASES:
        raise ConfigError(f"--by {by!r} is not a basis memberlens compares", f"use one of: {', '.join(BASES)}")
    if not start < end:
        raise ConfigError(f"--from {start} must be before --to {end}", "e.g. --from 2024-01-01 --to 2024-02-01")
    options = options or AnalysisOptions()
    before, after = snapshot_of(source, start), snapshot_of(source, end)
    clusters = cluster_result(before, options) if by == "cluster" else None  # the first date's centres, for both
    first = (
        clusters.assignments[["customer_id", "cluster_name"]].rename(columns={"cluster_name": "state"})
        if clusters is not None
        else member_states(before, by, options)
    )
    second = member_states(after, by, options, clusters=clusters)
    members = first.rename(columns={"state": "from_state"}).merge(
        second.rename(columns={"state": "to_state"}), on="customer_id", how="outer"
    )
    members["from_state"] = members.from_state.fillna(APPEARED)
    members["to_state"] = members.to_state.fillna(LEFT)
    moved = spend(after).merge(spend(before), on="customer_id", how="left", suffixes=("_end", "_start"))
    moved["revenue_between"] = (moved.micros_end - moved.micros_start.fillna(0).astype("int64")) / 1_000_000
    members = members.merge(moved[["customer_id", "revenue_between"]], on="customer_id", how="left")
    members["revenue_between"] = members.revenue_between.fillna(0.0)
    notes: list[str] = []
    members["value_at_end"] = np.nan
    if with_value:
        try:
            values = predicted_values(after, options)
            members = members.drop(columns="value_at_end").merge(
                values.rename(columns={"value": "value_at_end"}), on="customer_id", how="left"
            )
        except MemberlensError as exc:  # e.g. no repeat buyers to fit the CLV models on
            notes.append(f"no predicted value at {end}: {exc.message}")
    harmful = frozenset(DOWNGRADES[by] if downgrades is None else downgrades)
    return assemble(by, start, end, members, harmful, notes)


def assemble(
    by: str, start: date, end: date, members: pd.DataFrame, harmful: frozenset[tuple[str, str]], notes: list[str]
) -> Migration:
    """The migration of ``members`` (one row per member, :data:`MEMBER_COLUMNS`): its paths and
    the members on the ``harmful`` ones, most value at stake first."""
    members = members[list(MEMBER_COLUMNS)].sort_values("customer_id", kind="mergesort").reset_index(drop=True)
    on_path = [(a, b) in harmful for a, b in zip(members.from_state, members.to_state)]
    at_stake = members[on_path].sort_values(
        ["value_at_end", "revenue_between", "customer_id"],
        ascending=[False, False, True],
        kind="mergesort",
        na_position="last",
    )
    return Migration(
        by, start, end, members, migration_paths(members), at_stake.reset_index(drop=True), list(notes), harmful
    )


def migration_paths(members: pd.DataFrame) -> pd.DataFrame:
    """Per (origin, destination): members, share of the origin's members, revenue between the
    dates (summed in whole millionths) and predicted value at the end."""
    frame = members.assign(_micros=(members.revenue_between * 1_000_000).round().astype("int64"))
    per = (
        frame.groupby(["from_state", "to_state"], sort=True)
        .agg(
            members=("customer_id", "size"),
            _micros=("_micros", "sum"),
            value_at_end=("value_at_end", lambda v: v.sum(min_count=1)),
        )
        .reset_index()
    )
    per["share_of_origin"] = per.members / per.groupby("from_state").members.transform("sum")
    per["revenue_between"] = per._micros / 1_000_000
    return per[list(PATH_COLUMNS)]


def _executed(result) -> pd.DataFrame:
    return (result if isinstance(result, pd.DataFrame) else result.to_pandas()).reset_index(drop=True)


__all__ = [
    "APPEARED",
    "BASES",
    "DOWNGRADES",
    "LEFT",
    "Migration",
    "assemble",
    "clv_bands",
    "member_states",
    "migrate",
    "migration_paths",
]
