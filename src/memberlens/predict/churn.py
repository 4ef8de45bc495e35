"""Churn prediction (member operations: churn warning): the probability that a customer
churns in the next ``horizon_days``, learnt from past cut-offs and validated on a later one.

Churn is defined by the user: ``label="orders"`` — no order in the ``horizon_days`` after the
cut-off; ``label="unsubscribe"`` — ``members.unsubscribed_at`` falls in that window (among those
still subscribed). The population at a cut-off is every customer with an order before it.

Training (:meth:`ChurnModel.fit`), on the data up to ``end`` (the day after the last order):

* the **validation cut-off** is the latest whose label window is fully observed, ``end −
  horizon``; the **training cut-offs** step back every ``step_days`` from ``validation −
  horizon``, so every training label was known before the validation cut-off — never a random
  split of one snapshot;
* features are built in the engine for every cut-off in one query
  (:mod:`memberlens.predict.features`, plus the cut-off's time of year); only the feature
  matrix comes to Python;
* a ``HistGradientBoostingClassifier`` on the log-loss, whose probabilities are calibrated by
  its objective. With ``label="orders"`` the trees are held to the directions the label implies
  (:data:`ORDER_CHURN_DIRECTIONS`): other things equal, churn rises with the days since the last
  order, the last web/app event and the gaps between orders, and falls with the orders of the
  last 30/90/180 days. Unconstrained, the trees learnt wiggles from the young shop of the
  training cut-offs that miscalibrated the older shop at the validation cut-off (demo, 20,000
  customers, seven seeds: largest decile gap 5.1 points on average, 4.3 constrained). When one
  class is rare (under 20 %, e.g. ``label="unsubscribe"``), classes are
  weighted to balance and a sigmoid calibration (``CalibratedClassifierCV`` on the
  ``FrozenEstimator``) is fitted on the latest ``calibration_cutoffs`` cut-offs, held out from
  the trees. (With balanced classes the calibration step fitted on the latest cut-offs made the
  demo's deciles worse, 14 points, because those cut-offs cover one season only);
* on the validation cut-off: ROC-AUC, PR-AUC, Brier score, the decile table (predicted against
  observed churn, lift, capture) and permutation importances.

:meth:`ChurnModel.score` gives each customer a probability and a risk band (``high`` from
``high``, ``medium`` from ``medium``, else ``low``) as of any date. :meth:`ChurnModel.save` and
:meth:`ChurnModel.load` use skops (no pickle).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import ibis.expr.types as ir
import numpy as np
import pandas as pd
from sklearn.calibration import CalibratedClassifierCV
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.frozen import FrozenEstimator

from memberlens.errors import ConfigError
from memberlens.i18n import said
from memberlens.parameters import check_choice
from memberlens.predict._base import PredictionModel
from memberlens.predict._churn_data import (
    LABELS,
    SEASON_FEATURES,
    first_order_day,
    sample_fraction_for,
    schedule_cutoffs,
    training_frame,
    with_season,
)
from memberlens.predict._classifier_metrics import decile_table, feature_importances, probability_metrics
from memberlens.predict._classifier_persistence import load_prediction_model, save_prediction_model
from memberlens.predict.features import FEATURE_TABLES, feature_names, learnable_features, member_features
from memberlens.snapshot import Snapshot, as_date, day_after_last_order

RISK_BANDS = ("high", "medium", "low")
MINORITY_SHARE = 0.2  # below this share of the rarer class, weight the classes and calibrate
SCORE_CONTEXT = ("recency_days", "frequency", "monetary", "spend_180d")
# +1: churn (no order in the horizon) rises with the feature, other things equal; -1: it falls.
# Lifetime frequency is left free: a frequent buyer long silent is likelier gone (BG/NBD).
ORDER_CHURN_DIRECTIONS = {
    "recency_days": 1,
    "days_since_event": 1,
    "mean_gap_days": 1,
    "last_gap_days": 1,
    "orders_30d": -1,
    "orders_90d": -1,
    "orders_180d": -1,
}


def check_thresholds(high: float, medium: float) -> tuple[float, float]:
    if not (0.0 < medium <= high < 1.0):
        raise ConfigError(
            f"risk thresholds must satisfy 0 < medium <= high < 1. Got high={high!r}, medium={medium!r} instead.",
            "e.g. --high 0.75 --medium 0.5",
        )
    return float(high), float(medium)


def risk_band(probability: np.ndarray, high: float, medium: float) -> np.ndarray:
    """``high`` / ``medium`` / ``low`` for each probability."""
    return np.where(probability >= high, "high", np.where(probability >= medium, "medium", "low"))


def training_sample(summary: Mapping[str, Any]) -> dict[str, Any] | None:
    """``{"fraction", "customers_before_validation"}`` of a model summary when the model learnt
    from a sample of the customers; None when it learnt from all of them."""
    sample = summary.get("training_sample") or {}
    return sample if sample.get("fraction", 1.0) < 1.0 else None


def check_both_labels(part: pd.DataFrame, horizon_days: int) -> None:
    """Refuse cut-offs where every customer churned, or none did: nothing tells them apart
    (nobody ever orders again; one customer only)."""
    if part.churned.nunique() >= 2:
        return
    key = "cannot.churn_all_churned" if len(part) and part.churned.iloc[0] == 1 else "cannot.churn_none_churned"
    raise said(ConfigError, key, "use more history or another --horizon-days", horizon=horizon_days)


class ChurnModel(PredictionModel):
    """Churn probability over the next ``horizon_days`` from member features at a cut-off.

    Parameters
    ----------
    horizon_days
        Length of the label window after a cut-off.
    label
        ``"orders"`` (no order in the window) or ``"unsubscribe"``.
    step_days, n_cutoffs
        Training cut-offs: up to ``n_cutoffs``, every ``step_days`` back.
    min_history_days
        The oldest training cut-off has at least this many days of orders behind it.
    calibration_cutoffs
        The latest training cut-offs held out to fit the calibration.
    max_training_customers
        With more customers than this before the validation cut-off, training and validation
        use a seeded sample of about this many customers (the same at every cut-off, drawn in
        the engine alike on every engine); scoring always covers every customer.
    high, medium
        Probability thresholds of the high and medium risk bands.
    """

    kind = "churn"

    def __init__(
        self,
        *,
        horizon_days: int = 180,
        label: str = "orders",
        step_days: int = 15,
        n_cutoffs: int = 18,
        min_history_days: int = 60,
        calibration_cutoffs: int = 3,
        high: float = 0.75,
        medium: float = 0.5,
        random_state: int = 0,
        max_training_customers: int = 200_000,
    ) -> None:
        self.horizon_days = horizon_days
        self.label = label
        self.step_days = step_days
        self.n_cutoffs = n_cutoffs
        self.min_history_days = min_history_days
        self.calibration_cutoffs = calibration_cutoffs
        self.high = high
        self.medium = medium
        self.random_state = random_state
        self.max_training_customers = max_training_customers

    # -- training -------------------------------------------------------------------------------
    def fit(self, tables: Mapping[str, ir.Table], *, end: date | str | None = None) -> ChurnModel:
        """Train on cut-offs before ``end`` (default: the day after the last order) and
        validate on the latest fully observed one; returns ``self``."""
        check_choice(
            self.label,
            "label",
            type(self).__name__,
            LABELS,
            hint="--label orders (no order in the horizon) or --label unsubscribe (members.unsubscribed_at)",
        )
        for name in (
            "horizon_days",
            "step_days",
            "n_cutoffs",
            "min_history_days",
            "calibration_cutoffs",
            "max_training_customers",
        ):
            self._check_param(name, low=1, integer=True)
        check_thresholds(self.high, self.medium)
        orders = tables["orders"]
        end_day = as_date(end) if end is not None else day_after_last_order(orders)
        training, validation = schedule_cutoffs(
            first_order_day(orders),
            end_day,
            horizon_days=self.horizon_days,
            step_days=self.step_days,
            n_cutoffs=self.n_cutoffs,
            min_history_days=self.min_history_days,
        )
        held_out = min(self.calibration_cutoffs, len(training) - 1)
        fraction, customers = sample_fraction_for(orders, validation, self.max_training_customers)
        frame = training_frame(tables, [*training, validation], self.horizon_days, self.label, fraction)
        self.training_sample_ = {"fraction": fraction, "customers_before_validation": customers}
        fit_part = frame[frame.cutoff.isin(training[:-held_out])]
        self.features_ = learnable_features(fit_part, [*feature_names(tables), *SEASON_FEATURES])
        calibration_part = frame[frame.cutoff.isin(training[-held_out:])]
        validation_part = frame[frame.cutoff == validation]
        for part in (fit_part, calibration_part, validation_part):
            check_both_labels(part, self.horizon_days)

        self.estimator_ = self._fit_estimator(fit_part, calibration_part)
        probability = self.estimator_.predict_proba(validation_part[self.features_])[:, 1]
        self.end_ = end_day
        self.training_cutoffs_ = training
        self.calibration_cutoffs_ = training[-held_out:]
        self.validation_cutoff_ = validation
        self.training_rows_ = int(len(fit_part) + len(calibration_part))
        self.metrics_ = probability_metrics(validation_part.churned, probability)
        self.deciles_ = decile_table(validation_part.churned, probability)
        self.importances_ = feature_importances(
            self.estimator_,
            validation_part[self.features_],
            validation_part.churned,
            repeats=3,
            random_state=self.random_state,
        )
        self.fitted_at_ = datetime.now(UTC).replace(microsecond=0)
        return self

    def _fit_estimator(self, fit_part: pd.DataFrame, calibration_part: pd.DataFrame) -> Any:
        """Boosted trees on the log-loss, monotone where the label implies a direction; when
        churners (or stayers) are rare, classes are weighted to balance and a sigmoid calibration
        fitted on the held-out latest cut-offs maps the weighted scores back to probabilities."""
        training = pd.concat([fit_part, calibration_part])
        minority = min(training.churned.mean(), 1 - training.churned.mean())
        balance = minority < MINORITY_SHARE
        base = HistGradientBoostingClassifier(
            max_iter=200,
            learning_rate=0.03,
            max_leaf_nodes=15,
            min_samples_leaf=100,
            l2_regularization=1.0,
            early_stopping=False,
            monotonic_cst=self.monotone_directions() or None,
            class_weight="balanced" if balance else None,
            random_state=self.random_state,
        )
        self.balanced_ = bool(balance)
        if not balance:
            return base.fit(training[self.features_], training.churned)
        base.fit(fit_part[self.features_], fit_part.churned)
        return CalibratedClassifierCV(FrozenEstimator(base), method="sigmoid").fit(
            calibration_part[self.features_], calibration_part.churned
        )

    def monotone_directions(self) -> dict[str, int]:
        """The features the trees are monotone in (+1 rising, -1 falling churn): with
        ``label="orders"``, those of :data:`ORDER_CHURN_DIRECTIONS` the model has."""
        directions = ORDER_CHURN_DIRECTIONS if self.label == "orders" else {}
        return {name: sign for name, sign in directions.items() if name in self.features_}

    # -- scoring --------------------------------------------------------------------------------
    def predict_frame(self, features: pd.DataFrame) -> np.ndarray:
        """Churn probabilities of a feature frame (with a ``cutoff`` column)."""
        self._check_fitted()
        frame = with_season(features)
        missing = [c for c in self.features_ if c not in frame.columns]
        if missing:
            raise ConfigError(
                f"the model was trained with features the workspace cannot build: {missing}",
                "ingest the same tables (events, campaigns, members) the model was trained with",
            )
        return self.estimator_.predict_proba(frame[self.features_])[:, 1]

    def score(self, tables: Mapping[str, ir.Table], as_of: date | str | None = None) -> pd.DataFrame:
        """Each customer with an order before ``as_of`` (default: the day after the last order):
        ``customer_id, churn_probability, risk_band`` and context (recency, frequency, monetary,
        spend in the last 180 days), highest probability first, ties by customer id."""
        self._check_fitted()
        day = as_date(as_of) if as_of is not None else day_after_last_order(tables["orders"])
        features = member_features(tables, day).order_by("customer_id").execute()
        probability = self.predict_frame(features) if len(features) else np.array([])
        scored = features[["customer_id", *SCORE_CONTEXT]].assign(
            as_of=day, churn_probability=probability, risk_band=risk_band(probability, self.high, self.medium)
        )
        scored = scored.sort_values(["churn_probability", "customer_id"], ascending=[False, True], kind="mergesort")
        return scored[["customer_id", "as_of", "churn_probability", "risk_band", *SCORE_CONTEXT]].reset_index(drop=True)

    # -- description and persistence -----------------------------------------------------------
    def summary(self) -> dict[str, Any]:
        """Training date, cut-offs, horizon, thresholds, validation metrics, deciles and importances."""
        self._check_fitted()
        return {
            "model": "churn",
            "label": self.label,
            "horizon_days": self.horizon_days,
            "trained_on_data_to": self.end_.isoformat(),
            "fitted_at": self.fitted_at_.isoformat(),
            "training_cutoffs": [d.isoformat() for d in self.training_cutoffs_],
            "calibration_cutoffs": [d.isoformat() for d in self.calibration_cutoffs_],
            "validation_cutoff": self.validation_cutoff_.isoformat(),
            "training_rows": self.training_rows_,
            "training_sample": getattr(self, "training_sample_", None),
            "class_weighted_and_calibrated": getattr(self, "balanced_", None),
            "thresholds": {"high": self.high, "medium": self.medium},
            "features": list(self.features_),
            "monotone_directions": self.monotone_directions(),
            "metrics": self.metrics_,
            "deciles": self.deciles_.to_dict(orient="records"),
            "importances": self.importances_.to_dict(orient="records"),
            "settings": {
                "step_days": self.step_days,
                "n_cutoffs": self.n_cutoffs,
                "min_history_days": self.min_history_days,
                "calibration_cutoffs": self.calibration_cutoffs,
                "random_state": self.random_state,
                "max_training_customers": self.max_training_customers,
            },
        }

    def save(self, path: str | Path) -> Path:
        """Write the model to ``path`` (skops, no pickle) with its summary."""
        self._check_fitted()
        save_prediction_model(path, self.kind, self.estimator_, self.summary())
        return Path(path)

    @classmethod
    def load(cls, path: str | Path) -> ChurnModel:
        """A model saved by :meth:`save`; refuses files holding unexpected types."""
        estimator, meta = load_prediction_model(path, cls.kind)
        model = cls(
            horizon_days=meta["horizon_days"],
            label=meta["label"],
            high=meta["thresholds"]["high"],
            medium=meta["thresholds"]["medium"],
            **meta["settings"],
        )
        model.estimator_ = estimator
        model.features_ = meta["features"]
        model.end_ = date.fromisoformat(meta["trained_on_data_to"])
        model.fitted_at_ = datetime.fromisoformat(meta["fitted_at"])
        model.training_cutoffs_ = [date.fromisoformat(d) for d in meta["training_cutoffs"]]
        model.calibration_cutoffs_ = [date.fromisoformat(d) for d in meta["calibration_cutoffs"]]
        model.validation_cutoff_ = date.fromisoformat(meta["validation_cutoff"])
        model.training_rows_ = meta["training_rows"]
        model.training_sample_ = meta.get("training_sample")
        model.metrics_ = meta["metrics"]
        model.deciles_ = pd.DataFrame(meta["deciles"])
        model.importances_ = pd.DataFrame(meta["importances"])
        return model

    def with_thresholds(self, high: float, medium: float) -> ChurnModel:
        """The same fitted model with other risk-band thresholds."""
        self.high, self.medium = check_thresholds(high, medium)
        return self


def churn_scores_at(snapshot: Snapshot, model: ChurnModel | None = None) -> pd.DataFrame:
    """The scores (:meth:`ChurnModel.score`) of every customer of ``snapshot`` at its day, by
    ``model`` or by a model trained on the snapshot's cut-offs before that day."""
    tables = {name: snapshot.tables[name] for name in FEATURE_TABLES if snapshot.has(name)}
    model = model or ChurnModel().fit(tables, end=snapshot.day)
    return model.score(tables, snapshot.day)


__all__ = ["ORDER_CHURN_DIRECTIONS", "RISK_BANDS", "ChurnModel", "churn_scores_at", "risk_band", "training_sample"]
