"""The production warehouse (BigQuery): the same lifecycle as DuckDB, in datasets.

Versions live in the dataset ``<layer>__shadow``, canonical views in ``<layer>``, both created
on first write in the configured location. The swap is one ``CREATE OR REPLACE VIEW`` (atomic,
no data touched) whose column list and OPTIONS carry the version's descriptions. A version
built on a previous one starts as a zero-copy ``CLONE``. Manifests are computed in BigQuery:
the row count and content hash come back as one row, the rows never leave the warehouse.

Every statement comes from :mod:`orchestration.warehouse.statements`; every query is dry-run,
capped and labelled by :mod:`orchestration.warehouse.bigquery_jobs`. Descriptions are table
metadata, read with ``tables.get`` (free, no job). Acts are made exclusive by the catalog-held
lock of :mod:`orchestration.warehouse.act_lock`.
"""

from __future__ import annotations

import io
import threading
from collections.abc import Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager, nullcontext
from pathlib import Path
from typing import TYPE_CHECKING

import sqlglot
from google.api_core import exceptions as google_errors
from sqlglot import exp

from orchestration.warehouse.act_lock import ActLock, catalog_act_lock
from orchestration.warehouse.bigquery_jobs import BigQueryClient, Jobs, job_labels
from orchestration.warehouse.interface import (
    CostEstimate,
    Descriptions,
    JoinSide,
    QueryResult,
    RowEstimate,
    VersionManifest,
    WarehouseInventory,
    manifest_of,
)
from orchestration.warehouse.profiling import ProfileStatements, join_stats, profile_table
from orchestration.warehouse.reading import (
    inventory_of,
    read_only_select,
    version_in_view_sql,
    versions_by_table,
)
from orchestration.warehouse.statements import Dialect, Statements
from policies.drift import Column
from policies.errors import ConfigError, InvalidTransition, NotFound
from policies.joins.profiles import TableProfile
from policies.joins.risk import JoinStats
from policies.naming import Layer, TableRef, shadow_schema
from policies.settings import SpyneSettings, WarehouseKind

if TYPE_CHECKING:
    import pyarrow as pa
    import sqlalchemy as sa

    from orchestration.sources import SourceLocation
    from orchestration.warehouse.upserts import UpsertKeys

STAGED_PREFIX = "_spyne_staged__"  # a batch loaded for the queries of one ingestion
DATASETS = tuple(s for layer in Layer for s in (layer.value, shadow_schema(layer)))


class BigQueryWarehouse:
    kind = WarehouseKind.BIGQUERY
    dialect = Dialect.BIGQUERY.value

    def __init__(
        self,
        client: BigQueryClient,
        *,
        project: str,
        location: str,
        max_bytes: int,
        lock: ActLock,
    ) -> None:
        self.project = project
        self.region = location
        self.statements = Statements(Dialect.BIGQUERY, project=project, region=location)
        self.jobs = Jobs(client, location=location, max_bytes=max_bytes)
        self._client = client
        self._lock = lock
        self._datasets: set[str] = set()
        self._datasets_guard = threading.Lock()

    @property
    def path(self) -> Path | None:
        return None

    @property
    def location(self) -> str:
        return f"bigquery://{self.project} ({self.region})"

    def exists(self) -> bool:
        """Always: a project has no file to lose.

        Datasets are created on first write, and a version the catalog lists but BigQuery
        lacks is a `spyne doctor` finding, not a reason to refuse to start.
        """
        return True

    def create(self) -> bool:
        """Create the layer and shadow datasets that are missing; True if any was."""
        rows = self._run(self.statements.list_datasets(), "list_datasets", scans_data=True)
        present = {str(name) for (name,) in rows}
        wanted = [s for s in DATASETS if s not in present]
        for dataset in wanted:
            self._ensure_dataset(dataset, force=True)
        return bool(wanted)

    # -- holding the warehouse -------------------------------------------------------------
    def exclusive(self) -> AbstractContextManager[None]:
        """Hold the act lock in the catalog (see :mod:`act_lock`): BigQuery has none of its own.

        While it is held no other act runs anywhere, so an intent left pending by anyone
        else belongs to an act that died: recovery may settle it.
        """
        return self._lock.held()

    def hold(self) -> nullcontext[None]:
        """BigQuery has no session to reuse: every call is its own job."""
        return nullcontext()

    # -- running statements ----------------------------------------------------------------
    def _run(
        self,
        statement: exp.Expr,
        action: str,
        ref: TableRef | None = None,
        version: int | None = None,
        *,
        scans_data: bool,
    ) -> list[tuple[object, ...]]:
        sql = self.statements.render(statement)
        labels = job_labels(action, ref, version)
        return self.jobs.run(
            sql, labels, scans_data=scans_data, table=ref.canonical if ref else None
        )

    def _ensure_dataset(self, dataset: str, *, force: bool = False) -> None:
        with self._datasets_guard:
            if dataset in self._datasets and not force:
                return
        self._run(self.statements.create_schema(dataset), "create_dataset", scans_data=False)
        with self._datasets_guard:
            self._datasets.add(dataset)

    def _table_id(self, schema: str, name: str) -> str:
        return f"{self.project}.{schema}.{name}"

    # -- versions --------------------------------------------------------------------------
    def versions(self, ref: TableRef) -> list[int]:
        try:
            rows = self._run(
                self.statements.list_versions(ref), "list_versions", ref, scans_data=True
            )
        except google_errors.NotFound:  # the shadow dataset does not exist yet
            return []
        return versions_by_table(ref, [str(name) for (name,) in rows])

    def version_exists(self, ref: TableRef, version: int) -> bool:
        return version in self.versions(ref)

    def columns(self, ref: TableRef, version: int) -> tuple[Column, ...]:
        statement = self.statements.list_columns(ref, version)
        try:
            rows = self._run(statement, "list_columns", ref, version, scans_data=True)
        except google_errors.NotFound:
            return ()
        return tuple(Column(str(n), str(t), nullable == "YES") for n, t, nullable in rows)

    def manifest(self, ref: TableRef, version: int) -> VersionManifest:
        schema = self.columns(ref, version)
        if not schema:
            raise _missing(ref, version)
        statement = self.statements.content_hash(ref, version)
        try:
            ((row_count, row_hash),) = self._run(
                statement, "manifest", ref, version, scans_data=True
            )
        except google_errors.NotFound as exc:
            raise _missing(ref, version) from exc
        return manifest_of(self.kind, int(str(row_count)), schema, int(str(row_hash)))

    def descriptions(self, ref: TableRef, version: int | None) -> Descriptions:
        if version is None:
            table_id = self._table_id(ref.layer.value, ref.name)
        else:
            table_id = self._table_id(ref.shadow_schema, ref.version_identifier(version))
        with self.jobs.errors("descriptions", ref.canonical):
            try:
                table = self._client.get_table(table_id)
            except google_errors.NotFound as exc:
                if version is None:
                    return Descriptions(None, ())
                raise _missing(ref, version) from exc
        return Descriptions(
            table.description or None,
            tuple((f.name, f.description or None) for f in table.schema),
        )

    def create_version(self, ref: TableRef, version: int, query: exp.Query | str) -> None:
        select = read_only_select(
            sqlglot.parse_one(query, read=self.dialect) if isinstance(query, str) else query
        )
        self._ensure_dataset(ref.shadow_schema)
        statement = self.statements.create_version(ref, version, select)
        try:
            self._run(statement, "create_version", ref, version, scans_data=True)
        except google_errors.Conflict as exc:
            raise _exists(ref, version) from exc

    def create_version_from_rows(
        self, ref: TableRef, version: int, rows: pa.Table, *, base_version: int | None = None
    ) -> None:
        """A load job writes the rows; on a base version, onto its zero-copy clone.

        Two jobs when there is a base: if the load fails, the clone is dropped again.
        """
        import pyarrow.parquet as pq

        self._ensure_dataset(ref.shadow_schema)
        if base_version is not None:
            clone = self.statements.clone_version(ref, base_version, version)
            try:
                self._run(clone, "clone_version", ref, version, scans_data=False)
            except google_errors.Conflict as exc:
                raise _exists(ref, version) from exc
            except google_errors.NotFound as exc:
                raise _missing(ref, base_version) from exc
        data = io.BytesIO()
        pq.write_table(rows, data)
        data.seek(0)
        destination = self._table_id(ref.shadow_schema, ref.version_identifier(version))
        try:
            self.jobs.load_parquet(
                data,
                destination,
                job_labels("load_rows", ref, version),
                append=base_version is not None,
            )
        except google_errors.Conflict as exc:
            raise _exists(ref, version) from exc
        except BaseException:
            if base_version is not None:
                self.drop_version(ref, version)
            raise

    def source_columns(
        self, source_path: Path, tables: Sequence[str]
    ) -> dict[str, tuple[Column, ...]]:
        """The READ_ONLY source is a DuckDB file here too: its information schema, read-only."""
        from orchestration.warehouse.duckdb_warehouse import read_source_columns

        return read_source_columns(source_path, tables)

    def upsert_version(
        self,
        ref: TableRef,
        version: int,
        rows: pa.Table,
        *,
        keys: UpsertKeys,
        base_version: int | None = None,
    ) -> None:
        """Load the batch beside version N, then MERGE it into a zero-copy clone of the base.

        BigQuery bills the MERGE for the batch and the columns it joins on, never a copy of
        the table. If any step fails, the clone and the batch are dropped again.
        """
        import pyarrow.parquet as pq

        from orchestration.warehouse.upserts import segment_statements

        upserts = segment_statements(Dialect.BIGQUERY, self.project)
        columns = list(rows.column_names)
        self._ensure_dataset(ref.shadow_schema)
        data = io.BytesIO()
        pq.write_table(rows, data)
        data.seek(0)
        batch = self._table_id(ref.shadow_schema, f"{ref.version_identifier(version)}__batch")
        drop_batch = upserts.drop_batch(ref, version)
        # A batch left by a killed attempt at this version number is nobody's: the act lock is held.
        self._run(drop_batch, "drop_batch", ref, version, scans_data=False)
        created = False
        try:
            self.jobs.load_parquet(
                data, batch, job_labels("load_batch", ref, version), append=False
            )
            if base_version is None:
                first = upserts.create_from_batch(ref, version, columns, keys)
                self._run(first, "upsert_version", ref, version, scans_data=True)
                created = True
                return
            clone = self.statements.clone_version(ref, base_version, version)
            try:
                self._run(clone, "clone_version", ref, version, scans_data=False)
            except google_errors.NotFound as exc:
                raise _missing(ref, base_version) from exc
            created = True
            merge = upserts.merge_batch(ref, version, columns, keys)
            self._run(merge, "upsert_version", ref, version, scans_data=True)
        except google_errors.Conflict as exc:
            created = False  # the version was there before: not ours to drop
            raise _exists(ref, version) from exc
        except BaseException:
            if created:
                self.drop_version(ref, version)
            raise
        finally:
            self._run(drop_batch, "drop_batch", ref, version, scans_data=False)

    @contextmanager
    def staged_rows(self, ref: TableRef, rows: pa.Table) -> Iterator[exp.Table]:
        """One load job puts the batch beside ``ref``'s versions; it is dropped after the block.

        A leftover of a killed ingestion under the same name is dropped first (only one
        ingestion of a table runs at a time: it holds the act lock).
        """
        import pyarrow.parquet as pq

        self._ensure_dataset(ref.shadow_schema)
        name = f"{STAGED_PREFIX}{ref.name}"
        table = self.statements.table(ref.shadow_schema, name)
        drop = exp.Drop(tables=[table.copy()], kind="TABLE", exists=True)
        self._run(drop, "drop_staged", ref, scans_data=False)
        data = io.BytesIO()
        pq.write_table(rows, data)
        data.seek(0)
        destination = self._table_id(ref.shadow_schema, name)
        self.jobs.load_parquet(data, destination, job_labels("load_staged", ref), append=False)
        try:
            yield table
        finally:
            self._run(drop, "drop_staged", ref, scans_data=False)

    def select_arrow(self, query: exp.Query, *, table: TableRef | None = None) -> pa.Table:
        """Dry-run, capped and labelled (action ``ingest``) like every query."""
        sql = self.statements.render(read_only_select(query))
        labels = job_labels("ingest", table)
        return self.jobs.run_arrow(sql, labels, table=table.canonical if table else None)

    def compact_version(self, ref: TableRef, version: int) -> bool:
        """A MERGEd clone is one table already: nothing to fold."""
        return False

    def copy_from_source(
        self, source: SourceLocation, source_table: str, ref: TableRef, version: int
    ) -> None:
        from orchestration.sources import read_source_rows

        self.create_version_from_rows(ref, version, read_source_rows(source, source_table))

    def drop_version(self, ref: TableRef, version: int) -> None:
        statement = self.statements.drop_version(ref, version)
        try:
            self._run(statement, "drop_version", ref, version, scans_data=False)
        except google_errors.NotFound:
            return  # its dataset is gone: so is the version

    # -- canonical views -------------------------------------------------------------------
    def swap_view(self, ref: TableRef, version: int, *, first: bool = True) -> None:
        self._view(ref, version, Descriptions(None, ()), first=first)

    def _view(
        self, ref: TableRef, version: int, described: Descriptions, *, first: bool = True
    ) -> None:
        if first:
            self._ensure_dataset(ref.layer.value)
        (statement,) = self.statements.point_view(ref, version, described)
        try:
            # BigQuery checks the view's query when it is created: a missing version fails here.
            self._run(statement, "point_view", ref, version, scans_data=False)
        except google_errors.NotFound as exc:
            raise _missing(ref, version, "dropped or never built") from exc

    def drop_view(self, ref: TableRef) -> None:
        try:
            self._run(self.statements.drop_view(ref), "drop_view", ref, scans_data=False)
        except google_errors.NotFound:
            return

    def point_view(self, ref: TableRef, version: int | None) -> None:
        if version is None:
            self.drop_view(ref)
            return
        self._view(ref, version, self.descriptions(ref, version))

    def view_version(self, ref: TableRef) -> int | None:
        try:
            rows = self._run(self.statements.list_views(ref), "view_version", ref, scans_data=True)
        except google_errors.NotFound:  # no layer dataset: no view
            return None
        return version_in_view_sql(str(rows[0][2]), ref, self.dialect) if rows else None

    def inventory(self) -> WarehouseInventory:
        tables = self._run(self.statements.list_all_versions(), "inventory", scans_data=True)
        views = self._run(self.statements.list_views(), "inventory", scans_data=True)
        return inventory_of(tables, views, self.dialect)

    # -- reads -----------------------------------------------------------------------------
    def profile(
        self, query: exp.Query, *, table: TableRef | None = None
    ) -> list[tuple[object, ...]]:
        return self._run(read_only_select(query), "profile", table, scans_data=True)

    def estimate(self, query: exp.Query) -> CostEstimate:
        sql = self.statements.render(read_only_select(query))
        estimated = self.jobs.estimate(sql, job_labels("estimate"))
        return CostEstimate(bytes_processed=estimated, max_bytes_billed=self.jobs.max_bytes)

    def read(self, query: exp.Query, *, max_rows: int) -> QueryResult:
        """Run an ad-hoc query (dry-run first, capped, labelled ``query``); keep ``max_rows``."""
        sql = self.statements.render(read_only_select(query))
        labels = job_labels("query")
        scanned = self.jobs.estimate(sql, labels)
        rows = self.jobs.run_rows(sql, labels, scans_data=True)
        columns = tuple(rows[0].keys()) if rows else ()
        values = [tuple(row.values()) for row in rows[: max_rows + 1]]
        return QueryResult(columns, values[:max_rows], scanned, len(values) > max_rows)

    def estimate_rows(self, query: exp.Query) -> RowEstimate | None:
        """A dry run says what a query scans, not how many rows it returns."""
        read_only_select(query)
        return None

    # -- join discovery ----------------------------------------------------------------------
    def profile_table(self, ref: TableRef, version: int) -> TableProfile:
        """Three capped, labelled jobs at most (action ``profile``); no row leaves BigQuery."""
        columns = self.columns(ref, version)
        if not columns:
            raise _missing(ref, version)
        ps = ProfileStatements(self.statements)
        table = self.statements.read_table(ref, version)
        return profile_table(
            lambda q: self.profile(q, table=ref), ps, table, ref.canonical, version, columns
        )

    def join_stats(self, child: JoinSide, parent: JoinSide, *, samples: int = 3) -> JoinStats:
        sides = []
        for side in (child, parent):
            names = [c.name for c in self.columns(side.ref, side.version)]
            if not names:
                raise _missing(side.ref, side.version)
            sides.append((self.statements.read_table(side.ref, side.version), side.columns, names))
        ps = ProfileStatements(self.statements)
        return join_stats(
            lambda q: self.profile(q, table=child.ref), ps, sides[0], sides[1], samples
        )


def _missing(ref: TableRef, version: int, why: str = "") -> NotFound:
    return NotFound(
        f"version {version} of {ref} does not exist in the warehouse"
        + (f" ({why})" if why else ""),
        details={"table": str(ref), "version": version},
    )


def _exists(ref: TableRef, version: int) -> InvalidTransition:
    return InvalidTransition(
        f"version {version} of {ref} already exists: versions are written once; build the "
        "next version instead",
        details={"table": str(ref), "version": version},
    )


def bigquery_from_settings(settings: SpyneSettings, catalog_engine: sa.Engine) -> BigQueryWarehouse:
    """The prod warehouse, as the account dbt's prod profile uses (:mod:`.bigquery_auth`)."""
    from google.cloud import bigquery

    from orchestration.warehouse.bigquery_auth import google_credentials

    project, location = settings.bigquery_project, settings.bigquery_location
    if not project or not location or not settings.bigquery_max_bytes:
        raise ConfigError(
            "the BigQuery warehouse needs SPYNE_BQ_PROJECT (and a location and byte cap); "
            "set SPYNE_ENV=prod with SPYNE_BQ_PROJECT",
            details={"variable": "SPYNE_BQ_PROJECT", "env": settings.env.value},
        )
    credentials = google_credentials(project)
    client = bigquery.Client(project=project, credentials=credentials, location=location)
    return BigQueryWarehouse(
        client,
        project=project,
        location=location,
        max_bytes=settings.bigquery_max_bytes,
        lock=catalog_act_lock(catalog_engine),
    )
