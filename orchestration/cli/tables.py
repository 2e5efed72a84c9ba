"""`spyne tables`: list, history, promote, rollback, deprecate, restore, janitor."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Any

import typer

from orchestration.cli.common import (
    JsonOpt,
    actor,
    allowed,
    emit_json,
    new_app,
    out,
    print_error,
    refusals,
    runtime,
    styled,
    table,
    version_label,
)
from policies.naming import checked_version, parse_table_ref

if TYPE_CHECKING:
    from orchestration.lifecycle.plans import PromotionPlan

app = new_app("Table lifecycle: list, history, promote, rollback, deprecate, restore, janitor.")

TableArg = Annotated[str, typer.Argument(metavar="TABLE", help="<layer>.<table>")]
ExpectOpt = Annotated[
    int | None,
    typer.Option(
        "--expect-active",
        help="The ACTIVE version you saw (0: none); refused if it changed. "
        "Default: what this command reads first.",
    ),
]


@app.command("list")
def tables_list(as_json: JsonOpt = False) -> None:
    """Tables with layer, state, ACTIVE version, versions retained and automatic publishing."""
    from policies.access import visible_states

    with refusals():
        rt = runtime()
        me = actor(rt)
        rows = rt.catalog.list_tables(states=visible_states(me.role))
        data = [
            {
                "name": t.name,
                "layer": t.layer.value,
                "state": t.state.value,
                "active_version": t.active_version,
                "versions_retained": t.version_count,
                "auto_publish": rt.policy.auto_publish_for(t.name),
            }
            for t in rows
        ]
    if as_json:
        emit_json(data)
        return
    columns = ["name", "layer", "state", "active_version", "versions_retained", "auto_publish"]
    out.print(table("tables", columns, [[d[c] for c in columns] for d in data]))


@app.command("history")
def tables_history(table_name: TableArg, as_json: JsonOpt = False) -> None:
    """State transitions of one table, oldest first, with versions and who did them."""
    from policies.roles import Operation

    with refusals():
        ref = parse_table_ref(table_name)
        rt, _me = allowed(Operation.VIEW_SHADOW, ref.canonical)
        info = rt.catalog.get_table(ref.canonical)
        changes = rt.catalog.history(ref.canonical)
        versions = rt.catalog.list_versions(ref.canonical, include_dropped=True)
    data: dict[str, Any] = {
        "table": info.name,
        "state": info.state.value,
        "active_version": info.active_version,
        "transitions": [
            {
                "at": c.at.isoformat(),
                "transition": c.transition.value,
                "from_state": c.from_state.value,
                "to_state": c.to_state.value,
                "from_version": c.from_version,
                "to_version": c.to_version,
                "actor": c.actor,
                "reason": c.reason,
            }
            for c in changes
        ],
        "versions": [
            {
                "version": v.version,
                "created_at": v.created_at.isoformat(),
                "rows": v.row_count,
                "content_hash": v.content_hash,
                "gate": v.gate_status.value,
                "gate_message": (v.gate_details or {}).get("message"),
                "dropped": v.dropped,
            }
            for v in versions
        ],
    }
    if as_json:
        emit_json(data)
        return
    out.print(
        styled(
            (info.name, "bold"),
            f"  state {info.state.value}  active {version_label(info.active_version)}",
        )
    )
    out.print(
        table(
            "transitions",
            ["at", "transition", "from", "to", "actor", "reason"],
            [
                [
                    c["at"],
                    c["transition"],
                    f"{c['from_state']} {version_label(c['from_version'])}",
                    f"{c['to_state']} {version_label(c['to_version'])}",
                    c["actor"],
                    c["reason"] or "",
                ]
                for c in data["transitions"]
            ],
        )
    )
    out.print(
        table(
            "versions",
            ["version", "created_at", "rows", "gate", "content_hash", "dropped"],
            [
                [
                    d["version"],
                    d["created_at"],
                    f"{d['rows']:,}",
                    d["gate"] + (f": {d['gate_message']}" if d["gate_message"] else ""),
                    d["content_hash"][:16],
                    "yes" if d["dropped"] else "",
                ]
                for d in data["versions"]
            ],
        )
    )


def _expected(rt: Any, name: str, given: int | None) -> int:
    """What the caller saw: given, or the ACTIVE version read now (0: none)."""
    if given is not None:
        return given
    return rt.catalog.get_table(name).active_version or 0


def _print_plan(plan: PromotionPlan, as_json: bool) -> None:
    if as_json:
        emit_json(plan.to_dict())
        return
    verb = "promoted" if plan.applied else "would promote"
    out.print(
        styled(
            f"{verb} ",
            (plan.table, "bold"),
            f": {version_label(plan.from_version)} -> v{plan.to_version}"
            f"  (state {plan.table_state.value})",
        )
    )
    out.print(
        f"  gates: {plan.gate_status.value}   drift: {plan.drift.severity.name} - "
        f"{plan.drift.summary()}"
    )
    reasons = f" - {plan.decision.message}" if plan.decision.reasons else ""
    out.print(f"  decision: {plan.decision.verdict.name}{reasons}")


@app.command("promote")
def tables_promote(
    table_name: TableArg,
    version: Annotated[
        int | None, typer.Option("--version", help="Version to promote (default: newest).")
    ] = None,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Show what would change; change nothing.")
    ] = False,
    expect_active: ExpectOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Publish a shadow version (admin): gates and drift are checked; one view swap, audited."""
    from policies.decisions import refusal

    with refusals():
        ref = parse_table_ref(table_name)
        if version is not None:
            checked_version(version)
        rt = runtime()
        me = actor(rt)
        expected = _expected(rt, ref.canonical, expect_active)
        plan = rt.service().promote(
            me, ref.canonical, version, dry_run=dry_run, expect_active=expected
        )
    _print_plan(plan, as_json)
    if dry_run and not plan.decision.allowed:
        print_error(refusal(plan.decision))
        raise typer.Exit(1)


@app.command("rollback")
def tables_rollback(
    table_name: TableArg,
    to_version: Annotated[
        int | None,
        typer.Option("--to-version", help="Retained version (default: the previous ACTIVE one)."),
    ] = None,
    expect_active: ExpectOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Point the canonical view back at a retained version (admin)."""
    with refusals():
        ref = parse_table_ref(table_name)
        if to_version is not None:
            checked_version(to_version, "--to-version")
        rt = runtime()
        me = actor(rt)
        expected = _expected(rt, ref.canonical, expect_active)
        plan = rt.service().rollback(me, ref.canonical, to_version, expect_active=expected)
    if as_json:
        emit_json(plan.to_dict())
        return
    out.print(
        styled(
            "rolled back ",
            (plan.table, "bold"),
            f": {version_label(plan.from_version)} -> v{plan.to_version}",
        )
    )


@app.command("deprecate")
def tables_deprecate(
    table_name: TableArg,
    reason: Annotated[str, typer.Option("--reason", help="Why; recorded in the audit log.")],
) -> None:
    """Hide an ACTIVE table (admin); its versions are kept and it can be restored."""
    with refusals():
        ref = parse_table_ref(table_name)
        rt = runtime()
        info = rt.service().deprecate(actor(rt), ref.canonical, reason)
    out.print(f"{info.name} is now {info.state.value} ({version_label(info.active_version)} kept)")


@app.command("restore")
def tables_restore(table_name: TableArg) -> None:
    """Bring a DEPRECATED table back to ACTIVE on its last version (admin)."""
    with refusals():
        ref = parse_table_ref(table_name)
        rt = runtime()
        info = rt.service().restore(actor(rt), ref.canonical)
    out.print(f"{info.name} is now {info.state.value} on {version_label(info.active_version)}")


@app.command("janitor")
def tables_janitor(
    dry_run: Annotated[bool, typer.Option("--dry-run")] = False, as_json: JsonOpt = False
) -> None:
    """Drop versions outside retention that are neither ACTIVE nor newest (engineer or admin)."""
    with refusals():
        rt = runtime()
        dropped = rt.service().janitor(actor(rt), dry_run=dry_run)
    if as_json:
        emit_json(dropped)
    elif not dropped:
        out.print("nothing to drop")
    else:
        verb = "would drop" if dry_run else "dropped"
        for name, versions in dropped.items():
            out.print(f"{verb} {name}: {', '.join(f'v{v}' for v in versions)}")
