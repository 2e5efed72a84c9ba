"""The warehouse: immutable table versions, canonical views over them, manifests.

:class:`Warehouse` is the interface every caller is typed against; ``DuckDBWarehouse`` is
the embedded warehouse (local, ci) and ``BigQueryWarehouse`` (prod,
:mod:`orchestration.warehouse.bigquery_warehouse`, imported only where it is built) the
cloud one. Every statement is a sqlglot expression from :mod:`.statements`; names come from
validated ``TableRef``s only.

SQLAlchemy's ORM is loaded here, before DuckDB, in every process that opens the warehouse:
DuckDB 2 (nanobind) reports the objects still alive when it is torn down at exit as "leaked",
and the SQLAlchemy dialect caches that the Great Expectations gates fill outlive it unless the
ORM's modules came first (measured: 39 lines of leak reports at the end of every process that
ran a gate otherwise, Dagster's run workers included).
"""

import sqlalchemy.orm  # noqa: F401  (before DuckDB: see above)

from orchestration.warehouse.duckdb_warehouse import (
    DuckDBWarehouse,
    canonical_table,
    version_table,
)
from orchestration.warehouse.interface import (
    CostEstimate,
    Descriptions,
    QueryResult,
    RowEstimate,
    VersionManifest,
    Warehouse,
    WarehouseInventory,
    acting_as,
)

__all__ = [
    "CostEstimate",
    "Descriptions",
    "DuckDBWarehouse",
    "QueryResult",
    "RowEstimate",
    "VersionManifest",
    "Warehouse",
    "WarehouseInventory",
    "acting_as",
    "canonical_table",
    "version_table",
]
