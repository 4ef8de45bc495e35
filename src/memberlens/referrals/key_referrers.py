"""Key referrers: the members whose word of mouth is worth much more than their own purchases.

A member of the network is a key referrer when

* they referred at least one member who counts (see :mod:`memberlens.referrals.graph`),
* their ``referral_value`` — the value of everyone below them, each generation after the first
  counted ``decay`` times the one above — is at least ``key_ratio`` (2 by default) times their
  own revenue, and
* it is at least what an average buyer spends (so one small referral does not make a member
  "key" against tiny own spend).

They are ranked by referral value (ties by customer id), and each gets the reason in words, in
English or Chinese, from the numbers.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from memberlens import format as f
from memberlens.i18n import Messages
from memberlens.parameters import check_number
from memberlens.referrals.network import ReferralNetwork

KEY_RATIO = 2.0
COLUMNS = (
    "rank",
    "customer_id",
    "referred_by",
    "is_member",
    "own_revenue",
    "direct_referrals",
    "direct_buyers",
    "cascade_size",
    "cascade_buyers",
    "generations",
    "cascade_revenue",
    "referral_value",
    "value_ratio",
    "pagerank",
    "pagerank_rank",
    "reward_cost",
    "reason",
)


def select_key_referrers(network: ReferralNetwork, *, key_ratio: float = KEY_RATIO, lang: str = "en") -> pd.DataFrame:
    """The key referrers of ``network``, ranked, with the reason in ``lang`` (module docstring)."""
    check_number(key_ratio, "key_ratio", "select_key_referrers", low=0, hint="e.g. --key-ratio 2")
    m = network.members
    value, own = m.referral_value.to_numpy(), m.own_revenue.to_numpy()
    key = (
        (m.direct_referrals.to_numpy() >= 1)
        & (value > 0)
        & (value >= key_ratio * own)
        & (value >= network.average_buyer_revenue)
    )
    chosen = m[key].copy()
    chosen["value_ratio"] = np.where(
        chosen.own_revenue > 0, chosen.referral_value / chosen.own_revenue.where(chosen.own_revenue > 0), np.nan
    )
    chosen = chosen.sort_values(["referral_value", "customer_id"], ascending=[False, True], kind="stable")
    chosen.insert(0, "rank", np.arange(1, len(chosen) + 1, dtype=np.int64))
    t = Messages(lang)
    network_size = len(m)
    chosen["reason"] = [
        describe_key_referrer(row, t, network_size=network_size, decay=network.decay)
        for row in chosen.itertuples(index=False)
    ]
    return chosen.loc[:, list(COLUMNS)].reset_index(drop=True)


def describe_key_referrer(row, t: Messages, *, network_size: int, decay: float) -> str:
    """Why a member is a key referrer, in words, from the numbers of its row."""
    parts = [
        t(
            "referrals.reason_reach",
            direct=t.number(row.direct_referrals),
            cascade=t.number(row.cascade_size),
            generations=t.number(row.generations),
        ),
        t(
            "referrals.reason_value",
            revenue=f.num(row.cascade_revenue, 2),
            value=f.num(row.referral_value, 2),
            decay=f"{decay:g}",
        ),
    ]
    if row.own_revenue > 0:
        parts.append(
            t(
                "referrals.reason_ratio",
                ratio=f.num(row.referral_value / row.own_revenue, 1),
                own=f.num(row.own_revenue, 2),
            )
        )
    else:
        parts.append(t("referrals.reason_no_own"))
    parts.append(t("referrals.reason_pagerank", rank=t.number(row.pagerank_rank), size=t.number(network_size)))
    return t("referrals.reason_separator").join(parts)


__all__ = ["COLUMNS", "KEY_RATIO", "describe_key_referrer", "select_key_referrers"]
