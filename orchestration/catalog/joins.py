"""Join discovery and review in the catalog: profiles, candidates and their decisions, accepted joins.

A profile is stored once per table version and reused while the version is the one profiled.
A candidate's id is derived from its pair and the versions it was computed on, so discovering
again on the same versions finds the same candidate: a rejection is remembered (who, why) and
the candidate is not proposed again until one of the tables has a new version. An acceptance is
recorded as ``pending`` before the dbt files are written and made ACTIVE after, so an
interrupted one is found and settled (:mod:`orchestration.joins.acceptance`).
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, field, replace
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from orchestration.catalog.audit import append, now
from orchestration.catalog.control_tables import AuditOutcome
from orchestration.catalog.engine import Database
from orchestration.catalog.join_models import AcceptedJoinRow, JoinCandidateRow, JoinProfileRow
from orchestration.jsonable import json_safe
from policies.errors import InvalidTransition, NotFound


def candidate_id(
    child: str, child_columns: Sequence[str], child_version: int,
    parent: str, parent_columns: Sequence[str], parent_version: int,
) -> str:  # fmt: skip
    text = "|".join(
        [
            child,
            ",".join(child_columns),
            str(child_version),
            parent,
            ",".join(parent_columns),
            str(parent_version),
        ]
    )
    return "jc_" + hashlib.sha256(text.encode()).hexdigest()[:12]


@dataclass(frozen=True)
class CandidateInfo:
    id: str
    child_table: str
    child_version: int
    child_columns: tuple[str, ...]
    parent_table: str
    parent_version: int
    parent_columns: tuple[str, ...]
    confidence: float
    risk_level: str
    reason: str
    stats: dict[str, Any]
    flags: tuple[str, ...]
    status: str = "open"
    discovered_at: datetime | None = None
    discovered_by: str | None = None
    decided_at: datetime | None = None
    decided_by: str | None = None
    decision_note: str | None = None

    def to_dict(self) -> dict[str, Any]:
        """The JSON `spyne joins discover --json` and `list --json` print."""
        out = json_safe(asdict(self))
        out |= {
            "cardinality": self.stats.get("cardinality"),
            "null_pct": self.stats.get("null_pct"),
            "fan_out": {
                "avg": self.stats.get("fan_out_avg"),
                "max": self.stats.get("max_fan_out"),
            },
            "orphan_pct": self.stats.get("orphan_pct"),
        }
        return dict(out)


@dataclass(frozen=True)
class AcceptedJoinInfo:
    id: int
    model_name: str
    version: int
    candidate_id: str
    join_type: str
    rationale: str
    state: str
    accepted_by: str
    accepted_at: datetime
    stats: dict[str, Any] = field(default_factory=dict)
    deprecated_at: datetime | None = None
    deprecated_by: str | None = None
    deprecation_reason: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return dict(json_safe(asdict(self)))


def _candidate(row: JoinCandidateRow) -> CandidateInfo:
    return CandidateInfo(
        id=row.id,
        child_table=row.child_table,
        child_version=row.child_version,
        child_columns=tuple(row.child_columns),
        parent_table=row.parent_table,
        parent_version=row.parent_version,
        parent_columns=tuple(row.parent_columns),
        confidence=row.confidence,
        risk_level=row.risk_level,
        reason=row.reason,
        stats=dict(row.stats),
        flags=tuple(row.flags),
        status=row.status,
        discovered_at=row.discovered_at,
        discovered_by=row.discovered_by,
        decided_at=row.decided_at,
        decided_by=row.decided_by,
        decision_note=row.decision_note,
    )


def _accepted(row: AcceptedJoinRow) -> AcceptedJoinInfo:
    return AcceptedJoinInfo(
        id=row.id,
        model_name=row.model_name,
        version=row.version,
        candidate_id=row.candidate_id,
        join_type=row.join_type,
        rationale=row.rationale,
        state=row.state,
        accepted_by=row.accepted_by,
        accepted_at=row.accepted_at,
        stats=dict(row.stats),
        deprecated_at=row.deprecated_at,
        deprecated_by=row.deprecated_by,
        deprecation_reason=row.deprecation_reason,
    )


class Joins:
    def __init__(self, db: Database) -> None:
        self._db = db

    # -- profiles ---------------------------------------------------------------------------
    def profiles(
        self, kind: str, versions: Iterable[tuple[str, int]]
    ) -> dict[tuple[str, int], Any]:
        """Stored profiles of these table versions (those profiled before)."""
        wanted = set(versions)
        if not wanted:
            return {}
        names = sorted({t for t, _ in wanted})
        stmt = sa.select(JoinProfileRow).where(
            JoinProfileRow.warehouse_kind == kind, JoinProfileRow.table_name.in_(names)
        )
        with self._db.session(write=False) as s:
            rows = s.scalars(stmt).all()
            return {
                (r.table_name, r.version): r.profile
                for r in rows
                if (r.table_name, r.version) in wanted
            }

    def store_profile(self, kind: str, table: str, version: int, profile: dict[str, Any]) -> None:
        with self._db.session(write=True) as s:
            found = s.scalar(
                sa.select(JoinProfileRow.id).where(
                    JoinProfileRow.warehouse_kind == kind,
                    JoinProfileRow.table_name == table,
                    JoinProfileRow.version == version,
                )
            )
            if found is None:
                s.add(
                    JoinProfileRow(
                        table_name=table,
                        version=version,
                        warehouse_kind=kind,
                        profile=json_safe(profile),
                        profiled_at=now(),
                    )
                )

    # -- candidates -------------------------------------------------------------------------
    def record(self, found: Sequence[CandidateInfo], actor: str) -> list[CandidateInfo]:
        """Store what discovery found (audited once); decided candidates keep their decision."""
        out: list[CandidateInfo] = []
        with self._db.session(write=True) as s:
            for c in found:
                row = s.get(JoinCandidateRow, c.id)
                if row is None:
                    row = JoinCandidateRow(
                        id=c.id,
                        child_table=c.child_table,
                        child_version=c.child_version,
                        child_columns=list(c.child_columns),
                        parent_table=c.parent_table,
                        parent_version=c.parent_version,
                        parent_columns=list(c.parent_columns),
                        status="open",
                        discovered_by=actor,
                        discovered_at=now(),
                        confidence=c.confidence,
                        risk_level=c.risk_level,
                        reason=c.reason,
                        stats=json_safe(c.stats),
                        flags=list(c.flags),
                    )
                    s.add(row)
                elif row.status in ("open", "proposed"):
                    row.confidence, row.risk_level, row.reason = (
                        c.confidence,
                        c.risk_level,
                        c.reason,
                    )
                    row.stats, row.flags = json_safe(c.stats), list(c.flags)
                s.flush()
                out.append(_candidate(row))
            append(
                self._db,
                s,
                actor,
                "joins_discover",
                None,
                AuditOutcome.RECORDED,
                {"candidates": [c.id for c in found]},
            )
        return out

    def rejected(self, ids: Iterable[str]) -> set[str]:
        wanted = list(ids)
        if not wanted:
            return set()
        stmt = sa.select(JoinCandidateRow.id).where(
            JoinCandidateRow.id.in_(wanted), JoinCandidateRow.status == "rejected"
        )
        with self._db.session(write=False) as s:
            return set(s.scalars(stmt).all())

    def get(self, candidate: str) -> CandidateInfo:
        with self._db.session(write=False) as s:
            row = s.get(JoinCandidateRow, candidate)
            if row is None:
                raise _missing(candidate)
            return _candidate(row)

    def candidates(self, statuses: Sequence[str] | None = None) -> list[CandidateInfo]:
        stmt = sa.select(JoinCandidateRow).order_by(
            JoinCandidateRow.confidence.desc(), JoinCandidateRow.id
        )
        if statuses:
            stmt = stmt.where(JoinCandidateRow.status.in_(list(statuses)))
        with self._db.session(write=False) as s:
            return [_candidate(r) for r in s.scalars(stmt).all()]

    def decide(
        self, candidate: str, status: str, actor: str, note: str, *, allowed_from: Sequence[str]
    ) -> CandidateInfo:
        """Move a candidate to ``status`` (proposed, rejected) with who and why, audited."""
        with self._db.session(write=True) as s:
            row = s.get(JoinCandidateRow, candidate)
            if row is None:
                raise _missing(candidate)
            if row.status not in allowed_from:
                raise InvalidTransition(
                    f"candidate {candidate} is {row.status}; it cannot become {status}",
                    details={"candidate": candidate, "status": row.status, "wanted": status},
                )
            row.status, row.decided_by, row.decided_at, row.decision_note = (
                status,
                actor,
                now(),
                note,
            )
            s.flush()
            append(
                self._db,
                s,
                actor,
                f"joins_{status.removesuffix('ed').removesuffix('e')}",
                candidate,
                AuditOutcome.ALLOWED,
                {"note": note, "child": row.child_table, "parent": row.parent_table},
            )
            return _candidate(row)

    # -- accepted joins ---------------------------------------------------------------------
    def accepted(self, model_name: str | None = None) -> list[AcceptedJoinInfo]:
        stmt = sa.select(AcceptedJoinRow).order_by(
            AcceptedJoinRow.model_name, AcceptedJoinRow.version
        )
        if model_name is not None:
            stmt = stmt.where(AcceptedJoinRow.model_name == model_name)
        with self._db.session(write=False) as s:
            return [_accepted(r) for r in s.scalars(stmt).all()]

    def begin_accept(
        self,
        candidate: CandidateInfo,
        model_name: str,
        join_type: str,
        rationale: str,
        actor: str,
        stats: dict[str, Any],
        at_least: int = 1,
    ) -> AcceptedJoinInfo:
        """Record the intent to accept (state pending) with the model's next version number.

        ``at_least``: versions the dbt project already holds (reviewed code from elsewhere).
        """
        with self._db.session(write=True) as s:
            row = s.get(JoinCandidateRow, candidate.id)
            if row is None:
                raise _missing(candidate.id)
            if row.status not in ("open", "proposed"):
                raise InvalidTransition(
                    f"candidate {candidate.id} is {row.status}; only open or proposed candidates "
                    "can be accepted",
                    details={"candidate": candidate.id, "status": row.status},
                )
            top = s.scalar(
                sa.select(sa.func.max(AcceptedJoinRow.version)).where(
                    AcceptedJoinRow.model_name == model_name
                )
            )
            accepted = AcceptedJoinRow(
                model_name=model_name,
                version=max(int(top or 0) + 1, at_least),
                candidate_id=candidate.id,
                join_type=join_type,
                rationale=rationale,
                state="pending",
                accepted_by=actor,
                accepted_at=now(),
                stats=json_safe(stats),
            )
            s.add(accepted)
            s.flush()
            return _accepted(accepted)

    def finish_accept(self, pending: AcceptedJoinInfo, actor: str) -> AcceptedJoinInfo:
        """The files are written: the version becomes ACTIVE, the previous one DEPRECATED."""
        with self._db.session(write=True) as s:
            row = s.get(AcceptedJoinRow, pending.id)
            if row is None or row.state != "pending":
                raise InvalidTransition(
                    f"acceptance {pending.model_name} v{pending.version} is not pending",
                    details={"model": pending.model_name, "version": pending.version},
                )
            for older in s.scalars(
                sa.select(AcceptedJoinRow).where(
                    AcceptedJoinRow.model_name == row.model_name,
                    AcceptedJoinRow.state == "ACTIVE",
                )
            ):
                older.state, older.deprecated_at, older.deprecated_by = "DEPRECATED", now(), actor
                older.deprecation_reason = f"replaced by v{row.version}"
            row.state = "ACTIVE"
            candidate = s.get(JoinCandidateRow, row.candidate_id)
            if candidate is not None:
                candidate.status, candidate.decided_by, candidate.decided_at = (
                    "accepted",
                    actor,
                    now(),
                )
                candidate.decision_note = row.rationale
            s.flush()
            append(
                self._db,
                s,
                actor,
                "joins_accept",
                f"{row.model_name}:v{row.version}",
                AuditOutcome.ALLOWED,
                {
                    "candidate": row.candidate_id,
                    "rationale": row.rationale,
                    "join_type": row.join_type,
                },
            )
            return _accepted(row)

    def abandon_accept(self, pending: AcceptedJoinInfo, actor: str, why: str) -> AcceptedJoinInfo:
        """An acceptance whose files were never written: kept, marked DEPRECATED with why."""
        with self._db.session(write=True) as s:
            row = s.get(AcceptedJoinRow, pending.id)
            if row is None:
                raise _missing(str(pending.id))
            row.state, row.deprecated_at, row.deprecated_by = "DEPRECATED", now(), actor
            row.deprecation_reason = why
            s.flush()
            append(
                self._db,
                s,
                actor,
                "joins_accept_abandoned",
                f"{row.model_name}:v{row.version}",
                AuditOutcome.RECORDED,
                {"why": why},
            )
            return _accepted(row)

    def deprecate(self, model_name: str, version: int, actor: str, reason: str) -> AcceptedJoinInfo:
        with self._db.session(write=True) as s:
            row = s.scalar(
                sa.select(AcceptedJoinRow).where(
                    AcceptedJoinRow.model_name == model_name, AcceptedJoinRow.version == version
                )
            )
            if row is None:
                raise _missing(f"{model_name} v{version}")
            if row.state != "ACTIVE":
                raise InvalidTransition(
                    f"{model_name} v{version} is {row.state}; only an ACTIVE join is deprecated",
                    details={"model": model_name, "version": version, "state": row.state},
                )
            row.state, row.deprecated_at, row.deprecated_by = "DEPRECATED", now(), actor
            row.deprecation_reason = reason
            s.flush()
            append(
                self._db,
                s,
                actor,
                "joins_deprecate",
                f"{model_name}:v{version}",
                AuditOutcome.ALLOWED,
                {"reason": reason},
            )
            return _accepted(row)


def with_status(candidate: CandidateInfo, status: str) -> CandidateInfo:
    return replace(candidate, status=status)


def _missing(what: str) -> NotFound:
    return NotFound(
        f"no join candidate or accepted join {what}; list them with `spyne joins list`",
        details={"id": what},
    )
