"""What a segment exploration asks for: the cohort's filter and the comparisons to draw, and
when a difference is notable (:class:`Support`).

A :class:`SegmentSpec` is what ``memberlens segment`` options, a saved segment and the report
section share. :data:`FAST_HANDOVER_SLOW_SUPPORT` is the explorer's default: customers handed
from marketing to sales in 10 to 20 days but waiting over 30 days from sales to support, with an
engagement score above the mean — compared on LTV by tier, platform flags and a risk × velocity
matrix against the health score.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from memberlens.errors import ConfigError

MAX_FLAGS = 6  # 2^6 = 64 combinations


@dataclass(frozen=True)
class Support:
    """When a difference counts as notable, and a cell as too small to trust."""

    min_count: int = 30
    min_lift: float = 0.10
    min_points: float = 0.05
    z: float = 1.96


@dataclass(frozen=True)
class SegmentSpec:
    """A cohort and what to compare it on.

    Parameters
    ----------
    where
        The filter (see :mod:`memberlens.segments.filters`).
    metric
        A numeric column compared across flag combinations and matrix cells (health score).
    by
        A grouping column: ``by_metric`` (default ``metric``) per group, cohort beside population.
    by_metric
        The numeric column compared per ``by`` group (LTV by tier).
    flags
        Columns holding true/false or 0/1 whose every combination is compared on ``metric``.
    matrix
        Two columns whose cells are compared on ``metric`` (risk level × velocity).
    """

    where: str
    metric: str | None = None
    by: str | None = None
    by_metric: str | None = None
    flags: tuple[str, ...] = field(default_factory=tuple)
    matrix: tuple[str, str] | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.where, str) or not self.where.strip():
            raise ConfigError("segment: the filter (where) is empty", 'e.g. --where "sales_to_support_days > 30"')
        object.__setattr__(self, "flags", tuple(self.flags or ()))
        if len(set(self.flags)) != len(self.flags):
            raise ConfigError(f"segment: --flags names a column twice: {', '.join(self.flags)}")
        if len(self.flags) > MAX_FLAGS:
            raise ConfigError(
                f"segment: {len(self.flags)} flags give {2 ** len(self.flags)} combinations; at most {MAX_FLAGS} flags",
                "name the flags that matter, e.g. --flags in_marketo,in_stripe,in_zendesk",
            )
        if self.matrix is not None:
            matrix = tuple(self.matrix)
            if len(matrix) != 2 or matrix[0] == matrix[1]:
                raise ConfigError(
                    f"segment: --matrix needs two different columns, got {', '.join(map(str, matrix))}",
                    "e.g. --matrix activity_risk_level,engagement_velocity",
                )
            object.__setattr__(self, "matrix", matrix)
        if (self.flags or self.matrix) and self.metric is None:
            raise ConfigError(
                "segment: --flags and --matrix compare a metric; --metric is missing",
                "e.g. --metric customer_health_score",
            )
        if self.by is not None and self.by_metric is None and self.metric is None:
            raise ConfigError(
                "segment: --by compares a metric per group; --metric (or --by-metric) is missing",
                "e.g. --by customer_tier --by-metric estimated_customer_ltv",
            )

    @property
    def group_metric(self) -> str | None:
        """The metric compared per ``by`` group."""
        return self.by_metric or self.metric

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["flags"] = list(self.flags)
        data["matrix"] = list(self.matrix) if self.matrix else None
        return {k: v for k, v in data.items() if v not in (None, [])}

    @classmethod
    def from_dict(cls, data: dict[str, Any], *, source: str = "segment") -> SegmentSpec:
        """A spec from plain data (a saved segment); unknown keys are refused."""
        known = {"where", "metric", "by", "by_metric", "flags", "matrix"}
        unknown = sorted(set(data) - known)
        if unknown:
            raise ConfigError(
                f"{source}: unknown key(s) {', '.join(unknown)}", f"a segment has: {', '.join(sorted(known))}"
            )
        if "where" not in data:
            raise ConfigError(f"{source}: no 'where' (the filter)", 'e.g. where = "sales_to_support_days > 30"')
        for key in ("where", "metric", "by", "by_metric"):
            if key in data and not isinstance(data[key], str):
                raise ConfigError(f"{source}: {key} must be text, got {data[key]!r}")
        for key in ("flags", "matrix"):
            if key in data and not (isinstance(data[key], list) and all(isinstance(v, str) for v in data[key])):
                raise ConfigError(f"{source}: {key} must be a list of column names, got {data[key]!r}")
        return cls(
            where=data["where"],
            metric=data.get("metric"),
            by=data.get("by"),
            by_metric=data.get("by_metric"),
            flags=tuple(data.get("flags", ())),
            matrix=tuple(data["matrix"]) if data.get("matrix") else None,
        )


FAST_HANDOVER_SLOW_SUPPORT = SegmentSpec(
    where=(
        "marketing_to_sales_days between 10 and 20 and sales_to_support_days > 30 "
        "and composite_engagement_score > mean(composite_engagement_score)"
    ),
    metric="customer_health_score",
    by="customer_tier",
    by_metric="estimated_customer_ltv",
    flags=("in_marketo", "in_stripe", "in_zendesk"),
    matrix=("activity_risk_level", "engagement_velocity"),
)
