"""Generate an Odoo-shaped sales/invoicing database as a separate DuckDB file.

The file plays the part of a customer's ERP: Spyne only ever reads it. Its contents are
a pure function of ``(lines, seed)`` so that tests, benchmarks and demos can compare
results across runs, and every date is anchored to ``ANCHOR_DATE`` rather than today so
that "overdue" means the same thing next year.

Raw data is deliberately imperfect in the ways real CDC extracts are: a small fraction
of rows appear twice with the same id (the older copy has an earlier ``write_date`` and
stale values; the latest copy is the one consistent with the other tables), some rows
arrive days after their business date, and optional columns are sometimes NULL.

Money is generated in integer cents and converted to DECIMAL(18,2) inside DuckDB, so
order totals equal the sum of their lines exactly, with no float rounding anywhere.
"""

from __future__ import annotations

import os
import uuid
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path

import duckdb
import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.compute as pc

IntArray = npt.NDArray[np.int64]
BoolArray = npt.NDArray[np.bool_]
FloatArray = npt.NDArray[np.float64]
StrArray = npt.NDArray[np.str_]

SOURCE_TABLES: tuple[str, ...] = (
    "res_partner",
    "product_product",
    "sale_order",
    "sale_order_line",
    "account_move",
    "account_payment",
)

ANCHOR_DATE = date(2026, 6, 30)
WINDOW_START = date(2026, 1, 1)

DUPLICATE_RATE = 0.02
LATE_RATE = 0.03

_DAY = 86_400
_EPOCH = date(1970, 1, 1)
_ANCHOR_DAY = (ANCHOR_DATE - _EPOCH).days
_WINDOW_START_DAY = (WINDOW_START - _EPOCH).days
_WINDOW_DAYS = _ANCHOR_DAY - _WINDOW_START_DAY + 1
_ANCHOR_END_S = (_ANCHOR_DAY + 1) * _DAY - 1
# Rows are created at least an hour before the extract ends, so a stale copy of a row
# (written at creation) always sorts strictly before its latest copy.
_LAST_CREATE_S = _ANCHOR_END_S - 3_600
_MASTER_DATA_START_S = int((datetime(2023, 1, 1) - datetime(1970, 1, 1)).total_seconds())
_MASTER_DATA_END_S = _WINDOW_START_DAY * _DAY - 1

# fmt: off
_FIRST_NAMES = np.array(
    [
        "Anna", "Bruno", "Chloe", "David", "Elena", "Farid", "Greta", "Hugo", "Ines", "Jonas",
        "Karin", "Louis", "Maria", "Nils", "Olga", "Pablo", "Quentin", "Rosa", "Sven", "Tara",
        "Ugo", "Vera", "Willem", "Xenia", "Yann", "Zoe", "Amir", "Berit", "Carlos", "Dana",
    ]
)
_LAST_NAMES = np.array(
    [
        "Martin", "Bernard", "Dubois", "Moreau", "Laurent", "Simon", "Michel", "Lefebvre",
        "Muller", "Schmidt", "Schneider", "Fischer", "Weber", "Janssen", "De Vries", "Peeters",
        "Garcia", "Rossi", "Russo", "Smith", "Jones", "Taylor", "Brown", "Novak", "Kowalski",
        "Nielsen", "Hansen", "Costa", "Silva", "Meier",
    ]
)
_COMPANY_WORDS = np.array(
    [
        "Acme", "Northwind", "Globex", "Initech", "Umbrella", "Stark", "Wayne", "Hooli",
        "Vandelay", "Tyrell", "Cyberdyne", "Soylent", "Wonka", "Gringotts", "Oceanic",
        "Massive", "Aperture", "Monarch", "Pied Piper", "Dunder", "Bluth", "Sterling",
        "Prestige", "Nakatomi", "Virtucon", "Gekko", "Duff", "Krusty", "Sirius", "Axiom",
    ]
)
_COMPANY_KINDS = np.array(
    ["Logistics", "Retail", "Industries", "Consulting", "Foods", "Systems", "Trading", "Labs"]
)
_COMPANY_SUFFIXES = np.array(["SA", "SAS", "GmbH", "BV", "Ltd", "Inc", "SRL", "AG"])
_COUNTRIES = np.array(["FR", "BE", "DE", "NL", "ES", "IT", "GB", "US", "CH", "LU"])
_COUNTRY_DIAL = np.array(["+33", "+32", "+49", "+31", "+34", "+39", "+44", "+1", "+41", "+352"])
_COUNTRY_WEIGHTS = np.array([0.30, 0.14, 0.14, 0.10, 0.08, 0.08, 0.06, 0.04, 0.04, 0.02])

# (category name, internal reference prefix, product nouns)
_CATEGORIES: tuple[tuple[str, str, tuple[str, ...]], ...] = (
    ("All / Saleable / Office Furniture", "FURN", ("Desk", "Chair", "Cabinet", "Shelf", "Table")),
    ("All / Saleable / Electronics", "ELEC", ("Monitor", "Keyboard", "Headset", "Webcam", "Dock")),
    ("All / Saleable / Supplies", "SUPP", ("Notebook", "Pen Set", "Binder", "Stapler", "Paper")),
    ("All / Saleable / Software", "SOFT", ("License", "Subscription", "Add-on", "Seat")),
    ("All / Saleable / Services", "SERV", ("Installation", "Training", "Support Plan", "Audit")),
    ("All / Saleable / Lighting", "LGHT", ("Lamp", "Spotlight", "LED Panel", "Desk Light")),
)
_ADJECTIVES = np.array(
    [
        "Compact", "Deluxe", "Ergonomic", "Basic", "Premium", "Large", "Small", "Modular",
        "Wireless", "Classic", "Pro", "Eco", "Heavy-Duty", "Portable", "Smart", "Standard",
    ]
)
# fmt: on
_TAX_RATES_BP = np.array([2_000, 1_000, 550])  # basis points: 20 %, 10 %, 5.5 %
_TAX_WEIGHTS = np.array([0.80, 0.12, 0.08])

_ORDER_STATES = np.array(["draft", "sent", "sale", "done", "cancel"])
_ORDER_STATE_PROBS = np.array([0.06, 0.06, 0.50, 0.33, 0.05])
_RECENT_ORDER_STATE_PROBS = np.array([0.25, 0.25, 0.45, 0.00, 0.05])
# The state an order had before its latest update, indexed like _ORDER_STATES.
_PREVIOUS_ORDER_STATE = np.array(["draft", "draft", "sent", "sale", "draft"])
_PAYMENT_TERMS_DAYS = np.array([0, 15, 30, 45, 60])


@dataclass(frozen=True)
class SampleSummary:
    """What was written, so callers can report it without reopening the file."""

    path: Path
    seed: int
    lines: int
    anchor_date: date
    row_counts: dict[str, int] = field(hash=False)


# --------------------------------------------------------------------------- helpers


def _seconds_to_timestamps(seconds: IntArray) -> pa.Array:
    return pa.array((seconds * 1_000_000).astype("datetime64[us]"))


def _days_to_dates(days: IntArray, missing: BoolArray | None = None) -> pa.Array:
    return pa.array(days.astype("datetime64[D]"), mask=missing)


def _strings(values: StrArray, missing: BoolArray | None = None) -> pa.Array:
    return pa.array(values, type=pa.string(), mask=missing)


def _pick_per_row(rng: np.random.Generator, probs: FloatArray) -> IntArray:
    """Draw one category per row from a (rows, categories) probability matrix."""
    cumulative = probs.cumsum(axis=1)
    u: FloatArray = rng.random((probs.shape[0], 1))
    picked = (u >= cumulative).sum(axis=1)
    return np.minimum(picked, probs.shape[1] - 1).astype(np.int64)


def _round_div(numerator: IntArray, denominator: int) -> IntArray:
    """Half-up integer division for non-negative amounts: the one rounding rule used."""
    return (numerator + denominator // 2) // denominator


def _late_delay(rng: np.random.Generator, size: int) -> IntArray:
    """Seconds by which a row's creation trails its business date (0 for on-time rows)."""
    late = rng.random(size) < LATE_RATE
    delay = rng.integers(1, 11, size) * _DAY + rng.integers(0, _DAY, size)
    return np.where(late, delay, 0).astype(np.int64)


def _update_delay(rng: np.random.Generator, size: int, low: int, high: int) -> IntArray:
    return rng.integers(low, high, size).astype(np.int64)


def _duplicate_rows(rng: np.random.Generator, candidates: BoolArray) -> IntArray:
    """Indices of rows that also get an older copy in the extract."""
    chosen = candidates & (rng.random(candidates.shape[0]) < DUPLICATE_RATE)
    return np.flatnonzero(chosen).astype(np.int64)


def _master_data_times(rng: np.random.Generator, size: int) -> tuple[IntArray, IntArray]:
    """Partners and products exist before the sales window; some were edited during it."""
    created = rng.integers(_MASTER_DATA_START_S, _MASTER_DATA_END_S, size).astype(np.int64)
    recently_edited = rng.random(size) < 0.25
    span = (_ANCHOR_END_S - created - 60).astype(np.float64)
    recent = created + 60 + (rng.random(size) * span).astype(np.int64)
    soon = created + _update_delay(rng, size, 60, 7 * _DAY)
    return created, np.where(recently_edited, recent, soon)


def _stack(final: pa.Table, stale: pa.Table) -> pa.Table:
    return pa.concat_tables([final, stale])


# --------------------------------------------------------------------------- tables


@dataclass(frozen=True)
class _Partners:
    table: pa.Table
    customer_ids: IntArray


def _partners(rng: np.random.Generator, n_customers: int, n_others: int) -> _Partners:
    n = n_customers + n_others
    ids = np.arange(1, n + 1, dtype=np.int64)
    is_customer = np.zeros(n, dtype=np.bool_)
    is_customer[rng.permutation(n)[:n_customers]] = True
    is_company = rng.random(n) < 0.35

    person = np.char.add(
        np.char.add(_FIRST_NAMES[rng.integers(0, len(_FIRST_NAMES), n)], " "),
        _LAST_NAMES[rng.integers(0, len(_LAST_NAMES), n)],
    )
    company = np.char.add(
        np.char.add(
            np.char.add(_COMPANY_WORDS[rng.integers(0, len(_COMPANY_WORDS), n)], " "),
            np.char.add(_COMPANY_KINDS[rng.integers(0, len(_COMPANY_KINDS), n)], " "),
        ),
        _COMPANY_SUFFIXES[rng.integers(0, len(_COMPANY_SUFFIXES), n)],
    )
    name = np.where(is_company, company, person)
    local_part = np.char.add(
        np.char.add(np.char.lower(np.char.replace(name, " ", ".")), "."), ids.astype(str)
    )
    email = np.char.add(local_part, "@example.com")
    email_missing = rng.random(n) < 0.10

    country = rng.choice(len(_COUNTRIES), n, p=_COUNTRY_WEIGHTS)
    phone = np.char.add(
        np.char.add(_COUNTRY_DIAL[country], " "),
        rng.integers(100_000_000, 999_999_999, n).astype(str),
    )
    phone_missing = rng.random(n) < 0.15
    customer_rank = np.where(is_customer, rng.integers(1, 40, n), 0).astype(np.int64)
    created, written = _master_data_times(rng, n)

    def build(
        rows: IntArray, rank: IntArray, no_email: BoolArray, written_at: IntArray
    ) -> pa.Table:
        return pa.table(
            {
                "id": pa.array(ids[rows]),
                "name": _strings(name[rows]),
                "email": _strings(email[rows], no_email),
                "phone": _strings(phone[rows], phone_missing[rows]),
                "is_company": pa.array(is_company[rows]),
                "country_code": _strings(_COUNTRIES[country[rows]]),
                "customer_rank": pa.array(rank),
                "create_date": _seconds_to_timestamps(created[rows]),
                "write_date": _seconds_to_timestamps(written_at),
            }
        )

    every = np.arange(n, dtype=np.int64)
    final = build(every, customer_rank, email_missing, written)
    # A stale copy: before their first order, customers had no rank and often no email.
    stale_rows = _duplicate_rows(rng, is_customer)
    stale = build(
        stale_rows,
        np.zeros(len(stale_rows), dtype=np.int64),
        np.ones(len(stale_rows), dtype=np.bool_),
        created[stale_rows],
    )
    return _Partners(_stack(final, stale), ids[is_customer])


@dataclass(frozen=True)
class _Products:
    table: pa.Table
    list_price_cents: IntArray
    tax_rate_bp: IntArray
    label: pa.Array
    popularity: FloatArray


def _products(rng: np.random.Generator, n: int) -> _Products:
    ids = np.arange(1, n + 1, dtype=np.int64)
    category_names = np.array([c[0] for c in _CATEGORIES])
    prefixes = np.array([c[1] for c in _CATEGORIES])
    nouns = np.array([noun for c in _CATEGORIES for noun in c[2]])
    noun_counts = np.array([len(c[2]) for c in _CATEGORIES])
    noun_offsets = np.concatenate([[0], noun_counts.cumsum()[:-1]])

    category = rng.integers(0, len(_CATEGORIES), n)
    noun = noun_offsets[category] + rng.integers(0, noun_counts[category])
    name = np.char.add(
        np.char.add(_ADJECTIVES[rng.integers(0, len(_ADJECTIVES), n)], " "), nouns[noun]
    )
    code = np.char.add(np.char.add(prefixes[category], "_"), np.char.zfill(ids.astype(str), 4))
    code_missing = rng.random(n) < 0.10
    label = np.where(
        code_missing, name, np.char.add(np.char.add(np.char.add("[", code), "] "), name)
    )

    euros = np.clip(np.exp(rng.normal(np.log(60.0), 0.9, n)), 2.0, 5_000.0)
    list_price = (np.rint(euros) * 100 - 1).astype(np.int64)  # prices end in .99
    standard_price = np.rint(list_price * rng.uniform(0.45, 0.80, n)).astype(np.int64)
    tax_rate = _TAX_RATES_BP[rng.choice(len(_TAX_RATES_BP), n, p=_TAX_WEIGHTS)]
    active = rng.random(n) >= 0.05
    created, written = _master_data_times(rng, n)
    popularity = rng.permutation(1.0 / np.arange(1, n + 1) ** 0.8)
    popularity = popularity / popularity.sum()

    def build(
        rows: IntArray, price: IntArray, cost: IntArray, is_active: BoolArray, written_at: IntArray
    ) -> pa.Table:
        return pa.table(
            {
                "id": pa.array(ids[rows]),
                "default_code": _strings(code[rows], code_missing[rows]),
                "name": _strings(name[rows]),
                "categ_name": _strings(category_names[category[rows]]),
                "list_price_cents": pa.array(price),
                "standard_price_cents": pa.array(cost),
                "active": pa.array(is_active),
                "create_date": _seconds_to_timestamps(created[rows]),
                "write_date": _seconds_to_timestamps(written_at),
            }
        )

    every = np.arange(n, dtype=np.int64)
    final = build(every, list_price, standard_price, active, written)
    # A stale copy from before the last price review.
    stale_rows = _duplicate_rows(rng, np.ones(n, dtype=np.bool_))
    stale = build(
        stale_rows,
        list_price[stale_rows] - _round_div(list_price[stale_rows] * 5, 100),
        standard_price[stale_rows] - _round_div(standard_price[stale_rows] * 5, 100),
        np.ones(len(stale_rows), dtype=np.bool_),
        created[stale_rows],
    )
    return _Products(_stack(final, stale), list_price, tax_rate, _strings(label), popularity)


@dataclass(frozen=True)
class _Orders:
    order_table: pa.Table
    line_table: pa.Table
    ids: IntArray
    partner_id: IntArray
    date_order_s: IntArray
    state: StrArray
    untaxed: IntArray
    tax: IntArray
    total: IntArray


def _line_amounts(
    quantity: IntArray, price: IntArray, discount: IntArray, tax_bp: IntArray
) -> tuple[IntArray, IntArray, IntArray]:
    subtotal = _round_div(quantity * price * (100 - discount), 100)
    tax = _round_div(subtotal * tax_bp, 10_000)
    return subtotal, tax, subtotal + tax


def _orders(
    rng: np.random.Generator, n_orders: int, n_lines: int, partners: _Partners, products: _Products
) -> _Orders:
    # Business date: weekdays are busier than weekends and volume grows over the window.
    day_index = np.arange(_WINDOW_DAYS)
    weekday = (day_index + WINDOW_START.weekday()) % 7
    weights = np.where(weekday < 5, 1.0, 0.25) * (1.0 + 0.5 * day_index / _WINDOW_DAYS)
    day = _WINDOW_START_DAY + rng.choice(_WINDOW_DAYS, n_orders, p=weights / weights.sum())
    date_order = day.astype(np.int64) * _DAY + rng.integers(8 * 3_600, 19 * 3_600, n_orders)
    # The quotation is drafted before it is confirmed, except for late entries.
    drafted = date_order - rng.integers(0, 2 * _DAY, n_orders)
    late = _late_delay(rng, n_orders)
    created = np.minimum(np.where(late > 0, date_order + late, drafted), _LAST_CREATE_S)

    customer_weights = rng.permutation(1.0 / np.arange(1, len(partners.customer_ids) + 1) ** 0.9)
    partner_id = partners.customer_ids[
        rng.choice(
            len(partners.customer_ids), n_orders, p=customer_weights / customer_weights.sum()
        )
    ]
    recent = (_ANCHOR_END_S - date_order) < 14 * _DAY
    state_probs = np.where(recent[:, None], _RECENT_ORDER_STATE_PROBS, _ORDER_STATE_PROBS)
    state_index = _pick_per_row(rng, state_probs)

    # Odoo ids follow creation order.
    by_creation = np.lexsort((date_order, created))
    date_order, created, partner_id, state_index = (
        date_order[by_creation],
        created[by_creation],
        partner_id[by_creation],
        state_index[by_creation],
    )
    order_ids = np.arange(1, n_orders + 1, dtype=np.int64)
    written = np.minimum(
        np.maximum(created, date_order) + _update_delay(rng, n_orders, 60, 3 * _DAY), _ANCHOR_END_S
    )

    # Lines: every order has at least one; the rest land on random orders.
    lines_per_order = 1 + np.bincount(
        rng.integers(0, n_orders, n_lines - n_orders), minlength=n_orders
    )
    line_order = np.repeat(np.arange(n_orders), lines_per_order)
    product = rng.choice(len(products.list_price_cents), n_lines, p=products.popularity)
    bulk = rng.random(n_lines) < 0.10
    quantity = np.where(bulk, rng.integers(11, 101, n_lines), rng.integers(1, 11, n_lines)).astype(
        np.int64
    )
    discount = np.array([0, 5, 10, 15, 20])[
        rng.choice(5, n_lines, p=[0.80, 0.08, 0.06, 0.04, 0.02])
    ]
    price = products.list_price_cents[product]
    tax_bp = products.tax_rate_bp[product]
    subtotal, tax, total = _line_amounts(quantity, price, discount, tax_bp)

    starts = np.concatenate([[0], lines_per_order.cumsum()[:-1]])
    order_untaxed = np.add.reduceat(subtotal, starts)
    order_tax = np.add.reduceat(tax, starts)
    order_total = order_untaxed + order_tax

    line_ids = np.arange(1, n_lines + 1, dtype=np.int64)
    line_created = np.minimum(created[line_order] + rng.integers(0, 600, n_lines), _LAST_CREATE_S)
    line_written = np.minimum(line_created + _update_delay(rng, n_lines, 60, 3_600), _ANCHOR_END_S)
    line_name = pc.take(products.label, pa.array(product))

    def build_orders(rows: IntArray, states: StrArray, written_at: IntArray) -> pa.Table:
        return pa.table(
            {
                "id": pa.array(order_ids[rows]),
                "partner_id": pa.array(partner_id[rows]),
                "date_order": _seconds_to_timestamps(date_order[rows]),
                "state": _strings(states),
                "amount_untaxed_cents": pa.array(order_untaxed[rows]),
                "amount_tax_cents": pa.array(order_tax[rows]),
                "amount_total_cents": pa.array(order_total[rows]),
                "create_date": _seconds_to_timestamps(created[rows]),
                "write_date": _seconds_to_timestamps(written_at),
            }
        )

    every_order = np.arange(n_orders, dtype=np.int64)
    final_orders = build_orders(every_order, _ORDER_STATES[state_index], written)
    stale_orders = _duplicate_rows(rng, _ORDER_STATES[state_index] != "draft")
    stale_order_table = build_orders(
        stale_orders, _PREVIOUS_ORDER_STATE[state_index[stale_orders]], created[stale_orders]
    )

    def build_lines(
        rows: IntArray,
        qty: IntArray,
        amounts: tuple[IntArray, IntArray, IntArray],
        written_at: IntArray,
    ) -> pa.Table:
        return pa.table(
            {
                "id": pa.array(line_ids[rows]),
                "order_id": pa.array(order_ids[line_order[rows]]),
                "product_id": pa.array(product[rows] + 1),
                "name": line_name.take(pa.array(rows)),
                "product_uom_qty": pa.array(qty),
                "price_unit_cents": pa.array(price[rows]),
                "discount": pa.array(discount[rows]),
                "price_subtotal_cents": pa.array(amounts[0]),
                "price_tax_cents": pa.array(amounts[1]),
                "price_total_cents": pa.array(amounts[2]),
                "create_date": _seconds_to_timestamps(line_created[rows]),
                "write_date": _seconds_to_timestamps(written_at),
            }
        )

    every_line = np.arange(n_lines, dtype=np.int64)
    final_lines = build_lines(every_line, quantity, (subtotal, tax, total), line_written)
    # A stale copy from before the customer lowered the quantity by one.
    stale_lines = _duplicate_rows(rng, np.ones(n_lines, dtype=np.bool_))
    stale_qty = quantity[stale_lines] + 1
    stale_line_table = build_lines(
        stale_lines,
        stale_qty,
        _line_amounts(stale_qty, price[stale_lines], discount[stale_lines], tax_bp[stale_lines]),
        line_created[stale_lines],
    )
    return _Orders(
        _stack(final_orders, stale_order_table),
        _stack(final_lines, stale_line_table),
        order_ids,
        partner_id,
        date_order,
        _ORDER_STATES[state_index],
        order_untaxed,
        order_tax,
        order_total,
    )


def _invoicing(rng: np.random.Generator, orders: _Orders) -> tuple[pa.Table, pa.Table]:
    """Invoices for confirmed orders, a few credit notes, and the payments settling them."""
    confirmed = np.isin(orders.state, ["sale", "done"])
    invoiced = confirmed & ((orders.state == "done") | (rng.random(len(orders.ids)) < 0.85))
    invoice_day = orders.date_order_s // _DAY + rng.integers(0, 11, len(orders.ids))
    source = np.flatnonzero(invoiced & (invoice_day <= _ANCHOR_DAY))
    m = len(source)
    inv_day = invoice_day[source]
    untaxed, tax, total = orders.untaxed[source], orders.tax[source], orders.total[source]

    state = np.array(["posted", "draft", "cancel"])[rng.choice(3, m, p=[0.90, 0.06, 0.04])]
    posted = state == "posted"
    draft = state == "draft"
    # Odoo only fills the invoice date of a draft when someone types it.
    date_missing = draft & (rng.random(m) < 0.5)
    due_day = inv_day + _PAYMENT_TERMS_DAYS[rng.integers(0, len(_PAYMENT_TERMS_DAYS), m)]
    due_missing = date_missing | (rng.random(m) < 0.05)

    age = (_ANCHOR_DAY - np.where(due_missing, inv_day, due_day)).astype(np.float64)
    p_paid = np.clip(0.35 + 0.55 * age / 90.0, 0.15, 0.85)
    u = rng.random(m)
    reversed_ = posted & (u < 0.03)
    paid = posted & ~reversed_ & (u < 0.03 + p_paid)
    partial = posted & ~reversed_ & ~paid & (u < 0.13 + p_paid)
    payment_state = np.full(m, "not_paid", dtype=object)
    payment_state[paid] = "paid"
    payment_state[partial] = "partial"
    payment_state[reversed_] = "reversed"
    settled = np.where(paid, total, 0)
    partial_amount = np.clip(
        np.rint(total * rng.uniform(0.2, 0.8, m)).astype(np.int64), 1, np.maximum(total - 1, 1)
    )
    settled = np.where(partial, partial_amount, settled)
    residual = np.where(reversed_, 0, total - settled)

    # Payments: one per partial invoice, one or two per paid invoice, plus a few
    # registered-but-unposted ones that must not count.
    split = paid & (rng.random(m) < 0.2)
    first_amount = np.where(
        split, np.rint(total * rng.uniform(0.3, 0.7, m)).astype(np.int64), settled
    )
    first_day = np.minimum(inv_day + rng.integers(0, 61, m), _ANCHOR_DAY)
    second_day = np.minimum(first_day + rng.integers(1, 21, m), _ANCHOR_DAY)
    unposted = posted & (payment_state == "not_paid") & (rng.random(m) < 0.05)
    unposted_day = np.minimum(inv_day + rng.integers(0, 31, m), _ANCHOR_DAY)
    first = np.flatnonzero(paid | partial)
    second = np.flatnonzero(split)
    drafts = np.flatnonzero(unposted)
    pay_invoice = np.concatenate([first, second, drafts])
    pay_amount = np.concatenate(
        [first_amount[first], (total - first_amount)[second], total[drafts]]
    )
    pay_day = np.concatenate([first_day[first], second_day[second], unposted_day[drafts]])
    pay_state = np.concatenate(
        [np.full(len(first) + len(second), "posted"), np.full(len(drafts), "draft")]
    )
    p = len(pay_invoice)
    pay_late = _late_delay(rng, p)
    pay_created = np.minimum(
        pay_day * _DAY + rng.integers(8 * 3_600, 19 * 3_600, p) + pay_late, _LAST_CREATE_S
    )
    pay_written = np.minimum(pay_created + _update_delay(rng, p, 60, 3_600), _ANCHOR_END_S)

    # Credit notes fully reverse an unpaid invoice shortly after it was issued.
    reversed_rows = np.flatnonzero(reversed_)
    r = len(reversed_rows)
    refund_day = np.minimum(inv_day[reversed_rows] + rng.integers(1, 21, r), _ANCHOR_DAY)
    refund_created = np.minimum(
        refund_day * _DAY + rng.integers(8 * 3_600, 19 * 3_600, r), _LAST_CREATE_S
    )

    drafted_at = orders.date_order_s[source] + rng.integers(0, 5 * _DAY, m)
    issued_at = inv_day * _DAY + rng.integers(8 * 3_600, 19 * 3_600, m) + _late_delay(rng, m)
    inv_created = np.minimum(np.where(date_missing, drafted_at, issued_at), _LAST_CREATE_S)
    # An invoice is last written when its last payment or credit note reconciled it.
    last_event = inv_created.copy()
    posted_payments = pay_state == "posted"
    np.maximum.at(last_event, pay_invoice[posted_payments], pay_created[posted_payments])
    last_event[reversed_rows] = np.maximum(last_event[reversed_rows], refund_created)
    inv_written = np.minimum(last_event + _update_delay(rng, m, 60, 3_600), _ANCHOR_END_S)
    refund_written = np.minimum(refund_created + _update_delay(rng, r, 60, 3_600), _ANCHOR_END_S)

    # All moves share one id sequence, in creation order.
    kind = np.concatenate([np.zeros(m, dtype=np.int64), np.ones(r, dtype=np.int64)])
    origin_row = np.concatenate([np.arange(m), reversed_rows])
    move_created = np.concatenate([inv_created, refund_created])
    by_creation = np.lexsort((origin_row, kind, move_created))
    move_id = np.empty(m + r, dtype=np.int64)
    move_id[by_creation] = np.arange(1, m + r + 1)
    move_state = np.concatenate([state, np.full(r, "posted")])
    numbered = move_state != "draft"
    sequence = np.zeros(m + r, dtype=np.int64)
    for k in (0, 1):
        rows = by_creation[(kind[by_creation] == k) & numbered[by_creation]]
        sequence[rows] = np.arange(1, len(rows) + 1)

    moves = {
        "id": move_id,
        "move_type": np.where(kind == 0, "out_invoice", "out_refund"),
        "sequence": sequence,
        "partner_id": orders.partner_id[source][origin_row],
        "order_id": orders.ids[source][origin_row],
        "invoice_day": np.concatenate([inv_day, refund_day]),
        "date_missing": np.concatenate([date_missing, np.zeros(r, dtype=np.bool_)]),
        "due_day": np.concatenate([due_day, refund_day]),
        "due_missing": np.concatenate([due_missing, np.zeros(r, dtype=np.bool_)]),
        "state": move_state,
        "payment_state": np.concatenate([payment_state.astype(str), np.full(r, "paid")]),
        "untaxed": np.concatenate([untaxed, untaxed[reversed_rows]]),
        "tax": np.concatenate([tax, tax[reversed_rows]]),
        "total": np.concatenate([total, total[reversed_rows]]),
        "residual": np.concatenate([residual, np.zeros(r, dtype=np.int64)]),
        "created": move_created,
        "written": np.concatenate([inv_written, refund_written]),
    }

    def build_moves(
        rows: IntArray,
        states: StrArray,
        payment_states: StrArray,
        seq: IntArray,
        resid: IntArray,
        written_at: IntArray,
    ) -> pa.Table:
        return pa.table(
            {
                "id": pa.array(moves["id"][rows]),
                "sequence": pa.array(seq),
                "move_type": _strings(moves["move_type"][rows]),
                "partner_id": pa.array(moves["partner_id"][rows]),
                "order_id": pa.array(moves["order_id"][rows]),
                "invoice_date": _days_to_dates(
                    moves["invoice_day"][rows], moves["date_missing"][rows]
                ),
                "invoice_date_due": _days_to_dates(
                    moves["due_day"][rows], moves["due_missing"][rows]
                ),
                "state": _strings(states),
                "payment_state": _strings(payment_states),
                "amount_untaxed_cents": pa.array(moves["untaxed"][rows]),
                "amount_tax_cents": pa.array(moves["tax"][rows]),
                "amount_total_cents": pa.array(moves["total"][rows]),
                "amount_residual_cents": pa.array(resid),
                "create_date": _seconds_to_timestamps(moves["created"][rows]),
                "write_date": _seconds_to_timestamps(written_at),
            }
        )

    every_move = np.arange(m + r, dtype=np.int64)
    final_moves = build_moves(
        every_move,
        moves["state"],
        moves["payment_state"],
        moves["sequence"],
        moves["residual"],
        moves["written"],
    )
    # Stale copies of posted invoices: a settled one as it was before its payment, an
    # unpaid one as the unnumbered draft it was before posting.
    stale = _duplicate_rows(rng, (kind == 0) & (move_state == "posted"))
    was_settled = moves["payment_state"][stale] != "not_paid"
    stale_moves = build_moves(
        stale,
        np.where(was_settled, "posted", "draft"),
        np.full(len(stale), "not_paid"),
        np.where(was_settled, sequence[stale], 0),
        moves["total"][stale],
        moves["created"][stale],
    )

    by_payment_creation = np.lexsort((pay_invoice, pay_created))
    payment_id = np.empty(p, dtype=np.int64)
    payment_id[by_payment_creation] = np.arange(1, p + 1)
    pay_sequence = np.zeros(p, dtype=np.int64)
    posted_in_order = by_payment_creation[posted_payments[by_payment_creation]]
    pay_sequence[posted_in_order] = np.arange(1, len(posted_in_order) + 1)

    def build_payments(
        rows: IntArray, states: StrArray, seq: IntArray, written_at: IntArray
    ) -> pa.Table:
        return pa.table(
            {
                "id": pa.array(payment_id[rows]),
                "sequence": pa.array(seq),
                "partner_id": pa.array(orders.partner_id[source][pay_invoice[rows]]),
                "move_id": pa.array(move_id[pay_invoice[rows]]),
                "amount_cents": pa.array(pay_amount[rows]),
                "date": _days_to_dates(pay_day[rows]),
                "state": _strings(states),
                "create_date": _seconds_to_timestamps(pay_created[rows]),
                "write_date": _seconds_to_timestamps(written_at),
            }
        )

    every_payment = np.arange(p, dtype=np.int64)
    final_payments = build_payments(every_payment, pay_state, pay_sequence, pay_written)
    # Stale copies of posted payments: the unnumbered draft they were before posting.
    stale_pay = _duplicate_rows(rng, posted_payments)
    stale_payments = build_payments(
        stale_pay,
        np.full(len(stale_pay), "draft"),
        np.zeros(len(stale_pay), dtype=np.int64),
        pay_created[stale_pay],
    )
    return _stack(final_moves, stale_moves), _stack(final_payments, stale_payments)


# --------------------------------------------------------------------------- DuckDB

# Amounts are staged as integer cents; ``cents * 0.01`` is exact DECIMAL arithmetic.
# Names are padded with printf, which, unlike lpad, never truncates a longer number.
_DDL_AND_LOAD: dict[str, tuple[str, str]] = {
    "res_partner": (
        """
        create table main.res_partner (
            id integer, name varchar, email varchar, phone varchar, is_company boolean,
            country_code varchar, customer_rank integer, create_date timestamp,
            write_date timestamp
        )
        """,
        """
        insert into main.res_partner
        select id, name, email, phone, is_company, country_code, customer_rank,
               create_date, write_date
        from staged order by id, write_date
        """,
    ),
    "product_product": (
        """
        create table main.product_product (
            id integer, default_code varchar, name varchar, categ_name varchar,
            list_price decimal(18, 2), standard_price decimal(18, 2), active boolean,
            create_date timestamp, write_date timestamp
        )
        """,
        """
        insert into main.product_product
        select id, default_code, name, categ_name,
               (list_price_cents * 0.01)::decimal(18, 2),
               (standard_price_cents * 0.01)::decimal(18, 2),
               active, create_date, write_date
        from staged order by id, write_date
        """,
    ),
    "sale_order": (
        """
        create table main.sale_order (
            id integer, name varchar, partner_id integer, date_order timestamp,
            state varchar, amount_untaxed decimal(18, 2), amount_tax decimal(18, 2),
            amount_total decimal(18, 2), currency_code varchar, create_date timestamp,
            write_date timestamp
        )
        """,
        """
        insert into main.sale_order
        select id, printf('S%05d', id), partner_id, date_order, state,
               (amount_untaxed_cents * 0.01)::decimal(18, 2),
               (amount_tax_cents * 0.01)::decimal(18, 2),
               (amount_total_cents * 0.01)::decimal(18, 2),
               'EUR', create_date, write_date
        from staged order by id, write_date
        """,
    ),
    "sale_order_line": (
        """
        create table main.sale_order_line (
            id integer, order_id integer, product_id integer, name varchar,
            product_uom_qty decimal(18, 3), price_unit decimal(18, 2),
            discount decimal(5, 2), price_subtotal decimal(18, 2),
            price_tax decimal(18, 2), price_total decimal(18, 2),
            create_date timestamp, write_date timestamp
        )
        """,
        """
        insert into main.sale_order_line
        select id, order_id, product_id, name, product_uom_qty::decimal(18, 3),
               (price_unit_cents * 0.01)::decimal(18, 2), discount::decimal(5, 2),
               (price_subtotal_cents * 0.01)::decimal(18, 2),
               (price_tax_cents * 0.01)::decimal(18, 2),
               (price_total_cents * 0.01)::decimal(18, 2),
               create_date, write_date
        from staged order by id, write_date
        """,
    ),
    "account_move": (
        """
        create table main.account_move (
            id integer, name varchar, move_type varchar, partner_id integer,
            invoice_origin varchar, invoice_date date, invoice_date_due date,
            state varchar, payment_state varchar, amount_untaxed decimal(18, 2),
            amount_tax decimal(18, 2), amount_total decimal(18, 2),
            amount_residual decimal(18, 2), create_date timestamp, write_date timestamp
        )
        """,
        """
        insert into main.account_move
        select id,
               case when sequence = 0 then '/'
                    else printf(
                        '%s/%d/%05d',
                        case when move_type = 'out_refund' then 'RINV' else 'INV' end,
                        year(coalesce(invoice_date, create_date::date)),
                        sequence
                    )
               end,
               move_type, partner_id, printf('S%05d', order_id),
               invoice_date, invoice_date_due, state, payment_state,
               (amount_untaxed_cents * 0.01)::decimal(18, 2),
               (amount_tax_cents * 0.01)::decimal(18, 2),
               (amount_total_cents * 0.01)::decimal(18, 2),
               (amount_residual_cents * 0.01)::decimal(18, 2),
               create_date, write_date
        from staged order by id, write_date
        """,
    ),
    "account_payment": (
        """
        create table main.account_payment (
            id integer, name varchar, partner_id integer, move_id integer,
            amount decimal(18, 2), date date, payment_type varchar, state varchar,
            create_date timestamp, write_date timestamp
        )
        """,
        """
        insert into main.account_payment
        select id,
               case when sequence = 0 then '/'
                    else printf('PBNK1/%d/%05d', year(date), sequence)
               end,
               partner_id, move_id, (amount_cents * 0.01)::decimal(18, 2), date,
               'inbound', state, create_date, write_date
        from staged order by id, write_date
        """,
    ),
}


def _sizes(lines: int) -> tuple[int, int, int, int]:
    """Orders grow linearly with lines; master data grows with the square root."""
    orders = max(1, lines // 3)
    customers = max(10, round(6 * lines**0.5))
    others = max(1, customers // 20)
    products = max(5, round(1.5 * lines**0.5))
    return orders, customers, others, products


def _build_tables(lines: int, seed: int) -> dict[str, pa.Table]:
    rng = np.random.default_rng(seed)
    n_orders, n_customers, n_others, n_products = _sizes(lines)
    partners = _partners(rng, n_customers, n_others)
    products = _products(rng, n_products)
    orders = _orders(rng, n_orders, lines, partners, products)
    moves, payments = _invoicing(rng, orders)
    return {
        "res_partner": partners.table,
        "product_product": products.table,
        "sale_order": orders.order_table,
        "sale_order_line": orders.line_table,
        "account_move": moves,
        "account_payment": payments,
    }


def _write(path: Path, tables: dict[str, pa.Table]) -> None:
    con = duckdb.connect(str(path))
    try:
        for name in SOURCE_TABLES:
            ddl, load = _DDL_AND_LOAD[name]
            con.execute(ddl)
            con.register("staged", tables[name])
            con.execute(load)
            con.unregister("staged")
        con.execute("checkpoint")
    finally:
        con.close()


def generate(path: Path, lines: int = 5000, seed: int = 42) -> SampleSummary:
    """Write the sample ERP database to ``path``, replacing any previous one atomically.

    The file is built under a temporary name in the same directory and renamed into
    place only once complete, so a reader never sees a half-written source.
    """
    if lines < 1:
        raise ValueError(f"lines must be at least 1, got {lines}")
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tables = _build_tables(lines, seed)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{uuid.uuid4().hex}.tmp")
    try:
        _write(tmp, tables)
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
        tmp.with_name(tmp.name + ".wal").unlink(missing_ok=True)
    return SampleSummary(
        path=path,
        seed=seed,
        lines=lines,
        anchor_date=ANCHOR_DATE,
        row_counts={name: tables[name].num_rows for name in SOURCE_TABLES},
    )
