"""Observations and recommendations about a cohort, drawn from its profile's numbers.

Each :class:`Finding` names a message (``explorer.*`` in ``messages/segment.*.toml``) and the
numbers it states; which findings appear, and which advice, is decided by the numbers: the
largest notable lifts and drops, the best and worst cells that have enough members, each flag's
effect on the metric within the cohort, and the cells too small to trust. Columns the filter
reads differ by construction and are left out of the lifts.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Protocol

import pandas as pd

from memberlens import format as f
from memberlens.i18n import Messages
from memberlens.segments.filters import parse_filter
from memberlens.segments.spec import SegmentSpec, Support

TOP_LIFTS = 3  # numeric columns named per direction


# -- numbers with their format (the same in every language) ------------------------------------
# each written by memberlens.format when a sentence is rendered (str(value))
@dataclass(frozen=True)
class Num:
    value: float | None
    digits: int | None = None

    def __str__(self) -> str:
        return f.num(self.value, self.digits)


@dataclass(frozen=True)
class Count:
    value: int

    def __str__(self) -> str:
        return f.num(self.value, 0)


@dataclass(frozen=True)
class Pct:
    value: float | None
    signed: bool = False

    def __str__(self) -> str:
        return f.pct(self.value, signed=self.signed)


@dataclass(frozen=True)
class Finding:
    """One sentence: ``topic`` groups it (a card), ``action`` marks a recommendation."""

    topic: str
    key: str
    values: dict[str, Any] = field(default_factory=dict)
    action: bool = False


def render_findings(findings: list[Finding], t: Messages) -> dict[str, list[str]]:
    """The findings as sentences: ``{"observations": [...], "recommendations": [...]}``."""
    out: dict[str, list[str]] = {"observations": [], "recommendations": []}
    for finding in findings:
        out["recommendations" if finding.action else "observations"].append(render(finding, t))
    return out


def render(finding: Finding, t: Messages) -> str:
    return t(f"explorer.{finding.key}", **{k: str(v) for k, v in finding.values.items()})


# -- drawing findings from a profile ------------------------------------------------------------
class ProfileNumbers(Protocol):
    """The numbers findings are drawn from: a :class:`memberlens.segments.profile.SegmentProfile`
    (which draws its findings here, so this module names only what it reads)."""

    spec: SegmentSpec
    table: str
    cohort_size: int
    population_size: int
    aggregates: dict[str, float | None]
    numeric: pd.DataFrame
    categories: pd.DataFrame
    flags: pd.DataFrame
    by_group: pd.DataFrame | None
    combinations: pd.DataFrame | None
    matrix: pd.DataFrame | None
    support: Support

    @property
    def share(self) -> float | None: ...


def draw_findings(profile: ProfileNumbers) -> list[Finding]:
    """Every observation and recommendation the profile supports, in reading order."""
    support = profile.support
    out = [*_size(profile)]
    if profile.cohort_size == 0:
        return out
    filter_columns = set(parse_filter(profile.spec.where).columns)
    out += _numeric(profile.numeric, filter_columns, support)
    if profile.by_group is not None:
        out += _by_group(profile)
    out += _categories(profile.categories, filter_columns, support)
    out += _flags(profile.flags, filter_columns)
    if profile.combinations is not None:
        out += _combinations(profile)
    if profile.matrix is not None:
        out += _matrix(profile)
    if not any(finding.action for finding in out):
        out.append(Finding("size", "rec_none", {}, action=True))
    return out


def _size(profile: ProfileNumbers) -> list[Finding]:
    if profile.cohort_size == 0:
        return [Finding("size", "size_empty", {"table": profile.table, "population": Count(profile.population_size)})]
    out = [
        Finding(
            "size",
            "size",
            {
                "table": profile.table,
                "cohort": Count(profile.cohort_size),
                "population": Count(profile.population_size),
                "share": Pct(profile.share),
            },
        )
    ]
    for expression, value in profile.aggregates.items():
        out.append(
            Finding(
                "size",
                "aggregate",
                {"expression": expression, "value": Num(value, 4 if value is not None and abs(value) < 1000 else None)},
            )
        )
    return out


def _numeric(numeric: pd.DataFrame, filter_columns: set[str], support) -> list[Finding]:
    rows = numeric[~numeric.column.isin(filter_columns) & numeric.notable]
    out = []
    for direction, key in ((1, "numeric_up"), (-1, "numeric_down")):
        chosen = rows[rows.lift * direction > 0].sort_values(["lift", "column"], ascending=[direction < 0, True])
        for row in chosen.head(TOP_LIFTS).itertuples():
            out.append(
                Finding(
                    "numeric",
                    key,
                    {
                        "column": row.column,
                        "cohort": Num(row.cohort_mean),
                        "population": Num(row.population_mean),
                        "lift": Pct(row.lift, signed=True),
                        "cohort_median": Num(row.cohort_median),
                        "population_median": Num(row.population_median),
                    },
                )
            )
    if not out:
        out.append(Finding("numeric", "numeric_none", {"min_lift": Pct(support.min_lift)}))
    return out


def _cell_name(row: Any, columns: list[str], joiner: str) -> str:
    parts = []
    for column in columns:
        value = getattr(row, column) if not isinstance(row, dict) else row[column]
        text = "–" if value is None or (isinstance(value, float) and math.isnan(value)) else str(value)
        parts.append(f"{column}={text}" if joiner == ", " else text)
    return joiner.join(parts)


def _by_group(profile: ProfileNumbers) -> list[Finding]:
    spec, frame, support = profile.spec, profile.by_group, profile.support
    metric, by = spec.group_metric, spec.by
    rows = frame.to_dict("records")
    notable = [r for r in rows if r["notable"]]
    higher = [r for r in notable if r["lift"] > 0]
    lower = [r for r in notable if r["lift"] < 0]
    out = [
        Finding(
            "by",
            "by_summary",
            {
                "metric": metric,
                "by": by,
                "higher": Count(len(higher)),
                "lower": Count(len(lower)),
                "groups": Count(len(rows)),
            },
        )
    ]
    if notable:
        gap = max(notable, key=lambda r: (abs(r["lift"]), str(r[by])))
        out.append(
            Finding(
                "by",
                "by_gap",
                {
                    "group": _cell_name(gap, [by], ""),
                    "cohort": Num(gap["cohort_mean"]),
                    "population": Num(gap["population_mean"]),
                    "lift": Pct(gap["lift"], True),
                    "members": Count(gap["cohort_members"]),
                },
            )
        )
    out += _small(rows, [by], "by_small", "by", support)
    if higher and len(higher) >= len(lower):
        best = max(higher, key=lambda r: (r["lift"], str(r[by])))
        out.append(
            Finding(
                "by",
                "rec_by_focus",
                {
                    "higher": Count(len(higher)),
                    "groups": Count(len(rows)),
                    "by": by,
                    "group": _cell_name(best, [by], ""),
                    "lift": Pct(best["lift"], True),
                    "metric": metric,
                },
                action=True,
            )
        )
    for row in sorted(lower, key=lambda r: (r["lift"], str(r[by])))[:2]:
        out.append(
            Finding(
                "by",
                "rec_by_below",
                {
                    "group": _cell_name(row, [by], ""),
                    "by": by,
                    "metric": metric,
                    "cohort": Num(row["cohort_mean"]),
                    "population": Num(row["population_mean"]),
                    "lift": Pct(row["lift"], True),
                },
                action=True,
            )
        )
    return out


def _small(rows: list[dict], columns: list[str], key: str, topic: str, support) -> list[Finding]:
    small = [r for r in rows if r["small"] and r["cohort_members"] > 0]
    if not small:
        return []
    joiner = ", " if topic == "combinations" else " × "
    names = [_cell_name(r, columns, joiner) + f" ({int(r['cohort_members'])})" for r in small[:6]]
    more = len(small) - len(names)
    return [
        Finding(
            topic,
            key,
            {
                "count": Count(len(small)),
                "min_count": Count(support.min_count),
                "cells": "; ".join(names) + (f"; … +{more}" if more > 0 else ""),
            },
        )
    ]


def _categories(categories: pd.DataFrame, filter_columns: set[str], support) -> list[Finding]:
    out = []
    for column, rows in categories.groupby("column", sort=False):
        values = rows[rows.kind == "value"]
        if values.empty:
            continue
        leader = values.sort_values(["cohort", "value"], ascending=[False, True]).iloc[0]
        out.append(
            Finding(
                "categories",
                "category_top",
                {
                    "column": column,
                    "value": leader.value,
                    "cohort_share": Pct(leader.cohort_share),
                    "population_share": Pct(leader.population_share),
                },
            )
        )
        if column in filter_columns:
            continue
        notable = values[values.notable]
        for direction, key in ((1, "category_over"), (-1, "category_under")):
            side = notable[notable.difference * direction > 0]
            if side.empty:
                continue
            row = side.sort_values(["difference", "value"], ascending=[direction < 0, True]).iloc[0]
            out.append(
                Finding(
                    "categories",
                    key,
                    {
                        "column": column,
                        "value": row.value,
                        "cohort_share": Pct(row.cohort_share),
                        "population_share": Pct(row.population_share),
                        "points": Num(row.difference * 100, 1),
                    },
                )
            )
        # where the cohort is concentrated: the fewest values holding half of it, when those
        # values hold notably more of the cohort than of all rows
        ordered = values.sort_values(["cohort", "value"], ascending=[False, True])
        needed = int((ordered.cohort_share.cumsum() < 0.5).sum()) + 1
        chosen = ordered.head(needed)
        gap = chosen.cohort_share.sum() - chosen.population_share.sum()
        if needed <= 3 and len(values) > needed and gap >= support.min_points:
            out.append(
                Finding(
                    "categories",
                    "rec_reach",
                    {
                        "column": column,
                        "values": ", ".join(str(v) for v in chosen.value),
                        "share": Pct(chosen.cohort_share.sum()),
                        "population_share": Pct(chosen.population_share.sum()),
                    },
                    action=True,
                )
            )
    return out


def _flags(flags: pd.DataFrame, filter_columns: set[str]) -> list[Finding]:
    out = []
    for row in flags.itertuples():
        if row.column in filter_columns:
            continue
        key = "flag_share"
        if row.notable:
            key = "flag_more" if row.difference > 0 else "flag_less"
        out.append(
            Finding(
                "flags",
                key,
                {
                    "column": row.column,
                    "cohort_share": Pct(row.cohort_share),
                    "count": Count(round((row.cohort_share or 0) * row.cohort_count)),
                    "population_share": Pct(row.population_share),
                },
            )
        )
    return out


# -- combinations and the matrix -----------------------------------------------------------------
def pooled(rows: pd.DataFrame) -> tuple[int, float | None, float | None]:
    """Count, mean and standard deviation of the cohort over several cells (from each cell's
    count, mean and standard deviation: within- plus between-cell sums of squares)."""
    rows = rows[rows.cohort_count > 0]
    n = int(rows.cohort_count.sum())
    if n == 0:
        return 0, None, None
    mean = float((rows.cohort_mean * rows.cohort_count).sum() / n)
    if n < 2:
        return n, mean, None
    within = ((rows.cohort_count - 1) * rows.cohort_std.fillna(0.0) ** 2).sum()
    between = (rows.cohort_count * (rows.cohort_mean - mean) ** 2).sum()
    return n, mean, float(math.sqrt((within + between) / (n - 1)))


def flag_effects(profile: ProfileNumbers) -> pd.DataFrame:
    """Each flag's effect on the metric within the cohort: members with it against without,
    pooled over the combinations of the other flags; ``supported`` when both sides have
    ``min_count`` members, the lift is at least ``min_lift`` and Welch's z at least ``z``."""
    support, frame = profile.support, profile.combinations
    rows = []
    for flag in profile.spec.flags:
        n1, m1, s1 = pooled(frame[frame[flag] == 1])
        n0, m0, s0 = pooled(frame[frame[flag] == 0])
        lift = (m1 - m0) / abs(m0) if (m1 is not None and m0) else None
        se = math.sqrt((s1 or 0) ** 2 / n1 + (s0 or 0) ** 2 / n0) if n1 > 1 and n0 > 1 else 0.0
        z = (m1 - m0) / se if se > 0 else None
        supported = (
            lift is not None
            and z is not None
            and min(n1, n0) >= support.min_count
            and abs(lift) >= support.min_lift
            and abs(z) >= support.z
        )
        rows.append(
            {
                "flag": flag,
                "with_count": n1,
                "with_mean": m1,
                "without_count": n0,
                "without_mean": m0,
                "lift": lift,
                "z": z,
                "supported": supported,
            }
        )
    return pd.DataFrame(
        rows, columns=["flag", "with_count", "with_mean", "without_count", "without_mean", "lift", "z", "supported"]
    )


def _extremes(frame: pd.DataFrame, columns: list[str]) -> tuple[dict | None, dict | None]:
    """The cells with the highest and lowest cohort mean among those with enough members
    (ties broken by the cells' names)."""
    rows = [r for r in frame.to_dict("records") if not r["small"] and r["cohort_count"] > 0]
    if not rows:
        return None, None
    name = lambda r: _cell_name(r, columns, "|")  # noqa: E731
    best = max(rows, key=lambda r: (r["cohort_mean"], name(r)))
    worst = min(rows, key=lambda r: (r["cohort_mean"], name(r)))
    return best, (worst if worst is not best else None)


def _combinations(profile: ProfileNumbers) -> list[Finding]:
    spec, frame, support = profile.spec, profile.combinations, profile.support
    flags, metric = list(spec.flags), spec.metric
    out = []
    best, worst = _extremes(frame, flags)
    if best is None:
        out.append(Finding("combinations", "combo_all_small", {"min_count": Count(support.min_count)}))
    else:
        out.append(
            Finding(
                "combinations",
                "combo_best",
                {
                    "flags": ", ".join(flags),
                    "metric": metric,
                    "cell": _cell_name(best, flags, ", "),
                    "mean": Num(best["cohort_mean"]),
                    "members": Count(best["cohort_members"]),
                },
            )
        )
        if worst is not None:
            out.append(
                Finding(
                    "combinations",
                    "combo_worst",
                    {
                        "cell": _cell_name(worst, flags, ", "),
                        "mean": Num(worst["cohort_mean"]),
                        "members": Count(worst["cohort_members"]),
                    },
                )
            )
    out += _small(frame.to_dict("records"), flags, "combo_small", "combinations", support)
    shares = profile.flags.set_index("column").cohort_share
    for effect in flag_effects(profile).to_dict("records"):
        if not effect["supported"]:
            continue
        values = {
            "flag": effect["flag"],
            "metric": metric,
            "with": Num(effect["with_mean"]),
            "without": Num(effect["without_mean"]),
            "lift": Pct(effect["lift"], True),
            "with_count": Count(effect["with_count"]),
            "without_count": Count(effect["without_count"]),
        }
        up = effect["lift"] > 0
        out.append(Finding("combinations", "flag_effect_up" if up else "flag_effect_down", values))
        share = shares.get(effect["flag"])
        out.append(
            Finding(
                "combinations",
                "rec_flag_raise" if up else "rec_flag_check",
                values | {"share": Pct(share)},
                action=True,
            )
        )
    return out


def _matrix(profile: ProfileNumbers) -> list[Finding]:
    spec, frame, support = profile.spec, profile.matrix, profile.support
    axes, metric = list(spec.matrix), spec.metric
    out = []
    metric_row = profile.numeric[profile.numeric.column == metric]
    average = (
        float(metric_row.cohort_mean.iloc[0]) if len(metric_row) and pd.notna(metric_row.cohort_mean.iloc[0]) else None
    )
    best, worst = _extremes(frame, axes)
    axes_text = " × ".join(axes)
    if best is None:
        out.append(Finding("matrix", "matrix_all_small", {"axes": axes_text, "min_count": Count(support.min_count)}))
    else:
        cell = lambda r: _cell_name(r, axes, " × ")  # noqa: E731
        out.append(
            Finding(
                "matrix",
                "matrix_best",
                {
                    "axes": axes_text,
                    "metric": metric,
                    "cell": cell(best),
                    "mean": Num(best["cohort_mean"]),
                    "members": Count(best["cohort_members"]),
                },
            )
        )
        if worst is not None:
            out.append(
                Finding(
                    "matrix",
                    "matrix_worst",
                    {"cell": cell(worst), "mean": Num(worst["cohort_mean"]), "members": Count(worst["cohort_members"])},
                )
            )
        rows = [r for r in frame.to_dict("records") if r["cohort_members"] > 0]
        largest = max(rows, key=lambda r: (r["cohort_members"], cell(r)))
        out.append(
            Finding(
                "matrix",
                "matrix_largest",
                {
                    "cell": cell(largest),
                    "members": Count(largest["cohort_members"]),
                    "share": Pct(largest["cohort_members"] / profile.cohort_size),
                    "mean": Num(largest["cohort_mean"]),
                    "average": Num(average),
                    "metric": metric,
                },
            )
        )
        out.append(
            Finding(
                "matrix",
                "rec_matrix_keep",
                {
                    "cell": cell(best),
                    "metric": metric,
                    "mean": Num(best["cohort_mean"]),
                    "members": Count(best["cohort_members"]),
                },
                action=True,
            )
        )
        if worst is not None:
            out.append(
                Finding(
                    "matrix",
                    "rec_matrix_fix",
                    {
                        "cell": cell(worst),
                        "metric": metric,
                        "mean": Num(worst["cohort_mean"]),
                        "members": Count(worst["cohort_members"]),
                    },
                    action=True,
                )
            )
        if average is not None:
            below = [
                r
                for r in rows
                if not r["small"] and r["cohort_mean"] < average and (worst is None or cell(r) != cell(worst))
            ]
            if below:
                lever = max(below, key=lambda r: (r["cohort_members"] * (average - r["cohort_mean"]), cell(r)))
                out.append(
                    Finding(
                        "matrix",
                        "rec_matrix_lever",
                        {
                            "cell": cell(lever),
                            "members": Count(lever["cohort_members"]),
                            "metric": metric,
                            "mean": Num(lever["cohort_mean"]),
                            "average": Num(average),
                        },
                        action=True,
                    )
                )
    small = _small(frame.to_dict("records"), axes, "matrix_small", "matrix", support)
    out += small
    if small:
        out.append(
            Finding(
                "matrix",
                "rec_small",
                {"count": small[0].values["count"], "min_count": Count(support.min_count)},
                action=True,
            )
        )
    return out
