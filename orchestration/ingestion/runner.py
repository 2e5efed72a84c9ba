"""The live objects an ingestion needs, from the runtime (kept apart so imports stay lazy)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from orchestration.ingestion.bronze import BronzeIngest
from orchestration.warehouse import DuckDBWarehouse
from policies.errors import ConfigError

if TYPE_CHECKING:
    from orchestration.runtime import Runtime

DLT_DIR = "dlt"  # dlt's working directories, under SPYNE_HOME


def bronze_ingest(rt: Runtime) -> BronzeIngest:
    warehouse = rt.warehouse
    if not isinstance(warehouse, DuckDBWarehouse):
        raise ConfigError(
            "contract-driven ingestion lands with dlt into the DuckDB warehouse only so far; "
            "on BigQuery the bronze layer copies each source table whole",
            details={"warehouse": warehouse.location},
        )
    return BronzeIngest(rt.catalog, warehouse, rt.source, rt.home / DLT_DIR)
