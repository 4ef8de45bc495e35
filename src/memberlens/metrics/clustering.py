"""k-means clusters of customers on standardised log RFM (product.md C).

Only the per-customer RFM table comes to Python. For k = 2..10 the inertia (elbow curve) and the
silhouette (on a seeded sample of at most 4,000 customers) are computed, fitting on a seeded
sample of at most 50,000 customers (every customer is then assigned to its nearest centre); the chosen k is the
elbow — the k furthest from the straight line joining the first and last points of the inertia
curve — and the result says so, with the silhouette of every k beside it. Clusters are named
by the rank of their mean spend: "high value" first, "low value" last, "developing" between.
"""

from __future__ import annotations

from dataclasses import dataclass

import ibis.expr.types as ir
import numpy as np
import pandas as pd
from sklearn.cluster import KMeans
from sklearn.metrics import silhouette_score
from sklearn.preprocessing import StandardScaler
from threadpoolctl import threadpool_limits

from memberlens import format as f
from memberlens.errors import ConfigError, InputError
from memberlens.i18n import said

FEATURES = ("recency", "frequency", "monetary")
SILHOUETTE_SAMPLE = 4_000  # the score of a seeded sample: its standard error is far below the gaps between k
FIT_SAMPLE = 50_000
RESTARTS = 4


@dataclass(frozen=True)
class ClusterResult:
    assignments: pd.DataFrame  # customer_id, cluster, cluster_name, recency, frequency, monetary
    profiles: pd.DataFrame  # per cluster: customers, shares, mean R/F/M, name
    curve: pd.DataFrame  # k, inertia, silhouette
    chosen_k: int
    reason: str
    scaler: StandardScaler | None = None  # the standardisation and centres fitted, to place
    model: KMeans | None = None  # customers of another date in these clusters

    def assign(self, rfm: ir.Table) -> pd.DataFrame:
        """Customers of another RFM table (another date) in these clusters — the nearest of
        these centres after this standardisation — named as here, so "cluster 2" means the same
        at both dates: ``customer_id, recency, frequency, monetary, cluster, cluster_name``."""
        frame = rfm.select("customer_id", *FEATURES).order_by("customer_id").execute()
        labels = self.model.predict(self.scaler.transform(_log_rfm(frame))) if len(frame) else np.array([], dtype=int)
        names = dict(zip(self.profiles.cluster, self.profiles.cluster_name))
        return frame.assign(cluster=labels, cluster_name=[names[c] for c in labels])


def _log_rfm(rfm: pd.DataFrame) -> np.ndarray:
    values = rfm[list(FEATURES)].astype("float64").to_numpy()
    if (values[:, 2] < 0).any():
        values[:, 2] = np.clip(values[:, 2], 0, None)  # refunds beyond spend: treat as no spend
    return np.log1p(values)


def elbow_k(ks: list[int], inertias: list[float]) -> int:
    """The k furthest from the chord between the first and last inertia points (normalised)."""
    x = (np.asarray(ks, float) - ks[0]) / (ks[-1] - ks[0])
    y = np.asarray(inertias, float)
    y = (y - y[-1]) / (y[0] - y[-1]) if y[0] != y[-1] else np.zeros_like(y)
    distance = np.abs(y - (1 - x))  # the chord runs from (0, 1) to (1, 0)
    return ks[int(np.argmax(distance))]


def _names(order: list[int]) -> dict[int, str]:
    """Cluster ids ranked best-first -> names."""
    names = {}
    for position, cluster in enumerate(order):
        if position == 0:
            names[cluster] = "high value"
        elif position == len(order) - 1:
            names[cluster] = "low value"
        else:
            names[cluster] = "developing" if len(order) == 3 else f"developing {position}"
    return names


def cluster_customers(
    rfm: ir.Table, *, k: int | None = None, k_range: range = range(2, 11), random_state: int = 0
) -> ClusterResult:
    """Cluster the customers of an RFM table (:func:`memberlens.metrics.rfm.compute_rfm`).

    The fits run on one BLAS/OpenMP thread: on a busy 2-core machine threaded BLAS spins and
    the sweep takes ~30 s instead of ~4 s.
    """
    with threadpool_limits(1):
        return _cluster(rfm, k=k, k_range=k_range, random_state=random_state)


def _cluster(rfm: ir.Table, *, k: int | None, k_range: range, random_state: int) -> ClusterResult:
    frame = rfm.select("customer_id", *FEATURES).order_by("customer_id").execute()
    if len(frame) < 3:
        raise said(InputError, "cannot.cluster_few", customers=len(frame))
    scaler = StandardScaler().fit(_log_rfm(frame))
    x = scaler.transform(_log_rfm(frame))
    distinct = len(np.unique(x, axis=0))
    if distinct < 2:
        raise said(InputError, "cannot.cluster_alike", customers=len(frame))
    ks = [
        kk for kk in k_range if 2 <= kk < len(frame) and kk <= distinct
    ]  # k-means cannot make more groups than points
    if not ks:
        raise ConfigError(
            f"The 'k_range' parameter must include a k in [2, {min(len(frame) - 1, distinct)}]. Got {k_range!r} instead."
        )
    rng = np.random.default_rng(random_state)
    fit_rows = np.sort(rng.choice(len(x), size=min(len(x), FIT_SAMPLE), replace=False))
    x_fit = x[fit_rows]
    score_rows = rng.choice(len(x_fit), size=min(len(x_fit), SILHOUETTE_SAMPLE), replace=False)
    models, inertias, silhouettes = {}, [], []
    for kk in ks:
        model = KMeans(n_clusters=kk, n_init=RESTARTS, random_state=random_state).fit(x_fit)
        models[kk] = model
        inertias.append(float(model.inertia_))
        labels = model.labels_[score_rows]
        silhouettes.append(float(silhouette_score(x_fit[score_rows], labels)) if len(set(labels)) > 1 else float("nan"))
    curve = pd.DataFrame({"k": ks, "inertia": inertias, "silhouette": silhouettes})
    if k is None:
        chosen = elbow_k(ks, inertias) if len(ks) > 2 else ks[0]
        reason = (
            f"k={chosen}: the elbow of the inertia curve (furthest from the line between k={ks[0]} and k={ks[-1]}); "
            + (_silhouette_words(curve, chosen))
        )
    else:
        if k not in models:
            models[k] = KMeans(n_clusters=k, n_init=RESTARTS, random_state=random_state).fit(x_fit)
        chosen, reason = k, f"k={k}: chosen by the caller"
    labels = models[chosen].predict(x)
    frame = frame.assign(cluster=labels)
    profiles = _profiles(frame)
    return ClusterResult(
        assignments=frame.merge(profiles[["cluster", "cluster_name"]], on="cluster"),
        profiles=profiles,
        curve=curve,
        chosen_k=chosen,
        reason=reason,
        scaler=scaler,
        model=models[chosen],
    )


def _silhouette_words(curve: pd.DataFrame, chosen: int) -> str:
    if curve.silhouette.isna().all():  # every k put the (few, alike) customers in one group
        return "no k separates the customers (no silhouette)"
    best = int(curve.loc[curve.silhouette.idxmax(), "k"])
    chosen_silhouette, highest = curve.set_index("k").silhouette[chosen], curve.silhouette.max()
    return f"silhouette {f.num(chosen_silhouette, 2)} (highest: k={best}, {f.num(highest, 2)})"


def _profiles(frame: pd.DataFrame) -> pd.DataFrame:
    per = (
        frame.groupby("cluster")
        .agg(
            customers=("customer_id", "size"),
            revenue=("monetary", "sum"),
            mean_recency=("recency", "mean"),
            mean_frequency=("frequency", "mean"),
            mean_monetary=("monetary", "mean"),
        )
        .reset_index()
    )
    per["customer_share"] = per.customers / per.customers.sum()
    per["revenue_share"] = per.revenue / per.revenue.sum()
    order = per.sort_values(["mean_monetary", "cluster"], ascending=[False, True]).cluster.tolist()
    per["cluster_name"] = per.cluster.map(_names(order))
    per["value_rank"] = per.cluster.map({c: i + 1 for i, c in enumerate(order)})
    return per.sort_values("value_rank").reset_index(drop=True)
