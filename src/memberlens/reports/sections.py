"""The report's sections, in order. Add a section here to put it in the report."""

from __future__ import annotations

from memberlens.reports.base import Section
from memberlens.reports.data_quality import DataQualitySection

SECTIONS: list[Section] = [DataQualitySection()]
