"""The catalog behind one object: the control plane every surface (CLI, Dagster) uses.

Each concern keeps its own state class (principals, modes, tables and versions, transitions,
intents, run grants, the audit log), as SQLMesh composes its state sync; this facade only
wires them to one database and keeps one interface for callers. Every method runs its own
transaction and returns frozen snapshots.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from contextlib import AbstractContextManager
from datetime import timedelta
from functools import cached_property
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa

from orchestration.catalog import schema
from orchestration.catalog.audit import AuditLog, ChainVerdict
from orchestration.catalog.control_tables import AuditOutcome
from orchestration.catalog.dead_letters import DeadLetters, NewDeadLetter
from orchestration.catalog.engine import DEFAULT_LOCK_TIMEOUT_S, Database, database_url
from orchestration.catalog.intents import Intents
from orchestration.catalog.modes import Modes
from orchestration.catalog.principals import Principals
from orchestration.catalog.run_grants import DEFAULT_TTL, RunGrants
from orchestration.catalog.snapshots import (
    AuditEntry,
    DeadLetterInfo,
    IntentInfo,
    IntentStatus,
    ModeInfo,
    PrincipalInfo,
    StateChange,
    TableInfo,
    VersionInfo,
)
from orchestration.catalog.tables import Tables
from orchestration.catalog.transitions import TransitionTx, transition
from policies.lifecycle import TableState
from policies.modes import SystemMode
from policies.naming import Layer, TableRef
from policies.publish import GateStatus
from policies.roles import Role

if TYPE_CHECKING:
    from orchestration.catalog.alert_facts import AlertFacts
    from orchestration.catalog.contracts import Contracts
    from orchestration.catalog.dry_runs import DryRuns
    from orchestration.catalog.joins import Joins
    from orchestration.catalog.notifications import Notifications
    from orchestration.catalog.pii import PiiRegistry
    from orchestration.catalog.query_previews import QueryPreviews
    from orchestration.catalog.source_drift import SourceDriftReports


class Catalog:
    """The control-plane database. ``owner_url`` (PostgreSQL) is only used to migrate it."""

    def __init__(
        self,
        url: str,
        *,
        lock_timeout_s: float = DEFAULT_LOCK_TIMEOUT_S,
        owner_url: str | None = None,
    ) -> None:
        self.url = url
        self._owner_url = owner_url
        self._db = Database(url, lock_timeout_s)
        self.principals = Principals(self._db)
        self.modes = Modes(self._db)
        self.tables = Tables(self._db)
        self.intents = Intents(self._db)
        self.run_grants = RunGrants(self._db)
        self.dead_letters = DeadLetters(self._db)
        self.audit_log = AuditLog(self._db)

    # -- the capabilities' state: imported on first use, so a command that never touches them
    # (most do not) does not pay for their models and policies at start-up.
    @cached_property
    def query_previews(self) -> QueryPreviews:
        from orchestration.catalog.query_previews import QueryPreviews

        return QueryPreviews(self._db)

    @cached_property
    def pii(self) -> PiiRegistry:
        from orchestration.catalog.pii import PiiRegistry

        return PiiRegistry(self._db)

    @cached_property
    def notifications(self) -> Notifications:
        from orchestration.catalog.notifications import Notifications

        return Notifications(self._db)

    @cached_property
    def alert_facts(self) -> AlertFacts:
        from orchestration.catalog.alert_facts import AlertFacts

        return AlertFacts(self._db)

    @cached_property
    def source_drift(self) -> SourceDriftReports:
        from orchestration.catalog.source_drift import SourceDriftReports

        return SourceDriftReports(self._db)

    @cached_property
    def contracts(self) -> Contracts:
        """The contract registry."""
        from orchestration.catalog.contracts import Contracts

        return Contracts(self._db)

    @cached_property
    def dry_runs(self) -> DryRuns:
        """Replay/backfill dry runs, each claimed once."""
        from orchestration.catalog.dry_runs import DryRuns

        return DryRuns(self._db, self.audit_log)

    @cached_property
    def joins(self) -> Joins:
        from orchestration.catalog.joins import Joins

        return Joins(self._db)

    def __repr__(self) -> str:
        return f"Catalog({self._db.url.render_as_string(hide_password=True)!r})"

    def __enter__(self) -> Catalog:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.dispose()

    @property
    def engine(self) -> sa.Engine:
        return self._db.engine

    @property
    def dialect(self) -> str:
        return self._db.dialect

    def dispose(self) -> None:
        self._db.dispose()

    # -- schema ---------------------------------------------------------------------------
    def upgrade(self) -> list[str]:
        """Create or migrate the schema and its guards (``spyne init``); returns guards put back."""
        if self._owner_url is None or self._owner_url == self.url:
            return schema.upgrade(self._db)
        owner = Database(self._owner_url, self._db.lock_timeout_s)
        try:
            app_role = database_url(self.url).username
            return schema.upgrade(owner, app_role=app_role)
        finally:
            owner.dispose()

    def check_ready(self) -> None:
        """Refuse a missing, empty, outdated or unguarded catalog (one round trip)."""
        schema.check_ready(self._db)

    def schema_revision(self) -> str | None:
        return schema.revision(self._db)

    # -- principals -----------------------------------------------------------------------
    def create_principal(self, name: str, role: Role, created_by: str) -> tuple[PrincipalInfo, str]:
        return self.principals.create(name, role, created_by)

    def authenticate(self, api_key: str | None) -> PrincipalInfo:
        return self.principals.authenticate(api_key)

    def disable_principal(self, name: str, actor: str) -> PrincipalInfo:
        return self.principals.disable(name, actor)

    def has_admin(self) -> bool:
        return self.principals.has_admin()

    def list_principals(self) -> list[PrincipalInfo]:
        return self.principals.all()

    # -- system mode ----------------------------------------------------------------------
    def current_mode(self) -> ModeInfo:
        return self.modes.current()

    def set_mode(
        self,
        mode: SystemMode,
        actor: str,
        reason: str | None = None,
        launched_by: str | None = None,
    ) -> ModeInfo:
        return self.modes.set(mode, actor, reason, launched_by)

    # -- tables and versions --------------------------------------------------------------
    def ensure_table(self, ref: TableRef, state: TableState = TableState.SHADOW) -> TableInfo:
        return self.tables.ensure(ref, state)

    def get_table(self, name: str | TableRef) -> TableInfo:
        return self.tables.get(name)

    def list_tables(
        self, *, layer: Layer | None = None, states: frozenset[TableState] | None = None
    ) -> list[TableInfo]:
        return self.tables.all(layer=layer, states=states)

    def register_version(
        self,
        name: str | TableRef,
        version: int,
        physical_name: str,
        row_count: int,
        schema: Sequence[Mapping[str, Any]],
        content_hash: str,
        build_run_id: str | None = None,
    ) -> VersionInfo:
        return self.tables.register_version(
            name, version, physical_name, row_count, schema, content_hash, build_run_id
        )

    def next_version(self, name: str | TableRef) -> int:
        return self.tables.next_version(name)

    def list_versions(
        self, name: str | TableRef, include_dropped: bool = False
    ) -> list[VersionInfo]:
        return self.tables.versions(name, include_dropped)

    def get_version(self, name: str | TableRef, version: int) -> VersionInfo:
        return self.tables.version(name, version)

    def record_gate(
        self,
        name: str | TableRef,
        version: int,
        status: GateStatus | str,
        details: Mapping[str, Any] | None = None,
        *,
        actor: str,
        launched_by: str | None = None,
    ) -> VersionInfo:
        return self.tables.record_gate(
            name, version, status, details, actor=actor, launched_by=launched_by
        )

    def record_drift(
        self, name: str | TableRef, version: int, drift: Mapping[str, Any]
    ) -> VersionInfo:
        return self.tables.record_drift(name, version, drift)

    def mark_dropped(self, name: str | TableRef, version: int) -> VersionInfo:
        return self.tables.mark_dropped(name, version)

    def history(self, name: str | TableRef) -> list[StateChange]:
        return self.tables.history(name)

    def transition(
        self, name: str | TableRef, *, expected_row_version: int | None = None
    ) -> AbstractContextManager[TransitionTx]:
        """Lock one table's row for a state change; see :func:`transitions.transition`."""
        canonical = name.canonical if isinstance(name, TableRef) else name
        return transition(self._db, canonical, expected_row_version=expected_row_version)

    # -- intents --------------------------------------------------------------------------
    def pending_intents(self, table: str | None = None) -> list[IntentInfo]:
        return self.intents.pending(table)

    def any_pending_intent(self) -> bool:
        return self.intents.any_pending()

    def settle_intent(
        self,
        intent: IntentInfo,
        status: IntentStatus,
        note: str,
        actor: str,
        launched_by: str | None = None,
    ) -> None:
        self.intents.settle(intent, status, note, actor, launched_by)

    # -- run grants -----------------------------------------------------------------------
    def grant_run(self, principal: PrincipalInfo, run_id: str, ttl: timedelta = DEFAULT_TTL) -> str:
        return self.run_grants.grant(principal, run_id, ttl)

    def resolve_run_grant(self, token: str, run_id: str) -> PrincipalInfo:
        return self.run_grants.resolve(token, run_id)

    # -- dead letters ---------------------------------------------------------------------
    def record_dead_letter(
        self, letter: NewDeadLetter, actor: str, launched_by: str | None = None
    ) -> DeadLetterInfo:
        return self.dead_letters.record(letter, actor, launched_by)

    def list_dead_letters(self, include_requeued: bool = False) -> list[DeadLetterInfo]:
        return self.dead_letters.all(include_requeued)

    def get_dead_letter(self, run_id: str) -> DeadLetterInfo:
        return self.dead_letters.get(run_id)

    def claim_requeue(
        self, run_id: str, new_run_id: str, actor: str, launched_by: str | None = None
    ) -> DeadLetterInfo:
        return self.dead_letters.claim_requeue(run_id, new_run_id, actor, launched_by)

    # -- audit ----------------------------------------------------------------------------
    def audit(
        self,
        actor: str,
        action: str,
        target: str | None,
        outcome: AuditOutcome | str,
        details: Mapping[str, Any] | None = None,
        launched_by: str | None = None,
    ) -> int:
        """Append one audit entry in its own transaction (so refusals are kept too)."""
        return self.audit_log.record(actor, action, target, outcome, details, launched_by)

    def list_audit(
        self, limit: int = 50, target: str | None = None, action: str | None = None
    ) -> list[AuditEntry]:
        """Newest first."""
        return self.audit_log.entries(limit, target, action)

    def verify_audit(self) -> ChainVerdict:
        return self.audit_log.verify()
