"""A contract's newest event time landed, and how far behind now it is: read from the warehouse.

One aggregate per contract, ``MAX(event_time_column)`` over the canonical (ACTIVE) bronze view:
rows that arrive late for an old day never make it newer. Shared by the freshness sensor and the
metrics (no Dagster import here).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import TYPE_CHECKING

from sqlglot import exp

from policies.naming import Layer, TableRef

if TYPE_CHECKING:
    from orchestration.catalog import Catalog
    from orchestration.warehouse import Warehouse


def utc(value: object) -> datetime | None:
    """A warehouse timestamp as an aware UTC datetime (naive values are UTC)."""
    if value is None:
        return None
    if not isinstance(value, datetime):
        value = datetime.fromisoformat(str(value))
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def newest_landed(warehouse: Warehouse, table: str, column: str) -> datetime | None:
    """``MAX(column)`` of the canonical bronze view: one aggregate, one column scanned."""
    ref = TableRef(Layer.BRONZE, table)
    query = exp.select(exp.Max(this=exp.column(column))).from_(
        exp.table_(ref.name, db=ref.layer.value)
    )
    return utc(warehouse.read(query, max_rows=1).rows[0][0])


def ingestion_lags(
    catalog: Catalog, warehouse: Warehouse, now: datetime | None = None
) -> dict[str, float]:
    """Seconds from each contract's newest event time landed to ``now`` (contracts whose bronze
    table has an ACTIVE version and at least one event)."""
    at = now or datetime.now(UTC)
    active = catalog.alert_facts.active_schemas(Layer.BRONZE)
    out = {}
    for info in catalog.contracts.latest():
        if f"{Layer.BRONZE.value}.{info.table}" not in active:
            continue
        newest = newest_landed(warehouse, info.table, str(info.summary["event_time_column"]))
        if newest is not None:
            out[info.contract_id] = max((at - newest).total_seconds(), 0.0)
    return out
