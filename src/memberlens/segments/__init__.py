"""The segment explorer: pick a cohort of any customer table with a safe filter
language, and compare it with the whole table — sizes, numeric columns, distributions, a metric
by group, flag combinations, a two-way matrix — with observations and recommendations drawn
from the numbers.

>>> profile = explore_segment(ws.table("customer_360"), "sales_to_support_days > 30",
...                           metric="customer_health_score", by="customer_tier")
>>> profile.sentences("en")["observations"][0]
"""

from memberlens.segments.filters import (
    CompiledFilter,
    Filter,
    FilterError,
    compile_filter,
    parse_filter,
    visible_columns,
)
from memberlens.segments.observations import Finding, draw_findings, flag_effects, render_findings
from memberlens.segments.profile import (
    SegmentProfile,
    explore_segment,
    mark_cohort,
    profile_segment,
    select_members,
)
from memberlens.segments.saved import load_segment, load_segments, save_segment, segments_file
from memberlens.segments.spec import FAST_HANDOVER_SLOW_SUPPORT, SegmentSpec, Support

__all__ = [
    "FAST_HANDOVER_SLOW_SUPPORT",
    "CompiledFilter",
    "Filter",
    "FilterError",
    "Finding",
    "SegmentProfile",
    "SegmentSpec",
    "Support",
    "compile_filter",
    "draw_findings",
    "explore_segment",
    "flag_effects",
    "load_segment",
    "load_segments",
    "mark_cohort",
    "parse_filter",
    "profile_segment",
    "render_findings",
    "save_segment",
    "segments_file",
    "select_members",
    "visible_columns",
]
