"""One locked transaction on one table: the only way a table's state or ACTIVE version changes.

:func:`transition` locks the table's row for the whole block, so two acts on one table
(threads, processes or machines) run one after the other and the second sees what the first
did. Everything done through the :class:`TransitionTx` commits together when the block ends,
or not at all if it raises.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import replace
from typing import Any, cast

import sqlalchemy as sa

from orchestration.catalog.audit import append, now
from orchestration.catalog.control_tables import (
    AuditOutcome,
    state_history,
    table_versions,
    tables,
)
from orchestration.catalog.engine import Database
from orchestration.catalog.intents import close_intent, open_intent
from orchestration.catalog.snapshots import (
    IntentStatus,
    TableInfo,
    VersionInfo,
    table_info,
    version_info,
)
from orchestration.catalog.tables import (
    mark_dropped,
    require_table,
    require_version,
    retained_count,
    versions_of,
)
from policies.errors import ConcurrentChange, InvalidTransition
from policies.lifecycle import TableState, Transition, next_state


class TransitionTx:
    """The locked row of one table, and what may be done to it inside the lock."""

    def __init__(self, db: Database, conn: sa.Connection, table: TableInfo) -> None:
        self._db = db
        self._conn = conn
        self._table = table
        self._closed = False

    @property
    def table(self) -> TableInfo:
        """The locked row as of now, including changes made earlier in this block."""
        return self._table

    def _check_open(self) -> None:
        if self._closed:
            raise RuntimeError("this transition has already ended; open a new one")

    def version(self, version: int) -> VersionInfo:
        """A version of the locked table, read inside the lock (e.g. to check its gate)."""
        self._check_open()
        with self._db.errors():
            return version_info(require_version(self._conn, self._table.name, version))

    def versions(self, include_dropped: bool = False) -> list[VersionInfo]:
        self._check_open()
        with self._db.errors():
            return versions_of(self._conn, self._table.name, include_dropped)

    def open_intent(
        self,
        action: str,
        from_version: int | None,
        to_version: int | None,
        actor: str,
        launched_by: str | None = None,
    ) -> int:
        """Record what is about to be done to the warehouse; it commits with this block."""
        self._check_open()
        with self._db.errors():
            return open_intent(
                self._conn,
                self._table.name,
                action,
                from_version,
                to_version,
                actor,
                launched_by,
            )

    def mark_dropped(self, version: int) -> VersionInfo:
        """Note, inside the lock, that a version's physical table is gone (never the ACTIVE one)."""
        self._check_open()
        with self._db.errors():
            row = require_table(self._conn, self._table.name)
            return mark_dropped(self._conn, row, version)

    def close_intent(self, intent_id: int, status: IntentStatus, note: str | None = None) -> None:
        self._check_open()
        with self._db.errors():
            close_intent(self._conn, intent_id, status, note)

    def set_state(
        self,
        to_state: TableState,
        transition: Transition,
        to_version: int | None,
        actor: str,
        reason: str | None = None,
    ) -> TableInfo:
        """Move the table; ``to_version`` is its active version afterwards.

        The move must be one the lifecycle allows from the current state. An ACTIVE
        table needs a registered, not dropped version; a DEPRECATED one may keep
        its version (so it can be restored) or none.
        """
        self._check_open()
        before = self._table
        expected = next_state(before.state, transition)
        if to_state != expected:
            raise InvalidTransition(
                f"{transition.value} moves {before.name} from {before.state.value} to "
                f"{expected.value}, not {to_state.value}",
                details={
                    "table": before.name,
                    "from_state": before.state.value,
                    "transition": transition.value,
                    "to_state": to_state.value,
                },
            )
        if to_state == TableState.ACTIVE and to_version is None:
            raise InvalidTransition(
                f"an ACTIVE table needs an active version: name the version of {before.name} "
                f"to {transition.value}",
                details={"table": before.name, "transition": transition.value},
            )
        with self._db.errors():
            return self._apply(before, to_state, transition, to_version, actor, reason)

    def _apply(
        self,
        before: TableInfo,
        to_state: TableState,
        transition: Transition,
        to_version: int | None,
        actor: str,
        reason: str | None,
    ) -> TableInfo:
        s = self._conn
        if to_version is not None:
            target = require_version(s, before.name, to_version)
            if target.dropped_at is not None:
                raise InvalidTransition(
                    f"version {to_version} of {before.name} was dropped and cannot be made "
                    "active; rebuild it as a new version",
                    details={"table": before.name, "version": to_version},
                )
        at = now()
        was_serving = before.state == TableState.ACTIVE and before.active_version is not None
        still_serving = to_state == TableState.ACTIVE and to_version == before.active_version
        published = to_state == TableState.ACTIVE and not (
            before.state == TableState.ACTIVE and to_version == before.active_version
        )
        values: dict[str, Any] = {
            "state": to_state.value,
            "active_version": to_version,
            "row_version": before.row_version + 1,
            "updated_at": at,
        }
        if published:
            values["last_promoted_at"] = at
        result = cast(
            sa.CursorResult[Any],
            s.execute(
                sa.update(tables)
                .where(tables.c.name == before.name, tables.c.row_version == before.row_version)
                .values(**values)
            ),
        )
        if result.rowcount != 1:
            raise ConcurrentChange(
                f"{before.name} was changed by someone else while this change was prepared; "
                "look at its state again and retry",
                details={"table": before.name, "seen_row_version": before.row_version},
            )
        if was_serving and not still_serving:
            s.execute(
                sa.update(table_versions)
                .where(
                    table_versions.c.table_name == before.name,
                    table_versions.c.version == before.active_version,
                )
                .values(last_active_at=at)
            )
        s.execute(
            sa.insert(state_history).values(
                table_name=before.name,
                from_state=before.state.value,
                to_state=to_state.value,
                transition=transition.value,
                from_version=before.active_version,
                to_version=to_version,
                actor=actor,
                at=at,
                reason=reason,
            )
        )
        self._table = replace(
            before,
            state=to_state,
            active_version=to_version,
            row_version=before.row_version + 1,
            updated_at=at,
            last_promoted_at=at if published else before.last_promoted_at,
        )
        return self._table

    def audit(
        self,
        actor: str,
        action: str,
        target: str | None = None,
        outcome: AuditOutcome | str = AuditOutcome.ALLOWED,
        details: Mapping[str, Any] | None = None,
        launched_by: str | None = None,
    ) -> int:
        """Audit entry committed with the transition (and rolled back with it).

        ``target`` defaults to the table. Record refusals with ``Catalog.audit`` instead:
        raising to refuse rolls this transaction back, entry included. Call it last in the
        block: appending takes the audit chain's lock.
        """
        self._check_open()
        with self._db.errors():
            return append(
                self._db,
                self._conn,
                actor,
                action,
                target or self._table.name,
                outcome,
                details,
                launched_by,
            )


@contextmanager
def transition(
    db: Database, name: str, *, expected_row_version: int | None = None
) -> Iterator[TransitionTx]:
    """Lock one table's row for a state change and commit it all at the end, or nothing.

    Waits (up to the lock timeout) while another transition of the same table is running,
    then shows its result. ``expected_row_version`` makes the change conditional on what a
    client saw earlier (ConcurrentChange otherwise).
    """
    conn = db.writer.connect()
    tx: TransitionTx | None = None
    try:
        with db.errors():
            conn.begin()
            row = require_table(conn, name, lock=True)
            table = table_info(row, retained_count(conn, name))
        if expected_row_version is not None and table.row_version != expected_row_version:
            raise ConcurrentChange(
                f"{name} changed since you looked at it (row version "
                f"{expected_row_version} -> {table.row_version}); look again and retry",
                details={
                    "table": name,
                    "expected_row_version": expected_row_version,
                    "row_version": table.row_version,
                    "state": table.state.value,
                    "active_version": table.active_version,
                },
            )
        tx = TransitionTx(db, conn, table)
        yield tx
        tx._closed = True
        with db.errors():
            conn.commit()
    except BaseException:
        conn.rollback()
        raise
    finally:
        if tx is not None:
            tx._closed = True
        conn.close()
