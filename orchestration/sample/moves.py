"""``account_move``: customer invoices and the credit notes that reverse some of them.

Both kinds share one id sequence in creation order, as in Odoo; each kind numbers its
non-draft moves in its own sequence (INV/… and RINV/…, named in the DuckDB load).
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
from orchestration.sample.payments import Payments
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
class CreditNotes:
    """One per reversed invoice; ``invoice`` indexes the invoices they reverse."""

    invoice: IntArray
    day: IntArray
    created: IntArray


def credit_notes(rng: np.random.Generator, invoices: Invoices) -> CreditNotes:
    """Credit notes fully reverse an unpaid invoice shortly after it was issued."""
    rows = np.flatnonzero(invoices.settlement.reversed_)
    day = np.minimum(invoices.day[rows] + rng.integers(1, 21, len(rows)), ANCHOR_DAY)
    created = np.minimum(day * DAY + office_hours(rng, len(rows)), LAST_CREATE_S)
    return CreditNotes(rows, day, created)


@dataclass(frozen=True)
class InvoiceTimes:
    created: IntArray
    written: IntArray
    refund_written: IntArray


def invoice_times(
    rng: np.random.Generator,
    invoices: Invoices,
    date_order_s: IntArray,
    payments: Payments,
    refunds: CreditNotes,
) -> InvoiceTimes:
    """An invoice is last written when its last payment or credit note reconciled it."""
    m, r = len(invoices.source), len(refunds.invoice)
    drafted_at = date_order_s[invoices.source] + rng.integers(0, 5 * DAY, m)
    issued_at = invoices.day * DAY + office_hours(rng, m) + late_delay(rng, m)
    created = np.minimum(np.where(invoices.date_missing, drafted_at, issued_at), LAST_CREATE_S)
    last_event = created.copy()
    posted = payments.posted
    np.maximum.at(last_event, payments.invoice[posted], payments.created[posted])
    last_event[refunds.invoice] = np.maximum(last_event[refunds.invoice], refunds.created)
    written = np.minimum(last_event + update_delay(rng, m, 60, 3_600), ANCHOR_END_S)
    refund_written = np.minimum(refunds.created + update_delay(rng, r, 60, 3_600), ANCHOR_END_S)
    return InvoiceTimes(created, written, refund_written)


@dataclass(frozen=True)
class Moves:
    """Invoices then credit notes, one entry per move, with their final values."""

    kind: IntArray  # 0 invoice, 1 credit note
    origin: IntArray  # the invoice each move is, or reverses
    ids: IntArray
    sequence: IntArray
    state: StrArray
    payment_state: StrArray
    day: IntArray
    date_missing: BoolArray
    due_day: IntArray
    due_missing: BoolArray
    untaxed: IntArray
    tax: IntArray
    total: IntArray
    residual: IntArray
    created: IntArray
    written: IntArray


def _numbering(
    kind: IntArray, origin: IntArray, created: IntArray, numbered: BoolArray
) -> tuple[IntArray, IntArray]:
    by_creation = np.lexsort((origin, kind, created))
    ids = np.empty(len(kind), dtype=np.int64)
    ids[by_creation] = np.arange(1, len(kind) + 1)
    sequence = np.zeros(len(kind), dtype=np.int64)
    for k in (0, 1):
        rows = by_creation[(kind[by_creation] == k) & numbered[by_creation]]
        sequence[rows] = np.arange(1, len(rows) + 1)
    return ids, sequence


def moves(invoices: Invoices, refunds: CreditNotes, times: InvoiceTimes) -> Moves:
    m, r, a = len(invoices.source), len(refunds.invoice), invoices.amounts
    kind = np.concatenate([np.zeros(m, dtype=np.int64), np.ones(r, dtype=np.int64)])
    origin = np.concatenate([np.arange(m), refunds.invoice])
    created = np.concatenate([times.created, refunds.created])
    state = np.concatenate([invoices.state, np.full(r, "posted")])
    ids, sequence = _numbering(kind, origin, created, state != "draft")
    no = np.zeros(r, dtype=np.bool_)
    return Moves(
        kind=kind,
        origin=origin,
        ids=ids,
        sequence=sequence,
        state=state,
        payment_state=np.concatenate([invoices.settlement.payment_state, np.full(r, "paid")]),
        day=np.concatenate([invoices.day, refunds.day]),
        date_missing=np.concatenate([invoices.date_missing, no]),
        due_day=np.concatenate([invoices.due_day, refunds.day]),
        due_missing=np.concatenate([invoices.due_missing, no]),
        untaxed=np.concatenate([a.untaxed, a.untaxed[refunds.invoice]]),
        tax=np.concatenate([a.tax, a.tax[refunds.invoice]]),
        total=np.concatenate([a.total, a.total[refunds.invoice]]),
        residual=np.concatenate([invoices.settlement.residual, np.zeros(r, dtype=np.int64)]),
        created=created,
        written=np.concatenate([times.written, times.refund_written]),
    )


def _table(
    mv: Moves,
    order_id: IntArray,
    partner_id: IntArray,
    rows: IntArray,
    changed: tuple[StrArray, StrArray, IntArray, IntArray, IntArray],
) -> pa.Table:
    """``changed``: state, payment state, sequence, residual and write time of each row."""
    states, payment_states, seq, residual, written_at = changed
    return pa.table(
        {
            "id": pa.array(mv.ids[rows]),
            "sequence": pa.array(seq),
            "move_type": strings(np.where(mv.kind[rows] == 0, "out_invoice", "out_refund")),
            "partner_id": pa.array(partner_id[mv.origin[rows]]),
            "order_id": pa.array(order_id[mv.origin[rows]]),
            "invoice_date": days_to_dates(mv.day[rows], mv.date_missing[rows]),
            "invoice_date_due": days_to_dates(mv.due_day[rows], mv.due_missing[rows]),
            "state": strings(states),
            "payment_state": strings(payment_states),
            "amount_untaxed_cents": pa.array(mv.untaxed[rows]),
            "amount_tax_cents": pa.array(mv.tax[rows]),
            "amount_total_cents": pa.array(mv.total[rows]),
            "amount_residual_cents": pa.array(residual),
            "create_date": seconds_to_timestamps(mv.created[rows]),
            "write_date": seconds_to_timestamps(written_at),
        }
    )


def move_table(
    rng: np.random.Generator, mv: Moves, invoice_order_id: IntArray, invoice_partner: IntArray
) -> pa.Table:
    every = np.arange(len(mv.ids), dtype=np.int64)
    final = _table(
        mv,
        invoice_order_id,
        invoice_partner,
        every,
        (mv.state, mv.payment_state, mv.sequence, mv.residual, mv.written),
    )
    # Stale copies of posted invoices: a settled one as it was before its payment, an
    # unpaid one as the unnumbered draft it was before posting.
    stale = duplicate_rows(rng, (mv.kind == 0) & (mv.state == "posted"))
    was_settled = mv.payment_state[stale] != "not_paid"
    before = (
        np.where(was_settled, "posted", "draft"),
        np.full(len(stale), "not_paid"),
        np.where(was_settled, mv.sequence[stale], 0),
        mv.total[stale],
        mv.created[stale],
    )
    return stack(final, _table(mv, invoice_order_id, invoice_partner, stale, before))
