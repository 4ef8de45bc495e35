"""User text made inert in the report's page. Two rules keep user text (product names, segment
names, ids) from being read as markup:

* :func:`plain` turns ``& < >`` into entities in every string Plotly shows (Plotly reads a
  small set of HTML-like tags in labels; as entities they are shown as text);
* :func:`embed_json` escapes ``< > &`` and U+2028/U+2029 in the JSON placed inside
  ``<script type="application/json">``, so no string can end the script element.
"""

from __future__ import annotations

from typing import Any

from memberlens import format as f
from memberlens.io.jsonable import json_text


def plain(text: Any) -> str:
    """A label Plotly shows as text, never as markup."""
    return str(text).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


_JSON_ESCAPES = {"<": "\\u003c", ">": "\\u003e", "&": "\\u0026", "\u2028": "\\u2028", "\u2029": "\\u2029"}


def embed_json(data: Any) -> str:
    """JSON safe inside a ``<script>`` element of an HTML page; numbers to 12 significant digits
    (:func:`memberlens.format.stable`), like every number the report prints, so a chart
    is the same whatever order an engine added its values in."""
    text = json_text(data, indent=None, separators=(",", ":"), floats=f.stable)
    for char, escaped in _JSON_ESCAPES.items():
        text = text.replace(char, escaped)
    return text
