"""Dry runs of replays and backfills: recorded with their arguments and estimate, claimed once.

The claim runs the policy (:func:`policies.dry_runs.decide_real_run`) on the row it locks, and
marks it used in the same transaction as the audit entry, so two real runs racing for one dry
run start one, and a claim killed mid-way leaves the dry run unused. A refused claim is audited
and changes nothing.
"""

from __future__ import annotations

import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa

from orchestration.catalog.audit import AuditLog, append, now
from orchestration.catalog.control_tables import AuditOutcome
from orchestration.catalog.engine import Database
from orchestration.catalog.models import DryRunRow
from orchestration.jsonable import json_safe
from policies.decisions import Decision
from policies.dry_runs import (
    DEFAULT_TTL,
    DryRunRecord,
    RealRunFacts,
    RunArguments,
    RunKind,
    decide_real_run,
    expires_at,
    raise_unless_allowed,
)
from policies.modes import SystemMode
from policies.roles import Role

DRY_RUN_ACTION = "dry_run"
REAL_RUN_ACTION = "replay_ingest"


@dataclass(frozen=True)
class DryRunInfo:
    record: DryRunRecord
    estimate: Mapping[str, Any]
    launched_by: str | None
    used_by_run: str | None

    def to_dict(self) -> dict[str, Any]:
        r = self.record
        return {
            "dry_run_id": r.dry_run_id,
            **r.arguments.canonical(),
            "principal": r.principal,
            "created_at": r.created_at.isoformat(),
            "expires_at": r.expires_at.isoformat(),
            "used_at": None if r.used_at is None else r.used_at.isoformat(),
            "used_by_run": self.used_by_run,
            "estimate": dict(self.estimate),
        }


class DryRuns:
    def __init__(self, db: Database, audit_log: AuditLog) -> None:
        self._db = db
        self._audit = audit_log

    def record(
        self,
        args: RunArguments,
        principal: str,
        estimate: Mapping[str, Any],
        launched_by: str | None = None,
        ttl: timedelta = DEFAULT_TTL,
    ) -> DryRunInfo:
        """Keep a dry run (audited) and hand back its id, valid for ``ttl``."""
        at = now()
        row = DryRunRow(
            dry_run_id=f"dr_{secrets.token_urlsafe(12)}",
            kind=args.kind.value,
            contract_id=args.contract_id,
            arguments=args.canonical(),
            fingerprint=args.fingerprint,
            principal=principal,
            launched_by=launched_by,
            estimate=json_safe(dict(estimate)),
            created_at=at,
            expires_at=expires_at(at, ttl),
        )
        with self._db.session(write=True) as s:
            s.add(row)
            s.flush()
            append(
                self._db,
                s,
                principal,
                DRY_RUN_ACTION,
                f"contract:{args.contract_id}",
                AuditOutcome.RECORDED,
                {"dry_run_id": row.dry_run_id, **args.canonical(), "estimate": row.estimate},
                launched_by,
            )
            return _info(row)

    def get(self, dry_run_id: str) -> DryRunInfo | None:
        with self._db.session(write=False) as s:
            row = s.scalar(sa.select(DryRunRow).where(DryRunRow.dry_run_id == dry_run_id))
            return None if row is None else _info(row)

    def claim(
        self,
        dry_run_id: str | None,
        args: RunArguments,
        principal: str | None,
        role: Role | None,
        mode: SystemMode,
        run_id: str,
        launched_by: str | None = None,
    ) -> DryRunInfo:
        """Mark the dry run used by ``run_id`` (audited) if the policy allows the real run now."""
        decision: Decision
        with self._db.session(write=True) as s:
            row = None
            if dry_run_id:
                row = s.scalar(
                    sa.select(DryRunRow).where(DryRunRow.dry_run_id == dry_run_id).with_for_update()
                )
            at = now()
            facts = RealRunFacts(
                args, principal, role, mode, dry_run_id, None if row is None else _record(row), at
            )
            decision = decide_real_run(facts)
            if decision.allowed and row is not None:
                row.used_at = at
                row.used_by_run = run_id
                s.flush()
                append(
                    self._db,
                    s,
                    str(principal),
                    REAL_RUN_ACTION,
                    f"contract:{args.contract_id}",
                    AuditOutcome.ALLOWED,
                    {"dry_run_id": dry_run_id, "run_id": run_id, **args.canonical()},
                    launched_by,
                )
                return _info(row)
        self._audit.record(
            principal or "anonymous",
            REAL_RUN_ACTION,
            f"contract:{args.contract_id}",
            AuditOutcome.REFUSED,
            {"dry_run_id": dry_run_id, "reasons": [r.message for r in decision.reasons]},
            launched_by,
        )
        raise_unless_allowed(decision)
        raise AssertionError("an allowed claim always has its dry run")  # pragma: no cover


def _args(raw: Mapping[str, Any]) -> RunArguments:
    return RunArguments(
        RunKind(raw["kind"]),
        raw["contract"],
        datetime.fromisoformat(raw["start"]),
        datetime.fromisoformat(raw["end"]),
        raw.get("batch_size"),
    )


def _record(row: DryRunRow) -> DryRunRecord:
    return DryRunRecord(
        row.dry_run_id,
        _args(row.arguments),
        row.principal,
        row.created_at,
        row.expires_at,
        row.used_at,
    )


def _info(row: DryRunRow) -> DryRunInfo:
    return DryRunInfo(_record(row), row.estimate, row.launched_by, row.used_by_run)
