"""Builds: a new immutable version of a table, numbered by the catalog, recorded with its manifest."""

from __future__ import annotations

from orchestration.catalog import Catalog, VersionInfo
from orchestration.identity import Actor
from orchestration.lifecycle.access import Access
from orchestration.sources import SourceLocation
from orchestration.warehouse import VersionManifest, Warehouse, acting_as
from policies.naming import Layer, TableRef
from policies.roles import Operation


def build_operation(where: TableRef | Layer) -> Operation:
    """Landing a source is ingestion; every other layer is built by dbt."""
    layer = where if isinstance(where, Layer) else where.layer
    return Operation.INGEST if layer == Layer.BRONZE else Operation.BUILD


class Builds:
    def __init__(self, catalog: Catalog, warehouse: Warehouse, access: Access) -> None:
        self._catalog = catalog
        self._warehouse = warehouse
        self._access = access

    def allocate_version(self, actor: Actor, ref: TableRef) -> int:
        """The number of the next version: the catalog's, past any unregistered leftover."""
        self._access.require(actor, build_operation(ref), ref.canonical)
        self._catalog.ensure_table(ref)
        with acting_as(actor.name):
            existing = self._warehouse.versions(ref)
        return max(self._catalog.next_version(ref), (max(existing) + 1) if existing else 1)

    def register_build(
        self, actor: Actor, ref: TableRef, version: int, run_id: str | None
    ) -> tuple[VersionInfo, VersionManifest]:
        with acting_as(actor.name):
            manifest = self._warehouse.manifest(ref, version)
        self._catalog.ensure_table(ref)
        info = self._catalog.register_version(
            ref.canonical,
            version,
            f"{ref.shadow_schema}.{ref.version_identifier(version)}",
            manifest.row_count,
            manifest.schema_dicts(),
            manifest.content_hash,
            run_id,
        )
        self._catalog.audit(
            actor.name,
            "build",
            ref.canonical,
            "recorded",
            {
                "version": version,
                "rows": manifest.row_count,
                "content_hash": manifest.content_hash,
                "run_id": run_id,
            },
            actor.launched_by,
        )
        return info, manifest

    def ingest(
        self,
        actor: Actor,
        ref: TableRef,
        source: SourceLocation,
        source_table: str,
        run_id: str | None,
    ) -> tuple[VersionInfo, VersionManifest]:
        """Land a source table as a new bronze version (engineer, INGESTION_READY)."""
        version = self.allocate_version(actor, ref)
        with acting_as(actor.name):
            self._warehouse.copy_from_source(source, source_table, ref, version)
        return self.register_build(actor, ref, version, run_id)
