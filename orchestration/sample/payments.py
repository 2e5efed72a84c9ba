"""``account_payment``: the payments that settle invoices, numbered when posted.

A partially paid invoice gets one payment, a paid one one or two; a few registered
payments are never posted and must not count toward anything.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pyarrow as pa

from orchestration.sample.arrays import (
    BoolArray,
    IntArray,
    StrArray,
    days_to_dates,
    duplicate_rows,
    seconds_to_timestamps,
    stack,
    strings,
)
from orchestration.sample.invoices import Invoices
from orchestration.sample.timeline import (
    ANCHOR_DAY,
    ANCHOR_END_S,
    DAY,
    LAST_CREATE_S,
    late_delay,
    office_hours,
    update_delay,
)


@dataclass(frozen=True)
class Payments:
    """One entry per payment; ``invoice`` indexes the invoices they settle."""

    invoice: IntArray
    amount: IntArray
    day: IntArray
    state: StrArray
    created: IntArray
    written: IntArray

    @property
    def posted(self) -> BoolArray:
        posted: BoolArray = self.state == "posted"
        return posted


def _times(rng: np.random.Generator, day: IntArray) -> tuple[IntArray, IntArray]:
    p = len(day)
    late = late_delay(rng, p)
    created = np.minimum(day * DAY + office_hours(rng, p) + late, LAST_CREATE_S)
    written = np.minimum(created + update_delay(rng, p, 60, 3_600), ANCHOR_END_S)
    return created, written


def payments(rng: np.random.Generator, invoices: Invoices) -> Payments:
    s, total, m = invoices.settlement, invoices.amounts.total, len(invoices.source)
    split = s.paid & (rng.random(m) < 0.2)
    first_amount = np.where(
        split, np.rint(total * rng.uniform(0.3, 0.7, m)).astype(np.int64), s.settled
    )
    first_day = np.minimum(invoices.day + rng.integers(0, 61, m), ANCHOR_DAY)
    second_day = np.minimum(first_day + rng.integers(1, 21, m), ANCHOR_DAY)
    unposted = invoices.posted & (s.payment_state == "not_paid") & (rng.random(m) < 0.05)
    unposted_day = np.minimum(invoices.day + rng.integers(0, 31, m), ANCHOR_DAY)
    first, second, drafts = (np.flatnonzero(x) for x in (s.paid | s.partial, split, unposted))
    day = np.concatenate([first_day[first], second_day[second], unposted_day[drafts]])
    created, written = _times(rng, day)
    return Payments(
        invoice=np.concatenate([first, second, drafts]),
        amount=np.concatenate([first_amount[first], (total - first_amount)[second], total[drafts]]),
        day=day,
        state=np.concatenate(
            [np.full(len(first) + len(second), "posted"), np.full(len(drafts), "draft")]
        ),
        created=created,
        written=written,
    )


@dataclass(frozen=True)
class _Columns:
    """Every payment's identity and links, in the order of :class:`Payments`."""

    payments: Payments
    ids: IntArray
    partner_id: IntArray
    move_id: IntArray

    def table(
        self, rows: IntArray, states: StrArray, seq: IntArray, written_at: IntArray
    ) -> pa.Table:
        return pa.table(
            {
                "id": pa.array(self.ids[rows]),
                "sequence": pa.array(seq),
                "partner_id": pa.array(self.partner_id[rows]),
                "move_id": pa.array(self.move_id[rows]),
                "amount_cents": pa.array(self.payments.amount[rows]),
                "date": days_to_dates(self.payments.day[rows]),
                "state": strings(states),
                "create_date": seconds_to_timestamps(self.payments.created[rows]),
                "write_date": seconds_to_timestamps(written_at),
            }
        )


def _numbering(payments: Payments) -> tuple[IntArray, IntArray]:
    """Ids follow creation order; only posted payments take a number in the sequence."""
    p = len(payments.invoice)
    by_creation = np.lexsort((payments.invoice, payments.created))
    ids = np.empty(p, dtype=np.int64)
    ids[by_creation] = np.arange(1, p + 1)
    sequence = np.zeros(p, dtype=np.int64)
    posted_in_order = by_creation[payments.posted[by_creation]]
    sequence[posted_in_order] = np.arange(1, len(posted_in_order) + 1)
    return ids, sequence


def payment_table(
    rng: np.random.Generator,
    payments: Payments,
    invoice_partner: IntArray,
    invoice_move_id: IntArray,
) -> pa.Table:
    ids, sequence = _numbering(payments)
    columns = _Columns(
        payments, ids, invoice_partner[payments.invoice], invoice_move_id[payments.invoice]
    )
    every = np.arange(len(ids), dtype=np.int64)
    final = columns.table(every, payments.state, sequence, payments.written)
    # Stale copies of posted payments: the unnumbered draft they were before posting.
    stale = duplicate_rows(rng, payments.posted)
    stale_table = columns.table(
        stale,
        np.full(len(stale), "draft"),
        np.zeros(len(stale), dtype=np.int64),
        payments.created[stale],
    )
    return stack(final, stale_table)
