"""Intents, run grants and principals, on a SQLite file and on PostgreSQL (application role)."""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest
import sqlalchemy as sa

from orchestration.catalog import Catalog, IntentInfo, IntentStatus
from policies.errors import (
    AuthenticationRequired,
    InvalidTransition,
    NotFound,
    SpyneError,
    ValidationFailed,
)
from policies.lifecycle import TableState, Transition
from policies.roles import Role
from tests.catalog_support import NAME, open_catalog, rows, run_threads, seeded
from tests.pg import CatalogUrls

# --------------------------------------------------------------------------- intents


def open_intent(c: Catalog, to_version: int = 1) -> IntentInfo:
    with c.transition(NAME) as tx:
        tx.open_intent("promote", None, to_version, "ada", launched_by="bob")
    (intent,) = c.pending_intents(NAME)
    return intent


def test_an_intent_commits_with_its_transition_and_closes_once(catalog: Catalog) -> None:
    seeded(catalog, 2)
    assert not catalog.any_pending_intent()
    intent = open_intent(catalog)
    assert (intent.action, intent.to_version, intent.actor, intent.launched_by) == (
        "promote",
        1,
        "ada",
        "bob",
    )
    assert intent.status == IntentStatus.PENDING and catalog.any_pending_intent()

    catalog.settle_intent(intent, IntentStatus.UNDONE, "view put back", actor="carol")
    assert catalog.pending_intents() == [] and not catalog.any_pending_intent()
    (recovered,) = catalog.list_audit(action="recover")
    assert recovered.actor == "carol" and recovered.details["intent"] == intent.id
    assert recovered.details["status"] == "undone"

    with pytest.raises(InvalidTransition, match="already closed"):
        catalog.settle_intent(intent, IntentStatus.DONE, "again", actor="dave")
    with pytest.raises(InvalidTransition, match="already closed"), catalog.transition(NAME) as tx:
        tx.close_intent(intent.id, IntentStatus.DONE)
    with pytest.raises(NotFound), catalog.transition(NAME) as tx:
        tx.close_intent(intent.id + 100, IntentStatus.DONE)
    assert len(catalog.list_audit(action="recover")) == 1
    assert catalog.verify_audit().ok


def test_an_intent_opened_in_a_failed_transition_is_not_recorded(catalog: Catalog) -> None:
    seeded(catalog, 1)

    class Crash(Exception):
        pass

    with pytest.raises(Crash), catalog.transition(NAME) as tx:
        tx.open_intent("promote", None, 1, "ada")
        tx.set_state(TableState.ACTIVE, Transition.PROMOTE, 1, "ada")
        raise Crash
    assert catalog.pending_intents() == []
    assert catalog.get_table(NAME).state == TableState.SHADOW


@pytest.mark.parametrize(
    "statement",
    [
        "UPDATE intents SET status = 'pending'",  # reopen a closed intent
        "UPDATE intents SET status = 'undone'",  # close it a second time
        "UPDATE intents SET note = 'rewritten'",  # edit a closed intent
        "DELETE FROM intents",
    ],
)
def test_the_database_closes_an_intent_once_and_never_deletes_it(
    catalog: Catalog, raw: sa.Engine, statement: str
) -> None:
    seeded(catalog, 1)
    catalog.settle_intent(open_intent(catalog), IntentStatus.DONE, "finished", actor="ada")
    before = rows(raw, "intents")
    with pytest.raises(sa.exc.DBAPIError, match="intent"), raw.begin() as conn:
        conn.execute(sa.text(statement))
    assert rows(raw, "intents") == before


def test_the_database_lets_a_pending_intent_close_but_not_change_what_it_records(
    catalog: Catalog, raw: sa.Engine
) -> None:
    seeded(catalog, 2)
    open_intent(catalog)
    for forged in ("to_version = 2", "actor = 'mallory'", "action = 'rollback'"):
        with pytest.raises(sa.exc.DBAPIError, match="only closes once"), raw.begin() as conn:
            conn.execute(sa.text(f"UPDATE intents SET {forged}, status = 'done'"))
    with pytest.raises(sa.exc.DBAPIError, match="never deleted"), raw.begin() as conn:
        conn.execute(sa.text("DELETE FROM intents"))
    with raw.begin() as conn:
        conn.execute(sa.text("UPDATE intents SET status = 'done', note = 'by hand'"))
    assert catalog.pending_intents() == []


# --------------------------------------------------------------------------- run grants


def test_a_run_grant_is_valid_for_its_run_only_and_never_stored_in_clear(
    catalog: Catalog, raw: sa.Engine
) -> None:
    ada, _ = catalog.create_principal("ada", Role.ADMIN, created_by="bootstrap")
    token = catalog.grant_run(ada, "run-a")
    assert token.startswith("spyrun_")
    assert catalog.resolve_run_grant(token, "run-a") == ada
    assert catalog.resolve_run_grant(token, "run-a") == ada  # as often as the run's steps ask

    with pytest.raises(AuthenticationRequired, match="run-b") as other_run:
        catalog.resolve_run_grant(token, "run-b")
    assert other_run.value.details == {"run_id": "run-b"}
    for forged in ("", "spyrun_guess", token + "x"):
        with pytest.raises(AuthenticationRequired):
            catalog.resolve_run_grant(forged, "run-a")
    with pytest.raises(ValidationFailed, match="already has a grant"):
        catalog.grant_run(ada, "run-a")
    assert token not in repr(rows(raw, "run_grants"))


@pytest.mark.parametrize("ttl", [timedelta(0), timedelta(seconds=-1)], ids=["now", "past"])
def test_an_expired_run_grant_is_refused(catalog: Catalog, ttl: timedelta) -> None:
    ada, _ = catalog.create_principal("ada", Role.ADMIN, created_by="bootstrap")
    token = catalog.grant_run(ada, "run-a", ttl)
    with pytest.raises(AuthenticationRequired, match="expired"):
        catalog.resolve_run_grant(token, "run-a")
    live = catalog.grant_run(ada, "run-b", timedelta(hours=1))
    assert catalog.resolve_run_grant(live, "run-b") == ada


def test_a_run_grant_dies_with_its_person(catalog: Catalog) -> None:
    catalog.create_principal("ada", Role.ADMIN, created_by="bootstrap")
    bob, _ = catalog.create_principal("bob", Role.ENGINEER, created_by="ada")
    token = catalog.grant_run(bob, "run-b")
    assert catalog.resolve_run_grant(token, "run-b").name == "bob"
    catalog.disable_principal("bob", actor="ada")
    with pytest.raises(AuthenticationRequired):
        catalog.resolve_run_grant(token, "run-b")


# --------------------------------------------------------------------------- principals


@pytest.mark.parametrize(
    "name",
    ["", "   ", "x" * 201, "ada\x00", "ada\tlovelace", "ada\nlovelace", "ada\u200b", "\x1b[31mada"],
    ids=["empty", "blank", "201-chars", "nul", "tab", "newline", "zero-width", "escape"],
)
def test_a_bad_principal_name_is_validation_failed_and_writes_nothing(
    catalog: Catalog, raw: sa.Engine, name: str
) -> None:
    with pytest.raises(ValidationFailed) as refused:
        catalog.create_principal(name, Role.VIEWER, created_by="bootstrap")
    assert refused.value.code == "validation_failed"
    assert refused.value.details["field"] == "name"
    assert rows(raw, "principals") == [] and catalog.list_audit() == []


def test_principal_names_are_trimmed_and_may_be_200_characters(catalog: Catalog) -> None:
    assert catalog.create_principal("  ada  ", Role.VIEWER, created_by="b")[0].name == "ada"
    assert catalog.create_principal("Zoë-Ω", Role.VIEWER, created_by="b")[0].name == "Zoë-Ω"
    longest = "x" * 200
    assert catalog.create_principal(longest, Role.VIEWER, created_by="b")[0].name == longest
    with pytest.raises(ValidationFailed, match="already exists"):
        catalog.create_principal(" ada", Role.ADMIN, created_by="b")


def test_the_last_admin_cannot_be_disabled(catalog: Catalog) -> None:
    catalog.create_principal("root", Role.ADMIN, created_by="bootstrap")
    catalog.create_principal("eve", Role.ENGINEER, created_by="root")
    with pytest.raises(InvalidTransition, match="last enabled admin") as refused:
        catalog.disable_principal("root", actor="root")
    assert refused.value.details == {"name": "root"}

    catalog.create_principal("second", Role.ADMIN, created_by="root")
    assert catalog.disable_principal("root", actor="second").disabled
    assert catalog.disable_principal("root", actor="second").disabled  # again: no change
    with pytest.raises(InvalidTransition, match="last enabled admin"):
        catalog.disable_principal("second", actor="second")
    assert catalog.disable_principal("eve", actor="second").disabled  # others still can be
    assert catalog.has_admin()
    with pytest.raises(NotFound, match="auth list"):
        catalog.disable_principal("nobody", actor="second")
    assert [e.target for e in catalog.list_audit(action="disable_principal")] == [
        "principal:eve",
        "principal:root",
    ]


def test_admins_disabling_each_other_at_once_leave_one_admin(
    catalog_urls: CatalogUrls, catalog: Catalog
) -> None:
    admins = [f"admin{i}" for i in range(4)]
    for name in admins:
        catalog.create_principal(name, Role.ADMIN, created_by="bootstrap")
    barrier = threading.Barrier(len(admins))

    def disable(name: str) -> str:
        c = open_catalog(catalog_urls)
        try:
            barrier.wait(20)
            c.disable_principal(name, actor=name)
            return "disabled"
        except SpyneError as err:
            return err.code
        finally:
            c.dispose()

    outcomes = run_threads(*[lambda n=n: disable(n) for n in admins])
    assert sorted(outcomes) == ["disabled"] * 3 + ["invalid_transition"]
    assert catalog.has_admin()
    assert [p.name for p in catalog.list_principals() if not p.disabled] == [
        admins[outcomes.index("invalid_transition")]
    ]
