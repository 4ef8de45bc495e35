"""A cohort beside its population, computed in the engine in a few aggregate queries.

The filter becomes a boolean column ``in cohort`` on the table, and each query scans the table
once, so cohort and population come from the same scan. Only compact results reach Python:

1. grouped by the cohort flag (two rows): per numeric column the count, mean, standard
   deviation, min and max of the cohort and of the rest; true/false shares of the flag columns
   (the population's figures combine the two rows);
2. one row: the quartiles of cohort (filtered aggregates) and population (for whole numbers
   with few values, exactly from the histogram counts instead: no sort);
3. histogram counts of every numeric column on bin edges shared by cohort and population (from
   the population's min and max; whole numbers with a short range get one bin per value),
   grouped by (cohort flag, bin), all columns in one statement;
4. the distribution of every text column (top categories, the rest as "other", missing values
   as their own row), all columns in one statement; identifier-like columns (nearly one value
   per row) are left out;
5. a metric per group (LTV by tier), per combination of flags, per cell of a two-way matrix —
   one grouped query each, cohort and rest side by side as filtered aggregates.

A difference is *notable* when it is large (the cohort's mean at least ``min_lift`` away from
the population's, relatively, or a share ``min_points`` away) and supported: at least
``min_count`` cohort members and a two-sided z of at least ``z`` against the rest of the
population (Welch's for means, the pooled two-proportion test for shares). Cells with fewer
than ``min_count`` cohort members are marked ``small`` (unreliable).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import ibis
import ibis.expr.types as ir
import numpy as np
import pandas as pd

from memberlens.errors import ConfigError
from memberlens.i18n import Messages
from memberlens.io.jsonable import json_text, plain_records
from memberlens.parameters import check_number
from memberlens.segments.filters import CompiledFilter, columns_hint, compile_filter, visible_columns
from memberlens.segments.observations import Finding, draw_findings, render_findings
from memberlens.segments.spec import SegmentSpec, Support

IN_COHORT = "_ml_in_cohort"
QUANTILES = (0.25, 0.5, 0.75)
MAX_GROUPS = 60  # --by groups
MAX_CELLS = 400  # matrix cells (e.g. 20 x 20)
UNIT_BINS = 30  # whole-number columns with at most this many values get one bin per value


@dataclass
class SegmentProfile:
    """The cohort beside the population: sizes and comparison tables (pandas frames).

    Frames: ``numeric`` (one row per numeric column), ``distributions`` (histogram bins),
    ``categories`` (text columns' values), ``flags`` (true/false shares), ``by_group``,
    ``combinations`` and ``matrix`` (``None`` when not asked for).
    """

    spec: SegmentSpec
    table: str
    cohort_size: int
    population_size: int
    aggregates: dict[str, float | None]
    numeric: pd.DataFrame
    distributions: pd.DataFrame
    categories: pd.DataFrame
    flags: pd.DataFrame
    by_group: pd.DataFrame | None = None
    combinations: pd.DataFrame | None = None
    matrix: pd.DataFrame | None = None
    support: Support = field(default_factory=Support)
    name: str | None = None

    @property
    def share(self) -> float | None:
        return self.cohort_size / self.population_size if self.population_size else None

    def findings(self) -> list[Finding]:
        """The observations and recommendations drawn from the numbers (language-neutral)."""
        return draw_findings(self)

    def sentences(self, lang: str = "en") -> dict[str, list[str]]:
        """``{"observations": [...], "recommendations": [...]}`` in ``lang``."""
        return render_findings(self.findings(), Messages(lang))

    def to_dict(self, lang: str = "en") -> dict[str, Any]:
        tables = {
            name: plain_records(frame)
            for name, frame in (
                ("numeric", self.numeric),
                ("distributions", self.distributions),
                ("categories", self.categories),
                ("flags", self.flags),
                ("by_group", self.by_group),
                ("combinations", self.combinations),
                ("matrix", self.matrix),
            )
            if frame is not None
        }
        return {
            "name": self.name,
            "table": self.table,
            "segment": self.spec.to_dict(),
            "cohort_size": self.cohort_size,
            "population_size": self.population_size,
            "share": self.share,
            "aggregates": self.aggregates,
            "support": self.support.__dict__,
            **tables,
            **self.sentences(lang),
        }

    def to_json(self, lang: str = "en", indent: int | None = 2) -> str:
        return json_text(self.to_dict(lang), indent=indent)


# -- the public entry --------------------------------------------------------------------------
def explore_segment(
    table: ir.Table,
    where: str,
    *,
    metric: str | None = None,
    by: str | None = None,
    by_metric: str | None = None,
    flags: tuple[str, ...] | list[str] = (),
    matrix: tuple[str, str] | None = None,
    bins: int = 10,
    top: int = 10,
    support: Support | None = None,
    id_column: str = "customer_id",
    name: str | None = None,
    table_name: str | None = None,
) -> SegmentProfile:
    """Compare the cohort ``where`` selects with the whole ``table`` (an Ibis table, any engine).

    See :class:`~memberlens.segments.spec.SegmentSpec` for the arguments; ``bins`` is the number
    of histogram bins, ``top`` the categories shown per text column (the rest are "other"),
    ``id_column`` the identifier left out of the comparisons.
    """
    spec = SegmentSpec(where=where, metric=metric, by=by, by_metric=by_metric, flags=tuple(flags), matrix=matrix)
    return profile_segment(
        table, spec, bins=bins, top=top, support=support, id_column=id_column, name=name, table_name=table_name
    )


def profile_segment(
    table: ir.Table,
    spec: SegmentSpec,
    *,
    bins: int = 10,
    top: int = 10,
    support: Support | None = None,
    id_column: str = "customer_id",
    name: str | None = None,
    table_name: str | None = None,
) -> SegmentProfile:
    """The :class:`SegmentProfile` of ``spec`` on ``table`` (see :func:`explore_segment`)."""
    support = support or Support()
    check_number(bins, "bins", "profile_segment", low=1, integer=True)
    check_number(top, "top", "profile_segment", low=1, integer=True)
    roles = _column_roles(table, spec, id_column)
    compiled = compile_filter(table, spec.where)
    marked = mark_cohort(table, compiled)
    summary = _summary(marked, roles)
    cohort_size, population_size = int(summary.pop("_cohort")), int(summary.pop("_population"))
    _check_flag_values(roles, summary)
    distributions = _distributions(marked, roles.numeric, summary, bins)
    summary |= _quartiles_from_histograms(distributions, summary)
    numeric = _numeric_table(roles.numeric, summary, support)
    flags = _flag_table(roles.flags, summary, support)
    categories = _categories(marked, roles.text, top, support)
    distinct = categories.groupby("column", sort=False)["values"].sum()
    identifiers = [column for column, n in distinct.items() if not _is_categorical(n, population_size)]
    categories = categories[~categories.column.isin(identifiers)].reset_index(drop=True)
    by_group = combos = matrix = None
    if spec.by is not None:
        by_group = _grouped(marked, [spec.by], spec.group_metric, MAX_GROUPS, "--by", support)
    if spec.flags:
        keys = [_as_flag(marked, c) for c in spec.flags]
        combos = _grouped(marked, list(spec.flags), spec.metric, 3 ** len(spec.flags), "--flags", support, keys)
    if spec.matrix is not None:
        matrix = _grouped(marked, list(spec.matrix), spec.metric, MAX_CELLS, "--matrix", support)
    return SegmentProfile(
        spec=spec,
        table=table_name or _table_name(table),
        cohort_size=cohort_size,
        population_size=population_size,
        aggregates=compiled.aggregates,
        numeric=numeric,
        distributions=distributions,
        categories=categories,
        flags=flags,
        by_group=by_group,
        combinations=combos,
        matrix=matrix,
        support=support,
        name=name,
    )


def mark_cohort(table: ir.Table, compiled: CompiledFilter) -> ir.Table:
    """``table`` with the boolean column ``IN_COHORT``: the filter, unknown (null) as false."""
    return table.mutate(**{IN_COHORT: compiled.condition.fill_null(False)})


def select_members(table: ir.Table, where: str, *, id_column: str = "customer_id") -> ir.Table:
    """The cohort's rows (visible columns), ordered by ``id_column`` when there is one: the
    member list to export."""
    compiled = compile_filter(table, where)
    members = table.filter(compiled.condition.fill_null(False)).select(*visible_columns(table))
    return members.order_by(id_column) if id_column in members.columns else members


def _table_name(table: ir.Table) -> str:
    try:
        return table.get_name()
    except Exception:  # an expression, not a named table
        return "table"


# -- which column plays which part -------------------------------------------------------------
@dataclass(frozen=True)
class _Roles:
    numeric: list[str]
    flags: list[str]  # booleans, and integer 0/1 columns named by --flags
    named_flags: list[str]
    text: list[str]
    all_numeric: list[str]


def _column_roles(table: ir.Table, spec: SegmentSpec, id_column: str) -> _Roles:
    schema = table.schema()
    visible = visible_columns(table)

    def need(column: str | None, option: str, numeric: bool = False) -> None:
        if column is None:
            return
        if column not in visible:
            raise ConfigError(
                f"segment: {option} {column!r} is not a column of the table", columns_hint(visible, column)
            )
        if numeric and not (schema[column].is_numeric() and not schema[column].is_boolean()):
            numeric_columns = [c for c in visible if schema[c].is_numeric() and not schema[c].is_boolean()]
            raise ConfigError(
                f"segment: {option} {column!r} holds {schema[column]}, not numbers",
                f"numeric columns: {', '.join(numeric_columns)}",
            )

    need(spec.metric, "--metric", numeric=True)
    need(spec.by_metric, "--by-metric", numeric=True)
    need(spec.by, "--by")
    for column in spec.flags:
        need(column, "--flags")
        dtype = schema[column]
        if not (dtype.is_boolean() or dtype.is_integer()):
            raise ConfigError(
                f"segment: --flags {column!r} holds {dtype}; a flag is true/false or 0/1",
                "name boolean or whole-number 0/1 columns",
            )
    for column in spec.matrix or ():
        need(column, "--matrix")
    named = list(spec.flags)
    booleans = [c for c in visible if schema[c].is_boolean() and c not in named]
    numeric = [c for c in visible if schema[c].is_numeric() and not schema[c].is_boolean() and c not in named]
    text = [c for c in visible if schema[c].is_string() and c != id_column]
    return _Roles(numeric=numeric, flags=named + booleans, named_flags=named, text=text, all_numeric=numeric)


def _is_categorical(nunique: Any, rows: int) -> bool:
    """A text column is compared by value unless it looks like an identifier (nearly every row
    has its own value: e-mail addresses, phone numbers)."""
    if nunique is None or (isinstance(nunique, float) and math.isnan(nunique)):
        return True
    return not (nunique > 1000 and nunique > 0.5 * rows)


def _check_flag_values(roles: _Roles, summary: dict[str, Any]) -> None:
    for column in roles.named_flags:
        low, high = summary.get(f"min:{column}"), summary.get(f"max:{column}")
        if low is not None and not _missing(low) and (low < 0 or high > 1):
            raise ConfigError(
                f"segment: --flags {column!r} holds values from {low:g} to {high:g}; a flag is 0/1",
                "name columns holding only 0 and 1 (or true/false)",
            )


def _missing(value: Any) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value)) or value is pd.NA


def _as_flag(marked: ir.Table, column: str) -> ir.Value:
    return marked[column].cast("int64")


# -- query 1: the summary, by cohort flag (two rows) and over all (one row) -------------------
def _summary(marked: ir.Table, roles: _Roles) -> dict[str, Any]:
    """Cohort and rest counts, means, deviations, minima and maxima from one scan grouped by the
    cohort flag (the filter evaluated once per row, not once per aggregate); then the quartiles
    of cohort and population and the text columns' distinct counts from one plain scan. The
    population's count, mean, min and max combine the two groups."""
    cohort = marked[IN_COHORT]
    sides: dict[str, ir.Scalar] = {"_rows": cohort.count()}
    overall: dict[str, ir.Scalar] = {"_rows": cohort.count()}
    names: dict[str, str] = {}

    def add(target: dict[str, ir.Scalar], key: str, expr: ir.Scalar) -> None:
        alias = f"m{len(names)}"
        names[alias] = key
        target[alias] = expr

    for column in roles.numeric:
        x = marked[column].cast("float64")
        for key, expr in (("n", x.count()), ("mean", x.mean()), ("std", x.std()), ("min", x.min()), ("max", x.max())):
            add(sides, f"{key}:{column}", expr)
    for column in roles.flags:
        x = marked[column].cast("float64")
        for key, expr in (("n", x.count()), ("mean", x.mean()), ("min", x.min()), ("max", x.max())):
            add(sides, f"{key}:{column}", expr)
    grouped = marked.group_by(_side=cohort).aggregate(**sides).execute()
    by_side = {bool(row["_side"]): row for row in grouped.to_dict("records")}
    empty = {alias: None for alias in sides} | {"_rows": 0}
    inside, outside = by_side.get(True, empty), by_side.get(False, empty)
    out: dict[str, Any] = {
        "_cohort": _int(inside["_rows"]),
        "_population": _int(inside["_rows"]) + _int(outside["_rows"]),
    }
    for alias, key in names.items():
        if alias not in sides:
            continue
        stat, column = key.split(":", 1)
        a, b = _scalar(inside[alias]), _scalar(outside[alias])
        if stat == "n":
            out[f"cohort_n:{column}"], out[f"rest_n:{column}"] = _int(a), _int(b)
            out[f"population_n:{column}"] = _int(a) + _int(b)
        elif stat in ("mean", "std"):
            out[f"cohort_{stat}:{column}"], out[f"rest_{stat}:{column}"] = a, b
        else:
            present = [v for v in (a, b) if not _missing(v)]
            out[f"{stat}:{column}"] = (min(present) if stat == "min" else max(present)) if present else None
    for column in [*roles.numeric, *roles.flags]:
        n1, n0 = out[f"cohort_n:{column}"], out[f"rest_n:{column}"]
        m1, m0 = out[f"cohort_mean:{column}"], out[f"rest_mean:{column}"]
        out[f"population_mean:{column}"] = (
            ((n1 * m1 if n1 else 0.0) + (n0 * m0 if n0 else 0.0)) / (n1 + n0) if n1 + n0 else None
        )
    schema = marked.schema()
    for column in roles.numeric:
        if bin_edges(out[f"min:{column}"], out[f"max:{column}"], 1, schema[column].is_integer())[0] == "unit":
            continue  # few whole values: the quartiles come exactly from the histogram (no sort)
        value = marked[column]  # quartiles of the column as it is: a cast would slow the sort
        add(overall, f"cohort_q:{column}", value.quantile(list(QUANTILES), where=cohort))
        add(overall, f"population_q:{column}", value.quantile(list(QUANTILES)))
    if len(overall) > 1:
        row = marked.aggregate(**overall).execute().iloc[0].to_dict()
        out |= {names[alias]: _scalar(value) for alias, value in row.items() if alias != "_rows"}
    return out


def _int(value: Any) -> int:
    return 0 if _missing(value) else int(value)


def _scalar(value: Any) -> Any:
    if isinstance(value, (list, tuple, np.ndarray)):
        return [None if _missing(v) else float(v) for v in value]
    if value is None or value is pd.NA:
        return None
    if isinstance(value, (np.generic,)):
        value = value.item()
    return value


def _numeric_table(columns: list[str], s: dict[str, Any], support: Support) -> pd.DataFrame:
    rows = []
    for column in columns:
        cq = s.get(f"cohort_q:{column}") or [None] * len(QUANTILES)
        pq = s.get(f"population_q:{column}") or [None] * len(QUANTILES)
        rows.append(
            {
                "column": column,
                "cohort_count": _int(s[f"cohort_n:{column}"]),
                "cohort_mean": s[f"cohort_mean:{column}"],
                "cohort_q25": cq[0],
                "cohort_median": cq[1],
                "cohort_q75": cq[2],
                "cohort_std": s[f"cohort_std:{column}"],
                "population_count": _int(s[f"population_n:{column}"]),
                "population_mean": s[f"population_mean:{column}"],
                "population_q25": pq[0],
                "population_median": pq[1],
                "population_q75": pq[2],
                "min": s[f"min:{column}"],
                "max": s[f"max:{column}"],
                "rest_count": _int(s[f"rest_n:{column}"]),
                "rest_mean": s[f"rest_mean:{column}"],
                "rest_std": s[f"rest_std:{column}"],
            }
        )
    columns_out = [
        "column",
        "cohort_count",
        "cohort_mean",
        "cohort_q25",
        "cohort_median",
        "cohort_q75",
        "cohort_std",
        "population_count",
        "population_mean",
        "population_q25",
        "population_median",
        "population_q75",
        "min",
        "max",
        "rest_count",
        "rest_mean",
        "rest_std",
    ]
    frame = pd.DataFrame(rows, columns=columns_out)
    return compare_means(frame, support)


def _flag_table(columns: list[str], s: dict[str, Any], support: Support) -> pd.DataFrame:
    rows = []
    for column in columns:
        rows.append(
            {
                "column": column,
                "cohort_count": _int(s[f"cohort_n:{column}"]),
                "cohort_share": s[f"cohort_mean:{column}"],
                "population_count": _int(s[f"population_n:{column}"]),
                "population_share": s[f"population_mean:{column}"],
                "rest_count": _int(s[f"rest_n:{column}"]),
                "rest_share": s[f"rest_mean:{column}"],
            }
        )
    frame = pd.DataFrame(
        rows,
        columns=[
            "column",
            "cohort_count",
            "cohort_share",
            "population_count",
            "population_share",
            "rest_count",
            "rest_share",
        ],
    )
    return compare_shares(frame, support)


# -- comparisons (on compact results) ----------------------------------------------------------
def compare_means(frame: pd.DataFrame, support: Support) -> pd.DataFrame:
    """Add ``lift`` (cohort mean over population mean, minus 1), Welch's ``z`` of cohort against
    the rest, ``small`` and ``notable`` to a frame of cohort/rest/population statistics."""
    out = frame.copy()
    cm, pm, rm = (
        pd.to_numeric(out[c], errors="coerce").astype(float) for c in ("cohort_mean", "population_mean", "rest_mean")
    )
    cn, rn = out.cohort_count.astype(float), out.rest_count.astype(float)
    cs, rs = (pd.to_numeric(out[c], errors="coerce").astype(float) for c in ("cohort_std", "rest_std"))
    out["difference"] = cm - pm
    out["lift"] = (cm - pm) / pm.abs().where(pm != 0)
    se = np.sqrt((cs**2 / cn.where(cn > 0)) + (rs**2 / rn.where(rn > 0)))
    out["z"] = (cm - rm) / se.where(se > 0)
    out["small"] = out.cohort_count < support.min_count
    out["notable"] = (out.lift.abs() >= support.min_lift) & ~out.small & (out.z.abs() >= support.z)
    out["notable"] = out.notable.fillna(False).astype(bool)
    return out


def compare_shares(frame: pd.DataFrame, support: Support) -> pd.DataFrame:
    """Add the ``difference`` in share (points), the two-proportion ``z`` of cohort against the
    rest, ``small`` and ``notable``."""
    out = frame.copy()
    cp, pp, rp = (
        pd.to_numeric(out[c], errors="coerce").astype(float) for c in ("cohort_share", "population_share", "rest_share")
    )
    cn, rn = out.cohort_count.astype(float), out.rest_count.astype(float)
    pooled = (cp.fillna(0) * cn + rp.fillna(0) * rn) / (cn + rn).where(cn + rn > 0)
    se = np.sqrt(pooled * (1 - pooled) * (1 / cn.where(cn > 0) + 1 / rn.where(rn > 0)))
    out["difference"] = cp - pp
    out["z"] = (cp - rp) / se.where(se > 0)
    out["small"] = out.cohort_count < support.min_count
    out["notable"] = (out.difference.abs() >= support.min_points) & ~out.small & (out.z.abs() >= support.z)
    out["notable"] = out.notable.fillna(False).astype(bool)
    return out


# -- query 2: histograms on shared edges -------------------------------------------------------
def bin_edges(low: float | None, high: float | None, bins: int, whole: bool) -> tuple[str, float, float, int]:
    """``(kind, start, width, count)`` of the bins of a column from the population's min and
    max: ``unit`` bins (one per whole value) for whole numbers with at most ``UNIT_BINS``
    values, else ``bins`` equal-width bins (one when min = max)."""
    if _missing(low) or _missing(high):
        return "none", 0.0, 1.0, 0
    low, high = float(low), float(high)
    if whole and high - low + 1 <= UNIT_BINS:
        return "unit", low, 1.0, int(high - low) + 1
    if high == low:
        return "equal", low, 1.0, 1
    return "equal", low, (high - low) / bins, bins


def _distributions(marked: ir.Table, columns: list[str], s: dict[str, Any], bins: int) -> pd.DataFrame:
    """Histogram counts of every numeric column, cohort and population, on shared edges: one
    statement, a ``group by (in cohort, bin)`` per column."""
    schema = marked.schema()
    cohort = marked[IN_COHORT]
    parts = []
    layout: list[tuple[str, str, float, float, int]] = []
    for column in columns:
        kind, start, width, count = bin_edges(s[f"min:{column}"], s[f"max:{column}"], bins, schema[column].is_integer())
        if count == 0:
            continue
        x = marked[column].cast("float64")
        index = ((x - start) / width).floor().clip(0, count - 1) if count > 1 else (x - x).cast("int64")
        counted = marked.group_by(side=cohort, bin=index.cast("int64")).aggregate(n=x.count())
        parts.append(counted.mutate(position=ibis.literal(len(layout), "int64")))
        layout.append((column, kind, start, width, count))
    columns_out = ["column", "bin", "low", "high", "cohort", "population", "cohort_share", "population_share"]
    if not parts:
        return pd.DataFrame(columns=columns_out)
    counts = (parts[0] if len(parts) == 1 else ibis.union(*parts)).execute()
    counts = counts[counts["bin"].notna()]
    found: dict[tuple[int, int, bool], int] = {
        (int(p), int(b), bool(side)): int(n)
        for p, b, side, n in zip(counts.position, counts["bin"], counts.side, counts.n)
    }
    rows = []
    for j, (column, kind, start, width, count) in enumerate(layout):
        cohort_n = [found.get((j, i, True), 0) for i in range(count)]
        population_n = [found.get((j, i, True), 0) + found.get((j, i, False), 0) for i in range(count)]
        cohort_total, population_total = sum(cohort_n), sum(population_n)
        for i in range(count):
            low = start + i * width
            high = low if kind == "unit" else (float(s[f"max:{column}"]) if i == count - 1 else start + (i + 1) * width)
            rows.append(
                {
                    "column": column,
                    "bin": i,
                    "low": low,
                    "high": high,
                    "cohort": cohort_n[i],
                    "population": population_n[i],
                    "cohort_share": cohort_n[i] / cohort_total if cohort_total else None,
                    "population_share": population_n[i] / population_total if population_total else None,
                }
            )
    return pd.DataFrame(rows, columns=columns_out)


def quantiles_from_counts(values: list[float], counts: list[int], quantiles=QUANTILES) -> list[float | None]:
    """Exact quantiles (linear interpolation between order statistics, as ``quantile_cont`` and
    pandas compute them) of data given as distinct ``values`` (ascending) with their counts."""
    total = sum(counts)
    if total == 0:
        return [None] * len(quantiles)
    cumulative = np.cumsum(counts)

    def at(rank: int) -> float:  # the value of the rank-th smallest element (0-based)
        return float(values[int(np.searchsorted(cumulative, rank, side="right"))])

    out = []
    for q in quantiles:
        position = (total - 1) * q
        low, high = math.floor(position), math.ceil(position)
        out.append(at(low) + (position - low) * (at(high) - at(low)))
    return out


def _quartiles_from_histograms(distributions: pd.DataFrame, s: dict[str, Any]) -> dict[str, Any]:
    """Quartiles of the columns with one histogram bin per whole value, from those counts."""
    out: dict[str, Any] = {}
    for column, part in distributions.groupby("column", sort=False):
        if f"population_q:{column}" in s or not (part.low == part.high).all():
            continue
        values = part.low.tolist()
        out[f"cohort_q:{column}"] = quantiles_from_counts(values, part.cohort.tolist())
        out[f"population_q:{column}"] = quantiles_from_counts(values, part.population.tolist())
    return out


# -- query 3: text columns' values -------------------------------------------------------------
def _categories(marked: ir.Table, columns: list[str], top: int, support: Support) -> pd.DataFrame:
    """Each text column's values: the ``top`` most common in the population (ties by value),
    the rest lumped as one ``other`` row, missing values as a ``missing`` row."""
    columns_out = ["column", "value", "kind", "values", "cohort", "population", "cohort_share", "population_share"]
    if not columns:
        return compare_shares(pd.DataFrame(columns=columns_out + ["cohort_count", "rest_count", "rest_share"]), support)
    parts = []
    for position, column in enumerate(columns):
        counted = marked.group_by(value=marked[column]).aggregate(
            cohort=marked[IN_COHORT].cast("int64").sum(), population=marked[IN_COHORT].count()
        )
        ranked = counted.mutate(
            rank=ibis.row_number().over(order_by=[counted.value.isnull(), counted.population.desc(), counted.value])
        )
        capped = ranked.mutate(slot=ibis.ifelse(ranked.value.isnull(), top + 1, ibis.least(ranked.rank, top)))
        lumped = capped.group_by("slot").aggregate(
            value=capped.value.max(),
            values=capped.value.count(),
            cohort=capped.cohort.sum(),
            population=capped.population.sum(),
        )
        parts.append(lumped.mutate(position=ibis.literal(position, "int64")))
    union = parts[0] if len(parts) == 1 else ibis.union(*parts)
    frame = union.execute()
    frame["column"] = [columns[int(p)] for p in frame.position]
    frame["kind"] = np.where(frame.slot == top + 1, "missing", np.where(frame.slot == top, "other", "value"))
    # "other" holds every value from the top-th on; a lone value there is shown as itself
    lone = (frame.kind == "other") & (frame["values"] == 1)
    frame.loc[lone, "kind"] = "value"
    frame.loc[frame.kind != "value", "value"] = None
    frame = frame.sort_values(["position", "slot"]).reset_index(drop=True)
    totals = frame.groupby("column")[["cohort", "population"]].transform("sum")
    frame["cohort_share"] = frame.cohort / totals.cohort.where(totals.cohort > 0)
    frame["population_share"] = frame.population / totals.population.where(totals.population > 0)
    frame["cohort_count"] = totals.cohort
    frame["rest_count"] = totals.population - totals.cohort
    frame["rest_share"] = (frame.population - frame.cohort) / frame.rest_count.where(frame.rest_count > 0)
    frame["values"] = frame["values"].where(frame.kind != "missing", 0)
    out = compare_shares(frame[columns_out + ["cohort_count", "rest_count", "rest_share"]], support)
    # a category's support is the members in it, not the cohort: small = few cohort members there
    out["small"] = out.cohort < support.min_count
    out["notable"] = out.notable & ~out.small
    return out


# -- query 4: a metric per group / flag combination / matrix cell -----------------------------
def _grouped(
    marked: ir.Table,
    columns: list[str],
    metric: str,
    limit: int,
    option: str,
    support: Support,
    keys: list[ir.Value] | None = None,
) -> pd.DataFrame:
    cohort = marked[IN_COHORT]
    x = marked[metric].cast("float64")
    by = {column: (keys[i] if keys else marked[column]) for i, column in enumerate(columns)}
    grouped = marked.group_by(**by).aggregate(
        cohort_members=cohort.cast("int64").sum(),
        population_members=cohort.count(),
        cohort_count=x.count(where=cohort),
        cohort_mean=x.mean(where=cohort),
        cohort_std=x.std(where=cohort),
        rest_count=x.count(where=~cohort),
        rest_mean=x.mean(where=~cohort),
        rest_std=x.std(where=~cohort),
        population_count=x.count(),
        population_mean=x.mean(),
    )
    frame = grouped.limit(limit + 1).execute()
    if len(frame) > limit:
        raise ConfigError(
            f"segment: {option} {', '.join(columns)} has more than {limit} groups",
            f"{option} needs columns with few values (a tier, a level, a flag)",
        )
    frame = frame.sort_values(columns, na_position="last", kind="stable").reset_index(drop=True)
    for column in ("cohort_members", "population_members", "cohort_count", "rest_count", "population_count"):
        frame[column] = frame[column].fillna(0).astype("int64")
    out = compare_means(frame, support)
    out["small"] = out.cohort_members < support.min_count
    out["notable"] = out.notable & ~out.small
    return out
