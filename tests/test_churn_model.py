"""The churn model on the shared demo workspace: validated on a later cut-off than any it was
trained on, against metrics recomputed here from the labels; skops round trip; report section."""

from __future__ import annotations

from datetime import timedelta

import numpy as np
import pandas as pd
import pytest

from memberlens.errors import InputError
from memberlens.i18n import Messages
from memberlens.io.workspace import Workspace
from memberlens.predict._churn_data import churn_labels
from memberlens.predict.churn import ChurnModel
from memberlens.predict.features import member_features
from memberlens.reports.base import ReportContext
from memberlens.reports.churn_risk import ChurnRiskSection
from memberlens.results import Scored

pytestmark = pytest.mark.slow  # trains churn models on demo shops

TABLES = ("orders", "events", "campaigns", "members")


@pytest.fixture(scope="module")
def workspace(demo_workspace):
    with Workspace(demo_workspace[0], read_only=True) as ws:
        yield ws


@pytest.fixture(scope="module")
def tables(workspace):
    return {name: workspace.table(name) for name in TABLES}


@pytest.fixture(scope="module")
def fitted(tables):
    return ChurnModel().fit(tables)


def _validation_frame(fitted: ChurnModel, tables) -> pd.DataFrame:
    """The validation cut-off's customers, labels (from the raw orders, in pandas) and predictions."""
    day = fitted.validation_cutoff_
    features = member_features(tables, day).order_by("customer_id").execute()
    orders = tables["orders"].select("customer_id", "ordered_at").execute()
    start, stop = pd.Timestamp(day), pd.Timestamp(day + timedelta(days=fitted.horizon_days))
    buyers_after = set(orders.customer_id[(orders.ordered_at >= start) & (orders.ordered_at < stop)])
    features["churned"] = (~features.customer_id.isin(buyers_after)).astype(int)
    features["p"] = fitted.predict_frame(features)
    return features


@pytest.fixture(scope="module")
def validation(fitted, tables):
    return _validation_frame(fitted, tables)


def _auc(y: np.ndarray, p: np.ndarray) -> float:
    """ROC-AUC as the Mann-Whitney statistic: the chance a churner outranks a stayer."""
    ranks = pd.Series(p).rank().to_numpy()
    n1, n0 = y.sum(), len(y) - y.sum()
    return (ranks[y == 1].sum() - n1 * (n1 + 1) / 2) / (n1 * n0)


def test_validation_is_later_than_every_training_label(fitted):
    assert all(
        day + timedelta(days=fitted.horizon_days) <= fitted.validation_cutoff_ for day in fitted.training_cutoffs_
    )
    assert fitted.validation_cutoff_ + timedelta(days=fitted.horizon_days) <= fitted.end_


def test_roc_auc_on_the_later_cut_off(fitted, validation):
    auc = _auc(validation.churned.to_numpy(), validation.p.to_numpy())
    assert auc >= 0.75
    assert fitted.metrics_["roc_auc"] == pytest.approx(auc, abs=1e-9)
    assert fitted.metrics_["base_rate"] == pytest.approx(validation.churned.mean())


def _deciles(validation: pd.DataFrame) -> pd.DataFrame:
    ranked = validation.sort_values(["p", "customer_id"], ascending=[False, True]).reset_index(drop=True)
    ranked["decile"] = np.arange(len(ranked)) * 10 // len(ranked) + 1
    return ranked.groupby("decile").agg(predicted=("p", "mean"), observed=("churned", "mean"))


def test_decile_table_matches_a_direct_computation(fitted, validation):
    expected = _deciles(validation)
    np.testing.assert_allclose(fitted.deciles_.predicted, expected.predicted, atol=1e-9)
    np.testing.assert_allclose(fitted.deciles_.observed, expected.observed, atol=1e-9)
    top = expected.observed.iloc[0]
    assert fitted.metrics_["top_decile_lift"] == pytest.approx(top / validation.churned.mean())
    assert fitted.deciles_.cumulative_capture.iloc[-1] == pytest.approx(1.0)


def test_calibration_within_twelve_points_in_every_decile(validation):
    """A guard against regressions on the small shared shop, where noise dominates: exactly right
    probabilities exceed 6 points one time in twenty (benchmarks/churn_calibration.py); measured
    9.6 points (decile 4). Issue #5's 5 points is checked on the default demo below."""
    gaps = (_deciles(validation).predicted - _deciles(validation).observed).abs()
    assert gaps.max() <= 0.12, gaps.round(3).tolist()


def test_calibration_within_five_points_in_every_decile_on_the_default_demo(default_demo_workspace):
    """Issue #5 on the demo ``memberlens demo`` writes (20,000 customers): on the later cut-off,
    predicted and observed churn agree within 5 points in every decile, and ROC-AUC >= 0.75."""
    with Workspace(default_demo_workspace[0], read_only=True) as ws:
        tables = {name: ws.table(name) for name in TABLES}
        fitted = ChurnModel().fit(tables)
        validation = _validation_frame(fitted, tables)
    deciles = _deciles(validation)
    gaps = (deciles.predicted - deciles.observed).abs()
    assert gaps.max() <= 0.05, gaps.round(3).tolist()
    assert _auc(validation.churned.to_numpy(), validation.p.to_numpy()) >= 0.75


@pytest.mark.parametrize(
    ("feature", "step", "direction"),
    [("recency_days", 60, 1), ("days_since_event", 60, 1), ("mean_gap_days", 30, 1), ("orders_90d", 2, -1)],
)
def test_churn_moves_the_way_the_label_implies(fitted, validation, feature, step, direction):
    """Other things equal, more days since the last order (or event, or between orders) never
    lowers the churn probability; more recent orders never raise it."""
    moved = validation.assign(**{feature: validation[feature] + step})
    change = (fitted.predict_frame(moved) - validation.p.to_numpy()) * direction
    assert change.min() >= -1e-12
    assert change.max() > 0.01  # the feature is used, so the check can fail
    assert fitted.summary()["monotone_directions"][feature] == direction


def test_unsubscribe_label_weighs_the_rare_class_and_calibrates_it(tables):
    """``label="unsubscribe"``: among customers still subscribed at the validation cut-off, who
    unsubscribes in the horizon (a pandas oracle over the raw tables); the rare class is weighted
    and calibrated back, so the mean probability is close to the observed rate."""
    model = ChurnModel(label="unsubscribe").fit(tables)
    day = pd.Timestamp(model.validation_cutoff_)
    stop = day + pd.Timedelta(days=model.horizon_days)
    orders = tables["orders"].select("customer_id", "ordered_at").execute()
    members = tables["members"].select("customer_id", "registered_at", "unsubscribed_at").execute()
    buyers = set(orders.customer_id[orders.ordered_at < day].dropna())
    members = members[members.customer_id.isin(buyers) & (members.registered_at < day)]
    first_unsubscribed = members.groupby("customer_id").unsubscribed_at.min()
    subscribed = first_unsubscribed[first_unsubscribed.isna() | (first_unsubscribed >= day)]
    churned = subscribed.notna() & (subscribed < stop)
    assert model.metrics_["members"] == len(subscribed)
    assert model.metrics_["base_rate"] == pytest.approx(churned.mean())
    summary = model.summary()
    assert summary["class_weighted_and_calibrated"] is True and summary["monotone_directions"] == {}
    assert model.metrics_["roc_auc"] > 0.6
    predicted = (model.deciles_.predicted * model.deciles_.members).sum() / model.deciles_.members.sum()
    assert abs(predicted - churned.mean()) < 0.015


def test_dropped_out_customers_score_higher(fitted, tables, demo_workspace):
    """Against the generator's truth: at the end, customers who dropped out score higher."""
    truth = pd.read_csv(demo_workspace[1]["truth"]["path"])
    scores = fitted.score(tables).merge(truth[["customer_id", "dropped_out_at"]], on="customer_id")
    dropped = scores.dropped_out_at.notna().astype(int).to_numpy()
    assert _auc(dropped, scores.churn_probability.to_numpy()) >= 0.75


def test_scores_every_customer_with_bands_from_the_thresholds(fitted, tables):
    scores = fitted.score(tables)
    customers = tables["orders"].customer_id.nunique().execute()
    assert len(scores) == customers and scores.customer_id.is_unique
    p = scores.churn_probability
    assert ((p >= 0) & (p <= 1)).all()
    expected = np.where(p >= fitted.high, "high", np.where(p >= fitted.medium, "medium", "low"))
    assert (scores.risk_band.to_numpy() == expected).all()
    assert p.is_monotonic_decreasing


def test_save_and_load_give_identical_probabilities(fitted, tables, tmp_path, validation):
    path = tmp_path / "churn.skops"
    fitted.save(path)
    loaded = ChurnModel.load(path)
    np.testing.assert_array_equal(loaded.predict_frame(validation), validation.p.to_numpy())
    assert loaded.summary()["training_cutoffs"] == fitted.summary()["training_cutoffs"]
    assert loaded.metrics_ == fitted.metrics_ and loaded.end_ == fitted.end_


def test_loading_refuses_unknown_types(tmp_path):
    from fractions import Fraction

    import skops.io as sio
    from sklearn.linear_model import LogisticRegression

    path = tmp_path / "other.skops"
    sio.dump({"format": "memberlens-prediction", "kind": "churn", "estimator": Fraction(1, 3)}, path)
    with pytest.raises(InputError, match="refusing to load"):
        ChurnModel.load(path)
    sio.dump(
        {
            "format": "memberlens-prediction",
            "format_version": 1,
            "kind": "churn",
            "metadata": "{}",
            "estimator": LogisticRegression(),
        },
        path,
    )
    with pytest.raises(InputError, match="not a memberlens churn model"):
        ChurnModel.load(path)
    (tmp_path / "junk.skops").write_text("not a model")
    with pytest.raises(InputError, match="not a memberlens model"):
        ChurnModel.load(tmp_path / "junk.skops")


def test_unsubscribe_labels_match_the_members_table(tables, workspace):
    day = pd.Timestamp("2024-03-01").date()
    got = churn_labels(tables, day, 180, "unsubscribe").execute().set_index("customer_id").churned
    members = workspace.table("members").execute()
    orders = workspace.table("orders").select("customer_id", "ordered_at").execute()
    customers = set(orders.customer_id[orders.ordered_at < pd.Timestamp(day)])
    m = members[members.customer_id.isin(customers) & (members.registered_at < pd.Timestamp(day))]
    m = m[m.unsubscribed_at.isna() | (m.unsubscribed_at >= pd.Timestamp(day))]
    gone = m.unsubscribed_at < pd.Timestamp(day) + pd.Timedelta(days=180)
    expected = pd.Series(gone.astype(int).to_numpy(), index=m.customer_id).sort_index()
    pd.testing.assert_series_equal(got.sort_index(), expected, check_names=False, check_dtype=False)


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_report_section_shows_the_model_and_exports_the_bands(fitted, tables, workspace, lang):
    ctx = ReportContext(workspace, Messages(lang))
    scores = fitted.score(tables)
    ctx.results.provide("churn-model", Scored(fitted, scores))
    section = ChurnRiskSection()
    content = section.build(ctx)
    assert len(content.charts) == 3
    bands = content.charts[0].table
    assert sum(int(row[1].replace(",", "")) for row in bands.rows) == len(scores)
    auc = f"{fitted.metrics_['roc_auc']:.3f}"
    assert any(auc in s for s in content.sentences)
    exports = section.exports(ctx)
    assert sum(len(frame) for frame in exports.values()) == len(scores)
    assert (exports["churn_risk_high"].churn_probability >= fitted.high).all()
