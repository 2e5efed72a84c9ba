"""May this principal do this operation now? One answer for every surface that acts.

The CLI and Dagster runs (launched by a person, a schedule or the UI) both ask
:func:`decide_access` before they write; it combines the identity, the role matrix and the
system mode, so a refusal lists every reason at once.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from policies.decisions import Decision, combine_all
from policies.lifecycle import TableState
from policies.modes import SystemMode, decide_mode
from policies.roles import Operation, Role, authorize, minimum_role


@dataclass(frozen=True)
class AccessFacts:
    operation: Operation
    role: Role | None  # None: no valid identity
    mode: SystemMode
    target: str


def access_identity(facts: AccessFacts) -> Decision:
    if facts.role is not None:
        return Decision.allow()
    needed = minimum_role(facts.operation)
    return Decision.block(
        "identity",
        f"{facts.operation.value} on {facts.target} needs an identity with the {needed.label} "
        "role; set SPYNE_API_KEY to your key (runs from a schedule or the UI use the code "
        "location's service key, SPYNE_SERVICE_KEY)",
        operation=facts.operation.value,
        target=facts.target,
        required_role=needed.label,
    )


def access_role(facts: AccessFacts) -> Decision:
    if facts.role is None:
        return Decision.allow()  # access_identity refuses it
    decision = authorize(facts.role, facts.operation)
    if decision.allowed:
        return decision
    return Decision.block(
        "roles",
        f"{facts.target}: {decision.reasons[0].message}",
        **decision.reasons[0].details,
        target=facts.target,
    )


def access_mode(facts: AccessFacts) -> Decision:
    return decide_mode(facts.mode, facts.operation)


ACCESS_RULES: tuple[Callable[[AccessFacts], Decision], ...] = (
    access_identity,
    access_role,
    access_mode,
)


def decide_access(facts: AccessFacts) -> Decision:
    return combine_all(tuple(rule(facts) for rule in ACCESS_RULES))


def visible_states(role: Role) -> frozenset[TableState]:
    """Which tables a role may list: everyone sees what is canonical or external; only roles
    that may look at unpublished builds see SHADOW and DEPRECATED tables."""
    if authorize(role, Operation.VIEW_SHADOW).allowed:
        return frozenset(TableState)
    return frozenset({TableState.ACTIVE, TableState.READ_ONLY})
