"""`spyne demo`, `spyne sample`, `spyne docs`, `spyne ui`: the local tour and its tools."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path
from typing import Annotated

import typer
from rich.text import Text

from orchestration.cli.common import (
    actor,
    err_console,
    new_app,
    out,
    refusals,
    runtime,
    styled,
    table,
)
from orchestration.environment import DBT_PROJECT_DIR, REPO_ROOT

sample_app = new_app("The deterministic sample ERP source.")
docs_app = new_app("dbt docs site.")


def demo(
    rows: Annotated[
        int, typer.Option("--rows", min=10, help="Sale order lines in the sample source.")
    ] = 5000,
    seed: Annotated[int, typer.Option(help="Seed of the sample generator.")] = 42,
) -> None:
    """Spyne's main job: generate the sample ERP, ingest to bronze, build silver and gold, gate and publish."""
    from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

    from orchestration.demo import run_demo

    with (
        refusals(),
        Progress(
            SpinnerColumn(),
            TextColumn("{task.description}"),
            TimeElapsedColumn(),
            console=err_console,
        ) as progress,
    ):
        task = progress.add_task("starting", total=None)
        report = run_demo(rows, seed, progress=lambda msg: progress.update(task, description=msg))
    result_rows: list[list[object]] = []
    for layer in report.layers:
        err_console.print(f"{layer.layer}: {layer.seconds:.1f}s")
        for name, count in sorted(layer.tables.items()):
            result_rows.append([layer.layer, name, f"{count:,}"])
        for name, why in sorted(layer.blocked.items()):
            result_rows.append([layer.layer, name, Text(f"blocked: {why}", style="red")])
    out.print(table("Spyne demo: ACTIVE tables per layer", ["layer", "table", "rows"], result_rows))
    out.print(
        styled(
            "warehouse: ",
            (report.warehouse, "bold"),
            f" (DuckDB)   source (READ_ONLY): {report.source}",
        )
    )
    out.print(
        f"done in {report.seconds:.1f}s; Dagster runs: {', '.join(report.run_ids)}; "
        f"dbt output: {report.log_path}"
    )
    if report.new_admin_key:
        out.print(
            "a first admin was created for this install; its key is in $SPYNE_HOME/admin.key:"
        )
        out.print(f"  export SPYNE_API_KEY={report.new_admin_key}")
    out.print("open the UI:  .venv/bin/spyne ui   (then http://127.0.0.1:3000)")
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
) -> None:
    """Write the deterministic Odoo-shaped sample ERP database (an external, READ_ONLY source)."""
    from orchestration.sample.generator import generate
    from policies.roles import Operation

    with refusals():
        rt = runtime()
        rt.require(actor(rt), Operation.GENERATE_SAMPLE, "sample_source")
        summary = generate(path or rt.source_path, lines=rows, seed=seed, overwrite=force)
    out.print(
        table(
            f"sample source {summary.path}",
            ["table", "rows"],
            [[name, f"{count:,}"] for name, count in summary.row_counts.items()],
        )
    )


@docs_app.command("generate")
def docs_generate() -> None:
    """Run `dbt docs generate` against this environment's warehouse."""
    from orchestration.environment import ensure_home, load_settings
    from orchestration.runtime import export_dbt_env

    with refusals():
        s = load_settings()
        ensure_home(s)
        export_dbt_env(s)
    dbt = shutil.which("dbt") or str(Path(sys.executable).parent / "dbt")
    code = subprocess.call(
        [
            dbt,
            "docs",
            "generate",
            "--project-dir",
            str(DBT_PROJECT_DIR),
            "--profiles-dir",
            str(DBT_PROJECT_DIR),
            "--target",
            s.dbt_target,
        ]
    )
    if code == 0:
        out.print(
            f"serve it with: {dbt} docs serve --project-dir {DBT_PROJECT_DIR} "
            f"--profiles-dir {DBT_PROJECT_DIR} --port 8080"
        )
    raise typer.Exit(code)


def ui(port: Annotated[int, typer.Option()] = 3000) -> None:
    """Start the Dagster UI on this repo's workspace.yaml (dagster dev)."""
    import os

    from orchestration.dagster_instance import ensure_dagster_home
    from orchestration.environment import load_settings
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
    os.execv(dagster, [dagster, "dev", "-w", str(REPO_ROOT / "workspace.yaml"), "-p", str(port)])
