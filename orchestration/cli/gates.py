"""`spyne gates`: write the Great Expectations suites from dbt, run a table's gate."""

from __future__ import annotations

from typing import Annotated

import typer

from orchestration.cli.common import (
    JsonOpt,
    actor,
    allowed,
    emit_json,
    new_app,
    out,
    refusals,
    runtime,
    styled,
)
from policies.naming import checked_version, parse_table_ref

app = new_app("Great Expectations promotion gates.")


@app.command("generate")
def gates_generate(
    force: Annotated[
        bool,
        typer.Option(
            "--force", help="Refresh existing suites (hand-written expectations are kept)."
        ),
    ] = False,
) -> None:
    """Write a GE suite per gated table into expectations/, derived from dbt columns and tests (engineer)."""
    from policies.roles import Operation

    with refusals():
        rt = runtime()
        rt.require(actor(rt), Operation.GENERATE_GATES, "expectations")
        from orchestration.environment import REPO_ROOT
        from orchestration.gates.generate import write_suites

        for path, written in write_suites(force=force):
            shown = path.relative_to(REPO_ROOT) if path.is_relative_to(REPO_ROOT) else path
            out.print(f"{'wrote' if written else 'kept '}    {shown}")


@app.command("run")
def gates_run(
    table_name: Annotated[str, typer.Argument(metavar="TABLE")],
    version: Annotated[int | None, typer.Option("--version")] = None,
    as_json: JsonOpt = False,
) -> None:
    """Run a table's GE gate on a version (engineer or admin) and record the verdict."""
    from policies.roles import Operation

    with refusals():
        ref = parse_table_ref(table_name)
        if version is not None:
            checked_version(version)
        rt, me = allowed(Operation.BUILD, ref.canonical)
        from orchestration.gates.table_gate import run_table_gate

        outcome = run_table_gate(rt, ref, version, actor=me)
    if as_json:
        emit_json({"table": ref.canonical, "version": outcome.version, **outcome.result.to_dict()})
        return
    status = ("passed", "green") if outcome.result.success else ("failed", "red")
    out.print(
        styled(
            f"{ref.canonical} v{outcome.version}: ",
            status,
            f" ({outcome.result.evaluated} expectations, {outcome.result.failed} failed)",
        )
    )
    if not outcome.result.success:
        raise typer.Exit(1)
