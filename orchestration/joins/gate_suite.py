"""An accepted join's gate suite, written with its dbt files.

A join version is a table of the joins layer like any other: its build is gated before it is
published. The suite is derived from the same version entry the yml holds (its columns and
their tests), exactly as ``spyne gates generate`` derives it from the manifest, so acceptance
needs no dbt parse. It is written before the yml (the acceptance's commit point): a version
dbt knows always has its suite, and an interrupted acceptance's suite is removed with its SQL.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from orchestration.environment import EXPECTATIONS_DIR
from policies.naming import Layer

if TYPE_CHECKING:
    from great_expectations.core.expectation_suite import ExpectationSuite

LAYER = Layer.JOINS.value


def table_of(model: str, version: int) -> str:
    """The version's table (a dbt model version's relation is its alias, ``<model>_v<N>``)."""
    return f"{model}_v{version}"


def suite_file(model: str, version: int, root: Path | None = None) -> Path:
    from orchestration.gates.suites import suite_path

    return suite_path(LAYER, table_of(model, version), root=root or EXPECTATIONS_DIR)


def node_of(model: str, entry: dict[str, Any]) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """The yml's version entry as the manifest would show it: the node and its model tests."""
    version = int(entry["v"])
    columns = {str(c["name"]): dict(c) for c in entry.get("columns") or []}
    node = {
        "name": model,
        "resource_type": "model",
        "fqn": ["spyne", LAYER, model, f"v{version}"],
        "unique_id": f"model.spyne.{model}.v{version}",
        "columns": columns,
    }
    tests = []
    for test in entry.get("data_tests") or []:
        name, args = (test, {}) if isinstance(test, str) else next(iter(dict(test).items()))
        tests.append({"name": str(name), "test_metadata": {"name": str(name), "kwargs": args}})
    return node, tests


def suite_for(model: str, entry: dict[str, Any]) -> ExpectationSuite:
    from orchestration.gates.suites import suite_from_dbt_node

    node, tests = node_of(model, entry)
    return suite_from_dbt_node(node, tests)


def write(model: str, entry: dict[str, Any], root: Path | None = None) -> Path:
    """Write the version's suite; expectations a person added to an existing file are kept."""
    from orchestration.gates.suites import load_suite, merge_suites, write_suite

    table = table_of(model, int(entry["v"]))
    root = root or EXPECTATIONS_DIR
    existing = load_suite(LAYER, table, root=root)
    return write_suite(LAYER, table, merge_suites(existing, suite_for(model, entry)), root=root)


def leftovers(root: Path | None = None) -> list[Path]:
    """Temporary files an interrupted suite write left in the joins layer's suites."""
    folder = (root or EXPECTATIONS_DIR) / LAYER
    return sorted(folder.glob(".jn_*.json.*")) if folder.exists() else []
