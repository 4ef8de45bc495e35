"""Fitted models as JSON: parameters, model name, data unit, versions — no pickle, no data.

A file holds one model or several (a purchase model and its spend model)::

    {"format": "memberlens-clv", "format_version": 1, "memberlens_version": "0.1.0",
     "models": [{"model": "bg-nbd", "class": "BetaGeoModel", "time_unit": "W",
                 "params": {"r": 0.243, ...}, "standard_errors": {...},
                 "log_likelihood": -9582.43, "n_members": 2357, ...}]}
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import numpy as np

from memberlens._version import __version__
from memberlens.errors import InputError
from memberlens.io.files import write_text_atomic
from memberlens.io.jsonable import json_text
from memberlens.models._base import BaseModel
from memberlens.models._fitting import Boundary
from memberlens.models._limits import LimitModel, reachable_limits
from memberlens.models._registry import MODELS

FORMAT = "memberlens-clv"
FORMAT_VERSION = 1


def model_to_dict(model: BaseModel) -> dict[str, Any]:
    """A fitted model as a JSON-ready dict (:meth:`BaseModel.to_dict`)."""
    return model.to_dict()


def model_from_dict(data: dict[str, Any], *, where: str = "model") -> BaseModel:
    """Rebuild a fitted model from :func:`model_to_dict`'s output."""
    name = data.get("model") if isinstance(data, dict) else None
    if name not in MODELS:
        raise InputError(f"{where}: unknown model {name!r}", f"known models: {sorted(MODELS)}")
    cls = MODELS[name]
    params = data.get("params")
    if not isinstance(params, dict) or set(params) != set(cls.param_names):
        raise InputError(
            f"{where}: {name} needs parameters {list(cls.param_names)}, got {sorted(params) if isinstance(params, dict) else params!r}"
        )
    limit, boundary = _limit_from_dict(data.get("limit"), cls, where=where)
    values = {}
    for key in cls.param_names:
        value = params[key]
        if limit is not None and value is None:
            values[key] = math.nan  # at the limit: the full model's parameter is not finite there
            continue
        if not isinstance(value, (int, float)) or isinstance(value, bool) or not math.isfinite(value) or value <= 0:
            raise InputError(f"{where}: parameter {key} of {name} must be a positive number, got {value!r}")
        values[key] = float(value)
    if limit is not None:
        values.update(
            {
                k: v
                for k, v in {**limit.params, boundary.parameter: boundary.value, **limit.full_values}.items()
                if k in values
            }
        )
    settings = data.get("settings", {})
    model = cls(
        time_unit=data.get("time_unit", "W"),
        penalizer=settings.get("penalizer", 0.0),
        max_iter=settings.get("max_iter", 1000),
    )
    model._validate_params()
    model.params_ = values
    errors = data.get("standard_errors") or {}
    model.standard_errors_ = {k: float(errors[k]) if errors.get(k) is not None else math.inf for k in cls.param_names}
    model.covariance_ = _covariance_from(data.get("covariance"), len(cls.param_names))
    model.log_likelihood_ = float(data.get("log_likelihood", math.nan))
    model.n_members_ = int(data.get("n_members", 0))
    model.n_combinations_ = int(data.get("n_combinations", 0))
    model.n_iter_ = 0
    model.gradient_norm_ = 0.0
    model.limit_, model.boundary_ = limit, boundary
    if "frequency_spend_correlation" in data:
        model.frequency_spend_correlation_ = float(data["frequency_spend_correlation"])
    return model


def _covariance_from(value: Any, k: int) -> np.ndarray | None:
    """A saved covariance of ``k`` parameters (None when absent or not a finite k x k matrix: a
    model saved before intervals existed predicts without them)."""
    try:
        covariance = np.asarray(value, dtype=float)
    except (TypeError, ValueError):
        return None
    if covariance.shape != (k, k) or not np.all(np.isfinite(covariance)):
        return None
    return covariance


def _limit_from_dict(data: Any, cls: type[BaseModel], *, where: str) -> tuple[LimitModel | None, Boundary | None]:
    """The limiting model a boundary fit saved (None, None when there is none)."""
    if data is None:
        return None, None
    allowed = {limit.name: limit for limit in reachable_limits(cls)}
    boundary = data.get("boundary") if isinstance(data, dict) else None
    limit_cls = allowed.get(data.get("model")) if isinstance(data, dict) else None
    params = data.get("params") if isinstance(data, dict) else None
    if (
        limit_cls is None
        or not isinstance(params, dict)
        or set(params) != set(limit_cls.param_names)
        or not isinstance(boundary, dict)
        or (boundary.get("parameter"), boundary.get("direction")) not in cls.boundaries
    ):
        raise InputError(
            f"{where}: the limit of {cls.model_name} is not one memberlens knows: {data!r}",
            "refit and save the model with this version",
        )
    for key, value in params.items():
        if not isinstance(value, (int, float)) or isinstance(value, bool) or not math.isfinite(value) or value <= 0:
            raise InputError(
                f"{where}: parameter {key} of the limit {limit_cls.name} must be a positive number, got {value!r}"
            )
    return limit_cls({k: float(v) for k, v in params.items()}), Boundary(boundary["parameter"], boundary["direction"])


def models_to_json(*models: BaseModel) -> str:
    document = {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "memberlens_version": __version__,
        "models": [model_to_dict(m) for m in models],
    }
    return json_text(document, indent=2) + "\n"


def models_from_json(text: str, *, where: str = "model file") -> list[BaseModel]:
    try:
        document = json.loads(text)
    except json.JSONDecodeError as exc:
        raise InputError(
            f"{where}: not valid JSON ({exc.msg} at line {exc.lineno})", "save it with save_model()"
        ) from None
    if not isinstance(document, dict) or document.get("format") != FORMAT:
        raise InputError(f'{where}: not a memberlens model file (no "format": "{FORMAT}")', "save it with save_model()")
    if document.get("format_version") != FORMAT_VERSION:
        raise InputError(
            f"{where}: model file format version {document.get('format_version')!r} is not supported "
            f"(this memberlens reads version {FORMAT_VERSION})",
            "refit and save the model with this version",
        )
    models = document.get("models")
    if not isinstance(models, list) or not models:
        raise InputError(f"{where}: holds no models")
    return [model_from_dict(m, where=f"{where}: models[{i}]") for i, m in enumerate(models)]


def save_model(path: str | Path, *models: BaseModel) -> Path:
    """Write fitted model(s) to ``path`` as JSON, atomically."""
    if not models:
        raise InputError("save_model needs at least one fitted model")
    return write_text_atomic(path, models_to_json(*models))


def load_model(path: str | Path) -> list[BaseModel]:
    """The fitted models saved in ``path`` by :func:`save_model`, in the order saved."""
    path = Path(path)
    if not path.is_file():
        raise InputError(f"{path}: no such model file", "write one with: memberlens clv fit --out FILE.json")
    return models_from_json(path.read_text(encoding="utf-8"), where=str(path))


__all__ = ["load_model", "model_from_dict", "model_to_dict", "models_from_json", "models_to_json", "save_model"]
