"""The catalog on real databases: every test runs on a SQLite file and on PostgreSQL.

On PostgreSQL the catalog is reached as the application role (the owner only migrates), so
each test here also proves the application role may do what the catalog needs; ``raw`` holds
the owner's rights, which is what the database's guards must stop.
"""

from __future__ import annotations

import itertools
import json
import subprocess
import sys
import threading
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from orchestration.catalog import (
    API_KEY_PREFIX,
    AuditOutcome,
    Catalog,
    GateStatus,
    hash_api_key,
)
from policies.errors import (
    AuthenticationRequired,
    ConcurrentChange,
    InvalidTransition,
    NotFound,
    ValidationFailed,
)
from policies.lifecycle import TableState, Transition
from policies.modes import SystemMode
from policies.naming import parse_table_ref
from policies.roles import Role
from tests.catalog_support import (
    APPEND_ONLY,
    NAME,
    REF,
    ROOT,
    SCHEMA,
    move,
    open_catalog,
    promote,
    register,
    rows,
    run_processes,
    run_threads,
    seeded,
)
from tests.pg import CatalogUrls

# --------------------------------------------------------------------------- append-only


@pytest.mark.parametrize("table", APPEND_ONLY)
@pytest.mark.parametrize(
    "statement",
    [
        "UPDATE {table} SET {column} = {column}",
        "DELETE FROM {table}",
    ],
    ids=["update", "delete"],
)
def test_database_refuses_changing_append_only_tables(
    catalog: Catalog, raw: sa.Engine, table: str, statement: str
) -> None:
    seeded(catalog, 1)
    promote(catalog, 1)
    catalog.set_mode(SystemMode.INGESTION_READY, "ada", "load")
    catalog.audit("ada", "note", NAME, "recorded", {"k": 1})
    before = rows(raw, table)
    assert before
    column = {"audit_log": "actor", "state_history": "actor", "system_modes": "changed_by"}[table]

    with pytest.raises(sa.exc.DBAPIError) as err, raw.begin() as conn:
        conn.execute(sa.text(statement.format(table=table, column=column)))

    assert f"{table} is append-only" in str(err.value)
    assert rows(raw, table) == before


def test_versions_data_columns_are_immutable_in_the_database(
    catalog: Catalog, raw: sa.Engine
) -> None:
    seeded(catalog, 1)
    before = rows(raw, "table_versions")
    for sql in (
        "UPDATE table_versions SET row_count = 999",
        "UPDATE table_versions SET content_hash = 'forged'",
        "UPDATE table_versions SET physical_name = 'elsewhere'",
        "DELETE FROM table_versions",
    ):
        with pytest.raises(sa.exc.DBAPIError, match="table versions are"), raw.begin() as conn:
            conn.execute(sa.text(sql))
    assert rows(raw, "table_versions") == before
    # The verdict recorded after the build may change.
    with raw.begin() as conn:
        conn.execute(sa.text("UPDATE table_versions SET gate_status = 'passed'"))
    assert catalog.get_version(NAME, 1).gate_status == GateStatus.PASSED


# --------------------------------------------------------------------------- principals


def test_authenticate_good_bad_missing_and_disabled_keys(catalog: Catalog, raw: sa.Engine) -> None:
    assert not catalog.has_admin()
    admin, key = catalog.create_principal("root", Role.ADMIN, created_by="bootstrap")
    assert key.startswith(API_KEY_PREFIX) and len(key) > 40
    assert admin.key_prefix == key[:8]
    assert admin.role == Role.ADMIN and not admin.disabled
    assert admin.created_at.tzinfo == UTC
    assert catalog.has_admin()

    assert catalog.authenticate(key) == admin
    assert catalog.authenticate(f"  {key}\n") == admin

    for missing in (None, "", "   "):
        with pytest.raises(AuthenticationRequired, match="SPYNE_API_KEY"):
            catalog.authenticate(missing)
    with pytest.raises(AuthenticationRequired, match="not valid") as unknown:
        catalog.authenticate(key + "x")

    _viewer, viewer_key = catalog.create_principal("vic", Role.VIEWER, created_by="root")
    assert catalog.authenticate(viewer_key).role == Role.VIEWER
    catalog.disable_principal("vic", actor="root")
    with pytest.raises(AuthenticationRequired) as disabled:
        catalog.authenticate(viewer_key)
    assert disabled.value.message == unknown.value.message  # no hint which keys exist

    # Only the hash is stored, and the key never reaches the audit log.
    stored = rows(raw, "principals")
    assert hash_api_key(key) in {r[3] for r in stored}
    assert key not in json.dumps([list(map(str, r)) for r in stored])
    entries = catalog.list_audit(target="principal:root")
    assert [e.action for e in entries] == ["create_principal"]
    assert key not in json.dumps(entries[0].details)

    assert [p.name for p in catalog.list_principals()] == ["root", "vic"]
    with pytest.raises(ValidationFailed, match="already exists"):
        catalog.create_principal("root", Role.VIEWER, created_by="root")

    with pytest.raises(InvalidTransition, match="last enabled admin"):
        catalog.disable_principal("root", actor="root")
    assert catalog.has_admin() and not catalog.authenticate(key).disabled


# --------------------------------------------------------------------------- mode


def test_mode_defaults_to_read_only_and_set_mode_appends_and_audits(
    catalog: Catalog, raw: sa.Engine
) -> None:
    mode = catalog.current_mode()
    assert (mode.mode, mode.version, mode.changed_at) == (SystemMode.READ_ONLY, 0, None)

    first = catalog.set_mode(SystemMode.INGESTION_READY, "ada", "monthly load")
    assert (first.mode, first.version, first.changed_by) == (SystemMode.INGESTION_READY, 1, "ada")
    assert first.changed_at is not None and first.changed_at.tzinfo == UTC
    second = catalog.set_mode(SystemMode.READ_ONLY, "bob", None)
    assert second.version == 2
    assert catalog.current_mode() == second
    assert [r[1] for r in rows(raw, "system_modes")] == ["INGESTION_READY", "READ_ONLY"]

    audit = catalog.list_audit(action="set_mode")
    assert [(e.actor, e.details["from"], e.details["to"]) for e in audit] == [
        ("bob", "INGESTION_READY", "READ_ONLY"),
        ("ada", "READ_ONLY", "INGESTION_READY"),
    ]
    assert audit[1].details["reason"] == "monthly load"


def test_concurrent_mode_changes_get_distinct_versions(
    catalog_urls: CatalogUrls, catalog: Catalog
) -> None:
    def flip(i: int) -> int:
        c = open_catalog(catalog_urls)
        try:
            mode = SystemMode.INGESTION_READY if i % 2 else SystemMode.READ_ONLY
            return c.set_mode(mode, f"actor{i}", None).version
        finally:
            c.dispose()

    versions = run_threads(*[lambda i=i: flip(i) for i in range(6)])
    assert sorted(versions) == [1, 2, 3, 4, 5, 6]
    assert catalog.current_mode().version == 6


# --------------------------------------------------------------------------- tables & versions


def test_ensure_table_is_idempotent_and_lookups_explain_misses(catalog: Catalog) -> None:
    created = catalog.ensure_table(REF)
    assert (created.state, created.active_version, created.row_version) == (
        TableState.SHADOW,
        None,
        1,
    )
    assert created.ref == REF and created.created_at.tzinfo == UTC
    assert catalog.ensure_table(REF) == created
    source = catalog.ensure_table(parse_table_ref("bronze.erp_orders"), TableState.READ_ONLY)
    assert source.state == TableState.READ_ONLY
    with pytest.raises(InvalidTransition):
        catalog.ensure_table(parse_table_ref("gold.revenue"), TableState.ACTIVE)

    with pytest.raises(NotFound, match="tables list") as err:
        catalog.get_table("silver.nope")
    assert err.value.details == {"table": "silver.nope"}
    with pytest.raises(NotFound):
        catalog.transition("silver.nope").__enter__()

    register(catalog, 1)
    register(catalog, 2)
    catalog.mark_dropped(NAME, 1)
    listed = {t.name: t for t in catalog.list_tables()}
    assert list(listed) == ["bronze.erp_orders", "silver.customers"]
    assert listed[NAME].version_count == 1
    assert listed["bronze.erp_orders"].version_count == 0
    assert [t.name for t in catalog.list_tables(states=frozenset({TableState.READ_ONLY}))] == [
        "bronze.erp_orders"
    ]
    both = frozenset({TableState.READ_ONLY, TableState.SHADOW})
    assert [t.name for t in catalog.list_tables(states=both)] == list(listed)
    assert catalog.list_tables(states=frozenset({TableState.ACTIVE})) == []


def test_register_version_is_idempotent_and_versions_are_immutable(catalog: Catalog) -> None:
    catalog.ensure_table(REF)
    v1 = register(catalog, 1)
    assert v1.schema == SCHEMA and v1.row_count == 10 and v1.gate_status == GateStatus.NOT_RUN
    assert v1.created_at.tzinfo == UTC
    assert register(catalog, 1) == v1

    with pytest.raises(ValidationFailed, match="immutable") as err:
        register(catalog, 1, content_hash="different")
    assert err.value.details["differs"] == ["content_hash"]
    with pytest.raises(ValidationFailed, match="immutable"):
        catalog.register_version(
            NAME, 1, v1.physical_name, 10, [*SCHEMA, {"name": "x"}], v1.content_hash
        )
    assert catalog.get_version(NAME, 1) == v1

    with pytest.raises(ValidationFailed, match="physical table"):
        catalog.register_version(NAME, 2, v1.physical_name, 1, SCHEMA, "other")
    with pytest.raises(NotFound):
        catalog.register_version("silver.ghost", 1, "silver__shadow.ghost__v1", 1, SCHEMA, "h")
    catalog.ensure_table(parse_table_ref("bronze.erp"), TableState.READ_ONLY)
    with pytest.raises(ValidationFailed, match="READ_ONLY"):
        catalog.register_version("bronze.erp", 1, "bronze__shadow.erp__v1", 1, SCHEMA, "h")
    with pytest.raises(NotFound, match="retained versions are: 1"):
        catalog.get_version(NAME, 7)


def test_next_version_counts_dropped_versions(catalog: Catalog) -> None:
    catalog.ensure_table(REF)
    assert catalog.next_version(NAME) == 1
    register(catalog, 1)
    register(catalog, 2)
    dropped = catalog.mark_dropped(NAME, 2)
    assert dropped.dropped and dropped.dropped_at is not None
    assert catalog.mark_dropped(NAME, 2) == dropped  # again: nothing changes
    assert catalog.next_version(NAME) == 3
    assert [v.version for v in catalog.list_versions(NAME)] == [1]
    assert [v.version for v in catalog.list_versions(NAME, include_dropped=True)] == [1, 2]
    assert catalog.get_table(NAME).version_count == 1
    with pytest.raises(NotFound):
        catalog.next_version("silver.ghost")


def test_record_gate_and_drift(catalog: Catalog) -> None:
    seeded(catalog, 1)
    failed = catalog.record_gate(NAME, 1, "failed", {"failed": ["not_null(email)"]}, actor="gate")
    assert failed.gate_status == GateStatus.FAILED
    assert failed.gate_details == {"failed": ["not_null(email)"]}
    passed = catalog.record_gate(
        NAME, 1, GateStatus.PASSED, {"checks": 4}, actor="dagster", launched_by="ada"
    )
    assert passed.gate_status == GateStatus.PASSED
    with pytest.raises(ValidationFailed):
        catalog.record_gate(NAME, 1, "maybe", {}, actor="gate")
    decisions = catalog.list_audit(action="gate_decision")
    assert [(e.actor, e.launched_by, e.details["status"], e.outcome) for e in decisions] == [
        ("dagster", "ada", "passed", AuditOutcome.RECORDED),
        ("gate", None, "failed", AuditOutcome.RECORDED),
    ]
    drift = catalog.record_drift(NAME, 1, {"added": ["phone"], "breaking": False})
    assert drift.drift == {"added": ["phone"], "breaking": False}
    assert catalog.get_version(NAME, 1).content_hash == "hash-1"


# --------------------------------------------------------------------------- transitions


def test_lifecycle_through_transitions_records_history(catalog: Catalog) -> None:
    seeded(catalog, 3)
    first = promote(catalog, 1)
    assert (first.state, first.active_version, first.row_version) == (TableState.ACTIVE, 1, 2)
    assert first.last_promoted_at is not None
    promote(catalog, 2)
    assert catalog.get_version(NAME, 1).last_active_at is not None
    assert catalog.get_version(NAME, 2).last_active_at is None
    move(catalog, Transition.ROLLBACK, TableState.ACTIVE, 1)
    deprecated = move(catalog, Transition.DEPRECATE, TableState.DEPRECATED, 1)
    assert deprecated.active_version == 1
    with pytest.raises(InvalidTransition, match="active version"):
        catalog.mark_dropped(NAME, 1)  # kept so the table can be restored
    restored = move(catalog, Transition.RESTORE, TableState.ACTIVE, 1)
    table = catalog.get_table(NAME)
    assert restored == table
    assert (table.state, table.active_version, table.row_version) == (TableState.ACTIVE, 1, 6)

    history = catalog.history(NAME)
    assert [
        (h.transition, h.from_state, h.to_state, h.from_version, h.to_version) for h in history
    ] == [
        (Transition.PROMOTE, TableState.SHADOW, TableState.ACTIVE, None, 1),
        (Transition.PROMOTE, TableState.ACTIVE, TableState.ACTIVE, 1, 2),
        (Transition.ROLLBACK, TableState.ACTIVE, TableState.ACTIVE, 2, 1),
        (Transition.DEPRECATE, TableState.ACTIVE, TableState.DEPRECATED, 1, 1),
        (Transition.RESTORE, TableState.DEPRECATED, TableState.ACTIVE, 1, 1),
    ]
    assert all(h.at.tzinfo == UTC and h.actor == "ada" for h in history)
    assert history[0].reason == "promote test"


def test_transition_refuses_moves_the_lifecycle_forbids(catalog: Catalog) -> None:
    seeded(catalog, 2)
    with pytest.raises(InvalidTransition, match="SHADOW"):
        move(catalog, Transition.DEPRECATE, TableState.DEPRECATED, None)
    with pytest.raises(InvalidTransition, match="not DEPRECATED"):
        move(catalog, Transition.PROMOTE, TableState.DEPRECATED, 1)
    with pytest.raises(InvalidTransition, match="needs an active version"):
        move(catalog, Transition.PROMOTE, TableState.ACTIVE, None)
    with pytest.raises(NotFound):
        promote(catalog, 9)
    catalog.mark_dropped(NAME, 2)
    with pytest.raises(InvalidTransition, match="dropped"):
        promote(catalog, 2)
    assert catalog.history(NAME) == []
    assert catalog.get_table(NAME).row_version == 1


def test_failure_inside_a_transition_leaves_the_catalog_unchanged(catalog: Catalog) -> None:
    seeded(catalog, 2)
    promote(catalog, 1)
    before = catalog.get_table(NAME)
    audit_before = catalog.list_audit()

    class ViewSwapFailed(Exception):
        pass

    with pytest.raises(ViewSwapFailed), catalog.transition(NAME) as tx:
        after = tx.set_state(TableState.ACTIVE, Transition.PROMOTE, 2, "ada")
        assert tx.table == after and after.active_version == 2
        tx.audit("ada", "promote", details={"version": 2})
        raise ViewSwapFailed("warehouse said no")

    assert catalog.get_table(NAME) == before
    assert len(catalog.history(NAME)) == 1
    assert catalog.list_audit() == audit_before
    assert catalog.get_version(NAME, 1).last_active_at is None


def test_transition_commits_audit_with_the_change_and_closes(catalog: Catalog) -> None:
    seeded(catalog, 1)
    with catalog.transition(NAME) as tx:
        assert tx.version(1).gate_status == GateStatus.NOT_RUN
        assert [v.version for v in tx.versions()] == [1]
        tx.set_state(TableState.ACTIVE, Transition.PROMOTE, 1, "ada")
        entry_id = tx.audit("ada", "promote", details={"at": datetime(2024, 1, 1, tzinfo=UTC)})
    entry = catalog.list_audit(target=NAME)[0]
    assert entry.id == entry_id and entry.outcome == AuditOutcome.ALLOWED
    assert entry.details == {"at": "2024-01-01T00:00:00+00:00"}
    with pytest.raises(RuntimeError, match="already ended"):
        tx.set_state(TableState.ACTIVE, Transition.PROMOTE, 1, "ada")


def test_stale_expected_row_version_is_a_concurrent_change(catalog: Catalog) -> None:
    seeded(catalog, 2)
    seen = catalog.get_table(NAME)
    promote(catalog, 1)
    with (
        pytest.raises(ConcurrentChange) as err,
        catalog.transition(NAME, expected_row_version=seen.row_version),
    ):
        pass
    assert err.value.details["row_version"] == seen.row_version + 1
    with catalog.transition(NAME, expected_row_version=seen.row_version + 1) as tx:
        tx.set_state(TableState.ACTIVE, Transition.PROMOTE, 2, "ada")
    assert catalog.get_table(NAME).active_version == 2


def test_two_concurrent_transitions_serialize(catalog_urls: CatalogUrls, catalog: Catalog) -> None:
    seeded(catalog, 3)
    promote(catalog, 1)
    start = catalog.get_table(NAME)
    a_holds_lock = threading.Event()
    a_done = threading.Event()  # set by a just before it commits and lets go of the lock

    def first() -> Any:
        c = open_catalog(catalog_urls)
        try:
            with c.transition(NAME) as tx:
                seen = tx.table
                tx.set_state(TableState.ACTIVE, Transition.PROMOTE, 2, "a")
                a_holds_lock.set()
                time.sleep(0.5)  # room for b to barge in, if the lock let it
                a_done.set()
            return seen
        finally:
            c.dispose()

    def second() -> tuple[Any, bool]:
        assert a_holds_lock.wait(20)
        c = open_catalog(catalog_urls)
        try:
            with c.transition(NAME) as tx:
                entered_after_a = a_done.is_set()
                seen = tx.table
                tx.set_state(TableState.ACTIVE, Transition.PROMOTE, 3, "b")
            return seen, entered_after_a
        finally:
            c.dispose()

    a_seen, (b_seen, b_entered_after_a) = run_threads(first, second)
    assert a_seen == start
    assert b_entered_after_a  # b queued behind a's lock...
    assert (b_seen.active_version, b_seen.row_version) == (2, start.row_version + 1)  # ...and saw a

    final = catalog.get_table(NAME)
    assert (final.active_version, final.row_version) == (3, start.row_version + 2)
    assert [(h.actor, h.from_version, h.to_version) for h in catalog.history(NAME)] == [
        ("ada", None, 1),
        ("a", 1, 2),
        ("b", 2, 3),
    ]


def test_many_racing_promotions_keep_history_consistent(
    catalog_urls: CatalogUrls, catalog: Catalog
) -> None:
    racers = 5
    seeded(catalog, racers + 1)
    promote(catalog, 1)
    start = catalog.get_table(NAME)
    barrier = threading.Barrier(racers)

    def race(version: int) -> str:
        c = open_catalog(catalog_urls)
        try:
            barrier.wait(20)
            with c.transition(NAME) as tx:
                tx.set_state(TableState.ACTIVE, Transition.PROMOTE, version, f"r{version}")
                time.sleep(0.05)
            return "ok"
        finally:
            c.dispose()

    outcomes = run_threads(*[lambda v=v: race(v) for v in range(2, racers + 2)])
    # The lock makes them queue: nobody is refused, each sees its predecessor's result.
    assert outcomes == ["ok"] * racers
    wins = racers

    final = catalog.get_table(NAME)
    history = catalog.history(NAME)
    assert len(history) == 1 + wins
    assert final.row_version == start.row_version + wins
    assert final.active_version == history[-1].to_version
    for earlier, later in itertools.pairwise(history):
        assert later.from_version == earlier.to_version
    assert sorted(h.actor for h in history[1:]) == sorted(f"r{v}" for v in range(2, racers + 2))


def test_a_lock_held_too_long_is_a_concurrent_change(
    catalog_urls: CatalogUrls, catalog: Catalog
) -> None:
    seeded(catalog, 2)
    promote(catalog, 1)
    holding = threading.Event()
    release = threading.Event()

    def holder() -> None:
        with catalog.transition(NAME) as tx:
            tx.set_state(TableState.ACTIVE, Transition.PROMOTE, 2, "slow")
            holding.set()
            assert release.wait(20)

    def impatient() -> str:
        assert holding.wait(20)
        c = open_catalog(catalog_urls, lock_timeout_s=0.3)
        try:
            with pytest.raises(ConcurrentChange, match="busy"), c.transition(NAME):
                pass
            return "refused"
        finally:
            release.set()
            c.dispose()

    assert run_threads(holder, impatient)[1] == "refused"
    assert catalog.get_table(NAME).active_version == 2


_PROCESS_SCRIPT = """
import json, sys, time
from orchestration.catalog import Catalog
from policies.lifecycle import TableState, Transition
url, version, hold, flag = sys.argv[1], int(sys.argv[2]), float(sys.argv[3]), sys.argv[4]
c = Catalog(url)
with c.transition("silver.customers") as tx:
    seen = tx.table.active_version
    tx.set_state(TableState.ACTIVE, Transition.PROMOTE, version, "proc%d" % version)
    open(flag, "w").close()
    time.sleep(hold)
c.dispose()
print(json.dumps({"seen": seen}))
"""


def test_transitions_from_two_processes_serialize(
    catalog_urls: CatalogUrls, catalog: Catalog, tmp_path: Path
) -> None:
    seeded(catalog, 3)
    promote(catalog, 1)
    a_flag = tmp_path / "a"
    # A holds the row lock until B has started and must queue behind it.
    a = subprocess.Popen(
        [sys.executable, "-c", _PROCESS_SCRIPT, catalog_urls.url, "2", "1.0", str(a_flag)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=ROOT,
    )
    deadline = time.monotonic() + 60
    while not a_flag.exists():
        assert a.poll() is None, a.communicate()
        assert time.monotonic() < deadline
        time.sleep(0.02)
    (b_out,) = run_processes(_PROCESS_SCRIPT, [[catalog_urls.url, "3", "0", str(tmp_path / "b")]])
    a_out, a_err = a.communicate(timeout=60)
    assert a.returncode == 0, a_err
    assert json.loads(a_out) == {"seen": 1}
    assert json.loads(b_out) == {"seen": 2}
    assert [(h.from_version, h.to_version) for h in catalog.history(NAME)] == [
        (None, 1),
        (1, 2),
        (2, 3),
    ]


# --------------------------------------------------------------------------- audit


def test_audit_is_listed_newest_first_and_filtered(catalog: Catalog) -> None:
    ids = [
        catalog.audit("ada", "promote", NAME, AuditOutcome.REFUSED, {"rule": "gate"}),
        catalog.audit("bob", "query", "gold.revenue", "allowed", None),
        catalog.audit("ada", "promote", NAME, "allowed", {"version": 2}),
    ]
    assert ids == sorted(ids)
    entries = catalog.list_audit()
    assert [e.id for e in entries] == ids[::-1]
    assert entries[-1].outcome == AuditOutcome.REFUSED and entries[-1].details == {"rule": "gate"}
    assert entries[1].details == {}
    assert all(e.at.tzinfo == UTC for e in entries)
    assert [e.id for e in catalog.list_audit(target=NAME)] == [ids[2], ids[0]]
    assert [e.id for e in catalog.list_audit(limit=1)] == [ids[2]]
    with pytest.raises(ValidationFailed, match="outcome"):
        catalog.audit("ada", "x", None, "maybe", None)
