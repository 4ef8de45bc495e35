"""Maximum likelihood on log-parameters, shared by every model.

A model supplies its total log-likelihood and its analytic gradient in the natural parameters
(all positive). Here the parameters are optimised as ``log θ`` with SciPy's L-BFGS-B, standard
errors come from the Hessian of the log-likelihood (differences of the analytic gradient,
inverted), and a fit that fails says why: which parameter ran away (to a bound, or along a ridge
the data cannot resolve), the gradient norm, and what to try. Nothing here returns NaN silently.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass

import numpy as np
from scipy.optimize import minimize

from memberlens.errors import MemberlensError

LogLikelihood = Callable[[np.ndarray], tuple[float, np.ndarray]]

# log-parameters are kept within these bounds; a parameter that ends at one has run away
LOG_BOUND = 23.0  # e^23 ≈ 1e10
# the fit converged when the gradient of the mean log-likelihood per member is below this
GRADIENT_TOLERANCE = 1e-5
# a parameter whose logarithm has a larger standard error is not identified by the data (e^10)
MAX_LOG_SE = 10.0
# an unidentified parameter this far from 1 (e^±10) has run away rather than stopped on a ridge
RUNAWAY_LOG = 10.0


@dataclass(frozen=True)
class Boundary:
    """A parameter that ran to the edge of its space: ``direction`` is ``"infinity"`` or ``"zero"``."""

    parameter: str
    direction: str

    @property
    def value(self) -> float:
        return math.inf if self.direction == "infinity" else 0.0


class ConvergenceError(MemberlensError):
    """A model fit did not converge, or the likelihood became non-finite.

    When a parameter ran away, ``boundary`` names it and where it went, and ``log_likelihood`` is
    the (finite) log-likelihood where the search stopped; a model whose limit there is known
    fits that limit instead (:mod:`memberlens.models._limits`).
    """

    def __init__(
        self,
        message: str,
        hint: str | None = None,
        *,
        boundary: Boundary | None = None,
        log_likelihood: float | None = None,
        model: str | None = None,
    ) -> None:
        # the report says in its own language that ``model`` could not be fitted (the details stay English)
        super().__init__(message, hint, key="cannot.model_fit" if model else None, values={"model": model})
        self.boundary = boundary
        self.log_likelihood = log_likelihood


@contextmanager
def single_threaded_blas() -> Iterator[None]:
    """BLAS on one thread while fitting.

    The fit's linear algebra is tiny (4x4); OpenBLAS threads woken by it spin and take the CPU
    from the vectorised likelihood, doubling fit times on a 2-core machine. threadpoolctl is used
    when installed (scikit-learn brings it); otherwise nothing changes.
    """
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:  # pragma: no cover - optional
        yield
        return
    with threadpool_limits(limits=1, user_api="blas"):
        yield


@dataclass(frozen=True)
class FitOutcome:
    params: np.ndarray
    log_likelihood: float
    standard_errors: np.ndarray
    n_iter: int
    gradient_norm: float
    covariance: np.ndarray | None = None  # of the parameters (the inverse observed information)


def maximise_log_likelihood(
    loglik: LogLikelihood,
    initial: np.ndarray,
    names: Sequence[str],
    *,
    model: str,
    n_members: float,
    penalizer: float = 0.0,
    max_iter: int = 1000,
    tol: float = 1e-15,
    gtol: float = 1e-6,
    hint: str = "",
    standard_errors: bool = True,
) -> FitOutcome:
    """Maximise ``loglik`` over positive parameters, starting from ``initial``.

    The objective is the mean negative log-likelihood per member (plus ``penalizer · Σ (log θ)²``),
    so tolerances do not depend on the number of members.
    """
    names = list(names)
    scale = 1.0 / max(float(n_members), 1.0)

    best = [-math.inf]  # the highest finite log-likelihood the search has seen

    def objective(phi: np.ndarray) -> tuple[float, np.ndarray]:
        theta = np.exp(phi)
        ll, grad = loglik(theta)
        if not np.isfinite(ll) or not np.all(np.isfinite(grad)):
            _raise_non_finite(model, names, theta, ll, grad, hint, best[0])
        best[0] = max(best[0], float(ll))
        value = -ll * scale + penalizer * float(phi @ phi)
        gradient = -(grad * theta) * scale + 2.0 * penalizer * phi
        return value, gradient

    phi0 = np.clip(np.log(np.asarray(initial, dtype=float)), -LOG_BOUND + 1, LOG_BOUND - 1)
    bounds = [(-LOG_BOUND, LOG_BOUND)] * len(names)
    with warnings.catch_warnings(), single_threaded_blas():
        warnings.simplefilter("ignore", RuntimeWarning)
        result = minimize(
            objective,
            phi0,
            jac=True,
            method="L-BFGS-B",
            bounds=bounds,
            options={"maxiter": max_iter, "ftol": tol, "gtol": gtol, "maxcor": 20},
        )
    theta = np.exp(result.x)
    ll, grad = loglik(theta)
    n_iter = int(result.nit)
    _check_bounds(model, names, np.log(theta), theta, _gradient_norm(theta, grad, scale, penalizer), n_iter, hint, ll)
    information = None
    if standard_errors:
        information = observed_information(loglik, theta, gradient=grad, penalizer=penalizer, n_members=n_members)
        theta, ll, grad = _newton_step(loglik, theta, ll, grad, information, penalizer, n_members)
    phi = np.log(theta)
    grad_phi = -(grad * theta) * scale + 2.0 * penalizer * phi
    grad_norm = float(np.linalg.norm(grad_phi))
    _check_bounds(model, names, phi, theta, grad_norm, n_iter, hint, ll)
    _check_gradient(model, names, theta, grad_phi, grad_norm, n_iter, max_iter, hint, ll)
    if information is None:
        return FitOutcome(theta, float(ll), np.full(len(names), np.nan), n_iter, grad_norm)
    _check_identified(model, names, phi, theta, information, grad_norm, n_iter, hint, ll)
    covariance = np.linalg.inv(information)
    return FitOutcome(theta, float(ll), np.sqrt(np.diag(covariance)), n_iter, grad_norm, covariance)


def _gradient_norm(theta: np.ndarray, grad: np.ndarray, scale: float, penalizer: float) -> float:
    return float(np.linalg.norm(-(grad * theta) * scale + 2.0 * penalizer * np.log(theta)))


def _newton_step(
    loglik: LogLikelihood,
    theta: np.ndarray,
    ll: float,
    grad: np.ndarray,
    information: np.ndarray,
    penalizer: float,
    n_members: float,
) -> tuple[np.ndarray, float, np.ndarray]:
    """One Newton step with the observed information (computed anyway for the standard errors):
    L-BFGS-B stops near the maximum, and from there Newton's method converges quadratically, so
    the estimate is exact to rounding for the price of one more gradient. Kept only if the
    (penalised) log-likelihood does not decrease."""

    def objective(t: np.ndarray, value: float) -> float:
        return -value + n_members * penalizer * float(np.log(t) @ np.log(t))

    gradient = -grad + 2.0 * n_members * penalizer * np.log(theta) / theta
    try:
        step = np.linalg.solve(information, -gradient)
    except np.linalg.LinAlgError:
        return theta, ll, grad
    current = objective(theta, ll)
    for fraction in (1.0, 0.5, 0.25):
        candidate = theta + fraction * step
        if np.any(candidate <= 0) or not np.all(np.isfinite(candidate)):
            continue
        new_ll, new_grad = loglik(candidate)
        if np.isfinite(new_ll) and np.all(np.isfinite(new_grad)) and objective(candidate, new_ll) <= current:
            return candidate, float(new_ll), new_grad
    return theta, ll, grad


def _ran_away(
    model: str, name: str, value: float, log_value: float, grad_norm: float, n_iter: int, hint: str, why: str, ll: float
):
    direction = "infinity" if log_value > 0 else "zero"
    return ConvergenceError(
        f"{model} fit did not converge: parameter '{name}' ran away towards {direction} "
        f"({name}={value:.3g}; gradient norm {grad_norm:.3g} after {n_iter} iterations)",
        _hint(hint, why),
        boundary=Boundary(name, direction),
        log_likelihood=float(ll) if math.isfinite(ll) else None,
        model=model,
    )


def _check_bounds(
    model: str,
    names: list[str],
    phi: np.ndarray,
    theta: np.ndarray,
    grad_norm: float,
    n_iter: int,
    hint: str,
    ll: float,
) -> None:
    at_bound = np.abs(phi) >= LOG_BOUND - 1e-6
    if at_bound.any():
        i = int(np.argmax(at_bound))
        raise _ran_away(
            model, names[i], theta[i], phi[i], grad_norm, n_iter, hint, "the data do not identify this parameter", ll
        )


def _check_gradient(
    model: str,
    names: list[str],
    theta: np.ndarray,
    grad_phi: np.ndarray,
    grad_norm: float,
    n_iter: int,
    max_iter: int,
    hint: str,
    ll: float,
) -> None:
    if grad_norm > GRADIENT_TOLERANCE:
        i = int(np.argmax(np.abs(grad_phi)))
        phi = np.log(theta)
        if abs(phi[i]) >= RUNAWAY_LOG and grad_phi[i] * phi[i] < 0:  # far out, and still pulled further
            raise _ran_away(
                model, names[i], theta[i], phi[i], grad_norm, n_iter, hint, "the likelihood still rises that way", ll
            )
        why = f"reached max_iter={max_iter}" if n_iter >= max_iter else "the optimiser stopped early"
        far = int(np.argmax(np.abs(phi)))  # a search stalled far out may be heading for a limit
        heading = Boundary(names[far], "infinity" if phi[far] > 0 else "zero") if abs(phi[far]) >= RUNAWAY_LOG else None
        raise ConvergenceError(
            f"{model} fit did not converge: {why} with gradient norm {grad_norm:.3g} "
            f"(steepest in '{names[i]}'={theta[i]:.4g}; parameters "
            + ", ".join(f"{n}={v:.4g}" for n, v in zip(names, theta))
            + ")",
            _hint(hint, f"raise max_iter (now {max_iter})"),
            boundary=heading,
            log_likelihood=float(ll) if heading is not None and math.isfinite(ll) else None,
            model=model,
        )


def _check_identified(
    model: str,
    names: list[str],
    phi: np.ndarray,
    theta: np.ndarray,
    information: np.ndarray,
    grad_norm: float,
    n_iter: int,
    hint: str,
    ll: float,
) -> None:
    """A parameter whose logarithm has a standard error above ``MAX_LOG_SE`` (or a flat
    likelihood) is not identified: it drifted along a ridge instead of converging."""
    info_phi = information * np.outer(theta, theta)  # in log-parameters (the gradient is ~0 here)
    scale = np.sqrt(np.clip(np.diag(info_phi), 1e-300, None))
    try:
        np.linalg.cholesky(info_phi / np.outer(scale, scale))
        log_se = np.sqrt(np.diag(np.linalg.inv(info_phi)))
        weak = log_se > MAX_LOG_SE
        if not weak.any():
            return
        i = int(np.argmax(np.where(weak, np.abs(phi), -np.inf)))
        detail = f"its logarithm has standard error {log_se[i]:.3g}"
    except np.linalg.LinAlgError:
        values, vectors = np.linalg.eigh(info_phi / np.outer(scale, scale))
        flat = np.abs(vectors[:, 0]) > 0.3  # the parameters along the flattest direction
        i = int(np.argmax(np.where(flat, np.abs(phi), -np.inf)))
        detail = "the likelihood is flat in it"
    if abs(phi[i]) >= RUNAWAY_LOG:
        raise _ran_away(
            model, names[i], theta[i], phi[i], grad_norm, n_iter, hint, f"the data do not identify it ({detail})", ll
        )
    raise ConvergenceError(
        f"{model} fit did not converge: parameter '{names[i]}' is not identified by the data, {detail} "
        f"({names[i]}={theta[i]:.4g}; gradient norm {grad_norm:.3g} after {n_iter} iterations)",
        _hint(hint, "more members or a longer period would pin it down"),
        boundary=Boundary(names[i], "infinity" if phi[i] > 0 else "zero"),  # the way it drifts along the ridge
        log_likelihood=float(ll) if math.isfinite(ll) else None,
        model=model,
    )


def _raise_non_finite(
    model: str, names: list[str], theta: np.ndarray, ll: float, grad: np.ndarray, hint: str, best_ll: float
) -> None:
    """Raise for a non-finite likelihood; when a parameter ran far out on the way there, the error
    names it and carries the best finite log-likelihood seen (a limit must beat it)."""
    bad = [n for n, g in zip(names, grad) if not np.isfinite(g)]
    where = ", ".join(f"{n}={v:.4g}" for n, v in zip(names, theta))
    what = "log-likelihood" if not np.isfinite(ll) else f"gradient in {bad}"
    logs = np.abs(np.log(theta))
    if logs.max() >= RUNAWAY_LOG:
        i = int(np.argmax(logs))
        direction = "infinity" if theta[i] > 1 else "zero"
        raise ConvergenceError(
            f"{model} fit did not converge: parameter '{names[i]}' ran away towards {direction} "
            f"and the {what} is not finite there ({where})",
            _hint(hint, "the data do not identify it"),
            boundary=Boundary(names[i], direction),
            log_likelihood=best_ll if math.isfinite(best_ll) else None,
            model=model,
        )
    raise ConvergenceError(
        f"{model} fit failed: the {what} is not finite at {where}",
        _hint(hint, "check the summary for negative or missing recency/T, or recency > T"),
        model=model,
    )


def _hint(model_hint: str, specific: str) -> str:
    tips = [specific]
    if model_hint:
        tips.append(model_hint)
    tips.append(
        "try memberlens clv fit --penalizer 0.001 (penalizer=0.001 in Python), which shrinks log-parameters "
        "towards 0, or a longer calibration period"
    )
    return "; ".join(tips)


def observed_information(
    loglik: LogLikelihood,
    theta: np.ndarray,
    *,
    gradient: np.ndarray,
    penalizer: float = 0.0,
    n_members: float = 1.0,
) -> np.ndarray:
    """Minus the Hessian of the (penalised) log-likelihood at ``theta``, in the natural parameters.

    Forward differences of the analytic gradient with relative steps of 1e-6, symmetrised. The
    penalty ``n · penalizer · Σ (log θ)²`` is included, so a penalised fit has the standard errors
    of its own objective.
    """
    k = len(theta)
    hessian = np.empty((k, k))
    for j in range(k):
        h = 1e-6 * theta[j]
        up = theta.copy()
        up[j] += h
        hessian[:, j] = (loglik(up)[1] - gradient) / h
    hessian = 0.5 * (hessian + hessian.T)
    penalty = 2.0 * penalizer * n_members * (1.0 - np.log(theta)) / theta**2
    return -hessian + np.diag(penalty)


__all__ = [
    "Boundary",
    "ConvergenceError",
    "FitOutcome",
    "maximise_log_likelihood",
    "observed_information",
    "single_threaded_blas",
]
