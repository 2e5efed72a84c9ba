"""`spyne query`: validate a statement against the SQL safety gate (no platform state needed)."""

from __future__ import annotations

from typing import Annotated, Any

import typer

from orchestration.cli.common import JsonOpt, emit_json, err_console, new_app, out, refusals, styled

app = new_app("Ad-hoc queries: validate, preview, approve, execute.")

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


PinOpt = Annotated[
    list[str] | None,
    typer.Option("--pin", help="Read a version of a table: TABLE@vN (repeatable)."),
]


def _pins(values: list[str] | None) -> dict[str, int]:
    from policies.errors import ValidationFailed
    from policies.naming import checked_version, parse_table_ref

    pins: dict[str, int] = {}
    for value in values or []:
        table, _, version = value.partition("@v")
        if not version.isdigit():
            raise ValidationFailed(
                f"--pin {value!r} must be written TABLE@vN, e.g. gold.orders@v3",
                details={"pin": value},
            )
        pins[parse_table_ref(table).canonical] = checked_version(int(version))
    return pins


def _show(data: dict[str, Any], as_json: bool) -> None:
    if as_json:
        emit_json(data)
        return
    out.print(styled(("preview ", "bold"), data["preview_id"], f"  ({data['decision']})"))
    out.print(styled(("sql ", "bold"), data["sql"]))
    for t in data["tables"]:
        version = f"v{t['version']}" if t["version"] else "source"
        rows = "-" if t["rows"] is None else f"{t['rows']:,} rows"
        out.print(styled(("table ", "bold"), f"{t['table']}  {t['state']}  {version}  {rows}"))
    for j in data["joins"]:
        out.print(
            styled(("join ", "bold"), f"{j['kind']} {j['left']} -> {j['right']} on {j['on']}")
        )
    for f in data["filters"]:
        out.print(styled(("filter ", "bold"), f))
    if data["aggregations"]:
        out.print(styled(("aggregates ", "bold"), ", ".join(data["aggregations"])))
    out.print(styled(("explanation ", "bold"), data["explanation"]))
    est = data["estimated_rows"]
    out.print(
        styled(
            ("estimate ", "bold"),
            f"{'?' if est is None else f'{est:,}'} rows, {data['estimated_bytes'] or 0:,} bytes"
            f", cost {data['estimated_cost']}",
        )
    )
    for w in data["warnings"] + [j["warning"] for j in data["joins"]]:
        out.print(styled(("warning ", "yellow"), w))
    if data["approval_rules"]:
        out.print(styled(("needs approval ", "bold yellow"), ", ".join(data["approval_rules"])))
    for column, kind in data["redacted_columns"].items():
        out.print(styled(("redacted ", "bold"), f"{column} ({kind})"))
    for queued in data["pii_review_queue"]:
        out.print(styled(("pii review ", "yellow"), f"{queued}: `spyne pii confirm|reject`"))
    out.print(styled(("expires ", "bold"), data["expires_at"]))


@app.command("preview")
def query_preview(
    sql: Annotated[str, typer.Argument(metavar="SQL", help="One read-only query.")],
    pin: PinOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Check, resolve and explain a query; prints the preview id `spyne query execute` runs."""
    from orchestration.cli.common import actor, runtime
    from orchestration.query.service import QueryService

    with refusals():
        rt = runtime()
        me = actor(rt)
        preview = QueryService(rt).preview(me, sql, _pins(pin))
    _show(preview.data, as_json)


@app.command("approve")
def query_approve(
    preview_id: Annotated[str, typer.Argument(metavar="PREVIEW_ID")],
    reason: Annotated[str, typer.Option("--reason", help="Why this query may run.")],
) -> None:
    """Approve a preview that needs approval (engineers and admins; audited)."""
    from orchestration.cli.common import actor, runtime
    from orchestration.query.service import QueryService

    with refusals():
        rt = runtime()
        me = actor(rt)
        info = QueryService(rt).approve(me, preview_id, reason)
    out.print(f"approved {info.id} ({', '.join(info.approval_rules) or 'no rule'})")


@app.command("execute")
def query_execute(
    preview_id: Annotated[
        str | None, typer.Argument(metavar="PREVIEW_ID", help="What `spyne query preview` gave.")
    ] = None,
    output: Annotated[str, typer.Option("--format", help="table, json or csv.")] = "table",
    override: Annotated[
        list[str] | None,
        typer.Option(
            "--override", help="Accept a guardrail yourself: explosive_join, mixed_grain."
        ),
    ] = None,
    skip_preview: Annotated[
        bool,
        typer.Option("--skip-preview", help="Run --sql without a preview (engineers, admins)."),
    ] = False,
    sql: Annotated[
        str | None, typer.Option("--sql", help="The query, with --skip-preview.")
    ] = None,
    reason: Annotated[
        str | None, typer.Option("--reason", help="Why, with --skip-preview.")
    ] = None,
) -> None:
    """Run exactly what a preview showed, on a read-only connection."""
    import csv
    import sys

    from orchestration.cli.common import actor, runtime, table
    from orchestration.query.service import QueryService
    from policies.errors import ValidationFailed

    with refusals():
        if output not in ("table", "json", "csv"):
            raise ValidationFailed(
                f"--format must be table, json or csv, not {output!r}", details={"format": output}
            )
        rt = runtime()
        me = actor(rt)
        service = QueryService(rt)
        if skip_preview:
            if not (sql and reason and reason.strip()):
                raise ValidationFailed(
                    "--skip-preview needs --sql and a --reason (it is audited)",
                    details={"option": "--reason"},
                )
            result = service.run_without_preview(me, sql, reason.strip())
        else:
            if preview_id is None:
                raise ValidationFailed(
                    "give the PREVIEW_ID that `spyne query preview` printed",
                    details={"argument": "PREVIEW_ID"},
                )
            result = service.execute(me, preview_id, tuple(override or ()))
    if output == "json":
        emit_json([dict(zip(result.columns, row, strict=False)) for row in result.rows])
    elif output == "csv":
        writer = csv.writer(sys.stdout)
        writer.writerow(result.columns)
        writer.writerows(result.rows)
    else:
        out.print(table(f"{len(result.rows)} rows", result.columns, result.rows))
    if result.truncated:
        err_console.print(f"only the first {len(result.rows)} rows were fetched")


@app.command("correct")
def query_correct(
    preview_id: Annotated[str, typer.Argument(metavar="PREVIEW_ID")],
    set_join_type: Annotated[
        list[str] | None, typer.Option("--set-join-type", help="TABLE=inner|left|right|full")
    ] = None,
    add_filter: Annotated[
        list[str] | None, typer.Option("--add-filter", help="A condition to AND to the WHERE.")
    ] = None,
    remove_filter: Annotated[
        list[str] | None, typer.Option("--remove-filter", help="A filter the preview listed.")
    ] = None,
    swap_metric: Annotated[
        list[str] | None, typer.Option("--swap-metric", help="OLD=NEW, e.g. sum(x)=avg(x)")
    ] = None,
    as_json: JsonOpt = False,
) -> None:
    """Edit a previewed query's tree and preview the result (a new preview id)."""
    from orchestration.cli.common import actor, runtime
    from orchestration.query.service import QueryService
    from policies.query_correct import Correction

    corrections = [
        Correction(kind, value)
        for kind, values in (
            ("set_join_type", set_join_type),
            ("remove_filter", remove_filter),
            ("add_filter", add_filter),
            ("swap_metric", swap_metric),
        )
        for value in values or []
    ]
    with refusals():
        rt = runtime()
        me = actor(rt)
        preview = QueryService(rt).correct(me, preview_id, corrections)
    _show(preview.data, as_json)
