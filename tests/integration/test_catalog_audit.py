"""The audit log's hash chain, on a SQLite file and on PostgreSQL.

The database refuses to change audit rows; the chain shows a change made by someone who
could lift that refusal (the owner, or anyone with the SQLite file): ``verify_audit`` names
the first entry whose link does not hold.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from orchestration.catalog import Catalog
from orchestration.catalog.audit import row_chain_hash
from orchestration.catalog.control_tables import audit_log
from policies.modes import SystemMode
from tests.catalog_support import (
    NAME,
    admin_engine,
    alembic_to,
    open_catalog,
    promote,
    run_processes,
    run_threads,
    seeded,
)
from tests.pg import CatalogUrls


def chain(raw: sa.Engine) -> list[tuple[int, int | None]]:
    with raw.connect() as conn:
        return [
            (int(r[0]), r[1])
            for r in conn.execute(sa.text("SELECT id, seq FROM audit_log ORDER BY id"))
        ]


def assert_gapless_and_verified(catalog: Catalog, raw: sa.Engine, expected: int) -> None:
    links = chain(raw)
    assert [seq for _, seq in links] == list(range(1, expected + 1))
    verdict = catalog.verify_audit()
    assert verdict.ok, verdict
    assert (verdict.checked, verdict.head_seq) == (expected, expected)


# --------------------------------------------------------------------------- concurrent appends


def test_appends_from_several_threads_keep_the_chain_gapless(
    catalog_urls: CatalogUrls, catalog: Catalog, raw: sa.Engine
) -> None:
    seeded(catalog, 1)
    per_thread = 8

    def appender(i: int) -> None:
        c = open_catalog(catalog_urls)
        try:
            for n in range(per_thread):
                c.audit(f"t{i}", "note", None, "recorded", {"n": n})
        finally:
            c.dispose()

    def mode_changer() -> None:  # appends inside another transaction, behind another lock
        c = open_catalog(catalog_urls)
        try:
            for n in range(per_thread):
                c.set_mode(SystemMode.INGESTION_READY if n % 2 else SystemMode.READ_ONLY, "m")
        finally:
            c.dispose()

    def promoter() -> None:  # appends inside a locked transition
        c = open_catalog(catalog_urls)
        try:
            promote(c, 1)
            with c.transition(NAME) as tx:
                tx.audit("p", "noted")
        finally:
            c.dispose()

    run_threads(*[lambda i=i: appender(i) for i in range(3)], mode_changer, promoter)
    assert_gapless_and_verified(catalog, raw, 3 * per_thread + per_thread + 1)


_APPENDER = """
import sys, time
from pathlib import Path
from orchestration.catalog import Catalog
url, who, count, start = sys.argv[1], sys.argv[2], int(sys.argv[3]), Path(sys.argv[4])
c = Catalog(url)
c.check_ready()
deadline = time.monotonic() + 60
while not start.exists() and time.monotonic() < deadline:
    time.sleep(0.005)
for n in range(count):
    c.audit(who, "note", None, "recorded", {"n": n})
c.dispose()
print(who)
"""


def test_appends_from_two_processes_at_once_keep_the_chain_gapless(
    catalog_urls: CatalogUrls, catalog: Catalog, raw: sa.Engine, tmp_path: Path
) -> None:
    start = tmp_path / "go"
    per_process = 20
    # Both processes wait for the same flag, so their appends interleave.
    threading.Timer(1.0, start.touch).start()
    outputs = run_processes(
        _APPENDER,
        [[catalog_urls.url, who, str(per_process), str(start)] for who in ("p1", "p2")],
    )
    assert [o.strip() for o in outputs] == ["p1", "p2"]
    assert_gapless_and_verified(catalog, raw, 2 * per_process)
    actors = [e.actor for e in catalog.list_audit(limit=100)]
    assert sorted(set(actors)) == ["p1", "p2"] and len(actors) == 2 * per_process


# --------------------------------------------------------------------------- tampering


def lift_audit_guards(raw: sa.Engine) -> None:
    """What a person with the owner's rights (or the SQLite file) can do."""
    with raw.begin() as conn:
        if conn.dialect.name == "sqlite":
            conn.execute(sa.text("DROP TRIGGER audit_log_no_update"))
            conn.execute(sa.text("DROP TRIGGER audit_log_no_delete"))
        else:
            conn.execute(sa.text("ALTER TABLE audit_log DISABLE TRIGGER audit_log_append_only"))


def _ids(raw: sa.Engine) -> dict[int, int]:
    return {seq: id_ for id_, seq in chain(raw) if seq is not None}


def _edit(raw: sa.Engine, ids: dict[int, int]) -> tuple[int, int, str]:
    with raw.begin() as conn:
        conn.execute(sa.text("UPDATE audit_log SET actor = 'mallory' WHERE seq = 3"))
    return 3, ids[3], "was changed after it was written"


def _edit_and_rehash(raw: sa.Engine, ids: dict[int, int]) -> tuple[int, int, str]:
    """A careful forger recomputes the edited row's own hash: the next link breaks instead."""
    with raw.begin() as conn:
        conn.execute(sa.text("UPDATE audit_log SET actor = 'mallory' WHERE seq = 3"))
    with raw.begin() as conn:
        row = conn.execute(sa.select(audit_log).where(audit_log.c.seq == 3)).one()
        forged = row_chain_hash(row, str(row.prev_hash))
        conn.execute(sa.update(audit_log).where(audit_log.c.id == row.id).values(row_hash=forged))
    return 4, ids[4], "does not link to the entry before it"


def _delete(raw: sa.Engine, ids: dict[int, int]) -> tuple[int, int, str]:
    with raw.begin() as conn:
        conn.execute(sa.text("DELETE FROM audit_log WHERE seq = 3"))
    return 4, ids[4], "entries are missing"


def _insert_outside_the_chain(raw: sa.Engine, ids: dict[int, int]) -> tuple[int | None, int, str]:
    with raw.begin() as conn:
        conn.execute(
            sa.text(
                "INSERT INTO audit_log (at, actor, action, target, outcome, details) "
                "VALUES (:at, 'mallory', 'promote', NULL, 'allowed', :d)"
            ),
            {"at": datetime.now(UTC).replace(tzinfo=None), "d": "{}"},
        )
        new_id = conn.execute(sa.text("SELECT max(id) FROM audit_log")).scalar_one()
    return None, int(new_id), "no place in the chain"


def _insert_a_forged_link(raw: sa.Engine, ids: dict[int, int]) -> tuple[int | None, int, str]:
    with raw.begin() as conn:
        head = conn.execute(sa.text("SELECT row_hash FROM audit_log WHERE seq = 5")).scalar_one()
        conn.execute(
            sa.text(
                "INSERT INTO audit_log (at, actor, action, target, outcome, details, seq, "
                "prev_hash, row_hash) VALUES (:at, 'mallory', 'promote', NULL, 'allowed', :d, 6, "
                ":prev, :forged)"
            ),
            {
                "at": datetime.now(UTC).replace(tzinfo=None),
                "d": "{}",
                "prev": head,
                "forged": "f" * 64,
            },
        )
        new_id = conn.execute(sa.text("SELECT max(id) FROM audit_log")).scalar_one()
    return 6, int(new_id), "was changed after it was written"


TAMPERING: dict[str, Callable[[sa.Engine, dict[int, int]], tuple[int | None, int, str]]] = {
    "update": _edit,
    "update-and-rehash": _edit_and_rehash,
    "delete": _delete,
    "insert-outside-the-chain": _insert_outside_the_chain,
    "insert-a-forged-link": _insert_a_forged_link,
}


@pytest.mark.parametrize("tamper", list(TAMPERING.values()), ids=list(TAMPERING))
def test_a_row_changed_behind_the_guards_is_named_by_verify(
    catalog: Catalog, raw: sa.Engine, tamper: Callable[..., tuple[int | None, int, str]]
) -> None:
    for n in range(5):
        catalog.audit("ada", "note", None, "recorded", {"n": n})
    assert catalog.verify_audit().ok
    lift_audit_guards(raw)

    broken_seq, broken_id, reason = tamper(raw, _ids(raw))

    verdict = catalog.verify_audit()
    assert not verdict.ok
    assert (verdict.broken_seq, verdict.broken_id) == (broken_seq, broken_id)
    assert reason in (verdict.reason or "")
    assert f"entry {broken_id}" in (verdict.reason or "")
    assert json.loads(json.dumps(verdict.to_dict()))["ok"] is False


def test_verify_names_the_first_of_several_broken_entries(catalog: Catalog, raw: sa.Engine) -> None:
    for n in range(6):
        catalog.audit("ada", "note", None, "recorded", {"n": n})
    lift_audit_guards(raw)
    ids = _ids(raw)
    with raw.begin() as conn:
        conn.execute(sa.text("UPDATE audit_log SET action = 'forged' WHERE seq IN (2, 5)"))
    verdict = catalog.verify_audit()
    assert (verdict.broken_seq, verdict.broken_id, verdict.checked) == (2, ids[2], 1)


# --------------------------------------------------------------------------- migrating 0001 rows


def _insert_0001_rows(urls: CatalogUrls) -> list[dict[str, Any]]:
    """Audit rows as a Spyne at schema 0001 wrote them (no chain columns yet)."""
    entries: list[dict[str, Any]] = [
        {"actor": "ada", "action": "set_mode", "target": "system_mode", "outcome": "allowed",
         "details": {"from": "READ_ONLY", "to": "INGESTION_READY", "reason": None}},
        {"actor": "bob", "action": "promote", "target": "gold.revenue", "outcome": "refused",
         "details": {"rule": "gate", "failed": ["not_null(email)"], "who": "Zoë"}},
        {"actor": "system", "action": "gate_decision", "target": None, "outcome": "recorded",
         "details": {}},
    ]  # fmt: skip
    engine = admin_engine(urls)
    try:
        with engine.begin() as conn:
            for n, entry in enumerate(entries):
                at = datetime(2024, 5, 1, 10, n, 30, 123456, tzinfo=UTC)
                conn.execute(
                    sa.text(
                        "INSERT INTO audit_log (at, actor, action, target, outcome, details) "
                        "VALUES (:at, :actor, :action, :target, :outcome, :details)"
                    ),
                    {
                        **entry,
                        "at": at if urls.is_pg else at.replace(tzinfo=None).isoformat(" "),
                        "details": json.dumps(entry["details"]),
                    },
                )
    finally:
        engine.dispose()
    return entries


def test_migrating_a_0001_catalog_with_audit_rows_chains_them(
    catalog_urls: CatalogUrls, raw: sa.Engine
) -> None:
    alembic_to(catalog_urls, "0001")
    entries = _insert_0001_rows(catalog_urls)

    c = open_catalog(catalog_urls)
    try:
        c.upgrade()
        c.check_ready()
        assert_gapless_and_verified(c, raw, len(entries))
        listed = c.list_audit()[::-1]
        assert [(e.actor, e.action, e.target, e.details) for e in listed] == [
            (e["actor"], e["action"], e["target"], e["details"]) for e in entries
        ]
        assert all(e.launched_by is None for e in listed)
        assert listed[0].at == datetime(2024, 5, 1, 10, 0, 30, 123456, tzinfo=UTC)

        c.audit("ada", "after", None, "recorded")
        assert_gapless_and_verified(c, raw, len(entries) + 1)
    finally:
        c.dispose()
    with pytest.raises(sa.exc.DBAPIError, match="append-only"), raw.begin() as conn:
        conn.execute(sa.text("UPDATE audit_log SET actor = 'mallory'"))
