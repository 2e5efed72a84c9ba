"""`spyne drift check`: every READ_ONLY source's live schema against its expected schema, now."""

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
    table,
)

app = new_app("Schema drift of READ_ONLY sources against the schema each is expected to have.")


@app.command("check")
def check(as_json: JsonOpt = False) -> None:
    """Compare each source's information schema (no data read) with its expected schema (engineer
    or admin). Read-only: the drift sensor is what records findings and alerts."""
    from orchestration.sensors.source_drift import check_install
    from policies.roles import Operation

    with refusals():
        rt, _me = allowed(Operation.CHECK_DRIFT, "sources")
        checks = check_install(rt)
    if as_json:
        emit_json([c.to_dict() for c in checks])
        return
    out.print(
        table(
            "source drift (expected: what each source is held to)",
            ["source", "expected", "severity", "changes"],
            [
                [
                    c.source,
                    c.expected_from or "nothing (no contract, never landed)",
                    c.severity.name if c.expected_from else None,
                    ("source table is gone; " if c.missing else "")
                    + (c.report.summary() if c.report is not None else "-"),
                ]
                for c in checks
            ],
        )
    )


@app.command("accept")
def accept(
    report_id: Annotated[int, typer.Argument(help="The drift report's id (in its alert).")],
    as_json: JsonOpt = False,
) -> None:
    """Accept a source's WARNING drift into its contract as the next minor version (engineer or
    admin, audited). The source is checked again first; a breaking change is refused."""
    from orchestration.alerts.service import alerts_for
    from orchestration.sensors.contract_evolution import accept as accept_report

    with refusals():
        rt = runtime()
        me = actor(rt)
        alerts = alerts_for(rt.catalog, rt.home, me.name, me.launched_by)
        check, version = accept_report(rt, me, alerts, report_id)
    assert check.contract is not None
    if as_json:
        emit_json(
            {
                "report": report_id,
                "source": check.source,
                "contract": check.contract[0],
                "version": version,
                "accepted_by": me.name,
            }
        )
        return
    out.print(
        f"accepted drift report {report_id}: contract {check.contract[0]} {version} now "
        f"describes {check.source} ({check.report.summary() if check.report else ''})"
    )
