"""Environment selection and settings validation (pure: takes a mapping, returns values).

``SPYNE_ENV`` picks one of a closed set of environments; anything else is refused
at start. Paths default under ``SPYNE_HOME``; secrets come only from the mapping
(the process environment), never from files in the repo.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from pathlib import PurePosixPath

from policies.errors import ConfigError


class Environment(StrEnum):
    LOCAL = "local"
    CI = "ci"
    PROD = "prod"


class WarehouseKind(StrEnum):
    DUCKDB = "duckdb"
    BIGQUERY = "bigquery"


def parse_environment(raw: str | None) -> Environment:
    value = (raw or Environment.LOCAL.value).strip().lower()
    try:
        return Environment(value)
    except ValueError:
        allowed = ", ".join(e.value for e in Environment)
        raise ConfigError(
            f"SPYNE_ENV={raw!r} is not a known environment; set it to one of: {allowed}",
            details={
                "variable": "SPYNE_ENV",
                "value": raw,
                "allowed": [e.value for e in Environment],
            },
        ) from None


@dataclass(frozen=True, kw_only=True)
class SpyneSettings:
    """Everything an environment needs to know; built by :func:`settings_from_mapping`.

    A plain frozen dataclass: every value is validated by the function that builds it, and
    every command reads settings first, so they cost no validation library at start-up.
    """

    env: Environment
    home: str
    warehouse_kind: WarehouseKind
    warehouse_path: str | None
    source_path: str | None
    catalog_url: str
    catalog_owner_url: str | None = None  # PostgreSQL: the role that owns and migrates the catalog
    dagster_home: str
    gx_root: str
    bigquery_project: str | None = None
    bigquery_location: str | None = None
    bigquery_max_bytes: int | None = None  # the most one query may scan (dry run) and bill
    dbt_target: str
    source_url: str | None = None  # a PostgreSQL source (SPYNE_SOURCE_URL); else the DuckDB file

    @property
    def is_embedded(self) -> bool:
        return self.warehouse_kind == WarehouseKind.DUCKDB


def _require(mapping: Mapping[str, str], name: str, env: Environment, why: str) -> str:
    value = mapping.get(name, "").strip()
    if not value:
        raise ConfigError(
            f"{name} must be set when SPYNE_ENV={env.value} ({why})",
            details={"variable": name, "env": env.value},
        )
    return value


DEFAULT_BQ_LOCATION = "US"  # where BigQuery puts a dataset created without a location
DEFAULT_BQ_MAX_BYTES = 10 * 1024**3


def _max_bytes(mapping: Mapping[str, str]) -> int:
    raw = mapping.get("SPYNE_BQ_MAX_BYTES", "").strip().replace("_", "")
    if not raw:
        return DEFAULT_BQ_MAX_BYTES
    if not (raw.isascii() and raw.isdigit()) or int(raw) < 1:
        raise ConfigError(
            f"SPYNE_BQ_MAX_BYTES must be a whole number of bytes above 0 (the most one query may "
            f"scan, e.g. 10737418240 for 10 GiB), got {raw!r}",
            details={"variable": "SPYNE_BQ_MAX_BYTES", "value": raw},
        )
    return int(raw)


def settings_from_mapping(mapping: Mapping[str, str], default_home: str) -> SpyneSettings:
    """Validate the environment's variables into settings; refuse anything incoherent."""
    env = parse_environment(mapping.get("SPYNE_ENV"))
    home = mapping.get("SPYNE_HOME", "").strip() or default_home
    root = PurePosixPath(home)

    if env == Environment.PROD:
        catalog = _require(mapping, "SPYNE_CATALOG_URL", env, "the catalog is PostgreSQL in prod")
        project = _require(mapping, "SPYNE_BQ_PROJECT", env, "the warehouse is BigQuery in prod")
        warehouse_kind = WarehouseKind.BIGQUERY
        warehouse_path = None
        location: str | None = mapping.get("SPYNE_BQ_LOCATION", "").strip() or DEFAULT_BQ_LOCATION
        max_bytes: int | None = _max_bytes(mapping)
    else:
        warehouse_kind = WarehouseKind.DUCKDB
        warehouse_path = mapping.get("SPYNE_WAREHOUSE_PATH", "").strip() or str(
            root / "warehouse.duckdb"
        )
        project = None
        location = mapping.get("SPYNE_BQ_LOCATION", "").strip() or None
        max_bytes = None
        if env == Environment.CI:
            catalog = _require(
                mapping, "SPYNE_CATALOG_URL", env, "the catalog is a real PostgreSQL server in ci"
            )
        else:
            catalog = (
                mapping.get("SPYNE_CATALOG_URL", "").strip() or f"sqlite:///{root / 'catalog.db'}"
            )

    if env != Environment.LOCAL and catalog.startswith("sqlite"):
        raise ConfigError(
            f"SPYNE_CATALOG_URL must point to PostgreSQL when SPYNE_ENV={env.value}, got a SQLite URL",
            details={"variable": "SPYNE_CATALOG_URL", "env": env.value},
        )
    if not (catalog.startswith("sqlite") or catalog.startswith("postgresql")):
        raise ConfigError(
            "SPYNE_CATALOG_URL must be a sqlite:/// or postgresql:// URL",
            details={"variable": "SPYNE_CATALOG_URL"},
        )

    owner = mapping.get("SPYNE_CATALOG_OWNER_URL", "").strip() or None
    if owner is not None and not (
        owner.startswith("postgresql") and catalog.startswith("postgresql")
    ):
        raise ConfigError(
            "SPYNE_CATALOG_OWNER_URL is for a PostgreSQL catalog (the role that owns it); "
            "leave it unset with SQLite",
            details={"variable": "SPYNE_CATALOG_OWNER_URL"},
        )

    source_url = mapping.get("SPYNE_SOURCE_URL", "").strip() or None
    if source_url is not None and not source_url.startswith("postgresql"):
        raise ConfigError(
            "SPYNE_SOURCE_URL must be a postgresql:// URL (the ERP's database); leave it unset "
            "to read the DuckDB file SPYNE_SOURCE_PATH",
            details={"variable": "SPYNE_SOURCE_URL"},
        )

    return SpyneSettings(
        env=env,
        home=home,
        warehouse_kind=warehouse_kind,
        warehouse_path=warehouse_path,
        source_path=mapping.get("SPYNE_SOURCE_PATH", "").strip() or str(root / "erp_source.duckdb"),
        catalog_url=catalog,
        catalog_owner_url=owner,
        dagster_home=mapping.get("DAGSTER_HOME", "").strip() or str(root / "dagster"),
        gx_root=str(root / "gx"),
        bigquery_project=project,
        bigquery_location=location,
        bigquery_max_bytes=max_bytes,
        dbt_target=env.value,
        source_url=source_url,
    )
