"""Which confirmed orders are invoiced, when, and how far each invoice is settled.

Settlement is decided here, before any payment exists: payments and credit notes are then
drawn to match it, so residuals always equal the total minus the posted payments.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from orchestration.sample.arrays import BoolArray, FloatArray, IntArray, StrArray
from orchestration.sample.order_lines import Amounts
from orchestration.sample.orders import Orders
from orchestration.sample.timeline import ANCHOR_DAY, DAY

_INVOICE_STATES = np.array(["posted", "draft", "cancel"])
_INVOICE_STATE_PROBS = [0.90, 0.06, 0.04]
_PAYMENT_TERMS_DAYS = np.array([0, 15, 30, 45, 60])


@dataclass(frozen=True)
class Settlement:
    """Per invoice: its payment state and how much of its total is paid."""

    paid: BoolArray
    partial: BoolArray
    reversed_: BoolArray
    payment_state: StrArray
    settled: IntArray
    residual: IntArray


@dataclass(frozen=True)
class Invoices:
    """One entry per customer invoice; ``source`` indexes the orders they bill."""

    source: IntArray
    day: IntArray
    amounts: Amounts
    state: StrArray
    date_missing: BoolArray
    due_day: IntArray
    due_missing: BoolArray
    settlement: Settlement

    @property
    def posted(self) -> BoolArray:
        posted: BoolArray = self.state == "posted"
        return posted


def _invoiced_orders(rng: np.random.Generator, orders: Orders) -> tuple[IntArray, IntArray]:
    """Done orders are all invoiced, most other confirmed ones too, up to ten days later."""
    n = len(orders.ids)
    confirmed = np.isin(orders.state, ["sale", "done"])
    invoiced = confirmed & ((orders.state == "done") | (rng.random(n) < 0.85))
    invoice_day = orders.date_order_s // DAY + rng.integers(0, 11, n)
    source = np.flatnonzero(invoiced & (invoice_day <= ANCHOR_DAY))
    return source, invoice_day[source]


def _paid_probability(age_days: FloatArray) -> FloatArray:
    """The longer past due, the likelier paid."""
    paid: FloatArray = np.clip(0.35 + 0.55 * age_days / 90.0, 0.15, 0.85)
    return paid


def _settle(
    rng: np.random.Generator, posted: BoolArray, age_days: FloatArray, total: IntArray
) -> Settlement:
    m = len(posted)
    p_paid = _paid_probability(age_days)
    u = rng.random(m)
    reversed_ = posted & (u < 0.03)
    paid = posted & ~reversed_ & (u < 0.03 + p_paid)
    partial = posted & ~reversed_ & ~paid & (u < 0.13 + p_paid)
    payment_state = np.full(m, "not_paid", dtype=object)
    payment_state[paid] = "paid"
    payment_state[partial] = "partial"
    payment_state[reversed_] = "reversed"
    partial_amount = np.clip(
        np.rint(total * rng.uniform(0.2, 0.8, m)).astype(np.int64), 1, np.maximum(total - 1, 1)
    )
    settled = np.where(partial, partial_amount, np.where(paid, total, 0))
    residual = np.where(reversed_, 0, total - settled)
    return Settlement(paid, partial, reversed_, payment_state.astype(str), settled, residual)


def invoices(rng: np.random.Generator, orders: Orders) -> Invoices:
    source, day = _invoiced_orders(rng, orders)
    m = len(source)
    state = _INVOICE_STATES[rng.choice(len(_INVOICE_STATES), m, p=_INVOICE_STATE_PROBS)]
    # Odoo only fills the invoice date of a draft when someone types it.
    date_missing = (state == "draft") & (rng.random(m) < 0.5)
    due_day = day + _PAYMENT_TERMS_DAYS[rng.integers(0, len(_PAYMENT_TERMS_DAYS), m)]
    due_missing = date_missing | (rng.random(m) < 0.05)
    age_days = (ANCHOR_DAY - np.where(due_missing, day, due_day)).astype(np.float64)
    amounts = orders.amounts.take(source)
    settlement = _settle(rng, state == "posted", age_days, amounts.total)
    return Invoices(source, day, amounts, state, date_missing, due_day, due_missing, settlement)
