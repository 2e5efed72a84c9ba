"""Discovery: profile (or reuse profiles), block and score pairs, validate the survivors in SQL.

The policy (:mod:`policies.joins`) decides from profiles which pairs are worth a query and how
confident each is; only pairs that could still reach ``min_confidence`` are validated, with one
counting query and one sample query each. The validated containment replaces the sketch's
estimate before the final score, so every reported confidence rests on measured numbers.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Protocol

from orchestration.catalog.joins import CandidateInfo, candidate_id
from orchestration.joins.sources import JoinSource, SourceTable
from policies.errors import NotFound
from policies.joins.candidates import best_per_child, candidate_pairs, drop_reversed
from policies.joins.profiles import TableProfile
from policies.joins.risk import JoinStats, flags, risk_level
from policies.joins.scoring import PairEvidence, optimistic, score

DEFAULT_MIN_CONFIDENCE = 0.5
SHORTLIST = 2  # parents per child column set validated with SQL


class ProfileStore(Protocol):
    """Where profiles are kept per table version (the catalog), so they are computed once."""

    def load(self, tables: Sequence[SourceTable]) -> dict[SourceTable, TableProfile]: ...

    def save(self, table: SourceTable, profile: TableProfile) -> None: ...


@dataclass
class Discovery:
    candidates: list[CandidateInfo]
    tables: int
    profiled: int
    reused: int
    pairs: int
    validated: int
    seconds: dict[str, float] = field(default_factory=dict)


def candidate_of(
    scored_confidence: float,
    reason: str,
    e: PairEvidence,
    versions: dict[str, int],
    stats: JoinStats,
) -> CandidateInfo:
    child_version, parent_version = versions[e.child_table], versions[e.parent_table]
    return CandidateInfo(
        id=candidate_id(
            e.child_table,
            e.child_columns,
            child_version,
            e.parent_table,
            e.parent_columns,
            parent_version,
        ),
        child_table=e.child_table,
        child_version=child_version,
        child_columns=e.child_columns,
        parent_table=e.parent_table,
        parent_version=parent_version,
        parent_columns=e.parent_columns,
        confidence=scored_confidence,
        risk_level=risk_level(scored_confidence).value,
        reason=reason,
        stats=stats.to_dict(),
        flags=tuple(f.value for f in flags(stats)),
    )


def _profiles(
    source: JoinSource,
    tables: Sequence[SourceTable],
    store: ProfileStore | None,
    workers: int,
    progress: Callable[[str], None],
) -> tuple[list[TableProfile], int]:
    known = store.load(tables) if store is not None else {}
    missing = [t for t in tables if t not in known]
    if missing:
        progress(f"profiling {len(missing)} tables ({len(known)} profiles reused)")
    with ThreadPoolExecutor(max_workers=max(1, workers)) as pool:
        fresh = dict(zip(missing, pool.map(source.profile, missing), strict=True))
    if store is not None:
        for table, profile in fresh.items():
            store.save(table, profile)
    merged = {**known, **fresh}
    return [merged[t] for t in tables], len(known)


def discover(
    source: JoinSource,
    *,
    min_confidence: float = DEFAULT_MIN_CONFIDENCE,
    only: Iterable[str] | None = None,
    store: ProfileStore | None = None,
    skip: Callable[[list[str]], set[str]] | None = None,
    workers: int = 2,
    progress: Callable[[str], None] = lambda _: None,
) -> Discovery:
    """Candidates among the source's tables (or among ``only``), best first.

    ``skip`` names candidate ids not to propose again (rejected on the same versions).
    """
    started = time.perf_counter()
    tables = source.tables()
    if only is not None:
        wanted = set(only)
        unknown = sorted(wanted - {t.name for t in tables})
        if unknown:
            raise NotFound(
                f"no table {', '.join(unknown)} to discover joins on; discovery reads ACTIVE "
                "and READ_ONLY tables (see `spyne tables list`)",
                details={"tables": unknown},
            )
        tables = [t for t in tables if t.name in wanted]
    profiles, reused = _profiles(source, tables, store, workers, progress)
    profiled_at = time.perf_counter()
    by_name = {t.name: t for t in tables}
    versions = {t.name: t.version for t in tables}
    hopeful = [(e, optimistic(e)) for e in candidate_pairs(profiles, min_confidence=min_confidence)]
    shortlist = best_per_child([h for h in hopeful if h[1] >= min_confidence], SHORTLIST)
    pairs = [e for e, _ in shortlist]
    scored_at = time.perf_counter()
    if pairs:
        progress(f"validating {len(pairs)} candidate joins with SQL")

    def validate(e: PairEvidence) -> tuple[PairEvidence, JoinStats]:
        stats = source.join_stats(
            by_name[e.child_table], e.child_columns, by_name[e.parent_table], e.parent_columns
        )
        return e, stats

    with ThreadPoolExecutor(max_workers=max(1, workers)) as pool:
        validated = list(pool.map(validate, pairs))
    finals = {}
    for e, stats in validated:
        final = score(e.with_exact_containment(stats.containment))
        if final.confidence >= min_confidence:
            finals[e.key] = (final, stats)
    best = best_per_child(
        drop_reversed([(f.evidence, f.confidence) for f, _ in finals.values()]), 1
    )
    found: list[CandidateInfo] = []
    for e, _ in best:
        final, stats = finals[e.key]
        found.append(candidate_of(final.confidence, final.reason, e, versions, stats))
    if skip is not None:
        dropped = skip([c.id for c in found])
        found = [c for c in found if c.id not in dropped]
    found.sort(key=lambda c: (-c.confidence, c.child_table, c.child_columns, c.parent_table))
    done = time.perf_counter()
    return Discovery(
        candidates=found,
        tables=len(tables),
        profiled=len(tables) - reused,
        reused=reused,
        pairs=len(pairs),
        validated=len(validated),
        seconds={
            "profile": round(profiled_at - started, 3),
            "score": round(scored_at - profiled_at, 3),
            "validate": round(done - scored_at, 3),
            "total": round(done - started, 3),
        },
    )
