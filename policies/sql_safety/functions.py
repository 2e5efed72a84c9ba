"""Block rules about what a query may call: nothing that reads files, reaches the network or
another database, runs dynamic SQL, changes a sequence or a setting, or sleeps.

Deny-lists are kept per dialect (each includes the common list) and all of them apply to every
query. A function is matched by the name the parser gave it, so a quoted identifier or a string
that merely spells a name is never one.
"""

from __future__ import annotations

import re

from sqlglot import exp

from policies.sql_safety.model import NOTHING, Dialect, Finding, Query, block

_COMMON = frozenset(
    {
        "nextval", "currval", "setval", "lastval",  # sequences change state
        "sleep", "pg_sleep",
    }
)  # fmt: skip

DENIED_FUNCTIONS: dict[Dialect, frozenset[str]] = {
    "duckdb": _COMMON
    | {
        # files (and URLs: httpfs makes every reader a network client)
        "read_csv", "read_csv_auto", "csv_scan", "sniff_csv", "read_parquet", "parquet_scan",
        "parquet_metadata", "parquet_schema", "parquet_file_metadata", "parquet_kv_metadata",
        "parquet_bloom_probe", "read_json", "read_json_auto", "read_json_objects",
        "read_json_objects_auto", "read_ndjson", "read_ndjson_auto", "read_ndjson_objects",
        "json_scan", "read_text", "read_blob", "glob", "read_xlsx", "st_read", "st_read_meta",
        "iceberg_scan", "iceberg_metadata", "iceberg_snapshots", "delta_scan", "read_avro",
        # other databases
        "sqlite_scan", "sqlite_attach", "postgres_scan", "postgres_scan_pushdown",
        "postgres_query", "postgres_execute", "postgres_attach", "mysql_scan", "mysql_query",
        "mysql_execute", "mysql_attach", "odbc_scan",
        # network, secrets, environment
        "http_get", "http_post", "http_head", "load_aws_credentials", "duckdb_secrets",
        "which_secret", "getenv",
        # dynamic SQL: a string run as a query escapes every check here
        "query", "query_table",
    },
    "postgres": _COMMON
    | {
        # files and large objects
        "pg_read_file", "pg_read_binary_file", "pg_ls_dir", "pg_stat_file", "pg_ls_logdir",
        "pg_ls_waldir", "pg_ls_tmpdir", "pg_ls_archive_statusdir", "pg_ls_logicalsnapdir",
        "pg_ls_logicalmapdir", "pg_ls_replslotdir", "pg_file_write", "pg_file_rename",
        "pg_file_unlink", "pg_logdir_ls", "lo_import", "lo_export", "lo_get", "lo_put",
        "lo_from_bytea", "lo_create", "lo_creat", "lo_unlink", "lo_open", "lo_close", "loread",
        "lowrite", "lo_truncate",
        # other databases
        "dblink", "dblink_exec", "dblink_connect", "dblink_connect_u", "dblink_send_query",
        "dblink_get_result", "dblink_open", "dblink_fetch",
        # sleeping, signalling, settings, server state
        "pg_sleep_for", "pg_sleep_until", "set_config", "pg_terminate_backend",
        "pg_cancel_backend", "pg_reload_conf", "pg_rotate_logfile", "pg_switch_wal",
        "pg_create_restore_point", "pg_notify", "pg_logical_emit_message",
        "pg_advisory_lock", "pg_advisory_xact_lock", "pg_try_advisory_lock",
        "pg_try_advisory_xact_lock", "pg_advisory_lock_shared", "txid_current",
        "pg_current_xact_id", "pg_stat_reset", "pg_stat_reset_shared",
        # dynamic SQL: run a string, or read a table named by a string
        "query_to_xml", "query_to_xml_and_xmlschema", "query_to_xmlschema", "cursor_to_xml",
        "table_to_xml", "table_to_xml_and_xmlschema", "schema_to_xml", "database_to_xml",
    },
    "bigquery": _COMMON
    | {
        # other databases, remote models and services
        "external_query", "external_object_transform", "ml.generate_text",
        "ml.generate_embedding", "ml.generate_table", "ml.understand_text",
        "ml.translate", "ml.process_document", "ml.transcribe", "ml.annotate_image",
        "ai.generate", "ai.generate_table", "ai.generate_bool", "ai.generate_int",
        "ai.generate_double",
    },
}  # fmt: skip

# Typed function classes sqlglot gives some of the same calls, denied whatever the dialect.
_DENIED_CLASSES: frozenset[type[exp.Expr]] = frozenset(
    cls
    for name in (
        "ReadCSV", "ReadParquet", "NextValueFor", "GenerateText", "GenerateEmbedding",
        "GenerateTable", "AIGenerate", "MLTranslate", "ToFile",
    )
    if isinstance(cls := getattr(exp, name, None), type) and issubclass(cls, exp.Expr)
)  # fmt: skip

# A table named like a file or a URL: DuckDB reads it from disk or the network.
_FILE_LIKE = re.compile(
    r"(://|[/\\~]|\.(csv|tsv|txt|parquet|json|jsonl|ndjson|gz|zst|xlsx|arrow|avro|db|duckdb|"
    r"sqlite|sqlite3|ipc|feather|orc)$)",
    re.IGNORECASE,
)


def _qualified(node: exp.Anonymous) -> str:
    name = node.name.lower()
    parent = node.parent
    if isinstance(parent, exp.Dot) and parent.expression is node:
        return f"{parent.this.name.lower()}.{name}"
    return name


# Every dialect's list applies to every query: a query checked as one dialect must stay safe if
# it ever reaches another engine, and no analytic query needs any of these names.
ALL_DENIED: frozenset[str] = frozenset().union(*DENIED_FUNCTIONS.values())


def denied_functions(query: Query) -> tuple[Finding, ...]:
    denied = ALL_DENIED
    for call in query.nodes(exp.Anonymous):
        called = call.name.lower()
        qualified = _qualified(call)
        if called in denied or qualified in denied:
            return _refuse(qualified if qualified in denied else called)
    for cls in query.classes:
        found = query.nodes(cls) if cls in _DENIED_CLASSES else None
        if found:
            parent = found[0].parent
            prefix = f"{parent.this.name}." if isinstance(parent, exp.Dot) else ""
            node = found[0]
            name = node.sql_name() if isinstance(node, exp.Func) else type(node).__name__
            return _refuse(f"{prefix}{name}".lower())
    return NOTHING


def _refuse(name: str) -> tuple[Finding, ...]:
    return block(
        "denied_function",
        f"{name}() reads files, reaches the network or another database, runs dynamic SQL, "
        "changes state or sleeps; it cannot be used in a query here. Query a published table "
        "instead",
        function=name,
    )


def file_tables(query: Query) -> tuple[Finding, ...]:
    for node in query.nodes(exp.Table):
        if not isinstance(node.this, exp.Identifier | exp.Literal):
            continue  # a table function: denied_functions judges it
        # BigQuery splits a quoted 'data.csv' into dataset and table: judge the whole name.
        name = ".".join(part.name for part in node.parts)
        if _FILE_LIKE.search(name):
            return block(
                "file_table",
                f"{name!r} is a file path or URL used as a table; only published tables "
                "may be queried",
                table=name,
            )
    return NOTHING
