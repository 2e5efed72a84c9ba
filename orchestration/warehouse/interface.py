"""What Spyne does to a warehouse, whatever the warehouse is: the one interface callers know.

The lifecycle (builds, acts, recovery, the janitor, the doctor) and the runtime are typed
against :class:`Warehouse` only; an adapter (:mod:`duckdb_warehouse`, :mod:`bigquery_warehouse`)
is named only where it is constructed. Later capabilities (ingestion contracts, drift sensors,
join profiling, a query layer) add their warehouse code once, here, and in each adapter.

Content hashes are comparable within one warehouse kind only: each adapter computes a row
fingerprint with its own engine's hash function (DuckDB ``hash``, BigQuery
``FARM_FINGERPRINT``), and column types are named by the engine, so the same rows in DuckDB and
in BigQuery have different hashes. Two builds of the same data in one warehouse always agree.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

from sqlglot import exp

from policies.drift import Column
from policies.joins.profiles import TableProfile
from policies.joins.risk import JoinStats
from policies.naming import TableRef
from policies.settings import WarehouseKind

if TYPE_CHECKING:
    import pyarrow as pa

    from orchestration.sources import SourceLocation
    from orchestration.warehouse.upserts import UpsertKeys

_PRINCIPAL: ContextVar[str | None] = ContextVar("spyne_warehouse_principal", default=None)


@contextmanager
def acting_as(principal: str) -> Iterator[None]:
    """Name who acts for every warehouse call in the block (BigQuery labels its jobs with it)."""
    token = _PRINCIPAL.set(principal)
    try:
        yield
    finally:
        _PRINCIPAL.reset(token)


def current_principal() -> str | None:
    return _PRINCIPAL.get()


@dataclass(frozen=True)
class VersionManifest:
    """What a version contains, recorded once at build time (O(rows), never at promotion)."""

    row_count: int
    schema: tuple[Column, ...]
    content_hash: str

    def schema_dicts(self) -> list[dict[str, object]]:
        return [
            {"name": c.name, "data_type": c.data_type, "nullable": c.nullable} for c in self.schema
        ]


def manifest_of(
    kind: WarehouseKind, row_count: int, schema: tuple[Column, ...], row_hash: int
) -> VersionManifest:
    """The manifest of a version from its row count, schema and aggregate row fingerprint.

    DuckDB's payload is the one Spyne always recorded, so existing hashes stay valid; other
    kinds name themselves in it, so a hash can never match across warehouse kinds by chance.
    """
    payload: dict[str, object] = {
        "schema": [[c.name, c.data_type] for c in schema],
        "rows": row_count,
        "hash": str(row_hash),
    }
    if kind != WarehouseKind.DUCKDB:
        payload["warehouse"] = kind.value
    digest = hashlib.sha256(json.dumps(payload, sort_keys=True).encode()).hexdigest()
    return VersionManifest(row_count, schema, digest)


@dataclass(frozen=True)
class Descriptions:
    """A table's (or view's) documentation: its description and every column's, in order."""

    table: str | None
    columns: tuple[tuple[str, str | None], ...]  # (column, description) for every column

    @property
    def documented(self) -> bool:
        return bool(self.table) or any(d for _, d in self.columns)

    def column(self, name: str) -> str | None:
        return dict(self.columns).get(name)


# The "version" profiling and join validation read of a READ_ONLY table: the table as it is, at
# ``<layer>.<table>`` (Spyne never builds versions of it).
SOURCE_VERSION = 0


@dataclass(frozen=True)
class JoinSide:
    """One side of a join to validate: a version of a table (``SOURCE_VERSION`` for a READ_ONLY
    table) and its key columns."""

    ref: TableRef
    version: int
    columns: tuple[str, ...]


@dataclass(frozen=True)
class WarehouseInventory:
    versions: dict[str, list[int]]  # canonical name -> physical versions present
    views: dict[str, int | None]  # canonical name -> version its view selects (None: unreadable)


@dataclass(frozen=True)
class CostEstimate:
    """What a query would cost before it runs (a BigQuery dry run); None: not metered here."""

    bytes_processed: int | None
    max_bytes_billed: int | None

    @property
    def within_cap(self) -> bool:
        return (
            self.bytes_processed is None
            or self.max_bytes_billed is None
            or self.bytes_processed <= self.max_bytes_billed
        )


@dataclass(frozen=True)
class QueryResult:
    """Rows an ad-hoc query returned, with their column names, and what it cost to get them."""

    columns: tuple[str, ...]
    rows: list[tuple[object, ...]]
    bytes_scanned: int | None  # billed scan where the warehouse meters it; None when local
    truncated: bool  # more rows existed than were fetched


@dataclass(frozen=True)
class RowEstimate:
    result: int  # rows the query returns
    peak: int  # rows of its largest step (a join before an aggregate, say)


class Warehouse(Protocol):
    """Versions ``<layer>__shadow.<table>__v<N>``, canonical views ``<layer>.<table>``, manifests.

    Every statement is a sqlglot expression built by :mod:`orchestration.warehouse.statements`;
    names come from validated :class:`TableRef` values only.
    """

    @property
    def kind(self) -> WarehouseKind: ...

    @property
    def dialect(self) -> str: ...

    @property
    def location(self) -> str:
        """Where the warehouse is, for messages: a file, or a BigQuery project and region."""
        ...

    @property
    def path(self) -> Path | None:
        """The file of an embedded warehouse (what dbt-duckdb and the gates open); else None."""
        ...

    def create(self) -> bool: ...

    def exists(self) -> bool: ...

    # -- holding the warehouse -------------------------------------------------------------
    def exclusive(self) -> AbstractContextManager[None]:
        """Hold the warehouse for one act: no other act, in any process, runs until it ends.

        Inside the block, an intent left pending by anyone else belongs to an act that is no
        longer running (it would hold this lock), so recovery may settle it. Re-entrant.
        """
        ...

    def hold(self) -> AbstractContextManager[None]:
        """Reuse one session for every call in the block, where the warehouse has sessions."""
        ...

    # -- versions --------------------------------------------------------------------------
    def versions(self, ref: TableRef) -> list[int]: ...

    def version_exists(self, ref: TableRef, version: int) -> bool: ...

    def columns(self, ref: TableRef, version: int) -> tuple[Column, ...]:
        """A version's columns from the information schema; empty when it does not exist."""
        ...

    def manifest(self, ref: TableRef, version: int) -> VersionManifest: ...

    def descriptions(self, ref: TableRef, version: int | None) -> Descriptions:
        """A version's descriptions, or (None) the canonical view's."""
        ...

    def create_version(self, ref: TableRef, version: int, query: exp.Query | str) -> None:
        """Write version N from a SELECT (an expression, or fixed SQL in this warehouse's dialect)."""
        ...

    def create_version_from_rows(
        self, ref: TableRef, version: int, rows: pa.Table, *, base_version: int | None = None
    ) -> None:
        """Write version N from a batch of rows (the ingestion path).

        With ``base_version`` the new version starts as that one (a zero-copy clone where the
        warehouse has them) and the rows are appended. Nothing is left behind when it fails.
        """
        ...

    def copy_from_source(
        self, source: SourceLocation, source_table: str, ref: TableRef, version: int
    ) -> None:
        """Land a READ_ONLY source table (a DuckDB file or PostgreSQL) as a new bronze version."""
        ...

    def drop_version(self, ref: TableRef, version: int) -> None: ...

    def source_columns(
        self, source_path: Path, tables: Sequence[str]
    ) -> dict[str, tuple[Column, ...]]:
        """The live columns of READ_ONLY source tables, from their information schema (no data
        read); a table the source lacks is absent. Types are spelled in the source's dialect."""
        ...

    def upsert_version(
        self,
        ref: TableRef,
        version: int,
        rows: pa.Table,
        *,
        keys: UpsertKeys,
        base_version: int | None = None,
    ) -> None:
        """Version N = ``base_version`` + the batch, latest row per key (see :mod:`.upserts`).

        Costs the batch, not the table: DuckDB writes one segment and a merge view, BigQuery
        MERGEs into a zero-copy clone. Nothing is left behind when it fails.
        """
        ...

    def compact_version(self, ref: TableRef, version: int) -> bool:
        """Fold an upserted version's segments into one, rows unchanged; False: nothing to do."""
        ...

    def staged_rows(self, ref: TableRef, rows: pa.Table) -> AbstractContextManager[exp.Table]:
        """A batch of rows as a relation this warehouse's queries read, for the block only.

        DuckDB reads the Arrow table in place; BigQuery loads it (one load job, billed for the
        batch) beside ``ref``'s versions and drops it when the block ends.
        """
        ...

    def select_arrow(self, query: exp.Query, *, table: TableRef | None = None) -> pa.Table:
        """Run a read-only SELECT Spyne built; its rows as Arrow, typed even when there are none."""
        ...

    # -- canonical views -------------------------------------------------------------------
    def swap_view(self, ref: TableRef, version: int, *, first: bool = True) -> None:
        """Point the canonical view at version N: one statement, no data touched."""
        ...

    def drop_view(self, ref: TableRef) -> None: ...

    def point_view(self, ref: TableRef, version: int | None) -> None:
        """Show ``version`` (with its descriptions) on the canonical name, or nothing (None)."""
        ...

    def view_version(self, ref: TableRef) -> int | None: ...

    def inventory(self) -> WarehouseInventory:
        """Every version table and canonical view Spyne's naming recognises (`spyne doctor`)."""
        ...

    # -- reads for the layers to come --------------------------------------------------------
    def profile(
        self, query: exp.Query, *, table: TableRef | None = None
    ) -> list[tuple[object, ...]]:
        """Run a read-only SELECT that Spyne built (profiling, previews); refused if it writes."""
        ...

    def estimate(self, query: exp.Query) -> CostEstimate:
        """What ``query`` would scan, without running it."""
        ...

    # -- ad-hoc queries (the query layer) -----------------------------------------------------
    def read(self, query: exp.Query, *, max_rows: int) -> QueryResult:
        """Run a read-only query on a connection that cannot write, fetch at most ``max_rows``."""
        ...

    def estimate_rows(self, query: exp.Query) -> RowEstimate | None:
        """The planner's estimate of the rows ``query`` returns, and of its largest step."""
        ...

    # -- join discovery (:mod:`orchestration.warehouse.profiling`) ---------------------------
    def profile_table(self, ref: TableRef, version: int) -> TableProfile:
        """Per-column counts, ranges and value sketches of a version, computed in the warehouse."""
        ...

    def join_stats(self, child: JoinSide, parent: JoinSide, *, samples: int = 3) -> JoinStats:
        """Nulls, orphans, fan-out and a few joined rows of one join, computed in the warehouse."""
        ...
