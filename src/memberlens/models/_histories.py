"""Distinct member histories, and the (frequency, T) pairs that share the rest of a prediction.

A purchase model's prediction for a history ``(x, t_x, T)`` is P(alive at T | history) times what
a member alive at T does next (:class:`memberlens.models._base.PurchasePredictions`), and the
second part depends on the history only through ``(x, T)``. A million members hold about half a
million distinct histories but only tens of thousands of (x, T) pairs: P(alive) is computed per
history, the rest per pair, and the two meet here.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from memberlens.models._base import PurchasePredictions, pair_index, with_dropouts


@dataclass(frozen=True)
class Histories:
    """Histories ``(x, t_x, T)`` (one row each) and their distinct ``(x, T)`` pairs."""

    x: np.ndarray
    t_x: np.ndarray
    T: np.ndarray
    pair: np.ndarray  # per history: its pair
    pair_x: np.ndarray  # per pair: frequency
    pair_T: np.ndarray  # per pair: T

    @classmethod
    def from_arrays(cls, frequency: Any, recency: Any, T: Any) -> Histories:
        x, t_x, T = np.broadcast_arrays(
            *(np.atleast_1d(np.asarray(v, dtype=float)).ravel() for v in (frequency, recency, T))
        )
        x_code, x_values = pd.factorize(x, sort=True)
        pairs = pair_index(x_code, T)
        return cls(x, t_x, T, pairs.code, np.asarray(x_values, dtype=float)[pairs.x_code], pairs.y)

    @property
    def n_pairs(self) -> int:
        return len(self.pair_x)

    def probability_alive(self, model: PurchasePredictions) -> np.ndarray:
        return model.probability_alive(self.x, self.t_x, self.T)

    def expected_purchases(self, model: PurchasePredictions, t: float, alive: np.ndarray) -> np.ndarray:
        """Expected purchases in the next ``t`` periods, per history (``alive``: its P(alive))."""
        return alive * model.expected_purchases_alive(t, self.pair_x, self.pair_T)[self.pair]

    def probability_of_purchases(self, model: PurchasePredictions, n: int, t: float, alive: np.ndarray) -> np.ndarray:
        """P(exactly ``n`` purchases in the next ``t`` periods), per history."""
        return with_dropouts(n, alive, model.probability_of_purchases_alive(n, t, self.pair_x, self.pair_T)[self.pair])

    def wait_alive(self, model: PurchasePredictions, share: float) -> np.ndarray:
        """The wait by which a member who stays alive has bought again with probability ``share``
        (it depends on frequency and T alone, so the pair's T stands in for the recency)."""
        return np.asarray(model.wait_alive(share, self.pair_x, self.pair_T, self.pair_T), dtype=float)[self.pair]


__all__ = ["Histories"]
