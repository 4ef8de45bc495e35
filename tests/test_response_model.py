"""The marketing response model on the demo workspace: checked on a later campaign than it
learnt from; plan_send and the rules against direct pandas computations from the raw files."""

from __future__ import annotations

import pandas as pd
import pytest

from memberlens.i18n import Messages
from memberlens.io.workspace import Workspace
from memberlens.predict.response import Condition, ResponseModel, Rule, campaign_dates, describe_conditions, send_frame

pytestmark = pytest.mark.slow  # trains response models on demo shops

TABLES = ("orders", "events", "campaigns", "members")


@pytest.fixture(scope="module")
def tables(demo_workspace):
    with Workspace(demo_workspace[0], read_only=True) as ws:
        yield {name: ws.table(name) for name in TABLES}


@pytest.fixture(scope="module")
def fitted(tables):
    return ResponseModel().fit(tables)


@pytest.fixture(scope="module")
def campaigns_csv(demo_workspace):
    return pd.read_csv(demo_workspace[1]["campaigns"]["path"], parse_dates=["sent_at", "converted_at"])


def test_top_decile_responds_at_least_twice_the_base_rate_on_a_later_campaign(
    fitted, tables, campaigns_csv, demo_workspace
):
    demo_workspace_files = demo_workspace[1]
    # the latest campaign whose 14 days of responses are all known by the day after the last order
    orders_end = pd.read_csv(demo_workspace_files["orders"]["path"], usecols=["ordered_at"], parse_dates=["ordered_at"])
    last_send = orders_end.ordered_at.max().normalize() + pd.Timedelta(days=1) - pd.Timedelta(days=14)
    first_sends = campaigns_csv.groupby("campaign_id").sent_at.min().dt.normalize()
    latest = first_sends[first_sends <= last_send].sort_values(kind="mergesort").index[-1]
    assert fitted.validation_campaign_ == latest and latest not in fitted.training_campaigns_
    dates = campaign_dates(tables["campaigns"])
    sends = send_frame(tables, dates[dates.campaign_id == latest])
    p = fitted.estimator_.predict_proba(sends[fitted.features_])[:, 1]
    ranked = sends.assign(p=p).sort_values(["p", "customer_id"], ascending=[False, True])
    top = ranked.head(len(ranked) // 10)
    truth = campaigns_csv[campaigns_csv.campaign_id == latest].set_index("customer_id").responded.astype(int)
    base = truth.mean()
    assert truth.loc[top.customer_id].mean() >= 2 * base
    assert fitted.metrics_["base_rate"] == pytest.approx(base)


def test_plan_send_matches_a_direct_computation(fitted, tables, campaigns_csv):
    scores = fitted.score(tables)
    audience = scores.customer_id[scores.marketable == 1].tolist()[::3]
    plan = fitted.plan_send(scores, audience)
    chosen = scores.set_index("customer_id").loc[audience].response_probability
    assert plan.audience == len(audience)
    assert plan.expected_responders == pytest.approx(chosen.sum())
    assert plan.conversion_rate == pytest.approx(chosen.mean())
    responders = campaigns_csv[campaigns_csv.responded]
    per_response = responders.revenue.sum() / len(responders)
    assert plan.revenue_per_response == pytest.approx(per_response)
    assert plan.expected_revenue == pytest.approx(chosen.sum() * per_response)


def _holds(frame: pd.DataFrame, rule: Rule) -> pd.Series:
    mask = pd.Series(True, index=frame.index)
    for c in rule.conditions:
        mask &= frame[c.feature] <= c.value if c.op == "le" else frame[c.feature] > c.value
    return mask


def test_rules_describe_the_training_sends_truthfully(fitted, tables):
    dates = campaign_dates(tables["campaigns"])
    training = send_frame(tables, dates[dates.campaign_id.isin(fitted.training_campaigns_)])
    training = training.fillna({c.feature: 0 for r in fitted.rules() for c in r.conditions})  # unknown: counts 0
    rules = fitted.rules()
    assert sum(r.members for r in rules) == len(training)  # the leaves cover every send once
    base = training.responded.mean()
    for rule in rules:
        inside = training[_holds(training, rule)]
        assert len(inside) == rule.members
        assert rule.response_rate == pytest.approx(inside.responded.mean())
        assert rule.lift == pytest.approx(inside.responded.mean() / base)
    assert rules[0].lift > 1.5  # the best leaf finds markedly better responders


def test_rules_read_as_plain_words():
    rule = Rule((Condition("orders_90d", "gt", 1.5), Condition("spend_30d", "le", 80.25)), 120, 0.18, 2.4)
    assert (
        describe_conditions(rule, Messages("en"))
        == "orders in the last 90 days at least 2 and spend in the last 30 days at most 80"
    )
    assert describe_conditions(rule, Messages("zh")) == "近 90 天订单数至少 2且近 30 天消费不超过 80"


def test_save_and_load_give_identical_probabilities(fitted, tables, tmp_path):
    path = tmp_path / "response.skops"
    fitted.save(path)
    loaded = ResponseModel.load(path)
    pd.testing.assert_frame_equal(loaded.score(tables), fitted.score(tables))
    assert loaded.rules_ == fitted.rules_ and loaded.revenue_per_response_ == fitted.revenue_per_response_


def test_unknown_campaign_is_named(tables):
    from memberlens.errors import InputError

    with pytest.raises(InputError, match="NOPE"):
        ResponseModel(campaigns=["NOPE", "CMP1"]).fit(tables)
