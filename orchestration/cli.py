"""`spyne`: the command line for the same operations the API and Dagster use.

Every command that reads or changes governed state needs an identity (SPYNE_API_KEY) whose
role the policy checks; refusals print a typed error and exit non-zero.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Any, TypeVar

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from orchestration.environment import DBT_PROJECT_DIR, REPO_ROOT
from policies.errors import SpyneError
from policies.lifecycle import TableState
from policies.modes import SystemMode
from policies.roles import Operation, Role

app = typer.Typer(
    help="Spyne: an enterprise-safe data platform on dbt + Dagster.", no_args_is_help=True
)
tables_app = typer.Typer(
    help="Table lifecycle: list, history, promote, rollback, deprecate, restore.",
    no_args_is_help=True,
)
mode_app = typer.Typer(
    help="System mode: READ_ONLY (default) or INGESTION_READY.", no_args_is_help=True
)
auth_app = typer.Typer(help="API keys and principals.", no_args_is_help=True)
sample_app = typer.Typer(help="The deterministic sample ERP source.", no_args_is_help=True)
gates_app = typer.Typer(help="Great Expectations promotion gates.", no_args_is_help=True)
docs_app = typer.Typer(help="dbt docs site.", no_args_is_help=True)
app.add_typer(tables_app, name="tables")
app.add_typer(mode_app, name="mode")
app.add_typer(auth_app, name="auth")
app.add_typer(sample_app, name="sample")
app.add_typer(gates_app, name="gates")
app.add_typer(docs_app, name="docs")

# Wide enough for table names and timestamps when stdout is not a terminal.
out = Console(width=None if sys.stdout.isatty() else 160)
err_console = Console(stderr=True, width=None if sys.stderr.isatty() else 160)
T = TypeVar("T")

JsonOpt = Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")]


@contextmanager
def refusals() -> Iterator[None]:
    """Print a typed refusal and exit 1; nothing was changed by the refused operation."""
    try:
        yield
    except SpyneError as e:
        err_console.print(f"[bold red]error[/] {escape(f'[{e.code}]')}: {escape(e.message)}")
        if e.details:
            err_console.print_json(json.dumps(e.details, default=str))
        raise typer.Exit(1) from None


def _rt() -> Any:
    from orchestration.runtime import runtime

    return runtime()


def _principal(rt: Any) -> Any:
    from orchestration.identity import current_principal

    return current_principal(rt.catalog)


def _emit_json(data: Any) -> None:
    sys.stdout.write(json.dumps(data, indent=2, default=str) + "\n")


def _guard(call: Callable[[], T]) -> T:
    with refusals():
        return call()


# -- demo ------------------------------------------------------------------------------------
@app.command()
def demo(
    rows: Annotated[
        int, typer.Option("--rows", min=10, help="Sale order lines in the sample source.")
    ] = 5000,
    seed: Annotated[int, typer.Option(help="Seed of the sample generator.")] = 42,
) -> None:
    """Spyne's main job: generate the sample ERP, ingest to bronze, build silver and gold, gate and publish."""
    import time

    started = time.monotonic()  # before loading Spyne and Dagster: "in all" means in all
    from orchestration.demo import run_demo
    from orchestration.demo_view import DemoDisplay, summary_table

    with refusals(), DemoDisplay(err_console) as display:
        report = run_demo(rows, seed, observer=display)
    total = time.monotonic() - started
    out.print(summary_table(report, total))
    out.print(
        f"warehouse: [bold]{report.warehouse}[/] (DuckDB)   source (READ_ONLY): {report.source}"
    )
    out.print(
        f"done in {total:.1f}s; Dagster runs: {', '.join(report.run_ids)}; dbt output: {report.log_path}"
    )
    if report.new_admin_key:
        out.print(
            "a first admin was created for this install; its key is in $SPYNE_HOME/admin.key:"
        )
        out.print(f"  export SPYNE_API_KEY={report.new_admin_key}")
    out.print(
        "open the UI:  .venv/bin/spyne ui   (then http://127.0.0.1:3000; the demo's runs are under their jobs)"
    )
    if not report.ok:
        raise typer.Exit(1)


# -- sample ----------------------------------------------------------------------------------
@sample_app.command("generate")
def sample_generate(
    rows: Annotated[
        int, typer.Option("--rows", min=10, help="Sale order lines to generate.")
    ] = 5000,
    seed: Annotated[int, typer.Option(help="Random seed; the same seed gives the same data.")] = 42,
    path: Annotated[
        Path | None, typer.Option(help="Output DuckDB file (default: SPYNE_SOURCE_PATH).")
    ] = None,
) -> None:
    """Write the deterministic Odoo-shaped sample ERP database (an external, READ_ONLY source)."""
    from orchestration.environment import load_settings
    from orchestration.sample.generator import generate

    with refusals():
        target = path or Path(str(load_settings().source_path))
        summary = generate(target, lines=rows, seed=seed)
    table = Table(title=f"sample source {summary.path}")
    table.add_column("table")
    table.add_column("rows", justify="right")
    for name, count in summary.row_counts.items():
        table.add_row(name, f"{count:,}")
    out.print(table)


# -- tables ----------------------------------------------------------------------------------
@tables_app.command("list")
def tables_list(as_json: JsonOpt = False) -> None:
    """Tables with layer, state, ACTIVE version and versions retained."""
    from policies.roles import authorize

    with refusals():
        rt = _rt()
        me = _principal(rt)
        sees_shadow = authorize(me.role, Operation.VIEW_SHADOW).allowed
        rows = [
            t
            for t in rt.catalog.list_tables()
            if sees_shadow or t.state in (TableState.ACTIVE.value, TableState.READ_ONLY.value)
        ]
    data = [
        {
            "name": t.name,
            "layer": t.layer,
            "state": t.state,
            "active_version": t.active_version,
            "versions_retained": t.version_count,
        }
        for t in rows
    ]
    if as_json:
        _emit_json(data)
        return
    table = Table(title="tables")
    for col in ("name", "layer", "state", "active_version", "versions_retained"):
        table.add_column(col)
    for d in data:
        table.add_row(
            *(
                str(d[c]) if d[c] is not None else "-"
                for c in ("name", "layer", "state", "active_version", "versions_retained")
            )
        )
    out.print(table)


@tables_app.command("history")
def tables_history(
    table_name: Annotated[str, typer.Argument(metavar="TABLE")], as_json: JsonOpt = False
) -> None:
    """State transitions of one table, oldest first, with versions and who did them."""
    from policies.naming import parse_table_ref

    with refusals():
        rt = _rt()
        me = _principal(rt)
        ref = parse_table_ref(table_name)
        rt.service().require(me, Operation.VIEW_SHADOW, ref.canonical)
        info = rt.catalog.get_table(ref.canonical)
        changes = rt.catalog.history(ref.canonical)
        versions = rt.catalog.list_versions(ref.canonical, include_dropped=True)
    data = {
        "table": info.name,
        "state": info.state,
        "active_version": info.active_version,
        "transitions": [
            {
                "at": c.at.isoformat(),
                "transition": c.transition,
                "from_state": c.from_state,
                "to_state": c.to_state,
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
                "gate": v.gate_status,
                "dropped": v.dropped_at is not None,
            }
            for v in versions
        ],
    }
    if as_json:
        _emit_json(data)
        return
    out.print(f"[bold]{info.name}[/]  state {info.state}  active v{info.active_version}")
    t = Table(title="transitions")
    for col in ("at", "transition", "from", "to", "actor", "reason"):
        t.add_column(col)
    for c in data["transitions"]:
        t.add_row(
            c["at"],
            c["transition"],
            f"{c['from_state']} v{c['from_version']}",
            f"{c['to_state']} v{c['to_version']}",
            c["actor"],
            c["reason"] or "",
        )
    out.print(t)
    v = Table(title="versions")
    for col in ("version", "created_at", "rows", "gate", "content_hash", "dropped"):
        v.add_column(col)
    for d in data["versions"]:
        v.add_row(
            str(d["version"]),
            d["created_at"],
            f"{d['rows']:,}",
            d["gate"],
            d["content_hash"][:16],
            "yes" if d["dropped"] else "",
        )
    out.print(v)


def _print_plan(plan: Any, as_json: bool) -> None:
    data = plan.to_dict()
    if as_json:
        _emit_json(data)
        return
    verb = "promoted" if plan.applied else "would promote"
    out.print(
        f"{verb} [bold]{plan.table}[/]: v{plan.from_version} -> v{plan.to_version}  (state {plan.table_state.value})"
    )
    out.print(
        f"  gates: {plan.gate_status.value}   drift: {plan.drift.severity.name} — {plan.drift.summary()}"
    )
    out.print(
        f"  decision: {plan.decision.verdict.name}"
        + (f" — {plan.decision.message}" if plan.decision.reasons else "")
    )


@tables_app.command("promote")
def tables_promote(
    table_name: Annotated[str, typer.Argument(metavar="TABLE")],
    version: Annotated[
        int | None, typer.Option("--version", min=1, help="Version to promote (default: newest).")
    ] = None,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Show what would change; change nothing.")
    ] = False,
    as_json: JsonOpt = False,
) -> None:
    """Publish a shadow version (admin): gates and drift are checked; one view swap, audited."""
    with refusals():
        rt = _rt()
        plan = rt.service().promote(_principal(rt), table_name, version, dry_run=dry_run)
    _print_plan(plan, as_json)


@tables_app.command("rollback")
def tables_rollback(
    table_name: Annotated[str, typer.Argument(metavar="TABLE")],
    to_version: Annotated[
        int | None,
        typer.Option(
            "--to-version", min=1, help="Retained version (default: the previous ACTIVE one)."
        ),
    ] = None,
    as_json: JsonOpt = False,
) -> None:
    """Point the canonical view back at a retained version (admin)."""
    with refusals():
        rt = _rt()
        plan = rt.service().rollback(_principal(rt), table_name, to_version)
    if as_json:
        _emit_json(plan.to_dict())
    else:
        out.print(f"rolled back [bold]{plan.table}[/]: v{plan.from_version} -> v{plan.to_version}")


@tables_app.command("deprecate")
def tables_deprecate(
    table_name: Annotated[str, typer.Argument(metavar="TABLE")],
    reason: Annotated[str, typer.Option("--reason", help="Why; recorded in the audit log.")],
) -> None:
    """Hide an ACTIVE table (admin); its versions are kept and it can be restored."""
    with refusals():
        rt = _rt()
        info = rt.service().deprecate(_principal(rt), table_name, reason)
    out.print(f"{info.name} is now {info.state} (version v{info.active_version} kept)")


@tables_app.command("restore")
def tables_restore(table_name: Annotated[str, typer.Argument(metavar="TABLE")]) -> None:
    """Bring a DEPRECATED table back to ACTIVE on its last version (admin)."""
    with refusals():
        rt = _rt()
        info = rt.service().restore(_principal(rt), table_name)
    out.print(f"{info.name} is now {info.state} on v{info.active_version}")


@tables_app.command("janitor")
def tables_janitor(
    dry_run: Annotated[bool, typer.Option("--dry-run")] = False, as_json: JsonOpt = False
) -> None:
    """Drop versions outside retention that are neither ACTIVE nor newest (admin)."""
    with refusals():
        rt = _rt()
        rt.service().require(_principal(rt), Operation.ROLLBACK, "janitor")
        dropped = rt.service().janitor(dry_run=dry_run)
    if as_json:
        _emit_json(dropped)
    elif not dropped:
        out.print("nothing to drop")
    else:
        for name, versions in dropped.items():
            out.print(
                f"{'would drop' if dry_run else 'dropped'} {name}: {', '.join(f'v{v}' for v in versions)}"
            )


# -- mode ------------------------------------------------------------------------------------
@mode_app.command("show")
def mode_show(as_json: JsonOpt = False) -> None:
    """The current system mode and who set it."""
    with refusals():
        rt = _rt()
        _principal(rt)
        info = rt.catalog.current_mode()
    data = {
        "mode": info.mode,
        "version": info.version,
        "changed_at": info.changed_at,
        "changed_by": info.changed_by,
    }
    if as_json:
        _emit_json(data)
    else:
        out.print(
            f"mode [bold]{info.mode}[/] (version {info.version}, set by {info.changed_by or 'default'})"
        )


@mode_app.command("set")
def mode_set(
    mode: Annotated[str, typer.Argument(metavar="READ_ONLY|INGESTION_READY")],
    reason: Annotated[str | None, typer.Option("--reason")] = None,
) -> None:
    """Change the system mode (admin); versioned and audited."""
    with refusals():
        rt = _rt()
        info = rt.service().set_mode(_principal(rt), SystemMode.parse(mode), reason)
    out.print(f"mode is now [bold]{info.mode}[/] (version {info.version})")


# -- audit -----------------------------------------------------------------------------------
@app.command()
def audit(
    limit: Annotated[int, typer.Option("--limit", min=1, max=10000)] = 50,
    table_name: Annotated[
        str | None, typer.Option("--table", help="Only entries about this target.")
    ] = None,
    as_json: JsonOpt = False,
) -> None:
    """The append-only audit log, newest first (engineer or admin)."""
    with refusals():
        rt = _rt()
        rt.service().require(_principal(rt), Operation.VIEW_SHADOW, "audit_log")
        entries = rt.catalog.list_audit(limit=limit, target=table_name)
    data = [
        {
            "id": e.id,
            "at": e.at.strftime("%Y-%m-%d %H:%M:%S"),
            "actor": e.actor,
            "action": e.action,
            "target": e.target,
            "outcome": e.outcome,
            "details": e.details,
        }
        for e in entries
    ]
    if as_json:
        _emit_json(data)
        return
    t = Table(title="audit log")
    for col in ("id", "at", "actor", "action", "target", "outcome"):
        t.add_column(col, overflow="fold")
    for d in data:
        color = {"refused": "red", "allowed": "green"}.get(d["outcome"], "white")
        t.add_row(
            str(d["id"]),
            d["at"],
            d["actor"],
            d["action"],
            d["target"],
            f"[{color}]{d['outcome']}[/]",
        )
    out.print(t)


# -- auth ------------------------------------------------------------------------------------
@auth_app.command("bootstrap")
def auth_bootstrap(name: Annotated[str, typer.Option("--name")] = "admin") -> None:
    """Create the first admin key of a new install (refused once an admin exists)."""
    from orchestration.identity import bootstrap_admin

    with refusals():
        principal, key = bootstrap_admin(_rt().catalog, name)
    out.print(f"created admin [bold]{principal.name}[/]; this key is shown once:")
    out.print(f"  export SPYNE_API_KEY={key}")


@auth_app.command("create-key")
def auth_create_key(
    name: Annotated[str, typer.Argument()],
    role: Annotated[str, typer.Option("--role", help="viewer, analyst, engineer or admin")],
) -> None:
    """Create a principal with a role and print its key once (admin)."""
    with refusals():
        rt = _rt()
        me = _principal(rt)
        rt.service().require(me, Operation.MANAGE_KEYS, name)
        principal, key = rt.catalog.create_principal(name, Role.parse(role), created_by=me.name)
        rt.catalog.audit(
            me.name, "create_principal", name, "allowed", {"role": principal.role.label}
        )
    out.print(f"created {principal.role.label} [bold]{principal.name}[/]; this key is shown once:")
    out.print(f"  export SPYNE_API_KEY={key}")


@auth_app.command("whoami")
def auth_whoami() -> None:
    """The principal and role behind SPYNE_API_KEY."""
    with refusals():
        me = _principal(_rt())
    out.print(f"{me.name} ({me.role.label})")


# -- gates -----------------------------------------------------------------------------------
@gates_app.command("generate")
def gates_generate(
    force: Annotated[
        bool,
        typer.Option(
            "--force", help="Refresh existing suites (hand-written expectations are kept)."
        ),
    ] = False,
) -> None:
    """Write a GE suite per gated table into expectations/, derived from dbt columns and tests."""
    from orchestration.assets.project import bronze_tables, model_refs, node_for, tests_for
    from orchestration.gates.suites import (
        load_suite,
        merge_suites,
        suite_from_dbt_node,
        suite_path,
        write_suite,
    )
    from policies.naming import Layer

    refs = [t.ref for t in bronze_tables()] + [
        r for layer in (Layer.SILVER, Layer.JOINS, Layer.GOLD) for r in model_refs(layer)
    ]
    for ref in refs:
        path = suite_path(ref.layer.value, ref.name)
        if path.exists() and not force:
            out.print(f"kept     {path.relative_to(REPO_ROOT)}")
            continue
        node = node_for(ref)
        generated = suite_from_dbt_node(node, tests_for(node["unique_id"]))
        existing = load_suite(ref.layer.value, ref.name) if path.exists() else None
        write_suite(
            ref.layer.value, ref.name, merge_suites(existing, generated) if existing else generated
        )
        out.print(f"wrote    {path.relative_to(REPO_ROOT)}")


@gates_app.command("run")
def gates_run(
    table_name: Annotated[str, typer.Argument(metavar="TABLE")],
    version: Annotated[int | None, typer.Option("--version", min=1)] = None,
    as_json: JsonOpt = False,
) -> None:
    """Run a table's GE gate on a version (engineer or admin) and record the verdict."""
    from orchestration.gates.table_gate import run_table_gate
    from policies.naming import parse_table_ref

    with refusals():
        rt = _rt()
        ref = parse_table_ref(table_name)
        rt.service().require(_principal(rt), Operation.VIEW_SHADOW, ref.canonical)
        outcome = run_table_gate(rt, ref, version)
    if as_json:
        _emit_json({"table": ref.canonical, "version": outcome.version, **outcome.result.to_dict()})
        return
    status = "[green]passed[/]" if outcome.result.success else "[red]failed[/]"
    out.print(
        f"{ref.canonical} v{outcome.version}: {status} ({outcome.result.evaluated} expectations, {outcome.result.failed} failed)"
    )


# -- docs and UI -----------------------------------------------------------------------------
@docs_app.command("generate")
def docs_generate() -> None:
    """Run `dbt docs generate` against this environment's warehouse."""
    from orchestration.assets.project import dbt_executable
    from orchestration.environment import ensure_home, load_settings
    from orchestration.runtime import export_dbt_env

    with refusals():
        s = load_settings()
        ensure_home(s)
        export_dbt_env(s)
    project = str(DBT_PROJECT_DIR)
    code = subprocess.call(
        [
            dbt_executable(),
            "docs",
            "generate",
            "--project-dir",
            project,
            "--profiles-dir",
            project,
            "--target",
            s.dbt_target,
        ]
    )
    if code == 0:
        out.print("serve it with: .venv/bin/spyne docs serve   (then http://127.0.0.1:8080)")
    raise typer.Exit(code)


@docs_app.command("serve")
def docs_serve(
    port: Annotated[int, typer.Option(help="Port of the docs site.")] = 8080,
    browser: Annotated[
        bool, typer.Option("--browser/--no-browser", help="Open a web browser on it.")
    ] = False,
) -> None:
    """Serve the dbt docs site (generating it first if needed) until Ctrl-C."""
    from orchestration.assets.project import dbt_executable
    from orchestration.environment import ensure_home, load_settings
    from orchestration.processes import run_until_signalled
    from orchestration.runtime import export_dbt_env

    with refusals():
        s = load_settings()
        ensure_home(s)
        export_dbt_env(s)
    project = str(DBT_PROJECT_DIR)
    dbt = dbt_executable()
    target = ["--project-dir", project, "--profiles-dir", project, "--target", s.dbt_target]
    if not (DBT_PROJECT_DIR / "target" / "catalog.json").exists():
        code = subprocess.call([dbt, "docs", "generate", *target])
        if code != 0:
            raise typer.Exit(code)
    out.print(f"dbt docs on http://127.0.0.1:{port} (Ctrl-C stops it)")
    command = [dbt, "docs", "serve", *target, "--port", str(port)]
    raise typer.Exit(run_until_signalled([*command, "--browser" if browser else "--no-browser"]))


@app.command()
def ui(port: Annotated[int, typer.Option()] = 3000) -> None:
    """Start the Dagster UI (dagster dev) on this repo's workspace and Spyne's instance, until Ctrl-C."""
    from orchestration.dagster_instance import WORKSPACE_FILE, ensure_dagster_home
    from orchestration.environment import load_settings
    from orchestration.processes import run_until_signalled
    from orchestration.runtime import export_dbt_env

    with refusals():
        s = load_settings()
        export_dbt_env(s)
        ensure_dagster_home(s)
    bin_dir = Path(sys.prefix) / "bin"
    dagster = (
        str(bin_dir / "dagster")
        if (bin_dir / "dagster").exists()
        else (shutil.which("dagster") or "dagster")
    )
    # dagster dev runs from the repository so it finds workspace.yaml's module, and stops its
    # webserver, daemon and code server itself when it gets the signal we forward.
    raise typer.Exit(
        run_until_signalled([dagster, "dev", "-w", str(WORKSPACE_FILE), "-p", str(port)])
    )


if __name__ == "__main__":
    app()
