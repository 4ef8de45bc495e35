"""Saved segments: a TOML file of named cohorts beside the workspace.

``segments.toml`` in the workspace's folder (or any file given with ``--segments``)::

    [high-value-quiet]
    where = "marketing_to_sales_days between 10 and 20 and sales_to_support_days > 30"
    metric = "customer_health_score"
    by = "customer_tier"
    by_metric = "estimated_customer_ltv"
    flags = ["in_marketo", "in_stripe", "in_zendesk"]
    matrix = ["activity_risk_level", "engagement_velocity"]

Names are letters, digits, ``-`` and ``_`` (any script), at most 64 characters. The file is
rewritten atomically; strings are written as TOML basic strings (JSON's escapes are a subset of
TOML's), so a filter's quotes and backslashes survive the round trip.
"""

from __future__ import annotations

import json
import re
import tomllib
from pathlib import Path

from memberlens.errors import ConfigError
from memberlens.io.files import write_text_atomic
from memberlens.segments.spec import SegmentSpec

FILE_NAME = "segments.toml"
NAME = re.compile(r"^[^\W][\w-]{0,63}$")


def segments_file(workspace_path: str | Path) -> Path:
    """The default saved-segments file: ``segments.toml`` beside the workspace file."""
    return Path(workspace_path).resolve().parent / FILE_NAME


def check_name(name: str) -> str:
    if not isinstance(name, str) or not NAME.match(name):
        raise ConfigError(
            f"segment name {name!r} is not allowed",
            "use letters, digits, - and _ (at most 64, starting with a letter or digit), e.g. high-value-quiet",
        )
    return name


def load_segments(path: str | Path) -> dict[str, SegmentSpec]:
    """Every segment in ``path`` (an empty dict when the file does not exist)."""
    path = Path(path)
    if not path.exists():
        return {}
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise ConfigError(f"{path}: cannot read the saved segments ({exc})", "fix or remove the file") from exc
    segments = {}
    for name, entry in data.items():
        check_name(name)
        if not isinstance(entry, dict):
            raise ConfigError(f"{path}: [{name}] must be a table of where, metric, by, ...")
        segments[name] = SegmentSpec.from_dict(entry, source=f"{path}: [{name}]")
    return segments


def load_segment(path: str | Path, name: str) -> SegmentSpec:
    segments = load_segments(path)
    if name not in segments:
        known = ", ".join(sorted(segments)) or "none yet"
        raise ConfigError(f"{path}: no saved segment {name!r}", f"saved segments: {known}; save one with --save NAME")
    return segments[name]


def save_segment(path: str | Path, name: str, spec: SegmentSpec) -> Path:
    """Add or replace segment ``name`` in ``path``; returns the path."""
    check_name(name)
    segments = load_segments(path)
    segments[name] = spec
    return write_text_atomic(Path(path), dumps_segments(segments))


def dumps_segments(segments: dict[str, SegmentSpec]) -> str:
    """The segments as TOML text."""
    lines = ["# memberlens saved segments: memberlens segment --segment NAME", ""]
    for name in sorted(segments):
        lines.append(f"[{json.dumps(check_name(name), ensure_ascii=False)}]")
        for key, value in segments[name].to_dict().items():
            lines.append(f"{key} = {json.dumps(value, ensure_ascii=False)}")
        lines.append("")
    return "\n".join(lines)
