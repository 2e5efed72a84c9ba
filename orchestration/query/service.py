"""Preview, approve and execute ad-hoc queries: the gate, resolution, estimates, the binding.

Every decision is audited as ``security_gate_decision`` with its rule ids and the SQL's hash,
never with result rows (nor the SQL's literals, which may hold personal data).
"""

from __future__ import annotations

import hashlib
import json
import os
import secrets
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from sqlglot import exp

from orchestration.catalog.query_previews import NewPreview, PreviewInfo
from orchestration.query.policy import load_query_policy, quiet_parser
from orchestration.query.redaction import apply as apply_redaction
from orchestration.query.resolve import (
    Resolution,
    extract_pins,
    parse_final,
    resolve_tables,
    safety_facts,
    statements_for,
    to_physical,
    unknown_columns,
)
from policies.decisions import Decision, Verdict
from policies.errors import (
    ApprovalRequired,
    CostLimitExceeded,
    NotFound,
    PermissionDenied,
    PreviewInvalid,
    QueryBlocked,
    SpyneError,
    ValidationFailed,
)
from policies.pii import may_see
from policies.query_correct import Correction, correct
from policies.query_explain import QueryShape, explain, shape
from policies.query_gate import BUDGET_WINDOW, RunFacts, cost_of, decide_run, used_in_window
from policies.query_grain import RULE as GRAIN_RULE
from policies.query_grain import mixed_grain
from policies.query_joins import ReviewedJoin, match, on_columns
from policies.roles import Operation
from policies.sql_safety import GateDecision, SafetyPolicy, check_sql

if TYPE_CHECKING:
    from orchestration.identity import Actor
    from orchestration.runtime import Runtime
    from orchestration.warehouse import QueryResult, RowEstimate

AUDIT_ACTION = "security_gate_decision"
# Guardrails the caller may accept themselves (an explosive join, repeated values they mean).
OVERRIDABLE = frozenset({"explosive_join", GRAIN_RULE})
ORG_ENV = "SPYNE_ORG"
BYTES_PER_VALUE = 8  # the local estimate: rows x columns read x 8 bytes

_ERRORS: dict[str, type[SpyneError]] = {
    "unknown_table": NotFound,
    "unknown_version": NotFound,
    "unknown_column": NotFound,
    "roles": PermissionDenied,
    "budget": CostLimitExceeded,
    "approval": ApprovalRequired,
    "preview_expired": PreviewInvalid,
    "preview_caller": PreviewInvalid,
    "preview_stale": PreviewInvalid,
    "preview_used": PreviewInvalid,
}


def refusal_of(decision: Decision) -> SpyneError:
    first = decision.reasons[0]
    details: dict[str, Any] = {"rule": first.rule, **first.details}
    details["rules"] = [r.rule for r in decision.reasons]
    details["reasons"] = [r.message for r in decision.reasons]
    return _ERRORS.get(first.rule, QueryBlocked)(decision.message, details=details)


def org() -> str:
    return os.environ.get(ORG_ENV, "").strip() or "default"


@dataclass
class Preview:
    info: PreviewInfo
    data: dict[str, Any] = field(default_factory=dict)


class QueryService:
    def __init__(self, rt: Runtime, policy: SafetyPolicy | None = None) -> None:
        quiet_parser()
        self.rt = rt
        self.policy = policy or load_query_policy(rt.home)

    @property
    def dialect(self) -> str:
        return self.rt.warehouse.dialect

    # -- audit --------------------------------------------------------------------------------
    def _audit(
        self, actor: Actor, target: str, outcome: str, decision: str, rules: list[str], **extra: Any
    ) -> None:
        details = {"decision": decision, "rules": rules, **extra}
        self.rt.catalog.audit(actor.name, AUDIT_ACTION, target, outcome, details, actor.launched_by)

    def _refuse(self, actor: Actor, sql_hash: str, decision: Decision, target: str) -> None:
        err = refusal_of(decision)
        self._audit(
            actor,
            target,
            "refused",
            "block" if decision.verdict == Verdict.BLOCK else "require_approval",
            [r.rule for r in decision.reasons],
            sql_hash=sql_hash,
            code=err.code,
        )
        raise err

    # -- preview ------------------------------------------------------------------------------
    def preview(self, actor: Actor, sql: str, pins: dict[str, int] | None = None) -> Preview:
        self.rt.require(actor, Operation.QUERY, "query")
        text_hash = hashlib.sha256(sql.encode()).hexdigest()
        clean, found_pins = extract_pins(sql, self.dialect)
        pins = {**found_pins, **(pins or {})}
        first = check_sql(clean, self.dialect, policy=self.policy)
        if first.blocked or first.tree is None:
            self._refuse(actor, text_hash, first.as_decision(), "query")
            raise AssertionError("unreachable")
        resolution = resolve_tables(self.rt.catalog, first.tree, pins, actor.role)
        if not resolution.decision.allowed:
            self._refuse(actor, text_hash, resolution.decision, "query")
        facts = safety_facts(resolution, self.policy.partitioned_tables)
        gate = check_sql(clean, self.dialect, policy=self.policy, facts=facts)
        assert gate.tree is not None
        statements = statements_for(self.dialect, getattr(self.rt.warehouse, "project", None))
        physical = to_physical(gate.tree, resolution, statements)
        columns = unknown_columns(physical, resolution, statements)
        if not columns.allowed:
            self._refuse(actor, text_hash, columns, "query")
        from orchestration.query.redaction import personal_columns, redacted_outputs, scan_tables

        scan_tables(self.rt.catalog, self.rt.warehouse, resolution)
        personal, queued = personal_columns(self.rt.catalog, resolution)
        redact = redacted_outputs(physical, resolution, statements, personal)
        preview = self._record(actor, gate, resolution, physical, redact, queued, pins)
        return preview

    def correct(self, actor: Actor, preview_id: str, corrections: list[Correction]) -> Preview:
        """A new preview of the previewed query with its tree edited; only for who previewed it."""
        info = self.rt.catalog.query_previews.get(preview_id)
        if info.principal != actor.name:
            raise PreviewInvalid(
                f"preview {preview_id} was made by {info.principal}; only they may correct it",
                details={"preview_id": preview_id, "rule": "preview_caller"},
            )
        sql = correct(info.shown_sql, info.dialect, corrections)
        pins = {str(k): int(v) for k, v in (info.payload.get("pins") or {}).items()}
        return self.preview(actor, sql, pins)

    def _estimates(
        self, physical: exp.Expr, resolution: Resolution
    ) -> tuple[RowEstimate | None, int | None]:
        assert isinstance(physical, exp.Query)
        warehouse = self.rt.warehouse
        rows = warehouse.estimate_rows(physical)
        metered = warehouse.estimate(physical).bytes_processed
        if metered is not None:
            return rows, metered
        used = {c.name for c in physical.find_all(exp.Column)}
        star = any(not isinstance(s.parent, exp.Count) for s in physical.find_all(exp.Star))
        total = 0
        for found in resolution.tables.values():
            if found.version is None:
                continue
            names = {str(c["name"]) for c in found.version.schema}
            width = len(names) if star else max(1, len(names & used))
            total += found.version.row_count * width * BYTES_PER_VALUE
        return rows, total

    def _joins(self, query_shape: QueryShape, resolution: Resolution) -> list[dict[str, Any]]:
        """Each join of the query, with the accepted join it is (id, model, version, reviewer)
        or a warning that nobody reviewed it."""
        if not query_shape.joins:
            return []
        names = {n: r.resolved.table for n, r in resolution.tables.items()}
        reviewed = self._reviewed_joins()
        out: list[dict[str, Any]] = []
        for j in query_shape.joins:
            seen = [names.get(t, t) for t in query_shape.tables]
            joined = names.get(j.right, j.right)
            found = match(joined, seen, on_columns(j.on, self.dialect), reviewed)
            entry: dict[str, Any] = {
                "kind": j.kind,
                "left": j.left,
                "right": j.right,
                "on": j.on,
                "accepted_join": None,
            }
            if found is None:
                entry["warning"] = (
                    f"{j.left} -> {j.right} is not an accepted join; "
                    "its keys and fan-out were not reviewed"
                )
            else:
                entry["accepted_join"] = {
                    "id": found.id,
                    "model": found.model,
                    "version": found.version,
                    "accepted_by": found.accepted_by,
                }
            out.append(entry)
        return out

    def _reviewed_joins(self) -> list[ReviewedJoin]:
        joins = self.rt.catalog.joins
        out = []
        for a in joins.accepted():
            if a.state != "ACTIVE":
                continue
            c = joins.get(a.candidate_id)
            out.append(
                ReviewedJoin(
                    a.id,
                    a.model_name,
                    a.version,
                    a.accepted_by,
                    c.child_table,
                    c.child_columns,
                    c.parent_table,
                    c.parent_columns,
                )
            )
        return out

    def _guardrails(
        self, estimate: RowEstimate | None, resolution: Resolution, joins: int
    ) -> tuple[list[str], list[str]]:
        """(approval rules, warnings) from the planner's estimate and the tables' sizes."""
        rules: list[str] = []
        warnings: list[str] = []
        biggest = max(
            (r.version.row_count for r in resolution.tables.values() if r.version), default=0
        )
        if joins and estimate is not None:
            peak = estimate.peak
            fanout = peak / max(1, biggest)
            if fanout > self.policy.max_join_fanout or peak > self.policy.max_result_rows:
                rules.append("explosive_join")
                warnings.append(
                    f"explosive join: about {peak:,} rows from tables of at most {biggest:,} "
                    f"(fan-out {fanout:,.0f}); check the join keys, or override with "
                    "`--override explosive_join` when executing"
                )
        return rules, warnings

    def _record(
        self,
        actor: Actor,
        gate: GateDecision,
        resolution: Resolution,
        physical: exp.Expr,
        redact: dict[str, str],
        pii_queued: list[str],
        pins: dict[str, int],
    ) -> Preview:
        assert gate.tree is not None
        now = datetime.now(UTC)
        est_rows, est_bytes = self._estimates(physical, resolution)
        query_shape = shape(gate.tree, self.dialect)
        labels = {name: r.label for name, r in resolution.tables.items()}
        guard_rules, guard_warnings = self._guardrails(est_rows, resolution, len(query_shape.joins))
        if query_shape.joins:
            from orchestration.query.grain import key_facts

            keys = key_facts(self.rt.catalog, self.rt.warehouse.kind.value, resolution)
            repeated = mixed_grain(gate.tree, keys)
            if repeated:
                guard_rules.append(GRAIN_RULE)
                guard_warnings += [f.message for f in repeated]
        approval_rules = [f.rule for f in gate.findings if f.verdict == Verdict.REQUIRE_APPROVAL]
        approval_rules += guard_rules
        if est_bytes is not None and est_bytes > self.policy.max_query_bytes:
            approval_rules.append("query_cost")
        decision = "require_approval" if approval_rules else gate.decision
        tables = [r.describe() for r in resolution.tables.values()]
        shown_sql = gate.tree.sql(dialect=self.dialect)
        final_sql = physical.sql(dialect=self.dialect)
        binding = json.dumps([final_sql, actor.name, tables], sort_keys=True, default=str)
        preview_id = "pv_" + secrets.token_hex(8)
        data: dict[str, Any] = {
            "preview_id": preview_id,
            "decision": decision,
            "sql": shown_sql,
            "final_sql": final_sql,
            "tables": tables,
            "joins": self._joins(query_shape, resolution),
            "filters": list(query_shape.filters),
            "group_by": list(query_shape.group_by),
            "aggregations": list(query_shape.aggregations),
            "assumptions": [
                f"{r.resolved.table} read at "
                + (f"version {r.resolved.version}" if r.resolved.version else "its source")
                + f" ({r.resolved.state.value})"
                for r in resolution.tables.values()
            ],
            "explanation": explain(query_shape, labels),
            "estimated_rows": est_rows.result if est_rows else None,
            "estimated_peak_rows": est_rows.peak if est_rows else None,
            "estimated_bytes": est_bytes,
            "estimated_cost": cost_of(est_bytes, self.policy.price_per_tb),
            "warnings": gate.warnings + guard_warnings,
            "rules": gate.rules
            + guard_rules
            + (["query_cost"] if "query_cost" in approval_rules else []),
            "approval_rules": approval_rules,
            "redacted_columns": redact,
            "pins": pins,
            "pii_review_queue": pii_queued,
            "expires_at": (now + timedelta(minutes=self.policy.preview_ttl_minutes)).isoformat(),
        }
        info = self.rt.catalog.query_previews.create(
            NewPreview(
                id=preview_id,
                principal=actor.name,
                org=org(),
                dialect=self.dialect,
                sql=final_sql,
                shown_sql=shown_sql,
                sql_hash=hashlib.sha256(binding.encode()).hexdigest(),
                tables=tables,
                decision=decision,
                approval_rules=approval_rules,
                estimated_bytes=est_bytes,
                payload=data,
                created_at=now,
                expires_at=now + timedelta(minutes=self.policy.preview_ttl_minutes),
            )
        )
        self._audit(
            actor,
            f"preview:{preview_id}",
            "allowed",
            decision,
            data["rules"],
            sql_hash=info.sql_hash,
            tables={t["table"]: t["version"] for t in tables},
        )
        return Preview(info, data)

    # -- approve ------------------------------------------------------------------------------
    def approve(self, actor: Actor, preview_id: str, reason: str) -> PreviewInfo:
        self.rt.require(actor, Operation.APPROVE_QUERY, f"preview:{preview_id}")
        return self.rt.catalog.query_previews.approve(preview_id, actor.name, reason)

    # -- execute ------------------------------------------------------------------------------
    def execute(
        self, actor: Actor, preview_id: str, overrides: tuple[str, ...] = ()
    ) -> QueryResult:
        self.rt.require(actor, Operation.QUERY, f"preview:{preview_id}")
        previews = self.rt.catalog.query_previews
        info = previews.get(preview_id)
        now = datetime.now(UTC)
        current: dict[str, int | None] = {}
        for t in info.tables:
            try:
                current[t["table"]] = self.rt.catalog.get_table(t["table"]).row_version
            except NotFound:
                current[t["table"]] = None
        usage = previews.usage_since(info.org, now - BUDGET_WINDOW)
        # Guardrail overrides are the caller's own explicit choice; approvals are someone else's.
        refused = sorted(set(overrides) - OVERRIDABLE)
        if refused:
            raise ValidationFailed(
                f"--override accepts {', '.join(sorted(OVERRIDABLE))} only; "
                f"{', '.join(refused)} needs an approval (`spyne query approve`)",
                details={"overrides": refused, "overridable": sorted(OVERRIDABLE)},
            )
        rules = tuple(r for r in info.approval_rules if r not in set(overrides))
        facts = RunFacts(
            preview_id=preview_id,
            now=now,
            expires_at=info.expires_at,
            previewed_by=info.principal,
            caller=actor.name,
            bound_tables={t["table"]: t["row_version"] for t in info.tables},
            current_tables=current,
            needs_approval=bool(rules) and any(r != "query_cost" for r in rules),
            approved_by=info.approved_by,
            estimated_bytes=info.estimated_bytes,
            max_query_bytes=self.policy.max_query_bytes,
            hourly_budget_bytes=self.policy.hourly_budget_bytes,
            used_in_window=used_in_window(usage, now),
            executed=info.executed_at is not None,
            approval_rules=rules,
        )
        decision = decide_run(facts)
        if not decision.allowed:
            self._refuse(actor, info.sql_hash, decision, f"preview:{preview_id}")
        previews.claim_execution(preview_id)
        result = self.rt.warehouse.read(
            parse_final(info.sql, info.dialect), max_rows=self.policy.default_limit
        )
        redact: dict[str, str] = dict(info.payload.get("redacted_columns") or {})
        if redact and self._approver_sees_personal_data(info.approved_by):
            redact = {}
        result = apply_redaction(result, redact)
        scanned = result.bytes_scanned if result.bytes_scanned is not None else info.estimated_bytes
        previews.record_usage(info.org, actor.name, preview_id, scanned or 0, len(result.rows))
        self._audit(
            actor,
            f"preview:{preview_id}",
            "allowed",
            "executed",
            list(info.approval_rules),
            sql_hash=info.sql_hash,
            approved_by=info.approved_by,
            overrides=list(overrides),
            rows_returned=len(result.rows),
            redacted_columns=sorted(redact),
            bytes_scanned=scanned,
        )
        return result

    def _approver_sees_personal_data(self, approved_by: str | None) -> bool:
        if approved_by is None:
            return False
        role = next(
            (p.role for p in self.rt.catalog.list_principals() if p.name == approved_by), None
        )
        return may_see(role)

    def run_without_preview(self, actor: Actor, sql: str, reason: str) -> QueryResult:
        """Engineers and admins only, with a reason; the gate still applies, and it is audited."""
        self.rt.require(actor, Operation.SKIP_PREVIEW, "query")
        preview = self.preview(actor, sql)
        if preview.info.approval_rules:
            self.rt.catalog.query_previews.approve(preview.info.id, actor.name, reason)
        self._audit(
            actor,
            f"preview:{preview.info.id}",
            "allowed",
            "skip_preview",
            list(preview.info.approval_rules),
            sql_hash=preview.info.sql_hash,
            reason=reason,
        )
        return self.execute(actor, preview.info.id)
