"""Members simulated from known parameters, for parameter-recovery tests and benchmarks.

Each simulator draws members' latent rates from the model's mixing distributions and runs the
model's story forward, returning the summary (``frequency``, ``recency``, ``T``) a fit takes.
``T`` is drawn in whole days and expressed in ``day_unit`` days (7: weeks), as real summaries are.
"""

from __future__ import annotations

import datetime as _dt
from typing import Any

import numpy as np
import pandas as pd


def _ages(rng: np.random.Generator, n: int, max_days: int, day_unit: float) -> np.ndarray:
    return rng.integers(1, max_days + 1, size=n) / day_unit


def _to_grid(t: np.ndarray, day_unit: float) -> np.ndarray:
    """Purchase times to whole days (never day 0: a repeat purchase is on a later day)."""
    return np.maximum(np.floor(t * day_unit), 1.0) / day_unit


def simulate_bg_nbd(
    n: int,
    r: float,
    alpha: float,
    a: float,
    b: float,
    *,
    max_days: int = 730,
    day_unit: float = 7.0,
    modified: bool = False,
    seed: int | None = 0,
    T: Any = None,
) -> pd.DataFrame:
    """BG/NBD (or MBG/NBD with ``modified``) members observed for uniform ages up to ``max_days``."""
    rng = np.random.default_rng(seed)
    T = _ages(rng, n, max_days, day_unit) if T is None else np.broadcast_to(np.asarray(T, float), (n,)).copy()
    lam = rng.gamma(r, 1.0 / alpha, n)
    p = rng.beta(a, b, n)
    x = np.zeros(n, dtype=np.int64)
    t_x = np.zeros(n)
    now = np.zeros(n)
    active = np.ones(n, dtype=bool)
    if modified:
        active &= rng.random(n) >= p
    idx = np.flatnonzero(active & (lam > 0))
    while len(idx):
        now[idx] += rng.exponential(1.0, len(idx)) / lam[idx]
        idx = idx[now[idx] <= T[idx]]
        x[idx] += 1
        t_x[idx] = now[idx]
        idx = idx[rng.random(len(idx)) >= p[idx]]
    return _frame(x, np.where(x > 0, _to_grid(t_x, day_unit), 0.0), T, day_unit)


def simulate_pareto_nbd(
    n: int,
    r: float,
    alpha: float,
    s: float,
    beta: float,
    *,
    max_days: int = 730,
    day_unit: float = 7.0,
    seed: int | None = 0,
    T: Any = None,
) -> pd.DataFrame:
    """Pareto/NBD members: Poisson purchases until an exponential lifetime ends."""
    rng = np.random.default_rng(seed)
    T = _ages(rng, n, max_days, day_unit) if T is None else np.broadcast_to(np.asarray(T, float), (n,)).copy()
    lam = rng.gamma(r, 1.0 / alpha, n)
    mu = rng.gamma(s, 1.0 / beta, n)
    life = np.minimum(rng.exponential(1.0, n) / np.maximum(mu, 1e-300), T)
    x = rng.poisson(lam * life)
    with np.errstate(divide="ignore"):
        t_x = np.where(x > 0, life * rng.random(n) ** (1.0 / np.maximum(x, 1)), 0.0)
    return _frame(x, np.where(x > 0, _to_grid(t_x, day_unit), 0.0), T, day_unit)


def simulate_bg_bb(
    n: int, alpha: float, beta: float, gamma: float, delta: float, *, periods: int = 6, seed: int | None = 0
) -> pd.DataFrame:
    """BG/BB members over ``periods`` transaction opportunities after their first purchase."""
    rng = np.random.default_rng(seed)
    p = rng.beta(alpha, beta, n)
    theta = rng.beta(gamma, delta, n)
    x = np.zeros(n, dtype=np.int64)
    t_x = np.zeros(n)
    alive = np.ones(n, dtype=bool)
    for t in range(1, periods + 1):
        alive &= rng.random(n) >= theta
        buy = alive & (rng.random(n) < p)
        x += buy
        t_x[buy] = t
    return pd.DataFrame({"frequency": x, "recency": t_x, "T": np.full(n, float(periods))})


def simulate_gamma_gamma(frequency: Any, p: float, q: float, gamma: float, *, seed: int | None = 0) -> pd.DataFrame:
    """Mean spend of ``frequency`` purchases per member (all > 0) under Gamma-Gamma."""
    rng = np.random.default_rng(seed)
    x = np.asarray(frequency, dtype=np.int64)
    nu = rng.gamma(q, 1.0 / gamma, len(x))
    mean_spend = rng.gamma(p * x, 1.0 / (x * nu))
    return pd.DataFrame({"frequency": x, "monetary_value": mean_spend})


def _frame(x: np.ndarray, t_x: np.ndarray, T: np.ndarray, day_unit: float) -> pd.DataFrame:
    del day_unit
    return pd.DataFrame({"frequency": x, "recency": np.minimum(t_x, T), "T": T})


def simulate_orders(
    n_members: int,
    *,
    r: float = 0.5,
    alpha: float = 10.0,
    a: float = 0.8,
    b: float = 2.5,
    days: int = 730,
    start: _dt.date = _dt.date(2023, 1, 1),
    lines_per_order: float = 1.3,
    seed: int | None = 0,
) -> pd.DataFrame:
    """Order lines of ``n_members`` BG/NBD members (rates per day) over ``days`` days.

    Members first buy on a uniform day; each order has 1 + Poisson(lines_per_order - 1) lines with
    a gamma-distributed amount. Columns: ``customer_id`` (text), ``order_id``, ``ordered_at``
    (timestamp), ``amount``.
    """
    rng = np.random.default_rng(seed)
    first = rng.integers(0, days, n_members)
    T = (days - 1 - first).astype(float)
    lam = rng.gamma(r, 1.0 / alpha, n_members)
    p = rng.beta(a, b, n_members)
    members = [np.arange(n_members)]
    offsets = [np.zeros(n_members)]
    now = np.zeros(n_members)
    idx = np.flatnonzero(lam > 0)
    while len(idx):
        now[idx] += rng.exponential(1.0, len(idx)) / lam[idx]
        idx = idx[now[idx] <= T[idx]]
        members.append(idx.copy())
        offsets.append(now[idx].copy())
        idx = idx[rng.random(len(idx)) >= p[idx]]
    member = np.concatenate(members)
    day = first[member] + np.floor(np.concatenate(offsets)).astype(np.int64)
    lines = 1 + rng.poisson(max(lines_per_order - 1.0, 0.0), len(member))
    member = np.repeat(member, lines)
    day = np.repeat(day, lines)
    order = np.repeat(np.arange(len(lines)), lines)
    seconds = rng.integers(0, 86_400, len(order))
    ordered_at = (
        np.datetime64(start, "s")
        + day.astype("timedelta64[D]").astype("timedelta64[s]")
        + seconds.astype("timedelta64[s]")
    )
    return pd.DataFrame(
        {
            "customer_id": pd.Series(member).astype(str).radd("m"),
            "order_id": pd.Series(order).astype(str),
            "ordered_at": ordered_at,
            "amount": np.round(rng.gamma(2.0, 15.0, len(order)) + 1.0, 2),
        }
    )


__all__ = ["simulate_bg_bb", "simulate_bg_nbd", "simulate_gamma_gamma", "simulate_orders", "simulate_pareto_nbd"]
