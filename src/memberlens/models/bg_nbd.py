"""The BG/NBD model (beta-geometric / negative binomial distribution).

Fader, P. S., Hardie, B. G. S. & Lee, K. L. (2005). "Counting Your Customers" the Easy Way: An
Alternative to the Pareto/NBD Model. *Marketing Science* 24(2), 275–284.

While alive, a member buys as a Poisson process with rate ``λ ~ Gamma(r, α)``; after each purchase
they drop out with probability ``p ~ Beta(a, b)``. The likelihood of ``(x, t_x, T)`` is (eq. 6)::

    L = B(a, b+x)/B(a, b) · Γ(r+x) α^r / (Γ(r) (α+T)^(r+x))
        + δ(x>0) · B(a+1, b+x-1)/B(a, b) · Γ(r+x) α^r / (Γ(r) (α+t_x)^(r+x))

computed here in log space (``logaddexp`` of the two terms), with analytic gradients; terms that
depend on ``x`` alone are computed once per distinct frequency, terms in ``(x, T)`` and
``(x, t_x)`` once per distinct pair.

The modified BG/NBD (:class:`~memberlens.models.ModifiedBetaGeoModel`) shares this code with a
flag: its members may also drop out right after their first purchase.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from scipy.special import betainc, betaincinv, betaln, digamma, expit, gammaln, hyp2f1, roots_legendre

from memberlens.models._base import Combos, CountSteps, TransactionModel, check_count, dot, limit_aware
from memberlens.models._limits import NoDropout, SameDropout, poisson_gamma_wait


@dataclass(frozen=True)
class _Data:
    combos: Combos
    positive_x: np.ndarray  # per distinct frequency: x > 0


class BetaGeoModel(TransactionModel):
    """BG/NBD: Poisson purchases while alive, dropout after any purchase (Fader, Hardie & Lee 2005).

    Parameters
    ----------
    time_unit
        The unit ``recency`` and ``T`` are measured in (``D``, ``W``, ``M``, ... as in
        :func:`summarise_purchases`); kept with the model to convert horizons in days.
    penalizer
        L2 penalty on the log-parameters (0 = plain maximum likelihood).
    max_iter
        Iterations of L-BFGS-B.

    Attributes
    ----------
    params_ : dict
        ``r``, ``alpha``, ``a``, ``b``.
    standard_errors_ : dict
        From the inverse observed information (Hessian of the log-likelihood).
    log_likelihood_ : float
        At the estimate, over all members.
    n_members_, n_combinations_ : int
        Members fitted and the distinct (frequency, recency, T) combinations that carried them.

    Examples
    --------
    >>> summary = summarise_purchases(ws.table("orders"), time_unit="W", calibration_end="1997-09-30")
    >>> model = BetaGeoModel().fit(summary)
    >>> model.params_  # doctest: +SKIP
    {'r': 0.243, 'alpha': 4.414, 'a': 0.793, 'b': 2.426}
    """

    param_names = ("r", "alpha", "a", "b")
    model_name = "bg-nbd"
    title = "BG/NBD"
    paper = "Fader, Hardie & Lee (2005), Counting Your Customers the Easy Way, Marketing Science 24(2)"
    fit_hint = "BG/NBD needs repeat buyers and members of different ages"
    # no dropout (p -> 0 as b -> infinity or a -> 0), or one dropout probability for all (a, b -> infinity)
    boundaries = frozenset({("b", "infinity"), ("a", "zero"), ("a", "infinity")})
    limit_models = (NoDropout, SameDropout)
    _modified = False

    # -- likelihood ---------------------------------------------------------------------------
    def _prepare(self, frame: pd.DataFrame) -> _Data:
        combos = Combos.from_arrays(frame["frequency"], frame["recency"], frame["T"], frame["weight"])
        return _Data(combos, combos.x_values > 0)

    def _initial(self, data: _Data) -> np.ndarray:
        c = data.combos
        rate = max(float(c.weight @ c.x) / max(float(c.weight @ c.T), 1e-9), 1e-6)
        return np.array([1.0, 1.0 / rate, 1.0, 1.0])

    def _loglik(self, theta: np.ndarray, data: _Data) -> tuple[float, np.ndarray]:
        r, alpha, a, b = (float(v) for v in theta)
        c = data.combos
        xv = c.x_values
        # per distinct frequency
        const = gammaln(r + xv) - gammaln(r) + r * np.log(alpha) - betaln(a, b)
        d_const_r = digamma(r + xv) - digamma(r) + np.log(alpha)
        d_const_a = -(digamma(a) - digamma(a + b))
        d_const_b = -(digamma(b) - digamma(a + b))
        b1 = b + xv + (1.0 if self._modified else 0.0)
        B1 = betaln(a, b1)
        dB1_a = digamma(a) - digamma(a + b1)
        dB1_b = digamma(b1) - digamma(a + b1)
        has2 = np.ones_like(xv, dtype=bool) if self._modified else data.positive_x
        b2 = np.where(has2, b + xv - (0.0 if self._modified else 1.0), 1.0)
        B2 = np.where(has2, betaln(a + 1.0, b2), -np.inf)
        dB2_a = np.where(has2, digamma(a + 1.0) - digamma(a + 1.0 + b2), 0.0)
        dB2_b = np.where(has2, digamma(b2) - digamma(a + 1.0 + b2), 0.0)
        # per distinct (x, T) and (x, t_x) pair
        pT, ptx = c.by_T, c.by_t_x
        rx_T, rx_tx = r + xv[pT.x_code], r + xv[ptx.x_code]
        log_aT, log_atx = np.log(alpha + pT.y), np.log(alpha + ptx.y)
        u1 = B1[pT.x_code] - rx_T * log_aT
        u2 = B2[ptx.x_code] - rx_tx * log_atx
        # per combination
        U1, U2 = u1[pT.code], u2[ptx.code]
        mix = np.logaddexp(U1, U2)
        w = c.weight
        w2 = w * np.exp(U2 - mix)
        w1 = w - w2
        wx = c.weight_x
        n = c.n_members
        ll = dot(wx, const) + dot(w, mix)
        S1 = np.bincount(pT.code, w1, pT.size)
        S2 = np.bincount(ptx.code, w2, ptx.size)
        S1x = np.bincount(pT.x_code, S1, len(xv))
        S2x = np.bincount(ptx.x_code, S2, len(xv))
        g_r = dot(wx, d_const_r) - dot(S1, log_aT) - dot(S2, log_atx)
        g_alpha = n * r / alpha - dot(S1, rx_T / (alpha + pT.y)) - dot(S2, rx_tx / (alpha + ptx.y))
        g_a = n * d_const_a + dot(S1x, dB1_a) + dot(S2x, dB2_a)
        g_b = n * d_const_b + dot(S1x, dB1_b) + dot(S2x, dB2_b)
        return ll, np.array([g_r, g_alpha, g_a, g_b])

    # -- predictions --------------------------------------------------------------------------
    def _log_odds_dead(self, x: np.ndarray, t_x: np.ndarray, T: np.ndarray) -> np.ndarray:
        """log P(dead)/P(alive): from the ratio of the likelihood's two terms."""
        p = self.params_
        r, alpha, a, b = p["r"], p["alpha"], p["a"], p["b"]
        b_den = b + x if self._modified else b + x - 1.0
        with np.errstate(divide="ignore", invalid="ignore"):
            odds = np.log(a) - np.log(b_den) + (r + x) * (np.log(alpha + T) - np.log(alpha + t_x))
        if not self._modified:
            odds = np.where(x > 0, odds, -np.inf)
        return odds

    @limit_aware
    def probability_alive(self, frequency: Any, recency: Any, T: Any) -> np.ndarray:
        """P(alive at T | x, t_x, T) (Fader, Hardie & Lee 2005, eq. 11 / Batislam et al. 2007)."""
        x, t_x, T = self._arrays(frequency, recency, T)
        return expit(-self._log_odds_dead(x, t_x, T))

    def _posterior_b(self, x: np.ndarray) -> np.ndarray:
        """b of the dropout Beta distribution for a member alive at T (a is unchanged)."""
        return self.params_["b"] + x + (1.0 if self._modified else 0.0)

    @limit_aware
    def expected_purchases_alive(self, t: Any, frequency: Any, T: Any) -> np.ndarray:
        """E[purchases in (T, T+t]] of a member alive at T (Fader, Hardie & Lee 2005, eq. 10
        without its P(alive)): a new BG/NBD process with ``λ ~ Gamma(r+x, α+T)`` and
        ``p ~ Beta(a, b')``.

        The Gaussian hypergeometric term is used in its Euler-transformed form
        ``(1-z)^(r+x) 2F1(r+x, b'; a+b'-1; z) = (1-z)^(a-1) 2F1(a+b'-1-r-x, a-1; a+b'-1; z)``,
        whose parameters stay small at any frequency, so nothing overflows.
        """
        x, T = self._pair_arrays(frequency, T)
        p = self.params_
        return _bgnbd_expected(np.asarray(t, dtype=float), p["r"] + x, p["alpha"] + T, p["a"], self._posterior_b(x))

    @limit_aware
    def probability_of_purchases_alive(self, n: int, t: Any, frequency: Any, T: Any) -> np.ndarray:
        """P(exactly n purchases in (T, T+t]) of a member alive at T, who has ``λ ~ Gamma(r+x, α+T)``
        and ``p ~ Beta(a, b')`` and starts a new BG/NBD process (Fader, Hardie & Lee 2005, eq. 8)."""
        n = check_count(n, type(self).__name__)
        x, T = self._pair_arrays(frequency, T)
        t = np.asarray(t, dtype=float)
        p = self.params_
        r_post, alpha_post, a, b_post = p["r"] + x, p["alpha"] + T, p["a"], self._posterior_b(x)
        q = alpha_post / (alpha_post + t)  # NB "success" probability of the purchase count
        log_nb = (
            gammaln(r_post + n)
            - gammaln(r_post)
            - gammaln(n + 1.0)
            + r_post * np.log(q)
            + (n * np.log1p(-q) if n else 0.0)
        )
        stay = np.exp(betaln(a, b_post + n) - betaln(a, b_post) + log_nb)
        if n == 0:
            return stay
        tail = betainc(float(n), r_post, 1.0 - q)  # P(at least n purchases of the Poisson part)
        drop = np.exp(betaln(a + 1.0, b_post + n - 1.0) - betaln(a, b_post)) * tail
        return stay + drop

    @limit_aware
    def count_steps_alive(self, t: Any, frequency: Any, T: Any) -> CountSteps:
        """P(N = 0), P(N = 1), ... of members alive at T by recurrences in n (each step a few
        multiplications instead of the log-gamma, log-beta and incomplete-beta functions)."""
        x, T = self._pair_arrays(np.atleast_1d(frequency), np.atleast_1d(T))
        return _CountRecurrence(self, float(t), x, T)

    @limit_aware
    def wait_alive(self, share: float, frequency: Any, recency: Any, T: Any) -> np.ndarray:
        """For a member alive at T, the wait by which a purchase has happened with probability
        ``share``: with ``λ ~ Gamma(r+x, α+T)``, ``(α+T)((1-share)^(-1/(r+x)) - 1)``."""
        x, t_x, T = self._arrays(frequency, recency, T)
        return poisson_gamma_wait(share, self.params_["r"] + x, self.params_["alpha"] + T)


class _CountRecurrence(CountSteps):
    """BG/NBD's P(N = n | alive) = S_n NB_n + D_n P(NB >= n), stepped in n:
    ``NB_n = NB_(n-1) (r'+n-1)/n (1-q)`` (in logs, so large frequencies do not underflow),
    ``S_n = B(a, b'+n)/B(a, b') = S_(n-1) (b'+n-1)/(a+b'+n-1)``,
    ``D_n = B(a+1, b'+n-1)/B(a, b') = D_(n-1) (b'+n-2)/(a+b'+n-1)`` from ``D_1 = a/(a+b')``, and
    ``P(NB >= n) = P(NB >= n-1) - NB_(n-1)``."""

    def __init__(self, model: BetaGeoModel, t: float, x: np.ndarray, T: np.ndarray) -> None:
        super().__init__(model, t, x, T)
        p = model.params_
        self.a, self.r_post, self.b_post = p["a"], p["r"] + self.x, model._posterior_b(self.x)
        alpha_post = p["alpha"] + self.T
        self.log_1mq = np.log(t) - np.log(alpha_post + t)  # log(1 - q)
        self.log_nb = self.r_post * (np.log(alpha_post) - np.log(alpha_post + t))  # log NB_0 = r' log q
        self.stay = np.ones_like(self.x)  # S_n
        self.drop = self.a / (self.a + self.b_post)  # D_1
        self.tail = np.ones_like(self.x)  # P(NB >= n)

    def next(self, rows: np.ndarray) -> np.ndarray:
        n, a = self.n, self.a
        b = self.b_post[rows]
        nb = np.exp(self.log_nb[rows])
        if n == 0:
            value = nb
        else:
            self.stay[rows] *= (b + n - 1.0) / (a + b + n - 1.0)
            if n > 1:
                self.drop[rows] *= (b + n - 2.0) / (a + b + n - 1.0)
            value = self.stay[rows] * nb + self.drop[rows] * self.tail[rows]
        self.tail[rows] = np.maximum(self.tail[rows] - nb, 0.0)
        self.log_nb[rows] += np.log((self.r_post[rows] + n) / (n + 1.0)) + self.log_1mq[rows]
        self.n += 1
        return value


def _bgnbd_expected(t: Any, r: Any, alpha: Any, a: float, b: Any) -> np.ndarray:
    """E[X(t)] of a BG/NBD process with parameters (r, α, a, b) started at 0, alive.

    ``(a+b-1)/(a-1) · [1 - (α/(α+t))^r 2F1(r, b; a+b-1; t/(α+t))]`` with the Euler transform
    ``(1-z)^r 2F1(r, b; c; z) = (1-z)^(c-b) 2F1(c-r, c-b; c; z)``, ``c-b = a-1``. Where SciPy's
    ``hyp2f1`` cannot evaluate it (a and b in the thousands, as a fit of a nearly fixed dropout
    probability gives, over long horizons) the same expectation is integrated over p instead
    (:func:`_bgnbd_expected_by_quadrature`).
    """
    t = np.asarray(t, dtype=float)
    z = t / (alpha + t)

    def value(a_: float) -> np.ndarray:
        c_ = a_ + np.asarray(b, dtype=float) - 1.0
        with np.errstate(invalid="ignore", over="ignore"):
            term = np.exp((a_ - 1.0) * np.log1p(-z)) * hyp2f1(c_ - r, a_ - 1.0, c_, z)
        return c_ / (a_ - 1.0) * (1.0 - term)

    if abs(a - 1.0) < 1e-7:  # removable singularity at a = 1: average the two sides
        closed = 0.5 * (value(1.0 - 1e-6) + value(1.0 + 1e-6))
    else:
        closed = value(a)
    closed = np.array(closed, dtype=float, ndmin=1)
    failed = ~np.isfinite(closed) | (closed < 0)
    if failed.any():  # once per distinct (t, r, α, b): members sharing a history share the integral
        shape = closed.shape
        rows = np.column_stack([np.broadcast_to(np.asarray(v, dtype=float), shape)[failed] for v in (t, r, alpha, b)])
        distinct, which = np.unique(rows, axis=0, return_inverse=True)
        values = _bgnbd_expected_by_quadrature(*(np.ascontiguousarray(distinct[:, k]) for k in range(4)), a)
        closed[failed] = values[which.reshape(-1)]
    return closed if np.ndim(t) or np.ndim(r) or np.ndim(alpha) or np.ndim(b) else closed[0]


QUADRATURE_NODES = 1024
QUADRATURE_CHUNK = 8192  # rows per block of the (rows x nodes) integrand: 64 MB


def _bgnbd_expected_by_quadrature(
    t: np.ndarray, r: np.ndarray, alpha: np.ndarray, b: np.ndarray, a: float
) -> np.ndarray:
    """E[X(t)] as ``E_p[(1 - (α/(α+pt))^r) / p]`` over ``p ~ Beta(a, b)``: given p, purchases
    before dropout are geometric and ``E[X(t) | λ, p] = (1 - e^(-λpt)) / p``; averaged over
    ``λ ~ Gamma(r, α)``. Gauss-Legendre on the Beta's quantile scale (the integrand is bounded
    and smooth in p), with the quantiles computed once per distinct b."""
    nodes, weights = roots_legendre(QUADRATURE_NODES)
    u, w = (nodes + 1.0) / 2.0, weights / 2.0
    out = np.empty(t.shape, dtype=float)
    distinct_b, which = np.unique(b, return_inverse=True)
    for k, b_k in enumerate(distinct_b):
        p = betaincinv(a, b_k, u)[None, :]
        rows = np.flatnonzero(which == k)
        for chunk in np.array_split(rows, max(1, len(rows) // QUADRATURE_CHUNK)):  # bounded memory
            g = -np.expm1(-r[chunk, None] * np.log1p(p * (t[chunk, None] / alpha[chunk, None]))) / p
            out[chunk] = g @ w
    return out


__all__ = ["BetaGeoModel"]
