"""The demo's referral program: who brought whom, drawn after the members and their orders.

The program is drawn from its own random stream (``SeedSequence(seed, spawn_key=(3,))``),
chunk by chunk in member order, from what the other tables already hold — registration times
and what each member bought — so adding it changed no byte of the other tables.

*Who is referred.* A buyer is referred with probability ``5 % + 20 % x`` their spend
percentile among the chunk's buyers (the program brings in better customers than average: it
selects them; there is no causal effect on their purchases), a never-buyer with 7 % (signed up
through a link and never bought: the program's conversion is below 100 %).

*Who refers.* Most members refer nobody. A member becomes an advocate with probability 4 %
(buyers: times ``0.5 + percentile``; never-buyers 1 %), four times more often when they were
referred themselves — which makes chains several generations deep. An advocate's pull is
heavy-tailed (Pareto, shape 1.5, at most 50 times the least): a few refer dozens. While
the program has fewer than 50 advocates, members are referred less often in proportion. They refer for a while after signing up
(exponential, mean 300 days).

*The referral.* Each referred member picks an advocate who registered before them and is still
active, in proportion to pull; if none fits after a few draws they count as organic.
``referred_at`` is their registration; the channel is a link (50 %), a code (30 %) or a social
share (20 %); the reward is 2.00 at sign-up plus 10.00 (15.00 for codes) when the referred
member buys.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from memberlens.demo import _tables as T

CHANNELS = ("link", "code", "social")
_CHANNEL_SHARES = np.array([0.5, 0.3, 0.2])
_FIRST_PURCHASE_REWARD_CENTS = np.array([1000, 1500, 1000])
_SIGN_UP_REWARD_CENTS = 200
_ACTIVE_DAYS = 300.0
_DRAWS = 6
_FULL_POOL = 50  # with fewer advocates than this, fewer members are referred
DAY_S = 86_400


class ReferralProgram:
    """Draws each chunk's referrals; keeps the advocates of earlier chunks (bounded: only those
    still active)."""

    def __init__(self, seed: int, id_width: int) -> None:
        self.rng = np.random.default_rng(np.random.SeedSequence(seed, spawn_key=(3,)))
        self.id_width = id_width
        self.index = np.empty(0, dtype=np.int64)
        self.registered = np.empty(0, dtype=np.int64)
        self.until = np.empty(0, dtype=np.int64)
        self.pull = np.empty(0, dtype=np.float64)

    def draw(self, tables: dict[str, pa.Table]) -> pa.Table:
        """The referrals whose referred member is in this chunk (``tables``: its members and orders)."""
        rng = self.rng
        members = tables["members"]
        index = np.array([int(i[1:]) - 1 for i in members["customer_id"].to_pylist()], dtype=np.int64)
        registered = pc.fill_null(pc.cast(members["registered_at"], pa.int64()), -1).to_numpy(zero_copy_only=False)
        spend = _spend(tables["orders"], members["customer_id"])
        order = np.argsort(index, kind="stable")
        index, registered, spend = index[order], registered[order], spend[order]
        n = index.size

        bought = spend > 0
        percentile = np.zeros(n)
        if bought.any():
            ranks = spend[bought].argsort(kind="stable").argsort(kind="stable")
            percentile[bought] = (ranks + 1) / bought.sum()
        referred = (rng.random(n) < np.where(bought, 0.05 + 0.20 * percentile, 0.07)) & (registered >= 0)
        advocacy = np.where(bought, 0.04 * (0.5 + percentile), 0.01) * np.where(referred, 4.0, 1.0)
        advocate = rng.random(n) < advocacy
        pull = np.minimum((1.0 - rng.random(n)) ** (-1.0 / 1.5), 50.0)
        active = (rng.exponential(_ACTIVE_DAYS, n) * DAY_S).astype(np.int64)

        pool_index = np.concatenate([self.index, index[advocate]])
        pool_registered = np.concatenate([self.registered, registered[advocate]])
        pool_until = np.concatenate([self.until, registered[advocate] + active[advocate]])
        pool_pull = np.concatenate([self.pull, pull[advocate]])
        cumulative = np.cumsum(pool_pull)

        who = np.flatnonzero(referred)
        eligible = np.searchsorted(pool_index, index[who])  # advocates who joined before them
        eligible[rng.random(who.size) >= eligible / _FULL_POOL] = 0  # the program grows with its advocates
        referrer = np.full(who.size, -1, dtype=np.int64)
        for _ in range(_DRAWS):
            open_ = (referrer < 0) & (eligible > 0)
            if not open_.any():
                break
            total = cumulative[np.maximum(eligible - 1, 0)]
            pick = np.searchsorted(cumulative, rng.random(who.size) * total, side="right")
            pick = np.minimum(pick, np.maximum(eligible - 1, 0))
            fits = open_ & (pool_registered[pick] < registered[who]) & (registered[who] <= pool_until[pick])
            referrer[fits] = pick[fits]
        made = referrer >= 0
        who, referrer = who[made], referrer[made]

        channel = rng.choice(len(CHANNELS), size=who.size, p=_CHANNEL_SHARES)
        reward = _SIGN_UP_REWARD_CENTS + np.where(bought[who], _FIRST_PURCHASE_REWARD_CENTS[channel], 0)
        self._keep(pool_index, pool_registered, pool_until, pool_pull, registered[registered >= 0].min(initial=0))
        start = np.datetime64("1970-01-01T00:00:00", "s")
        return T.make_table(
            "referrals",
            {
                "referrer_id": T.customer_ids(pool_index[referrer], self.id_width),
                "referred_id": T.customer_ids(index[who], self.id_width),
                "referred_at": T.timestamps(start, registered[who]),
                "channel": T.labels(CHANNELS, channel),
                "reward_cost": T.money(reward),
            },
        )

    def _keep(
        self, index: np.ndarray, registered: np.ndarray, until: np.ndarray, pull: np.ndarray, earliest: int
    ) -> None:
        """Advocates who may still refer someone of a later chunk (members register up to a year
        before joining, so a year of slack)."""
        keep = until >= earliest - 365 * DAY_S
        self.index, self.registered, self.until, self.pull = index[keep], registered[keep], until[keep], pull[keep]


def _spend(orders: pa.Table, ids: pa.ChunkedArray) -> np.ndarray:
    """Each member's spend on lines that are not cancellations, in the order of ``ids``."""
    mine = orders.filter(pc.and_(pc.is_valid(orders["customer_id"]), pc.invert(orders["is_cancellation"])))
    amount = pc.multiply(pc.cast(mine["quantity"], pa.float64()), mine["unit_price"])
    totals = (
        pa.table({"customer_id": mine["customer_id"], "amount": amount})
        .group_by("customer_id")
        .aggregate([("amount", "sum")])
    )
    position = pc.index_in(ids, value_set=totals["customer_id"])
    values = totals["amount_sum"].to_numpy()
    found = position.is_valid().to_numpy(zero_copy_only=False)
    spend = np.zeros(len(ids))
    spend[found] = values[position.to_numpy(zero_copy_only=False)[found].astype(np.int64)]
    return spend
