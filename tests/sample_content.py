"""A content fingerprint of a sample ERP file, computed in DuckDB, for tests that pin or compare it.

md5 rather than DuckDB's ``hash()`` so that a pinned value survives a DuckDB upgrade; the
per-row digests are sorted before they are combined, so the fingerprint ignores row order.
"""

from __future__ import annotations

from pathlib import Path
from typing import NamedTuple

import duckdb

from orchestration.sample import SOURCE_TABLES


class TableFingerprint(NamedTuple):
    rows: int
    schema_md5: str
    content_md5: str


def fingerprint(path: Path) -> dict[str, TableFingerprint]:
    con = duckdb.connect(str(path), read_only=True)
    try:
        result = {}
        for table in SOURCE_TABLES:
            schema = con.execute(
                "select md5(string_agg(column_name || ' ' || data_type, ', ' "
                "order by ordinal_position)) from information_schema.columns "
                "where table_schema = 'main' and table_name = ?",
                [table],
            ).fetchone()
            content = con.execute(
                "select count(*), md5(coalesce(string_agg(h, '' order by h), '')) "
                f"from (select md5(t::varchar) as h from main.{table} as t)"
            ).fetchone()
            assert schema is not None and content is not None
            result[table] = TableFingerprint(int(content[0]), schema[0], content[1])
        return result
    finally:
        con.close()
