"""Marketing response: who responds to a campaign, how many a planned send
will bring, and the rules that describe likely responders.

From past campaigns' sends (``campaigns``: one row per member sent, ``responded``, ``revenue``):

* every send is a training row: the member's features as of the send's day
  (:func:`memberlens.predict.features.member_features`, every member registered by then) and
  whether they responded;
* the latest campaign is held out: the model is trained on the earlier ones and its ROC-AUC,
  PR-AUC, Brier score and decile lift are measured on the latest — a later campaign than any it
  learnt from;
* boosted trees with classes weighted to balance (responders are few), and a sigmoid
  calibration fitted on campaigns held out in turn (``CalibratedClassifierCV`` grouped by
  campaign), so a probability is a response rate;
* :meth:`ResponseModel.plan_send` — for a chosen audience as of a date: expected responders,
  conversion rate and revenue (responders × mean revenue per response in the history);
* :meth:`ResponseModel.rules` — a depth-3 decision tree on count features (0 for a member not
  known before the send), its leaves as conditions with their response rate and lift, for
  sentences in plain words.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import ibis
import ibis.expr.types as ir
import numpy as np
import pandas as pd
from sklearn.calibration import CalibratedClassifierCV
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.model_selection import GroupKFold, StratifiedKFold
from sklearn.tree import DecisionTreeClassifier

from memberlens import format as f
from memberlens.errors import ConfigError, InputError
from memberlens.i18n import said
from memberlens.metrics._arith import money_sum, ratio
from memberlens.predict._base import PredictionModel
from memberlens.predict._classifier_metrics import decile_table, feature_importances, probability_metrics
from memberlens.predict._classifier_persistence import load_prediction_model, save_prediction_model
from memberlens.predict.features import (
    EVENT_WINDOWS,
    ORDER_WINDOWS,
    feature_names,
    learnable_features,
    member_features,
    stack_features,
)
from memberlens.snapshot import as_date, day_after_last_order

#: count features the rules may use: plain to say ("at least 2 orders in the last 90 days")
RULE_FEATURES = (
    "frequency",
    "monetary",
    *(f"orders_{n}d" for n in ORDER_WINDOWS),
    *(f"spend_{n}d" for n in ORDER_WINDOWS),
    *(f"events_{n}d" for n in EVENT_WINDOWS),
    *(f"engagement_{n}d" for n in EVENT_WINDOWS),
    "campaign_sends",
    "campaign_responses",
)
MONEY_FEATURES = ("monetary", *(f"spend_{n}d" for n in ORDER_WINDOWS))


@dataclass(frozen=True)
class Condition:
    """``feature <= value`` (``op == "le"``) or ``feature > value`` (``op == "gt"``)."""

    feature: str
    op: str
    value: float


@dataclass(frozen=True)
class Rule:
    """One leaf of the rules tree: who is in it, how many, and how they responded."""

    conditions: tuple[Condition, ...]
    members: int
    response_rate: float
    lift: float


@dataclass(frozen=True)
class SendPlan:
    """What a planned send to ``audience`` members is expected to bring."""

    audience: int
    expected_responders: float
    conversion_rate: float
    revenue_per_response: float
    expected_revenue: float


def campaign_dates(campaigns: ir.Table) -> pd.DataFrame:
    """``campaign_id, sent_on`` (the day of its first send), oldest first, ties by id."""
    per = campaigns.group_by("campaign_id").aggregate(sent_on=campaigns.sent_at.min().date(), sends=campaigns.count())
    frame = per.order_by(["sent_on", "campaign_id"]).execute()
    frame["sent_on"] = pd.to_datetime(frame["sent_on"]).dt.date
    return frame


def send_frame(tables: Mapping[str, ir.Table], campaigns: pd.DataFrame) -> pd.DataFrame:
    """One row per (campaign, member sent): features as of the campaign's day (null for a member
    unknown before that day), ``responded`` (1/0) and ``revenue``; executed in one query."""
    sends = tables["campaigns"]
    parts = []
    for row in campaigns.itertuples():
        features = member_features(tables, row.sent_on, customers_only=False)
        mine = sends.filter(sends.campaign_id == row.campaign_id)
        per = (
            mine.group_by("customer_id")
            .aggregate(
                responded=mine.responded.fill_null(False).any().ifelse(1, 0),
                revenue=money_sum(mine.revenue.fill_null(0.0)),
            )
            .view()
        )
        # every send is a row: a member registered on the send's own day has no features yet (null)
        joined = per.left_join(features, per.customer_id == features.customer_id)
        values = [features[c] for c in features.columns if c not in ("customer_id", "cutoff")]
        parts.append(
            joined.select(
                per.customer_id,
                *values,
                cutoff=ibis.date(row.sent_on.isoformat()),
                responded=per.responded,
                revenue=per.revenue,
                campaign_id=ibis.literal(row.campaign_id),
            )
        )
    frame = stack_features(parts).order_by(["cutoff", "campaign_id", "customer_id"]).execute()
    frame["cutoff"] = pd.to_datetime(frame["cutoff"]).dt.date
    return frame


def revenue_per_response(campaigns: ir.Table) -> float:
    """Mean revenue of a response over every past send (computed in the engine)."""
    responded = campaigns.responded.fill_null(False)
    value = (
        campaigns.aggregate(
            per=ratio(responded.ifelse(campaigns.revenue.fill_null(0.0), 0.0).sum(), responded.ifelse(1, 0).sum())
        )
        .execute()["per"]
        .iloc[0]
    )
    return 0.0 if value is None or pd.isna(value) else float(value)


def tree_rules(tree: DecisionTreeClassifier, names: Sequence[str], base_rate: float) -> list[Rule]:
    """The leaves of a fitted tree as rules, highest response rate first (ties by size)."""
    t = tree.tree_
    rules: list[Rule] = []

    def walk(node: int, path: tuple[Condition, ...]) -> None:
        if t.children_left[node] == t.children_right[node]:  # a leaf
            counts = t.value[node][0]
            rate = float(counts[1] / counts.sum()) if counts.sum() else 0.0
            rules.append(
                Rule(
                    _simplify(path),
                    int(t.n_node_samples[node]),
                    rate,
                    rate / base_rate if base_rate > 0 else float("nan"),
                )
            )
            return
        feature, threshold = names[t.feature[node]], float(t.threshold[node])
        walk(t.children_left[node], (*path, Condition(feature, "le", threshold)))
        walk(t.children_right[node], (*path, Condition(feature, "gt", threshold)))

    walk(0, ())
    return sorted(rules, key=lambda r: (-r.response_rate, -r.members))


def _simplify(path: Iterable[Condition]) -> tuple[Condition, ...]:
    """Keep the tightest bound per feature and direction."""
    tightest: dict[tuple[str, str], Condition] = {}
    for c in path:
        key = (c.feature, c.op)
        old = tightest.get(key)
        if old is None or (c.op == "le" and c.value < old.value) or (c.op == "gt" and c.value > old.value):
            tightest[key] = c
    return tuple(tightest.values())


def describe_conditions(rule: Rule, t: Callable[..., str]) -> str:
    """The rule's conditions in words through the message catalogue ``t`` ("orders in the last
    90 days at least 2 and ..."); counts are said in whole numbers."""
    parts = []
    for c in rule.conditions:
        feature = t(f"churn_feature.{c.feature}")
        if c.feature in MONEY_FEATURES:
            parts.append(t(f"response_rule.{c.op}", feature=feature, value=f.num(c.value, 0)))
        elif c.op == "gt":
            parts.append(t("response_rule.at_least", feature=feature, value=f.num(math.floor(c.value) + 1, 0)))
        else:
            parts.append(t("response_rule.le", feature=feature, value=f.num(math.floor(c.value), 0)))
    return t("response_rule.and").join(parts) if parts else t("response_rule.everyone")


def calibration_folds(training: pd.DataFrame) -> list[tuple[np.ndarray, np.ndarray]]:
    """(fit rows, calibration rows) of the sigmoid calibration: campaigns held out in turn (up to
    five folds); with a single training campaign, three stratified folds of its sends."""
    groups = training.campaign_id.to_numpy()
    if len(set(groups)) >= 2:
        return list(GroupKFold(n_splits=min(5, len(set(groups)))).split(training, training.responded, groups))
    return list(StratifiedKFold(n_splits=3).split(training, training.responded))


class ResponseModel(PredictionModel):
    """Per-member response probability learnt from past campaigns.

    Parameters
    ----------
    campaigns
        Campaign ids to learn from (default: all); the latest of them is the validation one.
    response_days
        Days after a send in which a response counts: a campaign sent fewer days than this
        before the end of the data (the snapshot's day) is not learnt from, since not all of its
        responses are known yet.
    rule_depth
        Depth of the rules tree (2 or 3 reads well).
    """

    kind = "response"

    def __init__(
        self,
        *,
        campaigns: Sequence[str] | None = None,
        response_days: int = 14,
        rule_depth: int = 3,
        random_state: int = 0,
    ) -> None:
        self.campaigns = campaigns
        self.response_days = response_days
        self.rule_depth = rule_depth
        self.random_state = random_state

    def fit(self, tables: Mapping[str, ir.Table], *, end: date | str | None = None) -> ResponseModel:
        """Train on every chosen campaign but the latest, validate on the latest; returns ``self``.
        ``end``: the day the data is known to (a snapshot's day; default the day after the last
        order)."""
        if tables.get("campaigns") is None:
            raise ConfigError(
                "the response model needs the campaigns table", "memberlens ingest FILE --table campaigns"
            )
        self._check_param("response_days", low=1, integer=True)
        self._check_param("rule_depth", low=1, integer=True)
        end_day = as_date(end) if end is not None else day_after_last_order(tables["orders"])
        chosen = self._chosen_campaigns(campaign_dates(tables["campaigns"]), end_day)
        frame = send_frame(tables, chosen)
        latest = chosen.campaign_id.iloc[-1]
        training, validation = frame[frame.campaign_id != latest], frame[frame.campaign_id == latest]
        for part, campaigns in (
            (training, ", ".join(map(str, chosen.campaign_id.iloc[:-1]))),
            (validation, str(latest)),
        ):
            if part.responded.nunique() < 2:
                key = "cannot.response_all" if len(part) and part.responded.iloc[0] == 1 else "cannot.response_none"
                raise said(
                    ConfigError, key, "learn from more campaigns (--campaign)", campaigns=campaigns, sends=len(part)
                )
        folds = calibration_folds(training)
        self.features_ = [
            name
            for name in learnable_features(training, feature_names(tables))
            if all(training[name].iloc[rows].notna().any() for rows, _ in folds)
        ]
        self.estimator_ = self._fit_estimator(training, folds)
        probability = self.estimator_.predict_proba(validation[self.features_])[:, 1]
        self.metrics_ = probability_metrics(validation.responded, probability)
        self.deciles_ = decile_table(validation.responded, probability)
        self.importances_ = feature_importances(
            self.estimator_, validation[self.features_], validation.responded, repeats=3, random_state=self.random_state
        )
        base_rate = float(training.responded.mean())
        rule_names = [c for c in RULE_FEATURES if c in self.features_]
        tree = DecisionTreeClassifier(
            max_depth=self.rule_depth, min_samples_leaf=max(20, len(training) // 20), random_state=self.random_state
        ).fit(training[rule_names].fillna(0), training.responded)
        self.rules_ = tree_rules(tree, rule_names, base_rate)
        self.training_campaigns_ = list(chosen.campaign_id.iloc[:-1])
        self.validation_campaign_ = str(latest)
        self.training_sends_ = int(len(training))
        self.base_rate_ = base_rate
        self.revenue_per_response_ = revenue_per_response(
            tables["campaigns"].filter(tables["campaigns"].campaign_id.isin(list(chosen.campaign_id)))
        )
        self.end_ = end_day
        self.fitted_at_ = datetime.now(UTC).replace(microsecond=0)
        return self

    def _chosen_campaigns(self, campaigns: pd.DataFrame, end: date) -> pd.DataFrame:
        """The chosen campaigns whose responses are all known by ``end``, oldest first."""
        last_send = end - timedelta(days=self.response_days)
        if self.campaigns:
            unknown = sorted(set(self.campaigns) - set(campaigns.campaign_id))
            if unknown:
                known = ", ".join(campaigns.campaign_id.tolist()[:10])
                raise InputError(
                    f"campaigns table: no campaign {', '.join(map(repr, unknown))}",
                    f"campaigns in the workspace: {known}",
                )
            campaigns = campaigns[campaigns.campaign_id.isin(self.campaigns)]
            recent = campaigns.campaign_id[campaigns.sent_on > last_send].tolist()
            if recent:
                raise ConfigError(
                    f"campaign {', '.join(map(repr, recent))} was sent after {last_send}: not all its responses "
                    f"are known {self.response_days} days later, by {end}",
                    "learn from earlier campaigns, or set --response-days",
                )
        campaigns = campaigns[campaigns.sent_on <= last_send]
        if len(campaigns) < 2:
            raise said(
                ConfigError,
                "cannot.response_one_campaign",
                "choose a later --as-of, a shorter --response-days, or more with --campaign ID (repeatable)",
                campaigns=len(campaigns),
                last_send=last_send,
                days=self.response_days,
                end=end,
            )
        return campaigns.reset_index(drop=True)

    def _fit_estimator(
        self, training: pd.DataFrame, folds: list[tuple[np.ndarray, np.ndarray]]
    ) -> CalibratedClassifierCV:
        base = HistGradientBoostingClassifier(
            max_iter=60,
            learning_rate=0.05,
            max_leaf_nodes=7,
            min_samples_leaf=40,
            l2_regularization=1.0,
            early_stopping=False,
            class_weight="balanced",
            random_state=self.random_state,
        )
        return CalibratedClassifierCV(base, method="sigmoid", cv=folds, ensemble=False).fit(
            training[self.features_], training.responded
        )

    # -- using it -------------------------------------------------------------------------------
    def score(self, tables: Mapping[str, ir.Table], as_of: date | str | None = None) -> pd.DataFrame:
        """Every member registered (or buying) before ``as_of`` (default: the day after the last
        order): ``customer_id, as_of, response_probability`` (and ``marketable`` 1/0 as of that day
        when members are known), highest first, ties by id."""
        self._check_fitted()
        day = as_date(as_of) if as_of is not None else day_after_last_order(tables["orders"])
        features = member_features(tables, day, customers_only=False).order_by("customer_id").execute()
        missing = [c for c in self.features_ if c not in features.columns]
        if missing:
            raise ConfigError(
                f"the model was trained with features the workspace cannot build: {missing}",
                "ingest the same tables the model was trained with",
            )
        probability = self.estimator_.predict_proba(features[self.features_])[:, 1] if len(features) else np.array([])
        context = [c for c in ("marketable",) if c in features.columns]
        scored = features[["customer_id", *context]].assign(as_of=day, response_probability=probability)
        scored = scored[["customer_id", "as_of", "response_probability", *context]]
        scored = scored.sort_values(["response_probability", "customer_id"], ascending=[False, True], kind="mergesort")
        return scored.reset_index(drop=True)

    def plan_send(self, scores: pd.DataFrame, audience: Iterable[str] | None = None) -> SendPlan:
        """Expected responders (sum of probabilities), conversion rate (their mean) and revenue
        (responders × mean revenue per response) of a send to ``audience`` (customer ids; default
        everyone in ``scores``, the frame :meth:`score` returns)."""
        self._check_fitted()
        chosen = scores if audience is None else scores[scores.customer_id.isin(set(audience))]
        responders = float(chosen.response_probability.sum())
        n = int(len(chosen))
        return SendPlan(
            n,
            responders,
            responders / n if n else 0.0,
            self.revenue_per_response_,
            responders * self.revenue_per_response_,
        )

    def rules(self, *, min_lift: float = 0.0) -> list[Rule]:
        """The rules tree's leaves with a lift of at least ``min_lift``, best first."""
        self._check_fitted()
        return [r for r in self.rules_ if r.lift >= min_lift]

    # -- description and persistence -----------------------------------------------------------
    def summary(self) -> dict[str, Any]:
        self._check_fitted()
        return {
            "model": "response",
            "trained_on_data_to": self.end_.isoformat(),
            "fitted_at": self.fitted_at_.isoformat(),
            "training_campaigns": self.training_campaigns_,
            "validation_campaign": self.validation_campaign_,
            "training_sends": self.training_sends_,
            "base_rate": self.base_rate_,
            "revenue_per_response": self.revenue_per_response_,
            "features": list(self.features_),
            "metrics": self.metrics_,
            "deciles": self.deciles_.to_dict(orient="records"),
            "importances": self.importances_.to_dict(orient="records"),
            "rules": [
                {
                    "conditions": [vars(c) for c in r.conditions],
                    "members": r.members,
                    "response_rate": r.response_rate,
                    "lift": r.lift,
                }
                for r in self.rules_
            ],
            "settings": {
                "campaigns": list(self.campaigns) if self.campaigns else None,
                "rule_depth": self.rule_depth,
                "response_days": self.response_days,
                "random_state": self.random_state,
            },
        }

    def save(self, path: str | Path) -> Path:
        """Write the model to ``path`` (skops, no pickle) with its summary."""
        self._check_fitted()
        save_prediction_model(path, self.kind, self.estimator_, self.summary())
        return Path(path)

    @classmethod
    def load(cls, path: str | Path) -> ResponseModel:
        estimator, meta = load_prediction_model(path, cls.kind)
        model = cls(**meta["settings"])
        model.estimator_ = estimator
        model.features_ = meta["features"]
        model.end_ = date.fromisoformat(meta["trained_on_data_to"])
        model.fitted_at_ = datetime.fromisoformat(meta["fitted_at"])
        model.training_campaigns_ = meta["training_campaigns"]
        model.validation_campaign_ = meta["validation_campaign"]
        model.training_sends_ = meta["training_sends"]
        model.base_rate_ = meta["base_rate"]
        model.revenue_per_response_ = meta["revenue_per_response"]
        model.metrics_ = meta["metrics"]
        model.deciles_ = pd.DataFrame(meta["deciles"])
        model.importances_ = pd.DataFrame(meta["importances"])
        model.rules_ = [
            Rule(tuple(Condition(**c) for c in r["conditions"]), r["members"], r["response_rate"], r["lift"])
            for r in meta["rules"]
        ]
        return model


__all__ = ["Condition", "ResponseModel", "Rule", "SendPlan", "campaign_dates", "describe_conditions", "tree_rules"]
