"""The report's sections, in order. Add a section here to put it in the
report: a module with a class that has ``key``, ``title_key``, ``needs`` and ``build(ctx)`` (and
optionally ``exports(ctx)``), see :mod:`memberlens.reports.base`."""

from __future__ import annotations

from memberlens.reports.abc import AbcSection
from memberlens.reports.activity import ActivitySection
from memberlens.reports.alerts import AlertsSection
from memberlens.reports.base import Section
from memberlens.reports.churn import ChurnSection
from memberlens.reports.churn_risk import ChurnRiskSection
from memberlens.reports.clusters import ClustersSection
from memberlens.reports.clv import ClvSection
from memberlens.reports.cohorts import CohortsSection
from memberlens.reports.data_quality import DataQualitySection
from memberlens.reports.kpis import KpisSection
from memberlens.reports.lifecycle import LifecycleSection
from memberlens.reports.migration import MigrationSection
from memberlens.reports.next_product import NextProductSection
from memberlens.reports.price_bands import PriceBandsSection
from memberlens.reports.rates import RatesSection
from memberlens.reports.recommendations import RecommendationsSection
from memberlens.reports.referrals import ReferralsSection
from memberlens.reports.rfe import RfeSection
from memberlens.reports.rfm import RfmSection
from memberlens.reports.segment_explorer import SegmentExplorerSection
from memberlens.reports.trends import TrendsSection

SECTIONS: list[Section] = [
    AlertsSection(),
    DataQualitySection(),
    TrendsSection(),
    PriceBandsSection(),
    LifecycleSection(),
    RatesSection(),
    CohortsSection(),
    RfmSection(),
    MigrationSection(),
    ClustersSection(),
    AbcSection(),
    ClvSection(),
    KpisSection(),
    ActivitySection(),
    ChurnSection(),
    ChurnRiskSection(),
    RfeSection(),
    SegmentExplorerSection(),
    NextProductSection(),
    ReferralsSection(),
    RecommendationsSection(),
]
