"""Buy-till-you-die customer-lifetime-value models, fitted on distinct combinations with weights.

From orders to predicted member value::

    from memberlens.models import (BetaGeoModel, GammaGammaModel, summarise_purchases,
                                   predict_member_value)

    summary = summarise_purchases(ws.table("orders"), time_unit="W")        # an Ibis expression
    purchases = BetaGeoModel(time_unit="W").fit(summary)
    spend = GammaGammaModel().fit(summary.filter(summary.frequency > 0))
    value = predict_member_value(summary, purchases, spend)                  # one row per member

Models (one module each, named after the paper):

=====================================  =========================================================
:class:`BetaGeoModel`                  BG/NBD — Fader, Hardie & Lee (2005)
:class:`ModifiedBetaGeoModel`          MBG/NBD — Batislam, Denizel & Filiztekin (2007)
:class:`ParetoNBDModel`                Pareto/NBD — Schmittlein, Morrison & Colombo (1987)
:class:`BetaGeoBetaBinomModel`         BG/BB (discrete periods) — Fader, Hardie & Shang (2010)
:class:`GammaGammaModel`               spend per transaction — Fader, Hardie & Lee (2005), RFM and CLV
=====================================  =========================================================
"""

from __future__ import annotations

from memberlens.models._base import TransactionModel
from memberlens.models._evaluate import (
    BASELINES,
    BaselineComparison,
    HoldoutEvaluation,
    compare_models,
    compare_with_baselines,
    evaluate_holdout,
    track_cumulative_purchases,
    tracking_error,
)
from memberlens.models._fitting import ConvergenceError
from memberlens.models._intervals import DEFAULT_LEVEL, order_range, why_no_intervals
from memberlens.models._persistence import load_model, model_from_dict, model_to_dict, save_model
from memberlens.models._predict import predict_member_value
from memberlens.models._registry import PURCHASE_MODELS
from memberlens.models._simulate import (
    simulate_bg_bb,
    simulate_bg_nbd,
    simulate_gamma_gamma,
    simulate_orders,
    simulate_pareto_nbd,
)
from memberlens.models._summary import TimeUnit, compress_summary, summarise_purchases
from memberlens.models._value import MemberValueFit, fit_member_value, summarise_for
from memberlens.models.bg_bb import BetaGeoBetaBinomModel
from memberlens.models.bg_nbd import BetaGeoModel
from memberlens.models.gamma_gamma import GammaGammaModel
from memberlens.models.mbg_nbd import ModifiedBetaGeoModel
from memberlens.models.pareto_nbd import ParetoNBDModel

__all__ = [
    "BASELINES",
    "BaselineComparison",
    "DEFAULT_LEVEL",
    "PURCHASE_MODELS",
    "BetaGeoBetaBinomModel",
    "BetaGeoModel",
    "ConvergenceError",
    "GammaGammaModel",
    "HoldoutEvaluation",
    "MemberValueFit",
    "ModifiedBetaGeoModel",
    "ParetoNBDModel",
    "TimeUnit",
    "TransactionModel",
    "compare_models",
    "compare_with_baselines",
    "compress_summary",
    "evaluate_holdout",
    "fit_member_value",
    "load_model",
    "model_from_dict",
    "model_to_dict",
    "order_range",
    "predict_member_value",
    "save_model",
    "simulate_bg_bb",
    "simulate_bg_nbd",
    "simulate_gamma_gamma",
    "simulate_orders",
    "simulate_pareto_nbd",
    "summarise_for",
    "summarise_purchases",
    "track_cumulative_purchases",
    "tracking_error",
    "why_no_intervals",
]
