"""``product_product``: what orders sell, with list prices, tax rates and popularity."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pyarrow as pa

from orchestration.sample.arrays import (
    BoolArray,
    FloatArray,
    IntArray,
    StrArray,
    concat,
    duplicate_rows,
    pick,
    round_div,
    seconds_to_timestamps,
    stack,
    strings,
)
from orchestration.sample.timeline import master_data_times

# (category name, internal reference prefix, product nouns)
_CATEGORIES: tuple[tuple[str, str, tuple[str, ...]], ...] = (
    ("All / Saleable / Office Furniture", "FURN", ("Desk", "Chair", "Cabinet", "Shelf", "Table")),
    ("All / Saleable / Electronics", "ELEC", ("Monitor", "Keyboard", "Headset", "Webcam", "Dock")),
    ("All / Saleable / Supplies", "SUPP", ("Notebook", "Pen Set", "Binder", "Stapler", "Paper")),
    ("All / Saleable / Software", "SOFT", ("License", "Subscription", "Add-on", "Seat")),
    ("All / Saleable / Services", "SERV", ("Installation", "Training", "Support Plan", "Audit")),
    ("All / Saleable / Lighting", "LGHT", ("Lamp", "Spotlight", "LED Panel", "Desk Light")),
)
_CATEGORY_NAMES = np.array([c[0] for c in _CATEGORIES])
_PREFIXES = np.array([c[1] for c in _CATEGORIES])
_NOUNS = np.array([noun for c in _CATEGORIES for noun in c[2]])
_NOUN_COUNTS = np.array([len(c[2]) for c in _CATEGORIES])
_NOUN_OFFSETS = np.concatenate([[0], _NOUN_COUNTS.cumsum()[:-1]])
# fmt: off
_ADJECTIVES = np.array(
    [
        "Compact", "Deluxe", "Ergonomic", "Basic", "Premium", "Large", "Small", "Modular",
        "Wireless", "Classic", "Pro", "Eco", "Heavy-Duty", "Portable", "Smart", "Standard",
    ]
)
# fmt: on
_TAX_RATES_BP = np.array([2_000, 1_000, 550])  # basis points: 20 %, 10 %, 5.5 %
_TAX_WEIGHTS = np.array([0.80, 0.12, 0.08])


@dataclass(frozen=True)
class Products:
    """The table, and what order lines need to know about each product (indexed id - 1)."""

    table: pa.Table
    list_price_cents: IntArray
    tax_rate_bp: IntArray
    label: pa.Array
    popularity: FloatArray


@dataclass(frozen=True)
class _Columns:
    """Every product's latest values, one array per column."""

    ids: IntArray
    code: StrArray
    code_missing: BoolArray
    name: StrArray
    category: IntArray
    created: IntArray

    def table(
        self,
        rows: IntArray,
        price: IntArray,
        cost: IntArray,
        is_active: BoolArray,
        written_at: IntArray,
    ) -> pa.Table:
        return pa.table(
            {
                "id": pa.array(self.ids[rows]),
                "default_code": strings(self.code[rows], self.code_missing[rows]),
                "name": strings(self.name[rows]),
                "categ_name": strings(_CATEGORY_NAMES[self.category[rows]]),
                "list_price_cents": pa.array(price),
                "standard_price_cents": pa.array(cost),
                "active": pa.array(is_active),
                "create_date": seconds_to_timestamps(self.created[rows]),
                "write_date": seconds_to_timestamps(written_at),
            }
        )


def _list_prices(rng: np.random.Generator, n: int) -> IntArray:
    """Log-normal around 60 EUR, in cents, ending in .99."""
    euros = np.clip(np.exp(rng.normal(np.log(60.0), 0.9, n)), 2.0, 5_000.0)
    return (np.rint(euros) * 100 - 1).astype(np.int64)


def _popularity(rng: np.random.Generator, n: int) -> FloatArray:
    """A Zipf-like share of order lines per product, in random product order."""
    popularity = rng.permutation(1.0 / np.arange(1, n + 1) ** 0.8)
    shares: FloatArray = popularity / popularity.sum()
    return shares


def _minus_five_percent(cents: IntArray) -> IntArray:
    return cents - round_div(cents * 5, 100)


def products(rng: np.random.Generator, n: int) -> Products:
    ids = np.arange(1, n + 1, dtype=np.int64)
    category = rng.integers(0, len(_CATEGORIES), n)
    noun = _NOUN_OFFSETS[category] + rng.integers(0, _NOUN_COUNTS[category])
    name = concat(pick(rng, _ADJECTIVES, n), " ", _NOUNS[noun])
    code = concat(_PREFIXES[category], "_", np.char.zfill(ids.astype(str), 4))
    code_missing = rng.random(n) < 0.10
    label = np.where(code_missing, name, concat("[", code, "] ", name))
    list_price = _list_prices(rng, n)
    standard_price = np.rint(list_price * rng.uniform(0.45, 0.80, n)).astype(np.int64)
    tax_rate = _TAX_RATES_BP[rng.choice(len(_TAX_RATES_BP), n, p=_TAX_WEIGHTS)]
    active = rng.random(n) >= 0.05
    created, written = master_data_times(rng, n)
    popularity = _popularity(rng, n)
    columns = _Columns(ids, code, code_missing, name, category, created)

    final = columns.table(np.arange(n, dtype=np.int64), list_price, standard_price, active, written)
    # A stale copy from before the last price review.
    stale_rows = duplicate_rows(rng, np.ones(n, dtype=np.bool_))
    stale = columns.table(
        stale_rows,
        _minus_five_percent(list_price[stale_rows]),
        _minus_five_percent(standard_price[stale_rows]),
        np.ones(len(stale_rows), dtype=np.bool_),
        created[stale_rows],
    )
    return Products(stack(final, stale), list_price, tax_rate, strings(label), popularity)
