"""Each member's latest scores with their previous RFM segment and the date it last changed
(Klaviyo's fields), from the score history ``memberlens score`` keeps (``member_scores``)."""

from __future__ import annotations

import ibis
import ibis.expr.types as ir


def score_history(scores: ir.Table) -> ir.Table:
    """Per member, the latest scores with ``previous_segment`` (the RFM segment before the last
    change) and ``segment_since`` (the date of the last change: the first date of the current
    run of equal segments). Computed in the engine."""
    by_member = ibis.window(group_by=scores.customer_id, order_by=scores.as_of)
    marked = scores.mutate(_before=scores.rfm_segment.lag().over(by_member))
    marked = marked.mutate(_changed=marked._before.isnull() | (marked._before != marked.rfm_segment))
    per = marked.group_by("customer_id").aggregate(
        _latest=marked.as_of.max(),
        segment_since=marked.as_of.max(where=marked._changed),
    )
    changes = marked.filter(marked._changed).select("customer_id", _at=marked.as_of, previous_segment=marked._before)
    latest = marked.join(per, (marked.customer_id == per.customer_id) & (marked.as_of == per._latest))
    latest = latest.select(*[marked[c] for c in scores.columns], per.segment_since)
    joined = latest.left_join(
        changes, (latest.customer_id == changes.customer_id) & (latest.segment_since == changes._at)
    )
    return joined.select(*[latest[c] for c in latest.columns], changes.previous_segment).order_by("customer_id")
