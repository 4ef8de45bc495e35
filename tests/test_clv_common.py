"""One contract for every CLV model, as scikit-learn's test_common: a new model cannot skip it."""

from __future__ import annotations

import json

import ibis
import numpy as np
import pandas as pd
import pytest

from memberlens.errors import ConfigError, InputError
from memberlens.models import (
    BetaGeoBetaBinomModel,
    BetaGeoModel,
    GammaGammaModel,
    ModifiedBetaGeoModel,
    ParetoNBDModel,
    load_model,
    model_from_dict,
    save_model,
    simulate_bg_bb,
    simulate_bg_nbd,
    simulate_gamma_gamma,
)
from memberlens.models._persistence import models_from_json, models_to_json

MODELS = [BetaGeoModel, ModifiedBetaGeoModel, ParetoNBDModel, BetaGeoBetaBinomModel, GammaGammaModel]


def data_for(cls) -> pd.DataFrame:
    """A small summary each model can be fitted on, with customer ids."""
    if cls is BetaGeoBetaBinomModel:
        frame = simulate_bg_bb(3000, 1.2, 0.75, 0.66, 2.78, seed=1)
    elif cls is GammaGammaModel:
        frequency = simulate_bg_nbd(6000, 0.5, 5.0, 0.8, 2.5, seed=1)["frequency"]
        frame = simulate_gamma_gamma(frequency[frequency > 0].to_numpy(), 6.0, 4.0, 15.0, seed=1)
    else:
        frame = simulate_bg_nbd(3000, 0.5, 5.0, 0.8, 2.5, seed=1, max_days=365)
    return frame.assign(customer_id=[f"c{i}" for i in range(len(frame))])


@pytest.fixture(params=MODELS, ids=lambda c: c.__name__)
def case(request):
    cls = request.param
    return cls, data_for(cls)


def test_fit_returns_self_and_sets_fitted_attributes(case):
    cls, frame = case
    model = cls()
    assert not model.is_fitted
    assert model.fit(frame) is model
    assert list(model.params_) == list(cls.param_names)
    assert all(v > 0 and np.isfinite(v) for v in model.params_.values())
    assert set(model.standard_errors_) == set(cls.param_names)
    assert model.n_members_ == len(frame)
    assert 0 < model.n_combinations_ <= len(frame)
    assert np.isfinite(model.log_likelihood_) and model.log_likelihood_ < 0
    assert model.log_likelihood(frame) == pytest.approx(model.log_likelihood_, rel=1e-12)
    assert model.bic_ > model.aic_ > -2 * model.log_likelihood_


def test_init_only_stores_arguments(case):
    cls, _ = case
    model = cls(time_unit="nonsense", penalizer=-1)  # no validation until fit
    assert model.get_params()["penalizer"] == -1
    assert "penalizer=-1" in repr(model)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        (
            {"penalizer": -1},
            "The 'penalizer' parameter of {name} must be a float in the range [0, inf). Got -1 instead.",
        ),
        ({"max_iter": 0}, "The 'max_iter' parameter of {name} must be an int in the range [1, inf). Got 0 instead."),
        (
            {"max_iter": 2.5},
            "The 'max_iter' parameter of {name} must be an int in the range [1, inf). Got 2.5 instead.",
        ),
        ({"time_unit": "fortnight"}, "The 'time_unit' parameter of {name} must be a str among D, W, M, Q, Y"),
    ],
)
def test_bad_arguments_are_refused_at_fit_in_one_style(case, kwargs, message):
    cls, frame = case
    with pytest.raises(ConfigError) as info:
        cls(**kwargs).fit(frame)
    assert info.value.message.startswith(message.format(name=cls.__name__))


def test_unfitted_predict_raises(case):
    cls, frame = case
    with pytest.raises(ConfigError, match=f"This {cls.__name__} instance is not fitted yet"):
        cls().predict(frame)
    with pytest.raises(ConfigError, match="not fitted"):
        cls().to_dict()


def test_json_round_trip_gives_identical_predictions(case, tmp_path):
    cls, frame = case
    model = cls().fit(frame)
    path = save_model(tmp_path / "model.json", model)
    (loaded,) = load_model(path)
    assert type(loaded) is cls and loaded.params_ == model.params_
    assert loaded.time_unit == model.time_unit
    pd.testing.assert_frame_equal(loaded.predict(frame), model.predict(frame))
    document = json.loads(path.read_text())
    assert document["format"] == "memberlens-clv" and document["models"][0]["model"] == cls.model_name
    assert "memberlens_version" in document and "time_unit" in document["models"][0]
    assert not any(isinstance(v, list) and len(v) == len(frame) for v in document["models"][0].values())  # no data


def test_weights_are_equivalent_to_repeated_rows(case):
    cls, frame = case
    columns = list(cls.columns)
    sample = frame[columns].head(400)
    weights = np.random.default_rng(0).integers(1, 4, len(sample))
    repeated = sample.loc[sample.index.repeat(weights)].reset_index(drop=True)
    weighted = sample.assign(weight=weights)
    a, b = cls().fit(repeated), cls().fit(weighted)
    assert a.n_members_ == b.n_members_ == weights.sum()
    for name in cls.param_names:
        assert a.params_[name] == pytest.approx(b.params_[name], rel=1e-6)
    assert a.log_likelihood_ == pytest.approx(b.log_likelihood_, rel=1e-10)


def test_predictions_are_one_row_per_member_in_the_engine(case):
    cls, frame = case
    model = cls().fit(frame)
    table = ibis.memtable(frame)
    result = model.predict(table)
    assert isinstance(result, ibis.expr.types.Table)
    got = result.execute().sort_values("customer_id").reset_index(drop=True)
    expected = model.predict(frame).sort_values("customer_id").reset_index(drop=True)
    assert len(got) == len(frame) and got.customer_id.is_unique
    pd.testing.assert_frame_equal(got[expected.columns], expected, check_dtype=False)
    prediction_columns = [c for c in got.columns if c not in frame.columns]
    assert prediction_columns and got[prediction_columns].notna().all().all()


def test_missing_columns_say_which(case):
    cls, frame = case
    with pytest.raises(InputError, match=r"no column\(s\)"):
        cls().fit(frame.drop(columns=[cls.columns[-1]]))


def test_a_broken_model_file_says_why(tmp_path):
    path = tmp_path / "m.json"
    path.write_text(
        '{"format": "memberlens-clv", "format_version": 1, "models": [{"model": "bg-nbd", "params": {"r": 1}}]}'
    )
    with pytest.raises(InputError, match=r"needs parameters \['r', 'alpha', 'a', 'b'\]"):
        load_model(path)
    with pytest.raises(InputError, match="not valid JSON"):
        models_from_json("{", where="x.json")
    with pytest.raises(InputError, match="unknown model 'nope'"):
        model_from_dict({"model": "nope"})
    with pytest.raises(InputError, match="no such model file"):
        load_model(tmp_path / "missing.json")


def test_a_file_holds_a_purchase_and_a_spend_model():
    purchases = BetaGeoModel().fit(data_for(BetaGeoModel))
    spend = GammaGammaModel().fit(data_for(GammaGammaModel))
    loaded = models_from_json(models_to_json(purchases, spend))
    assert [type(m) for m in loaded] == [BetaGeoModel, GammaGammaModel]
    assert loaded[1].frequency_spend_correlation_ == spend.frequency_spend_correlation_
