"""Source drift: each READ_ONLY source's live schema against the schema it is expected to have.

The live schema comes from the source's information schema (the DuckDB file, or PostgreSQL
through :mod:`orchestration.sources.schema`; no data is read). The expected schema comes from a
provider: by default :func:`expected_schemas`, the source's registered contract (its newest
version), and for a source without one the ACTIVE bronze version landed from it. Both sides are
compared by :func:`policies.drift.compare_schemas`, each in its own dialect. A contract's
``required`` is a promise about the data, held by the gates' not-null checks, not a constraint
the source's DDL must declare, so nullability is not compared against a contract. A source with
no expected schema yet (no contract, never landed) is reported, not judged.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from orchestration.catalog.notifications import NewAlert
from orchestration.sources import SourceLocation
from orchestration.sources.schema import source_columns, source_dialect
from policies.alerts import AlertKind, AlertSeverity
from policies.drift import ChangeKind, Column, DriftReport, DriftSeverity, compare_schemas
from policies.drift_lattice import DUCKDB
from policies.naming import Layer
from policies.source_drift import DriftResponse, respond

if TYPE_CHECKING:
    from orchestration.alerts.service import Alerts
    from orchestration.assets.project import BronzeTable
    from orchestration.catalog import Catalog
    from orchestration.runtime import Runtime
    from orchestration.warehouse import Warehouse

CONTRACT_DIALECT = DUCKDB  # contracts spell physical types as the sample ERP's DuckDB does


@dataclass(frozen=True)
class ExpectedSchema:
    columns: tuple[Column, ...]
    dialect: str  # the engine the expected types are spelled for
    origin: str  # what the source is held to, e.g. "bronze.res_partner v3 (ACTIVE)"
    nullability: bool = True  # False: a contract, whose `required` the gates hold instead
    contract: tuple[str, str] | None = None  # (id, version) when held to a contract
    owner: str | None = None  # the contract's owner, told about changes to accept


# (catalog, warehouse dialect, the bronze tables) -> expected schema per source table name
ExpectedSchemaProvider = Callable[
    ["Catalog", str, Sequence["BronzeTable"]], dict[str, ExpectedSchema]
]


def active_bronze_schemas(
    catalog: Catalog, dialect: str, bronze: Sequence[BronzeTable]
) -> dict[str, ExpectedSchema]:
    """Each source is expected to look like the ACTIVE bronze version landed from it."""
    active = catalog.alert_facts.active_schemas(Layer.BRONZE)
    out = {}
    for table in bronze:
        found = active.get(table.ref.canonical)
        if found is None:
            continue
        version, schema = found
        out[table.source_table] = ExpectedSchema(
            tuple(Column(str(c["name"]), str(c["data_type"]), bool(c["nullable"])) for c in schema),
            dialect,
            f"{table.ref.canonical} v{version} (ACTIVE)",
        )
    return out


def contract_schemas(
    catalog: Catalog, dialect: str, bronze: Sequence[BronzeTable]
) -> dict[str, ExpectedSchema]:
    """Each source is expected to look like its registered contract's newest version (the
    columns the registry keeps beside each version: nothing is parsed again)."""
    wanted = {b.source_table for b in bronze}
    out = {}
    for info in catalog.contracts.latest():
        source_table = str(info.summary.get("source_table") or info.table)
        if source_table not in wanted:
            continue
        out[source_table] = ExpectedSchema(
            tuple(
                Column(str(c["name"]), str(c["type"]), not bool(c["required"]))
                for c in info.columns
            ),
            CONTRACT_DIALECT,
            f"contract {info.contract_id} {info.version}",
            nullability=False,
            contract=(info.contract_id, info.version),
            owner=info.summary.get("owner"),
        )
    return out


def expected_schemas(
    catalog: Catalog, dialect: str, bronze: Sequence[BronzeTable]
) -> dict[str, ExpectedSchema]:
    """The registered contract where there is one, else the ACTIVE bronze version."""
    return {
        **active_bronze_schemas(catalog, dialect, bronze),
        **contract_schemas(catalog, dialect, bronze),
    }


def _aligned(want: ExpectedSchema, have: Sequence[Column]) -> tuple[Column, ...]:
    if want.nullability:
        return want.columns
    live = {c.name: c.nullable for c in have}
    return tuple(replace(c, nullable=live.get(c.name, c.nullable)) for c in want.columns)


@dataclass(frozen=True)
class SourceCheck:
    source: str  # "<system>.<table>"
    table: str  # the bronze table landed from it
    expected_from: str | None  # None: nothing to compare with yet
    report: DriftReport | None
    missing: bool = False  # the source table is gone
    # the registered contract (id, version) the source is held to, if any, and its owner
    contract: tuple[str, str] | None = None
    owner: str | None = None
    # dbt models reading the bronze table, and per changed column those whose SQL names it
    readers: Mapping[str, Sequence[str]] | None = None
    live: tuple[Column, ...] = ()  # the source's columns as read
    live_dialect: str = DUCKDB

    @property
    def severity(self) -> DriftSeverity:
        return self.report.severity if self.report is not None else DriftSeverity.NONE

    def fingerprint(self) -> str:
        changes = self.report.to_dict()["changes"] if self.report is not None else []
        blob = json.dumps([self.expected_from, self.missing, changes], sort_keys=True)
        return hashlib.sha256(blob.encode()).hexdigest()

    def to_dict(self) -> dict[str, Any]:
        return {
            "source": self.source,
            "table": self.table,
            "expected_from": self.expected_from,
            "missing": self.missing,
            "severity": self.severity.name if self.expected_from else None,
            "report": self.report.to_dict() if self.report is not None else None,
            "readers": dict(self.readers) if self.readers is not None else None,
            "contract": list(self.contract) if self.contract is not None else None,
            "owner": self.owner,
        }


def check_sources(
    warehouse: Warehouse,
    source: SourceLocation,
    bronze: Sequence[BronzeTable],
    expected: dict[str, ExpectedSchema],
    system: str,
) -> list[SourceCheck]:
    """Compare every source with its expected schema: one information-schema read in all (none
    when no source has an expected schema yet, as on a new install without a source)."""
    wanted = [b.source_table for b in bronze if b.source_table in expected]
    live = source_columns(warehouse, source, wanted)
    live_dialect = source_dialect(source)
    out = []
    for table in bronze:
        name = f"{system}.{table.source_table}"
        want = expected.get(table.source_table)
        if want is None:
            out.append(SourceCheck(name, table.ref.canonical, None, None))
            continue
        have = live.get(table.source_table)
        report = compare_schemas(
            _aligned(want, have or ()),
            have or (),
            dialect=want.dialect,
            candidate_dialect=live_dialect,
        )
        out.append(
            SourceCheck(
                name,
                table.ref.canonical,
                want.origin,
                report,
                have is None,
                want.contract,
                want.owner,
                live=tuple(have or ()),
                live_dialect=live_dialect,
            )
        )
    return out


def readers(
    manifest: Mapping[str, Any], table: BronzeTable, changed: Sequence[str]
) -> dict[str, list[str]]:
    """The dbt models reading ``table`` (manifest lineage) under ``"*"``, and for each changed
    column the ones whose SQL names it: where a migration has to look."""
    key = f"source.{manifest['metadata'].get('project_name', 'spyne')}.{table.ref.layer.value}"
    children = manifest.get("child_map", {}).get(f"{key}.{table.ref.name}", [])
    models = [manifest["nodes"][c] for c in children if c.startswith("model.")]
    out = {"*": sorted(m["name"] for m in models)}
    for column in changed:
        word = re.compile(rf"\b{re.escape(column)}\b", re.IGNORECASE)
        out[column] = sorted(m["name"] for m in models if word.search(m.get("raw_code") or ""))
    return out


def _changed_columns(report: DriftReport) -> list[str]:
    names: list[str] = []
    for change in report.changes:
        for name in (
            change.column,
            change.before if change.kind == ChangeKind.COLUMN_RENAMED else None,
        ):
            if name and change.severity > DriftSeverity.NONE and name not in names:
                names.append(name)
    return names


def check_install(rt: Runtime, provider: ExpectedSchemaProvider | None = None) -> list[SourceCheck]:
    """Every source of this install's dbt project against its expected schema (read-only), with
    the models that read each drifted one."""
    from orchestration.assets.project import SOURCE_SYSTEM, bronze_tables, manifest

    m = manifest()
    bronze = bronze_tables(m)
    by_name = {b.ref.canonical: b for b in bronze}
    expected = (provider or expected_schemas)(rt.catalog, rt.warehouse.dialect, bronze)
    if isinstance(rt.source, Path) and not rt.source.exists():
        expected = {}  # no source yet (a new install before `spyne sample generate`)
    checks = check_sources(rt.warehouse, rt.source, bronze, expected, SOURCE_SYSTEM)
    return [
        replace(c, readers=readers(m, by_name[c.table], _changed_columns(c.report)))
        if c.report is not None and c.severity > DriftSeverity.NONE
        else c
        for c in checks
    ]


_ALERT_SEVERITY = {
    DriftSeverity.ADDITIVE: AlertSeverity.INFO,
    DriftSeverity.WARNING: AlertSeverity.WARNING,
    DriftSeverity.BREAKING: AlertSeverity.CRITICAL,
}
_WHAT_TO_DO = {
    DriftSeverity.ADDITIVE: "nothing breaks; the next ingest lands the new columns",
    DriftSeverity.WARNING: "an engineer or admin reviews it before the next ingest is published",
    DriftSeverity.BREAKING: (
        "the next ingest of {table} will fail its schema_drift check and not be published: "
        "fix the source, or accept the change deliberately and update the models that read it"
    ),
}
# Against a registered contract (policies.source_drift says what each severity leads to).
_WHAT_TO_DO_CONTRACT = {
    DriftSeverity.ADDITIVE: "nothing breaks: the contract follows the source as its next minor "
    "version, registered automatically",
    DriftSeverity.WARNING: "{owner} (the contract's owner) reviews it; an engineer or admin "
    "accepts it as the contract's next minor version with `spyne drift accept {report}`, or the "
    "source is put back",
    DriftSeverity.BREAKING: "every table built from {source} is refused publication until "
    "{contract} has a new major version registered (describing the source as it is now), or the "
    "source is put back",
}


def drift_alert(check: SourceCheck, report_id: int | None = None) -> NewAlert:
    assert check.report is not None
    severity = check.report.severity
    what = "is gone" if check.missing else f"drifted: {check.report.summary()}"
    if check.contract is not None:
        todo = _WHAT_TO_DO_CONTRACT[severity].format(
            owner=check.owner or "the owner",
            report=report_id if report_id is not None else "REPORT_ID",
            source=check.source,
            contract=check.contract[0],
        )
    else:
        todo = _WHAT_TO_DO[severity].format(table=check.table)
    if check.readers and check.readers.get("*"):
        todo += "; models reading it: " + ", ".join(check.readers["*"])
    return NewAlert(
        AlertKind.DRIFT,
        _ALERT_SEVERITY[severity],
        check.source,
        f"source {check.source} {what} (expected: {check.expected_from})",
        {**check.to_dict(), "what_to_do": todo, "drift_report": report_id},
    )


# (check, its new drift report id) -> the contract version registered to follow the source
# (None: it could not be registered; the finding stays open and its alert says what to do)
Evolve = Callable[[SourceCheck, int], str | None]


def record_checks(
    catalog: Catalog,
    alerts: Alerts,
    checks: Sequence[SourceCheck],
    evolve: Evolve | None = None,
) -> None:
    """Keep each new finding, raise its alert (deduplicated); clear sources that agree again.

    With ``evolve``, an ADDITIVE finding against a contract is taken into the contract at once
    (a new minor version): its alert is closed naming the version, then the finding resolved.
    An open finding is taken in whenever it is seen, not only when first recorded, so a tick
    killed between recording and registering is finished by the next one; the finding is
    resolved last, so while anything is left to do it stays open."""
    for check in checks:
        if check.expected_from is None:
            continue
        if check.severity == DriftSeverity.NONE:
            reason = f"{check.source} matches {check.expected_from}"
            alerts.clear(AlertKind.DRIFT, check.source, reason)
            catalog.source_drift.resolve(check.source, alerts.actor, reason, alerts.launched_by)
            continue
        assert check.report is not None
        new = catalog.source_drift.record(
            check.source,
            check.expected_from,
            check.severity.name,
            check.fingerprint(),
            check.to_dict(),
            alerts.actor,
        )
        if new:
            # A different finding for the same source replaces the open alert with a new one.
            alerts.clear(AlertKind.DRIFT, check.source, "the drift changed")
        report_id = new if new is not None else _open_report_id(catalog, check.source)
        alerts.raise_alert(drift_alert(check, report_id))
        if (
            report_id is not None
            and evolve is not None
            and check.contract is not None
            and respond(check.severity) == DriftResponse.REGISTER_MINOR
        ):
            version = evolve(check, report_id)
            if version is None:
                continue
            reason = f"contract {check.contract[0]} {version} registered, following the source"
            alerts.clear(AlertKind.DRIFT, check.source, reason)
            catalog.source_drift.resolve(check.source, alerts.actor, reason, alerts.launched_by)
    alerts.deliver()


def _open_report_id(catalog: Catalog, source: str) -> int | None:
    return next((r.id for r in catalog.source_drift.open_reports() if r.source == source), None)
