"""Replay and backfill: a dry run is mandatory, and the real run is bound to it.

A dry run (estimated rows, duplicates dedupe will drop, preview rows) writes nothing and returns
an id. The real run must present that id, and is refused unless the id is known, unused, not
expired, issued to the same principal and for exactly the same arguments, and the caller may
replay now (admin, system mode INGESTION_READY). Every rule is checked and every failing one is
reported; the typed error is the first one's. The caller passes ``now``: policies never read the
clock.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

from policies.access import AccessFacts, decide_access
from policies.decisions import Decision, combine_all, refusal
from policies.errors import (
    DryRunExpired,
    DryRunMismatch,
    DryRunRequired,
    SpyneError,
    ValidationFailed,
)
from policies.modes import SystemMode
from policies.roles import Operation, Role

DEFAULT_TTL = timedelta(minutes=30)
MAX_BATCH_SIZE = 10_000_000


class RunKind(StrEnum):
    REPLAY = "replay"  # load a time range again from the landing area (dedupe drops repeats)
    BACKFILL = "backfill"  # extract a past time range from the source, in batches


@dataclass(frozen=True)
class RunArguments:
    kind: RunKind
    contract_id: str
    start: datetime
    end: datetime
    batch_size: int | None = None

    def canonical(self) -> dict[str, Any]:
        return {
            "kind": self.kind.value,
            "contract": self.contract_id,
            "start": self.start.isoformat(),
            "end": self.end.isoformat(),
            "batch_size": self.batch_size,
        }

    @property
    def fingerprint(self) -> str:
        text = json.dumps(self.canonical(), sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(text.encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class DryRunRecord:
    """A dry run as the catalog holds it."""

    dry_run_id: str
    arguments: RunArguments
    principal: str
    created_at: datetime
    expires_at: datetime
    used_at: datetime | None = None


@dataclass(frozen=True)
class RealRunFacts:
    arguments: RunArguments
    principal: str | None
    role: Role | None
    mode: SystemMode
    dry_run_id: str | None
    record: DryRunRecord | None  # what the catalog holds under dry_run_id (None: nothing)
    now: datetime


RealRunRule = Callable[[RealRunFacts], Decision]


def arguments_rule(args: RunArguments) -> Decision:
    """Checked for the dry run and the real run alike."""
    if args.start >= args.end:
        return Decision.block(
            "arguments",
            f"{args.kind.value} {args.contract_id}: --start {args.start.isoformat()} is not before "
            f"--end {args.end.isoformat()}; give a range that ends after it starts",
            start=args.start.isoformat(),
            end=args.end.isoformat(),
        )
    if args.batch_size is not None and not 0 < args.batch_size <= MAX_BATCH_SIZE:
        return Decision.block(
            "arguments",
            f"{args.kind.value} {args.contract_id}: --batch-size {args.batch_size} is not between "
            f"1 and {MAX_BATCH_SIZE:,}",
            batch_size=args.batch_size,
        )
    return Decision.allow()


def _about(f: RealRunFacts) -> str:
    return f"{f.arguments.kind.value} {f.arguments.contract_id}"


def dry_run_given(f: RealRunFacts) -> Decision:
    if f.dry_run_id:
        return Decision.allow()
    return Decision.block(
        "dry_run_required",
        f"{_about(f)}: a real run needs its dry run first; run it with --dry-run, check the "
        "estimate, then run again with --dry-run-id ID",
    )


def dry_run_known(f: RealRunFacts) -> Decision:
    if not f.dry_run_id or f.record is not None:
        return Decision.allow()
    return Decision.block(
        "dry_run_mismatch",
        f"{_about(f)}: no dry run has the id {f.dry_run_id}; run the dry run again",
        dry_run_id=f.dry_run_id,
    )


def dry_run_fresh(f: RealRunFacts) -> Decision:
    if f.record is None or f.now < f.record.expires_at:
        return Decision.allow()
    return Decision.block(
        "dry_run_expired",
        f"{_about(f)}: dry run {f.record.dry_run_id} expired at "
        f"{f.record.expires_at.isoformat()}; run the dry run again (the data may have changed)",
        dry_run_id=f.record.dry_run_id,
        expired_at=f.record.expires_at.isoformat(),
    )


def dry_run_unused(f: RealRunFacts) -> Decision:
    if f.record is None or f.record.used_at is None:
        return Decision.allow()
    return Decision.block(
        "dry_run_mismatch",
        f"{_about(f)}: dry run {f.record.dry_run_id} was already used at "
        f"{f.record.used_at.isoformat()}; each dry run allows one real run",
        dry_run_id=f.record.dry_run_id,
    )


def dry_run_same_arguments(f: RealRunFacts) -> Decision:
    if f.record is None or f.record.arguments.fingerprint == f.arguments.fingerprint:
        return Decision.allow()
    was, now = f.record.arguments.canonical(), f.arguments.canonical()
    differ = sorted(k for k in now if was.get(k) != now[k])
    return Decision.block(
        "dry_run_mismatch",
        f"{_about(f)}: dry run {f.record.dry_run_id} was for other arguments ("
        + ", ".join(f"{k}: {was[k]} then, {now[k]} now" for k in differ)
        + "); run the dry run for these arguments",
        dry_run_id=f.record.dry_run_id,
        differ=differ,
    )


def dry_run_same_caller(f: RealRunFacts) -> Decision:
    if f.record is None or f.record.principal == f.principal:
        return Decision.allow()
    return Decision.block(
        "dry_run_mismatch",
        f"{_about(f)}: dry run {f.record.dry_run_id} was run by {f.record.principal}; the person "
        "who runs it for real runs its dry run",
        dry_run_id=f.record.dry_run_id,
        dry_run_by=f.record.principal,
    )


def may_replay(f: RealRunFacts) -> Decision:
    target = f"contract:{f.arguments.contract_id}"
    return decide_access(AccessFacts(Operation.REPLAY_INGEST, f.role, f.mode, target))


def valid_arguments(f: RealRunFacts) -> Decision:
    return arguments_rule(f.arguments)


REAL_RUN_RULES: tuple[RealRunRule, ...] = (
    may_replay,
    valid_arguments,
    dry_run_given,
    dry_run_known,
    dry_run_fresh,
    dry_run_unused,
    dry_run_same_arguments,
    dry_run_same_caller,
)

_ERRORS: dict[str, type[SpyneError]] = {
    "dry_run_required": DryRunRequired,
    "dry_run_expired": DryRunExpired,
    "dry_run_mismatch": DryRunMismatch,
}


def decide_real_run(facts: RealRunFacts) -> Decision:
    return combine_all(tuple(rule(facts) for rule in REAL_RUN_RULES))


def decide_dry_run(args: RunArguments, role: Role | None, mode: SystemMode) -> Decision:
    """A dry run writes nothing: whoever may look at unpublished data may run one, in any mode."""
    access = decide_access(
        AccessFacts(Operation.VIEW_SHADOW, role, mode, f"contract:{args.contract_id}")
    )
    return combine_all((access, arguments_rule(args)))


def expires_at(now: datetime, ttl: timedelta = DEFAULT_TTL) -> datetime:
    return now + ttl


def raise_unless_allowed(decision: Decision) -> None:
    """The typed error of the first reason (dry-run rules have their own codes)."""
    if decision.allowed:
        return
    err = refusal(decision)
    error = _ERRORS.get(decision.reasons[0].rule)
    if error is not None:
        raise error(err.message, details=err.details)
    if decision.reasons[0].rule == "arguments":
        raise ValidationFailed(err.message, details=err.details)
    raise err
