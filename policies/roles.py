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
    INGEST = "ingest"  # land a source table as a new bronze version
    BUILD = "build"  # write a new version of a modelled table (dbt)
    GENERATE_GATES = "generate_gates"  # (re)write the expectation suites from dbt
    GENERATE_SAMPLE = "generate_sample"  # write the sample ERP source
    VIEW_SHADOW = "view_shadow"  # versions, history, audit, gates of unpublished builds
    AUTO_PUBLISH = "auto_publish"  # the end-of-run publish of a refreshed ACTIVE table
    RUN_JANITOR = "run_janitor"  # drop versions whose rollback window has passed
    PROMOTE = "promote"
    DEPRECATE = "deprecate"
    RESTORE = "restore"
    ROLLBACK = "rollback"
    REPAIR = "repair"  # make the warehouse agree with the catalog again (spyne doctor --repair)
    CHANGE_MODE = "change_mode"
    MANAGE_KEYS = "manage_keys"
    VIEW_DEAD_LETTERS = "view_dead_letters"  # runs whose retries are used up (spyne runs)
    REQUEUE_RUN = "requeue_run"  # launch a dead-lettered run again, acting as oneself
    SKIP_PREVIEW = "skip_preview"  # run an ad-hoc query without a preview (audited, with a reason)
    APPROVE_QUERY = "approve_query"  # approve a previewed query that needs approval
    REVIEW_PII = "review_pii"  # confirm or reject what PII detection found
    VIEW_ALERTS = "view_alerts"  # alerts, their deliveries, and the metrics derived from them
    ACK_ALERT = "ack_alert"  # acknowledge an alert under one's own name
    CHECK_DRIFT = "check_drift"  # compare sources' live schemas with their expected ones
    REPLAY_INGEST = "replay_ingest"  # a replay or backfill for real, after its dry run
    # Joins: discovery suggests, an engineer may propose, an admin decides.
    DISCOVER_JOINS = "discover_joins"  # profile tables, list and show join candidates
    PROPOSE_JOIN = "propose_join"  # ask an admin to accept a candidate
    ACCEPT_JOIN = "accept_join"  # write the join as a reviewed dbt model
    REJECT_JOIN = "reject_join"  # refuse a candidate (remembered for its table versions)
    DEPRECATE_JOIN = "deprecate_join"  # retire an accepted join's version


_ENGINEERS = frozenset({Role.ENGINEER, Role.ADMIN})
_ADMINS = frozenset({Role.ADMIN})

# Explicit sets, not "rank >= x": the matrix is reviewed as a table.
MATRIX: dict[Operation, frozenset[Role]] = {
    Operation.QUERY: frozenset(Role),
    Operation.CREATE_CONTRACT: _ENGINEERS,
    Operation.INGEST: _ENGINEERS,
    Operation.BUILD: _ENGINEERS,
    Operation.GENERATE_GATES: _ENGINEERS,
    Operation.GENERATE_SAMPLE: _ENGINEERS,
    Operation.VIEW_SHADOW: _ENGINEERS,
    Operation.AUTO_PUBLISH: _ENGINEERS,
    Operation.RUN_JANITOR: _ENGINEERS,
    Operation.PROMOTE: _ADMINS,
    Operation.DEPRECATE: _ADMINS,
    Operation.RESTORE: _ADMINS,
    Operation.ROLLBACK: _ADMINS,
    Operation.REPAIR: _ADMINS,
    Operation.CHANGE_MODE: _ADMINS,
    Operation.MANAGE_KEYS: _ADMINS,
    Operation.VIEW_DEAD_LETTERS: _ENGINEERS,
    Operation.REQUEUE_RUN: _ADMINS,
    Operation.SKIP_PREVIEW: _ENGINEERS,
    Operation.APPROVE_QUERY: _ENGINEERS,
    Operation.REVIEW_PII: _ENGINEERS,
    Operation.VIEW_ALERTS: _ENGINEERS,
    Operation.ACK_ALERT: _ENGINEERS,
    Operation.CHECK_DRIFT: _ENGINEERS,
    Operation.REPLAY_INGEST: _ADMINS,
    Operation.DISCOVER_JOINS: frozenset(Role),
    Operation.PROPOSE_JOIN: _ENGINEERS,
    Operation.ACCEPT_JOIN: _ADMINS,
    Operation.REJECT_JOIN: _ADMINS,
    Operation.DEPRECATE_JOIN: _ADMINS,
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
    authorize(role, operation).raise_unless_allowed()
