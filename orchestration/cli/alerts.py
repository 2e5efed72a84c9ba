"""`spyne alerts`: what the sensors raised, open or closed, and acknowledging one by name."""

from __future__ import annotations

from typing import Annotated

import typer

from orchestration.cli.common import (
    JsonOpt,
    allowed,
    emit_json,
    new_app,
    out,
    refusals,
    table,
)

app = new_app("Alerts the sensors raised: list them, acknowledge one.")


@app.command("list")
def list_alerts(
    as_json: JsonOpt = False,
    open_only: Annotated[bool, typer.Option("--open", help="Only conditions still open.")] = False,
) -> None:
    """Alerts, newest first, with who acknowledged them (engineer or admin)."""
    from policies.roles import Operation

    with refusals():
        rt, _me = allowed(Operation.VIEW_ALERTS, "alerts")
        found = rt.catalog.notifications.all(open_only=open_only)
    if as_json:
        emit_json([n.to_dict() for n in found])
        return
    if not found:
        out.print("no open alerts" if open_only else "no alerts")
        return
    out.print(
        table(
            "alerts (acknowledge one with `spyne alerts ack ID`)",
            ["id", "kind", "severity", "status", "opened", "repeats", "acked by", "title"],
            [
                [
                    n.id,
                    n.kind.value,
                    n.severity.label,
                    "open" if n.open else "closed",
                    n.opened_at.strftime("%Y-%m-%d %H:%M"),
                    n.repeats,
                    n.acked_by,
                    n.title,
                ]
                for n in found
            ],
        )
    )


@app.command("ack")
def ack(
    alert_id: Annotated[int, typer.Argument(help="The alert's id (`spyne alerts list`).")],
) -> None:
    """Acknowledge an alert under your name (engineer or admin, audited)."""
    from policies.roles import Operation

    with refusals():
        rt, me = allowed(Operation.ACK_ALERT, f"alert:{alert_id}")
        acked = rt.catalog.notifications.ack(alert_id, me.name, me.launched_by)
    state = "still open" if acked.open else "closed"
    out.print(
        f"alert {acked.id} ({acked.kind.value}: {acked.title}) acknowledged by {me.name}; {state}"
    )
