"""One contract for every prediction model, as test_clv_common is for the CLV models: the models
are found in memberlens.predict, so a new one is held to it (and fails here until it has a case).

fit returns self; what fit sets ends in ``_`` and did not exist before; fit leaves the
parameters as given; predictions before fit are refused in one message; save/load gives the
same predictions; a bad parameter is refused at fit in one wording. On a small demo shop (600
customers over two years); training churn and response is slow, so their fitted checks are in
the whole suite only (like the rest of their tests)."""

from __future__ import annotations

import importlib
import inspect
import pkgutil
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pandas as pd
import pytest
from conftest import build_demo_workspace

import memberlens.predict
from memberlens.cli.predict import predict_app
from memberlens.errors import ConfigError
from memberlens.io.workspace import Workspace
from memberlens.predict._base import PredictionModel
from memberlens.predict.anomalies import AnomalyModel
from memberlens.predict.churn import ChurnModel
from memberlens.predict.response import ResponseModel
from memberlens.predict.rules import AssociationRuleModel

TABLES = ("orders", "events", "campaigns", "members", "cancellations")


def discovered_models() -> list[type[PredictionModel]]:
    """Every concrete PredictionModel defined in a module of memberlens.predict."""
    found = []
    for module in pkgutil.iter_modules(memberlens.predict.__path__, "memberlens.predict."):
        for _, cls in inspect.getmembers(importlib.import_module(module.name), inspect.isclass):
            if issubclass(cls, PredictionModel) and cls.__module__ == module.name and not inspect.isabstract(cls):
                found.append(cls)
    return sorted(found, key=lambda cls: cls.__name__)


@dataclass(frozen=True)
class Case:
    """How to make one model for a small shop, fit it and read its predictions."""

    make: Callable[..., PredictionModel]  # the class, with settings for a small shop
    fit: Callable[[PredictionModel, dict], PredictionModel]
    predictions: Callable[[PredictionModel, dict], list[pd.DataFrame]]
    bad: tuple[str, Any, str]  # a parameter, a value out of its range, and the range as the message says it
    slow: bool = False


CASES: dict[type[PredictionModel], Case] = {
    ChurnModel: Case(
        make=lambda **params: ChurnModel(**{"horizon_days": 60, "n_cutoffs": 3, **params}),
        fit=lambda model, tables: model.fit(tables),
        predictions=lambda model, tables: [model.score(tables)],
        bad=("horizon_days", 0, "an int in the range [1, inf)"),
        slow=True,
    ),
    ResponseModel: Case(
        make=ResponseModel,
        fit=lambda model, tables: model.fit(tables),
        predictions=lambda model, tables: [model.score(tables)],
        bad=("rule_depth", 2.5, "an int in the range [1, inf)"),
        slow=True,
    ),
    AssociationRuleModel: Case(
        make=AssociationRuleModel,
        fit=lambda model, tables: model.fit(tables["orders"]),
        predictions=lambda model, tables: [model.score(tables["orders"]).to_pandas()],
        bad=("min_support", 0, "a float in the range (0, 1]"),
    ),
    AnomalyModel: Case(
        make=lambda **params: AnomalyModel(
            **{"product_ratio": 10, "min_units": 20, "order_ratio": 10, "customer_ratio": 5, "spend_z": 2.5, **params}
        ),
        fit=lambda model, tables: model.fit(tables["orders"], tables.get("cancellations")),
        predictions=lambda model, tables: [model.score("orders"), model.score("members")],
        bad=("spend_z", float("nan"), "a float in the range (0, inf)"),
    ),
}


def test_every_prediction_model_is_found_and_has_a_case():
    assert discovered_models() == [AnomalyModel, AssociationRuleModel, ChurnModel, ResponseModel]
    assert set(CASES) == set(discovered_models()), "give the new model a Case above"


def test_each_predict_command_has_a_model_behind_the_contract():
    commands = {command.name for command in predict_app.registered_commands}
    assert {cls.kind for cls in discovered_models()} == commands == {"churn", "response", "next-product", "anomalies"}


EVERY_MODEL = pytest.mark.parametrize("cls", list(CASES), ids=lambda cls: cls.__name__)
FITTED = pytest.mark.parametrize(
    "cls",
    [pytest.param(cls, marks=[pytest.mark.slow] if case.slow else [], id=cls.__name__) for cls, case in CASES.items()],
)


@pytest.fixture(scope="module")
def tables(tmp_path_factory):
    path, _ = build_demo_workspace(tmp_path_factory.mktemp("contract"), customers=600, years=2, seed=11)
    with Workspace(path, read_only=True) as ws:
        yield {name: ws.table(name) for name in TABLES if ws.has_table(name)}


@dataclass
class Fitted:
    model: PredictionModel
    returned: Any
    attributes_before: set[str]
    attributes_after: set[str]
    params_before: dict[str, Any]


FITS: dict[type[PredictionModel], Fitted] = {}


@pytest.fixture
def fitted(cls, tables) -> Fitted:
    """The case's model fitted once per module (training churn takes a while)."""
    if cls not in FITS:
        model = CASES[cls].make()
        before, params = set(vars(model)), dict(model.get_params())
        returned = CASES[cls].fit(model, tables)
        FITS[cls] = Fitted(model, returned, before, set(vars(model)), params)
    return FITS[cls]


@FITTED
def test_fit_returns_self_and_sets_only_attributes_ending_in_underscore(cls, fitted):
    assert fitted.returned is fitted.model and fitted.model.is_fitted
    added = fitted.attributes_after - fitted.attributes_before
    assert added, "fit set no attribute"
    assert all(name.endswith("_") for name in added), sorted(added)
    assert not any(name.endswith("_") for name in fitted.attributes_before), "a fitted attribute before fit"
    assert fitted.model.get_params() == fitted.params_before, "fit changed a parameter"


@EVERY_MODEL
def test_init_only_stores_the_parameters(cls):
    name, value, _ = CASES[cls].bad
    model = CASES[cls].make(**{name: value})  # no check until fit
    assert model.get_params()[name] is value and f"{name}={value!r}" in repr(model)
    assert not model.is_fitted and list(model.get_params()) == cls.param_names()


@EVERY_MODEL
def test_predictions_and_saving_before_fit_are_refused_in_one_message(cls, tables, tmp_path):
    model = CASES[cls].make()
    for use in (lambda: CASES[cls].predictions(model, tables), lambda: model.save(tmp_path / "model")):
        with pytest.raises(ConfigError) as info:
            use()
        assert info.value.message == f"This {cls.__name__} instance is not fitted yet."
    assert not (tmp_path / "model").exists()


@EVERY_MODEL
def test_a_bad_parameter_is_refused_at_fit_in_one_wording(cls, tables):
    name, value, expected = CASES[cls].bad
    with pytest.raises(ConfigError) as info:
        CASES[cls].fit(CASES[cls].make(**{name: value}), tables)
    message = info.value.message
    assert message == f"The '{name}' parameter of {cls.__name__} must be {expected}. Got {value!r} instead."
    assert re.fullmatch(
        r"The '\w+' parameter of \w+ must be an? (int|float) in the range [\[(].*[\])]\. Got .+ instead\.", message
    )


@FITTED
def test_save_and_load_give_the_same_predictions(cls, fitted, tables, tmp_path):
    model = fitted.model
    path = model.save(tmp_path / "model")
    assert path == tmp_path / "model" and path.is_file()
    loaded = cls.load(path)
    assert type(loaded) is cls and loaded.is_fitted and loaded.get_params() == model.get_params()
    expected, got = CASES[cls].predictions(model, tables), CASES[cls].predictions(loaded, tables)
    assert all(len(frame) for frame in expected), "the small shop gives predictions to compare"
    for before, after in zip(expected, got, strict=True):
        pd.testing.assert_frame_equal(after, before)
