"""Bronze by contract: land the new batch with dlt, apply the contract's semantics, write a version.

For one contract, in this order:

1. Role and mode are checked (ingestion: engineer or admin, system mode INGESTION_READY).
2. dlt lands the rows after the table's cursor (its event-time column, minus a lag that admits
   late rows) into ``landing.<source table>`` (:mod:`orchestration.extraction.landing`).
3. The batches no registered version holds yet (:mod:`.ledger`) are read, each change once,
   and the contract's semantics (:mod:`.semantics_sql`) decide what enters: repeats inside the
   dedupe window dropped, the latest row per key for upsert, and with ``conflict_resolution:
   error`` a batch holding two different rows for one key and event time is refused, naming
   the keys, before anything is written. The processing-time column is stamped now.
4. The new version is the previous one plus what entered: an upsert is ``upsert_version`` (on
   DuckDB one segment and a merge view, on BigQuery a MERGE into a zero-copy clone), an append
   is ``create_version_from_rows`` onto the previous version (a copy on DuckDB, a clone plus a
   load job on BigQuery).
5. The catalog registers it (audited); the layer step then gates and publishes it as any build.

Killed anywhere before 5, the catalog holds no new version: the leftover is skipped by the next
build and the batches are read again, so nothing is lost and nothing counted twice.

Written once against the :class:`Warehouse` interface: the semantics run in the warehouse
(``staged_rows`` makes the batch readable there, ``select_arrow`` runs the plan), so on
BigQuery a load costs the batch, not the table. Landing and the ledger live in a DuckDB file:
the warehouse itself on DuckDB, a staging file under ``SPYNE_HOME`` beside BigQuery.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

import duckdb
import pyarrow as pa
from sqlglot import exp

from orchestration.catalog import Catalog, VersionInfo
from orchestration.extraction.landing import LandingReport, new_rows
from orchestration.extraction.resources import ExtractSpec
from orchestration.extraction.service import land_table
from orchestration.identity import Actor
from orchestration.ingestion import ledger
from orchestration.ingestion.semantics_sql import Semantics, plan_batch, refuse_conflicts
from orchestration.lifecycle.access import Access
from orchestration.lifecycle.builds import Builds
from orchestration.sources import SourceLocation, read_source_rows
from orchestration.warehouse import DuckDBWarehouse, VersionManifest, Warehouse, acting_as
from orchestration.warehouse.upserts import UpsertKeys
from policies.contracts import Contract, IngestMode, parse_contract
from policies.errors import NotFound, SpyneError
from policies.naming import Layer, TableRef
from policies.roles import Operation

MIN_LAG = timedelta(days=1)  # re-read at least a day behind the cursor: late rows still land
WARNING_ACTION = "ingest_warning"
VERSION_ACTION = "ingest_version"  # a version built by a contract
REFUSED_ACTION = Operation.INGEST.value  # a refused batch (opens the ingestion_refused alert)
_log = logging.getLogger(__name__)


def _utcnow() -> datetime:
    return datetime.now(UTC)


def extract_spec(contract: Contract) -> ExtractSpec:
    """The cursor is the event time; the lag is the dedupe window, at least a day."""
    s = contract.semantics
    lag = max(s.dedupe_window or MIN_LAG, MIN_LAG)
    return ExtractSpec(contract.source_table, s.event_time_column, lag)


def contract_for(catalog: Catalog, ref: TableRef) -> Contract:
    """The newest registered contract whose bronze table is ``ref``."""
    for info in catalog.contracts.latest():
        if info.table == ref.name:
            return parse_contract(info.document, f"{info.contract_id} {info.version}")
    raise NotFound(
        f"no ingestion contract is registered for {ref}; register one with `spyne contracts "
        f"register contracts/erp/{ref.name}.odcs.yaml` (or your own ODCS file)",
        details={"table": str(ref)},
    )


def contract_by_id(catalog: Catalog, contract_id: str) -> Contract:
    info = catalog.contracts.get(contract_id)
    return parse_contract(info.document, f"{info.contract_id} {info.version}")


@dataclass(frozen=True)
class BronzeBatch:
    """What one contract-driven build read and wrote."""

    contract: str
    version: int
    base_version: int | None
    batches: tuple[str, ...]  # landed batches this version added
    delivered: int  # rows of those batches that were new to landing
    accepted: int  # rows that entered bronze
    landing: LandingReport | None
    warnings: tuple[str, ...] = field(default=())

    @property
    def dropped(self) -> int:
        return self.delivered - self.accepted


def unsafe_warnings(contract: Contract) -> tuple[str, ...]:
    if not contract.semantics.unsafe_allow_processing_time:
        return ()
    return (
        f"contract {contract.id} sets unsafe_allow_processing_time: a column defaults to the "
        "current time at the source, so re-delivered rows can look new; ingested anyway",
        *contract.warnings,
    )


def missing_event_time_warning(contract: Contract, rows: int) -> tuple[str, ...]:
    if rows == 0:
        return ()
    column = contract.semantics.event_time_column
    return (
        f"{rows} rows of the source table {contract.source_table} have no {column}, the event "
        f"time contract {contract.id} requires: incremental loads cannot see them, so they are "
        f"not in bronze; give them their {column} at the source",
    )


class BronzeIngest:
    """Contract-driven builds of bronze versions on the DuckDB warehouse."""

    def __init__(
        self,
        catalog: Catalog,
        warehouse: Warehouse,
        source: SourceLocation,
        pipelines_dir: Path,
        clock: Callable[[], datetime] = _utcnow,
        landing: DuckDBWarehouse | None = None,
    ) -> None:
        """``landing``: where dlt lands and the ledger lives; the warehouse itself on DuckDB."""
        if landing is None:
            if not isinstance(warehouse, DuckDBWarehouse):
                raise TypeError("a warehouse other than DuckDB needs a landing file")
            landing = warehouse
        self.catalog = self._catalog = catalog
        self.warehouse = self._warehouse = warehouse
        self.landing = self._landing = landing
        self.source = self._source = source
        self._pipelines_dir = pipelines_dir
        self._clock = clock
        self._access = Access(catalog)
        self.builds = Builds(catalog, warehouse, self._access)

    def ingest(
        self, actor: Actor, contract: Contract, run_id: str | None
    ) -> tuple[VersionInfo, VersionManifest, BronzeBatch]:
        """Land the contract's new rows and build the next bronze version from them."""
        ref = TableRef(Layer.BRONZE, contract.table)
        self._access.require(actor, Operation.INGEST, ref.canonical)
        warnings = self.warn(actor, ref, contract)
        spec = extract_spec(contract)
        landed = land_table(
            self._catalog, actor, self._source, spec, self._landing.path, self._pipelines_dir
        )
        with self._warehouse.exclusive(), self._landing.hold(), acting_as(actor.name):
            base, pending = self._pending(ref, spec)
            with self._landing.connect() as con:
                rows = _changes(con, spec, pending)
            through = pending[-1] if pending else (base.through_batch if base else None)
            info, manifest, delivered, accepted = self.write(
                actor, ref, contract, rows, run_id, base, through, len(pending)
            )
        batch = BronzeBatch(
            contract.id,
            info.version,
            None if base is None else base.version,
            pending,
            delivered,
            accepted,
            landed,
            warnings,
        )
        return info, manifest, batch

    def warn(self, actor: Actor, ref: TableRef, contract: Contract) -> tuple[str, ...]:
        """Log and audit what the contract was let through with (unsafe processing time), and
        the source rows it cannot load (no event time: the incremental cursor never sees them)."""
        missing = read_source_rows(
            self._source,
            contract.source_table,
            where=exp.column(contract.semantics.event_time_column).is_(exp.null()),
        ).num_rows
        warnings = unsafe_warnings(contract) + missing_event_time_warning(contract, missing)
        for w in warnings:
            _log.warning(w)
        if warnings:
            self._catalog.audit(
                actor.name,
                WARNING_ACTION,
                ref.canonical,
                "recorded",
                {"contract": contract.id, "version": contract.version, "warnings": list(warnings)},
                actor.launched_by,
            )
        return warnings

    def base(self, ref: TableRef) -> ledger.LedgerEntry | None:
        """The newest registered, undropped version built from landing."""
        try:
            registered = {v.version for v in self._catalog.list_versions(ref.canonical)}
        except NotFound:  # never built: the catalog does not know the table yet
            return None
        with self._landing.connect() as con:
            entry = ledger.base_entry(con, ref.canonical, registered)
        if entry is not None and not self._warehouse.version_exists(ref, entry.version):
            return None  # its rows are gone: build again from everything landed
        return entry

    def _pending(
        self, ref: TableRef, spec: ExtractSpec
    ) -> tuple[ledger.LedgerEntry | None, tuple[str, ...]]:
        base = self.base(ref)
        with self._landing.connect() as con:
            return base, ledger.pending_batches(con, spec.table, base)

    def write(
        self,
        actor: Actor,
        ref: TableRef,
        contract: Contract,
        rows: pa.Table | None,
        run_id: str | None,
        base: ledger.LedgerEntry | None,
        through: str | None,
        added: int,
    ) -> tuple[VersionInfo, VersionManifest, int, int]:
        """Version N = the base + ``rows`` by the contract's semantics; registered, audited.

        Returns the version, its manifest, the rows delivered and the rows that entered.
        Refuses (nothing written) when the contract says a conflict is an error.
        """
        s = Semantics.of(contract)
        base_version = None if base is None else base.version
        previous = None if base_version is None else version_table(ref, base_version)
        about = {
            "contract": contract.id,
            "contract_version": contract.version,
            "base": base_version,
        }
        try:
            accepted, delivered = _accepted(self._warehouse, ref, s, rows, previous, self._clock())
        except SpyneError as err:
            self._catalog.audit(
                actor.name,
                REFUSED_ACTION,
                ref.canonical,
                "refused",
                {**about, **err.to_dict()},
                actor.launched_by,
            )
            raise
        version = self.builds.allocate_version(actor, ref)
        with self._landing.connect() as con:
            ledger.record(
                con, ledger.LedgerEntry(ref.canonical, version, base_version, through, added)
            )
        if s.mode is IngestMode.UPSERT:
            self._warehouse.upsert_version(
                ref,
                version,
                accepted,
                keys=UpsertKeys(s.key, s.event_time),
                base_version=base_version,
            )
        else:
            self._warehouse.create_version_from_rows(
                ref, version, accepted, base_version=base_version
            )
        info, manifest = self.builds.register_build(actor, ref, version, run_id)
        self._catalog.audit(
            actor.name,
            VERSION_ACTION,
            ref.canonical,
            "recorded",
            {
                **about,
                "version": version,
                "through_batch": through,
                "batches": added,
                "rows_delivered": delivered,
                "rows_accepted": accepted.num_rows,
                "run_id": run_id,
            },
            actor.launched_by,
        )
        return info, manifest, delivered, accepted.num_rows


def version_table(ref: TableRef, version: int) -> exp.Table:
    return exp.table_(ref.version_identifier(version), db=ref.shadow_schema, quoted=True)


def _changes(
    con: duckdb.DuckDBPyConnection, spec: ExtractSpec, batches: Sequence[str]
) -> pa.Table | None:
    """Each landed batch's rows that no earlier batch landed, oldest batch first."""
    parts = [new_rows(con, spec.table, spec, (b,)) for b in batches]
    return pa.concat_tables(parts, promote_options="default") if parts else None


def _accepted(
    warehouse: Warehouse,
    ref: TableRef,
    s: Semantics,
    rows: pa.Table | None,
    previous: exp.Table | None,
    loaded_at: datetime,
) -> tuple[pa.Table, int]:
    """The rows that enter bronze (stamped ``loaded_at``), and how many were delivered.

    The contract's semantics run in the warehouse, in its dialect, against the batch and the
    previous version; only the accepted rows (at most the batch) come back.
    """
    if rows is None and previous is None:
        raise NotFound(
            f"nothing was landed for contract {s.contract_id} yet: the source table is "
            "empty or unreachable; load it again once it holds rows",
            details={"contract": s.contract_id},
        )
    with _batch(warehouse, ref, s, rows, previous) as batch:
        plan = plan_batch(s, batch, previous, loaded_at)
        if plan.conflicts is not None:
            found = warehouse.select_arrow(plan.conflicts, table=ref)
            refuse_conflicts(s, [tuple(r.values()) for r in found.to_pylist()])
        accepted = warehouse.select_arrow(plan.accepted, table=ref)
    return accepted, 0 if rows is None else rows.num_rows


@contextmanager
def _batch(
    warehouse: Warehouse,
    ref: TableRef,
    s: Semantics,
    rows: pa.Table | None,
    previous: exp.Table | None,
) -> Iterator[exp.Table | exp.Subquery]:
    """The batch as a relation of the warehouse; nothing new: no rows, typed as the previous
    (so a load with nothing new sends no batch)."""
    if rows is not None and (rows.num_rows > 0 or previous is None):
        with warehouse.staged_rows(ref, rows) as staged:
            yield staged
        return
    assert previous is not None
    empty = (
        exp.select(*[exp.column(c, quoted=True) for c in s.columns])
        .from_(previous.copy())
        .where(exp.false())
    )
    yield empty.subquery("b_empty")
