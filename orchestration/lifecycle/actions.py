"""Rollback, deprecate, restore: an admin moves a table's canonical view, through the same acts."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from orchestration.catalog import Catalog, TableInfo, TransitionTx, VersionInfo
from orchestration.identity import Actor
from orchestration.lifecycle.access import Access
from orchestration.lifecycle.acts import Acts, ViewChange
from orchestration.lifecycle.plans import PromotionPlan
from policies.concurrency import decide_expected_active
from policies.decisions import Decision, combine_all, refusal
from policies.drift import compare_schemas
from policies.errors import SpyneError, ValidationFailed
from policies.lifecycle import TableState, Transition, next_state
from policies.naming import parse_table_ref
from policies.publish import GateStatus
from policies.publishing import PublishingPolicy
from policies.retention import RetainedVersion, is_retained
from policies.roles import Operation
from policies.table_actions import (
    PastVersion,
    RollbackFacts,
    TableActionFacts,
    decide_deprecate,
    decide_restore,
    decide_rollback,
    previous_active_version,
)

MAX_REASON_LENGTH = 2000


def retained_version(v: VersionInfo, table: TableInfo) -> RetainedVersion:
    return RetainedVersion(
        version=v.version,
        created_at=v.created_at,
        last_active_at=v.last_active_at,
        is_active=v.version == table.active_version,
    )


class TableActions:
    def __init__(
        self,
        catalog: Catalog,
        access: Access,
        acts: Acts,
        policy: PublishingPolicy,
        clock: Callable[[], datetime],
    ) -> None:
        self._catalog = catalog
        self._access = access
        self._acts = acts
        self._policy = policy
        self._clock = clock

    def _retained(self, tx: TransitionTx) -> dict[int, VersionInfo]:
        table = tx.table
        retention = self._policy.retention_for(table.name)
        now = self._clock()
        return {
            v.version: v
            for v in tx.versions()
            if v.version == table.active_version
            or is_retained(retained_version(v, table), now, retention)
        }

    def rollback(
        self,
        actor: Actor,
        name: str,
        to_version: int | None = None,
        expect_active: int | None = None,
    ) -> PromotionPlan:
        ref = parse_table_ref(name)
        self._access.require(actor, Operation.ROLLBACK, ref.canonical)

        def prepare(tx: TransitionTx) -> tuple[PromotionPlan, ViewChange]:
            table = tx.table
            concurrency = decide_expected_active(
                table.name, expect_active, table.active_version, table.state
            )
            concurrency.raise_unless_allowed()
            retained = self._retained(tx)
            target = to_version
            if target is None:
                past = [PastVersion(v.version, v.last_active_at) for v in retained.values()]
                target = previous_active_version(table.name, table.active_version, past)
            target_info = tx.version(target)
            decision = combine_all(
                (
                    concurrency,
                    decide_rollback(
                        RollbackFacts(
                            table=table.name,
                            table_state=table.state,
                            target_version=target,
                            active_version=table.active_version,
                            target_retained=target in retained,
                            target_gate_status=target_info.gate_status,
                            actor_role=actor.role,
                        )
                    ),
                )
            )
            decision.raise_unless_allowed()
            plan = PromotionPlan(
                table=table.name,
                table_state=table.state,
                from_version=table.active_version,
                to_version=target,
                gate_status=GateStatus(target_info.gate_status),
                gate_details=dict(target_info.gate_details or {}),
                drift=compare_schemas(None, []),
                decision=decision,
                actor=actor.name,
            )
            return plan, ViewChange(table.visible_version, target)

        def commit(tx: TransitionTx, plan: PromotionPlan) -> None:
            tx.set_state(
                TableState.ACTIVE, Transition.ROLLBACK, plan.to_version, actor.name, "rollback"
            )
            tx.audit(
                actor.name, "rollback", details=plan.done().to_dict(), launched_by=actor.launched_by
            )

        try:
            return self._acts.change_view(ref, "rollback", actor, prepare, commit).done()
        except SpyneError as err:
            self._catalog.audit(
                actor.name, "rollback", ref.canonical, "refused", err.to_dict(), actor.launched_by
            )
            raise

    def deprecate(self, actor: Actor, name: str, reason: str) -> TableInfo:
        ref = parse_table_ref(name)
        self._access.require(actor, Operation.DEPRECATE, ref.canonical)
        clean = reason.strip()
        if not clean or len(clean) > MAX_REASON_LENGTH:
            raise ValidationFailed(
                f"deprecation needs a reason of 1 to {MAX_REASON_LENGTH} characters (--reason TEXT)",
                details={"table": ref.canonical, "field": "reason", "length": len(clean)},
            )
        return self._state_change(actor, ref.canonical, Transition.DEPRECATE, clean)

    def restore(self, actor: Actor, name: str) -> TableInfo:
        ref = parse_table_ref(name)
        self._access.require(actor, Operation.RESTORE, ref.canonical)
        return self._state_change(actor, ref.canonical, Transition.RESTORE, "restore")

    def _state_change(
        self, actor: Actor, name: str, transition: Transition, reason: str
    ) -> TableInfo:
        ref = parse_table_ref(name)
        decide: Callable[[TableActionFacts], Decision] = (
            decide_deprecate if transition == Transition.DEPRECATE else decide_restore
        )

        def prepare(tx: TransitionTx) -> tuple[TableInfo, ViewChange]:
            table = tx.table
            decision = decide(TableActionFacts(table.name, table.state, actor.role))
            if not decision.allowed:
                raise refusal(decision)
            after = None if transition == Transition.DEPRECATE else table.active_version
            return table, ViewChange(table.visible_version, after)

        def commit(tx: TransitionTx, table: TableInfo) -> None:
            to_state = next_state(table.state, transition)
            tx.set_state(to_state, transition, table.active_version, actor.name, reason)
            tx.audit(
                actor.name,
                transition.value,
                details={
                    "from_state": table.state.value,
                    "to_state": to_state.value,
                    "version": table.active_version,
                    "reason": reason,
                },
                launched_by=actor.launched_by,
            )

        try:
            self._acts.change_view(ref, transition.value, actor, prepare, commit)
        except SpyneError as err:
            self._catalog.audit(
                actor.name, transition.value, name, "refused", err.to_dict(), actor.launched_by
            )
            raise
        return self._catalog.get_table(name)
