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
Each table is drawn by its own module from one random generator, in a fixed order.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

import numpy as np
import pyarrow as pa

from orchestration.sample.invoicing import invoicing
from orchestration.sample.orders import orders
from orchestration.sample.partners import partners
from orchestration.sample.products import products
from orchestration.sample.schema import SOURCE_TABLES
from orchestration.sample.timeline import ANCHOR_DATE, WINDOW_START
from orchestration.sample.writer import refuse_to_overwrite, write_source
from orchestration.sources import PostgresSource
from policies.errors import ValidationFailed

__all__ = [
    "ANCHOR_DATE",
    "SOURCE_TABLES",
    "WINDOW_START",
    "SampleSummary",
    "generate",
    "generate_postgres",
]


@dataclass(frozen=True)
class SampleSummary:
    """What was written, so callers can report it without reopening the file."""

    path: Path | PostgresSource
    seed: int
    lines: int
    anchor_date: date
    row_counts: dict[str, int] = field(hash=False)


def _sizes(lines: int) -> tuple[int, int, int, int]:
    """Orders grow linearly with lines; master data grows with the square root."""
    n_orders = max(1, lines // 3)
    customers = max(10, round(6 * lines**0.5))
    others = max(1, customers // 20)
    n_products = max(5, round(1.5 * lines**0.5))
    return n_orders, customers, others, n_products


def build_tables(lines: int, seed: int) -> dict[str, pa.Table]:
    """Every source table as Arrow, amounts still in integer cents."""
    rng = np.random.default_rng(seed)
    n_orders, n_customers, n_others, n_products = _sizes(lines)
    partner_rows = partners(rng, n_customers, n_others)
    product_rows = products(rng, n_products)
    order_rows = orders(rng, n_orders, lines, partner_rows, product_rows)
    moves, payments = invoicing(rng, order_rows)
    return {
        "res_partner": partner_rows.table,
        "product_product": product_rows.table,
        "sale_order": order_rows.order_table,
        "sale_order_line": order_rows.line_table,
        "account_move": moves,
        "account_payment": payments,
    }


def _check_lines(lines: int) -> None:
    if lines < 1:
        raise ValidationFailed(
            f"a sample needs at least 1 order line, got {lines}; pass a positive --rows",
            details={"lines": lines},
        )


def generate(
    path: Path, lines: int = 5000, seed: int = 42, *, overwrite: bool = False
) -> SampleSummary:
    """Write the sample ERP database to ``path``; replace an existing one only if asked.

    Without ``overwrite`` an existing file is refused (``ApprovalRequired``) before any
    work, and again atomically at the end should one appear meanwhile. Either way the
    file appears complete or not at all (see :mod:`orchestration.sample.writer`).
    """
    _check_lines(lines)
    path = Path(path)
    if not overwrite:
        refuse_to_overwrite(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tables = build_tables(lines, seed)
    write_source(path, tables, overwrite=overwrite)
    return SampleSummary(
        path=path,
        seed=seed,
        lines=lines,
        anchor_date=ANCHOR_DATE,
        row_counts={name: tables[name].num_rows for name in SOURCE_TABLES},
    )


def generate_postgres(
    source: PostgresSource, lines: int = 5000, seed: int = 42, *, overwrite: bool = False
) -> SampleSummary:
    """Write the same sample into a PostgreSQL database, in one transaction.

    Existing sample tables are refused without ``overwrite`` (``ApprovalRequired``).
    """
    from orchestration.sample.postgres import write_postgres

    _check_lines(lines)
    tables = build_tables(lines, seed)
    write_postgres(source, tables, overwrite=overwrite)
    return SampleSummary(
        path=source,
        seed=seed,
        lines=lines,
        anchor_date=ANCHOR_DATE,
        row_counts={name: tables[name].num_rows for name in SOURCE_TABLES},
    )
