"""The retention janitor: drop versions whose rollback window has passed, and only those."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from orchestration.catalog import Catalog, IntentStatus, TableInfo, VersionInfo
from orchestration.identity import Actor
from orchestration.lifecycle.access import Access
from orchestration.lifecycle.actions import retained_version
from orchestration.lifecycle.recovery import DROP_VERSION, Recovery
from orchestration.warehouse import Warehouse, acting_as
from policies.lifecycle import TableState
from policies.publishing import PublishingPolicy
from policies.retention import versions_to_drop
from policies.roles import Operation

JANITOR_TARGET = "janitor"


class Janitor:
    def __init__(
        self,
        catalog: Catalog,
        warehouse: Warehouse,
        access: Access,
        recovery: Recovery,
        policy: PublishingPolicy,
        clock: Callable[[], datetime],
    ) -> None:
        self._catalog = catalog
        self._warehouse = warehouse
        self._access = access
        self._recovery = recovery
        self._policy = policy
        self._clock = clock

    def _doomed(self, table: TableInfo, versions: list[VersionInfo]) -> tuple[int, ...]:
        return versions_to_drop(
            [retained_version(v, table) for v in versions],
            now=self._clock(),
            retention=self._policy.retention_for(table.name),
        )

    def plan(self) -> dict[str, list[int]]:
        """Versions the retention policy lets go, per table (nothing is dropped)."""
        doomed: dict[str, list[int]] = {}
        for table in self._catalog.list_tables():
            if table.state == TableState.READ_ONLY:
                continue
            versions = self._doomed(table, self._catalog.list_versions(table.name))
            if versions:
                doomed[table.name] = list(versions)
        return doomed

    def run(self, actor: Actor, *, dry_run: bool = False) -> dict[str, list[int]]:
        """Drop what :meth:`plan` lists; each drop is an intent, a drop, and a catalog mark."""
        self._access.require(
            actor, Operation.VIEW_SHADOW if dry_run else Operation.RUN_JANITOR, JANITOR_TARGET
        )
        doomed = self.plan()
        if dry_run:
            return doomed
        with self._warehouse.exclusive(), acting_as(actor.name):
            self._recovery.settle(actor.name)
            for name, versions in doomed.items():
                for version in versions:
                    self._drop(actor, name, version)
        return doomed

    def _drop(self, actor: Actor, name: str, version: int) -> None:
        with self._catalog.transition(name) as tx:
            if version not in self._doomed(tx.table, tx.versions()):
                return  # changed since the plan (rolled back to, or already dropped)
            intent = tx.open_intent(DROP_VERSION, version, None, actor.name, actor.launched_by)
        self._warehouse.drop_version(tx.table.ref, version)
        with self._catalog.transition(name) as tx:
            tx.mark_dropped(version)
            tx.close_intent(intent, IntentStatus.DONE)
            tx.audit(
                actor.name,
                "drop_version",
                details={"version": version},
                launched_by=actor.launched_by,
            )
