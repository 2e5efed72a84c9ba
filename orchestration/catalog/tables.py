"""Tables and their versions: what exists, what each version is, and what its gates said."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import sqlalchemy as sa
from sqlalchemy import exc as sa_exc

from orchestration.catalog.audit import append, now
from orchestration.catalog.control_tables import (
    AuditOutcome,
    state_history,
    table_versions,
    tables,
)
from orchestration.catalog.engine import Database
from orchestration.catalog.snapshots import (
    Row,
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


V = table_versions.c


def retained_count(conn: sa.Connection, name: str) -> int:
    stmt = (
        sa.select(sa.func.count())
        .select_from(table_versions)
        .where(V.table_name == name, V.dropped_at.is_(None))
    )
    return int(conn.scalar(stmt) or 0)


def find_table(conn: sa.Connection, name: str) -> Row | None:
    return conn.execute(sa.select(tables).where(tables.c.name == name)).first()


def require_table(conn: sa.Connection, name: str, *, lock: bool = False) -> Row:
    stmt = sa.select(tables).where(tables.c.name == name)
    if lock:
        stmt = stmt.with_for_update()
    row = conn.execute(stmt).first()
    if row is None:
        raise NotFound(
            f"table {name!r} is not in the catalog; {_LIST_TABLES_HINT}", details={"table": name}
        )
    return row


def find_version(conn: sa.Connection, name: str, version: int) -> Row | None:
    stmt = sa.select(table_versions).where(V.table_name == name, V.version == version)
    return conn.execute(stmt).first()


def require_version(conn: sa.Connection, name: str, version: int) -> Row:
    checked_version(version)
    row = find_version(conn, name, version)
    if row is None:
        known: list[int] = list(
            conn.scalars(
                sa.select(V.version)
                .where(V.table_name == name, V.dropped_at.is_(None))
                .order_by(V.version)
            ).all()
        )
        listed = ", ".join(str(v) for v in known) or "none"
        raise NotFound(
            f"{name} has no version {version}; its retained versions are: {listed}",
            details={"table": name, "version": version, "retained_versions": list(known)},
        )
    return row


def versions_of(conn: sa.Connection, name: str, include_dropped: bool) -> list[VersionInfo]:
    stmt = sa.select(table_versions).where(V.table_name == name)
    if not include_dropped:
        stmt = stmt.where(V.dropped_at.is_(None))
    rows = conn.execute(stmt.order_by(V.version)).all()
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
            with self._db.connect(write=True) as c:
                row = find_table(c, name)
                if row is None:
                    at = now()
                    c.execute(
                        sa.insert(tables).values(
                            name=name,
                            layer=ref.layer.value,
                            state=state.value,
                            active_version=None,
                            row_version=1,
                            created_at=at,
                            updated_at=at,
                            last_promoted_at=None,
                        )
                    )
                    row = require_table(c, name)
                return table_info(row, retained_count(c, name))
        except sa_exc.IntegrityError:
            return self.get(name)  # another process created it between our read and insert

    def get(self, name: str | TableRef) -> TableInfo:
        with self._db.connect(write=False) as c:
            row = require_table(c, table_name(name))
            return table_info(row, retained_count(c, row.name))

    def all(
        self, *, layer: Layer | None = None, states: frozenset[TableState] | None = None
    ) -> list[TableInfo]:
        counts = (
            sa.select(V.table_name, sa.func.count().label("n"))
            .where(V.dropped_at.is_(None))
            .group_by(V.table_name)
            .subquery()
        )
        stmt = (
            sa.select(tables, sa.func.coalesce(counts.c.n, 0).label("retained"))
            .outerjoin(counts, counts.c.table_name == tables.c.name)
            .order_by(tables.c.name)
        )
        if layer is not None:
            stmt = stmt.where(tables.c.layer == layer.value)
        if states is not None:
            stmt = stmt.where(tables.c.state.in_(sorted(s.value for s in states)))
        with self._db.connect(write=False) as c:
            return [table_info(row, int(row.retained)) for row in c.execute(stmt).all()]

    def history(self, name: str | TableRef) -> list[StateChange]:
        """A table's state changes, oldest first."""
        name = table_name(name)
        with self._db.connect(write=False) as c:
            require_table(c, name)
            rows = c.execute(
                sa.select(state_history)
                .where(state_history.c.table_name == name)
                .order_by(state_history.c.id)
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
            with self._db.connect(write=True) as c:
                table = require_table(c, name)
                if table.state == TableState.READ_ONLY.value:
                    raise ValidationFailed(
                        f"{name} is a READ_ONLY external source; Spyne does not build versions of it",
                        details={"table": name},
                    )
                existing = find_version(c, name, version)
                if existing is not None:
                    return _same_or_refuse(
                        existing, physical_name, row_count, schema_json, content_hash
                    )
                c.execute(
                    sa.insert(table_versions).values(
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
                )
                return version_info(require_version(c, name, version))
        except sa_exc.IntegrityError as exc:
            with self._db.connect(write=False) as c:
                existing = find_version(c, name, version)
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
        with self._db.connect(write=False) as c:
            require_table(c, name)
            highest = c.scalar(sa.select(sa.func.max(V.version)).where(V.table_name == name))
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
        with self._db.connect(write=False) as c:
            require_table(c, name)
            return versions_of(c, name, include_dropped)

    def version(self, name: str | TableRef, version: int) -> VersionInfo:
        name = table_name(name)
        with self._db.connect(write=False) as c:
            require_table(c, name)
            return version_info(require_version(c, name, version))

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
        with self._db.connect(write=True) as c:
            require_version(c, name, version)
            _update_version(c, name, version, gate_status=gate.value, gate_details=gate_details)
            append(
                self._db,
                c,
                actor,
                "gate_decision",
                name,
                AuditOutcome.RECORDED,
                {"version": version, "status": gate.value, "details": gate_details},
                launched_by,
            )
            return version_info(require_version(c, name, version))

    def record_drift(
        self, name: str | TableRef, version: int, drift: Mapping[str, Any]
    ) -> VersionInfo:
        """Attach the drift report comparing this version with the active one."""
        name = table_name(name)
        with self._db.connect(write=True) as c:
            require_version(c, name, version)
            _update_version(c, name, version, drift_json=json_safe(dict(drift)))
            return version_info(require_version(c, name, version))

    def mark_dropped(self, name: str | TableRef, version: int) -> VersionInfo:
        """Note that a version's physical table is gone; its row stays, so its number is never reused.

        Locks the table row so a concurrent promotion cannot pick the version being dropped.
        """
        name = table_name(name)
        with self._db.connect(write=True) as c:
            table = require_table(c, name, lock=True)
            return mark_dropped(c, table, version)


def _update_version(conn: sa.Connection, name: str, version: int, **values: Any) -> None:
    conn.execute(
        sa.update(table_versions).where(V.table_name == name, V.version == version).values(**values)
    )


def mark_dropped(conn: sa.Connection, table: Row, version: int) -> VersionInfo:
    """Mark a version dropped, with the table's row already locked; the ACTIVE one never is."""
    row = require_version(conn, table.name, version)
    if row.dropped_at is not None:
        return version_info(row)
    if table.active_version == version:
        raise InvalidTransition(
            f"version {version} is the active version of {table.name} and cannot be dropped; "
            "promote or roll back to another version first",
            details={"table": table.name, "version": version},
        )
    _update_version(conn, table.name, version, dropped_at=now())
    return version_info(require_version(conn, table.name, version))


def _same_or_refuse(
    existing: Row,
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
