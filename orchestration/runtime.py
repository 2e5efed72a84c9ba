"""One place that turns settings into live objects (catalog, warehouse, policy, service)."""

from __future__ import annotations

import os
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING

import yaml

from orchestration.environment import POLICY_DEFAULTS_DIR, ensure_home, load_settings
from policies.errors import ConfigError
from policies.publish import PublishingPolicy
from policies.settings import SpyneSettings

if TYPE_CHECKING:
    # Imported when a runtime is built, not when this module is: loading the Dagster code
    # location needs export_dbt_env, not SQLAlchemy, Alembic and DuckDB.
    from orchestration.catalog import Catalog
    from orchestration.services import TableService
    from orchestration.warehouse import DuckDBWarehouse


def load_publishing_policy(home: Path) -> PublishingPolicy:
    """Defaults shipped beside the policy code, overridden by $SPYNE_HOME/policies/publishing.yaml."""
    data = yaml.safe_load((POLICY_DEFAULTS_DIR / "publishing.yaml").read_text()) or {}
    override = home / "policies" / "publishing.yaml"
    if override.exists():
        extra = yaml.safe_load(override.read_text()) or {}
        if not isinstance(extra, dict):
            raise ConfigError(f"{override} must be a mapping", details={"path": str(override)})
        tables = {**data.get("tables", {}), **extra.get("tables", {})}
        data = {**data, **extra, "tables": tables}
    return PublishingPolicy.from_mapping(data)


def export_dbt_env(s: SpyneSettings) -> None:
    """dbt's profiles.yml reads these; set them from validated settings before any dbt call."""
    os.environ.setdefault("SPYNE_ENV", s.env.value)
    if s.warehouse_path:
        os.environ["SPYNE_WAREHOUSE_PATH"] = s.warehouse_path
    if s.bigquery_project:
        os.environ.setdefault("SPYNE_BQ_PROJECT", s.bigquery_project)


@dataclass
class Runtime:
    settings: SpyneSettings
    catalog: Catalog
    warehouse: DuckDBWarehouse
    policy: PublishingPolicy

    def service(self) -> TableService:
        from orchestration.services import TableService

        return TableService(self.catalog, self.warehouse, self.policy)

    @property
    def source_path(self) -> Path:
        assert self.settings.source_path is not None
        return Path(self.settings.source_path)


def build_runtime(s: SpyneSettings | None = None) -> Runtime:
    from orchestration.catalog import Catalog
    from orchestration.warehouse import DuckDBWarehouse

    s = s or load_settings()
    home = ensure_home(s)
    export_dbt_env(s)
    if s.warehouse_path is None:
        raise ConfigError(
            "this build of Spyne runs its lifecycle on the embedded DuckDB warehouse; "
            "SPYNE_ENV=prod (BigQuery) is configured through dbt's prod target",
            details={"env": s.env.value},
        )
    catalog = Catalog(s.catalog_url)
    catalog.upgrade()
    return Runtime(s, catalog, DuckDBWarehouse(s.warehouse_path), load_publishing_policy(home))


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
            "SPYNE_WAREHOUSE_PATH",
            "SPYNE_SOURCE_PATH",
        )
    )
    return _cached(key)
