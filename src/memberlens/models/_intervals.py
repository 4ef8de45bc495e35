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

import ibis
import ibis.expr.types as ir
import numpy as np
from scipy.special import expit, logit
from scipy.stats import norm

from memberlens.errors import ConfigError
from memberlens.models._base import BaseModel, TransactionModel
from memberlens.parameters import check_number

DEFAULT_LEVEL = 0.9
STEP = 1e-4  # forward differences in the log-parameters
MAX_RANGE_ORDERS = 100_000  # a count range is not searched beyond this many orders


def check_level(level: float, owner: str) -> float:
    return check_number(level, "interval", owner, low=0.0, high=0.999, low_open=True, hint="e.g. --interval 0.9")


def z_score(level: float) -> float:
    """The standard normal quantile of a two-sided interval holding ``level``."""
    return float(norm.ppf(0.5 + level / 2.0))


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


def delta_standard_error(
    model: TransactionModel,
    predict: Callable[[TransactionModel], np.ndarray],
    value: np.ndarray,
    scale: Callable[[np.ndarray], np.ndarray],
) -> np.ndarray:
    """The standard error of ``scale(predict(model))`` (``value``: that prediction, which the
    caller has) from the parameters' uncertainty: its gradient in the log-parameters (forward
    differences of 1e-4: an error of that order in an interval's width) through their covariance."""
    sigma = log_parameter_covariance(model)
    theta = np.array([model.params_[n] for n in model.param_names], dtype=float)
    with np.errstate(divide="ignore", invalid="ignore"):
        base = scale(value)
        gradient = []
        for j in range(len(theta)):
            moved = theta.copy()
            moved[j] *= np.exp(STEP)
            gradient.append((scale(predict(with_params(model, moved))) - base) / STEP)
    g = np.stack(gradient, axis=-1)
    with np.errstate(invalid="ignore"):
        return np.sqrt(np.maximum(np.einsum("...i,ij,...j->...", g, sigma, g), 0.0))


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


def expected_orders_interval(
    model: TransactionModel,
    value: np.ndarray,
    t: float,
    x: np.ndarray,
    t_x: np.ndarray,
    T: np.ndarray,
    level: float,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The parameter interval of ``value``, the expected orders in ``t`` periods, with the
    standard error of their log (which a CLV interval builds on)."""
    se = delta_standard_error(model, lambda m: m.expected_purchases(t, x, t_x, T), value, _safe_log)
    low, high = log_interval(value, se, level)
    return low, high, np.where(np.isfinite(se), se, 0.0)


def probability_alive_interval(
    model: TransactionModel, value: np.ndarray, x: np.ndarray, t_x: np.ndarray, T: np.ndarray, level: float
) -> tuple[np.ndarray, np.ndarray]:
    """The parameter interval of ``value``, P(alive)."""
    se = delta_standard_error(model, lambda m: m.probability_alive(x, t_x, T), value, _safe_logit)
    return probability_interval(value, se, level)


def order_range(
    model: TransactionModel, t: float, x: np.ndarray, t_x: np.ndarray, T: np.ndarray, level: float
) -> tuple[np.ndarray, np.ndarray]:
    """The range of a member's own number of orders in the next ``t`` periods (see the module
    docstring): from the count below which ``(1 - level) / 2`` of the probability lies, to the
    count where the probability held is nearest ``level``. One pass over n = 0, 1, 2 ... for the
    members still open, so the work is the members' counts, not a fixed grid."""
    x, t_x, T = np.broadcast_arrays(*(np.atleast_1d(np.asarray(v, dtype=float)) for v in (x, t_x, T)))
    size = x.shape[0]
    tail = (1.0 - level) / 2.0
    low = np.full(size, -1, dtype=np.int64)
    high = np.full(size, -1, dtype=np.int64)
    below_low = np.zeros(size)  # P(N < low) once low is found
    cdf = np.zeros(size)
    open_ = np.arange(size)
    n = 0
    while len(open_) and n <= MAX_RANGE_ORDERS:
        previous = cdf[open_]
        current = previous + model.probability_of_purchases(n, t, x[open_], t_x[open_], T[open_])
        cdf[open_] = current
        starts = (low[open_] < 0) & (current >= tail)
        low[open_[starts]] = n
        below_low[open_[starts]] = previous[starts]
        target = below_low[open_] + level
        found = (low[open_] >= 0) & (current >= target)
        if found.any():
            rows = open_[found]
            # the count before n holds less than the level; take whichever is nearer (not below low)
            before = (n - 1 >= low[rows]) & (
                np.abs(previous[found] - target[found]) < np.abs(current[found] - target[found])
            )
            high[rows] = np.where(before, n - 1, n)
        # a distribution whose mass stops growing (numerically complete) ends here
        done = found | (current >= 1.0 - 1e-12)
        rest = open_[done & (high[open_] < 0)]
        high[rest] = n
        low[rest] = np.where(low[rest] < 0, 0, low[rest])
        open_ = open_[~done]
        n += 1
    high[open_] = n - 1
    low[open_] = np.where(low[open_] < 0, 0, low[open_])
    return low, high


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
    "expected_orders_interval",
    "log_interval",
    "order_range",
    "probability_alive_interval",
    "spend_log_standard_error",
    "why_no_intervals",
    "z_score",
]
