"""The count distributions the purchase models are built from, written out in log space with
:mod:`scipy.special` (``scipy.stats`` would add a third of a second to every start-up for two
probability mass functions)."""

from __future__ import annotations

from typing import Any

import numpy as np
from scipy.special import gammaln, xlog1py, xlogy


def nbinom_pmf(n: Any, r: Any, q: Any) -> np.ndarray:
    """P(N = n) of the negative binomial with shape ``r`` and success probability ``q``: the
    purchases in a period of a member with ``λ ~ Gamma(r, α)`` and ``q = α / (α + t)``."""
    n = np.asarray(n, dtype=float)
    return np.exp(gammaln(r + n) - gammaln(r) - gammaln(n + 1.0) + r * np.log(q) + xlog1py(n, -np.asarray(q)))


def poisson_pmf(n: Any, mean: Any) -> np.ndarray:
    """P(N = n) of the Poisson distribution with ``mean``."""
    n = np.asarray(n, dtype=float)
    return np.exp(xlogy(n, mean) - mean - gammaln(n + 1.0))


__all__ = ["nbinom_pmf", "poisson_pmf"]
