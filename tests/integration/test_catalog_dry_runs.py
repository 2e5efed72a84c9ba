"""Replay and backfill dry runs in the catalog (both backends): recorded and audited, claimed by
one real run at most, refused (audited, nothing changed) when stale, mismatched or someone else's."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa

from orchestration.catalog import Catalog
from policies.dry_runs import RunArguments, RunKind
from policies.errors import (
    DryRunExpired,
    DryRunMismatch,
    DryRunRequired,
    ModeRefused,
    PermissionDenied,
)
from policies.modes import SystemMode
from policies.roles import Role

ARGS = RunArguments(
    RunKind.REPLAY,
    "erp_sale_order",
    datetime(2026, 11, 1, tzinfo=UTC),
    datetime(2026, 11, 8, tzinfo=UTC),
)
READY = SystemMode.INGESTION_READY
ESTIMATE = {"rows": 1200, "duplicates": 40, "preview": [{"id": 1}]}


def test_dry_run_then_one_real_run(catalog: Catalog, raw: sa.Engine) -> None:
    dry = catalog.dry_runs.record(ARGS, "root", ESTIMATE)
    assert dry.record.dry_run_id.startswith("dr_") and dry.estimate == ESTIMATE
    assert catalog.dry_runs.get(dry.record.dry_run_id) == dry
    claimed = catalog.dry_runs.claim(
        dry.record.dry_run_id, ARGS, "root", Role.ADMIN, READY, "run-1"
    )
    assert claimed.used_by_run == "run-1" and claimed.record.used_at is not None
    with pytest.raises(DryRunMismatch, match="already used"):
        catalog.dry_runs.claim(dry.record.dry_run_id, ARGS, "root", Role.ADMIN, READY, "run-2")
    assert catalog.dry_runs.get(dry.record.dry_run_id).used_by_run == "run-1"  # type: ignore[union-attr]
    actions = [(e.action, e.outcome.value) for e in reversed(catalog.list_audit())]
    assert actions == [
        ("dry_run", "recorded"),
        ("replay_ingest", "allowed"),
        ("replay_ingest", "refused"),
    ]
    assert catalog.verify_audit().ok


@pytest.mark.parametrize(
    ("dry_run_id", "args", "who", "role", "mode", "error"),
    [
        (None, ARGS, "root", Role.ADMIN, READY, DryRunRequired),
        ("dr_unknown", ARGS, "root", Role.ADMIN, READY, DryRunMismatch),
        ("", ARGS, "root", Role.ENGINEER, READY, PermissionDenied),
        ("", ARGS, "root", Role.ADMIN, SystemMode.READ_ONLY, ModeRefused),
        ("", ARGS, "ada", Role.ADMIN, READY, DryRunMismatch),
        (
            "",
            RunArguments(
                RunKind.REPLAY, ARGS.contract_id, ARGS.start, ARGS.end + timedelta(days=1)
            ),
            "root",
            Role.ADMIN,
            READY,
            DryRunMismatch,
        ),
    ],
)
def test_refused_claims_change_nothing(
    catalog: Catalog,
    dry_run_id: str | None,
    args: RunArguments,
    who: str,
    role: Role,
    mode: SystemMode,
    error: type[Exception],
) -> None:
    dry = catalog.dry_runs.record(ARGS, "root", ESTIMATE)
    given = dry.record.dry_run_id if dry_run_id == "" else dry_run_id
    with pytest.raises(error):
        catalog.dry_runs.claim(given, args, who, role, mode, "run-1")
    assert catalog.dry_runs.get(dry.record.dry_run_id).record.used_at is None  # type: ignore[union-attr]
    assert catalog.list_audit(action="replay_ingest")[0].outcome.value == "refused"


def test_a_stale_dry_run_is_refused(catalog: Catalog) -> None:
    dry = catalog.dry_runs.record(ARGS, "root", ESTIMATE, ttl=timedelta(seconds=-1))
    with pytest.raises(DryRunExpired, match="expired at"):
        catalog.dry_runs.claim(dry.record.dry_run_id, ARGS, "root", Role.ADMIN, READY, "run-1")
