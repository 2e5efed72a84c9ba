"""``sale_order`` and, through :mod:`order_lines`, ``sale_order_line``.

Orders are dated inside the sales window (weekdays busier, volume growing), placed by
customers with a long-tailed activity, and numbered in creation order as Odoo does.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pyarrow as pa

from orchestration.sample.arrays import (
    IntArray,
    StrArray,
    duplicate_rows,
    pick_per_row,
    seconds_to_timestamps,
    stack,
    strings,
)
from orchestration.sample.order_lines import Amounts, line_table, lines
from orchestration.sample.partners import Partners
from orchestration.sample.products import Products
from orchestration.sample.timeline import (
    ANCHOR_END_S,
    DAY,
    LAST_CREATE_S,
    WINDOW_DAYS,
    WINDOW_START,
    WINDOW_START_DAY,
    late_delay,
    office_hours,
    update_delay,
)

_ORDER_STATES = np.array(["draft", "sent", "sale", "done", "cancel"])
_ORDER_STATE_PROBS = np.array([0.06, 0.06, 0.50, 0.33, 0.05])
_RECENT_ORDER_STATE_PROBS = np.array([0.25, 0.25, 0.45, 0.00, 0.05])
# The state an order had before its latest update, indexed like _ORDER_STATES.
_PREVIOUS_ORDER_STATE = np.array(["draft", "draft", "sent", "sale", "draft"])


@dataclass(frozen=True)
class Orders:
    """Both tables, and what invoicing needs to know about each order (indexed id - 1)."""

    order_table: pa.Table
    line_table: pa.Table
    ids: IntArray
    partner_id: IntArray
    date_order_s: IntArray
    state: StrArray
    amounts: Amounts


@dataclass(frozen=True)
class _Headers:
    """Every order's latest values, in id order."""

    ids: IntArray
    partner_id: IntArray
    date_order: IntArray
    created: IntArray
    written: IntArray
    state_index: IntArray

    def table(
        self, rows: IntArray, states: StrArray, amounts: Amounts, written_at: IntArray
    ) -> pa.Table:
        return pa.table(
            {
                "id": pa.array(self.ids[rows]),
                "partner_id": pa.array(self.partner_id[rows]),
                "date_order": seconds_to_timestamps(self.date_order[rows]),
                "state": strings(states),
                "amount_untaxed_cents": pa.array(amounts.untaxed),
                "amount_tax_cents": pa.array(amounts.tax),
                "amount_total_cents": pa.array(amounts.total),
                "create_date": seconds_to_timestamps(self.created[rows]),
                "write_date": seconds_to_timestamps(written_at),
            }
        )


def _order_dates(rng: np.random.Generator, n: int) -> IntArray:
    """Business dates: weekdays are busier than weekends and volume grows over the window."""
    day_index = np.arange(WINDOW_DAYS)
    weekday = (day_index + WINDOW_START.weekday()) % 7
    weights = np.where(weekday < 5, 1.0, 0.25) * (1.0 + 0.5 * day_index / WINDOW_DAYS)
    day = WINDOW_START_DAY + rng.choice(WINDOW_DAYS, n, p=weights / weights.sum())
    return day.astype(np.int64) * DAY + office_hours(rng, n)


def _creation_times(rng: np.random.Generator, date_order: IntArray) -> IntArray:
    """The quotation is drafted before it is confirmed, except for late entries."""
    drafted = date_order - rng.integers(0, 2 * DAY, len(date_order))
    late = late_delay(rng, len(date_order))
    return np.minimum(np.where(late > 0, date_order + late, drafted), LAST_CREATE_S)


def _customers(rng: np.random.Generator, customer_ids: IntArray, n: int) -> IntArray:
    """A few customers order often, most rarely."""
    weights = rng.permutation(1.0 / np.arange(1, len(customer_ids) + 1) ** 0.9)
    picked: IntArray = customer_ids[rng.choice(len(customer_ids), n, p=weights / weights.sum())]
    return picked


def _states(rng: np.random.Generator, date_order: IntArray) -> IntArray:
    """Recent orders are more often still quotations and never done yet."""
    recent = (ANCHOR_END_S - date_order) < 14 * DAY
    probs = np.where(recent[:, None], _RECENT_ORDER_STATE_PROBS, _ORDER_STATE_PROBS)
    return pick_per_row(rng, probs)


def _headers(rng: np.random.Generator, n: int, customer_ids: IntArray) -> _Headers:
    date_order = _order_dates(rng, n)
    created = _creation_times(rng, date_order)
    partner_id = _customers(rng, customer_ids, n)
    state_index = _states(rng, date_order)
    # Odoo ids follow creation order.
    by_creation = np.lexsort((date_order, created))
    date_order, created = date_order[by_creation], created[by_creation]
    written = np.minimum(
        np.maximum(created, date_order) + update_delay(rng, n, 60, 3 * DAY), ANCHOR_END_S
    )
    return _Headers(
        ids=np.arange(1, n + 1, dtype=np.int64),
        partner_id=partner_id[by_creation],
        date_order=date_order,
        created=created,
        written=written,
        state_index=state_index[by_creation],
    )


def _order_table(rng: np.random.Generator, headers: _Headers, amounts: Amounts) -> pa.Table:
    state = _ORDER_STATES[headers.state_index]
    every = np.arange(len(headers.ids), dtype=np.int64)
    final = headers.table(every, state, amounts, headers.written)
    # A stale copy from before the order's latest state change.
    stale = duplicate_rows(rng, state != "draft")
    previous = _PREVIOUS_ORDER_STATE[headers.state_index[stale]]
    stale_table = headers.table(stale, previous, amounts.take(stale), headers.created[stale])
    return stack(final, stale_table)


def orders(
    rng: np.random.Generator, n_orders: int, n_lines: int, partners: Partners, products: Products
) -> Orders:
    headers = _headers(rng, n_orders, partners.customer_ids)
    order_lines = lines(rng, headers.created, n_lines, products)
    amounts = order_lines.order_amounts()
    order_table = _order_table(rng, headers, amounts)
    return Orders(
        order_table=order_table,
        line_table=line_table(rng, order_lines, headers.ids),
        ids=headers.ids,
        partner_id=headers.partner_id,
        date_order_s=headers.date_order,
        state=_ORDER_STATES[headers.state_index],
        amounts=amounts,
    )
