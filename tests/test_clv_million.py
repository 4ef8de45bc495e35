"""Fits and predictions succeed at a million members on the two simulations that broke them:
members who never leave (no dropout), and members whose life ends at a random time rather than
right after a purchase (Pareto/NBD-like logs, which made BG/NBD's b run away). Each purchase model
is fitted on the summary and predicts every member, with intervals where the fit gives them."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from memberlens.models import (
    BetaGeoModel,
    ModifiedBetaGeoModel,
    ParetoNBDModel,
    predict_member_value,
    why_no_intervals,
)

MEMBERS = 1_000_000


def _no_dropout(n: int, seed: int) -> pd.DataFrame:
    """Poisson purchases at Gamma-distributed rates (per week), nobody leaving, ages up to two years."""
    rng = np.random.default_rng(seed)
    T = np.floor(rng.uniform(1, 730, n)) / 7.0
    x = rng.poisson(rng.gamma(0.5, 1.0 / 4.0, n) * T)
    t_x = np.where(x > 0, np.maximum(np.floor(T * rng.random(n) ** (1.0 / np.maximum(x, 1)) * 7.0), 1.0) / 7.0, 0.0)
    return pd.DataFrame({"frequency": x.astype(float), "recency": np.minimum(t_x, T), "T": T})


def _random_end_of_life(n: int, seed: int) -> pd.DataFrame:
    """Poisson purchases until an exponential lifetime ends (at any time, not at a purchase)."""
    rng = np.random.default_rng(seed)
    T = np.floor(rng.uniform(1, 730, n)) / 7.0
    life = np.minimum(rng.exponential(1.0, n) / rng.gamma(0.6, 1.0 / 12.0, n), T)
    x = rng.poisson(rng.gamma(0.55, 1.0 / 10.0, n) * life)
    t_x = np.where(x > 0, np.maximum(np.floor(life * rng.random(n) ** (1.0 / np.maximum(x, 1)) * 7.0), 1.0) / 7.0, 0.0)
    return pd.DataFrame({"frequency": x.astype(float), "recency": np.minimum(t_x, T), "T": T})


@pytest.mark.slow
@pytest.mark.parametrize("simulation", [_no_dropout, _random_end_of_life])
@pytest.mark.parametrize("cls", [BetaGeoModel, ModifiedBetaGeoModel, ParetoNBDModel])
def test_a_million_members_are_fitted_and_predicted(simulation, cls):
    summary = simulation(MEMBERS, seed=5)
    model = cls().fit(summary)
    assert model.n_members_ == MEMBERS
    if simulation is _no_dropout:  # every model finds its no-dropout limit and the true rates
        assert model.limit_ is not None and "no dropout" in model.fit_note_
        assert (model.params_["r"], model.params_["alpha"]) == (
            pytest.approx(0.5, rel=0.03),
            pytest.approx(4.0, rel=0.03),
        )
    elif cls is ParetoNBDModel:  # the model the logs come from recovers them
        assert [model.params_[k] for k in ("r", "alpha", "s")] == pytest.approx([0.55, 10.0, 0.6], rel=0.05)
    level = None if why_no_intervals(model) else 0.9
    frame = predict_member_value(summary.assign(customer_id=np.arange(MEMBERS).astype(str)), model, interval=level)
    assert len(frame) == MEMBERS
    for column in ("probability_alive", "predicted_orders", "probability_no_order_90d"):
        assert np.isfinite(frame[column]).all(), column
    assert frame.probability_alive.between(0, 1).all()
    # the population's expected orders over the next year are about what it bought in its last year
    recent = summary.frequency * np.minimum(52.0, summary["T"]) / summary["T"].where(summary["T"] > 0, 1)
    assert frame.predicted_orders.sum() == pytest.approx(recent.sum(), rel=0.6)
    if level is not None:
        assert (frame.predicted_orders_low <= frame.predicted_orders + 1e-9).all()
        assert (frame.orders_range_low <= frame.orders_range_high).all()
