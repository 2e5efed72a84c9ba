"""`spyne demo`, `spyne sample`, `spyne docs`, `spyne ui`: the local tour and its tools."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from orchestration.cli.common import (
    actor,
    err_console,
    new_app,
    out,
    refusals,
    rich_console,
    runtime,
    styled,
    table,
)
from orchestration.environment import DBT_PROJECT_DIR

if TYPE_CHECKING:
    from orchestration.sources import SourceLocation

sample_app = new_app("The deterministic sample ERP source.")
docs_app = new_app("dbt docs site.")


def demo(
    rows: Annotated[
        int, typer.Option("--rows", min=10, help="Sale order lines in the sample source.")
    ] = 5000,
    seed: Annotated[int, typer.Option(help="Seed of the sample generator.")] = 42,
) -> None:
    """Spyne's main job: generate the sample ERP, ingest to bronze, build silver and gold, gate and publish."""
    import time

    started = time.monotonic()  # before loading Spyne and Dagster: "in all" means in all
    import orchestration.warehouse  # noqa: F401  (first: it orders SQLAlchemy before DuckDB)
    from orchestration.demo import run_demo
    from orchestration.demo_view import DemoDisplay, summary_table

    with refusals(), DemoDisplay(rich_console(err_console)) as display:
        report = run_demo(rows, seed, observer=display)
    total = time.monotonic() - started
    out.print(summary_table(report, total))
    out.print(
        styled(
            "warehouse: ",
            (report.warehouse, "bold"),
            f" (DuckDB)   source (READ_ONLY): {report.source}",
        )
    )
    out.print(
        f"done in {total:.1f}s; Dagster runs: {', '.join(report.run_ids)}; "
        f"dbt output: {report.log_path}"
    )
    if report.new_admin_key:
        out.print(
            "a first admin was created for this install; its key is in $SPYNE_HOME/admin.key:"
        )
        out.print(f"  export SPYNE_API_KEY={report.new_admin_key}")
    out.print(
        "open the UI:  .venv/bin/spyne ui   "
        "(then http://127.0.0.1:3000; the demo's runs are under their jobs)"
    )
    if not report.ok:
        raise typer.Exit(1)


@sample_app.command("generate")
def sample_generate(
    rows: Annotated[
        int, typer.Option("--rows", min=10, help="Sale order lines to generate.")
    ] = 5000,
    seed: Annotated[int, typer.Option(help="Random seed; the same seed gives the same data.")] = 42,
    path: Annotated[
        Path | None, typer.Option(help="Output DuckDB file (default: SPYNE_SOURCE_PATH).")
    ] = None,
    force: Annotated[
        bool, typer.Option("--force", help="Replace an existing source (engineer or admin).")
    ] = False,
    postgres: Annotated[
        str | None,
        typer.Option(
            "--postgres",
            metavar="URL",
            help="Write into this PostgreSQL database instead (default: SPYNE_SOURCE_URL).",
        ),
    ] = None,
) -> None:
    """Write the deterministic Odoo-shaped sample ERP database (an external, READ_ONLY source)."""
    from orchestration.sample.generator import generate, generate_postgres
    from orchestration.sources import PostgresSource
    from policies.roles import Operation

    with refusals():
        rt = runtime()
        rt.require(actor(rt), Operation.GENERATE_SAMPLE, "sample_source")
        target = sample_target(rt.source, path, postgres)
        if isinstance(target, PostgresSource):
            summary = generate_postgres(target, lines=rows, seed=seed, overwrite=force)
        else:
            summary = generate(target, lines=rows, seed=seed, overwrite=force)
    out.print(
        table(
            f"sample source {summary.path}",
            ["table", "rows"],
            [[name, f"{count:,}"] for name, count in summary.row_counts.items()],
        )
    )


@sample_app.command("advance")
def sample_advance(
    days: Annotated[int, typer.Option("--days", min=1, help="Business days to append.")] = 1,
    seed: Annotated[int, typer.Option(help="Random seed; the same seed gives the same days.")] = 42,
    path: Annotated[
        Path | None, typer.Option(help="The DuckDB source (default: SPYNE_SOURCE_PATH).")
    ] = None,
    postgres: Annotated[
        str | None,
        typer.Option(
            "--postgres",
            metavar="URL",
            help="Advance this PostgreSQL source instead (default: SPYNE_SOURCE_URL).",
        ),
    ] = None,
) -> None:
    """Move the sample ERP forward: new orders, updates, late rows and repeated rows, atomically."""
    from orchestration.sample.advance import advance
    from policies.roles import Operation

    with refusals():
        rt = runtime()
        rt.require(actor(rt), Operation.GENERATE_SAMPLE, "sample_source")
        summary = advance(sample_target(rt.source, path, postgres), days, seed)
    out.print(
        table(
            f"sample source {summary.source}: {summary.days[0]} to {summary.days[-1]}",
            ["change", "rows"],
            [
                ["new orders", f"{summary.new_orders:,}"],
                ["new order lines", f"{summary.new_lines:,}"],
                ["rows updated in place (later write_date)", f"{summary.updated_rows:,}"],
                ["late orders (written before the newest row held)", f"{summary.late_orders:,}"],
                ["order lines delivered twice", f"{summary.duplicated_lines:,}"],
            ],
        )
    )


def sample_target(
    configured: SourceLocation, path: Path | None, postgres: str | None
) -> SourceLocation:
    """--path or --postgres when given (not both), else the configured source."""
    from orchestration.sources import PostgresSource
    from policies.errors import ValidationFailed

    if path is not None and postgres is not None:
        raise ValidationFailed(
            "--path and --postgres name two different sources; pass one of them",
            details={"options": ["--path", "--postgres"]},
        )
    if postgres is not None:
        if not postgres.startswith("postgresql"):
            raise ValidationFailed(
                "--postgres takes a postgresql:// URL",
                details={"option": "--postgres"},
            )
        return PostgresSource(postgres)
    return path if path is not None else configured


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
