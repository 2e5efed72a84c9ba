"""May this contract version be registered, and is it anything new?

Contracts are versioned with semver, and a registered version never changes: registering the
same content again is a no-op, changed content needs a version above the newest one, and a
change that breaks what bronze promises its readers (a column removed or retyped, another mode,
key, event-time or processing-time column) needs a new major version. Schema changes are
classified by the same drift rules that guard published tables.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from policies.contracts import Contract, parse_semver
from policies.drift import Column, DriftSeverity, compare_schemas
from policies.errors import ContractVersionConflict


@dataclass(frozen=True)
class RegisteredVersion:
    """What the registry holds about one version: enough to compare a new one with it."""

    version: str
    content_hash: str
    summary: Mapping[str, Any]  # Contract.summary() of that version
    columns: Sequence[Mapping[str, Any]]  # name, type, required


class RegistrationOutcome(StrEnum):
    REGISTER = "register"
    UNCHANGED = "unchanged"  # this exact content is already registered under this version


@dataclass(frozen=True)
class RegistrationDecision:
    outcome: RegistrationOutcome
    breaking: tuple[str, ...] = ()  # what made it a major change (empty for minor/patch)


# Semantics fields whose change alters what a bronze row means.
BREAKING_SEMANTICS = ("mode", "idempotency_key", "event_time_column", "processing_time_column")


def column_facts(contract: Contract) -> list[dict[str, Any]]:
    return [
        {"name": c.name, "type": c.physical_type or c.logical_type or "", "required": c.required}
        for c in contract.columns
    ]


def breaking_changes(before: RegisteredVersion, after: Contract) -> tuple[str, ...]:
    """What in ``after`` would break a reader of ``before``'s bronze table."""
    found = [
        f"{key}: {before.summary.get(key)!r} -> {after.summary()[key]!r}"
        for key in BREAKING_SEMANTICS
        if before.summary.get(key) != after.summary()[key]
    ]
    report = compare_schemas(
        [_column(c) for c in before.columns], [_column(c) for c in column_facts(after)]
    )
    found += [
        change.describe() for change in report.changes if change.severity == DriftSeverity.BREAKING
    ]
    return tuple(found)


def decide_registration(
    contract: Contract, registered: Sequence[RegisteredVersion]
) -> RegistrationDecision:
    """REGISTER or UNCHANGED; a version conflict is a typed refusal naming the fix."""
    new = parse_semver(contract.version)
    assert new is not None  # parse_contract refused anything else
    same = next((r for r in registered if r.version == contract.version), None)
    if same is not None:
        if same.content_hash == contract.content_hash:
            return RegistrationDecision(RegistrationOutcome.UNCHANGED)
        raise _conflict(
            contract,
            f"version {contract.version} is already registered with other content",
            registered,
        )
    if not registered:
        return RegistrationDecision(RegistrationOutcome.REGISTER)
    newest = max(registered, key=lambda r: parse_semver(r.version) or (0, 0, 0))
    top = parse_semver(newest.version) or (0, 0, 0)
    if new <= top:
        raise _conflict(
            contract,
            f"version {contract.version} is not above the newest, {newest.version}",
            registered,
        )
    breaking = breaking_changes(newest, contract)
    if breaking and new[0] == top[0]:
        raise ContractVersionConflict(
            f"contract {contract.id}: version {contract.version} breaks version {newest.version} "
            f"({'; '.join(breaking)}); fix: release it as {top[0] + 1}.0.0",
            details={
                "contract": contract.id,
                "field": "version",
                "version": contract.version,
                "newest": newest.version,
                "breaking": list(breaking),
                "fix": f"set version: {top[0] + 1}.0.0",
            },
        )
    return RegistrationDecision(RegistrationOutcome.REGISTER, breaking)


def _conflict(
    contract: Contract, why: str, registered: Sequence[RegisteredVersion]
) -> ContractVersionConflict:
    top = max((parse_semver(r.version) or (0, 0, 0) for r in registered), default=(0, 0, 0))
    suggestion = f"{top[0]}.{top[1]}.{top[2] + 1}"
    return ContractVersionConflict(
        f"contract {contract.id}: {why}; a registered version never changes. fix: raise the "
        f"version (at least {suggestion}, or a new major version for a breaking change)",
        details={
            "contract": contract.id,
            "field": "version",
            "version": contract.version,
            "registered": [r.version for r in registered],
            "fix": f"set version: {suggestion} or higher",
        },
    )


def _column(raw: Mapping[str, Any]) -> Column:
    return Column(str(raw["name"]), str(raw["type"]), nullable=not raw["required"])
