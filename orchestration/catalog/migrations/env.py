"""Alembic environment for the catalog.

``Catalog.upgrade()`` hands over an open connection (``config.attributes["connection"]``)
so migrations run in the caller's transaction, on an engine with the catalog's SQLite
pragmas. Run from the command line (``alembic -c orchestration/catalog/alembic.ini``),
the URL comes from ``sqlalchemy.url`` or ``SPYNE_CATALOG_URL``.
"""

from __future__ import annotations

import os

import sqlalchemy as sa
from alembic import context

# Every module that declares catalog tables, so that Base.metadata holds them all.
from orchestration.catalog import (  # noqa: F401
    alert_models,
    join_models,
    pii,
    query_previews,
)
from orchestration.catalog.control_tables import VERSION_TABLE
from orchestration.catalog.engine import database_url
from orchestration.catalog.models import Base

config = context.config
target_metadata = Base.metadata


def _url() -> str:
    url = config.get_main_option("sqlalchemy.url") or os.environ.get("SPYNE_CATALOG_URL", "")
    if not url:
        raise RuntimeError(
            "set SPYNE_CATALOG_URL (or sqlalchemy.url) to the catalog's database URL"
        )
    return url


def _run(connection: sa.Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
        version_table=VERSION_TABLE,
    )
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_offline() -> None:
    context.configure(
        url=database_url(_url()),
        target_metadata=target_metadata,
        literal_binds=True,
        dialect_opts={"paramstyle": "named"},
        version_table=VERSION_TABLE,
    )
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    connection = config.attributes.get("connection")
    if connection is not None:
        _run(connection)
        return
    engine = sa.create_engine(database_url(_url()), poolclass=sa.pool.NullPool)
    try:
        with engine.connect() as conn:
            _run(conn)
    finally:
        engine.dispose()


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
