"""What an act would do or did: the answer of a dry run, and the record of a real one."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any

from policies.decisions import Decision
from policies.drift import DriftReport
from policies.lifecycle import TableState
from policies.publish import GateStatus


@dataclass(frozen=True)
class PromotionPlan:
    """What a promotion (or rollback) would do; a dry run returns exactly this and changes nothing."""

    table: str
    table_state: TableState
    from_version: int | None
    to_version: int
    gate_status: GateStatus
    gate_details: dict[str, Any]
    drift: DriftReport
    decision: Decision
    applied: bool = False
    actor: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    def done(self) -> PromotionPlan:
        return replace(self, applied=True)

    def to_dict(self) -> dict[str, Any]:
        return {
            "table": self.table,
            "state": self.table_state.value,
            "from_version": self.from_version,
            "to_version": self.to_version,
            "gate_status": self.gate_status.value,
            "gate": self.gate_details,
            "drift": self.drift.to_dict(),
            "decision": self.decision.verdict.name,
            "reasons": [{"rule": r.rule, "message": r.message} for r in self.decision.reasons],
            "applied": self.applied,
            "actor": self.actor,
        }
