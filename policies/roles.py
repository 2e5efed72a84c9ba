"""Roles are hard boundaries: this matrix is the only place that says who may do what."""

from __future__ import annotations

from enum import IntEnum, StrEnum

from policies.decisions import Decision
from policies.errors import PermissionDenied


class Role(IntEnum):
    VIEWER = 1
    ANALYST = 2
    ENGINEER = 3
    ADMIN = 4

    @property
    def label(self) -> str:
        return self.name.lower()

    @classmethod
    def parse(cls, value: str) -> Role:
        try:
            return cls[value.strip().upper()]
        except KeyError:
            allowed = ", ".join(r.label for r in cls)
            raise PermissionDenied(
                f"unknown role {value!r}; roles are: {allowed}", details={"role": value}
            ) from None


class Operation(StrEnum):
    QUERY = "query"
    CREATE_CONTRACT = "create_contract"
    INGEST = "ingest"
    VIEW_SHADOW = "view_shadow"
    PROMOTE = "promote"
    DEPRECATE = "deprecate"
    RESTORE = "restore"
    ROLLBACK = "rollback"
    CHANGE_MODE = "change_mode"
    MANAGE_KEYS = "manage_keys"


# Explicit sets, not "rank >= x": the matrix is reviewed as a table.
MATRIX: dict[Operation, frozenset[Role]] = {
    Operation.QUERY: frozenset(Role),
    Operation.CREATE_CONTRACT: frozenset({Role.ENGINEER, Role.ADMIN}),
    Operation.INGEST: frozenset({Role.ENGINEER, Role.ADMIN}),
    Operation.VIEW_SHADOW: frozenset({Role.ENGINEER, Role.ADMIN}),
    Operation.PROMOTE: frozenset({Role.ADMIN}),
    Operation.DEPRECATE: frozenset({Role.ADMIN}),
    Operation.RESTORE: frozenset({Role.ADMIN}),
    Operation.ROLLBACK: frozenset({Role.ADMIN}),
    Operation.CHANGE_MODE: frozenset({Role.ADMIN}),
    Operation.MANAGE_KEYS: frozenset({Role.ADMIN}),
}


def minimum_role(operation: Operation) -> Role:
    return min(MATRIX[operation])


def authorize(role: Role, operation: Operation) -> Decision:
    if role in MATRIX[operation]:
        return Decision.allow()
    needed = minimum_role(operation)
    return Decision.block(
        "roles",
        f"{operation.value} needs the {needed.label} role or higher; you are {role.label}",
        operation=operation.value,
        role=role.label,
        required_role=needed.label,
    )


def require(role: Role, operation: Operation) -> None:
    authorize(role, operation).raise_unless_allowed(PermissionDenied)
