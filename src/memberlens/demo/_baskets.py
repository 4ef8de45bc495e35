"""From order values to order lines: baskets, bulk "super orders", coupons and cancellations."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from memberlens.demo._catalogue import Catalogue
from memberlens.demo._story import DAY, rank_within

_MAX_LINES = 60
_LINES_SCALE = 0.9  # 1 + Poisson(0.9 * (value / 15) ** 0.75) lines: ~4 for a 64 order
_PRODUCT_REDRAWS = 4
_COMPANION_SHARE = 0.5  # a line of a product with a companion brings the companion along this often
_SUPER_QUANTITY = (10_000, 90_000)
_COUPON_PERCENTS = np.array([10, 15, 20])
_COUPON_FIXED_CENTS = np.array([500, 1000])


@dataclass
class Lines:
    """Order lines, grouped by order (``order`` is non-decreasing).

    Attributes
    ----------
    order
        Position of the line's order in the chunk's order arrays.
    product
        Catalogue index of the product.
    quantity
        Units (positive integers).
    price
        Unit price.
    """

    order: np.ndarray
    product: np.ndarray
    quantity: np.ndarray
    price: np.ndarray

    def gross_cents(self) -> np.ndarray:
        """Line value ``quantity * price`` in whole cents."""
        return np.rint(self.quantity * self.price * 100).astype(np.int64)

    def subset(self, mask: np.ndarray) -> Lines:
        """The lines where ``mask`` is true."""
        return Lines(self.order[mask], self.product[mask], self.quantity[mask], self.price[mask])


def _pick_affordable_products(rng: np.random.Generator, target: np.ndarray, catalogue: Catalogue) -> np.ndarray:
    """Popular products whose price does not overshoot the line's target value too much.

    Products are drawn by popularity and redrawn a few times where the price exceeds 1.25 times
    the target; remaining lines take a uniformly chosen product priced at most the target (or
    the cheapest product).
    """
    product = catalogue.draw(rng, target.size)
    for _ in range(_PRODUCT_REDRAWS):
        bad = np.flatnonzero(catalogue.price[product] > 1.25 * target)
        if bad.size == 0:
            return product
        product[bad] = catalogue.draw(rng, bad.size)
    bad = np.flatnonzero(catalogue.price[product] > 1.25 * target)
    by_price = np.argsort(catalogue.price, kind="stable")
    n_affordable = np.searchsorted(catalogue.price[by_price], target[bad], side="right")
    pick = (rng.random(bad.size) * np.maximum(n_affordable, 1)).astype(np.int64)
    product[bad] = by_price[pick]
    return product


def _round_to_packs(rng: np.random.Generator, quantity: np.ndarray) -> np.ndarray:
    """Round most quantities of a dozen or more to packs of six, as wholesale buyers order."""
    packed = (quantity >= 12) & (rng.random(quantity.size) < 0.6)
    return np.where(packed, np.maximum(6, np.rint(quantity / 6).astype(np.int64) * 6), quantity)


def build_lines(rng: np.random.Generator, order_value: np.ndarray, catalogue: Catalogue) -> Lines:
    """Realise each order's value as 1..k lines of catalogue products with integer quantities.

    Larger orders get more lines. The value is split over the lines with random weights; each
    line picks an affordable popular product and the quantity that comes closest to its share,
    so an order's realised value approximates ``order_value``.
    """
    n_lines = 1 + rng.poisson(_LINES_SCALE * (order_value / 15.0) ** 0.75)
    n_lines = np.minimum(n_lines, _MAX_LINES)
    order = np.repeat(np.arange(order_value.size), n_lines)
    weight = rng.gamma(1.2, size=order.size)
    weight /= np.bincount(order, weight, minlength=order_value.size)[order]
    target = order_value[order] * weight
    product = _pick_affordable_products(rng, target, catalogue)
    price = catalogue.price[product]
    quantity = _round_to_packs(rng, np.maximum(1, np.rint(target / price)).astype(np.int64))
    return _add_companions(rng, Lines(order, product, quantity, price), catalogue)


def _add_companions(rng: np.random.Generator, lines: Lines, catalogue: Catalogue) -> Lines:
    """Some lines of a product with a companion bring a line of the companion, in the same
    quantity (a matching set), unless the order already has it: the baskets' association rules."""
    companion = catalogue.companion[lines.product]
    chosen = np.flatnonzero((companion >= 0) & (rng.random(lines.order.size) < _COMPANION_SHARE))
    if chosen.size == 0:
        return lines
    present = set(zip(lines.order.tolist(), lines.product.tolist()))
    chosen = np.array([i for i in chosen if (int(lines.order[i]), int(companion[i])) not in present], dtype=np.int64)
    if chosen.size == 0:
        return lines
    extra = companion[chosen]
    order = np.concatenate([lines.order, lines.order[chosen]])
    keep = np.argsort(order, kind="stable")  # lines stay grouped by order, companions after
    return Lines(
        order[keep],
        np.concatenate([lines.product, extra])[keep],
        np.concatenate([lines.quantity, lines.quantity[chosen]])[keep],
        np.concatenate([lines.price, catalogue.price[extra]])[keep],
    )


def make_super_orders(
    rng: np.random.Generator,
    lines: Lines,
    super_order: np.ndarray,
    catalogue: Catalogue,
) -> Lines:
    """Turn the orders ``super_order`` (positions) into one bulk line of a cheap product.

    Mirrors the UCI Online Retail data's 80,995-unit order: tens of thousands of units of one
    cheap item.
    """
    is_super = np.zeros(int(lines.order.max(initial=-1)) + 1, dtype=bool)
    is_super[super_order] = True
    first = rank_within(lines.order) == 0
    lines = lines.subset(~is_super[lines.order] | first)
    rows = np.flatnonzero(is_super[lines.order])
    low, high = _SUPER_QUANTITY
    lines.product[rows] = catalogue.cheap[rng.integers(0, catalogue.cheap.size, rows.size)]
    lines.price[rows] = catalogue.price[lines.product[rows]]
    log_quantity = rng.uniform(np.log(low), np.log(high), rows.size)
    lines.quantity[rows] = np.exp(log_quantity).astype(np.int64)
    return lines


def draw_coupon_cents(rng: np.random.Generator, gross_cents: np.ndarray) -> np.ndarray:
    """A coupon for an order of ``gross_cents``: 10/15/20 % off, or 5 or 10 off larger orders.

    Coupons never exceed half of the order and are at least one cent.
    """
    n = gross_cents.size
    percent = _COUPON_PERCENTS[rng.integers(0, _COUPON_PERCENTS.size, n)]
    fixed = _COUPON_FIXED_CENTS[rng.integers(0, _COUPON_FIXED_CENTS.size, n)]
    use_fixed = (rng.random(n) < 0.4) & (gross_cents >= 4 * fixed)
    cents = np.where(use_fixed, fixed, np.rint(gross_cents * percent / 100).astype(np.int64))
    return np.clip(cents, 1, np.maximum(1, gross_cents // 2))


def allocate_to_lines(order_cents: np.ndarray, line_order: np.ndarray, line_gross_cents: np.ndarray) -> np.ndarray:
    """Split each order's amount over its lines in proportion to line value, to the cent.

    Largest-remainder rounding: the line amounts of an order add up exactly to its amount.
    """
    n_orders = order_cents.size
    total = np.bincount(line_order, line_gross_cents, minlength=n_orders)
    share = order_cents[line_order] * line_gross_cents / np.maximum(total[line_order], 1)
    base = np.floor(share).astype(np.int64)
    left = order_cents - np.bincount(line_order, base, minlength=n_orders).astype(np.int64)
    by_fraction = np.lexsort((-(share - base), line_order))
    position = np.empty_like(by_fraction)
    position[by_fraction] = rank_within(line_order[by_fraction])
    return base + (position < left[line_order])


@dataclass(frozen=True)
class Cancellations:
    """Cancelled copies of some lines.

    Attributes
    ----------
    line
        Index of the original line in the chunk's lines.
    quantity
        Cancelled units, as a positive number (written negated).
    seconds
        Time of the cancellation, after the original order.
    """

    line: np.ndarray
    quantity: np.ndarray
    seconds: np.ndarray


def draw_cancellations(
    rng: np.random.Generator,
    lines: Lines,
    order_seconds: np.ndarray,
    end_seconds: int,
    order_share: float,
    line_share: float,
) -> Cancellations:
    """Cancel some lines of a share of the orders, some time (30 min .. days) after the order.

    All cancelled lines of one order share one cancellation time. A cancellation that would
    fall after the end of the period is left out.
    """
    n_orders = order_seconds.size
    chosen = rng.random(n_orders) < order_share
    delay = 1800 + rng.exponential(1.5 * DAY, n_orders).astype(np.int64)
    cancel_s = np.minimum(order_seconds + delay, end_seconds - 1)
    chosen &= cancel_s > order_seconds
    picked = chosen[lines.order] & ((rng.random(lines.order.size) < line_share) | (rank_within(lines.order) == 0))
    line = np.flatnonzero(picked)
    full = rng.random(line.size) < 0.8
    partial = 1 + (rng.random(line.size) * lines.quantity[line]).astype(np.int64)
    quantity = np.where(full, lines.quantity[line], np.minimum(partial, lines.quantity[line]))
    return Cancellations(line, quantity, cancel_s[lines.order[line]])
