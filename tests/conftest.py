"""Shared fixtures: an isolated SPYNE_HOME per test, and the parsed dbt project."""

from __future__ import annotations

import fcntl
import os
from collections.abc import Iterator
from pathlib import Path

import pytest

SPYNE_VARS = (
    "SPYNE_ENV",
    "SPYNE_HOME",
    "SPYNE_CATALOG_URL",
    "SPYNE_WAREHOUSE_PATH",
    "SPYNE_SOURCE_PATH",
    "SPYNE_SOURCE_URL",
    "SPYNE_API_KEY",
    "SPYNE_SERVICE_KEY",
    "SPYNE_CATALOG_OWNER_URL",
    "SPYNE_DAGSTER_PG_URL",
)


@pytest.fixture
def spyne_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A brand-new local install in tmp_path (embedded DuckDB + SQLite)."""
    for var in SPYNE_VARS:
        monkeypatch.delenv(var, raising=False)
    home = tmp_path / "spyne_home"
    monkeypatch.setenv("SPYNE_ENV", "local")
    monkeypatch.setenv("SPYNE_HOME", str(home))
    monkeypatch.setenv("SPYNE_WAREHOUSE_PATH", str(home / "warehouse.duckdb"))
    monkeypatch.setenv("DAGSTER_HOME", str(home / "dagster"))
    yield home


@pytest.fixture
def installed_home(spyne_home: Path) -> Path:
    """A brand-new local install, created the way `spyne init` does."""
    from orchestration.install import init

    init()
    return spyne_home


@pytest.fixture(scope="session", autouse=True)
def _dbt_manifest() -> None:
    """Parse the dbt project once so Dagster definitions can load (as scripts/setup.sh does).

    Test workers running in parallel (pytest -n) take turns: one parse at a time writes target/.
    """
    from dbt.cli.main import dbtRunner

    from orchestration.environment import DBT_PROJECT_DIR

    os.environ.setdefault("SPYNE_WAREHOUSE_PATH", str(DBT_PROJECT_DIR / "target" / "parse.duckdb"))
    (DBT_PROJECT_DIR / "target").mkdir(exist_ok=True)
    with open(DBT_PROJECT_DIR / "target" / ".parse.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        result = dbtRunner().invoke(
            [
                "parse",
                "--quiet",
                "--project-dir",
                str(DBT_PROJECT_DIR),
                "--profiles-dir",
                str(DBT_PROJECT_DIR),
            ]
        )
    assert result.success, result.exception
