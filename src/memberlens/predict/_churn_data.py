"""Training pairs for churn: the cut-off schedule, the labels after each cut-off, and the
feature matrix of several cut-offs executed in one query.

The label is the only thing that reads data on or after a cut-off, and only inside its label
window ``[cut-off, cut-off + horizon)``; features come from :mod:`memberlens.predict.features`,
which never reads past the cut-off.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from datetime import date, timedelta
from typing import Literal

import ibis
import ibis.expr.types as ir
import numpy as np
import pandas as pd

from memberlens.errors import ConfigError
from memberlens.i18n import said
from memberlens.predict._sample import in_seeded_sample
from memberlens.predict.features import member_features, stack_features
from memberlens.snapshot import as_date, known_rows, start_of

Label = Literal["orders", "unsubscribe"]
LABELS = ("orders", "unsubscribe")
SEASON_FEATURES = ("season_sin", "season_cos")


def first_order_day(orders: ir.Table) -> date:
    return pd.Timestamp(orders.ordered_at.min().execute()).date()


def schedule_cutoffs(
    first: date, end: date, *, horizon_days: int, step_days: int, n_cutoffs: int, min_history_days: int
) -> tuple[list[date], date]:
    """Training cut-offs (oldest first) and the validation cut-off.

    The validation cut-off is the latest whose label window is fully observed (``end −
    horizon``); training cut-offs step back from ``validation − horizon`` every ``step_days``, so
    every training label is known before the validation cut-off; the oldest has at least
    ``min_history_days`` of orders behind it.
    """
    validation = end - timedelta(days=horizon_days)
    latest = validation - timedelta(days=horizon_days)
    earliest = first + timedelta(days=min_history_days)
    training = [latest - timedelta(days=step_days * k) for k in range(n_cutoffs)]
    training = sorted(day for day in training if day >= earliest)
    if len(training) < 2:
        need = 2 * horizon_days + min_history_days + step_days
        raise said(
            ConfigError,
            "cannot.churn_short",
            "use a shorter --horizon-days, or more history",
            first=first,
            last=end - timedelta(days=1),
            horizon=horizon_days,
            need=need,
        )
    return training, validation


def churn_labels(
    tables: Mapping[str, ir.Table], as_of: date | str, horizon_days: int, label: Label = "orders"
) -> ir.Table:
    """``customer_id, churned`` (1/0) for the customers with an order before ``as_of``.

    * ``orders``: churned when the customer places no order in ``[as_of, as_of + horizon)``;
    * ``unsubscribe``: among those still subscribed at ``as_of`` (a member row, not
      unsubscribed before it), churned when ``unsubscribed_at`` falls in the window.
    """
    day = as_date(as_of)
    start, stop = start_of(day), start_of(day + timedelta(days=horizon_days))
    orders = tables["orders"]
    customers = known_rows(orders, "ordered_at", day).select("customer_id").distinct()
    if label == "orders":
        later = (
            orders.filter((orders.ordered_at >= start) & (orders.ordered_at < stop)).select("customer_id").distinct()
        )
        later = later.mutate(_seen=ibis.literal(1))
        joined = customers.left_join(later, customers.customer_id == later.customer_id)
        return joined.select(customers.customer_id, churned=joined._seen.isnull().ifelse(1, 0))
    members = tables.get("members")
    if members is None:
        raise ConfigError(
            "--label unsubscribe needs the members table (unsubscribed_at)", "memberlens ingest FILE --table members"
        )
    m = known_rows(members, "registered_at", day)
    per = m.group_by("customer_id").aggregate(unsubscribed_at=m.unsubscribed_at.min())
    per = per.filter(per.unsubscribed_at.isnull() | (per.unsubscribed_at >= start))
    joined = customers.join(per, customers.customer_id == per.customer_id)
    gone = joined.unsubscribed_at.notnull() & (joined.unsubscribed_at < stop)
    return joined.select(customers.customer_id, churned=gone.ifelse(1, 0))


def labelled_features(
    tables: Mapping[str, ir.Table], as_of: date, horizon_days: int, label: Label, sample_fraction: float = 1.0
) -> ir.Table:
    """Features as of ``as_of`` joined to the label after it (one row per customer; with
    ``sample_fraction`` < 1, the customers of the seeded member sample only)."""
    features = member_features(tables, as_of)
    if sample_fraction < 1.0:
        features = features.filter(in_seeded_sample(features.customer_id, sample_fraction))
    labels = churn_labels(tables, as_of, horizon_days, label).view()
    joined = features.join(labels, features.customer_id == labels.customer_id)
    return joined.select(features, labels.churned)


def sample_fraction_for(orders: ir.Table, before: date, max_customers: int) -> tuple[float, int]:
    """The share of customers to sample so that about ``max_customers`` customers with an order
    before ``before`` remain (1.0 when there are no more than that), and their number."""
    known = known_rows(orders.filter(orders.customer_id.notnull()), "ordered_at", before)
    customers = int(known.customer_id.nunique().execute())
    return (1.0 if customers <= max_customers else max_customers / customers), customers


def training_frame(
    tables: Mapping[str, ir.Table],
    cutoffs: Sequence[date],
    horizon_days: int,
    label: Label,
    sample_fraction: float = 1.0,
) -> pd.DataFrame:
    """The labelled feature matrix of every cut-off, executed in one query; only this comes to
    Python. Rows are ordered by cut-off and customer id. With ``sample_fraction`` < 1, the same
    seeded sample of customers at every cut-off (:mod:`memberlens.predict._sample`)."""
    stacked = stack_features([labelled_features(tables, day, horizon_days, label, sample_fraction) for day in cutoffs])
    frame = stacked.order_by(["cutoff", "customer_id"]).execute()
    frame["cutoff"] = pd.to_datetime(frame["cutoff"]).dt.date
    return with_season(frame)


def with_season(frame: pd.DataFrame) -> pd.DataFrame:
    """Add the cut-off's time of year (sine and cosine of its day of the year): how much a
    label window's customers buy depends on the season it covers."""
    day_of_year = pd.to_datetime(frame["cutoff"]).dt.day_of_year.to_numpy(dtype=float)
    angle = 2 * math.pi * day_of_year / 365.25
    return frame.assign(season_sin=np.sin(angle), season_cos=np.cos(angle))
