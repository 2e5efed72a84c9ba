"""`spyne init`: create an install on purpose, or bring an existing one up to date.

Nothing else ever creates a catalog or a warehouse. Init refuses to pair a new catalog with a
warehouse that already holds tables, or an existing catalog with a missing warehouse: either
would silently drop history or point every ACTIVE table at nothing.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

from orchestration.environment import ensure_home, load_settings
from orchestration.runtime import open_catalog, private_umask
from policies.errors import NotInitialized, StorageUnavailable
from policies.settings import SpyneSettings


@dataclass
class InitReport:
    home: str
    catalog: str
    warehouse: str | None
    created_catalog: bool
    created_warehouse: bool
    schema_revision: str | None
    restored_guards: list[str] = field(default_factory=list)
    # The shipped ingestion contracts: newly registered, and those the catalog keeps as it has them.
    contracts_registered: list[str] = field(default_factory=list)
    contracts_kept: list[str] = field(default_factory=list)

    @property
    def changed(self) -> bool:
        return self.created_catalog or self.created_warehouse or bool(self.restored_guards)


def _warehouse_has_tables(path: Path) -> bool:
    import duckdb

    try:
        with duckdb.connect(str(path), read_only=True) as con:
            row = con.execute(
                "select count(*) from information_schema.tables "
                "where table_schema not in ('information_schema', 'pg_catalog')"
            ).fetchone()
    except duckdb.Error as exc:
        raise StorageUnavailable(
            f"the warehouse file {path} cannot be opened: {str(exc).splitlines()[0]}",
            details={"path": str(path)},
        ) from exc
    return bool(row and row[0])


def init(s: SpyneSettings | None = None) -> InitReport:
    s = s or load_settings()
    private_umask()
    home = ensure_home(s)
    os.chmod(home, 0o700)
    catalog = open_catalog(s)
    try:
        before = catalog.schema_revision()
        warehouse_path = Path(s.warehouse_path) if s.warehouse_path else None
        warehouse_exists = warehouse_path is not None and warehouse_path.exists()
        if before is None and warehouse_exists and _warehouse_has_tables(warehouse_path):  # type: ignore[arg-type]
            raise NotInitialized(
                f"the warehouse {warehouse_path} holds tables but the catalog is missing or "
                "empty: a new catalog would forget every version, state and audit entry. "
                "Restore the catalog from a backup, or move the warehouse file away to start over",
                details={"warehouse": str(warehouse_path), "catalog": repr(catalog)},
            )
        if (
            before is not None
            and warehouse_path is not None
            and not warehouse_exists
            and catalog.list_tables()
        ):
            raise NotInitialized(
                f"the catalog lists tables but the warehouse {warehouse_path} is missing; "
                "restore the warehouse from a backup",
                details={"warehouse": str(warehouse_path)},
            )
        restored = catalog.upgrade()
        from orchestration.ingestion.contracts import register_shipped

        shipped = register_shipped(catalog)
        created_warehouse = False
        if warehouse_path is not None:
            from orchestration.warehouse import DuckDBWarehouse

            created_warehouse = DuckDBWarehouse(warehouse_path).create()
        return InitReport(
            home=str(home),
            catalog=repr(catalog),
            warehouse=str(warehouse_path) if warehouse_path else None,
            created_catalog=before is None,
            created_warehouse=created_warehouse,
            schema_revision=catalog.schema_revision(),
            restored_guards=restored if before is not None else [],
            contracts_registered=shipped.registered,
            contracts_kept=shipped.kept,
        )
    finally:
        catalog.dispose()
