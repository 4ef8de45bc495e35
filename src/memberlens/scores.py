"""A history of member scores: each member's RFM scores and segment, lifecycle stage, ABC class,
cluster, P(alive) and predicted value (and, when asked, churn probability and risk band) as of a date,
kept in the workspace table ``member_scores`` — one row per member and date, a date scored again
replaced — so a team sees each member's previous segment and when it last changed (the fields
Klaviyo keeps), and ``memberlens migrate`` has its dates ready.

Each date is scored from its own :class:`memberlens.snapshot.Snapshot`; a score as of D is what
was known on the morning of D. The clusters are those fitted at the first date of the history
(the earliest stored, or this run's first when earlier), their centres applied at every date, so
a cluster means the same kind of customer along the history (as in ``memberlens migrate --by
cluster``); a snapshot is exact, so refitting at that date gives the same centres. Scoring a date
before the history's first moves that anchor: rescore the history (``--every``) to align it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import replace
from datetime import date

import pandas as pd

from memberlens import metrics
from memberlens.analyses import AnalysisOptions, cluster_result, member_value_fit, run_analysis
from memberlens.errors import ConfigError, MemberlensError
from memberlens.predict.churn import churn_scores_at
from memberlens.snapshot import SCORES_TABLE, Snapshot, snapshot_of

SCORE_COLUMNS = {
    "customer_id": "string",
    "as_of": "date",
    "recency": "int64",
    "frequency": "int64",
    "monetary": "float64",
    "r_score": "int64",
    "f_score": "int64",
    "m_score": "int64",
    "rfm_segment": "string",
    "lifecycle_stage": "string",
    "abc_class": "string",
    "cluster": "string",
    "probability_alive": "float64",
    "predicted_clv": "float64",
    "churn_probability": "float64",
    "risk_band": "string",
}
STEPS = {"week": pd.DateOffset(weeks=1), "month": pd.DateOffset(months=1), "quarter": pd.DateOffset(months=3)}


def score_members(
    snapshot: Snapshot,
    options: AnalysisOptions | None = None,
    *,
    churn: bool = False,
    notes: Callable[[str], object] | None = None,
    clusters: metrics.ClusterResult | None = None,
) -> pd.DataFrame:
    """One row per customer of the snapshot with :data:`SCORE_COLUMNS` (a model that cannot be
    fitted at this date leaves its columns empty and says why through ``notes``); customers are
    placed in ``clusters`` (fitted at another date) when given, else in those fitted here."""
    options = options or AnalysisOptions()
    rfm = _frame(run_analysis(snapshot, "rfm", options))[
        ["customer_id", "recency", "frequency", "monetary", "r_score", "f_score", "m_score", "segment"]
    ].rename(columns={"segment": "rfm_segment"})
    stage = _frame(run_analysis(snapshot, "lifecycle-stage", options))[["customer_id", "stage"]]
    abc = _frame(run_analysis(snapshot, "abc", replace(options, by="customer")))[["customer_id", "abc_class"]]
    scores = rfm.merge(stage.rename(columns={"stage": "lifecycle_stage"}), on="customer_id", how="left")
    scores = scores.merge(abc, on="customer_id", how="left")
    scores = scores.merge(_clusters(snapshot, options, clusters, notes), on="customer_id", how="left")
    scores = scores.merge(_member_value(snapshot, options, notes), on="customer_id", how="left")
    scores = scores.merge(
        _churn(snapshot, notes) if churn else pd.DataFrame(columns=["customer_id"]), on="customer_id", how="left"
    )
    scores["as_of"] = snapshot.day
    for column, kind in SCORE_COLUMNS.items():
        if column not in scores.columns:
            scores[column] = None
        scores[column] = scores[column].astype({"string": "object", "date": "object"}.get(kind, kind))
    return scores[list(SCORE_COLUMNS)].sort_values("customer_id", kind="mergesort").reset_index(drop=True)


def _clusters(
    snapshot: Snapshot, options: AnalysisOptions, clusters: metrics.ClusterResult | None, notes
) -> pd.DataFrame:
    try:
        if clusters is None:
            placed = cluster_result(snapshot, options).assignments
        else:
            placed = clusters.assign(
                metrics.compute_rfm(snapshot.table("orders"), as_of=snapshot.day, lookback_days=options.lookback_days)
            )
    except MemberlensError as exc:
        _say(notes, f"{snapshot.day}: no cluster ({exc.message})")
        return pd.DataFrame(columns=["customer_id"])
    return placed[["customer_id", "cluster_name"]].rename(columns={"cluster_name": "cluster"})


def first_clusters(snapshot: Snapshot, options: AnalysisOptions | None = None) -> metrics.ClusterResult | None:
    """The clusters fitted at the first date of a run (None when there are too few customers)."""
    try:
        return cluster_result(snapshot, options or AnalysisOptions())
    except MemberlensError:
        return None


def _member_value(snapshot: Snapshot, options: AnalysisOptions, notes) -> pd.DataFrame:
    try:
        fit = member_value_fit(snapshot, options)
        predictions = _frame(fit.predictions())
    except MemberlensError as exc:
        _say(notes, f"{snapshot.day}: no P(alive) or predicted value ({exc.message})")
        return pd.DataFrame(columns=["customer_id"])
    if fit.spend is None:
        _say(notes, f"{snapshot.day}: no predicted value ({fit.spend_note})")
    return predictions[[c for c in ("customer_id", "probability_alive", "predicted_clv") if c in predictions.columns]]


def _churn(snapshot: Snapshot, notes) -> pd.DataFrame:
    try:
        scores = churn_scores_at(snapshot)
    except MemberlensError as exc:
        _say(notes, f"{snapshot.day}: no churn probability ({exc.message})")
        return pd.DataFrame(columns=["customer_id"])
    return scores[["customer_id", "churn_probability", "risk_band"]]


def score_dates(first: date, last: date, every: str) -> list[date]:
    """``first``, then every ``every`` (week, month or quarter) up to ``last`` inclusive."""
    if every not in STEPS:
        raise ConfigError(f"--every {every!r} is not week, month or quarter", "e.g. --every month")
    if first > last:
        raise ConfigError(f"--from {first} is after the last date {last}", "give an earlier --from")
    days, step = [], 0
    while (day := (pd.Timestamp(first) + step * STEPS[every]).date()) <= last:
        days.append(day)
        step += 1
    return days


def record_scores(
    workspace,
    days: Iterable[date | None],
    *,
    options: AnalysisOptions | None = None,
    churn: bool = False,
    notes: Callable[[str], object] | None = None,
) -> list[tuple[date, int]]:
    """Score each date (None: the day after the last order) and store it in ``member_scores``,
    each date replacing an earlier scoring of it; returns (date, members) per date."""
    done, clusters = [], None
    for day in days:
        snapshot = snapshot_of(workspace, day)
        if snapshot.day is None:
            raise ConfigError("scores need the orders table", "ingest orders first: memberlens ingest ORDERS_FILE")
        if clusters is None:  # fitted at the history's first date: every date uses its centres
            anchor = _first_scored(workspace)
            first = snapshot if anchor is None or anchor >= snapshot.day else snapshot_of(workspace, anchor)
            clusters = first_clusters(first, options)
        frame = score_members(snapshot, options, churn=churn, notes=notes, clusters=clusters)
        workspace.replace_rows(SCORES_TABLE, "as_of", snapshot.day, frame, schema=SCORE_COLUMNS)
        done.append((snapshot.day, len(frame)))
    return done


def _first_scored(workspace) -> date | None:
    """The earliest date in the score history (None before any scoring)."""
    if not workspace.has_table(SCORES_TABLE):
        return None
    first = workspace.table(SCORES_TABLE).as_of.min().execute()
    return None if first is None or pd.isna(first) else pd.Timestamp(first).date()


def _frame(result) -> pd.DataFrame:
    return (result if isinstance(result, pd.DataFrame) else result.to_pandas()).reset_index(drop=True)


def _say(notes, text: str) -> None:
    if notes is not None:
        notes(text)


__all__ = ["SCORE_COLUMNS", "first_clusters", "record_scores", "score_dates", "score_members"]
