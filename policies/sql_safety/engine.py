"""The SQL safety gate: one parse, then block rules, require rules and enforce rules, in order.

The rules are composed in ordered tuples, as sqlglot's optimizer composes its rules. Block rules
are never overridable: when one blocks, the request stops there (nothing it holds is worth
rewriting). Require rules ask for a person's approval, enforce rules rewrite the tree, and the
rewrites are applied once every rule has read the tree as it was sent.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import sqlglot
from sqlglot import exp
from sqlglot.errors import ParseError, SqlglotError

from policies.decisions import Decision, Reason, Verdict
from policies.sql_safety.enforce import default_limit
from policies.sql_safety.functions import denied_functions, file_tables
from policies.sql_safety.model import (
    DIALECTS,
    Dialect,
    Finding,
    Query,
    Rule,
    SafetyFacts,
    marked_partitioned,
)
from policies.sql_safety.policy import SafetyPolicy
from policies.sql_safety.require import (
    ambiguous_aggregation,
    join_depth,
    subquery_nesting,
    time_filter,
)
from policies.sql_safety.statements import (
    no_locks,
    no_writes_inside,
    one_statement,
    opaque_command,
    read_only_statement,
)

BLOCK_RULES: tuple[Rule, ...] = (
    one_statement,
    opaque_command,
    read_only_statement,
    no_writes_inside,
    no_locks,
    denied_functions,
    file_tables,
)
# Require rules ask for approval; ambiguous_aggregation asks the person to say what they mean
# (a block: no approval makes an ambiguous query mean one thing).
REQUIRE_RULES: tuple[Rule, ...] = (
    time_filter,
    join_depth,
    subquery_nesting,
    ambiguous_aggregation,
)
ENFORCE_RULES: tuple[Rule, ...] = (default_limit,)

DECISION_NAMES: Mapping[Verdict, str] = {
    Verdict.ALLOW: "allow",
    Verdict.REWRITE: "rewrite",
    Verdict.REQUIRE_APPROVAL: "require_approval",
    Verdict.BLOCK: "block",
}


@dataclass(frozen=True)
class GateDecision:
    """What the gate decided about one request, with the tree to run when it may run."""

    verdict: Verdict
    findings: tuple[Finding, ...]
    dialect: Dialect
    sql: str
    final_sql: str | None  # what would run: the rewritten query, or the query as sent
    tree: exp.Expr | None  # the final tree; None when blocked

    @property
    def decision(self) -> str:
        return DECISION_NAMES[self.verdict]

    @property
    def blocked(self) -> bool:
        return self.verdict == Verdict.BLOCK

    @property
    def rules(self) -> list[str]:
        return list(dict.fromkeys(f.rule for f in self.findings))

    @property
    def errors(self) -> list[str]:
        return [f.message for f in self.findings if f.verdict == Verdict.BLOCK]

    @property
    def warnings(self) -> list[str]:
        return [f.message for f in self.findings if f.verdict != Verdict.BLOCK]

    @property
    def rewritten_sql(self) -> str | None:
        rewritten = any(f.verdict == Verdict.REWRITE for f in self.findings)
        return self.final_sql if rewritten else None

    def as_decision(self) -> Decision:
        return Decision(
            self.verdict, tuple(Reason(f.rule, f.message, f.details) for f in self.findings)
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "decision": self.decision,
            "dialect": self.dialect,
            "errors": self.errors,
            "warnings": self.warnings,
            "rewritten_sql": self.rewritten_sql,
            "rules": self.rules,
            "findings": [
                {
                    "rule": f.rule,
                    "verdict": DECISION_NAMES[f.verdict],
                    "message": f.message,
                    "details": dict(f.details),
                }
                for f in self.findings
            ],
        }


_DEFAULT_POLICY = SafetyPolicy()
_NO_FACTS = SafetyFacts()


def checked_dialect(dialect: str) -> Dialect:
    for known in DIALECTS:
        if dialect.strip().lower() == known:
            return known
    from policies.errors import ValidationFailed

    raise ValidationFailed(
        f"unknown SQL dialect {dialect!r}; use one of: {', '.join(DIALECTS)}",
        details={"dialect": dialect, "allowed": list(DIALECTS)},
    )


def _refused(sql: str, dialect: Dialect, rule: str, message: str, **details: Any) -> GateDecision:
    finding = Finding(Verdict.BLOCK, rule, message, details)
    return GateDecision(Verdict.BLOCK, (finding,), dialect, sql, None, None)


def _parse(sql: str, dialect: Dialect) -> tuple[exp.Expr, ...] | GateDecision:
    try:
        parsed = sqlglot.parse(sql, read=dialect)
    except ParseError as exc:
        first = exc.errors[0] if exc.errors else {}
        line, col = first.get("line"), first.get("col")
        where = f" at line {line}, column {col}" if line is not None else ""
        description = str(first.get("description") or "it is not valid SQL")
        return _refused(
            sql,
            dialect,
            "parse_error",
            f"the query could not be parsed as {dialect} SQL{where}: {description}",
            line=line,
            column=col,
        )
    except (SqlglotError, RecursionError, ValueError, TypeError, KeyError, IndexError) as exc:
        # The tokenizer and parser raise more than ParseError on hostile input; a refusal it is.
        return _refused(
            sql,
            dialect,
            "parse_error",
            f"the query could not be parsed as {dialect} SQL: {type(exc).__name__}",
        )
    statements = tuple(s for s in parsed if s is not None)
    if not statements:
        return _refused(sql, dialect, "empty", "the query is empty: send one SELECT statement")
    return statements


def check_sql(
    sql: str,
    dialect: str = "duckdb",
    *,
    policy: SafetyPolicy | None = None,
    facts: SafetyFacts | None = None,
) -> GateDecision:
    """Decide about one request: block, require approval, rewrite, or allow."""
    name = checked_dialect(dialect)
    parsed = _parse(sql, name)
    if isinstance(parsed, GateDecision):
        return parsed
    policy = policy or _DEFAULT_POLICY
    if not (facts and facts.tables) and policy.partitioned_tables:
        # No platform state: the policy's own marks still hold (the platform's facts carry them).
        facts = marked_partitioned(policy.partitioned_tables)
    query = Query.indexed(sql, name, parsed, policy, facts or _NO_FACTS)
    blocked = tuple(f for rule in BLOCK_RULES for f in rule(query))
    if blocked:
        return GateDecision(Verdict.BLOCK, blocked, name, sql, None, None)
    findings = tuple(f for rule in (*REQUIRE_RULES, *ENFORCE_RULES) for f in rule(query))
    if any(f.verdict == Verdict.BLOCK for f in findings):
        return GateDecision(Verdict.BLOCK, findings, name, sql, None, None)
    tree = query.root
    for finding in findings:
        if finding.rewrite is not None:
            tree = finding.rewrite(tree)
    verdict = max((f.verdict for f in findings), default=Verdict.ALLOW)
    rewritten = any(f.rewrite is not None for f in findings)
    final_sql = tree.sql(dialect=name) if rewritten else sql.strip().rstrip(";").strip()
    return GateDecision(verdict, findings, name, sql, final_sql, tree)
