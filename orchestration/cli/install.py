"""`spyne init` and `spyne doctor`: create an install on purpose, and check that it holds together."""

from __future__ import annotations

from typing import Annotated

import typer

from orchestration.cli.common import JsonOpt, actor, emit_json, out, refusals, runtime, table


def init(as_json: JsonOpt = False) -> None:
    """Create a new install (catalog, warehouse, SPYNE_HOME), or bring an existing one up to date."""
    from orchestration.install import init as run_init

    with refusals():
        report = run_init()
    if as_json:
        emit_json(report.__dict__)
        return
    if report.created_catalog:
        out.print(f"created the catalog {report.catalog} (schema {report.schema_revision})")
    else:
        out.print(f"catalog {report.catalog} is at schema {report.schema_revision}")
    if report.restored_guards:
        out.print(f"put back missing guards: {', '.join(report.restored_guards)}")
    if report.created_warehouse:
        out.print(f"created the warehouse {report.warehouse}")
    if report.contracts_registered:
        out.print(f"registered contracts: {', '.join(report.contracts_registered)}")
    for kept in report.contracts_kept:
        out.print(f"kept the catalog's contract: {kept}")
    if report.created_catalog:
        out.print("next: create the first admin with `spyne auth bootstrap --name YOU`")


def doctor(
    repair: Annotated[
        bool, typer.Option("--repair", help="Make the warehouse agree with the catalog (admin).")
    ] = False,
    as_json: JsonOpt = False,
) -> None:
    """Compare every canonical view, version table and ACTIVE pointer with the catalog."""
    with refusals():
        rt = runtime()
        me = actor(rt)
        findings = rt.service().repair(me) if repair else rt.service().examine(me)
    open_findings = [f for f in findings if not f.repaired]
    if as_json:
        emit_json({"ok": not open_findings, "findings": [f.to_dict() for f in findings]})
    elif not findings:
        out.print("the warehouse agrees with the catalog")
    else:
        from rich.text import Text

        rows = [
            [
                f.table,
                f.kind,
                f.message,
                Text("repaired", style="green")
                if f.repaired
                else (
                    "repairable (--repair)" if f.repairable else Text("needs a person", style="red")
                ),
            ]
            for f in findings
        ]
        out.print(table("doctor", ["table", "finding", "detail", "status"], rows))
    if open_findings:
        raise typer.Exit(1)
