"""The models a fit reaches at the edge of its parameter space.

When no member in the data is seen to drop out, the likelihood of BG/NBD and MBG/NBD keeps
rising as ``b → ∞`` (or ``a → 0``), and that of Pareto/NBD as ``s → 0`` (or ``β → ∞``): the
dropout probability (rate) goes to 0 and each model becomes the NBD model — Poisson purchases with
``λ ~ Gamma(r, α)`` and nobody leaving (Ehrenberg 1959; Fader & Hardie's notes). When every
member's mean spend is alike, Gamma-Gamma's ``q`` and ``γ`` grow together (``γ/q → 1/ν``) and it
becomes one spend distribution for everyone: a mean of ``x`` spends is ``Gamma(px, νx)``.

Such a maximum is an answer, not a failure: the fit reports the limit (the parameter at its
boundary, the limiting model's parameters and log-likelihood, which is the supremum of the full
model's) and predictions come from the limiting model in closed form. The log-likelihoods here are
the full models' in the limit, with the same constants, so the two can be compared.
"""

from __future__ import annotations

import math
from typing import Any, ClassVar

import ibis
import ibis.expr.types as ir
import numpy as np
from scipy.special import betainc, digamma, expit, gammainc, gammaln, logsumexp, roots_legendre

from memberlens.models._base import Combos, PurchasePredictions, check_count, dot
from memberlens.models._counts import nbinom_pmf, poisson_pmf


class LimitModel:
    """A limiting model: its parameters, log-likelihood with gradient, and what the full model
    shows in its place."""

    name: ClassVar[str] = ""
    title: ClassVar[str] = ""
    param_names: ClassVar[tuple[str, ...]] = ()
    # a limit has limits of its own: the model it becomes when one of `boundaries` runs away
    limit_model: ClassVar[type[LimitModel] | None] = None
    boundaries: ClassVar[frozenset[tuple[str, str]]] = frozenset()
    # the full model's parameters that this limit sends to infinity
    full_values: ClassVar[dict[str, float]] = {}

    def __init__(self, params: dict[str, float]) -> None:
        self.params = {k: float(params[k]) for k in self.param_names}

    @classmethod
    def from_fit(cls, theta: np.ndarray, standard_errors: np.ndarray) -> tuple[LimitModel, dict[str, float]]:
        """The model at the fitted ``theta`` (the optimiser's positive parameters) and its
        parameters' standard errors."""
        return cls(dict(zip(cls.param_names, map(float, theta)))), dict(
            zip(cls.param_names, map(float, standard_errors))
        )

    @staticmethod
    def initial(data: Any) -> np.ndarray:
        raise NotImplementedError

    @staticmethod
    def loglik(theta: np.ndarray, data: Any) -> tuple[float, np.ndarray]:
        raise NotImplementedError

    def describe(self) -> str:
        return ", ".join(f"{k}={v:.4g}" for k, v in self.params.items())


class NoDropout(PurchasePredictions, LimitModel):
    """NBD: Poisson purchases with ``λ ~ Gamma(r, α)``, and every member stays a customer."""

    name = "nbd"
    title = "NBD: no dropout"
    param_names = ("r", "alpha")
    # members alike in their purchase rate: r and alpha grow together, r/alpha -> lambda
    boundaries = frozenset({("r", "infinity"), ("alpha", "infinity")})

    @staticmethod
    def initial(data: Any) -> np.ndarray:
        c: Combos = data.combos
        rate = max(float(c.weight @ c.x) / max(float(c.weight @ c.T), 1e-9), 1e-6)
        return np.array([1.0, 1.0 / rate])

    @staticmethod
    def loglik(theta: np.ndarray, data: Any) -> tuple[float, np.ndarray]:
        """``Σ w [ln Γ(r+x) - ln Γ(r) + r ln α - (r+x) ln(α+T)]`` and its gradient."""
        r, alpha = (float(v) for v in theta)
        c: Combos = data.combos
        xv = c.x_values
        pT = c.by_T
        const = gammaln(r + xv) - gammaln(r) + r * np.log(alpha)
        S = np.bincount(pT.code, c.weight, pT.size)  # members per distinct (x, T)
        rx = r + xv[pT.x_code]
        log_aT = np.log(alpha + pT.y)
        ll = dot(c.weight_x, const) - dot(S, rx * log_aT)
        g_r = dot(c.weight_x, digamma(r + xv) - digamma(r) + np.log(alpha)) - dot(S, log_aT)
        g_alpha = c.n_members * r / alpha - dot(S, rx / (alpha + pT.y))
        return ll, np.array([g_r, g_alpha])

    # -- predictions, with the signatures of TransactionModel's -----------------------------------
    def _posterior(self, frequency: Any, T: Any) -> tuple[np.ndarray, np.ndarray]:
        x, T = np.broadcast_arrays(np.asarray(frequency, dtype=float), np.asarray(T, dtype=float))
        return self.params["r"] + x, self.params["alpha"] + T

    def probability_alive(self, frequency: Any, recency: Any, T: Any) -> np.ndarray:
        x, t_x, T = np.broadcast_arrays(*(np.asarray(v, dtype=float) for v in (frequency, recency, T)))
        return np.ones(x.shape)

    def expected_purchases_alive(self, t: Any, frequency: Any, T: Any) -> np.ndarray:
        """``(r+x) t / (α+T)``: the posterior mean rate times the horizon."""
        r_post, a_post = self._posterior(frequency, T)
        return r_post * np.asarray(t, dtype=float) / a_post

    def probability_of_purchases_alive(self, n: int, t: Any, frequency: Any, T: Any) -> np.ndarray:
        """Negative binomial: ``NB(n; r+x, (α+T)/(α+T+t))``."""
        n = check_count(n, "NoDropout")
        r_post, a_post = self._posterior(frequency, T)
        return nbinom_pmf(n, r_post, a_post / (a_post + np.asarray(t, dtype=float)))

    def wait_alive(self, share: float, frequency: Any, recency: Any, T: Any) -> np.ndarray:
        r_post, a_post = self._posterior(frequency, T)
        return poisson_gamma_wait(share, r_post, a_post)


class SameRateNoDropout(PurchasePredictions, LimitModel):
    """Poisson purchases at one rate ``λ`` for every member, nobody leaving: the NBD's limit as
    ``r, α → ∞`` with ``r/α → λ`` (purchase counts less dispersed than a Gamma mixture allows).
    Its maximum is closed-form, ``λ = Σx / ΣT``."""

    name = "poisson"
    title = "Poisson: one purchase rate for all members, no dropout"
    param_names = ("lambda",)
    full_values = {"r": math.inf, "alpha": math.inf}

    @staticmethod
    def initial(data: Any) -> np.ndarray:
        c: Combos = data.combos
        return np.array([max(float(c.weight @ c.x) / max(float(c.weight @ c.T), 1e-12), 1e-12)])

    @staticmethod
    def loglik(theta: np.ndarray, data: Any) -> tuple[float, np.ndarray]:
        """``Σ w [x ln λ - λ T]`` (the NBD's constants in the limit) and its gradient."""
        lam = float(theta[0])
        c: Combos = data.combos
        wx, wT = float(c.weight @ c.x), float(c.weight @ c.T)
        return wx * np.log(lam) - lam * wT, np.array([wx / lam - wT])

    def _shape(self, frequency: Any, T: Any) -> tuple[int, ...]:
        return np.broadcast(np.asarray(frequency, dtype=float), np.asarray(T, dtype=float)).shape

    def probability_alive(self, frequency: Any, recency: Any, T: Any) -> np.ndarray:
        return np.ones(np.broadcast(*(np.asarray(v, dtype=float) for v in (frequency, recency, T))).shape)

    def expected_purchases_alive(self, t: Any, frequency: Any, T: Any) -> np.ndarray:
        return np.broadcast_to(self.params["lambda"] * np.asarray(t, dtype=float), self._shape(frequency, T)).copy()

    def probability_of_purchases_alive(self, n: int, t: Any, frequency: Any, T: Any) -> np.ndarray:
        n = check_count(n, "SameRateNoDropout")
        mean = np.broadcast_to(self.params["lambda"] * np.asarray(t, dtype=float), self._shape(frequency, T))
        return poisson_pmf(n, mean)

    def wait_alive(self, share: float, frequency: Any, recency: Any, T: Any) -> np.ndarray:
        return np.full(self._shape(frequency, T), -np.log1p(-share) / self.params["lambda"])


NoDropout.limit_model = SameRateNoDropout


class SameDropout(PurchasePredictions, LimitModel):
    """BG/NBD with one dropout probability ``p`` for every member: the limit as ``a, b → ∞``
    with ``a/(a+b) → p`` (members alike in how likely they are to leave after a purchase)::

        L = Γ(r+x) α^r / Γ(r) · [(1-p)^x (α+T)^-(r+x) + δ(x>0) p (1-p)^(x-1) (α+t_x)^-(r+x)]

    (MBG/NBD: ``(1-p)^(x+1)`` and ``p (1-p)^x`` for every member). Fitted in the odds
    ``p/(1-p)``, which are positive like the optimiser's other parameters."""

    name = "bg-same-dropout"
    title = "BG/NBD with one dropout probability for all members"
    param_names = ("r", "alpha", "p")
    full_values = {"a": math.inf, "b": math.inf}
    modified: ClassVar[bool] = False

    @classmethod
    def from_fit(cls, theta: np.ndarray, standard_errors: np.ndarray) -> tuple[LimitModel, dict[str, float]]:
        r, alpha, odds = map(float, theta)
        p = odds / (1.0 + odds)
        se = [float(standard_errors[0]), float(standard_errors[1]), float(standard_errors[2]) * (1.0 - p) ** 2]
        return cls({"r": r, "alpha": alpha, "p": p}), dict(zip(cls.param_names, se))

    @staticmethod
    def initial(data: Any) -> np.ndarray:
        return np.append(NoDropout.initial(data), 0.2)

    @classmethod
    def _exponents(cls, x: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Powers of (1-p) in the alive and the dropped-out terms, and where the latter exists."""
        if cls.modified:
            return x + 1.0, x, np.ones_like(x, dtype=bool)
        return x, np.maximum(x - 1.0, 0.0), x > 0

    @classmethod
    def loglik(cls, theta: np.ndarray, data: Any) -> tuple[float, np.ndarray]:
        r, alpha, odds = (float(v) for v in theta)
        p = odds / (1.0 + odds)
        log_p, log_q = np.log(p), -np.log1p(odds)  # log p, log (1-p)
        c: Combos = data.combos
        x = c.x
        k1, k2, has2 = cls._exponents(x)
        rx = r + x
        la_T, la_tx = np.log(alpha + c.T), np.log(alpha + c.t_x)
        const = gammaln(rx) - gammaln(r) + r * np.log(alpha)
        u1 = k1 * log_q - rx * la_T
        u2 = np.where(has2, log_p + k2 * log_q - rx * la_tx, -np.inf)
        mix = np.logaddexp(u1, u2)
        w = c.weight
        w2 = w * np.exp(u2 - mix)
        w1 = w - w2
        ll = dot(w, const + mix)
        g_r = dot(w, digamma(rx) - digamma(r) + np.log(alpha)) - dot(w1, la_T) - dot(w2, la_tx)
        g_alpha = c.n_members * r / alpha - dot(w1, rx / (alpha + c.T)) - dot(w2, rx / (alpha + c.t_x))
        g_p = dot(w1, -k1 / (1.0 - p)) + dot(w2, np.where(has2, 1.0 / p - k2 / (1.0 - p), 0.0))
        return ll, np.array([g_r, g_alpha, g_p * (1.0 - p) ** 2])

    # -- predictions, with the signatures of TransactionModel's -----------------------------------
    def _log_odds_dead(self, x: np.ndarray, t_x: np.ndarray, T: np.ndarray) -> np.ndarray:
        r, alpha, p = self.params["r"], self.params["alpha"], self.params["p"]
        odds = np.log(p) - np.log1p(-p) + (r + x) * (np.log(alpha + T) - np.log(alpha + t_x))
        return odds if self.modified else np.where(x > 0, odds, -np.inf)

    def _arrays(self, frequency: Any, recency: Any, T: Any) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        return np.broadcast_arrays(*(np.asarray(v, dtype=float) for v in (frequency, recency, T)))

    def probability_alive(self, frequency: Any, recency: Any, T: Any) -> np.ndarray:
        return expit(-self._log_odds_dead(*self._arrays(frequency, recency, T)))

    def expected_purchases_alive(self, t: Any, frequency: Any, T: Any) -> np.ndarray:
        """(1 - ((α+T)/(α+T+pt))^(r+x)) / p: given λ, purchases before dropout are geometric and
        ``E[X(t) | λ] = (1 - e^(-λpt)) / p``, averaged over ``λ ~ Gamma(r+x, α+T)``."""
        x, T = np.broadcast_arrays(np.asarray(frequency, dtype=float), np.asarray(T, dtype=float))
        r, alpha, p = self.params["r"], self.params["alpha"], self.params["p"]
        t = np.asarray(t, dtype=float)
        return -np.expm1(-(r + x) * np.log1p(p * t / (alpha + T))) / p

    def probability_of_purchases_alive(self, n: int, t: Any, frequency: Any, T: Any) -> np.ndarray:
        n = check_count(n, "SameDropout")
        x, T = np.broadcast_arrays(np.asarray(frequency, dtype=float), np.asarray(T, dtype=float))
        r, alpha, p = self.params["r"], self.params["alpha"], self.params["p"]
        r_post, a_post = r + x, alpha + T
        q = a_post / (a_post + np.asarray(t, dtype=float))
        stay = (1.0 - p) ** n * nbinom_pmf(n, r_post, q)
        if n == 0:
            return stay
        return stay + p * (1.0 - p) ** (n - 1) * betainc(float(n), r_post, 1.0 - q)

    def wait_alive(self, share: float, frequency: Any, recency: Any, T: Any) -> np.ndarray:
        x, _, T = self._arrays(frequency, recency, T)
        return poisson_gamma_wait(share, self.params["r"] + x, self.params["alpha"] + T)


class SameDropoutModified(SameDropout):
    """MBG/NBD with one dropout probability for all members (see :class:`SameDropout`)."""

    name = "mbg-same-dropout"
    title = "MBG/NBD with one dropout probability for all members"
    modified = True


QUADRATURE_NODES = 64
_NODES, _WEIGHTS = roots_legendre(QUADRATURE_NODES)


def _log_integral(lo: np.ndarray, hi: np.ndarray, log_f) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``log ∫_lo^hi f(u) du`` by Gauss-Legendre (``log_f`` maps nodes to ``log f``), with the
    nodes and their normalised weights ``f(u_k) w_k / ∫`` for expectations over ``f``."""
    half = (hi - lo)[:, None] / 2.0
    u = lo[:, None] + half * (_NODES[None, :] + 1.0)
    with np.errstate(divide="ignore"):
        terms = log_f(u) + np.log(_WEIGHTS)[None, :] + np.log(half)
    log_value = logsumexp(terms, axis=1)
    with np.errstate(invalid="ignore"):
        share = np.exp(terms - log_value[:, None])
    return log_value, u, np.nan_to_num(share)


class ParetoSameRate(PurchasePredictions, LimitModel):
    """Pareto/NBD with one purchase rate ``λ`` for every member and exponential lifetimes with
    ``μ ~ Gamma(s, β)``: the limit as ``r, α → ∞`` with ``r/α → λ`` (purchase counts less
    dispersed than a Gamma mixture allows, while members do leave)::

        L = λ^x [ (β/(β+T))^s e^(-λT) + s β^s ∫_{t_x}^T e^(-λu) (β+u)^-(s+1) du ]

    The integral, and those of the predictions, by Gauss-Legendre on each member's interval."""

    name = "pareto-same-rate"
    title = "Pareto/NBD with one purchase rate for all members"
    param_names = ("lambda", "s", "beta")
    full_values = {"r": math.inf, "alpha": math.inf}

    @staticmethod
    def initial(data: Any) -> np.ndarray:
        c: Combos = data.combos
        return np.array([SameRateNoDropout.initial(data)[0], 1.0, max(float(c.weight @ c.T) / c.n_members, 1e-6)])

    @staticmethod
    def _terms(lam: float, s: float, beta: float, t_x: np.ndarray, T: np.ndarray):
        """log of the alive and the dropped-out terms (without λ^x), and the dropout time's
        expectations of u, ln(β+u) and 1/(β+u) under the integrand."""
        log_alive = s * (np.log(beta) - np.log(beta + T)) - lam * T
        log_j, u, share = _log_integral(t_x, T, lambda v: -lam * v - (s + 1.0) * np.log(beta + v))
        log_dead = np.where(T > t_x, np.log(s) + s * np.log(beta) + log_j, -np.inf)
        moments = [(share * f).sum(axis=1) for f in (u, np.log(beta + u), 1.0 / (beta + u))]
        return log_alive, log_dead, moments

    @classmethod
    def loglik(cls, theta: np.ndarray, data: Any) -> tuple[float, np.ndarray]:
        lam, s, beta = (float(v) for v in theta)
        c: Combos = data.combos
        la, ld, (e_u, e_log, e_inv) = cls._terms(lam, s, beta, c.t_x, c.T)
        mix = np.logaddexp(la, ld)
        w = c.weight
        w_dead = w * np.exp(ld - mix)
        w_alive = w - w_dead
        ll = float(w @ c.x) * np.log(lam) + dot(w, mix)
        g_lam = float(w @ c.x) / lam - dot(w_alive, c.T) - dot(w_dead, e_u)
        g_s = dot(w_alive, np.log(beta) - np.log(beta + c.T)) + dot(w_dead, 1.0 / s + np.log(beta) - e_log)
        g_beta = dot(w_alive, s / beta - s / (beta + c.T)) + dot(w_dead, s / beta - (s + 1.0) * e_inv)
        return ll, np.array([g_lam, g_s, g_beta])

    # -- predictions, with the signatures of TransactionModel's -----------------------------------
    def _arrays(self, frequency: Any, recency: Any, T: Any) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        return tuple(
            np.ravel(v) for v in np.broadcast_arrays(*(np.asarray(v, dtype=float) for v in (frequency, recency, T)))
        )

    def _alive(self, frequency: Any, recency: Any, T: Any) -> tuple[np.ndarray, tuple[int, ...]]:
        shape = np.broadcast(*(np.asarray(v, dtype=float) for v in (frequency, recency, T))).shape
        _, t_x, T_ = self._arrays(frequency, recency, T)
        la, ld, _ = self._terms(self.params["lambda"], self.params["s"], self.params["beta"], t_x, T_)
        return expit(la - ld), shape

    def probability_alive(self, frequency: Any, recency: Any, T: Any) -> np.ndarray:
        alive, shape = self._alive(frequency, recency, T)
        return alive.reshape(shape)

    def expected_purchases_alive(self, t: Any, frequency: Any, T: Any) -> np.ndarray:
        """λ (β+T)/(s-1) · [1 - ((β+T)/(β+T+t))^(s-1)] (λ (β+T) ln(1 + t/(β+T)) at s = 1)."""
        lam, s, beta = self.params["lambda"], self.params["s"], self.params["beta"]
        _, T, t = np.broadcast_arrays(*(np.asarray(v, dtype=float) for v in (frequency, T, t)))
        b_post = beta + T
        L = np.log1p(t / b_post)
        growth = -np.expm1(-(s - 1.0) * L) / (s - 1.0) if abs(s - 1.0) > 1e-9 else L
        return lam * b_post * growth

    def probability_of_purchases_alive(self, n: int, t: Any, frequency: Any, T: Any) -> np.ndarray:
        """``(β'/(β'+t))^s Pois(n; λt) + ∫_0^t s β'^s (β'+τ)^-(s+1) Pois(n; λτ) dτ``."""
        n = check_count(n, "ParetoSameRate")
        lam, s, beta = self.params["lambda"], self.params["s"], self.params["beta"]
        _, T, t = np.broadcast_arrays(*(np.asarray(v, dtype=float) for v in (frequency, T, t)))
        shape = T.shape
        b_post, t = beta + T.ravel(), t.ravel()
        stay = np.exp(s * (np.log(b_post) - np.log(b_post + t))) * poisson_pmf(n, lam * t)
        log_gone, u, share = _log_integral(np.zeros_like(t), t, lambda v: -(s + 1.0) * np.log(b_post[:, None] + v))
        gone = np.exp(np.log(s) + s * np.log(b_post) + log_gone) * (share * poisson_pmf(n, lam * u)).sum(axis=1)
        gone = np.where(t > 0, gone, 0.0)
        return (stay + gone).reshape(shape)

    def wait_alive(self, share: float, frequency: Any, recency: Any, T: Any) -> np.ndarray:
        shape = np.broadcast(*(np.asarray(v, dtype=float) for v in (frequency, recency, T))).shape
        return np.full(shape, -np.log1p(-share) / self.params["lambda"])


class PoissonExponential(PurchasePredictions, LimitModel):
    """Poisson purchases at one rate ``λ`` and exponential lifetimes at one rate ``μ`` for every
    member: Pareto/NBD's limit when both Gamma mixtures collapse (``r, α → ∞`` with ``r/α → λ``,
    ``s, β → ∞`` with ``s/β → μ``). With ``k = λ + μ``::

        L = λ^x [ e^(-kT) + μ/k (e^(-k t_x) - e^(-kT)) ]
    """

    name = "poisson-exponential"
    title = "one purchase rate and one dropout rate for all members"
    param_names = ("lambda", "mu")
    full_values = {"r": math.inf, "alpha": math.inf, "s": math.inf, "beta": math.inf}

    @staticmethod
    def initial(data: Any) -> np.ndarray:
        c: Combos = data.combos
        return np.array([SameRateNoDropout.initial(data)[0], 1.0 / max(float(c.weight @ c.T) / c.n_members, 1e-6)])

    @staticmethod
    def _terms(lam: float, mu: float, t_x: np.ndarray, T: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """log of the alive and the dropped-out terms (without λ^x), and d log(e^(-k t_x) - e^(-kT)) / dk."""
        k = lam + mu
        gap = T - t_x
        with np.errstate(divide="ignore", invalid="ignore"):
            log_alive = -k * T
            log_dead = np.where(gap > 0, np.log(mu) - np.log(k) - k * t_x + np.log(-np.expm1(-k * gap)), -np.inf)
            d_log_e = np.where(gap > 0, -t_x + gap / np.expm1(k * gap), 0.0)
        return log_alive, log_dead, d_log_e

    @classmethod
    def loglik(cls, theta: np.ndarray, data: Any) -> tuple[float, np.ndarray]:
        lam, mu = (float(v) for v in theta)
        c: Combos = data.combos
        k = lam + mu
        la, ld, d_log_e = cls._terms(lam, mu, c.t_x, c.T)
        mix = np.logaddexp(la, ld)
        w = c.weight
        w_dead = w * np.exp(ld - mix)
        w_alive = w - w_dead
        wx = float(w @ c.x)
        ll = wx * np.log(lam) + dot(w, mix)
        g_lam = wx / lam - dot(w_alive, c.T) + dot(w_dead, -1.0 / k + d_log_e)
        g_mu = -dot(w_alive, c.T) + dot(w_dead, 1.0 / mu - 1.0 / k + d_log_e)
        return ll, np.array([g_lam, g_mu])

    # -- predictions, with the signatures of TransactionModel's -----------------------------------
    def _alive(self, frequency: Any, recency: Any, T: Any) -> np.ndarray:
        x, t_x, T = np.broadcast_arrays(*(np.asarray(v, dtype=float) for v in (frequency, recency, T)))
        la, ld, _ = self._terms(self.params["lambda"], self.params["mu"], t_x, T)
        return expit(la - ld)

    def probability_alive(self, frequency: Any, recency: Any, T: Any) -> np.ndarray:
        return self._alive(frequency, recency, T)

    def expected_purchases_alive(self, t: Any, frequency: Any, T: Any) -> np.ndarray:
        """λ/μ · (1 - e^(-μt))."""
        lam, mu = self.params["lambda"], self.params["mu"]
        _, _, t = np.broadcast_arrays(*(np.asarray(v, dtype=float) for v in (frequency, T, t)))
        return lam / mu * -np.expm1(-mu * t)

    def probability_of_purchases_alive(self, n: int, t: Any, frequency: Any, T: Any) -> np.ndarray:
        """``e^(-μt) Pois(n; λt) + μ/k (λ/k)^n P(n+1, kt)`` (a dropout at τ < t after n purchases;
        P the regularised lower incomplete gamma function)."""
        n = check_count(n, "PoissonExponential")
        lam, mu = self.params["lambda"], self.params["mu"]
        k = lam + mu
        _, _, t = np.broadcast_arrays(*(np.asarray(v, dtype=float) for v in (frequency, T, t)))
        return np.exp(-mu * t) * poisson_pmf(n, lam * t) + mu / k * (lam / k) ** n * gammainc(n + 1.0, k * t)

    def wait_alive(self, share: float, frequency: Any, recency: Any, T: Any) -> np.ndarray:
        shape = np.broadcast(*(np.asarray(v, dtype=float) for v in (frequency, recency, T))).shape
        return np.full(shape, -np.log1p(-share) / self.params["lambda"])


ParetoSameRate.limit_model = PoissonExponential
ParetoSameRate.boundaries = frozenset({("s", "infinity"), ("beta", "infinity")})


class SameSpendRate(LimitModel):
    """Gamma-Gamma without heterogeneity: every member's spends are ``Gamma(p, ν)``, so a mean of
    ``x`` spends is ``Gamma(px, νx)`` and everyone's expected spend is ``p/ν``."""

    name = "same-spend-rate"
    title = "one spend distribution for all members"
    param_names = ("p", "nu")
    full_values = {"q": math.inf, "gamma": math.inf}

    @staticmethod
    def initial(data: Any) -> np.ndarray:
        mean = float(data.w @ data.m) / float(data.w.sum())
        return np.array([1.0, 1.0 / mean])

    @staticmethod
    def loglik(theta: np.ndarray, data: Any) -> tuple[float, np.ndarray]:
        """``Σ w [px ln(νx) + (px-1) ln z̄ - νx z̄ - ln Γ(px)]`` and its gradient."""
        p, nu = (float(v) for v in theta)
        x, m, w = data.x, data.m, data.w
        px = p * x
        ll = px * np.log(nu * x) + (px - 1.0) * np.log(m) - nu * x * m - gammaln(px)
        d_p = x * (np.log(nu * x) + np.log(m) - digamma(px))
        d_nu = px / nu - x * m
        return float(w @ ll), np.array([w @ d_p, w @ d_nu])

    def expected_spend(self, frequency: Any, monetary_value: Any) -> np.ndarray:
        x, _ = np.broadcast_arrays(np.asarray(frequency, dtype=float), np.asarray(monetary_value, dtype=float))
        return np.full(x.shape, self.params["p"] / self.params["nu"])

    def expected_spend_expression(self, summary: ir.Table) -> ir.FloatingValue:
        return ibis.literal(self.params["p"] / self.params["nu"], type="float64")


LIMIT_MODELS: dict[str, type[LimitModel]] = {
    cls.name: cls
    for cls in (
        NoDropout,
        SameRateNoDropout,
        SameDropout,
        SameDropoutModified,
        ParetoSameRate,
        PoissonExponential,
        SameSpendRate,
    )
}


def reachable_limits(model_cls: Any) -> list[type[LimitModel]]:
    """Every limit a model can end at: its own, and theirs in turn."""
    found: list[type[LimitModel]] = []
    for limit in model_cls.limit_models:
        while limit is not None and limit not in found:
            found.append(limit)
            limit = limit.limit_model
    return found


def poisson_gamma_wait(share: float, r: Any, alpha: Any) -> np.ndarray:
    """For a member alive throughout with ``λ ~ Gamma(r, α)``, the wait by which a purchase has
    happened with probability ``share``: P(none by w) = (α/(α+w))^r, so ``α ((1-share)^(-1/r) - 1)``
    (the median: ``α (2^(1/r) - 1)``)."""
    return np.asarray(alpha, dtype=float) * np.expm1(-np.log1p(-share) / np.asarray(r, dtype=float))


__all__ = [
    "LIMIT_MODELS",
    "reachable_limits",
    "LimitModel",
    "NoDropout",
    "ParetoSameRate",
    "PoissonExponential",
    "SameDropout",
    "SameDropoutModified",
    "SameRateNoDropout",
    "SameSpendRate",
    "poisson_gamma_wait",
]
