"""One lifecycle suite, two adapters: a real DuckDB file, or BigQuery through the fake client.

``adapter(kind, ...)`` builds a warehouse and the few things a test does *around* Spyne that
differ per warehouse: describing a version the way dbt does, and pinning a scan's cost.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import sqlalchemy as sa
from sqlglot import exp

from orchestration.warehouse import DuckDBWarehouse, Warehouse
from orchestration.warehouse.act_lock import catalog_act_lock
from orchestration.warehouse.bigquery_warehouse import BigQueryWarehouse
from policies.naming import TableRef
from tests.bigquery_fake import FakeBigQueryClient

KINDS = ("duckdb", "bigquery")
PROJECT = "spyne-test"
MAX_BYTES = 10 * 1024**3


@dataclass
class Adapter:
    kind: str
    warehouse: Warehouse
    fake: FakeBigQueryClient | None = None

    def describe(self, ref: TableRef, version: int, table: str, columns: dict[str, str]) -> None:
        """Document a version as dbt does (DuckDB comments; BigQuery table metadata)."""
        if isinstance(self.warehouse, DuckDBWarehouse):
            with self.warehouse.connect() as con:
                target = f"{ref.shadow_schema}.{ref.version_identifier(version)}"
                con.execute(f"comment on table {target} is '{table}'")
                for column, text in columns.items():
                    con.execute(f"comment on column {target}.{column} is '{text}'")
            return
        assert self.fake is not None
        self.fake.describe(ref.shadow_schema, ref.version_identifier(version), table, columns)

    def visible_rows(self, ref: TableRef) -> int:
        """Rows the canonical view shows, counted in the warehouse through the read entry point."""
        query = exp.select(exp.func("count", exp.Star())).from_(
            exp.table_(ref.name, db=ref.layer.value)
        )
        ((count,),) = self.warehouse.profile(query, table=ref)
        return int(str(count))


def adapter(
    kind: str, tmp_path: Path, catalog_engine: sa.Engine, lock_wait: float = 5.0
) -> Adapter:
    if kind == "duckdb":
        warehouse = DuckDBWarehouse(tmp_path / "warehouse.duckdb")
        warehouse.create()
        return Adapter(kind, warehouse)
    fake = FakeBigQueryClient(PROJECT)
    bigquery = BigQueryWarehouse(
        fake,
        project=PROJECT,
        location="EU",
        max_bytes=MAX_BYTES,
        lock=catalog_act_lock(catalog_engine, wait_seconds=lock_wait),
    )
    return Adapter(kind, bigquery, fake)
