"""Integration fixtures: real databases only (a SQLite file, a real PostgreSQL server).

``pg_roles`` gives each test an empty PostgreSQL database of its own, reached as its owner and
as the application role (see tests/pg.py); ``pg_url`` is the owner's URL of that database.
``catalog_urls`` runs a test once on SQLite and once on PostgreSQL, connected the way a
deployment connects (the application role, with the owner to migrate).
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa

_ROOT = str(Path(__file__).resolve().parents[2])
if _ROOT not in sys.path:
    sys.path.insert(0, _ROOT)

from orchestration.catalog import Catalog  # noqa: E402
from tests.catalog_support import admin_engine, open_catalog  # noqa: E402
from tests.pg import (  # noqa: E402
    CatalogUrls,
    PgRoles,
    PostgresUnavailable,
    fresh_database,
    pg_required,
    server_roles,
)


@pytest.fixture(scope="session")
def pg_server() -> PgRoles:
    """The PostgreSQL server for this session; skips (or fails with SPYNE_REQUIRE_PG=1) without one."""
    try:
        return server_roles()
    except PostgresUnavailable as exc:
        if pg_required():
            pytest.fail(f"SPYNE_REQUIRE_PG=1 but PostgreSQL is unavailable: {exc}")
        pytest.skip(f"PostgreSQL unavailable: {exc}")


@pytest.fixture
def pg_roles(pg_server: PgRoles) -> Iterator[PgRoles]:
    """An empty database of this test's own on the real server, dropped afterwards."""
    with fresh_database(pg_server) as roles:
        yield roles


@pytest.fixture
def pg_url(pg_roles: PgRoles) -> str:
    """The owner's URL of this test's own empty database."""
    return pg_roles.owner_url


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    # A nested directory: creating the parent is part of what upgrade() must do.
    return f"sqlite:///{tmp_path / 'home' / 'catalog.db'}"


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def catalog_urls(request: pytest.FixtureRequest) -> CatalogUrls:
    """The same test on both catalog backends; on PostgreSQL as the application role."""
    if request.param == "sqlite":
        return CatalogUrls(str(request.getfixturevalue("sqlite_url")))
    roles: PgRoles = request.getfixturevalue("pg_roles")
    return CatalogUrls(roles.app_url, owner_url=roles.owner_url)


@pytest.fixture
def catalog(catalog_urls: CatalogUrls) -> Iterator[Catalog]:
    """A migrated catalog, opened as Spyne opens it (and checked the way every command checks)."""
    c = open_catalog(catalog_urls)
    c.upgrade()
    c.check_ready()
    yield c
    c.dispose()


@pytest.fixture
def raw(catalog_urls: CatalogUrls) -> Iterator[sa.Engine]:
    """A plain engine with the owner's rights, none of the catalog's code in the way."""
    engine = admin_engine(catalog_urls)
    yield engine
    engine.dispose()
