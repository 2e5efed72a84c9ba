"""The warehouse: immutable table versions, canonical views over them, manifests.

``DuckDBWarehouse`` is the embedded warehouse (local, ci). Every statement is a sqlglot
expression; names come from validated ``TableRef``s only.
"""

from orchestration.warehouse.duckdb_warehouse import (
    DuckDBWarehouse,
    VersionManifest,
    WarehouseInventory,
    canonical_table,
    version_table,
)

__all__ = [
    "DuckDBWarehouse",
    "VersionManifest",
    "WarehouseInventory",
    "canonical_table",
    "version_table",
]
