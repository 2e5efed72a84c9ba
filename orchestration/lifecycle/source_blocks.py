"""Facts for the source-drift block on publishing: which sources a table is built from (the dbt
manifest's lineage), which of them broke their contract, and the contracts' newest versions.

The rule itself is :func:`policies.source_drift.decide_source_blocks`. Nothing is read beyond
one catalog query unless a BREAKING drift report is open.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from policies.decisions import Decision
from policies.drift import ChangeKind, DriftSeverity, SchemaChange
from policies.source_drift import SourceBlock, decide_source_blocks

if TYPE_CHECKING:
    from orchestration.catalog import Catalog

BREAKING = "BREAKING"


def upstream_sources(table: str, m: Mapping[str, Any]) -> list[str]:
    """The READ_ONLY sources (``<system>.<table>``) that ``table`` is built from."""
    from orchestration.assets.project import SOURCE_SYSTEM, bronze_tables, node_for
    from policies.naming import parse_table_ref

    ref = parse_table_ref(table)
    for b in bronze_tables(m):
        if b.ref == ref:
            return [f"{SOURCE_SYSTEM}.{b.source_table}"]
    try:
        start = str(node_for(ref, m)["unique_id"])
    except Exception:  # not a model of this project: built from no known source
        return []
    parents: Mapping[str, list[str]] = m.get("parent_map", {})
    found: set[str] = set()
    seen: set[str] = set()
    stack = [start]
    while stack:
        for parent in parents.get(stack.pop(), []):
            if parent in seen:
                continue
            seen.add(parent)
            if parent.startswith("source."):
                source = m["sources"][parent]
                spyne = (source.get("meta") or {}).get("spyne") or {}
                found.add(str(spyne.get("source") or f"{SOURCE_SYSTEM}.{source['name']}"))
            else:
                stack.append(parent)
    return sorted(found)


def open_blocks(catalog: Catalog) -> dict[str, SourceBlock]:
    """Each source's open BREAKING drift against a contract."""
    out = {}
    for r in catalog.source_drift.open_reports():
        contract = r.report.get("contract")
        if r.severity != BREAKING or not contract:
            continue
        changes = [
            SchemaChange(
                ChangeKind(c["kind"]),
                c["column"],
                c["before"],
                c["after"],
                DriftSeverity[c["severity"]],
            ).describe()
            for c in (r.report.get("report") or {}).get("changes", [])
            if c.get("severity") == BREAKING
        ]
        if r.report.get("missing"):
            changes = ["the source table is gone"]
        out[r.source] = SourceBlock(r.id, r.source, contract[0], contract[1], tuple(changes))
    return out


def source_block_decision(catalog: Catalog, table: str, version: int) -> Decision:
    blocks = open_blocks(catalog)
    if not blocks:
        return Decision.allow()
    from orchestration.assets.project import manifest

    newest = {c.contract_id: c.version for c in catalog.contracts.latest()}
    return decide_source_blocks(table, version, upstream_sources(table, manifest()), blocks, newest)
