"""Table lifecycle operations shared by the CLI and Dagster runs.

Each operation gathers facts (catalog + warehouse), asks a pure policy, and only then acts;
every write names an :class:`Actor` whose identity, role and the system mode are checked by
the same policy on every path. Acts on canonical views go through :class:`Acts`, which makes
them crash-consistent. This facade composes the parts and keeps one interface for callers.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

from orchestration.catalog import Catalog, ModeInfo, TableInfo, VersionInfo
from orchestration.identity import Actor
from orchestration.lifecycle.access import Access
from orchestration.lifecycle.actions import TableActions
from orchestration.lifecycle.acts import Acts
from orchestration.lifecycle.builds import Builds
from orchestration.lifecycle.doctor import Doctor, Finding
from orchestration.lifecycle.janitor import Janitor
from orchestration.lifecycle.plans import PromotionPlan
from orchestration.lifecycle.publish import Publisher
from orchestration.lifecycle.recovery import Recovery, Settled
from orchestration.sources import SourceLocation
from orchestration.warehouse import VersionManifest, Warehouse
from policies.drift import DriftReport
from policies.modes import SystemMode
from policies.naming import TableRef
from policies.publishing import PublishingPolicy
from policies.roles import Operation


def _utcnow() -> datetime:
    return datetime.now(UTC)


class TableService:
    def __init__(
        self,
        catalog: Catalog,
        warehouse: Warehouse,
        policy: PublishingPolicy,
        clock: Callable[[], datetime] = _utcnow,
    ) -> None:
        self.catalog = catalog
        self.warehouse = warehouse
        self.policy = policy
        self.clock = clock
        self.access = Access(catalog)
        self.recovery = Recovery(catalog, warehouse)
        acts = Acts(catalog, warehouse, self.recovery)
        self.builds = Builds(catalog, warehouse, self.access)
        self.publisher = Publisher(catalog, self.access, acts, policy)
        self.actions = TableActions(catalog, self.access, acts, policy, clock)
        self.janitor_ = Janitor(catalog, warehouse, self.access, self.recovery, policy, clock)
        self.doctor = Doctor(catalog, warehouse, self.access, self.recovery)

    # -- identity ------------------------------------------------------------------------
    def require(self, actor: Actor, operation: Operation, target: str) -> None:
        """Refuse (and audit the refusal) unless the actor may do ``operation`` now."""
        self.access.require(actor, operation, target)

    def settle(self, launched_by: str | None = None) -> list[Settled]:
        """Finish or undo interrupted acts; every command and run does this before answering."""
        return self.recovery.settle(launched_by)

    # -- builds --------------------------------------------------------------------------
    def allocate_version(self, actor: Actor, ref: TableRef) -> int:
        return self.builds.allocate_version(actor, ref)

    def register_build(
        self, actor: Actor, ref: TableRef, version: int, run_id: str | None
    ) -> tuple[VersionInfo, VersionManifest]:
        return self.builds.register_build(actor, ref, version, run_id)

    def ingest(
        self,
        actor: Actor,
        ref: TableRef,
        source: SourceLocation,
        source_table: str,
        run_id: str | None,
    ) -> tuple[VersionInfo, VersionManifest]:
        return self.builds.ingest(actor, ref, source, source_table, run_id)

    def version(self, name: str, version: int | None = None) -> VersionInfo:
        return self.publisher.version(name, version)

    def drift(self, table: TableInfo, candidate: VersionInfo) -> DriftReport:
        return self.publisher.drift(table, candidate)

    # -- publishing ----------------------------------------------------------------------
    def plan_promotion(
        self, actor: Actor, name: str, version: int | None = None, expect_active: int | None = None
    ) -> PromotionPlan:
        return self.publisher.dry_run(actor, name, version, expect_active)

    def promote(
        self,
        actor: Actor,
        name: str,
        version: int | None = None,
        *,
        dry_run: bool = False,
        expect_active: int | None = None,
    ) -> PromotionPlan:
        if dry_run:
            return self.publisher.dry_run(actor, name, version, expect_active)
        return self.publisher.promote(actor, name, version, expect_active)

    def publish_automatic(
        self, actor: Actor, name: str, version: int | None = None
    ) -> PromotionPlan:
        return self.publisher.publish_automatic(actor, name, version)

    # -- the way back --------------------------------------------------------------------
    def rollback(
        self,
        actor: Actor,
        name: str,
        to_version: int | None = None,
        *,
        expect_active: int | None = None,
    ) -> PromotionPlan:
        return self.actions.rollback(actor, name, to_version, expect_active)

    def deprecate(self, actor: Actor, name: str, reason: str) -> TableInfo:
        return self.actions.deprecate(actor, name, reason)

    def restore(self, actor: Actor, name: str) -> TableInfo:
        return self.actions.restore(actor, name)

    # -- maintenance ---------------------------------------------------------------------
    def janitor(self, actor: Actor, *, dry_run: bool = False) -> dict[str, list[int]]:
        return self.janitor_.run(actor, dry_run=dry_run)

    def examine(self, actor: Actor) -> list[Finding]:
        return self.doctor.examine(actor)

    def repair(self, actor: Actor) -> list[Finding]:
        return self.doctor.repair(actor)

    # -- system mode ---------------------------------------------------------------------
    def set_mode(self, actor: Actor, mode: SystemMode, reason: str | None = None) -> ModeInfo:
        self.access.require(actor, Operation.CHANGE_MODE, "system_mode")
        return self.catalog.set_mode(mode, actor.name, reason, actor.launched_by)
