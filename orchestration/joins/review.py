"""Discovery on the platform, and the review steps short of acceptance: propose, reject.

Discovery reads the ACTIVE tables at their ACTIVE versions and the READ_ONLY tables as they are
(``SOURCE_VERSION``: Spyne builds no versions of them), reuses each version's stored profile (a
READ_ONLY table changes without Spyne knowing, so its profile is measured every time), stores the
candidates tied to those versions, and leaves out candidates rejected on the same versions. Every step acts as an
identified principal whose role and the system mode the access policy checks.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence

from orchestration.catalog import Catalog
from orchestration.catalog.joins import CandidateInfo
from orchestration.identity import Actor
from orchestration.joins.discovery import Discovery, discover
from orchestration.joins.sources import PlatformSource, SourceTable
from orchestration.lifecycle.access import Access
from orchestration.warehouse.interface import SOURCE_VERSION, Warehouse
from policies.errors import ValidationFailed
from policies.joins.profiles import TableProfile
from policies.lifecycle import TableState
from policies.naming import TableRef
from policies.roles import Operation

TARGET = "joins"


class CatalogProfiles:
    """Profiles kept in the catalog per table version and warehouse kind."""

    def __init__(self, catalog: Catalog, kind: str) -> None:
        self._catalog, self._kind = catalog, kind

    def load(self, tables: Sequence[SourceTable]) -> dict[SourceTable, TableProfile]:
        versions = [(t.name, t.version) for t in tables if t.version != SOURCE_VERSION]
        stored = self._catalog.joins.profiles(self._kind, versions)
        return {
            t: TableProfile.from_dict(stored[(t.name, t.version)])
            for t in tables
            if (t.name, t.version) in stored
        }

    def save(self, table: SourceTable, profile: TableProfile) -> None:
        if table.version == SOURCE_VERSION:
            return
        self._catalog.joins.store_profile(self._kind, table.name, table.version, profile.to_dict())


def platform_source(catalog: Catalog, warehouse: Warehouse) -> PlatformSource:
    states = frozenset({TableState.ACTIVE, TableState.READ_ONLY})
    tables: list[tuple[TableRef, int]] = []
    for t in catalog.list_tables(states=states):
        if t.state == TableState.READ_ONLY:
            tables.append((t.ref, SOURCE_VERSION))
        elif t.active_version is not None:
            tables.append((t.ref, t.active_version))
    return PlatformSource(warehouse, tables)


def check_min_confidence(value: float) -> float:
    if not 0.0 <= value <= 1.0:
        raise ValidationFailed(
            f"--min-confidence must be between 0 and 1, got {value}",
            details={"field": "min_confidence", "value": value},
        )
    return value


def discover_on_platform(
    catalog: Catalog,
    warehouse: Warehouse,
    actor: Actor,
    *,
    min_confidence: float,
    only: Iterable[str] | None = None,
    progress: Callable[[str], None] = lambda _: None,
) -> Discovery:
    Access(catalog).require(actor, Operation.DISCOVER_JOINS, TARGET)
    check_min_confidence(min_confidence)
    found = discover(
        platform_source(catalog, warehouse),
        min_confidence=min_confidence,
        only=only,
        store=CatalogProfiles(catalog, warehouse.kind.value),
        skip=catalog.joins.rejected,
        progress=progress,
    )
    found.candidates = catalog.joins.record(found.candidates, actor.name)
    return found


def propose(catalog: Catalog, actor: Actor, candidate: str, note: str) -> CandidateInfo:
    Access(catalog).require(actor, Operation.PROPOSE_JOIN, candidate)
    return catalog.joins.decide(candidate, "proposed", actor.name, note, allowed_from=("open",))


def reject(catalog: Catalog, actor: Actor, candidate: str, reason: str) -> CandidateInfo:
    Access(catalog).require(actor, Operation.REJECT_JOIN, candidate)
    if not reason.strip():
        raise ValidationFailed(
            "a rejection needs a reason (--reason TEXT): it is shown to whoever finds the "
            "join again",
            details={"field": "reason"},
        )
    return catalog.joins.decide(
        candidate, "rejected", actor.name, reason, allowed_from=("open", "proposed")
    )
