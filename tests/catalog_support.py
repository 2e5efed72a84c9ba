"""Helpers shared by the catalog's integration tests (real databases, no doubles)."""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from alembic import command

from orchestration.catalog import Catalog, TableInfo, VersionInfo, alembic_config, database_url
from policies.lifecycle import TableState, Transition
from policies.naming import parse_table_ref
from tests.pg import CatalogUrls

ROOT = Path(__file__).resolve().parents[1]
REF = parse_table_ref("silver.customers")
NAME = REF.canonical
SCHEMA = [
    {"name": "customer_id", "data_type": "INTEGER", "nullable": False},
    {"name": "email", "data_type": "VARCHAR", "nullable": True},
]
APPEND_ONLY = ["audit_log", "state_history", "system_modes"]
ALL_TABLES = {
    "principals",
    "system_modes",
    "tables",
    "table_versions",
    "state_history",
    "audit_log",
    "intents",
    "run_grants",
    "dead_letters",
    "notifications",
    "notification_deliveries",
    "source_drift_reports",
}


def open_catalog(urls: CatalogUrls, **kwargs: Any) -> Catalog:
    """The catalog as Spyne opens it (application role; the owner only migrates)."""
    return Catalog(urls.url, owner_url=urls.owner_url, **kwargs)


def admin_engine(urls: CatalogUrls) -> sa.Engine:
    """A plain engine with the owner's rights, none of the catalog's code in the way."""
    return sa.create_engine(database_url(urls.admin_url), poolclass=sa.pool.NullPool)


def alembic_to(urls: CatalogUrls, revision: str, *, down: bool = False) -> None:
    """Run Alembic to one revision as the owner (what `spyne init` of an older Spyne did)."""
    if not urls.is_pg:
        Path(database_url(urls.url).database or "").parent.mkdir(parents=True, exist_ok=True)
    engine = admin_engine(urls)
    try:
        with engine.begin() as conn:
            cfg: Any = alembic_config()
            cfg.attributes["connection"] = conn
            (command.downgrade if down else command.upgrade)(cfg, revision)
    finally:
        engine.dispose()


def register(c: Catalog, version: int, content_hash: str | None = None) -> VersionInfo:
    return c.register_version(
        NAME,
        version,
        f"silver__shadow.customers__v{version}",
        10 * version,
        SCHEMA,
        content_hash or f"hash-{version}",
        build_run_id=f"run-{version}",
    )


def move(
    c: Catalog,
    transition: Transition,
    to_state: TableState,
    version: int | None,
    actor: str = "ada",
) -> TableInfo:
    with c.transition(NAME) as tx:
        return tx.set_state(to_state, transition, version, actor, reason=f"{transition} test")


def promote(c: Catalog, version: int, actor: str = "ada") -> TableInfo:
    return move(c, Transition.PROMOTE, TableState.ACTIVE, version, actor)


def seeded(c: Catalog, versions: int = 3) -> None:
    c.ensure_table(REF)
    for v in range(1, versions + 1):
        register(c, v)


def rows(engine: sa.Engine, table: str) -> list[tuple[Any, ...]]:
    with engine.connect() as conn:
        return [tuple(r) for r in conn.execute(sa.text(f"SELECT * FROM {table} ORDER BY 1"))]


def run_threads(*fns: Callable[[], Any]) -> list[Any]:
    with ThreadPoolExecutor(max_workers=len(fns)) as pool:
        futures = [pool.submit(fn) for fn in fns]
        return [f.result(timeout=60) for f in futures]


def run_processes(script: str, argv: Sequence[Sequence[str]], timeout: float = 90) -> list[str]:
    """Start one Python process per argument list at once; their stdout, or the failure."""
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", script, *args],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            cwd=ROOT,
        )
        for args in argv
    ]
    outputs = []
    deadline = time.monotonic() + timeout
    for proc in procs:
        out, err = proc.communicate(timeout=max(1.0, deadline - time.monotonic()))
        assert proc.returncode == 0, err
        outputs.append(out)
    return outputs
