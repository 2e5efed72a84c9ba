"""Table lifecycle operations shared by the CLI, the API and Dagster.

Each operation gathers facts (catalog + warehouse), asks a pure policy, and only then
acts. Acting is one catalog transaction that locks the table row plus one view swap
inside it: if the swap fails the transaction rolls back, and if the commit fails the
view is swapped back, so the catalog and the canonical view never disagree.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from orchestration.catalog.store import Catalog, PrincipalInfo, TableInfo, VersionInfo
from orchestration.warehouse import DuckDBWarehouse, VersionManifest
from policies.decisions import Decision, Verdict
from policies.drift import Column, DriftReport, compare_schemas
from policies.errors import InvalidTransition, NotFound, SpyneError
from policies.lifecycle import TableState, Transition, next_state
from policies.modes import SystemMode, require_ingestion
from policies.naming import TableRef, parse_table_ref
from policies.publish import (
    RULE_ERRORS,
    GateStatus,
    PublishFacts,
    PublishingPolicy,
    RollbackFacts,
    TableActionFacts,
    decide_deprecate,
    decide_publish,
    decide_restore,
    decide_rollback,
)
from policies.retention import RetainedVersion, is_retained, versions_to_drop
from policies.roles import Operation, Role, authorize

SYSTEM_PUBLISHER = "system:publisher"
SYSTEM_BUILDER = "system:builder"
SYSTEM_JANITOR = "system:janitor"


def _utcnow() -> datetime:
    return datetime.now(UTC)


def _columns(schema: list[dict[str, Any]] | None) -> list[Column] | None:
    if schema is None:
        return None
    return [
        Column(str(c["name"]), str(c["data_type"]), bool(c.get("nullable", True))) for c in schema
    ]


def error_for(decision: Decision) -> SpyneError:
    rule = decision.reasons[0].rule if decision.reasons else "policy"
    cls = RULE_ERRORS.get(rule, InvalidTransition)
    details: dict[str, Any] = {"rule": rule, "verdict": decision.verdict.name}
    if decision.reasons:
        details.update(decision.reasons[0].details)
    details["reasons"] = [{"rule": r.rule, "message": r.message} for r in decision.reasons]
    return cls(decision.message, details=details)


@dataclass(frozen=True)
class PromotionPlan:
    """What a promotion would do; a dry run returns exactly this and changes nothing."""

    table: str
    table_state: TableState
    from_version: int | None
    to_version: int
    gate_status: GateStatus
    gate_details: dict[str, Any]
    drift: DriftReport
    decision: Decision
    applied: bool = False
    actor: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {
            "table": self.table,
            "state": self.table_state.value,
            "from_version": self.from_version,
            "to_version": self.to_version,
            "gate_status": self.gate_status.value,
            "gate": self.gate_details,
            "drift": self.drift.to_dict(),
            "decision": self.decision.verdict.name,
            "reasons": [{"rule": r.rule, "message": r.message} for r in self.decision.reasons],
            "applied": self.applied,
            "actor": self.actor,
        }


class TableService:
    def __init__(
        self,
        catalog: Catalog,
        warehouse: DuckDBWarehouse,
        policy: PublishingPolicy,
        clock: Callable[[], datetime] = _utcnow,
    ) -> None:
        self.catalog = catalog
        self.warehouse = warehouse
        self.policy = policy
        self.clock = clock

    # -- identity ------------------------------------------------------------------------
    def require(self, principal: PrincipalInfo, operation: Operation, target: str) -> None:
        """Refuse (and audit the refusal) when the principal's role is too weak."""
        decision = authorize(principal.role, operation)
        if not decision.allowed:
            err = error_for(decision)
            self.catalog.audit(principal.name, operation.value, target, "refused", err.to_dict())
            raise err

    # -- builds --------------------------------------------------------------------------
    def allocate_version(self, ref: TableRef) -> int:
        self.catalog.ensure_table(ref)
        existing = self.warehouse.versions(ref)
        return max(self.catalog.next_version(ref.canonical), (max(existing) + 1) if existing else 1)

    def register_build(
        self, ref: TableRef, version: int, run_id: str | None
    ) -> tuple[VersionInfo, VersionManifest]:
        manifest = self.warehouse.manifest(ref, version)
        self.catalog.ensure_table(ref)
        info = self.catalog.register_version(
            ref.canonical,
            version,
            f"{ref.shadow_schema}.{ref.version_identifier(version)}",
            manifest.row_count,
            manifest.schema_dicts(),
            manifest.content_hash,
            run_id,
        )
        self.catalog.audit(
            SYSTEM_BUILDER,
            "build",
            ref.canonical,
            "recorded",
            {
                "version": version,
                "rows": manifest.row_count,
                "content_hash": manifest.content_hash,
                "run_id": run_id,
            },
        )
        return info, manifest

    def ingest(
        self, ref: TableRef, source_path: Any, source_table: str, run_id: str | None
    ) -> tuple[VersionInfo, VersionManifest]:
        """Land a source table as a new bronze version; refused unless the mode allows ingestion."""
        mode = self.catalog.current_mode().mode
        try:
            require_ingestion(SystemMode(mode))
        except SpyneError as err:
            self.catalog.audit(SYSTEM_BUILDER, "ingest", ref.canonical, "refused", err.to_dict())
            raise
        version = self.allocate_version(ref)
        self.warehouse.copy_from_source(source_path, source_table, ref, version)
        return self.register_build(ref, version, run_id)

    def newest_version(self, name: str) -> VersionInfo:
        versions = self.catalog.list_versions(name)
        if not versions:
            raise NotFound(
                f"{name} has no built versions yet; materialize its shadow asset first",
                details={"table": name},
            )
        return max(versions, key=lambda v: v.version)

    def version(self, name: str, version: int | None = None) -> VersionInfo:
        """Version N of a table, or its newest build when N is not given."""
        return (
            self.newest_version(name)
            if version is None
            else self.catalog.get_version(name, version)
        )

    def drift(
        self,
        table: TableInfo,
        candidate: VersionInfo,
        get_version: Callable[[int], VersionInfo] | None = None,
    ) -> DriftReport:
        """The candidate's schema against the ACTIVE version's (none yet: no drift)."""
        get = get_version or (lambda v: self.catalog.get_version(table.name, v))
        active = (
            None if table.active_version is None else _columns(get(table.active_version).schema)
        )
        return compare_schemas(active, _columns(candidate.schema) or [])

    # -- planning ------------------------------------------------------------------------
    def _plan(
        self,
        table: TableInfo,
        version: int | None,
        *,
        explicit: bool,
        actor_role: Role | None,
        actor: str,
        get_version: Callable[[int], VersionInfo] | None = None,
    ) -> PromotionPlan:
        """Facts -> publish decision. Inside a transition, versions are read under its lock."""
        name = table.name
        candidate = get_version(version) if get_version and version else self.version(name, version)
        if candidate.dropped_at is not None:
            raise NotFound(
                f"version {candidate.version} of {name} was dropped by the janitor; pick a retained version",
                details={"table": name, "version": candidate.version},
            )
        drift = self.drift(table, candidate, get_version)
        facts = PublishFacts(
            table=name,
            table_state=TableState(table.state),
            candidate_version=candidate.version,
            active_version=table.active_version,
            gate_status=GateStatus(candidate.gate_status),
            drift=drift.severity,
            explicit=explicit,
            actor_role=actor_role,
            auto_publish=table.auto_publish
            if table.auto_publish is not None
            else self.policy.auto_publish_for(name),
        )
        return PromotionPlan(
            table=name,
            table_state=TableState(table.state),
            from_version=table.active_version,
            to_version=candidate.version,
            gate_status=GateStatus(candidate.gate_status),
            gate_details=dict(candidate.gate_details or {}),
            drift=drift,
            decision=decide_publish(facts),
            actor=actor,
        )

    def plan_promotion(
        self, principal: PrincipalInfo, name: str, version: int | None = None
    ) -> PromotionPlan:
        ref = parse_table_ref(name)
        return self._plan(
            self.catalog.get_table(ref.canonical),
            version,
            explicit=True,
            actor_role=principal.role,
            actor=principal.name,
        )

    # -- acting --------------------------------------------------------------------------
    def promote(
        self,
        principal: PrincipalInfo,
        name: str,
        version: int | None = None,
        *,
        dry_run: bool = False,
    ) -> PromotionPlan:
        ref = parse_table_ref(name)
        self.require(principal, Operation.PROMOTE, ref.canonical)
        if dry_run:
            plan = self.plan_promotion(principal, ref.canonical, version)
            self.catalog.audit(
                principal.name, "promote_dry_run", ref.canonical, "recorded", plan.to_dict()
            )
            return plan
        return self._publish(
            ref, version, explicit=True, actor=principal.name, actor_role=principal.role
        )

    def publish_automatic(self, name: str, version: int | None = None) -> PromotionPlan:
        """End-of-run publish: only when the policy allows it without a person (never raises on policy)."""
        ref = parse_table_ref(name)
        try:
            return self._publish(
                ref, version, explicit=False, actor=SYSTEM_PUBLISHER, actor_role=None
            )
        except _NotPublished as np:
            return np.plan

    def _publish(
        self,
        ref: TableRef,
        version: int | None,
        *,
        explicit: bool,
        actor: str,
        actor_role: Role | None,
    ) -> PromotionPlan:
        name = ref.canonical
        changed_view_from: tuple[bool, int | None] = (False, None)
        try:
            with self.warehouse.hold(), self.catalog.transition(name) as tx:
                plan = self._plan(
                    tx.table,
                    version,
                    explicit=explicit,
                    actor_role=actor_role,
                    actor=actor,
                    get_version=tx.version,
                )
                if not plan.decision.allowed:
                    raise _NotPublished(plan)
                new_state = next_state(plan.table_state, Transition.PROMOTE)
                self.warehouse.swap_view(
                    ref, plan.to_version, first=plan.table_state == TableState.SHADOW
                )
                changed_view_from = (True, _visible_version(tx.table))
                tx.set_state(new_state, Transition.PROMOTE, plan.to_version, actor, "promote")
                tx.audit(actor, "promote", name, "allowed", plan.to_dict() | {"applied": True})
            return PromotionPlan(**{**plan.__dict__, "applied": True})
        except _NotPublished as np:
            outcome = (
                "refused" if np.plan.decision.verdict == Verdict.BLOCK or explicit else "recorded"
            )
            action = "promote" if explicit else "auto_publish_skipped"
            self.catalog.audit(actor, action, name, outcome, np.plan.to_dict())
            if explicit:
                raise error_for(np.plan.decision) from None
            raise
        except BaseException:
            self._restore_view(ref, *changed_view_from)
            raise

    def _restore_view(self, ref: TableRef, changed: bool, previous: int | None) -> None:
        if not changed:
            return
        if previous is None:
            self.warehouse.drop_view(ref)
        else:
            self.warehouse.swap_view(ref, previous)

    def _retained(self, table: TableInfo) -> list[VersionInfo]:
        retention = self.policy.retention_for(table.name)
        now = self.clock()
        return [
            v
            for v in self.catalog.list_versions(table.name)
            if v.version == table.active_version
            or is_retained(_retained_version(v, table), now, retention)
        ]

    def rollback(
        self, principal: PrincipalInfo, name: str, to_version: int | None = None
    ) -> PromotionPlan:
        ref = parse_table_ref(name)
        self.require(principal, Operation.ROLLBACK, ref.canonical)
        changed: tuple[bool, int | None] = (False, None)
        try:
            with self.warehouse.hold(), self.catalog.transition(ref.canonical) as tx:
                table = tx.table
                retained = {v.version: v for v in self._retained(table)}
                target = (
                    to_version if to_version is not None else self._previous_active(table, retained)
                )
                target_info = self.catalog.get_version(ref.canonical, target) if target else None
                facts = RollbackFacts(
                    table=ref.canonical,
                    table_state=TableState(table.state),
                    target_version=target or 0,
                    active_version=table.active_version,
                    # the janitor drops a version from the warehouse and the catalog together;
                    # the view swap below still fails cleanly if the table is missing.
                    target_retained=target in retained,
                    target_gate_status=GateStatus(target_info.gate_status)
                    if target_info
                    else GateStatus.NOT_RUN,
                    actor_role=principal.role,
                )
                decision = decide_rollback(facts)
                if not decision.allowed:
                    raise error_for(decision)
                assert target is not None and target_info is not None
                self.warehouse.swap_view(ref, target, first=False)
                changed = (True, _visible_version(table))
                tx.set_state(
                    TableState.ACTIVE, Transition.ROLLBACK, target, principal.name, "rollback"
                )
                plan = PromotionPlan(
                    table=ref.canonical,
                    table_state=TableState(table.state),
                    from_version=table.active_version,
                    to_version=target,
                    gate_status=GateStatus(target_info.gate_status),
                    gate_details=dict(target_info.gate_details or {}),
                    drift=compare_schemas(None, []),
                    decision=decision,
                    applied=True,
                    actor=principal.name,
                )
                tx.audit(principal.name, "rollback", ref.canonical, "allowed", plan.to_dict())
            return plan
        except SpyneError as err:
            self._restore_view(ref, *changed)
            self.catalog.audit(principal.name, "rollback", ref.canonical, "refused", err.to_dict())
            raise
        except BaseException:
            self._restore_view(ref, *changed)
            raise

    def _previous_active(self, table: TableInfo, retained: dict[int, VersionInfo]) -> int | None:
        """The most recently superseded retained version: what 'roll back' means without a number."""
        candidates = [
            v
            for v in retained.values()
            if v.version != table.active_version and v.last_active_at is not None
        ]
        if not candidates:
            raise NotFound(
                f"{table.name} has no earlier ACTIVE version within retention to roll back to; "
                "use --to-version N with a retained version",
                details={"table": table.name, "retained": sorted(retained)},
            )
        return max(
            candidates, key=lambda v: v.last_active_at or datetime.min.replace(tzinfo=UTC)
        ).version

    def deprecate(self, principal: PrincipalInfo, name: str, reason: str) -> TableInfo:
        ref = parse_table_ref(name)
        self.require(principal, Operation.DEPRECATE, ref.canonical)
        if not reason.strip():
            raise InvalidTransition(
                "deprecation needs a reason (--reason TEXT)", details={"table": name}
            )
        return self._state_change(principal, ref, Transition.DEPRECATE, reason)

    def restore(self, principal: PrincipalInfo, name: str) -> TableInfo:
        ref = parse_table_ref(name)
        self.require(principal, Operation.RESTORE, ref.canonical)
        return self._state_change(principal, ref, Transition.RESTORE, "restore")

    def _state_change(
        self, principal: PrincipalInfo, ref: TableRef, transition: Transition, reason: str
    ) -> TableInfo:
        changed: tuple[bool, int | None] = (False, None)
        try:
            with self.catalog.transition(ref.canonical) as tx:
                table = tx.table
                decide = decide_deprecate if transition == Transition.DEPRECATE else decide_restore
                decision = decide(
                    TableActionFacts(ref.canonical, TableState(table.state), principal.role)
                )
                if not decision.allowed:
                    raise error_for(decision)
                to_state = next_state(TableState(table.state), transition)
                previous = _visible_version(table)
                if transition == Transition.DEPRECATE:
                    self.warehouse.drop_view(ref)
                else:
                    assert table.active_version is not None
                    self.warehouse.swap_view(ref, table.active_version)
                changed = (True, previous)
                tx.set_state(to_state, transition, table.active_version, principal.name, reason)
                tx.audit(
                    principal.name,
                    transition.value,
                    ref.canonical,
                    "allowed",
                    {
                        "from_state": table.state,
                        "to_state": to_state.value,
                        "version": table.active_version,
                        "reason": reason,
                    },
                )
            return self.catalog.get_table(ref.canonical)
        except SpyneError as err:
            self._restore_view(ref, *changed)
            self.catalog.audit(
                principal.name, transition.value, ref.canonical, "refused", err.to_dict()
            )
            raise
        except BaseException:
            self._restore_view(ref, *changed)
            raise

    # -- janitor -------------------------------------------------------------------------
    def janitor(self, *, dry_run: bool = False) -> dict[str, list[int]]:
        """Drop versions outside retention that are neither ACTIVE nor the newest; nothing else."""
        dropped: dict[str, list[int]] = {}
        now = self.clock()
        for table in self.catalog.list_tables():
            if table.state == TableState.READ_ONLY.value:
                continue
            versions = self.catalog.list_versions(table.name)
            doomed = versions_to_drop(
                [_retained_version(v, table) for v in versions],
                now=now,
                retention=self.policy.retention_for(table.name),
            )
            if not doomed:
                continue
            dropped[table.name] = list(doomed)
            if dry_run:
                continue
            ref = parse_table_ref(table.name)
            for v in doomed:
                self.warehouse.drop_version(ref, v)
                self.catalog.mark_dropped(table.name, v)
                self.catalog.audit(
                    SYSTEM_JANITOR, "drop_version", table.name, "allowed", {"version": v}
                )
        return dropped

    # -- system mode ---------------------------------------------------------------------
    def set_mode(
        self, principal: PrincipalInfo, mode: SystemMode, reason: str | None = None
    ) -> Any:
        self.require(principal, Operation.CHANGE_MODE, "system_mode")
        return self.catalog.set_mode(mode, principal.name, reason)


def _visible_version(table: TableInfo) -> int | None:
    """The version the canonical view shows: only ACTIVE tables have a view."""
    return table.active_version if table.state == TableState.ACTIVE else None


def _retained_version(v: VersionInfo, table: TableInfo) -> RetainedVersion:
    return RetainedVersion(
        version=v.version,
        created_at=v.created_at,
        last_active_at=v.last_active_at,
        is_active=v.version == table.active_version,
    )


class _NotPublished(Exception):
    def __init__(self, plan: PromotionPlan) -> None:
        super().__init__(plan.decision.message)
        self.plan = plan
