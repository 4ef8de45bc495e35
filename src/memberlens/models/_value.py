"""From orders to predicted member value in one call: the summary, a purchase model and the
Gamma-Gamma spend model fitted on the repeat buyers — what ``memberlens clv``, the ``clv``
analysis and the report's CLV section all run, so they show the same numbers."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date
from typing import Any

import ibis.expr.types as ir
import pandas as pd

from memberlens.errors import InputError, MemberlensError
from memberlens.i18n import said
from memberlens.models._base import TransactionModel
from memberlens.models._fitting import ConvergenceError
from memberlens.models._predict import predict_member_value
from memberlens.models._registry import PURCHASE_MODELS
from memberlens.models._summary import compress_summary, summarise_purchases
from memberlens.models.bg_bb import BetaGeoBetaBinomModel
from memberlens.models.bg_nbd import BetaGeoModel
from memberlens.models.gamma_gamma import GammaGammaModel

MIN_SPEND_BUYERS = 2


@dataclass(frozen=True)
class MemberValueFit:
    """A fitted purchase model and (when the data allows) spend model over one summary."""

    summary: ir.Table
    purchases: TransactionModel
    spend: GammaGammaModel | None
    spend_note: str | None = None  # why there is no spend model
    spend_error: MemberlensError | None = None  # the same, for a report to say in its language
    # the summary's distinct combinations of the purchase model's columns, which it was fitted on
    combinations: pd.DataFrame | None = field(default=None, repr=False, compare=False)

    def predictions(self, **options: Any) -> ir.Table:
        """One row per member (see :func:`predict_member_value`), not executed."""
        return predict_member_value(self.summary, self.purchases, self.spend, combinations=self.combinations, **options)


def summarise_for(
    orders: ir.Table,
    model: str,
    time_unit: str,
    *,
    calibration_end: str | date | None = None,
    observation_end: str | date | None = None,
) -> ir.Table:
    """The purchase summary in the shape ``model`` needs (whole periods for BG/BB)."""
    return summarise_purchases(
        orders,
        time_unit=time_unit,
        calibration_end=calibration_end,
        observation_end=observation_end,
        discrete=model == BetaGeoBetaBinomModel.model_name,
    )


def check_repeat_buyers(summary: ir.Table) -> None:
    """Refuse a summary where no member bought again: the purchase models learn how often
    members buy, and when they stop, from repeat purchases (one day of data; nobody repeating)."""
    counts = summary.aggregate(members=summary.count(), repeaters=(summary.frequency > 0).sum()).execute()
    members, repeaters = int(counts.members.iloc[0]), counts.repeaters.iloc[0]
    if members and not (repeaters == repeaters and repeaters > 0):  # NaN: no rows
        raise said(
            InputError,
            "cannot.clv_no_repeat",
            "ingest a longer period of orders: members who bought on two different days",
            members=members,
        )


def fit_member_value(
    orders: ir.Table,
    *,
    model: str = BetaGeoModel.model_name,
    time_unit: str = "W",
    calibration_end: str | date | None = None,
    observation_end: str | date | None = None,
    spend: bool = True,
    warn: Callable[[str], object] | None = None,
    penalizer: float = 0.0,
) -> MemberValueFit:
    """Summarise ``orders``, fit the purchase ``model`` and, with ``spend``, Gamma-Gamma on the
    repeat buyers with positive spend. Without a spend model (fewer than two such buyers, or a
    Gamma-Gamma fit that does not converge) ``spend`` is None and ``spend_note`` says why, also
    passed to ``warn``: the purchase predictions stand on their own. A model fitted at the edge of
    its parameter space passes its one-line ``fit_note_`` to ``warn`` too. ``penalizer`` shrinks
    both models' log-parameters towards 0 (for data that do not pin them down)."""
    # computed once in the engine and kept there: the check, both fits and the predictions read it
    # (left as an expression, each would summarise the order lines again: 3x the time at 1M members)
    summary = summarise_for(
        orders, model, time_unit, calibration_end=calibration_end, observation_end=observation_end
    ).cache()
    check_repeat_buyers(summary)
    purchases = PURCHASE_MODELS[model](time_unit=time_unit, penalizer=penalizer)
    combinations = compress_summary(summary, purchases.columns)  # for the fit and the predictions
    purchases.fit_distinct(combinations)
    if purchases.fit_note_ and warn is not None:  # fitted at a boundary: say which limit predicts
        warn(purchases.fit_note_)
    if not spend:
        return MemberValueFit(summary, purchases, None, combinations=combinations)
    repeat = summary.filter((summary.frequency > 0) & (summary.monetary_value > 0))
    buyers = int(repeat.count().execute())
    if buyers < MIN_SPEND_BUYERS:
        error = said(InputError, "cannot.spend_few", buyers=buyers)
        note = "fewer than two repeat buyers with positive spend; no spend model"
        if warn is not None:
            warn(note)
        return MemberValueFit(summary, purchases, None, note, error, combinations)
    try:
        spend_model = GammaGammaModel(time_unit=time_unit, penalizer=penalizer).fit(repeat)
    except ConvergenceError as exc:  # e.g. spend per order nearly the same for everyone (q runs away)
        note = f"no spend model: {exc.message}"
        if warn is not None:
            warn(note)
        return MemberValueFit(summary, purchases, None, note, exc, combinations)
    if spend_model.fit_note_ and warn is not None:
        warn(spend_model.fit_note_)
    return MemberValueFit(summary, purchases, spend_model, combinations=combinations)
