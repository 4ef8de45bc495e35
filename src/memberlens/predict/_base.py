"""The contract every prediction model keeps — scikit-learn's, as the CLV models of
:mod:`memberlens.models` do:

* ``__init__`` only stores its parameters, each under its own name (:meth:`get_params`);
* ``fit(data, ...)`` checks them (:mod:`memberlens.parameters`: one message for a bad one),
  learns, sets the fitted attributes — their names end in ``_``, and none exists before — and
  returns ``self``;
* ``score(...)`` gives the predictions: a row per member (per suggestion, per flagged order);
  before ``fit`` it refuses with one message;
* ``save(path)`` writes the fitted model (never pickle) and returns the path; ``load(path)``
  reads it back as a model whose predictions are the same.

What ``fit`` and ``score`` take differs with what the model learns from (the workspace's tables
for churn and response, the orders for rules and anomalies). ``kind`` names the model's command,
``memberlens predict KIND``.
"""

from __future__ import annotations

import inspect
import json
from abc import ABC, abstractmethod
from pathlib import Path
from typing import Any, ClassVar

from memberlens.errors import ConfigError, InputError
from memberlens.parameters import check_number


class PredictionModel(ABC):
    """The fit/score/save/load contract (module docstring)."""

    kind: ClassVar[str] = ""

    @classmethod
    def param_names(cls) -> list[str]:
        """The parameters of ``__init__``, in order."""
        signature = inspect.signature(cls.__init__)
        kinds = (inspect.Parameter.POSITIONAL_OR_KEYWORD, inspect.Parameter.KEYWORD_ONLY)
        return [p.name for p in signature.parameters.values() if p.name != "self" and p.kind in kinds]

    def get_params(self) -> dict[str, Any]:
        return {name: getattr(self, name) for name in self.param_names()}

    def __repr__(self) -> str:
        return f"{type(self).__name__}({', '.join(f'{k}={v!r}' for k, v in self.get_params().items())})"

    @property
    def is_fitted(self) -> bool:
        """True once ``fit`` (or ``load``) has set the fitted attributes."""
        return any(name.endswith("_") and not name.startswith("_") for name in vars(self))

    def _check_fitted(self) -> None:
        if not self.is_fitted:
            name = type(self).__name__
            raise ConfigError(
                f"This {name} instance is not fitted yet.",
                f"call fit first, or load a saved one with {name}.load(FILE)",
            )

    def _check_param(self, name: str, **bounds: Any) -> Any:
        """The parameter ``name``, checked (:func:`memberlens.parameters.check_number`)."""
        return check_number(getattr(self, name), name, type(self).__name__, **bounds)

    @abstractmethod
    def fit(self, *data: Any, **options: Any) -> PredictionModel: ...

    @abstractmethod
    def score(self, *data: Any, **options: Any) -> Any: ...

    @abstractmethod
    def save(self, path: str | Path) -> Path: ...

    @classmethod
    @abstractmethod
    def load(cls, path: str | Path) -> PredictionModel: ...


def read_json_model(path: str | Path, what: str, hint: str) -> Any:
    """The JSON document a model was saved in, or an InputError naming the file (``what`` it
    should hold, ``hint`` how to save one)."""
    path = Path(path)
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise InputError(f"{path}: no such file", hint) from exc
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise InputError(f"{path}: cannot read {what} ({exc})", hint) from exc


__all__ = ["PredictionModel", "read_json_model"]
