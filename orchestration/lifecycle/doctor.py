"""`spyne doctor`: compare the warehouse with the catalog, and make it follow the catalog.

The catalog is the source of truth. Every canonical view must show the catalog's ACTIVE
version (and only ACTIVE tables have one), every retained version must exist, and nothing
dropped or never registered may linger. Repair (an admin) makes the warehouse agree and
audits each fix; what cannot be fixed from the catalog (a lost version's data) is reported
with what to do.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from orchestration.catalog import Catalog
from orchestration.identity import Actor
from orchestration.lifecycle.access import Access
from orchestration.lifecycle.recovery import Recovery
from orchestration.warehouse import Warehouse, acting_as
from policies.lifecycle import TableState
from policies.naming import parse_table_ref
from policies.roles import Operation


@dataclass(frozen=True)
class Finding:
    kind: str
    table: str
    message: str
    repairable: bool
    expected: Any = None
    found: Any = None
    repaired: bool = False

    def to_dict(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "table": self.table,
            "message": self.message,
            "expected": self.expected,
            "found": self.found,
            "repairable": self.repairable,
            "repaired": self.repaired,
        }


class Doctor:
    def __init__(
        self, catalog: Catalog, warehouse: Warehouse, access: Access, recovery: Recovery
    ) -> None:
        self._catalog = catalog
        self._warehouse = warehouse
        self._access = access
        self._recovery = recovery

    def examine(self, actor: Actor) -> list[Finding]:
        self._access.require(actor, Operation.VIEW_SHADOW, "warehouse")
        with acting_as(actor.name):
            return self._findings()

    def _findings(self) -> list[Finding]:
        found: list[Finding] = []
        for intent in self._catalog.pending_intents():
            found.append(
                Finding(
                    "interrupted_act",
                    intent.table_name,
                    f"{intent.action} by {intent.actor} was interrupted (intent {intent.id})",
                    True,
                    found=intent.action,
                )
            )
        inventory = self._warehouse.inventory()
        known: set[str] = set()
        for table in self._catalog.list_tables():
            known.add(table.name)
            if table.state == TableState.READ_ONLY:
                continue
            found.extend(self._table_findings(table.name, inventory.views, inventory.versions))
        for name, versions in inventory.versions.items():
            if name not in known:
                found.append(
                    Finding(
                        "unregistered_version",
                        name,
                        f"version tables {versions} of a table the catalog does not know",
                        True,
                        found=versions,
                    )
                )
        for name in inventory.views:
            if name not in known:
                found.append(
                    Finding(
                        "unknown_view",
                        name,
                        "a canonical view of a table the catalog does not know; drop it by hand "
                        "if nothing else owns it",
                        False,
                    )
                )
        return found

    def _table_findings(
        self, name: str, views: dict[str, int | None], physical: dict[str, list[int]]
    ) -> list[Finding]:
        table = self._catalog.get_table(name)
        out: list[Finding] = []
        present = set(physical.get(name, []))
        registered = self._catalog.list_versions(name, include_dropped=True)
        want = table.visible_version
        have = views.get(name) if name in views else None
        if name in views and want is None:
            out.append(
                Finding(
                    "unexpected_view",
                    name,
                    f"{name} is {table.state.value} but has a canonical view (showing {_v(have)})",
                    True,
                    None,
                    have,
                )
            )
        elif want is not None and (name not in views or have != want):
            out.append(
                Finding(
                    "view_mismatch",
                    name,
                    f"the view shows {_v(have) if name in views else 'nothing (missing)'}, the catalog's ACTIVE version is v{want}",
                    want in present,
                    want,
                    have,
                )
            )
        for v in registered:
            if not v.dropped and v.version not in present:
                critical = v.version == table.active_version
                out.append(
                    Finding(
                        "missing_version",
                        name,
                        f"v{v.version} is in the catalog but its table is gone"
                        + (
                            "; it is the ACTIVE version: roll back to a retained version or rebuild"
                            if critical
                            else "; nothing can restore it from the catalog"
                        ),
                        False,
                        v.version,
                        None,
                    )
                )
            if v.dropped and v.version in present:
                out.append(
                    Finding(
                        "leftover_version",
                        name,
                        f"v{v.version} was dropped in the catalog but its table is still there",
                        True,
                        None,
                        v.version,
                    )
                )
        numbers = {v.version for v in registered}
        for number in sorted(present - numbers):
            out.append(
                Finding(
                    "unregistered_version",
                    name,
                    f"v{number} exists but was never registered (an interrupted build)",
                    True,
                    None,
                    number,
                )
            )
        return out

    def repair(self, actor: Actor) -> list[Finding]:
        """Fix every repairable finding (admin); each fix is audited."""
        self._access.require(actor, Operation.REPAIR, "warehouse")
        repaired: list[Finding] = []
        with self._warehouse.exclusive(), acting_as(actor.name):
            self._recovery.settle(actor.name)
            for finding in self._findings():
                if finding.repairable:
                    self._fix(finding)
                    self._catalog.audit(
                        actor.name,
                        "repair",
                        finding.table,
                        "allowed",
                        finding.to_dict(),
                        actor.launched_by,
                    )
                    finding = Finding(**{**finding.__dict__, "repaired": True})
                repaired.append(finding)
        return repaired

    def _fix(self, finding: Finding) -> None:
        ref = parse_table_ref(finding.table)
        if finding.kind in ("view_mismatch", "unexpected_view"):
            self._warehouse.point_view(ref, finding.expected)
        elif finding.kind in ("leftover_version",):
            self._warehouse.drop_version(ref, int(finding.found))
        elif finding.kind == "unregistered_version":
            versions = finding.found if isinstance(finding.found, list) else [finding.found]
            for version in versions:
                self._warehouse.drop_version(ref, int(version))


def _v(version: int | None) -> str:
    return "nothing" if version is None else f"v{version}"
