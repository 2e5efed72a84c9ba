"""``account_move`` and ``account_payment``: invoicing, from confirmed orders to cash.

The steps run in one fixed order because they share one random generator: reordering
them would change every row that follows, for the same seed.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa

from orchestration.sample.invoices import invoices
from orchestration.sample.moves import credit_notes, invoice_times, move_table, moves
from orchestration.sample.orders import Orders
from orchestration.sample.payments import payment_table, payments


def invoicing(rng: np.random.Generator, orders: Orders) -> tuple[pa.Table, pa.Table]:
    """Invoices for confirmed orders, a few credit notes, and the payments settling them."""
    billed = invoices(rng, orders)
    paid = payments(rng, billed)
    refunds = credit_notes(rng, billed)
    times = invoice_times(rng, billed, orders.date_order_s, paid, refunds)
    mv = moves(billed, refunds, times)
    partner = orders.partner_id[billed.source]
    moves_out = move_table(rng, mv, orders.ids[billed.source], partner)
    invoice_move_id = mv.ids[: len(billed.source)]
    return moves_out, payment_table(rng, paid, partner, invoice_move_id)
