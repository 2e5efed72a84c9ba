"""The SQL safety engine: pure rules over one sqlglot parse (see :mod:`.engine`)."""

from policies.sql_safety.engine import (
    BLOCK_RULES,
    ENFORCE_RULES,
    REQUIRE_RULES,
    GateDecision,
    check_sql,
    checked_dialect,
)
from policies.sql_safety.model import DIALECTS, Dialect, Finding, SafetyFacts, TableFacts
from policies.sql_safety.policy import SafetyPolicy

__all__ = [
    "BLOCK_RULES",
    "DIALECTS",
    "ENFORCE_RULES",
    "REQUIRE_RULES",
    "Dialect",
    "Finding",
    "GateDecision",
    "SafetyFacts",
    "SafetyPolicy",
    "TableFacts",
    "check_sql",
    "checked_dialect",
]
