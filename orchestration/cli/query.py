"""`spyne query`: validate a statement against the SQL safety gate (no platform state needed)."""

from __future__ import annotations

from typing import Annotated

import typer

from orchestration.cli.common import JsonOpt, emit_json, err_console, new_app, out, refusals, styled

app = new_app("Ad-hoc queries: validate against the SQL safety gate.")

SqlOpt = Annotated[str, typer.Option("--sql", help="The statement to check.")]
DialectOpt = Annotated[
    str, typer.Option("--dialect", help="SQL dialect: duckdb, postgres or bigquery.")
]


@app.command("validate")
def query_validate(sql: SqlOpt, dialect: DialectOpt = "duckdb", as_json: JsonOpt = False) -> None:
    """Say whether a statement may run: allow, rewrite, require_approval or block (exit 1)."""
    from orchestration.query.policy import load_query_policy, quiet_parser
    from policies.sql_safety import check_sql

    with refusals():
        quiet_parser()
        result = check_sql(sql, dialect, policy=load_query_policy())
    if as_json:
        emit_json(result.to_dict())
    else:
        colour = {"allow": "green", "rewrite": "yellow", "require_approval": "yellow"}
        out.print(
            styled(("decision ", "bold"), (result.decision, colour.get(result.decision, "red")))
        )
        for message in result.errors:
            err_console.print(styled(("error ", "bold red"), message))
        for message in result.warnings:
            out.print(styled(("warning ", "yellow"), message))
        if result.rewritten_sql is not None:
            out.print(styled(("rewritten ", "bold"), result.rewritten_sql))
        out.print(styled(("rules ", "bold"), ", ".join(result.rules) or "-"))
    if result.blocked:
        raise typer.Exit(1)
