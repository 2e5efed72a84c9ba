"""``res_partner``: customers (who place orders) and a few other contacts (who never do)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pyarrow as pa

from orchestration.sample.arrays import (
    BoolArray,
    IntArray,
    StrArray,
    concat,
    duplicate_rows,
    pick,
    seconds_to_timestamps,
    stack,
    strings,
)
from orchestration.sample.timeline import master_data_times

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
# fmt: on


@dataclass(frozen=True)
class Partners:
    table: pa.Table
    customer_ids: IntArray


@dataclass(frozen=True)
class _Columns:
    """Every partner's latest values, one array per column."""

    ids: IntArray
    name: StrArray
    email: StrArray
    phone: StrArray
    phone_missing: BoolArray
    is_company: BoolArray
    country: IntArray
    created: IntArray

    def table(
        self, rows: IntArray, rank: IntArray, no_email: BoolArray, written_at: IntArray
    ) -> pa.Table:
        return pa.table(
            {
                "id": pa.array(self.ids[rows]),
                "name": strings(self.name[rows]),
                "email": strings(self.email[rows], no_email),
                "phone": strings(self.phone[rows], self.phone_missing[rows]),
                "is_company": pa.array(self.is_company[rows]),
                "country_code": strings(_COUNTRIES[self.country[rows]]),
                "customer_rank": pa.array(rank),
                "create_date": seconds_to_timestamps(self.created[rows]),
                "write_date": seconds_to_timestamps(written_at),
            }
        )


def _names(rng: np.random.Generator, is_company: BoolArray) -> StrArray:
    n = len(is_company)
    person = concat(pick(rng, _FIRST_NAMES, n), " ", pick(rng, _LAST_NAMES, n))
    company = concat(
        pick(rng, _COMPANY_WORDS, n),
        " ",
        pick(rng, _COMPANY_KINDS, n),
        " ",
        pick(rng, _COMPANY_SUFFIXES, n),
    )
    names: StrArray = np.where(is_company, company, person)
    return names


def _emails(name: StrArray, ids: IntArray) -> StrArray:
    """Unique by construction: the partner id is part of the local part."""
    local_part = concat(np.char.lower(np.char.replace(name, " ", ".")), ".", ids.astype(str))
    return concat(local_part, "@example.com")


def partners(rng: np.random.Generator, n_customers: int, n_others: int) -> Partners:
    n = n_customers + n_others
    ids = np.arange(1, n + 1, dtype=np.int64)
    is_customer = np.zeros(n, dtype=np.bool_)
    is_customer[rng.permutation(n)[:n_customers]] = True
    is_company = rng.random(n) < 0.35
    name = _names(rng, is_company)
    email_missing = rng.random(n) < 0.10
    country = rng.choice(len(_COUNTRIES), n, p=_COUNTRY_WEIGHTS)
    phone = concat(
        _COUNTRY_DIAL[country], " ", rng.integers(100_000_000, 999_999_999, n).astype(str)
    )
    phone_missing = rng.random(n) < 0.15
    customer_rank = np.where(is_customer, rng.integers(1, 40, n), 0).astype(np.int64)
    created, written = master_data_times(rng, n)
    columns = _Columns(
        ids, name, _emails(name, ids), phone, phone_missing, is_company, country, created
    )

    final = columns.table(np.arange(n, dtype=np.int64), customer_rank, email_missing, written)
    # A stale copy: before their first order, customers had no rank and often no email.
    stale_rows = duplicate_rows(rng, is_customer)
    stale = columns.table(
        stale_rows,
        np.zeros(len(stale_rows), dtype=np.int64),
        np.ones(len(stale_rows), dtype=np.bool_),
        created[stale_rows],
    )
    return Partners(stack(final, stale), ids[is_customer])
