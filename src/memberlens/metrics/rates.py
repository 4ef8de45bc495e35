"""Repurchase, return and reactivation rates per period (product.md B).

* repurchase rate (复购率): share of the period's buyers with more than one order in it;
* return rate (回购率): share of the previous period's buyers who buy again this period;
* reactivation rate: share of known customers who did not buy in the previous period (but
  bought before it) and buy this period — the other way to read "return" (回流).

A rate whose denominator is zero is null, not zero.
"""

from __future__ import annotations

import ibis
import ibis.expr.types as ir

from memberlens.metrics._activity import customer_periods
from memberlens.metrics._arith import ratio
from memberlens.metrics._periods import Period, check_period, period_spine, period_start


def compute_repurchase_rates(orders: ir.Table, period: Period = "month") -> ir.Table:
    period = check_period(period)
    activity = customer_periods(orders, period)
    flags = activity.mutate(
        repeat=activity.orders > 1,
        came_back=(activity.previous_period == activity.period - 1).fill_null(False),
        reactivated=(activity.previous_period < activity.period - 1).fill_null(False),
        is_new=activity.period == activity.first_period,
    )
    counts = flags.group_by("period").aggregate(
        buyers=flags.count(),
        repeat_buyers=flags.repeat.sum(),
        returning_buyers=flags.came_back.sum(),
        reactivated_buyers=flags.reactivated.sum(),
        new=flags.is_new.sum(),
    )
    spine = period_spine(counts)
    t = spine.left_join(counts, spine.period == counts.period).select(
        spine.period,
        *(
            counts[c].fill_null(0).name(c)
            for c in ("buyers", "repeat_buyers", "returning_buyers", "reactivated_buyers", "new")
        ),
    )
    ordered = ibis.window(order_by=t.period)
    running = ibis.cumulative_window(order_by=t.period)
    t = t.mutate(
        previous_buyers=t.buyers.lag().over(ordered).fill_null(0),
        known_before_previous=(t.new.sum().over(running) - t.new - t.new.lag().over(ordered).fill_null(0)),
    )
    # known customers who did not buy in the previous period: first bought before it, minus
    # those of them who did buy in it (previous buyers who were not new then).
    previous_new = t.new.lag().over(ordered).fill_null(0)
    t = t.mutate(lapsed=t.known_before_previous - (t.previous_buyers - previous_new))
    return t.select(
        period_start=period_start(t.period, period),
        buyers=t.buyers,
        repeat_buyers=t.repeat_buyers,
        repurchase_rate=ratio(t.repeat_buyers, t.buyers),
        previous_buyers=t.previous_buyers,
        returning_buyers=t.returning_buyers,
        return_rate=ratio(t.returning_buyers, t.previous_buyers),
        lapsed_customers=t.lapsed,
        reactivated_buyers=t.reactivated_buyers,
        reactivation_rate=ratio(t.reactivated_buyers, t.lapsed),
    ).order_by("period_start")
