"""Monitoring rules over a KPI series: when does a number call for attention?

A rule watches one metric (see :mod:`memberlens.monitor.series`) and is one of three kinds,
told apart by the keys it is given:

* **threshold** — ``above = x`` or ``below = x``: the value is past ``x``;
* **change** — ``rise = 0.2`` or ``fall = 0.2``: the value is more than 20 % above (below) its
  baseline: the median of the ``window`` periods before it (``baseline = "trailing-median"``,
  the default) or the same period a year earlier (``baseline = "last-year"``; the trailing median
  where the data does not reach back a year);
* **automatic** — no threshold: a robust seasonal forecast with a band. A period's forecast is
  the median, over up to three earlier seasons (a year for weeks, months and quarters; a week for
  days), of the same period's value moved on by the typical change per season (the median of the
  past season-on-season changes); the band is ``band`` (default 3) robust standard deviations of
  the past forecast errors (1.4826 × their median absolute deviation) either side, around the
  forecast plus their median. Series that are always positive are judged on the log scale, so a
  peak season grows by the same share as the others. It gives no verdict until a season, three
  season-on-season changes and six forecast errors are known. This is seasonal naive forecasting
  with drift and a MAD band: a peak that recurs every season is inside it, a break from the
  pattern is not, and one odd period does not move later forecasts (they take medians).

``periods = n`` makes a rule fire only after n breaches in a row (default 1); ``direction``
(``up``, ``down`` or ``both``) limits an automatic rule to one side.
"""

from __future__ import annotations

import difflib
import math
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from memberlens import format as f
from memberlens.errors import ConfigError

KINDS = ("threshold", "change", "auto")
BASELINES = ("trailing-median", "last-year")
DIRECTIONS = ("up", "down", "both")
# periods in a season: a year of weeks, months and quarters; a week of days
SEASON = {"day": 7, "week": 52, "month": 12, "quarter": 4}
LAST_YEAR = {"day": 364, "week": 52, "month": 12, "quarter": 4}  # periods back to the same period a year earlier
MAD_TO_SD = 1.4826
MIN_CHANGES = 3  # season-on-season changes known before a forecast is made
MIN_DIFFERENCES = 6  # forecast errors known before a band is drawn
MAX_SEASONS = 3  # earlier seasons a forecast takes the median of


@dataclass(frozen=True)
class Rule:
    """One monitoring rule (see the module docstring)."""

    metric: str
    kind: str
    direction: str  # "up": alert on high values, "down": on low ones, "both"
    limit: float | None = None  # threshold: the value; change: the relative change
    baseline: str = "trailing-median"
    window: int = 6
    band: float = 3.0
    periods: int = 1
    name: str = ""
    group: str = ""  # a share metric's segment or risk band (e.g. "at_risk", "high")

    @property
    def watched(self) -> str:
        """The metric, with its segment or band for a share: ``segment_share[at_risk]``."""
        return f"{self.metric}[{self.group}]" if self.group else self.metric

    @property
    def label(self) -> str:
        """The rule's name, or what it watches in a few words."""
        if self.name:
            return self.name
        if self.kind == "threshold":
            return f"{self.watched} {'below' if self.direction == 'down' else 'above'} {self.limit:g}"
        if self.kind == "change":
            return f"{self.watched} {'down' if self.direction == 'down' else 'up'} {f.pct(self.limit, 0)} on its {self.baseline}"
        return f"{self.watched} off its seasonal range ({self.direction})"


# built in: the base shrinking (异动比 below 1) two periods running; churn up a fifth on its
# trailing median; revenue and new buyers off their seasonal pattern
DEFAULT_RULES = (
    Rule("change_ratio", "threshold", "down", 1.0, periods=2, name="member base shrinking"),
    Rule("churn_rate", "change", "up", 0.2, name="churn rate up 20% on its trailing median"),
    Rule("revenue", "auto", "both", name="revenue off its seasonal pattern"),
    Rule("new_buyers", "auto", "down", name="new buyers below their seasonal pattern"),
)

_KEYS = {
    "name",
    "metric",
    "above",
    "below",
    "rise",
    "fall",
    "baseline",
    "window",
    "band",
    "direction",
    "periods",
    "segment",
    "risk_band",
}
# share metrics (from the stored score history) and the key naming their group
GROUP_KEYS = {"segment_share": "segment", "risk_band_share": "risk_band"}


def load_rules(path: str | Path, metrics: set[str] | None = None) -> list[Rule]:
    """The ``[[rule]]`` tables of a TOML file as rules; each mistake refused in one line naming
    the file, the rule and the key (``metrics``: the metric names allowed)."""
    path = Path(path)
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(
            f"{path}: no such rules file", "write [[rule]] tables, or leave out --rules for the built-in ones"
        ) from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: not valid TOML ({exc})", "see the README's monitoring rules") from None
    entries = data.get("rule")
    if not isinstance(entries, list) or not entries or set(data) - {"rule"}:
        raise ConfigError(
            f"{path}: expected [[rule]] tables and nothing else", 'e.g. [[rule]]\nmetric = "churn_rate"\nrise = 0.2'
        )
    return [rule_from(entry, f"{path}, rule {number}", metrics) for number, entry in enumerate(entries, 1)]


def rule_from(entry: dict[str, Any], where: str, metrics: set[str] | None = None) -> Rule:
    """One rule from its TOML table (``where`` names it in errors)."""
    unknown = set(entry) - _KEYS
    if unknown:
        raise ConfigError(f"{where}: unknown key {sorted(unknown)[0]!r}", f"keys: {', '.join(sorted(_KEYS))}")
    metric = entry.get("metric")
    if not isinstance(metric, str):
        raise ConfigError(f"{where}: 'metric' is missing", 'name the metric to watch, e.g. metric = "churn_rate"')
    if metrics is not None and metric not in metrics:
        close = difflib.get_close_matches(metric, sorted(metrics), n=1)
        raise ConfigError(
            f"{where}: unknown metric {metric!r}",
            (f"did you mean {close[0]!r}? " if close else "") + f"metrics: {', '.join(sorted(metrics))}",
        )
    group_key = GROUP_KEYS.get(metric)
    if group_key is not None and not isinstance(entry.get(group_key), str):
        raise ConfigError(
            f'{where}: {metric} needs {group_key} = "..."',
            'e.g. segment = "at_risk" (an RFM segment) or risk_band = "high"',
        )
    misplaced = [k for k in GROUP_KEYS.values() if k in entry and k != group_key]
    if misplaced:
        raise ConfigError(f'{where}: {misplaced[0]} goes with metric = "{misplaced[0]}_share"')
    limits = [k for k in ("above", "below", "rise", "fall") if k in entry]
    if len(limits) > 1:
        raise ConfigError(f"{where}: give one of above, below, rise, fall (got {', '.join(limits)})")
    number = lambda key, low, high: _number(entry, key, where, low, high)  # noqa: E731
    common = {
        "metric": metric,
        "name": str(entry.get("name", "")),
        "periods": int(number("periods", 1, 1000) or 1),
        "group": entry.get(group_key, "") if group_key else "",
    }
    if limits and limits[0] in ("above", "below"):
        return Rule(
            kind="threshold",
            direction="up" if limits[0] == "above" else "down",
            limit=number(limits[0], -math.inf, math.inf),
            **common,
        )
    if limits:
        baseline = entry.get("baseline", "trailing-median")
        if baseline not in BASELINES:
            raise ConfigError(f"{where}: baseline {baseline!r} is not one of {', '.join(BASELINES)}")
        return Rule(
            kind="change",
            direction="up" if limits[0] == "rise" else "down",
            limit=number(limits[0], 0, math.inf),
            baseline=baseline,
            window=int(number("window", 1, 1000) or 6),
            **common,
        )
    direction = entry.get("direction", "both")
    if direction not in DIRECTIONS:
        raise ConfigError(f"{where}: direction {direction!r} is not one of {', '.join(DIRECTIONS)}")
    return Rule(
        kind="auto",
        direction=direction,
        band=number("band", 0, 100) or 3.0,
        window=int(number("window", 1, 1000) or 6),
        **common,
    )


def _number(entry: dict[str, Any], key: str, where: str, low: float, high: float) -> float | None:
    if key not in entry:
        return None
    value = entry[key]
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not (low <= value <= high) or value != value:
        raise ConfigError(f"{where}: {key} = {value!r} is not a number from {low:g} to {high:g}")
    return float(value)


# -- evaluation ----------------------------------------------------------------------------------
def evaluate_rule(rule: Rule, series: pd.Series, period: str = "month") -> pd.DataFrame:
    """Per period of ``series`` (values indexed by period start, in order): the value, the
    bounds it is held to (``low``, ``high``; NaN where the rule has no verdict yet), whether it
    breaches them, for how many periods in a row it has, and whether the rule fires."""
    values = pd.to_numeric(series, errors="coerce").astype("float64")
    low, high = _bounds(rule, values.to_numpy(), period)
    x = values.to_numpy()
    with np.errstate(invalid="ignore"):
        breached = np.where(np.isnan(x), False, (x < low) | (x > high))
    held = np.zeros(len(x), dtype="int64")
    for i, b in enumerate(breached):
        held[i] = (held[i - 1] + 1 if i else 1) if b else 0
    return pd.DataFrame(
        {"value": x, "low": low, "high": high, "breached": breached, "held": held, "fired": held >= rule.periods},
        index=series.index,
    )


def _bounds(rule: Rule, x: np.ndarray, period: str) -> tuple[np.ndarray, np.ndarray]:
    """The lowest and highest value that does not breach, per period (-inf/inf for the side a
    rule does not watch; NaN on both where it cannot judge yet)."""
    n = len(x)
    if rule.kind == "threshold":
        low = np.full(n, rule.limit if rule.direction == "down" else -np.inf)
        high = np.full(n, rule.limit if rule.direction == "up" else np.inf)
        return low, high
    if rule.kind == "change":
        base = _change_baseline(rule, x, period)
        base = np.where(base > 0, base, np.nan)  # a change on nothing has no size: no verdict
        factor = 1 + rule.limit if rule.direction == "up" else 1 - rule.limit
        bound = base * factor
        return (
            (np.where(np.isnan(bound), np.nan, -np.inf), bound)
            if rule.direction == "up"
            else (bound, np.where(np.isnan(bound), np.nan, np.inf))
        )
    known = x[~np.isnan(x)]
    ratios = len(known) > 0 and bool((known > 0).all())  # judge shares of the value, not amounts
    centre, spread = _seasonal_forecast(np.log(x) if ratios else x, SEASON.get(period, 12))
    low, high = centre - rule.band * spread, centre + rule.band * spread
    if ratios:
        low, high = np.exp(low), np.exp(high)
    unjudged = np.isnan(centre)
    if rule.direction == "up":
        low = np.where(unjudged, np.nan, -np.inf)
    if rule.direction == "down":
        high = np.where(unjudged, np.nan, np.inf)
    return low, high


def _trailing_median(x: np.ndarray, window: int) -> np.ndarray:
    """The median of the ``window`` values before each (NaN with fewer than min(3, window))."""
    need = min(3, window)
    out = np.full(len(x), np.nan)
    for i in range(len(x)):
        before = x[max(0, i - window) : i]
        before = before[~np.isnan(before)]
        if len(before) >= need:
            out[i] = np.median(before)
    return out


def _change_baseline(rule: Rule, x: np.ndarray, period: str) -> np.ndarray:
    base = _trailing_median(x, rule.window)
    if rule.baseline == "last-year":
        lag = LAST_YEAR.get(period, 12)
        year_ago = np.full(len(x), np.nan)
        year_ago[lag:] = x[:-lag] if lag < len(x) else []
        base = np.where(np.isnan(year_ago), base, year_ago)
    return base


def _seasonal_forecast(y: np.ndarray, season: int) -> tuple[np.ndarray, np.ndarray]:
    """Per period, from the periods before it only: the seasonal forecast — the median over the
    up to three earlier seasons of that season's value moved on by the typical change per season
    (the median of the past season-on-season changes) — and the robust spread of the past
    periods' differences from their own forecasts (1.4826 × the median absolute deviation).
    NaN where fewer than three changes or six differences are known."""
    n = len(y)
    change = np.full(n, np.nan)
    change[season:] = y[season:] - y[:-season] if season < n else []
    forecast = np.full(n, np.nan)
    for i in range(season, n):
        past = change[:i]
        past = past[~np.isnan(past)]
        if len(past) < MIN_CHANGES:
            continue
        drift = np.median(past)
        candidates = [y[i - k * season] + k * drift for k in range(1, MAX_SEASONS + 1) if i - k * season >= 0]
        candidates = [c for c in candidates if not np.isnan(c)]
        if candidates:
            forecast[i] = np.median(candidates)
    differences = y - forecast
    centre, spread = np.full(n, np.nan), np.full(n, np.nan)
    for i in range(n):
        past = differences[:i]
        past = past[~np.isnan(past)]
        if np.isnan(forecast[i]) or len(past) < MIN_DIFFERENCES:
            continue
        bias = np.median(past)
        centre[i] = forecast[i] + bias
        spread[i] = max(np.median(np.abs(past - bias)) * MAD_TO_SD, 1e-9 * max(1.0, abs(centre[i])))
    return centre, spread
