"""The models memberlens knows, by the name a saved model and ``memberlens clv fit --model`` give."""

from __future__ import annotations

from memberlens.models._base import BaseModel, TransactionModel
from memberlens.models.bg_bb import BetaGeoBetaBinomModel
from memberlens.models.bg_nbd import BetaGeoModel
from memberlens.models.gamma_gamma import GammaGammaModel
from memberlens.models.mbg_nbd import ModifiedBetaGeoModel
from memberlens.models.pareto_nbd import ParetoNBDModel

#: purchase (buy-till-you-die) models
PURCHASE_MODELS: dict[str, type[TransactionModel]] = {
    cls.model_name: cls for cls in (BetaGeoModel, ModifiedBetaGeoModel, ParetoNBDModel, BetaGeoBetaBinomModel)
}
#: every model a model file may hold: the purchase models and the spend model
MODELS: dict[str, type[BaseModel]] = {**PURCHASE_MODELS, GammaGammaModel.model_name: GammaGammaModel}
