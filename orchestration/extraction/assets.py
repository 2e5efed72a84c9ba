"""Landing in Dagster: one ``landing/<table>`` asset per source table, declared with dagster-dlt.

``@dlt_assets`` declares the asset from the table's dlt resource (its key, its dependency on
the ERP source asset ``erp/<table>``, group ``landing``, the dlt destination in its metadata).
The body does not hand the pipeline to ``DagsterDltResource.run``: it calls
:func:`orchestration.extraction.service.land_table`, which checks the run's principal and the
system mode, finishes a batch an interrupted run left, reads rows once per (batch, ordinal)
and audits, then reports what dlt landed as the materialization's metadata. Declaring needs
no source and no warehouse: nothing is read or connected when the code location loads.
"""

# No `from __future__ import annotations` here: Dagster reads the body's context annotation.

import tempfile
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import dlt
from dagster import AssetExecutionContext, AssetKey, AssetsDefinition, AssetSpec, MaterializeResult
from dagster_dlt import DagsterDltTranslator, dlt_assets
from dagster_dlt.translator import DltResourceTranslatorData

from orchestration.assets.resources import SpyneResource, as_failure
from orchestration.extraction.landing import LANDING_DATASET
from orchestration.extraction.resources import ExtractSpec
from policies.errors import ConfigError, SpyneError

# dlt writes a pipeline's working directory when the pipeline object is made; the declaration
# only lends its name and destination to the asset specs, so it works in a scratch directory.
_DECLARATION_DIR = Path(tempfile.gettempdir()) / "spyne-dlt-declarations"


class LandingTranslator(DagsterDltTranslator):
    """``landing/<table>``, downstream of the ERP table it reads (``erp/<table>``)."""

    def get_asset_spec(self, data: DltResourceTranslatorData) -> AssetSpec:
        table = data.resource.name
        return (
            super()
            .get_asset_spec(data)
            .replace_attributes(
                key=AssetKey([LANDING_DATASET, table]),
                deps=[AssetKey(["erp", table])],
                group_name=LANDING_DATASET,
                description=f"Raw batches of the ERP table {table}, landed by dlt (incremental).",
            )
        )


def _declared(spec: ExtractSpec) -> tuple[Any, dlt.Pipeline]:
    def rows() -> Iterator[Any]:
        yield from ()  # never run: the body lands through land_table

    resource = dlt.resource(rows, name=spec.table)
    source = dlt.source(lambda: [resource], name=spec.pipeline_name)()
    pipeline = dlt.pipeline(
        spec.pipeline_name,
        pipelines_dir=str(_DECLARATION_DIR),
        destination="duckdb",
        dataset_name=LANDING_DATASET,
    )
    return source, pipeline


def landing_asset(spec: ExtractSpec) -> AssetsDefinition:
    source, pipeline = _declared(spec)

    @dlt_assets(
        dlt_source=source,
        dlt_pipeline=pipeline,
        name=f"land_{spec.table}",
        dagster_dlt_translator=LandingTranslator(),
    )
    def land(context: AssetExecutionContext, spyne: SpyneResource) -> Iterator[MaterializeResult]:
        from orchestration.extraction.service import land_table

        rt = spyne.runtime()
        actor = spyne.actor(context)
        warehouse_path = rt.warehouse.path
        if warehouse_path is None:  # pragma: no cover - BigQuery landing is not wired yet
            raise as_failure(
                ConfigError(
                    "landing with dlt writes to the DuckDB warehouse only so far; run the "
                    "bronze layer's whole-copy ingestion on BigQuery",
                    details={"warehouse": rt.warehouse.location},
                )
            )
        try:
            report = land_table(rt.catalog, actor, rt.source, spec, warehouse_path, rt.home / "dlt")
        except SpyneError as err:
            raise as_failure(err) from err
        context.log.info(
            f"landed {report.rows} rows of {spec.table} in batches {', '.join(report.load_ids)}; "
            f"cursor {spec.cursor_column} = {report.cursor}"
        )
        yield MaterializeResult(
            asset_key=AssetKey([LANDING_DATASET, spec.table]),
            metadata={
                "rows": report.rows,
                "batches": list(report.load_ids),
                "cursor": str(report.cursor),
                "finished_pending": report.finished_pending,
            },
        )

    return land


def landing_assets(specs: Sequence[ExtractSpec]) -> list[AssetsDefinition]:
    return [landing_asset(s) for s in specs]
