"""`spyne mode`: READ_ONLY (default) or INGESTION_READY."""

from __future__ import annotations

from typing import Annotated

import typer

from orchestration.cli.common import JsonOpt, actor, emit_json, new_app, out, refusals, runtime

app = new_app("System mode: READ_ONLY (default) or INGESTION_READY.")


@app.command("show")
def mode_show(as_json: JsonOpt = False) -> None:
    """The current system mode and who set it."""
    with refusals():
        rt = runtime()
        actor(rt)
        info = rt.catalog.current_mode()
    data = {
        "mode": info.mode.value,
        "version": info.version,
        "changed_at": info.changed_at.isoformat() if info.changed_at else None,
        "changed_by": info.changed_by,
        "reason": info.reason,
    }
    if as_json:
        emit_json(data)
    else:
        out.print(
            f"mode {info.mode.value} (version {info.version}, set by {info.changed_by or 'default'})"
        )


@app.command("set")
def mode_set(
    mode: Annotated[str, typer.Argument(metavar="READ_ONLY|INGESTION_READY")],
    reason: Annotated[str | None, typer.Option("--reason")] = None,
) -> None:
    """Change the system mode (admin); versioned and audited."""
    from policies.modes import SystemMode

    with refusals():
        wanted = SystemMode.parse(mode)
        rt = runtime()
        info = rt.service().set_mode(actor(rt), wanted, reason)
    out.print(f"mode is now {info.mode.value} (version {info.version})")
