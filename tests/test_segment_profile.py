"""The cohort profile against independent pandas computations: the default cohort's whole
structure on the demo customer-360 table (read by pandas straight from the generated CSV),
hand-made tables for the edge cases, one DuckDB + Spark run, the observations, saved segments
and the report section."""

from __future__ import annotations

import math

import ibis
import numpy as np
import pandas as pd
import pytest
from conftest import load
from scipy import stats

from memberlens.errors import ConfigError
from memberlens.i18n import Messages
from memberlens.io.workspace import Workspace
from memberlens.segments import (
    FAST_HANDOVER_SLOW_SUPPORT,
    SegmentSpec,
    Support,
    explore_segment,
    load_segment,
    load_segments,
    profile_segment,
    save_segment,
    select_members,
)
from memberlens.segments.observations import flag_effects, render

RFM = ["recency_score", "frequency_score", "monetary_score"]


# -- the default cohort on the demo customer-360 table -------------------------------------------
@pytest.fixture(scope="module")
def default_cohort(demo_workspace):
    path, files = demo_workspace
    frame = pd.read_csv(files["customer_360"]["path"])
    with Workspace(path, read_only=True) as ws:
        profile = profile_segment(ws.table("customer_360"), FAST_HANDOVER_SLOW_SUPPORT, table_name="customer_360")
        members = select_members(ws.table("customer_360"), FAST_HANDOVER_SLOW_SUPPORT.where).to_pandas()
    mean = frame.composite_engagement_score.mean()
    cohort = (
        frame.marketing_to_sales_days.between(10, 20)
        & (frame.sales_to_support_days > 30)
        & (frame.composite_engagement_score > mean)
    )
    return profile, frame, cohort.to_numpy(), members


def test_default_cohort_size_and_threshold(default_cohort):
    profile, frame, cohort, members = default_cohort
    assert profile.population_size == len(frame) == 8571
    assert profile.cohort_size == cohort.sum() > 100
    assert profile.aggregates["mean(composite_engagement_score)"] == pytest.approx(
        frame.composite_engagement_score.mean()
    )
    assert sorted(members.customer_id) == sorted(frame.customer_id[cohort])
    assert "_source" not in members.columns and "_row" not in members.columns


def test_default_cohort_rfm_and_every_numeric_column(default_cohort):
    profile, frame, cohort, _ = default_cohort
    numeric = profile.numeric.set_index("column")
    assert set(RFM + ["estimated_customer_ltv", "customer_health_score"]) <= set(numeric.index)
    assert not {"in_marketo", "in_stripe", "in_zendesk", "_row"} & set(numeric.index)  # flags and hidden columns
    for column, row in numeric.iterrows():
        x, inside = frame[column].astype(float), frame[column].astype(float)[cohort]
        assert row.cohort_count == inside.count() and row.population_count == x.count()
        assert row.cohort_mean == pytest.approx(inside.mean())
        assert row.population_mean == pytest.approx(x.mean())
        assert row.rest_mean == pytest.approx(x[~cohort].mean())
        assert row.cohort_std == pytest.approx(inside.std())
        assert [row.cohort_q25, row.cohort_median, row.cohort_q75] == pytest.approx(
            inside.quantile([0.25, 0.5, 0.75]).tolist()
        )
        assert [row.population_q25, row.population_median, row.population_q75] == pytest.approx(
            x.quantile([0.25, 0.5, 0.75]).tolist()
        )
        assert (row["min"], row["max"]) == (x.min(), x.max())


def test_default_cohort_distributions_on_shared_edges(default_cohort):
    profile, frame, cohort, _ = default_cohort
    dist = profile.distributions
    scores = dist[dist.column == "recency_score"]  # whole numbers 1..5: one bin per value
    assert scores.low.tolist() == [1, 2, 3, 4, 5]
    assert (
        scores.cohort.tolist()
        == frame.recency_score[cohort].value_counts().reindex([1, 2, 3, 4, 5], fill_value=0).tolist()
    )
    assert (
        scores.population.tolist() == frame.recency_score.value_counts().reindex([1, 2, 3, 4, 5], fill_value=0).tolist()
    )
    ltv = dist[dist.column == "estimated_customer_ltv"]
    x = frame.estimated_customer_ltv
    width = (x.max() - x.min()) / 10
    index = np.clip(np.floor((x - x.min()) / width), 0, 9)
    assert ltv.population.tolist() == index.value_counts().reindex(range(10), fill_value=0).tolist()
    assert ltv.cohort.tolist() == index[cohort].value_counts().reindex(range(10), fill_value=0).tolist()
    assert ltv.cohort_share.sum() == pytest.approx(1.0)


def test_default_cohort_ltv_by_tier_cohort_beside_population(default_cohort):
    profile, frame, cohort, _ = default_cohort
    by = profile.by_group.set_index("customer_tier")
    expected = (
        frame.assign(c=cohort)
        .groupby("customer_tier")
        .apply(
            lambda d: pd.Series(
                {
                    "cohort_members": d.c.sum(),
                    "cohort_mean": d.estimated_customer_ltv[d.c].mean(),
                    "population_members": len(d),
                    "population_mean": d.estimated_customer_ltv.mean(),
                }
            ),
            include_groups=False,
        )
    )
    assert sorted(by.index) == sorted(expected.index)
    for tier, row in expected.iterrows():
        assert by.loc[tier, "cohort_members"] == row.cohort_members
        assert by.loc[tier, "population_members"] == row.population_members
        assert by.loc[tier, "cohort_mean"] == pytest.approx(row.cohort_mean)
        assert by.loc[tier, "population_mean"] == pytest.approx(row.population_mean)
    # the generator built in a higher LTV than the tier's for this cohort
    assert (by[~by.small].lift > 0).all()


def test_default_cohort_channels_regions_and_zendesk(default_cohort):
    profile, frame, cohort, _ = default_cohort
    cats = profile.categories
    channel = cats[cats.column == "primary_engagement_channel"].set_index("value")
    assert (channel.kind == "value").all()
    assert (
        channel.cohort.to_dict()
        == frame.primary_engagement_channel[cohort].value_counts().reindex(channel.index).to_dict()
    )
    # region: more values than shown: the 10 most common (ties by name), the rest as one "other" row
    region = cats[cats.column == "region"]
    counts = frame.region.value_counts()
    order = sorted(counts.index, key=lambda v: (-counts[v], v))
    assert region[region.kind == "value"].value.tolist() == order[:10]
    other = region[region.kind == "other"]
    assert len(other) == (1 if len(order) > 10 else 0)
    if len(other):
        assert other.population.iloc[0] == counts[order[10:]].sum()
        assert other.cohort.iloc[0] == frame.region[cohort].isin(order[10:]).sum()
    flags = profile.flags.set_index("column")
    assert flags.loc["zendesk_active", "cohort_share"] == pytest.approx(frame.zendesk_active[cohort].mean())
    assert flags.loc["zendesk_active", "population_share"] == pytest.approx(frame.zendesk_active.mean())
    assert flags.loc["in_stripe", "cohort_share"] == pytest.approx(frame.in_stripe[cohort].mean())


def _cells(frame, cohort, keys, metric):
    return (
        frame.assign(c=cohort)
        .groupby(keys)
        .apply(
            lambda d: pd.Series(
                {
                    "cohort_members": d.c.sum(),
                    "cohort_mean": d[metric][d.c].mean(),
                    "population_members": len(d),
                    "population_mean": d[metric].mean(),
                }
            ),
            include_groups=False,
        )
    )


def test_default_cohort_platform_combinations_and_risk_velocity_matrix(default_cohort):
    profile, frame, cohort, _ = default_cohort
    for result, keys in (
        (profile.combinations, ["in_marketo", "in_stripe", "in_zendesk"]),
        (profile.matrix, ["activity_risk_level", "engagement_velocity"]),
    ):
        expected = _cells(frame, cohort, keys, "customer_health_score")
        got = result.set_index(keys)
        assert sorted(got.index) == sorted(expected.index)
        for key, row in expected.iterrows():
            assert got.loc[key, "cohort_members"] == row.cohort_members
            assert got.loc[key, "population_members"] == row.population_members
            assert got.loc[key, "population_mean"] == pytest.approx(row.population_mean)
            if row.cohort_members:
                assert got.loc[key, "cohort_mean"] == pytest.approx(row.cohort_mean)
            assert got.loc[key, "small"] == (row.cohort_members < 30)
    assert profile.combinations[["in_marketo", "in_stripe", "in_zendesk"]].isin([0, 1]).all().all()


def test_default_cohort_observations_name_the_best_and_worst_cells_from_the_numbers(default_cohort):
    profile, frame, cohort, _ = default_cohort
    findings = {f.key: f for f in profile.findings()}
    expected = _cells(frame, cohort, ["activity_risk_level", "engagement_velocity"], "customer_health_score")
    supported = expected[expected.cohort_members >= 30]
    best, worst = supported.cohort_mean.idxmax(), supported.cohort_mean.idxmin()
    t = Messages("en")
    assert findings["matrix_best"].values["cell"] == " × ".join(best)
    assert f"{int(supported.loc[best, 'cohort_members']):,} members" in render(findings["matrix_best"], t)
    assert findings["matrix_worst"].values["cell"] == " × ".join(worst)
    assert findings["rec_matrix_fix"].action and findings["rec_matrix_fix"].values["cell"] == " × ".join(worst)
    small = int(((expected.cohort_members > 0) & (expected.cohort_members < 30)).sum())
    assert findings["matrix_small"].values["count"].value == small
    size = render(findings["size"], t)
    assert f"{cohort.sum():,} of the {len(frame):,} rows" in size
    zh = profile.sentences("zh")
    assert zh["observations"][0].startswith("目标群体共") and zh["recommendations"]
    assert profile.to_json("zh")  # valid JSON, no NaN


# -- hand-made tables ---------------------------------------------------------------------------
def _people(n: int = 400, seed: int = 3) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    vip = rng.random(n) < 0.3
    stripe = (rng.random(n) < 0.6).astype("int64")
    spend = rng.gamma(2, 50, n) * np.where(vip, 2.0, 1.0)
    health = 60 + 15 * stripe + rng.normal(0, 5, n)
    return pd.DataFrame(
        {
            "customer_id": [f"P{i:04d}" for i in range(n)],
            "spend": spend.round(2),
            "visits": rng.integers(0, 8, n),
            "health": health.round(1),
            "vip": vip,
            "in_stripe": stripe,
            "in_mail": (rng.random(n) < 0.5).astype("int64"),
            "tier": rng.choice(["A", "B", "C"], n, p=[0.6, 0.3, 0.1]),
            "city": rng.choice([f"city{i:02d}" for i in range(15)], n),
            "risk": rng.choice(["low", "high"], n),
            "speed": rng.choice(["up", "down", "flat"], n),
        }
    )


def test_notable_and_small_follow_the_definition_with_welch_z(con):
    frame = _people()
    table = load(con, "people", frame)
    profile = explore_segment(
        table,
        "vip",
        metric="health",
        by="tier",
        by_metric="spend",
        flags=["in_stripe", "in_mail"],
        matrix=("risk", "speed"),
        top=5,
    )
    cohort = frame.vip.to_numpy()
    assert profile.cohort_size == cohort.sum()
    numeric = profile.numeric.set_index("column")
    for column in ("spend", "visits", "health"):
        x = frame[column].astype(float)
        row = numeric.loc[column]
        assert row.cohort_mean == pytest.approx(x[cohort].mean()) and row.population_mean == pytest.approx(x.mean())
        assert [row.cohort_q25, row.cohort_median, row.cohort_q75] == pytest.approx(
            x[cohort].quantile([0.25, 0.5, 0.75]).tolist()
        )
        welch = stats.ttest_ind(x[cohort], x[~cohort], equal_var=False).statistic
        assert row.z == pytest.approx(welch)
        lift = x[cohort].mean() / abs(x.mean()) - 1
        assert bool(row.notable) == (abs(lift) >= 0.10 and cohort.sum() >= 30 and abs(welch) >= 1.96)
    assert bool(numeric.loc["spend", "notable"]) and not bool(numeric.loc["health", "notable"])
    by = profile.by_group.set_index("tier")
    for tier, d in frame.groupby("tier"):
        c = d.vip.to_numpy()
        assert by.loc[tier, "cohort_members"] == c.sum()
        assert by.loc[tier, "cohort_mean"] == pytest.approx(d.spend[c].mean())
        assert bool(by.loc[tier, "small"]) == (c.sum() < 30)
    cities = profile.categories[profile.categories.column == "city"]
    counts = frame.city.value_counts()
    order = sorted(counts.index, key=lambda v: (-counts[v], v))
    assert cities[cities.kind == "value"].value.tolist() == order[:5]
    assert cities[cities.kind == "other"]["values"].iloc[0] == len(order) - 5
    assert cities.population.sum() == len(frame)


def test_flag_effects_pool_the_combinations():
    frame = _people()
    table = ibis.duckdb.connect().create_table("people", frame)
    profile = explore_segment(table, "spend > 0", metric="health", flags=["in_stripe", "in_mail"])
    effects = flag_effects(profile).set_index("flag")
    with_, without = frame.health[frame.in_stripe == 1], frame.health[frame.in_stripe == 0]
    assert effects.loc["in_stripe", "with_mean"] == pytest.approx(with_.mean())
    assert effects.loc["in_stripe", "without_mean"] == pytest.approx(without.mean())
    assert effects.loc["in_stripe", "z"] == pytest.approx(stats.ttest_ind(with_, without, equal_var=False).statistic)
    assert bool(effects.loc["in_stripe", "supported"]) and not bool(effects.loc["in_mail", "supported"])
    keys = [f.key for f in profile.findings()]
    assert "rec_flag_raise" in keys and "flag_effect_up" in keys


def test_an_empty_cohort_is_described_not_an_error():
    con = ibis.duckdb.connect()
    table = con.create_table("people", _people(50))
    profile = explore_segment(
        table, "spend < 0", metric="health", by="tier", flags=["in_stripe"], matrix=("risk", "speed")
    )
    assert profile.cohort_size == 0 and profile.population_size == 50
    assert profile.numeric.cohort_mean.isna().all() and (profile.by_group.cohort_members == 0).all()
    assert [f.key for f in profile.findings()] == ["size_empty"]
    assert '"cohort_size": 0' in profile.to_json()


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"metric": "tier", "flags": ["in_stripe"]}, "--metric 'tier' holds string, not numbers"),
        ({"metric": "health", "flags": ["visits"]}, "--flags 'visits' holds values from 0 to 7"),
        ({"metric": "health", "flags": ["spend"]}, "--flags 'spend' holds float64"),
        ({"metric": "health", "matrix": ("spend", "visits")}, "--matrix spend, visits has more than 400 groups"),
        ({"metric": "health", "by": "tire"}, "--by 'tire' is not a column"),
        ({"flags": ["in_stripe"]}, "--metric is missing"),
        ({"metric": "health", "matrix": ("risk", "risk")}, "--matrix needs two different columns"),
    ],
)
def test_bad_requests_are_config_errors(kwargs, message):
    con = ibis.duckdb.connect()
    table = con.create_table("people", _people(500))
    with pytest.raises(ConfigError) as info:
        explore_segment(table, "vip", **kwargs)
    assert message in info.value.message


# -- saved segments ---------------------------------------------------------------------------
def test_saved_segments_round_trip_tricky_text(tmp_path):
    path = tmp_path / "segments.toml"
    spec = SegmentSpec(
        where="city in ('O''Brien \\ \"x\"', '北京') and spend > mean(spend)",
        metric="health",
        flags=("in_stripe",),
        matrix=("risk", "speed"),
    )
    save_segment(path, "vip-北京", spec)
    save_segment(path, "all", FAST_HANDOVER_SLOW_SUPPORT)
    assert load_segments(path) == {"vip-北京": spec, "all": FAST_HANDOVER_SLOW_SUPPORT}
    assert load_segment(path, "all") == FAST_HANDOVER_SLOW_SUPPORT
    with pytest.raises(ConfigError, match="no saved segment 'nope'"):
        load_segment(path, "nope")
    for bad in ("", "a b", "x;y", "-lead", "a" * 65, "a]\n[b"):
        with pytest.raises(ConfigError):
            save_segment(path, bad, spec)
    path.write_text('[x]\nwhere = "a > 1"\nsql = "drop"\n', encoding="utf-8")
    with pytest.raises(ConfigError, match="unknown key"):
        load_segments(path)


# -- the report section ---------------------------------------------------------------------------
def test_report_section_escapes_user_text_and_shows_every_part(tmp_path):
    from memberlens.ingest import ingest
    from memberlens.reports.render import render_report
    from memberlens.reports.segment_explorer import SegmentExplorerSection

    frame = _people(300)
    frame.loc[frame.tier == "C", "tier"] = "<script>alert(1)</script>"
    with Workspace(tmp_path / "ws.duckdb") as ws:
        ingest(ws, frame, table="customer_360", name="people")
        spec = SegmentSpec(
            where="vip and spend > 10",
            metric="health",
            by="tier",
            by_metric="spend",
            flags=("in_stripe", "in_mail"),
            matrix=("risk", "speed"),
        )
        for lang in ("en", "zh"):
            html = render_report(ws, lang=lang, sections=[SegmentExplorerSection(spec, name="vips")])
            assert "<script>alert(1)</script>" not in html
            for key in (
                "segment-numeric",
                "segment-distributions",
                "segment-by",
                "segment-categories",
                "segment-flags",
                "segment-combinations",
                "segment-matrix",
            ):
                assert f'id="chart-{key}"' in html
            assert Messages(lang)("explorer.title") in html
        exports = SegmentExplorerSection(spec, name="vips").exports(
            __import__("memberlens.reports.base", fromlist=["ReportContext"]).ReportContext(ws, Messages("en"))
        )
        expected = frame[frame.vip & (frame.spend > 10)].customer_id
        assert sorted(exports["segment_vips"].customer_id) == sorted(expected)


def test_report_section_notes_a_table_without_the_default_cohort_columns(tmp_path):
    from memberlens.ingest import ingest
    from memberlens.reports.base import ReportContext
    from memberlens.reports.segment_explorer import SegmentExplorerSection

    with Workspace(tmp_path / "ws.duckdb") as ws:
        ingest(ws, _people(60), table="customer_360", name="people")
        content = SegmentExplorerSection().build(ReportContext(ws, Messages("en")))
    assert content.notes and "is not a column of the table" in content.notes[0] and not content.charts


def test_support_thresholds_change_what_is_small():
    con = ibis.duckdb.connect()
    table = con.create_table("people", _people(200))
    loose = explore_segment(table, "vip", metric="health", matrix=("risk", "speed"), support=Support(min_count=5))
    strict = explore_segment(table, "vip", metric="health", matrix=("risk", "speed"), support=Support(min_count=500))
    assert strict.matrix.small.all() and not loose.matrix.small.all()
    assert math.isclose(loose.matrix.cohort_mean.sum(), strict.matrix.cohort_mean.sum())


def test_quartiles_from_value_counts_equal_pandas_quantiles():
    from hypothesis import given, settings
    from hypothesis import strategies as st

    from memberlens.segments.profile import quantiles_from_counts

    @settings(max_examples=200, deadline=None)
    @given(st.lists(st.integers(-3, 12), min_size=1, max_size=60))
    def check(data):
        counts = pd.Series(data).value_counts().sort_index()
        got = quantiles_from_counts(counts.index.tolist(), counts.tolist(), (0.0, 0.1, 0.25, 0.5, 0.75, 1.0))
        assert got == pytest.approx(pd.Series(data, dtype=float).quantile([0.0, 0.1, 0.25, 0.5, 0.75, 1.0]).tolist())

    check()


def test_identifier_like_text_columns_are_not_compared_by_value():
    frame = _people(2500).assign(email=[f"user{i}@example.com" for i in range(2500)])
    table = ibis.duckdb.connect().create_table("people", frame)
    profile = explore_segment(table, "vip")
    assert "email" not in set(profile.categories.column) and "customer_id" not in set(profile.categories.column)
    assert {"tier", "city", "risk", "speed"} == set(profile.categories.column)
