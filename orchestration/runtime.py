"""One place that turns settings into live objects (catalog, warehouse, policy, service).

Opening is cheap and never creates anything: the catalog is checked in one round trip
(schema, guards), the warehouse file must exist, and DuckDB (or BigQuery's client, in prod) is
imported only when the warehouse is first used. ``spyne init`` (:mod:`orchestration.install`)
creates an install.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from functools import cached_property, lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

from orchestration.environment import POLICY_DEFAULTS_DIR, load_settings
from policies.errors import ConfigError, NotInitialized
from policies.settings import SpyneSettings, WarehouseKind

if TYPE_CHECKING:
    # Imported when a runtime is built, not when this module is: loading the Dagster code
    # location needs export_dbt_env, not SQLAlchemy, Alembic and DuckDB.
    from orchestration.catalog import Catalog
    from orchestration.identity import Actor
    from orchestration.lifecycle.service import TableService
    from orchestration.sources import SourceLocation
    from orchestration.warehouse import Warehouse
    from policies.publishing import PublishingPolicy
    from policies.roles import Operation

POLICY_FILE = "publishing.yaml"


def _read_yaml(path: Path) -> Any:
    import yaml

    try:
        return yaml.safe_load(path.read_text(encoding="utf-8"))
    except UnicodeDecodeError as exc:
        raise ConfigError(
            f"{path} is not UTF-8 text (byte {exc.start}); save it as UTF-8",
            details={"path": str(path)},
        ) from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        raise ConfigError(
            f"{path} is not valid YAML{where}: {getattr(exc, 'problem', None) or exc}",
            details={"path": str(path)},
        ) from None
    except OSError as exc:
        raise ConfigError(
            f"cannot read {path}: {exc.strerror}", details={"path": str(path)}
        ) from None


def load_publishing_policy(home: Path) -> PublishingPolicy:
    """Defaults shipped beside the policy code, overridden by $SPYNE_HOME/policies/publishing.yaml."""
    from policies.publishing import PublishingPolicy

    data = _read_yaml(POLICY_DEFAULTS_DIR / POLICY_FILE) or {}
    override = home / "policies" / POLICY_FILE
    if override.exists():
        extra = _read_yaml(override) or {}
        if not isinstance(extra, dict):
            raise ConfigError(f"{override} must be a mapping", details={"path": str(override)})
        tables = {**(data.get("tables") or {}), **(extra.get("tables") or {})}
        data = {**data, **extra, "tables": tables}
    return PublishingPolicy.from_mapping(data)


def export_dbt_env(s: SpyneSettings) -> None:
    """dbt's profiles.yml reads these; set them from validated settings before any dbt call."""
    os.environ.setdefault("SPYNE_ENV", s.env.value)
    if s.warehouse_path:
        os.environ["SPYNE_WAREHOUSE_PATH"] = s.warehouse_path
    if s.bigquery_project:
        os.environ.setdefault("SPYNE_BQ_PROJECT", s.bigquery_project)


def private_umask() -> None:
    """Files Spyne creates (catalog, warehouse, logs, keys) are readable by their owner only."""
    os.umask(0o077)


@dataclass
class Runtime:
    settings: SpyneSettings
    catalog: Catalog
    _service: TableService | None = field(default=None, repr=False)

    @cached_property
    def policy(self) -> PublishingPolicy:
        """Read when first needed: commands that do not publish never pay for its validation."""
        return load_publishing_policy(Path(self.settings.home))

    @cached_property
    def warehouse(self) -> Warehouse:
        """BigQuery in prod, the DuckDB file otherwise: the settings chose (``warehouse_kind``)."""
        if self.settings.warehouse_kind == WarehouseKind.BIGQUERY:
            from orchestration.warehouse.bigquery_warehouse import bigquery_from_settings

            return bigquery_from_settings(self.settings, self.catalog.engine)
        from orchestration.warehouse import DuckDBWarehouse

        if self.settings.warehouse_path is None:
            raise ConfigError(
                "the embedded DuckDB warehouse needs SPYNE_WAREHOUSE_PATH",
                details={"env": self.settings.env.value, "variable": "SPYNE_WAREHOUSE_PATH"},
            )
        warehouse = DuckDBWarehouse(self.settings.warehouse_path)
        if not warehouse.exists():
            raise NotInitialized(
                f"the warehouse file {warehouse.path} does not exist. For a new install run "
                "`spyne init`; if it held data, restore it from a backup (the catalog still "
                "lists its tables)",
                details={"path": str(warehouse.path)},
            )
        return warehouse

    def require(self, actor: Actor, operation: Operation, target: str) -> None:
        """Refuse (audited) unless ``actor`` may do ``operation`` now; needs no warehouse."""
        from orchestration.lifecycle.access import Access

        Access(self.catalog).require(actor, operation, target)

    def service(self) -> TableService:
        if self._service is None:
            from orchestration.lifecycle.service import TableService

            self._service = TableService(self.catalog, self.warehouse, self.policy)
        return self._service

    @property
    def home(self) -> Path:
        return Path(self.settings.home)

    @property
    def source_path(self) -> Path:
        assert self.settings.source_path is not None
        return Path(self.settings.source_path)

    @property
    def source(self) -> SourceLocation:
        """What ingestion reads: the PostgreSQL source when configured, else the DuckDB file."""
        if self.settings.source_url:
            from orchestration.sources import PostgresSource

            return PostgresSource(self.settings.source_url)
        return self.source_path


def open_catalog(s: SpyneSettings) -> Catalog:
    from orchestration.catalog import Catalog

    return Catalog(s.catalog_url, owner_url=s.catalog_owner_url)


def build_runtime(s: SpyneSettings | None = None) -> Runtime:
    """The live objects of an existing install; refuses (typed) when there is none."""
    s = s or load_settings()
    private_umask()
    export_dbt_env(s)
    catalog = open_catalog(s)
    catalog.check_ready()
    return Runtime(s, catalog)


@lru_cache(maxsize=4)
def _cached(key: tuple[str, ...]) -> Runtime:
    return build_runtime()


def runtime() -> Runtime:
    """Per-process runtime, rebuilt when the relevant environment changes (tests switch homes)."""
    key = tuple(
        os.environ.get(k, "")
        for k in (
            "SPYNE_ENV",
            "SPYNE_HOME",
            "SPYNE_CATALOG_URL",
            "SPYNE_CATALOG_OWNER_URL",
            "SPYNE_WAREHOUSE_PATH",
            "SPYNE_SOURCE_PATH",
            "SPYNE_SOURCE_URL",
            "SPYNE_BQ_PROJECT",
            "SPYNE_BQ_LOCATION",
            "SPYNE_BQ_MAX_BYTES",
        )
    )
    return _cached(key)
