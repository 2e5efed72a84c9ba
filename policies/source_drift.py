"""What a source's drift against its registered contract leads to, and the block it puts on publish.

- ADDITIVE (a nullable column added, a widening nobody notices): the contract follows the source
  at once, as a new minor version registered by the service principal (:func:`evolve_contract`);
- WARNING (a widening readers may notice): the owner is told and an engineer or admin accepts it
  (the same evolution, registered under their name) or fixes the source;
- BREAKING (a column removed, renamed, narrowed or retyped): every table built from the source is
  refused publication (:func:`decide_source_blocks`) until a new major version of the contract
  is registered, or the source agrees with the contract again.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from copy import deepcopy
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from policies.contracts import parse_semver
from policies.decisions import Decision
from policies.drift import ChangeKind, Column, DriftSeverity, SchemaChange
from policies.drift_types import parse_type
from policies.errors import ValidationFailed


class DriftResponse(StrEnum):
    NONE = "none"
    REGISTER_MINOR = "register_minor"  # automatically, as the service principal
    AWAIT_ACCEPTANCE = "await_acceptance"  # an engineer or admin accepts it
    BLOCK_PUBLISH = "block_publish"  # until a new major contract version


_RESPONSES = {
    DriftSeverity.NONE: DriftResponse.NONE,
    DriftSeverity.ADDITIVE: DriftResponse.REGISTER_MINOR,
    DriftSeverity.WARNING: DriftResponse.AWAIT_ACCEPTANCE,
    DriftSeverity.BREAKING: DriftResponse.BLOCK_PUBLISH,
}


def respond(severity: DriftSeverity) -> DriftResponse:
    return _RESPONSES[severity]


def drift_origin(report_id: int) -> str:
    """What a contract version registered to follow a drift report records as its source."""
    return f"drift report #{report_id}"


def taken_in_by(report_id: int, registered: Sequence[tuple[str, str | None]]) -> str | None:
    """The contract version (of ``registered``: (version, source) pairs) that took drift report
    ``report_id`` in, if one did: then the report is done whatever else is left open (an act
    killed after registering is finished, never registered twice)."""
    origin = drift_origin(report_id)
    return next((version for version, source in registered if source == origin), None)


_LOGICAL = {
    "integer": "integer",
    "float": "number",
    "decimal": "number",
    "boolean": "boolean",
    "date": "date",
    "timestamp": "timestamp",
    "timestamptz": "timestamp",
    "json": "object",
}


def logical_type(physical: str, dialect: str) -> str:
    """The ODCS logical type of a physical type, as the source's engine spells it."""
    return _LOGICAL.get(parse_type(physical, dialect).family, "string")


def next_minor(version: str) -> str:
    parsed = parse_semver(version)
    if parsed is None:
        raise ValidationFailed(
            f"contract version {version!r} is not MAJOR.MINOR.PATCH", details={"version": version}
        )
    major, minor, _ = parsed
    return f"{major}.{minor + 1}.0"


def evolve_contract(
    document: Mapping[str, Any],
    changes: Sequence[SchemaChange],
    live: Sequence[Column],
    dialect: str,
) -> dict[str, Any]:
    """The contract's next minor version, following the source's non-breaking changes: added
    columns appended (``required`` only when the source declares them NOT NULL) and widened
    types taken over. Refused for a BREAKING change: that needs a person and a major version."""
    breaking = [c.describe() for c in changes if c.severity == DriftSeverity.BREAKING]
    if breaking:
        raise ValidationFailed(
            "a breaking change cannot be taken into the contract as a minor version: "
            + "; ".join(breaking)
            + "; register a new major version of the contract instead",
            details={"changes": breaking},
        )
    out = deepcopy(dict(document))
    out["version"] = next_minor(str(document["version"]))
    schema = out["schema"][0]
    properties: list[dict[str, Any]] = schema.setdefault("properties", [])
    by_name = {p["name"]: p for p in properties}
    live_by_name = {c.name: c for c in live}
    for change in changes:
        column = live_by_name.get(change.column)
        if change.kind == ChangeKind.COLUMN_ADDED and column is not None:
            properties.append(
                {
                    "name": column.name,
                    "logicalType": logical_type(column.data_type, dialect),
                    "physicalType": column.data_type.lower(),
                    "required": not column.nullable,
                    "description": f"Added by the source (found by the drift check, "
                    f"contract {out['version']}).",
                }
            )
        elif change.kind == ChangeKind.TYPE_WIDENED and change.column in by_name:
            by_name[change.column]["physicalType"] = str(change.after).lower()
    return out


@dataclass(frozen=True)
class SourceBlock:
    """An open BREAKING drift of a source against the contract version it was held to."""

    report_id: int
    source: str  # "<system>.<table>"
    contract: str
    contract_version: str
    changes: tuple[str, ...]  # what broke, as a person reads it


def decide_source_blocks(
    table: str,
    version: int,
    upstream: Sequence[str],
    blocks: Mapping[str, SourceBlock],
    newest_versions: Mapping[str, str],
) -> Decision:
    """Refuse publishing ``table`` when a source it is built from (``upstream``) broke its
    contract, unless a newer major version of that contract has been registered since."""
    out = Decision.allow()
    for source in upstream:
        block = blocks.get(source)
        if block is None:
            continue
        held = parse_semver(block.contract_version)
        newest = parse_semver(newest_versions.get(block.contract, block.contract_version))
        if held is not None and newest is not None and newest[0] > held[0]:
            continue
        major = (held[0] + 1) if held else 2
        out = out.combine(
            Decision.block(
                "source_drift",
                f"{table} v{version} is built from source {block.source}, whose schema broke its "
                f"contract {block.contract} {block.contract_version} "
                f"({'; '.join(block.changes)}); it is not published until the contract has a "
                f"new major version (register {block.contract} {major}.0.0 describing the "
                "source as it is now, and update the models that read the changed columns) or "
                "the source is put back (see `spyne drift check`)",
                table=table,
                version=version,
                source=block.source,
                contract=block.contract,
                contract_version=block.contract_version,
                changes=list(block.changes),
                drift_report=block.report_id,
            )
        )
    return out
