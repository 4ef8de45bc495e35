"""How sure a member's predictions are: two kinds of per-member interval.

**Parameter intervals** (``*_low`` / ``*_high`` of expected orders, P(alive) and CLV) say how far
the prediction could move because the model's parameters are estimated from a finite sample:
the delta method on the fit's covariance (the inverse observed information, the same matrix
that gives the standard errors), on the log scale for counts and values and the logit scale for
probabilities, so the bounds stay in range. They narrow as the data grow, and they assume the
model is right: they do not cover a model that does not fit the shop.

**Order ranges** (``orders_range_low`` / ``_high``) say where the member's own number of orders
in the horizon should fall: the model's predictive distribution of the count,
P(N = n | history) (:meth:`TransactionModel.probability_of_purchases`), at the fitted
parameters. They do not narrow with more data — a member's purchases are random — and their
parameter uncertainty is left out (small beside the count's own spread once a fit has a few
hundred members). Counts are whole numbers, so a range cannot hold exactly the level: it starts
at the count below which about ``(1 - level) / 2`` of the probability lies and ends where the
probability it holds is nearest the level.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import ibis
import ibis.expr.types as ir
import numpy as np
from scipy.special import expit, logit, ndtri

from memberlens.errors import ConfigError
from memberlens.models._base import BaseModel, TransactionModel
from memberlens.models._histories import Histories
from memberlens.parameters import check_number

DEFAULT_LEVEL = 0.9
STEP = 1e-4  # forward differences in the log-parameters
MAX_RANGE_ORDERS = 100_000  # a count range is not searched beyond this many orders


def check_level(level: float, owner: str) -> float:
    return check_number(level, "interval", owner, low=0.0, high=0.999, low_open=True, hint="e.g. --interval 0.9")


def z_score(level: float) -> float:
    """The standard normal quantile of a two-sided interval holding ``level``."""
    return float(ndtri(0.5 + level / 2.0))


def why_no_intervals(*models: BaseModel | None) -> str | None:
    """Why the fitted ``models`` (None: absent, e.g. no spend model) cannot give parameter
    intervals — the first reason — or None when they all can."""
    for model in models:
        if model is None:
            continue
        name = model.title or type(model).__name__
        if getattr(model, "limit_", None) is not None:
            return f"the {name} fit ended at its limit ({model.fit_note_})"
        covariance = getattr(model, "covariance_", None)
        if covariance is None or not np.all(np.isfinite(covariance)):
            return (
                f"the {name} fit has no parameter covariance (a model saved before intervals existed, or "
                "one whose standard errors could not be computed)"
            )
    return None


def log_parameter_covariance(model: BaseModel) -> np.ndarray:
    """The covariance of the fitted log-parameters (delta method from the parameters'), or a
    clear refusal when the fit has none to give."""
    why = why_no_intervals(model)
    if why is not None:
        raise ConfigError(f"no intervals: {why}", "predict without --interval, or refit on more data and save again")
    theta = np.array([model.params_[n] for n in model.param_names], dtype=float)
    return model.covariance_ / np.outer(theta, theta)


def with_params(model: BaseModel, theta: np.ndarray) -> BaseModel:
    """A copy of ``model`` predicting with the parameters ``theta`` (in ``param_names`` order)."""
    other = copy.copy(model)
    other.params_ = dict(zip(model.param_names, map(float, theta), strict=True))
    return other


def delta_standard_errors(
    model: TransactionModel,
    predict: Callable[[TransactionModel], tuple[np.ndarray, ...]],
    values: tuple[np.ndarray, ...],
    scales: tuple[Callable[[np.ndarray], np.ndarray], ...],
) -> tuple[np.ndarray, ...]:
    """The standard errors of ``scale(prediction)`` for each of ``predict(model)``'s predictions
    (``values``: those predictions, which the caller has) from the parameters' uncertainty: the
    gradients in the log-parameters (forward differences of 1e-4: an error of that order in an
    interval's width) through their covariance. One moved model per parameter serves them all."""
    sigma = log_parameter_covariance(model)
    theta = np.array([model.params_[n] for n in model.param_names], dtype=float)
    with np.errstate(divide="ignore", invalid="ignore"):
        bases = [scale(value) for scale, value in zip(scales, values, strict=True)]
        gradients: list[list[np.ndarray]] = [[] for _ in values]
        for j in range(len(theta)):
            moved = theta.copy()
            moved[j] *= np.exp(STEP)
            for k, (scale, prediction) in enumerate(zip(scales, predict(with_params(model, moved)), strict=True)):
                gradients[k].append((scale(prediction) - bases[k]) / STEP)
    errors = []
    for gradient in gradients:
        g = np.stack(gradient, axis=-1)
        with np.errstate(invalid="ignore"):
            errors.append(np.sqrt(np.maximum(np.sum((g @ sigma) * g, axis=-1), 0.0)))
    return tuple(errors)


def _safe_log(values: np.ndarray) -> np.ndarray:
    with np.errstate(divide="ignore"):
        return np.log(values)


def _safe_logit(values: np.ndarray) -> np.ndarray:
    with np.errstate(divide="ignore"):
        return logit(np.clip(values, 0.0, 1.0))


def log_interval(value: np.ndarray, log_se: np.ndarray, level: float) -> tuple[np.ndarray, np.ndarray]:
    """``value · exp(∓ z · se)``: an interval of a positive quantity from its log's standard error
    (a zero or an undefined error gives the value itself)."""
    spread = np.exp(z_score(level) * np.where(np.isfinite(log_se), log_se, 0.0))
    return value / spread, value * spread


def probability_interval(value: np.ndarray, logit_se: np.ndarray, level: float) -> tuple[np.ndarray, np.ndarray]:
    """An interval of a probability from its logit's standard error (a probability of exactly 0
    or 1, which no parameter moves, stays where it is)."""
    centre = _safe_logit(value)
    spread = z_score(level) * np.where(np.isfinite(logit_se), logit_se, 0.0)
    inside = np.isfinite(centre)
    low = np.where(inside, expit(centre - spread), value)
    high = np.where(inside, expit(centre + spread), value)
    return low, high


@dataclass(frozen=True)
class ParameterIntervals:
    """The parameter intervals of expected orders and P(alive), per history."""

    orders_low: np.ndarray
    orders_high: np.ndarray
    orders_log_se: np.ndarray  # the standard error of log expected orders (a CLV interval adds to it)
    alive_low: np.ndarray
    alive_high: np.ndarray


def parameter_intervals(
    model: TransactionModel, histories: Histories, orders: np.ndarray, alive: np.ndarray, t: float, level: float
) -> ParameterIntervals:
    """The parameter intervals of ``orders``, the ``histories``' expected orders in ``t`` periods,
    and of ``alive``, their P(alive)."""

    def predict(m: TransactionModel) -> tuple[np.ndarray, np.ndarray]:
        moved_alive = histories.probability_alive(m)
        return histories.expected_purchases(m, t, moved_alive), moved_alive

    orders_se, alive_se = delta_standard_errors(model, predict, (orders, alive), (_safe_log, _safe_logit))
    orders_low, orders_high = log_interval(orders, orders_se, level)
    alive_low, alive_high = probability_interval(alive, alive_se, level)
    return ParameterIntervals(
        orders_low, orders_high, np.where(np.isfinite(orders_se), orders_se, 0.0), alive_low, alive_high
    )


def order_range(
    model: TransactionModel, t: float, frequency: Any, recency: Any, T: Any, level: float
) -> tuple[np.ndarray, np.ndarray]:
    """The range of a member's own number of orders in the next ``t`` periods (see the module
    docstring): from the count below which ``(1 - level) / 2`` of the probability lies, to the
    count where the probability held is nearest ``level``."""
    histories = Histories.from_arrays(frequency, recency, T)
    return order_range_of(model, histories, histories.probability_alive(model), t, level)


def order_range_of(
    model: TransactionModel, histories: Histories, alive: np.ndarray, t: float, level: float
) -> tuple[np.ndarray, np.ndarray]:
    """:func:`order_range` of ``histories`` whose P(alive) is ``alive``.

    A history's count distribution is ``P(N <= n) = 1 - alive + alive · G(n)``, with ``G`` that of
    a member alive at T, which depends on (frequency, T) alone. So ``G`` is computed once per
    pair, over n = 0, 1, 2 ... until it is far enough for every history of the pair (a range
    ends before ``P(N <= n)`` reaches ``(1 + level) / 2``), and each history's two ends are then
    found by bisection in its pair's ``G``."""
    tail = (1.0 - level) / 2.0
    pair = histories.pair
    most_alive = np.zeros(histories.n_pairs)
    np.maximum.at(most_alive, pair, alive)
    with np.errstate(divide="ignore"):
        enough = 1.0 - tail / most_alive  # G there: P(N <= n) >= (1 + level) / 2 for all the pair's histories
    starts, lengths, flat = _cumulative_by_pair(model, histories, t, enough)
    start, length = starts[pair], lengths[pair]

    def at(rows: np.ndarray, k: np.ndarray) -> np.ndarray:
        """P(N <= k) of the histories ``rows``."""
        return (1.0 - alive[rows]) + alive[rows] * flat[start[rows] + k]

    every = np.arange(len(alive))
    low = _first_reaching(at, length, tail)
    low = np.where(low < length, low, 0)
    below_low = np.where(low > 0, at(every, np.maximum(low - 1, 0)), 0.0)
    target = below_low + level
    high = _first_reaching(at, length, target)
    found = high < length
    last = length - 1
    # the count before holds less than the level; take whichever is nearer (not below low)
    at_high, before_high = at(every, np.minimum(high, last)), at(every, np.clip(high - 1, 0, last))
    nearer_before = found & (high - 1 >= low) & (np.abs(before_high - target) < np.abs(at_high - target))
    high = np.where(found, np.where(nearer_before, high - 1, high), last)
    return low.astype(np.int64), high.astype(np.int64)


def _cumulative_by_pair(
    model: TransactionModel, histories: Histories, t: float, enough: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per (frequency, T) pair, ``G(n) = P(N <= n)`` of a member alive at T for n = 0, 1, ...
    until ``G`` reaches ``enough`` (or is numerically complete, or n passes MAX_RANGE_ORDERS):
    one flat array, each pair's values from ``starts[pair]``, ``lengths[pair]`` of them."""
    size = histories.n_pairs
    cumulative = np.zeros(size)
    lengths = np.zeros(size, dtype=np.int64)
    steps = []
    open_ = np.arange(size)
    counts = model.count_steps_alive(t, histories.pair_x, histories.pair_T)
    n = 0
    while len(open_) and n <= MAX_RANGE_ORDERS:
        cumulative[open_] += counts.next(open_)
        steps.append((open_, cumulative[open_]))
        lengths[open_] += 1
        done = (cumulative[open_] >= enough[open_]) | (cumulative[open_] >= 1.0 - 1e-12)
        open_ = open_[~done]
        n += 1
    starts = np.concatenate([[0], np.cumsum(lengths)[:-1]])
    flat = np.empty(int(lengths.sum()))
    for k, (rows, values) in enumerate(steps):
        flat[starts[rows] + k] = values
    return starts, lengths, flat


def _first_reaching(
    at: Callable[[np.ndarray, np.ndarray], np.ndarray], length: np.ndarray, target: np.ndarray
) -> np.ndarray:
    """Per history, the first k < ``length`` with ``at(rows, k) >= target`` (``at`` nondecreasing
    in k), or ``length`` when there is none: bisection, all histories at once."""
    target = np.broadcast_to(target, length.shape)
    low = np.zeros_like(length)
    high = length.copy()
    rows = np.flatnonzero(low < high)
    high[rows[at(rows, low[rows]) >= target[rows]]] = 0  # most ranges start, many end, at 0
    rows = rows[high[rows] > 0]
    while len(rows):
        middle = (low[rows] + high[rows]) // 2
        reached = at(rows, middle) >= target[rows]
        high[rows[reached]] = middle[reached]
        low[rows[~reached]] = middle[~reached] + 1
        rows = rows[low[rows] < high[rows]]
    return low


def spend_log_standard_error(spend_model: BaseModel, summary: ir.Table) -> ir.FloatingValue:
    """The standard error of log E[spend per order] (Gamma-Gamma), per member in the engine: the
    closed-form gradient of ``log(p(γ + x m) / (p x + q - 1))`` in the log-parameters through
    their covariance."""
    sigma = log_parameter_covariance(spend_model)
    params = spend_model.params_
    p, q, g = params["p"], params["q"], params["gamma"]
    x = summary.frequency.cast("float64")
    m = ibis.ifelse(summary.frequency > 0, summary.monetary_value.cast("float64"), 0.0)
    denominator = p * x + (q - 1.0)
    gradient = [1.0 - p * x / denominator, -q / denominator, g / (g + x * m)]
    variance = sum(
        gradient[i] * gradient[j] * float(sigma[i, j]) for i in range(3) for j in range(3) if sigma[i, j] != 0.0
    )
    return variance.sqrt()


__all__ = [
    "DEFAULT_LEVEL",
    "check_level",
    "ParameterIntervals",
    "log_interval",
    "order_range",
    "order_range_of",
    "parameter_intervals",
    "spend_log_standard_error",
    "why_no_intervals",
    "z_score",
]
