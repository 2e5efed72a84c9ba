"""Tables and their versions: what exists, what each version is, and what its gates said."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import sqlalchemy as sa
from sqlalchemy import exc as sa_exc
from sqlalchemy.orm import Session

from orchestration.catalog.audit import append, now
from orchestration.catalog.engine import Database
from orchestration.catalog.models import (
    AuditOutcome,
    StateHistoryRow,
    TableRow,
    TableVersionRow,
)
from orchestration.catalog.snapshots import (
    StateChange,
    TableInfo,
    VersionInfo,
    parse_enum,
    state_change,
    table_info,
    version_info,
)
from orchestration.jsonable import json_safe
from policies.errors import InvalidTransition, NotFound, ValidationFailed
from policies.lifecycle import TableState
from policies.naming import MAX_VERSION, Layer, TableRef, checked_version
from policies.publish import GateStatus

_LIST_TABLES_HINT = "`spyne tables list` shows the tables the catalog knows"


def table_name(table: str | TableRef) -> str:
    return table.canonical if isinstance(table, TableRef) else table


def retained_count(session: Session, name: str) -> int:
    stmt = (
        sa.select(sa.func.count())
        .select_from(TableVersionRow)
        .where(TableVersionRow.table_name == name, TableVersionRow.dropped_at.is_(None))
    )
    return int(session.scalar(stmt) or 0)


def require_table(session: Session, name: str, *, lock: bool = False) -> TableRow:
    stmt = sa.select(TableRow).where(TableRow.name == name)
    if lock:
        stmt = stmt.with_for_update()
    row = session.scalars(stmt).first()
    if row is None:
        raise NotFound(
            f"table {name!r} is not in the catalog; {_LIST_TABLES_HINT}", details={"table": name}
        )
    return row


def require_version(session: Session, name: str, version: int) -> TableVersionRow:
    checked_version(version)
    row = session.get(TableVersionRow, (name, version))
    if row is None:
        known = session.scalars(
            sa.select(TableVersionRow.version)
            .where(TableVersionRow.table_name == name, TableVersionRow.dropped_at.is_(None))
            .order_by(TableVersionRow.version)
        ).all()
        listed = ", ".join(str(v) for v in known) or "none"
        raise NotFound(
            f"{name} has no version {version}; its retained versions are: {listed}",
            details={"table": name, "version": version, "retained_versions": list(known)},
        )
    return row


def versions_of(session: Session, name: str, include_dropped: bool) -> list[VersionInfo]:
    stmt = sa.select(TableVersionRow).where(TableVersionRow.table_name == name)
    if not include_dropped:
        stmt = stmt.where(TableVersionRow.dropped_at.is_(None))
    rows = session.scalars(stmt.order_by(TableVersionRow.version)).all()
    return [version_info(r) for r in rows]


class Tables:
    def __init__(self, db: Database) -> None:
        self._db = db

    # -- tables -------------------------------------------------------------------------
    def ensure(self, ref: TableRef, state: TableState = TableState.SHADOW) -> TableInfo:
        """The table's row, created in ``state`` if new; an existing row is left as it is."""
        if state not in (TableState.SHADOW, TableState.READ_ONLY):
            raise InvalidTransition(
                f"a table enters the catalog as SHADOW or READ_ONLY, not {state.value}; "
                "it becomes ACTIVE by being promoted",
                details={"table": ref.canonical, "state": state.value},
            )
        name = ref.canonical
        try:
            with self._db.session(write=True) as s:
                row = s.get(TableRow, name)
                if row is None:
                    at = now()
                    row = TableRow(
                        name=name,
                        layer=ref.layer.value,
                        state=state.value,
                        active_version=None,
                        row_version=1,
                        created_at=at,
                        updated_at=at,
                        last_promoted_at=None,
                    )
                    s.add(row)
                    s.flush()
                return table_info(row, retained_count(s, name))
        except sa_exc.IntegrityError:
            return self.get(name)  # another process created it between our read and insert

    def get(self, name: str | TableRef) -> TableInfo:
        with self._db.session(write=False) as s:
            row = require_table(s, table_name(name))
            return table_info(row, retained_count(s, row.name))

    def all(
        self, *, layer: Layer | None = None, states: frozenset[TableState] | None = None
    ) -> list[TableInfo]:
        counts = (
            sa.select(TableVersionRow.table_name, sa.func.count().label("n"))
            .where(TableVersionRow.dropped_at.is_(None))
            .group_by(TableVersionRow.table_name)
            .subquery()
        )
        stmt = (
            sa.select(TableRow, sa.func.coalesce(counts.c.n, 0))
            .outerjoin(counts, counts.c.table_name == TableRow.name)
            .order_by(TableRow.name)
        )
        if layer is not None:
            stmt = stmt.where(TableRow.layer == layer.value)
        if states is not None:
            stmt = stmt.where(TableRow.state.in_(sorted(s.value for s in states)))
        with self._db.session(write=False) as s:
            return [table_info(row, int(n)) for row, n in s.execute(stmt).tuples()]

    def history(self, name: str | TableRef) -> list[StateChange]:
        """A table's state changes, oldest first."""
        name = table_name(name)
        with self._db.session(write=False) as s:
            require_table(s, name)
            rows = s.scalars(
                sa.select(StateHistoryRow)
                .where(StateHistoryRow.table_name == name)
                .order_by(StateHistoryRow.id)
            ).all()
            return [state_change(r) for r in rows]

    # -- versions -----------------------------------------------------------------------
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
        """Record a built version. Same content again is a no-op; different content is refused.

        Versions are immutable: a rebuild with other data is a new version number.
        """
        name = table_name(name)
        checked_version(version)
        if row_count < 0:
            raise ValidationFailed(
                f"row_count cannot be negative, got {row_count}", details={"row_count": row_count}
            )
        schema_json = json_safe([dict(c) for c in schema])
        try:
            with self._db.session(write=True) as s:
                table = require_table(s, name)
                if table.state == TableState.READ_ONLY.value:
                    raise ValidationFailed(
                        f"{name} is a READ_ONLY external source; Spyne does not build versions of it",
                        details={"table": name},
                    )
                existing = s.get(TableVersionRow, (name, version))
                if existing is not None:
                    return _same_or_refuse(
                        existing, physical_name, row_count, schema_json, content_hash
                    )
                row = TableVersionRow(
                    table_name=name,
                    version=version,
                    physical_name=physical_name,
                    created_at=now(),
                    row_count=row_count,
                    schema_json=schema_json,
                    content_hash=content_hash,
                    gate_status=GateStatus.NOT_RUN.value,
                    gate_details=None,
                    drift_json=None,
                    build_run_id=build_run_id,
                )
                s.add(row)
                s.flush()
                return version_info(row)
        except sa_exc.IntegrityError as exc:
            with self._db.session(write=False) as s:
                existing = s.get(TableVersionRow, (name, version))
                if existing is not None:
                    return _same_or_refuse(
                        existing, physical_name, row_count, schema_json, content_hash
                    )
            raise ValidationFailed(
                f"physical table {physical_name!r} is already registered for another version; "
                "every version needs its own physical table",
                details={"table": name, "version": version, "physical_name": physical_name},
            ) from exc

    def next_version(self, name: str | TableRef) -> int:
        """One more than any version ever registered, dropped ones included: numbers never repeat."""
        name = table_name(name)
        with self._db.session(write=False) as s:
            require_table(s, name)
            highest = s.scalar(
                sa.select(sa.func.max(TableVersionRow.version)).where(
                    TableVersionRow.table_name == name
                )
            )
        following = int(highest or 0) + 1
        if following > MAX_VERSION:
            raise ValidationFailed(
                f"{name} has used every version number up to {MAX_VERSION}",
                details={"table": name},
            )
        return following

    def versions(self, name: str | TableRef, include_dropped: bool = False) -> list[VersionInfo]:
        """Versions oldest first."""
        name = table_name(name)
        with self._db.session(write=False) as s:
            require_table(s, name)
            return versions_of(s, name, include_dropped)

    def version(self, name: str | TableRef, version: int) -> VersionInfo:
        name = table_name(name)
        with self._db.session(write=False) as s:
            require_table(s, name)
            return version_info(require_version(s, name, version))

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
        """Record (or re-record) a version's gate verdict, with its audit entry.

        The verdict comes after the build, so unlike the version's data it can change.
        """
        name = table_name(name)
        gate = parse_enum(GateStatus, status, "gate status", "status")
        gate_details = json_safe(dict(details or {}))
        with self._db.session(write=True) as s:
            row = require_version(s, name, version)
            row.gate_status = gate.value
            row.gate_details = gate_details
            s.flush()
            append(
                self._db,
                s,
                actor,
                "gate_decision",
                name,
                AuditOutcome.RECORDED,
                {"version": version, "status": gate.value, "details": gate_details},
                launched_by,
            )
            return version_info(row)

    def record_drift(
        self, name: str | TableRef, version: int, drift: Mapping[str, Any]
    ) -> VersionInfo:
        """Attach the drift report comparing this version with the active one."""
        name = table_name(name)
        with self._db.session(write=True) as s:
            row = require_version(s, name, version)
            row.drift_json = json_safe(dict(drift))
            s.flush()
            return version_info(row)

    def mark_dropped(self, name: str | TableRef, version: int) -> VersionInfo:
        """Note that a version's physical table is gone; its row stays, so its number is never reused.

        Locks the table row so a concurrent promotion cannot pick the version being dropped.
        """
        name = table_name(name)
        with self._db.session(write=True) as s:
            table = require_table(s, name, lock=True)
            return mark_dropped(s, table, version)


def mark_dropped(session: Session, table: TableRow, version: int) -> VersionInfo:
    """Mark a version dropped, with the table's row already locked; the ACTIVE one never is."""
    row = require_version(session, table.name, version)
    if row.dropped_at is not None:
        return version_info(row)
    if table.active_version == version:
        raise InvalidTransition(
            f"version {version} is the active version of {table.name} and cannot be dropped; "
            "promote or roll back to another version first",
            details={"table": table.name, "version": version},
        )
    row.dropped_at = now()
    session.flush()
    return version_info(row)


def _same_or_refuse(
    existing: TableVersionRow,
    physical_name: str,
    row_count: int,
    schema_json: list[dict[str, Any]],
    content_hash: str,
) -> VersionInfo:
    incoming = {
        "physical_name": physical_name,
        "row_count": row_count,
        "schema": schema_json,
        "content_hash": content_hash,
    }
    stored = {
        "physical_name": existing.physical_name,
        "row_count": existing.row_count,
        "schema": existing.schema_json,
        "content_hash": existing.content_hash,
    }
    differs = sorted(k for k in incoming if incoming[k] != stored[k])
    if differs:
        raise ValidationFailed(
            f"version {existing.version} of {existing.table_name} is already registered "
            f"with different {', '.join(differs)}; versions are immutable, register the "
            "new build as the next version",
            details={"table": existing.table_name, "version": existing.version, "differs": differs},
        )
    return version_info(existing)
