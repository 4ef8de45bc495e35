"""Run each analysis once per report: executed tables cached by (name, options).

Every number in the report comes from :data:`memberlens.analyses.ANALYSES` through
:meth:`AnalysisCache.run`; the sections, the recommendations and the exports share the cache,
and a report in a second language reuses it (:func:`memberlens.reports.render.write_reports`).
The cache holds the report's one :class:`memberlens.snapshot.Snapshot`: every analysis, model
and member list reads the tables as they stood at the start of the report's date.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import replace
from datetime import date
from typing import Any, TypeVar

import pandas as pd

from memberlens.analyses import AnalysisOptions, cluster_result, run_analysis
from memberlens.io.catalog import Tables
from memberlens.metrics import ClusterResult
from memberlens.snapshot import Snapshot, snapshot_of

T = TypeVar("T")


class AnalysisCache:
    """Executed analysis tables of one workspace, computed on first use."""

    def __init__(self, workspace: Tables, *, as_of: date | None = None, options: AnalysisOptions | None = None) -> None:
        self.workspace = workspace
        self.options = options or AnalysisOptions(as_of=as_of)
        if as_of is not None and self.options.as_of != as_of:
            self.options = replace(self.options, as_of=as_of)
        self._tables: set[str] | None = None
        self._snapshot: Snapshot | None = None
        self._frames: dict[tuple[str, str], pd.DataFrame] = {}
        self._clusters: dict[str, ClusterResult] = {}
        self._memo: dict[str, Any] = {}
        self.timings: dict[str, float] = {}

    # -- what the workspace holds ---------------------------------------------------------------
    @property
    def tables(self) -> set[str]:
        if self._tables is None:
            self._tables = set(self.workspace.list_tables())
        return self._tables

    def has(self, *tables: str) -> bool:
        return all(table in self.tables for table in tables)

    @property
    def snapshot(self) -> Snapshot:
        """The source tables as they stood at the start of the report's date (``as_of``, or the
        day after the last order)."""
        if self._snapshot is None:
            self._snapshot = snapshot_of(self.workspace, self.options.as_of)
        return self._snapshot

    def options_for(self, **changes: Any) -> AnalysisOptions:
        return replace(self.options, **changes) if changes else self.options

    # -- running --------------------------------------------------------------------------------
    def run(self, name: str, **changes: Any) -> pd.DataFrame:
        """The analysis ``name`` of the registry, executed (once) with the report's options
        changed by ``changes`` (e.g. ``by="product"``)."""
        options = self.options_for(**changes)
        key = (name, repr(options))
        if key not in self._frames:
            start = time.perf_counter()
            result = run_analysis(self.snapshot, name, options)
            frame = result if isinstance(result, pd.DataFrame) else result.to_pandas()
            self._frames[key] = frame.reset_index(drop=True)
            self._record(f"{name} {_describe(changes)}".strip(), start)
        return self._frames[key]

    def clusters(self, **changes: Any) -> ClusterResult:
        """One k-means fit shared by the cluster charts and the cluster export.

        The registry's ``clusters`` (profiles) and ``cluster-curve`` analyses each fit the model
        again; :func:`memberlens.analyses.cluster_result` is the fit they both show, called once
        here, so the report shows exactly what they return.
        """
        options = self.options_for(**changes)
        key = repr(options)
        if key not in self._clusters:
            start = time.perf_counter()
            self._clusters[key] = cluster_result(self.snapshot, options)
            self._record(f"clusters {_describe(changes)}".strip(), start)
        return self._clusters[key]

    def memo(self, key: str, compute: Callable[[], T]) -> T:
        """A result that is not a registry analysis (a fitted model, its scores), computed once
        per report under ``key`` and shared by the sections and the exports."""
        if key not in self._memo:
            start = time.perf_counter()
            self._memo[key] = compute()
            self._record(key, start)
        return self._memo[key]

    def _record(self, label: str, start: float) -> None:
        self.timings[label] = self.timings.get(label, 0.0) + time.perf_counter() - start


def _describe(changes: dict[str, Any]) -> str:
    return " ".join(f"{k}={v}" for k, v in sorted(changes.items()))
