"""Settle interrupted acts: make the warehouse agree with the catalog, then close the intent.

The catalog is the source of truth. An intent still pending means its act was interrupted
before the catalog change committed (they commit together), so the catalog still describes
the state before the act: the canonical view is put back on what the catalog says and the
intent closes as undone. A janitor drop is the exception: dropping cannot be undone, so an
interrupted drop is finished. Every settlement is audited.
"""

from __future__ import annotations

from dataclasses import dataclass

from orchestration.catalog import Catalog, IntentInfo, IntentStatus
from orchestration.warehouse import Warehouse, acting_as

RECOVERY_ACTOR = "system:recovery"
DROP_VERSION = "drop_version"


@dataclass(frozen=True)
class Settled:
    intent: IntentInfo
    status: IntentStatus
    note: str


class Recovery:
    def __init__(self, catalog: Catalog, warehouse: Warehouse) -> None:
        self._catalog = catalog
        self._warehouse = warehouse

    def settle(self, launched_by: str | None = None, table: str | None = None) -> list[Settled]:
        """Settle every pending intent (of ``table``); cheap when there is none (one lookup)."""
        if not self._catalog.any_pending_intent():
            return []
        with self._warehouse.exclusive(), acting_as(RECOVERY_ACTOR):
            # Under the lock, no act is running anywhere: what is pending was interrupted.
            return [
                self._settle_one(intent, launched_by)
                for intent in self._catalog.pending_intents(table)
            ]

    def _settle_one(self, intent: IntentInfo, launched_by: str | None) -> Settled:
        table = self._catalog.get_table(intent.table_name)
        ref = table.ref
        if intent.action == DROP_VERSION and intent.from_version is not None:
            version = self._catalog.get_version(table.name, intent.from_version)
            if not version.dropped:
                self._warehouse.drop_version(ref, intent.from_version)
                self._catalog.mark_dropped(table.name, intent.from_version)
            status = IntentStatus.DONE
            note = f"interrupted drop of v{intent.from_version} finished"
        else:
            want = table.visible_version
            have = self._warehouse.view_version(ref)
            if have != want:
                self._warehouse.point_view(ref, want)
            status = IntentStatus.UNDONE
            note = (
                f"interrupted {intent.action} undone: the view showed {_v(have)}, the catalog "
                f"says {_v(want)}; the view shows {_v(want)}"
            )
        self._catalog.settle_intent(intent, status, note, RECOVERY_ACTOR, launched_by)
        return Settled(intent, status, note)


def _v(version: int | None) -> str:
    return "nothing" if version is None else f"v{version}"
