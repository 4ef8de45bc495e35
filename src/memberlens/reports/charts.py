"""Plotly figures as plain data, the tables behind them, and the Plotly.js the page inlines.

Figures are built as dictionaries (``{"data": [...], "layout": {...}}``) from executed analysis
tables and drawn in the browser by the Plotly.js bundled with the ``plotly`` package, inlined
once per report. User text in them is made inert by :mod:`memberlens.reports.inert`: every
string Plotly shows passes through :func:`~memberlens.reports.inert.plain`, and the figure is
placed in the page by :func:`~memberlens.reports.inert.embed_json`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from functools import cache
from typing import Any

import pandas as pd

from memberlens import format as f
from memberlens.reports.base import TableBlock
from memberlens.reports.inert import plain
from memberlens.reports.palette import colour

FONT = (
    'system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial, "PingFang SC", '
    '"Hiragino Sans GB", "Microsoft YaHei", "Noto Sans CJK SC", "Source Han Sans SC", '
    '"WenQuanYi Micro Hei", sans-serif'
)
CONFIG = {"responsive": True, "displaylogo": False, "modeBarButtonsToRemove": ["select2d", "lasso2d"]}


@cache
def plotly_js() -> str:
    """The plotly.js bundled with the ``plotly`` package (no CDN)."""
    from plotly.offline import get_plotlyjs

    js = get_plotlyjs()
    # never true of the bundle; guards the inline <script> should a future bundle contain it
    return js.replace("</script", "<\\/script").replace("<!--", "<\\!--")


# -- figures -----------------------------------------------------------------------------------
def layout(
    *,
    x_title: str | None = None,
    y_title: str | None = None,
    y2_title: str | None = None,
    y_percent: bool = False,
    y2_percent: bool = False,
    barmode: str | None = None,
    height: int = 380,
    x_category: bool = True,
    hovermode: str = "x unified",
    legend: bool = True,
    **extra: Any,
) -> dict[str, Any]:
    result: dict[str, Any] = {
        "font": {"family": FONT, "size": 13, "color": "#1f2933"},
        "height": height,
        "margin": {"l": 64, "r": 24 if y2_title is None else 64, "t": 16, "b": 56},
        "hovermode": hovermode,
        "showlegend": legend,
        "legend": {"orientation": "h", "y": 1.02, "x": 0, "yanchor": "bottom"},
        "plot_bgcolor": "#ffffff",
        "paper_bgcolor": "#ffffff",
        "xaxis": {"automargin": True, "gridcolor": "#eef2f6", "title": {"text": plain(x_title or "")}},
        "yaxis": {
            "automargin": True,
            "gridcolor": "#eef2f6",
            "zerolinecolor": "#d9e2ec",
            "title": {"text": plain(y_title or "")},
            "rangemode": "tozero",
        },
    }
    if x_category:
        result["xaxis"]["type"] = "category"
    if y_percent:
        result["yaxis"] |= {"tickformat": ".0%", "hoverformat": ".1%"}
    if y2_title is not None:
        result["yaxis2"] = {
            "title": {"text": plain(y2_title)},
            "overlaying": "y",
            "side": "right",
            "showgrid": False,
            "automargin": True,
            "rangemode": "tozero",
        }
        if y2_percent:
            result["yaxis2"] |= {"tickformat": ".0%", "hoverformat": ".1%"}
    if barmode:
        result["barmode"] = barmode
    result.update(extra)
    return result


def figure(data: list[dict[str, Any]], layout_: dict[str, Any]) -> dict[str, Any]:
    return {"data": data, "layout": layout_, "config": CONFIG}


def _values(values: Iterable[Any]) -> list[Any]:
    """Plain values for a trace; text (category labels: names of products, segments...) made inert."""
    out = []
    for v in values:
        if f.missing(v):
            out.append(None)
        elif isinstance(v, str):
            out.append(plain(v))
        else:
            out.append(v.item() if hasattr(v, "item") else v)
    return out


def bar(
    name: str,
    x: Sequence[Any],
    y: Sequence[Any],
    *,
    key: str | None = None,
    colours: Sequence[str] | None = None,
    yaxis: str | None = None,
    pattern: str | None = None,
    orientation: str = "v",
    opacity: float | None = None,
    percent: bool = False,
) -> dict[str, Any]:
    trace: dict[str, Any] = {
        "type": "bar",
        "name": plain(name),
        "x": _values(x),
        "y": _values(y),
        "marker": {"color": list(colours) if colours is not None else colour(key or name)},
        "orientation": orientation,
    }
    if orientation == "h":
        trace["x"], trace["y"] = trace["y"], trace["x"]
    if yaxis:
        trace["yaxis"] = yaxis
    if pattern:
        trace["marker"]["pattern"] = {"shape": pattern, "fillmode": "overlay", "fgcolor": "#ffffff", "size": 6}
    if opacity is not None:
        trace["marker"]["opacity"] = opacity
    if percent:
        trace["hovertemplate"] = "%{" + ("x" if orientation == "h" else "y") + ":.1%}"
    return trace


def line(
    name: str,
    x: Sequence[Any],
    y: Sequence[Any],
    *,
    key: str | None = None,
    yaxis: str | None = None,
    dash: str | None = None,
    markers: bool = True,
    percent: bool = False,
) -> dict[str, Any]:
    trace: dict[str, Any] = {
        "type": "scatter",
        "mode": "lines+markers" if markers else "lines",
        "name": plain(name),
        "x": _values(x),
        "y": _values(y),
        "connectgaps": False,
        "line": {"color": colour(key or name), "width": 2.2},
        "marker": {"size": 6},
    }
    if dash:
        trace["line"]["dash"] = dash
    if yaxis:
        trace["yaxis"] = yaxis
    if percent:
        trace["hovertemplate"] = "%{y:.1%}"
    return trace


# -- tables ------------------------------------------------------------------------------------
Formatter = Callable[[Any], Any]


def table(
    frame: pd.DataFrame,
    columns: Sequence[tuple[str, str, str | Formatter]],
    caption: str = "",
    limit: int | None = None,
) -> TableBlock:
    """A :class:`TableBlock` of ``frame``: ``(column, header, kind)`` with kind ``text``,
    ``int``, ``num``, ``pct``, ``day``, ``month`` or a function."""
    kinds = {
        "text": lambda v: "" if f.missing(v) else str(v),
        "int": lambda v: f.num(v, 0),
        "num": f.num,
        "pct": f.pct,
        "day": f.day,
        "month": lambda v: f.period(v, "month"),
    }
    rows_frame = frame if limit is None else frame.head(limit)
    formatters = [kinds[k] if isinstance(k, str) else k for _, _, k in columns]
    rows = (
        [
            [fmt(value) for fmt, value in zip(formatters, values)]
            for values in zip(*(rows_frame[c].tolist() for c, _, _ in columns))
        ]
        if len(rows_frame)
        else []
    )
    numeric = [isinstance(k, str) and k in ("int", "num", "pct") for _, _, k in columns]
    return TableBlock(caption, [h for _, h, _ in columns], rows, numeric)
