"""The live objects an ingestion needs, from the runtime (kept apart so imports stay lazy)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from orchestration.ingestion.bronze import BronzeIngest
from orchestration.warehouse import DuckDBWarehouse, Warehouse

if TYPE_CHECKING:
    from orchestration.runtime import Runtime

DLT_DIR = "dlt"  # dlt's working directories, under SPYNE_HOME
LANDING_FILE = "staging.duckdb"  # where dlt lands beside a warehouse that is not DuckDB (not
# named like its dataset `landing`: DuckDB would not tell the file from the schema)


def landing_for(warehouse: Warehouse, home: Path) -> DuckDBWarehouse:
    """The DuckDB file dlt lands into and the ledger lives in: the warehouse itself on DuckDB.

    Beside BigQuery it is a staging file under SPYNE_HOME (created on first use): the source is
    read from the company's database anyway, and only each load's new rows go to BigQuery.
    """
    if isinstance(warehouse, DuckDBWarehouse):
        return warehouse
    landing = DuckDBWarehouse(home / LANDING_FILE)
    landing.create()
    return landing


def bronze_ingest(rt: Runtime) -> BronzeIngest:
    warehouse = rt.warehouse
    landing = landing_for(warehouse, rt.home)
    return BronzeIngest(rt.catalog, warehouse, rt.source, rt.home / DLT_DIR, landing=landing)
