"""Integration fixtures: real databases only (a SQLite file, a real PostgreSQL server).

``pg_url`` gives each test an empty PostgreSQL database of its own (see tests/pg.py);
``catalog_url`` runs a test once on SQLite and once on PostgreSQL.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

_ROOT = str(Path(__file__).resolve().parents[2])
if _ROOT not in sys.path:
    sys.path.insert(0, _ROOT)

from tests.pg import PostgresUnavailable, fresh_database, pg_required, server_url  # noqa: E402


@pytest.fixture(scope="session")
def pg_server_url() -> str:
    """The PostgreSQL server for this session; skips (or fails with SPYNE_REQUIRE_PG=1) without one."""
    try:
        return server_url()
    except PostgresUnavailable as exc:
        if pg_required():
            pytest.fail(f"SPYNE_REQUIRE_PG=1 but PostgreSQL is unavailable: {exc}")
        pytest.skip(f"PostgreSQL unavailable: {exc}")


@pytest.fixture
def pg_url(pg_server_url: str) -> Iterator[str]:
    """An empty database of this test's own on the real server, dropped afterwards."""
    with fresh_database(pg_server_url) as url:
        yield url


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    # A nested directory: creating the parent is part of what upgrade() must do.
    return f"sqlite:///{tmp_path / 'home' / 'catalog.db'}"


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def catalog_url(request: pytest.FixtureRequest) -> str:
    """The same test on both catalog backends."""
    if request.param == "sqlite":
        return str(request.getfixturevalue("sqlite_url"))
    return str(request.getfixturevalue("pg_url"))
