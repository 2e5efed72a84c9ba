"""What the next business days bring to the sample ERP, computed from what it holds today.

A pure function of the facts read from the source and a seed: each day draws from its own
generator seeded by ``(seed, day)``, so advancing by 3 days, or by 1 three times, from the
same source gives the same rows. The kinds of change a real extract sees are all there:

- new orders and their lines, entered during office hours;
- updates of existing rows (orders confirmed or delivered, partners' phones), written in
  place with a later ``write_date``, as Odoo does;
- late rows: orders inserted today whose ``write_date`` is hours before the newest one the
  source already held (a branch office syncing late), which an incremental cursor without a
  lag would miss;
- the same rows delivered twice: exact copies of some of today's lines.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import numpy as np
import pyarrow as pa

from orchestration.sample.order_lines import line_amounts
from orchestration.sample.timeline import office_hours

HOUR = 3_600
_TAX_BP = 2_000  # new lines are taxed at 20 %
_MONEY = pa.decimal128(18, 2)
_TS = pa.timestamp("us")
_EPOCH = datetime(1970, 1, 1)


@dataclass(frozen=True)
class Facts:
    """What the advance needs to know about the source; ids and lists sorted, so reproducible."""

    clock_s: int  # the newest write_date in the source, in epoch seconds
    next_order_id: int
    next_line_id: int
    customers: tuple[int, ...]
    products: tuple[tuple[int, int, str], ...]  # id, list price in cents, line label
    open_orders: tuple[int, ...]  # draft or sent: may be confirmed
    confirmed_orders: tuple[int, ...]  # sale: may be done
    partners: tuple[int, ...]


@dataclass
class Changes:
    """Rows to append and in-place updates, in the order they are applied."""

    orders: list[dict[str, object]] = field(default_factory=list)
    lines: list[dict[str, object]] = field(default_factory=list)
    order_updates: list[tuple[int, str, datetime]] = field(default_factory=list)  # id, state, at
    partner_updates: list[tuple[int, str, datetime]] = field(default_factory=list)  # id, phone, at
    days: list[date] = field(default_factory=list)
    late_orders: int = 0
    duplicated_lines: int = 0


def business_days_after(clock_s: int, count: int) -> list[date]:
    day = datetime.fromtimestamp(clock_s, UTC).date()
    out: list[date] = []
    while len(out) < count:
        day += timedelta(days=1)
        if day.weekday() < 5:
            out.append(day)
    return out


def _ts(seconds: int) -> datetime:
    return datetime.fromtimestamp(int(seconds), UTC).replace(tzinfo=None)


def _cents(value: int) -> Decimal:
    return Decimal(int(value)).scaleb(-2)


def _new_order(
    rng: np.random.Generator, facts: Facts, changes: Changes, order_id: int, line_id: int, at: int
) -> int:
    """One order with 1 to 4 lines, entered at ``at``; returns the next free line id."""
    created = at - int(rng.integers(0, 2 * HOUR))
    picked = rng.integers(0, len(facts.products), int(rng.integers(1, 5)))
    qty = rng.integers(1, 11, len(picked)).astype(np.int64)
    price = np.array([facts.products[i][1] for i in picked], dtype=np.int64)
    amounts = line_amounts(
        qty, price, np.zeros(len(picked), np.int64), np.full(len(picked), _TAX_BP)
    )
    for n, product in enumerate(picked):
        line_created = created + int(rng.integers(0, 600))
        changes.lines.append(
            {
                "id": line_id,
                "order_id": order_id,
                "product_id": facts.products[product][0],
                "name": facts.products[product][2],
                "product_uom_qty": Decimal(int(qty[n])),
                "price_unit": _cents(price[n]),
                "discount": Decimal(0),
                "price_subtotal": _cents(amounts.untaxed[n]),
                "price_tax": _cents(amounts.tax[n]),
                "price_total": _cents(amounts.total[n]),
                "create_date": _ts(line_created),
                "write_date": _ts(line_created + int(rng.integers(60, HOUR))),
            }
        )
        line_id += 1
    changes.orders.append(
        {
            "id": order_id,
            "name": f"S{order_id:05d}",
            "partner_id": facts.customers[int(rng.integers(0, len(facts.customers)))],
            "date_order": _ts(at),
            "state": "sale" if rng.random() < 0.6 else "draft",
            "amount_untaxed": _cents(amounts.untaxed.sum()),
            "amount_tax": _cents(amounts.tax.sum()),
            "amount_total": _cents(amounts.total.sum()),
            "currency_code": "EUR",
            "create_date": _ts(created),
            "write_date": _ts(at + int(rng.integers(60, HOUR))),
        }
    )
    return line_id


def _day(rng: np.random.Generator, facts: Facts, changes: Changes, day: date) -> Facts:
    start = int(datetime(day.year, day.month, day.day, tzinfo=UTC).timestamp())
    order_id, line_id = facts.next_order_id, facts.next_line_id
    first_line, first_order = len(changes.lines), len(changes.orders)
    for at in sorted(int(start + s) for s in office_hours(rng, int(rng.integers(4, 12)))):
        line_id = _new_order(rng, facts, changes, order_id, line_id, at)
        order_id += 1
    for _ in range(int(rng.integers(1, 3))):  # late: written before the newest row already held
        line_id = _new_order(
            rng,
            facts,
            changes,
            order_id,
            line_id,
            facts.clock_s - int(rng.integers(HOUR, 12 * HOUR)),
        )
        order_id += 1
        changes.late_orders += 1
    todays = changes.lines[first_line:]
    for i in sorted(
        rng.choice(len(todays), min(len(todays), int(rng.integers(1, 4))), replace=False)
    ):
        changes.lines.append(dict(todays[int(i)]))  # the same row delivered twice
        changes.duplicated_lines += 1
    confirm = _pick(rng, facts.open_orders, 3)
    deliver = _pick(rng, facts.confirmed_orders, 2)
    for ids, state in ((confirm, "sale"), (deliver, "done")):
        for oid in ids:
            changes.order_updates.append((oid, state, _ts(start + int(office_hours(rng, 1)[0]))))
    for pid in _pick(rng, facts.partners, 2):
        phone = f"+33 6 {int(rng.integers(10_000_000, 99_999_999))}"
        changes.partner_updates.append((pid, phone, _ts(start + int(office_hours(rng, 1)[0]))))
    changes.days.append(day)
    todays_orders = changes.orders[first_order:]
    new_open = {int(str(o["id"])) for o in todays_orders if o["state"] == "draft"}
    new_sale = {int(str(o["id"])) for o in todays_orders if o["state"] == "sale"}
    written = [r["write_date"] for r in (*todays_orders, *changes.lines[first_line:])]
    written += [at for _, _, at in (*changes.order_updates, *changes.partner_updates)]
    newest = max(int((w - _EPOCH).total_seconds()) for w in written)  # type: ignore[operator]
    return replace(
        facts,
        clock_s=max(facts.clock_s, newest),
        next_order_id=order_id,
        next_line_id=line_id,
        open_orders=tuple(sorted(set(facts.open_orders) - set(confirm) - set(deliver) | new_open)),
        confirmed_orders=tuple(
            sorted(set(facts.confirmed_orders) - set(deliver) | set(confirm) | new_sale)
        ),
    )


def _pick(rng: np.random.Generator, ids: tuple[int, ...], most: int) -> list[int]:
    if not ids:
        return []
    chosen = rng.choice(len(ids), min(len(ids), int(rng.integers(1, most + 1))), replace=False)
    return sorted(ids[int(i)] for i in chosen)


def plan_changes(facts: Facts, days: int, seed: int) -> Changes:
    """The changes of the ``days`` business days after the source's clock."""
    changes = Changes()
    for day in business_days_after(facts.clock_s, days):
        rng = np.random.default_rng([seed, day.toordinal()])
        facts = _day(rng, facts, changes, day)
    return changes


ORDER_SCHEMA = pa.schema(
    [
        ("id", pa.int32()), ("name", pa.string()), ("partner_id", pa.int32()),
        ("date_order", _TS), ("state", pa.string()), ("amount_untaxed", _MONEY),
        ("amount_tax", _MONEY), ("amount_total", _MONEY), ("currency_code", pa.string()),
        ("create_date", _TS), ("write_date", _TS),
    ]
)  # fmt: skip
LINE_SCHEMA = pa.schema(
    [
        ("id", pa.int32()), ("order_id", pa.int32()), ("product_id", pa.int32()),
        ("name", pa.string()), ("product_uom_qty", pa.decimal128(18, 3)), ("price_unit", _MONEY),
        ("discount", pa.decimal128(5, 2)), ("price_subtotal", _MONEY), ("price_tax", _MONEY),
        ("price_total", _MONEY), ("create_date", _TS), ("write_date", _TS),
    ]
)  # fmt: skip


def as_tables(changes: Changes) -> dict[str, pa.Table]:
    return {
        "sale_order": pa.Table.from_pylist(changes.orders, schema=ORDER_SCHEMA),
        "sale_order_line": pa.Table.from_pylist(changes.lines, schema=LINE_SCHEMA),
    }
