"""`spyne contracts`: register ingestion contracts (ODCS v3 files) and look at the registry."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

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

app = new_app("Ingestion contracts: register a version, list them, show one, diff two.")


@app.command("register")
def register(
    files: Annotated[
        list[Path], typer.Argument(help="ODCS v3 contract files (YAML), one table each.")
    ],
    as_json: JsonOpt = False,
) -> None:
    """Validate and register contract versions (engineer or admin, audited).

    The same content registered again changes nothing; changed content needs a higher version,
    and a breaking change a new major version. Files are registered one by one, each whole or
    not at all; the first refusal stops the command.
    """
    from orchestration.ingestion.contracts import register_file
    from policies.roles import Operation

    results = []
    with refusals():
        rt = runtime()
        me = actor(rt)
        for path in files:
            rt.require(me, Operation.CREATE_CONTRACT, f"file:{path}")
            result = register_file(rt.catalog, me.name, path, me.launched_by)
            results.append(result)
            if not as_json:
                info = result.version
                verb = "registered" if result.outcome.value == "register" else "unchanged:"
                out.print(f"{verb} {info.contract_id} {info.version} ({info.mode}, {info.table})")
                for line in info.summary.get("warnings", []):
                    err_console.print(f"warning: {info.contract_id}: {line}")
                if result.breaking:
                    out.print(f"  breaking changes: {'; '.join(result.breaking)}")
    if as_json:
        emit_json(
            [
                {"outcome": r.outcome.value, "breaking": list(r.breaking), **r.version.to_dict()}
                for r in results
            ]
        )


@app.command("check")
def check(
    files: Annotated[list[Path], typer.Argument(help="ODCS v3 contract files (YAML) to validate.")],
) -> None:
    """Validate contract files without registering them (needs no identity: it reads only files).

    Exits 1 at the first file refused, with its typed error naming the field and the fix.
    """
    from orchestration.ingestion.contracts import load_contract

    with refusals():
        for path in files:
            contract = load_contract(path)
            out.print(
                f"ok {path}: {contract.id} {contract.version} ({contract.semantics.mode.value}, "
                f"{contract.table})"
            )
            for line in contract.warnings:
                err_console.print(f"warning: {contract.id}: {line}")


@app.command("list")
def list_contracts(as_json: JsonOpt = False) -> None:
    """The newest version of every registered contract."""
    from policies.roles import Operation

    with refusals():
        rt, _me = allowed(Operation.QUERY, "contracts")
        found = rt.catalog.contracts.latest()
    if as_json:
        emit_json([info.to_dict() for info in found])
        return
    if not found:
        out.print("no contracts registered; register one with `spyne contracts register FILE`")
        return
    rows = []
    for info in found:
        s = info.summary
        rows.append(
            [
                info.contract_id,
                info.version,
                info.table,
                info.mode,
                ", ".join(s.get("idempotency_key", [])),
                s.get("event_time_column"),
                s.get("conflict_resolution"),
                s.get("owner"),
                info.registered_at.strftime("%Y-%m-%d %H:%M"),
            ]
        )
    out.print(
        table(
            "contracts (newest versions)",
            [
                "contract",
                "version",
                "table",
                "mode",
                "key",
                "event time",
                "conflicts",
                "owner",
                "registered",
            ],
            rows,
        )
    )


@app.command("show")
def show(
    contract: Annotated[str, typer.Argument(help="The contract id, e.g. erp_sale_order.")],
    version: Annotated[
        str | None, typer.Option("--version", help="A registered version (default: the newest).")
    ] = None,
    as_json: JsonOpt = False,
) -> None:
    """One contract version: its semantics, its columns, and every version registered."""
    from policies.roles import Operation

    with refusals():
        rt, _me = allowed(Operation.QUERY, f"contract:{contract}")
        info = rt.catalog.contracts.get(contract, version)
        versions = rt.catalog.contracts.versions(contract)
    if as_json:
        emit_json({**info.to_dict(with_document=True), "versions": [v.version for v in versions]})
        return
    from datetime import timedelta

    from policies.durations import format_duration

    def seconds(value: object) -> str:
        return "-" if not isinstance(value, int) else format_duration(timedelta(seconds=value))

    s = info.summary
    fresh = s.get("freshness", {})
    out.print(f"{info.contract_id} {info.version}: {info.name} -> bronze.{info.table}")
    out.print(
        f"  owner: {s.get('owner')}; registered {info.registered_at:%Y-%m-%d %H:%M} by {info.registered_by}"
    )
    out.print(
        f"  mode: {info.mode}; key: {', '.join(s.get('idempotency_key', []))}; event time: "
        f"{s.get('event_time_column')}; processing time: {s.get('processing_time_column')}"
    )
    out.print(
        f"  dedupe window: {seconds(s.get('dedupe_window_s'))}; conflicts: "
        f"{s.get('conflict_resolution')}; freshness: alert after "
        f"{seconds(fresh.get('alert_threshold_s'))}, broken after {seconds(fresh.get('max_lag_s'))}, "
        f"loads {fresh.get('schedule')}"
    )
    for line in s.get("warnings", []):
        out.print(f"  warning: {line}")
    out.print(f"  versions: {', '.join(v.version for v in versions)}")


@app.command("diff")
def diff(
    contract: Annotated[str, typer.Argument(help="The contract id, e.g. erp_res_partner.")],
    from_version: Annotated[str, typer.Option("--from", help="The version to compare from.")],
    to_version: Annotated[str, typer.Option("--to", help="The version to compare to.")],
    as_json: JsonOpt = False,
) -> None:
    """What changed between two registered versions, each change's severity, and a migration
    guide naming the dbt models that read each changed column (any role)."""
    from orchestration.ingestion.contract_diff import diff_versions
    from policies.roles import Operation

    with refusals():
        rt, _me = allowed(Operation.QUERY, f"contract:{contract}")
        found = diff_versions(rt.catalog, contract, from_version, to_version)
    if as_json:
        emit_json(found.to_dict())
        return
    out.print(
        f"{found.contract} {found.from_version} -> {found.to_version} ({found.table}): "
        f"{found.severity.name}"
    )
    if not found.changes:
        out.print("  no changes")
        return
    out.print(
        table(
            "migration guide",
            ["change", "severity", "models reading it", "what to do"],
            [
                [s.change, s.severity.name, ", ".join(s.models) or "-", s.action]
                for s in found.guide
            ],
        )
    )
    out.print(f"downstream models to rebuild: {', '.join(found.downstream) or 'none'}")
