"""Business totals computed straight from a source ERP file, independently of dbt.

Gold models are reconciled against these numbers. The SQL is written separately from
the dbt models on purpose: a mistake in silver or gold (a dropped row, a duplicate that
survived, a refund added instead of subtracted) then shows up as a mismatch instead of
being repeated on both sides of the comparison.
"""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import duckdb

# Each table is reduced to its latest version per id, as a CDC consumer must.
_METRICS_SQL = """
with partners as (
    select * from main.res_partner
    qualify row_number() over (partition by id order by write_date desc) = 1
),
orders as (
    select * from main.sale_order
    qualify row_number() over (partition by id order by write_date desc) = 1
),
order_lines as (
    select * from main.sale_order_line
    qualify row_number() over (partition by id order by write_date desc) = 1
),
moves as (
    select * from main.account_move
    qualify row_number() over (partition by id order by write_date desc) = 1
),
payments as (
    select * from main.account_payment
    qualify row_number() over (partition by id order by write_date desc) = 1
),
confirmed as (
    select * from orders where state in ('sale', 'done')
)
select
    (select coalesce(sum(case move_type when 'out_refund' then -amount_total else amount_total end), 0)
       from moves
      where state = 'posted' and move_type in ('out_invoice', 'out_refund'))
        as invoiced_revenue,
    (select coalesce(sum(amount_residual), 0)
       from moves where state = 'posted' and move_type = 'out_invoice')
        as open_residual,
    (select count(*)
       from moves where state = 'posted' and move_type = 'out_invoice' and amount_residual > 0)
        as open_invoices,
    (select coalesce(sum(amount), 0)
       from payments where state = 'posted' and payment_type = 'inbound')
        as paid_amount,
    (select count(*) from confirmed) as confirmed_orders,
    (select coalesce(sum(amount_total), 0) from confirmed) as confirmed_order_revenue,
    (select coalesce(sum(amount_untaxed), 0) from confirmed) as confirmed_order_revenue_untaxed,
    (select count(*) from order_lines where order_id in (select id from confirmed))
        as confirmed_order_lines,
    (select count(distinct date_order::date) from confirmed) as sales_days,
    (select count(*) from partners where customer_rank > 0) as customers
"""


def source_metrics(source_path: Path) -> dict[str, Decimal | int]:
    """Totals that gold must reproduce: revenue, receivables, confirmed sales, customers.

    Money is returned as ``Decimal`` and counts as ``int`` so comparisons are exact.
    """
    con = duckdb.connect(str(source_path), read_only=True)
    try:
        cursor = con.execute(_METRICS_SQL)
        row = cursor.fetchone()
        names = [d[0] for d in cursor.description or ()]
    finally:
        con.close()
    if row is None:  # pragma: no cover - an aggregate query always returns one row
        raise RuntimeError("metrics query returned no row")
    metrics: dict[str, Decimal | int] = {}
    for name, value in zip(names, row, strict=True):
        metrics[name] = value if isinstance(value, Decimal) else int(value)
    return metrics
