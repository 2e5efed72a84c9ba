"""The catalog's guarantees inside the database: triggers no application bug can bypass, and grants.

- ``audit_log``, ``state_history`` and ``system_modes`` refuse UPDATE and DELETE (and TRUNCATE
  on PostgreSQL);
- a table version's data columns never change and its row is never deleted;
- an intent only moves from pending to done or undone, once, and is never deleted;
- a dead letter's history never changes, it is requeued at most once, and never deleted.

On PostgreSQL the migrations run as the owner role and grant the application role only what it
needs: read and insert on the append-only tables, and update (never delete) on the others. The
application role owns nothing, so it can neither disable a trigger nor change a grant.

Migrations install these guards; the catalog refuses to open when one is missing
(:func:`missing`), and ``spyne init`` puts missing ones back.
"""

from __future__ import annotations

import sqlalchemy as sa

from orchestration.catalog.control_tables import APPEND_ONLY_TABLES, UPDATABLE_TABLES

# Columns describing what a version *is*; only gate, drift and retention columns may change.
VERSION_DATA_COLUMNS = (
    "table_name",
    "version",
    "physical_name",
    "created_at",
    "row_count",
    "schema_json",
    "content_hash",
    "build_run_id",
)
# What an intent records; only status, finished_at and note change, once, when it closes.
INTENT_DATA_COLUMNS = (
    "id",
    "table_name",
    "action",
    "from_version",
    "to_version",
    "actor",
    "launched_by",
    "created_at",
)
# What a dead letter records; only the requeue columns change, once, from empty.
DEAD_LETTER_DATA_COLUMNS = (
    "id",
    "run_id",
    "job_name",
    "selection",
    "org",
    "launched_by",
    "failure_class",
    "why",
    "steps",
    "failed_at",
    "recorded_at",
    "recorded_by",
)
_OTHER_TABLES = ("run_grants",)


# SQLAlchemy's dialect names where sqlglot spells them differently.
_SQLGLOT_DIALECT = {"postgresql": "postgres"}


def q(name: str, dialect: str) -> str:
    """An identifier quoted by sqlglot for the dialect (trigger DDL has no SQLAlchemy construct).

    sqlglot is imported here, not at module level: every command checks the guards' names,
    only ``spyne init`` builds their DDL. ``dialect`` may be SQLAlchemy's name
    (``postgresql``) or sqlglot's (``postgres``).
    """
    from sqlglot import exp

    return exp.to_identifier(name, quoted=True).sql(dialect=_SQLGLOT_DIALECT.get(dialect, dialect))


def _literal(text: str, dialect: str) -> str:
    from sqlglot import exp

    return exp.Literal.string(text).sql(dialect=_SQLGLOT_DIALECT.get(dialect, dialect))


# A guard is a trigger: its name -> (the table it is on, its DDL).
Guards = dict[str, tuple[str, str]]


def _sqlite_triggers() -> Guards:
    d = "sqlite"
    out: Guards = {}
    for table in APPEND_ONLY_TABLES:
        for event in ("UPDATE", "DELETE"):
            name = f"{table}_no_{event.lower()}"
            message = _literal(f"{table} is append-only: {event} is refused", d)
            out[name] = (
                table,
                f"CREATE TRIGGER {q(name, d)} BEFORE {event} ON {q(table, d)} "
                f"BEGIN SELECT RAISE(ABORT, {message}); END",
            )
    changed = " OR ".join(f"NEW.{q(c, d)} IS NOT OLD.{q(c, d)}" for c in VERSION_DATA_COLUMNS)
    out["table_versions_immutable"] = (
        "table_versions",
        f"CREATE TRIGGER table_versions_immutable BEFORE UPDATE ON table_versions WHEN {changed} "
        "BEGIN SELECT RAISE(ABORT, 'table versions are immutable: only gate, drift and "
        "retention columns may change'); END",
    )
    out["table_versions_no_delete"] = (
        "table_versions",
        "CREATE TRIGGER table_versions_no_delete BEFORE DELETE ON table_versions "
        "BEGIN SELECT RAISE(ABORT, 'table versions are never deleted: mark them dropped'); END",
    )
    intent_changed = " OR ".join(f"NEW.{q(c, d)} IS NOT OLD.{q(c, d)}" for c in INTENT_DATA_COLUMNS)
    out["intents_close_once"] = (
        "intents",
        "CREATE TRIGGER intents_close_once BEFORE UPDATE ON intents "
        f"WHEN OLD.status <> 'pending' OR {intent_changed} "
        "BEGIN SELECT RAISE(ABORT, 'an intent only closes once, from pending'); END",
    )
    out["intents_no_delete"] = (
        "intents",
        "CREATE TRIGGER intents_no_delete BEFORE DELETE ON intents "
        "BEGIN SELECT RAISE(ABORT, 'intents are never deleted'); END",
    )
    letter_changed = " OR ".join(
        f"NEW.{q(c, d)} IS NOT OLD.{q(c, d)}" for c in DEAD_LETTER_DATA_COLUMNS
    )
    out["dead_letters_requeue_once"] = (
        "dead_letters",
        "CREATE TRIGGER dead_letters_requeue_once BEFORE UPDATE ON dead_letters "
        f"WHEN OLD.requeued_run_id IS NOT NULL OR {letter_changed} "
        "BEGIN SELECT RAISE(ABORT, 'a dead letter is requeued once; its history never changes'); "
        "END",
    )
    out["dead_letters_no_delete"] = (
        "dead_letters",
        "CREATE TRIGGER dead_letters_no_delete BEFORE DELETE ON dead_letters "
        "BEGIN SELECT RAISE(ABORT, 'dead letters are never deleted'); END",
    )
    return out


_PG_FUNCTIONS = (
    """
    CREATE OR REPLACE FUNCTION spyne_refuse_change() RETURNS trigger
    LANGUAGE plpgsql AS $$
    BEGIN
        RAISE EXCEPTION '% is append-only: % is refused', TG_TABLE_NAME, TG_OP;
    END
    $$
    """,
    """
    CREATE OR REPLACE FUNCTION spyne_table_versions_immutable() RETURNS trigger
    LANGUAGE plpgsql AS $$
    BEGIN
        IF TG_OP <> 'UPDATE' THEN
            RAISE EXCEPTION 'table versions are never deleted: mark them dropped (% refused)', TG_OP;
        END IF;
        IF {changed} THEN
            RAISE EXCEPTION 'table versions are immutable: only gate, drift and retention columns may change';
        END IF;
        RETURN NEW;
    END
    $$
    """.replace(
        "{changed}", " OR ".join(f"NEW.{c} IS DISTINCT FROM OLD.{c}" for c in VERSION_DATA_COLUMNS)
    ),
    """
    CREATE OR REPLACE FUNCTION spyne_intents_close_once() RETURNS trigger
    LANGUAGE plpgsql AS $$
    BEGIN
        IF TG_OP <> 'UPDATE' THEN
            RAISE EXCEPTION 'intents are never deleted (% refused)', TG_OP;
        END IF;
        IF OLD.status <> 'pending' OR {changed} THEN
            RAISE EXCEPTION 'an intent only closes once, from pending';
        END IF;
        RETURN NEW;
    END
    $$
    """.replace(
        "{changed}", " OR ".join(f"NEW.{c} IS DISTINCT FROM OLD.{c}" for c in INTENT_DATA_COLUMNS)
    ),
    """
    CREATE OR REPLACE FUNCTION spyne_dead_letters_requeue_once() RETURNS trigger
    LANGUAGE plpgsql AS $$
    BEGIN
        IF TG_OP <> 'UPDATE' THEN
            RAISE EXCEPTION 'dead letters are never deleted (% refused)', TG_OP;
        END IF;
        IF OLD.requeued_run_id IS NOT NULL OR {changed} THEN
            RAISE EXCEPTION 'a dead letter is requeued once; its history never changes';
        END IF;
        RETURN NEW;
    END
    $$
    """.replace(
        "{changed}",
        " OR ".join(f"NEW.{c} IS DISTINCT FROM OLD.{c}" for c in DEAD_LETTER_DATA_COLUMNS),
    ),
)


def _pg_triggers() -> Guards:
    d = "postgres"
    out: Guards = {}
    for table in APPEND_ONLY_TABLES:
        out[f"{table}_append_only"] = (
            table,
            f"CREATE TRIGGER {q(f'{table}_append_only', d)} BEFORE UPDATE OR DELETE "
            f"ON {q(table, d)} FOR EACH ROW EXECUTE FUNCTION spyne_refuse_change()",
        )
        out[f"{table}_no_truncate"] = (
            table,
            f"CREATE TRIGGER {q(f'{table}_no_truncate', d)} BEFORE TRUNCATE "
            f"ON {q(table, d)} FOR EACH STATEMENT EXECUTE FUNCTION spyne_refuse_change()",
        )
    for table, function, name in (
        ("table_versions", "spyne_table_versions_immutable", "table_versions_immutable"),
        ("intents", "spyne_intents_close_once", "intents_close_once"),
        ("dead_letters", "spyne_dead_letters_requeue_once", "dead_letters_requeue_once"),
    ):
        out[name] = (
            table,
            f"CREATE TRIGGER {q(name, d)} BEFORE UPDATE OR DELETE ON {q(table, d)} "
            f"FOR EACH ROW EXECUTE FUNCTION {function}()",
        )
        out[f"{table}_no_truncate"] = (
            table,
            f"CREATE TRIGGER {q(f'{table}_no_truncate', d)} BEFORE TRUNCATE ON {q(table, d)} "
            f"FOR EACH STATEMENT EXECUTE FUNCTION {function}()",
        )
    return out


def expected(dialect: str) -> Guards:
    """Every guard of the current schema."""
    if dialect == "sqlite":
        return _sqlite_triggers()
    if dialect == "postgresql":
        return _pg_triggers()
    raise RuntimeError(f"the catalog supports sqlite and postgresql, not {dialect}")


def present(conn: sa.Connection) -> set[str]:
    if conn.dialect.name == "sqlite":
        rows = conn.exec_driver_sql("SELECT name FROM sqlite_master WHERE type = 'trigger'")
    else:
        rows = conn.exec_driver_sql(
            "SELECT t.tgname FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid "
            "WHERE NOT t.tgisinternal AND t.tgenabled <> 'D' "
            "AND c.relnamespace = to_regnamespace(current_schema())"
        )
    return {str(r[0]) for r in rows}


def names(dialect: str) -> set[str]:
    """The guards' names alone (cheap: what every command checks on open)."""
    tables = [*APPEND_ONLY_TABLES]
    if dialect == "sqlite":
        found = {f"{t}_no_{event}" for t in tables for event in ("update", "delete")}
        return found | {
            "table_versions_immutable",
            "table_versions_no_delete",
            "intents_close_once",
            "intents_no_delete",
            "dead_letters_requeue_once",
            "dead_letters_no_delete",
        }
    found = {f"{t}_{kind}" for t in tables for kind in ("append_only", "no_truncate")}
    return found | {
        "table_versions_immutable",
        "table_versions_no_truncate",
        "intents_close_once",
        "intents_no_truncate",
        "dead_letters_requeue_once",
        "dead_letters_no_truncate",
    }


def missing(conn: sa.Connection) -> list[str]:
    """Guards that should be there and are not (or, on PostgreSQL, are disabled)."""
    return sorted(names(conn.dialect.name) - present(conn))


def _execute(conn: sa.Connection, ddl: str) -> None:
    """Run fixed DDL; psycopg2 reads ``%`` as a parameter marker, so it is doubled there."""
    conn.exec_driver_sql(ddl.replace("%", "%%") if conn.dialect.name == "postgresql" else ddl)


def _drop_trigger(conn: sa.Connection, name: str, table: str) -> None:
    d = conn.dialect.name
    on = "" if d == "sqlite" else f" ON {q(table, d)}"
    conn.exec_driver_sql(f"DROP TRIGGER IF EXISTS {q(name, d)}{on}")


def install(conn: sa.Connection, names: list[str] | None = None) -> list[str]:
    """Create the missing guards (of ``names``, or all); returns what was created."""
    dialect = conn.dialect.name
    have = present(conn)
    if dialect == "postgresql":
        for ddl in _PG_FUNCTIONS:
            _execute(conn, ddl)
    created = []
    for name, (table, ddl) in expected(dialect).items():
        if name in have or (names is not None and name not in names):
            continue
        _drop_trigger(conn, name, table)  # a disabled PostgreSQL trigger counts as missing
        _execute(conn, ddl)
        created.append(name)
    return created


def drop(conn: sa.Connection, names: list[str]) -> None:
    """Remove guards (only migrations do this, to rewrite what they own, then reinstall)."""
    guards = expected(conn.dialect.name)
    for name in names:
        _drop_trigger(conn, name, guards[name][0])


def grant_application_role(conn: sa.Connection, role: str) -> None:
    """PostgreSQL: what the application role may do, and nothing more (it owns nothing)."""
    d = "postgres"
    who = q(role, d)
    schema = q(str(conn.exec_driver_sql("SELECT current_schema()").scalar()), d)
    conn.exec_driver_sql(f"GRANT USAGE ON SCHEMA {schema} TO {who}")
    for table in APPEND_ONLY_TABLES:
        conn.exec_driver_sql(f"REVOKE ALL ON {q(table, d)} FROM {who}")
        conn.exec_driver_sql(f"GRANT SELECT, INSERT ON {q(table, d)} TO {who}")
    for table in (*UPDATABLE_TABLES, *_OTHER_TABLES):
        conn.exec_driver_sql(f"REVOKE ALL ON {q(table, d)} FROM {who}")
        conn.exec_driver_sql(f"GRANT SELECT, INSERT, UPDATE ON {q(table, d)} TO {who}")
    conn.exec_driver_sql(f"REVOKE ALL ON {q('spyne_catalog_version', d)} FROM {who}")
    conn.exec_driver_sql(f"GRANT SELECT ON {q('spyne_catalog_version', d)} TO {who}")
    conn.exec_driver_sql(f"GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA {schema} TO {who}")
