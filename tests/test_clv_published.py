"""The models reproduce the published figures, from the raw files through memberlens' own ingest
and summary (product.md, "Published figures"). Needs ../shared/data."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import memberlens as ml
from memberlens.models import (
    BetaGeoBetaBinomModel,
    BetaGeoModel,
    GammaGammaModel,
    ModifiedBetaGeoModel,
    ParetoNBDModel,
    evaluate_holdout,
    summarise_purchases,
    track_cumulative_purchases,
)

# Fader & Hardie's published values (product.md), to the published decimals
PUBLISHED = {
    "bg-nbd": {"params": {"r": 0.243, "alpha": 4.414, "a": 0.793, "b": 2.426}, "log_likelihood": -9582.43},
    "pareto-nbd": {"params": {"r": 0.553, "alpha": 10.578, "s": 0.606, "beta": 11.669}, "log_likelihood": -9594.98},
    "mbg-nbd": {"params": {"r": 0.525, "alpha": 6.183, "a": 0.891, "b": 1.614}},
    "gamma-gamma": {"params": {"p": 6.25, "q": 3.74, "gamma": 15.44}, "members": 946},
    "bg-bb": {"params": {"alpha": 1.204, "beta": 0.750, "gamma": 0.657, "delta": 2.783}, "log_likelihood": -33225.58},
}


@pytest.fixture(scope="module")
def cdnow(shared_data, tmp_path_factory):
    """The CDNOW sample ingested as published: every purchase line, zero amounts included."""
    raw = pd.read_csv(
        shared_data / "CDNOW_sample.txt",
        sep=r"\s+",
        header=None,
        dtype=str,
        names=["master_id", "sample_id", "date", "cds", "dollars"],
    )
    workspace = ml.Workspace(tmp_path_factory.mktemp("cdnow") / "cdnow.duckdb")
    result = ml.ingest(
        workspace,
        raw,
        mapping=ml.MappingSpec(columns={"customer_id": "master_id", "ordered_at": "date", "amount": "dollars"}),
        policy=ml.CleaningPolicy(drop_duplicates=False),
    )
    assert result.ledger.rows_used == 6919
    yield workspace
    workspace.close()


@pytest.fixture(scope="module")
def cdnow_summary(cdnow):
    orders = cdnow.table("orders")
    return summarise_purchases(orders, time_unit="W", calibration_end="1997-09-30", observation_end="1998-06-30")


def _assert_published(model, name):
    expected = PUBLISHED[name]
    got = {k: round(v, len(str(expected["params"][k]).split(".")[1])) for k, v in model.params_.items()}
    assert got == expected["params"]
    if "log_likelihood" in expected:
        assert round(model.log_likelihood_, 2) == expected["log_likelihood"]


def test_cdnow_summary_is_the_published_one(cdnow_summary):
    frame = cdnow_summary.execute()
    assert len(frame) == 2357
    assert int((frame.frequency > 0).sum()) == 946
    assert int(frame.frequency.sum()) == 2457  # repeat purchases in the 39 calibration weeks
    assert int(frame.frequency_holdout.sum()) == 1882  # and in the 39 holdout weeks
    first = frame.set_index("customer_id").loc["00004"]
    assert (int(first["frequency"]), round(float(first["recency"]), 2), round(float(first["T"]), 2)) == (
        2,
        30.43,
        38.86,
    )


@pytest.mark.parametrize(
    ("model", "name"),
    [(BetaGeoModel(), "bg-nbd"), (ParetoNBDModel(), "pareto-nbd"), (ModifiedBetaGeoModel(), "mbg-nbd")],
    ids=["bg-nbd", "pareto-nbd", "mbg-nbd"],
)
def test_cdnow_parameters_and_log_likelihood(cdnow_summary, model, name):
    model.fit(cdnow_summary)
    _assert_published(model, name)
    assert model.n_members_ == 2357
    assert all(np.isfinite(v) and v > 0 for v in model.standard_errors_.values())


def test_bg_nbd_expected_purchases_of_the_paper_example(cdnow_summary):
    model = BetaGeoModel().fit(cdnow_summary)
    assert round(float(model.expected_purchases(39, 2, 30.43, 38.86)), 3) == 1.226


def test_gamma_gamma_on_the_946_repeat_customers(cdnow_summary):
    repeat = cdnow_summary.filter(cdnow_summary.frequency > 0)
    model = GammaGammaModel().fit(repeat)
    _assert_published(model, "gamma-gamma")
    assert model.n_members_ == PUBLISHED["gamma-gamma"]["members"]
    assert abs(model.frequency_spend_correlation_) < 0.3  # reported, small here


def test_bg_bb_on_the_donations(shared_data):
    donations = pd.read_csv(shared_data / "donations.csv").rename(columns={"periods": "T", "weights": "weight"})
    model = BetaGeoBetaBinomModel(time_unit="Y").fit(donations)
    _assert_published(model, "bg-bb")
    assert model.n_members_ == 11104


def test_conditional_expectations_by_frequency(cdnow_summary):
    """Fader, Hardie & Lee (2005), figure 3: holdout purchases by calibration frequency."""
    model = BetaGeoModel().fit(cdnow_summary)
    result = evaluate_holdout(model, cdnow_summary)
    table = result.by_frequency.round(2)
    assert table["frequency"].tolist() == ["0", "1", "2", "3", "4", "5", "6", "7+"]
    assert table["actual"].tolist()[:3] == [0.24, 0.70, 1.39]
    assert table["expected"].tolist()[:3] == [0.23, 0.52, 1.04]
    assert result.error["actual_total"] == 1882


def test_tracking_curve_counts_every_repeat_purchase(cdnow, cdnow_summary):
    model = BetaGeoModel().fit(cdnow_summary)
    tracking = track_cumulative_purchases(
        model, cdnow.table("orders"), calibration_end="1997-09-30", observation_end="1998-06-30"
    )
    calibration = tracking[~tracking["holdout"]]
    assert calibration["actual_cumulative"].iloc[-1] == 2457
    assert tracking["actual_cumulative"].iloc[-1] == 2457 + 1882
    assert len(tracking) == 78  # 78 weeks
    # the model tracks the cumulative curve within a few percent through the holdout
    final = tracking.iloc[-1]
    assert abs(final.expected_cumulative - final.actual_cumulative) / final.actual_cumulative < 0.06
