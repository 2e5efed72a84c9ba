"""Promote (a person) and publish automatically (a run): facts -> policy -> one view swap."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from orchestration.catalog import Catalog, TableInfo, TransitionTx, VersionInfo
from orchestration.identity import Actor
from orchestration.lifecycle.access import Access
from orchestration.lifecycle.acts import Acts, ViewChange
from orchestration.lifecycle.plans import PromotionPlan
from orchestration.lifecycle.source_blocks import source_block_decision
from policies.concurrency import decide_expected_active
from policies.decisions import Verdict, combine_all, refusal
from policies.drift import Column, DriftReport, compare_schemas
from policies.errors import NotFound
from policies.lifecycle import Transition, next_state
from policies.naming import TableRef, parse_table_ref
from policies.publish import PublishFacts, decide_publish
from policies.publishing import PublishingPolicy
from policies.roles import Operation

PROMOTE = "promote"
AUTO_PUBLISH = "auto_publish"


def columns(schema: list[dict[str, Any]] | None) -> list[Column] | None:
    if schema is None:
        return None
    return [
        Column(str(c["name"]), str(c["data_type"]), bool(c.get("nullable", True))) for c in schema
    ]


def newest_version(catalog: Catalog, name: str) -> VersionInfo:
    versions = catalog.list_versions(name)
    if not versions:
        raise NotFound(
            f"{name} has no built versions yet; materialize its shadow asset first",
            details={"table": name},
        )
    return max(versions, key=lambda v: v.version)


class Publisher:
    def __init__(
        self, catalog: Catalog, access: Access, acts: Acts, policy: PublishingPolicy
    ) -> None:
        self._catalog = catalog
        self._access = access
        self._acts = acts
        self._policy = policy

    def version(self, name: str, version: int | None = None) -> VersionInfo:
        """Version N of a table, or its newest build when N is not given."""
        if version is None:
            return newest_version(self._catalog, name)
        return self._catalog.get_version(name, version)

    def drift(
        self,
        table: TableInfo,
        candidate: VersionInfo,
        get_version: Callable[[int], VersionInfo] | None = None,
    ) -> DriftReport:
        """The candidate's schema against the ACTIVE version's (none yet: no drift)."""
        get = get_version or (lambda v: self._catalog.get_version(table.name, v))
        active = None if table.active_version is None else columns(get(table.active_version).schema)
        return compare_schemas(active, columns(candidate.schema) or [], dialect=self._acts.dialect)

    def plan(
        self,
        table: TableInfo,
        version: int | None,
        *,
        actor: Actor,
        explicit: bool,
        expect_active: int | None = None,
        get_version: Callable[[int], VersionInfo] | None = None,
    ) -> PromotionPlan:
        """Facts -> one decision: identity, role and mode; what the person saw; the publish rules."""
        name = table.name
        candidate = get_version(version) if get_version and version else self.version(name, version)
        if candidate.dropped:
            raise NotFound(
                f"version {candidate.version} of {name} was dropped by the janitor; pick a "
                f"retained version (spyne tables history {name})",
                details={"table": name, "version": candidate.version},
            )
        drift = self.drift(table, candidate, get_version)
        facts = PublishFacts(
            table=name,
            table_state=table.state,
            candidate_version=candidate.version,
            active_version=table.active_version,
            gate_status=candidate.gate_status,
            drift=drift.severity,
            explicit=explicit,
            actor_role=actor.role,
            auto_publish=self._policy.auto_publish_for(name),
        )
        operation = Operation.PROMOTE if explicit else Operation.AUTO_PUBLISH
        decision = combine_all(
            (
                self._access.decide(actor, operation, name),
                decide_expected_active(name, expect_active, table.active_version, table.state),
                decide_publish(facts),
                source_block_decision(self._catalog, name, candidate.version),
            )
        )
        return PromotionPlan(
            table=name,
            table_state=table.state,
            from_version=table.active_version,
            to_version=candidate.version,
            gate_status=candidate.gate_status,
            gate_details=dict(candidate.gate_details or {}),
            drift=drift,
            decision=decision,
            actor=actor.name,
        )

    def dry_run(
        self, actor: Actor, name: str, version: int | None = None, expect_active: int | None = None
    ) -> PromotionPlan:
        """What `promote` would do, with every reason it would refuse; changes nothing (audited)."""
        ref = parse_table_ref(name)
        plan = self.plan(
            self._catalog.get_table(ref.canonical),
            version,
            actor=actor,
            explicit=True,
            expect_active=expect_active,
        )
        self._catalog.audit(
            actor.name,
            "promote_dry_run",
            ref.canonical,
            "recorded",
            plan.to_dict(),
            actor.launched_by,
        )
        return plan

    def promote(
        self, actor: Actor, name: str, version: int | None = None, expect_active: int | None = None
    ) -> PromotionPlan:
        """A person publishes a version: refused (typed, audited) unless every rule allows it."""
        ref = parse_table_ref(name)
        plan = self._publish(ref, version, actor=actor, explicit=True, expect_active=expect_active)
        if not plan.applied:
            err = refusal(plan.decision)
            self._catalog.audit(
                actor.name, PROMOTE, ref.canonical, "refused", plan.to_dict(), actor.launched_by
            )
            raise err
        return plan

    def publish_automatic(
        self, actor: Actor, name: str, version: int | None = None
    ) -> PromotionPlan:
        """End-of-run publish: only what the policy allows without a person; never raises on policy."""
        ref = parse_table_ref(name)
        plan = self._publish(ref, version, actor=actor, explicit=False)
        if not plan.applied:
            outcome = "refused" if plan.decision.verdict == Verdict.BLOCK else "recorded"
            self._catalog.audit(
                actor.name,
                "auto_publish_skipped",
                ref.canonical,
                outcome,
                plan.to_dict(),
                actor.launched_by,
            )
        return plan

    def _publish(
        self,
        ref: TableRef,
        version: int | None,
        *,
        actor: Actor,
        explicit: bool,
        expect_active: int | None = None,
    ) -> PromotionPlan:
        refused: list[PromotionPlan] = []

        def prepare(tx: TransitionTx) -> tuple[PromotionPlan, ViewChange]:
            plan = self.plan(
                tx.table,
                version,
                actor=actor,
                explicit=explicit,
                expect_active=expect_active,
                get_version=tx.version,
            )
            if not plan.decision.allowed:
                refused.append(plan)
                raise _Refused
            return plan, ViewChange(tx.table.visible_version, plan.to_version)

        def commit(tx: TransitionTx, plan: PromotionPlan) -> None:
            new_state = next_state(plan.table_state, Transition.PROMOTE)
            tx.set_state(new_state, Transition.PROMOTE, plan.to_version, actor.name, PROMOTE)
            action = PROMOTE if explicit else AUTO_PUBLISH
            tx.audit(
                actor.name, action, details=plan.done().to_dict(), launched_by=actor.launched_by
            )

        try:
            plan = self._acts.change_view(
                ref, PROMOTE if explicit else AUTO_PUBLISH, actor, prepare, commit
            )
        except _Refused:
            return refused[0]
        return plan.done()


class _Refused(Exception):
    """The decision did not allow the act; the plan says why."""
