"""The warehouse: immutable table versions, canonical views over them, manifests.

:class:`Warehouse` is the interface every caller is typed against; ``DuckDBWarehouse`` is
the embedded warehouse (local, ci) and ``BigQueryWarehouse`` (prod,
:mod:`orchestration.warehouse.bigquery_warehouse`, imported only where it is built) the
cloud one. Every statement is a sqlglot expression from :mod:`.statements`; names come from
validated ``TableRef``s only.
"""

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
