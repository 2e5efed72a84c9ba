"""How long a `spyne` command takes from a cold process, against the libraries it cannot avoid.

Measures, alternating so that load on the machine hits every sample alike:
- `spyne tables list --json` and `spyne audit --limit 10 --json` on a fresh install with a few
  tables and audit entries (a temporary SPYNE_HOME with its own admin key);
- `python -c "import sqlalchemy, duckdb, typer, rich"`, the floor any CLI on this stack pays.
Prints a table and, as its last line, JSON with the medians and the ratios (goal: <= 1.5).
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

BASELINE = "import sqlalchemy, duckdb, typer, rich"
GOAL = 1.5


def _install(home: Path) -> dict[str, str]:
    """A small install: 6 tables with versions and an audit trail, and the admin's key."""
    env = {**os.environ, "SPYNE_HOME": str(home), "SPYNE_ENV": "local"}
    for var in ("SPYNE_CATALOG_URL", "SPYNE_WAREHOUSE_PATH", "SPYNE_API_KEY", "DAGSTER_HOME"):
        env.pop(var, None)
    script = """
from orchestration.identity import Actor, bootstrap_admin
from orchestration.install import init
from orchestration.runtime import build_runtime
from policies.modes import SystemMode
from policies.naming import Layer, TableRef

init()
rt = build_runtime()
principal, key = bootstrap_admin(rt.catalog, "bench")
admin = Actor(principal)
rt.service().set_mode(admin, SystemMode.INGESTION_READY, "bench")
for name in ("a", "b", "c", "d", "e", "f"):
    ref = TableRef(Layer.SILVER, name)
    version = rt.service().allocate_version(admin, ref)
    rt.warehouse.create_version(ref, version, "select range as id from range(10)")
    rt.service().register_build(admin, ref, version, None)
    rt.catalog.record_gate(ref.canonical, version, "passed", actor=admin.name)
    rt.service().promote(admin, ref.canonical)
print(key)
"""
    key = subprocess.run(
        [sys.executable, "-c", script], env=env, check=True, capture_output=True, text=True
    ).stdout.strip()
    return {**env, "SPYNE_API_KEY": key}


def _seconds(cmd: list[str], env: dict[str, str]) -> float:
    start = time.perf_counter()
    subprocess.run(cmd, env=env, check=True, stdout=subprocess.DEVNULL)
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeat", type=int, default=9)
    args = parser.parse_args()
    spyne = str(Path(sys.executable).parent / "spyne")
    commands = {
        "tables_list": [spyne, "tables", "list", "--json"],
        "audit_10": [spyne, "audit", "--limit", "10", "--json"],
        "baseline": [sys.executable, "-c", BASELINE],
    }
    with tempfile.TemporaryDirectory() as tmp:
        env = _install(Path(tmp) / "home")
        for cmd in commands.values():  # warm the file cache once
            _seconds(cmd, env)
        samples: dict[str, list[float]] = {name: [] for name in commands}
        for _ in range(args.repeat):
            for name, cmd in commands.items():
                samples[name].append(_seconds(cmd, env))
    medians = {name: statistics.median(values) for name, values in samples.items()}
    result = {
        "repeat": args.repeat,
        "tables_list_s": round(medians["tables_list"], 4),
        "audit_s": round(medians["audit_10"], 4),
        "baseline_s": round(medians["baseline"], 4),
        "tables_list_ratio": round(medians["tables_list"] / medians["baseline"], 3),
        "audit_ratio": round(medians["audit_10"] / medians["baseline"], 3),
        "goal_ratio_max": GOAL,
    }
    print(f"{'command':<40} {'median':>8} {'ratio':>6}")
    print(f"{'python -c ' + repr(BASELINE):<40} {medians['baseline']:8.3f} {1.0:6.2f}")
    print(
        f"{'spyne tables list --json':<40} {medians['tables_list']:8.3f} {result['tables_list_ratio']:6.2f}"
    )
    print(
        f"{'spyne audit --limit 10 --json':<40} {medians['audit_10']:8.3f} {result['audit_ratio']:6.2f}"
    )
    print(json.dumps(result))


if __name__ == "__main__":
    main()
