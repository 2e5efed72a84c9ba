"""`spyne contracts diff`: two registered versions of a contract, compared, with a migration guide.

The comparison is :mod:`policies.contract_diff`; this gathers the facts: both versions from the
registry, and from the dbt manifest's lineage the models that read the contract's bronze table,
each changed column mapped to the models whose SQL names it (the ones to edit), and every model
downstream of the table (the ones to rebuild and check).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from policies.contract_diff import ALL_MODELS, ContractChange, GuideStep, migration_guide
from policies.contract_diff import diff_contracts as compare
from policies.drift import DriftSeverity

if TYPE_CHECKING:
    from orchestration.catalog import Catalog


@dataclass(frozen=True)
class ContractDiff:
    contract: str
    table: str
    from_version: str
    to_version: str
    severity: DriftSeverity
    changes: tuple[ContractChange, ...]
    guide: tuple[GuideStep, ...]
    downstream: tuple[str, ...]  # every dbt model built from the table, directly or not

    def to_dict(self) -> dict[str, Any]:
        return {
            "contract": self.contract,
            "table": self.table,
            "from": self.from_version,
            "to": self.to_version,
            "severity": self.severity.name,
            "changes": [c.to_dict() for c in self.changes],
            "migration_guide": [s.to_dict() for s in self.guide],
            "downstream_models": list(self.downstream),
        }


def downstream_models(manifest: dict[str, Any], table: str) -> list[str]:
    """Every model built from bronze ``table``, through any number of models."""
    children = manifest.get("child_map", {})
    project = manifest["metadata"].get("project_name", "spyne")
    stack = [f"source.{project}.bronze.{table}"]
    seen: set[str] = set()
    while stack:
        for child in children.get(stack.pop(), []):
            if child.startswith("model.") and child not in seen:
                seen.add(child)
                stack.append(child)
    return sorted(str(manifest["nodes"][c]["name"]) for c in seen)


def diff_versions(
    catalog: Catalog, contract: str, from_version: str, to_version: str
) -> ContractDiff:
    from orchestration.assets.project import bronze_tables, manifest
    from orchestration.sensors.source_drift import readers

    before = catalog.contracts.get(contract, from_version)
    after = catalog.contracts.get(contract, to_version)
    old, new = catalog.contracts.registered(contract, from_version, to_version)
    severity, changes = compare(old.columns, new.columns, old.summary, new.summary)
    m = manifest()
    bronze = next((b for b in bronze_tables(m) if b.ref.name == after.table), None)
    columns = sorted({c for change in changes for c in change.columns})
    read: dict[str, list[str]] = readers(m, bronze, columns) if bronze else {ALL_MODELS: []}
    return ContractDiff(
        contract,
        f"bronze.{after.table}",
        before.version,
        after.version,
        severity,
        changes,
        migration_guide(changes, read),
        tuple(downstream_models(dict(m), after.table)),
    )
