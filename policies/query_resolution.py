"""Which version of a table a query may read, by the table's state, the caller's role and a pin.

ACTIVE tables resolve to their ACTIVE version, then READ_ONLY sources to themselves. A SHADOW
table is never read by its canonical name; engineers and admins may read one of its versions by
its versioned name (``<layer>__shadow.<table>__v<N>``). A DEPRECATED table is read only when a
version is pinned (``<layer>.<table>@v<N>``). Unknown names are refused with the closest known
names, before anything runs.
"""

from __future__ import annotations

import difflib
from collections.abc import Sequence
from dataclasses import dataclass

from policies.decisions import Decision
from policies.lifecycle import TableState
from policies.roles import Operation, Role, authorize


@dataclass(frozen=True)
class TableRequest:
    """A table as the query names it."""

    written: str  # as written, for messages
    canonical: str | None  # <layer>.<table>, when the name is one Spyne can read
    version: int | None = None  # pinned (@vN) or named (__vN)
    versioned_name: bool = False  # written as <layer>__shadow.<table>__v<N>


@dataclass(frozen=True)
class TableFacts:
    """What the catalog says about the table named (None when it does not know it)."""

    name: str
    state: TableState
    active_version: int | None
    versions: tuple[int, ...]  # retained (not dropped) versions


@dataclass(frozen=True)
class Resolved:
    table: str
    state: TableState
    version: int | None  # None: a READ_ONLY source, read by its own name


def closest(name: str, known: Sequence[str], n: int = 3) -> list[str]:
    """Known names closest to ``name``; the bare table name counts as much as the full one."""
    found = difflib.get_close_matches(name, known, n=n, cutoff=0.8)
    bare = name.rsplit(".", 1)[-1]
    bares = [k.rsplit(".", 1)[-1] for k in known]
    for candidate in difflib.get_close_matches(bare, bares, n=n, cutoff=0.75):
        for full in known:
            if full.rsplit(".", 1)[-1] == candidate and full not in found:
                found.append(full)
    return found[:n]


def _unknown(request: TableRequest, known: Sequence[str]) -> Decision:
    near = closest(request.canonical or request.written, known)
    hint = f"; did you mean {', '.join(near)}?" if near else "; `spyne tables list` shows them"
    return Decision.block(
        "unknown_table",
        f"table {request.written} is not in the catalog{hint}",
        table=request.written,
        suggestions=near,
    )


def decide_table(
    request: TableRequest, facts: TableFacts | None, role: Role, known: Sequence[str]
) -> tuple[Decision, Resolved | None]:
    """Allow with the version to read, or block with a reason a person can act on."""
    if facts is None or request.canonical is None:
        return _unknown(request, known), None
    name, state = facts.name, facts.state
    if request.version is not None and request.version not in facts.versions:
        kept = ", ".join(f"v{v}" for v in facts.versions) or "none"
        return Decision.block(
            "unknown_version",
            f"{name} has no version {request.version} (versions kept: {kept})",
            table=name,
            version=request.version,
            versions=list(facts.versions),
        ), None
    if request.versioned_name or (
        request.version is not None
        and state in (TableState.ACTIVE, TableState.SHADOW)
        and request.version != facts.active_version
    ):
        # Reading a build that is not what the canonical name shows is looking at shadow data.
        allowed = authorize(role, Operation.VIEW_SHADOW)
        if not allowed.allowed:
            return Decision.block(
                "roles",
                f"{request.written} is an unpublished version of {name}; only engineers and "
                f"admins may read versions by name (you are {role.label}). Query {name} instead",
                table=name,
                version=request.version,
                role=role.label,
                required_role="engineer",
            ), None
        return Decision.allow(), Resolved(name, state, request.version)
    if state == TableState.ACTIVE:
        return Decision.allow(), Resolved(name, state, request.version or facts.active_version)
    if state == TableState.READ_ONLY:
        return Decision.allow(), Resolved(name, state, None)
    if state == TableState.DEPRECATED:
        if request.version is not None:
            return Decision.allow(), Resolved(name, state, request.version)
        last = facts.active_version or (max(facts.versions) if facts.versions else None)
        pin = f" (e.g. {name}@v{last})" if last else ""
        return Decision.block(
            "deprecated_table",
            f"{name} is DEPRECATED: pin the version you mean to read{pin}, "
            "or ask an admin to restore it",
            table=name,
            versions=list(facts.versions),
        ), None
    # SHADOW, by its canonical name: never.
    latest = max(facts.versions) if facts.versions else None
    hint = (
        f"; engineers and admins may read a build by its versioned name, e.g. "
        f"{name.replace('.', '__shadow.', 1)}__v{latest}"
        if latest and authorize(role, Operation.VIEW_SHADOW).allowed
        else ""
    )
    return Decision.block(
        "shadow_table",
        f"{name} is SHADOW (never published): it cannot be queried by its name{hint}",
        table=name,
        state=state.value,
    ), None
