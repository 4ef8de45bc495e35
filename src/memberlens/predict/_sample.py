"""A seeded sample of members (or baskets) that every engine draws alike, inside the engine.

A key (a customer id, an order id) is in the sample when the first eight hex digits of the MD5 of ``salt:key``
fall below ``fraction`` of the range: MD5 gives the same digits on DuckDB, Spark and every
other SQL engine (unlike each engine's own ``hash``), and equal-length lowercase hex strings
compare like the numbers they spell, so no engine-specific conversion is needed. The same
member is in or out at every cut-off, and the sample is a uniform draw of keys.
"""

from __future__ import annotations

import ibis.expr.types as ir

from memberlens.errors import ConfigError

DIGITS = 8


def sample_threshold(fraction: float) -> str:
    """The hex prefix below which a member is in a sample of ``fraction`` (0 < fraction <= 1)."""
    if not 0.0 < fraction <= 1.0:
        raise ConfigError(f"a sample fraction must be in (0, 1]. Got {fraction!r} instead.")
    return format(min(16**DIGITS - 1, round(fraction * 16**DIGITS)), f"0{DIGITS}x")


def in_seeded_sample(key: ir.Value, fraction: float, salt: str = "memberlens") -> ir.BooleanValue:
    """True for the keys in a seeded sample of about ``fraction`` of all keys."""
    text = (salt + ":") + key.cast("string")
    return text.hexdigest("md5").substr(0, DIGITS) < sample_threshold(fraction)


__all__ = ["in_seeded_sample", "sample_threshold"]
