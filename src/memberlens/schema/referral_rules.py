"""Which referrals count: the rules of the data contract for the ``referrals`` table, the same at
ingest (per source, :mod:`memberlens.schema.cleaning`) and in every analysis (over all sources
together, :mod:`memberlens.referrals.graph`):

``self_referral``
    a member who refers themselves (``referrer_id = referred_id``) is no referral;
``already_referred``
    a member is brought in once: the earliest referral counts (ties: the smaller referrer id,
    then the earlier row), later ones would credit a second referrer for the same member;
``closes_cycle``
    a referral that would make a member their own (indirect) referrer — A refers B, B later
    refers A; or A → B → C → A — is possible only when the dates contradict each other. The
    latest referral of the loop (by ``referred_at``, then referrer id, then referred id) is the
    one that closed it and does not count; the rest of the loop stays.

After them every member has at most one referrer and no member is their own ancestor: the
network is a forest, and "the cascade below a member" is well defined.
"""

from __future__ import annotations

import ibis
import ibis.expr.types as ir

INCOMPLETE = "incomplete"
SELF_REFERRAL = "self_referral"
ALREADY_REFERRED = "already_referred"
CLOSES_CYCLE = "closes_cycle"
#: the reasons a referral does not count, in the order they are applied
IGNORED_REASONS = (INCOMPLETE, SELF_REFERRAL, ALREADY_REFERRED, CLOSES_CYCLE)


def first_referral_rank(table: ir.Table, *, counted: ir.BooleanValue | None = None) -> ir.IntegerValue:
    """0 for the referral of each member that counts (the earliest), 1, 2... for later ones;
    ``counted`` restricts the race to rows still in it."""
    order = [table.referred_at, table.referrer_id]
    order += [table[c] for c in ("_source", "_row") if c in table.columns]
    group = [table.referred_id] if counted is None else [table.referred_id, counted]
    return ibis.row_number().over(group_by=group, order_by=order)
