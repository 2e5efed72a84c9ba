"""Small pieces the lifecycle rule sets share: checked facts and refusals that name their subject."""

from __future__ import annotations

from typing import Any

from policies.decisions import Decision, Reason
from policies.naming import checked_version, parse_table_ref
from policies.roles import Operation, Role, authorize, minimum_role


def checked_table(table: str) -> str:
    return parse_table_ref(table).canonical


def checked_optional_version(value: int | None, what: str) -> None:
    if value is not None:
        checked_version(value, what)


def about(decision: Decision, prefix: str, **details: Any) -> Decision:
    """Say which table and version a generic refusal (lifecycle, roles) is about."""
    return Decision(
        decision.verdict,
        tuple(
            Reason(r.rule, f"{prefix}: {r.message}", {**r.details, **details})
            for r in decision.reasons
        ),
    )


def role_rule(role: Role | None, operation: Operation, prefix: str, **details: Any) -> Decision:
    if role is None:
        needed = minimum_role(operation)
        return Decision.block(
            "identity",
            f"{prefix}: {operation.value} needs an identity with the {needed.label} role; "
            "set SPYNE_API_KEY to your key",
            operation=operation.value,
            role=None,
            required_role=needed.label,
            **details,
        )
    return about(authorize(role, operation), prefix, **details)
