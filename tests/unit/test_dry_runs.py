from __future__ import annotations

import copy
from datetime import datetime
from typing import Any

import pytest
from fixture_cases import load, params

from policies.dry_runs import (
    REAL_RUN_RULES,
    DryRunRecord,
    RealRunFacts,
    RunArguments,
    RunKind,
    decide_dry_run,
    decide_real_run,
    raise_unless_allowed,
)
from policies.errors import SpyneError
from policies.modes import SystemMode
from policies.roles import Role

FIXTURE = "dry_runs.yaml"


def _args(raw: dict[str, Any]) -> RunArguments:
    return RunArguments(
        RunKind(raw["kind"]),
        raw["contract"],
        datetime.fromisoformat(raw["start"]),
        datetime.fromisoformat(raw["end"]),
        raw["batch_size"],
    )


def _facts(case: dict[str, Any]) -> RealRunFacts:
    raw = copy.deepcopy(load(FIXTURE, "base"))
    raw["args"].update(case.get("args", {}))
    if raw["record"] is not None:
        raw["record"].update(case.get("record", {}))
    raw.update(case.get("facts", {}))
    rec = raw["record"]
    record = None
    if rec is not None:
        record = DryRunRecord(
            raw["dry_run_id"],
            _args(rec["args"]),
            rec["principal"],
            datetime.fromisoformat(rec["created_at"]),
            datetime.fromisoformat(rec["expires_at"]),
            datetime.fromisoformat(rec["used_at"]) if rec["used_at"] else None,
        )
    return RealRunFacts(
        arguments=_args(raw["args"]),
        principal=raw["principal"],
        role=None if raw["role"] is None else Role.parse(raw["role"]),
        mode=SystemMode(raw["mode"]),
        dry_run_id=raw["dry_run_id"],
        record=record,
        now=datetime.fromisoformat(raw["now"]),
    )


@pytest.mark.parametrize("case", params(FIXTURE, "real_run"))
def test_real_run(case: dict[str, Any]) -> None:
    decision = decide_real_run(_facts(case))
    assert [r.rule for r in decision.reasons] == case["rules"]
    for text in case.get("message_contains", []):
        assert text in decision.message
    if not case["rules"]:
        raise_unless_allowed(decision)
        return
    with pytest.raises(SpyneError) as exc:
        raise_unless_allowed(decision)
    assert exc.value.code == case["error"]


def test_every_rule_refuses_some_case() -> None:
    facts = [_facts(c) for c in load(FIXTURE, "real_run")]
    for rule in REAL_RUN_RULES:
        assert any(not rule(f).allowed for f in facts), rule.__name__


@pytest.mark.parametrize("case", params(FIXTURE, "dry_run"))
def test_dry_run(case: dict[str, Any]) -> None:
    raw = copy.deepcopy(load(FIXTURE, "base")["args"])
    raw.update(case.get("args", {}))
    decision = decide_dry_run(_args(raw), Role.parse(case["role"]), SystemMode(case["mode"]))
    assert [r.rule for r in decision.reasons] == case["rules"]


def test_fingerprint_binds_every_argument() -> None:
    base = _args(load(FIXTURE, "base")["args"])
    assert base.fingerprint == _args(load(FIXTURE, "base")["args"]).fingerprint
    others = [
        RunArguments(RunKind.BACKFILL, base.contract_id, base.start, base.end),
        RunArguments(base.kind, "erp_other", base.start, base.end),
        RunArguments(base.kind, base.contract_id, base.end, base.end),
        RunArguments(base.kind, base.contract_id, base.start, base.start),
        RunArguments(base.kind, base.contract_id, base.start, base.end, 10),
    ]
    assert len({a.fingerprint for a in [base, *others]}) == 6
