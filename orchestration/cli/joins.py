"""`spyne joins`: join candidates with evidence, and the review that turns one into code."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.text import Text

from orchestration.cli.common import (
    JsonOpt,
    actor,
    allowed,
    emit_json,
    err_console,
    new_app,
    out,
    refusals,
    runtime,
    table,
)

if TYPE_CHECKING:
    from orchestration.catalog.joins import CandidateInfo

app = new_app("Join candidates with evidence; accepted joins as reviewed, versioned dbt code.")

MinConfidence = Annotated[
    float,
    typer.Option("--min-confidence", help="Leave out candidates below this confidence (0-1)."),
]


def _progress(message: str) -> None:
    err_console.print(Text(message))


def _columns(columns: tuple[str, ...]) -> str:
    return ", ".join(columns)


def _print_candidates(title: str, found: list[CandidateInfo]) -> None:
    out.print(
        table(
            title,
            [
                "id",
                "child",
                "parent",
                "conf.",
                "risk",
                "cardinality",
                "null %",
                "fan-out",
                "orphan %",
                "flags",
                "status",
            ],
            [
                [
                    c.id,
                    f"{c.child_table}({_columns(c.child_columns)})",
                    f"{c.parent_table}({_columns(c.parent_columns)})",
                    f"{c.confidence:.2f}",
                    c.risk_level,
                    c.stats.get("cardinality"),
                    c.stats.get("null_pct"),
                    f"{c.stats.get('fan_out_avg')} / {c.stats.get('max_fan_out')}",
                    c.stats.get("orphan_pct"),
                    ", ".join(c.flags) or None,
                    c.status,
                ]
                for c in found
            ],
        )
    )


@app.command("discover")
def discover(
    tables: Annotated[
        str | None,
        typer.Option("--tables", help="Only among these tables (comma-separated layer.table)."),
    ] = None,
    min_confidence: MinConfidence = 0.5,
    duckdb_path: Annotated[
        Path | None,
        typer.Option("--duckdb", help="Any DuckDB file, opened read-only (no platform needed)."),
    ] = None,
    schema: Annotated[
        str, typer.Option("--schema", help="With --duckdb: the schema to read.")
    ] = "main",
    as_json: JsonOpt = False,
) -> None:
    """Profile tables in the warehouse and list join candidates with their evidence and risk."""
    from orchestration.joins.review import check_min_confidence

    only = [t.strip() for t in tables.split(",") if t.strip()] if tables else None
    with refusals():
        check_min_confidence(min_confidence)
        if duckdb_path is not None:
            from orchestration.joins.discovery import discover as run_discovery
            from orchestration.joins.sources import DuckDBFileSource

            if only is not None:
                only = [t if "." in t else f"{schema}.{t}" for t in only]
            with DuckDBFileSource.open(duckdb_path, schema) as source:
                found = run_discovery(
                    source, min_confidence=min_confidence, only=only, progress=_progress
                )
        else:
            from orchestration.joins.review import discover_on_platform

            rt = runtime()
            me = actor(rt)
            found = discover_on_platform(
                rt.catalog,
                rt.warehouse,
                me,
                min_confidence=min_confidence,
                only=only,
                progress=_progress,
            )
    if as_json:
        emit_json([c.to_dict() for c in found.candidates])
        return
    _print_candidates(
        f"join candidates at confidence {min_confidence} or more ({found.tables} tables, "
        f"{found.profiled} profiled, {found.reused} profiles reused, {found.validated} "
        f"validated, {found.seconds.get('total')} s)",
        found.candidates,
    )


@app.command("list")
def list_(
    pending: Annotated[
        bool, typer.Option("--pending", help="Only candidates an engineer proposed.")
    ] = False,
    as_json: JsonOpt = False,
) -> None:
    """Candidates found so far (best first) and accepted joins with their versions."""
    from policies.roles import Operation

    with refusals():
        rt, _me = allowed(Operation.DISCOVER_JOINS, "joins")
        candidates = rt.catalog.joins.candidates(["proposed"] if pending else None)
        accepted = [] if pending else rt.catalog.joins.accepted()
    if as_json:
        emit_json(
            {
                "candidates": [c.to_dict() for c in candidates],
                "accepted": [a.to_dict() for a in accepted],
            }
        )
        return
    _print_candidates("proposed candidates" if pending else "join candidates", candidates)
    if accepted:
        out.print(
            table(
                "accepted joins (dbt models under models/joins)",
                ["model", "version", "state", "candidate", "accepted by", "rationale"],
                [
                    [
                        a.model_name,
                        f"v{a.version}",
                        a.state,
                        a.candidate_id,
                        a.accepted_by,
                        a.rationale,
                    ]
                    for a in accepted
                ],
            )
        )


@app.command("show")
def show(
    candidate: Annotated[str, typer.Argument(help="A candidate id (jc_...).")],
    as_json: JsonOpt = False,
) -> None:
    """One candidate: its evidence, validation stats and sample joined rows."""
    from policies.roles import Operation

    with refusals():
        rt, _me = allowed(Operation.DISCOVER_JOINS, candidate)
        found = rt.catalog.joins.get(candidate)
    if as_json:
        emit_json(found.to_dict())
        return
    _print_candidates(f"candidate {found.id}", [found])
    out.print(Text(f"reason: {found.reason}"))
    if found.decided_by:
        out.print(Text(f"{found.status} by {found.decided_by}: {found.decision_note}"))
    for row in found.stats.get("samples", []):
        out.print(Text("  " + ", ".join(f"{k}={v}" for k, v in row.items())))


@app.command("propose")
def propose(
    candidate: Annotated[str, typer.Argument(help="A candidate id (jc_...).")],
    note: Annotated[str, typer.Option("--note", help="Why it should be accepted.")] = "",
) -> None:
    """Ask an admin to accept a candidate (engineer); it shows in `spyne joins list --pending`."""
    from orchestration.joins.review import propose as propose_candidate

    with refusals():
        rt = runtime()
        me = actor(rt)
        found = propose_candidate(rt.catalog, me, candidate, note)
    out.print(f"{found.id} proposed by {me.name}; an admin accepts it with `spyne joins accept`")


@app.command("reject")
def reject(
    candidate: Annotated[str, typer.Argument(help="A candidate id (jc_...).")],
    reason: Annotated[str, typer.Option("--reason", help="Why (kept with who rejected it).")],
) -> None:
    """Refuse a candidate (admin): not proposed again while both tables keep these versions."""
    from orchestration.joins.review import reject as reject_candidate

    with refusals():
        rt = runtime()
        me = actor(rt)
        found = reject_candidate(rt.catalog, me, candidate, reason)
    out.print(f"{found.id} rejected by {me.name}: {reason}")


@app.command("accept")
def accept(
    candidate: Annotated[str, typer.Argument(help="A candidate id (jc_...).")],
    rationale: Annotated[
        str, typer.Option("--rationale", help="Why this join is right (kept in the model).")
    ],
    join_type: Annotated[
        str, typer.Option("--join-type", help="left (every child row) or inner.")
    ] = "left",
) -> None:
    """Accept a candidate (admin): measured again, then written as a versioned dbt model."""
    from orchestration.environment import DBT_PROJECT_DIR
    from orchestration.joins.acceptance import accept as accept_candidate
    from orchestration.joins.codegen import sql_path
    from orchestration.joins.gate_suite import suite_file

    with refusals():
        rt = runtime()
        me = actor(rt)
        done = accept_candidate(
            rt.catalog, rt.warehouse, me, candidate, rationale, join_type, DBT_PROJECT_DIR
        )
    path = sql_path(DBT_PROJECT_DIR, done.model_name, done.version)
    out.print(
        f"{candidate} accepted by {me.name} as {done.model_name} v{done.version} "
        f"({done.join_type} join): {path}\n"
        f"gate suite: {suite_file(done.model_name, done.version)}\n"
        "next: review and commit the files; the joins layer builds, gates and publishes it "
        "like every model"
    )


@app.command("deprecate")
def deprecate(
    join: Annotated[
        str, typer.Argument(help="An accepted join: MODEL (its ACTIVE version) or MODEL:vN.")
    ],
    reason: Annotated[str, typer.Option("--reason", help="Why it is retired.")],
) -> None:
    """Deprecate an accepted join's version (admin): kept in the project with a deprecation date."""
    from orchestration.environment import DBT_PROJECT_DIR
    from orchestration.joins.acceptance import deprecate as deprecate_join

    with refusals():
        rt = runtime()
        me = actor(rt)
        done = deprecate_join(rt.catalog, me, join, reason, DBT_PROJECT_DIR)
    out.print(f"{done.model_name} v{done.version} deprecated by {me.name}: {reason}")
