"""What every model shares: argument validation (:mod:`memberlens.parameters`), compression of the summary, the fit loop, the
fitted attributes, and the per-member predictions joined back in the engine.

The scikit-learn contract: ``__init__`` only stores its arguments; ``fit(summary)`` validates
them, compresses the summary to its distinct combinations with weights (in the engine), fits,
sets the attributes ending in ``_`` and returns ``self``. A model stores no data.
"""

from __future__ import annotations

import functools
import math
import numbers
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, ClassVar

import ibis.expr.types as ir
import numpy as np
import pandas as pd

from memberlens._version import __version__
from memberlens.errors import ConfigError, InputError, MemberlensError
from memberlens.models._combinations import predict_by_combination
from memberlens.models._fitting import (
    RUNAWAY_LOG,
    Boundary,
    ConvergenceError,
    FitOutcome,
    maximise_log_likelihood,
    single_threaded_blas,
)
from memberlens.models._summary import SUMMARY_COLUMNS, WEIGHT, TimeUnit, compress_summary
from memberlens.parameters import check_number

# Above this many distinct combinations a fit starts from a fit on a thinned sample of members.
WARM_START_COMBINATIONS = 50_000
WARM_START_MEMBERS = 50_000
# A limit is taken when its log-likelihood is at least the stopping point's, within this relative
# tolerance: far out, a full likelihood loses digits (ln Γ(q+px) - ln Γ(q) at q ~ 1e8).
LIMIT_TOLERANCE = 1e-7


def _covariance_or_none(covariance: np.ndarray | None) -> list[list[float]] | None:
    """The parameters' covariance as nested lists, or None when there is none to save."""
    if covariance is None or not np.all(np.isfinite(covariance)):
        return None
    return [[float(v) for v in row] for row in covariance]


def _finite_or_none(value: float) -> float | None:
    return float(value) if math.isfinite(value) else None


# -- the distinct combinations a likelihood runs over ---------------------------------------------
@dataclass(frozen=True)
class PairIndex:
    """Distinct ``(frequency, y)`` pairs of a set of combinations (``y`` is recency or T)."""

    code: np.ndarray  # per combination: its pair
    x_code: np.ndarray  # per pair: index into ``Combos.x_values``
    y: np.ndarray  # per pair: the recency or T value

    @property
    def size(self) -> int:
        return len(self.x_code)


@dataclass(frozen=True)
class Combos:
    """Distinct (frequency, recency, T) combinations and how many members share each.

    Likelihood terms that depend on frequency alone are computed once per distinct frequency,
    terms that depend on (frequency, T) or (frequency, recency) once per distinct pair, and only
    what couples all three runs per combination.
    """

    x: np.ndarray
    t_x: np.ndarray
    T: np.ndarray
    weight: np.ndarray
    x_values: np.ndarray
    x_code: np.ndarray
    by_T: PairIndex
    by_t_x: PairIndex
    weight_x: np.ndarray  # members per distinct frequency

    @classmethod
    def from_arrays(cls, x: Any, t_x: Any, T: Any, weight: Any = None) -> Combos:
        x = np.asarray(x, dtype=np.int64).ravel()
        t_x = np.asarray(t_x, dtype=float).ravel()
        T = np.asarray(T, dtype=float).ravel()
        weight = np.ones(len(x)) if weight is None else np.asarray(weight, dtype=float).ravel()
        x_code, x_values = pd.factorize(x, sort=True)
        weight_x = np.bincount(x_code, weight, len(x_values))
        return cls(
            x, t_x, T, weight, x_values.astype(float), x_code, pair_index(x_code, T), pair_index(x_code, t_x), weight_x
        )

    @property
    def n_members(self) -> float:
        return float(self.weight.sum())


def dot(a: np.ndarray, b: np.ndarray) -> float:
    """``a · b`` for 1-D arrays without BLAS (whose threads slow small products on a busy machine)."""
    return float(np.einsum("i,i->", a, b))


def matvec(m: np.ndarray, v: np.ndarray) -> np.ndarray:
    return np.einsum("ij,j->i", m, v)


def pair_index(x_code: np.ndarray, y: np.ndarray) -> PairIndex:
    """The distinct ``(frequency, y)`` pairs of rows with frequency codes ``x_code``."""
    y_code, y_values = pd.factorize(y, sort=False)
    key = x_code.astype(np.int64) * max(len(y_values), 1) + y_code
    code, keys = pd.factorize(key, sort=False)
    n = max(len(y_values), 1)
    return PairIndex(code=code, x_code=(keys // n).astype(np.int64), y=np.asarray(y_values, dtype=float)[keys % n])


def check_transaction_summary(frame: pd.DataFrame, owner: str, *, discrete: bool = False) -> None:
    """Frequency a non-negative integer, 0 <= recency <= T, recency 0 for one-time buyers."""
    x, t_x, T = (frame[c].to_numpy(dtype=float) for c in SUMMARY_COLUMNS)
    w = frame[WEIGHT].to_numpy(dtype=float)
    checks = [
        (~np.isfinite(x) | ~np.isfinite(t_x) | ~np.isfinite(T), "missing or non-finite frequency/recency/T"),
        ((x < 0) | (x != np.floor(x)), "frequency that is not a non-negative integer"),
        ((t_x < 0) | (T < 0), "negative recency or T"),
        (t_x > T * (1 + 1e-12), "recency greater than T"),
        ((x == 0) & (t_x != 0), "recency other than 0 for frequency 0"),
        ((x > 0) & (t_x <= 0), "recency 0 with repeat purchases"),
        (~np.isfinite(w) | (w < 0), "a negative or missing weight"),
    ]
    if discrete:
        checks += [
            ((t_x != np.floor(t_x)) | (T != np.floor(T)), "recency or periods that are not whole periods"),
            (x > t_x, "frequency greater than recency (BG/BB counts at most one purchase per period)"),
        ]
    for bad, what in checks:
        if bad.any():
            i = int(np.argmax(bad))
            raise InputError(
                f"{owner}: {int(w[bad].sum()) if np.isfinite(w[bad]).all() else int(bad.sum())} member(s) with "
                f"{what}, e.g. frequency={x[i]:g}, recency={t_x[i]:g}, T={T[i]:g}",
                "build the summary with summarise_purchases(orders"
                + (", discrete=True" if discrete else "")
                + ") or check your own frequency/recency/T columns",
            )
    if w.sum() <= 0:
        raise InputError(f"{owner}: the summary has no members", "ingest orders first")


# -- the base model -------------------------------------------------------------------------------
class BaseModel:
    """Shared scikit-learn style machinery. Subclasses define the parameters and the likelihood."""

    param_names: ClassVar[tuple[str, ...]] = ()
    model_name: ClassVar[str] = ""  # the CLI / JSON name, e.g. "bg-nbd"
    title: ClassVar[str] = ""  # the name people read, e.g. "BG/NBD"
    paper: ClassVar[str] = ""
    columns: ClassVar[tuple[str, ...]] = SUMMARY_COLUMNS
    discrete: ClassVar[bool] = False
    fit_hint: ClassVar[str] = ""
    # the models this one may become when a parameter in `boundaries` runs away (models/_limits.py)
    limit_models: ClassVar[tuple[Any, ...]] = ()
    boundaries: ClassVar[frozenset[tuple[str, str]]] = frozenset()

    def __init__(self, *, time_unit: str = "W", penalizer: float = 0.0, max_iter: int = 1000) -> None:
        self.time_unit = time_unit
        self.penalizer = penalizer
        self.max_iter = max_iter

    # -- parameters ---------------------------------------------------------------------------
    def get_params(self) -> dict[str, Any]:
        return {"time_unit": self.time_unit, "penalizer": self.penalizer, "max_iter": self.max_iter}

    def _validate_params(self) -> TimeUnit:
        owner = type(self).__name__
        check_number(self.penalizer, "penalizer", owner, low=0.0)
        check_number(self.max_iter, "max_iter", owner, low=1, integer=True)
        try:
            return TimeUnit.parse(self.time_unit)
        except ConfigError as exc:
            raise ConfigError(exc.message.replace("parameter", f"parameter of {owner}", 1), exc.hint) from None

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self.get_params().items())
        return f"{type(self).__name__}({args})"

    # -- fitting ------------------------------------------------------------------------------
    def fit(self, summary: ir.Table | pd.DataFrame) -> BaseModel:
        """Fit by maximum likelihood on the distinct combinations of the summary, with weights.

        Parameters
        ----------
        summary
            An Ibis table (any engine) or a pandas frame with the model's columns (by default
            ``frequency``, ``recency``, ``T``), one row per member, or already compressed with a
            ``weight`` column. :func:`summarise_purchases` builds it from orders.

        Returns
        -------
        self
        """
        return self.fit_distinct(self._compress(summary))

    def fit_distinct(self, frame: pd.DataFrame) -> BaseModel:
        """:meth:`fit` on ``frame`` as :func:`compress_summary` gives it (the distinct
        combinations of the model's columns with ``weight``, sorted), without grouping it again:
        for a caller who needs the combinations for more than the fit."""
        self._validate_params()
        self._check_frame(frame)
        with single_threaded_blas():
            data = self._prepare(frame)
            initial = self._initial(data)
            if len(frame) > WARM_START_COMBINATIONS:
                initial = self._warm_start(frame, initial)
            try:
                outcome = self._maximise(lambda theta: self._loglik(theta, data), initial, self.param_names, frame)
            except ConvergenceError as exc:
                limit = self._fit_limit(exc, data, frame)
                if limit is None:
                    raise
                self._set_limit(*limit, frame)
                return self
        far = self._far_boundary(outcome.params)
        if far is not None:  # converged, but so far out that the limit is the same fit in closed form
            near = ConvergenceError("", boundary=far, log_likelihood=outcome.log_likelihood)
            limit = self._fit_limit(near, data, frame)
            if limit is not None:
                self._set_limit(*limit, frame)
                return self
        self._set_fitted(outcome, frame)
        return self

    def _far_boundary(self, params: np.ndarray) -> Boundary | None:
        """The first parameter beyond e^±RUNAWAY_LOG towards one of this model's boundaries."""
        for name, value in zip(self.param_names, params):
            log_value = math.log(value)
            boundary = Boundary(name, "infinity" if log_value > 0 else "zero")
            if abs(log_value) >= RUNAWAY_LOG and (boundary.parameter, boundary.direction) in self.boundaries:
                return boundary
        return None

    def _fit_limit(
        self, exc: ConvergenceError, data: Any, frame: pd.DataFrame
    ) -> tuple[Any, dict, FitOutcome, Boundary] | None:
        """The best of the limiting models when ``exc`` says a parameter ran to one of this
        model's ``boundaries``, if it fits at least as well as where the search stopped; else
        None (a real failure, raised as it was)."""
        first = exc.boundary
        if first is None or exc.log_likelihood is None or (first.parameter, first.direction) not in self.boundaries:
            return None
        fits = [fit for cls in self.limit_models if (fit := self._fit_limit_model(cls, data, frame)) is not None]
        if not fits:
            return None
        limit, errors, outcome = max(fits, key=lambda fit: fit[2].log_likelihood)
        stopped = exc.log_likelihood
        if outcome.log_likelihood < stopped - LIMIT_TOLERANCE * max(1.0, abs(stopped)):
            return None  # an interior point fits better: the search failed, the limit is not the answer
        return limit, errors, outcome, first

    def _fit_limit_model(self, limit_cls: Any, data: Any, frame: pd.DataFrame) -> tuple[Any, dict, FitOutcome] | None:
        """``limit_cls`` fitted, or the limit it runs to in turn (NBD -> Poisson); None if neither fits."""
        while True:
            try:
                outcome = self._maximise(
                    lambda theta, cls=limit_cls: cls.loglik(theta, data),
                    limit_cls.initial(data),
                    limit_cls.param_names,
                    frame,
                    model=f"{type(self).__name__} at its limit, {limit_cls.title}",
                )
            except ConvergenceError as inner:
                b = inner.boundary
                if limit_cls.limit_model is None or b is None or (b.parameter, b.direction) not in limit_cls.boundaries:
                    return None
                limit_cls = limit_cls.limit_model
                continue
            limit, errors = limit_cls.from_fit(outcome.params, outcome.standard_errors)
            return limit, errors, outcome

    def _set_limit(
        self, limit: Any, errors: dict, outcome: FitOutcome, boundary: Boundary, frame: pd.DataFrame
    ) -> None:
        # what the parameters read at the limit: the limit's own, those that ran away at their
        # boundary, NaN for the rest (not identified there)
        shared = {**limit.params, boundary.parameter: boundary.value, **limit.full_values}
        self._set_fitted(outcome, frame)
        self.params_ = {name: float(shared.get(name, math.nan)) for name in self.param_names}
        self.standard_errors_ = {name: errors.get(name, math.nan) for name in self.param_names}
        self.covariance_ = None  # the limit has other parameters: no intervals from this fit
        self.limit_, self.boundary_ = limit, boundary

    @property
    def fit_note_(self) -> str | None:
        """One line when the fit ended at a boundary of the parameter space (else None)."""
        self._check_fitted()
        if self.limit_ is None:
            return None
        b = self.boundary_
        return (
            f"{type(self).__name__}: the likelihood is highest at the edge of the parameter space "
            f"({b.parameter} towards {b.direction}); using the limit there, {self.limit_.title} ({self.limit_.describe()})"
        )

    def _maximise(
        self,
        loglik: Any,
        initial: np.ndarray,
        names: Sequence[str],
        frame: pd.DataFrame,
        *,
        model: str | None = None,
        **options: Any,
    ) -> FitOutcome:
        """:func:`maximise_log_likelihood` with this model's settings, over the members of ``frame``."""
        return maximise_log_likelihood(
            loglik,
            initial,
            names,
            model=model or type(self).__name__,
            n_members=float(frame[WEIGHT].sum()),
            penalizer=float(self.penalizer),
            max_iter=int(self.max_iter),
            hint=self.fit_hint,
            **options,
        )

    def _warm_start(self, frame: pd.DataFrame, initial: np.ndarray) -> np.ndarray:
        """Starting values from a fit on a random thinning of the members (about
        ``WARM_START_MEMBERS``), so the fit on all combinations needs few iterations. The answer
        is the full data's maximum either way; this only changes where the search starts."""
        weight = frame[WEIGHT].to_numpy(dtype=float)
        share = WARM_START_MEMBERS / weight.sum()
        if share >= 0.5:
            return initial
        thinned = np.random.default_rng(0).binomial(np.round(weight).astype(np.int64), share)
        sample = frame.assign(**{WEIGHT: thinned.astype(float)})
        sample = sample[sample[WEIGHT] > 0].reset_index(drop=True)
        sample_data = self._prepare(sample)
        try:
            outcome = self._maximise(
                lambda theta: self._loglik(theta, sample_data),
                initial,
                self.param_names,
                sample,
                gtol=1e-5,
                standard_errors=False,
            )
        except MemberlensError:
            return initial  # the full fit will say what is wrong, if anything
        return outcome.params

    def _compress(self, summary: ir.Table | pd.DataFrame) -> pd.DataFrame:
        return compress_summary(summary, self.columns)

    def _check_frame(self, frame: pd.DataFrame) -> None:
        check_transaction_summary(frame, type(self).__name__, discrete=self.discrete)

    def _set_fitted(self, outcome: FitOutcome, frame: pd.DataFrame) -> None:
        self.params_ = dict(zip(self.param_names, (float(v) for v in outcome.params), strict=False))
        self.standard_errors_ = dict(zip(self.param_names, (float(v) for v in outcome.standard_errors), strict=False))
        self.covariance_ = outcome.covariance
        self.log_likelihood_ = float(outcome.log_likelihood)
        self.n_members_ = int(round(float(frame[WEIGHT].sum())))
        self.n_combinations_ = int(len(frame))
        self.n_iter_ = outcome.n_iter
        self.gradient_norm_ = outcome.gradient_norm
        self.limit_ = None
        self.boundary_ = None

    @property
    def is_fitted(self) -> bool:
        return hasattr(self, "params_")

    def _check_fitted(self) -> dict[str, float]:
        if not self.is_fitted:
            raise ConfigError(
                f"This {type(self).__name__} instance is not fitted yet.",
                "call fit(summary) first, or load a fitted model with load_model(path)",
            )
        return self.params_

    @property
    def bic_(self) -> float:
        """Bayesian information criterion: ``k ln N - 2 LL`` (N members)."""
        self._check_fitted()
        return len(self.param_names) * math.log(max(self.n_members_, 1)) - 2 * self.log_likelihood_

    @property
    def aic_(self) -> float:
        self._check_fitted()
        return 2 * len(self.param_names) - 2 * self.log_likelihood_

    def log_likelihood(self, summary: ir.Table | pd.DataFrame) -> float:
        """Log-likelihood of ``summary`` at the fitted parameters."""
        params = self._check_fitted()
        frame = self._compress(summary)
        self._check_frame(frame)
        ll, _ = self._loglik(np.array([params[n] for n in self.param_names]), self._prepare(frame))
        return float(ll)

    def parameter_table(self) -> pd.DataFrame:
        """Parameters with standard errors and 95 % Wald intervals."""
        params = self._check_fitted()
        rows = []
        for name in self.param_names:
            se = self.standard_errors_[name]
            rows.append(
                {
                    "parameter": name,
                    "estimate": params[name],
                    "std_error": se,
                    "lower_95": params[name] - 1.96 * se,
                    "upper_95": params[name] + 1.96 * se,
                }
            )
        return pd.DataFrame(rows)

    # -- what a subclass implements -----------------------------------------------------------
    def _prepare(self, frame: pd.DataFrame) -> Any:
        raise NotImplementedError

    def _initial(self, data: Any) -> np.ndarray:
        raise NotImplementedError

    def _loglik(self, theta: np.ndarray, data: Any) -> tuple[float, np.ndarray]:
        raise NotImplementedError

    def _predict_frame(self, frame: pd.DataFrame, **options: Any) -> pd.DataFrame:
        """Predictions for distinct combinations (the key columns are in ``frame``)."""
        raise NotImplementedError

    # -- per-member predictions ---------------------------------------------------------------
    def predict(self, summary: ir.Table | pd.DataFrame, **options: Any) -> ir.Table | pd.DataFrame:
        """One row per member: ``customer_id`` (when present) and the model's predictions.

        Computed once per distinct combination of the model's columns and joined back to the
        members in the engine (an Ibis table in gives an Ibis table out; pandas gives pandas).
        """
        self._check_fitted()
        return predict_by_combination(summary, self.columns, lambda f: self._predict_frame(f, **options))

    # -- persistence --------------------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        """The fitted model as a JSON-ready dict: no data, only what predictions need and
        provenance (:func:`memberlens.models.load_model` reads it back)."""
        self._check_fitted()
        out: dict[str, Any] = {
            "model": self.model_name,
            "class": type(self).__name__,
            "paper": self.paper,
            "memberlens_version": __version__,
            "time_unit": str(self.time_unit),
            "settings": {"penalizer": self.penalizer, "max_iter": self.max_iter},
            "params": {k: _finite_or_none(v) for k, v in self.params_.items()},
            "standard_errors": {k: _finite_or_none(v) for k, v in self.standard_errors_.items()},
            "covariance": _covariance_or_none(getattr(self, "covariance_", None)),
            "log_likelihood": self.log_likelihood_,
            "n_members": self.n_members_,
            "n_combinations": self.n_combinations_,
        }
        if hasattr(self, "frequency_spend_correlation_"):
            out["frequency_spend_correlation"] = self.frequency_spend_correlation_
        if getattr(self, "limit_", None) is not None:  # fitted at a boundary: predictions come from the limit
            out["limit"] = {
                "model": self.limit_.name,
                "params": dict(self.limit_.params),
                "boundary": {"parameter": self.boundary_.parameter, "direction": self.boundary_.direction},
            }
        return out


class PurchasePredictions:
    """A buy-till-you-die model's predictions, from two parts: P(alive at T | history), and what
    a member who is alive at T does next. The second depends on the history only through
    frequency and T (the purchase and dropout processes forget when the purchases were), so it is
    computed once per distinct (frequency, T) pair — a million members hold tens of thousands —
    while only P(alive) is needed per (frequency, recency, T) history
    (:class:`memberlens.models._histories.Histories`). The full models and their limits
    (:mod:`memberlens.models._limits`) implement the parts; the predictions below combine them."""

    def probability_alive(self, frequency: Any, recency: Any, T: Any) -> np.ndarray:
        """P(the member is still alive at ``T``) given their history."""
        raise NotImplementedError

    def expected_purchases_alive(self, t: Any, frequency: Any, T: Any) -> np.ndarray:
        """Expected purchases in ``(T, T + t]`` of a member alive at ``T``."""
        raise NotImplementedError

    def probability_of_purchases_alive(self, n: int, t: Any, frequency: Any, T: Any) -> np.ndarray:
        """P(exactly ``n`` purchases in ``(T, T + t]``) for a member alive at ``T``."""
        raise NotImplementedError

    def count_steps_alive(self, t: Any, frequency: Any, T: Any) -> CountSteps:
        """P(N = 0), P(N = 1), ... in ``(T, T + t]`` for members alive at ``T``, one count at a
        time (:class:`CountSteps`; a model with a recurrence in n steps faster)."""
        return CountSteps(self, t, frequency, T)

    def wait_alive(self, share: float, frequency: Any, recency: Any, T: Any) -> np.ndarray:
        """For a member who stays alive, the wait by which the next purchase has happened with
        probability ``share`` (NaN where the model has no continuous clock)."""
        return np.full(np.broadcast(np.asarray(frequency), np.asarray(T)).shape, np.nan)

    def expected_purchases(self, t: Any, frequency: Any = 0, recency: Any = 0, T: Any = 0) -> np.ndarray:
        """Expected purchases in ``(T, T + t]`` given the history (a new member: all zero)."""
        return self.probability_alive(frequency, recency, T) * self.expected_purchases_alive(t, frequency, T)

    def probability_of_purchases(self, n: int, t: Any, frequency: Any = 0, recency: Any = 0, T: Any = 0) -> np.ndarray:
        """P(exactly ``n`` purchases in ``(T, T + t]``) given the history: a member who has
        dropped out buys nothing."""
        n = check_count(n, type(self).__name__)
        alive = self.probability_alive(frequency, recency, T)
        return with_dropouts(n, alive, self.probability_of_purchases_alive(n, t, frequency, T))


def with_dropouts(n: int, alive: np.ndarray, given_alive: np.ndarray) -> np.ndarray:
    """P(exactly ``n`` purchases) of members alive with probability ``alive``, from that of a
    member alive (``given_alive``): a member who has dropped out buys nothing."""
    value = alive * given_alive
    return value + (1.0 - alive) if n == 0 else value


class CountSteps:
    """The count distribution of members alive at T, one n at a time: each :meth:`next` gives
    P(N = n) for the rows asked (a subset that only shrinks) and moves on to n + 1. This one
    evaluates :meth:`PurchasePredictions.probability_of_purchases_alive` afresh for each n."""

    def __init__(self, model: PurchasePredictions, t: Any, frequency: Any, T: Any) -> None:
        self.model, self.t = model, t
        self.x, self.T = np.broadcast_arrays(
            np.atleast_1d(np.asarray(frequency, dtype=float)), np.atleast_1d(np.asarray(T, dtype=float))
        )
        self.n = 0

    def next(self, rows: np.ndarray) -> np.ndarray:
        value = self.model.probability_of_purchases_alive(self.n, self.t, self.x[rows], self.T[rows])
        self.n += 1
        return value


class TransactionModel(PurchasePredictions, BaseModel):
    """A buy-till-you-die purchase model: P(alive), expected purchases, P(n purchases)."""

    def median_wait_alive(self, frequency: Any, recency: Any, T: Any) -> np.ndarray:
        """The wait after which the next purchase is as likely as not to have happened."""
        return self.wait_alive(0.5, frequency, recency, T)

    def _predict_frame(self, frame: pd.DataFrame, *, t: float = 1.0) -> pd.DataFrame:
        t = check_number(t, "t", type(self).__name__, low=0.0)
        x, t_x, T = (frame[c].to_numpy(dtype=float) for c in SUMMARY_COLUMNS)
        p0 = self.probability_of_purchases(0, t, x, t_x, T)
        return pd.DataFrame(
            {
                "probability_alive": self.probability_alive(x, t_x, T),
                "expected_purchases": self.expected_purchases(t, x, t_x, T),
                "probability_any_purchase": 1.0 - p0,
            }
        )

    def _arrays(self, frequency: Any, recency: Any, T: Any) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        self._check_fitted()
        x, t_x, T = np.broadcast_arrays(
            np.asarray(frequency, dtype=float), np.asarray(recency, dtype=float), np.asarray(T, dtype=float)
        )
        return x, t_x, T

    def _pair_arrays(self, frequency: Any, T: Any) -> tuple[np.ndarray, np.ndarray]:
        self._check_fitted()
        x, T = np.broadcast_arrays(np.asarray(frequency, dtype=float), np.asarray(T, dtype=float))
        return x, T


def limit_aware(method):
    """A prediction method that the limiting model answers when the fit ended at a boundary
    (``limit_`` set: see :meth:`BaseModel._fit_limit`); the limit has the same signature."""

    @functools.wraps(method)
    def wrapper(self, *args: Any, **kwargs: Any):
        limit = getattr(self, "limit_", None)
        if limit is None:
            return method(self, *args, **kwargs)
        self._check_fitted()
        return getattr(limit, method.__name__)(*args, **kwargs)

    return wrapper


def check_count(n: Any, owner: str) -> int:
    return int(check_number(n, "n", owner, low=0, integer=True))


def as_sequence(values: float | Sequence[float]) -> list[float]:
    return [values] if isinstance(values, numbers.Real) else list(values)


__all__ = [
    "BaseModel",
    "Combos",
    "CountSteps",
    "PairIndex",
    "PurchasePredictions",
    "TransactionModel",
    "check_transaction_summary",
    "dot",
    "limit_aware",
    "matvec",
    "pair_index",
    "with_dropouts",
]
