"""May this version be published?

Publishing is a view swap, so it is cheap to do and cheap to undo; what makes it safe
is this gate. The question is an ordered tuple of small rules sharing one signature
``(facts) -> Decision``; the answer combines them all, so a refusal lists every reason
at once instead of making a person fix them one at a time.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from policies.decisions import Decision, combine_all
from policies.drift import DriftSeverity
from policies.lifecycle import TableState, Transition, decide_transition
from policies.roles import Operation, Role
from policies.rule_helpers import about, checked_optional_version, checked_table, role_rule


class GateStatus(StrEnum):
    PASSED = "passed"
    FAILED = "failed"
    NOT_RUN = "not_run"


@dataclass(frozen=True)
class PublishFacts:
    """What the publisher knows about one candidate version.

    ``explicit`` is True when a person asked (the CLI) and False for the automatic
    publish at the end of a run, which acts as the run's principal. ``actor_role`` is None
    when there is no valid identity. ``auto_publish`` is the policy's answer for this table
    (:meth:`PublishingPolicy.auto_publish_for`).
    """

    table: str
    table_state: TableState
    candidate_version: int
    active_version: int | None
    gate_status: GateStatus
    drift: DriftSeverity
    explicit: bool
    actor_role: Role | None
    auto_publish: bool

    def __post_init__(self) -> None:
        object.__setattr__(self, "table", checked_table(self.table))
        checked_optional_version(self.candidate_version, "candidate_version")
        checked_optional_version(self.active_version, "active_version")

    @property
    def subject(self) -> str:
        return f"{self.table} v{self.candidate_version}"

    @property
    def ids(self) -> dict[str, Any]:
        return {"table": self.table, "version": self.candidate_version}


def publish_lifecycle(facts: PublishFacts) -> Decision:
    return about(
        decide_transition(facts.table_state, Transition.PROMOTE),
        facts.subject,
        **facts.ids,
    )


def publish_role(facts: PublishFacts) -> Decision:
    """A person promotes (admin); a run publishes a refresh as its principal (AUTO_PUBLISH)."""
    operation = Operation.PROMOTE if facts.explicit else Operation.AUTO_PUBLISH
    return role_rule(facts.actor_role, operation, facts.subject, **facts.ids)


def publish_already_active(facts: PublishFacts) -> Decision:
    active = facts.active_version
    if active is None or facts.candidate_version > active:
        return Decision.allow()
    if facts.candidate_version == active:
        return Decision.block(
            "already_active",
            f"{facts.subject} is already the active version; nothing to publish",
            active_version=active,
            **facts.ids,
        )
    return Decision.block(
        "already_active",
        f"{facts.subject} is older than the active v{active}; to go back to it, roll back "
        f"instead: spyne tables rollback {facts.table} --to-version {facts.candidate_version}",
        active_version=active,
        **facts.ids,
    )


def publish_gates(facts: PublishFacts) -> Decision:
    if facts.gate_status == GateStatus.PASSED:
        return Decision.allow()
    if facts.gate_status == GateStatus.FAILED:
        return Decision.block(
            "gates",
            f"gates failed for {facts.subject}; the active version is unchanged. Fix the "
            "data or the model, rebuild, and publish the new version",
            gate_status=facts.gate_status.value,
            **facts.ids,
        )
    return Decision.block(
        "gates",
        f"the gates have not run for {facts.subject}; run the gates first (materialize "
        "the shadow asset with its checks), then publish",
        gate_status=facts.gate_status.value,
        **facts.ids,
    )


def publish_drift(facts: PublishFacts) -> Decision:
    if facts.drift < DriftSeverity.BREAKING:
        return Decision.allow()
    against = f"v{facts.active_version}" if facts.active_version else "the active version"
    return Decision.block(
        "drift",
        f"{facts.subject} has BREAKING schema drift against {against} (a column removed, "
        "renamed or narrowed); keep the existing columns and types in the model, or "
        "publish the new shape as a new table",
        drift=facts.drift.name,
        **facts.ids,
    )


def publish_approval(facts: PublishFacts) -> Decision:
    if facts.explicit:
        return Decision.allow()
    if facts.table_state == TableState.SHADOW:
        return Decision.require_approval(
            "approval",
            f"{facts.subject} was not published: the first promotion of a table is an "
            f"explicit admin action: spyne tables promote {facts.table}",
            **facts.ids,
        )
    if not facts.auto_publish:
        return Decision.require_approval(
            "approval",
            f"{facts.subject} was not published: automatic publishing is off for "
            f"{facts.table}; an admin can publish it with: spyne tables promote {facts.table}",
            **facts.ids,
        )
    return Decision.allow()


PUBLISH_RULES: tuple[Callable[[PublishFacts], Decision], ...] = (
    publish_lifecycle,
    publish_role,
    publish_already_active,
    publish_gates,
    publish_drift,
    publish_approval,
)


def decide_publish(facts: PublishFacts) -> Decision:
    return combine_all(tuple(rule(facts) for rule in PUBLISH_RULES))
