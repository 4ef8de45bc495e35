"""The BG/BB model for discrete transaction opportunities (beta-geometric / beta-Bernoulli).

Fader, P. S., Hardie, B. G. S. & Shang, J. (2010). Customer-Base Analysis in a Discrete-Time
Noncontractual Setting. *Marketing Science* 29(6), 1086–1108.

At each of ``n`` opportunities after the first purchase a living member buys with probability
``p ~ Beta(α, β)``; at the start of each opportunity they die with probability
``θ ~ Beta(γ, δ)``. The likelihood of ``(x, t_x, n)`` (eq. 5)::

    L = B(α+x, β+n-x)/B(α, β) · B(γ, δ+n)/B(γ, δ)
        + Σ_{i=0}^{n-t_x-1} B(α+x, β+t_x-x+i)/B(α, β) · B(γ+1, δ+t_x+i)/B(γ, δ)

In the summary, ``frequency = x``, ``recency = t_x`` and ``T = n`` (whole periods; build it
with ``summarise_purchases(orders, discrete=True)`` or pass a recency/frequency matrix with a
``weight`` column, such as the donations data of the paper).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from scipy.special import betaln, digamma, gammaln

from memberlens.models._base import TransactionModel, check_count


@dataclass(frozen=True)
class _Data:
    x: np.ndarray
    t_x: np.ndarray
    n: np.ndarray
    w: np.ndarray


class BetaGeoBetaBinomModel(TransactionModel):
    """BG/BB: discrete-period buy-till-you-die model (Fader, Hardie & Shang 2010).

    Parameters
    ----------
    time_unit
        The length of one transaction opportunity (e.g. ``Y`` for yearly donations, ``M``).
    penalizer, max_iter
        As for :class:`BetaGeoModel`.

    Attributes
    ----------
    params_ : dict
        ``alpha``, ``beta`` (purchase probability), ``gamma``, ``delta`` (dropout probability).

    Examples
    --------
    >>> BetaGeoBetaBinomModel(time_unit="Y").fit(donations).params_  # doctest: +SKIP
    {'alpha': 1.204, 'beta': 0.750, 'gamma': 0.657, 'delta': 2.783}
    """

    param_names = ("alpha", "beta", "gamma", "delta")
    model_name = "bg-bb"
    title = "BG/BB"
    paper = "Fader, Hardie & Shang (2010), Marketing Science 29(6)"
    discrete = True
    fit_hint = "BG/BB needs several periods per member"

    def __init__(self, *, time_unit: str = "Y", penalizer: float = 0.0, max_iter: int = 1000) -> None:
        super().__init__(time_unit=time_unit, penalizer=penalizer, max_iter=max_iter)

    def _prepare(self, frame: pd.DataFrame) -> _Data:
        return _Data(
            frame["frequency"].to_numpy(dtype=float),
            frame["recency"].to_numpy(dtype=float),
            frame["T"].to_numpy(dtype=float),
            frame["weight"].to_numpy(dtype=float),
        )

    def _initial(self, data: _Data) -> np.ndarray:
        return np.array([1.0, 1.0, 1.0, 1.0])

    def _loglik(self, theta: np.ndarray, data: _Data) -> tuple[float, np.ndarray]:
        al, be, ga, de = (float(v) for v in theta)
        x, t_x, n, w = data.x, data.t_x, data.n, data.w
        base = betaln(al, be) + betaln(ga, de)
        d_base = np.array(
            [
                digamma(al) - digamma(al + be),
                digamma(be) - digamma(al + be),
                digamma(ga) - digamma(ga + de),
                digamma(de) - digamma(ga + de),
            ]
        )
        # term 0: alive through all n opportunities
        terms = [betaln(al + x, be + n - x) + betaln(ga, de + n)]
        grads = [
            np.stack(
                [
                    digamma(al + x) - digamma(al + be + n),
                    digamma(be + n - x) - digamma(al + be + n),
                    digamma(ga) - digamma(ga + de + n),
                    digamma(de + n) - digamma(ga + de + n),
                ]
            )
        ]
        # died at opportunity t_x + i + 1, i = 0 .. n - t_x - 1
        for i in range(int((n - t_x).max()) if len(n) else 0):
            valid = i < n - t_x
            k = t_x + i
            term = betaln(al + x, be + k - x) + betaln(ga + 1.0, de + k)
            terms.append(np.where(valid, term, -np.inf))
            grads.append(
                np.stack(
                    [
                        digamma(al + x) - digamma(al + be + k),
                        digamma(be + k - x) - digamma(al + be + k),
                        digamma(ga + 1.0) - digamma(ga + 1.0 + de + k),
                        digamma(de + k) - digamma(ga + 1.0 + de + k),
                    ]
                )
            )
        stacked = np.stack(terms)
        mix = np.logaddexp.reduce(stacked, axis=0)
        weights = np.exp(stacked - mix)  # share of each term in the likelihood
        ll = float(w @ (mix - base))
        grad = sum(np.nan_to_num(g) * (wt * w) for g, wt in zip(grads, weights)).sum(axis=1) - w.sum() * d_base
        return ll, grad

    # -- predictions --------------------------------------------------------------------------
    def _log_likelihood_terms(self, x: np.ndarray, t_x: np.ndarray, n: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(log of the 'alive through n' term, log L) per member, both without the 1/B(α,β)B(γ,δ)."""
        p = self.params_
        al, be, ga, de = p["alpha"], p["beta"], p["gamma"], p["delta"]
        alive = betaln(al + x, be + n - x) + betaln(ga, de + n)
        total = alive.copy()
        for i in range(int(np.max(n - t_x)) if np.size(n) else 0):
            k = t_x + i
            term = np.where(i < n - t_x, betaln(al + x, be + k - x) + betaln(ga + 1.0, de + k), -np.inf)
            total = np.logaddexp(total, term)
        return alive, total

    def probability_alive(self, frequency: Any, recency: Any, T: Any) -> np.ndarray:
        """P(alive after the n-th opportunity | x, t_x, n) (Fader, Hardie & Shang 2010, eq. 11 at m=0)."""
        x, t_x, n = self._arrays(frequency, recency, T)
        alive, total = self._log_likelihood_terms(x, t_x, n)
        return np.exp(alive - total)

    def probability_alive_next_period(self, frequency: Any, recency: Any, T: Any) -> np.ndarray:
        """P(still alive at the next opportunity, n + 1 | x, t_x, n): alive after n, and then not
        dropping out, with ``θ ~ Beta(γ, δ+n)`` for a member alive after n:
        ``P(alive after n) · B(γ, δ+n+1) / B(γ, δ+n)``."""
        x, t_x, n = self._arrays(frequency, recency, T)
        p = self.params_
        stay = np.exp(betaln(p["gamma"], p["delta"] + n + 1.0) - betaln(p["gamma"], p["delta"] + n))
        return self.probability_alive(x, t_x, n) * stay

    def expected_purchases_alive(self, t: Any, frequency: Any, T: Any) -> np.ndarray:
        """E[purchases in the next ``floor(t)`` opportunities] of a member alive after opportunity
        n (eq. 13 without its P(alive)): with ``p ~ Beta(α+x, β+n-x)`` and ``θ ~ Beta(γ, δ+n)``,
        summed over the future opportunities ``k``: ``E[p] · Σ_k E[(1-θ)^k]``.
        """
        x, n = self._pair_arrays(frequency, T)
        steps = np.floor(np.asarray(t, dtype=float) + 1e-9)
        p = self.params_
        al, be, ga, de = p["alpha"], p["beta"], p["gamma"], p["delta"]
        mean_p = (al + x) / (al + be + n)
        survive = np.zeros(np.broadcast(x, steps).shape)
        for k in range(1, int(np.max(steps)) + 1 if np.size(steps) else 1):
            survive = survive + np.where(k <= steps, np.exp(betaln(ga, de + n + k) - betaln(ga, de + n)), 0.0)
        return mean_p * survive

    def probability_of_purchases_alive(self, n: int, t: Any, frequency: Any, T: Any) -> np.ndarray:
        """P(exactly n purchases in the next ``floor(t)`` opportunities) of a member alive after
        the last observed one, who lives ``K`` more opportunities with ``P(K = k) = E[(1-θ)^k θ]``
        (``k < t``) or ``E[(1-θ)^t]``, and buys ``Binomial(K, p)``.
        """
        j = check_count(n, type(self).__name__)
        x, periods = self._pair_arrays(frequency, T)
        steps = int(np.floor(float(np.max(t)) + 1e-9))
        p = self.params_
        al, be, ga, de = p["alpha"], p["beta"], p["gamma"], p["delta"]
        a_post, b_post = al + x, be + periods - x
        d_post = de + periods
        total = np.zeros(x.shape)
        for k in range(j, steps + 1):
            if k < steps:
                log_k = betaln(ga + 1.0, d_post + k) - betaln(ga, d_post)
            else:
                log_k = betaln(ga, d_post + k) - betaln(ga, d_post)
            log_buy = (
                gammaln(k + 1.0)
                - gammaln(j + 1.0)
                - gammaln(k - j + 1.0)
                + betaln(a_post + j, b_post + k - j)
                - betaln(a_post, b_post)
            )
            total = total + np.exp(log_k + log_buy)
        return total


__all__ = ["BetaGeoBetaBinomModel"]
