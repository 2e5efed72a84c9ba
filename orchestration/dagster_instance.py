"""The Dagster instance for this environment: SQLite storage locally, PostgreSQL in ci/prod."""

from __future__ import annotations

import os
from pathlib import Path

import yaml
from dagster import DagsterInstance

from policies.errors import ConfigError
from policies.settings import Environment, SpyneSettings

DAGSTER_PG_ENV = "SPYNE_DAGSTER_PG_URL"


def instance_config(s: SpyneSettings) -> dict[str, object]:
    config: dict[str, object] = {"telemetry": {"enabled": False}}
    if s.env != Environment.LOCAL:
        if not os.environ.get(DAGSTER_PG_ENV):
            raise ConfigError(
                f"{DAGSTER_PG_ENV} must be set when SPYNE_ENV={s.env.value} (Dagster runs are stored in PostgreSQL)",
                details={"variable": DAGSTER_PG_ENV, "env": s.env.value},
            )
        config["storage"] = {"postgres": {"postgres_url": {"env": DAGSTER_PG_ENV}}}
    return config


def ensure_dagster_home(s: SpyneSettings) -> Path:
    """Write $DAGSTER_HOME/dagster.yaml for the environment (idempotent) and export DAGSTER_HOME."""
    home = Path(s.dagster_home)
    home.mkdir(parents=True, exist_ok=True)
    path = home / "dagster.yaml"
    text = yaml.safe_dump(instance_config(s), sort_keys=True)
    if not path.exists() or path.read_text() != text:
        path.write_text(text)
    os.environ["DAGSTER_HOME"] = str(home)
    return home


def dagster_instance(s: SpyneSettings) -> DagsterInstance:
    ensure_dagster_home(s)
    return DagsterInstance.get()
