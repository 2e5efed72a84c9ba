"""Alerts from what the catalog's audit log records: gate verdicts and ingestion refusals.

The audit log is append-only with ids that only grow, so "everything after id N" is a cursor
that survives restarts and never skips an entry, whichever process wrote it (a CLI build, a
Dagster run). A failed gate opens a ``gate_failure`` alert for its table, a later passing gate
clears it; a refused ingest opens ``ingestion_refused`` for its table, a later landed version
clears it.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from orchestration.catalog.notifications import NewAlert
from policies.alerts import AlertKind, AlertSeverity
from policies.naming import Layer

if TYPE_CHECKING:
    from orchestration.alerts.service import Alerts
    from orchestration.catalog import AuditEntry, Catalog

GATE_ACTION = "gate_decision"
INGEST_ACTION = "ingest"
BUILD_ACTION = "build"
ACTIONS = (GATE_ACTION, INGEST_ACTION, BUILD_ACTION)
BATCH = 500


def _gate(entry: AuditEntry, alerts: Alerts) -> None:
    table = entry.target or "?"
    status = entry.details.get("status")
    version = entry.details.get("version")
    if status == "failed":
        alerts.raise_alert(
            NewAlert(
                AlertKind.GATE_FAILURE,
                AlertSeverity.WARNING,
                table,
                f"{table} v{version} failed its gates and was not published; see "
                f"`spyne tables history {table}` and its ge_gate check in the Dagster UI",
                {"table": table, "version": version, "gate": entry.details.get("details")},
            )
        )
    elif status == "passed":
        alerts.clear(AlertKind.GATE_FAILURE, table, f"{table} v{version} passed its gates")


def _ingest(entry: AuditEntry, alerts: Alerts) -> None:
    table = entry.target or "?"
    if entry.action == INGEST_ACTION and entry.outcome.value == "refused":
        alerts.raise_alert(
            NewAlert(
                AlertKind.INGESTION_REFUSED,
                AlertSeverity.WARNING,
                table,
                f"ingesting {table} was refused: {entry.details.get('message', 'see the audit')}",
                {"table": table, "actor": entry.actor, "refusal": entry.details},
            )
        )
    elif entry.action == BUILD_ACTION and table.startswith(f"{Layer.BRONZE.value}."):
        alerts.clear(AlertKind.INGESTION_REFUSED, table, f"{table} landed a new version")


def follow(catalog: Catalog, alerts: Alerts, cursor: int) -> tuple[int, int]:
    """Handle the audit entries after ``cursor``; returns (new cursor, entries handled)."""
    handled = 0
    while True:
        entries: Sequence[AuditEntry] = catalog.alert_facts.audit_after(cursor, ACTIONS, BATCH)
        for entry in entries:
            if entry.action == GATE_ACTION:
                _gate(entry, alerts)
            else:
                _ingest(entry, alerts)
            cursor = entry.id
        handled += len(entries)
        if len(entries) < BATCH:
            break
    alerts.deliver()
    return cursor, handled
