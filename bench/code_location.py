"""Loading Spyne's code location vs a plain `@dbt_assets` location, as the dbt project grows.

For each size, a synthetic copy of the dbt project (bench/synthetic_project.py: N silver models
over the sample's bronze sources, N/5 gold models) is parsed by dbt, then loaded by
`dagster definitions validate` twice over the same manifest: Spyne's code location (pointed at
the copy with SPYNE_DBT_PROJECT_DIR) and a location that is nothing but one `@dbt_assets` over
every model. Every timing is a fresh process; the two locations alternate so that load on the
machine hits both alike; medians. Last line: JSON with the sizes, timings and Spyne/plain ratio.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:  # `python bench/code_location.py` as well as `python -m bench...`
    sys.path.insert(0, str(REPO))

from bench.synthetic_project import write_synthetic_project  # noqa: E402

BIN = Path(sys.executable).parent
RATIO_GOAL = 1.2
LOAD_GOAL_S = 10.0

PLAIN_LOCATION = '''
"""The baseline: one @dbt_assets over every model of the same manifest, nothing else."""
import os
from pathlib import Path

from dagster import AssetExecutionContext, Definitions
from dagster_dbt import DbtCliResource, DbtProject, dbt_assets

project = DbtProject(project_dir=Path(os.environ["SPYNE_DBT_PROJECT_DIR"]), target="local")


@dbt_assets(manifest=project.manifest_path, project=project)
def dbt_models(context: AssetExecutionContext, dbt: DbtCliResource):
    yield from dbt.cli(["build"], context=context).stream()


defs = Definitions(
    assets=[dbt_models],
    resources={"dbt": DbtCliResource(project_dir=project, dbt_executable=os.environ["DBT_EXE"])},
)
'''


def timed(cmd: list[str], env: dict[str, str], cwd: Path) -> float:
    t0 = time.perf_counter()
    done = subprocess.run(cmd, env=env, cwd=cwd, capture_output=True, text=True)
    seconds = time.perf_counter() - t0
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(cmd)} failed:\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}")
    return seconds


def measure(added: int, repeat: int, root: Path) -> dict[str, Any]:
    made = write_synthetic_project(root / f"models_{added}", added)
    home = made.root / "home"
    (home / "dagster").mkdir(parents=True)
    (home / "dagster" / "dagster.yaml").write_text("telemetry:\n  enabled: false\n")
    env = {
        **os.environ,
        **made.environ(),
        "SPYNE_ENV": "local",
        "SPYNE_HOME": str(home),
        "SPYNE_WAREHOUSE_PATH": str(home / "warehouse.duckdb"),
        "DAGSTER_HOME": str(home / "dagster"),
        "DBT_EXE": str(BIN / "dbt"),
        "PATH": f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}",
        "DBT_SEND_ANONYMOUS_USAGE_STATS": "false",
    }
    plain = made.root / "plain_location.py"
    plain.write_text(PLAIN_LOCATION)
    project = str(made.dbt_project_dir)
    parse = [
        str(BIN / "dbt"),
        "parse",
        "--no-partial-parse",
        "--quiet",
        "--project-dir",
        project,
        "--profiles-dir",
        project,
        "--target",
        "local",
    ]
    validate = [str(BIN / "dagster"), "definitions", "validate"]
    spyne_cmd = [*validate, "-m", "orchestration.definitions", "-a", "defs"]
    plain_cmd = [*validate, "-f", str(plain)]

    parse_s = [timed(parse, env, REPO) for _ in range(repeat)]
    spyne_s: list[float] = []
    plain_s: list[float] = []
    for _ in range(repeat):
        spyne_s.append(timed(spyne_cmd, env, REPO))
        plain_s.append(timed(plain_cmd, env, REPO))

    manifest = json.loads((made.dbt_project_dir / "target" / "manifest.json").read_text())
    kinds = [n["resource_type"] for n in manifest["nodes"].values()]
    spyne, base = statistics.median(spyne_s), statistics.median(plain_s)
    return {
        "added_models": made.added_models,
        "models": kinds.count("model"),
        "tests": kinds.count("test"),
        "dbt_parse_s": round(statistics.median(parse_s), 2),
        "spyne_load_s": round(spyne, 2),
        "plain_load_s": round(base, 2),
        "ratio": round(spyne / base, 3),
        "samples": {
            "spyne": [round(s, 2) for s in spyne_s],
            "plain": [round(s, 2) for s in plain_s],
        },
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument(
        "--models",
        default="100,300,1000",
        help="Synthetic silver models per size, comma-separated.",
    )
    parser.add_argument("--repeat", type=int, default=3, help="Fresh processes per timing.")
    args = parser.parse_args()
    sizes = [int(s) for s in args.models.split(",") if s.strip()]

    rows = []
    with tempfile.TemporaryDirectory(prefix="spyne-bench-") as tmp:
        for added in sizes:
            row = measure(added, args.repeat, Path(tmp))
            rows.append(row)
            print(
                f"+{row['added_models']:>5} models ({row['models']} models, {row['tests']} tests): "
                f"dbt parse {row['dbt_parse_s']:.1f}s  Spyne {row['spyne_load_s']:.1f}s  "
                f"plain @dbt_assets {row['plain_load_s']:.1f}s  Spyne/plain {row['ratio']:.2f}",
                flush=True,
            )
    worst = max(r["ratio"] for r in rows)
    largest = max(rows, key=lambda r: r["added_models"])
    print(
        json.dumps(
            {
                "sizes": rows,
                "max_ratio": worst,
                "ratio_goal": RATIO_GOAL,
                "largest_spyne_load_s": largest["spyne_load_s"],
                "load_goal_s": LOAD_GOAL_S,
                "cpus": os.cpu_count(),
            }
        )
    )


if __name__ == "__main__":
    main()
