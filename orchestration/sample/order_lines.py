"""``sale_order_line``: what each order sells, with amounts in integer cents.

Line amounts are computed here once; order totals are their sums, so an order always
equals the sum of its latest lines, to the cent.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from orchestration.sample.arrays import (
    IntArray,
    duplicate_rows,
    round_div,
    seconds_to_timestamps,
    stack,
)
from orchestration.sample.products import Products
from orchestration.sample.timeline import ANCHOR_END_S, LAST_CREATE_S, update_delay

_DISCOUNTS = np.array([0, 5, 10, 15, 20])
_DISCOUNT_PROBS = [0.80, 0.08, 0.06, 0.04, 0.02]


@dataclass(frozen=True)
class Amounts:
    """Untaxed, tax and total, in cents, one entry per line or per order."""

    untaxed: IntArray
    tax: IntArray
    total: IntArray

    def take(self, rows: IntArray) -> Amounts:
        return Amounts(self.untaxed[rows], self.tax[rows], self.total[rows])


@dataclass(frozen=True)
class Lines:
    """Every line's latest values; ``order`` indexes the orders, ``product`` the products."""

    order: IntArray
    starts: IntArray
    product: IntArray
    quantity: IntArray
    price: IntArray
    discount: IntArray
    tax_bp: IntArray
    amounts: Amounts
    created: IntArray
    written: IntArray
    name: pa.Array

    def order_amounts(self) -> Amounts:
        """Per order: the sum of its lines (orders own contiguous runs of lines)."""
        untaxed = np.add.reduceat(self.amounts.untaxed, self.starts)
        tax = np.add.reduceat(self.amounts.tax, self.starts)
        return Amounts(untaxed, tax, untaxed + tax)


def line_amounts(
    quantity: IntArray, price: IntArray, discount: IntArray, tax_bp: IntArray
) -> Amounts:
    subtotal = round_div(quantity * price * (100 - discount), 100)
    tax = round_div(subtotal * tax_bp, 10_000)
    return Amounts(subtotal, tax, subtotal + tax)


def _lines_per_order(rng: np.random.Generator, n_orders: int, n_lines: int) -> IntArray:
    """Every order has at least one line; the rest land on random orders."""
    extra = np.bincount(rng.integers(0, n_orders, n_lines - n_orders), minlength=n_orders)
    return (1 + extra).astype(np.int64)


def _quantities(rng: np.random.Generator, n: int) -> IntArray:
    """Mostly 1 to 10 units; one line in ten is a bulk order of 11 to 100."""
    bulk = rng.random(n) < 0.10
    return np.where(bulk, rng.integers(11, 101, n), rng.integers(1, 11, n)).astype(np.int64)


def lines(
    rng: np.random.Generator, order_created: IntArray, n_lines: int, products: Products
) -> Lines:
    per_order = _lines_per_order(rng, len(order_created), n_lines)
    order = np.repeat(np.arange(len(order_created)), per_order)
    product = rng.choice(len(products.list_price_cents), n_lines, p=products.popularity)
    quantity = _quantities(rng, n_lines)
    discount = _DISCOUNTS[rng.choice(len(_DISCOUNTS), n_lines, p=_DISCOUNT_PROBS)]
    price = products.list_price_cents[product]
    tax_bp = products.tax_rate_bp[product]
    created = np.minimum(order_created[order] + rng.integers(0, 600, n_lines), LAST_CREATE_S)
    written = np.minimum(created + update_delay(rng, n_lines, 60, 3_600), ANCHOR_END_S)
    return Lines(
        order=order,
        starts=np.concatenate([[0], per_order.cumsum()[:-1]]),
        product=product,
        quantity=quantity,
        price=price,
        discount=discount,
        tax_bp=tax_bp,
        amounts=line_amounts(quantity, price, discount, tax_bp),
        created=created,
        written=written,
        name=pc.take(products.label, pa.array(product)),
    )


def _line_table(
    lines: Lines,
    order_ids: IntArray,
    rows: IntArray,
    quantity: IntArray,
    amounts: Amounts,
    written_at: IntArray,
) -> pa.Table:
    return pa.table(
        {
            "id": pa.array(rows + 1),
            "order_id": pa.array(order_ids[lines.order[rows]]),
            "product_id": pa.array(lines.product[rows] + 1),
            "name": lines.name.take(pa.array(rows)),
            "product_uom_qty": pa.array(quantity),
            "price_unit_cents": pa.array(lines.price[rows]),
            "discount": pa.array(lines.discount[rows]),
            "price_subtotal_cents": pa.array(amounts.untaxed),
            "price_tax_cents": pa.array(amounts.tax),
            "price_total_cents": pa.array(amounts.total),
            "create_date": seconds_to_timestamps(lines.created[rows]),
            "write_date": seconds_to_timestamps(written_at),
        }
    )


def line_table(rng: np.random.Generator, lines: Lines, order_ids: IntArray) -> pa.Table:
    every = np.arange(len(lines.order), dtype=np.int64)
    final = _line_table(lines, order_ids, every, lines.quantity, lines.amounts, lines.written)
    # A stale copy from before the customer lowered the quantity by one.
    stale = duplicate_rows(rng, np.ones(len(every), dtype=np.bool_))
    stale_qty = lines.quantity[stale] + 1
    stale_amounts = line_amounts(
        stale_qty, lines.price[stale], lines.discount[stale], lines.tax_bp[stale]
    )
    stale_table = _line_table(
        lines, order_ids, stale, stale_qty, stale_amounts, lines.created[stale]
    )
    return stack(final, stale_table)
