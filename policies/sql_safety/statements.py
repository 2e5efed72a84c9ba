"""Block rules about what kind of statement was sent: only one read-only query may run.

Every decision here is read from the parsed tree, never from the text, so a keyword inside a
string literal, a comment or a quoted identifier is data and never causes a block.
"""

from __future__ import annotations

from sqlglot import exp

from policies.sql_safety.model import NOTHING, Finding, Query, block, shown


def _kinds(*pairs: tuple[str, tuple[str, str]]) -> dict[type[exp.Expr], tuple[str, str]]:
    """Statement classes by name; a class an older or newer sqlglot lacks is simply absent."""
    out: dict[type[exp.Expr], tuple[str, str]] = {}
    for name, verdict in pairs:
        cls = getattr(exp, name, None)
        if isinstance(cls, type) and issubclass(cls, exp.Expr):
            out[cls] = verdict
    return out


_DDL = ("ddl", "changes the schema")
_DML = ("dml", "writes data")
_FILES = ("file_or_database_access", "reads or writes files, extensions or other databases")
_SESSION = ("session_statement", "changes the session")
_TRANSACTION = ("transaction", "controls a transaction")
_PRIVILEGES = ("privileges", "changes privileges")
_MAINTENANCE = ("maintenance", "runs maintenance")
_PROCEDURAL = ("procedural", "is procedural or dynamic SQL")

# (rule id, what it does) for every statement class sqlglot parses that is not a query.
STATEMENT_KINDS: dict[type[exp.Expr], tuple[str, str]] = _kinds(
    ("Create", _DDL),
    ("Alter", _DDL),
    ("AlterRename", _DDL),
    ("RenameColumn", _DDL),
    ("Drop", _DDL),
    ("TruncateTable", _DDL),
    ("Comment", _DDL),
    ("Refresh", _DDL),
    ("Cache", _DDL),
    ("Uncache", _DDL),
    ("Insert", _DML),
    ("Update", _DML),
    ("Delete", _DML),
    ("Merge", _DML),
    ("Copy", _FILES),
    ("Export", _FILES),
    ("LoadData", _FILES),
    ("Attach", _FILES),
    ("Detach", _FILES),
    ("Install", _FILES),
    ("Pragma", _SESSION),
    ("Set", _SESSION),
    ("Use", _SESSION),
    ("Transaction", _TRANSACTION),
    ("Commit", _TRANSACTION),
    ("Rollback", _TRANSACTION),
    ("Grant", _PRIVILEGES),
    ("Revoke", _PRIVILEGES),
    ("Analyze", _MAINTENANCE),
    ("Kill", _MAINTENANCE),
    ("Declare", _PROCEDURAL),
    ("Execute", _PROCEDURAL),
)
# Writes that can hide inside a query: a data-modifying CTE, a subquery of DDL.
_WRITES: frozenset[type[exp.Expr]] = frozenset(
    cls for cls, (rule, _) in STATEMENT_KINDS.items() if rule in {"ddl", "dml"}
)


def one_statement(query: Query) -> tuple[Finding, ...]:
    if len(query.statements) <= 1:
        return NOTHING
    return block(
        "multiple_statements",
        f"only one statement may be sent at a time; this request holds {len(query.statements)} "
        "(separated by ';'). Send the query on its own",
        statements=len(query.statements),
    )


def opaque_command(query: Query) -> tuple[Finding, ...]:
    """sqlglot keeps what it cannot parse as an opaque command: nothing can vouch for it."""
    commands = query.nodes(exp.Command)
    if not commands:
        return NOTHING
    keyword = str(commands[0].this).upper()
    return block(
        "opaque_statement",
        f"{keyword} is not a query Spyne can read and check (the parser saw an opaque command); "
        "only a single SELECT (with WITH, JOIN, UNION ...) may run",
        keyword=keyword,
    )


def read_only_statement(query: Query) -> tuple[Finding, ...]:
    findings: list[Finding] = []
    seen: set[str] = set()
    for statement in query.statements:
        if isinstance(statement, exp.Query | exp.Command):
            continue  # queries are what may run; commands are opaque_command's
        rule, does = STATEMENT_KINDS.get(type(statement), ("not_a_query", "is not a query"))
        if rule in seen:
            continue
        seen.add(rule)
        kind = (shown(statement).split() or [type(statement).__name__])[0].upper()
        findings.extend(
            block(
                rule,
                f"{kind} {does}; only a single read-only query (SELECT) may run here",
                statement=kind,
            )
        )
    return tuple(findings)


def no_writes_inside(query: Query) -> tuple[Finding, ...]:
    """A write nested in a query (a data-modifying CTE, ``SELECT … INTO``) is still a write."""
    for cls in query.classes:
        if cls not in _WRITES:
            continue
        for node in query.nodes(cls):
            if node.parent is not None:
                rule, does = STATEMENT_KINDS[cls]
                return block(
                    rule,
                    f"the query holds a {cls.__name__.upper()} that {does} "
                    f"({shown(node)}); queries here only read",
                    statement=cls.__name__.upper(),
                )
    into = query.nodes(exp.Into)
    if into:
        return block(
            "dml",
            f"SELECT … INTO writes its result into a table ({shown(into[0])}); "
            "queries here only read. Remove the INTO clause",
            statement="SELECT INTO",
        )
    return NOTHING


def no_locks(query: Query) -> tuple[Finding, ...]:
    locks = query.nodes(exp.Lock)
    if not locks:
        return NOTHING
    return block(
        "row_locks",
        f"{shown(locks[0])} locks rows for writing; queries here only read. Remove the clause",
        clause=shown(locks[0]),
    )
