"""Landing as an act of an identified principal: role and mode checked first, audited after.

Landing writes to the warehouse, so it is ingestion: an engineer or admin, and only when the
system mode allows ingestion (READ_ONLY refuses it on every path, as for bronze builds).
"""

from __future__ import annotations

from pathlib import Path

from orchestration.catalog import Catalog
from orchestration.extraction.landing import LANDING_DATASET, LandingReport, land
from orchestration.extraction.resources import ExtractSpec
from orchestration.identity import Actor
from orchestration.lifecycle.access import Access
from orchestration.sources import SourceLocation
from policies.roles import Operation


def land_table(
    catalog: Catalog,
    actor: Actor,
    source: SourceLocation,
    spec: ExtractSpec,
    warehouse_path: Path,
    pipelines_dir: Path,
) -> LandingReport:
    target = f"{LANDING_DATASET}.{spec.table}"
    Access(catalog).require(actor, Operation.INGEST, target)
    report = land(source, spec, warehouse_path, pipelines_dir)
    catalog.audit(
        actor.name,
        "land",
        target,
        "recorded",
        {
            "batches": list(report.load_ids),
            "rows": report.rows,
            "cursor": report.cursor.isoformat() if report.cursor else None,
            "cursor_column": spec.cursor_column,
            "lag_seconds": spec.lag.total_seconds(),
            "finished_pending": report.finished_pending,
        },
        actor.launched_by,
    )
    return report
