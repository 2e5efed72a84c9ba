"""Write each gated table's suite into ``expectations/`` from its dbt node and tests."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

from orchestration.assets.project import gated_tables, node_for, tests_for
from orchestration.gates.suites import (
    load_suite,
    merge_suites,
    suite_from_dbt_node,
    suite_path,
    write_suite,
)


def write_suites(force: bool = False) -> Iterator[tuple[Path, bool]]:
    """(path, written) per gated table; existing suites are refreshed only with ``force``,
    keeping the expectations people wrote by hand."""
    for ref in gated_tables():
        path = suite_path(ref.layer.value, ref.name)
        if path.exists() and not force:
            yield path, False
            continue
        node = node_for(ref)
        generated = suite_from_dbt_node(node, tests_for(node["unique_id"]))
        existing = load_suite(ref.layer.value, ref.name) if path.exists() else None
        write_suite(
            ref.layer.value, ref.name, merge_suites(existing, generated) if existing else generated
        )
        yield path, True
