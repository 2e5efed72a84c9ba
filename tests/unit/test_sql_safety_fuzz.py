"""Generated queries against the gate: nothing that writes, touches files or the network, or
holds more than one statement is ever let through; no read-only query is blocked for the words
its strings, comments or quoted names hold; and nothing raises.

Statements are built with sqlglot's expression builders (safe queries, writes), then rendered per
dialect, combined (stacked, nested in CTEs, hidden in subqueries) and mutated (comments and string
literals that spell dangerous SQL, case and whitespace games).
"""

from __future__ import annotations

import sqlglot
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlglot import exp

from policies.sql_safety import DIALECTS, check_sql

SETTINGS = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])

dialects = st.sampled_from(DIALECTS)
names = st.from_regex(r"c_[a-z0-9_]{0,8}", fullmatch=True)
tables = st.from_regex(r"t_[a-z0-9_]{0,8}", fullmatch=True)
DANGEROUS_TEXT = [
    "DROP TABLE gold.orders",
    "DELETE FROM t",
    "INSERT INTO t VALUES (1)",
    "COPY t TO '/tmp/x'",
    "ATTACH 'x.db' AS y",
    "SELECT * FROM read_csv('/etc/passwd')",
    "'; DROP TABLE t; --",
    "pg_sleep(10)",
    "GRANT ALL ON t TO public",
    "BEGIN; COMMIT",
]
words = st.sampled_from(DANGEROUS_TEXT)
keyword_names = st.sampled_from(["drop", "delete", "insert", "copy", "grant", "select", "into"])


@st.composite
def safe_selects(draw: st.DrawFn, depth: int = 0) -> exp.Select:
    cols = draw(st.lists(names, min_size=1, max_size=4, unique=True))
    query = exp.select(*cols).from_(draw(tables))
    if draw(st.booleans()):
        query = query.where(exp.column(cols[0]).eq(exp.Literal.string(draw(words))))
    if draw(st.booleans()):
        quoted = exp.to_identifier(draw(keyword_names), quoted=True)
        query = query.select(exp.alias_(exp.Literal.string(draw(words)), quoted))
    if depth < 3 and draw(st.booleans()):
        inner = draw(safe_selects(depth + 1))
        query = query.with_(draw(tables), as_=inner)
    if draw(st.booleans()):
        query = query.group_by(*cols).select(exp.func("count", exp.Star()))
    if draw(st.booleans()):
        query = query.limit(draw(st.integers(1, 100_000)))
    return query


@st.composite
def writes(draw: st.DrawFn) -> exp.Expr:
    table = draw(tables)
    col = draw(names)
    choice = draw(st.integers(0, 4))
    if choice == 0:
        return exp.insert(draw(safe_selects()), table)
    if choice == 1:
        return exp.delete(table, where=exp.column(col).eq(1))
    if choice == 2:
        return exp.update(table, {col: 1})
    if choice == 3:
        return exp.Drop(this=exp.to_table(table), kind="TABLE")
    return exp.Create(this=exp.to_table(table), kind="TABLE", expression=draw(safe_selects()))


DANGEROUS_TEMPLATES = [
    "COPY {t} TO '/tmp/{t}.csv'",
    "COPY (SELECT * FROM {t}) TO 'out.parquet'",
    "ATTACH '{t}.duckdb' AS {t}",
    "DETACH {t}",
    "INSTALL httpfs",
    "LOAD httpfs",
    "PRAGMA table_info('{t}')",
    "SET search_path = {t}",
    "RESET ALL",
    "CALL {t}()",
    "USE {t}",
    "BEGIN",
    "COMMIT",
    "ROLLBACK",
    "GRANT SELECT ON {t} TO bob",
    "REVOKE SELECT ON {t} FROM bob",
    "VACUUM {t}",
    "ANALYZE {t}",
    "CHECKPOINT",
    "TRUNCATE TABLE {t}",
    "ALTER TABLE {t} ADD COLUMN {c} INT",
    "CREATE TEMP TABLE {t} AS SELECT 1",
    "SELECT * INTO {t} FROM {t}",
    "SELECT * FROM read_csv('{t}.csv')",
    "SELECT * FROM read_parquet('s3://b/{t}.parquet')",
    "SELECT * FROM read_json_auto('{t}.json')",
    "SELECT read_text('/etc/{t}')",
    "SELECT * FROM glob('/home/*')",
    "SELECT * FROM '{t}.csv'",
    "SELECT pg_read_file('/etc/{t}')",
    "SELECT * FROM pg_ls_dir('/')",
    "SELECT lo_import('/etc/{t}')",
    "SELECT * FROM dblink('host=x', 'select 1') AS {t}({c} int)",
    "SELECT pg_sleep(10)",
    "SELECT setval('{t}', 1)",
    "SELECT nextval('{t}')",
    "SELECT * FROM EXTERNAL_QUERY('{t}', 'SELECT 1')",
    "DO $$ BEGIN DELETE FROM {t}; END $$",
    "EXECUTE IMMEDIATE 'DROP TABLE {t}'",
    "DECLARE {c} INT64",
    "SELECT * FROM {t} FOR UPDATE",
    "SELECT * FROM query('DELETE FROM {t}')",
]


@st.composite
def dangerous_text(draw: st.DrawFn, dialect: str) -> str:
    kind = draw(st.integers(0, 5))
    if kind == 0:
        return draw(st.sampled_from(DANGEROUS_TEMPLATES)).format(t=draw(tables), c=draw(names))
    write = draw(writes())
    if kind == 1:
        return write.sql(dialect=dialect)
    if kind == 2:  # a write in a CTE
        body = write.sql(dialect=dialect)
        return f"WITH {draw(tables)} AS ({body} RETURNING *) SELECT * FROM {draw(tables)}"
    if kind == 3:  # stacked after a safe query
        first = draw(safe_selects()).sql(dialect=dialect)
        second = draw(
            st.one_of(
                st.just(write.sql(dialect=dialect)),
                safe_selects().map(lambda s: s.sql(dialect=dialect)),
            )
        )
        return f"{first};{draw(st.sampled_from([' ', chr(10), '']))}{second}"
    if kind == 4:  # a denied function hidden in a subquery or CTE of a safe query
        inner = draw(st.sampled_from(DANGEROUS_TEMPLATES[23:37])).format(
            t=draw(tables), c=draw(names)
        )
        outer = draw(safe_selects()).sql(dialect=dialect)
        return f"WITH {draw(tables)} AS ({inner}) {outer}"
    # a file or a URL used as a table, inside a safe query's FROM
    path = draw(st.sampled_from(["data.csv", "/etc/passwd", "s3://b/x.parquet", "~/x.json"]))
    return f"SELECT count(*) FROM (SELECT * FROM '{path}') AS x"


def _case_games(text: str, flips: list[bool]) -> str:
    return "".join(ch.swapcase() if flips[i % len(flips)] else ch for i, ch in enumerate(text))


def _whitespace_games(text: str, spaces: list[str]) -> str:
    parts = text.split(" ")
    return "".join(p + spaces[i % len(spaces)] for i, p in enumerate(parts[:-1])) + parts[-1]


whitespace = st.lists(st.sampled_from([" ", "  ", "\t", "\n", " \n\t "]), min_size=1, max_size=5)


@SETTINGS
@given(dialect=dialects, data=st.data())
def test_dangerous_statements_are_always_blocked(dialect: str, data: st.DataObject) -> None:
    text = data.draw(dangerous_text(dialect))
    text = _whitespace_games(text, data.draw(whitespace))
    if data.draw(st.booleans()):
        text = _case_games(text, data.draw(st.lists(st.booleans(), min_size=1, max_size=7)))
    if data.draw(st.booleans()):
        text = f"/* {data.draw(words).replace('*/', '')} */ {text}"
    result = check_sql(text, dialect)
    assert result.decision == "block", (text, result.to_dict())
    assert result.tree is None and result.final_sql is None


@SETTINGS
@given(dialect=dialects, query=safe_selects(), data=st.data())
def test_read_only_queries_are_never_blocked_for_what_they_quote(
    dialect: str, query: exp.Select, data: st.DataObject
) -> None:
    text = query.sql(dialect=dialect)
    text = _whitespace_games(text, data.draw(whitespace)) if "'" not in text else text
    if data.draw(st.booleans()):
        text = f"{text} /* {data.draw(words)} */"
    if data.draw(st.booleans()):
        text = f"-- {data.draw(words)}\n{text}"
    result = check_sql(text, dialect)
    assert result.decision in {"allow", "rewrite"}, (text, result.to_dict())
    # What runs passes the gate again, unchanged: a rewrite is never needed twice.
    assert result.final_sql is not None
    again = check_sql(result.final_sql, dialect)
    assert again.decision == "allow", (result.final_sql, again.to_dict())


@SETTINGS
@given(dialect=dialects, text=st.text(max_size=300))
def test_arbitrary_text_never_raises(dialect: str, text: str) -> None:
    result = check_sql(text, dialect)
    if not result.blocked:
        assert isinstance(result.tree, exp.Query)
        assert not any(isinstance(n, exp.Command) for n in result.tree.walk())


@SETTINGS
@given(dialect=dialects, safe=safe_selects(), data=st.data())
def test_mutating_a_safe_query_into_a_write_is_blocked(
    dialect: str, safe: exp.Select, data: st.DataObject
) -> None:
    """Swap any one node of a safe query's tree for a write, a denied call or a file table."""
    tree = safe.copy()
    nodes = [n for n in tree.walk() if n is not tree and isinstance(n, exp.Column | exp.Literal)]
    if not nodes:
        nodes = list(tree.expressions)
    target = data.draw(st.sampled_from(nodes))
    replacement = data.draw(
        st.sampled_from(
            [
                sqlglot.parse_one("(SELECT * FROM read_csv('x.csv'))", read="duckdb"),
                sqlglot.parse_one("pg_sleep(1)", read="postgres"),
                sqlglot.parse_one("nextval('s')", read="postgres"),
                exp.Subquery(this=exp.delete("t", returning="*")),
                exp.Subquery(this=exp.insert("VALUES (1)", "t", returning="*")),
            ]
        )
    )
    target.replace(replacement)
    text = tree.sql(dialect=dialect)
    assert check_sql(text, dialect).decision == "block", text
