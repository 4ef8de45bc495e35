"""The Pareto/NBD model.

Schmittlein, D. C., Morrison, D. G. & Colombo, R. (1987). Counting Your Customers: Who Are They
and What Will They Do Next? *Management Science* 33(1), 1–24; in the form of Fader, P. S. &
Hardie, B. G. S. (2005), "A Note on Deriving the Pareto/NBD Model and Related Expressions".

While alive a member buys as a Poisson process with rate ``λ ~ Gamma(r, α)``; their lifetime is
exponential with rate ``μ ~ Gamma(s, β)``. The likelihood of ``(x, t_x, T)`` is::

    L = Γ(r+x) α^r β^s / Γ(r) · [ (α+T)^-(r+x) (β+T)^-s + s (H(t_x) - H(T)) ]
    H(y) = ∫_y^∞ (α+u)^-(r+x) (β+u)^-(s+1) du

``H`` is Fader & Hardie's ``A_0`` hypergeometric term. With ``A = α+y``, ``B = β+y`` it is,
for ``α ≥ β`` (the other case swaps the roles of ``(α, r+x)`` and ``(β, s+1)``)::

    H(y) = A^-(r+x) B^-s / (r+s+x) · 2F1(1, r+x; r+s+x+1; (α-β)/A)

the Euler transform of Fader & Hardie's ``2F1(r+s+x, s+1; r+s+x+1; ·)``: its series has positive
terms that decrease geometrically and the function is bounded by ``A/B``, so its logarithm is
stable at any frequency (no overflow at thousands of purchases). Gradients are analytic: the
derivative of 2F1 in its argument is a 2F1 (SciPy), the derivatives in its parameters are the
digamma-weighted series, summed until the terms no longer change the result.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from scipy.special import digamma, expit, gammaln, hyp2f1, roots_legendre

from memberlens.models._base import Combos, CountSteps, TransactionModel, check_count, dot, limit_aware, matvec
from memberlens.models._counts import nbinom_pmf
from memberlens.models._limits import NoDropout, ParetoSameRate, poisson_gamma_wait

_SERIES_MAX_TERMS = 200_000


@dataclass(frozen=True)
class _Data:
    combos: Combos


def log_h(x: np.ndarray, y: np.ndarray, r: float, alpha: float, s: float, beta: float, *, grad: bool = False):
    """``log H(y)`` for frequencies ``x`` (and its gradient in ``(r, α, s, β)`` when ``grad``).

    ``H(y) = ∫_y^∞ (α+u)^-(r+x) (β+u)^-(s+1) du``, in closed form through ``2F1(1, b; c; z)``.
    """
    A, B = alpha + y, beta + y
    lA, lB = np.log(A), np.log(B)
    m = r + x
    c = r + s + x + 1.0
    if alpha >= beta:
        b_hyp, z = m, (alpha - beta) / A
        base = -m * lA - s * lB
    else:
        b_hyp, z = np.full_like(m, s + 1.0), (beta - alpha) / B
        base = -(s + 1.0) * lB - (m - 1.0) * lA
    S = hyp2f1(1.0, b_hyp, c, z)
    value = base - np.log(c - 1.0) + np.log(S)
    if not grad:
        return value
    dS_b, dS_c = _hyp2f1_parameter_derivatives(b_hyp, c, z)
    dS_z = (b_hyp / c) * hyp2f1(2.0, b_hyp + 1.0, c + 1.0, z)
    g_c = dS_c / S
    inv = 1.0 / (c - 1.0)
    if alpha >= beta:
        d_r = -lA - inv + dS_b / S + g_c
        d_s = -lB - inv + g_c
        d_alpha = -m / A + dS_z / S * (B / A**2)
        d_beta = -s / B - dS_z / S / A
    else:
        d_r = -lA - inv + g_c
        d_s = -lB - inv + dS_b / S + g_c
        d_alpha = -(m - 1.0) / A - dS_z / S / B
        d_beta = -(s + 1.0) / B + dS_z / S * (A / B**2)
    return value, np.stack([d_r, d_alpha, d_s, d_beta])


def _hyp2f1_parameter_derivatives(b: np.ndarray, c: np.ndarray, z: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``∂/∂b`` and ``∂/∂c`` of ``2F1(1, b; c; z)`` for ``0 <= z < 1``, ``0 < b < c``.

    ``2F1(1, b; c; z) = Σ t_k`` with ``t_(k+1) = t_k (b+k)/(c+k) z``; so ``∂t_k/∂b = t_k (ψ(b+k)-ψ(b))``
    and ``∂t_k/∂c = -t_k (ψ(c+k)-ψ(c))``. All terms are positive and the ratios are below ``z``:
    summed (vectorised, dropping converged entries) until the next term is below 1e-17 of the sum.
    SciPy has no parameter derivatives of 2F1, hence this series.
    """
    b = np.asarray(b, dtype=float)
    c = np.asarray(c, dtype=float)
    z = np.asarray(z, dtype=float)
    db = np.zeros(b.shape)
    dc = np.zeros(b.shape)
    idx = np.flatnonzero(z > 0)
    bb, cc, zz = b[idx], c[idx], z[idx]
    term = np.ones(len(idx))
    hb = np.zeros(len(idx))
    hc = np.zeros(len(idx))
    acc_b = np.zeros(len(idx))
    acc_c = np.zeros(len(idx))
    k = 0
    while len(idx) and k < _SERIES_MAX_TERMS:
        hb += 1.0 / (bb + k)
        hc += 1.0 / (cc + k)
        term *= (bb + k) / (cc + k) * zz
        inc_b, inc_c = term * hb, term * hc
        acc_b += inc_b
        acc_c += inc_c
        k += 1
        if k % 8 == 0:
            done = (inc_b <= 1e-17 * acc_b) & (inc_c <= 1e-17 * acc_c)
            if done.any():
                db[idx[done]] = acc_b[done]
                dc[idx[done]] = -acc_c[done]
                keep = ~done
                idx, bb, cc, zz = idx[keep], bb[keep], cc[keep], zz[keep]
                term, hb, hc, acc_b, acc_c = term[keep], hb[keep], hc[keep], acc_b[keep], acc_c[keep]
    if len(idx):  # not converged within the cap: the remainder is below z^cap, negligible
        db[idx] = acc_b
        dc[idx] = -acc_c
    return db, dc


class ParetoNBDModel(TransactionModel):
    """Pareto/NBD: Poisson purchases, exponential lifetimes (Schmittlein, Morrison & Colombo 1987).

    Parameters
    ----------
    time_unit, penalizer, max_iter
        As for :class:`BetaGeoModel`.

    Attributes
    ----------
    params_ : dict
        ``r``, ``alpha`` (purchase rate heterogeneity), ``s``, ``beta`` (dropout rate).
    standard_errors_, log_likelihood_, n_members_, n_combinations_
        As for :class:`BetaGeoModel`.

    Examples
    --------
    >>> ParetoNBDModel().fit(summary).params_  # doctest: +SKIP
    {'r': 0.553, 'alpha': 10.578, 's': 0.606, 'beta': 11.669}
    """

    param_names = ("r", "alpha", "s", "beta")
    model_name = "pareto-nbd"
    title = "Pareto/NBD"
    paper = "Schmittlein, Morrison & Colombo (1987), Management Science 33(1); Fader & Hardie (2005) note"
    fit_hint = "when few members show signs of dropout, s and beta grow together: a longer calibration period helps"
    # no dropout (mu -> 0 as s -> 0 or beta -> infinity), or one purchase rate for all (r, alpha -> infinity)
    boundaries = frozenset({("s", "zero"), ("beta", "infinity"), ("r", "infinity"), ("alpha", "infinity")})
    limit_models = (NoDropout, ParetoSameRate)

    def _prepare(self, frame: pd.DataFrame) -> _Data:
        return _Data(Combos.from_arrays(frame["frequency"], frame["recency"], frame["T"], frame["weight"]))

    def _initial(self, data: _Data) -> np.ndarray:
        c = data.combos
        rate = max(float(c.weight @ c.x) / max(float(c.weight @ c.T), 1e-9), 1e-6)
        mean_T = max(float(c.weight @ c.T) / c.n_members, 1e-6)
        return np.array([1.0, 1.0 / rate, 1.0, mean_T])

    def _loglik(self, theta: np.ndarray, data: _Data) -> tuple[float, np.ndarray]:
        r, alpha, s, beta = (float(v) for v in theta)
        c = data.combos
        xv = c.x_values
        pT, ptx = c.by_T, c.by_t_x
        # per distinct frequency
        const = gammaln(r + xv) - gammaln(r) + r * np.log(alpha) + s * np.log(beta)
        d_const_r = _digamma_diff(r, xv) + np.log(alpha)
        # per (x, T) pair: the "alive at T" term and H(T); per (x, t_x) pair: H(t_x)
        xT = xv[pT.x_code]
        lA_T, lB_T = np.log(alpha + pT.y), np.log(beta + pT.y)
        l_alive = -(r + xT) * lA_T - s * lB_T
        lH_T, gH_T = log_h(xT, pT.y, r, alpha, s, beta, grad=True)
        lH_tx, gH_tx = log_h(xv[ptx.x_code], ptx.y, r, alpha, s, beta, grad=True)
        # per combination
        la = l_alive[pT.code]
        h_T, h_tx = lH_T[pT.code], lH_tx[ptx.code]
        with np.errstate(divide="ignore", invalid="ignore"):
            ratio = np.minimum(np.exp(h_T - h_tx), 1.0)
            l_dead = np.log(s) + h_tx + np.log1p(-ratio)  # log s (H(t_x) - H(T)); -inf when t_x = T
        mix = np.logaddexp(la, l_dead)
        w = c.weight
        wx = c.weight_x
        n = c.n_members
        ll = dot(wx, const) + dot(w, mix)
        w_alive = w * np.exp(la - mix)
        log_s = np.log(s)
        coef_tx = w * np.exp(log_s + h_tx - mix)  # w · s H(t_x) / L
        coef_T = w * np.exp(log_s + h_T - mix)
        w_dead = n - w_alive.sum()
        S_alive = np.bincount(pT.code, w_alive, pT.size)
        S_T = np.bincount(pT.code, coef_T, pT.size)
        S_tx = np.bincount(ptx.code, coef_tx, ptx.size)
        g = matvec(gH_tx, S_tx) - matvec(gH_T, S_T)
        g_r = dot(wx, d_const_r) - dot(S_alive, lA_T) + g[0]
        g_alpha = n * r / alpha - dot(S_alive, (r + xT) / (alpha + pT.y)) + g[1]
        g_s = n * np.log(beta) - dot(S_alive, lB_T) + w_dead / s + g[2]
        g_beta = n * s / beta - dot(S_alive, s / (beta + pT.y)) + g[3]
        return ll, np.array([g_r, g_alpha, g_s, g_beta])

    # -- predictions --------------------------------------------------------------------------
    def _log_alive_dead(self, x: np.ndarray, t_x: np.ndarray, T: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        p = self.params_
        r, alpha, s, beta = p["r"], p["alpha"], p["s"], p["beta"]
        la = -(r + x) * np.log(alpha + T) - s * np.log(beta + T)
        h_T = log_h(x, T, r, alpha, s, beta)
        h_tx = log_h(x, t_x, r, alpha, s, beta)
        with np.errstate(divide="ignore", invalid="ignore"):
            ld = np.log(s) + h_tx + np.log1p(-np.minimum(np.exp(h_T - h_tx), 1.0))
        return la, ld

    @limit_aware
    def probability_alive(self, frequency: Any, recency: Any, T: Any) -> np.ndarray:
        """P(alive at T | x, t_x, T) (Fader & Hardie 2005 note, eq. 18), in log space."""
        x, t_x, T = self._arrays(frequency, recency, T)
        la, ld = self._log_alive_dead(x, t_x, T)
        return expit(la - ld)

    @limit_aware
    def expected_purchases_alive(self, t: Any, frequency: Any, T: Any) -> np.ndarray:
        """E[purchases in (T, T+t]] of a member alive at T (Fader & Hardie 2005 note, eq. 21
        without its P(alive))::

            (r+x)(β+T) / ((α+T)(s-1)) · [1 - ((β+T)/(β+T+t))^(s-1)]

        (the limit ``(r+x)(β+T)/(α+T) · log(1 + t/(β+T))`` at ``s = 1``).
        """
        x, T = self._pair_arrays(frequency, T)
        t = np.asarray(t, dtype=float)
        p = self.params_
        r, alpha, s, beta = p["r"], p["alpha"], p["s"], p["beta"]
        L = np.log1p(t / (beta + T))
        growth = -np.expm1(-(s - 1.0) * L) / (s - 1.0) if abs(s - 1.0) > 1e-9 else L
        return (r + x) * (beta + T) / (alpha + T) * growth

    @limit_aware
    def probability_of_purchases_alive(self, n: int, t: Any, frequency: Any, T: Any) -> np.ndarray:
        """P(exactly n purchases in (T, T+t]) of a member alive at T, who has independent
        ``λ ~ Gamma(r+x, α+T)`` and ``μ ~ Gamma(s, β+T)``.

        ``P(0)`` is closed-form (through ``H``); for ``n >= 1`` the integral over the dropout
        time ``∫_0^t s (β')^s (β'+τ)^-(s+1) NB(n; r+x, α'/(α'+τ)) dτ`` is evaluated with
        Gauss-Legendre nodes on a geometric grid of sub-intervals.
        """
        n = check_count(n, type(self).__name__)
        x, T = self._pair_arrays(frequency, T)
        x, T, t = np.broadcast_arrays(x, T, np.asarray(t, dtype=float))
        if x.ndim == 0:  # scalars in, a scalar out
            return self.probability_of_purchases_alive(n, t[None], x[None], T[None])[0]
        p = self.params_
        r, alpha, s, beta = p["r"], p["alpha"], p["s"], p["beta"]
        r_post, a_post, b_post = r + x, alpha + T, beta + T
        # alive throughout (T, T+t]
        survive = np.exp(s * (np.log(b_post) - np.log(b_post + t)))
        stay = survive * nbinom_pmf(n, r_post, a_post / (a_post + t))
        if n == 0:
            # drop out at τ in (0, t] before any purchase: s α'^r' β'^s ∫_0^t (α'+τ)^-r' (β'+τ)^-(s+1) dτ
            h0 = _log_h_elementwise(np.zeros_like(x), r_post, a_post, s, b_post)
            ht = _log_h_elementwise(t, r_post, a_post, s, b_post)
            scale = r_post * np.log(a_post) + s * np.log(b_post) + np.log(s)
            with np.errstate(divide="ignore", invalid="ignore"):
                gone = np.exp(scale + h0 + np.log1p(-np.minimum(np.exp(ht - h0), 1.0)))
            return stay + np.nan_to_num(gone)
        return stay + _dropout_integral(n, t, r_post, a_post, s, b_post)

    @limit_aware
    def count_steps_alive(self, t: Any, frequency: Any, T: Any) -> CountSteps:
        """P(N = 0), P(N = 1), ... of members alive at T: the dropout integral's nodes and
        weights computed once, the negative binomial at each node stepped in n."""
        x, T = self._pair_arrays(np.atleast_1d(frequency), np.atleast_1d(T))
        return _CountRecurrence(self, float(t), x, T)

    @limit_aware
    def wait_alive(self, share: float, frequency: Any, recency: Any, T: Any) -> np.ndarray:
        """For a member alive at T who stays alive, the wait by which a purchase has happened
        with probability ``share`` (``λ ~ Gamma(r+x, α+T)``)."""
        x, t_x, T = self._arrays(frequency, recency, T)
        return poisson_gamma_wait(share, self.params_["r"] + x, self.params_["alpha"] + T)


class _CountRecurrence(CountSteps):
    """Pareto/NBD's P(N = n | alive) for n >= 1: ``S NB_n(t) + ∫_0^t f(τ) NB_n(τ) dτ`` (S the
    chance of staying alive through t, f the dropout time's density) on the nodes of
    :func:`_dropout_integral`, with ``NB_n(τ) = NB_(n-1)(τ) (r'+n-1)/n · τ/(α'+τ)`` stepped in
    logs. P(N = 0) is the closed form."""

    def __init__(self, model: ParetoNBDModel, t: float, x: np.ndarray, T: np.ndarray) -> None:
        super().__init__(model, t, x, T)
        p = model.params_
        s = p["s"]
        self.r_post = (p["r"] + self.x)[:, None]
        a_post, b_post = (p["alpha"] + self.T)[:, None], (p["beta"] + self.T)[:, None]
        times = np.append(_DROPOUT_FRACTIONS * t, t)[None, :]  # the integral's nodes, and t itself last
        with np.errstate(divide="ignore", invalid="ignore"):
            log_a_time = np.log(a_post + times)
            self.log_nb = self.r_post * (np.log(a_post) - log_a_time)  # NB_0 at each node
            self.log_ratio = np.log(times) - log_a_time
            density = np.exp(np.log(s) + s * np.log(b_post) - (s + 1.0) * np.log(b_post + times[:, :-1]))
        stay = np.exp(s * (np.log(b_post) - np.log(b_post + t)))
        self.weights = np.concatenate([density * (_DROPOUT_WEIGHTS * t)[None, :], stay], axis=1)

    def next(self, rows: np.ndarray) -> np.ndarray:
        n = self.n
        if n == 0:
            value = self.model.probability_of_purchases_alive(0, self.t, self.x[rows], self.T[rows])
        else:
            value = np.einsum("ij,ij->i", self.weights[rows], np.exp(self.log_nb[rows]))
        with np.errstate(invalid="ignore"):
            self.log_nb[rows] += np.log((self.r_post[rows] + n) / (n + 1.0)) + self.log_ratio[rows]
        self.n += 1
        return value


def _digamma_diff(r: float, x: np.ndarray) -> np.ndarray:
    return digamma(r + x) - digamma(r)


def _log_h_elementwise(
    y: np.ndarray, r_post: np.ndarray, a_post: np.ndarray, s: float, b_post: np.ndarray
) -> np.ndarray:
    """``log ∫_y^∞ (α'+u)^-r' (β'+u)^-(s+1) du`` with per-element α', β', r' (x = 0 in log_h)."""
    out = np.empty(np.shape(y))
    y = np.asarray(y, dtype=float)
    ge = a_post >= b_post
    for mask in (ge, ~ge):
        if mask.any():
            out[mask] = _log_h_pointwise(y[mask], r_post[mask], a_post[mask], s, b_post[mask])
    return out


def _log_h_pointwise(y, m, alpha, s, beta) -> np.ndarray:
    A, B = alpha + y, beta + y
    c = m + s + 1.0
    if np.all(alpha >= beta):
        S = hyp2f1(1.0, m, c, (alpha - beta) / A)
        base = -m * np.log(A) - s * np.log(B)
    else:
        S = hyp2f1(1.0, s + 1.0, c, (beta - alpha) / B)
        base = -(s + 1.0) * np.log(B) - (m - 1.0) * np.log(A)
    return base - np.log(c - 1.0) + np.log(S)


_NODES, _WEIGHTS = roots_legendre(32)
_EDGES = np.array([0.0] + [4.0**-k for k in range(5, -1, -1)])


# Gauss-Legendre nodes (as fractions of the horizon) and weights, 32 on each of
# [0, 1/4^5], [1/4^5, 1/4^4], ..., [1/4, 1]: the dropout time's integrals
_LO, _HI = _EDGES[:-1], _EDGES[1:]
_DROPOUT_FRACTIONS = (0.5 * (_HI - _LO)[:, None] * _NODES[None, :] + 0.5 * (_HI + _LO)[:, None]).ravel()
_DROPOUT_WEIGHTS = (0.5 * (_HI - _LO)[:, None] * _WEIGHTS[None, :]).ravel()


def _dropout_integral(n: int, t: np.ndarray, r_post, a_post, s: float, b_post) -> np.ndarray:
    """``∫_0^t s β'^s (β'+τ)^-(s+1) NB(n; r', α'/(α'+τ)) dτ`` by Gauss-Legendre on the dropout
    nodes (all nodes in one vectorised call)."""
    fractions, weights = _DROPOUT_FRACTIONS, _DROPOUT_WEIGHTS
    t = np.asarray(t, dtype=float)
    tau = fractions[:, None] * t[None, :]  # (nodes, members)
    b_post, a_post, r_post = (np.broadcast_to(v, t.shape)[None, :] for v in (b_post, a_post, r_post))
    log_density = np.log(s) + s * np.log(b_post) - (s + 1.0) * np.log(b_post + tau)
    # log NB(n; r', α'/(α'+τ)) written out: SciPy's nbinom.logpmf costs 5x as much here
    log_a_tau = np.log(a_post + tau)
    log_nb = gammaln(r_post + n) - gammaln(r_post) - gammaln(n + 1.0) + r_post * (np.log(a_post) - log_a_tau)
    if n:
        with np.errstate(divide="ignore"):  # τ = 0 (t = 0): no purchase can have happened
            log_nb = log_nb + n * (np.log(tau) - log_a_tau)
    values = np.exp(log_density + log_nb)
    return (weights[:, None] * values).sum(axis=0) * t


__all__ = ["ParetoNBDModel", "log_h"]
