"""Saving the fitted classifiers (the churn and the response models) without pickle: one ``skops``
file holding the scikit-learn estimator and a JSON text of everything else (training date, cut-offs, metrics, features).

Loading lists the types the file would create that skops does not trust by default and refuses
any outside an explicit allow-list of scikit-learn and numpy types, so a file from elsewhere
cannot run code; the estimator it holds must be one a memberlens model saves.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from memberlens.errors import InputError
from memberlens.io.files import atomic_path
from memberlens.io.jsonable import json_text

FORMAT = "memberlens-prediction"
FORMAT_VERSION = 1

#: the estimators a model file may hold
ESTIMATORS = ("CalibratedClassifierCV", "HistGradientBoostingClassifier")

#: Every type a saved churn or response model may contain (checked before anything is built).
TRUSTED_TYPES = (
    "builtins.slice",
    "numpy.dtype",
    "numpy.float64",
    "numpy.int64",
    "numpy.ndarray",
    "numpy.random._mt19937.MT19937",
    "numpy.random.mtrand.RandomState",
    "sklearn._loss.link.IdentityLink",
    "sklearn._loss.link.Interval",
    "sklearn._loss.link.LogitLink",
    "sklearn._loss.loss.HalfBinomialLoss",
    "sklearn.calibration.CalibratedClassifierCV",
    "sklearn.calibration._CalibratedClassifier",
    "sklearn.calibration._SigmoidCalibration",
    "sklearn.ensemble._hist_gradient_boosting.binning._BinMapper",
    "sklearn.ensemble._hist_gradient_boosting.gradient_boosting.HistGradientBoostingClassifier",
    "sklearn.ensemble._hist_gradient_boosting.predictor.TreePredictor",
    "sklearn.frozen._frozen.FrozenEstimator",
    "sklearn.isotonic.IsotonicRegression",
    "sklearn.calibration._TemperatureScaling",
)


def save_prediction_model(path: str | Path, kind: str, estimator: Any, metadata: dict[str, Any]) -> None:
    """Write ``estimator`` and ``metadata`` (JSON-ready) to ``path`` atomically."""
    import skops.io as sio

    payload = {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "kind": kind,
        "metadata": json_text(metadata, indent=None),
        "estimator": estimator,
    }
    with atomic_path(Path(path)) as tmp:
        sio.dump(payload, tmp)


def load_prediction_model(path: str | Path, kind: str) -> tuple[Any, dict[str, Any]]:
    """The estimator and metadata saved by :func:`save_prediction_model` as ``kind``."""
    import skops.io as sio

    path = Path(path)
    hint = f"save one with: memberlens predict {kind} --save FILE"
    if not path.is_file():
        raise InputError(f"{path}: no such model file", hint)
    try:
        untrusted = sio.get_untrusted_types(file=path)
    except Exception as exc:  # not a zip / not a skops file
        raise InputError(f"{path}: not a memberlens model file ({type(exc).__name__})", hint) from exc
    unknown = sorted(set(untrusted) - set(TRUSTED_TYPES))
    if unknown:
        raise InputError(
            f"{path}: refusing to load types that a memberlens model does not contain: {unknown}",
            "only load model files you saved yourself",
        )
    payload = sio.load(path, trusted=list(untrusted))
    if not isinstance(payload, dict) or payload.get("format") != FORMAT:
        raise InputError(f"{path}: not a memberlens model file", hint)
    if payload.get("kind") != kind:
        raise InputError(f"{path}: holds a {payload.get('kind')} model, not a {kind} model", hint)
    if payload.get("format_version") != FORMAT_VERSION:
        raise InputError(f"{path}: model file version {payload.get('format_version')} is not supported", hint)
    estimator = payload.get("estimator")
    if type(estimator).__name__ not in ESTIMATORS or not isinstance(payload.get("metadata"), str):
        raise InputError(f"{path}: holds a {type(estimator).__name__}, not a memberlens {kind} model", hint)
    return estimator, json.loads(payload["metadata"])
