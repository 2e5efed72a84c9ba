"""`spyne audit`: read the append-only audit log, and verify its hash chain."""

from __future__ import annotations

from typing import Annotated

import typer

from orchestration.cli.common import (
    JsonOpt,
    actor,
    allowed,
    emit_json,
    out,
    refusals,
    runtime,
    styled,
    table,
)

app = typer.Typer(
    help="The append-only audit log, newest first (engineer or admin).",
    invoke_without_command=True,
    pretty_exceptions_enable=False,
)
_COLORS = {"refused": "red", "allowed": "green"}


@app.callback()
def audit_list(
    ctx: typer.Context,
    limit: Annotated[int, typer.Option("--limit", min=1, max=10000)] = 50,
    table_name: Annotated[
        str | None, typer.Option("--table", help="Only entries about this target.")
    ] = None,
    as_json: JsonOpt = False,
) -> None:
    """The append-only audit log, newest first (engineer or admin)."""
    if ctx.invoked_subcommand is not None:
        return
    from policies.roles import Operation

    with refusals():
        rt, _me = allowed(Operation.VIEW_SHADOW, "audit_log")
        entries = rt.catalog.list_audit(limit=limit, target=table_name)
    data = [
        {
            "id": e.id,
            "seq": e.seq,
            "at": e.at.isoformat(timespec="seconds"),
            "actor": e.actor,
            "launched_by": e.launched_by,
            "action": e.action,
            "target": e.target,
            "outcome": e.outcome.value,
            "details": e.details,
        }
        for e in entries
    ]
    if as_json:
        emit_json(data)
        return
    from rich.text import Text

    rows = [
        [
            e.id,
            e.at.isoformat(timespec="seconds"),
            e.actor
            if not e.launched_by or e.launched_by == e.actor
            else f"{e.actor} (launched by {e.launched_by})",
            e.action,
            e.target,
            Text(e.outcome.value, style=_COLORS.get(e.outcome.value, "")),
        ]
        for e in entries
    ]
    out.print(table("audit log", ["id", "at", "actor", "action", "target", "outcome"], rows))


@app.command("verify")
def audit_verify(as_json: JsonOpt = False) -> None:
    """Check the audit log's hash chain end to end; exit 1 at the first broken link (engineer or admin)."""
    from policies.roles import Operation

    with refusals():
        rt = runtime()
        rt.require(actor(rt), Operation.VIEW_SHADOW, "audit_log")
        verdict = rt.catalog.verify_audit()
    if as_json:
        emit_json(verdict.to_dict())
    elif verdict.ok:
        out.print(
            f"audit log intact: {verdict.checked} entries, head seq {verdict.head_seq} "
            f"({verdict.head_hash[:16]})"
        )
    else:
        out.print(
            styled(
                ("audit log broken", "bold red"),
                f": {verdict.reason} (entries before it, {verdict.checked}, are intact)",
            )
        )
    if not verdict.ok:
        raise typer.Exit(1)
