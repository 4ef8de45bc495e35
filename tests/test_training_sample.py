"""The seeded member sample the churn model trains on when a shop has more customers than it
needs: drawn in the engine, the same on DuckDB and Spark as a plain hashlib computation, the
same customers at every cut-off, and never a reason to leave a customer unscored."""

from __future__ import annotations

import hashlib

import pandas as pd
import pytest
from conftest import load

from memberlens.errors import ConfigError
from memberlens.io.workspace import Workspace
from memberlens.predict._churn_data import training_frame
from memberlens.predict._sample import in_seeded_sample, sample_threshold
from memberlens.predict.churn import ChurnModel

pytestmark = pytest.mark.slow  # trains churn models on demo shops


def in_sample_oracle(customer_id: object, fraction: float, salt: str = "memberlens") -> bool:
    """The sample's definition, in plain Python: MD5 of ``salt:id`` as a number below fraction·16⁸."""
    digits = hashlib.md5(f"{salt}:{customer_id}".encode()).hexdigest()[:8]
    return int(digits, 16) < round(fraction * 16**8)


@pytest.mark.parametrize("fraction", [0.05, 0.3])
def test_sample_matches_the_hashlib_definition_on_every_engine(con, fraction):
    ids = pd.DataFrame({"customer_id": [f"C{i:06d}" for i in range(20_000)]})
    table = load(con, "sample_ids", ids)
    picked = set(table.filter(in_seeded_sample(table.customer_id, fraction)).customer_id.execute())
    expected = {c for c in ids.customer_id if in_sample_oracle(c, fraction)}
    assert picked == expected
    # a uniform draw: within five binomial standard errors of the requested share
    se = (fraction * (1 - fraction) / len(ids)) ** 0.5
    assert abs(len(picked) / len(ids) - fraction) < 5 * se


def test_integer_ids_are_sampled_by_their_decimal_text(con):
    ids = pd.DataFrame({"customer_id": list(range(1, 5_001))})
    table = load(con, "sample_int_ids", ids)
    picked = set(table.filter(in_seeded_sample(table.customer_id, 0.2)).customer_id.execute())
    assert picked == {c for c in ids.customer_id if in_sample_oracle(c, 0.2)}


@pytest.mark.parametrize("fraction", [0.0, -0.1, 1.5])
def test_a_fraction_outside_zero_to_one_is_refused(fraction):
    with pytest.raises(ConfigError, match="sample fraction"):
        sample_threshold(fraction)


@pytest.fixture(scope="module")
def tables(demo_workspace):
    with Workspace(demo_workspace[0], read_only=True) as ws:
        yield {name: ws.table(name) for name in ("orders", "events", "campaigns", "members")}


def test_training_frame_keeps_the_same_sampled_customers_at_every_cutoff(tables):
    days = [pd.Timestamp("2024-03-01").date(), pd.Timestamp("2024-06-01").date()]
    whole = training_frame(tables, days, 180, "orders")
    sampled = training_frame(tables, days, 180, "orders", sample_fraction=0.25)
    expected = whole[whole.customer_id.map(lambda c: in_sample_oracle(c, 0.25))].reset_index(drop=True)
    pd.testing.assert_frame_equal(sampled.reset_index(drop=True), expected)
    assert 0 < len(sampled) < len(whole)


def test_a_model_over_budget_trains_on_a_sample_and_still_scores_everyone(sampled_model, tables):
    model = sampled_model
    orders = tables["orders"].select("customer_id", "ordered_at").execute()
    before = orders[orders.ordered_at < pd.Timestamp(model.validation_cutoff_)].customer_id.nunique()
    sample = model.summary()["training_sample"]
    assert sample["customers_before_validation"] == before
    assert sample["fraction"] == pytest.approx(1_500 / before)
    # validated on the sampled customers only: exactly those of them with an order before it
    sampled_before = sum(
        in_sample_oracle(c, sample["fraction"])
        for c in orders[orders.ordered_at < pd.Timestamp(model.validation_cutoff_)].customer_id.unique()
    )
    assert model.deciles_.members.sum() == sampled_before < before
    scores = model.score(tables)
    assert len(scores) == orders.customer_id.nunique() and scores.customer_id.is_unique


@pytest.fixture(scope="module")
def sampled_model(tables):
    return ChurnModel(max_training_customers=1_500).fit(tables)


@pytest.mark.parametrize("lang, words", [("en", "seeded sample of"), ("zh", "按固定种子抽取")])
def test_the_report_section_says_the_model_learnt_from_a_sample(sampled_model, tables, demo_workspace, lang, words):
    from memberlens.i18n import Messages
    from memberlens.reports.base import ReportContext
    from memberlens.reports.churn_risk import ChurnRiskSection
    from memberlens.results import Scored

    with Workspace(demo_workspace[0], read_only=True) as ws:
        ctx = ReportContext(ws, Messages(lang))
        ctx.results.provide("churn-model", Scored(sampled_model, sampled_model.score(tables)))
        sentences = ChurnRiskSection().build(ctx).sentences
    said = [s for s in sentences if words in s]
    assert len(said) == 1
    share = sampled_model.training_sample_["fraction"]
    assert f"{share * 100:.1f}%" in said[0]


def test_a_model_within_budget_uses_every_customer(tables):
    model = ChurnModel(max_training_customers=10**9, n_cutoffs=4)
    model.fit(tables)
    assert model.summary()["training_sample"]["fraction"] == 1.0
    with pytest.raises(ConfigError, match="max_training_customers"):
        ChurnModel(max_training_customers=0).fit(tables)


def test_the_cli_says_when_it_trained_on_a_sample(run_cli, demo_workspace):
    out = run_cli("predict", "churn", "--db", demo_workspace[0], "--max-training-customers", "1500", "--limit", "3")
    assert out.exit_code == 0, out.stderr
    assert "trained and checked on a seeded sample of" in out.stderr and "every customer is scored" in out.stderr
    bad = run_cli("predict", "churn", "--db", demo_workspace[0], "--max-training-customers", "0")
    assert bad.exit_code == 2 and "max_training_customers" in bad.stderr and "Traceback" not in bad.stderr
