"""Parameter recovery: members simulated from known parameters are fitted back within sampling
error (|estimate - truth| <= 4 standard errors from the Hessian), for every model."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from memberlens.models import (
    BetaGeoBetaBinomModel,
    BetaGeoModel,
    GammaGammaModel,
    ModifiedBetaGeoModel,
    ParetoNBDModel,
    simulate_bg_bb,
    simulate_bg_nbd,
    simulate_gamma_gamma,
    simulate_pareto_nbd,
)

MEMBERS = 30_000
recovery = settings(max_examples=3, derandomize=True, deadline=None)


def assert_recovered(model, truth: dict[str, float], z: float = 4.0) -> None:
    for name, true_value in truth.items():
        estimate, se = model.params_[name], model.standard_errors_[name]
        assert abs(estimate - true_value) <= z * se, f"{name}: {estimate:.4g} vs {true_value:.4g} (se {se:.3g})"


@recovery
@given(
    r=st.floats(0.3, 2.0),
    alpha=st.floats(2.0, 20.0),
    a=st.floats(0.5, 3.0),
    b=st.floats(1.5, 8.0),
    seed=st.integers(0, 10_000),
)
def test_bg_nbd_recovers_its_parameters(r, alpha, a, b, seed):
    frame = simulate_bg_nbd(MEMBERS, r, alpha, a, b, seed=seed)
    assert_recovered(BetaGeoModel().fit(frame), {"r": r, "alpha": alpha, "a": a, "b": b})


@recovery
@given(
    r=st.floats(0.3, 2.0),
    alpha=st.floats(2.0, 20.0),
    a=st.floats(0.5, 3.0),
    b=st.floats(1.5, 8.0),
    seed=st.integers(0, 10_000),
)
def test_mbg_nbd_recovers_its_parameters(r, alpha, a, b, seed):
    frame = simulate_bg_nbd(MEMBERS, r, alpha, a, b, seed=seed, modified=True)
    assert_recovered(ModifiedBetaGeoModel().fit(frame), {"r": r, "alpha": alpha, "a": a, "b": b})


@recovery
@given(
    r=st.floats(0.3, 2.0),
    alpha=st.floats(2.0, 20.0),
    s=st.floats(0.3, 2.0),
    beta=st.floats(5.0, 40.0),
    seed=st.integers(0, 10_000),
)
def test_pareto_nbd_recovers_its_parameters(r, alpha, s, beta, seed):
    frame = simulate_pareto_nbd(MEMBERS, r, alpha, s, beta, seed=seed)
    assert_recovered(ParetoNBDModel().fit(frame), {"r": r, "alpha": alpha, "s": s, "beta": beta})


@recovery
@given(
    alpha=st.floats(0.5, 3.0),
    beta=st.floats(0.5, 3.0),
    gamma=st.floats(0.3, 2.0),
    delta=st.floats(1.0, 6.0),
    periods=st.integers(6, 12),
    seed=st.integers(0, 10_000),
)
def test_bg_bb_recovers_its_parameters(alpha, beta, gamma, delta, periods, seed):
    frame = simulate_bg_bb(MEMBERS, alpha, beta, gamma, delta, periods=periods, seed=seed)
    truth = {"alpha": alpha, "beta": beta, "gamma": gamma, "delta": delta}
    assert_recovered(BetaGeoBetaBinomModel().fit(frame), truth)


@recovery
@given(p=st.floats(2.0, 10.0), q=st.floats(2.0, 8.0), gamma=st.floats(5.0, 30.0), seed=st.integers(0, 10_000))
def test_gamma_gamma_recovers_its_parameters(p, q, gamma, seed):
    frequency = simulate_bg_nbd(80_000, 0.5, 5.0, 0.8, 2.5, seed=seed)["frequency"]
    frame = simulate_gamma_gamma(frequency[frequency > 0].to_numpy()[:MEMBERS], p, q, gamma, seed=seed)
    assert_recovered(GammaGammaModel().fit(frame), {"p": p, "q": q, "gamma": gamma})
